import assert from 'node:assert/strict';

import { renderStatus, type PodView } from '../../../cli/status.ts';

const pod = (name: string, report?: object): PodView => ({
  name,
  node: 'n1',
  ready: true,
  phase: 'Running',
  image: 'waymesh/controller:0.1.0',
  annotations: report === undefined ? {} : { 'waymesh.io/proxy-status': JSON.stringify(report) },
});

describe('cli waymesh status renderStatus', () => {
  it('marks the leader, merges replicas and shows a NACK with its error', () => {
    const base = { streams: 1, ackCount: 1, nackCount: 0 };
    const lines = renderStatus({
      controllers: [
        pod('c-a', {
          replica: 'c-a',
          total: 1,
          proxies: [
            {
              kind: 'node',
              name: 'n1',
              current: 'v2aaaaaaaaaaaaa',
              lastSent: 'v2aaaaaaaaaaaaa',
              lastAcked: 'v2aaaaaaaaaaaaa',
              ...base,
            },
          ],
        }),
        pod('c-b', {
          replica: 'c-b',
          total: 1,
          proxies: [
            {
              kind: 'waypoint',
              name: 'shop/wp',
              current: 'v9',
              lastSent: 'v9',
              lastAcked: 'v8',
              lastNack: { version: 'v9', error: 'invalid regex' },
              ...base,
              nackCount: 1,
            },
          ],
        }),
      ],
      leader: 'c-b',
      agents: [],
      waypoints: [
        { namespace: 'shop', name: 'wp', programmed: 'True', reason: 'Programmed', address: '10.96.0.9' },
      ],
    });
    const text = lines.join('\n');
    assert.match(text, /controller\s+2\/2\s+c-a, c-b \(leader\)/);
    assert.match(text, /node-agent\s+0\/0\s+not installed/);
    assert.match(text, /shop\/wp\s+True\s+10\.96\.0\.9/);
    assert.match(text, /node\/n1\s+1\s+v2aaaaaaaaaa\s+v2aaaaaaaaaa\s+v2aaaaaaaaaa\s+SYNCED\s+c-a/);
    assert.match(text, /waypoint\/shop\/wp\s+1\s+v9\s+v9\s+v8\s+NACK\s+c-b/);
    assert.match(text, /waypoint\/shop\/wp rejected v9: invalid regex/);
  });

  it('says when nothing is connected', () => {
    const text = renderStatus({ controllers: [pod('c-a')], leader: 'c-a', agents: [], waypoints: [] }).join(
      '\n',
    );
    assert.match(text, /proxies: none connected/);
    assert.match(text, /waypoints: none/);
  });
});
