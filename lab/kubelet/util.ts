/** Small helpers of the kubelet. */
import { isApiStatus } from '../kube/rest.ts';

export { corePath } from '../kube/objects.ts';

/** True for "the pod is already gone" answers (404, or a 409 uid precondition mismatch). */
export function isApiStatusFree(err: unknown): boolean {
  return isApiStatus(err, 404, 409);
}
