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
import { GCRA_SLACK, type BucketReply } from './plan.ts';
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
local newWaits = {}
for i = 1, n do
  local emission = tonumber(ARGV[2 * i - 1])
  local tolerance = tonumber(ARGV[2 * i])
  -- Relative to now: absolute microseconds (~1.7e15) keep only quarter-microsecond precision,
  -- enough to floor remaining one short.
  local wait = 0
  local stored = tonumber(redis.call('GET', KEYS[i]))
  if stored and stored > now then wait = stored - now end
  if wait > tolerance then
    -- Filled under a longer period (the policy was edited; its id, so its key, stays): empty
    -- under this one, not for the rest of the old period.
    wait = tolerance
    redis.call('SET', KEYS[i], string.format('%.0f', now + wait), 'PX', math.ceil(wait / 1000))
  end
  local newWait = wait + emission
  local over = newWait - tolerance
  local base = 2 + (i - 1) * 4
  if over > emission * ${String(GCRA_SLACK)} then
    reply[1] = 0
    reply[base] = 0
    reply[base + 1] = 0
    reply[base + 2] = math.ceil(wait / 1000)
    reply[base + 3] = math.ceil(over / 1000)
  else
    newWaits[i] = newWait
    reply[base] = 1
    reply[base + 1] = math.floor(-over / emission + ${String(GCRA_SLACK)})
    reply[base + 2] = math.ceil(newWait / 1000)
    reply[base + 3] = 0
  end
end
if reply[1] == 1 then
  for i = 1, n do
    local ttl = math.ceil(newWaits[i] / 1000)
    if ttl < 1 then ttl = 1 end
    redis.call('SET', KEYS[i], string.format('%.0f', now + newWaits[i]), 'PX', ttl)
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
