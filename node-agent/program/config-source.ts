/**
 * Where the node agent's snapshots come from: the controller's config stream as proxy
 * `{kind: 'node', name: <node>}`, or a local snapshot file (`--config-file`, component tests).
 * The sources themselves are shared with the waypoint (common/config-client/sources.ts).
 */
import { controllerChannelCredentials, type BundleSource } from '../../certs/channel.ts';
import * as sources from '../../common/config-client/sources.ts';
import type { NodeSnapshot } from '../../common/ir/index.ts';
import type { Logger } from '../../common/log.ts';

export { SERVICE_ACCOUNT_TOKEN_FILE, controllerSpiffeId } from '../../common/config-client/sources.ts';

/** Applies one snapshot; throwing rejects it (the agent keeps its last good one). */
export type ApplySnapshot = sources.ApplySnapshot<NodeSnapshot>;

/** A stream of node snapshots. */
export type ConfigSource = sources.ConfigSource<NodeSnapshot>;

/** Reads the agent's token file on every call (projected tokens rotate). */
export function tokenFileReader(path: string): () => Promise<string> {
  return sources.tokenFileReader(path, 'the node agent');
}

/** Options of {@link controllerConfigSource}. */
export interface ControllerSourceOptions {
  /** `host:port` of the controller (15012). */
  readonly address: string;
  readonly node: string;
  /** The roots the controller must chain to; a function is read before each (re)connect. */
  readonly bundle: BundleSource;
  readonly serverId: string;
  readonly token: () => Promise<string>;
  readonly logger?: Logger;
  /** Takes the CA's trust anchors the controller sends with the snapshots. */
  readonly onTrustAnchors?: (pem: string) => void;
}

/** Node snapshots from the controller's config stream. */
export function controllerConfigSource(options: ControllerSourceOptions): ConfigSource {
  return sources.controllerConfigSource('node', {
    address: options.address,
    name: options.node,
    credentials: controllerChannelCredentials(options.bundle, options.serverId),
    token: options.token,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(options.onTrustAnchors === undefined ? {} : { onTrustAnchors: options.onTrustAnchors }),
  });
}

/** Node snapshots from a local file, re-read when it changes; a bad file or snapshot is logged. */
export function fileConfigSource(path: string, logger?: Logger): ConfigSource {
  return sources.fileConfigSource('node', path, logger);
}
