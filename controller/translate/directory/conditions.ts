/** Small builders for the Gateway API conditions the directory reports. */
import type { Condition } from '../../../common/ir/index.ts';

/** A condition with status True. */
export function isTrue(type: string, reason: string, message: string, observedGeneration: number): Condition {
  return { type, status: 'True', reason, message, observedGeneration };
}

/** A condition with status False. */
export function isFalse(
  type: string,
  reason: string,
  message: string,
  observedGeneration: number,
): Condition {
  return { type, status: 'False', reason, message, observedGeneration };
}
