/**
 * Table columns of built-in kinds, as a real cluster's API server prints them for kubectl
 * (k8s.io/kubernetes pkg/printers/internalversion/printers.go). The server always returns the
 * wide columns too, marked `priority: 1`, and kubectl shows them only with `-o wide`. Ages use
 * kubectl's HumanDuration rules. Pure: the current time is passed in.
 */
import type { Json, KubeObject } from './types.ts';

/** One `columnDefinitions[]` entry of a `meta.k8s.io/v1` Table. */
export interface ColumnDefinition {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

/** Columns and the cells of one object for a built-in kind. */
export interface BuiltinPrinter {
  columns: ColumnDefinition[];
  cells(obj: KubeObject, now: Date): Json[];
}

/** Description of the Name column, as upstream's ObjectMeta swagger doc words it. */
export const NAME_DESCRIPTION =
  'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names';

/** A column definition; `wide` columns get priority 1. */
export function column(
  name: string,
  type = 'string',
  wide = false,
  format = '',
  description = '',
): ColumnDefinition {
  return { name, type, format, description, priority: wide ? 1 : 0 };
}

const NAME = column('Name', 'string', false, 'name', NAME_DESCRIPTION);
const AGE = column(
  'Age',
  'string',
  false,
  '',
  'CreationTimestamp is a timestamp representing the server time when this object was created.',
);

/** kubectl's `duration.HumanDuration` for a duration in milliseconds. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 === 0 ? `${hours / 24}d` : `${Math.trunc(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  const years = Math.trunc(hours / 24 / 365);
  if (hours < 24 * 365 * 8) {
    const days = Math.trunc(hours / 24) % 365;
    return days === 0 ? `${years}y` : `${years}y${days}d`;
  }
  return `${years}y`;
}

/** kubectl's translateTimestampSince: `<unknown>` for a missing or unparsable time. */
export function ageSince(timestamp: Json | undefined, now: Date): string {
  if (typeof timestamp !== 'string' || timestamp === '') return '<unknown>';
  const t = Date.parse(timestamp);
  return Number.isNaN(t) ? '<unknown>' : humanDuration(now.getTime() - t);
}

/** The value at `path` inside `obj` (undefined when any step is missing). */
export function dig(obj: Json | undefined, ...path: (string | number)[]): Json | undefined {
  let node = obj;
  for (const step of path) {
    if (typeof step === 'number') node = Array.isArray(node) ? node[step] : undefined;
    else node = typeof node === 'object' && node !== null && !Array.isArray(node) ? node[step] : undefined;
    if (node === undefined) return undefined;
  }
  return node;
}

const str = (v: Json | undefined): string => (typeof v === 'string' ? v : '');
const int = (v: Json | undefined): number => (typeof v === 'number' ? Math.trunc(v) : 0);
const list = (v: Json | undefined): Json[] => (Array.isArray(v) ? v : []);
const size = (v: Json | undefined): number =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? Object.keys(v).length : 0;
const root = (obj: KubeObject): Json => obj as unknown as Json;
const ageOf = (obj: KubeObject, now: Date): string => ageSince(obj.metadata.creationTimestamp, now);

/** labels.FormatLabels: `k=v,...` sorted by key, `<none>` when empty. */
function formatLabels(map: Json | undefined): string {
  if (typeof map !== 'object' || map === null || Array.isArray(map)) return '<none>';
  const pairs = Object.keys(map)
    .sort()
    .map((k) => `${k}=${str(map[k])}`);
  return pairs.length === 0 ? '<none>' : pairs.join(',');
}

/** metav1.LabelSelectorAsSelector(...).String(); `<none>` for a missing selector. */
function formatSelector(selector: Json | undefined): string {
  if (typeof selector !== 'object' || selector === null || Array.isArray(selector)) return '<none>';
  const reqs: [string, string][] = [];
  const labels = selector['matchLabels'];
  if (typeof labels === 'object' && labels !== null && !Array.isArray(labels)) {
    for (const [k, v] of Object.entries(labels)) reqs.push([k, `${k}=${str(v)}`]);
  }
  for (const e of list(selector['matchExpressions'])) {
    const key = str(dig(e, 'key'));
    const values = list(dig(e, 'values')).map(str).sort().join(',');
    const op = str(dig(e, 'operator'));
    const text =
      op === 'In'
        ? `${key} in (${values})`
        : op === 'NotIn'
          ? `${key} notin (${values})`
          : op === 'Exists'
            ? key
            : op === 'DoesNotExist'
              ? `!${key}`
              : '<invalid>';
    reqs.push([key, text]);
  }
  return reqs
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([, t]) => t)
    .join(',');
}

