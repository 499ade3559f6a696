/**
 * Pure helpers for the HBONE request: the `:authority` target (`ip:port`, IPv6 as `[ip]:port`)
 * and the RFC 7239 `forwarded: for="<ip:port>"` header naming the original client.
 */
import { isIP } from 'node:net';

/** A parsed tunnel target or client address. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

const PORT_DIGITS = /^[0-9]{1,5}$/;
const FORWARDED_FOR = /(?:^|[;,\s])for=(?:"([^"]*)"|([^;,\s]*))/i;

function parsePort(text: string): number | undefined {
  if (!PORT_DIGITS.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : undefined;
}

/**
 * Parses `ip:port` or `[ipv6]:port`; returns undefined for anything else (host names, missing or
 * out-of-range ports, zone ids) so the server can answer 400.
 */
export function parseAuthority(value: string | undefined): HostPort | undefined {
  if (value === undefined || value.length === 0 || value.length > 64) return undefined;
  let host: string;
  let portText: string;
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close < 0 || value[close + 1] !== ':') return undefined;
    host = value.slice(1, close);
    portText = value.slice(close + 2);
    // Zone ids (fe80::1%eth0) name an interface of the sender, meaningless at the receiver.
    if (isIP(host) !== 6 || host.includes('%')) return undefined;
  } else {
    const colon = value.lastIndexOf(':');
    if (colon < 0) return undefined;
    host = value.slice(0, colon);
    portText = value.slice(colon + 1);
    if (isIP(host) !== 4) return undefined;
  }
  const port = parsePort(portText);
  return port === undefined ? undefined : { host, port };
}

/** Formats `{host, port}` as an authority: `ip:port`, or `[ip]:port` for IPv6. */
export function formatAuthority(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The `forwarded` header value for an original client address: `for="ip:port"`. */
export function formatForwarded(host: string, port: number): string {
  return `for="${formatAuthority(host, port)}"`;
}

/** Extracts the first `for=` address of a `forwarded` header; undefined when absent or not ip:port. */
export function parseForwardedFor(value: string | undefined): HostPort | undefined {
  if (value === undefined) return undefined;
  const match = FORWARDED_FOR.exec(value);
  if (match === null) return undefined;
  return parseAuthority(match[1] ?? match[2]);
}
