#!/usr/bin/env bash
# Installs what the Python client's tests need for /usr/bin/python3 (Debian's gRPC, protoc, NumPy and
# protobuf; pip and pytest, to install the package into a virtual environment and run its fixture), unless
# it is already there. Runs before `npm test`, so that the README's test command works on a new machine.
set -euo pipefail
PACKAGES=(python3-grpcio python3-grpc-tools python3-numpy python3-protobuf python3-pip python3-pytest)
if /usr/bin/python3 -c 'import grpc, grpc_tools.protoc, numpy, google.protobuf, pip, pytest' 2>/dev/null; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "the Python client's tests need ${PACKAGES[*]} (Debian packages) for /usr/bin/python3; install them first" >&2
  exit 1
fi
SUDO=()
if [ "$(id -u)" -ne 0 ]; then SUDO=(sudo); fi
"${SUDO[@]}" apt-get update
"${SUDO[@]}" apt-get install -y "${PACKAGES[@]}"
