/**
 * Validators for AuthorizationPolicy and RateLimitPolicy values. Each returns the normalized
 * value the proxies match against, or `{ error }` with an operator-facing reason.
 * Globs follow Istio: one `*`, either the whole value, a prefix (`abc*`) or a suffix (`*abc`).
 */

/** A validator's answer: the normalized value, or why it was rejected. */
export type Checked = string | { readonly error: string };

const SPIFFE_TD = /^[a-z0-9._-]+$/;
const SPIFFE_SEGMENT = /^[A-Za-z0-9._-]+$/;
const PRINCIPAL_CHARS = /^[A-Za-z0-9._\-/:]*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const NAMESPACE_GLOB_PART = /^[a-z0-9-]*$/;
// RFC 9110 §5.6.2 token: methods and header field names.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const PATH_CHARS = /^[A-Za-z0-9\-._~!$&'()+,;=:@/%]*$/;
// RFC 3986 §2.3.
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
const HOST_CHARS = /^[a-z0-9.\-:[\]]*$/;

/** Where a value's single `*` sits, or an error when it has several or one in the middle. */
function globShape(v: string): 'none' | 'any' | 'prefix' | 'suffix' | { readonly error: string } {
  const stars = v.split('*').length - 1;
  if (stars === 0) return 'none';
  if (v === '*') return 'any';
  if (stars > 1) return { error: 'at most one "*" is allowed' };
  if (v.endsWith('*')) return 'prefix';
  if (v.startsWith('*')) return 'suffix';
  return { error: '"*" is allowed only at the start or the end' };
}

/** True when `id` is a complete SPIFFE id with a non-empty path. */
function isSpiffeId(id: string): boolean {
  if (!id.startsWith('spiffe://') || id.length > 2048) return false;
  const rest = id.slice('spiffe://'.length);
  const slash = rest.indexOf('/');
  if (slash <= 0 || !SPIFFE_TD.test(rest.slice(0, slash))) return false;
  return rest
    .slice(slash + 1)
    .split('/')
    .every((s) => SPIFFE_SEGMENT.test(s) && s !== '.' && s !== '..');
}

/**
 * A source principal: `*`, a SPIFFE id, or a prefix/suffix glob. Istio's form without the scheme
 * (`cluster.local/ns/a/sa/b`) is accepted and normalized to `spiffe://cluster.local/ns/a/sa/b`.
 */
export function principal(v: string): Checked {
  const shape = globShape(v);
  if (typeof shape !== 'string') return shape;
  if (shape === 'any') return v;
  if (shape === 'suffix') {
    return PRINCIPAL_CHARS.test(v.slice(1)) && v.length > 1
      ? v
      : { error: 'a suffix glob may contain only SPIFFE path characters after "*"' };
  }
  const full = v.startsWith('spiffe://') ? v : `spiffe://${v}`;
  if (shape === 'prefix') {
    const stem = full.slice(0, -1);
    const td = stem.slice('spiffe://'.length).split('/')[0] ?? '';
    return td !== '' && SPIFFE_TD.test(td) && PRINCIPAL_CHARS.test(stem.slice('spiffe://'.length))
      ? full
      : { error: 'a prefix glob must start with a valid trust domain (spiffe://<td>/…*)' };
  }
  return isSpiffeId(full)
    ? full
    : { error: 'not a SPIFFE id (expected spiffe://<trust-domain>/ns/<namespace>/sa/<serviceaccount>)' };
}

/** A namespace name (RFC 1123 label) or a glob of one. */
export function namespaceName(v: string): Checked {
  const shape = globShape(v);
  if (typeof shape !== 'string') return shape;
  if (shape === 'any') return v;
  if (shape === 'none') {
    return v.length <= 63 && DNS_LABEL.test(v) ? v : { error: 'not a valid namespace name (RFC 1123 label)' };
  }
  return NAMESPACE_GLOB_PART.test(v.replace('*', ''))
    ? v
    : { error: 'a namespace glob may contain only lowercase letters, digits and "-"' };
}

/** A port as a decimal string (1–65535); Istio writes ports as strings, numbers are accepted too. */
export function port(v: string): Checked {
  if (!/^[0-9]{1,5}$/.test(v)) return { error: 'must be a port number' };
  const n = Number(v);
  return n >= 1 && n <= 65535 ? String(n) : { error: 'port must be between 1 and 65535' };
}

/** An HTTP method (an RFC 9110 token, case-sensitive) or `*`. */
export function method(v: string): Checked {
  return TOKEN.test(v) ? v : { error: 'not an HTTP method (RFC 9110 token)' };
}

/**
 * A request path: exact (`/a`), prefix (`/a/*`), suffix (`*.html`) or `*`. The waypoint compares
 * it with the normalized request path (RFC 3986 §6.2.2, waypoint/http/target.ts), so it is
 * normalized alike: unreserved percent-encodings decoded, the others upper-cased; a `.` or `..`
 * segment, which no normalized path has, is rejected rather than left to never match.
 */
export function path(v: string): Checked {
  const shape = globShape(v);
  if (typeof shape !== 'string') return shape;
  if (shape === 'any') return v;
  if (!PATH_CHARS.test(v.replace('*', ''))) return { error: 'contains characters not allowed in a URL path' };
  if (shape !== 'suffix' && !v.startsWith('/')) return { error: 'must start with "/"' };
  if (/%(?![0-9A-Fa-f]{2})/.test(v)) return { error: 'a "%" must start a percent-encoding (%XX)' };
  const norm = v.replace(/%[0-9A-Fa-f]{2}/g, (pct) => {
    const c = String.fromCharCode(parseInt(pct.slice(1), 16));
    return UNRESERVED.test(c) ? c : pct.toUpperCase();
  });
  // Only whole segments: a glob's first (suffix) or last (prefix) one is partial.
  const segments = norm.replace('*', '').split('/');
  const whole = segments.slice(shape === 'suffix' ? 1 : 0, shape === 'prefix' ? -1 : undefined);
  if (whole.some((s) => s === '.' || s === '..'))
    return {
      error: 'has a "." or ".." segment, which never matches: requests are compared after normalization',
    };
  return norm;
}

/** A host (`:authority`), optionally with a port, or a glob of one; normalized to lowercase. */
export function host(v: string): Checked {
  const lower = v.toLowerCase();
  const shape = globShape(lower);
  if (typeof shape !== 'string') return shape;
  if (shape === 'any') return lower;
  const bare = lower.replace('*', '');
  if (bare === '' || !HOST_CHARS.test(bare)) return { error: 'not a host name' };
  return lower;
}

/** An HTTP header field name, normalized to lowercase. */
export function headerName(v: string): Checked {
  return TOKEN.test(v) && !v.includes('*')
    ? v.toLowerCase()
    : { error: 'not a header name (RFC 9110 token)' };
}

/** A header value to match: no control characters (a glob `*` is allowed as in Istio). */
export function headerValue(v: string): Checked {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u0008\u000a-\u001f\u007f]/.test(v) ? { error: 'contains control characters' } : v;
}