/** Names and images of containers, comma-joined (layoutContainerCells). */
function containerCells(podSpec: Json | undefined): [string, string] {
  const containers = list(dig(podSpec, 'containers'));
  return [
    containers.map((c) => str(dig(c, 'name'))).join(','),
    containers.map((c) => str(dig(c, 'image'))).join(','),
  ];
}

/** `a,b,c + 2 more...` (listWithMoreString), `<unset>` when empty. */
function listWithMore(items: string[], max = 3, empty = '<unset>'): string {
  if (items.length === 0) return empty;
  const shown = items.slice(0, max).join(',');
  return items.length > max ? `${shown} + ${items.length - max} more...` : shown;
}

/** READY, STATUS and RESTARTS of a pod, following upstream's printPod step by step. */
function podStatus(pod: KubeObject, now: Date): { ready: string; reason: string; restarts: string } {
  const spec = pod['spec'] as Json | undefined;
  const status = pod['status'] as Json | undefined;
  const phase = str(dig(status, 'phase'));
  let reason = str(dig(status, 'reason')) || phase;
  const conditions = list(dig(status, 'conditions'));
  for (const c of conditions) {
    if (str(dig(c, 'type')) === 'PodScheduled' && str(dig(c, 'reason')) === 'SchedulingGated')
      reason = 'SchedulingGated';
  }
  const initSpecs = list(dig(spec, 'initContainers'));
  const restartable = (name: string): boolean =>
    initSpecs.some((c) => str(dig(c, 'name')) === name && str(dig(c, 'restartPolicy')) === 'Always');
  const total =
    list(dig(spec, 'containers')).length + initSpecs.filter((c) => restartable(str(dig(c, 'name')))).length;
  let ready = 0;
  let restarts = 0;
  let sidecarRestarts = 0;
  let lastRestart = 0;
  let sidecarLastRestart = 0;
  const finishedAt = (c: Json): number =>
    Date.parse(str(dig(c, 'lastState', 'terminated', 'finishedAt'))) || 0;

  let initializing = false;
  const initStatuses = list(dig(status, 'initContainerStatuses'));
  for (const [i, c] of initStatuses.entries()) {
    const name = str(dig(c, 'name'));
    restarts += int(dig(c, 'restartCount'));
    lastRestart = Math.max(lastRestart, finishedAt(c));
    if (restartable(name)) {
      sidecarRestarts += int(dig(c, 'restartCount'));
      sidecarLastRestart = Math.max(sidecarLastRestart, finishedAt(c));
    }
    const terminated = dig(c, 'state', 'terminated');
    const waitingReason = str(dig(c, 'state', 'waiting', 'reason'));
    if (terminated !== undefined && int(dig(terminated, 'exitCode')) === 0) continue;
    if (restartable(name) && dig(c, 'started') === true) {
      if (dig(c, 'ready') === true) ready++;
      continue;
    }
    if (terminated !== undefined) {
      const r = str(dig(terminated, 'reason'));
      const signal = int(dig(terminated, 'signal'));
      reason =
        r !== ''
          ? `Init:${r}`
          : signal !== 0
            ? `Init:Signal:${signal}`
            : `Init:ExitCode:${int(dig(terminated, 'exitCode'))}`;
    } else if (waitingReason !== '' && waitingReason !== 'PodInitializing') {
      reason = `Init:${waitingReason}`;
    } else {
      reason = `Init:${i}/${initSpecs.length}`;
    }
    initializing = true;
    break;
  }

  const initialized = conditions.some(
    (c) => str(dig(c, 'type')) === 'Initialized' && str(dig(c, 'status')) === 'True',
  );
  if (!initializing || initialized) {
    restarts = sidecarRestarts;
    lastRestart = sidecarLastRestart;
    let hasRunning = false;
    const statuses = list(dig(status, 'containerStatuses'));
    for (let i = statuses.length - 1; i >= 0; i--) {
      const c = statuses[i] as Json;
      restarts += int(dig(c, 'restartCount'));
      lastRestart = Math.max(lastRestart, finishedAt(c));
      const waiting = str(dig(c, 'state', 'waiting', 'reason'));
      const terminated = dig(c, 'state', 'terminated');
      if (waiting !== '') reason = waiting;
      else if (terminated !== undefined && str(dig(terminated, 'reason')) !== '')
        reason = str(dig(terminated, 'reason'));
      else if (terminated !== undefined) {
        const signal = int(dig(terminated, 'signal'));
        reason = signal !== 0 ? `Signal:${signal}` : `ExitCode:${int(dig(terminated, 'exitCode'))}`;
      } else if (dig(c, 'ready') === true && dig(c, 'state', 'running') !== undefined) {
        hasRunning = true;
        ready++;
      }
    }
    if (reason === 'Completed' && hasRunning) {
      const podReady = conditions.some(
        (c) => str(dig(c, 'type')) === 'Ready' && str(dig(c, 'status')) === 'True',
      );
      reason = podReady ? 'Running' : 'NotReady';
    }
  }

  if (pod.metadata.deletionTimestamp !== undefined && str(dig(status, 'reason')) === 'NodeLost')
    reason = 'Unknown';
  else if (pod.metadata.deletionTimestamp !== undefined && phase !== 'Succeeded' && phase !== 'Failed')
    reason = 'Terminating';

  const restartText =
    restarts !== 0 && lastRestart > 0
      ? `${restarts} (${humanDuration(now.getTime() - lastRestart)} ago)`
      : String(restarts);
  return { ready: `${ready}/${total}`, reason, restarts: restartText };
}

