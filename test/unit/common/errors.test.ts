// MeshError: coded, described with its hint, and recognised even when made by a second copy of
// common/errors.ts (as a module `import()`ed from `require`d code gets).
import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { MeshError, errorMessage, isMeshError } from '../../../common/errors.ts';
import type * as ErrorsModule from '../../../common/errors.ts';

describe('common/errors', () => {
  it('describes a MeshError with its code and hint; other errors by their message', () => {
    assert.equal(
      errorMessage(new MeshError('X_Y', 'it broke', { hint: 'look here' })),
      'X_Y: it broke (look here)',
    );
    assert.equal(errorMessage(new MeshError('X_Y', 'it broke')), 'X_Y: it broke');
    assert.equal(errorMessage(new Error('plain')), 'plain');
    assert.equal(errorMessage('text'), 'text');
  });

  it('matches by code', () => {
    const err = new MeshError('CLI_USAGE', 'bad flag');
    assert.equal(isMeshError(err), true);
    assert.equal(isMeshError(err, 'CLI_USAGE'), true);
    assert.equal(isMeshError(err, 'OTHER'), false);
    assert.equal(isMeshError(new Error('CLI_USAGE')), false);
    assert.equal(isMeshError({ code: 'CLI_USAGE', message: 'm' }), false);
  });

  it('recognises a MeshError made by another copy of the module', async () => {
    const url = new URL('../../../common/errors.ts?second-copy', import.meta.url).href;
    const copy = (await import(url)) as typeof ErrorsModule;
    assert.notEqual(copy.MeshError, MeshError, 'the test needs a second copy of the module');
    const err = new copy.MeshError('CLI_USAGE', 'bad flag', { hint: 'see --help' });
    assert.equal(err instanceof MeshError, false);
    assert.equal(isMeshError(err, 'CLI_USAGE'), true);
    assert.equal(errorMessage(err), 'CLI_USAGE: bad flag (see --help)');
  });
});
