/**
 * `waymesh x explain`'s input: one list of every resource the controller watches
 * (controller/kube/resources.ts WATCHED), read with the current kubeconfig and assembled into the
 * same `World` the controller's WorldSource hands to translate(). A one-shot read, no informers.
 */
import { MeshError } from '../common/errors.ts';
import { isKubeStatus } from '../controller/kube/rest.ts';
import { toList, WATCHED, type WireObject, type WorldField } from '../controller/kube/resources.ts';
import { byNamespaceName, worldFromLists } from '../controller/kube/world-lists.ts';
import type { World } from '../controller/translate/world.ts';

/** What the reader needs from a Kubernetes client (KubeRest implements it). */
export interface ListClient {
  list(path: string): Promise<unknown>;
}

/**
 * Lists every watched resource once and builds the World. Our own CRDs may be absent (404):
 * their lists are empty and `missing` names them, so the explanation can say policies were not
 * read. Any other failure rejects with the API server's error.
 */
export async function readWorld(
  client: ListClient,
  trustDomain: string,
): Promise<{ world: World; missing: string[] }> {
  const lists = new Map<WorldField, WireObject[]>();
  const missing: string[] = [];
  await Promise.all(
    WATCHED.map(async (res) => {
      try {
        const { list } = toList(res.path, await client.list(res.path));
        lists.set(res.field, [...list.items].sort(byNamespaceName));
      } catch (err) {
        if (!res.optional || !isKubeStatus(err, 404)) {
          if (isKubeStatus(err, 401, 403))
            throw new MeshError('EXPLAIN_FORBIDDEN', `cannot list ${res.path}: ${err.message}`, {
              hint: 'x explain reads what the controller reads; use a kubeconfig that may list them cluster-wide',
            });
          throw err;
        }
        missing.push(res.path);
        lists.set(res.field, []);
      }
    }),
  );
  const world = worldFromLists(trustDomain, (field) => lists.get(field) ?? []);
  return { world, missing: missing.sort() };
}
