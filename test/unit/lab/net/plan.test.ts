import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'mocha';
import { isMeshError } from '../../../../common/errors.ts';
import { NODE_DNS, renderHosts, renderResolvConf } from '../../../../lab/net/etc-files.ts';
import { NodeIpam } from '../../../../lab/net/ipam.ts';
import {
  coreNetns,
  nodeIndexOfPodIp,
  nodePlan,
  parseLabNetns,
  podHostVeth,
  podNetns,
  podTag,
  validateLabName,
} from '../../../../lab/net/plan.ts';

describe('lab/net/plan', () => {
  it('names namespaces and links from lab, node and pod uid', () => {
    assert.equal(coreNetns('dev'), 'wml-dev-core');
    assert.deepEqual(nodePlan('dev', 2), {
      index: 2,
      netns: 'wml-dev-node2',
      ip: '10.100.0.12',
      coreVeth: 'n2',
      podCidr: '10.244.2.0/24',
    });
    const uid = '1A2B3C4D-0000-4000-8000-000000000000';
    assert.equal(podTag(uid), '1a2b3c4d');
    assert.equal(podNetns('dev', uid), 'wml-dev-p1a2b3c4d');
    assert.equal(podHostVeth(uid), 'v1a2b3c4d');
    // Non-UUID uids are hashed, still 8 hex digits.
    assert.match(podTag('not-a-uuid'), /^[0-9a-f]{8}$/);
    assert.notEqual(podTag('a'), podTag('b'));
  });

  it('keeps every interface name within 15 characters', () => {
    assert.ok(podHostVeth('x').length <= 15);
    assert.ok(nodePlan('dev', 200).coreVeth.length <= 15);
  });

  const badNames = ['', 'A', '-a', 'a_b', 'abcdefghijklmnop', 'a.b'];
  for (const name of badNames) {
    it(`refuses lab name ${JSON.stringify(name)}`, () => {
      assert.throws(
        () => validateLabName(name),
        (err: unknown) => isMeshError(err, 'LAB_NAME_INVALID'),
      );
    });
  }

  it('refuses node indexes outside 1..200', () => {
    for (const i of [0, 201, 1.5]) {
      assert.throws(
        () => nodePlan('dev', i),
        (err: unknown) => isMeshError(err, 'LAB_NODE_INVALID'),
      );
    }
  });

  it('parses namespace names of exactly its own lab', () => {
    assert.deepEqual(parseLabNetns('a', 'wml-a-core'), { kind: 'core' });
    assert.deepEqual(parseLabNetns('a', 'wml-a-node3'), { kind: 'node', index: 3 });
    assert.deepEqual(parseLabNetns('a', 'wml-a-p0011aabb'), { kind: 'pod', tag: '0011aabb' });
    // Lab "a" must not claim the namespaces of lab "a-b" (or anything else).
    for (const foreign of [
      'wml-a-b-core',
      'wml-a-b-node1',
      'wml-a-b-p0011aabb',
      'wml-a-node0',
      'wml-ab-core',
      'x',
    ]) {
      assert.equal(parseLabNetns('a', foreign), undefined, foreign);
    }
  });

  it('maps pod addresses to their node', () => {
    assert.equal(nodeIndexOfPodIp('10.244.3.17'), 3);
    assert.equal(nodeIndexOfPodIp('10.244.0.5'), undefined);
    assert.equal(nodeIndexOfPodIp('10.100.0.11'), undefined);
  });
});

describe('lab/net/etc-files', () => {
  it('renders resolv.conf like the kubelet', () => {
    const text = renderResolvConf({
      nameservers: ['10.96.0.10'],
      searches: ['ns1.svc.cluster.local', 'svc.cluster.local', 'cluster.local'],
      options: ['ndots:5'],
    });
    assert.equal(
      text,
      'search ns1.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n',
    );
    assert.match(renderResolvConf(NODE_DNS), /^nameserver 10\.96\.0\.10$/m);
  });

  it('refuses values that would inject lines', () => {
    for (const dns of [
      { nameservers: ['10.96.0.10\nnameserver 8.8.8.8'], searches: [], options: [] },
      { nameservers: [], searches: [], options: [] },
      { nameservers: ['1.1.1.1'], searches: ['a b'], options: [] },
    ]) {
      assert.throws(
        () => renderResolvConf(dns),
        (err: unknown) => isMeshError(err, 'LAB_DNS_CONFIG_INVALID'),
      );
    }
  });

  it('renders the hosts file with the pod name', () => {
    const hosts = renderHosts('10.244.1.5', 'web-0');
    assert.match(hosts, /^127\.0\.0\.1\tlocalhost$/m);
    assert.match(hosts, /^10\.244\.1\.5\tweb-0$/m);
  });
});

describe('lab/net/ipam', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wm-ipam-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('allocates stably, persists, and survives a restart without handing out an address twice', () => {
    const file = join(dir, 'node1.json');
    const a = new NodeIpam(file, 1);
    const ipA = a.allocate('pod-a');
    const ipB = a.allocate('pod-b');
    assert.equal(ipA, '10.244.1.2');
    assert.equal(ipB, '10.244.1.3');
    assert.equal(a.allocate('pod-a'), ipA, 'same pod, same address');
    const restarted = new NodeIpam(file, 1);
    assert.equal(restarted.allocate('pod-a'), ipA);
    const ipC = restarted.allocate('pod-c');
    assert.ok(![ipA, ipB].includes(ipC), `${ipC} was handed out twice`);
    // A released address is not reused at once (host-local style walk).
    restarted.release('pod-a');
    assert.equal(restarted.allocate('pod-d'), '10.244.1.5');
    assert.equal(new NodeIpam(file, 1).allocations().has('pod-a'), false);
  });

  it('exhausts after 253 pods and refuses another node’s state', () => {
    const file = join(dir, 'node7.json');
    const ipam = new NodeIpam(file, 7);
    const seen = new Set<string>();
    for (let i = 0; i < 253; i++) seen.add(ipam.allocate(`p${i}`));
    assert.equal(seen.size, 253);
    assert.throws(
      () => ipam.allocate('one-more'),
      (err: unknown) => isMeshError(err, 'LAB_IPAM_EXHAUSTED'),
    );
    assert.throws(
      () => new NodeIpam(file, 8),
      (err: unknown) => isMeshError(err, 'LAB_IPAM_STATE_INVALID'),
    );
    writeFileSync(join(dir, 'bad.json'), '{');
    assert.throws(
      () => new NodeIpam(join(dir, 'bad.json'), 1),
      (err: unknown) => isMeshError(err, 'LAB_IPAM_STATE_INVALID'),
    );
    assert.ok(JSON.parse(readFileSync(file, 'utf8')));
  });
});
