import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { isMeshError } from '../../../common/errors.ts';
import { parseArgs } from '../../../cli/args.ts';
import { gatewayApiRecentEnough } from '../../../cli/install-steps.ts';
import { INSTALL_YAML } from '../../../cli/install.ts';
import { main } from '../../../cli/main.ts';
import {
  applyVerdict,
  controllerStateObjects,
  crdsOf,
  displayName,
  installOrder,
  LEFTOVER_QUERIES,
  parseManifest,
  uninstallOrder,
  XMESH_OBJECT,
  type ManifestObject,
} from '../../../cli/manifest.ts';

const obj = (apiVersion: string, kind: string, name: string, namespace?: string): ManifestObject => ({
  apiVersion,
  kind,
  metadata: { name, ...(namespace === undefined ? {} : { namespace }) },
});

const FIXTURE = [
  obj('v1', 'ServiceAccount', 'sa', 'ns'),
  obj('apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'a.example.io'),
  obj('apps/v1', 'Deployment', 'ctl', 'ns'),
  obj('v1', 'Namespace', 'ns'),
  obj('apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'b.example.io'),
  obj('gateway.networking.k8s.io/v1', 'GatewayClass', 'gc'),
  obj('apps/v1', 'DaemonSet', 'agent', 'ns'),
];
const names = (os: readonly ManifestObject[]): string[] => os.map((o) => `${o.kind}/${o.metadata.name}`);

describe('cli waymesh install: manifest handling', () => {
  it('applies Namespaces, then CRDs, then the rest in file order', () => {
    assert.deepEqual(names(installOrder(FIXTURE)), [
      'Namespace/ns',
      'CustomResourceDefinition/a.example.io',
      'CustomResourceDefinition/b.example.io',
      'ServiceAccount/sa',
      'Deployment/ctl',
      'GatewayClass/gc',
      'DaemonSet/agent',
    ]);
    assert.deepEqual(names(crdsOf(FIXTURE)), [
      'CustomResourceDefinition/a.example.io',
      'CustomResourceDefinition/b.example.io',
    ]);
  });

  it('deletes workloads first, then the reverse of the apply order (CRDs and Namespaces last)', () => {
    assert.deepEqual(names(uninstallOrder(FIXTURE)), [
      'DaemonSet/agent',
      'Deployment/ctl',
      'GatewayClass/gc',
      'ServiceAccount/sa',
      'CustomResourceDefinition/b.example.io',
      'CustomResourceDefinition/a.example.io',
      'Namespace/ns',
    ]);
  });

  it('names objects as kubectl prints them', () => {
    assert.equal(displayName(obj('v1', 'Namespace', 'waymesh-system')), 'namespace/waymesh-system');
    assert.equal(displayName(obj('apps/v1', 'Deployment', 'x', 'n')), 'deployment.apps/x');
    assert.equal(
      displayName(obj('rbac.authorization.k8s.io/v1', 'ClusterRole', 'r')),
      'clusterrole.rbac.authorization.k8s.io/r',
    );
  });

  it('says created / configured / unchanged from the resourceVersions around the apply', () => {
    assert.equal(applyVerdict(undefined, '5'), 'created');
    assert.equal(applyVerdict('5', '5'), 'unchanged');
    assert.equal(applyVerdict('5', '9'), 'configured');
  });

  it('parses install.yaml: Namespace and CRDs first, every object addressable', () => {
    const objects = parseManifest(readFileSync(INSTALL_YAML, 'utf8'), 'install.yaml');
    assert.ok(objects.length >= 14);
    const ordered = installOrder(objects);
    assert.equal(displayName(ordered[0] ?? obj('', '', '')), 'namespace/waymesh-system');
    const crds = crdsOf(objects).length;
    assert.ok(crds >= 2);
    assert.ok(ordered.slice(1, 1 + crds).every((o) => o.kind === 'CustomResourceDefinition'));
    assert.equal(uninstallOrder(objects).at(-1)?.kind, 'Namespace');
    // Workloads (controller Deployment, node-agent DaemonSet) stop before anything else goes.
    const first = uninstallOrder(objects)[0]?.kind ?? '';
    assert.ok(['Deployment', 'DaemonSet'].includes(first), first);
  });

  it('rejects documents without kind or name with an actionable message', () => {
    assert.throws(
      () => parseManifest('apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n---\n', 'x.yaml'),
      (err: unknown) => isMeshError(err, 'MANIFEST_INVALID') && /x\.yaml: document 1 lacks/.test(err.message),
    );
    assert.throws(() => parseManifest('a: [', 'y.yaml'), /y\.yaml is not valid YAML/);
    assert.deepEqual(parseManifest('---\n---\n', 'z.yaml'), []);
  });
});

describe('cli waymesh uninstall: what the controller created', () => {
  it('sweeps waypoint Deployments/Services/ServiceAccounts and root ConfigMaps in every namespace by label', () => {
    assert.deepEqual(
      LEFTOVER_QUERIES.map((q) => `${q.kind} ${q.listPath}?${q.labelSelector}`),
      [
        'Deployment /apis/apps/v1/deployments?waymesh.io/waypoint=true',
        'Service /api/v1/services?waymesh.io/waypoint=true',
        'ServiceAccount /api/v1/serviceaccounts?waymesh.io/waypoint=true',
        'ConfigMap /api/v1/configmaps?waymesh.io/ca-root-cert=true',
      ],
    );
  });

  it('also deletes the CA Secret, the Lease and the XMesh', () => {
    assert.deepEqual(
      controllerStateObjects('waymesh-system').map((o) => `${displayName(o)}@${o.metadata.namespace ?? ''}`),
      ['secret/waymesh-ca@waymesh-system', 'lease.coordination.k8s.io/waymesh-controller@waymesh-system'],
    );
    assert.equal(displayName(XMESH_OBJECT), 'xmesh.gateway.networking.x-k8s.io/waymesh');
  });
});

describe('cli waymesh install: arguments and prerequisites', () => {
  it('accepts Gateway API v1.2 and newer only', () => {
    assert.equal(gatewayApiRecentEnough('v1.2.1'), true);
    assert.equal(gatewayApiRecentEnough('v1.3.0'), true);
    assert.equal(gatewayApiRecentEnough('v2.0.0'), true);
    assert.equal(gatewayApiRecentEnough('v1.1.0'), false);
    assert.equal(gatewayApiRecentEnough('v0.8.1'), false);
    assert.equal(gatewayApiRecentEnough('dev'), undefined);
  });

  const usage = [
    [['install', '--dryrun'], /unknown flag --dryrun/],
    [['install', 'extra'], /unexpected argument extra/],
    [['install', '--timeout', '5x'], /invalid duration "5x"/],
    [['uninstall', '--dry-run'], /unknown flag --dry-run/],
  ] as const;
  for (const [argv, message] of usage)
    it(`exits 2 for ${argv.join(' ')}`, async () => {
      const err: string[] = [];
      const code = await main(argv, { out: () => undefined, err: (t) => err.push(t) });
      assert.equal(code, 2);
      assert.match(err.join('\n'), message);
    });

  it('prints the usage for --help without touching a cluster', async () => {
    const out: string[] = [];
    assert.equal(await main(['install', '--help'], { out: (t) => out.push(t), err: () => undefined }), 0);
    assert.match(out.join('\n'), /server-side apply/);
  });
});

describe('cli args short aliases', () => {
  const spec = { namespace: 'string', 'all-namespaces': 'boolean', name: 'string' } as const;
  const aliases = { n: 'namespace', A: 'all-namespaces' };

  it('maps -n VALUE and -A to their long flags; positionals and long flags still work', () => {
    const a = parseArgs(['-n', 'demo', 'wp', '-A', '--name=x'], spec, aliases);
    assert.equal(a.flags.get('namespace'), 'demo');
    assert.equal(a.flags.get('all-namespaces'), true);
    assert.equal(a.flags.get('name'), 'x');
    assert.deepEqual(a.positionals, ['wp']);
  });

  it('rejects undeclared short flags and a missing value; without aliases -x stays a positional', () => {
    assert.throws(() => parseArgs(['-q'], spec, aliases), /unknown flag -q/);
    assert.throws(() => parseArgs(['-n'], spec, aliases), /flag -n needs a value/);
    assert.deepEqual(parseArgs(['-q'], spec).positionals, ['-q']);
  });
});
