/** The node agent's workload identities: certificates per SPIFFE id, refreshed, with the trust bundle. */
export { IdentityManager } from './manager.ts';
export type { IdentityManagerOptions } from './manager.ts';
export type { WorkloadIdentity, IdentityStatus } from './entry.ts';
export { caClientSource } from './source.ts';
export type { CertificateSource } from './source.ts';
export { issueIdentity } from './issue.ts';
export type { IssuedIdentity } from './issue.ts';
export { CERT_EXPIRY_METRIC, expiryGauge } from './metrics.ts';
