#!/usr/bin/env bash
# Installs HAProxy (Debian's package) unless it is already on the PATH: the test of several replicas behind a
# load balancer (test/integration/deploy/) runs it. Runs before `npm test`, like ensure-python-packages.sh.
set -euo pipefail
if command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "the replicas test needs HAProxy 2.0 or later (gRPC over HTTP/2) on the PATH; install it first" >&2
  exit 1
fi
SUDO=()
if [ "$(id -u)" -ne 0 ]; then SUDO=(sudo); fi
"${SUDO[@]}" apt-get update
"${SUDO[@]}" apt-get install -y haproxy
