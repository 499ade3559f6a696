/**
 * Per-node pod address allocation, persisted to a JSON file after every change so that a
 * restarted kubelet never hands out an address twice. Like the CNI host-local plug-in it walks on
 * from the last address handed out, so a just-released address is the last to be reused.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { MeshError } from '../../common/errors.ts';
import { validateNodeIndex } from './plan.ts';

/** Lowest and highest host part handed out (.1 and .255 stay unused). */
const FIRST_HOST = 2;
const LAST_HOST = 254;

interface IpamState {
  nodeIndex: number;
  last: number;
  allocations: Record<string, string>;
}

function isState(value: unknown): value is IpamState {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v['nodeIndex'] === 'number' &&
    typeof v['last'] === 'number' &&
    typeof v['allocations'] === 'object' &&
    v['allocations'] !== null &&
    Object.values(v['allocations']).every((ip) => typeof ip === 'string')
  );
}

/** Pod IP allocation for one node (10.244.<node>.2–254), persisted in `stateFile`. */
export class NodeIpam {
  readonly #stateFile: string;
  readonly #state: IpamState;

  /** Loads `stateFile` (or starts empty); throws LAB_IPAM_STATE_INVALID on a corrupt or foreign file. */
  constructor(stateFile: string, nodeIndex: number) {
    validateNodeIndex(nodeIndex);
    this.#stateFile = stateFile;
    if (!existsSync(stateFile)) {
      this.#state = { nodeIndex, last: FIRST_HOST - 1, allocations: {} };
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(stateFile, 'utf8'));
    } catch (err) {
      throw new MeshError('LAB_IPAM_STATE_INVALID', `IPAM state ${stateFile} is not JSON`, { cause: err });
    }
    if (!isState(parsed)) {
      throw new MeshError('LAB_IPAM_STATE_INVALID', `IPAM state ${stateFile} has an unexpected shape`);
    }
    if (parsed.nodeIndex !== nodeIndex) {
      throw new MeshError(
        'LAB_IPAM_STATE_INVALID',
        `IPAM state ${stateFile} belongs to node ${parsed.nodeIndex}, not node ${nodeIndex}`,
        { hint: 'each node needs its own state file' },
      );
    }
    this.#state = parsed;
  }

  /** The address of pod `podUid`: the one it already has, else the next free one (persisted first). */
  allocate(podUid: string): string {
    const existing = this.#state.allocations[podUid];
    if (existing !== undefined) return existing;
    const used = new Set(Object.values(this.#state.allocations));
    const span = LAST_HOST - FIRST_HOST + 1;
    for (let step = 1; step <= span; step++) {
      const host = FIRST_HOST + ((this.#state.last - FIRST_HOST + step + span) % span);
      const ip = `10.244.${this.#state.nodeIndex}.${host}`;
      if (used.has(ip)) continue;
      this.#state.allocations[podUid] = ip;
      this.#state.last = host;
      this.#save();
      return ip;
    }
    throw new MeshError('LAB_IPAM_EXHAUSTED', `node ${this.#state.nodeIndex} has no free pod address`, {
      hint: `${span} pods already hold an address on this node; delete some`,
    });
  }

  /** Frees the address of pod `podUid` (no-op when it has none). */
  release(podUid: string): void {
    if (this.#state.allocations[podUid] === undefined) return;
    delete this.#state.allocations[podUid];
    this.#save();
  }

  /** Current allocations, pod uid → address. */
  allocations(): ReadonlyMap<string, string> {
    return new Map(Object.entries(this.#state.allocations));
  }

  #save(): void {
    mkdirSync(dirname(this.#stateFile), { recursive: true });
    const tmp = `${this.#stateFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.#state, null, 2) + '\n', { mode: 0o600 });
    // Rename is atomic: a crash leaves either the old or the new state, never half a file.
    renameSync(tmp, this.#stateFile);
  }
}
