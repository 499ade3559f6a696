// How the lab starts the checkout's programs: from sources under tsx, or compiled from dist/.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'mocha';
import { REPO_ROOT, TSX_LOADER, programFile, runsCompiled } from '../../../lab/programs.ts';

describe('lab/programs', () => {
  it('finds the repository root from sources', () => {
    assert.ok(existsSync(join(REPO_ROOT, 'lab', 'programs.ts')));
    assert.ok(existsSync(join(REPO_ROOT, 'package.json')));
  });

  it('runs compiled only when WAYMESH_COMPILED is 1 (this module runs from sources here)', () => {
    assert.equal(runsCompiled({}), false);
    assert.equal(runsCompiled({ WAYMESH_COMPILED: '0' }), false);
    assert.equal(runsCompiled({ WAYMESH_COMPILED: '1' }), true);
  });

  it('a source program is the .ts file itself, run under the tsx loader', () => {
    assert.equal(programFile('lab/kubelet/main.ts', false), join(REPO_ROOT, 'lab/kubelet/main.ts'));
    assert.match(TSX_LOADER, /^file:.*tsx/);
  });

  it('a compiled program is its .js twin under dist/, or a LAB_NOT_BUILT error saying to build', () => {
    const script = 'lab/no-such-program/main.ts';
    assert.throws(
      () => programFile(script, true),
      (err: Error & { code?: string; hint?: string }) =>
        err.code === 'LAB_NOT_BUILT' &&
        err.message.includes(join(REPO_ROOT, 'dist/lab/no-such-program/main.js')) &&
        /npm run build/.test(err.hint ?? ''),
    );
  });
});
