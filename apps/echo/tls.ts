/**
 * Echo's optional TLS port: HTTP/1.1 and HTTP/2 chosen by ALPN, client certificates requested and
 * verified against root.pem but not required, so a body can report `peerSpiffeId: null`.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import { MeshError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import type { HttpStack } from './http-stack.ts';

/** PEM material read from a `--tls-dir`. */
export interface TlsMaterial {
  readonly key: Buffer;
  /** Leaf first, then its chain. */
  readonly cert: Buffer;
  /** Roots that client certificates must chain to. */
  readonly root: Buffer;
}

/** Reads key.pem, cert.pem and root.pem from `dir`. */
export async function readTlsDir(dir: string): Promise<TlsMaterial> {
  const read = async (name: string): Promise<Buffer> => {
    try {
      return await readFile(path.join(dir, name));
    } catch (err) {
      throw new MeshError('ECHO_TLS_DIR_INVALID', `cannot read ${path.join(dir, name)}`, {
        hint: 'the TLS directory must hold key.pem, cert.pem (leaf + chain) and root.pem',
        cause: err,
      });
    }
  };
  const [key, cert, root] = await Promise.all([read('key.pem'), read('cert.pem'), read('root.pem')]);
  return { key, cert, root };
}

/** Creates (without listening) the TLS server that feeds `stack`. */
export function createTlsServer(material: TlsMaterial, stack: HttpStack, logger: Logger): tls.Server {
  const server = tls.createServer(
    {
      key: material.key,
      cert: material.cert,
      ca: material.root,
      requestCert: true,
      rejectUnauthorized: false,
      ALPNProtocols: ['h2', 'http/1.1'],
    },
    (socket) => {
      socket.on('error', (err: Error) => logger.debug('tls socket error', { err: err.message }));
      stack.dispatch(socket, socket.alpnProtocol === 'h2' ? 'h2' : 'http1');
    },
  );
  server.on('tlsClientError', (err: Error) => logger.debug('tls handshake failed', { err: err.message }));
  return server;
}
