/**
 * Container environment as the kubelet builds it: the lab's standard variables, `env` with
 * `value` and `valueFrom` (fieldRef, configMapKeyRef, secretKeyRef), and `envFrom`.
 */
import type { V1ConfigMap, V1Container, V1Pod, V1Secret } from '@kubernetes/client-node';
import { MeshError } from '../../common/errors.ts';

/** Looks up ConfigMaps and Secrets of the pod's namespace. */
export interface EnvSources {
  configMap(name: string): Promise<V1ConfigMap | undefined>;
  secret(name: string): Promise<V1Secret | undefined>;
}

function fieldRef(pod: V1Pod, path: string, podIP: string): string {
  const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (m !== null)
    return (m[1] === 'labels' ? pod.metadata?.labels : pod.metadata?.annotations)?.[m[2] ?? ''] ?? '';
  switch (path) {
    case 'metadata.name':
      return pod.metadata?.name ?? '';
    case 'metadata.namespace':
      return pod.metadata?.namespace ?? '';
    case 'metadata.uid':
      return pod.metadata?.uid ?? '';
    case 'spec.nodeName':
      return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? 'default';
    case 'status.podIP':
    case 'status.podIPs':
      return podIP;
    case 'status.hostIP':
      return pod.status?.hostIP ?? '';
    default:
      throw new MeshError('ENV_FIELD_UNSUPPORTED', `fieldRef ${path} is not supported`);
  }
}

// The lab's API server stores stringData as written; the real one merges it into data on write,
// stringData winning (https://kubernetes.io/docs/concepts/configuration/secret/), so read it first.
function decode(secret: V1Secret, key: string): string | undefined {
  const plain = secret.stringData?.[key];
  if (plain !== undefined) return plain;
  const v = secret.data?.[key];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
}

function secretKeys(secret: V1Secret | undefined): string[] {
  return [...new Set([...Object.keys(secret?.data ?? {}), ...Object.keys(secret?.stringData ?? {})])];
}

/** The environment of one container; throws MeshError `CreateContainerConfigError` on a missing reference. */
export async function containerEnv(
  pod: V1Pod,
  c: V1Container,
  podIP: string,
  hostIP: string,
  sources: EnvSources,
): Promise<Record<string, string>> {
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: '/root',
    POD_NAME: pod.metadata?.name ?? '',
    POD_NAMESPACE: pod.metadata?.namespace ?? '',
    NODE_NAME: pod.spec?.nodeName ?? '',
    POD_IP: podIP,
    HOST_IP: hostIP,
    SERVICE_ACCOUNT: pod.spec?.serviceAccountName ?? 'default',
    KUBERNETES_SERVICE_HOST: '10.96.0.1',
    KUBERNETES_SERVICE_PORT: '443',
  };
  const missing = (what: string): MeshError =>
    new MeshError('CreateContainerConfigError', `${what} not found for container ${c.name}`);
  for (const from of c.envFrom ?? []) {
    if (from.configMapRef !== undefined) {
      const cm = await sources.configMap(from.configMapRef.name ?? '');
      if (cm === undefined && from.configMapRef.optional !== true)
        throw missing(`configmap "${from.configMapRef.name ?? ''}"`);
      for (const [k, v] of Object.entries(cm?.data ?? {})) env[(from.prefix ?? '') + k] = v;
    }
    if (from.secretRef !== undefined) {
      const s = await sources.secret(from.secretRef.name ?? '');
      if (s === undefined && from.secretRef.optional !== true)
        throw missing(`secret "${from.secretRef.name ?? ''}"`);
      for (const k of secretKeys(s)) env[(from.prefix ?? '') + k] = decode(s as V1Secret, k) ?? '';
    }
  }
  for (const e of c.env ?? []) {
    if (e.valueFrom === undefined) {
      env[e.name] = e.value ?? '';
    } else if (e.valueFrom.fieldRef !== undefined) {
      env[e.name] = fieldRef(pod, e.valueFrom.fieldRef.fieldPath, podIP);
    } else if (e.valueFrom.configMapKeyRef !== undefined) {
      const ref = e.valueFrom.configMapKeyRef;
      const v = (await sources.configMap(ref.name ?? ''))?.data?.[ref.key];
      if (v === undefined && ref.optional !== true)
        throw missing(`key ${ref.key} of configmap "${ref.name ?? ''}"`);
      if (v !== undefined) env[e.name] = v;
    } else if (e.valueFrom.secretKeyRef !== undefined) {
      const ref = e.valueFrom.secretKeyRef;
      const s = await sources.secret(ref.name ?? '');
      const v = s === undefined ? undefined : decode(s, ref.key);
      if (v === undefined && ref.optional !== true)
        throw missing(`key ${ref.key} of secret "${ref.name ?? ''}"`);
      if (v !== undefined) env[e.name] = v;
    } else {
      throw new MeshError(
        'CreateContainerConfigError',
        `env ${e.name}: only fieldRef, configMapKeyRef and secretKeyRef are supported by the lab`,
      );
    }
  }
  return env;
}
