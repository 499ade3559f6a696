/**
 * The cluster DNS process, run inside the lab's core namespace by the lab supervisor:
 * `node --import tsx lab/dns/main.ts --listen 10.100.0.1:53 --kubeconfig FILE [--domain cluster.local]`.
 * Keeps the zone current from Service and EndpointSlice informers and answers SERVFAIL until both
 * have synced. SIGTERM (or SIGINT) stops it.
 */
import { parseArgs } from 'node:util';
import {
  CoreV1Api,
  DiscoveryV1Api,
  KubeConfig,
  type V1EndpointSlice,
  type V1Service,
} from '@kubernetes/client-node';

import { errorMessage } from '../../common/errors.ts';
import { createLogger, type Logger } from '../../common/log.ts';
import { parseListenAddress } from '../forward/address.ts';
import { ResilientInformer } from '../../common/kube/informer.ts';
import { exitOnSignals } from '../../common/lifecycle.ts';
import { zoneFromObjects } from './objects.ts';
import { startDnsServer } from './server.ts';
import type { Zone } from './zone.ts';

/** Parsed command line of the DNS process. */
interface Args {
  readonly host: string;
  readonly port: number;
  readonly kubeconfig: string;
  readonly domain: string;
}

function parse(): Args {
  const { values } = parseArgs({
    options: {
      listen: { type: 'string' },
      kubeconfig: { type: 'string' },
      domain: { type: 'string', default: 'cluster.local' },
    },
    strict: true,
  });
  if (values.listen === undefined || values.kubeconfig === undefined) {
    throw new Error('usage: lab/dns/main.ts --listen HOST:PORT --kubeconfig FILE [--domain cluster.local]');
  }
  return { ...parseListenAddress(values.listen), kubeconfig: values.kubeconfig, domain: values.domain };
}

async function run(args: Args, log: Logger): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(args.kubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  let zone: Zone | undefined;
  let serial = Math.floor(Date.now() / 1000);
  let rebuildQueued = false;
  const rebuild = (): void => {
    // Coalesce a burst of events (a relist fires one per object) into one rebuild.
    if (rebuildQueued) return;
    rebuildQueued = true;
    setImmediate(() => {
      rebuildQueued = false;
      if (!services.synced || !slices.synced) return;
      zone = zoneFromObjects(services.list(), slices.list(), { domain: args.domain, serial: ++serial });
      log.debug('zone rebuilt', { serial, names: zone.entries.size, skipped: zone.skipped });
      if (zone.skipped.length > 0)
        log.warn('objects left out of DNS (invalid names)', { skipped: zone.skipped });
    });
  };
  const services = new ResilientInformer<V1Service>({
    kubeConfig: kc,
    path: '/api/v1/services',
    list: () => core.listServiceForAllNamespaces(),
    onChange: rebuild,
    logger: log,
  });
  const slices = new ResilientInformer<V1EndpointSlice>({
    kubeConfig: kc,
    path: '/apis/discovery.k8s.io/v1/endpointslices',
    list: () => discovery.listEndpointSliceForAllNamespaces(),
    onChange: rebuild,
    logger: log,
  });
  const server = await startDnsServer({ host: args.host, port: args.port, zone: () => zone, logger: log });
  void services.start();
  void slices.start();
  exitOnSignals(log, async () => {
    log.info('informer counters', { services: services.counts, endpointSlices: slices.counts });
    await Promise.all([services.stop(), slices.stop(), server.stop()]);
  });
}

const log = createLogger({ fields: { program: 'lab-dns' } });
try {
  await run(parse(), log);
} catch (err) {
  log.error('cannot start cluster DNS', { error: errorMessage(err) });
  process.exit(2);
}
