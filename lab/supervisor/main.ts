/**
 * The lab supervisor: one long-running process per lab (started by `waymesh lab up`). It runs
 * the API server (127.0.0.1 for kubectl, a Unix socket forwarded into the lab at
 * 10.100.0.1:6443), builds the lab network, starts the cluster DNS, the controller manager and
 * one kubelet per node (inside the node's namespace), and keeps them running until SIGTERM.
 */
import { createServer as createHttps, type Server } from 'node:https';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { errorMessage } from '../../common/errors.ts';
import { exitOnSignals } from '../../common/lifecycle.ts';
import { createLogger } from '../../common/log.ts';
import { gatewayApiCrds } from '../apiserver/crds/gateway-api.ts';
import { serverSideApply, strategicMergePatch, trackUpdate } from '../apiserver/patch/index.ts';
import { applyDefaults, prune, validate } from '../apiserver/schema/index.ts';
import { createApiServer } from '../apiserver/server.ts';
import { toTable } from '../apiserver/table.ts';
import { ControllerManager } from '../controllers/manager.ts';
import { LabApi } from '../kube/rest.ts';
import { LabNetwork } from '../net/cluster-net.ts';
import { API_PORT_IN_LAB, CORE_IP, bootstrapCluster } from './bootstrap.ts';
import { containerLogFile } from '../runtime/container.ts';
import { SupervisedProcess } from './children.ts';
import { programArgv } from '../programs.ts';
import { labFiles, nodeName } from './paths.ts';
import { ensurePki, kubeconfigYaml } from './pki.ts';

function flagValue(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? undefined : process.argv[i + 1];
}

async function listen(server: Server, ...args: [number, string] | [string]): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (args.length === 2) server.listen(args[0], args[1], resolve);
    else server.listen(args[0], resolve);
  });
}

async function main(): Promise<void> {
  const lab = flagValue('name') ?? 'lab';
  const dir = flagValue('dir') ?? '';
  const nodes = Number(flagValue('nodes') ?? '2');
  const requestedPort = Number(flagValue('api-port') ?? '0');
  const files = labFiles(dir);
  const log = createLogger({ fields: { lab } }).child({ component: 'lab-supervisor' });
  for (const d of [files.logs, files.nodes, files.pods, files.data]) await mkdir(d, { recursive: true });
  await rm(files.ready, { force: true });

  const pki = await ensurePki(files.pki);
  const api = await createApiServer({
    dataDir: files.data,
    adminToken: pki.adminToken,
    signingKeyPem: pki.saSigningKeyPem,
    serviceCidr: '10.96.0.0/16',
    logger: log.child({ component: 'apiserver' }),
    hooks: { strategicMergePatch, serverSideApply, trackUpdate, validate, applyDefaults, prune, toTable },
    podLogFile: (namespace, pod, container) => containerLogFile(files.podLogs, namespace, pod, container),
  });
  const tls = { key: pki.serverKeyPem, cert: pki.serverCertPem };
  const tcp = createHttps(tls, (req, res) => api.handle(req, res));
  // Keep the previous port across restarts so kubeconfigs copied elsewhere keep working.
  const previousPort = Number(await readFile(join(files.pki, 'port'), 'utf8').catch(() => '0'));
  try {
    await listen(tcp, requestedPort !== 0 ? requestedPort : previousPort, '127.0.0.1');
  } catch (err) {
    if (requestedPort !== 0 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    await listen(tcp, 0, '127.0.0.1');
  }
  const port = (tcp.address() as AddressInfo).port;
  await rm(files.socket, { force: true });
  const unix = createHttps(tls, (req, res) => api.handle(req, res));
  await listen(unix, files.socket);
  const server = `https://127.0.0.1:${port}`;
  await writeFile(files.kubeconfig, kubeconfigYaml(lab, server, pki.caPem, pki.adminToken), { mode: 0o600 });
  await writeFile(
    files.inClusterKubeconfig,
    kubeconfigYaml(lab, `https://${CORE_IP}:${API_PORT_IN_LAB}`, pki.caPem, pki.adminToken),
    { mode: 0o600 },
  );
  await writeFile(join(files.pki, 'port'), String(port));
  log.info('API server listening', { server, socket: files.socket });

  for (const crd of gatewayApiCrds()) {
    await api.createObject(crd).catch((err: unknown) => {
      if (!/already exists/i.test(errorMessage(err))) throw err;
    });
  }

  const net = new LabNetwork({ lab, nodes, logger: log.child({ component: 'net' }) });
  await net.up();

  const kc = new KubeConfig();
  kc.loadFromFile(files.kubeconfig);
  const client = new LabApi(kc, 'kube-controller-manager/v1.31.0 (waymesh-lab)');
  await bootstrapCluster(client, lab, nodes, log);

  const node = (netns: string, script: string, args: string[]): string[] => [
    'ip',
    'netns',
    'exec',
    netns,
    ...programArgv(script, args),
  ];
  // Kubelets enter only the node's network namespace (nsenter), not a private mount namespace as
  // `ip netns exec` would: the pod namespaces they create must be visible to the whole host.
  const kubeletArgv = (netns: string, args: string[]): string[] => [
    'nsenter',
    `--net=/var/run/netns/${netns}`,
    '--',
    ...programArgv('lab/kubelet/main.ts', args),
  ];
  const core = `wml-${lab}-core`;
  const children = [
    new SupervisedProcess(
      'forwarder',
      node(core, 'lab/forward/main.ts', ['--listen', `${CORE_IP}:${API_PORT_IN_LAB}`, '--to', files.socket]),
      join(files.logs, 'forwarder.log'),
      log,
    ),
    new SupervisedProcess(
      'dns',
      node(core, 'lab/dns/main.ts', ['--listen', `${CORE_IP}:53`, '--kubeconfig', files.inClusterKubeconfig]),
      join(files.logs, 'dns.log'),
      log,
    ),
  ];
  for (let i = 1; i <= nodes; i++) {
    const args = [
      '--lab',
      lab,
      '--node',
      nodeName(lab, i),
      '--index',
      String(i),
      '--kubeconfig',
      files.inClusterKubeconfig,
      '--dir',
      dir,
    ];
    children.push(
      new SupervisedProcess(
        `kubelet-${i}`,
        kubeletArgv(`wml-${lab}-node${i}`, args),
        join(files.logs, `kubelet-node${i}.log`),
        log,
      ),
    );
  }
  for (const c of children) c.start();

  const controllers = new ControllerManager({ api: client, kubeConfig: kc, logger: log });
  await controllers.start();
  await writeFile(files.ready, `${process.pid}\n`);
  log.info('lab is up', { nodes, kubeconfig: files.kubeconfig });

  exitOnSignals(log, async () => {
    await rm(files.ready, { force: true });
    await controllers.stop();
    await Promise.all(children.map((c) => c.stop()));
    // End watches first; then drop every remaining (keep-alive) connection so close() returns.
    await api.close();
    for (const s of [tcp, unix]) {
      const closed = new Promise<void>((r) => s.close(() => r()));
      s.closeAllConnections();
      await closed;
    }
  });
}

main().catch((err: unknown) => {
  process.stderr.write(
    `waymesh lab supervisor failed: ${errorMessage(err)}\n${err instanceof Error ? (err.stack ?? '') : ''}\n`,
  );
  process.exit(1);
});
