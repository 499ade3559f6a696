/**
 * The node agent's TCP metrics (DESIGN.md §7): connections opened/closed and bytes per direction,
 * labelled by both ends' identity, workload and Service, plus denied connections by policy. Label
 * children are resolved once per connection (at open) and bumped at close, so the hot path does
 * no string building beyond the label tuple.
 */
import type { Counter, CounterChild, Registry } from '../../common/metrics/index.ts';

/** Label value used when an end is not known (plaintext peer, destination outside the mesh). */
export const UNKNOWN = 'unknown';

/** The connection labels of `waymesh_tcp_*` (DESIGN.md §7). */
export interface TcpLabels {
  readonly direction: 'inbound' | 'outbound';
  readonly sourcePrincipal: string;
  readonly destinationPrincipal: string;
  readonly sourceWorkload: string;
  readonly destinationWorkload: string;
  readonly destinationService: string;
}

/** The four counters of one connection's label set. */
export interface TcpSeries {
  readonly opened: CounterChild;
  readonly closed: CounterChild;
  /** Bytes sent to the connecting client. */
  readonly sent: CounterChild;
  /** Bytes received from the connecting client. */
  readonly received: CounterChild;
}

const CONNECTION_LABELS = [
  'direction',
  'source_principal',
  'destination_principal',
  'source_workload',
  'destination_workload',
  'destination_service',
] as const;

/** The registered TCP metric families of one agent. */
export class TcpMetrics {
  readonly #opened: Counter;
  readonly #closed: Counter;
  readonly #sent: Counter;
  readonly #received: Counter;
  readonly #denied: Counter;
  readonly #retries: Counter;

  /** Registers the families in `registry` (once per agent: names are unique per registry). */
  constructor(registry: Registry) {
    this.#opened = registry.counter(
      'waymesh_tcp_connections_opened_total',
      'TCP connections opened by the node agent',
      CONNECTION_LABELS,
    );
    this.#closed = registry.counter(
      'waymesh_tcp_connections_closed_total',
      'TCP connections closed by the node agent',
      CONNECTION_LABELS,
    );
    this.#sent = registry.counter(
      'waymesh_tcp_sent_bytes_total',
      'Bytes the node agent sent to the connecting client',
      CONNECTION_LABELS,
    );
    this.#received = registry.counter(
      'waymesh_tcp_received_bytes_total',
      'Bytes the node agent received from the connecting client',
      CONNECTION_LABELS,
    );
    this.#denied = registry.counter(
      'waymesh_tcp_denied_total',
      'Inbound connections refused by mTLS mode or L4 authorization',
      ['source_principal', 'destination_workload', 'policy'],
    );
    this.#retries = registry.counter(
      'waymesh_tcp_connect_retries_total',
      'Outbound tunnels that failed to open and were retried on another endpoint',
      ['destination_service', 'failed_workload', 'code'],
    );
  }

  /** The counters of a connection with `labels`. */
  series(labels: TcpLabels): TcpSeries {
    const values = [
      labels.direction,
      labels.sourcePrincipal,
      labels.destinationPrincipal,
      labels.sourceWorkload,
      labels.destinationWorkload,
      labels.destinationService,
    ];
    return {
      opened: this.#opened.labels(...values),
      closed: this.#closed.labels(...values),
      sent: this.#sent.labels(...values),
      received: this.#received.labels(...values),
    };
  }

  /** Counts one retry after the tunnel to `failedWorkload` failed with MeshError `code`. */
  retried(destinationService: string, failedWorkload: string, code: string): void {
    this.#retries.labels(destinationService, failedWorkload, code).inc();
  }

  /** Counts one refused inbound connection; `policy` is the deciding policy id, or a reason class. */
  denied(sourcePrincipal: string, destinationWorkload: string, policy: string): void {
    this.#denied.labels(sourcePrincipal, destinationWorkload, policy).inc();
  }
}

/** The `<namespace>/<name>` label of a workload. */
export function workloadLabel(w: { readonly namespace: string; readonly name: string } | undefined): string {
  return w === undefined ? UNKNOWN : `${w.namespace}/${w.name}`;
}
