/**
 * Where the node agent's snapshots come from: the controller's config stream (port 15012, TLS
 * verifying the controller's SPIFFE id, the agent's service-account token read again on every
 * connect) or a local snapshot file (`--config-file`, component tests). Both hand each new
 * snapshot to one `apply` function; with the controller, a rejection becomes a NACK.
 */
import { readFile } from 'node:fs/promises';
import type * as grpc from '@grpc/grpc-js';

import type { TrustBundle } from '../../certs/bundle.ts';
import { spiffeChannelCredentials } from '../../certs/channel.ts';
import { ConfigClient } from '../../common/config-client/client.ts';
import { errorMessage, MeshError } from '../../common/errors.ts';
import type { NodeSnapshot } from '../../common/ir/index.ts';
import { silentLogger, type Logger } from '../../common/log.ts';
import { watchSnapshotFile, type SnapshotWatch } from '../../common/snapshot-file.ts';

/** Applies one snapshot; throwing rejects it (the agent keeps its last good one). */
export type ApplySnapshot = (snapshot: NodeSnapshot) => Promise<void> | void;

/** A stream of node snapshots. */
export interface ConfigSource {
  /** Starts delivering snapshots to `apply`, one at a time; returns at once. */
  start(apply: ApplySnapshot): void;
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

/** Reads `path` (a token file); the projected token rotates, so callers read it per use. */
export function tokenFileReader(path: string): () => Promise<string> {
  return async () => {
    try {
      return (await readFile(path, 'utf8')).trim();
    } catch (err) {
      throw new MeshError(
        'TOKEN_UNREADABLE',
        `cannot read the service-account token ${path}: ${errorMessage(err)}`,
        {
          hint: 'the node agent needs its projected service-account token (automountServiceAccountToken)',
        },
      );
    }
  };
}

/** gRPC channel credentials that accept only a server presenting `serverId`, chained to `bundle`. */
export function spiffeServerCredentials(bundle: TrustBundle, serverId: string): grpc.ChannelCredentials {
  return spiffeChannelCredentials(
    bundle,
    serverId,
    (got) => `the controller presented ${got}, expected ${serverId}`,
  );
}

/** Options of {@link controllerConfigSource}. */
export interface ControllerSourceOptions {
  /** `host:port` of the controller (15012). */
  readonly address: string;
  readonly node: string;
  readonly bundle: TrustBundle;
  readonly serverId: string;
  readonly token: () => Promise<string>;
  readonly logger?: Logger;
}

/** Snapshots from the controller's config stream, as proxy `{kind: 'node', name: node}`. */
export function controllerConfigSource(options: ControllerSourceOptions): ConfigSource {
  let client: ConfigClient | undefined;
  return {
    start(apply) {
      client ??= new ConfigClient({
        address: options.address,
        credentials: spiffeServerCredentials(options.bundle, options.serverId),
        // Identity is checked by SPIFFE id; a fixed name keeps an IP address out of SNI.
        channelOptions: { 'grpc.ssl_target_name_override': 'waymesh-controller' },
        proxy: { kind: 'node', name: options.node },
        token: options.token,
        logger: options.logger,
        onSnapshot: (s) => apply(s as NodeSnapshot),
      });
      client.start();
    },
    async stop(stopOptions = {}) {
      await client?.stop(stopOptions);
    },
    status: () => ({ source: 'controller', address: options.address, ...client?.state() }),
  };
}

/** Snapshots from a local file, re-read when it changes; a bad file or snapshot is logged. */
export function fileConfigSource(path: string, logger: Logger = silentLogger): ConfigSource {
  const log = logger.child({ component: 'config-file', path });
  let watch: SnapshotWatch<NodeSnapshot> | undefined;
  let applying: Promise<void> = Promise.resolve();
  let lastError: string | undefined;
  return {
    start(apply) {
      watch ??= watchSnapshotFile(
        path,
        'node',
        (snapshot) => {
          applying = applying
            .then(() => apply(snapshot))
            .then(
              () => (lastError = undefined),
              (err: unknown) => {
                lastError = errorMessage(err);
                log.warn('rejected snapshot file; keeping the last good one', { error: lastError });
              },
            );
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
