/**
 * A lab for end-to-end tests, driven only through the `waymesh lab` verbs and the real
 * `kubectl`: `useLab()` brings one up before the suite (random name, temporary directory) and
 * takes it down afterwards, even when tests fail.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before } from 'mocha';

const run = promisify(execFile);

/** The `waymesh` executable of this checkout. */
export const WAYMESH = join(import.meta.dirname, '..', '..', 'bin', 'waymesh.js');

/** A running test lab. */
export interface TestLab {
  readonly name: string;
  /** Set once the lab is up. */
  kubeconfig: string;
  /** Its directory (removed by `lab down`). */
  readonly dir: string;
  /** Runs `waymesh lab <verb> … --name <lab>`. */
  readonly waymesh: (verb: string, ...args: string[]) => Promise<string>;
  /** `kubectl --kubeconfig … args`; rejects on a non-zero exit. */
  readonly kubectl: (...args: string[]) => Promise<string>;
  /** `kubectl` with `input` on stdin (e.g. `apply -f -`). */
  readonly kubectlIn: (input: string, ...args: string[]) => string;
  /** Like kubectlIn but expects failure; returns kubectl's stderr. */
  readonly kubectlFails: (input: string, ...args: string[]) => string;
  /** `waymesh lab exec NS/POD -- cmd…`; resolves with stdout, rejects on a non-zero exit. */
  readonly exec: (pod: string, ...cmd: string[]) => Promise<string>;
}

/** Registers before/after hooks that bring a lab up for the enclosing suite. */
export function useLab(prefix: string): TestLab {
  const name = `${prefix}${randomBytes(3).toString('hex')}`;
  const base = mkdtempSync(join(tmpdir(), `wm-${prefix}-`));
  const lab: TestLab = {
    name,
    kubeconfig: '',
    dir: join(base, 'lab'),
    waymesh: async (verb, ...args) =>
      (await run(process.execPath, [WAYMESH, 'lab', verb, ...args, '--name', name], { timeout: 150_000 }))
        .stdout,
    kubectl: async (...args) =>
      (await run('kubectl', ['--kubeconfig', lab.kubeconfig, ...args], { timeout: 60_000 })).stdout,
    kubectlIn: (input, ...args) =>
      execFileSync('kubectl', ['--kubeconfig', lab.kubeconfig, ...args], {
        input,
        stdio: ['pipe', 'pipe', 'pipe'],
      }).toString(),
    kubectlFails: (input, ...args) => {
      try {
        lab.kubectlIn(input, ...args);
      } catch (err) {
        return String((err as { stderr?: Buffer }).stderr ?? '');
      }
      throw new Error(`kubectl ${args.join(' ')} unexpectedly succeeded`);
    },
    exec: async (pod, ...cmd) =>
      (
        await run(process.execPath, [WAYMESH, 'lab', 'exec', pod, '--name', name, '--', ...cmd], {
          timeout: 30_000,
        })
      ).stdout,
  };
  before(async function () {
    this.timeout(180_000);
    lab.kubeconfig = (await lab.waymesh('up', '--dir', lab.dir)).trim();
  });
  after(async function () {
    this.timeout(60_000);
    await lab.waymesh('down').catch(() => undefined);
    rmSync(base, { recursive: true, force: true });
  });
  return lab;
}
