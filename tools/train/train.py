#!/usr/bin/python3
"""Trains the tiny GPT-2 on the tokenized fortunes corpus.

Reads <data>/train.bin and <data>/val.bin (uint16 little-endian GPT-2 token
ids, written by gpt2_tokenizer.js) and writes <out>/ckpt.pt (float32 weights,
optimizer state, config) and <out>/train_stats.json.

Deterministic: fixed seeds for torch and NumPy, the batch windows come from a
seeded NumPy generator, 2 torch threads. Run it under `nice -n 10`
(train.sh does).
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
from gpt2 import GPT2Config, GPT2LMHeadModel, num_params  # noqa: E402

# Chosen from step times measured on the 2-core build machine (Debian torch
# 1.13 + OpenBLAS, 2 threads, nice 10): 1.2-1.6 s per step of 8 x 256 tokens,
# bursts of 2.5-4 s while a compiler or fuzzer takes the cores. 1000 steps is
# ~22-27 minutes at the usual speed and stays inside the 45-minute budget up
# to ~2.3 s per step on average; --max-train-minutes is the safety net.
DEFAULT_STEPS = 1000


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="folder with train.bin, val.bin")
    ap.add_argument("--out", required=True, help="folder for ckpt.pt, train_stats.json")
    ap.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--seq-len", type=int, default=256,
                    help="tokens per sequence (<= n_positions; 256 trains every position)")
    ap.add_argument("--lr", type=float, default=2e-3, help="peak learning rate")
    ap.add_argument("--min-lr-ratio", type=float, default=0.1,
                    help="cosine decay ends at lr * this")
    ap.add_argument("--warmup", type=int, default=100, help="linear warmup steps")
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--grad-clip", type=float, default=1.0)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--n-positions", type=int, default=256)
    ap.add_argument("--n-embd", type=int, default=128)
    ap.add_argument("--n-layer", type=int, default=4)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--eval-every", type=int, default=200)
    ap.add_argument("--eval-windows", type=int, default=32,
                    help="validation windows for the periodic val loss")
    ap.add_argument("--max-train-minutes", type=float, default=38.0,
                    help="safety net: stop (and still save) if the loop runs longer")
    args = ap.parse_args(argv)
    if args.seq_len > args.n_positions:
        ap.error("--seq-len must be <= --n-positions")
    if args.n_embd % args.n_head:
        ap.error("--n-embd must be a multiple of --n-head")
    return args


def lr_at(step, args):
    """Linear warmup to args.lr, then cosine decay to args.lr * min_lr_ratio."""
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    progress = (step - args.warmup) / max(1, args.steps - args.warmup)
    cos = 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return args.lr * (args.min_lr_ratio + (1.0 - args.min_lr_ratio) * cos)


def load_tokens(path):
    ids = np.fromfile(path, dtype="<u2").astype(np.int64)
    if ids.size == 0:
        sys.exit(f"train: {path} is empty")
    return torch.from_numpy(ids)


def batch(data, offsets, t):
    idx = torch.from_numpy(offsets)[:, None] + torch.arange(t + 1)[None]
    chunk = data[idx]
    return chunk[:, :-1], chunk[:, 1:]


@torch.no_grad()
def val_loss(model, val, offsets, t, bs=8):
    model.eval()
    total, n = 0.0, 0
    for i in range(0, len(offsets), bs):
        x, y = batch(val, offsets[i:i + bs], t)
        logits = model(x)
        total += F.cross_entropy(logits.view(-1, logits.shape[-1]), y.reshape(-1),
                                 reduction="sum").item()
        n += y.numel()
    model.train()
    return total / n


def fmt_time(s):
    s = int(round(s))
    return f"{s // 60}m{s % 60:02d}s"


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    os.makedirs(args.out, exist_ok=True)

    train = load_tokens(os.path.join(args.data, "train.bin"))
    val = load_tokens(os.path.join(args.data, "val.bin"))
    t = args.seq_len
    cfg = GPT2Config(n_positions=args.n_positions, n_embd=args.n_embd,
                     n_layer=args.n_layer, n_head=args.n_head, dropout=args.dropout)
    model = GPT2LMHeadModel(cfg)
    model.init_weights()
    model.train()

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)

    rng = np.random.default_rng(args.seed)  # the data order
    val_rng = np.random.default_rng(args.seed + 1)
    val_offsets = val_rng.integers(0, len(val) - t - 1, size=args.eval_windows)

    tokens_per_step = args.batch_size * t
    print(f"train: {num_params(model):,} parameters; {len(train):,} train tokens, "
          f"{len(val):,} val tokens; {args.steps} steps x {args.batch_size} x {t} "
          f"= {args.steps * tokens_per_step:,} tokens "
          f"({args.steps * tokens_per_step / len(train):.2f} epochs); "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"niceness {os.nice(0)}.", flush=True)

    log, evals = [], []
    start = time.time()
    window_t, window_loss, window_n = start, 0.0, 0
    step_times = []
    stopped_early = False
    step = 0
    for step in range(args.steps):
        t0 = time.time()
        lr = lr_at(step, args)
        for g in opt.param_groups:
            g["lr"] = lr
        offsets = rng.integers(0, len(train) - t - 1, size=args.batch_size)
        x, y = batch(train, offsets, t)
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        opt.step()
        step_times.append(time.time() - t0)
        window_loss += loss.item()
        window_n += 1

        done = step + 1
        if done % args.log_every == 0 or done == args.steps or done == 5:
            now = time.time()
            elapsed = now - start
            rate = window_n * tokens_per_step / (now - window_t)
            eta = (args.steps - done) * (elapsed / done)
            avg = window_loss / window_n
            print(f"step {done:5d}/{args.steps}  loss {avg:.4f}  lr {lr:.2e}  "
                  f"gnorm {gnorm:.2f}  {rate:7.0f} tok/s  "
                  f"{elapsed / done:.2f} s/step  elapsed {fmt_time(elapsed)}  "
                  f"ETA {fmt_time(eta)}", flush=True)
            log.append({"step": done, "loss": avg, "lr": lr, "tok_per_s": rate,
                        "elapsed_s": elapsed})
            window_t, window_loss, window_n = now, 0.0, 0
        if done % args.eval_every == 0 or done == args.steps:
            vl = val_loss(model, val, val_offsets, t)
            print(f"step {done:5d}  val loss {vl:.4f}  (ppl {math.exp(vl):.1f}, "
                  f"{args.eval_windows} windows)", flush=True)
            evals.append({"step": done, "val_loss": vl})
        if (time.time() - start) / 60.0 > args.max_train_minutes and done < args.steps:
            print(f"train: WARNING: over --max-train-minutes {args.max_train_minutes}; "
                  f"stopping after step {done} of {args.steps}.", flush=True)
            stopped_early = True
            break

    wall = time.time() - start
    steps_done = step + 1
    ckpt = {
        "config": cfg.__dict__,
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "step": steps_done,
        "args": vars(args),
    }
    torch.save(ckpt, os.path.join(args.out, "ckpt.pt"))
    stats = {
        "args": vars(args),
        "params": num_params(model),
        "train_tokens": len(train),
        "val_tokens": len(val),
        "steps_done": steps_done,
        "stopped_early": stopped_early,
        "tokens_seen": steps_done * tokens_per_step,
        "epochs": steps_done * tokens_per_step / len(train),
        "train_wall_s": wall,
        "median_step_s": float(np.median(step_times)),
        "mean_step_s": float(np.mean(step_times)),
        "final_train_loss": log[-1]["loss"] if log else None,
        "final_val_loss_sampled": evals[-1]["val_loss"] if evals else None,
        "log": log,
        "evals": evals,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    with open(os.path.join(args.out, "train_stats.json"), "w") as f:
        json.dump(stats, f, indent=1)
    print(f"train: {steps_done} steps in {fmt_time(wall)} "
          f"(median {stats['median_step_s']:.2f} s/step); checkpoint "
          f"{os.path.join(args.out, 'ckpt.pt')}.", flush=True)


if __name__ == "__main__":
    main()
