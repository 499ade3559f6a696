/**
 * The config push server (DESIGN.md §5, issue 4 §6): one gRPC stream per proxy replica. After
 * the proxy's hello it sends the proxy's current snapshot, then every new version that
 * `publish()` produces for it, each with the CA's current trust anchors (and the same snapshot
 * again when only those changed, `anchorsChanged()`); the proxy answers each with an ACK or a
 * NACK (it keeps its last good snapshot). Misbehaving clients get a gRPC status and lose only
 * their own stream.
 */
import * as grpc from '@grpc/grpc-js';
import {
  configServiceDefinition,
  proxyKey,
  UNDECODABLE,
  type ConfigRequest,
  type ConfigResponse,
  type ProxyId,
} from '../../common/config-client/defs.ts';
import { errorMessage, MeshError } from '../../common/errors.ts';
import { silentLogger, type Logger } from '../../common/log.ts';
import type { SnapshotSet } from '../snapshots/index.ts';
import { ProxyTable, type ProxyRecord, type ProxyStatus } from './state.ts';

/** Options for {@link startConfigServer}. */
export interface ConfigServerOptions {
  /** `host:port`, e.g. `0.0.0.0:15012`; port 0 picks a free port. */
  readonly address: string;
  /** Adds further gRPC services to the same server before it binds. */
  readonly services?: (server: grpc.Server) => void;
  readonly credentials: grpc.ServerCredentials;
  /** Who is calling, from the call's metadata (bearer token); undefined refuses the stream. */
  authenticate(metadata: grpc.Metadata): Promise<ProxyId | undefined>;
  readonly logger?: Logger;
  /** How long a stream may stay open without a hello (default 10 s). */
  readonly helloTimeoutMs?: number;
  /**
   * The CA's trust anchors (PEM), sent with every snapshot; read at each send. After they
   * change, {@link ConfigServer.anchorsChanged} sends every proxy its snapshot again with them.
   */
  trustAnchors?(): string;
}

/** A running config server. */
export interface ConfigServer {
  readonly port: number;
  /** Makes `snapshots` current and pushes every changed version to its subscribed proxies. */
  publish(snapshots: SnapshotSet): void;
  /** Sends every subscribed proxy its current snapshot again when the trust anchors changed. */
  anchorsChanged(): void;
  /** What each known proxy was sent, ACKed and NACKed, sorted by `kind/name`. */
  status(): ProxyStatus[];
  /** Ends every stream with UNAVAILABLE (clients reconnect elsewhere) and stops listening. */
  stop(options?: { deadlineMs?: number }): Promise<void>;
}

type Call = grpc.ServerDuplexStream<ConfigRequest | typeof UNDECODABLE, ConfigResponse>;

/** One open stream of one proxy replica. */
interface Subscriber {
  readonly call: Call;
  readonly record: ProxyRecord;
  readonly peer: string;
  sent?: string;
  /** The trust anchors sent with `sent`. */
  sentAnchors?: string;
  /** True while grpc-js buffers a write; the latest version is sent on 'drain'. */
  waitingDrain: boolean;
}

const MAX_NAME = 317; // a namespace (63) + "/" + a Gateway name (253)

/** Checks a hello's proxy; returns the reason it is invalid, or the parsed id. */
function parseHello(proxy: NonNullable<ConfigRequest['proxy']>): ProxyId | string {
  if (proxy.kind !== 'node' && proxy.kind !== 'waypoint')
    return `proxy.kind must be "node" or "waypoint", got ${JSON.stringify(proxy.kind.slice(0, 40))}`;
  if (proxy.name === '' || proxy.name.length > MAX_NAME) return 'proxy.name must be 1..317 characters';
  if (proxy.kind === 'waypoint' && !/^[^/]+\/[^/]+$/.test(proxy.name))
    return 'a waypoint names itself "<namespace>/<gateway name>"';
  return { kind: proxy.kind, name: proxy.name };
}

function statusError(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() });
}

