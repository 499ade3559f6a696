// The cluster DNS zone: ClusterIP and headless services, pod names, SRV, PTR, negative answers
// with an SOA, empty AAAA answers and REFUSED outside the zone.
import assert from 'node:assert/strict';
import { describe, it } from 'mocha';

import { CLASS_IN, RCODE, RR, type ResourceRecord } from '../../../../lab/dns/wire.ts';
import { answer, buildZone, ZONE_TTL, type ZoneInput } from '../../../../lab/dns/zone.ts';

const input: ZoneInput = {
  services: [
    {
      namespace: 'demo',
      name: 'echo',
      clusterIP: '10.96.0.20',
      ports: [
        { name: 'http', port: 8080, protocol: 'TCP' },
        { name: 'dns', port: 53, protocol: 'UDP' },
        { port: 9000, protocol: 'TCP' },
      ],
    },
    {
      namespace: 'demo',
      name: 'db',
      clusterIP: 'None',
      ports: [{ name: 'redis', port: 6379, protocol: 'TCP' }],
    },
    { namespace: 'other', name: 'echo', clusterIP: '10.96.0.30', ports: [] },
    { namespace: 'demo', name: 'Bad_Name', clusterIP: '10.96.0.40', ports: [] },
  ],
  endpoints: [
    {
      namespace: 'demo',
      service: 'db',
      addresses: [
        { ip: '10.244.1.7', ready: true, hostname: 'db-0' },
        { ip: '10.244.1.5', ready: false },
      ],
    },
    // A second slice of the same service is merged.
    { namespace: 'demo', service: 'db', addresses: [{ ip: '10.244.2.9', ready: true }] },
    { namespace: 'demo', service: 'echo', addresses: [{ ip: '10.244.1.3', ready: true }] },
  ],
  serial: 77,
};

const zone = buildZone(input);

function ask(name: string, type: number = RR.A): ReturnType<typeof answer> {
  return answer(zone, { name, type, class: CLASS_IN });
}

function data(records: readonly ResourceRecord[]): unknown[] {
  return records.map((r) => r.data);
}

