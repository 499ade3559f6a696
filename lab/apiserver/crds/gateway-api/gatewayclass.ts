/** GatewayClass (gatewayclass_types.go): a class of Gateways handled by one controller. */
import type { JsonSchema } from '../../types.ts';
import {
  conditions,
  controllerName,
  group,
  kind,
  kindRoot,
  namespace,
  objectName,
  pendingConditions,
} from './common.ts';
import { obj, str } from './schema.ts';

/** `ParametersReference`: implementation-specific parameters of the class. */
function parametersReference(): JsonSchema {
  return obj({ group: group(), kind: kind(), name: objectName(), namespace: namespace() }, [
    'group',
    'kind',
    'name',
  ]);
}

/** The openAPIV3Schema of GatewayClass (identical in v1 and v1beta1). */
export function gatewayClassSchema(): JsonSchema {
  const pending = pendingConditions(['Accepted']);
  return kindRoot('GatewayClass describes a class of Gateways and the controller that implements it.', {
    spec: obj(
      {
        controllerName: controllerName(),
        description: str({ maxLength: 64 }),
        parametersRef: parametersReference(),
      },
      ['controllerName'],
    ),
    status: obj({ conditions: conditions({ maxItems: 8, default: pending }) }, [], {
      default: { conditions: pending },
    }),
    specRequired: true,
  });
}
