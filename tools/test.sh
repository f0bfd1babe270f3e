#!/usr/bin/env bash
# Installs what fxserve needs and runs every check; this is what CI runs
# (.ci/run). Stages, in order (README.md, "Testing", has their times):
#
#   release  Release build with warnings as errors and poisoned HLS default
#            values (FXSERVE_HLS_POISON_INIT: a kernel that reads a value it
#            never set fails here as it would on a card); every test.
#   fuzz     The model file parsers (safetensors + config.json, TF.js graph
#            models) and the image decoder under libFuzzer + ASan, 20 s
#            each.
#   asan     ASan + UBSan build (-O1); every test except the ones labelled
#            release_only (long C-simulation sweeps and accuracy runs that
#            the release stage covers and that take minutes under ASan).
#
#   tools/test.sh                 # every stage
#   tools/test.sh release asan    # only these stages, in this order
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="$(nproc)"

all_stages=(release fuzz asan)
stages=("$@")
if [[ ${#stages[@]} -eq 0 ]]; then stages=("${all_stages[@]}"); fi
for stage in "${stages[@]}"; do
  if [[ ! " ${all_stages[*]} " =~ " ${stage} " ]]; then
    echo "usage: $0 [${all_stages[*]}]... (unknown stage '$stage')" >&2
    exit 2
  fi
done

# Step timings, printed at the end (also when a step fails).
step_names=()
step_seconds=()
step_start=0
begin_step() {
  echo "test: $1"
  step_names+=("$1")
  step_start=$SECONDS
}
end_step() { step_seconds+=($((SECONDS - step_start))); }
print_times() {
  local status=$?
  echo "test: step times ($(uname -m), $(nproc) cores, $(isa_name)):"
  local i
  for i in "${!step_names[@]}"; do
    local took="${step_seconds[$i]:-$((SECONDS - step_start))}"
    local note=""
    [[ -z "${step_seconds[$i]:-}" ]] && note="  <- failed or stopped"
    printf 'test:   %4d s  %s%s\n' "$took" "${step_names[$i]}" "$note"
  done
  printf 'test:   %4d s  in all\n' "$SECONDS"
  exit "$status"
}
isa_name() {
  if grep -q avx512_vnni /proc/cpuinfo; then
    echo "AVX-512 VNNI"
  elif grep -q avx2 /proc/cpuinfo; then
    echo "AVX2"
  else
    echo "no AVX2"
  fi
}
trap print_times EXIT

begin_step "install dependencies (tools/install-deps.sh)"
bash tools/install-deps.sh
end_step

release_stage() {
  begin_step "release: build, -Werror, poisoned HLS defaults (build/ci)"
  cmake -S . -B build/ci -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DFXSERVE_WERROR=ON -DFXSERVE_HLS_POISON_INIT=ON
  cmake --build build/ci -j"$jobs"
  end_step
  begin_step "release: every test (ctest build/ci)"
  ctest --test-dir build/ci --output-on-failure -j"$jobs"
  end_step
}

fuzz_stage() {
  begin_step "fuzz: build the parser fuzzer, clang + ASan (build/fuzz)"
  CXX=clang++ cmake -S . -B build/fuzz -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFXSERVE_FUZZ=ON -DFXSERVE_SANITIZE=ON \
    -DFXSERVE_BUILD_TESTS=OFF -DFXSERVE_BUILD_BENCH=OFF \
    > build-fuzz-configure.log 2>&1 ||
    { cat build-fuzz-configure.log; exit 1; }
  rm -f build-fuzz-configure.log
  cmake --build build/fuzz -j"$jobs" \
    --target safetensors_fuzzer tfjs_fuzzer image_fuzzer make_fuzz_seeds
  end_step
  begin_step "fuzz: the model file and image parsers, 20 s each"
  local corpora=(build/fuzz/corpus build/fuzz/corpus-tfjs build/fuzz/corpus-image)
  rm -rf "${corpora[@]}" && mkdir -p "${corpora[@]}"
  build/fuzz/tests/fuzz/make_fuzz_seeds "${corpora[@]}"
  for fuzzer in safetensors:corpus tfjs:corpus-tfjs image:corpus-image; do
    echo "test: ${fuzzer%%:*}_fuzzer"
    build/fuzz/tests/fuzz/${fuzzer%%:*}_fuzzer -max_total_time=20 -seed=1 \
      -print_final_stats=1 "build/fuzz/${fuzzer#*:}" 2>&1 | tail -n 15
  done
  end_step
}

asan_stage() {
  # -O1: ASan's recommended level, several times faster than -O0 with the
  # same reports; Debug keeps assertions on. -g1: line tables only, enough
  # for file:line in every report, and a quarter less compile time than -g
  # (half the object size) on the template-heavy kernel TUs.
  begin_step "asan: ASan + UBSan build, -O1 (build/asan)"
  cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" -DFXSERVE_WERROR=ON \
    -DFXSERVE_SANITIZE=ON -DFXSERVE_BUILD_BENCH=OFF
  cmake --build build/asan -j"$jobs"
  end_step
  begin_step "asan: every test but release_only (ctest build/asan)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    LSAN_OPTIONS="suppressions=$PWD/tools/lsan-suppressions.txt:print_suppressions=0" \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build/asan --output-on-failure -j"$jobs" -LE release_only
  end_step
}

for stage in "${stages[@]}"; do
  "${stage}_stage"
done
echo "test: all passed"
