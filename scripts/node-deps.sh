#!/usr/bin/env bash
# Installs npm dependencies (and so builds the native addon through the project's own
# `install` script) when node_modules is missing or older than package-lock.json.
# Set WAYMESH_FORCE_NPM_CI=1 to always run `npm ci` (CI does).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${WAYMESH_FORCE_NPM_CI:-0}" = 1 ] || [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
# npm ci ran our install script, but a stale tree (sources changed since) is rebuilt here.
node scripts/build-native.mjs
