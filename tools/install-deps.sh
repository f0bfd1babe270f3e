#!/usr/bin/env bash
# Installs every system package fxserve needs to build, run and test.
# Idempotent and non-interactive; safe to run again. Debian bookworm only.
set -euo pipefail

packages=(
  # Toolchain and build.
  build-essential cmake ninja-build pkg-config git ca-certificates
  # RPC and base libraries.
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev nlohmann-json3-dev
  # Compute libraries: oneDNN (CPU matmul) and XRT (FPGA host API, which
  # links libuuid).
  libdnnl-dev libxrt-dev uuid-dev
  # oneDNN's CMake package also looks for OpenCL.
  ocl-icd-opencl-dev opencl-c-headers
  # Tests and benchmarks. GMP is the independent wide-integer reference.
  libgtest-dev libgmock-dev googletest libbenchmark-dev libgmp-dev
)

if [[ "$(id -u)" -eq 0 ]]; then
  sudo_cmd=()
elif command -v sudo >/dev/null 2>&1; then
  sudo_cmd=(sudo)
else
  echo "install-deps: run as root or install sudo (needs apt-get)." >&2
  exit 1
fi

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages already installed."
  exit 0
fi

echo "install-deps: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
log="$(mktemp /tmp/fxserve-install-deps.XXXXXX.log)"
if ! { "${sudo_cmd[@]}" apt-get update -qq &&
       "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
         "${missing[@]}"; } > "$log" 2>&1; then
  cat "$log" >&2
  echo "install-deps: apt-get failed (log above, also in $log)." >&2
  exit 1
fi
rm -f "$log"
echo "install-deps: done."
