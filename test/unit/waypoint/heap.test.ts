import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AGENT_V8_FLAGS } from '../../../node-agent/v8-flags.ts';
import { WAYPOINT_V8_FLAGS } from '../../../waypoint/program/heap.ts';

const TSX = import.meta.resolve('tsx');
const ROOT = join(import.meta.dirname, '..', '..', '..');

/**
 * Runs `call` from `module` in a fresh Node process. `v8.setFlagsFromString` does not throw on a
 * flag this Node's V8 does not know: it prints "unrecognized flag" (or a value error) to stderr
 * and goes on, so a renamed or removed flag would silently stop tuning the program.
 */
function applyInChild(module: string, call: string): { status: number | null; stderr: string } {
  const url = pathToFileURL(join(ROOT, module)).href;
  const res = spawnSync(
    process.execPath,
    ['--import', TSX, '--input-type=module', '-e', `(await import(${JSON.stringify(url)})).${call}();`],
    { encoding: 'utf8', timeout: 15_000 },
  );
  return { status: res.status, stderr: res.stderr };
}

describe('V8 flags the proxies set on themselves', () => {
  it('the waypoint turns off allocation-site pretenuring and bounds old-space growth', () => {
    assert.ok(WAYPOINT_V8_FLAGS.includes('--no-allocation-site-pretenuring'));
    assert.ok(WAYPOINT_V8_FLAGS.includes('--heap-growing-percent=50'));
  });

  it('this Node knows every waypoint flag (tuneHeap prints nothing)', () => {
    const res = applyInChild('waypoint/program/heap.ts', 'tuneHeap');
    assert.equal(res.stderr, '');
    assert.equal(res.status, 0);
  });

  it('this Node knows every node-agent flag (applyAgentV8Flags prints nothing)', () => {
    assert.ok(AGENT_V8_FLAGS.length > 0);
    const res = applyInChild('node-agent/v8-flags.ts', 'applyAgentV8Flags');
    assert.equal(res.stderr, '');
    assert.equal(res.status, 0);
  });

  it('an unknown flag is reported on stderr (what the checks above rely on)', () => {
    const res = spawnSync(
      process.execPath,
      ['-e', "require('node:v8').setFlagsFromString('--no-such-waymesh-flag')"],
      { encoding: 'utf8', timeout: 15_000 },
    );
    assert.match(res.stderr, /unrecognized flag/);
  });
});
