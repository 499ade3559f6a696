/**
 * How the lab starts this checkout's programs (its own components, the mesh's, the apps).
 *
 * From sources (the default) a program runs under the tsx loader. With `WAYMESH_COMPILED=1`,
 * or when the starting program itself runs from `dist/`, it runs the JavaScript that
 * `npm run build` wrote there, as a container image would: each process starts about a second
 * sooner and needs no loader thread. The switch is inherited: a supervisor started compiled starts
 * compiled kubelets, and those start compiled pods.
 */
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MeshError } from '../common/errors.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const RUNNING_COMPILED = basename(dirname(HERE)) === 'dist';

/** The repository root, whether this module runs from sources or from `dist/`. */
export const REPO_ROOT = RUNNING_COMPILED ? dirname(dirname(HERE)) : dirname(HERE);

/** True when programs are started from `dist/`. */
export function runsCompiled(env: NodeJS.ProcessEnv = process.env): boolean {
  return RUNNING_COMPILED || env['WAYMESH_COMPILED'] === '1';
}

/** The tsx loader, for programs started from sources. */
export const TSX_LOADER = import.meta.resolve('tsx');

/** Where `script` (relative to `root`) runs from: the source, or its compiled twin under `dist/`. */
export function programPath(root: string, script: string, compiled: boolean): string {
  return compiled ? join(root, 'dist', script.replace(/\.ts$/, '.js')) : join(root, script);
}

/** `node [--import tsx] FILE args…`: the loader only for a source file. */
export function nodeArgv(
  node: string,
  tsxLoader: string,
  file: string,
  compiled: boolean,
  args: readonly string[],
): string[] {
  return compiled ? [node, file, ...args] : [node, '--import', tsxLoader, file, ...args];
}

/**
 * The file that runs `script` (a path relative to the repository root, e.g. `lab/kubelet/main.ts`):
 * the source itself, or its compiled twin under `dist/`. Throws when the build is missing.
 */
export function programFile(script: string, compiled = runsCompiled()): string {
  const js = programPath(REPO_ROOT, script, compiled);
  if (compiled && !existsSync(js)) {
    throw new MeshError(
      'LAB_NOT_BUILT',
      `${js} is missing, and WAYMESH_COMPILED=1 runs programs from dist/`,
      {
        hint: 'run `npm run build` first, or unset WAYMESH_COMPILED to run from sources',
      },
    );
  }
  return js;
}

/** `node [--import tsx] FILE args…` for one of the checkout's programs. */
export function programArgv(script: string, args: readonly string[] = []): string[] {
  const compiled = runsCompiled();
  return nodeArgv(process.execPath, TSX_LOADER, programFile(script, compiled), compiled, args);
}
