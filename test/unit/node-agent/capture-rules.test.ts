/**
 * The pure capture rule builder: every golden case under test/golden/capture (`<case>.in.yaml` →
 * `<case>.rules.yaml`, UPDATE_GOLDEN=1 rewrites), plus the properties goldens cannot show.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { isMeshError } from '../../../common/errors.ts';
import { canonicalIp, parseCidr } from '../../../node-agent/capture/addr.ts';
import { parseCaptureAnnotations } from '../../../node-agent/capture/annotations.ts';
import {
  AGENT_MARK,
  AGENT_MARK_MASK,
  DEFAULT_PROBE_SOURCE_IPS,
  buildCaptureRules,
} from '../../../node-agent/capture/rules.ts';
import { expectGolden, goldenCases } from '../../helpers/golden.ts';

const DIR = fileURLToPath(new URL('../../golden/capture', import.meta.url));

interface GoldenInput {
  podIps: string[];
  probeSourceIps?: string[];
  annotations?: Record<string, string>;
}

describe('node-agent/capture rules golden cases', () => {
  const cases = goldenCases(DIR);
  it('has the four documented cases', () => {
    assert.deepEqual(
      cases.map(([name]) => name),
      ['dual-stack', 'exclusions', 'plain-ipv4', 'probe-sources'],
    );
  });
  for (const [name, file] of cases) {
    it(name, () => {
      const input = yaml.load(readFileSync(file, 'utf8')) as GoldenInput;
      const rules = buildCaptureRules({
        podIps: input.podIps,
        probeSourceIps: input.probeSourceIps,
        ...parseCaptureAnnotations(input.annotations, `default/${name}`),
      });
      expectGolden(DIR, name, 'rules', rules);
    });
  }
});

describe('node-agent/capture buildCaptureRules', () => {
  it('leaves the ipv6 rule set out for an IPv4-only pod and adds it for a dual-stack one', () => {
    assert.equal(buildCaptureRules({ podIps: ['10.0.0.1'] }).ipv6, undefined);
    const dual = buildCaptureRules({ podIps: ['10.0.0.1', 'fd00::1'] });
    assert.match(dual.ipv6 ?? '', /-A WAYMESH_OUTPUT -d fd00::1\/128 -j RETURN/);
    assert.doesNotMatch(dual.ipv4, /fd00/);
  });

  it('sends only TCP into our chains (UDP, and so UDP DNS, is never touched)', () => {
    const { ipv4 } = buildCaptureRules({ podIps: ['10.0.0.1'] });
    const jumps = ipv4.split('\n').filter((l) => /^-A (OUTPUT|PREROUTING) /.test(l));
    assert.deepEqual(jumps, [
      '-A PREROUTING -p tcp -j WAYMESH_PREROUTING',
      '-A OUTPUT -p tcp -j WAYMESH_OUTPUT',
    ]);
  });

  it('exempts the agent mark with the exported mask', () => {
    const { ipv4 } = buildCaptureRules({ podIps: ['10.0.0.1'] });
    assert.ok(
      ipv4.includes(`--mark 0x${AGENT_MARK.toString(16)}/0x${AGENT_MARK_MASK.toString(16)} -j RETURN`),
    );
  });

  it('defaults the probe sources to the exported list, split by family', () => {
    const rules = buildCaptureRules({ podIps: ['10.0.0.1', 'fd00::1'] });
    const [v4, v6] = DEFAULT_PROBE_SOURCE_IPS;
    assert.ok(rules.ipv4.includes(`-A WAYMESH_PREROUTING -s ${v4}/32 -j RETURN`));
    assert.ok(rules.ipv6?.includes(`-A WAYMESH_PREROUTING -s ${v6}/128 -j RETURN`));
    assert.equal(
      buildCaptureRules({ podIps: ['10.0.0.1'], probeSourceIps: [] }).ipv4.includes(' -s '),
      false,
    );
  });

  it('is deterministic: port order and duplicates do not change the output', () => {
    const a = buildCaptureRules({ podIps: ['10.0.0.1'], excludeInboundPorts: [9, 3, 9] });
    const b = buildCaptureRules({ podIps: ['10.0.0.1'], excludeInboundPorts: [3, 9] });
    assert.equal(a.ipv4, b.ipv4);
  });

  const bad: [string, Parameters<typeof buildCaptureRules>[0], string][] = [
    ['no pod IP', { podIps: [] }, 'CAPTURE_NO_POD_IP'],
    ['a pod IP that is a name', { podIps: ['pod.local'] }, 'CAPTURE_BAD_ADDRESS'],
    ['a pod IP given as a CIDR', { podIps: ['10.0.0.0/8'] }, 'CAPTURE_BAD_ADDRESS'],
    ['port 0', { podIps: ['10.0.0.1'], excludeOutboundPorts: [0] }, 'CAPTURE_BAD_PORT'],
    ['port 70000', { podIps: ['10.0.0.1'], excludeInboundPorts: [70000] }, 'CAPTURE_BAD_PORT'],
    ['a bad CIDR', { podIps: ['10.0.0.1'], excludeOutboundCidrs: ['10.0.0.0/33'] }, 'CAPTURE_BAD_ADDRESS'],
    ['a bad probe source', { podIps: ['10.0.0.1'], probeSourceIps: ['node1'] }, 'CAPTURE_BAD_ADDRESS'],
  ];
  for (const [what, options, code] of bad) {
    it(`refuses ${what} with ${code}`, () => {
      assert.throws(
        () => buildCaptureRules(options),
        (err: unknown) => isMeshError(err, code),
      );
    });
  }
});

describe('node-agent/capture addresses', () => {
  const cidrs: [string, string][] = [
    ['10.1.2.3', '10.1.2.3/32'],
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['FD00:0:0:0:0:0:0:1', 'fd00::1/128'],
    ['fd00:1:0:0:1:0:0:0/128', 'fd00:1:0:0:1::/128'],
    ['fd00::1/64', 'fd00::/64'],
    ['::ffff:10.1.2.3', '::ffff:a01:203/128'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1/128'],
  ];
  for (const [input, want] of cidrs) {
    it(`writes ${input} as iptables-save does: ${want}`, () => assert.equal(parseCidr(input).text, want));
  }

  it('canonicalIp keeps the family and refuses CIDRs', () => {
    assert.deepEqual(canonicalIp('FD00::0001'), { family: 6, address: 'fd00::1' });
    assert.throws(
      () => canonicalIp('10.0.0.0/8'),
      (err: unknown) => isMeshError(err, 'CAPTURE_BAD_ADDRESS'),
    );
  });
});
