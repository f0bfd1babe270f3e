#!/usr/bin/python3
"""Evaluates the exported model (models/tiny-gpt2) read back from its file.

The float16 weights are loaded from model.safetensors and the model runs in
float32. Reports:
  * held-out perplexity, token level, over the whole validation split
    (val.bin): input windows of n_positions tokens, stride n_positions/2,
    each token scored once with at least stride tokens of context once past
    the first window (Hugging Face's strided-perplexity recipe); the same on
    an equally long prefix of the training split, for comparison;
  * a check that the torch model and the independent NumPy float32
    reference (gpt2_numpy.py, what reference_logits.py prints) agree;
  * samples for a few prompts: greedy, and temperature 0.8 / top-k 40 with a
    fixed seed; prompts are encoded and samples decoded by the npm tokenizer.
Writes everything to --out (JSON) and prints it.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import node_tokenizer  # noqa: E402
from gpt2 import EOT, load_torch_model  # noqa: E402
from gpt2_numpy import forward as np_forward, load_hf_dir  # noqa: E402

PROMPTS = ["The meaning of life is", "A man walks into a bar", "Never trust",
           "Q: What do you call"]


@torch.no_grad()
def strided_nll(model, ids, max_len, stride, bs=8):
    """Sum of -log p over ids[1:] and the count, sliding windows."""
    n = len(ids)
    windows, prev_end = [], 0
    for begin in range(0, n - 1, stride):
        end = min(begin + max_len + 1, n)  # inputs ids[begin:end-1]: <= max_len
        trg = end - max(prev_end, begin + 1)  # new targets in this window
        windows.append((begin, end, trg))
        prev_end = end
        if end == n:
            break
    total, count = 0.0, 0
    i = 0
    while i < len(windows):
        # Batch consecutive windows of the same length (all but the last).
        j = i
        while j < len(windows) and j - i < bs and \
                windows[j][1] - windows[j][0] == windows[i][1] - windows[i][0]:
            j += 1
        group = windows[i:j]
        x = torch.from_numpy(np.stack([ids[b:e - 1] for b, e, _ in group]))
        hidden = model.hidden(x)
        for k, (b, e, trg) in enumerate(group):
            logits = hidden[k, -trg:] @ model.wte.weight.t()
            y = torch.from_numpy(ids[e - trg:e])
            total += F.cross_entropy(logits, y, reduction="sum").item()
            count += trg
        i = j
    assert count == n - 1, (count, n)
    return total, count


@torch.no_grad()
def generate(model, prompt_ids, new_tokens, greedy, temperature=0.8, top_k=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = list(prompt_ids)
    n_pos = model.cfg.n_positions
    out = []
    for _ in range(new_tokens):
        ctx = torch.tensor([ids[-n_pos:]])
        logits = model(ctx)[0, -1]
        if greedy:
            nxt = int(torch.argmax(logits))
        else:
            v, ix = torch.topk(logits / temperature, top_k)
            p = F.softmax(v, dim=-1)
            nxt = int(ix[torch.multinomial(p, 1, generator=g)])
        if nxt == EOT:
            break
        ids.append(nxt)
        out.append(nxt)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True, help="folder with val.bin, train.bin")
    ap.add_argument("--out", required=True, help="JSON results")
    ap.add_argument("--new-tokens", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    t0 = time.time()

    model = load_torch_model(args.model)
    cfg = model.cfg
    max_len, stride = cfg.n_positions, cfg.n_positions // 2
    res = {"model": args.model, "window": max_len, "stride": stride}

    val = np.fromfile(os.path.join(args.data, "val.bin"), dtype="<u2").astype(np.int64)
    train = np.fromfile(os.path.join(args.data, "train.bin"), dtype="<u2").astype(np.int64)
    for name, ids in (("val", val), ("train_prefix", train[:len(val)])):
        total, count = strided_nll(model, ids, max_len, stride)
        res[f"{name}_tokens_scored"] = count
        res[f"{name}_loss"] = total / count
        res[f"{name}_ppl"] = math.exp(total / count)
        print(f"evaluate: {name}: {count:,} tokens, loss {total / count:.4f}, "
              f"perplexity {math.exp(total / count):.2f}", flush=True)

    # torch vs the NumPy float32 reference, on the prompts.
    prompt_ids = node_tokenizer.encode(PROMPTS)
    cfg_np, w_np = load_hf_dir(args.model)
    worst = 0.0
    for ids in prompt_ids + [val[:cfg.n_positions].tolist()]:
        with torch.no_grad():
            a = model(torch.tensor([ids]))[0, -1].numpy()
        b = np_forward(cfg_np, w_np, ids)[-1]
        worst = max(worst, float(np.abs(a - b).max()))
    res["torch_vs_numpy_max_abs_logit_diff"] = worst
    print(f"evaluate: torch vs NumPy reference: max |logit diff| {worst:.2e}", flush=True)
    if worst > 1e-3:
        sys.exit("evaluate: torch model and NumPy reference disagree")

    samples = []
    for i, (text, ids) in enumerate(zip(PROMPTS, prompt_ids)):
        greedy = generate(model, ids, args.new_tokens, greedy=True)
        sampled = generate(model, ids, args.new_tokens, greedy=False,
                           seed=args.seed + i)
        g_txt, s_txt = node_tokenizer.decode([greedy, sampled])
        samples.append({"prompt": text, "prompt_ids": ids,
                        "greedy": g_txt, "greedy_ids": greedy,
                        "sampled": s_txt, "sampled_ids": sampled})
        print(f"\nprompt: {text!r}\n  greedy : {text + g_txt!r}\n"
              f"  sampled: {text + s_txt!r}", flush=True)
    res["samples"] = samples
    res["sampling"] = {"new_tokens": args.new_tokens, "temperature": 0.8, "top_k": 40,
                       "seed": args.seed, "seed_rule": "torch.Generator seeded with seed + prompt index",
                       "stop": "at <|endoftext|>"}
    res["eval_wall_s"] = time.time() - t0
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1, ensure_ascii=False)
    print(f"\nevaluate: done in {res['eval_wall_s']:.0f} s; results in {args.out}.")


if __name__ == "__main__":
    main()
