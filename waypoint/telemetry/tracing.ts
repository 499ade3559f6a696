/**
 * The waypoint's tracing pipeline (issue 6 §4): a private tracer provider (never registered as
 * the global one, so several waypoints or tests share a process without colliding), a
 * parent-based ratio sampler, a bounded batch processor and an OTLP exporter over gRPC or
 * HTTP/protobuf. Export runs on timers, never on the request path; when the collector is down
 * spans are dropped and counted through `onDropped`. Without an endpoint tracing is a no-op that
 * still carries incoming trace headers through to upstream requests.
 */
import { ProxyTracerProvider, type TextMapPropagator, type Tracer } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { errorMessage, MeshError } from '../../common/errors.ts';
import { silentLogger, type Logger } from '../../common/log.ts';
import { DropCounter, GuardedExporter, QueueGuard } from './export-guard.ts';
import { LazyOtlpExporter } from './lazy-exporter.ts';
import { createPropagator } from './propagation.ts';

/** OTLP transports (the values of `OTEL_EXPORTER_OTLP_PROTOCOL` we support). */
export type OtlpProtocol = 'grpc' | 'http/protobuf';

/** Options for {@link createTracing}. */
export interface TracingOptions {
  /** `service.name` of the spans; default `waymesh-waypoint` (DESIGN.md §7). */
  readonly serviceName?: string;
  /**
   * Collector URL: `http://host:4317` for gRPC; for HTTP either the base `http://host:4318`
   * (`/v1/traces` is appended) or a full URL with a path. Absent or empty: tracing is off.
   */
  readonly endpoint?: string;
  readonly protocol: OtlpProtocol;
  /** Fraction of new traces to sample (0..1); callers' sampling decisions are respected. */
  readonly samplingRatio: number;
  /** Extra resource attributes (pod name, namespace, waypoint name…). */
  readonly resourceAttributes?: Readonly<Record<string, string | number | boolean>>;
  /** Finished spans waiting for export at most; beyond that they are dropped. Default 2048. */
  readonly maxQueueSize?: number;
  /** Spans per export request; default 512 (capped at `maxQueueSize`). */
  readonly maxExportBatchSize?: number;
  /** How long a span waits before a partial batch is sent; default 1000 ms. */
  readonly scheduledDelayMs?: number;
  /** Deadline of one export request including the exporter's retries; default 10000 ms. */
  readonly exportTimeoutMs?: number;
  /** Called with the number of spans dropped (queue full or failed export). */
  readonly onDropped?: (count: number) => void;
  readonly log?: Logger;
}

/** A tracing pipeline: what the span helpers in `spans.ts` use. */
export interface Tracing {
  /** False when no endpoint is configured: spans are not created, headers are passed through. */
  readonly enabled: boolean;
  /** The provider's tracer (a no-op tracer when disabled). */
  readonly tracer: Tracer;
  /** W3C trace context + baggage + B3 (see `propagation.ts`). */
  readonly propagator: TextMapPropagator;
  /** Exports every finished span now; failures are counted as drops, never thrown. */
  forceFlush(): Promise<void>;
  /** Flushes and closes the exporter, giving up after `deadlineMs` (default 5000). */
  shutdown(deadlineMs?: number): Promise<void>;
}

const DEFAULT_SERVICE = 'waymesh-waypoint';

