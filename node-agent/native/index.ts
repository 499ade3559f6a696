/**
 * The node-agent's native addon: sockets in other network namespaces, `SO_ORIGINAL_DST` and
 * `SO_MARK`. The C side (src/) runs only short synchronous syscalls on the calling thread and
 * always puts the thread back in its own namespace; everything asynchronous is Node's own
 * `net.Socket`/`net.Server` driving an fd the addon created.
 *
 * Failing syscalls throw a {@link SystemError} shaped like Node's (`code` = errno name, negative
 * `errno`, `syscall`), so callers handle `ECONNREFUSED` the same whoever raised it.
 */
import { closeSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { constants as osConstants } from 'node:os';
import { fileURLToPath } from 'node:url';

import { MeshError } from '../../common/errors.ts';

/** Where `npm run build:native` puts the addon, relative to this file. */
const ADDON_PATH = './build/Release/waymesh_native.node';

/** How long {@link connectInNetns} waits for the handshake unless told otherwise. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** An error from a failed syscall, as the addon and Node's `net` raise them. */
export interface SystemError extends Error {
  /** errno name, e.g. `ENOENT`, `ECONNREFUSED`. */
  readonly code: string;
  /** Negated errno number, as in Node's own system errors (`-2` for `ENOENT`). */
  readonly errno: number;
  /** The call that failed: `open`, `setns`, `bind`, `connect`, `getsockopt`... */
  readonly syscall: string;
  /** The namespace path, when opening or entering it failed. */
  readonly path?: string;
}

/** The destination a connection had before iptables `REDIRECT`/`DNAT` rewrote it. */
export interface OriginalDestination {
  readonly address: string;
  readonly port: number;
  readonly family: 4 | 6;
}

/** Options for {@link listenInNetns} and {@link listenServerInNetns}. */
export interface NetnsListenOptions {
  /** IPv4 or IPv6 literal to bind (`0.0.0.0`, `::`, `127.0.0.1`); host names are refused. */
  readonly host: string;
  /** Port to bind; 0 lets the kernel pick one (returned as `port`). */
  readonly port: number;
  /** listen(2) backlog; default 511, as Node's. */
  readonly backlog?: number;
  /** `SO_MARK` on the listening socket. */
  readonly mark?: number;
  /** `IP_TRANSPARENT`/`IPV6_TRANSPARENT`, for TPROXY capture. */
  readonly transparent?: boolean;
  /** `IPV6_V6ONLY` for IPv6 hosts; unset keeps the namespace's default (dual-stack on Linux). */
  readonly v6Only?: boolean;
}

/** A listening socket made by {@link listenInNetns}. */
export interface NetnsListener {
  /** The listening fd; pass it to `net.Server.listen({ fd })`, which then owns it. */
  readonly fd: number;
  /** The bound port (useful when `port` was 0). */
  readonly port: number;
}

/** Options for {@link connectInNetns}. */
export interface ConnectInNetnsOptions {
  /** `SO_MARK` set before the SYN, e.g. so capture rules let the agent's own traffic through. */
  readonly mark?: number;
  /** Give up (ETIMEDOUT) when the handshake has not completed by then; default 10 s. */
  readonly timeoutMs?: number;
  /** As `net.Socket`'s `allowHalfOpen`: keep writing after the peer's FIN; default false. */
  readonly allowHalfOpen?: boolean;
  /** Disable Nagle once connected; default false. */
  readonly noDelay?: boolean;
}

interface NativeBinding {
  originalDst(fd: number): OriginalDestination;
  listenInNetns(nsPath: string, options: NetnsListenOptions): NetnsListener;
  tcpSocketInNetns(nsPath: string, options: { family: 4 | 6; mark?: number }): number;
  setMark(fd: number, mark: number): void;
  getMark(fd: number): number;
}

let binding: NativeBinding | undefined;

function native(): NativeBinding {
  binding ??= loadBinding();
  return binding;
}

function loadBinding(): NativeBinding {
  const require = createRequire(import.meta.url);
  try {
    return require(ADDON_PATH) as NativeBinding;
  } catch (err) {
    const missing = err instanceof Error && 'code' in err && err.code === 'MODULE_NOT_FOUND';
    throw new MeshError(
      missing ? 'NATIVE_ADDON_MISSING' : 'NATIVE_ADDON_LOAD_FAILED',
      missing
        ? `the node-agent native addon is not built (no ${fileURLToPath(new URL(ADDON_PATH, import.meta.url))})`
        : `the node-agent native addon could not be loaded: ${err instanceof Error ? err.message : String(err)}`,
      { hint: 'run `npm run build:native` (needs python3, make and a C compiler)', cause: err },
    );
  }
}

/**
 * Loads the addon now, so an agent fails at start-up (MeshError `NATIVE_ADDON_MISSING`) rather
 * than on its first connection. Every other export loads it on first use.
 */
export function loadNativeAddon(): void {
  native();
}

/** True when `err` is a {@link SystemError}, optionally with the given errno name. */
export function isSystemError(err: unknown, code?: string): err is SystemError {
  return (
    err instanceof Error &&
    'code' in err &&
    typeof err.code === 'string' &&
    'syscall' in err &&
    typeof err.syscall === 'string' &&
    (code === undefined || err.code === code)
  );
}

/**
 * The original destination of an accepted, redirected TCP connection (`SO_ORIGINAL_DST`, or
 * `IP6T_SO_ORIGINAL_DST` for IPv6). IPv4 clients of a dual-stack listener are reported as family 4.
 * For a connection that was not redirected, the kernel answers from conntrack: the socket's own
 * local address when the namespace tracks connections (any nat rule enables that), otherwise
 * an `ENOENT` SystemError. Bad fds throw `EBADF`; non-IP sockets `EAFNOSUPPORT`.
 */
export function originalDst(fd: number): OriginalDestination {
  return native().originalDst(fd);
}

/**
 * Opens a listening TCP socket inside the network namespace at `nsPath` (`/var/run/netns/NAME`,
 * `/proc/PID/ns/net`) and returns its fd, which stays in that namespace for its whole life.
 * Throws a SystemError: `ENOENT` (no such namespace), `EINVAL` from `setns` (not a netns),
 * `EADDRINUSE`... The calling thread is back in its own namespace whatever happens.
 */
export function listenInNetns(nsPath: string, options: NetnsListenOptions): NetnsListener {
  return native().listenInNetns(nsPath, options);
}

/**
 * Makes `server` listen on a socket opened by {@link listenInNetns}; resolves with the bound port
 * once the server is listening. The server owns the fd from then on (`server.close()` frees it).
 */
export async function listenServerInNetns(
  server: net.Server,
  nsPath: string,
  options: NetnsListenOptions,
): Promise<number> {
  const { fd, port } = listenInNetns(nsPath, options);
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    try {
      server.listen({ fd, backlog: options.backlog ?? 511 });
    } catch (err) {
      // Thrown before Node adopted the fd (e.g. the server is already listening): still ours.
      server.off('error', onError);
      server.off('listening', onListening);
      closeSync(fd);
      throw err;
    }
  });
  return port;
}

