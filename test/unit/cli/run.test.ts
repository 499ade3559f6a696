import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { isMeshError } from '../../../common/errors.ts';
import { COMPONENTS, componentLaunch } from '../../../cli/run.ts';
import { main } from '../../../cli/main.ts';
import { resolveContainer } from '../../../lab/kubelet/images.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');

describe('cli waymesh run', () => {
  it('maps each component to its main.ts and hands it the flags after the name', () => {
    for (const [name, rel] of [
      ['controller', 'controller/main.ts'],
      ['node-agent', 'node-agent/main.ts'],
      ['waypoint', 'waypoint/main.ts'],
    ] as const) {
      const l = componentLaunch([name, '--controller', 'c:15012', '-x'], '/usr/bin/node');
      assert.equal(l.component, name);
      assert.equal(l.mainPath, join(ROOT, rel));
      assert.deepEqual(l.argv, ['/usr/bin/node', join(ROOT, rel), '--controller', 'c:15012', '-x']);
    }
    assert.deepEqual(Object.keys(COMPONENTS).sort(), ['controller', 'node-agent', 'waypoint']);
  });

  const usage = [
    [[], /missing component to run \(one of controller, node-agent, waypoint\)/],
    [['echo'], /unknown component "echo"/],
    [['toString'], /unknown component "toString"/],
    [['--kubeconfig', 'x'], /unknown component "--kubeconfig"/],
  ] as const;
  for (const [args, message] of usage)
    it(`rejects ${JSON.stringify(args)} with CLI_USAGE`, () => {
      assert.throws(
        () => componentLaunch(args, 'node'),
        (err: unknown) => isMeshError(err, 'CLI_USAGE') && message.test(err.message),
      );
    });

  it('exits 2 through main for an unknown component, naming the known ones', async () => {
    const err: string[] = [];
    const code = await main(['run', 'proxy'], { out: () => undefined, err: (t) => err.push(t) });
    assert.equal(code, 2);
    assert.match(
      err.join('\n'),
      /waymesh run: .*unknown component "proxy" \(one of controller, node-agent, waypoint\)/,
    );
  });

  it('the lab runs the single image waymesh/waymesh through cli/run-entry.ts with the container args', () => {
    const res = resolveContainer(
      { name: 'c', image: 'docker.io/waymesh/waymesh:0.1.0', args: ['controller', '--kubeconfig', 'k'] },
      { repoRoot: ROOT, nodeBinary: '/node', tsxLoader: 'tsx', compiled: false },
    );
    assert.deepEqual(res, {
      ok: true,
      argv: [
        '/node',
        '--import',
        'tsx',
        join(ROOT, 'cli', 'run-entry.ts'),
        'controller',
        '--kubeconfig',
        'k',
      ],
    });
    assert.match(
      readFileSync(join(ROOT, 'cli', 'run-entry.ts'), 'utf8'),
      /runComponent\(process\.argv\.slice\(2\)\)/,
    );
  });
});

interface Instruction {
  readonly op: string;
  readonly args: string;
  readonly stage: string;
}

/** The Dockerfile's instructions (continuations joined, comments dropped), each with its stage. */
function dockerfile(): Instruction[] {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const out: Instruction[] = [];
  let stage = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [op = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (op.toUpperCase() === 'FROM') stage = /\bAS\s+(\S+)/i.exec(args)?.[1] ?? '';
    out.push({ op: op.toUpperCase(), args, stage });
  }
  return out;
}

describe('Dockerfile (the single image)', () => {
  const ins = dockerfile();
  const stages = ins.filter((i) => i.op === 'FROM');

  it('builds in a stage with build tools and runs from node:20-bookworm-slim', () => {
    assert.match(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'), /^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
    assert.deepEqual(
      stages.map((s) => s.stage),
      ['build', 'runtime', 'echo', 'client', 'waymesh'],
    );
    const build = ins
      .filter((i) => i.stage === 'build' && i.op === 'RUN')
      .map((i) => i.args)
      .join('\n');
    assert.match(build, /install .*python3 make g\+\+/);
    assert.match(build, /npm ci\b/);
    assert.match(build, /npm prune --omit=dev --ignore-scripts/);
    const runtime = ins.filter((i) => i.stage === 'runtime');
    assert.ok(runtime.some((i) => i.op === 'COPY' && i.args === '--from=build /app /app'));
    assert.ok(!runtime.some((i) => /g\+\+|python3/.test(i.args)), 'no build tools in the runtime image');
  });

  it('installs iptables, iproute2, nsenter (util-linux) and CA certificates in the runtime stage', () => {
    const apt = ins.find((i) => i.stage === 'runtime' && i.op === 'RUN')?.args ?? '';
    for (const pkg of ['iptables', 'iproute2', 'util-linux', 'ca-certificates'])
      assert.match(apt, new RegExp(`\\b${pkg}\\b`), pkg);
  });

  it('ends with the waymesh stage whose entry point is `waymesh run`', () => {
    const last = ins.at(-1);
    assert.equal(stages.at(-1)?.stage, 'waymesh');
    assert.equal(last?.op, 'ENTRYPOINT');
    assert.deepEqual(JSON.parse(last?.args ?? ''), ['node', '/app/dist/cli/run-entry.js']);
  });

  it('COPYs only paths that exist in the checkout and are not excluded by .dockerignore', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    const copies = ins.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from='));
    assert.ok(copies.length >= 10);
    for (const c of copies) {
      const parts = c.args.split(/\s+/);
      for (const src of parts.slice(0, -1)) {
        assert.ok(existsSync(join(ROOT, src)), `COPY ${src}: missing`);
        assert.ok(!ignored.includes(src.split('/')[0] ?? ''), `COPY ${src}: excluded by .dockerignore`);
      }
    }
    // Everything `waymesh run` loads at run time is copied.
    const copied = copies.map((c) => c.args.split(/\s+/)[0]);
    for (const dir of ['bin', 'cli', 'common', 'certs', 'controller', 'node-agent', 'waypoint', 'lab'])
      assert.ok(copied.includes(dir), dir);
  });
});
