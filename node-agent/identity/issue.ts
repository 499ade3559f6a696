/**
 * One certificate request: fresh key, CSR, signature by the source, then the checks that keep a
 * wrong answer out of the TLS stack (identity, key, validity window).
 */
import { createPublicKey } from 'node:crypto';
import { anchorsStart } from '../../certs/bundle.ts';
import { createCsr } from '../../certs/csr.ts';
import { generateKey, privateKeyToPem } from '../../certs/keys.ts';
import type { Certificate } from '../../certs/parse.ts';
import { certFromPem } from '../../certs/pem.ts';
import { MeshError } from '../../common/errors.ts';
import type { CertificateSource } from './source.ts';

/** A signed certificate with its key, as the CA returned it. */
export interface IssuedIdentity {
  readonly spiffeId: string;
  readonly keyPem: string;
  /** Leaf first; roots (self-signed) excluded: peers carry their own trust anchors. */
  readonly certChainPem: readonly string[];
  readonly leaf: Certificate;
  /** Self-signed CA certificates the response ended with (the trust anchors). */
  readonly roots: readonly Certificate[];
  readonly notBefore: Date;
  readonly notAfter: Date;
}

function wrong(spiffeId: string, why: string): MeshError {
  return new MeshError('IDENTITY_BAD_CERTIFICATE', `the CA answered for ${spiffeId} with ${why}`, {
    hint: 'is the node agent talking to the right CA (the controller on port 15012)?',
  });
}

/** Requests a certificate for `spiffeId` and checks the answer; throws MeshError. */
export async function issueIdentity(
  source: CertificateSource,
  spiffeId: string,
  now: number,
): Promise<IssuedIdentity> {
  const key = generateKey('ec-p256');
  const pem = await source.sign(createCsr(key, spiffeId), spiffeId);
  if (pem.length === 0) throw wrong(spiffeId, 'an empty chain');
  const chain = pem.map((p, i) => certFromPem(p, `certificate ${i} of the chain for ${spiffeId}`));
  const leaf = chain[0] as Certificate;
  if (leaf.uris.length !== 1 || leaf.uris[0] !== spiffeId) {
    throw wrong(spiffeId, `a certificate for ${leaf.uris.join(', ') || 'no URI'}`);
  }
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  if (!leaf.spki.equals(spki)) throw wrong(spiffeId, 'a certificate for a different key');
  if (leaf.notAfter.getTime() <= now) {
    throw wrong(spiffeId, `a certificate that expired at ${leaf.notAfter.toISOString()}`);
  }
  const end = anchorsStart(chain);
  return Object.freeze({
    spiffeId,
    keyPem: privateKeyToPem(key),
    certChainPem: Object.freeze(pem.slice(0, end)),
    leaf,
    roots: Object.freeze(chain.slice(end)),
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
  });
}
