/**
 * A deterministic synthetic World for the `controller` benchmark (and any test that needs a big
 * one): namespaces, nodes, Services with EndpointSlices, pods, waypoint Gateways with ready
 * replicas and use-waypoint labels, HTTPRoutes/GRPCRoutes (producer and consumer, matches,
 * filters, weighted backends, timeouts, retries), ReferenceGrants, AuthorizationPolicies and
 * RateLimitPolicies. The same options always give the same World (seeded PRNG, no clock).
 */
import type {
  V1EndpointSlice,
  V1Namespace,
  V1Pod,
  V1Service,
  V1ServiceAccount,
} from '@kubernetes/client-node';
import { MeshError } from '../common/errors.ts';
import { NAMES, type CustomObject, type World } from '../controller/translate/world.ts';

/** Sizes of a synthetic World; `services` and `pods` include the waypoints' own. */
export interface SyntheticWorldOptions {
  readonly seed: number;
  readonly namespaces: number;
  readonly nodes: number;
  readonly services: number;
  readonly pods: number;
  /** HTTPRoutes plus GRPCRoutes (about a fifth are GRPCRoutes, about a sixth consumer routes). */
  readonly routes: number;
  readonly waypoints: number;
  readonly authorizationPolicies: number;
  readonly rateLimitPolicies: number;
}

/** The size the `controller` benchmark measures (issue 4 §7). */
export const BENCH_WORLD: SyntheticWorldOptions = {
  seed: 1,
  namespaces: 100,
  nodes: 20,
  services: 2000,
  pods: 10000,
  routes: 2000,
  waypoints: 50,
  authorizationPolicies: 200,
  rateLimitPolicies: 100,
};

/** mulberry32: a tiny seeded PRNG, good enough to spread synthetic objects. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pad = (n: number, width = 4): string => String(n).padStart(width, '0');
const GATEWAY_GROUP = 'gateway.networking.k8s.io';
const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';

/** Node names of a synthetic World with `count` nodes. */
export function syntheticNodeNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `node-${pad(i, 2)}`);
}

function ipOf(base: number, i: number): string {
  return `10.${base + ((i >>> 16) & 255)}.${(i >>> 8) & 255}.${i & 255}`;
}

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

interface AppService {
  readonly ns: string;
  readonly name: string;
  readonly grpc: boolean;
  readonly pods: { name: string; ip: string; node: string; ready: boolean }[];
}

class Generator {
  private readonly rnd: () => number;
  private uid = 0;
  private readonly ts0 = Date.UTC(2026, 0, 1);

  constructor(
    private readonly o: SyntheticWorldOptions,
    private readonly nodes: readonly string[],
  ) {
    this.rnd = prng(o.seed);
  }

  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }
  chance(p: number): boolean {
    return this.rnd() < p;
  }
  pick<T>(xs: readonly T[]): T {
    const x = xs[this.int(xs.length)];
    if (x === undefined) throw new MeshError('BENCH_EMPTY_CHOICE', 'synthetic world: nothing to pick from');
    return x;
  }
  node(): string {
    return this.pick(this.nodes);
  }
  meta(name: string, namespace?: string, labels?: Record<string, string>): Record<string, unknown> {
    this.uid++;
    return {
      name,
      ...(namespace === undefined ? {} : { namespace }),
      uid: `synthetic-${pad(this.uid, 6)}`,
      generation: 1,
      resourceVersion: String(this.uid),
      creationTimestamp: new Date(this.ts0 + this.uid * 1000),
      ...(labels === undefined ? {} : { labels }),
    };
  }
}

function podObject(
  g: Generator,
  p: AppService['pods'][number],
  ns: string,
  labels: Record<string, string>,
  sa: string,
): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: g.meta(p.name, ns, labels),
    spec: {
      nodeName: p.node,
      serviceAccountName: sa,
      containers: [{ name: 'app', image: 'echo', ports: [{ name: 'http', containerPort: 8080 }] }],
    },
    status: {
      phase: 'Running',
      podIP: p.ip,
      podIPs: [{ ip: p.ip }],
      conditions: [{ type: 'Ready', status: p.ready ? 'True' : 'False' }],
    },
  };
}

