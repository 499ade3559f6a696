/**
 * Starting a node agent of the `l4` benchmark as its own process: writes the files
 * `agent-process.ts` reads (snapshot, pods with namespace paths, CA) and waits for `ready`.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { caFilesOf, CA_FILE_NAMES, type CertificateAuthority } from '../../certs/index.ts';
import type { NodeSnapshot } from '../../common/ir/index.ts';
import type { CapturePod } from '../../node-agent/capture/listeners.ts';
import { BENCH_JS } from '../build.ts';
import { waitReady, type ProcessGroup } from './procs.ts';

/** A pod an agent captures, with the namespace it lives in (`pods.json`). */
export interface AgentPod extends CapturePod {
  readonly nsPath: string;
}

/** The files an agent process reads from its directory (plus the CA files, FileCaStore layout). */
export const AGENT_FILES = { snapshot: 'snapshot.json', pods: 'pods.json' } as const;

/** The compiled agent process (`agent-process.ts`; built by `ensureBuilt`, as the image runs JS). */
const SCRIPT = fileURLToPath(new URL(`../../${BENCH_JS.l4Agent}`, import.meta.url));

/** What to start. */
export interface AgentSpec {
  readonly dir: string;
  readonly snapshot: NodeSnapshot;
  readonly pods: readonly AgentPod[];
  readonly ca: CertificateAuthority;
  /** When set, the agent writes a V8 CPU profile into this directory on exit. */
  readonly cpuProfDir?: string;
  readonly readyTimeoutMs?: number;
}

/** Writes the agent's files, starts it and resolves once it captured its pods. */
export async function startAgent(procs: ProcessGroup, spec: AgentSpec): Promise<ChildProcess> {
  mkdirSync(spec.dir, { recursive: true });
  writeFileSync(join(spec.dir, AGENT_FILES.snapshot), JSON.stringify(spec.snapshot));
  writeFileSync(join(spec.dir, AGENT_FILES.pods), JSON.stringify(spec.pods));
  const files = caFilesOf(spec.ca.material);
  for (const [field, name] of Object.entries(CA_FILE_NAMES)) {
    writeFileSync(join(spec.dir, name), files[field as keyof typeof CA_FILE_NAMES], { mode: 0o600 });
  }
  const prof = spec.cpuProfDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', spec.cpuProfDir];
  const child = procs.spawn(process.execPath, [...prof, SCRIPT, spec.dir]);
  await waitReady(child, `l4 agent for ${spec.snapshot.node}`, spec.readyTimeoutMs ?? 30_000);
  return child;
}
