/**
 * Where waypoint snapshots come from: the controller's config stream as proxy
 * `{kind: 'waypoint', name: '<ns>/<gateway>'}`, or a local snapshot file re-read when it changes
 * (`--config-file`). The sources themselves are shared with the node agent
 * (common/config-client/sources.ts).
 */
import { controllerChannelCredentials, type BundleSource } from '../../certs/channel.ts';
import * as sources from '../../common/config-client/sources.ts';
import type { WaypointSnapshot } from '../../common/ir/snapshots.ts';
import type { Logger } from '../../common/log.ts';

export { SERVICE_ACCOUNT_TOKEN_FILE, controllerSpiffeId } from '../../common/config-client/sources.ts';

/** Applies one snapshot; throwing rejects it (the last good one stays). */
export type ApplySnapshot = sources.ApplySnapshot<WaypointSnapshot>;

/** A stream of waypoint snapshots. */
export type ConfigSource = sources.ConfigSource<WaypointSnapshot>;

/** Reads the waypoint pod's token file on every call (projected tokens rotate). */
export function tokenFileReader(path: string): () => Promise<string> {
  return sources.tokenFileReader(path, 'the waypoint pod');
}

/** Options of {@link controllerConfigSource}. */
export interface ControllerSourceOptions {
  readonly address: string;
  /** `namespace/name` of the waypoint Gateway. */
  readonly gateway: string;
  /** The roots the controller must chain to; a function is read before each (re)connect. */
  readonly bundle: BundleSource;
  readonly serverId: string;
  readonly token: () => Promise<string>;
  readonly logger?: Logger;
  /** Takes the CA's trust anchors the controller sends with the snapshots. */
  readonly onTrustAnchors?: (pem: string) => void;
}

/** Waypoint snapshots from the controller's config stream; another kind is NACKed. */
export function controllerConfigSource(options: ControllerSourceOptions): ConfigSource {
  return sources.controllerConfigSource('waypoint', {
    address: options.address,
    name: options.gateway,
    credentials: controllerChannelCredentials(options.bundle, options.serverId),
    token: options.token,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(options.onTrustAnchors === undefined ? {} : { onTrustAnchors: options.onTrustAnchors }),
  });
}

/** Waypoint snapshots from a local file; a bad file or a rejected snapshot keeps the last good one. */
export function fileConfigSource(path: string, logger?: Logger): ConfigSource {
  return sources.fileConfigSource('waypoint', path, logger);
}
