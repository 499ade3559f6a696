/** ReferenceGrant (referencegrant_types.go): trust for references from other namespaces. */
import type { JsonSchema } from '../../types.ts';
import { bounded, group, kind, kindRoot, namespace, objectName } from './common.ts';
import { obj } from './schema.ts';

/** The openAPIV3Schema of ReferenceGrant v1beta1 (no status). */
export function referenceGrantSchema(): JsonSchema {
  const from = obj({ group: group(), kind: kind(), namespace: namespace() }, ['group', 'kind', 'namespace']);
  const to = obj({ group: group(), kind: kind(), name: objectName() }, ['group', 'kind']);
  return kindRoot(
    'ReferenceGrant lets objects of the listed kinds in other namespaces reference objects in its namespace.',
    {
      spec: obj({ from: bounded(from, 16, 1), to: bounded(to, 16, 1) }, ['from', 'to']),
      specRequired: false,
    },
  );
}
