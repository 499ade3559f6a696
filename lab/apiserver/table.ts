/**
 * `meta.k8s.io/v1` Table output (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`), what
 * `kubectl get` asks for. Built-in kinds use the columns of `printers.ts`; custom resources use
 * their version's additional printer columns (simple JSONPath) with `Name` first, and `Age`
 * appended when no `date` column is declared. Pure: the current time comes in `opts.now`.
 */
import { NAME_DESCRIPTION, ageSince, builtinPrinter, column } from './printers.ts';
import type { BuiltinPrinter, ColumnDefinition } from './printers.ts';
import { ApiError } from './types.ts';
import type { Json, JsonObject, KubeObject, PrinterColumn, ResourceDef } from './types.ts';

/** What each row carries besides its cells (the `includeObject` query parameter). */
export interface TableOptions {
  includeObject: 'None' | 'Metadata' | 'Object';
  now: Date;
}

/** Renders `objects` of `def` (served as `version`) as a Table. */
export function toTable(
  def: ResourceDef,
  version: string,
  objects: KubeObject[],
  opts: TableOptions,
): JsonObject {
  const printer = def.builtin ? builtinPrinter(def.group, def.kind) : customPrinter(def, version);
  const rows: Json[] = objects.map((obj) => {
    const row: JsonObject = { cells: printer.cells(obj, opts.now) };
    if (opts.includeObject === 'Metadata') {
      row['object'] = {
        kind: 'PartialObjectMetadata',
        apiVersion: 'meta.k8s.io/v1',
        metadata: structuredClone(obj.metadata) as JsonObject,
      };
    } else if (opts.includeObject === 'Object') {
      row['object'] = structuredClone(obj) as unknown as JsonObject;
    }
    return row;
  });
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: {},
    columnDefinitions: printer.columns.map((c) => ({ ...c })),
    rows,
  };
}

function customPrinter(def: ResourceDef, version: string): BuiltinPrinter {
  const served = def.versions.find((v) => v.name === version);
  if (served === undefined) {
    throw new ApiError(
      404,
      'NotFound',
      `the server could not find the requested resource (${def.plural} version ${version})`,
    );
  }
  const declared = served.printerColumns ?? [];
  const paths = declared.map((c) => ({ column: c, path: parseJsonPath(c.jsonPath) }));
  const hasDate = declared.some((c) => c.type === 'date');
  const columns: ColumnDefinition[] = [
    column('Name', 'string', false, 'name', NAME_DESCRIPTION),
    ...declared.map((c) => ({
      name: c.name,
      type: c.type,
      format: c.format ?? '',
      description: c.description ?? `Custom resource definition column (in JSONPath format): ${c.jsonPath}`,
      priority: c.priority ?? 0,
    })),
  ];
  if (!hasDate)
    columns.push(
      column(
        'Age',
        'date',
        false,
        '',
        'Custom resource definition column (in JSONPath format): .metadata.creationTimestamp',
      ),
    );
  return {
    columns,
    cells: (obj, now) => {
      const cells: Json[] = [obj.metadata.name ?? ''];
      for (const { column: c, path } of paths)
        cells.push(cell(c, evaluate(obj as unknown as Json, path), now));
      if (!hasDate) cells.push(ageSince(obj.metadata.creationTimestamp, now));
      return cells;
    },
  };
}

/** One step of a simple JSONPath: a field, an index, or `*` (every element). */
type Step =
  | { field: string }
  | { index: number }
  | { all: true }
  | { filter: { path: string[]; op: '==' | '!='; value: Json } };

const FILTER_RE =
  /^\?\(@((?:\.[A-Za-z0-9_-]+)+)\s*(==|!=)\s*(?:"([^"]*)"|'([^']*)'|(-?\d+(?:\.\d+)?|true|false))\)$/;

/** Parses a `?(@.a.b == "x")` filter, as upstream CRD columns use for conditions. */
function parseFilter(inner: string): Step | undefined {
  const m = FILTER_RE.exec(inner);
  if (m === null) return undefined;
  const literal = m[3] ?? m[4];
  const value: Json = literal !== undefined ? literal : (JSON.parse(m[5] ?? 'null') as Json);
  return { filter: { path: (m[1] ?? '').slice(1).split('.'), op: m[2] === '!=' ? '!=' : '==', value } };
}

/**
 * Parses `.a.b[0].c`, `.a.b[*].c`, `.metadata.labels['x.io/y']`, filters such as
 * `.status.conditions[?(@.type=="Ready")].status`, and `{...}`-wrapped forms.
 */
export function parseJsonPath(expr: string): Step[] {
  let text = expr.trim();
  if (text.startsWith('{') && text.endsWith('}')) text = text.slice(1, -1).trim();
  const steps: Step[] = [];
  let i = 0;
  const fail = (): never => {
    throw new ApiError(
      422,
      'Invalid',
      `unsupported JSONPath ${JSON.stringify(expr)}: only .field, [n], [*], ['key'] and [?(@.field=="value")] are supported`,
    );
  };
  while (i < text.length) {
    if (text[i] === '.') {
      let name = '';
      i++;
      while (i < text.length && text[i] !== '.' && text[i] !== '[') {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        name += text[i];
        i++;
      }
      if (name === '') fail();
      steps.push({ field: name });
    } else if (text[i] === '[') {
      const end = text.indexOf(']', i);
      if (end < 0) fail();
      const inner = text.slice(i + 1, end).trim();
      if (inner === '*') steps.push({ all: true });
      else if (/^\d+$/.test(inner)) steps.push({ index: Number(inner) });
      else if (/^'[^']*'$|^"[^"]*"$/.test(inner)) steps.push({ field: inner.slice(1, -1) });
      else steps.push(parseFilter(inner) ?? fail());
      i = end + 1;
    } else {
      fail();
    }
  }
  return steps;
}

function evaluate(root: Json, steps: Step[]): Json[] {
  let nodes: Json[] = [root];
  for (const step of steps) {
    const next: Json[] = [];
    for (const node of nodes) {
      if ('filter' in step) {
        const { path, op, value } = step.filter;
        for (const item of Array.isArray(node) ? node : [node]) {
          let v: Json | undefined = item;
          for (const f of path)
            v = typeof v === 'object' && v !== null && !Array.isArray(v) ? v[f] : undefined;
          if ((JSON.stringify(v) === JSON.stringify(value)) === (op === '==')) next.push(item);
        }
      } else if ('field' in step) {
        if (typeof node === 'object' && node !== null && !Array.isArray(node)) {
          const v = node[step.field];
          if (v !== undefined) next.push(v);
        }
      } else if (Array.isArray(node)) {
        if ('index' in step) {
          const v = node[step.index];
          if (v !== undefined) next.push(v);
        } else {
          next.push(...node);
        }
      } else if ('all' in step && typeof node === 'object' && node !== null) {
        next.push(...Object.values(node));
      }
    }
    nodes = next;
  }
  return nodes;
}

/** apiextensions' cellForJSONValue: typed cells, `null` when absent or of another type. */
function cell(c: PrinterColumn, values: Json[], now: Date): Json {
  const first = values[0];
  if (first === undefined || first === null) return null;
  switch (c.type) {
    case 'string':
      return values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(',');
    case 'integer':
      return typeof first === 'number' ? Math.trunc(first) : null;
    case 'number':
      return typeof first === 'number' ? first : null;
    case 'boolean':
      return typeof first === 'boolean' ? first : null;
    case 'date':
      if (typeof first !== 'string') return null;
      return Number.isNaN(Date.parse(first)) ? '<invalid>' : ageSince(first, now);
  }
}
