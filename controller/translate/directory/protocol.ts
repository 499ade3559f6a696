/**
 * How a Service port speaks (common/ir/mesh.ts AppProtocol), from its `appProtocol` field or,
 * failing that, its name — the convention Istio users know
 * (https://istio.io/latest/docs/ops/configuration/traffic-management/protocol-selection/).
 */
import type { AppProtocol } from '../../../common/ir/index.ts';

// appProtocol values (case-insensitive) and what the mesh does with them. Protocols we can only
// carry as opaque bytes (TLS, databases) are `tcp`; WebSocket upgrades are HTTP/1.1.
const BY_APP_PROTOCOL: ReadonlyMap<string, AppProtocol> = new Map(
  Object.entries({
    http: 'http',
    http_proxy: 'http',
    'grpc-web': 'http',
    'kubernetes.io/ws': 'http',
    http2: 'http2',
    'kubernetes.io/h2c': 'http2',
    grpc: 'grpc',
    tcp: 'tcp',
    https: 'tcp',
    tls: 'tcp',
    'kubernetes.io/wss': 'tcp',
    mongo: 'tcp',
    mysql: 'tcp',
    redis: 'tcp',
  } satisfies Record<string, AppProtocol>),
);

// Port-name prefixes (`<protocol>` or `<protocol>-<suffix>`), longest first so `grpc-web`
// is not read as `grpc`.
const BY_NAME: readonly (readonly [string, AppProtocol])[] = [
  ['grpc-web', 'http'],
  ['http2', 'http2'],
  ['https', 'tcp'],
  ['http', 'http'],
  ['grpc', 'grpc'],
  ['tcp', 'tcp'],
  ['tls', 'tcp'],
  ['mongo', 'tcp'],
  ['mysql', 'tcp'],
  ['redis', 'tcp'],
];

/**
 * Resolves a port's AppProtocol: a recognised `appProtocol` wins, then the port name, else
 * `unknown`. Ports that are not TCP are always `unknown` (the mesh carries only TCP).
 */
export function resolveAppProtocol(
  protocol: 'TCP' | 'UDP' | 'SCTP',
  appProtocol: string | undefined,
  name: string,
): AppProtocol {
  if (protocol !== 'TCP') return 'unknown';
  const fromField = appProtocol === undefined ? undefined : BY_APP_PROTOCOL.get(appProtocol.toLowerCase());
  if (fromField !== undefined) return fromField;
  const lower = name.toLowerCase();
  for (const [prefix, p] of BY_NAME) {
    if (lower === prefix || lower.startsWith(`${prefix}-`)) return p;
  }
  return 'unknown';
}
