/**
 * The forwarder process, run inside a lab namespace by the lab supervisor:
 * `node --import tsx lab/forward/main.ts --listen 10.100.0.1:6443 --to /path/api.sock`.
 * SIGTERM (or SIGINT) stops accepting and lets open connections finish for up to 10 s.
 */
import { parseArgs } from 'node:util';

import { errorMessage } from '../../common/errors.ts';
import { createLogger } from '../../common/log.ts';
import { exitOnSignals } from '../../common/lifecycle.ts';
import { parseListenAddress } from './address.ts';
import { startForwarder } from './forwarder.ts';

const STOP_DEADLINE_MS = 10_000;

async function main(): Promise<void> {
  const log = createLogger({ fields: { program: 'lab-forward' } });
  try {
    const { values } = parseArgs({
      options: { listen: { type: 'string' }, to: { type: 'string' } },
      strict: true,
    });
    if (values.listen === undefined || values.to === undefined) {
      throw new Error('usage: lab/forward/main.ts --listen HOST:PORT --to /path/to.sock');
    }
    const { host, port } = parseListenAddress(values.listen);
    const forwarder = await startForwarder({ host, port, socketPath: values.to, logger: log });
    exitOnSignals(log, () => forwarder.stop({ deadlineMs: STOP_DEADLINE_MS }));
  } catch (err) {
    log.error('cannot start the forwarder', { error: errorMessage(err) });
    process.exit(2);
  }
}

await main();
