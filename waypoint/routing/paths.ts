/**
 * Path and authority helpers shared by matching, redirects and rewrites: segment-aware prefixes
 * and the Gateway API's `ReplacePrefixMatch` semantics (HTTPPathModifier table in the spec).
 */

const SLASH = 47;

/**
 * A `PathPrefix` value in the form matching uses: trailing slashes dropped, so `/` becomes the
 * empty prefix (matches every path) and `/foo/` behaves like `/foo`.
 */
export function normalizePrefix(value: string): string {
  let end = value.length;
  while (end > 0 && value.charCodeAt(end - 1) === SLASH) end--;
  return end === value.length ? value : value.slice(0, end);
}

/** True when `path` starts with the normalized `prefix` at a segment boundary (`/foo` ⊄ `/foobar`). */
export function hasSegmentPrefix(path: string, prefix: string): boolean {
  if (prefix.length === 0) return true;
  if (!path.startsWith(prefix)) return false;
  return path.length === prefix.length || path.charCodeAt(prefix.length) === SLASH;
}

/**
 * `ReplacePrefixMatch`: replaces the matched (normalized) `prefix` of `path` with the normalized
 * `replacement`, keeping segment boundaries and never producing `//` at the join or an empty path
 * (`/foo/bar` − `/foo` + `/baz` → `/baz/bar`; + `/` → `/bar`; `/foo` + `/` → `/`).
 */
export function replacePrefix(path: string, prefix: string, replacement: string): string {
  const rest = path.slice(prefix.length);
  const joined = replacement + rest;
  if (joined.length === 0) return '/';
  return joined.charCodeAt(0) === SLASH ? joined : '/' + joined;
}

/** The host part of an authority (`a:80` → `a`, `[::1]:80` → `[::1]`, `a` → `a`). */
export function hostOf(authority: string): string {
  if (authority.charCodeAt(0) === 91 /* [ */) {
    const close = authority.indexOf(']');
    return close < 0 ? authority : authority.slice(0, close + 1);
  }
  const colon = authority.indexOf(':');
  return colon < 0 ? authority : authority.slice(0, colon);
}

/** `path` followed by `?query` when the query is not empty. */
export function withQuery(path: string, query: string): string {
  return query.length === 0 ? path : `${path}?${query}`;
}
