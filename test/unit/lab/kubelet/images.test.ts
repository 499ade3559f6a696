// The lab's image catalogue: image references reduced to their name, and containers resolved
// to a host argv (absolute commands, catalogue programs, idle clients) or a pull/create error.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'mocha';
import type { V1Container } from '@kubernetes/client-node';

import { CATALOGUE_IMAGES, imageName, resolveContainer } from '../../../../lab/kubelet/images.ts';

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url)).replace(/\/$/, '');
const CTX = { repoRoot: REPO_ROOT, nodeBinary: '/usr/bin/node-for-test', tsxLoader: 'tsx', compiled: false };
/** A checkout that does not exist: every catalogue program is missing from it. */
const EMPTY_CTX = { ...CTX, repoRoot: '/nonexistent/waymesh-checkout' };

function container(image: string, command?: string[], args?: string[]): V1Container {
  return {
    name: 'c',
    image,
    ...(command === undefined ? {} : { command }),
    ...(args === undefined ? {} : { args }),
  };
}

describe('lab/kubelet/images', () => {
  describe('imageName', () => {
    const cases: [string, string][] = [
      ['waymesh/echo', 'waymesh/echo'],
      ['waymesh/echo:latest', 'waymesh/echo'],
      ['waymesh/echo:1.2.3', 'waymesh/echo'],
      ['waymesh/echo@sha256:0123456789abcdef', 'waymesh/echo'],
      ['waymesh/echo:1.2@sha256:0123456789abcdef', 'waymesh/echo'],
      ['docker.io/waymesh/echo:1.2', 'waymesh/echo'],
      ['ghcr.io/waymesh/echo', 'waymesh/echo'],
      ['registry.example.com/waymesh/client:v2', 'waymesh/client'],
      ['localhost:5000/waymesh/echo:dev', 'waymesh/echo'],
      ['localhost/waymesh/echo', 'waymesh/echo'],
      ['localhost:5000/echo', 'echo'],
      ['registry.example.com:8443/waymesh/echo@sha256:ab', 'waymesh/echo'],
      ['docker.io/library/busybox:1.36', 'library/busybox'],
      ['busybox', 'busybox'],
      ['busybox:1.36', 'busybox'],
      ['', ''],
      // Regression: a first component without a dot, a port or "localhost" is a Docker Hub path,
      // not a registry host (it used to be dropped whenever the name had three components).
      ['someorg/waymesh/echo', 'someorg/waymesh/echo'],
    ];
    for (const [image, want] of cases) {
      it(`${JSON.stringify(image)} → ${JSON.stringify(want)}`, () => assert.equal(imageName(image), want));
    }
  });

  describe('resolveContainer', () => {
    it('the checkout used here has the echo and client programs', () => {
      assert.ok(existsSync(`${REPO_ROOT}/apps/echo/main.ts`));
      assert.ok(existsSync(`${REPO_ROOT}/apps/client/main.ts`));
    });

    it('runs an absolute command that exists, with its args, whatever the image', () => {
      const got = resolveContainer(container('nginx:1.25', [process.execPath, '-e'], ['1']), CTX);
      assert.deepEqual(got, { ok: true, argv: [process.execPath, '-e', '1'] });
    });

    it('refuses an absolute command that does not exist with CreateContainerError', () => {
      const got = resolveContainer(container('waymesh/echo', ['/nonexistent/bin/prog']), CTX);
      assert.deepEqual(got, {
        ok: false,
        reason: 'CreateContainerError',
        message: 'command /nonexistent/bin/prog does not exist on this host',
      });
    });

    it('runs a catalogue image as its program under node + tsx, passing args', () => {
      const got = resolveContainer(
        container('docker.io/waymesh/echo:1.0', undefined, ['--port', '8080']),
        CTX,
      );
      assert.deepEqual(got, {
        ok: true,
        argv: [
          '/usr/bin/node-for-test',
          '--import',
          'tsx',
          `${REPO_ROOT}/apps/echo/main.ts`,
          '--port',
          '8080',
        ],
      });
    });

    it('runs a catalogue image without args', () => {
      const got = resolveContainer(container('waymesh/echo'), CTX);
      assert.deepEqual(got, {
        ok: true,
        argv: ['/usr/bin/node-for-test', '--import', 'tsx', `${REPO_ROOT}/apps/echo/main.ts`],
      });
    });

    it('lets the client image idle when it has no args', () => {
      assert.deepEqual(resolveContainer(container('waymesh/client:latest'), CTX), {
        ok: true,
        argv: ['/bin/sleep', 'infinity'],
      });
      assert.deepEqual(resolveContainer(container('waymesh/client', undefined, []), CTX), {
        ok: true,
        argv: ['/bin/sleep', 'infinity'],
      });
    });

    it('runs the client program when it has args', () => {
      const got = resolveContainer(container('waymesh/client', undefined, ['http://echo']), CTX);
      assert.deepEqual(got, {
        ok: true,
        argv: [
          '/usr/bin/node-for-test',
          '--import',
          'tsx',
          `${REPO_ROOT}/apps/client/main.ts`,
          'http://echo',
        ],
      });
    });

    it('the idle client needs no program in the checkout', () => {
      assert.deepEqual(resolveContainer(container('waymesh/client'), EMPTY_CTX), {
        ok: true,
        argv: ['/bin/sleep', 'infinity'],
      });
    });

    it('refuses an image outside the catalogue with ErrImagePull naming the catalogue', () => {
      const got = resolveContainer(container('nginx:1.25'), CTX);
      assert.equal(got.ok, false);
      if (got.ok) return;
      assert.equal(got.reason, 'ErrImagePull');
      assert.match(got.message, /^image "nginx:1\.25" is not in the lab's catalogue/);
      for (const name of CATALOGUE_IMAGES) assert.ok(got.message.includes(name), `message names ${name}`);
      assert.match(got.message, /absolute host path/);
    });

    it('refuses a container without an image with ErrImagePull', () => {
      const got = resolveContainer({ name: 'c' }, CTX);
      assert.equal(got.ok, false);
      assert.equal(got.ok ? '' : got.reason, 'ErrImagePull');
    });

    it('a relative command does not rescue an unknown image', () => {
      const got = resolveContainer(container('nginx', ['sh', '-c'], ['true']), CTX);
      assert.equal(got.ok ? '' : got.reason, 'ErrImagePull');
    });

    it('runs a relative command of a catalogue image from the PATH', () => {
      const got = resolveContainer(container('waymesh/echo', ['sh', '-c'], ['echo hi']), EMPTY_CTX);
      assert.deepEqual(got, { ok: true, argv: ['sh', '-c', 'echo hi'] });
    });

    it('refuses a catalogue image whose program is missing from the checkout with CreateContainerError', () => {
      const got = resolveContainer(container('waymesh/echo:1'), EMPTY_CTX);
      assert.deepEqual(got, {
        ok: false,
        reason: 'CreateContainerError',
        message: 'image waymesh/echo has no program in this checkout (apps/echo/main.ts is missing)',
      });
    });

    describe('compiled (WAYMESH_COMPILED=1)', () => {
      const root = mkdtempSync(join(tmpdir(), 'wm-images-'));
      mkdirSync(join(root, 'dist', 'apps', 'echo'), { recursive: true });
      writeFileSync(join(root, 'dist', 'apps', 'echo', 'main.js'), '');
      const compiled = { ...CTX, repoRoot: root, compiled: true };
      after(() => rmSync(root, { recursive: true, force: true }));

      it('runs the program npm run build wrote under dist/, without the loader', () => {
        const got = resolveContainer(container('waymesh/echo', undefined, ['--port', '8080']), compiled);
        assert.deepEqual(got, {
          ok: true,
          argv: ['/usr/bin/node-for-test', join(root, 'dist/apps/echo/main.js'), '--port', '8080'],
        });
      });

      it('refuses an image whose compiled program is missing, saying to build', () => {
        const got = resolveContainer(container('waymesh/waypoint'), compiled);
        assert.equal(got.ok ? '' : got.reason, 'CreateContainerError');
        assert.match(got.ok ? '' : got.message, /dist\/waypoint\/main\.js is missing: .*npm run build/);
      });
    });

    it('lists every catalogue image', () => {
      assert.deepEqual([...CATALOGUE_IMAGES].sort(), [
        'waymesh/client',
        'waymesh/controller',
        'waymesh/echo',
        'waymesh/node-agent',
        'waymesh/otlp-sink',
        'waymesh/waymesh',
        'waymesh/waypoint',
      ]);
    });
  });
});
