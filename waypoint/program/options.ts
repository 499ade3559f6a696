/**
 * The waypoint's settings from its flags and environment (pure: argv and env are arguments).
 * See docs/waypoint.md for every flag.
 */
import { parseArgs } from 'node:util';

import { MeshError } from '../../common/errors.ts';
import { DEFAULT_TRUST_DOMAIN, validateTrustDomain, workloadId } from '../../common/spiffe.ts';
import {
  isPathNormalization,
  PATH_NORMALIZATIONS,
  type PathNormalization,
} from '../../common/path-normalization.ts';
import type { FailureMode, RedisEndpoint } from '../ratelimit/index.ts';
import type { OtlpProtocol } from '../telemetry/tracing.ts';
import type { GatewayRef } from './config.ts';

/** The controller's address when neither `--controller` nor `WAYMESH_CONTROLLER_ADDRESS` is set. */
export const DEFAULT_CONTROLLER_ADDRESS = 'waymesh-controller.waymesh-system.svc:15012';

/** Everything main.ts needs. */
export interface WaypointSettings {
  readonly gateway: GatewayRef;
  readonly trustDomain: string;
  /** The waypoint's own SPIFFE id. */
  readonly spiffeId: string;
  readonly controller: string;
  readonly configFile?: string;
  /** Static identity (component tests): all three or none. */
  readonly staticIdentity?: { readonly certFile: string; readonly keyFile: string; readonly caFile: string };
  /** WAYMESH_CA_ROOT; required unless a static identity is given. */
  readonly caRootPem: string;
  readonly hbone: { readonly host: string; readonly port: number };
  readonly adminPort: number;
  readonly metricsPort: number;
  readonly readyPort: number;
  readonly redis?: RedisEndpoint;
  readonly rateLimitFailureMode: FailureMode;
  readonly pathNormalization: PathNormalization;
  readonly otlpEndpoint?: string;
  readonly otlpProtocol: OtlpProtocol;
  readonly traceSampling: number;
}

/** Usage text for flag errors. */
export const USAGE = `Usage: waymesh run waypoint [flags]
  --controller HOST:PORT        controller address (env WAYMESH_CONTROLLER_ADDRESS)
  --config-file PATH            read snapshots from this file instead of the controller
  --gateway NS/NAME             this waypoint's Gateway (env WAYMESH_GATEWAY)
  --namespace NS                pod namespace (env POD_NAMESPACE)
  --service-account SA          pod service account (env SERVICE_ACCOUNT)
  --trust-domain TD             (env WAYMESH_TRUST_DOMAIN, default ${DEFAULT_TRUST_DOMAIN})
  --cert-file/--key-file/--ca-file PATH   static identity instead of the controller's CA
  --host ADDR --port N          HBONE listener (default 0.0.0.0:15008)
  --admin-port N --metrics-port N --ready-port N   (defaults 15000, 15020, 15021)
  --redis HOST:PORT             rate-limit Redis (env WAYMESH_REDIS_ADDRESS; default none)
                                AUTH from env only: WAYMESH_REDIS_PASSWORD, WAYMESH_REDIS_USERNAME (ACL user)
                                TLS from env: WAYMESH_REDIS_TLS=true, WAYMESH_REDIS_CA (PEM; default Node's CAs)
  --ratelimit-failure-mode open|closed   (env WAYMESH_RATELIMIT_FAILURE_MODE; default open)
  --path-normalization base|merge-slashes|decode-and-merge-slashes
                                (env WAYMESH_PATH_NORMALIZATION; default base)
  --otlp-endpoint URL           (env WAYMESH_OTLP_ENDPOINT; default: tracing off)
  --otlp-protocol grpc|http/protobuf     (default grpc)
  --trace-sampling RATIO        0..1 (default 1.0)`;

function configError(message: string, hint = USAGE): MeshError {
  return new MeshError('WAYPOINT_CONFIG', message, { hint });
}

function port(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^\d{1,5}$/.test(text) || n > 65535)
    throw configError(`--${flag} must be a port (0-65535), got ${JSON.stringify(text)}`);
  return n;
}

