/**
 * The lab API server's patch engines: strategic merge patch for built-in kinds and
 * server-side apply with managedFields, and the field ownership of ordinary writes. The API server core calls these through its hooks.
 */
export { strategicMergePatch } from './strategic.ts';
export { serverSideApply } from './apply.ts';
export type { ApplyOptions } from './apply.ts';
export { trackUpdate } from './update.ts';
export type { UpdateOptions } from './update.ts';
