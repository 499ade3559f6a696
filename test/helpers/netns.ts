/**
 * Network namespaces for integration tests: private namespaces with `lo` up, veth pairs between
 * two of them, commands run inside, and a cleanup registry that removes everything a lab made,
 * from a mocha `after`/`afterEach` hook and again on process exit or SIGINT/SIGTERM.
 *
 * Network safety: every address, route and link this module creates lives inside a namespace it
 * created itself. It never names the host namespace, so no test traffic can leave the machine:
 * veth pairs are created directly inside the test namespaces (`ip -n A link add ... peer ...
 * netns B`) and addresses only come from 10.250.0.0/16 and fd00:250::/48.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Every name this module gives a namespace or link starts with this. */
export const TEST_PREFIX = 'wmt-';

const COMMAND_TIMEOUT_MS = 10_000;

/** A network namespace created by a {@link NetnsLab}. */
export interface TestNetns {
  /** `wmt-` and six hex digits. */
  readonly name: string;
  /** `/var/run/netns/<name>`, the form the native addon takes. */
  readonly path: string;
}

/** One end of a veth pair, with its addresses (without prefix length). */
export interface VethEnd {
  readonly ns: TestNetns;
  readonly ifname: string;
  readonly ipv4: string;
  readonly ipv6: string;
}

/** A veth pair: `a` gets `10.250.<subnet>.1` / `...::1`, `b` gets `.2` / `::2`. */
export interface VethPair {
  readonly subnet: number;
  readonly a: VethEnd;
  readonly b: VethEnd;
}

/** Options for {@link NetnsLab.link}. */
export interface LinkOptions {
  /** The `x` of 10.250.x.0/24 and fd00:250:0:x::/64; default the lowest unused by either namespace. */
  readonly subnet?: number;
}

/** Output of a command run in a namespace. */
export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
}

/** Throws unless running as root: namespace tests must fail loudly, never skip, when they cannot run. */
export function assertRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new Error('network namespace tests need root (CI runs them as root); run them with sudo');
  }
}

/** The calling thread's network namespace, e.g. `net:[4026531833]`. */
export function currentNetns(): string {
  // thread-self, not self: the addon moves only the calling thread.
  return readlinkSync('/proc/thread-self/ns/net');
}

/** The IPv4 and IPv6 addresses of host `host` (1 or 2) on veth subnet `subnet`. */
export function vethAddresses(subnet: number, host: 1 | 2): { ipv4: string; ipv6: string } {
  const prefix = subnet === 0 ? 'fd00:250::' : `fd00:250:0:${subnet.toString(16)}::`;
  return { ipv4: `10.250.${subnet}.${host}`, ipv6: `${prefix}${host}` };
}

const liveLabs = new Set<NetnsLab>();
let exitHooksInstalled = false;

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  // 'exit' handlers must be synchronous, hence cleanupSync.
  process.once('exit', cleanupAllSync);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      cleanupAllSync();
      // Re-raise so the default action (or the test runner's own handler) still happens.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

function cleanupAllSync(): void {
  for (const lab of liveLabs) lab.cleanupSync();
}

/**
 * Creates test namespaces, links and processes and removes them all in {@link cleanup}. Make one
 * per suite and call `cleanup()` from `after` (or use {@link useNetnsLab}).
 */
export class NetnsLab {
  readonly #namespaces = new Map<string, TestNetns>();
  readonly #subnets = new Map<string, Set<number>>();
  readonly #links: { ns: TestNetns; ifname: string }[] = [];
  readonly #processes = new Set<ChildProcess>();

  /** Creates a namespace with a unique `wmt-` name and brings its loopback up. */
  async createNetns(): Promise<TestNetns> {
    this.#register();
    const name = `${TEST_PREFIX}${randomBytes(3).toString('hex')}`;
    await run('ip', ['netns', 'add', name]);
    const ns: TestNetns = { name, path: `/var/run/netns/${name}` };
    this.#namespaces.set(name, ns);
    this.#subnets.set(name, new Set());
    await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    // No duplicate address detection on links made later: nothing else shares them, and a
    // tentative link-local address would hold up neighbour discovery.
    await run('ip', ['netns', 'exec', name, 'sysctl', '-qw', 'net.ipv6.conf.default.accept_dad=0']);
    return ns;
  }

  /**
   * Joins two of this lab's namespaces with a veth pair and gives each end an IPv4 /24 and an
   * IPv6 /64 (`nodad`, so the address is usable at once).
   */
  async link(a: TestNetns, b: TestNetns, options: LinkOptions = {}): Promise<VethPair> {
    const usedA = this.#owned(a);
    const usedB = this.#owned(b);
    const subnet = options.subnet ?? lowestFree(usedA, usedB);
    if (!Number.isInteger(subnet) || subnet < 0 || subnet > 255 || usedA.has(subnet) || usedB.has(subnet)) {
      throw new Error(`veth subnet ${subnet} is invalid or already used in ${a.name}/${b.name}`);
    }
    const id = randomBytes(3).toString('hex');
    const pair: VethPair = {
      subnet,
      a: { ns: a, ifname: `wmt${id}a`, ...vethAddresses(subnet, 1) },
      b: { ns: b, ifname: `wmt${id}b`, ...vethAddresses(subnet, 2) },
    };
    // Both ends are born inside the test namespaces: the host namespace never sees them.
    await run('ip', [
      '-n',
      a.name,
      'link',
      'add',
      pair.a.ifname,
      'type',
      'veth',
      'peer',
      'name',
      pair.b.ifname,
      'netns',
      b.name,
    ]);
    this.#links.push({ ns: a, ifname: pair.a.ifname });
    usedA.add(subnet);
    usedB.add(subnet);
    // Links up before addresses: an IPv6 address added to a down link answers neighbour
    // solicitations only after a delay, which costs the first connection a SYN retransmit (1 s).
    for (const end of [pair.a, pair.b]) await run('ip', ['-n', end.ns.name, 'link', 'set', end.ifname, 'up']);
    for (const end of [pair.a, pair.b]) {
      await run('ip', ['-n', end.ns.name, 'addr', 'add', `${end.ipv4}/24`, 'dev', end.ifname]);
      await run('ip', ['-n', end.ns.name, 'addr', 'add', `${end.ipv6}/64`, 'dev', end.ifname, 'nodad']);
    }
    return pair;
  }

