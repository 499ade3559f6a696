/**
 * The controller's options from its environment (the Deployment's env; the table is in
 * main.ts). Invalid values throw `CONTROLLER_CONFIG` with the variable's name.
 */
import { hostname } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import { MeshError } from '../common/errors.ts';
import { CA_RELOAD_MS, type ControllerOptions } from './app.ts';
import { WAYPOINT } from './provision/objects.ts';

/** The largest `WAYMESH_CA_RELOAD_SECONDS`: a day. */
const MAX_CA_RELOAD_SECONDS = 86_400;

/** A Secret name (a DNS-1123 subdomain), as the API server checks it. */
const SECRET_NAME = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** `{key: value}` when `value` is set, else nothing (for exactOptionalPropertyTypes). */
function optional<K extends string>(key: K, value: string): Partial<Record<K, string>> {
  return value === '' ? {} : ({ [key]: value } as Partial<Record<K, string>>);
}

/** `text` as an integer from `min` to `max`; throws `CONTROLLER_CONFIG` naming `name` otherwise. */
function integerIn(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max)
    throw new MeshError(
      'CONTROLLER_CONFIG',
      `${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`,
    );
  return n;
}

/** Reads the controller's options from `env` (see the table in main.ts); throws on invalid values. */
export function optionsFromEnv(
  env: NodeJS.ProcessEnv,
  kubeConfig: KubeConfig,
  logger: ControllerOptions['logger'],
): ControllerOptions {
  const get = (name: string, fallback: string): string => {
    const v = env[name];
    return v === undefined || v === '' ? fallback : v;
  };
  const namespace = get('POD_NAMESPACE', 'waymesh-system');
  const image = get('WAYMESH_WAYPOINT_IMAGE', '');
  if (image === '')
    throw new MeshError('CONTROLLER_CONFIG', 'WAYMESH_WAYPOINT_IMAGE is not set', {
      hint: 'set it to the waypoint image in the controller Deployment',
    });
  const replicas = integerIn(
    'WAYMESH_WAYPOINT_REPLICAS',
    get('WAYMESH_WAYPOINT_REPLICAS', '1'),
    1,
    WAYPOINT.maxReplicas,
  );
  const reloadSeconds = integerIn(
    'WAYMESH_CA_RELOAD_SECONDS',
    get('WAYMESH_CA_RELOAD_SECONDS', String(CA_RELOAD_MS / 1000)),
    1,
    MAX_CA_RELOAD_SECONDS,
  );
  const redisAddress = get('WAYMESH_WAYPOINT_REDIS_ADDRESS', '');
  const redisSecret = get('WAYMESH_WAYPOINT_REDIS_SECRET', '');
  if (redisSecret !== '' && !SECRET_NAME.test(redisSecret))
    throw new MeshError(
      'CONTROLLER_CONFIG',
      `WAYMESH_WAYPOINT_REDIS_SECRET must be a Secret name (lowercase DNS subdomain), got ${JSON.stringify(redisSecret)}`,
    );
  const redisTls = get('WAYMESH_WAYPOINT_REDIS_TLS', 'false');
  if (redisTls !== 'true' && redisTls !== 'false')
    throw new MeshError(
      'CONTROLLER_CONFIG',
      `WAYMESH_WAYPOINT_REDIS_TLS must be true or false, got ${JSON.stringify(redisTls)}`,
    );
  for (const [name, set] of [
    ['WAYMESH_WAYPOINT_REDIS_SECRET', redisSecret !== ''],
    ['WAYMESH_WAYPOINT_REDIS_TLS', redisTls === 'true'],
  ] as const) {
    if (set && redisAddress === '')
      throw new MeshError('CONTROLLER_CONFIG', `${name} is set without a Redis`, {
        hint: `set WAYMESH_WAYPOINT_REDIS_ADDRESS too, or unset ${name}`,
      });
  }
  return {
    kubeConfig,
    trustDomain: get('WAYMESH_TRUST_DOMAIN', 'cluster.local'),
    namespace,
    listen: get('WAYMESH_LISTEN', '0.0.0.0:15012'),
    identity: get('POD_NAME', hostname()),
    caReloadMs: reloadSeconds * 1000,
    waypoint: {
      image,
      replicas,
      controllerAddress: get('WAYMESH_CONTROLLER_ADDRESS', `waymesh-controller.${namespace}.svc:15012`),
      ...optional('redisAddress', redisAddress),
      ...optional('redisSecret', redisSecret),
      ...(redisTls === 'true' ? { redisTls: true } : {}),
      ...optional('otlpEndpoint', get('WAYMESH_WAYPOINT_OTLP_ENDPOINT', '')),
    },
    logger,
  };
}
