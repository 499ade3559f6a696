/**
 * Test helpers for the sample apps: tiny HTTP/1.1, HTTP/2 and TCP clients that return plain
 * values, a throw-away PKI made with openssl, and a runner for the client CLI.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type http2 from 'node:http2';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (two levels above test/unit/apps). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** A response reduced to plain data. */
export interface PlainResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly text: string;
  /** The body parsed as JSON object (throws in the test if it is not). */
  readonly json: Record<string, unknown>;
}

function plain(status: number, headers: http.IncomingHttpHeaders, text: string): PlainResponse {
  return {
    status,
    headers,
    text,
    get json(): Record<string, unknown> {
      return JSON.parse(text) as Record<string, unknown>;
    },
  };
}

/** Sends one HTTP/1.1 request and reads the whole response. */
export function h1Request(options: http.RequestOptions & { body?: string }): Promise<PlainResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('error', reject);
      res.once('end', () =>
        resolve(plain(res.statusCode ?? 0, res.headers, Buffer.concat(chunks).toString())),
      );
    });
    req.once('error', reject);
    req.end(options.body);
  });
}

/** Sends one request on an HTTP/2 session and reads the whole response. */
export function h2Request(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: string,
): Promise<PlainResponse> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    let status = 0;
    let responseHeaders: http.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.once('response', (h) => {
      status = Number(h[':status']);
      responseHeaders = h;
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.once('error', reject);
    stream.once('end', () => resolve(plain(status, responseHeaders, Buffer.concat(chunks).toString())));
    if (body !== undefined) stream.end(body);
  });
}

/** A port nothing listens on (bound then released). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** A CA, an echo server cert for 127.0.0.1, and client certs, in a temp dir. */
export interface TestPki {
  /** Holds key.pem, cert.pem, root.pem for echo's `--tls-dir`. */
  readonly dir: string;
  readonly root: Buffer;
  /** Client cert with URI SAN spiffe://cluster.local/ns/default/sa/test, signed by the CA. */
  readonly client: { readonly key: Buffer; readonly cert: Buffer };
  /** Self-signed client cert with the same URI SAN (must not be believed). */
  readonly rogue: { readonly key: Buffer; readonly cert: Buffer };
  cleanup(): void;
}

/** The SPIFFE id in the test client certificate. */
export const TEST_SPIFFE_ID = 'spiffe://cluster.local/ns/default/sa/test';

/** Generates a PKI with openssl (no network). */
export function makePki(): TestPki {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'waymesh-echo-tls-'));
  const ssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  try {
    ssl(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'ca.key',
      '-out',
      'root.pem',
      '-days',
      '1',
      '-subj',
      '/CN=test-ca',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    );
    writeFileSync(
      path.join(dir, 'server.ext'),
      'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n',
    );
    writeFileSync(
      path.join(dir, 'client.ext'),
      `subjectAltName=URI:${TEST_SPIFFE_ID}\nextendedKeyUsage=clientAuth\n`,
    );
    const signByRoot = (csr: string, ext: string, out: string): void => {
      ssl(
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        'root.pem',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-days',
        '1',
        '-extfile',
        ext,
        '-out',
        out,
      );
    };
    ssl('req', ...ec, '-keyout', 'key.pem', '-out', 'server.csr', '-subj', '/CN=echo');
    signByRoot('server.csr', 'server.ext', 'cert.pem');
    ssl('req', ...ec, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=client');
    signByRoot('client.csr', 'client.ext', 'client.pem');
    ssl(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'rogue.key',
      '-out',
      'rogue.pem',
      '-days',
      '1',
      '-subj',
      '/CN=rogue',
      '-addext',
      `subjectAltName=URI:${TEST_SPIFFE_ID}`,
    );
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const read = (name: string): Buffer => readFileSync(path.join(dir, name));
  return {
    dir,
    root: read('root.pem'),
    client: { key: read('client.key'), cert: read('client.pem') },
    rogue: { key: read('rogue.key'), cert: read('rogue.pem') },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** What a CLI run produced. */
export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout parsed as JSON lines. */
  readonly lines: Array<Record<string, unknown>>;
}

/** Runs `node --import tsx <script> ...args` from the repo root. */
export function runCli(script: string, args: readonly string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', script, ...args],
      { cwd: REPO_ROOT, timeout: 15_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
        const lines = stdout
          .split('\n')
          .filter((l) => l.trim() !== '')
          .map((l) => JSON.parse(l) as Record<string, unknown>);
        resolve({ code, stdout, stderr, lines });
      },
    );
  });
}
