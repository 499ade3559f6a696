/**
 * The lab's controller manager: informers over the kinds the built-in controllers read, and
 * one level-triggered reconciler per controller (scheduler, deployments, daemonsets,
 * endpoints + endpointslices, service accounts).
 */
import type {
  KubeConfig,
  KubernetesListObject,
  KubernetesObject,
  V1DaemonSet,
  V1Deployment,
  V1Endpoints,
  V1Namespace,
  V1Node,
  V1Pod,
  V1Service,
  V1ServiceAccount,
} from '@kubernetes/client-node';
import { ResilientInformer } from '../../common/kube/informer.ts';
import type { Logger } from '../../common/log.ts';
import { corePath } from '../kube/objects.ts';
import { Reconciler } from '../kube/reconciler.ts';
import type { LabApi } from '../kube/rest.ts';
import { endpointsPass } from './endpoints.ts';
import { PodExpectations } from './expectations.ts';
import { schedulePass } from './scheduler.ts';
import { daemonSetPass, deploymentPass } from './workloads.ts';

type Informers = {
  namespaces: ResilientInformer<V1Namespace>;
  pods: ResilientInformer<V1Pod>;
  nodes: ResilientInformer<V1Node>;
  services: ResilientInformer<V1Service>;
  endpoints: ResilientInformer<V1Endpoints>;
  deployments: ResilientInformer<V1Deployment>;
  daemonSets: ResilientInformer<V1DaemonSet>;
  serviceAccounts: ResilientInformer<V1ServiceAccount>;
};

/** Runs the built-in controllers until stopped. */
export class ControllerManager {
  readonly #api: LabApi;
  readonly #kc: KubeConfig;
  readonly #log: Logger;
  #informers: Informers | undefined;
  readonly #reconcilers: Reconciler[] = [];

  constructor(opts: { api: LabApi; kubeConfig: KubeConfig; logger: Logger }) {
    this.#api = opts.api;
    this.#kc = opts.kubeConfig;
    this.#log = opts.logger.child({ component: 'controller-manager' });
  }

  /** Starts informers and controllers; resolves once every cache has synced. */
  async start(): Promise<void> {
    const expectDeploy = new PodExpectations();
    const expectDs = new PodExpectations();
    const scheduler = this.#reconciler('scheduler', () =>
      schedulePass(this.#api, { pods: () => inf.pods.list(), nodes: () => inf.nodes.list() }, this.#log),
    );
    const deployments = this.#reconciler('deployments', () =>
      deploymentPass(this.#api, this.#workloadView(inf, expectDeploy), this.#log),
    );
    const daemonSets = this.#reconciler('daemonsets', () =>
      daemonSetPass(this.#api, this.#workloadView(inf, expectDs), this.#log),
    );
    const endpoints = this.#reconciler('endpoints', () => this.#endpointsPass(inf));
    const serviceAccounts = this.#reconciler('serviceaccounts', () => this.#serviceAccountsPass(inf));
    const inf: Informers = {
      namespaces: this.#informer<V1Namespace>('/api/v1/namespaces', [serviceAccounts]),
      pods: this.#informer<V1Pod>('/api/v1/pods', [scheduler, deployments, daemonSets, endpoints]),
      nodes: this.#informer<V1Node>('/api/v1/nodes', [scheduler, daemonSets]),
      services: this.#informer<V1Service>('/api/v1/services', [endpoints]),
      endpoints: this.#informer<V1Endpoints>('/api/v1/endpoints', [endpoints]),
      deployments: this.#informer<V1Deployment>('/apis/apps/v1/deployments', [deployments]),
      daemonSets: this.#informer<V1DaemonSet>('/apis/apps/v1/daemonsets', [daemonSets]),
      serviceAccounts: this.#informer<V1ServiceAccount>('/api/v1/serviceaccounts', [serviceAccounts]),
    };
    this.#informers = inf;
    await Promise.all(Object.values(inf).map((i: ResilientInformer<KubernetesObject>) => i.start()));
    for (const r of this.#reconcilers) r.trigger();
    this.#log.info('controllers started', { controllers: this.#reconcilers.length });
  }

  /** Stops controllers and informers. */
  async stop(): Promise<void> {
    await Promise.all(this.#reconcilers.map((r) => r.stop()));
    if (this.#informers !== undefined) {
      await Promise.all(
        Object.values(this.#informers).map((i: ResilientInformer<KubernetesObject>) => i.stop()),
      );
    }
  }

  #reconciler(name: string, pass: () => Promise<void>): Reconciler {
    const r = new Reconciler(name, pass, this.#log);
    this.#reconcilers.push(r);
    return r;
  }

  #informer<T extends KubernetesObject>(path: string, triggers: Reconciler[]): ResilientInformer<T> {
    return new ResilientInformer<T>({
      kubeConfig: this.#kc,
      path,
      list: () => this.#api.request<KubernetesListObject<T>>('GET', path),
      logger: this.#log,
      onChange: () => {
        for (const t of triggers) t.trigger();
      },
    });
  }

  #workloadView(inf: Informers, expect: PodExpectations): Parameters<typeof deploymentPass>[1] {
    return {
      pods: () => expect.overlay(inf.pods.list()),
      nodes: () => inf.nodes.list(),
      deployments: () => inf.deployments.list(),
      daemonSets: () => inf.daemonSets.list(),
      expect,
    };
  }

  async #endpointsPass(inf: Informers): Promise<void> {
    await endpointsPass(
      this.#api,
      { services: () => inf.services.list(), pods: () => inf.pods.list() },
      this.#log,
    );
    // Endpoints of deleted Services go too (they have no owner reference, as upstream).
    for (const ep of inf.endpoints.list()) {
      const ns = ep.metadata?.namespace ?? '';
      const name = ep.metadata?.name ?? '';
      if (inf.services.get(name, ns) === undefined) await this.#api.delete(corePath('endpoints', ns, name));
    }
  }

  async #serviceAccountsPass(inf: Informers): Promise<void> {
    for (const ns of inf.namespaces.list()) {
      const name = ns.metadata?.name ?? '';
      if (ns.status?.phase === 'Terminating' || ns.metadata?.deletionTimestamp !== undefined) continue;
      if (inf.serviceAccounts.get('default', name) !== undefined) continue;
      await this.#api.createIfAbsent(corePath('serviceaccounts', name), {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: 'default', namespace: name },
      });
    }
  }
}
