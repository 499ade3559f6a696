/**
 * Prometheus naming and text-format escaping (exposition format 0.0.4,
 * https://prometheus.io/docs/instrumenting/exposition_formats/). Checked once at registration
 * so the hot path never validates.
 */
import { MeshError } from '../errors.ts';

const METRIC_NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const LABEL_VALUE_ESCAPE_RE = /[\\"\n]/g;
const HELP_ESCAPE_RE = /[\\\n]/g;

/** Throws `METRIC_NAME_INVALID` unless `name` is a valid Prometheus metric name. */
export function checkMetricName(name: string): void {
  if (!METRIC_NAME_RE.test(name)) {
    throw new MeshError('METRIC_NAME_INVALID', `invalid metric name ${JSON.stringify(name)}`, {
      hint: 'metric names match [a-zA-Z_:][a-zA-Z0-9_:]*',
    });
  }
}

/** Throws `METRIC_LABEL_INVALID` for an invalid, reserved (`__…`, `reserved`) or repeated label name. */
export function checkLabelNames(
  metric: string,
  labelNames: readonly string[],
  reserved: readonly string[],
): void {
  const seen = new Set<string>();
  for (const label of labelNames) {
    let why = '';
    if (!LABEL_NAME_RE.test(label)) why = 'label names match [a-zA-Z_][a-zA-Z0-9_]*';
    else if (label.startsWith('__')) why = 'names starting with "__" are reserved by Prometheus';
    else if (reserved.includes(label)) why = `"${label}" is reserved for this metric type`;
    else if (seen.has(label)) why = 'the label is listed twice';
    if (why !== '') {
      throw new MeshError(
        'METRIC_LABEL_INVALID',
        `metric ${metric}: invalid label name ${JSON.stringify(label)}`,
        {
          hint: why,
        },
      );
    }
    seen.add(label);
  }
}

function escapeChar(c: string): string {
  return c === '\n' ? '\\n' : c === '"' ? '\\"' : '\\\\';
}

/** Escapes a label value: backslash, double quote and line feed. */
export function escapeLabelValue(value: string): string {
  return value.replace(LABEL_VALUE_ESCAPE_RE, escapeChar);
}

/** Escapes HELP text: backslash and line feed. */
export function escapeHelp(help: string): string {
  return help.replace(HELP_ESCAPE_RE, escapeChar);
}

/** Renders `{a="x",b="y"}` (or `''` when there are no labels); `extra` is appended raw (e.g. `le`). */
export function renderLabels(names: readonly string[], values: readonly string[], extra = ''): string {
  const parts: string[] = [];
  for (let i = 0; i < names.length; i++) {
    parts.push(`${names[i] ?? ''}="${escapeLabelValue(values[i] ?? '')}"`);
  }
  if (extra !== '') parts.push(extra);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

/** Formats a sample value as Prometheus does (`+Inf`, `-Inf`, `NaN`). */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
