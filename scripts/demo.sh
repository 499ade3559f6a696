#!/usr/bin/env bash
# `npm run demo [-- --keep]`: installs what the demo needs, then runs it (scripts/demo.ts).
# Needs root (the lab's nodes and pods are network namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
bash scripts/node-deps.sh
exec node --import tsx scripts/demo.ts "$@"
