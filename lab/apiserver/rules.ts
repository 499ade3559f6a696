/**
 * Pure metadata rules of writes: what the server fills in on create, what an update may change
 * (optimistic concurrency, immutable fields, the status split) and when `generation` moves.
 */
import { isDeepStrictEqual } from 'node:util';
import { DNS_SUBDOMAIN, finalizersOf, type FieldCause } from './object-meta.ts';
import { ApiError, type Json, type JsonObject, type KubeObject, type ResourceDef } from './types.ts';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A 422 Invalid error with one cause, as kube-apiserver renders field errors. */
export function invalid(
  def: ResourceDef,
  name: string,
  field: string,
  message: string,
  reason = 'FieldValueInvalid',
): ApiError {
  return invalidCauses(def, name, [{ field, reason, message }]);
}

/** A 422 Invalid error with every cause (`[a, b]` in the message when there are several). */
export function invalidCauses(def: ResourceDef, name: string, causes: FieldCause[]): ApiError {
  const gk = def.group === '' ? def.kind : `${def.kind}.${def.group}`;
  const text = causes.map((c) => `${c.field}: ${c.message}`).join(', ');
  return new ApiError(
    422,
    'Invalid',
    `${gk} "${name}" is invalid: ${causes.length > 1 ? `[${text}]` : text}`,
    {
      name,
      group: def.group,
      kind: def.kind,
      causes: causes.map((c) => ({ reason: c.reason, message: c.message, field: c.field })),
    },
  );
}

