/**
 * Where waypoint snapshots come from: the controller's config stream as proxy
 * `{kind: 'waypoint', name: '<ns>/<gateway>'}` (TLS verifying the controller's SPIFFE id, the
 * pod's service-account token read on every connect; a rejected snapshot is NACKed), or a local
 * snapshot file re-read when it changes (`--config-file`).
 */
import { readFile } from 'node:fs/promises';
import type * as grpc from '@grpc/grpc-js';

import type { TrustBundle } from '../../certs/bundle.ts';
import { spiffeChannelCredentials } from '../../certs/channel.ts';
import { ConfigClient } from '../../common/config-client/client.ts';
import { errorMessage, MeshError } from '../../common/errors.ts';
import type { WaypointSnapshot } from '../../common/ir/snapshots.ts';
import { silentLogger, type Logger } from '../../common/log.ts';
import { watchSnapshotFile, type SnapshotWatch } from '../../common/snapshot-file.ts';

/** Applies one snapshot; throwing rejects it (the last good one stays). */
export type ApplySnapshot = (snapshot: WaypointSnapshot) => void;

/** A stream of waypoint snapshots. */
export interface ConfigSource {
  start(apply: ApplySnapshot): void;
  stop(options?: { deadlineMs?: number }): Promise<void>;
  /** For `/config_dump`. */
  status(): Readonly<Record<string, unknown>>;
}

/** The projected service-account token of the pod. */
export const SERVICE_ACCOUNT_TOKEN_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** The controller's SPIFFE id in trust domain `td` (DESIGN.md §2). */
export function controllerSpiffeId(td: string): string {
  return `spiffe://${td}/ns/waymesh-system/sa/waymesh-controller`;
}

/** Reads the token file on every call (projected tokens rotate). */
export function tokenFileReader(path: string): () => Promise<string> {
  return async () => {
    try {
      return (await readFile(path, 'utf8')).trim();
    } catch (err) {
      throw new MeshError(
        'TOKEN_UNREADABLE',
        `cannot read the service-account token ${path}: ${errorMessage(err)}`,
        {
          hint: 'the waypoint pod needs its projected service-account token (automountServiceAccountToken)',
        },
      );
    }
  };
}

function controllerCredentials(bundle: TrustBundle, serverId: string): grpc.ChannelCredentials {
  return spiffeChannelCredentials(
    bundle,
    serverId,
    (got) => `the controller presented ${got}, expected ${serverId}`,
  );
}

/** Options of {@link controllerConfigSource}. */
export interface ControllerSourceOptions {
  readonly address: string;
  /** `namespace/name` of the waypoint Gateway. */
  readonly gateway: string;
  readonly bundle: TrustBundle;
  readonly serverId: string;
  readonly token: () => Promise<string>;
  readonly logger?: Logger;
}

/** Snapshots from the controller's config stream. */
export function controllerConfigSource(options: ControllerSourceOptions): ConfigSource {
  let client: ConfigClient | undefined;
  return {
    start(apply) {
      client ??= new ConfigClient({
        address: options.address,
        credentials: controllerCredentials(options.bundle, options.serverId),
        channelOptions: { 'grpc.ssl_target_name_override': 'waymesh-controller' },
        proxy: { kind: 'waypoint', name: options.gateway },
        token: options.token,
        ...(options.logger === undefined ? {} : { logger: options.logger }),
        onSnapshot: (s) => {
          if (s.kind !== 'waypoint') {
            throw new MeshError(
              'SNAPSHOT_WRONG_KIND',
              `expected a waypoint snapshot, got a ${s.kind} snapshot`,
            );
          }
          apply(s);
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

/** Snapshots from a local file; a bad file or a rejected snapshot keeps the last good one. */
export function fileConfigSource(path: string, logger: Logger = silentLogger): ConfigSource {
  const log = logger.child({ component: 'config-file', path });
  let watch: SnapshotWatch<WaypointSnapshot> | undefined;
  let lastError: string | undefined;
  return {
    start(apply) {
      watch ??= watchSnapshotFile(
        path,
        'waypoint',
        (snapshot) => {
          try {
            apply(snapshot);
            lastError = undefined;
          } catch (err) {
            lastError = errorMessage(err);
            log.warn('rejected snapshot file; keeping the last good one', { error: lastError });
          }
        },
        (err) => {
          lastError = err.describe();
          log.warn('cannot load the snapshot file; keeping the last good one', { error: lastError });
        },
      );
    },
    stop() {
      watch?.stop();
      return Promise.resolve();
    },
    status: () => ({ source: 'file', path, ...(lastError === undefined ? {} : { lastError }) }),
  };
}
