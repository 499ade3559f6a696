/** PEM helpers for certificates: split bundles, encode, and parse into {@link Certificate}s. */
import { MeshError } from '../common/errors.ts';
import { pemDecodeAll, pemEncode } from './asn1.ts';
import { parseCertificate, type Certificate } from './parse.ts';

/** Encodes a DER certificate as PEM. */
export function certToPem(der: Uint8Array): string {
  return pemEncode('CERTIFICATE', der);
}

/** Parses every `CERTIFICATE` block in `text`; `what` names the input in errors. */
export function certsFromPem(text: string, what: string): Certificate[] {
  let blocks: Buffer[];
  try {
    blocks = pemDecodeAll(text, 'CERTIFICATE');
  } catch (err) {
    throw new MeshError('CERT_MALFORMED', `${what}: invalid PEM: ${(err as Error).message}`);
  }
  if (blocks.length === 0) throw new MeshError('CERT_MALFORMED', `${what}: no PEM CERTIFICATE block found`);
  return blocks.map((der) => {
    try {
      return parseCertificate(der);
    } catch (err) {
      throw new MeshError('CERT_MALFORMED', `${what}: ${(err as Error).message}`);
    }
  });
}

/** Parses exactly one certificate from PEM. */
export function certFromPem(text: string, what: string): Certificate {
  const certs = certsFromPem(text, what);
  if (certs.length !== 1 || certs[0] === undefined) {
    throw new MeshError('CERT_MALFORMED', `${what}: expected one certificate, found ${certs.length}`);
  }
  return certs[0];
}

/** Concatenates certificates as one PEM bundle. */
export function certsToPem(certs: readonly Certificate[]): string {
  return certs.map((c) => certToPem(c.der)).join('');
}