function podCells(pod: KubeObject, now: Date): Json[] {
  const { ready, reason, restarts } = podStatus(pod, now);
  const status = pod['status'] as Json | undefined;
  const gates = list(dig(pod['spec'] as Json | undefined, 'readinessGates'));
  const conditions = list(dig(status, 'conditions'));
  let gateText = '<none>';
  if (gates.length > 0) {
    const trueCount = gates.filter((g) => {
      const c = conditions.find((x) => str(dig(x, 'type')) === str(dig(g, 'conditionType')));
      return c !== undefined && str(dig(c, 'status')) === 'True';
    }).length;
    gateText = `${trueCount}/${gates.length}`;
  }
  const ip = str(dig(status, 'podIPs', 0, 'ip')) || str(dig(status, 'podIP'));
  return [
    pod.metadata.name ?? '',
    ready,
    reason,
    restarts,
    ageOf(pod, now),
    ip || '<none>',
    str(dig(root(pod), 'spec', 'nodeName')) || '<none>',
    str(dig(status, 'nominatedNodeName')) || '<none>',
    gateText,
  ];
}

function serviceExternalIP(svc: Json): string {
  const externalIPs = list(dig(svc, 'spec', 'externalIPs')).map(str);
  switch (str(dig(svc, 'spec', 'type'))) {
    case 'ClusterIP':
    case 'NodePort':
      return externalIPs.length > 0 ? externalIPs.join(',') : '<none>';
    case 'LoadBalancer': {
      const ingress = list(dig(svc, 'status', 'loadBalancer', 'ingress'))
        .map((i) => str(dig(i, 'ip')) || str(dig(i, 'hostname')))
        .filter((s) => s !== '');
      const all = [...ingress, ...externalIPs];
      return all.length > 0 ? all.join(',') : '<pending>';
    }
    case 'ExternalName':
      return str(dig(svc, 'spec', 'externalName'));
    default:
      return '<unknown>';
  }
}

