/**
 * Identities of the `l7` benchmark: one in-process CA, and PEM files (leaf chain, key, trust
 * roots) for every process — the same `--cert-file/--key-file/--ca-file` triple the waypoint takes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { inMemoryRootCa, issueLocalIdentity, TrustBundle, verifyTlsPeer } from '../../certs/index.ts';
import { MeshError } from '../../common/errors.ts';
import type { HboneClientTls, HboneTlsMaterial, PeerVerifier } from '../../common/hbone/index.ts';
import { formatSpiffeId } from '../../common/spiffe.ts';

/** The bench's trust domain. */
export const BENCH_TD = 'cluster.local';

/** SPIFFE id of `sa` in namespace `bench`. */
export function benchId(sa: string): string {
  return `spiffe://${BENCH_TD}/ns/bench/sa/${sa}`;
}

/** The three files of one identity. */
export interface IdentityFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
}

/** Issues one identity per service account under a fresh CA and writes its files into `dir`. */
export function writeIdentities(
  dir: string,
  serviceAccounts: readonly string[],
): Record<string, IdentityFiles> {
  const ca = inMemoryRootCa(BENCH_TD);
  const out: Record<string, IdentityFiles> = {};
  for (const sa of serviceAccounts) {
    const id = issueLocalIdentity(ca, benchId(sa));
    const files = {
      certFile: join(dir, `${sa}.crt`),
      keyFile: join(dir, `${sa}.key`),
      caFile: join(dir, `${sa}-ca.crt`),
    };
    writeFileSync(files.certFile, id.certChainPem.join(''));
    writeFileSync(files.keyFile, id.keyPem, { mode: 0o600 });
    writeFileSync(files.caFile, id.bundle.toPem());
    out[sa] = files;
  }
  return out;
}

/** Server and client TLS material from PEM text (for the small HBONE processes). */
export function tlsMaterial(
  id: string,
  pem: { cert: string; key: string; ca: string },
): { server: HboneTlsMaterial; client: HboneClientTls; bundle: TrustBundle } {
  const server = { key: pem.key, cert: pem.cert, ca: pem.ca };
  return { server, client: { ...server, identityKey: id }, bundle: TrustBundle.fromPem(BENCH_TD, pem.ca) };
}

/** A verifier accepting exactly `expected` (or any mesh identity when undefined) as `role`. */
export function peerVerifier(
  bundle: TrustBundle,
  role: 'server' | 'client',
  expected?: string,
): PeerVerifier {
  return (socket) => {
    const got = formatSpiffeId(verifyTlsPeer(socket, bundle, role));
    if (expected !== undefined && got !== expected)
      throw new MeshError('PEER_NOT_ALLOWED', `HBONE peer is ${got}, expected ${expected}`);
    return got;
  };
}
