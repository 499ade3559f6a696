/** Leader election with a coordination.k8s.io/v1 Lease. */
export { formatMicroTime, LeaderElector, parseMicroTime, systemClock } from './lease.ts';
export type { LeaderClock, LeaderElectorOptions, LeaseSpec } from './lease.ts';
