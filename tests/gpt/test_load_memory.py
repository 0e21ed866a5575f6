"""Loading an open checkpoint holds no more than one extra copy of its largest tensor.

A model of a few MB whose token embedding dominates, saved as F32, BF16 and F16 (one file, and
in shards with an index), is loaded while tracemalloc (NumPy reports its allocations to it)
records the peak: the peak minus the loaded model's own float32 parameters must stay within
the largest tensor's float32 bytes, and the model must hold exactly the stored numbers. A
loader that builds the model with random weights first (float64 draws), reads the whole file,
or converts through temporaries fails it. Print the figures with

    .venv/bin/python tests/gpt/test_load_memory.py
"""
import json
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from gpt import GPT, GPTConfig
from gpt.hf_checkpoint import llama_tensors

# Llama's parts, a tied embedding of 12,288 x 96 (4.5 MB in float32) and blocks of a tenth of it
CONFIG = GPTConfig(vocab_size=12288, block_size=64, n_layer=2, n_head=4, n_embd=96,
                   bias=False, norm="rmsnorm", positions="rotary", mlp="swiglu",
                   mlp_hidden=160, n_kv_head=2, tie_embeddings=True)
STORED_AS = {"F32": np.float32, "F16": np.float16, "BF16": None}


def bfloat16_words(array):
    """The bfloat16 words of float32 values (rounded to nearest even), as uint16."""
    bits = np.ascontiguousarray(array, np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def write_safetensors(path, tensors, dtype_name):
    """A safetensors file holding `tensors` (float32 arrays) stored as `dtype_name`; returns
    {name: the float32 values the file holds}."""
    header, chunks, values, offset = {"__metadata__": {"format": "pt"}}, [], {}, 0
    for name, array in tensors.items():
        if dtype_name == "BF16":
            stored = bfloat16_words(array)
            values[name] = (stored.astype(np.uint32) << 16).view(np.float32)
        else:
            stored = array.astype(STORED_AS[dtype_name])
            values[name] = stored.astype(np.float32)
        raw = stored.tobytes()
        header[name] = {"dtype": dtype_name, "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    Path(path).write_bytes(struct.pack("<Q", len(encoded)) + encoded + b"".join(chunks))
    return values


def write_checkpoint(directory, dtype_name, n_shards):
    """A Llama directory of CONFIG's model (random weights) stored as `dtype_name`, in one
    file or `n_shards` shards with an index; returns {HF name: stored float32 values}."""
    model = GPT(CONFIG, seed=3)
    model.save_pretrained(directory)                        # config.json (and F32 weights)
    (directory / "model.safetensors").unlink()
    tensors = llama_tensors(model)
    names = sorted(tensors)
    if n_shards == 1:
        return write_safetensors(directory / "model.safetensors", tensors, dtype_name)
    values, weight_map = {}, {}
    for shard in range(n_shards):
        file_name = f"model-{shard + 1:05d}-of-{n_shards:05d}.safetensors"
        part = {name: tensors[name] for name in names[shard::n_shards]}
        values.update(write_safetensors(directory / file_name, part, dtype_name))
        weight_map.update({name: file_name for name in part})
    (directory / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": weight_map}))
    return values


def measure(directory):
    """(the loaded model, the peak of traced memory while loading it, in bytes)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        start, _ = tracemalloc.get_traced_memory()
        model = GPT.from_pretrained(directory)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return model, peak - start


CASES = [("F32", 1), ("BF16", 1), ("F16", 1), ("F32", 3), ("BF16", 3), ("F16", 2)]


@pytest.mark.parametrize("dtype_name, n_shards", CASES,
                         ids=[f"{d} in {n} file{'s' * (n > 1)}" for d, n in CASES])
def test_loading_holds_at_most_one_extra_copy_of_the_largest_tensor(tmp_path, dtype_name,
                                                                     n_shards):
    stored = write_checkpoint(tmp_path, dtype_name, n_shards)
    model, peak = measure(tmp_path)
    params = dict(model.named_parameters())
    model_bytes = sum(param.data.nbytes for param in params.values())
    largest = max(param.data.nbytes for param in params.values())
    assert largest == 12288 * 96 * 4 and largest > 0.7 * model_bytes     # it dominates
    assert peak - model_bytes <= largest, (
        f"{dtype_name}: peak {peak:,} bytes is the model's {model_bytes:,} plus "
        f"{peak - model_bytes:,}, more than its largest tensor's {largest:,}")
    # and the model holds exactly the stored numbers, converted to float32
    np.testing.assert_array_equal(params["transformer.wte.weight"].data,
                                  stored["model.embed_tokens.weight"])
    for name, param in params.items():
        assert param.data.dtype == np.float32 and param.data.flags.c_contiguous, name
    again = GPT.from_pretrained(tmp_path)
    ids = np.arange(12).reshape(1, 12) * 997 % CONFIG.vocab_size
    np.testing.assert_array_equal(model(ids)[0].data, again(ids)[0].data)


def print_figures():
    import tempfile
    for dtype_name, n_shards in CASES:
        with tempfile.TemporaryDirectory() as folder:
            write_checkpoint(Path(folder), dtype_name, n_shards)
            model, peak = measure(folder)
            model_bytes = sum(p.data.nbytes for p in model.parameters())
            largest = max(p.data.nbytes for p in model.parameters())
            print(f"{dtype_name:>4} in {n_shards} file(s): model {model_bytes:,} bytes, peak "
                  f"{peak:,}, peak - model {peak - model_bytes:,} = "
                  f"{(peak - model_bytes) / largest:.3f} x the largest tensor ({largest:,})")


if __name__ == "__main__":
    print_figures()
