"""`sample --model` on an open checkpoint directory that is of another family or damaged: one
line on stderr starting "error:", exit 1, naming what is wrong (as tests/gpt/test_cli_mistakes.py
does for our own checkpoints). Each case is a copy of a fixture with one thing broken."""
import contextlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from gpt.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hf"


def edit_config(**changes):
    def change(model):
        hf = json.loads((model / "config.json").read_text())
        hf.update(changes)
        (model / "config.json").write_text(json.dumps(hf))
    return change


def write(name, content):
    def change(model):
        (model / name).write_bytes(content)
    return change


def cut(name, keep=0.5):
    def change(model):
        raw = (model / name).read_bytes()
        (model / name).write_bytes(raw[:int(len(raw) * keep)])
    return change


def remove(name):
    def change(model):
        (model / name).unlink()
    return change


def edit_index(edit):
    def change(model):
        index = json.loads((model / "model.safetensors.index.json").read_text())
        edit(index["weight_map"])
        (model / "model.safetensors.index.json").write_text(json.dumps(index))
    return change


def poison_first_value(name):
    """The first element of tensor `name` in model.safetensors made nan, whatever its dtype."""
    def change(model):
        raw = bytearray((model / "model.safetensors").read_bytes())
        length = int.from_bytes(raw[:8], "little")
        header = json.loads(raw[8:8 + length])
        start = 8 + length + header[name]["data_offsets"][0]
        nan = {"F32": np.float32, "F16": np.float16}.get(header[name]["dtype"])
        raw[start:start + 2 if nan is None else start + np.dtype(nan).itemsize] = (
            b"\xc0\x7f" if nan is None else np.array([np.nan], nan).tobytes())   # BF16 nan
        (model / "model.safetensors").write_bytes(bytes(raw))
    return change


QWEN3_SHARD = "model-00002-of-00003.safetensors"
EMBED = "model.embed_tokens.weight"
CASES = [
    # (name, fixture, change, what the message must name)
    ("model_type mistral", "llama3-rope-scaled-tied", edit_config(model_type="mistral"),
     ["config.json", "model_type 'mistral'"]),
    ("model_type gemma2", "qwen2", edit_config(model_type="gemma2"), ["'gemma2'"]),
    ("model_type phi3", "smollm-digits", edit_config(model_type="phi3"), ["'phi3'"]),
    ("no model_type", "qwen2", edit_config(model_type=None), ["model_type None"]),
    ("config.json not JSON", "qwen2", write("config.json", b"{\"model_type\": \"qwen2\","),
     ["config.json", "not valid JSON"]),
    ("config.json a list", "qwen2", write("config.json", b"[1]"), ["JSON list"]),
    ("a sliding window in use", "qwen2", edit_config(use_sliding_window=True),
     ["use_sliding_window is true", "sliding_window=8"]),
    ("rope yarn", "llama3-rope-scaled-tied", edit_config(rope_scaling={
        "rope_type": "yarn", "factor": 4.0}), ["'yarn'"]),
    ("quantized", "qwen2", edit_config(quantization_config={"quant_method": "awq"}),
     ["quantization_config"]),
    ("truncated safetensors", "qwen2", cut("model.safetensors"),
     ["model.safetensors", "truncated"]),
    ("a header cut short", "qwen2", cut("model.safetensors", keep=0.001),
     ["model.safetensors"]),
    ("no weights at all", "qwen2", remove("model.safetensors"),
     ["model.safetensors", "model.safetensors.index.json"]),
    ("a shard missing", "qwen3-sharded-f16", remove(QWEN3_SHARD),
     ["model.safetensors.index.json", QWEN3_SHARD]),
    ("a shard truncated", "qwen3-sharded-f16", cut(QWEN3_SHARD), [QWEN3_SHARD, "truncated"]),
    ("an index naming a tensor no shard holds", "qwen3-sharded-f16", edit_index(
        lambda weights: weights.update({"model.layers.9.mlp.up_proj.weight": QWEN3_SHARD})),
     ["model.layers.9.mlp.up_proj.weight", "no shard holds"]),
    ("an index without a tensor a shard holds", "qwen3-sharded-f16", edit_index(
        lambda weights: weights.pop("model.norm.weight")), ["model.norm.weight"]),
    ("an index that is not JSON", "qwen3-sharded-f16",
     write("model.safetensors.index.json", b"{\"weight_map\": "),
     ["model.safetensors.index.json", "not valid JSON"]),
    ("an index without a weight_map", "qwen3-sharded-f16",
     write("model.safetensors.index.json", b"{}"), ["weight_map"]),
    ("more layers than the weights", "qwen2", edit_config(num_hidden_layers=3),
     ["missing", "model.layers.2."]),
    ("a wider model than the weights", "smollm-digits", edit_config(intermediate_size=96),
     ["mlp.gate_proj.weight", "does not fit"]),
    ("nan in an F32 tensor", "qwen2", poison_first_value(EMBED), [EMBED, "nan or infinite"]),
    ("nan in a BF16 tensor", "llama3-rope-scaled-tied", poison_first_value(EMBED),
     [EMBED, "nan or infinite"]),
    ("a tokenizer.json that is not JSON", "qwen2", write("tokenizer.json", b"{"),
     ["tokenizer.json"]),
]


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(arg) for arg in argv])
    return status, err.getvalue()


@pytest.mark.parametrize("name, fixture, change, mentions", CASES,
                         ids=[case[0] for case in CASES])
def test_a_broken_open_checkpoint_is_one_line_naming_the_problem(tmp_path, name, fixture,
                                                                  change, mentions):
    model = tmp_path / "model"
    shutil.copytree(FIXTURES / fixture, model)
    change(model)
    status, err = run(["sample", "--model", model, "--max-new-tokens", "2"])
    lines = err.strip().splitlines()
    assert status == 1 and len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for text in mentions:
        assert text in err, (text, err)


@pytest.mark.parametrize("fixture", ["qwen2", "qwen3-sharded-f16", "llama3-rope-scaled-tied"])
def test_an_intact_copy_samples(tmp_path, fixture):
    shutil.copytree(FIXTURES / fixture, tmp_path / "model")
    status, err = run(["sample", "--model", tmp_path / "model", "--max-new-tokens", "2"])
    assert status == 0 and err == ""
