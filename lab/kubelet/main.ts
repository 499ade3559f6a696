/**
 * A lab kubelet: one process per node, running inside the node's network namespace (as a real
 * kubelet runs in the node's network). It keeps the node Ready, runs the pods bound to it, and
 * programs the node's service rules (kube-proxy).
 *
 *   node --import tsx lab/kubelet/main.ts --lab L --node NAME --index I --kubeconfig FILE --dir LABDIR
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type V1EndpointSlice,
  type V1Pod,
  type V1Probe,
  type V1Service,
} from '@kubernetes/client-node';
import { ResilientInformer } from '../../common/kube/informer.ts';
import { errorMessage } from '../../common/errors.ts';
import { exitOnSignals } from '../../common/lifecycle.ts';
import { createLogger } from '../../common/log.ts';
import { Reconciler } from '../kube/reconciler.ts';
import { LabApi } from '../kube/rest.ts';
import { CLUSTER_DNS_IP, nodeIp, nodeNetns } from '../net/plan.ts';
import { NodeIpam, createPodNetwork, deletePodNetwork } from '../net/pod-net.ts';
import { REPO_ROOT, TSX_LOADER, runsCompiled } from '../programs.ts';
import { applyProxyRules } from '../proxy/apply.ts';
import { buildProxyRules } from '../proxy/rules.ts';
import { ContainerRuntime } from '../runtime/container.ts';
import { runProbe, type Probe } from '../runtime/probes.ts';
import { labFiles } from '../supervisor/paths.ts';
import { NodeHeartbeat } from './node-status.ts';
import { PodWorker } from './pod-worker.ts';
import { proxyServices } from './proxy-sync.ts';
import type { ContainerHandle, WorkerDeps } from './types.ts';

function flagValue(name: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i === -1 ? undefined : process.argv[i + 1];
  if (v === undefined) throw new Error(`missing --${name}`);
  return v;
}

function toProbe(p: V1Probe, ports: Map<string, number>): Probe {
  const port = (v: number | string | undefined): number =>
    typeof v === 'number' ? v : /^\d+$/.test(v ?? '') ? Number(v) : (ports.get(v ?? '') ?? 0);
  return {
    timeoutSeconds: p.timeoutSeconds,
    ...(p.httpGet === undefined
      ? {}
      : {
          httpGet: {
            path: p.httpGet.path,
            port: port(p.httpGet.port),
            host: p.httpGet.host,
            scheme: p.httpGet.scheme === 'HTTPS' ? 'HTTPS' : 'HTTP',
            httpHeaders: p.httpGet.httpHeaders,
          },
        }),
    ...(p.tcpSocket === undefined
      ? {}
      : { tcpSocket: { port: port(p.tcpSocket.port), host: p.tcpSocket.host } }),
    ...(p.exec === undefined ? {} : { exec: { command: p.exec.command ?? [] } }),
  };
}

async function main(): Promise<void> {
  const lab = flagValue('lab');
  const name = flagValue('node');
  const index = Number(flagValue('index'));
  const dir = flagValue('dir');
  const log = createLogger({ fields: { lab, node: name } }).child({ component: 'kubelet' });
  const kc = new KubeConfig();
  kc.loadFromFile(flagValue('kubeconfig'));
  const api = new LabApi(kc, 'kubelet/v1.31.0 (waymesh-lab)');
  const node = { name, index, netns: nodeNetns(lab, index), ip: nodeIp(index) };
  const nodeDir = join(dir, 'nodes', `node${index}`);
  const runtime = new ContainerRuntime({
    logDir: labFiles(dir).podLogs,
    stateDir: join(nodeDir, 'containers'),
    logger: log,
  });
  const ipam = new NodeIpam(join(nodeDir, 'ipam.json'), index);
  const adopted = new Map<string, ContainerHandle>();
  for (const c of await runtime.adopt()) adopted.set(`${c.podUid}/${c.containerName}`, c);
  const caPem = readFileSync(join(dir, 'pki', 'ca.crt'), 'utf8');

  const deps: WorkerDeps = {
    api,
    log,
    node,
    adopted,
    caPem,
    podDir: (uid) => join(dir, 'pods', uid),
    images: {
      repoRoot: REPO_ROOT,
      nodeBinary: process.execPath,
      tsxLoader: TSX_LOADER,
      compiled: runsCompiled(),
    },
    sandboxes: {
      create: async (pod) => {
        const ip = ipam.allocate(pod.uid);
        const net = await createPodNetwork({
          lab,
          nodeIndex: index,
          podUid: pod.uid,
          ip,
          hostname: pod.hostname,
          podName: pod.name,
          dns: {
            nameservers: [CLUSTER_DNS_IP],
            searches: [`${pod.namespace}.svc.cluster.local`, 'svc.cluster.local', 'cluster.local'],
            options: ['ndots:5'],
          },
        });
        return { netns: net.netns, ip: net.ip };
      },
      destroy: async (uid) => {
        await deletePodNetwork(lab, uid);
        ipam.release(uid);
      },
    },
    containers: {
      start: (spec) => runtime.start({ ...spec, files: { serviceAccountDir: spec.serviceAccountDir } }),
    },
    probe: (p, ports, target) => runProbe(toProbe(p, ports), target),
  };

  const heartbeat = new NodeHeartbeat(api, node, log);
  await heartbeat.start();

  const workers = new Map<string, PodWorker>();
  const informer = <T extends KubernetesObject>(path: string, onChange: () => void): ResilientInformer<T> =>
    new ResilientInformer<T>({
      kubeConfig: kc,
      path,
      list: () => api.request<KubernetesListObject<T>>('GET', path),
      logger: log,
      onChange,
    });
  const podSync = new Reconciler('pods', () => syncPods(), log);
  const pods = informer<V1Pod>('/api/v1/pods', () => podSync.trigger(5));
  const proxySync = new Reconciler('proxy', () => syncProxy(), log);
  const services = informer<V1Service>('/api/v1/services', () => proxySync.trigger());
  const slices = informer<V1EndpointSlice>('/apis/discovery.k8s.io/v1/endpointslices', () =>
    proxySync.trigger(),
  );

  const syncPods = (): Promise<void> => {
    const mine = pods.list().filter((p) => p.spec?.nodeName === name);
    const seen = new Set<string>();
    for (const pod of mine) {
      const uid = pod.metadata?.uid ?? '';
      seen.add(uid);
      let w = workers.get(uid);
      if (w === undefined) {
        w = new PodWorker(pod, deps);
        workers.set(uid, w);
      }
      w.sync(pod);
    }
    for (const [uid, w] of workers) {
      if (w.done) workers.delete(uid);
      else if (!seen.has(uid))
        w.sync({ metadata: { uid, deletionTimestamp: new Date(), deletionGracePeriodSeconds: 0 } });
    }
    return Promise.resolve();
  };
  const syncProxy = async (): Promise<void> => {
    await applyProxyRules(
      undefined,
      buildProxyRules(proxyServices(services.list(), slices.list()), { clusterCidr: '10.244.0.0/16' }),
    );
  };

  await Promise.all([services.start(), slices.start()]);
  await syncProxy();
  await pods.start();
  podSync.trigger();
  // Containers adopted from a previous kubelet whose pod is gone are stopped.
  setTimeout(() => {
    for (const [key, c] of adopted) {
      log.info('stopping orphaned container', { container: key });
      void c.stop(5);
      adopted.delete(key);
    }
  }, 15_000).unref();
  log.info('kubelet ready', { node: name, ip: node.ip });

  exitOnSignals(log, async () => {
    heartbeat.stop();
    await podSync.stop();
    await proxySync.stop();
    for (const w of workers.values()) w.detach();
    await Promise.all([pods.stop(), services.stop(), slices.stop()]);
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`lab kubelet failed: ${errorMessage(err)}\n`);
  process.exit(1);
});
