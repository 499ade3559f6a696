/**
 * Small builders for OpenAPI v3 structural schema nodes, so the Gateway API schemas read as
 * declarations (`str({ maxLength: 253 })`, `obj({...}, ['name'])`) rather than nested literals.
 * Every builder returns a fresh object: callers may mutate what `gatewayApiCrds()` returns.
 */
import type { Json, JsonSchema } from '../../types.ts';

/** Schema keywords other than `type`, as builders accept them. */
export type Keywords = Omit<JsonSchema, 'type'>;

/** A `string` node. */
export function str(keywords: Keywords = {}): JsonSchema {
  return { type: 'string', ...keywords };
}

/** A string restricted to `values` (order kept: it is the order errors list them in). */
export function strEnum(values: readonly string[], keywords: Keywords = {}): JsonSchema {
  return { type: 'string', enum: [...values], ...keywords };
}

/** An `integer` node with `format: int32`. */
export function int32(keywords: Keywords = {}): JsonSchema {
  return { type: 'integer', format: 'int32', ...keywords };
}

/** An `integer` node with `format: int64`. */
export function int64(keywords: Keywords = {}): JsonSchema {
  return { type: 'integer', format: 'int64', ...keywords };
}

/** An `object` node with named properties; `required` is written in the order given. */
export function obj(
  properties: Record<string, JsonSchema>,
  required: readonly string[] = [],
  keywords: Keywords = {},
): JsonSchema {
  const node: JsonSchema = { type: 'object', properties };
  if (required.length > 0) node.required = [...required];
  return { ...node, ...keywords };
}

/** An `object` node used as a map (`additionalProperties`), e.g. labels or TLS options. */
export function map(values: JsonSchema, keywords: Keywords = {}): JsonSchema {
  return { type: 'object', additionalProperties: values, ...keywords };
}

/** An `array` node. */
export function arr(items: JsonSchema, keywords: Keywords = {}): JsonSchema {
  return { type: 'array', items, ...keywords };
}

/** An `array` node with `x-kubernetes-list-type: map` keyed by `keys`. */
export function listMap(items: JsonSchema, keys: readonly string[], keywords: Keywords = {}): JsonSchema {
  return arr(items, {
    ...keywords,
    'x-kubernetes-list-map-keys': [...keys],
    'x-kubernetes-list-type': 'map',
  });
}

/** A deep copy of a JSON value, so each schema carries its own `default` object. */
export function copyJson<T extends Json>(value: T): T {
  return structuredClone(value);
}