function sliceObject(
  g: Generator,
  svc: AppService,
  ports: { name: string; port: number }[],
): V1EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: g.meta(`${svc.name}-${pad(g.int(100000), 5)}`, svc.ns, {
      'kubernetes.io/service-name': svc.name,
    }),
    addressType: 'IPv4',
    ports: ports.map((p) => ({ ...p, protocol: 'TCP' })),
    endpoints: svc.pods.map((p) => ({
      addresses: [p.ip],
      conditions: { ready: p.ready, serving: p.ready, terminating: false },
      nodeName: p.node,
      targetRef: { kind: 'Pod', name: p.name, namespace: svc.ns },
    })),
  };
}

function httpMatch(g: Generator): Record<string, unknown> {
  const seg = `/api/v${1 + g.int(3)}/${['users', 'orders', 'items', 'cart', 'search'][g.int(5)] ?? 'x'}`;
  const kind = g.int(10);
  const path =
    kind < 5
      ? { type: 'PathPrefix', value: seg }
      : kind < 8
        ? { type: 'Exact', value: `${seg}/${g.int(100)}` }
        : { type: 'RegularExpression', value: `${seg}/[0-9]+` };
  return {
    path,
    ...(g.chance(0.3) ? { headers: [{ name: 'x-tenant', value: `t${g.int(20)}` }] } : {}),
    ...(g.chance(0.1) ? { queryParams: [{ name: 'debug', value: 'true' }] } : {}),
    ...(g.chance(0.2) ? { method: g.pick(['GET', 'POST', 'PUT', 'DELETE']) } : {}),
  };
}

function grpcMatch(g: Generator, i: number): Record<string, unknown> {
  const service = `pkg${i % 50}.Service${i % 7}`;
  return g.chance(0.2)
    ? { method: { type: 'RegularExpression', service: `pkg${i % 50}\\..*`, method: 'Get.*' } }
    : {
        method: { service, ...(g.chance(0.7) ? { method: `Method${g.int(10)}` } : {}) },
        ...(g.chance(0.2) ? { headers: [{ name: 'x-tenant', value: `t${g.int(20)}` }] } : {}),
      };
}

function filters(g: Generator, mirror: AppService, port: number): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  if (g.chance(0.3))
    out.push({
      type: 'RequestHeaderModifier',
      requestHeaderModifier: { set: [{ name: 'x-env', value: 'prod' }], remove: ['x-internal'] },
    });
  if (g.chance(0.1))
    out.push({
      type: 'ResponseHeaderModifier',
      responseHeaderModifier: { add: [{ name: 'x-mesh', value: '1' }] },
    });
  if (g.chance(0.1))
    out.push({
      type: 'URLRewrite',
      urlRewrite: { hostname: 'internal.example', path: { type: 'ReplaceFullPath', replaceFullPath: '/v2' } },
    });
  if (g.chance(0.05))
    out.push({
      type: 'RequestMirror',
      requestMirror: { backendRef: { name: mirror.name, port }, percent: 10 },
    });
  return out;
}

