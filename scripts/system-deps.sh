#!/usr/bin/env bash
# Installs the Debian packages waymesh's tests and demo need, only when something is missing.
# Idempotent and quiet when everything is present. Needs root (the lab and the netns tests do too).
set -euo pipefail

need=()
command -v iptables >/dev/null 2>&1 || need+=(iptables)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v make >/dev/null 2>&1 || need+=(make)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v python3 >/dev/null 2>&1 || need+=(python3)
# Interop tests and benchmarks compare against the tools a user would otherwise pick.
command -v stunnel4 >/dev/null 2>&1 || need+=(stunnel4)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
command -v nghttp >/dev/null 2>&1 || need+=(nghttp2-client)
/usr/bin/python3 -c 'import h2' >/dev/null 2>&1 || need+=(python3-h2)

# kubectl drives the lab's tests; it is part of this machine image (no Debian repository here
# provides it), so a missing one is reported rather than installed.
command -v kubectl >/dev/null 2>&1 || echo "waymesh: kubectl is not installed; the lab's kubectl tests will fail" >&2

if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "waymesh: missing system packages: ${need[*]}; install them as root (apt-get install ${need[*]})" >&2
    exit 1
  fi
  echo "waymesh: installing system packages: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
