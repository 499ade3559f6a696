/**
 * The lab's own kubeconfig (`supervisor/pki.ts` writes it: one cluster with CA data, one user
 * with a bearer token), read without `@kubernetes/client-node`. The `waymesh lab` verbs only
 * need this much, and loading client-node costs about a second per command on a small machine.
 */
import { readFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import yaml from 'js-yaml';
import { MeshError } from '../../common/errors.ts';
import type { ApiCredentials } from './rest.ts';

interface Named<T> {
  name?: string;
  cluster?: T;
  user?: T;
  context?: T;
}

interface KubeconfigDoc {
  'current-context'?: string;
  clusters?: Named<{ server?: string; 'certificate-authority-data'?: string }>[];
  users?: Named<{ token?: string }>[];
  contexts?: Named<{ cluster?: string; user?: string }>[];
}

function invalid(file: string, what: string): MeshError {
  return new MeshError('KUBECONFIG_INVALID', `${file}: ${what}`, {
    hint: 'this reader takes only the kubeconfig a lab writes (`waymesh lab kubeconfig`)',
  });
}

/** Parses a lab kubeconfig's text; `file` names it in errors. */
export function parseLabKubeconfig(text: string, file: string): ApiCredentials {
  let doc: KubeconfigDoc;
  try {
    const loaded: unknown = yaml.load(text);
    doc = typeof loaded === 'object' && loaded !== null ? loaded : {};
  } catch (err) {
    throw invalid(file, `not YAML (${(err as Error).message.split('\n')[0] ?? ''})`);
  }
  const current = doc['current-context'];
  const context = doc.contexts?.find((c) => c.name === current)?.context;
  if (context === undefined) throw invalid(file, `no context named by current-context ${String(current)}`);
  const cluster = doc.clusters?.find((c) => c.name === context.cluster)?.cluster;
  const user = doc.users?.find((u) => u.name === context.user)?.user;
  const server = cluster?.server;
  const caData = cluster?.['certificate-authority-data'];
  const token = user?.token;
  if (server === undefined || caData === undefined || token === undefined)
    throw invalid(file, 'the current context needs a server, certificate-authority-data and a token');
  const ca = Buffer.from(caData, 'base64').toString('utf8');
  return {
    getCurrentCluster: () => ({ server }),
    applyToHTTPSOptions: (opts: RequestOptions) => {
      opts.ca = ca;
      opts.headers = { ...opts.headers, authorization: `Bearer ${token}` };
      return Promise.resolve();
    },
  };
}

/** Reads a lab kubeconfig file. */
export function readLabKubeconfig(file: string): ApiCredentials {
  return parseLabKubeconfig(readFileSync(file, 'utf8'), file);
}
