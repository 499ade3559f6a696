/**
 * The kubelet's node heartbeat: `Node.status` (Ready condition, addresses, capacity, node
 * info) and a `Lease` in `kube-node-lease`, renewed every 10 s as kubelets do.
 */
import { errorMessage } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import { isApiStatus, type LabApi } from '../kube/rest.ts';
import type { NodeInfo } from './types.ts';

const PERIOD_MS = 10_000;
const LEASE_SECONDS = 40;

/** Reports the node as Ready until stopped. */
export class NodeHeartbeat {
  readonly #api: LabApi;
  readonly #node: NodeInfo;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  readonly #since = new Date().toISOString();

  constructor(api: LabApi, node: NodeInfo, log: Logger) {
    this.#api = api;
    this.#node = node;
    this.#log = log;
  }

  /** Sends the first heartbeat, then one every 10 s. */
  async start(): Promise<void> {
    await this.#beat();
    this.#timer = setInterval(() => {
      this.#beat().catch((err: unknown) =>
        this.#log.warn('node heartbeat failed', { error: errorMessage(err) }),
      );
    }, PERIOD_MS);
  }

  /** Stops heartbeats (the node turns NotReady when the lease expires, as in Kubernetes). */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
  }

  async #beat(): Promise<void> {
    const now = new Date().toISOString();
    const name = this.#node.name;
    await this.#api.patch(`/api/v1/nodes/${name}/status`, {
      status: {
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'KubeletReady',
            message: 'kubelet is posting ready status',
            lastHeartbeatTime: now,
            lastTransitionTime: this.#since,
          },
          {
            type: 'MemoryPressure',
            status: 'False',
            reason: 'KubeletHasSufficientMemory',
            lastHeartbeatTime: now,
            lastTransitionTime: this.#since,
          },
          {
            type: 'DiskPressure',
            status: 'False',
            reason: 'KubeletHasNoDiskPressure',
            lastHeartbeatTime: now,
            lastTransitionTime: this.#since,
          },
          {
            type: 'PIDPressure',
            status: 'False',
            reason: 'KubeletHasSufficientPID',
            lastHeartbeatTime: now,
            lastTransitionTime: this.#since,
          },
        ],
        addresses: [
          { type: 'InternalIP', address: this.#node.ip },
          { type: 'Hostname', address: name },
        ],
        capacity: { cpu: '2', memory: '8Gi', pods: '110' },
        allocatable: { cpu: '2', memory: '8Gi', pods: '110' },
        nodeInfo: {
          kubeletVersion: 'v1.32.0-waymesh-lab',
          kubeProxyVersion: 'v1.32.0-waymesh-lab',
          containerRuntimeVersion: 'lab://processes',
          operatingSystem: 'linux',
          architecture: process.arch === 'x64' ? 'amd64' : process.arch,
          osImage: 'waymesh lab',
          kernelVersion: '',
          machineID: '',
          systemUUID: '',
          bootID: '',
        },
      },
    });
    const lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name, namespace: 'kube-node-lease' },
      spec: {
        holderIdentity: name,
        leaseDurationSeconds: LEASE_SECONDS,
        renewTime: new Date().toISOString().replace('Z', '000Z'),
      },
    };
    try {
      await this.#api.patch(`/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${name}`, {
        spec: lease.spec,
      });
    } catch (err) {
      if (!isApiStatus(err, 404)) throw err;
      await this.#api.createIfAbsent('/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', lease);
    }
  }
}
