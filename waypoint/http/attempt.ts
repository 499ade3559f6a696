/**
 * Small pieces of the attempt loop: the errors it raises (each naming the backend so an
 * operator knows where to look), the retry test, and an abortable backoff sleep.
 */
import { MeshError } from '../../common/errors.ts';
import { tunnelFailover, type TunnelFailover } from '../../common/hbone/errors.ts';
import type { RetryPolicy } from '../../common/ir/routes.ts';
import type { ServiceKey } from '../../common/ir/source.ts';
import type { CancelSignal } from './cancel.ts';
import { endpointKey } from './endpoints.ts';
import { EngineErrorCode } from './status.ts';
import type { UpstreamEndpoint } from './types.ts';

/** A `request` (overall) or `backendRequest` (per attempt) timeout. */
export function timeoutError(kind: 'request' | 'backendRequest', ms: number, service: ServiceKey): MeshError {
  return new MeshError(
    EngineErrorCode.TIMEOUT,
    `${kind} timeout of ${ms} ms exceeded waiting for backend ${service}`,
    {
      hint: `raise the route rule's timeouts.${kind} or check why ${service} answers slowly`,
    },
  );
}

/** No ready endpoint for the backend port. */
export function noEndpoints(service: ServiceKey, port: number): MeshError {
  return new MeshError(
    EngineErrorCode.NO_ENDPOINTS,
    `backend ${service} port ${port} has no ready endpoint`,
    {
      hint: `check the pods and readiness of ${service}`,
    },
  );
}

/** The MeshError for a failed attempt: the abort reason, the error itself, or an upstream reset. */
export function attemptError(
  err: unknown,
  signal: CancelSignal,
  service: ServiceKey,
  endpoint: UpstreamEndpoint,
): MeshError {
  const reason: unknown = signal.aborted ? signal.reason : undefined;
  if (reason instanceof MeshError) return reason;
  if (err instanceof MeshError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new MeshError(
    EngineErrorCode.UPSTREAM_RESET,
    `backend ${service} (endpoint ${endpointKey(endpoint)}) failed: ${detail}`,
    { cause: err },
  );
}

/**
 * For an attempt whose upstream connection could not be opened, whether the request may go to
 * another endpoint (../../common/hbone/errors.ts); undefined for any other failure.
 */
export function connectFailover(err: MeshError): TunnelFailover | undefined {
  return err.code === EngineErrorCode.CONNECT_FAILED ? tunnelFailover(err.cause) : undefined;
}

/** True when `status` is one of the rule's retryable codes. */
export function retryableStatus(retry: RetryPolicy, status: number): boolean {
  return retry.codes.includes(status);
}

/** Waits `ms`; rejects with the abort reason when `signal` aborts first. */
export function sleep(ms: number, signal: CancelSignal): Promise<void> {
  if (ms <= 0) return signal.aborted ? Promise.reject(toError(signal.reason)) : Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(toError(signal.reason));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function toError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}
