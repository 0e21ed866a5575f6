"""gpt: a GPT-2 on tinytorch, tokenized by bpe.

    from gpt import GPT, GPTConfig
    model = GPT.from_pretrained("../shared/data/gpt2-tiny")
    logits, loss = model(idx, targets)
    out = model.generate(idx, max_new_tokens=20, temperature=0)
"""
from .config import GPTConfig
from .kv_cache import KVCache
from .model import GPT

__all__ = ["GPT", "GPTConfig", "KVCache"]
