import assert from 'node:assert/strict';

import { desiredXMeshStatus, SUPPORTED_MESH_FEATURES } from '../../../controller/mesh/xmesh.ts';

describe('controller/mesh desiredXMeshStatus', () => {
  const now = new Date('2026-01-02T03:04:05.678Z');

  it('accepts a mesh without parameters and lists the sorted supported features', () => {
    const s = desiredXMeshStatus({ metadata: { generation: 3 }, spec: {} }, 'c-0', now);
    assert.deepEqual(
      s.conditions.map((c) => [c.type, c.status, c.reason, c.observedGeneration, c.lastTransitionTime]),
      [
        ['Accepted', 'True', 'Accepted', 3, '2026-01-02T03:04:05Z'],
        ['Programmed', 'True', 'Programmed', 3, '2026-01-02T03:04:05Z'],
      ],
    );
    assert.deepEqual(
      s.supportedFeatures.map((f) => f.name),
      [...SUPPORTED_MESH_FEATURES].sort(),
    );
  });

  it('refuses a parametersRef with InvalidParameters and claims no features', () => {
    const s = desiredXMeshStatus(
      { spec: { parametersRef: { group: '', kind: 'ConfigMap', name: 'x' } } },
      'c-0',
      now,
    );
    assert.deepEqual(
      s.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`),
      ['Accepted=False/InvalidParameters', 'Programmed=False/Invalid'],
    );
    assert.match(s.conditions[0]?.message ?? '', /parametersRef/);
    assert.deepEqual(s.supportedFeatures, []);
  });

  it('keeps lastTransitionTime of a condition whose status did not change', () => {
    const old = '2025-05-05T05:05:05Z';
    const s = desiredXMeshStatus(
      {
        spec: {},
        status: {
          conditions: [
            { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'x', lastTransitionTime: old },
            {
              type: 'Programmed',
              status: 'Unknown',
              reason: 'Pending',
              message: 'x',
              lastTransitionTime: old,
            },
          ],
        },
      },
      'c-0',
      now,
    );
    assert.equal(s.conditions[0]?.lastTransitionTime, old);
    assert.equal(s.conditions[1]?.lastTransitionTime, '2026-01-02T03:04:05Z');
  });
});
