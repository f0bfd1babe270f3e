#!/usr/bin/env bash
# Checks fxserve's float detector against an independent ONNX Runtime run of
# the same CenterNet graph, on darknet's test photos:
#   1. tools/onnx/setup.sh (python3-onnx, onnxruntime-node, centernet.onnx);
#   2. fxtool detect --dump-tensors DIR: fxserve's input, keypoints and
#      detections of each photo;
#   3. run_ort.mjs on fxserve's own inputs (so both see the same pixels);
#   4. compare.py: detections above 0.3 matched both ways (same class,
#      IoU >= 0.95, |score diff| <= 0.02) and the keypoints' max |diff|.
# Exits non-zero on any failure.
#
#   tools/onnx/check-float.sh [DIR]     # DIR: default build/onnx-check
#
# FXTOOL names the fxtool binary (default build/ci/tools/fxtool/fxtool);
# ORT_THREADS ONNX Runtime's intra-op threads (default 2).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache_dir="${FXSERVE_CACHE_DIR:-$repo/.cache}"
fxtool="${FXTOOL:-$repo/build/ci/tools/fxtool/fxtool}"
dir="${1:-$repo/build/onnx-check}"
threads="${ORT_THREADS:-2}"

say() { echo "check-float: $*"; }
die() { echo "check-float: $*" >&2; exit 1; }

say "1/4 setup"
"$here/setup.sh"

say "2/4 fxserve (fxtool detect --dump-tensors $dir)"
[[ -x "$fxtool" ]] ||
  die "no fxtool at $fxtool: build it (cmake --build build/ci --target fxtool) or set FXTOOL"
shopt -s nullglob
photos=("$cache_dir"/darknet/*.jpg)
shopt -u nullglob
[[ ${#photos[@]} -gt 0 ]] ||
  die "no photos in $cache_dir/darknet (tools/install-deps.sh fetches them)"
# The detector's folder holds its labels (tools/install-deps.sh copies them).
if [[ ! -f "$cache_dir/centernet/coco.names" && -f "$cache_dir/darknet/coco.names" ]]; then
  say "copying coco.names beside the detector, as tools/install-deps.sh does"
  cp "$cache_dir/darknet/coco.names" "$cache_dir/centernet/coco.names"
fi
mkdir -p "$dir"
# No stale tensors from an earlier run.
rm -f "$dir"/*.f32
"$fxtool" detect --dump-tensors "$dir" "${photos[@]}"
shopt -s nullglob
inputs=("$dir"/*.input.f32)
shopt -u nullglob
[[ ${#inputs[@]} -eq ${#photos[@]} ]] ||
  die "fxtool wrote ${#inputs[@]} inputs for ${#photos[@]} photos in $dir"

say "3/4 ONNX Runtime (run_ort.mjs, $threads threads)"
node "$here/run_ort.mjs" --model "$cache_dir/onnxruntime/centernet.onnx" \
  --threads "$threads" "${inputs[@]}"

say "4/4 compare"
/usr/bin/python3 "$here/compare.py" "$dir"
