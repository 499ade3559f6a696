/**
 * The request `waymesh x explain` simulates, parsed from its command line (`--from NS/POD URL
 * [--method M] [-H name:value]... [--grpc service/method]`), and the pure lookup of the URL's
 * host among the cluster's Services and pods (what cluster DNS and the ClusterIP would give).
 */
import { isIP } from 'node:net';
import { MeshError } from '../common/errors.ts';
import type { MeshService, Workload } from '../common/ir/index.ts';

/** One simulated request. */
export interface ExplainRequest {
  /** Source pod. */
  readonly from: { readonly namespace: string; readonly name: string };
  /** The URL as given. */
  readonly url: string;
  /** Host part of the URL (no port, IPv6 without brackets). */
  readonly host: string;
  readonly port: number;
  /** Uppercase method (`POST` for gRPC). */
  readonly method: string;
  readonly path: string;
  /** Query without `?`; empty when none. */
  readonly query: string;
  /** `Host` header as a client would send it. */
  readonly authority: string;
  /** Headers by lowercase name (several values joined with `, `). */
  readonly headers: Readonly<Record<string, string>>;
  /** `service/method` for a gRPC call. */
  readonly grpc?: { readonly service: string; readonly method: string };
}

/** Raw command-line pieces of a request. */
export interface RequestFlags {
  readonly from: string;
  readonly url: string;
  readonly method?: string;
  readonly headers: readonly string[];
  readonly grpc?: string;
}

function usage(message: string): MeshError {
  return new MeshError('CLI_USAGE', message);
}

function parseFrom(from: string): { namespace: string; name: string } {
  const [namespace, name, extra] = from.split('/');
  if (namespace === undefined || name === undefined || extra !== undefined || namespace === '' || name === '')
    throw usage(`--from ${JSON.stringify(from)}: use NAMESPACE/POD`);
  return { namespace, name };
}

function parseGrpc(text: string): { service: string; method: string } {
  const cut = text.lastIndexOf('/');
  const service = text.slice(0, cut).replace(/^\//, '');
  const method = text.slice(cut + 1);
  if (cut <= 0 || service === '' || method === '')
    throw usage(`--grpc ${JSON.stringify(text)}: use package.Service/Method`);
  return { service, method };
}

/** Parses the command line's request; throws `CLI_USAGE` on malformed input. */
export function parseRequest(flags: RequestFlags): ExplainRequest {
  const from = parseFrom(flags.from);
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(flags.url) ? flags.url : `http://${flags.url}`);
  } catch {
    throw usage(`invalid URL ${JSON.stringify(flags.url)}`);
  }
  if (url.protocol !== 'http:')
    throw usage(
      `${url.protocol}// URLs are not simulated: the mesh sees TLS originated by the app as opaque TCP; use http://`,
    );
  const headers: Record<string, string> = {};
  for (const h of flags.headers) {
    const colon = h.indexOf(':');
    const name = h.slice(0, colon).trim().toLowerCase();
    if (colon <= 0 || name === '') throw usage(`-H ${JSON.stringify(h)}: use name:value`);
    const value = h.slice(colon + 1).trim();
    const old = headers[name];
    headers[name] = old === undefined ? value : `${old}, ${value}`;
  }
  const grpc = flags.grpc === undefined ? undefined : parseGrpc(flags.grpc);
  if (grpc !== undefined && flags.method !== undefined && flags.method.toUpperCase() !== 'POST')
    throw usage('gRPC calls are always POST; drop --method or --grpc');
  if (grpc !== undefined) {
    headers['content-type'] ??= 'application/grpc';
    headers['te'] ??= 'trailers';
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return {
    from,
    url: flags.url,
    host,
    port: url.port === '' ? 80 : Number(url.port),
    method: grpc !== undefined ? 'POST' : (flags.method ?? 'GET').toUpperCase(),
    path: grpc !== undefined ? `/${grpc.service}/${grpc.method}` : url.pathname,
    query: grpc !== undefined ? '' : url.search.replace(/^\?/, ''),
    authority: url.host,
    headers,
    ...(grpc === undefined ? {} : { grpc }),
  };
}

/** What the URL's host names. */
export type Destination =
  | { readonly kind: 'service'; readonly service: MeshService; readonly ip: string; readonly how: string }
  | { readonly kind: 'pod'; readonly workload: Workload; readonly ip: string }
  | { readonly kind: 'ip'; readonly ip: string }
  | { readonly kind: 'unknown'; readonly reason: string };

/**
 * Resolves `host` as a pod in `sourceNamespace` would: `svc`, `svc.ns`, `svc.ns.svc`,
 * `svc.ns.svc.<cluster domain>`, a ClusterIP, or a pod IP; any other IP is just an address.
 */
export function resolveHost(
  host: string,
  sourceNamespace: string,
  services: readonly MeshService[],
  workloads: readonly Workload[],
): Destination {
  if (isIP(host) !== 0) {
    const svc = services.find((s) => s.clusterIPs.includes(host));
    if (svc !== undefined) return { kind: 'service', service: svc, ip: host, how: 'ClusterIP' };
    const w = workloads.find((x) => x.ips.includes(host));
    return w === undefined ? { kind: 'ip', ip: host } : { kind: 'pod', workload: w, ip: host };
  }
  const labels = host.toLowerCase().replace(/\.$/, '').split('.');
  const [name, ns, svcLabel] = labels;
  let namespace: string | undefined;
  if (labels.length === 1) namespace = sourceNamespace;
  else if (labels.length === 2 || (svcLabel === 'svc' && labels.length >= 3)) namespace = ns;
  const svc =
    namespace === undefined ? undefined : services.find((s) => s.namespace === namespace && s.name === name);
  if (svc === undefined) {
    const where = namespace === undefined ? 'a cluster Service name' : `Service ${namespace}/${name ?? ''}`;
    return {
      kind: 'unknown',
      reason: `${host} is not ${where}; cluster DNS would not resolve it to a mesh address (a name outside the cluster is passed through untouched)`,
    };
  }
  const how = labels.length === 1 ? `short name in namespace ${sourceNamespace}` : 'DNS name';
  const ip = svc.clusterIPs[0];
  if (ip !== undefined) return { kind: 'service', service: svc, ip, how };
  // A headless Service resolves to its ready endpoints' pod IPs.
  const ep = svc.endpoints.find((e) => e.ready);
  const w = ep === undefined ? undefined : workloads.find((x) => x.uid === ep.workloadUid);
  if (ep === undefined || w === undefined)
    return { kind: 'unknown', reason: `headless Service ${svc.key} has no ready endpoint to resolve to` };
  return { kind: 'pod', workload: w, ip: ep.ip };
}
