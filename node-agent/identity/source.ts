/**
 * Where workload certificates come from. The manager only needs "sign this CSR for this
 * identity"; production wraps the controller's CA service, tests plug in an in-process CA.
 */
import type { CaClient } from '../../certs/index.ts';

/** Signs a CSR for `spiffeId`; resolves with the PEM chain, leaf first, root (if sent) last. */
export interface CertificateSource {
  sign(csrPem: string, spiffeId: string): Promise<string[]>;
}

/**
 * The CA service as a {@link CertificateSource}: the agent authenticates with its own token
 * (configured in the client) and asks on behalf of the pod (`impersonatedIdentity`), with the
 * CA's default TTL.
 */
export function caClientSource(client: Pick<CaClient, 'createCertificate'>): CertificateSource {
  return {
    sign: (csrPem, spiffeId) => client.createCertificate(csrPem, 0, spiffeId),
  };
}
