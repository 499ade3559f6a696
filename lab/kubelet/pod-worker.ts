/**
 * One pod on one node, from sandbox to deletion: sets up the network, the service-account
 * token, runs init then app containers, restarts them per `restartPolicy` with back-off, runs
 * readiness and liveness probes, reports status, and on deletion stops everything within the
 * grace period and removes the pod.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { errorMessage, isMeshError } from '../../common/errors.ts';
import { recordEvent } from '../kube/events.ts';
import { corePath, isApiStatusFree } from './util.ts';
import { podStatus, type ContainerState } from './container-state.ts';
import { containerEnv } from './env.ts';
import { resolveContainer } from './images.ts';
import type { ContainerHandle, WorkerDeps } from './types.ts';

const MAX_BACKOFF_MS = 30_000;
/** Pod annotation naming the pod's network namespace path, read by the node agent's capture. */
const NETNS_ANNOTATION = 'lab.waymesh.io/netns';

/** Drives one pod. `sync` is called with every new version of the pod object. */
export class PodWorker {
  #pod: V1Pod;
  readonly #d: WorkerDeps;
  readonly #uid: string;
  #phase: 'new' | 'starting' | 'running' | 'terminating' | 'done' = 'new';
  #net: { netns: string; ip: string } | undefined;
  readonly #startTime = new Date().toISOString();
  readonly #states: ContainerState[];
  readonly #handles = new Map<string, ContainerHandle>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #statusWrite: Promise<void> = Promise.resolve();
  #lastStatus = '';

