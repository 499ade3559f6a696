import assert from 'node:assert/strict';

import { buildReport, MAX_REPORTED_PROXIES } from '../../../controller/xds/report.ts';
import type { ProxyStatus } from '../../../controller/xds/state.ts';

const proxy = (name: string, extra: Partial<ProxyStatus> = {}): ProxyStatus => ({
  kind: 'node',
  name,
  streams: 1,
  current: 'v2',
  lastSent: 'v2',
  lastAcked: 'v2',
  ackCount: 1,
  nackCount: 0,
  ...extra,
});

describe('controller/xds buildReport', () => {
  it('lists every proxy when they fit', () => {
    const r = buildReport('c-0', [proxy('a'), proxy('b')]);
    assert.equal(r.total, 2);
    assert.deepEqual(
      r.proxies.map((p) => p.name),
      ['a', 'b'],
    );
  });

  it('keeps NACKing, then unacknowledged proxies first when the list is cut', () => {
    const many = Array.from({ length: MAX_REPORTED_PROXIES + 10 }, (_, i) =>
      proxy(`n${String(i).padStart(4, '0')}`),
    );
    const nack = proxy('zz-nack', { lastNack: { version: 'v2', error: 'bad regex' }, nackCount: 1 });
    const stale = proxy('zz-stale', { lastAcked: 'v1' });
    const r = buildReport('c-0', [...many, stale, nack]);
    assert.equal(r.total, MAX_REPORTED_PROXIES + 12);
    assert.equal(r.proxies.length, MAX_REPORTED_PROXIES);
    assert.deepEqual(
      r.proxies.slice(0, 2).map((p) => p.name),
      ['zz-nack', 'zz-stale'],
    );
  });
});