/**
 * Opens a TCP connection from inside the network namespace at `nsPath` to `host:port` (an IP
 * literal: names would be resolved in the agent's own namespace). Resolves once the handshake has
 * completed; rejects with a SystemError: `ENOENT`/`EINVAL` for a bad namespace, `ECONNREFUSED`,
 * `ENETUNREACH`, `EHOSTUNREACH`, or `ETIMEDOUT` after `timeoutMs`. No fd outlives a rejection.
 *
 * The addon only creates the socket (and sets `SO_MARK`) inside the namespace; a socket's
 * namespace is fixed at creation, so Node's own `connect` then drives the handshake on that fd.
 */
export async function connectInNetns(
  nsPath: string,
  host: string,
  port: number,
  options: ConnectInNetnsOptions = {},
): Promise<net.Socket> {
  const family = net.isIP(host);
  if (family !== 4 && family !== 6) {
    throw new MeshError(
      'NETNS_CONNECT_BAD_HOST',
      `cannot connect in ${nsPath} to "${host}": not an IP address`,
      {
        hint: 'resolve the name first; lookups would run in the agent namespace, not the target one',
      },
    );
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new MeshError(
      'NETNS_CONNECT_BAD_PORT',
      `cannot connect in ${nsPath} to port ${port}: not in 1-65535`,
    );
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const fd = native().tcpSocketInNetns(
    nsPath,
    options.mark === undefined ? { family } : { family, mark: options.mark },
  );
  const socket = adopt(fd, options.allowHalfOpen ?? false);

  await new Promise<void>((resolve, reject) => {
    const settle = (err?: Error): void => {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('error', onError);
      if (err === undefined) {
        resolve();
      } else {
        socket.destroy();
        reject(err);
      }
    };
    const onConnect = (): void => settle();
    const onError = (err: Error): void => settle(err);
    const timer = setTimeout(() => settle(timeoutError(nsPath, host, port, timeoutMs)), timeoutMs);
    socket.once('connect', onConnect);
    socket.once('error', onError);
    try {
      socket.connect({ host, port });
    } catch (err) {
      settle(err instanceof Error ? err : new Error(String(err)));
    }
  });
  if (options.noDelay === true) socket.setNoDelay(true);
  return socket;
}

/** Wraps an unconnected TCP fd in a net.Socket that owns it (and closes it on destroy). */
function adopt(fd: number, allowHalfOpen: boolean): net.Socket {
  // `manualStart` (honoured by Node since 0.x, used by its child_process) stops the constructor
  // from starting to read on a socket that is not connected yet; Node starts reading once
  // `connect` completes. `socket.connect()` then reuses this handle instead of making a new one.
  const init: net.SocketConstructorOpts & { manualStart: boolean } = { fd, allowHalfOpen, manualStart: true };
  try {
    return new net.Socket(init);
  } catch (err) {
    // The constructor throws before libuv adopts the fd, so it is still ours to close.
    closeSync(fd);
    throw err;
  }
}

function timeoutError(nsPath: string, host: string, port: number, timeoutMs: number): SystemError {
  const target = net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
  return Object.assign(new Error(`connect ETIMEDOUT ${target} (from ${nsPath}, after ${timeoutMs} ms)`), {
    code: 'ETIMEDOUT',
    errno: -osConstants.errno.ETIMEDOUT,
    syscall: 'connect',
    address: host,
    port,
  });
}

/** Sets `SO_MARK` on a socket fd (needs CAP_NET_ADMIN); throws a SystemError (`EBADF`, `EPERM`). */
export function setMark(fd: number, mark: number): void {
  native().setMark(fd, mark);
}

/** Reads `SO_MARK` from a socket fd; throws a SystemError (`EBADF`, `ENOTSOCK`). */
export function getMark(fd: number): number {
  return native().getMark(fd);
}

/**
 * The fd under a Node socket or server (e.g. an accepted socket to pass to {@link originalDst}).
 * Throws MeshError `SOCKET_FD_UNAVAILABLE` when there is none: not yet connected/listening,
 * already closed, or not backed by an OS socket (TLS over a JS stream, a test double).
 */
export function socketFd(socket: net.Socket | net.Server): number {
  const handle: unknown = Reflect.get(socket, '_handle');
  if (typeof handle === 'object' && handle !== null && 'fd' in handle) {
    const fd = handle.fd;
    if (typeof fd === 'number' && Number.isInteger(fd) && fd >= 0) return fd;
  }
  throw new MeshError('SOCKET_FD_UNAVAILABLE', 'the socket has no file descriptor', {
    hint: 'ask for it while the socket is connected or the server is listening',
  });
}