function serviceCells(svc: KubeObject, now: Date): Json[] {
  const o = root(svc);
  const ports = list(dig(o, 'spec', 'ports')).map((p) => {
    const protocol = str(dig(p, 'protocol')) || 'TCP';
    const nodePort = int(dig(p, 'nodePort'));
    return nodePort > 0
      ? `${int(dig(p, 'port'))}:${nodePort}/${protocol}`
      : `${int(dig(p, 'port'))}/${protocol}`;
  });
  return [
    svc.metadata.name ?? '',
    str(dig(o, 'spec', 'type')),
    str(dig(o, 'spec', 'clusterIPs', 0)) || str(dig(o, 'spec', 'clusterIP')) || '<none>',
    serviceExternalIP(o),
    ports.length > 0 ? ports.join(',') : '<none>',
    ageOf(svc, now),
    formatLabels(dig(o, 'spec', 'selector')),
  ];
}

function nodeCells(node: KubeObject, now: Date): Json[] {
  const o = root(node);
  const ready = list(dig(o, 'status', 'conditions')).find((c) => str(dig(c, 'type')) === 'Ready');
  const status = [
    ready === undefined ? 'Unknown' : str(dig(ready, 'status')) === 'True' ? 'Ready' : 'NotReady',
  ];
  if (dig(o, 'spec', 'unschedulable') === true) status.push('SchedulingDisabled');
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(node.metadata.labels ?? {})) {
    if (k.startsWith('node-role.kubernetes.io/') && k.length > 'node-role.kubernetes.io/'.length) {
      roles.add(k.slice('node-role.kubernetes.io/'.length));
    } else if (k === 'kubernetes.io/role' && v !== '') roles.add(v);
  }
  const address = (type: string): string =>
    str(
      dig(
        list(dig(o, 'status', 'addresses')).find((a) => str(dig(a, 'type')) === type),
        'address',
      ),
    ) || '<none>';
  const info = (key: string): string => str(dig(o, 'status', 'nodeInfo', key)) || '<unknown>';
  return [
    node.metadata.name ?? '',
    status.join(','),
    roles.size > 0 ? [...roles].sort().join(',') : '<none>',
    ageOf(node, now),
    str(dig(o, 'status', 'nodeInfo', 'kubeletVersion')),
    address('InternalIP'),
    address('ExternalIP'),
    info('osImage'),
    info('kernelVersion'),
    info('containerRuntimeVersion'),
  ];
}

function endpointsText(o: Json): string {
  const subsets = list(dig(o, 'subsets'));
  if (subsets.length === 0) return '<none>';
  const items: string[] = [];
  for (const ss of subsets) {
    const ips = list(dig(ss, 'addresses')).map((a) => str(dig(a, 'ip')));
    const ports = list(dig(ss, 'ports'));
    if (ports.length === 0) items.push(...ips);
    for (const p of ports) {
      for (const ip of ips)
        items.push(ip.includes(':') ? `[${ip}]:${int(dig(p, 'port'))}` : `${ip}:${int(dig(p, 'port'))}`);
    }
  }
  return listWithMore(items, 3, '');
}

