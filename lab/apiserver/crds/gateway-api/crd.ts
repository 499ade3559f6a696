/**
 * Wraps a Gateway API kind's schema into the CustomResourceDefinition object upstream's
 * standard-channel bundle carries (same name, names, annotations, versions and columns), so a
 * later `kubectl apply` of the upstream bundle replaces it cleanly.
 */
import type { Json, JsonObject, JsonSchema, KubeObject, PrinterColumn } from '../../types.ts';
import { GATEWAY_GROUP } from './common.ts';

/** The upstream release these definitions reproduce (`gateway.networking.k8s.io/bundle-version`). */
export const BUNDLE_VERSION = 'v1.2.1';
/** The upstream release channel (`gateway.networking.k8s.io/channel`). */
export const BUNDLE_CHANNEL = 'standard';

/** One served version of a kind. */
export interface KindVersion {
  name: string;
  storage: boolean;
}

/** Everything that differs between the Gateway API CRDs. */
export interface KindDef {
  kind: string;
  plural: string;
  singular: string;
  shortNames: readonly string[];
  scope: 'Namespaced' | 'Cluster';
  versions: readonly KindVersion[];
  printerColumns: readonly PrinterColumn[];
  statusSubresource: boolean;
  /** Builds a fresh schema; called once per version so versions share no objects. */
  schema: () => JsonSchema;
}

/** The `Age` column every kind ends with. */
export const AGE_COLUMN: Readonly<PrinterColumn> = {
  jsonPath: '.metadata.creationTimestamp',
  name: 'Age',
  type: 'date',
};

/** Plain-JSON copy of typed data (drops `undefined`), as stored objects must be. */
function toJson(value: JsonSchema | readonly PrinterColumn[]): Json {
  return JSON.parse(JSON.stringify(value)) as Json;
}

/** The `apiextensions.k8s.io/v1` CustomResourceDefinition of one Gateway API kind. */
export function gatewayApiCrd(def: KindDef): KubeObject {
  const names: JsonObject = {
    categories: ['gateway-api'],
    kind: def.kind,
    listKind: `${def.kind}List`,
    plural: def.plural,
    singular: def.singular,
  };
  if (def.shortNames.length > 0) names['shortNames'] = [...def.shortNames];
  const subresources: JsonObject = def.statusSubresource ? { status: {} } : {};
  const versions: Json[] = def.versions.map((v) => ({
    additionalPrinterColumns: toJson(def.printerColumns),
    name: v.name,
    schema: { openAPIV3Schema: toJson(def.schema()) },
    served: true,
    storage: v.storage,
    subresources: structuredClone(subresources),
  }));
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${def.plural}.${GATEWAY_GROUP}`,
      annotations: {
        'api-approved.kubernetes.io': 'https://github.com/kubernetes-sigs/gateway-api/pull/3328',
        'gateway.networking.k8s.io/bundle-version': BUNDLE_VERSION,
        'gateway.networking.k8s.io/channel': BUNDLE_CHANNEL,
      },
    },
    spec: { group: GATEWAY_GROUP, names, scope: def.scope, versions },
  };
}
