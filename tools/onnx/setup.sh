#!/usr/bin/env bash
# Sets up the ONNX Runtime float check of the CenterNet detector:
#   - Debian's python3-onnx (and numpy) for the converter,
#   - onnxruntime-node (pinned; its CPU runtime for linux x64 and arm64 ships
#     inside the npm tarball, so nothing is downloaded from elsewhere) in
#     $FXSERVE_CACHE_DIR/onnxruntime (default .cache/onnxruntime),
#   - centernet.onnx there, converted from .cache/centernet/centernet.json.
# Idempotent: each step is skipped when its result is already in place
# (the model is converted again when the graph or the converter is newer).
#
#   tools/onnx/setup.sh
set -euo pipefail

ORT_VERSION=1.24.3
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache_dir="${FXSERVE_CACHE_DIR:-$repo/.cache}"
ort_dir="$cache_dir/onnxruntime"
graph="$cache_dir/centernet/centernet.json"
weights="$cache_dir/centernet/centernet.bin"
model="$ort_dir/centernet.onnx"
python=/usr/bin/python3

say() { echo "onnx-setup: $*"; }
die() { echo "onnx-setup: $*" >&2; exit 1; }

if [[ "$(id -u)" -eq 0 ]]; then
  sudo_cmd=()
elif command -v sudo > /dev/null 2>&1; then
  sudo_cmd=(sudo)
else
  sudo_cmd=()
fi

apt_install() {
  if ! "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq "$@" > /tmp/fxserve-onnx-apt.log 2>&1; then
    "${sudo_cmd[@]}" apt-get update -qq > /dev/null 2>&1 || true
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq "$@" > /tmp/fxserve-onnx-apt.log 2>&1 || {
        cat /tmp/fxserve-onnx-apt.log >&2
        die "apt-get could not install $*"
      }
  fi
}

# 1. The converter's Python packages (Debian's, for /usr/bin/python3).
if "$python" -c 'import onnx, numpy' > /dev/null 2>&1; then
  say "python3-onnx $("$python" -c 'import onnx; print(onnx.__version__)') already installed."
else
  say "installing python3-onnx and python3-numpy (apt)..."
  apt_install python3-onnx python3-numpy
  "$python" -c 'import onnx, numpy' || die "python3-onnx is installed but does not import"
fi

# 2. Node and onnxruntime-node.
if ! command -v node > /dev/null 2>&1 || ! command -v npm > /dev/null 2>&1; then
  say "installing nodejs and npm (apt)..."
  apt_install nodejs npm
fi
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) die "onnxruntime-node ships no binary for $(uname -m)" ;;
esac
pkg="$ort_dir/node_modules/onnxruntime-node"
binding="$pkg/bin/napi-v6/linux/$arch/onnxruntime_binding.node"
installed_version() {
  node -e 'try { console.log(require(process.argv[1]).version) } catch (e) {}' \
    "$pkg/package.json"
}
if [[ -f "$binding" && "$(installed_version)" == "$ORT_VERSION" ]]; then
  say "onnxruntime-node $ORT_VERSION already in $ort_dir."
else
  say "installing onnxruntime-node@$ORT_VERSION into $ort_dir (npm, ~86 MB)..."
  mkdir -p "$ort_dir"
  [[ -f "$ort_dir/package.json" ]] || echo '{"private": true}' > "$ort_dir/package.json"
  # skip: no CUDA provider download (the CPU runtime is in the tarball).
  if ! ONNXRUNTIME_NODE_INSTALL=skip npm install --prefix "$ort_dir" \
      --no-audit --no-fund --save-exact "onnxruntime-node@$ORT_VERSION" \
      > "$ort_dir/npm-install.log" 2>&1; then
    cat "$ort_dir/npm-install.log" >&2
    die "npm could not install onnxruntime-node@$ORT_VERSION"
  fi
  [[ -f "$binding" ]] || die "onnxruntime-node@$ORT_VERSION has no $binding"
fi
if ! node -e 'const ort = require(process.argv[1]); if (!ort.InferenceSession) process.exit(1)' \
    "$pkg" > /dev/null 2>&1; then
  node -e 'require(process.argv[1])' "$pkg" || true
  die "onnxruntime-node does not load (see above)"
fi
say "onnxruntime-node $ORT_VERSION loads (node $(node --version))."

# 3. The model.
[[ -f "$graph" && -f "$weights" ]] ||
  die "no detector in $cache_dir/centernet (tools/install-deps.sh fetches it)"
if [[ -f "$model" && "$model" -nt "$graph" && "$model" -nt "$weights" &&
      "$model" -nt "$here/tfjs_to_onnx.py" ]]; then
  say "$model is up to date."
else
  say "converting $graph to $model..."
  mkdir -p "$ort_dir"
  "$python" "$here/tfjs_to_onnx.py" "$graph" "$model" | sed 's/^/onnx-setup: /'
fi
say "ready."
