/**
 * Trust bootstrap for proxies: the leader publishes the CA's root certificates as ConfigMap
 * `waymesh-ca-root-cert` (key `root-cert.pem`) in the controller's namespace (node agents) and
 * in every namespace holding a waymesh waypoint Gateway (waypoints). Proxies read it through an
 * env `configMapKeyRef` to verify the controller on 15012 before they hold a certificate; later
 * roots arrive with every certificate chain. Like Istio's `istio-ca-root-cert`.
 */
import type { Logger } from '../../common/log.ts';
import { isKubeStatus, kubeCall, kubeGet, type KubeTransport } from '../kube/rest.ts';

/** Name and key of the ConfigMap. */
export const ROOT_CONFIGMAP = { name: 'waymesh-ca-root-cert', key: 'root-cert.pem' } as const;

/** Label marking the ConfigMaps this controller owns (so `waymesh uninstall` can find them). */
export const ROOT_CONFIGMAP_LABEL = 'waymesh.io/ca-root-cert';

/**
 * Makes the ConfigMap in each of `namespaces` hold `rootsPem`; writes only where it differs.
 * Returns how many were created or updated. A namespace being deleted (409/403/404) is skipped.
 */
export async function publishRootCert(
  client: KubeTransport,
  namespaces: readonly string[],
  rootsPem: string,
  logger: Logger,
): Promise<number> {
  let written = 0;
  for (const ns of [...new Set(namespaces)].sort()) {
    const collection = `/api/v1/namespaces/${encodeURIComponent(ns)}/configmaps`;
    const path = `${collection}/${ROOT_CONFIGMAP.name}`;
    const live = (await kubeGet(client, path)) as { data?: Record<string, string> } | undefined;
    if (live?.data?.[ROOT_CONFIGMAP.key] === rootsPem) continue;
    const body = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: ROOT_CONFIGMAP.name, namespace: ns, labels: { [ROOT_CONFIGMAP_LABEL]: 'true' } },
      data: { [ROOT_CONFIGMAP.key]: rootsPem },
    };
    try {
      if (live === undefined) await kubeCall(client, { method: 'POST', path: collection, body });
      else
        await kubeCall(client, {
          method: 'PATCH',
          path,
          body: { metadata: { labels: body.metadata.labels }, data: body.data },
        });
      written++;
      logger.info('CA root certificate published', { namespace: ns, configMap: ROOT_CONFIGMAP.name });
    } catch (err) {
      // A terminating namespace refuses new objects; the next pass sees it gone.
      if (isKubeStatus(err, 403, 404, 409)) continue;
      throw err;
    }
  }
  return written;
}
