/**
 * The waypoint process: `waymesh run waypoint [flags]` (the waypoint Deployment's container), or
 * `node --import tsx waypoint/main.ts [flags]`. Flags and environment: `program/options.ts` and
 * docs/waypoint.md. Starts on import; SIGTERM (or SIGINT) drains tunnels for up to 10 s and exits.
 */
import { CaClient, TrustBundle } from '../certs/index.ts';
import { errorMessage } from '../common/errors.ts';
import { exitOnSignals } from '../common/lifecycle.ts';
import { createBatchingSink, createLogger, type BatchingSink, type Logger } from '../common/log.ts';
import {
  controllerConfigSource,
  controllerSpiffeId,
  fileConfigSource,
  SERVICE_ACCOUNT_TOKEN_FILE,
  tokenFileReader,
} from './program/config-source.ts';
import { tuneHeap } from './program/heap.ts';
import { caIdentity, staticIdentity, type IdentityProvider } from './program/identity.ts';
import { parseWaypointSettings, type WaypointSettings } from './program/options.ts';
import { Waypoint } from './waypoint.ts';

/** How long SIGTERM lets open tunnels finish. */
const DRAIN_DEADLINE_MS = 10_000;

function buildWaypoint(s: WaypointSettings, log: Logger): Waypoint {
  const token = tokenFileReader(SERVICE_ACCOUNT_TOKEN_FILE);
  const serverId = controllerSpiffeId(s.trustDomain);
  const bundle = s.caRootPem === '' ? undefined : TrustBundle.fromPem(s.trustDomain, s.caRootPem);
  // The controller is trusted by the bundle of the current certificate (configured roots plus the
  // ones the CA sends), so a root rotation needs no waypoint restart (docs/certificates.md).
  if (bundle === undefined && (s.staticIdentity === undefined || s.configFile === undefined)) missingRoot();
  const provider: { identity?: IdentityProvider } = {};
  const trusted = (): TrustBundle => provider.identity?.current()?.bundle ?? bundle ?? missingRoot();
  const identity =
    s.staticIdentity !== undefined
      ? staticIdentity(s.spiffeId, s.staticIdentity, s.trustDomain)
      : caIdentity(
          s.spiffeId,
          new CaClient({ address: s.controller, bundle: trusted, serverId, token }),
          bundle ?? missingRoot(),
          log,
        );
  provider.identity = identity;
  const config =
    s.configFile !== undefined
      ? fileConfigSource(s.configFile, log)
      : controllerConfigSource({
          address: s.controller,
          gateway: `${s.gateway.namespace}/${s.gateway.name}`,
          bundle: trusted,
          serverId,
          token,
          logger: log,
          // The CA's roots as the controller has them now: a new root of a rotation reaches the
          // waypoint in seconds, not at its next certificate (docs/certificates.md).
          onTrustAnchors: (pem) => identity.trustAnchors(pem),
        });
  return new Waypoint({
    gateway: s.gateway,
    trustDomain: s.trustDomain,
    identity,
    config,
    hbone: s.hbone,
    admin: { host: '127.0.0.1', port: s.adminPort },
    metrics: { host: '0.0.0.0', port: s.metricsPort },
    ready: { host: '0.0.0.0', port: s.readyPort },
    ...(s.redis === undefined ? {} : { redis: s.redis }),
    rateLimitFailureMode: s.rateLimitFailureMode,
    pathNormalization: s.pathNormalization,
    tracing: {
      ...(s.otlpEndpoint === undefined ? {} : { endpoint: s.otlpEndpoint }),
      protocol: s.otlpProtocol,
      samplingRatio: s.traceSampling,
    },
    logger: log,
  });
}

function missingRoot(): never {
  throw new Error('WAYMESH_CA_ROOT is required to verify the controller (or pass --config-file)');
}

/** Exposes the log lines the batching sink had to drop (disk too slow). */
function countDroppedLines(waypoint: Waypoint, sink: BatchingSink): void {
  waypoint.metricsRegistry.gauge(
    'waymesh_log_dropped_lines',
    'Log lines (mostly access log) dropped because stderr could not keep up.',
    [],
    (g) => g.labels().set(sink.dropped),
  );
}

async function main(): Promise<void> {
  tuneHeap();
  // Every line (the per-request access log above all) is written in batches off the request
  // path; one logger for all lines keeps them in order. Lines still buffered at exit (a failed
  // start, a stop that failed) are written synchronously then.
  const sink = createBatchingSink();
  process.on('exit', () => sink.flushSync());
  const log = createLogger({ sink, fields: { program: 'waymesh-waypoint' } });
  try {
    const settings = parseWaypointSettings(process.argv.slice(2), process.env);
    const waypoint = buildWaypoint(settings, log);
    countDroppedLines(waypoint, sink);
    await waypoint.start();
    exitOnSignals(log, async () => {
      await waypoint.stop({ deadlineMs: DRAIN_DEADLINE_MS });
      await sink.flush();
    });
  } catch (err) {
    log.error('waypoint failed to start', { error: errorMessage(err) });
    process.exit(1);
  }
}

await main();
