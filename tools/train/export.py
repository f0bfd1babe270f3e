#!/usr/bin/python3
"""Exports the training checkpoint in Hugging Face layout.

Writes <out>/config.json and <out>/model.safetensors (float16 tensors named
as Hugging Face's GPT2LMHeadModel without the "transformer." prefix; no
lm_head.weight, it is tied to wte.weight), then reads the file back and checks
the round trip: same names, shapes and bytes, and the float32 model rebuilt
from the file gives (nearly) the logits of the float32 checkpoint. Writes
<stats> (JSON) with the file size and the checks.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt2 import (GPT2Config, GPT2LMHeadModel, expected_shapes,  # noqa: E402
                  load_torch_model, num_params)
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402

MAX_BYTES = 24 * 1000 * 1000


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--out", required=True, help="model folder, e.g. models/tiny-gpt2")
    ap.add_argument("--stats", required=True, help="JSON file for the export numbers")
    args = ap.parse_args()
    torch.set_num_threads(2)

    ckpt = torch.load(args.ckpt, map_location="cpu")
    cfg = GPT2Config(**ckpt["config"])
    model = GPT2LMHeadModel(cfg)
    model.load_state_dict(ckpt["model"], strict=True)
    model.eval()

    want = expected_shapes(cfg)
    state = model.state_dict()
    if set(state) != set(want):
        sys.exit(f"export: state dict names differ from the HF set: "
                 f"{sorted(set(state) ^ set(want))[:8]}")
    tensors = {}
    for name in want:  # HF order: wte, wpe, h.0..., ln_f
        a = state[name].detach().float().numpy()
        if list(a.shape) != want[name]:
            sys.exit(f"export: {name} shape {list(a.shape)} != {want[name]}")
        h = a.astype(np.float16)
        if not np.isfinite(h).all():
            sys.exit(f"export: {name} overflows float16")
        tensors[name] = h

    os.makedirs(args.out, exist_ok=True)
    st_path = os.path.join(args.out, "model.safetensors")
    write_safetensors(st_path, tensors, {"format": "pt"})
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg.hf_config("float16"), f, indent=2)
        f.write("\n")

    # Round trip: the bytes, then the model rebuilt from the files.
    back, meta = read_safetensors(st_path)
    if meta != {"format": "pt"}:
        sys.exit(f"export: metadata read back as {meta}")
    if list(back) != list(tensors):
        sys.exit("export: tensor names/order differ after reading back")
    for name, a in tensors.items():
        b = back[name]
        if b.dtype != np.float16 or b.shape != a.shape or b.tobytes() != a.tobytes():
            sys.exit(f"export: {name} differs after reading back")
    with open(st_path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
    if n % 8:
        sys.exit("export: header size not a multiple of 8")

    reloaded = load_torch_model(args.out)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, cfg.vocab_size, (2, cfg.n_positions), generator=g)
    with torch.no_grad():
        ref = model(ids)
        got = reloaded(ids)
    diff = (ref - got).abs().max().item()
    ref_p = torch.log_softmax(ref, -1)
    got_p = torch.log_softmax(got, -1)
    kl = (ref_p.exp() * (ref_p - got_p)).sum(-1).mean().item()

    size = os.path.getsize(st_path)
    stats = {
        "params": num_params(model),
        "tensors": len(tensors),
        "file": st_path,
        "file_bytes": size,
        "header_bytes": n,
        "dtype": "F16",
        "round_trip_bytes_equal": True,
        "fp16_vs_fp32_max_abs_logit_diff": diff,
        "fp16_vs_fp32_mean_kl": kl,
    }
    with open(args.stats, "w") as f:
        json.dump(stats, f, indent=1)
    print(f"export: {len(tensors)} tensors, {stats['params']:,} parameters, "
          f"{st_path} is {size:,} bytes; round trip OK; float16 file vs float32 "
          f"checkpoint: max |logit diff| {diff:.2e}, mean KL {kl:.2e}.")
    if size > MAX_BYTES:
        sys.exit(f"export: {st_path} is {size:,} bytes, over the 24 MB limit")


if __name__ == "__main__":
    main()
