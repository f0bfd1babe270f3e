#!/usr/bin/env bash
# Installs what fxserve needs, builds everything with warnings as errors and
# runs every test; then builds and runs the tests again under AddressSanitizer
# and UndefinedBehaviorSanitizer. This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="$(nproc)"

bash tools/install-deps.sh

echo "test: [1/3] Release build, -Werror (build/ci)"
cmake -S . -B build/ci -G Ninja -DCMAKE_BUILD_TYPE=Release -DFXSERVE_WERROR=ON
cmake --build build/ci -j"$jobs"
ctest --test-dir build/ci --output-on-failure -j"$jobs"

echo "test: [2/3] fuzzing the model file parsers for 60 s (build/fuzz)"
CXX=clang++ cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DFXSERVE_FUZZ=ON -DFXSERVE_SANITIZE=ON -DFXSERVE_BUILD_TESTS=OFF \
  -DFXSERVE_BUILD_BENCH=OFF > build-fuzz-configure.log 2>&1 \
  || { cat build-fuzz-configure.log; exit 1; }
rm -f build-fuzz-configure.log
cmake --build build/fuzz -j"$jobs" --target safetensors_fuzzer make_fuzz_seeds
rm -rf build/fuzz/corpus && mkdir -p build/fuzz/corpus
build/fuzz/tests/fuzz/make_fuzz_seeds build/fuzz/corpus
build/fuzz/tests/fuzz/safetensors_fuzzer -max_total_time=60 -seed=1 \
  -print_final_stats=1 build/fuzz/corpus 2>&1 | tail -n 15

echo "test: [3/3] ASan + UBSan build (build/asan)"
cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DFXSERVE_WERROR=ON \
  -DFXSERVE_SANITIZE=ON -DFXSERVE_BUILD_BENCH=OFF
cmake --build build/asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/asan --output-on-failure -j"$jobs"
