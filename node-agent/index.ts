/** The node agent's public surface: the agent program, its settings and its Kubernetes calls. */
export { emptyNodeState, NodeAgent } from './agent.ts';
export type { CaptureControl, Drainable, IdentityControl, NodeAgentOptions } from './agent.ts';
export { KubePodApi, podAnnotator, podInfoFrom } from './kube.ts';
export type { PodApi, PodInfo } from './kube.ts';
export {
  controllerConfigSource,
  controllerSpiffeId,
  fileConfigSource,
  SERVICE_ACCOUNT_TOKEN_FILE,
  tokenFileReader,
} from './program/config-source.ts';
export type { ApplySnapshot, ConfigSource, ControllerSourceOptions } from './program/config-source.ts';
export { DEFAULT_CONTROLLER_ADDRESS, parseAgentSettings, USAGE } from './program/options.ts';
export type { AgentSettings } from './program/options.ts';
export { DEFAULT_OPS_ADDRESSES } from './program/ops.ts';
export type { OpsAddresses, OpsServers } from './program/ops.ts';
export { captureKey, planReconcile } from './program/reconcile.ts';
export type { ReconcilePlan } from './program/reconcile.ts';
