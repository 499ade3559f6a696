/**
 * Shared shapes of the lab API server: objects as JSON, resource definitions, and the error
 * that handlers throw to answer with a Kubernetes `Status` body.
 */

/** Any JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A JSON object. */
export type JsonObject = { [key: string]: Json };

/** `metadata` of any object (only what the lab reads is typed; the rest passes through). */
export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
  managedFields?: Json[];
  [key: string]: Json | undefined;
}

/** An owner reference (`metadata.ownerReferences[]`). */
export type OwnerReference = {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
};

/** A stored object. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [key: string]: Json | ObjectMeta | undefined;
}

/** An OpenAPI v3 (structural) schema node, as CRDs carry them. */
export interface JsonSchema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  required?: string[];
  enum?: Json[];
  default?: Json;
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  nullable?: boolean;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  allOf?: JsonSchema[];
  not?: JsonSchema;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-validations'?: Json[];
  [key: string]: Json | JsonSchema | Record<string, JsonSchema> | JsonSchema[] | undefined;
}

/** An additional printer column (CRD `additionalPrinterColumns`, also used for built-ins). */
export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  format?: string;
  /** 0 = always shown; > 0 = only with `-o wide`. */
  priority?: number;
}

/** One served version of a resource. */
export interface ResourceVersionDef {
  name: string;
  served: boolean;
  storage: boolean;
  schema?: JsonSchema;
  printerColumns?: PrinterColumn[];
  subresources?: { status?: boolean; scale?: boolean };
  deprecated?: boolean;
}

/** A resource the server serves: a built-in kind or one defined by a CRD. */
export interface ResourceDef {
  group: string;
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  categories: string[];
  namespaced: boolean;
  versions: ResourceVersionDef[];
  /** Built-in kinds take strategic merge patches; custom resources do not. */
  builtin: boolean;
  /** `create`, `get`, … as discovery lists them. */
  verbs: string[];
}

/** Thrown by handlers and stores; rendered as a `Status` object with this HTTP code. */
export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: JsonObject | undefined;

  constructor(code: number, reason: string, message: string, details?: JsonObject) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.reason = reason;
    this.details = details;
  }

  /** The `Status` body Kubernetes answers with. */
  toStatus(): JsonObject {
    const status: JsonObject = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      code: this.code,
    };
    if (this.details !== undefined) status['details'] = this.details;
    return status;
  }
}
