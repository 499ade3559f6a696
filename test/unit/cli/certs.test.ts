import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'mocha';
import { main } from '../../../cli/main.ts';

interface Run {
  readonly code: number;
  readonly out: string[];
  readonly err: string[];
}

async function run(...argv: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out, err };
}

const ID = 'spiffe://cluster.local/ns/default/sa/web';

describe('cli/certs', () => {
  let base: string;
  let n = 0;
  const fresh = (): string => join(base, `d${n++}`);

  before(() => {
    base = mkdtempSync(join(tmpdir(), 'waymesh-cli-'));
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  describe('help and version', () => {
    it('--help prints usage and exits 0', async () => {
      const r = await run('--help');
      assert.equal(r.code, 0);
      assert.match(r.out.join('\n'), /Usage: waymesh <command>/);
      assert.match(r.out.join('\n'), /certs\s+create a CA/);
      assert.deepEqual(r.err, []);
    });

    it('--version prints the package version and exits 0', async () => {
      const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
        version: string;
      };
      const r = await run('--version');
      assert.equal(r.code, 0);
      assert.deepEqual(r.out, [pkg.version]);
    });

    it('no arguments prints help and exits 2', async () => {
      const r = await run();
      assert.equal(r.code, 2);
      assert.match(r.out.join('\n'), /Usage: waymesh/);
    });

    it('certs --help prints the certs usage', async () => {
      const r = await run('certs', '--help');
      assert.equal(r.code, 0);
      assert.match(r.out.join('\n'), /waymesh certs init --dir DIR/);
      assert.match(r.out.join('\n'), /waymesh certs inspect FILE/);
    });
  });

  describe('bad arguments: non-zero exit, one line on stderr, nothing on stdout', () => {
    let ca: string;
    let empty: string;
    before(async () => {
      ca = fresh();
      assert.equal((await run('certs', 'init', '--dir', ca)).code, 0);
      empty = mkdtempSync(join(base, 'empty-'));
    });

    const cases: readonly { name: string; argv: () => string[]; code: number; why: RegExp }[] = [
      { name: 'unknown command', argv: () => ['frobnicate'], code: 2, why: /unknown command "frobnicate"/ },
      {
        name: 'unknown flag',
        argv: () => ['certs', 'init', '--dir', fresh(), '--bogus'],
        code: 2,
        why: /unknown flag --bogus/,
      },
      { name: 'missing --dir', argv: () => ['certs', 'init'], code: 2, why: /missing required flag --dir/ },
      {
        name: '--dir without a value',
        argv: () => ['certs', 'init', '--dir'],
        code: 2,
        why: /--dir needs a value/,
      },
      {
        name: 'bad --ttl',
        argv: () => ['certs', 'issue', '--dir', ca, '--id', ID, '--out', fresh(), '--ttl', '5x'],
        code: 2,
        why: /invalid duration "5x"/,
      },
      {
        name: 'zero --ttl',
        argv: () => ['certs', 'issue', '--dir', ca, '--id', ID, '--out', fresh(), '--ttl', '0h'],
        code: 2,
        why: /must be positive/,
      },
      {
        name: 'bad --key-type',
        argv: () => ['certs', 'init', '--dir', fresh(), '--key-type', 'dsa'],
        code: 2,
        why: /--key-type must be one of ec-p256/,
      },
      {
        name: 'unknown subcommand',
        argv: () => ['certs', 'renew'],
        code: 2,
        why: /unknown subcommand renew/,
      },
      { name: 'missing subcommand', argv: () => ['certs'], code: 2, why: /missing subcommand/ },
      {
        name: 'issue from an empty dir',
        argv: () => ['certs', 'issue', '--dir', empty, '--id', ID, '--out', fresh()],
        code: 2,
        why: /holds no CA.*certs init/,
      },
      {
        name: 'init twice',
        argv: () => ['certs', 'init', '--dir', ca],
        code: 1,
        why: /CA_EXISTS: .* already holds a CA/,
      },
      {
        name: 'invalid trust domain',
        argv: () => ['certs', 'init', '--dir', fresh(), '--trust-domain', 'Bad_Domain'],
        code: 1,
        why: /SPIFFE_ID_INVALID: .*lowercase/,
      },
      {
        name: 'identity in another trust domain',
        argv: () => [
          'certs',
          'issue',
          '--dir',
          ca,
          '--id',
          'spiffe://other.example/ns/a/sa/b',
          '--out',
          fresh(),
        ],
        code: 1,
        why: /CSR_IDENTITY_INVALID: .*other\.example/,
      },
      {
        name: 'not a workload id',
        argv: () => ['certs', 'issue', '--dir', ca, '--id', 'spiffe://cluster.local/web', '--out', fresh()],
        code: 1,
        why: /CSR_IDENTITY_INVALID/,
      },
      { name: 'inspect without a file', argv: () => ['certs', 'inspect'], code: 2, why: /exactly one FILE/ },
      {
        name: 'inspect a missing file',
        argv: () => ['certs', 'inspect', join(base, 'nope.pem')],
        code: 1,
        why: /ENOENT/,
      },
      {
        name: 'inspect a file without certificates',
        argv: () => ['certs', 'inspect', join(ca, 'trust-domain')],
        code: 1,
        why: /CERT_MALFORMED/,
      },
    ];
    for (const c of cases) {
      it(`${c.name} → exit ${c.code}`, async () => {
        const r = await run(...c.argv());
        assert.equal(r.code, c.code, `stderr: ${r.err.join(' | ')}`);
        assert.equal(r.err.length, 1, `expected one stderr line, got ${JSON.stringify(r.err)}`);
        assert.ok(!(r.err[0] ?? '').includes('\n'), 'the error must be one line');
        assert.match(r.err[0] ?? '', c.why);
        assert.match(r.err[0] ?? '', /^waymesh/);
        assert.deepEqual(r.out, []);
      });
    }
  });

  describe('init, issue, inspect', () => {
    let ca: string;
    let out: string;
    before(async () => {
      ca = fresh();
      out = fresh();
      const init = await run('certs', 'init', '--dir', ca, '--trust-domain', 'example.org');
      assert.equal(init.code, 0, init.err.join('\n'));
      assert.match(init.out[0] ?? '', /created self-signed root CA for trust domain example\.org/);
      const issue = await run(
        'certs',
        'issue',
        '--dir',
        ca,
        '--id',
        'spiffe://example.org/ns/shop/sa/cart',
        '--ttl',
        '2h',
        '--out',
        out,
      );
      assert.equal(issue.code, 0, issue.err.join('\n'));
      assert.match(issue.out[0] ?? '', /issued spiffe:\/\/example\.org\/ns\/shop\/sa\/cart valid until/);
    });

    it('writes key.pem (0600), cert.pem, chain.pem and root.pem', async () => {
      assert.equal((await stat(join(out, 'key.pem'))).mode & 0o777, 0o600);
      const leaf = new X509Certificate(readFileSync(join(out, 'cert.pem')));
      const root = new X509Certificate(readFileSync(join(out, 'root.pem')));
      assert.equal(leaf.subjectAltName, 'URI:spiffe://example.org/ns/shop/sa/cart');
      assert.ok(leaf.verify(root.publicKey));
      assert.ok(leaf.checkPrivateKey(createPrivateKey(readFileSync(join(out, 'key.pem')))));
      assert.equal(readFileSync(join(out, 'chain.pem'), 'utf8'), readFileSync(join(out, 'root.pem'), 'utf8'));
      const lifetime = Date.parse(leaf.validTo) - Date.now();
      assert.ok(lifetime > 1.9 * 3600_000 && lifetime <= 2 * 3600_000, `lifetime ${lifetime} ms`);
    });

    it('inspect prints subject, SPIFFE id, validity, issuer and fingerprint', async () => {
      const file = join(out, 'cert.pem');
      const x = new X509Certificate(readFileSync(file));
      const r = await run('certs', 'inspect', file);
      assert.equal(r.code, 0, r.err.join('\n'));
      const text = r.out.join('\n');
      assert.match(text, /certificate 1 of 1\n/);
      assert.match(text, /subject: +\(empty\)/);
      assert.match(text, /spiffe id: +spiffe:\/\/example\.org\/ns\/shop\/sa\/cart/);
      assert.match(text, /issuer: +O=example\.org, CN=waymesh root CA/);
      assert.match(text, /valid: +\d{4}-\d\d-\d\dT[\d:.]+Z → \d{4}-\d\d-\d\dT[\d:.]+Z/);
      assert.ok(text.includes(`sha256:      ${x.fingerprint256}`), text);
      assert.ok(text.includes(`serial:      ${x.serialNumber.toLowerCase()}`), text);
    });

    it('inspect shows every certificate of a bundle and marks CAs', async () => {
      const r = await run('certs', 'inspect', join(ca, 'cert-chain.pem'));
      assert.equal(r.code, 0);
      assert.match(r.out.join('\n'), /certificate 1 of 1 \(CA\)/);
      assert.match(r.out.join('\n'), /spiffe id: +\(none\)/);
      assert.match(r.out.join('\n'), /subject: +O=example\.org, CN=waymesh root CA/);
    });

    it('inspect --json prints machine-readable summaries', async () => {
      const r = await run('certs', 'inspect', join(out, 'cert.pem'), '--json');
      assert.equal(r.code, 0);
      const parsed = JSON.parse(r.out.join('\n')) as {
        spiffeId: string;
        isCa: boolean;
        extKeyUsage: string[];
      }[];
      assert.equal(parsed.length, 1);
      assert.equal(parsed[0]?.spiffeId, 'spiffe://example.org/ns/shop/sa/cart');
      assert.equal(parsed[0]?.isCa, false);
      assert.deepEqual(parsed[0]?.extKeyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    });

    it('issues an RSA-2048 key when asked', async () => {
      const dest = fresh();
      const r = await run(
        'certs',
        'issue',
        '--dir',
        ca,
        '--id',
        'spiffe://example.org/ns/a/sa/b',
        '--out',
        dest,
        '--key-type',
        'rsa-2048',
      );
      assert.equal(r.code, 0, r.err.join('\n'));
      const leaf = new X509Certificate(readFileSync(join(dest, 'cert.pem')));
      assert.equal(leaf.publicKey.asymmetricKeyType, 'rsa');
      assert.equal(leaf.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    });
  });
});
