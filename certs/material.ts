/**
 * The signing material of a CA: key, signing certificate, its chain up to a root, and the
 * trust anchors. Loaded from the four PEM files of a store (the layout Istio's `cacerts` uses,
 * so existing plug-in CA tooling works) and validated before any use.
 */
import type { KeyObject } from 'node:crypto';
import { MeshError } from '../common/errors.ts';
import { privateKeyFromPem, privateKeyToPem, spkiOf } from './keys.ts';
import { isSignedBy, type Certificate } from './parse.ts';
import { certFromPem, certsFromPem, certsToPem } from './pem.ts';

/** The four PEM texts a CA store holds. */
export interface CaFiles {
  /** Private key of the signing certificate. */
  readonly caKeyPem: string;
  /** The signing certificate (the root itself, or a plugged-in intermediate). */
  readonly caCertPem: string;
  /** The signing certificate followed by its issuers up to and including the root. */
  readonly certChainPem: string;
  /** Trust anchors: the root, plus older or newer roots during a rotation. */
  readonly rootCertPem: string;
}

/** Validated, parsed CA material. */
export interface CaMaterial {
  readonly key: KeyObject;
  readonly cert: Certificate;
  /** Signing certificate first, root last. */
  readonly chain: readonly Certificate[];
  readonly roots: readonly Certificate[];
  /** True when the signing certificate is an intermediate supplied by the user. */
  readonly pluggedIn: boolean;
}

function invalid(why: string, hint = ''): MeshError {
  return new MeshError('CA_MATERIAL_INVALID', `CA material is invalid: ${why}`, { hint });
}

/**
 * Parses and validates CA files: the key matches the signing certificate, which is a CA
 * allowed to sign certificates and currently valid; each chain link is signed by the next, which
 * is a currently valid CA; the chain ends at one of the roots. Throws `CA_MATERIAL_INVALID`
 * naming the broken rule.
 */
export function loadCaMaterial(files: CaFiles, now: Date = new Date()): CaMaterial {
  const key = privateKeyFromPem(files.caKeyPem, 'CA key (ca-key.pem)');
  const cert = certFromPem(files.caCertPem, 'ca-cert.pem');
  const chain = certsFromPem(files.certChainPem, 'cert-chain.pem');
  const roots = certsFromPem(files.rootCertPem, 'root-cert.pem');
  if (!spkiOf(key).equals(cert.spki))
    throw invalid('ca-key.pem does not match the public key of ca-cert.pem');
  if (!cert.isCa) throw invalid('ca-cert.pem is not a CA certificate (basicConstraints CA:TRUE is missing)');
  if (cert.keyUsage !== undefined && !cert.keyUsage.has('keyCertSign')) {
    throw invalid('ca-cert.pem may not sign certificates (keyUsage lacks keyCertSign)');
  }
  if (now < cert.notBefore || now > cert.notAfter) {
    throw invalid(
      `ca-cert.pem is not valid now (valid ${cert.notBefore.toISOString()} to ${cert.notAfter.toISOString()})`,
    );
  }
  if (chain[0] === undefined || !chain[0].der.equals(cert.der)) {
    throw invalid('cert-chain.pem must start with ca-cert.pem');
  }
  for (let i = 0; i + 1 < chain.length; i++) {
    const child = chain[i];
    const parent = chain[i + 1];
    if (child === undefined || parent === undefined || !isSignedBy(child, parent)) {
      throw invalid(
        `cert-chain.pem entry ${i + 1} is not signed by entry ${i + 2}`,
        'order it leaf-most first',
      );
    }
    // Leaves would carry this chain: a parent that is not a CA or not valid breaks every peer check.
    if (!parent.isCa) throw invalid(`cert-chain.pem entry ${i + 2} is not a CA certificate`);
    if (now < parent.notBefore || now > parent.notAfter) {
      throw invalid(
        `cert-chain.pem entry ${i + 2} is not valid now (valid ${parent.notBefore.toISOString()} to ${parent.notAfter.toISOString()})`,
      );
    }
  }
  const top = chain[chain.length - 1];
  const anchored = top !== undefined && roots.some((r) => r.der.equals(top.der) || isSignedBy(top, r));
  if (!anchored) throw invalid('cert-chain.pem does not end at a certificate in root-cert.pem');
  const pluggedIn = !(chain.length === 1 && roots.some((r) => r.der.equals(cert.der)));
  return Object.freeze({ key, cert, chain: Object.freeze(chain), roots: Object.freeze(roots), pluggedIn });
}

/** Serialises material back into the store's four files. */
export function caFilesOf(material: Pick<CaMaterial, 'key' | 'cert' | 'chain' | 'roots'>): CaFiles {
  return {
    caKeyPem: privateKeyToPem(material.key),
    caCertPem: certsToPem([material.cert]),
    certChainPem: certsToPem(material.chain),
    rootCertPem: certsToPem(material.roots),
  };
}
