/**
 * `waymesh run <component> [flags…]`: the single image's entry point (Dockerfile ENTRYPOINT
 * `node bin/waymesh.js run`). The component's own `main.ts` runs in this process with its flags:
 * `process.argv` becomes `[node, <main.ts>, ...flags]` and the module is imported, so each
 * component parses its flags and starts itself exactly as when it is run directly.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MeshError } from '../common/errors.ts';
import type { Command } from './main.ts';

/** The components one image runs, and each one's entry module relative to the repository root. */
export const COMPONENTS: Readonly<Record<string, string>> = {
  controller: 'controller/main.ts',
  'node-agent': 'node-agent/main.ts',
  waypoint: 'waypoint/main.ts',
};

const USAGE = `Usage: waymesh run <${Object.keys(COMPONENTS).join('|')}> [flags…]
  Runs one waymesh component in this process with its own flags (the container image's
  entry point). Every flag after the component name is the component's, e.g.
  waymesh run waypoint --controller waymesh-controller.waymesh-system.svc:15012`;

/** What {@link componentLaunch} resolved: the module to import and the argv it must see. */
export interface ComponentLaunch {
  readonly component: string;
  readonly mainPath: string;
  readonly argv: readonly string[];
}

/**
 * Maps `[component, ...flags]` to the module and process argv that run it (pure); an unknown or
 * missing component throws `CLI_USAGE` naming the known ones.
 */
export function componentLaunch(args: readonly string[], nodeBinary: string): ComponentLaunch {
  const [component, ...flags] = args;
  const known = Object.keys(COMPONENTS).join(', ');
  if (component === undefined || component === '')
    throw new MeshError('CLI_USAGE', `missing component to run (one of ${known})`);
  const rel = Object.hasOwn(COMPONENTS, component) ? COMPONENTS[component] : undefined;
  if (rel === undefined)
    throw new MeshError('CLI_USAGE', `unknown component ${JSON.stringify(component)} (one of ${known})`, {
      hint: 'the container args name the component first, e.g. args: [waypoint, --controller, ADDR]',
    });
  // Compiled (dist/, the image) this module is .js and so are the components; from sources, .ts.
  const file = import.meta.url.endsWith('.js') ? rel.replace(/\.ts$/, '.js') : rel;
  const mainPath = fileURLToPath(new URL(`../${file}`, import.meta.url));
  return { component, mainPath, argv: [nodeBinary, mainPath, ...flags] };
}

/**
 * Starts `[component, ...flags]` in this process. Resolves once the component's module has
 * loaded (its servers keep the process alive; its signal handlers end it).
 */
export async function runComponent(args: readonly string[]): Promise<void> {
  const launch = componentLaunch(args, process.argv[0] ?? process.execPath);
  process.argv = [...launch.argv];
  await import(pathToFileURL(launch.mainPath).href);
}

/** The `run` verb. */
export const runCommand: Command = {
  name: 'run',
  usage: USAGE,
  async run(argv) {
    // `--help` anywhere belongs to main's handling; every other flag is the component's.
    await runComponent(argv);
    return 0;
  },
};
