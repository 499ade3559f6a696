#!/usr/bin/env bash
# `npm run demo`: installs what the demo needs, then runs it. Needs root (network namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
bash scripts/node-deps.sh
exec node --import tsx scripts/demo.ts