function eventCells(ev: KubeObject, now: Date): Json[] {
  const o = root(ev);
  // core/v1 Events and events.k8s.io/v1 Events name the same things differently.
  const first =
    str(dig(o, 'firstTimestamp')) || str(dig(o, 'deprecatedFirstTimestamp')) || str(dig(o, 'eventTime'));
  let last = ageSince(str(dig(o, 'lastTimestamp')) || str(dig(o, 'deprecatedLastTimestamp')) || first, now);
  let count = int(dig(o, 'count')) || int(dig(o, 'deprecatedCount'));
  if (dig(o, 'series') !== undefined) {
    last = ageSince(dig(o, 'series', 'lastObservedTime'), now);
    count = int(dig(o, 'series', 'count'));
  } else if (count === 0) count = 1;
  const regarding = dig(o, 'involvedObject') ?? dig(o, 'regarding');
  const kind = str(dig(regarding, 'kind')).toLowerCase();
  const name = str(dig(regarding, 'name'));
  const component =
    str(dig(o, 'source', 'component')) ||
    str(dig(o, 'deprecatedSource', 'component')) ||
    str(dig(o, 'reportingController'));
  const host =
    str(dig(o, 'source', 'host')) ||
    str(dig(o, 'deprecatedSource', 'host')) ||
    str(dig(o, 'reportingInstance'));
  return [
    last,
    str(dig(o, 'type')),
    str(dig(o, 'reason')),
    name !== '' ? `${kind}/${name}` : kind,
    str(dig(regarding, 'fieldPath')),
    host === '' ? component : `${component}, ${host}`,
    (str(dig(o, 'message')) || str(dig(o, 'note'))).trim(),
    ageSince(first, now),
    count,
    ev.metadata.name ?? '',
  ];
}

const workloadWide = [
  column('Containers', 'string', true),
  column('Images', 'string', true),
  column('Selector', 'string', true),
];

function workloadWideCells(o: Json): Json[] {
  return [...containerCells(dig(o, 'spec', 'template', 'spec')), formatSelector(dig(o, 'spec', 'selector'))];
}

const simple = (
  name: string,
  cells: BuiltinPrinter['cells'],
  ...columns: ColumnDefinition[]
): [string, BuiltinPrinter] => [name, { columns: [NAME, ...columns, AGE], cells }];

