// The waypoint's L4 passthrough endpoint choice (waypoint/server.ts): uniform among the ready
// endpoints serving the port, never one whose tunnel already failed for this connection.
import assert from 'node:assert/strict';
import { describe, it } from 'mocha';

import type { MeshService } from '../../../common/ir/mesh.ts';
import type { TargetEntry } from '../../../waypoint/program/config.ts';
import { pickEndpoint } from '../../../waypoint/server.ts';

const svc: MeshService = {
  key: 'ns/db',
  namespace: 'ns',
  name: 'db',
  clusterIPs: ['10.96.0.9'],
  ports: [{ name: 'tcp', port: 5432, protocol: 'TCP', appProtocol: 'tcp' }],
  endpoints: [
    { workloadUid: 'a', ip: '10.0.0.1', node: 'n', ready: true, ports: { 5432: 15432 } },
    { workloadUid: 'b', ip: '10.0.0.2', node: 'n', ready: false, ports: { 5432: 15432 } },
    { workloadUid: 'c', ip: '10.0.0.3', node: 'n', ready: true, ports: { 5432: 15432 } },
    { workloadUid: 'd', ip: '10.0.0.4', node: 'n', ready: true, ports: {} },
  ],
  source: { group: '', kind: 'Service', namespace: 'ns', name: 'db' },
};
const entry: TargetEntry = {
  service: svc,
  port: { name: 'tcp', port: 5432, protocol: 'TCP', appProtocol: 'tcp' },
  bound: true,
};

describe('waypoint L4 passthrough endpoint choice', () => {
  it('chooses uniformly among the ready endpoints serving the port', () => {
    assert.deepEqual(
      pickEndpoint(entry, () => 0),
      {
        ip: '10.0.0.1',
        port: 15432,
        workloadUid: 'a',
        service: 'ns/db',
        servicePort: 5432,
      },
    );
    assert.equal(pickEndpoint(entry, () => 0.99)?.ip, '10.0.0.3');
  });
  it('never chooses an endpoint to avoid, and declines when none is left', () => {
    assert.equal(pickEndpoint(entry, () => 0, new Set(['10.0.0.1']))?.ip, '10.0.0.3');
    assert.equal(
      pickEndpoint(entry, () => 0, new Set(['10.0.0.1', '10.0.0.3'])),
      undefined,
    );
  });
});
