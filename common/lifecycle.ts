/** Process lifecycle helpers shared by every long-running program. */
import { errorMessage } from './errors.ts';
import type { Logger } from './log.ts';

/**
 * Calls `stop` once on the first SIGTERM or SIGINT, then exits: 0 when it resolves, 1 when it
 * fails (logged). Later signals while stopping are ignored.
 */
export function exitOnSignals(log: Logger, stop: (signal: NodeJS.Signals) => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    stop(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        log.error('stop failed', { error: errorMessage(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
