/**
 * `host:port` command-line addresses of the lab's small programs (`10.100.0.1:53`,
 * `[fd00::1]:53`), parsed once at the edge into a checked pair.
 */
import net from 'node:net';

import { MeshError } from '../../common/errors.ts';

/** A checked listen address. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** Parses `host:port` (IPv6 in brackets); throws `MeshError` `BAD_LISTEN_ADDRESS` otherwise. */
export function parseListenAddress(value: string): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (host === undefined || net.isIP(host) === 0 || !Number.isInteger(port) || port > 65535) {
    throw new MeshError('BAD_LISTEN_ADDRESS', `"${value}" is not an IP:port listen address`, {
      hint: 'write e.g. 10.100.0.1:53 or [fd00::1]:53',
    });
  }
  return { host, port };
}
