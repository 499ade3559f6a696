// The pure parts of the lab's `pods/{name}/log` (lab/apiserver/handlers/logs.ts): which lines a
// tail starts at, and how the query is read and refused.
import assert from 'node:assert/strict';
import { describe, it } from 'mocha';

import { parseLogRequest, tailOffset } from '../../../../lab/apiserver/handlers/logs.ts';
import { ApiError, type KubeObject } from '../../../../lab/apiserver/types.ts';

const pod = (...containers: string[]): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', namespace: 'ns' },
  spec: { containers: containers.map((name) => ({ name })) },
});

const refused = (q: string, re: RegExp, p = pod('a')): void => {
  assert.throws(
    () => parseLogRequest(p, new URLSearchParams(q)),
    (err: unknown) => err instanceof ApiError && err.code === 400 && re.test(err.message),
  );
};

describe('lab API server pods/log', () => {
  it('finds where the last N lines start, with or without a final newline', () => {
    const text = Buffer.from('a\nbb\nccc\n');
    assert.equal(text.subarray(tailOffset(text, 1)).toString(), 'ccc\n');
    assert.equal(text.subarray(tailOffset(text, 2)).toString(), 'bb\nccc\n');
    assert.equal(text.subarray(tailOffset(text, 9)).toString(), 'a\nbb\nccc\n');
    assert.equal(tailOffset(text, 0), text.length);
    const open = Buffer.from('a\nbb\npartial');
    assert.equal(open.subarray(tailOffset(open, 1)).toString(), 'partial');
    assert.equal(tailOffset(Buffer.alloc(0), 3), 0);
  });
  it('defaults to the only container and reads tailLines, limitBytes and follow', () => {
    assert.deepEqual(parseLogRequest(pod('a'), new URLSearchParams('')), {
      container: 'a',
      tailLines: undefined,
      limitBytes: undefined,
      follow: false,
    });
    assert.deepEqual(
      parseLogRequest(
        pod('a', 'b'),
        new URLSearchParams('container=b&tailLines=0&limitBytes=10&follow=true'),
      ),
      { container: 'b', tailLines: 0, limitBytes: 10, follow: true },
    );
    assert.equal(parseLogRequest(pod('a'), new URLSearchParams('previous=false')).container, 'a');
  });
  it('refuses what it cannot answer, saying why', () => {
    refused('', /a container name must be specified for pod p, choose one of: \[a b\]/, pod('a', 'b'));
    refused('container=c', /container c is not valid for pod p/);
    refused('tailLines=-1', /tailLines must be an integer ≥ 0/);
    refused('limitBytes=0', /limitBytes must be an integer ≥ 1/);
    refused('tailLines=x', /tailLines must be an integer/);
    refused('previous=true', /previous is not supported by the waymesh lab: .*every run appended/);
    refused('timestamps=true', /timestamps is not supported/);
    refused('sinceSeconds=10', /sinceSeconds is not supported/);
    refused('sinceTime=2026-01-01T00:00:00Z', /sinceTime is not supported/);
  });
});