  constructor(pod: V1Pod, deps: WorkerDeps) {
    this.#pod = pod;
    this.#d = deps;
    this.#uid = pod.metadata?.uid ?? '';
    const mk = (spec: V1Container, init: boolean): ContainerState => ({
      spec,
      init,
      restartCount: 0,
      ready: false,
      final: false,
    });
    this.#states = [
      ...(pod.spec?.initContainers ?? []).map((c) => mk(c, true)),
      ...(pod.spec?.containers ?? []).map((c) => mk(c, false)),
    ];
  }

  /** True once the pod has been removed. */
  get done(): boolean {
    return this.#phase === 'done';
  }

  /** Takes a new version of the pod and acts on it. */
  sync(pod: V1Pod): void {
    this.#pod = pod;
    if (
      pod.metadata?.deletionTimestamp !== undefined &&
      this.#phase !== 'terminating' &&
      this.#phase !== 'done'
    ) {
      void this.#terminate();
      return;
    }
    if (this.#phase === 'new') {
      this.#phase = 'starting';
      void this.#start().catch((err: unknown) => this.#fail('start', err));
    }
  }

  /** Stops the pod's containers without deleting the pod (kubelet shutdown keeps them running). */
  detach(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  get #ns(): string {
    return this.#pod.metadata?.namespace ?? 'default';
  }

  get #name(): string {
    return this.#pod.metadata?.name ?? '';
  }

  #later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    this.#timers.add(t);
  }

  #fail(what: string, err: unknown): void {
    this.#d.log.error('pod worker failed', {
      pod: `${this.#ns}/${this.#name}`,
      step: what,
      error: errorMessage(err),
    });
  }

  async #start(): Promise<void> {
    const images = this.#states.map((s) => ({ s, r: resolveContainer(s.spec, this.#d.images) }));
    const broken = images.filter((x) => !x.r.ok);
    if (broken.length > 0) {
      for (const { s, r } of broken) if (!r.ok) s.waiting = { reason: r.reason, message: r.message };
      this.#writeStatus();
      const first = broken[0]?.r;
      if (first !== undefined && !first.ok)
        await recordEvent(this.#d.api, this.#d.log, this.#pod, 'Warning', 'Failed', first.message, 'kubelet');
      this.#phase = 'new'; // retried when the pod changes
      return;
    }
    const hostNetwork = this.#pod.spec?.hostNetwork === true;
    const adoptedAny = this.#states.some((s) => this.#d.adopted.has(`${this.#uid}/${s.spec.name}`));
    this.#net = hostNetwork
      ? { netns: this.#d.node.netns, ip: this.#d.node.ip }
      : await this.#d.sandboxes.create({
          uid: this.#uid,
          name: this.#name,
          namespace: this.#ns,
          hostname: this.#hostname(),
        });
    if (!hostNetwork) await this.#annotateNetns(this.#net.netns);
    if (!adoptedAny) await this.#writeServiceAccount();
    this.#writeStatus();
    for (const s of this.#states.filter((x) => x.init)) {
      if (this.#phase !== 'starting') return;
      const ok = await this.#runToCompletion(s);
      if (!ok) return;
    }
    this.#phase = 'running';
    for (const s of this.#states.filter((x) => !x.init)) await this.#launch(s);
  }

  #hostname(): string {
    return this.#pod.spec?.hostname ?? this.#name.slice(0, 63);
  }

  /** Tells node agents where the pod's network namespace is (docs/lab.md, Pods); once per start. */
  async #annotateNetns(netns: string): Promise<void> {
    const path = `/var/run/netns/${netns}`;
    if (this.#pod.metadata?.annotations?.[NETNS_ANNOTATION] === path) return;
    try {
      await this.#d.api.patch(corePath('pods', this.#ns, this.#name), {
        metadata: { annotations: { [NETNS_ANNOTATION]: path } },
      });
    } catch (err) {
      if (!isApiStatusFree(err)) this.#fail('annotate', err);
    }
  }

  async #writeServiceAccount(): Promise<void> {
    if (this.#pod.spec?.automountServiceAccountToken === false) return;
    const sa = this.#pod.spec?.serviceAccountName ?? 'default';
    const res = await this.#d.api.request<{ status: { token: string } }>(
      'POST',
      corePath('serviceaccounts', this.#ns, sa, 'token'),
      {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: {
          audiences: [],
          expirationSeconds: 86_400,
          boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: this.#name, uid: this.#uid },
        },
      },
    );
    const dir = join(this.#d.podDir(this.#uid), 'serviceaccount');
    await mkdir(dir, { recursive: true, mode: 0o755 });
    await writeFile(join(dir, 'token'), res.status.token, { mode: 0o644 });
    await writeFile(join(dir, 'ca.crt'), this.#d.caPem);
    await writeFile(join(dir, 'namespace'), this.#ns);
  }

  async #runToCompletion(s: ContainerState): Promise<boolean> {
    for (;;) {
      const handle = await this.#launch(s, false);
      if (handle === undefined) return false;
      const r = await handle.exited;
      if (r.exitCode === 0) return true;
      if (this.#pod.spec?.restartPolicy === 'Never') {
        s.final = true;
        for (const o of this.#states) o.final = true;
        this.#writeStatus();
        return false;
      }
      await new Promise((res) => setTimeout(res, this.#backoff(s)));
      if (this.#phase !== 'starting') return false;
    }
  }

  #backoff(s: ContainerState): number {
    return Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.max(0, s.restartCount - 1));
  }

  async #launch(s: ContainerState, watchExit = true): Promise<ContainerHandle | undefined> {
    const net = this.#net;
    if (net === undefined) return undefined;
    const key = `${this.#uid}/${s.spec.name}`;
    let handle = this.#d.adopted.get(key);
    this.#d.adopted.delete(key);
    if (handle === undefined) {
      const r = resolveContainer(s.spec, this.#d.images);
      if (!r.ok) return undefined;
      let env: Record<string, string>;
      try {
        env = await containerEnv(this.#pod, s.spec, net.ip, this.#d.node.ip, {
          configMap: (n) => this.#d.api.get(corePath('configmaps', this.#ns, n)),
          secret: (n) => this.#d.api.get(corePath('secrets', this.#ns, n)),
        });
      } catch (err) {
        if (!isMeshError(err)) throw err;
        s.waiting = { reason: 'CreateContainerConfigError', message: err.message };
        this.#writeStatus();
        this.#later(5000, () => void this.#launch(s, watchExit));
        return undefined;
      }
      const saDir = join(this.#d.podDir(this.#uid), 'serviceaccount');
      handle = await this.#d.containers.start({
        podUid: this.#uid,
        podNamespace: this.#ns,
        podName: this.#name,
        containerName: s.spec.name,
        netns: net.netns,
        command: r.argv,
        env: { ...env, WAYMESH_SA_DIR: saDir },
        workingDir: s.spec.workingDir,
        hostname: this.#hostname(),
        serviceAccountDir: this.#pod.spec?.automountServiceAccountToken === false ? undefined : saDir,
      });
      await recordEvent(
        this.#d.api,
        this.#d.log,
        this.#pod,
        'Normal',
        'Started',
        `Started container ${s.spec.name}`,
        'kubelet',
      );
    }
    this.#handles.set(s.spec.name, handle);
    s.pid = handle.pid;
    s.startedAt = handle.startedAt.toISOString();
    s.waiting = undefined;
    s.terminated = undefined;
    s.ready = !s.init && s.spec.readinessProbe === undefined;
    this.#writeStatus();
    if (!s.init) this.#startProbes(s, handle);
    const exited = handle.exited.then((r) => {
      s.terminated = {
        exitCode: r.exitCode ?? 128 + signalNumber(r.signal),
        reason: r.exitCode === 0 ? 'Completed' : r.signal !== null ? 'Error' : 'Error',
        startedAt: s.startedAt,
        finishedAt: r.finishedAt.toISOString(),
      };
      s.ready = false;
      this.#handles.delete(s.spec.name);
      this.#writeStatus();
      return r;
    });
    if (watchExit) void exited.then((r) => this.#onExit(s, r.exitCode));
    const h = handle;
    return { pid: h.pid, startedAt: h.startedAt, exited, stop: (grace: number) => h.stop(grace) };
  }

  #onExit(s: ContainerState, exitCode: number | null): void {
    if (this.#phase !== 'running') return;
    const policy = this.#pod.spec?.restartPolicy ?? 'Always';
    if (policy === 'Never' || (policy === 'OnFailure' && exitCode === 0)) {
      s.final = true;
      this.#writeStatus();
      return;
    }
    s.lastTerminated = s.terminated;
    s.restartCount++;
    const delay = this.#backoff(s);
    s.waiting = {
      reason: 'CrashLoopBackOff',
      message: `back-off ${Math.round(delay / 1000)}s restarting failed container=${s.spec.name} pod=${this.#name}_${this.#ns}(${this.#uid})`,
    };
    s.pid = undefined;
    this.#writeStatus();
    this.#later(delay, () => {
      if (this.#phase === 'running') void this.#launch(s).catch((err: unknown) => this.#fail('restart', err));
    });
  }

  #startProbes(s: ContainerState, handle: ContainerHandle): void {
    const ports = new Map(
      (s.spec.ports ?? [])
        .filter((p) => p.name !== undefined)
        .map((p) => [p.name ?? '', p.containerPort] as const),
    );
    const loop = (kind: 'readiness' | 'liveness'): void => {
      const probe = kind === 'readiness' ? s.spec.readinessProbe : s.spec.livenessProbe;
      if (probe === undefined) return;
      let successes = 0;
      let failures = 0;
      const tick = (): void => {
        if (this.#phase !== 'running' || this.#handles.get(s.spec.name) !== handle) return;
        const target = { podIp: this.#net?.ip ?? '', netns: this.#net?.netns ?? '' };
        void this.#d.probe(probe, ports, target).then(({ ok, message }) => {
          if (this.#handles.get(s.spec.name) !== handle) return;
          successes = ok ? successes + 1 : 0;
          failures = ok ? 0 : failures + 1;
          if (kind === 'readiness') {
            const ready = ok
              ? successes >= (probe.successThreshold ?? 1) || s.ready
              : failures < (probe.failureThreshold ?? 3) && s.ready;
            if (ready !== s.ready) {
              s.ready = ready;
              this.#writeStatus();
            }
          } else if (!ok && failures >= (probe.failureThreshold ?? 3)) {
            void recordEvent(
              this.#d.api,
              this.#d.log,
              this.#pod,
              'Warning',
              'Unhealthy',
              `Liveness probe failed: ${message}`,
              'kubelet',
            );
            void handle.stop(this.#pod.spec?.terminationGracePeriodSeconds ?? 30);
            return;
          }
          this.#later((probe.periodSeconds ?? 10) * 1000, tick);
        });
      };
      this.#later((probe.initialDelaySeconds ?? 0) * 1000, tick);
    };
    loop('readiness');
    loop('liveness');
  }

  async #terminate(): Promise<void> {
    this.#phase = 'terminating';
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    const grace =
      this.#pod.metadata?.deletionGracePeriodSeconds ?? this.#pod.spec?.terminationGracePeriodSeconds ?? 30;
    this.#writeStatus();
    try {
      await Promise.all([...this.#handles.values()].map((h) => h.stop(grace)));
      if (this.#pod.spec?.hostNetwork !== true && this.#net !== undefined)
        await this.#d.sandboxes.destroy(this.#uid);
      await rm(this.#d.podDir(this.#uid), { recursive: true, force: true });
      await this.#statusWrite;
      await this.#d.api
        .request('DELETE', corePath('pods', this.#ns, this.#name), {
          kind: 'DeleteOptions',
          apiVersion: 'v1',
          gracePeriodSeconds: 0,
          preconditions: { uid: this.#uid },
        })
        .catch((err: unknown) => {
          if (!isApiStatusFree(err)) throw err;
        });
    } catch (err) {
      this.#fail('terminate', err);
    }
    this.#phase = 'done';
  }

  #writeStatus(): void {
    const status = podStatus(
      this.#pod,
      this.#states,
      { podIP: this.#net?.ip, hostIP: this.#d.node.ip, startTime: this.#startTime },
      this.#phase === 'terminating',
    );
    const text = JSON.stringify(status);
    if (text === this.#lastStatus) return;
    this.#lastStatus = text;
    this.#statusWrite = this.#statusWrite.then(async () => {
      if (this.#phase === 'done') return;
      try {
        await this.#d.api.patch(corePath('pods', this.#ns, this.#name, 'status'), {
          status: JSON.parse(this.#lastStatus) as unknown,
        });
      } catch (err) {
        if (!isApiStatusFree(err)) this.#fail('status', err);
      }
    });
  }
}

function signalNumber(signal: string | null): number {
  const table: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
  return signal === null ? 0 : (table[signal] ?? 0);
}