  /** Runs `command args...` inside `ns` (`ip netns exec`) and returns its output; rejects on non-zero exit. */
  async exec(ns: TestNetns, command: string, args: readonly string[]): Promise<ExecResult> {
    this.#owned(ns);
    return run('ip', ['netns', 'exec', ns.name, command, ...args]);
  }

  /** Starts a long-running `command` inside `ns`; it is killed by {@link cleanup} if still running. */
  spawn(ns: TestNetns, command: string, args: readonly string[]): ChildProcess {
    this.#owned(ns);
    this.#register();
    const child = spawn('ip', ['netns', 'exec', ns.name, command, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.#processes.add(child);
    child.once('exit', () => this.#processes.delete(child));
    return child;
  }

  /**
   * Kills this lab's processes and deletes its links and namespaces. Safe to call more than once;
   * the lab can be used again afterwards. Tries everything, then throws if anything was left behind.
   */
  async cleanup(): Promise<void> {
    const exits = [...this.#processes].map(
      (child) =>
        new Promise<void>((resolve) =>
          child.exitCode !== null || child.signalCode !== null
            ? resolve()
            : child.once('exit', () => resolve()),
        ),
    );
    for (const child of this.#processes) child.kill('SIGKILL');
    await Promise.all(exits);
    const failures: string[] = [];
    for (const { ns, ifname } of this.#links.splice(0)) {
      // Deleting one end removes the pair; a namespace already gone took its links with it.
      if (this.#namespaces.has(ns.name))
        await run('ip', ['-n', ns.name, 'link', 'del', ifname]).catch(() => undefined);
    }
    for (const ns of [...this.#namespaces.values()]) {
      await run('ip', ['netns', 'del', ns.name]).catch((err: unknown) => failures.push(String(err)));
      this.#namespaces.delete(ns.name);
      this.#subnets.delete(ns.name);
    }
    liveLabs.delete(this);
    if (failures.length > 0) throw new Error(`netns cleanup left things behind: ${failures.join('; ')}`);
  }

  /** Synchronous {@link cleanup}, for process exit. */
  cleanupSync(): void {
    for (const child of this.#processes) child.kill('SIGKILL');
    for (const { ns, ifname } of this.#links.splice(0)) {
      spawnSync('ip', ['-n', ns.name, 'link', 'del', ifname], { stdio: 'ignore' });
    }
    for (const ns of this.#namespaces.values())
      spawnSync('ip', ['netns', 'del', ns.name], { stdio: 'ignore' });
    this.#namespaces.clear();
    this.#subnets.clear();
    liveLabs.delete(this);
  }

  #register(): void {
    installExitHooks();
    liveLabs.add(this);
  }

  /** The subnets used in `ns`; throws unless this lab created `ns` (so nothing touches other namespaces). */
  #owned(ns: TestNetns): Set<number> {
    const used = this.#subnets.get(ns.name);
    if (used === undefined || this.#namespaces.get(ns.name) !== ns) {
      throw new Error(`namespace ${ns.name} was not created by this lab (or was already cleaned up)`);
    }
    return used;
  }
}

/**
 * A lab whose cleanup is registered as a mocha hook of the calling suite: `after` (default: the
 * suite shares its namespaces) or `afterEach` (every test starts from nothing).
 */
export function useNetnsLab(scope: 'suite' | 'test' = 'suite'): NetnsLab {
  const lab = new NetnsLab();
  if (scope === 'test') afterEach(() => lab.cleanup());
  else after(() => lab.cleanup());
  return lab;
}

function lowestFree(a: ReadonlySet<number>, b: ReadonlySet<number>): number {
  for (let subnet = 0; subnet <= 255; subnet++) {
    if (!a.has(subnet) && !b.has(subnet)) return subnet;
  }
  throw new Error('no free veth subnet left between these namespaces');
}

async function run(command: string, args: readonly string[]): Promise<ExecResult> {
  try {
    const { stdout, stderr } = await execFileAsync(command, args, {
      timeout: COMMAND_TIMEOUT_MS,
      encoding: 'utf8',
    });
    return { stdout, stderr };
  } catch (err) {
    const stderr =
      typeof err === 'object' && err !== null && 'stderr' in err ? String(err.stderr).trim() : '';
    throw new Error(`${command} ${args.join(' ')} failed${stderr === '' ? '' : `: ${stderr}`}`, {
      cause: err,
    });
  }
}
