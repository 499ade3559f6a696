/**
 * `GET /api/v1/namespaces/{ns}/pods/{name}/log` (`kubectl logs`): a container's output, read from
 * the file the kubelet's runtime writes it to (one file per container, every run appended).
 * Supports `container`, `tailLines`, `limitBytes` and `follow` (streams what is appended until the
 * client goes, the pod is deleted, or it has finished: phase Succeeded or Failed; a container
 * that restarts keeps being followed, as its runs share the file). What the files cannot answer is
 * refused with 400 and the reason: `previous` (runs are not kept apart), `timestamps`,
 * `sinceSeconds` and `sinceTime` (lines carry no time of their own).
 */
import { open, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { ServerContext } from '../context.ts';
import { ApiError, type KubeObject } from '../types.ts';

/** Where a container's log file is (the supervisor knows the lab's directory). */
export type PodLogFile = (namespace: string, pod: string, container: string) => string;

/** How often a followed log is checked for new output. */
const FOLLOW_POLL_MS = 250;
const UNSUPPORTED: Readonly<Record<string, string>> = {
  previous: 'the lab keeps one log per container with every run appended, oldest first',
  timestamps: 'container output is stored without per-line timestamps',
  sinceSeconds: 'container output is stored without per-line timestamps',
  sinceTime: 'container output is stored without per-line timestamps',
};

interface LogRequest {
  readonly container: string;
  readonly tailLines: number | undefined;
  readonly limitBytes: number | undefined;
  readonly follow: boolean;
}

function flag(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  return v === 'true' || v === '1';
}

function count(q: URLSearchParams, name: string, min: number): number | undefined {
  const v = q.get(name);
  if (v === null) return undefined;
  const n = Number(v);
  if (v === '' || !Number.isInteger(n) || n < min)
    throw new ApiError(400, 'BadRequest', `${name} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  return n;
}

function containerNames(pod: KubeObject): string[] {
  const spec = pod['spec'] as { containers?: { name?: string }[] } | undefined;
  return (spec?.containers ?? []).map((c) => c.name ?? '');
}

/** Reads and checks the query against the pod (pure apart from the error it throws). */
export function parseLogRequest(pod: KubeObject, q: URLSearchParams): LogRequest {
  for (const [name, why] of Object.entries(UNSUPPORTED)) {
    if (q.has(name) && (name.startsWith('since') || flag(q, name)))
      throw new ApiError(400, 'BadRequest', `${name} is not supported by the waymesh lab: ${why}`);
  }
  const podName = pod.metadata.name ?? '';
  const names = containerNames(pod);
  const asked = q.get('container');
  let container: string;
  if (asked !== null && asked !== '') {
    if (!names.includes(asked))
      throw new ApiError(400, 'BadRequest', `container ${asked} is not valid for pod ${podName}`);
    container = asked;
  } else if (names.length === 1) container = names[0] ?? '';
  else
    throw new ApiError(
      400,
      'BadRequest',
      `a container name must be specified for pod ${podName}, choose one of: [${names.join(' ')}]`,
    );
  return {
    container,
    tailLines: count(q, 'tailLines', 0),
    limitBytes: count(q, 'limitBytes', 1),
    follow: flag(q, 'follow'),
  };
}

/** The offset at which the last `lines` lines of `text` start. */
export function tailOffset(text: Buffer, lines: number): number {
  if (lines === 0) return text.length;
  // A final newline ends the last line rather than starting an empty one.
  let i = text.length - (text[text.length - 1] === 0x0a ? 1 : 0);
  let seen = 0;
  while (i > 0) {
    i--;
    if (text[i] === 0x0a && ++seen === lines) return i + 1;
  }
  return 0;
}

/** Serves one log request for `pod` (its object as the request found it). */
export async function servePodLog(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  pod: KubeObject,
  q: URLSearchParams,
  fileOf: PodLogFile,
): Promise<void> {
  const r = parseLogRequest(pod, q);
  const ns = pod.metadata.namespace ?? '';
  const name = pod.metadata.name ?? '';
  const file = fileOf(ns, name, r.container);
  const size = await stat(file).then(
    (s) => s.size,
    () => undefined,
  );
  if (size === undefined)
    throw new ApiError(400, 'BadRequest', `container "${r.container}" in pod "${name}" is waiting to start`);
  const fh = await open(file, 'r');
  try {
    let budget = r.limitBytes ?? Number.POSITIVE_INFINITY;
    let offset = 0;
    if (r.tailLines !== undefined) {
      const all = Buffer.alloc(size);
      await fh.read(all, 0, size, 0);
      offset = tailOffset(all, r.tailLines);
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    const copy = async (end: number): Promise<void> => {
      while (offset < end && budget > 0) {
        const n = Math.min(end - offset, budget, 64 * 1024);
        const buf = Buffer.alloc(n);
        const { bytesRead } = await fh.read(buf, 0, n, offset);
        if (bytesRead === 0) return;
        offset += bytesRead;
        budget -= bytesRead;
        if (!res.write(bytesRead === n ? buf : buf.subarray(0, bytesRead))) {
          await new Promise<void>((resolve) => {
            res.once('drain', resolve);
            res.once('close', resolve);
          });
        }
      }
    };
    await copy(size);
    if (r.follow) {
      const uid = pod.metadata.uid;
      let gone = false;
      req.once('close', () => (gone = true));
      while (!gone && budget > 0) {
        await new Promise((resolve) => setTimeout(resolve, FOLLOW_POLL_MS));
        const now = ctx.store.get('pods', ns, name);
        if (now === undefined || now.metadata.uid !== uid) break;
        const end = await stat(file).then(
          (s) => s.size,
          () => offset,
        );
        await copy(end);
        const phase = (now['status'] as { phase?: string } | undefined)?.phase;
        if (phase === 'Succeeded' || phase === 'Failed') break;
      }
    }
    res.end();
  } finally {
    await fh.close();
  }
}
