/**
 * Entry point of the sample client: `npx tsx apps/client/main.ts http://127.0.0.1:8080/ --count 3`.
 * Prints one JSON line per request on stdout. Exit 0 when every request got a response (any
 * status), 1 when any failed in transport, 2 for bad arguments.
 */
import { errorMessage, isMeshError } from '../../common/errors.ts';
import { parseClientArgs } from './args.ts';
import { isFailure, runClient } from './index.ts';

async function main(): Promise<number> {
  let failed = false;
  for await (const result of runClient(parseClientArgs(process.argv.slice(2)))) {
    if (isFailure(result)) failed = true;
    process.stdout.write(JSON.stringify(result) + '\n');
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => process.stdout.write('', () => process.exit(code)),
  (err: unknown) => {
    const usage = isMeshError(err, 'CLIENT_BAD_ARGS');
    // A usage error prints its one-line reason; the usage text itself is in the hint.
    process.stderr.write(`client: ${usage ? err.message : errorMessage(err)}\n`);
    process.exit(usage ? 2 : 1);
  },
);
