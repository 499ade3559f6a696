import assert from 'node:assert/strict';

import { main } from '../../../cli/main.ts';
import {
  formatConditions,
  renderWaypointList,
  usersOf,
  waypointGateway,
  waypointOf,
  type GatewayView,
  type LabelledView,
} from '../../../cli/waypoint-view.ts';

const gw = (
  namespace: string,
  name: string,
  programmed?: string,
  address?: string,
  className = 'waymesh-waypoint',
): GatewayView => ({
  namespace,
  name,
  className,
  conditions: programmed === undefined ? [] : [{ type: 'Programmed', status: programmed, reason: 'x' }],
  addresses: address === undefined ? [] : [address],
});
const user = (
  kind: LabelledView['kind'],
  namespace: string,
  name: string,
  labels: Record<string, string>,
): LabelledView => ({
  kind,
  namespace,
  name,
  labels,
});

describe('cli waymesh waypoint', () => {
  it('builds the waypoint Gateway of DESIGN.md §2', () => {
    assert.deepEqual(waypointGateway('demo', 'wp'), {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'wp', namespace: 'demo' },
      spec: {
        gatewayClassName: 'waymesh-waypoint',
        listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }],
      },
    });
  });

  it('resolves which waypoint a Namespace or Service uses, including another namespace’s', () => {
    assert.equal(
      waypointOf(user('Namespace', 'demo', 'demo', { 'waymesh.io/use-waypoint': 'wp' })),
      'demo/wp',
    );
    assert.equal(
      waypointOf(
        user('Service', 'shop', 'cart', {
          'waymesh.io/use-waypoint': 'wp',
          'waymesh.io/use-waypoint-namespace': 'infra',
        }),
      ),
      'infra/wp',
    );
    assert.equal(
      waypointOf(user('Service', 'shop', 'cart', { 'waymesh.io/use-waypoint': 'none' })),
      undefined,
    );
    assert.equal(waypointOf(user('Service', 'shop', 'cart', {})), undefined);
    const users = [
      user('Namespace', 'demo', 'demo', { 'waymesh.io/use-waypoint': 'wp' }),
      user('Service', 'demo', 'echo', { 'waymesh.io/use-waypoint': 'other' }),
      user('Service', 'shop', 'cart', {
        'waymesh.io/use-waypoint': 'wp',
        'waymesh.io/use-waypoint-namespace': 'demo',
      }),
    ];
    assert.deepEqual(
      usersOf(users, 'demo', 'wp').map((u) => `${u.kind}/${u.namespace}/${u.name}`),
      ['Namespace/demo/demo', 'Service/shop/cart'],
    );
  });

  it('lists only waymesh waypoints, sorted, with status, address and users', () => {
    const lines = renderWaypointList(
      [
        gw('shop', 'wp', 'False'),
        gw('demo', 'wp', 'True', '10.96.0.20'),
        gw('demo', 'edge', 'True', '1.2.3.4', 'istio'),
      ],
      [
        user('Namespace', 'demo', 'demo', { 'waymesh.io/use-waypoint': 'wp' }),
        user('Service', 'demo', 'echo', { 'waymesh.io/use-waypoint': 'wp' }),
      ],
    );
    assert.deepEqual(lines, [
      'NAMESPACE  NAME  PROGRAMMED  ADDRESS     USED-BY',
      'demo       wp    True        10.96.0.20  namespace/demo, service/demo/echo',
      'shop       wp    False       -           -',
    ]);
    assert.deepEqual(renderWaypointList([gw('demo', 'edge', 'True', undefined, 'other')], []), [
      'No waypoints found.',
    ]);
    assert.match(renderWaypointList([gw('a', 'b')], [])[1] ?? '', /^a\s+b\s+Unknown\s/);
  });

  it('formats conditions for a --wait timeout, or says none were written', () => {
    assert.equal(
      formatConditions([
        { type: 'Programmed', status: 'False', reason: 'Pending', message: 'waiting for pods' },
      ]),
      '  Programmed=False (Pending): waiting for pods',
    );
    assert.match(formatConditions([]), /is the waymesh controller running\?/);
  });

  const usage = [
    [['waypoint'], /missing subcommand \(apply, list, delete\)/],
    [['waypoint', 'show'], /unknown subcommand show/],
    [['waypoint', 'apply', '--name', 'Bad_Name'], /not a DNS-1035 label/],
    [['waypoint', 'apply', 'wp'], /unexpected argument wp \(use --name\)/],
    [['waypoint', 'apply', '-x'], /unknown flag -x/],
    [['waypoint', 'apply', '--timeout', 'soon'], /invalid duration/],
    [['waypoint', 'list', '-n', 'a', '-A'], /-n and -A are exclusive/],
    [['waypoint', 'delete'], /missing waypoint NAME/],
    [['waypoint', 'delete', 'a', 'b'], /unexpected argument b/],
    [['waypoint', 'delete', '-n'], /flag -n needs a value/],
  ] as const;
  for (const [argv, message] of usage)
    it(`exits 2 for ${argv.join(' ')}`, async () => {
      const err: string[] = [];
      const code = await main(argv, { out: () => undefined, err: (t) => err.push(t) });
      assert.equal(code, 2, err.join('\n'));
      assert.match(err.join('\n'), message);
    });
});
