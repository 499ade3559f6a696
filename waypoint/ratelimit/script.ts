/**
 * The server-side half of the shared budget: one Lua script that checks and counts every bucket
 * of a request atomically, so all waypoint replicas share one budget and a request costs one
 * round trip however many limits apply. ioredis runs it with EVALSHA and falls back to EVAL when
 * the server does not know the script yet (first use on a connection, or after a restart).
 *
 * Algorithm: GCRA (the generic cell rate algorithm, equivalent to a token bucket holding
 * `requests` tokens refilled at `requests / period`). Each bucket stores one number, its
 * theoretical arrival time (TAT) in microseconds, and expires when the bucket would be full
 * again (at most one period). The clock is Redis `TIME`, never a replica's clock, so replicas
 * with skewed clocks still agree. A request is counted only when every bucket allows it.
 */
import type { BucketReply } from './plan.ts';
import { MeshError } from '../../common/errors.ts';

/** The ioredis command name the script is defined under. */
export const SCRIPT_COMMAND = 'waymeshRateLimit';

/**
 * KEYS: one bucket per applicable limit. ARGV: per bucket, emission interval and burst tolerance
 * in microseconds. Reply: see {@link BucketReply} (times in whole milliseconds, rounded up).
 */
export const RATE_LIMIT_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = #KEYS
local reply = {1}
local tats = {}
for i = 1, n do
  local emission = tonumber(ARGV[2 * i - 1])
  local tolerance = tonumber(ARGV[2 * i])
  local stored = redis.call('GET', KEYS[i])
  local tat = now
  if stored then
    local v = tonumber(stored)
    if v and v > now then tat = v end
  end
  local newTat = tat + emission
  local allowAt = newTat - tolerance
  local base = 2 + (i - 1) * 4
  if now < allowAt then
    reply[1] = 0
    reply[base] = 0
    reply[base + 1] = 0
    reply[base + 2] = math.ceil((tat - now) / 1000)
    reply[base + 3] = math.ceil((allowAt - now) / 1000)
  else
    tats[i] = newTat
    reply[base] = 1
    reply[base + 1] = math.floor((now - allowAt) / emission)
    reply[base + 2] = math.ceil((newTat - now) / 1000)
    reply[base + 3] = 0
  end
end
if reply[1] == 1 then
  for i = 1, n do
    local ttl = math.ceil((tats[i] - now) / 1000)
    if ttl < 1 then ttl = 1 end
    redis.call('SET', KEYS[i], string.format('%.0f', tats[i]), 'PX', ttl)
  end
end
return reply
`;

/** The script's ARGV for a plan's limits: emission and tolerance per bucket. */
export function scriptArgs(limits: readonly { emissionUs: number; toleranceUs: number }[]): string[] {
  const args = new Array<string>(limits.length * 2);
  for (let i = 0; i < limits.length; i++) {
    const l = limits[i];
    if (l === undefined) continue;
    args[2 * i] = String(l.emissionUs);
    args[2 * i + 1] = String(l.toleranceUs);
  }
  return args;
}

/** Checks the script's reply shape for `buckets` buckets; a wrong shape means a foreign script. */
export function parseReply(raw: unknown, buckets: number): BucketReply {
  if (Array.isArray(raw) && raw.length === 1 + buckets * 4) {
    const reply: unknown[] = raw;
    let numeric = true;
    for (const v of reply) if (typeof v !== 'number') numeric = false;
    if (numeric) return reply as number[];
  }
  throw new MeshError('RATELIMIT_BAD_REPLY', `the rate-limit script answered ${JSON.stringify(raw)}`, {
    hint: 'is another program using the waymesh:rl: keys or an incompatible Redis proxy in between?',
  });
}
