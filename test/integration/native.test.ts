// The node-agent's native addon in real network namespaces: listeners and outbound connections
// made inside another namespace, SO_ORIGINAL_DST behind iptables REDIRECT (IPv4, IPv6 and
// dual-stack), SO_MARK exempting traffic from capture, and errno-coded errors that always leave
// the thread in its own namespace. Needs root; never skipped.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { constants as osConstants } from 'node:os';

import { isMeshError } from '../../common/errors.ts';
import {
  connectInNetns,
  getMark,
  isSystemError,
  listenInNetns,
  listenServerInNetns,
  originalDst,
  setMark,
  socketFd,
  type NetnsListenOptions,
} from '../../node-agent/native/index.ts';
import { assertRoot, currentNetns, NetnsLab, type TestNetns, type VethPair } from '../helpers/netns.ts';

const CAPTURE_PORT = 15001;
const DUAL_STACK_CAPTURE_PORT = 15002;
const ECHO_PORT = 7000;
const CLOSED_PORT = 7001;
const BLACKHOLE_PORT = 7002;
const MESH_MARK = 0x539;

/** A server in a test namespace that hands out accepted sockets in arrival order. */
class Acceptor {
  readonly #queue: net.Socket[] = [];
  readonly #waiters: ((socket: net.Socket) => void)[] = [];
  readonly #all = new Set<net.Socket>();
  port = 0;

  constructor(readonly server: net.Server) {
    server.on('connection', (socket) => {
      this.#all.add(socket);
      socket.once('close', () => this.#all.delete(socket));
      const waiter = this.#waiters.shift();
      if (waiter === undefined) this.#queue.push(socket);
      else waiter(socket);
    });
  }

  /** The next accepted connection. */
  next(): Promise<net.Socket> {
    const queued = this.#queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  get pending(): number {
    return this.#queue.length;
  }

  async close(): Promise<void> {
    for (const socket of this.#all) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

async function acceptIn(
  ns: TestNetns,
  options: NetnsListenOptions,
  server = net.createServer(),
): Promise<Acceptor> {
  const acceptor = new Acceptor(server);
  acceptor.port = await listenServerInNetns(server, ns.path, options);
  return acceptor;
}

/** An echo server that, on the client's FIN, sends `bye` and closes its own side. */
function echoServer(): net.Server {
  return net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('data', (chunk: Buffer) => socket.write(chunk));
    socket.on('end', () => socket.end('bye'));
  });
}

function readToEnd(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
  });
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Runs `fn`, which must throw a SystemError `code` from `syscall`, and checks the thread stayed home. */
function expectSystemError(fn: () => unknown, code: string, syscall: string): void {
  const home = currentNetns();
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.equal(currentNetns(), home, 'the thread was left in another network namespace');
  assert.ok(isSystemError(caught, code), `expected ${code} from ${syscall}, got ${String(caught)}`);
  assert.equal(caught.syscall, syscall);
  assert.equal(caught.errno, -(osConstants.errno as Record<string, number>)[code]!);
}

/** As {@link expectSystemError} for connectInNetns. */
async function expectConnectError(
  promise: Promise<net.Socket>,
  code: string,
  syscall = 'connect',
): Promise<void> {
  const home = currentNetns();
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isSystemError(err, code), `expected ${code}, got ${String(err)}`);
    assert.equal(err.syscall, syscall);
    return true;
  });
  assert.equal(currentNetns(), home, 'the thread was left in another network namespace');
}

