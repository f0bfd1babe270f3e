#!/usr/bin/env bash
# Installs what fxserve needs, builds it (Release) and runs fxtool.
#   tools/run.sh              # version, then text from the shipped tiny model
#   tools/run.sh generate "Once upon a time"   # any fxtool arguments
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

fxtool=build/release/tools/fxtool/fxtool
if [[ $# -gt 0 ]]; then exec "$fxtool" "$@"; fi
"$fxtool" version
echo "run: the shipped tiny GPT-2 (models/tiny-gpt2), float reference, seed 1:"
exec "$fxtool" generate --max-tokens 48 --seed 1 "A man walks into a bar"
