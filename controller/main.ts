/**
 * The controller process: `node --import tsx controller/main.ts [--kubeconfig FILE]` (in-cluster
 * configuration without the flag). Settings come from the environment (the Deployment's env):
 *
 * | variable | default |
 * |---|---|
 * | `WAYMESH_TRUST_DOMAIN` | `cluster.local` |
 * | `POD_NAME` | the host name (the Lease holder identity) |
 * | `POD_NAMESPACE` | `waymesh-system` |
 * | `WAYMESH_WAYPOINT_IMAGE` | required |
 * | `WAYMESH_WAYPOINT_REPLICAS` | `1` |
 * | `WAYMESH_CONTROLLER_ADDRESS` | `waymesh-controller.<namespace>.svc:15012` (handed to waypoints) |
 * | `WAYMESH_LISTEN` | `0.0.0.0:15012` (config stream and certificate service) |
 * | `WAYMESH_WAYPOINT_REDIS_ADDRESS` | none: waypoints' Redis for shared rate limits (`host:port`) |
 * | `WAYMESH_WAYPOINT_OTLP_ENDPOINT` | none: where waypoints export traces (`http://host:4317`) |
 *
 * SIGTERM (or SIGINT) releases the Lease and drains the streams.
 */
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { errorMessage, MeshError } from '../common/errors.ts';
import { exitOnSignals } from '../common/lifecycle.ts';
import { createLogger } from '../common/log.ts';
import { startController, type ControllerOptions } from './app.ts';
import { WAYPOINT } from './provision/objects.ts';

/** `{key: value}` when `value` is set, else nothing (for exactOptionalPropertyTypes). */
function optional<K extends string>(key: K, value: string): Partial<Record<K, string>> {
  return value === '' ? {} : ({ [key]: value } as Partial<Record<K, string>>);
}

/** Reads the controller's options from `env` (see the table above); throws on invalid values. */
function optionsFromEnv(
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
  const replicasText = get('WAYMESH_WAYPOINT_REPLICAS', '1');
  const replicas = Number(replicasText);
  if (!/^\d+$/.test(replicasText) || replicas < 1 || replicas > WAYPOINT.maxReplicas)
    throw new MeshError(
      'CONTROLLER_CONFIG',
      `WAYMESH_WAYPOINT_REPLICAS must be an integer from 1 to ${WAYPOINT.maxReplicas}, got ${JSON.stringify(replicasText)}`,
    );
  return {
    kubeConfig,
    trustDomain: get('WAYMESH_TRUST_DOMAIN', 'cluster.local'),
    namespace,
    listen: get('WAYMESH_LISTEN', '0.0.0.0:15012'),
    identity: get('POD_NAME', hostname()),
    waypoint: {
      image,
      replicas,
      controllerAddress: get('WAYMESH_CONTROLLER_ADDRESS', `waymesh-controller.${namespace}.svc:15012`),
      ...optional('redisAddress', get('WAYMESH_WAYPOINT_REDIS_ADDRESS', '')),
      ...optional('otlpEndpoint', get('WAYMESH_WAYPOINT_OTLP_ENDPOINT', '')),
    },
    logger,
  };
}

async function main(): Promise<void> {
  const log = createLogger({ fields: { program: 'waymesh-controller' } });
  try {
    const { values } = parseArgs({ options: { kubeconfig: { type: 'string' } }, strict: true });
    const kc = new KubeConfig();
    if (values.kubeconfig === undefined) kc.loadFromCluster();
    else kc.loadFromFile(values.kubeconfig);
    const controller = await startController(optionsFromEnv(process.env, kc, log));
    exitOnSignals(log, () => controller.stop({ deadlineMs: 10_000 }));
  } catch (err) {
    log.error('controller failed to start', { error: errorMessage(err) });
    process.exit(1);
  }
}

await main();