/** Builds a synthetic World; throws a MeshError when the sizes cannot be honoured. */
export function syntheticWorld(options: SyntheticWorldOptions = BENCH_WORLD): World {
  const o = options;
  const appServiceCount = o.services - o.waypoints;
  const appPodCount = o.pods - o.waypoints;
  if (
    o.nodes < 1 ||
    o.waypoints > o.namespaces ||
    appServiceCount < o.namespaces ||
    appPodCount < appServiceCount
  )
    throw new MeshError(
      'BENCH_BAD_SIZES',
      `synthetic world: need nodes ≥ 1, waypoints ≤ namespaces, services − waypoints ≥ namespaces and pods − waypoints ≥ services − waypoints (got ${JSON.stringify(o)})`,
    );
  const g = new Generator(o, syntheticNodeNames(o.nodes));
  const nsName = (i: number): string => `ns-${pad(i, 3)}`;
  const stride = Math.floor(o.namespaces / Math.max(1, o.waypoints));
  // Waypoint w lives in namespace w*stride; the namespaces in between use it cross-namespace.
  const waypointOfNs = (i: number): { ns: string; name: string } | undefined => {
    const w = Math.min(o.waypoints - 1, Math.floor(i / stride));
    return o.waypoints === 0 ? undefined : { ns: nsName(w * stride), name: `waypoint-${pad(w, 3)}` };
  };

  const namespaces: V1Namespace[] = [];
  const serviceAccounts: V1ServiceAccount[] = [];
  for (let i = 0; i < o.namespaces; i++) {
    const ns = nsName(i);
    const wp = waypointOfNs(i);
    // Every tenth namespace stays out of the mesh; the others carry a namespace-wide waypoint.
    const labels: Record<string, string> =
      i % 10 === 9
        ? {}
        : {
            [NAMES.dataplaneLabel]: NAMES.dataplaneAmbient,
            ...(wp === undefined ? {} : { [NAMES.useWaypointLabel]: wp.name }),
            ...(wp === undefined || wp.ns === ns ? {} : { [NAMES.useWaypointNamespaceLabel]: wp.ns }),
          };
    namespaces.push({ apiVersion: 'v1', kind: 'Namespace', metadata: g.meta(ns, undefined, labels) });
    serviceAccounts.push({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: g.meta('default', ns) });
  }

  const apps: AppService[] = [];
  const services: V1Service[] = [];
  const pods: V1Pod[] = [];
  const endpointSlices: V1EndpointSlice[] = [];
  let podIndex = 0;
  for (let s = 0; s < appServiceCount; s++) {
    const ns = nsName(s % o.namespaces);
    const name = `svc-${pad(s)}`;
    const grpc = s % 5 === 4;
    const podCount = Math.floor(appPodCount / appServiceCount) + (s < appPodCount % appServiceCount ? 1 : 0);
    const app: AppService = { ns, name, grpc, pods: [] };
    for (let k = 0; k < podCount; k++, podIndex++) {
      app.pods.push({
        name: `${name}-${pad(k, 3)}`,
        ip: ipOf(0, podIndex + 1),
        node: g.node(),
        ready: g.chance(0.95),
      });
    }
    apps.push(app);
    const ports = [
      { name: 'http', port: 80, targetPort: 'http', ...(grpc ? {} : { appProtocol: 'http' }) },
      ...(grpc ? [{ name: 'grpc', port: 9090, targetPort: 9090, appProtocol: 'grpc' }] : []),
      { name: 'tcp-admin', port: 9000, targetPort: 9000 },
    ];
    // Some Services pick their waypoint themselves (the label wins over the Namespace's).
    const own = g.chance(0.1) ? waypointOfNs(g.int(o.namespaces)) : undefined;
    const labels: Record<string, string> = {
      app: name,
      ...(own === undefined
        ? {}
        : { [NAMES.useWaypointLabel]: own.name, [NAMES.useWaypointNamespaceLabel]: own.ns }),
    };
    services.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: g.meta(name, ns, labels),
      spec: {
        type: 'ClusterIP',
        clusterIP: `10.96.${(s >>> 8) & 255}.${s & 255}`,
        clusterIPs: [`10.96.${(s >>> 8) & 255}.${s & 255}`],
        selector: { app: name },
        ports,
      },
    });
    for (const p of app.pods) pods.push(podObject(g, p, ns, { app: name }, 'default'));
    endpointSlices.push(
      sliceObject(g, app, [
        { name: 'http', port: 8080 },
        ...(grpc ? [{ name: 'grpc', port: 9090 }] : []),
        { name: 'tcp-admin', port: 9000 },
      ]),
    );
  }

  const gatewayClasses: CustomObject[] = [
    {
      apiVersion: `${GATEWAY_GROUP}/v1`,
      kind: 'GatewayClass',
      metadata: g.meta(NAMES.waypointClass),
      spec: { controllerName: NAMES.waypointControllerName },
    },
  ];
  const gateways: CustomObject[] = [];
  const waypointReadyReplicas: Record<string, number> = {};
  for (let w = 0; w < o.waypoints; w++) {
    const ns = nsName(w * stride);
    const name = `waypoint-${pad(w, 3)}`;
    const gatewayMeta = g.meta(name, ns);
    gateways.push({
      apiVersion: `${GATEWAY_GROUP}/v1`,
      kind: 'Gateway',
      metadata: gatewayMeta,
      spec: {
        gatewayClassName: NAMES.waypointClass,
        listeners: [{ name: 'mesh', port: NAMES.hbonePort, protocol: 'HBONE' }],
      },
    });
    // One waypoint in 25 has no ready replica yet (Programmed=False, services fall back to L4).
    waypointReadyReplicas[`${ns}/${name}`] = w % 25 === 24 ? 0 : 1 + (w % 3);
    const ip = `10.97.${(w >>> 8) & 255}.${w & 255}`;
    services.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        ...g.meta(name, ns, { [GATEWAY_NAME_LABEL]: name }),
        // As the provisioner makes it: controlled by its Gateway.
        ownerReferences: [
          {
            apiVersion: `${GATEWAY_GROUP}/v1`,
            kind: 'Gateway',
            name,
            uid: String(gatewayMeta['uid']),
            controller: true,
          },
        ],
      },
      spec: {
        clusterIP: ip,
        clusterIPs: [ip],
        selector: { [GATEWAY_NAME_LABEL]: name },
        ports: [{ name: 'mesh', port: NAMES.hbonePort }],
      },
    });
    const pod = { name: `${name}-0`, ip: ipOf(100, w + 1), node: g.node(), ready: true };
    pods.push(podObject(g, pod, ns, { [GATEWAY_NAME_LABEL]: name }, name));
    serviceAccounts.push({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: g.meta(name, ns) });
  }

  const httpRoutes: CustomObject[] = [];
  const grpcRoutes: CustomObject[] = [];
  const grants = new Map<string, CustomObject>();
  const grpcApps = apps.filter((a) => a.grpc);
  for (let r = 0; r < o.routes; r++) {
    const isGrpc = r % 5 === 4 && grpcApps.length > 0;
    const parent = isGrpc ? g.pick(grpcApps) : g.pick(apps);
    const consumer = r % 6 === 5;
    const ns = consumer
      ? nsName((Number(parent.ns.slice(3)) + 1 + g.int(o.namespaces - 1)) % o.namespaces)
      : parent.ns;
    const port = isGrpc ? 9090 : 80;
    const siblings = apps.filter((a) => a.ns === parent.ns && a.grpc === parent.grpc);
    if (consumer && ns !== parent.ns) {
      const kind = isGrpc ? 'GRPCRoute' : 'HTTPRoute';
      const key = `${parent.ns}/${ns}/${kind}`;
      if (!grants.has(key))
        grants.set(key, {
          apiVersion: `${GATEWAY_GROUP}/v1beta1`,
          kind: 'ReferenceGrant',
          metadata: g.meta(`from-${ns}-${kind.toLowerCase()}`, parent.ns),
          spec: {
            from: [{ group: GATEWAY_GROUP, kind, namespace: ns }],
            to: [{ group: '', kind: 'Service' }],
          },
        });
    }
    const rules = Array.from({ length: 1 + g.int(4) }, (_, i) => {
      const backends = Array.from({ length: 1 + g.int(3) }, () => {
        const b = g.pick(siblings);
        return {
          name: g.chance(0.01) ? `${b.name}-gone` : b.name,
          ...(ns === parent.ns ? {} : { namespace: parent.ns }),
          port,
          weight: g.chance(0.05) ? 0 : 1 + g.int(100),
        };
      });
      const redirect = !isGrpc && g.chance(0.05);
      return {
        ...(g.chance(0.3) ? { name: `rule-${i}` } : {}),
        matches: Array.from({ length: 1 + g.int(3) }, () => (isGrpc ? grpcMatch(g, r) : httpMatch(g))),
        ...(redirect
          ? { filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', statusCode: 301 } }] }
          : { filters: isGrpc ? [] : filters(g, g.pick(siblings), port), backendRefs: backends }),
        ...(!isGrpc && g.chance(0.3)
          ? { timeouts: { request: `${1 + g.int(10)}s`, backendRequest: '500ms' } }
          : {}),
        ...(!isGrpc && g.chance(0.1) ? { retry: { attempts: 3, codes: [502, 503], backoff: '100ms' } } : {}),
      };
    });
    const route: CustomObject = {
      apiVersion: `${GATEWAY_GROUP}/v1`,
      kind: isGrpc ? 'GRPCRoute' : 'HTTPRoute',
      metadata: g.meta(`route-${pad(r)}`, ns),
      spec: {
        parentRefs: [
          {
            group: '',
            kind: 'Service',
            name: parent.name,
            ...(ns === parent.ns ? {} : { namespace: parent.ns }),
            ...(g.chance(0.7) ? { port } : {}),
          },
        ],
        rules,
      },
    };
    (isGrpc ? grpcRoutes : httpRoutes).push(route);
  }

  const authorizationPolicies: CustomObject[] = [];
  for (let i = 0; i < o.authorizationPolicies; i++) {
    const target = g.pick(apps);
    const shape = i % 4;
    const from = [
      { source: { namespaces: [nsName(g.int(o.namespaces))], notPrincipals: ['*/sa/untrusted'] } },
    ];
    const rules =
      shape === 0
        ? [{ from, to: [{ operation: { ports: ['8080'] } }] }]
        : [
            { from, to: [{ operation: { methods: ['GET', 'POST'], paths: ['/api/*'] } }] },
            { when: [{ key: 'request.headers[x-tenant]', values: [`t${g.int(20)}`] }] },
          ];
    const wp = waypointOfNs(Number(target.ns.slice(3)));
    const targetRefs =
      shape === 1
        ? [] // namespace-wide
        : shape === 3 && wp !== undefined && wp.ns === target.ns
          ? [{ group: GATEWAY_GROUP, kind: 'Gateway', name: wp.name }]
          : [{ group: '', kind: 'Service', name: target.name }];
    authorizationPolicies.push({
      apiVersion: 'policy.waymesh.io/v1alpha1',
      kind: 'AuthorizationPolicy',
      metadata: g.meta(`authz-${pad(i)}`, target.ns),
      spec: {
        action: i % 5 === 4 ? 'DENY' : 'ALLOW',
        ...(targetRefs.length === 0 ? {} : { targetRefs }),
        rules,
      },
    });
  }

  const rateLimitPolicies: CustomObject[] = [];
  for (let i = 0; i < o.rateLimitPolicies; i++) {
    const route = httpRoutes.length > 0 && i % 2 === 1 ? g.pick(httpRoutes) : undefined;
    const svc = g.pick(apps);
    const ns = route?.metadata.namespace ?? svc.ns;
    rateLimitPolicies.push({
      apiVersion: 'policy.waymesh.io/v1alpha1',
      kind: 'RateLimitPolicy',
      metadata: g.meta(`ratelimit-${pad(i)}`, ns),
      spec: {
        targetRefs: [
          route === undefined
            ? { group: '', kind: 'Service', name: svc.name }
            : { group: GATEWAY_GROUP, kind: 'HTTPRoute', name: route.metadata.name },
        ],
        limits: [
          { requests: 100 + g.int(1000), unit: 'Second', key: { type: 'Source' } },
          ...(g.chance(0.5)
            ? [{ requests: 10000, unit: 'Minute', key: { type: 'Header', header: 'x-api-key' } }]
            : []),
        ],
      },
    });
  }

  return deepFreeze<World>({
    trustDomain: 'cluster.local',
    namespaces,
    pods,
    services,
    serviceAccounts,
    endpointSlices,
    gatewayClasses,
    gateways,
    httpRoutes,
    grpcRoutes,
    referenceGrants: [...grants.values()],
    authorizationPolicies,
    rateLimitPolicies,
    waypointReadyReplicas,
  });
}
