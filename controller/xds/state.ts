/**
 * Book-keeping of the config server: the current snapshot of every proxy and what each
 * subscribed proxy was sent, ACKed and NACKed. No I/O; the server drives it.
 */
import type { ProxyId } from '../../common/config-client/defs.ts';
import { proxyKey } from '../../common/config-client/defs.ts';

/** Longest NACK error kept (a proxy could send megabytes of text). */
export const MAX_ERROR_CHARS = 1024;

/** What `status()` reports for one proxy. */
export interface ProxyStatus {
  readonly kind: ProxyId['kind'];
  readonly name: string;
  /** Open streams (waypoints with several replicas have several). */
  readonly streams: number;
  /** Version of the proxy's current snapshot; absent when the last publish had none for it. */
  readonly current?: string;
  readonly lastSent?: string;
  readonly lastAcked?: string;
  readonly lastNack?: { readonly version: string; readonly error: string };
  readonly ackCount: number;
  readonly nackCount: number;
}

/** A snapshot ready to send. */
export interface Encoded {
  readonly version: string;
  readonly json: string;
}

/** One proxy's record. */
export interface ProxyRecord {
  readonly id: ProxyId;
  streams: number;
  lastSent?: string;
  lastAcked?: string;
  lastNack?: { version: string; error: string };
  ackCount: number;
  nackCount: number;
}

/** The state of every proxy the server knows. */
export class ProxyTable {
  readonly #current = new Map<string, Encoded>();
  readonly #records = new Map<string, ProxyRecord>();

  /** The current snapshot of `id`, if the last publish had one. */
  current(id: ProxyId): Encoded | undefined {
    return this.#current.get(proxyKey(id));
  }

  /**
   * Replaces the current snapshots; `encode` is called only for versions that changed. Returns
   * the keys whose version changed (or that appeared).
   */
  replace(next: ReadonlyMap<string, { readonly version: string; encode(): string }>): Set<string> {
    const changed = new Set<string>();
    for (const [key, snap] of next) {
      if (this.#current.get(key)?.version === snap.version) continue;
      this.#current.set(key, { version: snap.version, json: snap.encode() });
      changed.add(key);
    }
    for (const key of [...this.#current.keys()]) if (!next.has(key)) this.#current.delete(key);
    // Forget proxies that are neither connected nor published any more.
    for (const [key, rec] of this.#records)
      if (rec.streams === 0 && !next.has(key)) this.#records.delete(key);
    return changed;
  }

  /** The record of `id`, created on first use. */
  record(id: ProxyId): ProxyRecord {
    const key = proxyKey(id);
    let rec = this.#records.get(key);
    if (rec === undefined) {
      rec = { id: { kind: id.kind, name: id.name }, streams: 0, ackCount: 0, nackCount: 0 };
      this.#records.set(key, rec);
    }
    return rec;
  }

  /** Records an ACK (`error` empty) or a NACK. */
  acknowledge(rec: ProxyRecord, version: string, error: string): void {
    if (error === '') {
      rec.lastAcked = version;
      rec.ackCount++;
    } else {
      rec.lastNack = { version, error: error.slice(0, MAX_ERROR_CHARS) };
      rec.nackCount++;
    }
  }

  /** Every known proxy, sorted by `kind/name`. */
  status(): ProxyStatus[] {
    return [...this.#records.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, r]) => {
        const current = this.#current.get(key)?.version;
        return {
          kind: r.id.kind,
          name: r.id.name,
          streams: r.streams,
          ...(current === undefined ? {} : { current }),
          ...(r.lastSent === undefined ? {} : { lastSent: r.lastSent }),
          ...(r.lastAcked === undefined ? {} : { lastAcked: r.lastAcked }),
          ...(r.lastNack === undefined ? {} : { lastNack: { ...r.lastNack } }),
          ackCount: r.ackCount,
          nackCount: r.nackCount,
        };
      });
  }
}
