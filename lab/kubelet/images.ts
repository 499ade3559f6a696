/**
 * The lab's image catalogue: the project's images map to its own programs (any tag or
 * registry prefix), a container whose `command[0]` is an absolute host path runs that program,
 * and anything else cannot be pulled — the pod stays Pending with `ErrImagePull`.
 */
import { existsSync } from 'node:fs';
import type { V1Container } from '@kubernetes/client-node';
import { nodeArgv, programPath } from '../programs.ts';

/** How to start one container, or why it cannot start. */
export type ImageResolution =
  | { ok: true; argv: string[] }
  | { ok: false; reason: 'ErrImagePull' | 'CreateContainerError'; message: string };

/** Entry points of the catalogue, relative to the repository root. */
const CATALOGUE: Readonly<Record<string, { main?: string; idleWithoutArgs?: boolean }>> = {
  'waymesh/echo': { main: 'apps/echo/main.ts' },
  'waymesh/client': { main: 'apps/client/main.ts', idleWithoutArgs: true },
  'waymesh/controller': { main: 'controller/main.ts' },
  'waymesh/node-agent': { main: 'node-agent/main.ts' },
  'waymesh/waypoint': { main: 'waypoint/main.ts' },
  // The lab's Jaeger stand-in (manifests/lab/addons.yaml): OTLP in, `waymesh lab traces` out.
  'waymesh/otlp-sink': { main: 'lab/otlp/main.ts' },
  // The single image (Dockerfile): args are `[component, ...flags]`, as for `waymesh run`.
  'waymesh/waymesh': { main: 'cli/run-entry.ts' },
};

/** Known image names, for messages and docs. */
export const CATALOGUE_IMAGES: readonly string[] = Object.keys(CATALOGUE);

/** `docker.io/waymesh/echo:1.2` → `waymesh/echo`. */
export function imageName(image: string): string {
  const noDigest = image.split('@')[0] ?? image;
  const lastSlash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  const noTag = colon > lastSlash ? noDigest.slice(0, colon) : noDigest;
  const parts = noTag.split('/');
  // Drop a registry host (it has a dot or a port, or is localhost), like the container runtime does.
  if (parts.length > 1 && /[.:]|^localhost$/.test(parts[0] ?? '')) parts.shift();
  return parts.join('/');
}

/** Where the catalogue's programs are and how to start them (lab/programs.ts). */
export interface ImageContext {
  readonly repoRoot: string;
  readonly nodeBinary: string;
  readonly tsxLoader: string;
  /** Run the compiled programs under `dist/` rather than the sources under tsx. */
  readonly compiled: boolean;
}

/** Resolves a container to the host argv that runs it. */
export function resolveContainer(c: V1Container, ctx: ImageContext): ImageResolution {
  const command = c.command ?? [];
  const args = c.args ?? [];
  const first = command[0];
  if (first !== undefined && first.startsWith('/')) {
    if (!existsSync(first)) {
      return {
        ok: false,
        reason: 'CreateContainerError',
        message: `command ${first} does not exist on this host`,
      };
    }
    return { ok: true, argv: [...command, ...args] };
  }
  const name = imageName(c.image ?? '');
  const entry = CATALOGUE[name];
  if (entry === undefined) {
    return {
      ok: false,
      reason: 'ErrImagePull',
      message: `image "${c.image ?? ''}" is not in the lab's catalogue (${CATALOGUE_IMAGES.join(', ')}); the lab cannot pull images — use one of these, or set command[0] to an absolute host path`,
    };
  }
  // A command with a relative program runs that program from the host PATH, as an image would.
  if (first !== undefined) return { ok: true, argv: [...command, ...args] };
  if (entry.idleWithoutArgs === true && args.length === 0)
    return { ok: true, argv: ['/bin/sleep', 'infinity'] };
  const program = entry.main ?? '';
  const main = programPath(ctx.repoRoot, program, ctx.compiled);
  if (!existsSync(main)) {
    return {
      ok: false,
      reason: 'CreateContainerError',
      message: ctx.compiled
        ? `image ${name} has no program in this checkout (${main} is missing: the lab runs dist/, run npm run build)`
        : `image ${name} has no program in this checkout (${program} is missing)`,
    };
  }
  return { ok: true, argv: nodeArgv(ctx.nodeBinary, ctx.tsxLoader, main, ctx.compiled, args) };
}
