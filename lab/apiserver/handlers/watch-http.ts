/**
 * `?watch=true`: a chunked stream of JSON watch events. Starts with synthetic ADDED events
 * (resourceVersion unset/"0") or a replay from history (a specific resourceVersion; too old →
 * an ERROR event carrying a 410 Expired Status, as kube-apiserver does), then live events,
 * periodic BOOKMARKs when asked, and ends at `timeoutSeconds` (0 or absent: between the server
 * default and twice that; clamped to what a timer can hold). A watcher whose socket falls behind by more than the
 * buffer limit is closed rather than slowing the server; one whose event cannot be rendered
 * (a Table row) gets an ERROR event and is closed, as kube-apiserver ends such a watch.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServerContext } from '../context.ts';
import { queryInt } from '../decode.ts';
import { apiVersionOf, resourceKey } from '../registry.ts';
import { matches, type Selector } from '../selectors.ts';
import { toApiError } from '../status-http.ts';
import { ApiError, type KubeObject, type ResourceDef } from '../types.ts';
import { frameFor as frameOf, type WatchFrame } from '../watch.ts';

/** Longest delay a Node.js timer holds (larger ones fire after 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Tunables of watch streams. */
export interface WatchSettings {
  bookmarkIntervalMs: number;
  maxBufferedBytes: number;
  defaultTimeoutSeconds: number;
}

/** Serves one watch request. */
export function serveWatch(
  ctx: ServerContext,
  settings: WatchSettings,
  req: IncomingMessage,
  res: ServerResponse,
  t: {
    def: ResourceDef;
    version: string;
    namespace: string | undefined;
    selector: Selector;
    /** Renders an object as a one-row Table when the client asked for Table output. */
    table?: (o: KubeObject) => unknown;
  },
  query: URLSearchParams,
): void {
  const resource = resourceKey(t.def);
  const rvParam = query.get('resourceVersion') ?? '';
  const bookmarks = query.get('allowWatchBookmarks') === 'true';
  const sendInitial = query.get('sendInitialEvents') === 'true';
  const requested = queryInt(query, 'timeoutSeconds', 0);
  // Like kube-apiserver's minRequestTimeout: a random point in [default, 2 × default), so that
  // watches started together do not all end (and relist) together.
  const timeoutSec =
    requested === undefined || requested === 0
      ? settings.defaultTimeoutSeconds * (1 + Math.random())
      : requested;
  if (rvParam !== '' && !/^\d+$/.test(rvParam))
    throw new ApiError(400, 'BadRequest', `invalid resource version "${rvParam}"`);
  const present = (o: KubeObject): unknown => {
    const shown = ctx.present(t.def, t.version, o);
    return t.table === undefined ? shown : t.table(shown);
  };

  res.writeHead(200, {
    'content-type': 'application/json',
    'transfer-encoding': 'chunked',
    'cache-control': 'no-cache, private',
  });
  res.flushHeaders();
  let closed = false;
  let lastRv = rvParam === '' || rvParam === '0' ? ctx.store.resourceVersion : Number(rvParam);
  const write = (line: unknown): void => {
    if (closed) return;
    res.write(JSON.stringify(line) + '\n');
    if (res.writableLength > settings.maxBufferedBytes) {
      ctx.log.warn('closing a watch that is not keeping up', { resource, buffered: res.writableLength });
      finish();
    }
  };
  const bookmark = (annotations?: Record<string, string>): void => {
    const metadata: Record<string, unknown> = { resourceVersion: String(lastRv) };
    if (annotations !== undefined) metadata['annotations'] = annotations;
    write({
      type: 'BOOKMARK',
      object: { kind: t.def.kind, apiVersion: apiVersionOf(t.def.group, t.version), metadata },
    });
  };
  const timers: NodeJS.Timeout[] = [];
  let unsubscribe = (): void => undefined;
  const finish = (): void => {
    if (closed) return;
    closed = true;
    unsubscribe();
    timers.forEach((x) => clearTimeout(x));
    res.end();
  };
  req.on('close', finish);
  res.on('error', finish);
  const emit = (type: WatchFrame['type'], o: KubeObject): void => {
    if (closed) return;
    let object: unknown;
    try {
      object = present(o);
    } catch (err) {
      ctx.log.warn('ending a watch whose event could not be rendered', { resource, err: String(err) });
      write({ type: 'ERROR', object: toApiError(err).toStatus() });
      finish();
      return;
    }
    write({ type, object });
  };

  if (rvParam === '' || rvParam === '0' || sendInitial) {
    for (const o of ctx.store.list(resource, t.namespace)) if (matches(t.selector, o)) emit('ADDED', o);
    if (sendInitial) bookmark({ 'k8s.io/initial-events-end': 'true' });
  } else {
    const past = ctx.hub.history.since(lastRv);
    if (past === 'expired') {
      write({
        type: 'ERROR',
        object: new ApiError(
          410,
          'Expired',
          `too old resource version: ${rvParam} (${ctx.hub.history.oldestResumable})`,
        ).toStatus(),
      });
      finish();
      return;
    }
    for (const ev of past) {
      const filter = { resource, namespace: t.namespace, selector: t.selector };
      // Reuse the live translation so replay and live delivery agree on selector transitions.
      const frame = frameOf(filter, ev);
      if (frame !== undefined) emit(frame.type, frame.object);
      lastRv = ev.rv;
    }
  }
  if (closed) return;
  unsubscribe = ctx.hub.subscribe({
    filter: { resource, namespace: t.namespace, selector: t.selector },
    deliver: (frame: WatchFrame, rv: number) => {
      lastRv = rv;
      emit(frame.type, frame.object);
    },
    end: finish,
  });
  if (bookmarks) {
    const tick = (): void => {
      lastRv = Math.max(lastRv, ctx.store.resourceVersion);
      bookmark();
      timers[0] = setTimeout(tick, settings.bookmarkIntervalMs);
    };
    timers[0] = setTimeout(tick, settings.bookmarkIntervalMs);
  }
  if (timeoutSec > 0) timers.push(setTimeout(finish, Math.min(timeoutSec * 1000, MAX_TIMER_MS)));
}
