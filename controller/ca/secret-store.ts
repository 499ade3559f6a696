/**
 * The CA store of the controller: the four PEMs in Secret `waymesh-system/waymesh-ca`, or a
 * user's plugged-in intermediate in Secret `waymesh-system/waymesh-cacerts`, which wins and is
 * never written by us (DESIGN.md §6). Replicas race to create the root: the first POST wins,
 * the loser gets 409 AlreadyExists and loads what the winner wrote (never overwrites).
 */
import { MeshError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import {
  CA_FILE_NAMES,
  CertificateAuthority,
  loadCaMaterial,
  loadOrCreateCa,
  type CaFiles,
  type CaStore,
  type LoadOrCreateOptions,
} from '../../certs/index.ts';
import { isKubeStatus, type JsonObject, type KubeRest } from '../kube/rest.ts';

/** Where the CA Secrets live. */
export const CA_SECRETS = {
  namespace: 'waymesh-system',
  name: 'waymesh-ca',
  pluggedIn: 'waymesh-cacerts',
} as const;

/** Options for {@link SecretCaStore}. */
export interface SecretCaStoreOptions {
  readonly client: KubeRest;
  readonly namespace?: string;
  readonly name?: string;
  readonly pluggedInName?: string;
}

/** Thrown by `save` when another replica created the Secret first. */
export const CA_STORE_RACE = 'CA_STORE_RACE';

function asObject(v: unknown): JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as JsonObject) : {};
}

/** Decodes the four PEMs of a Secret; throws `CA_STORE_INCOMPLETE` naming what is wrong. */
export function caFilesFromSecret(secret: JsonObject, where: string): CaFiles {
  const data = asObject(secret['data']);
  const missing: string[] = [];
  const out: Partial<Record<keyof CaFiles, string>> = {};
  for (const [field, key] of Object.entries(CA_FILE_NAMES) as [keyof CaFiles, string][]) {
    const value = data[key];
    const text = typeof value === 'string' ? Buffer.from(value, 'base64').toString('utf8') : '';
    if (text.trim() === '') missing.push(key);
    else out[field] = text;
  }
  if (missing.length > 0) {
    throw new MeshError(
      'CA_STORE_INCOMPLETE',
      `${where} is incomplete: missing or empty ${missing.join(', ')}`,
      {
        hint: `the Secret needs the keys ${Object.values(CA_FILE_NAMES).join(', ')}`,
      },
    );
  }
  return out as CaFiles;
}

/** The Secret object holding `files`. */
export function caSecret(namespace: string, name: string, files: CaFiles): JsonObject {
  const data: Record<string, string> = {};
  for (const [field, key] of Object.entries(CA_FILE_NAMES) as [keyof CaFiles, string][]) {
    data[key] = Buffer.from(files[field], 'utf8').toString('base64');
  }
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'waymesh' } },
    type: 'Opaque',
    data,
  };
}

/** A {@link CaStore} over Kubernetes Secrets. */
export class SecretCaStore implements CaStore {
  readonly #client: KubeRest;
  readonly #namespace: string;
  readonly #name: string;
  readonly #pluggedIn: string;

  constructor(opts: SecretCaStoreOptions) {
    this.#client = opts.client;
    this.#namespace = opts.namespace ?? CA_SECRETS.namespace;
    this.#name = opts.name ?? CA_SECRETS.name;
    this.#pluggedIn = opts.pluggedInName ?? CA_SECRETS.pluggedIn;
  }

  describe(): string {
    return `Secret ${this.#namespace}/${this.#name} (plug-in: ${this.#namespace}/${this.#pluggedIn})`;
  }

  /** The plugged-in CA when its Secret exists, else ours, else `undefined`. */
  async load(): Promise<CaFiles | undefined> {
    const plugged = await this.#get(this.#pluggedIn);
    if (plugged !== undefined)
      return caFilesFromSecret(plugged, `Secret ${this.#namespace}/${this.#pluggedIn}`);
    const own = await this.#get(this.#name);
    return own === undefined ? undefined : caFilesFromSecret(own, `Secret ${this.#namespace}/${this.#name}`);
  }

  /** Creates our Secret; throws `CA_STORE_RACE` when it already exists (never overwrites). */
  async save(files: CaFiles): Promise<void> {
    try {
      await this.#client.post(
        `/api/v1/namespaces/${this.#namespace}/secrets`,
        caSecret(this.#namespace, this.#name, files),
      );
    } catch (err) {
      if (isKubeStatus(err, 409)) {
        throw new MeshError(
          CA_STORE_RACE,
          `Secret ${this.#namespace}/${this.#name} was created by someone else`,
          {
            cause: err,
          },
        );
      }
      throw err;
    }
  }

  async #get(name: string): Promise<JsonObject | undefined> {
    try {
      return await this.#client.get(`/api/v1/namespaces/${this.#namespace}/secrets/${name}`);
    } catch (err) {
      if (isKubeStatus(err, 404)) return undefined;
      throw err;
    }
  }
}

/** Options for {@link loadOrCreateClusterCa}. */
export interface ClusterCaOptions extends Omit<LoadOrCreateOptions, 'store'> {
  readonly store: SecretCaStore;
  readonly logger?: Logger;
}

/**
 * Loads the cluster CA, creating the root on first start. When another replica wins the
 * creation race, loads the root it wrote so every replica signs under one root.
 */
export async function loadOrCreateClusterCa(options: ClusterCaOptions): Promise<CertificateAuthority> {
  try {
    return await loadOrCreateCa(options);
  } catch (err) {
    if (!(err instanceof MeshError) || err.code !== CA_STORE_RACE) throw err;
    options.logger?.info('another replica created the CA root first; loading it', {
      store: options.store.describe(),
    });
    const files = await options.store.load();
    if (files === undefined) {
      throw new MeshError(
        'CA_STORE_INCOMPLETE',
        `${options.store.describe()} vanished right after it was created`,
        {
          hint: 'is something deleting the CA Secret?',
          cause: err,
        },
      );
    }
    const now = options.now ?? (() => new Date());
    return new CertificateAuthority(loadCaMaterial(files, now()), options);
  }
}
