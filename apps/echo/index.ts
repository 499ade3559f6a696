/**
 * The echo workload: HTTP/1.1 + h2c on each HTTP port, optional TLS, gRPC and raw TCP, all
 * answering with facts about the request. Used by the lab, the demo, tests and benchmarks.
 */
import net from 'node:net';
import os from 'node:os';
import { MeshError } from '../../common/errors.ts';
import { createLogger } from '../../common/log.ts';
import type { Logger } from '../../common/log.ts';
import type { EchoIdentity } from './facts.ts';
import { startGrpcEcho } from './grpc.ts';
import type { EchoGrpcServer } from './grpc.ts';
import { createHttpStack } from './http-stack.ts';
import { createSniffingServer } from './sniff.ts';
import { createTcpEchoServer } from './tcp.ts';
import { createTlsServer, readTlsDir } from './tls.ts';
import { ConnectionTracker } from './tracker.ts';

/** What to serve. An omitted port means that listener is not started; 0 picks a free port. */
export interface EchoOptions {
  readonly httpPorts?: readonly number[];
  readonly grpcPort?: number;
  readonly tcpPort?: number;
  /** TLS port, used only with `tlsDir`; defaults to 8443. */
  readonly tlsPort?: number;
  /** Bind address; default `::`, or `0.0.0.0` when the host has no IPv6. */
  readonly host?: string;
  /** Directory with key.pem, cert.pem and root.pem; enables the TLS port. */
  readonly tlsDir?: string;
  /** Defaults to env POD_NAME, else the hostname. */
  readonly pod?: string;
  /** Defaults to env POD_NAMESPACE, else `default`. */
  readonly namespace?: string;
  readonly logger?: Logger;
}

/** A running echo; ports are the ones actually bound. */
export interface EchoServer {
  readonly host: string;
  readonly pod: string;
  readonly namespace: string;
  readonly httpPorts: readonly number[];
  readonly grpcPort: number | undefined;
  readonly tcpPort: number | undefined;
  readonly tlsPort: number | undefined;
  /** Closes listeners, lets in-flight requests finish, destroys what is left after `deadlineMs` (5000). */
  stop(options?: { deadlineMs?: number }): Promise<void>;
}

/** Default TLS port when `tlsDir` is set without `tlsPort`. */
export const DEFAULT_TLS_PORT = 8443;

function listen(server: net.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    });
  });
}

/** `::` when this host can bind IPv6, else `0.0.0.0`. */
async function defaultHost(): Promise<string> {
  const probe = net.createServer();
  try {
    await listen(probe, 0, '::');
    return '::';
  } catch {
    return '0.0.0.0';
  } finally {
    probe.close();
  }
}

/** Starts every requested listener; on any failure the ones already started are closed. */
export async function startEcho(options: EchoOptions = {}): Promise<EchoServer> {
  const logger = (options.logger ?? createLogger()).child({ component: 'echo' });
  const identity: EchoIdentity = {
    pod: options.pod ?? process.env['POD_NAME'] ?? os.hostname(),
    namespace: options.namespace ?? process.env['POD_NAMESPACE'] ?? 'default',
  };
  const host = options.host ?? (await defaultHost());
  const tracker = new ConnectionTracker();
  const stack = createHttpStack({ identity, tracker, logger });
  const servers: net.Server[] = [];
  let grpcServer: EchoGrpcServer | undefined;

  const bind = async (server: net.Server, port: number, what: string): Promise<number> => {
    servers.push(server);
    try {
      return await listen(server, port, host);
    } catch (err) {
      throw new MeshError('ECHO_LISTEN_FAILED', `${what} cannot listen on ${host} port ${port}`, {
        hint: 'is another process using the port, or the address not configured here?',
        cause: err,
      });
    }
  };

  let stopping: Promise<void> | undefined;
  const stop = (deadlineMs: number): Promise<void> => {
    stopping ??= (async () => {
      for (const server of servers) server.close();
      await Promise.all([tracker.drain(deadlineMs), grpcServer?.stop(deadlineMs)]);
      logger.info('echo stopped');
    })();
    return stopping;
  };

  try {
    const httpPorts: number[] = [];
    for (const port of options.httpPorts ?? []) {
      httpPorts.push(await bind(createSniffingServer(stack, tracker, logger), port, 'HTTP'));
    }
    let tlsPort: number | undefined;
    if (options.tlsDir !== undefined) {
      const material = await readTlsDir(options.tlsDir);
      tlsPort = await bind(
        createTlsServer(material, stack, logger),
        options.tlsPort ?? DEFAULT_TLS_PORT,
        'TLS',
      );
    }
    const tcpPort =
      options.tcpPort === undefined
        ? undefined
        : await bind(createTcpEchoServer(tracker, logger), options.tcpPort, 'TCP');
    if (options.grpcPort !== undefined) {
      grpcServer = await startGrpcEcho({ host, port: options.grpcPort, identity, logger });
    }
    const grpcPort = grpcServer?.port;
    logger.info('echo started', { host, httpPorts, grpcPort, tcpPort, tlsPort, ...identity });
    return {
      host,
      ...identity,
      httpPorts,
      grpcPort,
      tcpPort,
      tlsPort,
      stop: (stopOptions) => stop(stopOptions?.deadlineMs ?? 5000),
    };
  } catch (err) {
    await stop(0);
    throw err;
  }
}
