/**
 * Pure merges of computed statuses (common/ir/status.ts) into an object's live status: only
 * this controller's entries are replaced, other controllers' entries are kept as they are, and
 * a condition keeps its `lastTransitionTime` while its status, reason and message are unchanged.
 * Each function returns the `status` fields to write; the writer compares them with the live ones.
 */
import { isIP } from 'node:net';
import type { Condition, ObjectStatus } from '../../common/ir/status.ts';

type JsonRecord = Record<string, unknown>;

function isRecord(v: unknown): v is JsonRecord {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function records(v: unknown): JsonRecord[] {
  return Array.isArray(v) ? v.filter(isRecord) : [];
}

/** JSON with object keys sorted, so equal values compare equal whatever their key order. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isRecord(v)) {
    const keys = Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** metav1.Time as the API server writes it (RFC 3339, seconds). */
export function kubeTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** metav1.Condition's bound on `message` (characters); the API server refuses a longer one. */
export const CONDITION_MESSAGE_MAX = 32768;

/**
 * `message` cut to fit a condition, saying how much was left out. Messages list every problem
 * of an object, so a route with thousands of bad rules would otherwise have its whole status
 * write refused, and no condition at all would reach the user.
 */
export function conditionMessage(message: string): string {
  if (message.length <= CONDITION_MESSAGE_MAX) return message;
  const note = (n: number): string => ` … (${n} more characters)`;
  let keep = CONDITION_MESSAGE_MAX - note(message.length).length;
  // Never split a surrogate pair: the API server counts code points.
  const last = message.charCodeAt(keep - 1);
  if (last >= 0xd800 && last <= 0xdbff) keep -= 1;
  return `${message.slice(0, keep)}${note(message.length - keep)}`;
}

/** Conditions with transition times: kept from `live` (by type) when status/reason/message match. */
export function withTransitionTimes(desired: readonly Condition[], live: unknown, now: string): JsonRecord[] {
  const previous = new Map(records(live).map((c) => [c['type'], c]));
  return desired.map((c) => {
    const p = previous.get(c.type);
    const message = conditionMessage(c.message);
    const same =
      p !== undefined &&
      p['status'] === c.status &&
      p['reason'] === c.reason &&
      p['message'] === message &&
      typeof p['lastTransitionTime'] === 'string';
    return {
      type: c.type,
      status: c.status,
      reason: c.reason,
      message,
      observedGeneration: c.observedGeneration,
      lastTransitionTime: same ? p['lastTransitionTime'] : now,
    };
  });
}

/**
 * Merges entries keyed by a reference (`parentRef` of routes, `ancestorRef` of policies): other
 * controllers' entries first, unchanged and in their order, then ours in computed order; our
 * entries for references no longer computed are dropped.
 */
function mergeEntries(
  live: unknown,
  refField: 'parentRef' | 'ancestorRef',
  desired: readonly {
    readonly ref: Readonly<Record<string, unknown>>;
    readonly conditions: readonly Condition[];
  }[],
  controllerName: string,
  now: string,
): JsonRecord[] {
  const entries = records(live);
  const others = entries.filter((e) => e['controllerName'] !== controllerName);
  const ours = new Map(
    entries.filter((e) => e['controllerName'] === controllerName).map((e) => [canonicalJson(e[refField]), e]),
  );
  const next = desired.map((d) => ({
    [refField]: { ...d.ref },
    controllerName,
    conditions: withTransitionTimes(d.conditions, ours.get(canonicalJson(d.ref))?.['conditions'], now),
  }));
  return [...others, ...next];
}

/** The status fields one ObjectStatus (or, when undefined, the removal of our entries) writes. */
export function mergedStatus(
  kind: ObjectStatus['kind'],
  status: ObjectStatus | undefined,
  liveStatus: unknown,
  controllerName: string,
  now: string,
): JsonRecord {
  const live = isRecord(liveStatus) ? liveStatus : {};
  switch (kind) {
    case 'route': {
      const parents = status?.kind === 'route' ? status.parents : [];
      const desired = parents.map((p) => ({ ref: p.parentRef, conditions: p.conditions }));
      return { parents: mergeEntries(live['parents'], 'parentRef', desired, controllerName, now) };
    }
    case 'policy': {
      const ancestors = status?.kind === 'policy' ? status.ancestors : [];
      const desired = ancestors.map((a) => ({ ref: a.ancestorRef, conditions: a.conditions }));
      return { ancestors: mergeEntries(live['ancestors'], 'ancestorRef', desired, controllerName, now) };
    }
    case 'gatewayclass':
      return {
        conditions: withTransitionTimes(
          status?.kind === 'gatewayclass' ? status.conditions : [],
          live['conditions'],
          now,
        ),
      };
    case 'gateway': {
      if (status?.kind !== 'gateway') return {};
      const liveListeners = new Map(records(live['listeners']).map((l) => [l['name'], l]));
      return {
        conditions: withTransitionTimes(status.conditions, live['conditions'], now),
        addresses: status.addresses.map((value) => ({
          type: isIP(value) === 0 ? 'Hostname' : 'IPAddress',
          value,
        })),
        listeners: status.listeners.map((l) => {
          const prev = liveListeners.get(l.name);
          return {
            name: l.name,
            attachedRoutes: l.attachedRoutes,
            // The IR does not compute supportedKinds (required by the schema): keep what is there.
            supportedKinds: Array.isArray(prev?.['supportedKinds']) ? prev['supportedKinds'] : [],
            conditions: withTransitionTimes(l.conditions, prev?.['conditions'], now),
          };
        }),
      };
    }
  }
}

/** True when every field of `next` equals the same field of the live status. */
export function statusUnchanged(next: JsonRecord, liveStatus: unknown): boolean {
  const live = isRecord(liveStatus) ? liveStatus : {};
  return Object.keys(next).every((k) => {
    const n = next[k];
    const l = live[k];
    // An absent list and an empty one are the same status.
    if (Array.isArray(n) && n.length === 0 && (l === undefined || (Array.isArray(l) && l.length === 0)))
      return true;
    return canonicalJson(n) === canonicalJson(l);
  });
}
