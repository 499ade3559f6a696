import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { followingCredentials } from '../../../certs/channel.ts';
import { generateRoot, TrustBundle } from '../../../certs/index.ts';

const TD = 'cluster.local';

describe('certs/channel followingCredentials', () => {
  const one = generateRoot({ trustDomain: TD }).cert;
  const two = generateRoot({ trustDomain: TD }).cert;

  it('keeps the credentials while the roots stay the same, even in a new bundle object', () => {
    let bundle = new TrustBundle(TD, [one]);
    const made: TrustBundle[] = [];
    const creds = followingCredentials(
      () => bundle,
      (b) => {
        made.push(b);
        return {} as never;
      },
    );
    const first = creds();
    bundle = new TrustBundle(TD, [one]);
    assert.equal(creds(), first);
    assert.equal(made.length, 1);
    bundle = new TrustBundle(TD, [one, two]);
    const second = creds();
    assert.notEqual(second, first, 'a new root makes new credentials');
    assert.equal(made.length, 2);
    assert.equal(made[1]?.roots.length, 2);
    assert.equal(creds(), second);
  });

  it('makes the credentials of a fixed bundle once', () => {
    let calls = 0;
    const creds = followingCredentials(new TrustBundle(TD, [one]), () => {
      calls++;
      return {} as never;
    });
    assert.equal(creds(), creds());
    assert.equal(calls, 1);
  });
});
