#!/usr/bin/env bash
# Installs what fxserve needs, builds it (Release) and runs fxtool.
#   tools/run.sh              # prints the version
#   tools/run.sh --help       # any fxtool arguments
# Later issues make the default start the server on the shipped models.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/install-deps.sh
echo "run: configuring and building (build/release)..."
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DFXSERVE_BUILD_TESTS=OFF -DFXSERVE_BUILD_BENCH=OFF > build-release.log 2>&1 \
  || { cat build-release.log; exit 1; }
cmake --build build/release --target fxtool -j"$(nproc)"
rm -f build-release.log

if [[ $# -eq 0 ]]; then set -- version; fi
exec build/release/tools/fxtool/fxtool "$@"
