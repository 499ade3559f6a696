/**
 * Structural-schema engines for custom resources: validation (Kubernetes-style causes),
 * defaulting and pruning. The API server core calls these through its hooks.
 */
export { validate } from './validate.ts';
export type { SchemaCause } from './validate.ts';
export { applyDefaults } from './defaults.ts';
export { prune } from './prune.ts';
