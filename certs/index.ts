/** The built-in CA: public surface for the controller, node agent, waypoint and CLI. */
export {
  CertificateAuthority,
  inMemoryRootCa,
  loadOrCreateCa,
  DEFAULT_TTL_SECONDS,
  MAX_TTL_SECONDS,
  BACKDATE_SECONDS,
} from './ca.ts';
export type { CaOptions, IssuedCertificate, LoadOrCreateOptions } from './ca.ts';
export { buildCsr, createCsr, verifyCsr } from './csr.ts';
export type { VerifiedCsr } from './csr.ts';
export { generateKey, privateKeyToPem, privateKeyFromPem, KEY_KINDS } from './keys.ts';
export type { KeyKind } from './keys.ts';
export { generateRoot, rootCaFiles, ROOT_VALIDITY_DAYS } from './root.ts';
export { loadCaMaterial, caFilesOf } from './material.ts';
export type { CaFiles, CaMaterial } from './material.ts';
export { FileCaStore, CA_FILE_NAMES } from './store.ts';
export type { CaStore } from './store.ts';
export { anchorsStart, isSelfSignedCa, TrustBundle } from './bundle.ts';
export type { RootSummary } from './bundle.ts';
export { verifyPeerChain, VerifyError } from './verify.ts';
export type { PeerRole } from './verify.ts';
export { mtlsServerOptions, mtlsClientOptions, verifyTlsPeer, peerChainDer } from './tls.ts';
export type { TlsIdentity, PeerPredicate } from './tls.ts';
export { CertRotator, refreshAt, backoffMs, systemClock } from './rotation.ts';
export type { Clock, RotatorOptions, Validity } from './rotation.ts';
export { StaticTokenAuthenticator, ownIdentityAuthorizer } from './auth.ts';
export type { CaAuthenticator, CaAuthorizer, CaCaller, CaCredentials, CaDecision } from './auth.ts';
export {
  addCaService,
  caServerCredentials,
  SERVING_HANDSHAKE_TIMEOUT_MS,
  ServingCredentials,
  startCaServer,
} from './service.ts';
export type { CaServer, CaServerOptions, CaServiceOptions, ServingCredentialsOptions } from './service.ts';
export { CaClient, caCallError } from './client.ts';
export type { CaClientOptions } from './client.ts';
export { issueLocalIdentity } from './identity.ts';
export type { LocalIdentity } from './identity.ts';
export { inspectPem } from './inspect.ts';
export type { CertificateSummary } from './inspect.ts';
export { certFromPem, certsFromPem, certToPem, certsToPem } from './pem.ts';
export { parseCertificate } from './parse.ts';
export type { Certificate } from './parse.ts';
