/**
 * The Gateway API kinds a new lab serves from its first start, as a cluster with the v1.2.1
 * standard channel installed has them: GatewayClass, Gateway, HTTPRoute, GRPCRoute and
 * ReferenceGrant (group `gateway.networking.k8s.io`).
 *
 * Schemas are written from the Gateway API v1 specification with the kubebuilder markers of its
 * Go types (types, bounds, patterns, enums, defaults, list types). Limitation: the
 * `x-kubernetes-validations` (CEL) rules upstream carries are not included, so cross-field rules
 * (e.g. "filter type RequestRedirect needs requestRedirect") are not enforced by the lab; apply
 * upstream's bundle with kubectl to get them carried verbatim.
 */
import type { KubeObject, PrinterColumn } from '../types.ts';
import { AGE_COLUMN, gatewayApiCrd, type KindDef, type KindVersion } from './gateway-api/crd.ts';
import { gatewaySchema } from './gateway-api/gateway.ts';
import { gatewayClassSchema } from './gateway-api/gatewayclass.ts';
import { grpcRouteSchema } from './gateway-api/grpcroute.ts';
import { httpRouteSchema } from './gateway-api/httproute.ts';
import { referenceGrantSchema } from './gateway-api/referencegrant.ts';

/** `v1` stored, `v1beta1` still served: GatewayClass, Gateway and HTTPRoute. */
const V1_AND_V1BETA1: readonly KindVersion[] = [
  { name: 'v1', storage: true },
  { name: 'v1beta1', storage: false },
];

const ROUTE_COLUMNS: readonly PrinterColumn[] = [
  { jsonPath: '.spec.hostnames', name: 'Hostnames', type: 'string' },
  AGE_COLUMN,
];

const KINDS: readonly KindDef[] = [
  {
    kind: 'GatewayClass',
    plural: 'gatewayclasses',
    singular: 'gatewayclass',
    shortNames: ['gc'],
    scope: 'Cluster',
    versions: V1_AND_V1BETA1,
    printerColumns: [
      { jsonPath: '.spec.controllerName', name: 'Controller', type: 'string' },
      { jsonPath: '.status.conditions[?(@.type=="Accepted")].status', name: 'Accepted', type: 'string' },
      AGE_COLUMN,
      { jsonPath: '.spec.description', name: 'Description', priority: 1, type: 'string' },
    ],
    statusSubresource: true,
    schema: gatewayClassSchema,
  },
  {
    kind: 'Gateway',
    plural: 'gateways',
    singular: 'gateway',
    shortNames: ['gtw'],
    scope: 'Namespaced',
    versions: V1_AND_V1BETA1,
    printerColumns: [
      { jsonPath: '.spec.gatewayClassName', name: 'Class', type: 'string' },
      { jsonPath: '.status.addresses[*].value', name: 'Address', type: 'string' },
      { jsonPath: '.status.conditions[?(@.type=="Programmed")].status', name: 'Programmed', type: 'string' },
      AGE_COLUMN,
    ],
    statusSubresource: true,
    schema: gatewaySchema,
  },
  {
    kind: 'HTTPRoute',
    plural: 'httproutes',
    singular: 'httproute',
    shortNames: [],
    scope: 'Namespaced',
    versions: V1_AND_V1BETA1,
    printerColumns: ROUTE_COLUMNS,
    statusSubresource: true,
    schema: httpRouteSchema,
  },
  {
    kind: 'GRPCRoute',
    plural: 'grpcroutes',
    singular: 'grpcroute',
    shortNames: [],
    scope: 'Namespaced',
    versions: [{ name: 'v1', storage: true }],
    printerColumns: ROUTE_COLUMNS,
    statusSubresource: true,
    schema: grpcRouteSchema,
  },
  {
    kind: 'ReferenceGrant',
    plural: 'referencegrants',
    singular: 'referencegrant',
    shortNames: ['refgrant'],
    scope: 'Namespaced',
    versions: [{ name: 'v1beta1', storage: true }],
    printerColumns: [AGE_COLUMN],
    statusSubresource: false,
    schema: referenceGrantSchema,
  },
];

/** CustomResourceDefinition objects (apiextensions.k8s.io/v1) the lab creates at first start. */
export function gatewayApiCrds(): KubeObject[] {
  return KINDS.map(gatewayApiCrd);
}
