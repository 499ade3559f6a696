/**
 * The node agent process: `waymesh run node-agent [flags]` (the DaemonSet's container), or
 * `node --import tsx node-agent/main.ts [flags]`. Flags and environment are described in
 * `program/options.ts` and docs/node-agent.md. Starts on import; SIGTERM (or SIGINT) drains
 * tunnels for up to 10 s and exits, leaving the capture rules for the next agent to adopt.
 */
import { KubeConfig } from '@kubernetes/client-node';

// Specific modules rather than certs/index.ts, which also loads the CA's server side.
import { TrustBundle } from '../certs/bundle.ts';
import { CaClient } from '../certs/client.ts';
import { errorMessage } from '../common/errors.ts';
import { exitOnSignals } from '../common/lifecycle.ts';
import { createLogger, type Logger } from '../common/log.ts';
import { Registry } from '../common/metrics/index.ts';
import { emptyNodeState, NodeAgent } from './agent.ts';
import { CaptureManager } from './capture/manager.ts';
import { DEFAULT_PROBE_SOURCE_IPS } from './capture/rules.ts';
import { caClientSource, IdentityManager } from './identity/index.ts';
import { KubePodApi, podAnnotator } from './kube.ts';
import { loadNativeAddon } from './native/index.ts';
import {
  controllerConfigSource,
  controllerSpiffeId,
  fileConfigSource,
  SERVICE_ACCOUNT_TOKEN_FILE,
  tokenFileReader,
} from './program/config-source.ts';
import { parseAgentSettings, type AgentSettings } from './program/options.ts';
import { createProxyHandler } from './proxy/index.ts';
import { applyAgentV8Flags } from './v8-flags.ts';

/** How long SIGTERM lets open tunnels finish. */
const DRAIN_DEADLINE_MS = 10_000;

/** Builds the agent and its collaborators from `settings`. */
function buildAgent(settings: AgentSettings, log: Logger): NodeAgent {
  const bundle = TrustBundle.fromPem(settings.trustDomain, settings.caRootPem);
  const token = tokenFileReader(SERVICE_ACCOUNT_TOKEN_FILE);
  const serverId = controllerSpiffeId(settings.trustDomain);
  const registry = new Registry({ logger: log });
  // The controller is trusted by the agent's whole bundle: the configured roots plus those the CA
  // sends with certificates, so a root rotation needs no agent restart (docs/certificates.md).
  const managed: { identities?: IdentityManager } = {};
  const trusted = (): TrustBundle => managed.identities?.bundle() ?? bundle;
  const identities = new IdentityManager({
    trustDomain: settings.trustDomain,
    source: caClientSource(new CaClient({ address: settings.controller, bundle: trusted, serverId, token })),
    registry,
    logger: log,
  });
  managed.identities = identities;
  identities.updateRoots([settings.caRootPem]);
  const kc = new KubeConfig();
  if (settings.kubeconfig === undefined) kc.loadFromCluster();
  else kc.loadFromFile(settings.kubeconfig);
  const pods = new KubePodApi(kc);
  const initial = emptyNodeState(settings.node, settings.trustDomain);
  let agent: NodeAgent | undefined = undefined;
  const handler = createProxyHandler({
    // Pods are served only once the agent exists and applied a snapshot; `initial` is never read.
    state: () => agent?.state() ?? initial,
    identities,
    registry,
    logger: log,
  });
  const capture = new CaptureManager({
    handler,
    annotator: podAnnotator(pods, log),
    probeSourceIps: [
      ...(settings.hostIp === undefined ? [] : [settings.hostIp]),
      ...DEFAULT_PROBE_SOURCE_IPS,
    ],
    log,
  });
  const config =
    settings.configFile === undefined
      ? controllerConfigSource({
          address: settings.controller,
          node: settings.node,
          bundle: trusted,
          serverId,
          token,
          logger: log,
          // The CA's roots as the controller has them now: a new root of a rotation reaches the
          // agent in seconds, pods or not, and a dropped one leaves it without a restart; they
          // replace WAYMESH_CA_ROOT, which is the controller's roots as of the agent's start
          // (docs/certificates.md).
          onTrustAnchors: (pem) => identities.updateRoots([pem]),
        })
      : fileConfigSource(settings.configFile, log);
  agent = new NodeAgent({
    node: settings.node,
    trustDomain: settings.trustDomain,
    config,
    capture,
    handler,
    identities,
    pods,
    registry,
    ops: settings.ops,
    logger: log,
  });
  return agent;
}

async function main(): Promise<void> {
  applyAgentV8Flags();
  const log = createLogger({ fields: { program: 'waymesh-node-agent' } });
  try {
    loadNativeAddon();
    const settings = parseAgentSettings(process.argv.slice(2), process.env);
    const agent = buildAgent(settings, log.child({ node: settings.node }));
    await agent.start();
    exitOnSignals(log, () => agent.stop({ deadlineMs: DRAIN_DEADLINE_MS }));
  } catch (err) {
    log.error('node agent failed to start', { error: errorMessage(err) });
    process.exit(1);
  }
}

await main();
