// One request → one response: flags, EDNS0 echo, UDP truncation, FORMERR/NOTIMP/BADVERS,
// SERVFAIL before the first sync, and requests that are dropped.
import assert from 'node:assert/strict';
import { describe, it } from 'mocha';

import { handleQuery, SERVER_UDP_PAYLOAD } from '../../../../lab/dns/query.ts';
import {
  CLASS_IN,
  decodeMessage,
  encodeMessage,
  RCODE,
  RR,
  type DnsMessage,
  type Edns,
} from '../../../../lab/dns/wire.ts';
import { buildZone } from '../../../../lab/dns/zone.ts';

const zone = buildZone({
  services: [
    { namespace: 'demo', name: 'echo', clusterIP: '10.96.0.20', ports: [] },
    { namespace: 'demo', name: 'wide', clusterIP: 'None', ports: [] },
  ],
  endpoints: [
    {
      namespace: 'demo',
      service: 'wide',
      addresses: Array.from({ length: 100 }, (_, i) => ({ ip: `10.244.0.${i + 1}`, ready: true })),
    },
  ],
});

function query(name: string, type: number = RR.A, extra: { edns?: Edns; opcode?: number } = {}): Uint8Array {
  const msg: DnsMessage = {
    id: 4242,
    flags: { qr: false, opcode: extra.opcode ?? 0, aa: false, tc: false, rd: true, ra: false, rcode: 0 },
    questions: [{ name, type, class: CLASS_IN }],
    answers: [],
    authority: [],
    additional: [],
    ...(extra.edns === undefined ? {} : { edns: extra.edns }),
  };
  return encodeMessage(msg);
}

function respond(request: Uint8Array, transport: 'udp' | 'tcp' = 'udp', z = zone): DnsMessage {
  const { response } = handleQuery(z, request, transport);
  assert.ok(response !== undefined, 'expected a response');
  return decodeMessage(response);
}

const edns = (udpPayloadSize: number, version = 0): Edns => ({
  udpPayloadSize,
  extendedRcode: 0,
  version,
  dnssecOk: false,
});

describe('lab/dns/query', () => {
  it('answers authoritatively without recursion, keeping id, RD and the question', () => {
    const res = respond(query('echo.demo.svc.cluster.local'));
    assert.equal(res.id, 4242);
    assert.deepEqual(res.flags, { qr: true, opcode: 0, aa: true, tc: false, rd: true, ra: false, rcode: 0 });
    assert.deepEqual(res.questions, [{ name: 'echo.demo.svc.cluster.local', type: RR.A, class: CLASS_IN }]);
    assert.equal(res.answers.length, 1);
    assert.equal(res.edns, undefined, 'no OPT unless the query had one');
  });

  it('echoes EDNS0 with the server payload size', () => {
    const res = respond(query('echo.demo.svc.cluster.local', RR.A, { edns: edns(1232) }));
    assert.equal(res.edns?.udpPayloadSize, SERVER_UDP_PAYLOAD);
    assert.equal(res.edns?.version, 0);
  });

  it('truncates UDP answers to 512 bytes without EDNS, to the payload size with it, never over TCP', () => {
    const plain = respond(query('wide.demo.svc.cluster.local'));
    assert.equal(plain.flags.tc, true);
    assert.equal(plain.answers.length, 0);
    const big = respond(query('wide.demo.svc.cluster.local', RR.A, { edns: edns(4096) }));
    assert.equal(big.flags.tc, false);
    assert.equal(big.answers.length, 100);
    const tcp = respond(query('wide.demo.svc.cluster.local'), 'tcp');
    assert.equal(tcp.flags.tc, false);
    assert.equal(tcp.answers.length, 100);
    assert.equal(handleQuery(zone, query('wide.demo.svc.cluster.local'), 'udp').summary.truncated, true);
  });

  it('answers SERVFAIL before the first sync', () => {
    const { response, summary } = handleQuery(undefined, query('echo.demo.svc.cluster.local'), 'udp');
    assert.equal(decodeMessage(response!).flags.rcode, RCODE.SERVFAIL);
    assert.match(summary.problem ?? '', /not synced/);
  });

  it('answers REFUSED, not authoritative, outside the zone', () => {
    const res = respond(query('example.com'));
    assert.equal(res.flags.rcode, RCODE.REFUSED);
    assert.equal(res.flags.aa, false);
  });

  it('answers NXDOMAIN with the SOA in authority', () => {
    const res = respond(query('nope.demo.svc.cluster.local'));
    assert.equal(res.flags.rcode, RCODE.NXDOMAIN);
    assert.equal(res.authority[0]?.data.type, 'SOA');
  });

  it('answers FORMERR to a malformed query, keeping its id', () => {
    const bad = Uint8Array.from([0x01, 0x02, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
    const { response, summary } = handleQuery(zone, bad, 'udp');
    const res = decodeMessage(response!);
    assert.equal(res.id, 0x0102);
    assert.equal(res.flags.rcode, RCODE.FORMERR);
    assert.equal(res.questions.length, 0);
    assert.match(summary.problem ?? '', /point backwards/);
  });

  it('answers FORMERR to zero or several questions', () => {
    const none = encodeMessage({ ...decodeMessage(query('a.cluster.local')), questions: [] });
    assert.equal(respond(none).flags.rcode, RCODE.FORMERR);
    const two = decodeMessage(query('a.cluster.local'));
    assert.equal(
      respond(encodeMessage({ ...two, questions: [...two.questions, ...two.questions] })).flags.rcode,
      RCODE.FORMERR,
    );
  });

  it('answers NOTIMP to other opcodes and BADVERS to EDNS versions above 0', () => {
    assert.equal(
      respond(query('echo.demo.svc.cluster.local', RR.A, { opcode: 2 })).flags.rcode,
      RCODE.NOTIMP,
    );
    const res = respond(query('echo.demo.svc.cluster.local', RR.A, { edns: edns(1232, 1) }));
    assert.equal(res.flags.rcode, RCODE.BADVERS);
    assert.equal(res.edns?.version, 0);
  });

  it('drops responses and fragments shorter than a header', () => {
    const asResponse = query('echo.demo.svc.cluster.local');
    asResponse[2] = asResponse[2]! | 0x80;
    assert.equal(handleQuery(zone, asResponse, 'udp').response, undefined);
    assert.equal(handleQuery(zone, Uint8Array.from([1, 2, 3]), 'udp').response, undefined);
  });
});
