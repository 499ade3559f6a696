// The waypoint's L4 passthrough of `tcp` ports (waypoint/server.ts `openPassthrough`): the HTTP
// engine's picker chooses (least loaded, ejected endpoints skipped), a connection counts until it
// is released, and a tunnel that cannot be opened fails over like a request does.
import assert from 'node:assert/strict';
import { PassThrough, type Duplex } from 'node:stream';
import { describe, it } from 'mocha';

import { MeshError } from '../../../common/errors.ts';
import { HboneRefusedError } from '../../../common/hbone/index.ts';
import type { MeshService } from '../../../common/ir/mesh.ts';
import { EndpointPicker } from '../../../waypoint/http/endpoints.ts';
import type { UpstreamEndpoint } from '../../../waypoint/http/index.ts';
import { openPassthrough, type Passthrough } from '../../../waypoint/server.ts';

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
const services = new Map([[svc.key, svc]]);

/** A picker that keeps the first of tied endpoints (reservoir sampling with random() = 0.99). */
function newPicker(): EndpointPicker {
  return new EndpointPicker(() => 0.99);
}

/** Connects to every endpoint except those in `failures`, which reject with their error. */
function connector(failures: ReadonlyMap<string, Error> = new Map()) {
  const tried: string[] = [];
  const connect = (ep: UpstreamEndpoint): Promise<Duplex> => {
    tried.push(ep.ip);
    const err = failures.get(ep.ip);
    return err === undefined ? Promise.resolve(new PassThrough()) : Promise.reject(err);
  };
  return { tried, connect };
}

function open(picker: EndpointPicker, connect: (ep: UpstreamEndpoint) => Promise<Duplex>, gone = false) {
  return openPassthrough(picker, services, 'ns/db', 5432, connect, () => gone);
}

function endpointOf(p: Passthrough): UpstreamEndpoint {
  if ('refused' in p) throw new Error(`refused: ${p.refused}`);
  return p.endpoint;
}

const unreachable = (): MeshError => new MeshError('HBONE_CONNECT_FAILED', 'connect ECONNREFUSED');

describe('waypoint L4 passthrough', () => {
  it('chooses the least loaded ready endpoint serving the port; a connection counts until released', async () => {
    const picker = newPicker();
    const { connect } = connector();
    const first = endpointOf(await open(picker, connect));
    assert.deepEqual(first, {
      ip: '10.0.0.1',
      port: 15432,
      workloadUid: 'a',
      service: 'ns/db',
      servicePort: 5432,
    });
    assert.equal(endpointOf(await open(picker, connect)).ip, '10.0.0.3');
    assert.deepEqual(picker.snapshot(), { '10.0.0.1:15432': 1, '10.0.0.3:15432': 1 });
    picker.release(first);
    assert.equal(endpointOf(await open(picker, connect)).ip, '10.0.0.1');
  });

  it('fails over when a tunnel cannot be opened, ejects the unreachable endpoint and releases it', async () => {
    const picker = newPicker();
    const down = connector(new Map([['10.0.0.1', unreachable()]]));
    const p = await open(picker, down.connect);
    assert.equal(endpointOf(p).ip, '10.0.0.3');
    assert.deepEqual(down.tried, ['10.0.0.1', '10.0.0.3']);
    assert.deepEqual(picker.snapshot(), { '10.0.0.3:15432': 1 });
    // 10.0.0.1 carries nothing but is ejected: the next connection goes to the loaded one.
    const up = connector();
    assert.equal(endpointOf(await open(picker, up.connect)).ip, '10.0.0.3');
    assert.deepEqual(up.tried, ['10.0.0.3']);
  });

  it("fails over without ejecting when the peer's agent answers 503", async () => {
    const picker = newPicker();
    const refusing = connector(new Map([['10.0.0.1', new HboneRefusedError(503, 'no listener', 'x')]]));
    assert.equal(endpointOf(await open(picker, refusing.connect)).ip, '10.0.0.3');
    const up = connector();
    assert.equal(endpointOf(await open(picker, up.connect)).ip, '10.0.0.1');
  });

  it('refuses with the reason when every endpoint fails, and releases them all', async () => {
    const picker = newPicker();
    const down = connector(
      new Map([
        ['10.0.0.1', unreachable()],
        ['10.0.0.3', unreachable()],
      ]),
    );
    const p = await open(picker, down.connect);
    assert.ok('refused' in p);
    assert.match(p.refused, /cannot reach 10\.0\.0\.3:15432 of ns\/db: .*ECONNREFUSED/);
    assert.deepEqual(down.tried, ['10.0.0.1', '10.0.0.3']);
    assert.deepEqual(picker.snapshot(), {});
  });

  it('does not fail over a final refusal (403) or for a client that is gone', async () => {
    const denied = connector(new Map([['10.0.0.1', new HboneRefusedError(403, 'denied', 'x')]]));
    const p = await open(newPicker(), denied.connect);
    assert.ok('refused' in p);
    assert.deepEqual(denied.tried, ['10.0.0.1']);
    const down = connector(new Map([['10.0.0.1', unreachable()]]));
    assert.ok('refused' in (await open(newPicker(), down.connect, true)));
    assert.deepEqual(down.tried, ['10.0.0.1']);
  });

  it('refuses when no ready endpoint serves the port', async () => {
    const picker = newPicker();
    const p = await openPassthrough(picker, services, 'ns/other', 5432, connector().connect, () => false);
    assert.deepEqual(p, { refused: 'service ns/other port 5432 has no ready endpoint' });
  });
});
