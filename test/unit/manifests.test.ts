import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';

import { renderInstallYaml } from '../../scripts/build-manifests.ts';

const DIR = join(import.meta.dirname, '..', '..', 'manifests');

describe('manifests', () => {
  it('install.yaml is what `npm run manifests` generates from kustomization.yaml', () => {
    assert.equal(readFileSync(join(DIR, 'install.yaml'), 'utf8'), renderInstallYaml());
  });

  it('kustomization.yaml lists every base file and CRD', () => {
    const k = yaml.load(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
    const files = ['base', 'crds'].flatMap((d) => readdirSync(join(DIR, d)).map((f) => `${d}/${f}`));
    assert.deepEqual([...k.resources].sort(), files.sort());
  });

  it('every object in install.yaml is labelled part-of waymesh (so uninstall can find it)', () => {
    const docs = yaml.loadAll(readFileSync(join(DIR, 'install.yaml'), 'utf8')) as {
      kind: string;
      metadata: { name: string; labels?: Record<string, string> };
    }[];
    assert.ok(docs.length >= 14);
    for (const d of docs)
      assert.equal(
        d.metadata.labels?.['app.kubernetes.io/part-of'],
        'waymesh',
        `${d.kind}/${d.metadata.name}`,
      );
  });
});