/** Builds the tracing pipeline from config; throws a MeshError on invalid settings. */
export function createTracing(options: TracingOptions): Tracing {
  const log = (options.log ?? silentLogger).child({ component: 'tracing' });
  const propagator = createPropagator();
  const serviceName = options.serviceName ?? DEFAULT_SERVICE;
  validateRatio(options.samplingRatio);
  if (options.endpoint === undefined || options.endpoint === '') {
    return {
      enabled: false,
      tracer: new ProxyTracerProvider().getTracer(serviceName),
      propagator,
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    };
  }
  const url = exporterUrl(options.protocol, options.endpoint);
  const maxQueueSize = positiveInt('maxQueueSize', options.maxQueueSize ?? 2048);
  const exportTimeoutMs = positiveInt('exportTimeoutMs', options.exportTimeoutMs ?? 10_000);
  const counter = new DropCounter({
    maxQueueSize,
    endpoint: url,
    onDropped: options.onDropped ?? (() => undefined),
    log,
  });
  const inner = new LazyOtlpExporter(options.protocol, url, exportTimeoutMs);
  const exporter = new GuardedExporter(inner, counter);
  const batch = new BatchSpanProcessor(exporter, {
    maxQueueSize,
    maxExportBatchSize: Math.min(
      maxQueueSize,
      positiveInt('maxExportBatchSize', options.maxExportBatchSize ?? 512),
    ),
    scheduledDelayMillis: positiveInt('scheduledDelayMs', options.scheduledDelayMs ?? 1000),
    // Longer than the exporter's own deadline, so a batch always ends through the exporter's
    // callback (and is counted there) rather than by the batch processor giving up on it.
    exportTimeoutMillis: exportTimeoutMs + 1000,
  });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ ...options.resourceAttributes, [ATTR_SERVICE_NAME]: serviceName }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(options.samplingRatio) }),
    spanProcessors: [new QueueGuard(batch, counter)],
  });
  log.info('tracing enabled', {
    endpoint: url,
    protocol: options.protocol,
    samplingRatio: options.samplingRatio,
  });
  return {
    enabled: true,
    tracer: provider.getTracer(serviceName),
    propagator,
    forceFlush: () => provider.forceFlush(),
    shutdown: (deadlineMs = 5000) => shutdownWithin(provider, exporter, deadlineMs, log),
  };
}

/** The exporter URL for `protocol` from a configured endpoint; throws a MeshError when unusable. */
export function exporterUrl(protocol: OtlpProtocol, endpoint: string): string {
  if (protocol !== 'grpc' && protocol !== 'http/protobuf') {
    throw new MeshError('TRACING_BAD_PROTOCOL', `unsupported OTLP protocol ${JSON.stringify(protocol)}`, {
      hint: 'use "grpc" (port 4317) or "http/protobuf" (port 4318)',
    });
  }
  let parsed: URL;
  try {
    parsed = new URL(endpoint);
  } catch (err) {
    throw new MeshError('TRACING_BAD_ENDPOINT', `tracing endpoint ${JSON.stringify(endpoint)} is not a URL`, {
      hint: 'write it as http://collector:4317 (grpc) or http://collector:4318 (http/protobuf)',
      cause: err,
    });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new MeshError('TRACING_BAD_ENDPOINT', `tracing endpoint ${endpoint} must use http:// or https://`, {
      hint: 'OTLP collectors listen on http(s)://host:4317 (grpc) and :4318 (http/protobuf)',
    });
  }
  if (protocol === 'grpc') return parsed.origin;
  if (parsed.pathname === '/' || parsed.pathname === '') return `${parsed.origin}/v1/traces`;
  return parsed.href;
}

function validateRatio(ratio: number): void {
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
    throw new MeshError('TRACING_BAD_SAMPLING', `sampling ratio ${ratio} is outside 0..1`, {
      hint: 'set the tracing sampling ratio to a fraction such as 0.01 (1 %) or 1 (every request)',
    });
  }
}

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new MeshError('TRACING_BAD_OPTION', `tracing option ${name}=${value} must be a positive integer`);
  }
  return value;
}

async function shutdownWithin(
  provider: BasicTracerProvider,
  exporter: GuardedExporter,
  deadlineMs: number,
  log: Logger,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), deadlineMs);
  });
  try {
    const done = provider.shutdown().then(
      () => 'done' as const,
      (err: unknown) => {
        log.warn('tracing shutdown failed', { error: errorMessage(err) });
        return 'done' as const;
      },
    );
    if ((await Promise.race([done, deadline])) === 'timeout') {
      log.warn('tracing shutdown deadline passed; unexported spans are lost', { deadlineMs });
      // Closing the exporter aborts what is still in flight; do not wait for it any longer.
      exporter.shutdown().catch(() => undefined);
    }
  } finally {
    clearTimeout(timer);
  }
}
