#!/usr/bin/env bash
# Installs what fxserve needs, builds it (Release) and starts the server on
# the default model repository (the shipped tiny GPT-2, quantized to W8A8
# by the build), in the foreground: Ctrl-C or SIGTERM drains and stops it.
#
#   tools/run.sh                  # serve on 8001 (gRPC), 8000 (HTTP), 8002
#   tools/run.sh --grpc-port 9001 --backend csim   # any fxserve flags
#   tools/run.sh --check          # start, stream one generation, stop
#   FXSERVE_TOOL=fxtool tools/run.sh generate "Once upon a time"  # fxtool
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/install-deps.sh
echo "run: configuring and building (build/release)..."
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DFXSERVE_BUILD_TESTS=OFF -DFXSERVE_BUILD_BENCH=OFF > build-release.log 2>&1 \
  || { cat build-release.log; exit 1; }
rm -f build-release.log
cmake --build build/release -j"$(nproc)" \
  --target fxserve fxclient fxtool fxserve_default_repository

bin=build/release
if [[ "${FXSERVE_TOOL:-}" == "fxtool" ]]; then
  exec "$bin/tools/fxtool/fxtool" "$@"
fi

if [[ "${1:-}" == "--check" ]]; then
  # Smoke test of the whole path: server up, one streamed generation with
  # the C++ client, health, then a graceful stop.
  ports="$(mktemp -d)/ports.json"
  "$bin/server/fxserve" --bind 127.0.0.1 --grpc-port 0 --http-port 0 \
    --metrics-port 0 --ports-file "$ports" &
  server=$!
  trap 'kill "$server" 2> /dev/null || true' EXIT
  for _ in $(seq 1 300); do [[ -s "$ports" ]] && break; sleep 0.1; done
  [[ -s "$ports" ]] || { echo "run: the server did not start" >&2; exit 1; }
  grpc="$(sed -E 's/.*"grpc": ([0-9]+).*/\1/' "$ports")"
  "$bin/clients/cpp/fxclient" --url "127.0.0.1:$grpc" health
  echo "run: streaming from the server (fxclient generate --stream):"
  "$bin/clients/cpp/fxclient" --url "127.0.0.1:$grpc" generate --stream \
    --seed 1 --max-tokens 48 "A man walks into a bar"
  kill -TERM "$server"
  wait "$server"
  trap - EXIT
  echo "run: check passed."
  exit 0
fi

echo "run: starting fxserve; in another terminal try:"
echo "  $bin/clients/cpp/fxclient generate --stream \"A man walks into a bar\""
exec "$bin/server/fxserve" "$@"
