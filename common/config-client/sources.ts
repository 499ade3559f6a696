/**
 * Where a proxy's snapshots come from, for both proxies (the node agent and the waypoint may not
 * import each other): the controller's config stream (port 15012, TLS verifying the controller's
 * SPIFFE id, the pod's service-account token read again on every connect; a rejected snapshot is
 * NACKed), or a local snapshot file re-read when it changes (`--config-file`, component tests).
 * Both hand each new snapshot to one `apply` function, one at a time.
 */
import { readFile } from 'node:fs/promises';
import type * as grpc from '@grpc/grpc-js';

import { errorMessage, MeshError } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';
import { watchSnapshotFile, type SnapshotKinds, type SnapshotWatch } from '../snapshot-file.ts';
import { ConfigClient } from './client.ts';

/** Applies one snapshot; throwing (or rejecting) rejects it and the last good one stays. */
export type ApplySnapshot<S> = (snapshot: S) => Promise<void> | void;

/** A stream of snapshots of one kind. */
export interface ConfigSource<S> {
  /** Starts delivering snapshots to `apply`, one at a time; returns at once. */
  start(apply: ApplySnapshot<S>): void;
  /** Stops delivering; waits (up to `deadlineMs`) for a snapshot being applied. */
  stop(options?: { deadlineMs?: number }): Promise<void>;
  /** What `/config_dump` shows about the source. */
  status(): Readonly<Record<string, unknown>>;
}

/** Where the projected service-account token lives in every pod. */
export const SERVICE_ACCOUNT_TOKEN_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** The controller's SPIFFE id in trust domain `td` (DESIGN.md §2). */
export function controllerSpiffeId(td: string): string {
  return `spiffe://${td}/ns/waymesh-system/sa/waymesh-controller`;
}

/**
 * Reads the token file `path` on every call (projected tokens rotate); `who` names the pod in
 * the hint of the error (e.g. `the node agent`).
 */
export function tokenFileReader(path: string, who: string): () => Promise<string> {
  return async () => {
    try {
      return (await readFile(path, 'utf8')).trim();
    } catch (err) {
      throw new MeshError(
        'TOKEN_UNREADABLE',
        `cannot read the service-account token ${path}: ${errorMessage(err)}`,
        { hint: `${who} needs its projected service-account token (automountServiceAccountToken)` },
      );
    }
  };
}

/** Options of {@link controllerConfigSource}. */
export interface ControllerSourceOptions {
  /** `host:port` of the controller (15012). */
  readonly address: string;
  /** The proxy's name in the stream: the node's name, or the waypoint Gateway's `namespace/name`. */
  readonly name: string;
  /**
   * TLS accepting only the controller (certs' `controllerChannelCredentials`), or a function
   * giving the current ones (see ConfigClientOptions.credentials).
   */
  readonly credentials: grpc.ChannelCredentials | (() => grpc.ChannelCredentials);
  readonly token: () => Promise<string>;
  readonly logger?: Logger;
  /** Takes the CA's trust anchors sent with the snapshots (see ConfigClientOptions.onTrustAnchors). */
  readonly onTrustAnchors?: (pem: string) => void;
}

/** Snapshots of `kind` from the controller's config stream, as proxy `{kind, name}`. */
export function controllerConfigSource<K extends keyof SnapshotKinds>(
  kind: K,
  options: ControllerSourceOptions,
): ConfigSource<SnapshotKinds[K]> {
  let client: ConfigClient | undefined;
  return {
    start(apply) {
      client ??= new ConfigClient({
        address: options.address,
        credentials: options.credentials,
        // Identity is checked by SPIFFE id; a fixed name keeps an IP address out of SNI.
        channelOptions: { 'grpc.ssl_target_name_override': 'waymesh-controller' },
        proxy: { kind, name: options.name },
        token: options.token,
        ...(options.logger === undefined ? {} : { logger: options.logger }),
        ...(options.onTrustAnchors === undefined ? {} : { onTrustAnchors: options.onTrustAnchors }),
        onSnapshot: (s) => {
          if (s.kind !== kind)
            throw new MeshError(
              'SNAPSHOT_WRONG_KIND',
              `expected a ${kind} snapshot, got a ${s.kind} snapshot`,
            );
          return apply(s as SnapshotKinds[K]);
        },
      });
      client.start();
    },
    async stop(stopOptions = {}) {
      await client?.stop(stopOptions);
    },
    status: () => ({ source: 'controller', address: options.address, ...client?.state() }),
  };
}

/**
 * Snapshots of `kind` from a local file, re-read when it changes; a bad file or a rejected
 * snapshot is logged and the last good one stays.
 */
export function fileConfigSource<K extends keyof SnapshotKinds>(
  kind: K,
  path: string,
  logger: Logger = silentLogger,
): ConfigSource<SnapshotKinds[K]> {
  const log = logger.child({ component: 'config-file', path });
  let watch: SnapshotWatch<SnapshotKinds[K]> | undefined;
  let applying: Promise<void> = Promise.resolve();
  let lastError: string | undefined;
  const rejected = (err: unknown): void => {
    lastError = errorMessage(err);
    log.warn('rejected snapshot file; keeping the last good one', { error: lastError });
  };
  return {
    start(apply) {
      watch ??= watchSnapshotFile(
        path,
        kind,
        (snapshot) => {
          applying = applying.then(async () => {
            try {
              await apply(snapshot);
              lastError = undefined;
            } catch (err) {
              rejected(err);
            }
          });
        },
        (err) => {
          lastError = err.describe();
          log.warn('cannot load the snapshot file; keeping the last good one', { error: lastError });
        },
      );
    },
    async stop(stopOptions = {}) {
      watch?.stop();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        applying,
        new Promise<void>((resolve) => (timer = setTimeout(resolve, stopOptions.deadlineMs ?? 5_000))),
      ]);
      clearTimeout(timer);
    },
    status: () => ({ source: 'file', path, ...(lastError === undefined ? {} : { lastError }) }),
  };
}