function hostPort(flag: string, text: string): { host: string; port: number } {
  const cut = text.lastIndexOf(':');
  const host = text.slice(0, cut).replace(/^\[(.*)\]$/, '$1');
  if (cut <= 0 || host === '') throw configError(`--${flag} must be HOST:PORT, got ${JSON.stringify(text)}`);
  return { host, port: port(flag, text.slice(cut + 1), 0) };
}

/**
 * The rate-limit Redis at `address` with the AUTH credentials and TLS settings `fromEnv` reads
 * (unset or empty: undefined). They come only from the environment (the provisioner fills them
 * from a Secret): a flag would show the password in the process list. Settings without an address, or a CA without TLS, would be
 * silently unused, so they are refused. What a Secret's content can get wrong (a username without
 * a password, a CA that is not PEM) is passed on for the rate limiter to warn about: refusing it
 * here would take down the waypoint, not only its rate limits.
 */
function redisEndpoint(
  address: string | undefined,
  fromEnv: (name: string) => string | undefined,
): RedisEndpoint | undefined {
  const username = fromEnv('WAYMESH_REDIS_USERNAME');
  const password = fromEnv('WAYMESH_REDIS_PASSWORD');
  const tls = fromEnv('WAYMESH_REDIS_TLS') ?? 'false';
  const ca = fromEnv('WAYMESH_REDIS_CA');
  if (tls !== 'true' && tls !== 'false')
    throw configError(`WAYMESH_REDIS_TLS must be true or false, got ${JSON.stringify(tls)}`);
  if (ca !== undefined && tls !== 'true')
    throw configError('WAYMESH_REDIS_CA is set but WAYMESH_REDIS_TLS is not true', 'set both, or neither');
  if (address === undefined) {
    const unused =
      password !== undefined ? 'WAYMESH_REDIS_PASSWORD' : tls === 'true' ? 'WAYMESH_REDIS_TLS' : '';
    if (unused !== '')
      throw configError(
        `${unused} is set but no Redis is configured`,
        'set --redis or WAYMESH_REDIS_ADDRESS, or unset the Redis settings',
      );
    return undefined;
  }
  return {
    ...hostPort('redis', address),
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
    ...(tls === 'true' ? { tls: ca === undefined ? {} : { ca } } : {}),
  };
}

const STRING_FLAGS = [
  'controller',
  'config-file',
  'gateway',
  'namespace',
  'service-account',
  'trust-domain',
  'cert-file',
  'key-file',
  'ca-file',
  'host',
  'port',
  'admin-port',
  'metrics-port',
  'ready-port',
  'redis',
  'ratelimit-failure-mode',
  'path-normalization',
  'otlp-endpoint',
  'otlp-protocol',
  'trace-sampling',
] as const;

