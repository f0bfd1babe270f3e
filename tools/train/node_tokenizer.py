"""Calls gpt2_tokenizer.js (npm gpt-3-encoder) from Python: no BPE code here."""
import json
import os
import subprocess

_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gpt2_tokenizer.js")


def _run(cmd, payload):
    p = subprocess.run(["node", _SCRIPT, cmd], input=json.dumps(payload),
                       capture_output=True, text=True, encoding="utf-8")
    if p.returncode != 0:
        raise RuntimeError(f"gpt2_tokenizer.js {cmd} failed: {p.stderr.strip()}")
    return json.loads(p.stdout)


def encode(texts):
    """list of str -> list of lists of GPT-2 token ids."""
    return _run("encode", list(texts))


def decode(id_lists):
    """list of lists of token ids -> list of str."""
    return _run("decode", [list(map(int, ids)) for ids in id_lists])
