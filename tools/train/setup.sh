#!/usr/bin/env bash
# Installs what tools/train needs (through tools/install-deps.sh
# --with-training): Debian's PyTorch (1.13) and NumPy, the OpenBLAS backend
# for them, the fortunes corpus, node/npm and the GPT-2 tokenizer files.
# Idempotent and non-interactive. Debian bookworm only.
#
# It also points the system BLAS (libblas.so.3) at OpenBLAS: Debian's torch
# does its float32 matmuls through whatever libblas.so.3 resolves to, and with
# the reference BLAS a training step is ~13x slower than with OpenBLAS.
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
bash "$repo/tools/install-deps.sh" --with-training

if [[ "$(id -u)" -eq 0 ]]; then
  sudo_cmd=()
else
  sudo_cmd=(sudo)
fi

# Make libblas.so.3 resolve to OpenBLAS (pthread build).
alt=libblas.so.3-x86_64-linux-gnu
openblas=/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3
if [[ ! -e "$openblas" ]]; then
  echo "train/setup: $openblas missing although libopenblas0-pthread is installed." >&2
  exit 1
fi
current="$(update-alternatives --query "$alt" 2> /dev/null |
           sed -n 's/^Value: //p')"
if [[ "$current" == "$openblas" ]]; then
  echo "train/setup: $alt already points to OpenBLAS."
else
  echo "train/setup: pointing $alt at $openblas (was: ${current:-unset})."
  "${sudo_cmd[@]}" update-alternatives --set "$alt" "$openblas" > /dev/null
fi

# Check that torch imports with the Debian python (not another python3 on PATH).
/usr/bin/python3 - << 'PY'
import torch, numpy
print(f"train/setup: torch {torch.__version__}, numpy {numpy.__version__}.")
PY
if [[ ! -d /usr/share/games/fortunes ]]; then
  echo "train/setup: /usr/share/games/fortunes missing after installing fortunes." >&2
  exit 1
fi
echo "train/setup: done."
