/**
 * Header work done once per hop: dropping hop-by-hop and pseudo headers (RFC 9110 §7.6.1,
 * RFC 9113 §8.2.2) and applying Gateway API header modifiers (`set` replaces, `add` appends,
 * `remove` deletes; names already lowercase in the IR).
 */
import type { HeaderEdits } from '../../common/ir/routes.ts';

/** Headers as the engine builds them for the next hop. */
export type HeaderRecord = Record<string, string | string[]>;

/** Headers that never cross a proxy (plus `host`, which each hop sets from the authority). */
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'host',
  'expect',
  'http2-settings',
]);

function connectionTokens(value: string | string[] | undefined): ReadonlySet<string> | undefined {
  if (value === undefined) return undefined;
  const text = Array.isArray(value) ? value.join(',') : value;
  if (text === '' || text === 'keep-alive' || text === 'close') return undefined;
  return new Set(text.split(',').map((t) => t.trim().toLowerCase()));
}

/**
 * Sets field `name`. A field may be called `__proto__` (it is a valid token): assigning it on a
 * plain object would be ignored, so that one name is defined as an own property instead.
 */
function put(headers: HeaderRecord, name: string, value: string | string[]): void {
  if (name === '__proto__')
    Object.defineProperty(headers, name, { value, writable: true, enumerable: true, configurable: true });
  else headers[name] = value;
}

/** Copies `headers` without hop-by-hop, pseudo and `connection`-listed headers. */
export function endToEndHeaders(
  headers: Readonly<Record<string, string | string[] | undefined>>,
): HeaderRecord {
  const out: HeaderRecord = {};
  const listed = connectionTokens(headers['connection']);
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || name.charCodeAt(0) === 58 /* ':' */) continue;
    if (HOP_BY_HOP.has(name) || listed?.has(name) === true) continue;
    put(out, name, value);
  }
  // gRPC needs `te: trailers` end to end over HTTP/2; it is the only `te` value allowed there.
  if (headers['te'] === 'trailers') out['te'] = 'trailers';
  return out;
}

/**
 * `headers` (mutated) with each repeated field joined into one line (RFC 9110 §5.3). For
 * trailers: Node's HTTP/2 refuses a repeat of a field it knows as single-valued (`etag`,
 * `content-type`, …) only when it sends them, inside its own listener, where the throw would end
 * the process.
 */
export function joinRepeated(headers: HeaderRecord): HeaderRecord {
  for (const name in headers) {
    const value = headers[name];
    if (Array.isArray(value)) headers[name] = value.join(', ');
  }
  return headers;
}

/** Applies header modifiers in order to `headers` (mutated) and returns it. */
export function applyHeaderEdits(headers: HeaderRecord, edits: readonly HeaderEdits[]): HeaderRecord {
  for (const edit of edits) {
    for (const { name, value } of edit.set) put(headers, name, value);
    for (const { name, value } of edit.add) {
      // Own fields only: `constructor` is a header name, not Object.prototype's.
      const current = Object.hasOwn(headers, name) ? headers[name] : undefined;
      if (current === undefined) put(headers, name, value);
      else if (Array.isArray(current)) current.push(value);
      else headers[name] = name === 'set-cookie' ? [current, value] : `${current}, ${value}`;
    }
    for (const name of edit.remove) delete headers[name];
  }
  return headers;
}

/** Adds fixed headers (rate-limit headers, tracing context) to `headers` (mutated). */
export function addHeaders(headers: HeaderRecord, extra: Readonly<Record<string, string>> | undefined): void {
  if (extra === undefined) return;
  for (const name in extra) {
    const value = extra[name];
    if (value !== undefined) headers[name] = value;
  }
}
