#!/usr/bin/env bash
# Differential check of fxserve's HLS type headers against AMD's.
#   tools/hls-vendor-diff.sh /path/to/vendor/include
# Compiles tests/hls_types/vendor_diff/diff_main.cc once with each header
# set, runs both (several hundred thousand operations, printed as raw bits)
# and diffs the outputs. Exit 0 means every printed bit agrees. Not part of
# CI: CI machines have no vendor headers. AMD's ap_int.h and ap_fixed.h are
# in Vitis HLS's include/ folder, or in the open-source
# HLS_arbitrary_Precision_Types repository's include/.
set -euo pipefail
if [[ $# -ne 1 || ! -f "$1/ap_fixed.h" ]]; then
  echo "usage: $0 VENDOR_INCLUDE_DIR   (the folder holding AMD's ap_fixed.h)" >&2
  exit 2
fi
vendor="$(cd "$1" && pwd)"
here="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
src="$here/tests/hls_types/vendor_diff/diff_main.cc"

echo "hls-vendor-diff: compiling against fxserve's headers and $vendor ..."
g++ -std=c++17 -O1 -w -I"$here/kernels/hls_types" "$src" -o "$work/ours" &
# NDEBUG: AMD's headers assert on a bit read past the MSB inside some
# conversions (targets with I > W) whose result does not depend on it.
g++ -std=c++17 -O1 -w -DNDEBUG -I"$vendor" "$src" -o "$work/vendor" &
wait %1 && wait %2

"$work/ours" > "$work/ours.txt"
"$work/vendor" > "$work/vendor.txt" 2> "$work/vendor.err"
lines="$(wc -l < "$work/ours.txt")"
if diff -q "$work/ours.txt" "$work/vendor.txt" > /dev/null; then
  echo "hls-vendor-diff: identical on all $lines lines."
  exit 0
fi
echo "hls-vendor-diff: MISMATCH. Differing lines per test group:"
diff "$work/ours.txt" "$work/vendor.txt" | grep '^<' | awk '{print $2}' \
  | sort | uniq -c
diff "$work/ours.txt" "$work/vendor.txt" | head -20
exit 1
