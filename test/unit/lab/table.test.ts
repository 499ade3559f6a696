import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { humanDuration } from '../../../lab/apiserver/printers.ts';
import { parseJsonPath, toTable } from '../../../lab/apiserver/table.ts';
import type { Json, JsonObject, KubeObject, ResourceDef } from '../../../lab/apiserver/types.ts';

const NOW = new Date('2026-01-01T01:00:00Z');
const CREATED = '2026-01-01T00:50:00Z'; // 10m before NOW

function def(group: string, kind: string, builtin = true): ResourceDef {
  return {
    group,
    kind,
    listKind: `${kind}List`,
    plural: `${kind.toLowerCase()}s`,
    singular: kind.toLowerCase(),
    shortNames: [],
    categories: [],
    namespaced: true,
    versions: [{ name: 'v1', served: true, storage: true }],
    builtin,
    verbs: ['get', 'list'],
  };
}

function obj(kind: string, name: string, body: JsonObject = {}, meta: JsonObject = {}): KubeObject {
  return { apiVersion: 'v1', kind, metadata: { name, creationTimestamp: CREATED, ...meta }, ...body };
}

function table(d: ResourceDef, objects: KubeObject[]): { names: Json[]; wide: Json[]; rows: Json[][] } {
  const t = toTable(d, 'v1', objects, { includeObject: 'None', now: NOW });
  const cols = t['columnDefinitions'] as JsonObject[];
  return {
    names: cols.filter((c) => c['priority'] === 0).map((c) => c['name'] as Json),
    wide: cols.filter((c) => c['priority'] !== 0).map((c) => c['name'] as Json),
    rows: (t['rows'] as JsonObject[]).map((r) => r['cells'] as Json[]),
  };
}

const running = (name: string, restarts = 0): Json => ({
  name,
  ready: true,
  restartCount: restarts,
  state: { running: { startedAt: CREATED } },
  ...(restarts > 0 ? { lastState: { terminated: { exitCode: 1, finishedAt: '2026-01-01T00:58:00Z' } } } : {}),
});