describe('lab/dns/zone', () => {
  it('answers a service FQDN with its ClusterIP, TTL 5, owner as asked', () => {
    const res = ask('Echo.Demo.svc.cluster.local.');
    assert.equal(res.rcode, RCODE.NOERROR);
    assert.deepEqual(data(res.answers), [{ type: 'A', address: '10.96.0.20' }]);
    assert.equal(res.answers[0]?.name, 'Echo.Demo.svc.cluster.local');
    assert.equal(res.answers[0]?.ttl, ZONE_TTL);
    assert.equal(ask('echo.other.svc.cluster.local').answers.length, 1);
  });

  it('answers a headless service with its ready endpoint IPs only, sorted', () => {
    assert.deepEqual(data(ask('db.demo.svc.cluster.local').answers), [
      { type: 'A', address: '10.244.1.7' },
      { type: 'A', address: '10.244.2.9' },
    ]);
    assert.deepEqual(data(ask('db-0.db.demo.svc.cluster.local').answers), [
      { type: 'A', address: '10.244.1.7' },
    ]);
    assert.deepEqual(data(ask('10-244-2-9.db.demo.svc.cluster.local').answers), [
      { type: 'A', address: '10.244.2.9' },
    ]);
    assert.equal(ask('10-244-1-5.db.demo.svc.cluster.local').rcode, RCODE.NXDOMAIN, 'not-ready endpoint');
  });

  it('answers pod names for any dashed IPv4', () => {
    assert.deepEqual(data(ask('10-244-1-3.demo.pod.cluster.local').answers), [
      { type: 'A', address: '10.244.1.3' },
    ]);
    assert.equal(ask('10-244-1-300.demo.pod.cluster.local').rcode, RCODE.NXDOMAIN);
    assert.equal(ask('demo.pod.cluster.local').rcode, RCODE.NOERROR);
  });

  it('answers SRV for named ports with the target address in additional', () => {
    const res = ask('_http._tcp.echo.demo.svc.cluster.local', RR.SRV);
    assert.deepEqual(data(res.answers), [
      { type: 'SRV', priority: 0, weight: 100, port: 8080, target: 'echo.demo.svc.cluster.local' },
    ]);
    assert.deepEqual(data(res.additional), [{ type: 'A', address: '10.96.0.20' }]);
    assert.equal(ask('_dns._udp.echo.demo.svc.cluster.local', RR.SRV).answers.length, 1);
    assert.equal(ask('_dns._tcp.echo.demo.svc.cluster.local', RR.SRV).rcode, RCODE.NXDOMAIN);
    const headless = ask('_redis._tcp.db.demo.svc.cluster.local', RR.SRV);
    assert.deepEqual(
      headless.answers.map((r) => (r.data.type === 'SRV' ? `${r.data.target}:${r.data.port}` : '')),
      ['10-244-2-9.db.demo.svc.cluster.local:6379', 'db-0.db.demo.svc.cluster.local:6379'],
    );
  });

  it('answers PTR for ClusterIPs and endpoint IPs', () => {
    assert.deepEqual(data(ask('20.0.96.10.in-addr.arpa', RR.PTR).answers), [
      { type: 'PTR', target: 'echo.demo.svc.cluster.local' },
    ]);
    assert.deepEqual(data(ask('7.1.244.10.in-addr.arpa', RR.PTR).answers), [
      { type: 'PTR', target: 'db-0.db.demo.svc.cluster.local' },
    ]);
    assert.deepEqual(data(ask('3.1.244.10.in-addr.arpa', RR.PTR).answers), [
      { type: 'PTR', target: '10-244-1-3.echo.demo.svc.cluster.local' },
    ]);
    const unknown = ask('9.9.9.9.in-addr.arpa', RR.PTR);
    assert.equal(unknown.rcode, RCODE.NXDOMAIN);
    assert.equal(unknown.authority[0]?.name, 'in-addr.arpa');
  });

  it('answers NXDOMAIN with the SOA for names that do not exist', () => {
    for (const name of [
      'nope.demo.svc.cluster.local',
      'echo.demo.svc.cluster.local.demo.svc.cluster.local',
      'x.cluster.local',
    ]) {
      const res = ask(name);
      assert.equal(res.rcode, RCODE.NXDOMAIN, name);
      assert.equal(res.answers.length, 0);
      assert.equal(res.authority[0]?.data.type, 'SOA');
      assert.equal(res.authority[0]?.name, 'cluster.local');
      const soa = res.authority[0]?.data;
      assert.ok(soa?.type === 'SOA' && soa.minimum === ZONE_TTL && soa.serial === 77);
    }
  });

  it('answers NOERROR with no records (and the SOA) for AAAA and empty non-terminals', () => {
    for (const [name, type] of [
      ['echo.demo.svc.cluster.local', RR.AAAA],
      ['demo.svc.cluster.local', RR.A],
      ['svc.cluster.local', RR.A],
      ['_tcp.echo.demo.svc.cluster.local', RR.SRV],
      ['echo.demo.svc.cluster.local', 16],
    ] as const) {
      const res = ask(name, type);
      assert.equal(res.rcode, RCODE.NOERROR, name);
      assert.equal(res.answers.length, 0, name);
      assert.equal(res.authority[0]?.data.type, 'SOA', name);
    }
  });

  it('answers SOA at the apex', () => {
    const res = ask('cluster.local', RR.SOA);
    assert.equal(res.answers[0]?.data.type, 'SOA');
    assert.equal(res.authority.length, 0);
  });

  it('answers ANY with every record of the name', () => {
    assert.deepEqual(data(ask('echo.demo.svc.cluster.local', RR.ANY).answers), [
      { type: 'A', address: '10.96.0.20' },
    ]);
  });

  it('refuses names outside the zone and other classes: the lab never forwards', () => {
    for (const name of ['example.com', 'echo', 'echo.demo', 'local', 'notcluster.local', '']) {
      const res = ask(name);
      assert.equal(res.rcode, RCODE.REFUSED, name);
      assert.equal(res.authority.length, 0);
    }
    assert.equal(
      answer(zone, { name: 'echo.demo.svc.cluster.local', type: RR.A, class: 3 }).rcode,
      RCODE.REFUSED,
    );
  });

  it('leaves out services whose names are not DNS labels, and says so', () => {
    assert.deepEqual(zone.skipped, ['demo/Bad_Name']);
    assert.equal(ask('bad_name.demo.svc.cluster.local').rcode, RCODE.NXDOMAIN);
  });

  it('keeps a service with no address as NODATA, not NXDOMAIN', () => {
    const z = buildZone({
      services: [{ namespace: 'a', name: 'h', clusterIP: 'None', ports: [] }],
      endpoints: [],
    });
    const res = answer(z, { name: 'h.a.svc.cluster.local', type: RR.A, class: CLASS_IN });
    assert.equal(res.rcode, RCODE.NOERROR);
    assert.equal(res.answers.length, 0);
  });

  it('serves another cluster domain', () => {
    const z = buildZone({ ...input, domain: 'lab.example.' });
    assert.equal(
      answer(z, { name: 'echo.demo.svc.lab.example', type: RR.A, class: CLASS_IN }).answers.length,
      1,
    );
    assert.equal(
      answer(z, { name: 'echo.demo.svc.cluster.local', type: RR.A, class: CLASS_IN }).rcode,
      RCODE.REFUSED,
    );
  });

  it('is deterministic and frozen', () => {
    const again = buildZone({
      ...input,
      services: [...input.services].reverse(),
      endpoints: [...input.endpoints].reverse(),
    });
    assert.deepEqual([...again.entries], [...zone.entries]);
    assert.ok(Object.isFrozen(zone));
  });
});
