/**
 * The listening sockets the agent keeps inside each captured pod: 15001 (outbound), 15006
 * (inbound plaintext) and 15008 (HBONE). The capture manager only opens them; what they serve is
 * the business of a {@link CaptureHandler} the agent provides.
 */
import { closeSync } from 'node:fs';

import { MeshError } from '../../common/errors.ts';
import { isSystemError, listenInNetns } from '../native/index.ts';
import { AGENT_MARK, HBONE_PORT, INBOUND_CAPTURE_PORT, OUTBOUND_CAPTURE_PORT } from './rules.ts';
import type { NetnsPod } from './netns.ts';

/** A pod to capture: what the netns lookup needs, plus its addresses. */
export interface CapturePod extends NetnsPod {
  /** `status.podIPs`, one per family. */
  readonly ips: readonly string[];
}

/** Opens one listening TCP socket on `host:port` inside the namespace at `nsPath`; returns its fd. */
export type OpenListener = (nsPath: string, host: string, port: number) => number;

/** The three listening fds of one pod, handed over to a {@link CaptureHandler}. */
export interface CaptureFds {
  readonly outbound: number;
  readonly inbound: number;
  readonly hbone: number;
}

/** What a handler returns for a pod: stops serving it and closes its listeners. */
export interface PodListeners {
  close(): Promise<void>;
}

/** Serves a captured pod's listeners (the agent's outbound, inbound and HBONE proxies). */
export interface CaptureHandler {
  /**
   * Starts serving `fds` (e.g. `net.Server.listen({ fd })`). The handler owns the fds from this
   * call on, also when it rejects: it must close whatever it did not adopt.
   */
  serve(pod: CapturePod, nsPath: string, fds: CaptureFds): Promise<PodListeners>;
}

/** The real {@link OpenListener}: the native addon, with the agent's mark on the socket. */
export const nativeOpenListener: OpenListener = (nsPath, host, port) =>
  listenInNetns(nsPath, { host, port, mark: AGENT_MARK }).fd;

/**
 * Opens the three listeners of `pod`; dual-stack (`::`) when the pod has an IPv6 address, else
 * `0.0.0.0`. On failure closes what it opened and throws MeshError `CAPTURE_LISTEN_FAILED`.
 */
export function openCaptureFds(open: OpenListener, pod: CapturePod, nsPath: string): CaptureFds {
  const host = pod.ips.some((ip) => ip.includes(':')) ? '::' : '0.0.0.0';
  const opened: number[] = [];
  try {
    for (const port of [OUTBOUND_CAPTURE_PORT, INBOUND_CAPTURE_PORT, HBONE_PORT]) {
      try {
        opened.push(open(nsPath, host, port));
      } catch (err) {
        throw listenError(pod, nsPath, port, err);
      }
    }
  } catch (err) {
    for (const fd of opened) closeSync(fd);
    throw err;
  }
  const [outbound = -1, inbound = -1, hbone = -1] = opened;
  return { outbound, inbound, hbone };
}

function listenError(pod: CapturePod, nsPath: string, port: number, err: unknown): MeshError {
  const inUse = isSystemError(err, 'EADDRINUSE');
  return new MeshError(
    'CAPTURE_LISTEN_FAILED',
    `pod ${pod.namespace}/${pod.name}: cannot listen on port ${port} in ${nsPath}: ${err instanceof Error ? err.message : String(err)}`,
    {
      hint: inUse
        ? `the app already uses port ${port}, which the mesh reserves; opt the pod out with waymesh.io/dataplane-mode=none`
        : 'check that the pod sandbox still exists and the agent has CAP_SYS_ADMIN',
      cause: err,
    },
  );
}
