"""GPT-2 in plain PyTorch (training and evaluation).

The model computes exactly what Hugging Face's GPT2LMHeadModel computes:
learned position embeddings, pre-LayerNorm blocks (eps 1e-5), causal
self-attention whose c_attn produces q, k, v concatenated, Conv1D linear
layers with weights stored [in, out], GELU "gelu_new" (tanh approximation),
a final ln_f and an LM head tied to wte. Parameter names are Hugging Face's
without the "transformer." prefix (wte.weight, h.0.attn.c_attn.weight, ...),
so state_dict() is the exported tensor set as is.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from gpt2_numpy import EOT, GPT2Config, expected_shapes, load_hf_dir

__all__ = ["EOT", "GPT2Config", "GPT2LMHeadModel", "expected_shapes",
           "load_hf_dir", "load_torch_model", "num_params"]


def gelu_new(x):
    """0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as transformers."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) *
                                       (x + 0.044715 * torch.pow(x, 3.0))))


class Conv1D(nn.Module):
    """Hugging Face's Conv1D: y = x @ weight + bias, weight [in, out]."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        shape = x.shape[:-1] + (self.weight.shape[1],)
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]),
                           self.weight).view(shape)


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.n_head = cfg.n_head
        self.head_dim = cfg.n_embd // cfg.n_head
        self.c_attn = Conv1D(cfg.n_embd, 3 * cfg.n_embd)
        self.c_proj = Conv1D(cfg.n_embd, cfg.n_embd)
        self.attn_dropout = nn.Dropout(cfg.dropout)
        self.resid_dropout = nn.Dropout(cfg.dropout)
        n = cfg.n_positions
        self.register_buffer(
            "bias", torch.tril(torch.ones(n, n, dtype=torch.bool)).view(1, 1, n, n),
            persistent=False)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(x).split(c, dim=2)

        def heads(z):
            return z.view(b, t, self.n_head, self.head_dim).permute(0, 2, 1, 3)

        q, k, v = heads(q), heads(k), heads(v)
        w = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        mask = self.bias[:, :, :t, :t]
        w = torch.where(mask, w, torch.tensor(torch.finfo(w.dtype).min, dtype=w.dtype))
        w = F.softmax(w, dim=-1)
        w = self.attn_dropout(w)
        y = torch.matmul(w, v).permute(0, 2, 1, 3).contiguous().view(b, t, c)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.c_fc = Conv1D(cfg.n_embd, 4 * cfg.n_embd)
        self.c_proj = Conv1D(4 * cfg.n_embd, cfg.n_embd)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(gelu_new(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_epsilon)
        self.attn = Attention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_epsilon)
        self.mlp = MLP(cfg)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT2LMHeadModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.n_positions, cfg.n_embd)
        self.drop = nn.Dropout(cfg.dropout)
        self.h = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_epsilon)

    def init_weights(self):
        """GPT-2's initialisation: N(0, 0.02); residual projections scaled by
        1/sqrt(2 n_layer); biases 0; LayerNorm 1 and 0."""
        std = 0.02
        for name, p in self.named_parameters():
            if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or \
                    name == "ln_f.weight":
                nn.init.ones_(p)
            elif name.endswith(".bias"):
                nn.init.zeros_(p)
            elif name.endswith("c_proj.weight"):
                nn.init.normal_(p, 0.0, std / math.sqrt(2 * self.cfg.n_layer))
            else:
                nn.init.normal_(p, 0.0, std)

    def hidden(self, ids):
        t = ids.shape[1]
        if t > self.cfg.n_positions:
            raise ValueError(f"sequence of {t} tokens > n_positions {self.cfg.n_positions}")
        pos = torch.arange(t, device=ids.device)
        x = self.drop(self.wte(ids) + self.wpe(pos)[None])
        for block in self.h:
            x = block(x)
        return self.ln_f(x)

    def forward(self, ids):
        """ids [batch, time] -> logits [batch, time, vocab]."""
        return torch.matmul(self.hidden(ids), self.wte.weight.t())


def num_params(model):
    return sum(p.numel() for p in model.parameters())


def load_torch_model(model_dir):
    """The exported model as a float32 GPT2LMHeadModel in eval mode."""
    cfg, tensors = load_hf_dir(model_dir)
    model = GPT2LMHeadModel(cfg)
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in tensors.items()},
                          strict=True)
    model.eval()
    return model
