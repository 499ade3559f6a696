/**
 * nginx configurations of the `l7` benchmark (pure text rendering): the backend app returning a
 * fixed 1 KiB body, and the reverse proxy equivalent to the waypoint's route table — one worker,
 * keep-alive upstreams, HTTP/1.1 upstream, one `location` pair per path prefix (`= /p` and
 * `/p/` give the Gateway API's segment-aware prefix), a `map` for the header match.
 */
import { MeshError } from '../../common/errors.ts';
import type { BenchRule } from './routes.ts';

/** An address nginx listens on or proxies to. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Options shared by both configurations. */
export interface NginxBase {
  /** nginx `-p` prefix: pid, logs and temp directories live here. */
  readonly prefix: string;
  readonly listen: HostPort;
  /** Access log file, or `off`. */
  readonly accessLog: string;
}

/** Options of {@link renderProxyConfig}. */
export interface NginxProxyOptions extends NginxBase {
  readonly upstreams: { readonly primary: HostPort; readonly canary: HostPort };
  readonly rules: readonly BenchRule[];
  /** Idle keep-alive connections kept per upstream. */
  readonly keepalive: number;
}

const NAME = /^[a-z0-9-]+$/;

function head(o: NginxBase): string[] {
  return [
    'worker_processes 1;',
    'daemon off;',
    'master_process on;',
    `pid ${o.prefix}/nginx.pid;`,
    `error_log ${o.prefix}/error.log warn;`,
    'events { worker_connections 4096; }',
    'http {',
    `  access_log ${o.accessLog};`,
    `  client_body_temp_path ${o.prefix}/client_body;`,
    `  proxy_temp_path ${o.prefix}/proxy;`,
    `  fastcgi_temp_path ${o.prefix}/fastcgi;`,
    `  uwsgi_temp_path ${o.prefix}/uwsgi;`,
    `  scgi_temp_path ${o.prefix}/scgi;`,
    '  keepalive_requests 1000000;',
    '  keepalive_timeout 60s;',
  ];
}

/** The backend app: every request gets 200 with `bodyBytes` bytes of `x`. */
export function renderBackendConfig(o: NginxBase & { readonly bodyBytes: number }): string {
  if (!Number.isInteger(o.bodyBytes) || o.bodyBytes < 1 || o.bodyBytes > 4096)
    throw new MeshError('BENCH_CONFIG', `backend body must be 1..4096 bytes, got ${o.bodyBytes}`);
  return [
    ...head(o),
    '  default_type application/octet-stream;',
    '  server {',
    `    listen ${o.listen.host}:${o.listen.port};`,
    `    location / { return 200 "${'x'.repeat(o.bodyBytes)}"; }`,
    '  }',
    '}',
    '',
  ].join('\n');
}

function headerVariable(name: string): string {
  return `$http_${name.toLowerCase().replaceAll('-', '_')}`;
}

function location(modifier: string, path: string, upstream: string, rule: BenchRule): string[] {
  return [
    `    location ${modifier}${path} {`,
    `      proxy_pass http://${upstream};`,
    '      proxy_http_version 1.1;',
    '      proxy_set_header Connection "";',
    ...(rule.setHeader === undefined
      ? []
      : [`      proxy_set_header ${rule.setHeader.name} "${rule.setHeader.value}";`]),
    '    }',
  ];
}

/**
 * The reverse proxy. Rules sharing a prefix form one location pair: a rule with a header match
 * selects its upstream through a `map`, the rule without one is the default. Throws
 * `BENCH_CONFIG` for a table nginx locations cannot express (two header rules on one prefix, a
 * prefix with only header rules, a name nginx would misread).
 */
export function renderProxyConfig(o: NginxProxyOptions): string {
  const maps: string[] = [];
  const servers: string[] = [];
  const prefixes = [...new Set(o.rules.map((r) => r.pathPrefix))];
  for (const prefix of prefixes) {
    const group = o.rules.filter((r) => r.pathPrefix === prefix);
    const plain = group.filter((r) => r.header === undefined);
    const byHeader = group.filter((r) => r.header !== undefined);
    const fallback = plain[0];
    if (fallback === undefined || byHeader.length > 1 || group.some((r) => !NAME.test(r.name))) {
      throw new MeshError(
        'BENCH_CONFIG',
        `rules on prefix ${prefix} cannot be rendered as nginx locations (${group.map((r) => r.name).join(', ')})`,
        { hint: 'each prefix needs one rule without a header match, at most one with, names [a-z0-9-]' },
      );
    }
    let upstream: string = fallback.backend;
    const headerRule = byHeader[0];
    if (headerRule?.header !== undefined) {
      upstream = `$upstream_${fallback.name.replaceAll('-', '_')}`;
      maps.push(
        `  map ${headerVariable(headerRule.header.name)} ${upstream} {`,
        `    default ${fallback.backend};`,
        `    "${headerRule.header.value}" ${headerRule.backend};`,
        '  }',
      );
    }
    servers.push(`    # ${group.map((r) => r.name).join(' + ')}`);
    if (prefix === '/') servers.push(...location('', '/', upstream, fallback));
    else {
      servers.push(...location('= ', prefix, upstream, fallback));
      servers.push(...location('', `${prefix}/`, upstream, fallback));
    }
  }
  const upstreamBlock = (name: string, to: HostPort): string[] => [
    `  upstream ${name} {`,
    `    server ${to.host}:${to.port};`,
    `    keepalive ${o.keepalive};`,
    '    keepalive_requests 1000000;',
    '  }',
  ];
  return [
    ...head(o),
    ...upstreamBlock('primary', o.upstreams.primary),
    ...upstreamBlock('canary', o.upstreams.canary),
    ...maps,
    '  server {',
    `    listen ${o.listen.host}:${o.listen.port};`,
    ...servers,
    '  }',
    '}',
    '',
  ].join('\n');
}
