/**
 * Per-pod capture exclusions from pod annotations, Istio style (`traffic.sidecar.istio.io/
 * excludeInboundPorts` and friends): comma-separated ports or CIDRs. Bad values are collected and
 * reported together, naming the annotation, so one `kubectl annotate` fixes them all.
 */
import { MeshError } from '../../common/errors.ts';
import { parseCidr } from './addr.ts';

/** Inbound destination ports the agent leaves alone, e.g. `"9090,9091"`. */
export const EXCLUDE_INBOUND_PORTS_ANNOTATION = 'waymesh.io/exclude-inbound-ports';
/** Outbound destination ports the agent leaves alone, e.g. `"5432"`. */
export const EXCLUDE_OUTBOUND_PORTS_ANNOTATION = 'waymesh.io/exclude-outbound-ports';
/** Outbound destinations the agent leaves alone, e.g. `"10.0.0.0/8,fd00::/8,192.168.1.1"`. */
export const EXCLUDE_OUTBOUND_IP_RANGES_ANNOTATION = 'waymesh.io/exclude-outbound-ip-ranges';

/** The exclusions of one pod, ready for `buildCaptureRules`. */
export interface CaptureExclusions {
  readonly excludeInboundPorts: readonly number[];
  readonly excludeOutboundPorts: readonly number[];
  readonly excludeOutboundCidrs: readonly string[];
}

/**
 * Reads the exclusion annotations of pod `pod` (`namespace/name`, for the message). Throws
 * MeshError `CAPTURE_BAD_ANNOTATION` listing every malformed value.
 */
export function parseCaptureAnnotations(
  annotations: Readonly<Record<string, string>> | undefined,
  pod: string,
): CaptureExclusions {
  const problems: string[] = [];
  const ports = (key: string): number[] =>
    items(annotations?.[key]).flatMap((item) => {
      const port = /^\d{1,5}$/.test(item) ? Number(item) : NaN;
      if (port >= 1 && port <= 65535) return [port];
      problems.push(`${key}: "${item}" is not a port (1-65535)`);
      return [];
    });
  const cidrs = (key: string): string[] =>
    items(annotations?.[key]).flatMap((item) => {
      try {
        return [parseCidr(item).text];
      } catch {
        problems.push(`${key}: "${item}" is not an IP address or CIDR`);
        return [];
      }
    });
  const result: CaptureExclusions = {
    excludeInboundPorts: ports(EXCLUDE_INBOUND_PORTS_ANNOTATION),
    excludeOutboundPorts: ports(EXCLUDE_OUTBOUND_PORTS_ANNOTATION),
    excludeOutboundCidrs: cidrs(EXCLUDE_OUTBOUND_IP_RANGES_ANNOTATION),
  };
  if (problems.length > 0) {
    throw new MeshError('CAPTURE_BAD_ANNOTATION', `pod ${pod}: ${problems.join('; ')}`, {
      hint: 'fix the annotation (comma-separated ports or CIDRs); the pod stays uncaptured until then',
    });
  }
  return result;
}

function items(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
