/**
 * SPIFFE ids (https://github.com/spiffe/spiffe/blob/main/standards/SPIFFE-ID.md).
 *
 * waymesh identities are `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`; the
 * generic parser accepts any valid SPIFFE id, `parseWorkloadId` accepts only that shape.
 */
import { MeshError } from './errors.ts';

/** A parsed, valid SPIFFE id. */
export interface SpiffeId {
  readonly trustDomain: string;
  /** The path including its leading `/`, or `''` for a trust-domain id. */
  readonly path: string;
}

/** A workload identity: a SPIFFE id of the `ns/<ns>/sa/<sa>` shape. */
export interface WorkloadId extends SpiffeId {
  readonly namespace: string;
  readonly serviceAccount: string;
}

/** Default trust domain, as in Kubernetes' cluster domain. */
export const DEFAULT_TRUST_DOMAIN = 'cluster.local';

const MAX_URI_LENGTH = 2048;
const MAX_TRUST_DOMAIN_LENGTH = 255;
const TRUST_DOMAIN_RE = /^[a-z0-9._-]+$/;
const SEGMENT_RE = /^[A-Za-z0-9._-]+$/;
// Kubernetes namespace: RFC 1123 label. Service account: RFC 1123 subdomain.
const DNS_LABEL_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function invalid(input: string, why: string): MeshError {
  return new MeshError('SPIFFE_ID_INVALID', `invalid SPIFFE id ${JSON.stringify(input)}: ${why}`);
}

/** Checks a trust domain name; throws `SPIFFE_ID_INVALID` with the rule it breaks. */
export function validateTrustDomain(td: string): void {
  if (td === '') throw invalid(td, 'trust domain is empty');
  if (td.length > MAX_TRUST_DOMAIN_LENGTH) throw invalid(td, 'trust domain longer than 255 characters');
  if (!TRUST_DOMAIN_RE.test(td)) {
    throw invalid(td, 'trust domain may contain only lowercase letters, digits, ".", "-" and "_"');
  }
}

/** Parses a SPIFFE id, enforcing the spec's scheme, trust-domain and path rules. */
export function parseSpiffeId(input: string): SpiffeId {
  if (input.length > MAX_URI_LENGTH) throw invalid(input.slice(0, 64) + '…', 'longer than 2048 bytes');
  if (!input.startsWith('spiffe://')) throw invalid(input, 'scheme must be "spiffe://" (lowercase)');
  const rest = input.slice('spiffe://'.length);
  if (/[?#]/.test(rest)) throw invalid(input, 'query and fragment are not allowed');
  const slash = rest.indexOf('/');
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '' : rest.slice(slash);
  if (trustDomain.includes('@')) throw invalid(input, 'user info is not allowed');
  if (trustDomain.includes(':')) throw invalid(input, 'a port is not allowed in the trust domain');
  validateTrustDomain(trustDomain);
  if (path !== '') {
    const segments = path.slice(1).split('/');
    for (const seg of segments) {
      if (seg === '') throw invalid(input, 'path has an empty segment or a trailing "/"');
      if (seg === '.' || seg === '..') throw invalid(input, 'path segments "." and ".." are not allowed');
      if (!SEGMENT_RE.test(seg)) {
        throw invalid(input, `path segment ${JSON.stringify(seg)} has characters outside [A-Za-z0-9._-]`);
      }
    }
  }
  return Object.freeze({ trustDomain, path });
}

/** Formats a SPIFFE id back to its URI form. */
export function formatSpiffeId(id: SpiffeId): string {
  return `spiffe://${id.trustDomain}${id.path}`;
}

/** Builds and validates the workload identity for a namespace and service account. */
export function workloadId(trustDomain: string, namespace: string, serviceAccount: string): WorkloadId {
  return parseWorkloadId(`spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`);
}

/** Parses a SPIFFE id that must have the `ns/<namespace>/sa/<service-account>` shape. */
export function parseWorkloadId(input: string): WorkloadId {
  const id = parseSpiffeId(input);
  const parts = id.path.split('/');
  if (parts.length !== 5 || parts[1] !== 'ns' || parts[3] !== 'sa') {
    throw invalid(input, 'a workload id must have the path /ns/<namespace>/sa/<service-account>');
  }
  const namespace = parts[2] ?? '';
  const serviceAccount = parts[4] ?? '';
  if (namespace.length > 63 || !DNS_LABEL_RE.test(namespace)) {
    throw invalid(input, `namespace ${JSON.stringify(namespace)} is not a valid Kubernetes namespace name`);
  }
  if (serviceAccount.length > 253 || !DNS_SUBDOMAIN_RE.test(serviceAccount)) {
    throw invalid(input, `service account ${JSON.stringify(serviceAccount)} is not a valid Kubernetes name`);
  }
  return Object.freeze({ trustDomain: id.trustDomain, path: id.path, namespace, serviceAccount });
}