describe('lab/apiserver/table', () => {
  describe('humanDuration follows kubectl', () => {
    const cases: [number, string][] = [
      [-5, '<invalid>'],
      [-1, '0s'],
      [5, '5s'],
      [119, '119s'],
      [182, '3m2s'],
      [300, '5m'],
      [900, '15m'],
      [3 * 3600 + 120, '3h2m'],
      [10 * 3600, '10h'],
      [2 * 86400 + 3 * 3600, '2d3h'],
      [3 * 86400, '3d'],
      [30 * 86400, '30d'],
      [3 * 365 * 86400 + 5 * 86400, '3y5d'],
      [10 * 365 * 86400, '10y'],
    ];
    for (const [s, want] of cases) it(`${s}s → ${want}`, () => assert.equal(humanDuration(s * 1000), want));
  });

  it('Pod columns, READY from containerStatuses, restarts with age, wide cells', () => {
    const pod = obj('Pod', 'web', {
      spec: {
        nodeName: 'node-1',
        containers: [{ name: 'a' }, { name: 'b' }],
        readinessGates: [{ conditionType: 'x/ok' }],
      },
      status: {
        phase: 'Running',
        podIPs: [{ ip: '10.1.0.5' }],
        conditions: [{ type: 'x/ok', status: 'True' }],
        containerStatuses: [running('a', 2), running('b')],
      },
    });
    const t = table(def('', 'Pod'), [pod]);
    assert.deepEqual(t.names, ['Name', 'Ready', 'Status', 'Restarts', 'Age']);
    assert.deepEqual(t.wide, ['IP', 'Node', 'Nominated Node', 'Readiness Gates']);
    assert.deepEqual(t.rows, [
      ['web', '2/2', 'Running', '2 (2m ago)', '10m', '10.1.0.5', 'node-1', '<none>', '1/1'],
    ]);
  });

  describe('Pod STATUS', () => {
    const cases: { name: string; pod: KubeObject; ready: string; status: string }[] = [
      {
        name: 'waiting reason ErrImagePull',
        pod: obj('Pod', 'p', {
          spec: { containers: [{ name: 'a' }] },
          status: {
            phase: 'Pending',
            containerStatuses: [
              { name: 'a', ready: false, restartCount: 0, state: { waiting: { reason: 'ErrImagePull' } } },
            ],
          },
        }),
        ready: '0/1',
        status: 'ErrImagePull',
      },
      {
        name: 'Terminating when deletionTimestamp is set',
        pod: obj(
          'Pod',
          'p',
          {
            spec: { containers: [{ name: 'a' }] },
            status: { phase: 'Running', containerStatuses: [running('a')] },
          },
          { deletionTimestamp: '2026-01-01T00:59:00Z' },
        ),
        ready: '1/1',
        status: 'Terminating',
      },
      {
        name: 'init container still running',
        pod: obj('Pod', 'p', {
          spec: { initContainers: [{ name: 'i' }], containers: [{ name: 'a' }] },
          status: { phase: 'Pending', initContainerStatuses: [{ name: 'i', state: { running: {} } }] },
        }),
        ready: '0/1',
        status: 'Init:0/1',
      },
      {
        name: 'terminated with exit code and no reason',
        pod: obj('Pod', 'p', {
          spec: { containers: [{ name: 'a' }] },
          status: {
            phase: 'Failed',
            containerStatuses: [{ name: 'a', state: { terminated: { exitCode: 3 } } }],
          },
        }),
        ready: '0/1',
        status: 'ExitCode:3',
      },
      {
        name: 'phase only',
        pod: obj('Pod', 'p', { spec: { containers: [{ name: 'a' }] }, status: { phase: 'Pending' } }),
        ready: '0/1',
        status: 'Pending',
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const row = table(def('', 'Pod'), [c.pod]).rows[0] ?? [];
        assert.deepEqual([row[1], row[2]], [c.ready, c.status]);
      });
    }
  });

  const kinds: {
    name: string;
    def: ResourceDef;
    obj: KubeObject;
    names: Json[];
    wide?: Json[];
    cells: Json[];
  }[] = [
    {
      name: 'Service',
      def: def('', 'Service'),
      obj: obj('Service', 'web', {
        spec: {
          type: 'NodePort',
          clusterIP: '10.96.0.10',
          clusterIPs: ['10.96.0.10'],
          ports: [
            { port: 80, nodePort: 30080, protocol: 'TCP' },
            { port: 53, protocol: 'UDP' },
          ],
          selector: { tier: 'fe', app: 'web' },
        },
      }),
      names: ['Name', 'Type', 'Cluster-IP', 'External-IP', 'Port(s)', 'Age'],
      wide: ['Selector'],
      cells: ['web', 'NodePort', '10.96.0.10', '<none>', '80:30080/TCP,53/UDP', '10m', 'app=web,tier=fe'],
    },
    {
      name: 'Service of type LoadBalancer without ingress',
      def: def('', 'Service'),
      obj: obj('Service', 'lb', {
        spec: { type: 'LoadBalancer', clusterIPs: ['10.96.0.11'], ports: [{ port: 443 }] },
      }),
      names: ['Name', 'Type', 'Cluster-IP', 'External-IP', 'Port(s)', 'Age'],
      cells: ['lb', 'LoadBalancer', '10.96.0.11', '<pending>', '443/TCP', '10m', '<none>'],
    },
    {
      name: 'Deployment',
      def: def('apps', 'Deployment'),
      obj: obj('Deployment', 'web', {
        spec: {
          replicas: 3,
          selector: {
            matchLabels: { app: 'web' },
            matchExpressions: [{ key: 'env', operator: 'In', values: ['prod', 'dev'] }],
          },
          template: {
            spec: {
              containers: [
                { name: 'web', image: 'nginx:1' },
                { name: 'log', image: 'busybox' },
              ],
            },
          },
        },
        status: { readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2 },
      }),
      names: ['Name', 'Ready', 'Up-to-date', 'Available', 'Age'],
      wide: ['Containers', 'Images', 'Selector'],
      cells: ['web', '2/3', 3, 2, '10m', 'web,log', 'nginx:1,busybox', 'app=web,env in (dev,prod)'],
    },
    {
      name: 'DaemonSet',
      def: def('apps', 'DaemonSet'),
      obj: obj('DaemonSet', 'agent', {
        spec: {
          selector: { matchLabels: { app: 'agent' } },
          template: {
            spec: {
              nodeSelector: { 'kubernetes.io/os': 'linux' },
              containers: [{ name: 'a', image: 'agent:1' }],
            },
          },
        },
        status: {
          desiredNumberScheduled: 2,
          currentNumberScheduled: 2,
          numberReady: 1,
          updatedNumberScheduled: 2,
          numberAvailable: 1,
        },
      }),
      names: ['Name', 'Desired', 'Current', 'Ready', 'Up-to-date', 'Available', 'Node Selector', 'Age'],
      wide: ['Containers', 'Images', 'Selector'],
      cells: ['agent', 2, 2, 1, 2, 1, 'kubernetes.io/os=linux', '10m', 'a', 'agent:1', 'app=agent'],
    },
    {
      name: 'Node',
      def: def('', 'Node'),
      obj: obj(
        'Node',
        'node-1',
        {
          spec: { unschedulable: true },
          status: {
            conditions: [{ type: 'Ready', status: 'True' }],
            addresses: [{ type: 'InternalIP', address: '10.0.0.2' }],
            nodeInfo: {
              kubeletVersion: 'v1.32.0-waymesh',
              osImage: 'lab',
              kernelVersion: '6.1',
              containerRuntimeVersion: 'netns://1',
            },
          },
        },
        { labels: { 'node-role.kubernetes.io/control-plane': '', 'kubernetes.io/role': 'worker' } },
      ),
      names: ['Name', 'Status', 'Roles', 'Age', 'Version'],
      wide: ['Internal-IP', 'External-IP', 'OS-Image', 'Kernel-Version', 'Container-Runtime'],
      cells: [
        'node-1',
        'Ready,SchedulingDisabled',
        'control-plane,worker',
        '10m',
        'v1.32.0-waymesh',
        '10.0.0.2',
        '<none>',
        'lab',
        '6.1',
        'netns://1',
      ],
    },
    {
      name: 'Namespace',
      def: def('', 'Namespace'),
      obj: obj('Namespace', 'default', { status: { phase: 'Active' } }),
      names: ['Name', 'Status', 'Age'],
      cells: ['default', 'Active', '10m'],
    },
    {
      name: 'Endpoints (more than three)',
      def: def('', 'Endpoints'),
      obj: obj('Endpoints', 'web', {
        subsets: [
          {
            addresses: [{ ip: '10.1.0.1' }, { ip: '10.1.0.2' }, { ip: 'fd00::3' }],
            ports: [{ port: 8080 }, { port: 9090 }],
          },
        ],
      }),
      names: ['Name', 'Endpoints', 'Age'],
      cells: ['web', '10.1.0.1:8080,10.1.0.2:8080,[fd00::3]:8080 + 3 more...', '10m'],
    },
    {
      name: 'EndpointSlice',
      def: def('discovery.k8s.io', 'EndpointSlice'),
      obj: obj('EndpointSlice', 'web-abc', {
        addressType: 'IPv4',
        ports: [{ port: 8080 }, { name: 'metrics' }],
        endpoints: [{ addresses: ['10.1.0.1'] }, { addresses: ['10.1.0.2'] }],
      }),
      names: ['Name', 'AddressType', 'Ports', 'Endpoints', 'Age'],
      cells: ['web-abc', 'IPv4', '8080,metrics', '10.1.0.1,10.1.0.2', '10m'],
    },
    {
      name: 'EndpointSlice without endpoints',
      def: def('discovery.k8s.io', 'EndpointSlice'),
      obj: obj('EndpointSlice', 'empty', { addressType: 'IPv4' }),
      names: ['Name', 'AddressType', 'Ports', 'Endpoints', 'Age'],
      cells: ['empty', 'IPv4', '<unset>', '<unset>', '10m'],
    },
    {
      name: 'ConfigMap',
      def: def('', 'ConfigMap'),
      obj: obj('ConfigMap', 'cfg', { data: { a: '1', b: '2' }, binaryData: { c: 'AA==' } }),
      names: ['Name', 'Data', 'Age'],
      cells: ['cfg', 3, '10m'],
    },
    {
      name: 'Secret',
      def: def('', 'Secret'),
      obj: obj('Secret', 'tls', {
        type: 'kubernetes.io/tls',
        data: { 'tls.crt': 'eA==', 'tls.key': 'eQ==' },
      }),
      names: ['Name', 'Type', 'Data', 'Age'],
      cells: ['tls', 'kubernetes.io/tls', 2, '10m'],
    },
    {
      name: 'ServiceAccount',
      def: def('', 'ServiceAccount'),
      obj: obj('ServiceAccount', 'default'),
      names: ['Name', 'Secrets', 'Age'],
      cells: ['default', 0, '10m'],
    },
    {
      name: 'Event',
      def: def('', 'Event'),
      obj: obj('Event', 'web.1', {
        type: 'Warning',
        reason: 'BackOff',
        message: ' Back-off pulling image \n',
        involvedObject: { kind: 'Pod', name: 'web', fieldPath: 'spec.containers{web}' },
        source: { component: 'kubelet', host: 'node-1' },
        firstTimestamp: '2026-01-01T00:40:00Z',
        lastTimestamp: '2026-01-01T00:59:30Z',
        count: 4,
      }),
      names: ['Last Seen', 'Type', 'Reason', 'Object', 'Message'],
      wide: ['Subobject', 'Source', 'First Seen', 'Count', 'Name'],
      cells: [
        '30s',
        'Warning',
        'BackOff',
        'pod/web',
        'spec.containers{web}',
        'kubelet, node-1',
        'Back-off pulling image',
        '20m',
        4,
        'web.1',
      ],
    },
    {
      name: 'Lease',
      def: def('coordination.k8s.io', 'Lease'),
      obj: obj('Lease', 'waymesh-controller', { spec: { holderIdentity: 'controller-0' } }),
      names: ['Name', 'Holder', 'Age'],
      cells: ['waymesh-controller', 'controller-0', '10m'],
    },
    {
      name: 'CustomResourceDefinition',
      def: def('apiextensions.k8s.io', 'CustomResourceDefinition'),
      obj: obj('CustomResourceDefinition', 'httproutes.gateway.networking.k8s.io'),
      names: ['Name', 'Created At'],
      cells: ['httproutes.gateway.networking.k8s.io', '2026-01-01T00:50:00Z'],
    },
    {
      name: 'unknown built-in kind: Name and Age',
      def: def('batch', 'CronJob'),
      obj: obj('CronJob', 'nightly'),
      names: ['Name', 'Age'],
      cells: ['nightly', '10m'],
    },
  ];
  describe('built-in kinds', () => {
    for (const c of kinds) {
      it(c.name, () => {
        const t = table(c.def, [c.obj]);
        assert.deepEqual(t.names, c.names);
        if (c.wide !== undefined) assert.deepEqual(t.wide, c.wide);
        assert.deepEqual(t.rows, [c.cells]);
      });
    }
  });

  describe('custom resources', () => {
    const crd = (columns: NonNullable<ResourceDef['versions'][number]['printerColumns']>): ResourceDef => ({
      ...def('gateway.networking.k8s.io', 'Gateway', false),
      versions: [{ name: 'v1', served: true, storage: true, printerColumns: columns }],
    });
    const gw = obj('Gateway', 'gw', {
      spec: { gatewayClassName: 'waymesh', listeners: [{ port: 80 }, { port: 443 }] },
      status: {
        addresses: [{ value: '10.96.0.20' }, { value: '10.96.0.21' }],
        conditions: [{ type: 'Programmed', status: 'True' }],
      },
    });

    it('declared columns with JSONPath, Name first, Age appended when no date column', () => {
      const t = toTable(
        crd([
          { name: 'Class', type: 'string', jsonPath: '.spec.gatewayClassName' },
          { name: 'Address', type: 'string', jsonPath: '.status.addresses[*].value' },
          { name: 'Programmed', type: 'string', jsonPath: '.status.conditions[0].status' },
          { name: 'Port', type: 'integer', jsonPath: '.spec.listeners[1].port', priority: 1 },
          { name: 'Missing', type: 'string', jsonPath: '.spec.nothing' },
        ]),
        'v1',
        [gw],
        { includeObject: 'Metadata', now: NOW },
      );
      const cols = t['columnDefinitions'] as JsonObject[];
      assert.deepEqual(
        cols.map((c) => [c['name'], c['type'], c['priority']]),
        [
          ['Name', 'string', 0],
          ['Class', 'string', 0],
          ['Address', 'string', 0],
          ['Programmed', 'string', 0],
          ['Port', 'integer', 1],
          ['Missing', 'string', 0],
          ['Age', 'date', 0],
        ],
      );
      const row = (t['rows'] as JsonObject[])[0] as JsonObject;
      assert.deepEqual(row['cells'], ['gw', 'waymesh', '10.96.0.20,10.96.0.21', 'True', 443, null, '10m']);
      assert.deepEqual(row['object'], {
        kind: 'PartialObjectMetadata',
        apiVersion: 'meta.k8s.io/v1',
        metadata: gw.metadata,
      });
      assert.equal(t['kind'], 'Table');
      assert.equal(t['apiVersion'], 'meta.k8s.io/v1');
    });

    it('a declared date column replaces Age and renders as an age', () => {
      const t = toTable(
        crd([{ name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' }]),
        'v1',
        [gw],
        {
          includeObject: 'Object',
          now: NOW,
        },
      );
      assert.deepEqual(
        (t['columnDefinitions'] as JsonObject[]).map((c) => c['name']),
        ['Name', 'Age'],
      );
      const row = (t['rows'] as JsonObject[])[0] as JsonObject;
      assert.deepEqual(row['cells'], ['gw', '10m']);
      assert.deepEqual(row['object'], gw);
    });

    it('includeObject None omits the object; an unserved version is 404', () => {
      const t = toTable(crd([]), 'v1', [gw], { includeObject: 'None', now: NOW });
      const row = (t['rows'] as JsonObject[])[0] as JsonObject;
      assert.deepEqual(row, { cells: ['gw', '10m'] });
      assert.throws(
        () => toTable(crd([]), 'v9', [gw], { includeObject: 'None', now: NOW }),
        /could not find/,
      );
    });

    it('an unsupported JSONPath is refused', () => {
      assert.throws(
        () =>
          toTable(crd([{ name: 'X', type: 'string', jsonPath: '.spec[?(@.a)]' }]), 'v1', [gw], {
            includeObject: 'None',
            now: NOW,
          }),
        /unsupported JSONPath/,
      );
    });
  });
});

describe('lab/apiserver/table JSONPath filters', () => {
  it('evaluates [?(@.type=="Accepted")] as upstream Gateway API columns use it (regression: kubectl get gc failed with 422)', () => {
    const gc: ResourceDef = {
      ...def('gateway.networking.k8s.io', 'GatewayClass', false),
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          printerColumns: [
            {
              name: 'Accepted',
              type: 'string',
              jsonPath: '.status.conditions[?(@.type=="Accepted")].status',
            },
          ],
        },
      ],
    };
    const conditions = [
      { type: 'Programmed', status: 'False' },
      { type: 'Accepted', status: 'True' },
    ];
    const t = table(gc, [obj('GatewayClass', 'waymesh', { status: { conditions } })]);
    assert.deepEqual(t.rows[0]?.slice(0, 2), ['waymesh', 'True']);
    assert.deepEqual(table(gc, [obj('GatewayClass', 'none')]).rows[0]?.slice(0, 2), ['none', null]);
    assert.throws(() => parseJsonPath('.a[?(@.b =~ "x")]'), /unsupported JSONPath/);
  });
});
