/**
 * Structural pruning of custom resources (apiextensions-apiserver pkg/apiserver/schema/pruning):
 * fields the schema does not specify are dropped, unless the node carries
 * `x-kubernetes-preserve-unknown-fields` or holds a map (`additionalProperties`). `apiVersion`,
 * `kind` and `metadata` are kept at the root and in embedded resources; `metadata` is never
 * pruned at the root, while in embedded resources it keeps only ObjectMeta fields. Pure.
 */
import type { Json, JsonObject, JsonSchema } from '../types.ts';
import { cloneJson, isObject, setKey } from '../patch/json.ts';

const OBJECT_META_FIELDS: ReadonlySet<string> = new Set([
  'name',
  'generateName',
  'namespace',
  'selfLink',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'labels',
  'annotations',
  'ownerReferences',
  'finalizers',
  'managedFields',
]);

const TYPE_META = ['apiVersion', 'kind'];

/** `obj` without the fields `schema` does not allow. */
export function prune(obj: Json, schema: JsonSchema): Json {
  if (!isObject(obj)) return walk(cloneJson(obj), schema);
  const out = walk(cloneJson(obj), schema, TYPE_META) as JsonObject;
  if (obj['metadata'] !== undefined) out['metadata'] = cloneJson(obj['metadata']);
  return out;
}

function walk(value: Json, schema: JsonSchema, keep: readonly string[] = []): Json {
  if (Array.isArray(value)) {
    const items = schema.items;
    return items === undefined ? value : value.map((item) => walk(item, items));
  }
  if (!isObject(value)) return value;
  const embedded = schema['x-kubernetes-embedded-resource'] === true;
  const always = embedded ? [...TYPE_META, 'metadata'] : keep;
  const props = schema.properties ?? {};
  const extra = schema.additionalProperties;
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  const out: JsonObject = {};
  for (const [key, v] of Object.entries(value)) {
    if (embedded && key === 'metadata' && isObject(v)) {
      setKey(out, key, Object.fromEntries(Object.entries(v).filter(([k]) => OBJECT_META_FIELDS.has(k))));
    } else if (Object.hasOwn(props, key)) {
      setKey(out, key, walk(v, props[key] as JsonSchema));
    } else if (typeof extra === 'object') {
      setKey(out, key, walk(v, extra));
    } else if (extra === true || preserve || always.includes(key)) {
      setKey(out, key, v);
    }
  }
  return out;
}
