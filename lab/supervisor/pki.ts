/**
 * The lab's PKI, made with the `openssl` command: a lab CA, the API server's serving
 * certificate (valid for 127.0.0.1, the `kubernetes` service and its in-lab address), the key
 * that signs service-account tokens, and the admin token. Created once; reused on restart.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The PKI of one lab. */
export interface LabPki {
  caPem: string;
  serverKeyPem: string;
  serverCertPem: string;
  saSigningKeyPem: string;
  adminToken: string;
}

const SANS = [
  'IP:127.0.0.1',
  'IP:10.96.0.1',
  'IP:10.100.0.1',
  'DNS:localhost',
  'DNS:kubernetes',
  'DNS:kubernetes.default',
  'DNS:kubernetes.default.svc',
  'DNS:kubernetes.default.svc.cluster.local',
].join(',');

async function openssl(dir: string, ...args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir });
}

/** Loads the lab's PKI from `dir`, creating what is missing. */
export async function ensurePki(dir: string): Promise<LabPki> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  if (!existsSync(join(dir, 'ca.crt'))) {
    await openssl(
      dir,
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '3650',
      '-subj',
      '/CN=waymesh-lab-ca',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    );
  }
  if (!existsSync(join(dir, 'apiserver.crt'))) {
    await openssl(
      dir,
      'req',
      ...ec,
      '-keyout',
      'apiserver.key',
      '-out',
      'apiserver.csr',
      '-subj',
      '/CN=kube-apiserver',
    );
    await writeFile(
      join(dir, 'apiserver.ext'),
      `subjectAltName=${SANS}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n`,
    );
    await openssl(
      dir,
      'x509',
      '-req',
      '-in',
      'apiserver.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '3650',
      '-extfile',
      'apiserver.ext',
      '-out',
      'apiserver.crt',
    );
  }
  if (!existsSync(join(dir, 'sa.key'))) {
    await openssl(
      dir,
      'genpkey',
      '-algorithm',
      'EC',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-out',
      'sa.key',
    );
  }
  if (!existsSync(join(dir, 'admin.token'))) {
    await writeFile(join(dir, 'admin.token'), randomBytes(32).toString('hex'), { mode: 0o600 });
  }
  const read = (f: string): Promise<string> => readFile(join(dir, f), 'utf8');
  return {
    caPem: await read('ca.crt'),
    serverKeyPem: await read('apiserver.key'),
    serverCertPem: await read('apiserver.crt'),
    saSigningKeyPem: await read('sa.key'),
    adminToken: (await read('admin.token')).trim(),
  };
}

/** A kubeconfig for `server` with the admin token. */
export function kubeconfigYaml(lab: string, server: string, caPem: string, token: string): string {
  const ca = Buffer.from(caPem).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: waymesh-${lab}`,
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${ca}`,
    'users:',
    `- name: waymesh-${lab}-admin`,
    '  user:',
    `    token: ${token}`,
    'contexts:',
    `- name: waymesh-${lab}`,
    '  context:',
    `    cluster: waymesh-${lab}`,
    `    user: waymesh-${lab}-admin`,
    '    namespace: default',
    `current-context: waymesh-${lab}`,
    '',
  ].join('\n');
}
