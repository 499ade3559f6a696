/**
 * The field manager a write is recorded for (kube-apiserver's rules): the request's
 * `fieldManager` parameter, else the User-Agent up to its first `/` (`kubectl/v1.31.0 (linux…)`
 * → `kubectl`). kubectl names its own (`kubectl-create`, `kubectl-edit`,
 * `kubectl-client-side-apply`, …).
 */
import { ApiError } from './types.ts';

const MAX_MANAGER_LENGTH = 128;

/**
 * The manager of a write: `fieldManager` when given (400 when longer than 128 bytes or holding
 * an unprintable character, as kube's ValidateFieldManager), else the User-Agent's prefix.
 */
export function managerOf(fieldManager: string | undefined, userAgent: string | undefined): string {
  if (fieldManager !== undefined && fieldManager !== '') {
    const problems: string[] = [];
    if (Buffer.byteLength(fieldManager) > MAX_MANAGER_LENGTH)
      problems.push(`fieldManager: Too long: may not be more than ${MAX_MANAGER_LENGTH} bytes`);
    // eslint-disable-next-line no-control-regex -- unprintable characters are what is refused
    const bad = /[\x00-\x1f\x7f-\x9f]/.exec(fieldManager);
    if (bad !== null)
      problems.push(
        `fieldManager: Invalid value: ${JSON.stringify(fieldManager)}: invalid character U+${(bad[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')} (at position ${bad.index})`,
      );
    if (problems.length > 0)
      throw new ApiError(400, 'BadRequest', `invalid field manager: ${problems.join(', ')}`);
    return fieldManager;
  }
  const prefix = (userAgent ?? '').split('/')[0] ?? '';
  return prefix.length > MAX_MANAGER_LENGTH ? prefix.slice(0, MAX_MANAGER_LENGTH) : prefix;
}
