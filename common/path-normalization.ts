/**
 * How far a waypoint normalizes request paths (waypoint/http/target.ts), named where the
 * controller checks the Gateway annotation that chooses it and the waypoint reads its setting.
 *
 * - `base`: RFC 3986 §6.2.2 (Istio's default `BASE`): unreserved percent-encodings decoded,
 *   backslashes read as slashes, dot segments removed;
 * - `merge-slashes`: also repeated slashes collapsed (`//admin` is `/admin`);
 * - `decode-and-merge-slashes`: also `%2F` and `%5C` decoded into slashes first
 *   (`/a%2F..%2Fadmin` is `/admin`).
 */
export type PathNormalization = 'base' | 'merge-slashes' | 'decode-and-merge-slashes';

/** Every {@link PathNormalization}, for validating settings. */
export const PATH_NORMALIZATIONS: readonly PathNormalization[] = [
  'base',
  'merge-slashes',
  'decode-and-merge-slashes',
];

/** True when `value` names a {@link PathNormalization}. */
export function isPathNormalization(value: string): value is PathNormalization {
  return (PATH_NORMALIZATIONS as readonly string[]).includes(value);
}
