#!/usr/bin/env bash
# The test command of the README: installs what the tests need, then type-checks, lints and
# runs every test (unit, golden, integration in network namespaces). Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
bash scripts/node-deps.sh
npm run --silent typecheck
npm run --silent lint
# The labs of the end-to-end tests run the compiled programs (dist/), as the image does: each of
# their processes starts about a second sooner than under the tsx loader (lab/programs.ts).
npm run --silent build
WAYMESH_COMPILED=1 npm test
