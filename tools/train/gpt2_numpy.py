"""GPT-2 in NumPy float32: config, the exported file set, and a forward pass.

No torch: this is the independent float32 reference that reference_logits.py
prints and evaluate.py checks the torch model against. It follows Hugging
Face's GPT2LMHeadModel step by step (see gpt2.py for the description).
"""
import json
import math
import os
from dataclasses import dataclass

import numpy as np

from safetensors_io import read_safetensors

EOT = 50256


@dataclass
class GPT2Config:
    vocab_size: int = 50257
    n_positions: int = 256
    n_embd: int = 128
    n_layer: int = 4
    n_head: int = 4
    layer_norm_epsilon: float = 1e-5
    dropout: float = 0.0  # embd, attn and resid dropout (training only)

    def hf_config(self, torch_dtype="float16"):
        """config.json contents in Hugging Face's layout."""
        return {
            "model_type": "gpt2",
            "architectures": ["GPT2LMHeadModel"],
            "vocab_size": self.vocab_size,
            "n_positions": self.n_positions,
            "n_ctx": self.n_positions,
            "n_embd": self.n_embd,
            "n_layer": self.n_layer,
            "n_head": self.n_head,
            "n_inner": None,
            "activation_function": "gelu_new",
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "resid_pdrop": self.dropout,
            "embd_pdrop": self.dropout,
            "attn_pdrop": self.dropout,
            "initializer_range": 0.02,
            "scale_attn_weights": True,
            "scale_attn_by_inverse_layer_idx": False,
            "reorder_and_upcast_attn": False,
            "tie_word_embeddings": True,
            "use_cache": True,
            "bos_token_id": EOT,
            "eos_token_id": EOT,
            "torch_dtype": torch_dtype,
        }

    @staticmethod
    def from_hf_config(cfg):
        if cfg.get("model_type") != "gpt2":
            raise ValueError(f"model_type {cfg.get('model_type')!r} is not gpt2")
        if cfg.get("activation_function", "gelu_new") != "gelu_new":
            raise ValueError("only activation_function gelu_new is supported")
        if cfg.get("n_inner") not in (None, 4 * cfg["n_embd"]):
            raise ValueError("only n_inner = 4 * n_embd is supported")
        return GPT2Config(vocab_size=cfg["vocab_size"],
                          n_positions=cfg["n_positions"],
                          n_embd=cfg["n_embd"], n_layer=cfg["n_layer"],
                          n_head=cfg["n_head"],
                          layer_norm_epsilon=cfg.get("layer_norm_epsilon", 1e-5))


def expected_shapes(cfg):
    c, v, p = cfg.n_embd, cfg.vocab_size, cfg.n_positions
    s = {"wte.weight": [v, c], "wpe.weight": [p, c]}
    for i in range(cfg.n_layer):
        h = f"h.{i}."
        s.update({
            h + "ln_1.weight": [c], h + "ln_1.bias": [c],
            h + "attn.c_attn.weight": [c, 3 * c], h + "attn.c_attn.bias": [3 * c],
            h + "attn.c_proj.weight": [c, c], h + "attn.c_proj.bias": [c],
            h + "ln_2.weight": [c], h + "ln_2.bias": [c],
            h + "mlp.c_fc.weight": [c, 4 * c], h + "mlp.c_fc.bias": [4 * c],
            h + "mlp.c_proj.weight": [4 * c, c], h + "mlp.c_proj.bias": [c],
        })
    s.update({"ln_f.weight": [c], "ln_f.bias": [c]})
    return s


def load_hf_dir(model_dir):
    """Reads config.json and model.safetensors. Returns (cfg, tensors) with
    tensors as float32 numpy arrays (converted from the file's dtype)."""
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = GPT2Config.from_hf_config(json.load(f))
    raw, _ = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    want = expected_shapes(cfg)
    if set(raw) != set(want):
        missing = sorted(set(want) - set(raw))
        extra = sorted(set(raw) - set(want))
        raise ValueError(f"tensor names differ: missing {missing[:5]}, extra {extra[:5]}")
    for name, shape in want.items():
        if list(raw[name].shape) != shape:
            raise ValueError(f"{name}: shape {list(raw[name].shape)} != {shape}")
    return cfg, {k: v.astype(np.float32) for k, v in raw.items()}


def _layer_norm(x, w, b, eps):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + np.float32(eps)) * w + b


def _gelu_new(x):
    c = np.float32(math.sqrt(2.0 / math.pi))
    return np.float32(0.5) * x * (np.float32(1.0) + np.tanh(
        c * (x + np.float32(0.044715) * x * x * x)))


def forward(cfg, w, ids):
    """ids: sequence of token ids (len <= n_positions). Returns the float32
    logits [len(ids), vocab]. w: name -> float32 array (load_hf_dir)."""
    ids = np.asarray(ids, dtype=np.int64)
    t = ids.shape[0]
    if t == 0 or t > cfg.n_positions:
        raise ValueError(f"need 1..{cfg.n_positions} tokens, got {t}")
    if ids.min() < 0 or ids.max() >= cfg.vocab_size:
        raise ValueError(f"token ids must be in [0, {cfg.vocab_size})")
    c, nh = cfg.n_embd, cfg.n_head
    hd = c // nh
    eps = cfg.layer_norm_epsilon
    x = w["wte.weight"][ids] + w["wpe.weight"][:t]
    causal = np.tril(np.ones((t, t), dtype=bool))
    neg = np.finfo(np.float32).min
    scale = np.float32(math.sqrt(hd))
    for i in range(cfg.n_layer):
        p = f"h.{i}."
        a = _layer_norm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
        qkv = a @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
        q, k, v = (qkv[:, j * c:(j + 1) * c].reshape(t, nh, hd).transpose(1, 0, 2)
                   for j in range(3))
        s = (q @ k.transpose(0, 2, 1)) / scale
        s = np.where(causal[None], s, neg).astype(np.float32)
        s = np.exp(s - s.max(axis=-1, keepdims=True))
        s = s / s.sum(axis=-1, keepdims=True)
        y = (s @ v).transpose(1, 0, 2).reshape(t, c)
        x = x + (y @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"])
        m = _layer_norm(x, w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
        m = _gelu_new(m @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"])
        x = x + (m @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"])
    x = _layer_norm(x, w["ln_f.weight"], w["ln_f.bias"], eps)
    return (x @ w["wte.weight"].T).astype(np.float32)
