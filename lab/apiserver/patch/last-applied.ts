/**
 * How kube's server-side apply treats kubectl's client-side `last-applied-configuration`
 * annotation, so that `kubectl apply --server-side` takes over objects that plain `kubectl apply`
 * created (apimachinery's lastAppliedManager and lastAppliedUpdater):
 *
 * - For field manager `kubectl` only, apply conflicts on fields that the annotation lists are
 *   allowed (ownership moves as with `--force-conflicts`); other conflicts still fail.
 * - After such an apply, an object that had the annotation gets it rewritten to the new applied
 *   configuration, or dropped when that would push the annotations past kube's 256 KiB total.
 *
 * Pure.
 */
import { annotationBytes, MAX_ANNOTATION_BYTES } from '../object-meta.ts';
import type { Json, JsonObject, KubeObject } from '../types.ts';
import { cloneJson, isObject, ownValue } from './json.ts';

export const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
/** The only manager whose applies upgrade client-side apply (kubectl's `--server-side` default). */
export const UPGRADING_MANAGER = 'kubectl';

/** The annotation's text on `obj`, if it carries one. */
function lastAppliedText(obj: KubeObject | undefined): string | undefined {
  const annotations = obj?.metadata.annotations as Json | undefined;
  if (!isObject(annotations)) return undefined;
  const text = ownValue(annotations, LAST_APPLIED);
  return typeof text === 'string' ? text : undefined;
}

/**
 * The field ids (as `fieldIds` names them) that client-side apply owns on `live` according to its
 * annotation, or undefined when there is no readable annotation (then nothing is allowed).
 */
export function clientSideApplyFields(
  live: KubeObject | undefined,
  fieldIds: (config: JsonObject) => Set<string>,
): Set<string> | undefined {
  const text = lastAppliedText(live);
  if (text === undefined) return undefined;
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(config as Json) || !isObject((config as JsonObject)['metadata'])) return undefined;
  return fieldIds(config as JsonObject);
}

/** Go's encoding of a JSON map: keys in byte order, at every depth. */
function sortedJson(value: Json): Json {
  if (Array.isArray(value)) return value.map(sortedJson);
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const key of Object.keys(value).sort()) {
    Object.defineProperty(out, key, {
      value: sortedJson(value[key] as Json),
      enumerable: true,
      writable: true,
    });
  }
  return out;
}

/**
 * Rewrites (or drops, when too big) the annotation on `result` after `kubectl` applied `applied`
 * over `live`, if `live` had one. Mutates `result.metadata.annotations`.
 */
export function syncLastApplied(live: KubeObject | undefined, applied: KubeObject, result: KubeObject): void {
  if (lastAppliedText(live) === undefined) return;
  const config = cloneJson(applied as unknown as JsonObject);
  const meta = config['metadata'];
  if (isObject(meta) && isObject(meta['annotations'])) delete meta['annotations'][LAST_APPLIED];
  const annotations: JsonObject = isObject(result.metadata.annotations) ? result.metadata.annotations : {};
  annotations[LAST_APPLIED] = JSON.stringify(sortedJson(config)) + '\n';
  if (annotationBytes(annotations) > MAX_ANNOTATION_BYTES) delete annotations[LAST_APPLIED];
  if (Object.keys(annotations).length > 0)
    result.metadata.annotations = annotations as Record<string, string>;
}
