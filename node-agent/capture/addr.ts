/**
 * IP addresses and CIDRs in the exact text `iptables-save`/`ip6tables-save` print (`10.0.0.0/8`,
 * `fd00::1/128`: host bits cleared, IPv6 lower-case and compressed per RFC 5952), so the rules we
 * build compare equal, line for line, with what the kernel reports back (see `inspect`).
 */
import net from 'node:net';

import { MeshError } from '../../common/errors.ts';

/** A CIDR in canonical form, with its family. */
export interface Cidr {
  readonly family: 4 | 6;
  /** e.g. `10.0.0.0/8`, `fd00::1/128`. */
  readonly text: string;
}

/** Parses an IPv4 or IPv6 literal (optionally with `/len`) into canonical CIDR text. */
export function parseCidr(value: string): Cidr {
  const trimmed = value.trim();
  const slash = trimmed.indexOf('/');
  const address = slash < 0 ? trimmed : trimmed.slice(0, slash);
  const family = net.isIP(address);
  if (family !== 4 && family !== 6) {
    throw new MeshError('CAPTURE_BAD_ADDRESS', `"${value}" is not an IPv4 or IPv6 address or CIDR`, {
      hint: 'write an address (10.1.2.3, fd00::1) or a CIDR (10.0.0.0/8, fd00::/64)',
    });
  }
  const bits = family === 4 ? 32 : 128;
  const lengthText = slash < 0 ? String(bits) : trimmed.slice(slash + 1);
  const length = /^\d{1,3}$/.test(lengthText) ? Number(lengthText) : NaN;
  if (!(length >= 0 && length <= bits)) {
    throw new MeshError('CAPTURE_BAD_ADDRESS', `"${value}" has an invalid prefix length`, {
      hint: `an IPv${family} prefix length is 0-${bits}`,
    });
  }
  const value128 = family === 4 ? ipv4ToBigInt(address) : ipv6ToBigInt(address);
  const hostMask = (1n << BigInt(bits - length)) - 1n;
  const network = value128 & ~hostMask;
  const text = family === 4 ? bigIntToIpv4(network) : bigIntToIpv6(network);
  return { family, text: `${text}/${length}` };
}

/** Canonical text of a single address (no prefix length); throws CAPTURE_BAD_ADDRESS. */
export function canonicalIp(value: string): { readonly family: 4 | 6; readonly address: string } {
  if (value.includes('/')) {
    throw new MeshError('CAPTURE_BAD_ADDRESS', `"${value}" is a CIDR where one address was expected`);
  }
  const { family, text } = parseCidr(value);
  return { family, address: text.slice(0, text.indexOf('/')) };
}

function ipv4ToBigInt(address: string): bigint {
  let out = 0n;
  for (const part of address.split('.')) out = (out << 8n) | BigInt(Number(part));
  return out;
}

function bigIntToIpv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
}

function ipv6ToBigInt(address: string): bigint {
  let text = address.toLowerCase();
  // An embedded IPv4 tail (::ffff:10.1.2.3) becomes two hex groups.
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = ipv4ToBigInt(tail);
    text = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = rest === undefined || rest === '' ? [] : rest.split(':');
  const zeros = rest === undefined ? 0 : 8 - left.length - right.length;
  const groups = [...left, ...Array<string>(zeros).fill('0'), ...right];
  let out = 0n;
  for (const group of groups) out = (out << 16n) | BigInt(parseInt(group, 16));
  return out;
}

function bigIntToIpv6(value: bigint): string {
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((value >> shift) & 0xffffn));
  // RFC 5952: compress the longest run (≥ 2) of zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
