/** Where an IR node came from, so logs, metrics and statuses point back at the user's YAML. */

/** The Kubernetes object an IR node was built from. */
export interface SourceRef {
  readonly group: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
}

/** `kind/namespace/name` (lowercase kind), the stable id prefix used across the IR. */
export function sourceId(s: SourceRef): string {
  return `${s.kind.toLowerCase()}/${s.namespace}/${s.name}`;
}

/** `namespace/name` key of a Service, the form the IR uses to refer to one. */
export type ServiceKey = `${string}/${string}`;

/** Builds a ServiceKey. */
export function serviceKey(namespace: string, name: string): ServiceKey {
  return `${namespace}/${name}`;
}
