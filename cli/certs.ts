/**
 * `waymesh certs …`: create a CA (self-signed root or plugged-in intermediate), issue workload
 * certificates from it, and inspect certificate files.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MeshError } from '../common/errors.ts';
import { DEFAULT_TRUST_DOMAIN, validateTrustDomain } from '../common/spiffe.ts';
import {
  CA_FILE_NAMES,
  CertificateAuthority,
  FileCaStore,
  KEY_KINDS,
  rootCaFiles,
  generateRoot,
  inspectPem,
  issueLocalIdentity,
  loadCaMaterial,
  type CaFiles,
  type KeyKind,
} from '../certs/index.ts';
import { flag, parseArgs, parseDuration, requiredFlag } from './args.ts';
import type { Command, CommandIO } from './main.ts';

const TRUST_DOMAIN_FILE = 'trust-domain';

const USAGE = `Usage:
  waymesh certs init --dir DIR [--trust-domain TD] [--key-type ec-p256|rsa-2048|rsa-3072|rsa-4096]
                     [--intermediate-from SRC]
      Create a CA in DIR: a self-signed root (10 years), or, with --intermediate-from, a
      plugged-in intermediate read from SRC/{ca-cert,ca-key,cert-chain,root-cert}.pem.
  waymesh certs issue --dir DIR --id SPIFFE_ID [--ttl 24h] --out OUTDIR [--key-type KIND]
      Issue a workload certificate; writes key.pem, cert.pem, chain.pem and root.pem to OUTDIR.
  waymesh certs inspect FILE [--json]
      Show subject, SPIFFE id, validity, issuer and fingerprint of each certificate in FILE.`;

function keyKind(value: string | undefined): KeyKind {
  if (value === undefined) return 'ec-p256';
  const kind = KEY_KINDS.find((k) => k === value);
  if (kind === undefined)
    throw new MeshError('CLI_USAGE', `--key-type must be one of ${KEY_KINDS.join(', ')}`);
  return kind;
}

async function readCaFiles(dir: string): Promise<CaFiles> {
  const files = await new FileCaStore(dir).load();
  if (files === undefined) {
    throw new MeshError('CLI_USAGE', `${dir} holds no CA`, {
      hint: 'run `waymesh certs init --dir DIR` first',
    });
  }
  return files;
}

async function init(argv: readonly string[], io: CommandIO): Promise<number> {
  const args = parseArgs(argv, {
    dir: 'string',
    'trust-domain': 'string',
    'key-type': 'string',
    'intermediate-from': 'string',
  });
  const dir = requiredFlag(args, 'dir');
  const trustDomain = flag(args, 'trust-domain') ?? DEFAULT_TRUST_DOMAIN;
  validateTrustDomain(trustDomain);
  const store = new FileCaStore(dir);
  if ((await store.load()) !== undefined) {
    throw new MeshError('CA_EXISTS', `${dir} already holds a CA; refusing to overwrite it`, {
      hint: 'choose an empty directory, or remove the old CA deliberately',
    });
  }
  const source = flag(args, 'intermediate-from');
  let files: CaFiles;
  if (source === undefined) {
    const root = generateRoot({ trustDomain, keyKind: keyKind(flag(args, 'key-type')) });
    files = rootCaFiles(root);
  } else {
    files = await readCaFiles(source);
  }
  const material = loadCaMaterial(files); // validates a plugged-in chain before anything is written
  await store.save(files);
  await writeFile(join(dir, TRUST_DOMAIN_FILE), trustDomain + '\n');
  const kind = material.pluggedIn ? 'plugged-in intermediate CA' : 'self-signed root CA';
  io.out(
    `created ${kind} for trust domain ${trustDomain} in ${dir} (valid until ${material.cert.notAfter.toISOString()})`,
  );
  return 0;
}

async function loadCa(dir: string): Promise<CertificateAuthority> {
  const files = await readCaFiles(dir);
  let trustDomain: string;
  try {
    trustDomain = (await readFile(join(dir, TRUST_DOMAIN_FILE), 'utf8')).trim();
  } catch {
    throw new MeshError('CA_STORE_INCOMPLETE', `${dir}/${TRUST_DOMAIN_FILE} is missing`, {
      hint: 'was DIR made by `waymesh certs init`?',
    });
  }
  validateTrustDomain(trustDomain);
  return new CertificateAuthority(loadCaMaterial(files), { trustDomain });
}

async function issue(argv: readonly string[], io: CommandIO): Promise<number> {
  const args = parseArgs(argv, {
    dir: 'string',
    id: 'string',
    ttl: 'string',
    out: 'string',
    'key-type': 'string',
  });
  const dir = requiredFlag(args, 'dir');
  const id = requiredFlag(args, 'id');
  const out = requiredFlag(args, 'out');
  const ttlText = flag(args, 'ttl');
  const ttlSeconds = ttlText === undefined ? undefined : parseDuration(ttlText);
  const kind = keyKind(flag(args, 'key-type'));
  const ca = await loadCa(dir);
  const identity = issueLocalIdentity(ca, id, { ttlSeconds, keyKind: kind });
  const [leaf, ...chain] = identity.certChainPem;
  await mkdir(out, { recursive: true, mode: 0o700 });
  await writeFile(join(out, 'key.pem'), identity.keyPem, { mode: 0o600 });
  await writeFile(join(out, 'cert.pem'), leaf ?? '');
  await writeFile(join(out, 'chain.pem'), chain.join(''));
  await writeFile(join(out, 'root.pem'), ca.rootsPem());
  io.out(`issued ${identity.issued.identity} valid until ${identity.issued.notAfter.toISOString()} → ${out}`);
  return 0;
}

async function inspect(argv: readonly string[], io: CommandIO): Promise<number> {
  const args = parseArgs(argv, { json: 'boolean' });
  const file = args.positionals[0];
  if (file === undefined || args.positionals.length > 1)
    throw new MeshError('CLI_USAGE', 'certs inspect takes exactly one FILE');
  const summaries = inspectPem(await readFile(file, 'utf8'), file);
  if (args.flags.has('json')) {
    io.out(JSON.stringify(summaries, null, 2));
    return 0;
  }
  summaries.forEach((s, i) => {
    if (i > 0) io.out('');
    io.out(`certificate ${i + 1} of ${summaries.length}${s.isCa ? ' (CA)' : ''}`);
    io.out(`  subject:     ${s.subject === '' ? '(empty)' : s.subject}`);
    io.out(`  spiffe id:   ${s.spiffeId ?? '(none)'}`);
    io.out(`  issuer:      ${s.issuer}`);
    io.out(`  valid:       ${s.notBefore} → ${s.notAfter}`);
    io.out(`  serial:      ${s.serial}`);
    io.out(`  sha256:      ${s.fingerprintSha256}`);
  });
  return 0;
}

/** The `certs` verb group. */
export const certsCommand: Command = {
  name: 'certs',
  usage: USAGE,
  async run(argv, io) {
    const [verb, ...rest] = argv;
    if (verb === 'init') return init(rest, io);
    if (verb === 'issue') return issue(rest, io);
    if (verb === 'inspect') return inspect(rest, io);
    throw new MeshError(
      'CLI_USAGE',
      verb === undefined ? 'missing subcommand (init, issue, inspect)' : `unknown subcommand ${verb}`,
    );
  },
};

/** File names of a CA directory, re-exported for docs and tests. */
export { CA_FILE_NAMES };
