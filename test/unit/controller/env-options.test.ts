import assert from 'node:assert/strict';
import { KubeConfig } from '@kubernetes/client-node';
import { describe, it } from 'mocha';

import { silentLogger } from '../../../common/log.ts';
import { CA_RELOAD_MS } from '../../../controller/app.ts';
import { optionsFromEnv } from '../../../controller/env-options.ts';

const BASE = { WAYMESH_WAYPOINT_IMAGE: 'waymesh/waypoint:1', POD_NAME: 'controller-0' };
const read = (env: Record<string, string>): ReturnType<typeof optionsFromEnv> =>
  optionsFromEnv({ ...BASE, ...env }, new KubeConfig(), silentLogger);

describe('controller options from the environment', () => {
  it('reads the CA reload period in seconds, 30 by default', () => {
    assert.equal(read({}).caReloadMs, CA_RELOAD_MS);
    assert.equal(read({ WAYMESH_CA_RELOAD_SECONDS: '5' }).caReloadMs, 5000);
    assert.equal(read({ WAYMESH_CA_RELOAD_SECONDS: '86400' }).caReloadMs, 86_400_000);
  });

  for (const bad of ['0', '-1', '1.5', '30s', '86401', ' 5']) {
    it(`refuses WAYMESH_CA_RELOAD_SECONDS=${JSON.stringify(bad)}, naming the variable`, () => {
      assert.throws(
        () => read({ WAYMESH_CA_RELOAD_SECONDS: bad }),
        (err: Error & { code?: string }) =>
          err.code === 'CONTROLLER_CONFIG' &&
          err.message.includes('WAYMESH_CA_RELOAD_SECONDS must be an integer from 1 to 86400') &&
          err.message.includes(JSON.stringify(bad)),
      );
    });
  }

  it('still checks the waypoint replicas and image', () => {
    assert.equal(read({ WAYMESH_WAYPOINT_REPLICAS: '3' }).waypoint.replicas, 3);
    assert.throws(
      () => read({ WAYMESH_WAYPOINT_REPLICAS: '0' }),
      /WAYMESH_WAYPOINT_REPLICAS must be an integer from 1 to/,
    );
    assert.throws(
      () => optionsFromEnv({}, new KubeConfig(), silentLogger),
      /WAYMESH_WAYPOINT_IMAGE is not set/,
    );
  });

  it('turns on TLS to Redis for the waypoints, only with a Redis', () => {
    const redis = { WAYMESH_WAYPOINT_REDIS_ADDRESS: 'redis:6380' };
    assert.equal(read({ ...redis, WAYMESH_WAYPOINT_REDIS_TLS: 'true' }).waypoint.redisTls, true);
    assert.equal(read({ ...redis, WAYMESH_WAYPOINT_REDIS_TLS: 'false' }).waypoint.redisTls, undefined);
    assert.equal(read(redis).waypoint.redisTls, undefined);
    assert.throws(
      () => read({ ...redis, WAYMESH_WAYPOINT_REDIS_TLS: 'on' }),
      /WAYMESH_WAYPOINT_REDIS_TLS must be true or false, got "on"/,
    );
    assert.throws(
      () => read({ WAYMESH_WAYPOINT_REDIS_TLS: 'true' }),
      /WAYMESH_WAYPOINT_REDIS_TLS is set without a Redis/,
    );
  });

  it('hands the waypoints a Redis AUTH Secret name, only with a Redis and only a valid name', () => {
    const w = read({
      WAYMESH_WAYPOINT_REDIS_ADDRESS: 'redis:6379',
      WAYMESH_WAYPOINT_REDIS_SECRET: 'redis-auth',
    });
    assert.equal(w.waypoint.redisSecret, 'redis-auth');
    assert.equal(read({ WAYMESH_WAYPOINT_REDIS_ADDRESS: 'redis:6379' }).waypoint.redisSecret, undefined);
    assert.throws(
      () => read({ WAYMESH_WAYPOINT_REDIS_SECRET: 'redis-auth' }),
      (err: Error & { code?: string }) =>
        err.code === 'CONTROLLER_CONFIG' && /REDIS_SECRET is set without a Redis/.test(err.message),
    );
    for (const bad of ['Redis-Auth', 'redis_auth', '-redis', 'a'.repeat(254)])
      assert.throws(
        () => read({ WAYMESH_WAYPOINT_REDIS_ADDRESS: 'redis:6379', WAYMESH_WAYPOINT_REDIS_SECRET: bad }),
        /WAYMESH_WAYPOINT_REDIS_SECRET must be a Secret name/,
        bad,
      );
  });
});
