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
 * | `WAYMESH_WAYPOINT_REDIS_SECRET` | none: Secret with `password`, `username`, `ca.crt` for Redis |
 * | `WAYMESH_WAYPOINT_REDIS_TLS` | `false`: waypoints reach Redis over TLS |
 * | `WAYMESH_WAYPOINT_OTLP_ENDPOINT` | none: where waypoints export traces (`http://host:4317`) |
 * | `WAYMESH_CA_RELOAD_SECONDS` | `30`: how often the CA Secrets are read again (1–86400) |
 *
 * SIGTERM (or SIGINT) releases the Lease and drains the streams.
 */
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { errorMessage } from '../common/errors.ts';
import { exitOnSignals } from '../common/lifecycle.ts';
import { createLogger } from '../common/log.ts';
import { startController } from './app.ts';
import { optionsFromEnv } from './env-options.ts';

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
