// Passive endpoint health shared by the node agent and the waypoint (common/endpoint-health.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'mocha';

import { EndpointHealth } from '../../../common/endpoint-health.ts';

describe('common endpoint health', () => {
  it('skips a failed endpoint for 2 s, doubling on each further failure up to 30 s', () => {
    let now = 1_000_000;
    const h = new EndpointHealth({ now: () => now });
    h.failed('a');
    assert.equal(h.skipped('a'), true);
    now += 1_999;
    assert.equal(h.skipped('a'), true);
    now += 1;
    assert.equal(h.skipped('a'), false);
    h.failed('a');
    now += 3_999;
    assert.equal(h.skipped('a'), true, 'second failure: 4 s');
    now += 1;
    assert.equal(h.skipped('a'), false);
    for (let i = 0; i < 10; i++) h.failed('a');
    now += 29_999;
    assert.equal(h.skipped('a'), true, 'capped at 30 s');
    now += 1;
    assert.equal(h.skipped('a'), false);
  });

  it('a success clears the endpoint; a long healthy spell resets its failure count', () => {
    let now = 0;
    const h = new EndpointHealth({ now: () => now });
    h.failed('a');
    h.failed('a');
    h.succeeded('a');
    assert.equal(h.skipped('a'), false);
    assert.equal(h.size, 0);
    h.failed('b');
    h.failed('b');
    now += 4_000 + 30_001;
    h.failed('c'); // forgets b, whose skip ended more than 30 s ago
    assert.equal(h.size, 1);
    h.failed('b');
    now += 2_000;
    assert.equal(h.skipped('b'), false, 'b starts again at 2 s');
  });
});
