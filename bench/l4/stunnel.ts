/**
 * The stunnel baseline of the `l4` benchmark: a client-side stunnel accepting plain TCP and a
 * server-side one terminating mutual TLS 1.3 (certificates from the bench's CA, chain verified
 * on both sides), the classic mTLS tunnel a user might pick instead of the mesh.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** One side of the pair. */
export interface StunnelSide {
  readonly role: 'client' | 'server';
  /** `ip:port` it accepts on. */
  readonly accept: string;
  /** `ip:port` it connects to. */
  readonly connect: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** The trust anchors the peer's chain must end at. */
  readonly caFile: string;
}

/**
 * The stunnel configuration of one side: foreground (logs to stderr), no pid file, TLS 1.3 only, the peer's
 * certificate required and its chain verified against `caFile`; logs only errors.
 */
export function renderStunnelConfig(side: StunnelSide): string {
  return [
    'foreground = yes',
    'pid =',
    'debug = err',
    '',
    `[l4-${side.role}]`,
    `client = ${side.role === 'client' ? 'yes' : 'no'}`,
    `accept = ${side.accept}`,
    `connect = ${side.connect}`,
    `cert = ${side.certFile}`,
    `key = ${side.keyFile}`,
    `CAfile = ${side.caFile}`,
    'verifyChain = yes',
    'requireCert = yes',
    'sslVersionMin = TLSv1.3',
    'sslVersionMax = TLSv1.3',
    // Nagle would hold small responses behind the TLS record of the previous one.
    'socket = l:TCP_NODELAY=1',
    'socket = r:TCP_NODELAY=1',
    '',
  ].join('\n');
}

/** PEM material of one side's identity. */
export interface StunnelIdentity {
  readonly certChainPem: string;
  readonly keyPem: string;
}

/** Writes `<dir>/stunnel-<role>.{conf,crt,key}` plus the shared CA file; returns the config path. */
export function writeStunnelSide(
  dir: string,
  role: StunnelSide['role'],
  endpoints: { readonly accept: string; readonly connect: string },
  identity: StunnelIdentity,
  caFile: string,
): string {
  const certFile = join(dir, `stunnel-${role}.crt`);
  const keyFile = join(dir, `stunnel-${role}.key`);
  const confFile = join(dir, `stunnel-${role}.conf`);
  writeFileSync(certFile, identity.certChainPem);
  writeFileSync(keyFile, identity.keyPem, { mode: 0o600 });
  writeFileSync(confFile, renderStunnelConfig({ role, ...endpoints, certFile, keyFile, caFile }));
  return confFile;
}
