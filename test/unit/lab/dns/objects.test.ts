// Services and EndpointSlices from the API → zone input: ready conditions, hostnames, the
// service-name label, and objects the zone leaves out.
import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';

import {
  SERVICE_NAME_LABEL,
  zoneEndpoints,
  zoneFromObjects,
  zoneService,
} from '../../../../lab/dns/objects.ts';
import { CLASS_IN, RCODE, RR } from '../../../../lab/dns/wire.ts';
import { answer } from '../../../../lab/dns/zone.ts';

const echo: V1Service = {
  metadata: { name: 'echo', namespace: 'demo' },
  spec: {
    clusterIP: '10.96.0.20',
    ports: [
      { name: 'http', port: 80, protocol: 'TCP' },
      { port: 53, protocol: 'UDP' },
    ],
  },
};

function slice(
  name: string,
  service: string | undefined,
  endpoints: V1EndpointSlice['endpoints'],
): V1EndpointSlice {
  return {
    addressType: 'IPv4',
    metadata: {
      name,
      namespace: 'demo',
      ...(service === undefined ? {} : { labels: { [SERVICE_NAME_LABEL]: service } }),
    },
    endpoints,
  };
}

describe('lab/dns/objects', () => {
  it('maps a Service to its name, ClusterIP and ports', () => {
    assert.deepEqual(zoneService(echo), {
      namespace: 'demo',
      name: 'echo',
      clusterIP: '10.96.0.20',
      ports: [
        { name: 'http', port: 80, protocol: 'TCP' },
        { port: 53, protocol: 'UDP' },
      ],
    });
    assert.equal(zoneService({ metadata: { name: 'x' }, spec: {} }), undefined, 'no namespace');
    assert.equal(
      zoneService({
        metadata: { name: 'x', namespace: 'demo' },
        spec: { type: 'ExternalName', externalName: 'a.b' },
      }),
      undefined,
    );
  });

  it('maps an EndpointSlice: ready unless conditions.ready is false, hostnames kept', () => {
    const s = slice('db-abc', 'db', [
      { addresses: ['10.244.1.7'], hostname: 'db-0', conditions: { ready: true } },
      { addresses: ['10.244.1.8'], conditions: { ready: false } },
      { addresses: ['10.244.1.9'] },
    ]);
    assert.deepEqual(zoneEndpoints(s), {
      namespace: 'demo',
      service: 'db',
      addresses: [
        { ip: '10.244.1.7', ready: true, hostname: 'db-0' },
        { ip: '10.244.1.8', ready: false },
        { ip: '10.244.1.9', ready: true },
      ],
    });
    assert.equal(zoneEndpoints(slice('orphan', undefined, [])), undefined, 'no service-name label');
    assert.equal(zoneEndpoints({ ...s, addressType: 'IPv6' }), undefined);
  });

  it('builds a zone where a headless service resolves to its ready slice endpoints', () => {
    const db: V1Service = { metadata: { name: 'db', namespace: 'demo' }, spec: { clusterIP: 'None' } };
    const zone = zoneFromObjects(
      [echo, db],
      [
        slice('db-1', 'db', [{ addresses: ['10.244.1.7'], conditions: { ready: true } }]),
        slice('db-2', 'db', [{ addresses: ['10.244.2.7'], conditions: { ready: false } }]),
      ],
      { serial: 9 },
    );
    const res = answer(zone, { name: 'db.demo.svc.cluster.local', type: RR.A, class: CLASS_IN });
    assert.deepEqual(
      res.answers.map((r) => r.data),
      [{ type: 'A', address: '10.244.1.7' }],
    );
    assert.equal(
      answer(zone, { name: 'echo.demo.svc.cluster.local', type: RR.A, class: CLASS_IN }).rcode,
      RCODE.NOERROR,
    );
    assert.equal(zone.serial, 9);
  });
});
