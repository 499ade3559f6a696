/**
 * One AuthorizationPolicy rule compiled for request-time evaluation: any `from` AND any `to` AND
 * every `when`; an empty list matches everything. Globs are compiled once here.
 */
import { MeshError } from '../../common/errors.ts';
import type { AuthzFrom, AuthzRule, AuthzTo, AuthzWhen, MatchSet } from '../../common/ir/policy.ts';
import { fieldBytes } from '../routing/field-bytes.ts';
import { Glob, GlobSet } from './glob.ts';
import type { AuthzRequest } from './authz.ts';

/** Request attributes derived once per evaluation, and only when a rule asks for them. */
export class AuthzView {
  req!: AuthzRequest;
  private hostFull: string | undefined;
  private hostBare: string | undefined;

  /** Points the view at a new request. */
  reset(req: AuthzRequest): void {
    this.req = req;
    this.hostFull = undefined;
    this.hostBare = undefined;
  }

  /** The lowercased host as received (with its port, if any). */
  host(): string {
    return (this.hostFull ??= this.req.host.toLowerCase());
  }

  /** The lowercased host without its port. */
  bareHost(): string {
    if (this.hostBare === undefined) {
      const h = this.host();
      const colon = h.lastIndexOf(':');
      this.hostBare = colon > 0 && h.lastIndexOf(']') < colon ? h.slice(0, colon) : h;
    }
    return this.hostBare;
  }
}

/** Hosts, case-insensitive; a pattern without a port matches the host on any port. */
class HostSet {
  private readonly values: readonly [Glob, boolean][];
  private readonly not: readonly [Glob, boolean][];
  constructor(set: MatchSet) {
    const c = (v: string): [Glob, boolean] => {
      const g = Glob.of(v, true);
      return [g, g.hasPort()];
    };
    this.values = set.values.map(c);
    this.not = set.not.map(c);
  }

  test(view: AuthzView): boolean {
    if (this.values.length > 0 && !hostMatch(this.values, view)) return false;
    return !hostMatch(this.not, view);
  }
}

function hostMatch(globs: readonly [Glob, boolean][], view: AuthzView): boolean {
  for (const [g, withPort] of globs) if (g.test(withPort ? view.host() : view.bareHost())) return true;
  return false;
}

/** Ports as numbers; a value that is not a port makes the rule unusable (see {@link compileRule}). */
class PortSet {
  constructor(
    private readonly values: ReadonlySet<number>,
    private readonly not: ReadonlySet<number>,
  ) {}

  static of(set: MatchSet, policy: string): PortSet {
    const parse = (v: string): number => {
      const n = /^\d{1,5}$/.test(v) ? Number(v) : NaN;
      if (!(n >= 1 && n <= 65535))
        throw new MeshError('AUTHZ_PORT_INVALID', `${policy}: port ${JSON.stringify(v)} is not 1..65535`, {
          hint: 'fix the AuthorizationPolicy; until then its DENY rule denies everything and its ALLOW rule allows nothing',
        });
      return n;
    };
    return new PortSet(new Set(set.values.map(parse)), new Set(set.not.map(parse)));
  }

  test(port: number): boolean {
    return (this.values.size === 0 || this.values.has(port)) && !this.not.has(port);
  }
}

class From {
  private readonly principals: GlobSet;
  private readonly namespaces: GlobSet;
  constructor(f: AuthzFrom) {
    this.principals = GlobSet.of(f.principals);
    this.namespaces = GlobSet.of(f.namespaces);
  }
  test(req: AuthzRequest): boolean {
    return this.principals.test(req.principal) && this.namespaces.test(req.namespace);
  }
}

class To {
  private readonly ports: PortSet;
  private readonly methods: GlobSet;
  private readonly paths: GlobSet;
  private readonly hosts: HostSet;
  constructor(t: AuthzTo, policy: string) {
    this.ports = PortSet.of(t.ports, policy);
    this.methods = GlobSet.of({ values: t.methods.values.map(upper), not: t.methods.not.map(upper) });
    this.paths = GlobSet.of(t.paths);
    this.hosts = new HostSet(t.hosts);
  }
  test(view: AuthzView): boolean {
    const req = view.req;
    return (
      this.ports.test(req.port) &&
      this.methods.test(req.method) &&
      this.paths.test(req.path) &&
      this.hosts.test(view)
    );
  }
}

function upper(s: string): string {
  return s.toUpperCase();
}

class When {
  private readonly header: string;
  private readonly set: GlobSet;
  constructor(w: AuthzWhen) {
    this.header = w.header.toLowerCase();
    // Compared with the bytes the client sent (../routing/field-bytes.ts).
    this.set = GlobSet.of({ values: w.values.map(fieldBytes), not: w.notValues.map(fieldBytes) });
  }
  test(req: AuthzRequest): boolean {
    return this.set.test(req.header(this.header));
  }
}

/** A compiled rule. */
export interface CompiledRule {
  test(view: AuthzView): boolean;
}

class Rule implements CompiledRule {
  private readonly from: readonly From[];
  private readonly to: readonly To[];
  private readonly when: readonly When[];
  constructor(r: AuthzRule, policy: string) {
    this.from = r.from.map((f) => new From(f));
    this.to = r.to.map((t) => new To(t, policy));
    this.when = r.when.map((w) => new When(w));
  }
  test(view: AuthzView): boolean {
    const req = view.req;
    if (this.from.length > 0 && !anyFrom(this.from, req)) return false;
    if (this.to.length > 0 && !anyTo(this.to, view)) return false;
    for (const w of this.when) if (!w.test(req)) return false;
    return true;
  }
}

function anyFrom(from: readonly From[], req: AuthzRequest): boolean {
  for (const f of from) if (f.test(req)) return true;
  return false;
}

function anyTo(to: readonly To[], view: AuthzView): boolean {
  for (const t of to) if (t.test(view)) return true;
  return false;
}

const MATCH_ALL: CompiledRule = { test: () => true };
const MATCH_NONE: CompiledRule = { test: () => false };

/**
 * Compiles rule `r` of `policy`. A rule that cannot be compiled fails safe, as Istio does for
 * rules a proxy cannot enforce: in a DENY policy it matches every request, in an ALLOW policy
 * none; the MeshError goes to `errors` for the caller to log.
 */
export function compileRule(
  r: AuthzRule,
  policy: string,
  action: 'ALLOW' | 'DENY',
  errors: MeshError[],
): CompiledRule {
  try {
    return new Rule(r, policy);
  } catch (err) {
    if (!(err instanceof MeshError)) throw err;
    errors.push(err);
    return action === 'DENY' ? MATCH_ALL : MATCH_NONE;
  }
}
