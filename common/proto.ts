/** Locates the project's `.proto` files for @grpc/proto-loader. */
import { fileURLToPath } from 'node:url';

/** Absolute path of a file in `common/proto/`. */
export function protoPath(name: string): string {
  return fileURLToPath(new URL(`./proto/${name}`, import.meta.url));
}
