/** The capture executor's commands and error mapping, with an in-memory Exec that records calls. */
import assert from 'node:assert/strict';
import { MeshError } from '../../../common/errors.ts';
import type { Exec, ExecOptions, ExecResult } from '../../../node-agent/capture/exec.ts';
import { IptablesExecutor } from '../../../node-agent/capture/iptables.ts';
import { buildCaptureRules } from '../../../node-agent/capture/rules.ts';

interface Call {
  readonly file: string;
  readonly args: readonly string[];
  readonly options: ExecOptions;
}

/** Answers `iptables-save` with `saved[tool]` and records every call; `answer` overrides. */
class FakeExec implements Exec {
  readonly calls: Call[] = [];
  saved: Record<string, string> = {};
  answer: ((call: Call) => ExecResult | Error | undefined) | undefined;

  run(file: string, args: readonly string[], options: ExecOptions): Promise<ExecResult> {
    const call = { file, args, options };
    this.calls.push(call);
    const special = this.answer?.(call);
    if (special instanceof Error) return Promise.reject(special);
    if (special !== undefined) return Promise.resolve(special);
    const tool = args[1] ?? '';
    const stdout = tool.endsWith('-save') ? (this.saved[tool] ?? '*nat\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n') : '';
    return Promise.resolve({ exitCode: 0, stdout, stderr: '', timedOut: false });
  }

  commands(): string[] {
    return this.calls.map((c) => [c.file, ...c.args].join(' '));
  }
}

const TARGET = { pod: 'shop/cart', nsPath: '/var/run/netns/wml-x-p1234abcd' };
const RULES = buildCaptureRules({ podIps: ['10.244.1.5'] });
const DUAL = buildCaptureRules({ podIps: ['10.244.1.5', 'fd00::5'] });

function fail(stderr: string, extra: Partial<ExecResult> = {}): ExecResult {
  return { exitCode: 1, stdout: '', stderr, timedOut: false, ...extra };
}

describe('node-agent/capture IptablesExecutor', () => {
  it('apply reads the nat table and restores atomically inside the namespace via nsenter', async () => {
    const exec = new FakeExec();
    await new IptablesExecutor({ exec, timeoutMs: 1234 }).apply(TARGET, RULES);
    assert.deepEqual(exec.commands(), [
      'nsenter --net=/var/run/netns/wml-x-p1234abcd iptables-save -t nat',
      'nsenter --net=/var/run/netns/wml-x-p1234abcd iptables-restore --noflush --wait',
      'nsenter --net=/var/run/netns/wml-x-p1234abcd ip6tables-save -t nat',
    ]);
    const restore = exec.calls[1];
    assert.match(restore?.options.input ?? '', /^-A OUTPUT -p tcp -j WAYMESH_OUTPUT$/m);
    assert.ok(exec.calls.every((c) => c.options.timeoutMs === 1234));
  });

  it('apply of a dual-stack pod restores both families; an IPv4-only re-apply clears stale IPv6 rules', async () => {
    const exec = new FakeExec();
    await new IptablesExecutor({ exec }).apply(TARGET, DUAL);
    assert.ok(exec.commands().some((c) => c.endsWith('ip6tables-restore --noflush --wait')));
    const again = new FakeExec();
    again.saved['ip6tables-save'] = DUAL.ipv6 ?? '';
    await new IptablesExecutor({ exec: again }).apply(TARGET, RULES);
    const v6 = again.calls.find((c) => c.args[1] === 'ip6tables-restore');
    assert.match(v6?.options.input ?? '', /^-X WAYMESH_OUTPUT$/m);
  });

  it('remove reports absent, removed, and gone for a deleted namespace', async () => {
    const exec = new FakeExec();
    const ex = new IptablesExecutor({ exec });
    assert.equal(await ex.remove(TARGET), 'absent');
    exec.saved['iptables-save'] = RULES.ipv4;
    assert.equal(await ex.remove(TARGET), 'removed');
    exec.answer = () => fail(`nsenter: cannot open ${TARGET.nsPath}: No such file or directory`);
    assert.equal(await ex.remove(TARGET), 'gone');
    exec.answer = () => fail("nsenter: reassociate to namespace 'ns/net' failed: Invalid argument");
    assert.equal(await ex.remove(TARGET), 'gone');
  });

  it('inspect compares each family with the wanted rules', async () => {
    const exec = new FakeExec();
    const ex = new IptablesExecutor({ exec });
    assert.deepEqual(await ex.inspect(TARGET, RULES), {
      ipv4: 'absent',
      ipv6: 'absent',
      present: false,
      current: false,
    });
    exec.saved['iptables-save'] = RULES.ipv4;
    assert.deepEqual(await ex.inspect(TARGET, RULES), {
      ipv4: 'current',
      ipv6: 'absent',
      present: true,
      current: true,
    });
    assert.equal((await ex.inspect(TARGET, DUAL)).current, false);
  });

  const errors: [string, (c: Call) => ExecResult | Error | undefined, string, RegExp][] = [
    [
      'a failed restore',
      (c) => (c.args[1] === 'iptables-restore' ? fail('iptables-restore: line 7 failed') : undefined),
      'CAPTURE_IPTABLES_FAILED',
      /shop\/cart.*line 7 failed/,
    ],
    [
      'a timeout',
      () => fail('', { exitCode: null, timedOut: true }),
      'CAPTURE_IPTABLES_TIMEOUT',
      /shop\/cart/,
    ],
    [
      'nsenter missing',
      () => Object.assign(new Error('spawn nsenter ENOENT'), { code: 'ENOENT' }),
      'CAPTURE_COMMAND_FAILED',
      /ENOENT/,
    ],
    [
      'a namespace gone during apply',
      () => fail('nsenter: cannot open /x: No such file or directory'),
      'CAPTURE_NETNS_GONE',
      /gone/,
    ],
  ];
  for (const [what, answer, code, message] of errors) {
    it(`apply turns ${what} into ${code}`, async () => {
      const exec = new FakeExec();
      exec.answer = answer;
      await assert.rejects(new IptablesExecutor({ exec }).apply(TARGET, RULES), (err: unknown) => {
        assert.ok(err instanceof MeshError);
        assert.equal(err.code, code);
        assert.match(err.message, message);
        assert.notEqual(err.hint, '');
        return true;
      });
    });
  }
});