/** Parses `argv` (without node and script) and `env`; throws `WAYPOINT_CONFIG`. */
export function parseWaypointSettings(argv: readonly string[], env: NodeJS.ProcessEnv): WaypointSettings {
  let values: Partial<Record<(typeof STRING_FLAGS)[number], string>>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: Object.fromEntries(STRING_FLAGS.map((f) => [f, { type: 'string' as const }])),
    }) as { values: Partial<Record<(typeof STRING_FLAGS)[number], string>> });
  } catch (err) {
    throw configError(err instanceof Error ? err.message : String(err));
  }
  const pick = (flag: (typeof STRING_FLAGS)[number] | '', name: string): string | undefined => {
    const v = (flag === '' ? undefined : values[flag]) ?? (name === '' ? undefined : env[name]);
    return v === undefined || v === '' ? undefined : v;
  };
  const gw = pick('gateway', 'WAYMESH_GATEWAY');
  const [gwNs, gwName, extra] = (gw ?? '').split('/');
  if (gwNs === undefined || gwNs === '' || gwName === undefined || gwName === '' || extra !== undefined) {
    throw configError(
      `the waypoint Gateway must be NAMESPACE/NAME, got ${JSON.stringify(gw ?? '')}`,
      'pass --gateway or set WAYMESH_GATEWAY',
    );
  }
  const trustDomain = pick('trust-domain', 'WAYMESH_TRUST_DOMAIN') ?? DEFAULT_TRUST_DOMAIN;
  const namespace = pick('namespace', 'POD_NAMESPACE');
  const sa = pick('service-account', 'SERVICE_ACCOUNT');
  if (namespace === undefined || sa === undefined) {
    throw configError(
      'the pod namespace and service account are not set',
      'pass --namespace/--service-account or set POD_NAMESPACE/SERVICE_ACCOUNT',
    );
  }
  let spiffeId: string;
  try {
    validateTrustDomain(trustDomain);
    const id = workloadId(trustDomain, namespace, sa);
    spiffeId = `spiffe://${id.trustDomain}${id.path}`;
  } catch (err) {
    throw configError(err instanceof Error ? err.message : String(err));
  }
  const files = [values['cert-file'], values['key-file'], values['ca-file']];
  const given = files.filter((f) => f !== undefined).length;
  if (given !== 0 && given !== 3) throw configError('--cert-file, --key-file and --ca-file go together');
  const [certFile, keyFile, caFile] = files as [string, string, string];
  const caRootPem = env['WAYMESH_CA_ROOT'] ?? '';
  if (given === 0 && !caRootPem.includes('BEGIN CERTIFICATE')) {
    throw configError(
      'WAYMESH_CA_ROOT does not hold the mesh root certificate (PEM)',
      'the controller sets it from ConfigMap waymesh-ca-root-cert; component tests pass --cert-file/--key-file/--ca-file',
    );
  }
  const failureMode = pick('ratelimit-failure-mode', 'WAYMESH_RATELIMIT_FAILURE_MODE') ?? 'open';
  if (failureMode !== 'open' && failureMode !== 'closed')
    throw configError(
      `--ratelimit-failure-mode (env WAYMESH_RATELIMIT_FAILURE_MODE) must be open or closed, got ${JSON.stringify(failureMode)}`,
    );
  const normalization = pick('path-normalization', 'WAYMESH_PATH_NORMALIZATION') ?? 'base';
  if (!isPathNormalization(normalization))
    throw configError(
      `--path-normalization (env WAYMESH_PATH_NORMALIZATION) must be one of ${PATH_NORMALIZATIONS.join(', ')}, got ${JSON.stringify(normalization)}`,
    );
  const protocol = values['otlp-protocol'] ?? 'grpc';
  if (protocol !== 'grpc' && protocol !== 'http/protobuf')
    throw configError(`--otlp-protocol must be grpc or http/protobuf, got ${JSON.stringify(protocol)}`);
  const sampling = Number(values['trace-sampling'] ?? '1');
  if (!(sampling >= 0 && sampling <= 1))
    throw configError(
      `--trace-sampling must be between 0 and 1, got ${JSON.stringify(values['trace-sampling'])}`,
    );
  const redis = redisEndpoint(pick('redis', 'WAYMESH_REDIS_ADDRESS'), (name) => pick('', name));
  const otlp = pick('otlp-endpoint', 'WAYMESH_OTLP_ENDPOINT');
  return {
    gateway: { namespace: gwNs, name: gwName },
    trustDomain,
    spiffeId,
    controller: pick('controller', 'WAYMESH_CONTROLLER_ADDRESS') ?? DEFAULT_CONTROLLER_ADDRESS,
    ...(values['config-file'] === undefined ? {} : { configFile: values['config-file'] }),
    ...(given === 3 ? { staticIdentity: { certFile, keyFile, caFile } } : {}),
    caRootPem,
    hbone: { host: values.host ?? '0.0.0.0', port: port('port', values.port, 15008) },
    adminPort: port('admin-port', values['admin-port'], 15000),
    metricsPort: port('metrics-port', values['metrics-port'], 15020),
    readyPort: port('ready-port', values['ready-port'], 15021),
    ...(redis === undefined ? {} : { redis }),
    rateLimitFailureMode: failureMode,
    pathNormalization: normalization,
    ...(otlp === undefined ? {} : { otlpEndpoint: otlp }),
    otlpProtocol: protocol,
    traceSampling: sampling,
  };
}