describe('node-agent native addon in network namespaces', function () {
  this.timeout(10_000);
  const lab = new NetnsLab();
  const sockets = new Set<net.Socket>();
  const acceptors: Acceptor[] = [];
  let a: TestNetns; // the captured "pod"
  let b: TestNetns; // its peer across the veth
  let lonely: TestNetns; // loopback only: no route anywhere
  let pair: VethPair;
  let capture4: Acceptor;
  let capture6: Acceptor;
  let captureDual: Acceptor;
  let peerWeb: Acceptor;
  let home: string;

  const connect = async (ns: TestNetns, host: string, port: number, mark?: number): Promise<net.Socket> => {
    const socket = await connectInNetns(ns.path, host, port, mark === undefined ? {} : { mark });
    sockets.add(socket);
    return socket;
  };

  before(async () => {
    assertRoot();
    home = currentNetns();
    [a, b, lonely] = await Promise.all([lab.createNetns(), lab.createNetns(), lab.createNetns()]);
    pair = await lab.link(a, b);
    const mark = `0x${MESH_MARK.toString(16)}`;
    for (const iptables of ['iptables', 'ip6tables']) {
      const rule = (ns: TestNetns, spec: string): Promise<unknown> =>
        lab.exec(ns, iptables, ['-w', ...spec.split(' ')]);
      // The mesh's own (marked) traffic is exempt from capture: RETURN comes before REDIRECT.
      await rule(a, `-t nat -A OUTPUT -p tcp --dport 80 -m mark --mark ${mark} -j RETURN`);
      await rule(a, `-t nat -A OUTPUT -p tcp --dport 80 -j REDIRECT --to-ports ${CAPTURE_PORT}`);
      await rule(a, `-t nat -A OUTPUT -p tcp --dport 81 -j REDIRECT --to-ports ${DUAL_STACK_CAPTURE_PORT}`);
      await rule(b, `-A INPUT -p tcp --dport ${BLACKHOLE_PORT} -j DROP`);
    }
    // Registered one by one so that `after` closes whatever a failing `before` already opened.
    const open = async (
      ns: TestNetns,
      options: NetnsListenOptions,
      server?: net.Server,
    ): Promise<Acceptor> => {
      const acceptor = await acceptIn(ns, options, server);
      acceptors.push(acceptor);
      return acceptor;
    };
    capture4 = await open(a, { host: '0.0.0.0', port: CAPTURE_PORT });
    capture6 = await open(a, { host: '::', port: CAPTURE_PORT, v6Only: true });
    captureDual = await open(a, { host: '::', port: DUAL_STACK_CAPTURE_PORT, v6Only: false });
    peerWeb = await open(b, { host: '::', port: 80, v6Only: false });
    await open(b, { host: '::', port: ECHO_PORT, v6Only: false }, echoServer());
  });

  afterEach(() => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    for (const acceptor of [capture4, capture6, captureDual, peerWeb]) {
      assert.equal(acceptor.pending, 0, 'a connection arrived where no test expected it');
    }
    assert.equal(currentNetns(), home, 'the thread was left in another network namespace');
  });

  after(async () => {
    try {
      await Promise.all(acceptors.map((acceptor) => acceptor.close()));
    } finally {
      await lab.cleanup();
    }
  });

  describe('listenInNetns', () => {
    it('listens inside the namespace, reachable from a process in that namespace', async () => {
      const server = net.createServer((socket) => socket.end('hello from the addon'));
      const acceptor = await acceptIn(a, { host: '127.0.0.1', port: 0 }, server);
      try {
        assert.ok(acceptor.port > 0);
        assert.equal(currentNetns(), home);
        // An independent client (bash's /dev/tcp) started inside the namespace by iproute2.
        const { stdout } = await lab.exec(a, 'bash', [
          '-c',
          `exec 3<>/dev/tcp/127.0.0.1/${acceptor.port}; cat <&3`,
        ]);
        assert.equal(stdout, 'hello from the addon');
        const listed = await lab.exec(a, 'ss', ['-Hltn', `sport = :${acceptor.port}`]);
        assert.match(listed.stdout, /LISTEN/);
        const shut = await acceptor.next();
        shut.destroy();
      } finally {
        await acceptor.close();
      }
    });

    it('returns the kernel-chosen port and applies mark and transparency options', () => {
      for (const host of ['::1', '127.0.0.1']) {
        const { fd, port } = listenInNetns(a.path, {
          host,
          port: 0,
          backlog: 16,
          mark: 7,
          transparent: true,
        });
        try {
          assert.ok(port > 0);
          assert.equal(getMark(fd), 7);
        } finally {
          closeSync(fd);
        }
      }
    });
  });

  describe('originalDst', () => {
    it('recovers an IPv4 destination redirected by iptables', async () => {
      const client = await connect(a, pair.b.ipv4, 80);
      const accepted = await capture4.next();
      assert.deepEqual(originalDst(socketFd(accepted)), { address: pair.b.ipv4, port: 80, family: 4 });
      assert.equal(client.remoteAddress, pair.b.ipv4, 'REDIRECT is invisible to the client');
    });

    it('recovers an IPv6 destination redirected by ip6tables', async () => {
      await connect(a, pair.b.ipv6, 80);
      const accepted = await capture6.next();
      assert.deepEqual(originalDst(socketFd(accepted)), { address: pair.b.ipv6, port: 80, family: 6 });
    });

    it('reports IPv4 clients of a dual-stack listener as family 4', async () => {
      await connect(a, pair.b.ipv4, 81);
      const mapped = await captureDual.next();
      assert.equal(mapped.localAddress, '::ffff:127.0.0.1');
      assert.deepEqual(originalDst(socketFd(mapped)), { address: pair.b.ipv4, port: 81, family: 4 });
      await connect(a, pair.b.ipv6, 81);
      const native6 = await captureDual.next();
      assert.deepEqual(originalDst(socketFd(native6)), { address: pair.b.ipv6, port: 81, family: 6 });
    });

    it('reports the local address of a connection that was not redirected, where conntrack tracks it', async () => {
      await connect(a, '127.0.0.1', CAPTURE_PORT);
      const direct = await capture4.next();
      assert.deepEqual(originalDst(socketFd(direct)), {
        address: '127.0.0.1',
        port: CAPTURE_PORT,
        family: 4,
      });
    });

    it('throws ENOENT for a connection in a namespace without connection tracking', async () => {
      const acceptor = await acceptIn(lonely, { host: '127.0.0.1', port: 0 });
      try {
        await connect(lonely, '127.0.0.1', acceptor.port);
        const untracked = await acceptor.next();
        expectSystemError(() => originalDst(socketFd(untracked)), 'ENOENT', 'getsockopt');
      } finally {
        await acceptor.close();
      }
    });
  });

  describe('connectInNetns', () => {
    for (const family of ['ipv4', 'ipv6'] as const) {
      it(`carries data both ways and supports half-close across the veth (${family})`, async () => {
        const client = await connect(a, pair.b[family], ECHO_PORT);
        assert.equal(client.localAddress, pair.a[family], 'the connection leaves from namespace A');
        assert.equal(client.remoteAddress, pair.b[family]);
        const received = readToEnd(client);
        const payload = randomBytes(256 * 1024);
        client.write(payload);
        // Half-close: the server sees our FIN, yet its echo and `bye` still reach us afterwards.
        client.end();
        assert.deepEqual(await received, Buffer.concat([payload, Buffer.from('bye')]));
      });
    }

    it('keeps writing after the server half-closes when allowHalfOpen is set', async () => {
      let received!: Promise<Buffer>;
      const server = net.createServer((socket) => {
        received = readToEnd(socket);
        socket.end('ready');
      });
      const acceptor = await acceptIn(b, { host: '0.0.0.0', port: 0 }, server);
      try {
        const client = await connectInNetns(a.path, pair.b.ipv4, acceptor.port, {
          allowHalfOpen: true,
          noDelay: true,
        });
        sockets.add(client);
        assert.equal((await readToEnd(client)).toString(), 'ready');
        client.end('written after the server FIN');
        await acceptor.next();
        assert.equal((await received).toString(), 'written after the server FIN');
      } finally {
        await acceptor.close();
      }
    });

    it('rejects with ECONNREFUSED for a closed port', async () => {
      await expectConnectError(connectInNetns(a.path, pair.b.ipv4, CLOSED_PORT), 'ECONNREFUSED');
      await expectConnectError(connectInNetns(a.path, pair.b.ipv6, CLOSED_PORT), 'ECONNREFUSED');
    });

    it('rejects with ENETUNREACH when the namespace has no route', async () => {
      await expectConnectError(connectInNetns(lonely.path, pair.b.ipv4, ECHO_PORT), 'ENETUNREACH');
    });

    it('rejects with ETIMEDOUT when the handshake does not complete in time', async () => {
      const started = Date.now();
      await expectConnectError(
        connectInNetns(a.path, pair.b.ipv4, BLACKHOLE_PORT, { timeoutMs: 150 }),
        'ETIMEDOUT',
      );
      assert.ok(Date.now() - started < 2_000);
    });

    it('refuses host names, which would be resolved in the wrong namespace', async () => {
      await assert.rejects(connectInNetns(a.path, 'localhost', 80), (err: unknown) =>
        isMeshError(err, 'NETNS_CONNECT_BAD_HOST'),
      );
    });

    it('leaves no file descriptor behind after failures', async () => {
      const before = openFds();
      await expectConnectError(connectInNetns(a.path, pair.b.ipv4, CLOSED_PORT), 'ECONNREFUSED');
      await expectConnectError(connectInNetns(lonely.path, pair.b.ipv4, ECHO_PORT), 'ENETUNREACH');
      await expectConnectError(
        connectInNetns(a.path, pair.b.ipv4, BLACKHOLE_PORT, { timeoutMs: 50 }),
        'ETIMEDOUT',
      );
      await expectConnectError(
        connectInNetns('/var/run/netns/wmt-missing', pair.b.ipv4, 80),
        'ENOENT',
        'open',
      );
      assert.equal(openFds(), before);
    });
  });

  describe('SO_MARK', () => {
    it('exempts a marked connection from capture while an unmarked one is redirected', async () => {
      const unmarked = await connect(a, pair.b.ipv4, 80);
      const captured = await capture4.next();
      assert.deepEqual(originalDst(socketFd(captured)), { address: pair.b.ipv4, port: 80, family: 4 });
      assert.equal(getMark(socketFd(unmarked)), 0);

      const marked = await connect(a, pair.b.ipv4, 80, MESH_MARK);
      const reached = await peerWeb.next();
      assert.equal(
        reached.remoteAddress,
        `::ffff:${pair.a.ipv4}`,
        'the marked connection reached namespace B',
      );
      assert.equal(getMark(socketFd(marked)), MESH_MARK);
    });

    it('sets and reads the mark of an existing socket', async () => {
      const client = await connect(a, pair.b.ipv4, ECHO_PORT);
      setMark(socketFd(client), 0xffffffff);
      assert.equal(getMark(socketFd(client)), 0xffffffff);
    });
  });

  describe('errors', () => {
    it('throws ENOENT for a namespace that does not exist', () => {
      expectSystemError(
        () => listenInNetns('/var/run/netns/wmt-missing', { host: '::', port: 0 }),
        'ENOENT',
        'open',
      );
    });

    it('throws EINVAL from setns for a path that is not a network namespace', () => {
      expectSystemError(() => listenInNetns('/proc/self/ns/uts', { host: '::', port: 0 }), 'EINVAL', 'setns');
      expectSystemError(() => listenInNetns('/etc/hostname', { host: '::', port: 0 }), 'EINVAL', 'setns');
    });

    it('throws EADDRINUSE for a port taken inside the namespace, and returns home', () => {
      expectSystemError(
        () => listenInNetns(a.path, { host: '0.0.0.0', port: CAPTURE_PORT }),
        'EADDRINUSE',
        'bind',
      );
    });

    it('throws EBADF for a bad file descriptor', () => {
      const fd = openSync('/dev/null', 'r');
      closeSync(fd);
      expectSystemError(() => originalDst(fd), 'EBADF', 'getsockname');
      expectSystemError(() => originalDst(-1), 'EBADF', 'getsockname');
      expectSystemError(() => setMark(fd, 1), 'EBADF', 'setsockopt');
      expectSystemError(() => getMark(fd), 'EBADF', 'getsockopt');
    });

    it('throws ENOTSOCK for a file that is not a socket', () => {
      const fd = openSync('/dev/null', 'r');
      try {
        expectSystemError(() => originalDst(fd), 'ENOTSOCK', 'getsockname');
      } finally {
        closeSync(fd);
      }
    });

    it('rejects malformed arguments with a TypeError', () => {
      for (const bad of [
        () => listenInNetns(a.path, { host: 'localhost', port: 0 }),
        () => listenInNetns(a.path, { host: '::', port: 70_000 }),
        () => setMark(0, -1),
        () => originalDst(1.5),
      ]) {
        assert.throws(
          bad,
          (err: unknown) => err instanceof TypeError && 'code' in err && err.code === 'ERR_INVALID_ARG_TYPE',
        );
      }
    });

    it('leaves no file descriptor behind after synchronous failures', () => {
      const before = openFds();
      for (let i = 0; i < 20; i++) {
        expectSystemError(
          () => listenInNetns('/var/run/netns/wmt-missing', { host: '::', port: 0 }),
          'ENOENT',
          'open',
        );
        expectSystemError(() => listenInNetns('/etc/hostname', { host: '::', port: 0 }), 'EINVAL', 'setns');
        expectSystemError(
          () => listenInNetns(a.path, { host: '0.0.0.0', port: CAPTURE_PORT }),
          'EADDRINUSE',
          'bind',
        );
      }
      assert.equal(openFds(), before);
    });

    it('socketFd throws SOCKET_FD_UNAVAILABLE for a socket without a handle', () => {
      assert.throws(
        () => socketFd(new net.Socket()),
        (err: unknown) => isMeshError(err, 'SOCKET_FD_UNAVAILABLE'),
      );
      assert.throws(
        () => socketFd(net.createServer()),
        (err: unknown) => isMeshError(err, 'SOCKET_FD_UNAVAILABLE'),
      );
    });
  });
});
