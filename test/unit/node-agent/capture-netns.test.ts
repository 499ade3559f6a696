/** Finding a pod's network namespace: the lab annotation, then /proc cgroups (in-memory fs). */
import assert from 'node:assert/strict';
import { isMeshError } from '../../../common/errors.ts';
import { LAB_NETNS_ANNOTATION, findPodNetns, type NetnsFs } from '../../../node-agent/capture/netns.ts';

const UID = '1f2e3d4c-aaaa-bbbb-cccc-0123456789ab';

/** A fake /proc: pid → cgroup text and netns link; `self` is the agent (host namespace). */
function fakeFs(procs: Record<number, { cgroup: string; net: string }>, files: string[] = []): NetnsFs {
  const links: Record<string, string> = { '/proc/self/ns/net': 'net:[1]' };
  const cgroups: Record<string, string> = {};
  for (const [pid, p] of Object.entries(procs)) {
    links[`/proc/${pid}/ns/net`] = p.net;
    cgroups[`/proc/${pid}/cgroup`] = p.cgroup;
  }
  return {
    exists: (path) => Promise.resolve(files.includes(path)),
    readdir: () => Promise.resolve(['self', 'sys', ...Object.keys(procs)]),
    readFile: (path) => {
      const text = cgroups[path];
      return text === undefined ? Promise.reject(new Error(`ENOENT ${path}`)) : Promise.resolve(text);
    },
    readlink: (path) => Promise.resolve(links[path] ?? ''),
  };
}

const pod = (annotations?: Record<string, string>) => ({
  uid: UID,
  namespace: 'shop',
  name: 'cart',
  annotations,
});

describe('node-agent/capture findPodNetns', () => {
  it('uses the lab annotation when the path exists', async () => {
    const path = '/var/run/netns/wml-a-p1f2e3d4c';
    const fs = fakeFs({}, [path]);
    assert.equal(await findPodNetns(pod({ [LAB_NETNS_ANNOTATION]: path }), { fs }), path);
  });

  const layouts: [string, string][] = [
    [
      'cgroup v2, systemd driver',
      `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID.replaceAll('-', '_')}.slice/cri-containerd-abc.scope\n`,
    ],
    ['cgroup v2, cgroupfs driver', `0::/kubepods/besteffort/pod${UID}/0123abcd\n`],
    ['cgroup v1, several hierarchies', `12:pids:/kubepods/pod${UID}/ff\n11:memory:/kubepods/pod${UID}/ff\n`],
    [
      'cgroup v1, systemd driver, guaranteed QoS',
      `1:name=systemd:/kubepods.slice/kubepods-pod${UID.replaceAll('-', '_')}.slice/x\n`,
    ],
  ];
  for (const [what, cgroup] of layouts) {
    it(`finds the pod's process under /proc (${what})`, async () => {
      const fs = fakeFs({
        7: { cgroup: '0::/system.slice/sshd.service\n', net: 'net:[1]' },
        42: { cgroup, net: 'net:[99]' },
      });
      assert.equal(await findPodNetns(pod(), { fs }), '/proc/42/ns/net');
    });
  }

  it('falls back to /proc when the annotated path is gone', async () => {
    const fs = fakeFs({ 5: { cgroup: `0::/kubepods/pod${UID}/c\n`, net: 'net:[9]' } });
    assert.equal(
      await findPodNetns(pod({ [LAB_NETNS_ANNOTATION]: '/var/run/netns/gone' }), { fs }),
      '/proc/5/ns/net',
    );
  });

  it('does not match a uid that only starts with the pod uid', async () => {
    const fs = fakeFs({ 5: { cgroup: `0::/kubepods/pod${UID}ff/c\n`, net: 'net:[9]' } });
    await assert.rejects(findPodNetns(pod(), { fs }), (err: unknown) => isMeshError(err, 'NETNS_NOT_FOUND'));
  });

  it('NETNS_NOT_FOUND names the pod and gives a hint', async () => {
    await assert.rejects(findPodNetns(pod(), { fs: fakeFs({}) }), (err: unknown) => {
      assert.ok(isMeshError(err, 'NETNS_NOT_FOUND'));
      assert.match(err.message, /shop\/cart/);
      assert.match(err.hint, /hostPID/);
      return true;
    });
  });

  it('refuses a pod sharing the agent namespace (hostNetwork)', async () => {
    const fs = fakeFs({ 5: { cgroup: `0::/kubepods/pod${UID}/c\n`, net: 'net:[1]' } });
    await assert.rejects(findPodNetns(pod(), { fs }), (err: unknown) => isMeshError(err, 'NETNS_IS_HOST'));
  });
});
