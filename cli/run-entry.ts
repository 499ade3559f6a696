/**
 * The lab's entry point for the single image `waymesh/waymesh`: the container's args
 * (`[component, ...flags]`) are this module's arguments, exactly as the real image's
 * ENTRYPOINT `node bin/waymesh.js run` receives them.
 */
import { errorMessage, isMeshError } from '../common/errors.ts';
import { runComponent } from './run.ts';

try {
  await runComponent(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`waymesh run: ${errorMessage(err)}\n`);
  process.exit(isMeshError(err, 'CLI_USAGE') ? 2 : 1);
}
