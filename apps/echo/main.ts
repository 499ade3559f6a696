/**
 * Entry point of the echo workload: `npx tsx apps/echo/main.ts --http-port 8080`.
 * Exits 2 on bad flags, 1 when a listener cannot start; SIGTERM and SIGINT drain, then exit 0.
 */
import { errorMessage, isMeshError } from '../../common/errors.ts';
import { createLogger } from '../../common/log.ts';
import { parseEchoArgs } from './args.ts';
import { startEcho } from './index.ts';

const DRAIN_DEADLINE_MS = 10_000;

async function main(): Promise<void> {
  let options;
  try {
    options = parseEchoArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`echo: ${isMeshError(err) ? err.message : errorMessage(err)}\n`);
    process.exit(2);
  }
  const logger = createLogger();
  const echo = await startEcho({ ...options, logger });
  const drain = (signal: string): void => {
    logger.info('draining', { component: 'echo', signal });
    void echo.stop({ deadlineMs: DRAIN_DEADLINE_MS }).then(() => process.exit(0));
  };
  process.once('SIGTERM', drain);
  process.once('SIGINT', drain);
}

main().catch((err: unknown) => {
  process.stderr.write(`echo: ${errorMessage(err)}\n`);
  process.exit(1);
});
