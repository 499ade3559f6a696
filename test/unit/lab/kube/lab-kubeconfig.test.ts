// The lab's light kubeconfig reader: what the supervisor writes reads back into a server, CA and
// bearer token; anything else is refused with KUBECONFIG_INVALID.
import assert from 'node:assert/strict';
import type { RequestOptions } from 'node:https';
import { describe, it } from 'mocha';
import { parseLabKubeconfig } from '../../../../lab/kube/lab-kubeconfig.ts';
import { kubeconfigYaml } from '../../../../lab/supervisor/pki.ts';

const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

function invalid(err: unknown): boolean {
  return (err as { code?: string }).code === 'KUBECONFIG_INVALID';
}

describe('lab/kube/lab-kubeconfig', () => {
  it('reads what the supervisor writes: server, CA and bearer token', async () => {
    const creds = parseLabKubeconfig(kubeconfigYaml('t1', 'https://127.0.0.1:40123', CA, 's3cret'), 'kc');
    assert.deepEqual(creds.getCurrentCluster(), { server: 'https://127.0.0.1:40123' });
    const opts: RequestOptions = { headers: { accept: 'application/json' } };
    await creds.applyToHTTPSOptions(opts);
    assert.equal(opts.ca, CA);
    assert.deepEqual(opts.headers, { accept: 'application/json', authorization: 'Bearer s3cret' });
  });

  it('follows current-context among several', () => {
    const text = [
      'current-context: b',
      'contexts:',
      '- {name: a, context: {cluster: ca, user: ua}}',
      '- {name: b, context: {cluster: cb, user: ub}}',
      'clusters:',
      '- {name: ca, cluster: {server: "https://a", certificate-authority-data: QQ==}}',
      '- {name: cb, cluster: {server: "https://b", certificate-authority-data: Qg==}}',
      'users:',
      '- {name: ua, user: {token: ta}}',
      '- {name: ub, user: {token: tb}}',
    ].join('\n');
    assert.deepEqual(parseLabKubeconfig(text, 'kc').getCurrentCluster(), { server: 'https://b' });
  });

  it('refuses a kubeconfig without a token (client certificates are not read here)', () => {
    const text = kubeconfigYaml('t1', 'https://127.0.0.1:1', CA, 'x').replace(
      /token: x/,
      'client-certificate-data: QQ==',
    );
    assert.throws(
      () => parseLabKubeconfig(text, '/tmp/kc'),
      (err: Error) => {
        return invalid(err) && err.message.startsWith('/tmp/kc: ') && /token/.test(err.message);
      },
    );
  });

  it('refuses a dangling current-context and text that is not YAML', () => {
    assert.throws(() => parseLabKubeconfig('current-context: nope\n', 'kc'), invalid);
    assert.throws(
      () => parseLabKubeconfig('a: [unclosed', 'kc'),
      (err: Error) => {
        return invalid(err) && /not YAML/.test(err.message);
      },
    );
  });
});
