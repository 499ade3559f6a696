import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import {
  CertificateAuthority,
  generateRoot,
  loadCaMaterial,
  rootCaFiles,
  type CaFiles,
} from '../../../certs/index.ts';
import { createLogger } from '../../../common/log.ts';
import { CaReloader } from '../../../controller/ca/reload.ts';

const TD = 'cluster.local';

describe('controller/ca/reload CaReloader', () => {
  const first = rootCaFiles(generateRoot({ trustDomain: TD }));
  const second = rootCaFiles(generateRoot({ trustDomain: TD }));

  function reloader(stored: { files: CaFiles | undefined | Error }): {
    r: CaReloader;
    lines: Record<string, unknown>[];
    reloads: CertificateAuthority[];
  } {
    const lines: Record<string, unknown>[] = [];
    const reloads: CertificateAuthority[] = [];
    const r = new CaReloader({
      trustDomain: TD,
      store: {
        describe: () => 'Secret test/ca',
        load: () =>
          stored.files instanceof Error ? Promise.reject(stored.files) : Promise.resolve(stored.files),
      },
      initial: new CertificateAuthority(loadCaMaterial(first), { trustDomain: TD }),
      logger: createLogger({ sink: { write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) } }),
      onReload: (ca) => reloads.push(ca),
    });
    return { r, lines, reloads };
  }

  it('keeps the CA while the Secret holds the same material, even re-encoded', async () => {
    const stored = { files: { ...first, rootCertPem: `\n${first.rootCertPem}\n` } as CaFiles | undefined };
    const { r, lines, reloads } = reloader(stored);
    const before = r.current();
    assert.equal(await r.check(), 'unchanged');
    assert.equal(r.current(), before);
    assert.deepEqual([lines.length, reloads.length], [0, 0]);
  });

  it('swaps in changed material and tells onReload', async () => {
    const stored = { files: second as CaFiles | undefined };
    const { r, lines, reloads } = reloader(stored);
    assert.equal(await r.check(), 'reloaded');
    assert.equal(reloads.length, 1);
    assert.equal(r.current(), reloads[0]);
    assert.ok(r.current().material.cert.der.equals(loadCaMaterial(second).cert.der));
    assert.equal(lines[0]?.['msg'], 'CA reloaded from its Secret');
    assert.equal(await r.check(), 'unchanged');
  });

  it('refuses a missing or unreadable Secret and broken material, logging each problem once, and keeps the CA', async () => {
    const stored: { files: CaFiles | undefined | Error } = { files: undefined };
    const { r, lines, reloads } = reloader(stored);
    const before = r.current();
    assert.equal(await r.check(), 'refused');
    assert.equal(await r.check(), 'refused');
    stored.files = { ...second, caKeyPem: first.caKeyPem };
    assert.equal(await r.check(), 'refused');
    stored.files = new Error('secrets "waymesh-ca" is forbidden');
    assert.equal(await r.check(), 'refused');
    assert.equal(r.current(), before);
    assert.equal(reloads.length, 0);
    const errors = lines.map((l) => String(l['error']));
    assert.equal(errors.length, 3, errors.join('\n'));
    assert.match(errors[0] ?? '', /no CA Secret exists any more/);
    assert.match(errors[1] ?? '', /CA_MATERIAL_INVALID|does not match/);
    assert.match(errors[2] ?? '', /forbidden/);
    // Fixed: the next good read clears the problem, and a new failure is logged again.
    stored.files = first;
    assert.equal(await r.check(), 'unchanged');
    stored.files = undefined;
    assert.equal(await r.check(), 'refused');
    assert.equal(lines.length, 4);
  });
});
