/**
 * The lab's addons (manifests/lab/addons.yaml) stand in for Redis and Jaeger under the names a
 * real cluster uses: a pod reaches `redis.waymesh-system.svc:6379` and sends an OTLP/HTTP span
 * to `jaeger.waymesh-system.svc:4318`, and `waymesh lab traces` shows it as a waterfall.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'mocha';
import { useLab } from '../helpers/lab.ts';

const ADDONS = join(import.meta.dirname, '..', '..', 'manifests', 'lab', 'addons.yaml');
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_NAME = 'GET lab-addons-e2e';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function otlpJson(now: bigint): string {
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'e2e-client' } }] },
        scopeSpans: [
          {
            scope: { name: 'e2e' },
            spans: [
              {
                traceId: TRACE_ID,
                spanId: '00f067aa0ba902b7',
                name: SPAN_NAME,
                kind: 2,
                startTimeUnixNano: String(now),
                endTimeUnixNano: String(now + 3_000_000n),
                attributes: [{ key: 'http.response.status_code', value: { intValue: '200' } }],
              },
              {
                traceId: TRACE_ID,
                spanId: '00f067aa0ba902b8',
                parentSpanId: '00f067aa0ba902b7',
                name: 'upstream default/echo',
                kind: 3,
                startTimeUnixNano: String(now + 1_000_000n),
                endTimeUnixNano: String(now + 2_000_000n),
              },
            ],
          },
        ],
      },
    ],
  });
}

/** The stderr of a rejected `waymesh` or `exec` call. */
async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return String((err as { stderr?: string }).stderr ?? err);
  }
  throw new Error('expected the command to fail');
}

describe('lab addons (e2e): Redis and the OTLP sink as redis/jaeger in waymesh-system', function () {
  this.timeout(90_000);
  const lab = useLab('ad');

  it('`lab traces` says how to deploy the sink when there is none', async () => {
    assert.match(await failure(lab.waymesh('traces')), /LAB_NO_TRACE_SINK.*manifests\/lab\/addons\.yaml/);
  });

  it('brings both Deployments to Ready and serves both Services from a pod', async () => {
    await lab.kubectl('apply', '-f', ADDONS);
    lab.kubectlIn(
      'apiVersion: v1\nkind: Pod\nmetadata: { name: client }\nspec:\n  containers: [{ name: c, image: waymesh/client }]\n',
      'apply',
      '-f',
      '-',
    );
    await lab.kubectl('rollout', 'status', '-n', 'waymesh-system', 'deployment/redis', '--timeout=60s');
    await lab.kubectl('rollout', 'status', '-n', 'waymesh-system', 'deployment/otlp-sink', '--timeout=60s');
    let phase = '';
    for (let i = 0; i < 100 && phase !== 'Running'; i++) {
      phase = await lab.kubectl('get', 'pod', 'client', '-o', 'jsonpath={.status.phase}');
      if (phase !== 'Running') await sleep(200);
    }
    assert.equal(phase, 'Running');

    assert.equal(
      (await lab.exec('default/client', 'redis-cli', '-h', 'redis.waymesh-system.svc', 'ping')).trim(),
      'PONG',
    );
    // The gRPC receiver answers on the Service the controller gives waypoints by default.
    await lab.exec('default/client', 'bash', '-c', 'exec 3<>/dev/tcp/jaeger.waymesh-system.svc/4317');
    const posted = await lab.exec(
      'default/client',
      'curl',
      '-sS',
      '--fail-with-body',
      '--max-time',
      '10',
      '-H',
      'content-type: application/json',
      '--data',
      otlpJson(BigInt(Date.now()) * 1_000_000n),
      'http://jaeger.waymesh-system.svc:4318/v1/traces',
    );
    assert.equal(posted, '{}');
  });

  it('`lab traces` shows the span as a waterfall, by default, by id, by service and as JSON', async () => {
    const all = await lab.waymesh('traces');
    assert.match(all, new RegExp(`trace ${TRACE_ID} · 2 spans`));
    assert.match(all, /e2e-client: GET lab-addons-e2e \(server\) http\.response\.status_code=200/);
    assert.match(all, /\n.* {2}e2e-client: upstream default\/echo \(client\)/, 'the child is indented');

    assert.match(await lab.waymesh('traces', '--trace', TRACE_ID.toUpperCase()), new RegExp(SPAN_NAME));
    assert.match(await lab.waymesh('traces', '--service', 'e2e-client', '--last', '1'), new RegExp(TRACE_ID));
    const spans = JSON.parse(await lab.waymesh('traces', '--json', '--trace', TRACE_ID)) as {
      name: string;
    }[];
    assert.deepEqual(spans.map((s) => s.name).sort(), [SPAN_NAME, 'upstream default/echo']);

    assert.match(await failure(lab.waymesh('traces', '--trace', 'f'.repeat(32))), /TRACE_NOT_FOUND/);
    assert.match(
      await failure(lab.waymesh('traces', '--last', '0')),
      /--last must be an integer from 1 to 1000/,
    );
  });
});
