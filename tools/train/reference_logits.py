#!/usr/bin/python3
"""Prints GPT-2's last-position logits for a token sequence, float32 NumPy.

    python3 tools/train/reference_logits.py --model models/tiny-gpt2 \\
        --tokens "464 3616 286 1204 318"

Reads config.json and model.safetensors from --model, converts the weights
to float32 (from F16/BF16/F32 in the file) and runs the forward pass of
Hugging Face's GPT2LMHeadModel in float32 NumPy (no torch). Prints the
vocab_size logits at the last position on one line, space-separated, each
with 9 significant digits (enough to round-trip a float32).
"""
import argparse
import os
import sys

import numpy as np

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt2_numpy import forward, load_hf_dir  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="folder with config.json, model.safetensors")
    ap.add_argument("--tokens", required=True, help='token ids, space-separated, e.g. "464 3616"')
    args = ap.parse_args()
    try:
        ids = [int(t) for t in args.tokens.split()]
    except ValueError:
        ap.error("--tokens must be integers separated by spaces")
    if not ids:
        ap.error("--tokens is empty")
    cfg, w = load_hf_dir(args.model)
    try:
        logits = forward(cfg, w, ids)[-1]
    except ValueError as e:
        ap.error(str(e))
    sys.stdout.write(" ".join("%.9g" % v for v in logits.astype(np.float32)) + "\n")


if __name__ == "__main__":
    main()
