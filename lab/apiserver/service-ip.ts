/**
 * ClusterIP allocation from the service CIDR (IPv4): the first usable address is reserved for
 * the `kubernetes` service; the rest are handed out lowest-free-first. Pure bookkeeping.
 */
import { MeshError } from '../../common/errors.ts';

function ipToInt(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Allocated ClusterIPs of one CIDR. */
export class ServiceIpAllocator {
  readonly #base: number;
  readonly #size: number;
  readonly #used = new Set<number>();

  /** `cidr` like `10.96.0.0/16`; throws MeshError on a malformed or too small range. */
  constructor(cidr: string) {
    const m = /^([\d.]+)\/(\d{1,2})$/.exec(cidr);
    const base = m === null ? undefined : ipToInt(m[1] ?? '');
    const bits = Number(m?.[2] ?? 'NaN');
    if (base === undefined || !(bits >= 8 && bits <= 30)) {
      throw new MeshError(
        'LAB_SERVICE_CIDR_INVALID',
        `service CIDR "${cidr}" is not an IPv4 prefix between /8 and /30`,
      );
    }
    this.#size = 2 ** (32 - bits);
    this.#base = base - (base % this.#size);
  }

  /** The address of the `kubernetes` service (first usable). */
  get apiServerIp(): string {
    return intToIp(this.#base + 1);
  }

  /** True when `ip` lies inside the range (network and broadcast excluded). */
  contains(ip: string): boolean {
    const n = ipToInt(ip);
    return n !== undefined && n > this.#base && n < this.#base + this.#size - 1;
  }

  /** True when `ip` is taken. */
  isAllocated(ip: string): boolean {
    const n = ipToInt(ip);
    return n !== undefined && this.#used.has(n);
  }

  /** Marks `ip` as used (restore or a requested address); false when taken or outside. */
  reserve(ip: string): boolean {
    const n = ipToInt(ip);
    if (n === undefined || !this.contains(ip) || this.#used.has(n)) return false;
    this.#used.add(n);
    return true;
  }

  /** Allocates the lowest free address (never the reserved first one); undefined when full. */
  allocate(): string | undefined {
    for (let n = this.#base + 2; n < this.#base + this.#size - 1; n++) {
      if (!this.#used.has(n)) {
        this.#used.add(n);
        return intToIp(n);
      }
    }
    return undefined;
  }

  /** Returns `ip` to the pool. */
  release(ip: string): void {
    const n = ipToInt(ip);
    if (n !== undefined) this.#used.delete(n);
  }
}