/** Validates an object name for `def` (DNS label for namespaces, DNS subdomain otherwise). */
export function validateName(def: ResourceDef, name: string): void {
  const label = def.plural === 'namespaces' && def.group === '';
  const re = label ? DNS_LABEL : DNS_SUBDOMAIN;
  const max = label ? 63 : 253;
  if (name.length > max || !re.test(name)) {
    const what = label ? 'RFC 1123 label' : 'RFC 1123 subdomain';
    throw invalid(
      def,
      name,
      'metadata.name',
      `Invalid value: "${name}": a lowercase ${what} must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
    );
  }
}

/** Everything of an object except metadata and status (what `generation` tracks). */
export function specPart(o: KubeObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(o)) {
    if (k === 'metadata' || k === 'status' || k === 'kind' || k === 'apiVersion' || v === undefined) continue;
    out[k] = v as Json;
  }
  return out;
}

/** Inputs of {@link prepareCreate} that are not pure (clock, uid, random suffix). */
export interface CreateEnv {
  now: Date;
  uid: string;
  suffix: string;
}

/** Fills server-owned metadata of a new object; throws 422 on a missing/invalid name. */
export function prepareCreate(
  def: ResourceDef,
  apiVersion: string,
  namespace: string | undefined,
  input: KubeObject,
  env: CreateEnv,
): KubeObject {
  const obj = structuredClone(input);
  obj.apiVersion = apiVersion;
  obj.kind = def.kind;
  const meta = obj.metadata;
  if (meta.name === undefined || meta.name === '') {
    if (meta.generateName === undefined || meta.generateName === '') {
      throw invalid(
        def,
        '',
        'metadata.name',
        'Required value: name or generateName is required',
        'FieldValueRequired',
      );
    }
    meta.name = `${meta.generateName}${env.suffix}`;
  }
  validateName(def, meta.name);
  if (def.namespaced) meta.namespace = namespace;
  else delete meta.namespace;
  meta.uid = env.uid;
  meta.creationTimestamp = env.now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  meta.generation = 1;
  delete meta.resourceVersion;
  delete meta.deletionTimestamp;
  delete meta.deletionGracePeriodSeconds;
  delete meta['selfLink'];
  return obj;
}

/** Options of {@link prepareUpdate}. */
export interface UpdateOptions {
  /** The write targets the `status` subresource. */
  status: boolean;
  /** The resource has a status subresource (main writes then ignore `.status`). */
  hasStatus: boolean;
}

/** Merges an incoming replacement with the live object under Kubernetes update rules (pure). */
export function prepareUpdate(
  def: ResourceDef,
  live: KubeObject,
  input: KubeObject,
  opts: UpdateOptions,
): KubeObject {
  const name = live.metadata.name ?? '';
  const rv = input.metadata?.resourceVersion;
  if (rv !== undefined && rv !== '' && rv !== live.metadata.resourceVersion) {
    throw conflict(def, name);
  }
  const uid = input.metadata?.uid;
  if (uid !== undefined && uid !== '' && uid !== live.metadata.uid) {
    throw new ApiError(
      409,
      'Conflict',
      `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${live.metadata.uid ?? ''}`,
      {
        name,
        group: def.group,
        kind: def.plural,
      },
    );
  }
  let next: KubeObject;
  if (opts.status) {
    // Status writes change only `.status`; spec and metadata stay as they are (upstream
    // ResetObjectMetaForStatus), except managedFields which server-side apply owns.
    next = structuredClone(live);
    if (input['status'] === undefined) delete next['status'];
    else next['status'] = structuredClone(input['status']);
    if (input.metadata?.managedFields !== undefined)
      next.metadata.managedFields = structuredClone(input.metadata.managedFields);
  } else {
    next = structuredClone(input);
    next.metadata = { ...structuredClone(input.metadata ?? {}) };
    if (opts.hasStatus) {
      if (live['status'] === undefined) delete next['status'];
      else next['status'] = structuredClone(live['status']);
    }
  }
  const m = next.metadata;
  m.name = live.metadata.name;
  if (live.metadata.namespace === undefined) delete m.namespace;
  else m.namespace = live.metadata.namespace;
  m.uid = live.metadata.uid;
  m.creationTimestamp = live.metadata.creationTimestamp;
  if (live.metadata.deletionTimestamp === undefined) {
    delete m.deletionTimestamp;
    delete m.deletionGracePeriodSeconds;
  } else {
    m.deletionTimestamp = live.metadata.deletionTimestamp;
    if (live.metadata.deletionGracePeriodSeconds !== undefined)
      m.deletionGracePeriodSeconds = live.metadata.deletionGracePeriodSeconds;
    const added = finalizersOf(m).filter((f) => !finalizersOf(live.metadata).includes(f));
    if (added.length > 0) {
      throw invalid(
        def,
        name,
        'metadata.finalizers',
        `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`,
        'FieldValueForbidden',
      );
    }
  }
  if (m.generateName === undefined && live.metadata.generateName !== undefined)
    m.generateName = live.metadata.generateName;
  next.apiVersion = live.apiVersion;
  next.kind = live.kind;
  const gen = live.metadata.generation ?? 1;
  m.generation = !opts.status && !isDeepStrictEqual(specPart(live), specPart(next)) ? gen + 1 : gen;
  m.resourceVersion = live.metadata.resourceVersion;
  return next;
}

/** The 409 Conflict of a stale resourceVersion. */
export function conflict(def: ResourceDef, name: string): ApiError {
  const gr = def.group === '' ? def.plural : `${def.plural}.${def.group}`;
  return new ApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${gr} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    {
      name,
      group: def.group,
      kind: def.plural,
    },
  );
}

/** The 422 of a PUT without resourceVersion where the kind requires one (custom resources). */
export function unconditionalUpdate(def: Pick<ResourceDef, 'group' | 'plural'>, name: string): ApiError {
  const gr = def.group === '' ? def.plural : `${def.plural}.${def.group}`;
  const message = 'Invalid value: 0x0: must be specified for an update';
  return new ApiError(422, 'Invalid', `${gr} "${name}" is invalid: metadata.resourceVersion: ${message}`, {
    name,
    group: def.group,
    kind: def.plural,
    causes: [{ reason: 'FieldValueInvalid', message, field: 'metadata.resourceVersion' }],
  });
}

/** The 404 NotFound of a missing object. */
export function notFound(def: Pick<ResourceDef, 'group' | 'plural'>, name: string): ApiError {
  const gr = def.group === '' ? def.plural : `${def.plural}.${def.group}`;
  return new ApiError(404, 'NotFound', `${gr} "${name}" not found`, {
    name,
    group: def.group,
    kind: def.plural,
  });
}

/** The 409 AlreadyExists of a create on a taken name. */
export function alreadyExists(def: ResourceDef, name: string): ApiError {
  const gr = def.group === '' ? def.plural : `${def.plural}.${def.group}`;
  return new ApiError(409, 'AlreadyExists', `${gr} "${name}" already exists`, {
    name,
    group: def.group,
    kind: def.plural,
  });
}

/** True when two objects differ only in resourceVersion/managedFields (a no-op write). */
export function isNoop(a: KubeObject, b: KubeObject): boolean {
  const strip = (o: KubeObject): KubeObject => {
    const c = structuredClone(o);
    delete c.metadata.resourceVersion;
    delete c.metadata.managedFields;
    return c;
  };
  return isDeepStrictEqual(strip(a), strip(b));
}
