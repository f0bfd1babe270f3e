#!/usr/bin/env bash
# Prints the Debian packages that provide every shared library the fxserve
# binaries load (ldd: the whole DT_NEEDED closure, the dynamic loader
# included), one per line, sorted. deploy/Dockerfile's runtime stage installs
# exactly this list; regenerate it here after changing what fxserve links.
#
#   deploy/check-runtime-deps.sh BUILD_DIR        # the package list
#   deploy/check-runtime-deps.sh -v BUILD_DIR     # also library -> package
#
# BUILD_DIR is a CMake build folder with server/fxserve and
# clients/cpp/fxclient (and tools/fxtool/fxtool, checked when present: the
# image ships it too). Exits non-zero if a library is missing ("not found")
# or belongs to no installed Debian package (e.g. something in /usr/local),
# since the image could not get it with apt. Libraries opened with dlopen
# at run time (XRT's device plugins, OpenCL ICDs) are not visible to ldd.
set -euo pipefail

verbose=0
if [[ "${1:-}" == "-v" ]]; then
  verbose=1
  shift
fi
if [[ $# -ne 1 || ! -d "$1" ]]; then
  echo "usage: $0 [-v] BUILD_DIR" >&2
  exit 2
fi
build="$1"

binaries=("$build/server/fxserve" "$build/clients/cpp/fxclient")
for optional in tools/fxtool/fxtool backends/process/fxserve-backend-worker; do
  if [[ -x "$build/$optional" ]]; then binaries+=("$build/$optional"); fi
done
for bin in "${binaries[@]}"; do
  if [[ ! -x "$bin" ]]; then
    echo "check-runtime-deps: $bin is missing; build it first" \
         "(ninja -C $build fxserve fxclient fxtool)." >&2
    exit 1
  fi
done

# The package owning a file. Bookworm has merged /usr (/lib -> usr/lib) but
# dpkg still records most libraries under /lib, so try the path as ldd gave
# it, the other spelling, and the same for the symlink's target.
owner() {
  local path="$1" candidates=() real
  real="$(readlink -f "$path")"
  for p in "$path" "$real"; do
    candidates+=("$p")
    case "$p" in
      /usr/lib/*) candidates+=("${p#/usr}") ;;
      /lib/* | /lib64/*) candidates+=("/usr$p") ;;
    esac
  done
  local c out
  for c in "${candidates[@]}"; do
    if out="$(dpkg-query -S "$c" 2> /dev/null)"; then
      # "libfoo1:amd64: /lib/..." (a diversion line would start with
      # "diversion by"; skip it).
      out="$(grep -v '^diversion' <<< "$out" | head -n 1)"
      out="${out%%: *}"
      echo "${out%%:*}"
      return 0
    fi
  done
  return 1
}

declare -A package_of=()
declare -A packages=()
failed=0
for bin in "${binaries[@]}"; do
  while read -r line; do
    case "$line" in
      *"not found"*)
        echo "check-runtime-deps: $(basename "$bin"): ${line}" >&2
        failed=1
        continue
        ;;
      linux-vdso.so* | linux-gate.so*) continue ;;  # in the kernel
    esac
    # "libfoo.so.1 => /path (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
    if [[ "$line" == *" => "* ]]; then
      lib="${line#* => }"
    else
      lib="$line"
    fi
    lib="${lib%% (*}"
    [[ "$lib" == /* ]] || continue
    [[ -n "${package_of[$lib]:-}" ]] && continue
    if pkg="$(owner "$lib")"; then
      package_of[$lib]="$pkg"
      packages[$pkg]=1
    else
      echo "check-runtime-deps: $(basename "$bin"): $lib belongs to no" \
           "Debian package" >&2
      failed=1
    fi
  done < <(ldd "$bin")
done

if [[ $verbose -eq 1 ]]; then
  for lib in "${!package_of[@]}"; do
    echo "# $lib -> ${package_of[$lib]}"
  done | sort
fi
printf '%s\n' "${!packages[@]}" | sort
exit "$failed"
