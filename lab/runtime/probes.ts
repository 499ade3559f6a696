/**
 * Liveness, readiness and startup probes as the kubelet runs them. HTTP and TCP probes connect
 * from the calling process's network namespace (the kubelet runs in its node's namespace, which
 * routes to every pod address); exec probes run the command inside the pod's namespace. Named
 * ports are resolved by the caller.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { errorMessage } from '../../common/errors.ts';

/** A probe's action (`httpGet`, `tcpSocket` or `exec`) and timeout, as in a pod spec. */
export interface Probe {
  readonly httpGet?: {
    readonly path?: string;
    readonly port: number;
    readonly host?: string;
    readonly scheme?: 'HTTP' | 'HTTPS';
    readonly httpHeaders?: readonly { readonly name: string; readonly value: string }[];
  };
  readonly tcpSocket?: { readonly port: number; readonly host?: string };
  readonly exec?: { readonly command: readonly string[] };
  /** Default 1, as in Kubernetes. */
  readonly timeoutSeconds?: number;
}

/** Where the probe goes: the pod's address and its network namespace. */
export interface ProbeTarget {
  readonly podIp: string;
  readonly netns: string;
}

/** Outcome of one probe; `message` says why for failures (and what answered for successes). */
export interface ProbeResult {
  readonly ok: boolean;
  readonly message: string;
}

const BODY_LIMIT = 1024;

/** Runs `probe` once against `target`. Never rejects: every failure is a `{ ok: false }` result. */
export async function runProbe(probe: Probe, target: ProbeTarget): Promise<ProbeResult> {
  const timeoutMs = Math.max(1, probe.timeoutSeconds ?? 1) * 1000;
  const actions = [probe.httpGet, probe.tcpSocket, probe.exec].filter((a) => a !== undefined).length;
  if (actions !== 1) {
    return {
      ok: false,
      message: `a probe needs exactly one of httpGet, tcpSocket and exec (found ${actions})`,
    };
  }
  try {
    if (probe.httpGet !== undefined) return await httpProbe(probe.httpGet, target.podIp, timeoutMs);
    if (probe.tcpSocket !== undefined) {
      return await tcpProbe(probe.tcpSocket.host ?? target.podIp, probe.tcpSocket.port, timeoutMs);
    }
    return await execProbe(probe.exec?.command ?? [], target.netns, timeoutMs);
  } catch (err) {
    return { ok: false, message: errorMessage(err) };
  }
}

function httpProbe(
  get: NonNullable<Probe['httpGet']>,
  podIp: string,
  timeoutMs: number,
): Promise<ProbeResult> {
  const host = get.host ?? podIp;
  const path =
    get.path === undefined || get.path === '' ? '/' : get.path.startsWith('/') ? get.path : `/${get.path}`;
  const headers: Record<string, string> = { 'User-Agent': 'kube-probe/1.31', Accept: '*/*' };
  for (const h of get.httpHeaders ?? []) headers[h.name] = h.value;
  const url = `${get.scheme === 'HTTPS' ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${get.port}${path}`;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: ProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(result);
    };
    const onResponse = (res: http.IncomingMessage): void => {
      const status = res.statusCode ?? 0;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
        if (body.length >= BODY_LIMIT) res.destroy();
      });
      const done = (): void => {
        // Like the kubelet: 200–399 is success; redirects are not followed.
        const ok = status >= 200 && status < 400;
        const text = body.slice(0, BODY_LIMIT).trim();
        finish({ ok, message: `HTTP probe ${url}: ${status}${text === '' ? '' : ` ${text}`}` });
      };
      res.once('end', done);
      res.once('close', done);
    };
    // Certificates are not verified, as the kubelet does not verify them either.
    const req =
      get.scheme === 'HTTPS'
        ? https.get(url, { headers, rejectUnauthorized: false, agent: false }, onResponse)
        : http.get(url, { headers, agent: false }, onResponse);
    req.once('error', (err) => finish({ ok: false, message: `HTTP probe ${url} failed: ${err.message}` }));
    const timer = setTimeout(
      () => finish({ ok: false, message: `HTTP probe ${url} timed out after ${timeoutMs} ms` }),
      timeoutMs,
    );
  });
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const finish = (result: ProbeResult): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    socket.once('connect', () => finish({ ok: true, message: `TCP probe ${host}:${port}: connected` }));
    socket.once('error', (err) =>
      finish({ ok: false, message: `TCP probe ${host}:${port} failed: ${err.message}` }),
    );
    const timer = setTimeout(
      () => finish({ ok: false, message: `TCP probe ${host}:${port} timed out after ${timeoutMs} ms` }),
      timeoutMs,
    );
  });
}

function execProbe(command: readonly string[], netns: string, timeoutMs: number): Promise<ProbeResult> {
  if (command.length === 0) return Promise.resolve({ ok: false, message: 'exec probe has an empty command' });
  return new Promise((resolve) => {
    // Own process group, so a timeout kills the command and everything it started.
    const child = spawn('ip', ['netns', 'exec', netns, ...command], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const collect = (chunk: Buffer): void => {
      if (output.length < BODY_LIMIT) output += chunk.toString('utf8');
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ ok: false, message: `exec probe failed to start: ${err.message}` });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const text = output.slice(0, BODY_LIMIT).trim();
      const tail = text === '' ? '' : `: ${text}`;
      if (timedOut) resolve({ ok: false, message: `exec probe timed out after ${timeoutMs} ms${tail}` });
      else if (code === 0) resolve({ ok: true, message: `exec probe succeeded${tail}` });
      else resolve({ ok: false, message: `exec probe exited with ${code ?? signal ?? 'unknown'}${tail}` });
    });
  });
}
