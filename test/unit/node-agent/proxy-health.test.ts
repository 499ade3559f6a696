import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import type { Workload } from '../../../common/ir/index.ts';
import { EndpointHealth } from '../../../common/endpoint-health.ts';
import { healthyPicker } from '../../../node-agent/proxy/health.ts';
import type { EndpointPicker, ResolvedEndpoint } from '../../../node-agent/state/index.ts';

function endpoint(uid: string): ResolvedEndpoint {
  const workload = { uid, name: uid } as Workload;
  return {
    workload,
    ip: '10.0.0.1',
    targetPort: 80,
    ready: true,
    authority: '10.0.0.1:80',
    hbone: { ip: '10.0.0.1', port: 15008 },
  };
}

/** Takes the first offered endpoint and records the offers. */
function first(): EndpointPicker & { offered: string[][] } {
  const offered: string[][] = [];
  return {
    offered,
    pick(ready) {
      offered.push(ready.map((e) => e.workload.uid));
      return ready[0];
    },
  };
}

describe('node-agent/proxy endpoint health', () => {
  const A = endpoint('a');
  const B = endpoint('b');
  const C = endpoint('c');

  it('offers every endpoint while none is skipped', () => {
    const base = first();
    const picked = healthyPicker(base, new EndpointHealth()).pick([A, B, C]);
    assert.equal(picked, A);
    assert.deepEqual(base.offered, [['a', 'b', 'c']]);
  });

  it('leaves out skipped endpoints, or offers all when every one is skipped', () => {
    const h = new EndpointHealth();
    const base = first();
    const picker = healthyPicker(base, h);
    h.failed('a');
    assert.equal(picker.pick([A, B, C]), B);
    h.failed('b');
    h.failed('c');
    assert.equal(picker.pick([A, B, C]), A);
    assert.deepEqual(base.offered, [
      ['b', 'c'],
      ['a', 'b', 'c'],
    ]);
  });

  it('never offers what the connection already tried, and declines when nothing is left', () => {
    const h = new EndpointHealth();
    const base = first();
    const tried = new Set(['a']);
    const picker = healthyPicker(base, h, tried);
    h.failed('b');
    assert.equal(picker.pick([A, B]), B, 'b is skipped, but it is all that is left');
    tried.add('b');
    assert.equal(picker.pick([A, B]), undefined);
    assert.deepEqual(base.offered, [['b']]);
  });
});
