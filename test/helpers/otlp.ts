/**
 * OTLP helpers for tests: a sink on loopback with ephemeral ports, a port nothing listens on
 * (a collector that is down), and the sink's query and rendering functions.
 */
import { createServer } from 'node:net';
import { startOtlpSink, type OtlpSink } from '../../lab/otlp/index.ts';

export { groupTraces, readSpansFile, renderWaterfall, startOtlpSink } from '../../lab/otlp/index.ts';
export type { OtlpSink, SinkSpan, SinkTrace } from '../../lab/otlp/index.ts';

/** Starts a sink on 127.0.0.1 with free gRPC and HTTP ports; stop it in `after`/`finally`. */
export function startTestSink(options: { file?: string; maxSpans?: number } = {}): Promise<OtlpSink> {
  return startOtlpSink({ host: '127.0.0.1', grpcPort: 0, httpPort: 0, ...options });
}

/** A loopback port that was free a moment ago and is closed now (connections are refused). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