/** Printers keyed by `<group>/<Kind>` (core group: `/Pod`). */
const PRINTERS = new Map<string, BuiltinPrinter>([
  [
    '/Pod',
    {
      columns: [
        NAME,
        column('Ready'),
        column('Status'),
        column('Restarts'),
        AGE,
        column('IP', 'string', true),
        column('Node', 'string', true),
        column('Nominated Node', 'string', true),
        column('Readiness Gates', 'string', true),
      ],
      cells: podCells,
    },
  ],
  [
    '/Service',
    {
      columns: [
        NAME,
        column('Type'),
        column('Cluster-IP'),
        column('External-IP'),
        column('Port(s)'),
        AGE,
        column('Selector', 'string', true),
      ],
      cells: serviceCells,
    },
  ],
  [
    'apps/Deployment',
    {
      columns: [
        NAME,
        column('Ready'),
        column('Up-to-date', 'integer'),
        column('Available', 'integer'),
        AGE,
        ...workloadWide,
      ],
      cells: (d, now) => {
        const o = root(d);
        const desired = dig(o, 'spec', 'replicas');
        return [
          d.metadata.name ?? '',
          `${int(dig(o, 'status', 'readyReplicas'))}/${typeof desired === 'number' ? desired : 1}`,
          int(dig(o, 'status', 'updatedReplicas')),
          int(dig(o, 'status', 'availableReplicas')),
          ageOf(d, now),
          ...workloadWideCells(o),
        ];
      },
    },
  ],
  [
    'apps/DaemonSet',
    {
      columns: [
        NAME,
        column('Desired', 'integer'),
        column('Current', 'integer'),
        column('Ready', 'integer'),
        column('Up-to-date', 'integer'),
        column('Available', 'integer'),
        column('Node Selector'),
        AGE,
        ...workloadWide,
      ],
      cells: (d, now) => {
        const o = root(d);
        const n = (k: string): number => int(dig(o, 'status', k));
        return [
          d.metadata.name ?? '',
          n('desiredNumberScheduled'),
          n('currentNumberScheduled'),
          n('numberReady'),
          n('updatedNumberScheduled'),
          n('numberAvailable'),
          formatLabels(dig(o, 'spec', 'template', 'spec', 'nodeSelector')),
          ageOf(d, now),
          ...workloadWideCells(o),
        ];
      },
    },
  ],
  [
    '/Node',
    {
      columns: [
        NAME,
        column('Status'),
        column('Roles'),
        AGE,
        column('Version'),
        column('Internal-IP', 'string', true),
        column('External-IP', 'string', true),
        column('OS-Image', 'string', true),
        column('Kernel-Version', 'string', true),
        column('Container-Runtime', 'string', true),
      ],
      cells: nodeCells,
    },
  ],
  simple(
    '/Namespace',
    (o, now) => [o.metadata.name ?? '', str(dig(root(o), 'status', 'phase')), ageOf(o, now)],
    column('Status'),
  ),
  simple(
    '/Endpoints',
    (o, now) => [o.metadata.name ?? '', endpointsText(root(o)), ageOf(o, now)],
    column('Endpoints'),
  ),
  simple(
    'discovery.k8s.io/EndpointSlice',
    (o, now) => {
      const ports = list(dig(root(o), 'ports')).map((p) => {
        const port = dig(p, 'port');
        return typeof port === 'number' ? String(port) : str(dig(p, 'name')) || '*';
      });
      const addresses = list(dig(root(o), 'endpoints')).flatMap((e) => list(dig(e, 'addresses')).map(str));
      return [
        o.metadata.name ?? '',
        str(dig(root(o), 'addressType')),
        listWithMore(ports),
        listWithMore(addresses),
        ageOf(o, now),
      ];
    },
    column('AddressType'),
    column('Ports'),
    column('Endpoints'),
  ),
  simple(
    '/ConfigMap',
    (o, now) => [
      o.metadata.name ?? '',
      size(dig(root(o), 'data')) + size(dig(root(o), 'binaryData')),
      ageOf(o, now),
    ],
    column('Data', 'integer'),
  ),
  simple(
    '/Secret',
    (o, now) => [o.metadata.name ?? '', str(dig(root(o), 'type')), size(dig(root(o), 'data')), ageOf(o, now)],
    column('Type'),
    column('Data', 'integer'),
  ),
  simple(
    '/ServiceAccount',
    (o, now) => [o.metadata.name ?? '', list(dig(root(o), 'secrets')).length, ageOf(o, now)],
    column('Secrets', 'integer'),
  ),
  simple(
    'coordination.k8s.io/Lease',
    (o, now) => [o.metadata.name ?? '', str(dig(root(o), 'spec', 'holderIdentity')), ageOf(o, now)],
    column('Holder'),
  ),
  [
    'apiextensions.k8s.io/CustomResourceDefinition',
    {
      columns: [NAME, column('Created At', 'date')],
      cells: (o) => [o.metadata.name ?? '', toRfc3339(o.metadata.creationTimestamp)],
    },
  ],
]);

const EVENT: BuiltinPrinter = {
  columns: [
    column('Last Seen'),
    column('Type'),
    column('Reason'),
    column('Object'),
    column('Subobject', 'string', true),
    column('Source', 'string', true),
    column('Message'),
    column('First Seen', 'string', true),
    column('Count', 'string', true),
    column('Name', 'string', true, 'name', NAME_DESCRIPTION),
  ],
  cells: eventCells,
};
PRINTERS.set('/Event', EVENT);
PRINTERS.set('events.k8s.io/Event', EVENT);

function toRfc3339(timestamp: string | undefined): string {
  const t = Date.parse(timestamp ?? '');
  return Number.isNaN(t) ? '<unknown>' : new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The default printer of kinds without their own: Name and Age. */
export const DEFAULT_PRINTER: BuiltinPrinter = {
  columns: [NAME, AGE],
  cells: (o, now) => [o.metadata.name ?? '', ageOf(o, now)],
};

/** The printer of a built-in kind (`group` is `''` for the core group), or the Name+Age default. */
export function builtinPrinter(group: string, kind: string): BuiltinPrinter {
  return PRINTERS.get(`${group}/${kind}`) ?? DEFAULT_PRINTER;
}
