/**
 * The node agent's settings from its flags and environment (pure: argv and env are arguments).
 * Flags win over the environment; every problem is a MeshError `NODE_AGENT_CONFIG` an operator
 * can act on.
 */
import { parseArgs } from 'node:util';

import { MeshError } from '../../common/errors.ts';
import { DEFAULT_TRUST_DOMAIN, validateTrustDomain } from '../../common/spiffe.ts';
import { DEFAULT_OPS_ADDRESSES, type OpsAddresses } from './ops.ts';

/** The controller's address when neither `--controller` nor `WAYMESH_CONTROLLER_ADDRESS` is set. */
export const DEFAULT_CONTROLLER_ADDRESS = 'waymesh-controller.waymesh-system.svc:15012';

/** Everything `main.ts` needs to build the agent. */
export interface AgentSettings {
  readonly node: string;
  readonly trustDomain: string;
  /** `host:port` of the controller: config stream (unless `configFile`) and CA. */
  readonly controller: string;
  /** `--config-file`: snapshots from this file instead of the controller's stream. */
  readonly configFile?: string;
  /** PEM of the mesh root (`WAYMESH_CA_ROOT`). */
  readonly caRootPem: string;
  /** `--kubeconfig`; in-cluster configuration when absent. */
  readonly kubeconfig?: string;
  readonly ops: OpsAddresses;
  /** The node's address (`HOST_IP`): the kubelet probes from it, so it is exempt from inbound capture. */
  readonly hostIp?: string;
}

/** Usage text for `--help` and flag errors. */
export const USAGE = `Usage: waymesh run node-agent [flags]
  --controller HOST:PORT   controller address (env WAYMESH_CONTROLLER_ADDRESS, default ${DEFAULT_CONTROLLER_ADDRESS})
  --config-file PATH       read snapshots from this file instead of the controller's stream
  --node NAME              this node's name (env NODE_NAME)
  --trust-domain TD        mesh trust domain (env WAYMESH_TRUST_DOMAIN, default ${DEFAULT_TRUST_DOMAIN})
  --kubeconfig FILE        Kubernetes API credentials (default: in-cluster)
  --admin-port N           admin server on 127.0.0.1 (default 15000; 0 = any free port)
  --metrics-port N         Prometheus /metrics (default 15020)
  --ready-port N           readiness /ready (default 15021)
  env WAYMESH_CA_ROOT (the mesh root PEM, required), HOST_IP (exempt kubelet probes)`;

function configError(message: string, hint = ''): MeshError {
  return new MeshError('NODE_AGENT_CONFIG', message, { hint });
}

function port(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^\d{1,5}$/.test(text) || n > 65535)
    throw configError(`--${flag} must be a port (0-65535), got ${JSON.stringify(text)}`);
  return n;
}

/** Parses `argv` (without node and script) and `env`; throws `NODE_AGENT_CONFIG`. */
export function parseAgentSettings(argv: readonly string[], env: NodeJS.ProcessEnv): AgentSettings {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        controller: { type: 'string' },
        'config-file': { type: 'string' },
        node: { type: 'string' },
        'admin-port': { type: 'string' },
        'metrics-port': { type: 'string' },
        'ready-port': { type: 'string' },
        'trust-domain': { type: 'string' },
        kubeconfig: { type: 'string' },
      },
    }));
  } catch (err) {
    throw configError(err instanceof Error ? err.message : String(err), USAGE);
  }
  const pick = (flag: string, name: string): string | undefined => {
    const v = values[flag] ?? env[name];
    return v === undefined || v === '' ? undefined : v;
  };
  const node = pick('node', 'NODE_NAME');
  if (node === undefined) {
    throw configError(
      'the node name is not set',
      'pass --node or set NODE_NAME (fieldRef spec.nodeName in the DaemonSet)',
    );
  }
  const trustDomain = pick('trust-domain', 'WAYMESH_TRUST_DOMAIN') ?? DEFAULT_TRUST_DOMAIN;
  try {
    validateTrustDomain(trustDomain);
  } catch (err) {
    throw configError(err instanceof Error ? err.message : String(err));
  }
  const caRootPem = env['WAYMESH_CA_ROOT'] ?? '';
  if (!caRootPem.includes('BEGIN CERTIFICATE')) {
    throw configError(
      'WAYMESH_CA_ROOT does not hold the mesh root certificate (PEM)',
      'the DaemonSet reads it from ConfigMap waymesh-system/waymesh-ca-root-cert key root-cert.pem, which the controller publishes',
    );
  }
  const hostIp = pick('', 'HOST_IP');
  return {
    node,
    trustDomain,
    controller: pick('controller', 'WAYMESH_CONTROLLER_ADDRESS') ?? DEFAULT_CONTROLLER_ADDRESS,
    ...(values['config-file'] === undefined ? {} : { configFile: values['config-file'] }),
    caRootPem,
    ...(values['kubeconfig'] === undefined ? {} : { kubeconfig: values['kubeconfig'] }),
    ops: {
      ...DEFAULT_OPS_ADDRESSES,
      adminPort: port('admin-port', values['admin-port'], DEFAULT_OPS_ADDRESSES.adminPort),
      metricsPort: port('metrics-port', values['metrics-port'], DEFAULT_OPS_ADDRESSES.metricsPort),
      readyPort: port('ready-port', values['ready-port'], DEFAULT_OPS_ADDRESSES.readyPort),
    },
    ...(hostIp === undefined ? {} : { hostIp }),
  };
}
