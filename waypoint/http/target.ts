/**
 * The request target as routing, authorization, rate limits and the upstream all see it. Two
 * spellings of one resource must not reach different decisions: a DENY on `/admin` that
 * `/%61dmin`, `/public/../admin` or `GET http://svc/admin` walk past, to a backend that reads
 * all three as `/admin`, is the classic way through a proxy's policy.
 *
 * Paths are normalized as RFC 3986 §6.2.2 says, the way Istio's default (`BASE`) does:
 * percent-encoded unreserved characters are decoded and other percent-encodings upper-cased,
 * backslashes read as slashes, and dot segments removed (§5.2.4). `%2F` stays encoded and
 * repeated slashes stay: both mean something else to some servers. Many others read `//admin`
 * as `/admin`, or decode `%2F`, so a waypoint may go further ({@link PathNormalization}, Istio's
 * `MERGE_SLASHES` and `DECODE_AND_MERGE_SLASHES`). The upstream receives the normalized path. An
 * absolute-form target (RFC 9112 §3.2.2) becomes origin-form, its authority replacing Host. The
 * query is left as sent.
 */
import type { PathNormalization } from '../../common/path-normalization.ts';

export { PATH_NORMALIZATIONS, type PathNormalization } from '../../common/path-normalization.ts';

const SLASH = 0x2f;
const DOT = 0x2e;
const PERCENT = 0x25;
const BACKSLASH = 0x5c;
const QUESTION = 0x3f;

/** The parts of a normalized target; `error` says why a target was refused (400). */
export interface NormalizedTarget {
  readonly path: string;
  readonly query: string;
  /** `path?query`, the string itself when nothing changed. */
  readonly pathAndQuery: string;
  /** The authority of an absolute-form target, which replaces Host; else undefined. */
  readonly authority: string | undefined;
  readonly error: string | undefined;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/** RFC 3986 §2.3: ALPHA / DIGIT / "-" / "." / "_" / "~". */
function isUnreserved(c: number): boolean {
  const lower = c | 0x20;
  return (
    (lower >= 0x61 && lower <= 0x7a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x2d ||
    c === DOT ||
    c === 0x5f ||
    c === 0x7e
  );
}

/**
 * True when `path` is already normal: no `%`, no backslash, no `.` or `..` segment, and with
 * `merge` no repeated slash. The common case, decided in one pass without allocating.
 */
function isNormal(path: string, merge: boolean): boolean {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === PERCENT || c === BACKSLASH) return false;
    if (merge && c === SLASH && path.charCodeAt(i + 1) === SLASH) return false;
    if (c !== DOT || path.charCodeAt(i - 1) !== SLASH) continue;
    // A segment starting with a dot: `.` or `..` alone?
    const next = i + 1 < path.length ? path.charCodeAt(i + 1) : SLASH;
    if (next === SLASH) return false;
    if (next === DOT && (i + 2 >= path.length || path.charCodeAt(i + 2) === SLASH)) return false;
  }
  return true;
}

/**
 * Decodes unreserved percent-encodings (and with `slashes` `%2F` and `%5C`, as `/`), upper-cases
 * the rest, reads `\` as `/`; undefined if malformed.
 */
function decodeUnreserved(path: string, slashes: boolean): string | undefined {
  let out = '';
  let from = 0;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === BACKSLASH) {
      out += path.slice(from, i) + '/';
      from = i + 1;
    } else if (c === PERCENT) {
      const hi = hexValue(path.charCodeAt(i + 1));
      const lo = hexValue(path.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return undefined;
      const byte = hi * 16 + lo;
      out += path.slice(from, i);
      if (slashes && (byte === SLASH || byte === BACKSLASH)) out += '/';
      else out += isUnreserved(byte) ? String.fromCharCode(byte) : path.slice(i, i + 3).toUpperCase();
      i += 2;
      from = i + 1;
    }
  }
  return out + path.slice(from);
}

/** RFC 3986 §5.2.4 for a path starting with `/`: `.` and `..` segments resolved. */
function removeDotSegments(path: string): string {
  const segments = path.split('/');
  const out: string[] = [];
  // segments[0] is the empty string before the leading slash.
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i] ?? '';
    const last = i === segments.length - 1;
    if (s === '.' || s === '..') {
      if (s === '..') out.pop();
      // A path ending in a dot segment names a directory: `/a/b/..` is `/a/`.
      if (last) out.push('');
    } else out.push(s);
  }
  return `/${out.join('/')}`;
}

/** `path` with every run of slashes made one. */
function mergeSlashes(path: string): string {
  return path.replace(/\/{2,}/g, '/');
}

/** The normalized form of an origin-form path (starting with `/`), or undefined when malformed. */
export function normalizePath(path: string, mode: PathNormalization = 'base'): string | undefined {
  const merge = mode !== 'base';
  if (isNormal(path, merge)) return path;
  const decoded = decodeUnreserved(path, mode === 'decode-and-merge-slashes');
  if (decoded === undefined) return undefined;
  // Dot segments first: `/a//../b` is `/a/b` under every mode, as RFC 3986 reads it.
  const resolved = isNormal(decoded, false) ? decoded : removeDotSegments(decoded);
  return merge ? mergeSlashes(resolved) : resolved;
}

function refused(error: string): NormalizedTarget {
  return { path: '/', query: '', pathAndQuery: '/', authority: undefined, error };
}

/** Splits an absolute-form target (`http://host[:port][/path][?query]`) into authority and the rest. */
function fromAbsolute(target: string): { authority: string; rest: string } | string {
  const start = target.indexOf('://') + 3;
  let end = start;
  while (end < target.length) {
    const c = target.charCodeAt(end);
    if (c === SLASH || c === QUESTION) break;
    end++;
  }
  const authority = target.slice(start, end);
  if (authority === '') return 'the absolute-form request target has no host';
  // RFC 9110 §4.2.4: userinfo in an http(s) URI is to be treated as an error.
  if (authority.includes('@')) return 'the request target carries userinfo';
  const rest = target.slice(end);
  return { authority, rest: rest === '' || rest.charCodeAt(0) === QUESTION ? `/${rest}` : rest };
}

/**
 * The request target `url` as the waypoint works with it. Origin-form paths are normalized,
 * absolute-form (HTTP/1.1 only; `absoluteForm`) becomes origin-form, `*` is kept for OPTIONS;
 * anything else is refused.
 */
export function normalizeTarget(
  url: string,
  method: string,
  absoluteForm: boolean,
  mode: PathNormalization = 'base',
): NormalizedTarget {
  let authority: string | undefined;
  let rest = url;
  const first = url.charCodeAt(0);
  if (first !== SLASH) {
    if (url === '*' && method === 'OPTIONS')
      return { path: '*', query: '', pathAndQuery: '*', authority: undefined, error: undefined };
    if (!absoluteForm || !/^https?:\/\//i.test(url))
      return refused(`request target ${JSON.stringify(url.slice(0, 64))} is not an absolute path`);
    const split = fromAbsolute(url);
    if (typeof split === 'string') return refused(split);
    authority = split.authority;
    rest = split.rest;
  }
  const q = rest.indexOf('?');
  const rawPath = q === -1 ? rest : rest.slice(0, q);
  const query = q === -1 ? '' : rest.slice(q + 1);
  const path = normalizePath(rawPath, mode);
  if (path === undefined) return refused('the request path has a malformed percent-encoding');
  const pathAndQuery = path === rawPath ? rest : q === -1 ? path : `${path}?${query}`;
  return { path, query, pathAndQuery, authority, error: undefined };
}
