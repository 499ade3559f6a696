/**
 * Where CA material lives. A small interface so the CA does not care: files now (the CLI and
 * component tests), a Kubernetes Secret store in the controller.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MeshError } from '../common/errors.ts';
import type { CaFiles } from './material.ts';

/** A pluggable store of CA files. */
export interface CaStore {
  /** The stored files, or `undefined` when the store holds no CA yet. */
  load(): Promise<CaFiles | undefined>;
  /** Writes all four files. */
  save(files: CaFiles): Promise<void>;
  /** Where the store is, for logs and errors. */
  describe(): string;
}

/** File names inside a store directory (Istio's `cacerts` layout). */
export const CA_FILE_NAMES = {
  caKeyPem: 'ca-key.pem',
  caCertPem: 'ca-cert.pem',
  certChainPem: 'cert-chain.pem',
  rootCertPem: 'root-cert.pem',
} as const satisfies Record<keyof CaFiles, string>;

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Reads and writes CA files in a directory; the key is written with mode 0600. */
export class FileCaStore implements CaStore {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
  }

  describe(): string {
    return `directory ${this.#dir}`;
  }

  async load(): Promise<CaFiles | undefined> {
    const entries = await Promise.all(
      Object.entries(CA_FILE_NAMES).map(
        async ([field, name]) => [field, name, await readOptional(join(this.#dir, name))] as const,
      ),
    );
    const missing = entries.filter(([, , text]) => text === undefined).map(([, name]) => name);
    if (missing.length === entries.length) return undefined;
    if (missing.length > 0) {
      throw new MeshError(
        'CA_STORE_INCOMPLETE',
        `CA store ${this.#dir} is incomplete: missing ${missing.join(', ')}`,
        {
          hint: 'restore the missing files or point --dir at an empty directory to create a new CA',
        },
      );
    }
    return Object.fromEntries(entries.map(([field, , text]) => [field, text])) as unknown as CaFiles;
  }

  async save(files: CaFiles): Promise<void> {
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    for (const [field, name] of Object.entries(CA_FILE_NAMES) as [keyof CaFiles, string][]) {
      // Write then rename, so a crash never leaves a half-written file behind.
      const tmp = join(this.#dir, `.${name}.tmp`);
      await writeFile(tmp, files[field], { mode: field === 'caKeyPem' ? 0o600 : 0o644 });
      await rename(tmp, join(this.#dir, name));
    }
  }
}