/** Starts the config server; resolves once it listens. */
export async function startConfigServer(opts: ConfigServerOptions): Promise<ConfigServer> {
  const log = (opts.logger ?? silentLogger).child({ component: 'config-server' });
  const helloTimeoutMs = opts.helloTimeoutMs ?? 10_000;
  const table = new ProxyTable();
  const subscribers = new Map<string, Set<Subscriber>>();
  const open = new Set<Call>();
  let stopping = false;
  const server = new grpc.Server({
    'grpc.max_receive_message_length': 1024 * 1024,
    // Find clients that vanished without closing their connection.
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
  });

  /**
   * Sends the current snapshot (with the current trust anchors) to `sub` unless it already has
   * both (or is waiting to drain).
   */
  const push = (sub: Subscriber): void => {
    const cur = table.current(sub.record.id);
    if (cur === undefined || sub.call.cancelled || sub.waitingDrain) return;
    const anchors = opts.trustAnchors?.() ?? '';
    if (cur.version === sub.sent && anchors === sub.sentAnchors) return;
    sub.sent = cur.version;
    sub.sentAnchors = anchors;
    sub.record.lastSent = cur.version;
    log.debug('sending snapshot', { proxy: proxyKey(sub.record.id), version: cur.version, peer: sub.peer });
    if (!sub.call.write({ version: cur.version, snapshotJson: cur.json, trustAnchorsPem: anchors })) {
      sub.waitingDrain = true;
      sub.call.once('drain', () => {
        sub.waitingDrain = false;
        push(sub);
      });
    }
  };

  const handler = (call: Call): void => {
    const peer = call.getPeer();
    open.add(call);
    let sub: Subscriber | undefined;
    let done = false;
    const detach = (): void => {
      clearTimeout(helloTimer);
      open.delete(call);
      if (sub === undefined) return;
      const key = proxyKey(sub.record.id);
      subscribers.get(key)?.delete(sub);
      sub.record.streams--;
      log.info('proxy disconnected', { proxy: key, peer });
      sub = undefined;
    };
    const refuse = (code: grpc.status, details: string): void => {
      if (done) return;
      done = true;
      log.warn('config stream refused', { peer, code: grpc.status[code], reason: details });
      detach();
      call.emit('error', statusError(code, details));
    };
    const helloTimer = setTimeout(
      () => refuse(grpc.status.INVALID_ARGUMENT, `no hello within ${helloTimeoutMs} ms`),
      helloTimeoutMs,
    );
    helloTimer.unref();
    call.on('error', () => {
      done = true;
      detach();
    });
    call.on('cancelled', () => {
      done = true;
      detach();
    });
    call.on('close', detach);
    call.on('end', () => {
      // The proxy half-closed: finish with OK.
      if (done) return;
      done = true;
      detach();
      call.end();
    });

    const onMessage = (msg: ConfigRequest | typeof UNDECODABLE, caller: ProxyId): void => {
      if (done) return;
      if (msg === UNDECODABLE) return refuse(grpc.status.INVALID_ARGUMENT, 'message is not a ConfigRequest');
      if (sub === undefined) {
        if (msg.proxy === null)
          return refuse(grpc.status.INVALID_ARGUMENT, 'the first message must be a hello with "proxy" set');
        const id = parseHello(msg.proxy);
        if (typeof id === 'string') return refuse(grpc.status.INVALID_ARGUMENT, id);
        if (id.kind !== caller.kind || id.name !== caller.name) {
          return refuse(
            grpc.status.PERMISSION_DENIED,
            `the token belongs to ${proxyKey(caller)}, which may not subscribe as ${proxyKey(id)}`,
          );
        }
        clearTimeout(helloTimer);
        const record = table.record(id);
        record.streams++;
        sub = { call, record, peer, waitingDrain: false };
        const key = proxyKey(id);
        let set = subscribers.get(key);
        if (set === undefined) subscribers.set(key, (set = new Set()));
        set.add(sub);
        log.info('proxy subscribed', { proxy: key, peer });
        push(sub);
        return;
      }
      if (msg.proxy !== null) return refuse(grpc.status.INVALID_ARGUMENT, 'a stream carries one hello');
      if (msg.version === '') return refuse(grpc.status.INVALID_ARGUMENT, 'an ACK or NACK needs "version"');
      table.acknowledge(sub.record, msg.version, msg.error);
      const fields = { proxy: proxyKey(sub.record.id), version: msg.version, peer };
      if (msg.error === '') log.debug('snapshot acknowledged', fields);
      else
        log.warn('snapshot rejected by proxy (NACK); it keeps its last good snapshot', {
          ...fields,
          error: msg.error.slice(0, 1024),
          nacks: sub.record.nackCount,
        });
    };

    if (stopping) return refuse(grpc.status.UNAVAILABLE, 'the controller is shutting down');
    opts.authenticate(call.metadata).then(
      (caller) => {
        if (done) return;
        if (caller === undefined)
          return refuse(grpc.status.UNAUTHENTICATED, 'send "authorization: Bearer <service-account token>"');
        // Reading starts only now, so no message is handled before the caller is known.
        call.on('data', (msg: ConfigRequest | typeof UNDECODABLE) => onMessage(msg, caller));
      },
      (err: unknown) => refuse(grpc.status.UNAUTHENTICATED, `authentication failed: ${errorMessage(err)}`),
    );
  };

  server.addService(configServiceDefinition, { Stream: handler });
  // Other services sharing this server and port (the controller's CA, DESIGN.md §3: 15012).
  opts.services?.(server);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(opts.address, opts.credentials, (err, bound) => {
      if (err !== null) {
        reject(
          new MeshError('CONFIG_SERVER_BIND', `cannot listen on ${opts.address}: ${err.message}`, {
            hint: 'is another process using the port?',
            cause: err,
          }),
        );
      } else resolve(bound);
    });
  });
  log.info('config server listening', { address: opts.address, port });

  return {
    port,
    publish(snapshots: SnapshotSet): void {
      const next = new Map<string, { version: string; encode(): string }>();
      for (const [name, s] of snapshots.nodes)
        next.set(proxyKey({ kind: 'node', name }), { version: s.version, encode: () => JSON.stringify(s) });
      for (const [name, s] of snapshots.waypoints)
        next.set(proxyKey({ kind: 'waypoint', name }), {
          version: s.version,
          encode: () => JSON.stringify(s),
        });
      const changed = table.replace(next);
      for (const key of changed) for (const sub of subscribers.get(key) ?? []) push(sub);
      if (changed.size > 0) log.info('published snapshots', { changed: changed.size, total: next.size });
    },
    anchorsChanged(): void {
      let sent = 0;
      for (const set of subscribers.values())
        for (const sub of set) {
          const before = sub.sentAnchors;
          push(sub);
          if (sub.sentAnchors !== before) sent++;
        }
      if (sent > 0) log.info('sent the new trust anchors', { streams: sent });
    },
    status: () => table.status(),
    async stop(options: { deadlineMs?: number } = {}): Promise<void> {
      stopping = true;
      for (const call of [...open]) {
        open.delete(call);
        call.emit('error', statusError(grpc.status.UNAVAILABLE, 'the controller is shutting down'));
      }
      const deadlineMs = options.deadlineMs ?? 5_000;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, deadlineMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      log.info('config server stopped');
    },
  };
}
