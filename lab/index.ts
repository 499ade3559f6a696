/** The lab's public surface (used by the `waymesh lab` verbs and by tests). */
export { labUp, labDown, labStatus, labKubeconfig, labExec, labLogs, labApi, readRecord } from './ops.ts';
export { checkLabName, defaultLabDir } from './supervisor/paths.ts';
