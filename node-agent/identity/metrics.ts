/** The identity manager's metric (DESIGN.md §7). */
import { MeshError } from '../../common/errors.ts';
import { Gauge, type Registry } from '../../common/metrics/index.ts';

/** Name of the certificate expiry gauge. */
export const CERT_EXPIRY_METRIC = 'waymesh_cert_expiry_timestamp_seconds';

/** The `waymesh_cert_expiry_timestamp_seconds{principal}` gauge, registered once per registry. */
export function expiryGauge(registry: Registry): Gauge {
  const existing = registry.get(CERT_EXPIRY_METRIC);
  if (existing === undefined) {
    return registry.gauge(
      CERT_EXPIRY_METRIC,
      'When the current workload certificate expires (seconds since the epoch), by SPIFFE id.',
      ['principal'],
    );
  }
  if (!(existing instanceof Gauge) || existing.labelNames.join(',') !== 'principal') {
    throw new MeshError(
      'METRIC_DUPLICATE',
      `${CERT_EXPIRY_METRIC} is registered with another type or labels`,
    );
  }
  return existing;
}
