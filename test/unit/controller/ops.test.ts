import assert from 'node:assert/strict';

import { controllerMetrics } from '../../../controller/ops.ts';
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

describe('controller/ops controllerMetrics', () => {
  it('counts proxies by sync state at scrape time and reports leadership and NACKs', () => {
    let proxies: ProxyStatus[] = [
      proxy('a'),
      proxy('b', { lastAcked: 'v1' }),
      proxy('c', { lastNack: { version: 'v2', error: 'bad' }, nackCount: 2 }),
      proxy('d', { streams: 0 }),
    ];
    let leading = false;
    const m = controllerMetrics({ proxies: () => proxies, leading: () => leading, ready: () => true });
    let text = m.registry.render();
    assert.match(text, /^waymesh_controller_leader 0$/m);
    for (const sync of ['synced', 'stale', 'nack', 'disconnected'])
      assert.match(text, new RegExp(`^waymesh_controller_proxies\\{kind="node",sync="${sync}"\\} 1$`, 'm'));
    assert.match(text, /^waymesh_config_rejected\{kind="node"\} 2$/m);
    proxies = [proxy('a')];
    leading = true;
    text = m.registry.render();
    assert.match(text, /^waymesh_controller_leader 1$/m);
    assert.doesNotMatch(text, /sync="stale"/, 'series of states no proxy is in any more disappear');
  });
});
