"""Hugging Face GPT-2 checkpoints in and out."""
import json
import shutil
import struct

import numpy as np
import pytest

from gpt import GPT, GPTConfig
from tinytorch import safetensors


def header(path):
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + length]), data[8 + length:]


def test_save_pretrained_reproduces_the_original_file(shared_data, tmp_path):
    original = shared_data / "gpt2-tiny" / "model.safetensors"
    GPT.from_pretrained(shared_data / "gpt2-tiny").save_pretrained(tmp_path)
    ours_header, ours_bytes = header(tmp_path / "model.safetensors")
    their_header, their_bytes = header(original)
    assert ours_header["__metadata__"] == their_header["__metadata__"] == {"format": "pt"}
    assert ours_header.keys() == their_header.keys()
    for key in their_header:
        if key == "__metadata__":
            continue
        assert ours_header[key]["dtype"] == their_header[key]["dtype"], key
        assert ours_header[key]["shape"] == their_header[key]["shape"], key
        start, end = their_header[key]["data_offsets"]
        ours_start, ours_end = ours_header[key]["data_offsets"]
        assert ours_bytes[ours_start:ours_end] == their_bytes[start:end], key


def test_save_then_load_is_bit_exact_and_config_is_hf_shaped(tmp_path):
    model = GPT(GPTConfig(vocab_size=50, block_size=16, n_layer=2, n_head=2, n_embd=8), seed=3)
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "gpt2" and config["architectures"] == ["GPT2LMHeadModel"]
    assert (config["n_embd"], config["n_layer"], config["n_head"], config["n_positions"],
            config["vocab_size"]) == (8, 2, 2, 16, 50)
    assert config["activation_function"] == "gelu_new"
    loaded = GPT.from_pretrained(tmp_path)
    for (name, a), b in zip(model.named_parameters(), loaded.parameters()):
        assert a.data.dtype == b.data.dtype and np.array_equal(a.data, b.data), name
        # row-major like a fresh parameter, although the file held the transpose
        assert b.data.flags.c_contiguous, name
    weights = safetensors.load_file(tmp_path / "model.safetensors")
    # HF's Conv1D layout: (in, out)
    assert weights["transformer.h.0.attn.c_attn.weight"].shape == (8, 24)
    assert weights["transformer.h.0.mlp.c_proj.weight"].shape == (32, 8)
    assert not list(tmp_path.glob("*.tmp*")) and not list(tmp_path.glob(".tmp*"))


def test_bias_false_model_cannot_be_saved_in_hf_layout(tmp_path):
    model = GPT(GPTConfig(vocab_size=10, block_size=4, n_layer=1, n_head=1, n_embd=4, bias=False))
    with pytest.raises(ValueError, match="bias=False"):
        model.save_pretrained(tmp_path)
    assert not (tmp_path / "model.safetensors").exists()


def test_openai_style_keys_mask_buffers_and_lm_head_are_accepted(shared_data, tmp_path):
    source = shared_data / "gpt2-tiny"
    tensors = safetensors.load_file(source / "model.safetensors")
    renamed = {key.removeprefix("transformer."): value for key, value in tensors.items()}
    for layer in range(2):
        renamed[f"h.{layer}.attn.bias"] = np.tril(np.ones((1, 1, 128, 128), np.float32))
        renamed[f"h.{layer}.attn.masked_bias"] = np.array(-1e4, np.float32)
    renamed["lm_head.weight"] = tensors["transformer.wte.weight"]
    safetensors.save_file(renamed, tmp_path / "model.safetensors")
    shutil.copy(source / "config.json", tmp_path / "config.json")
    ours = GPT.from_pretrained(tmp_path)
    theirs = GPT.from_pretrained(source)
    for (name, a), b in zip(ours.named_parameters(), theirs.parameters()):
        assert np.array_equal(a.data, b.data), name


def test_missing_unexpected_and_misshaped_tensors_are_named(shared_data, tmp_path):
    source = shared_data / "gpt2-tiny"
    tensors = safetensors.load_file(source / "model.safetensors")
    del tensors["transformer.h.1.ln_2.bias"]
    tensors["transformer.h.0.attn.c_proj.extra"] = np.zeros(3, np.float32)
    tensors["transformer.wpe.weight"] = np.zeros((64, 64), np.float32)
    safetensors.save_file(tensors, tmp_path / "model.safetensors")
    shutil.copy(source / "config.json", tmp_path / "config.json")
    with pytest.raises(ValueError) as error:
        GPT.from_pretrained(tmp_path)
    message = str(error.value)
    assert "transformer.h.1.ln_2.bias" in message
    assert "transformer.h.0.attn.c_proj.extra" in message
    assert "transformer.wpe.weight" in message and "(128, 64)" in message


def test_untied_lm_head_is_refused(shared_data, tmp_path):
    source = shared_data / "gpt2-tiny"
    tensors = safetensors.load_file(source / "model.safetensors")
    tensors["lm_head.weight"] = tensors["transformer.wte.weight"] + 1.0
    safetensors.save_file(tensors, tmp_path / "model.safetensors")
    shutil.copy(source / "config.json", tmp_path / "config.json")
    with pytest.raises(ValueError, match="tied"):
        GPT.from_pretrained(tmp_path)


def test_not_a_checkpoint_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        GPT.from_pretrained(tmp_path)


def test_a_directory_without_weights_says_so_for_a_model_and_a_classifier(shared_data,
                                                                         tmp_path):
    from gpt.classifier import GPTClassifier
    shutil.copy(shared_data / "gpt2-tiny" / "config.json", tmp_path / "config.json")
    with pytest.raises(FileNotFoundError, match="has no model.safetensors"):
        GPT.from_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["architectures"] = ["GPT2ForSequenceClassification"]
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(FileNotFoundError, match="has no model.safetensors"):
        GPTClassifier.from_pretrained(tmp_path)


def test_json_files_are_utf8_with_sorted_keys_unless_asked_to_keep_their_order(tmp_path):
    from gpt.hf_checkpoint import write_json
    write_json(tmp_path / "sorted.json", {"output": "Grüße", "input": ""})
    assert (tmp_path / "sorted.json").read_text(encoding="utf-8") == \
        '{\n  "input": "",\n  "output": "Grüße"\n}\n'
    write_json(tmp_path / "kept.json", {"output": "Grüße", "input": ""}, sort_keys=False)
    assert json.loads((tmp_path / "kept.json").read_text(encoding="utf-8")) == \
        {"output": "Grüße", "input": ""}
    assert list(json.loads((tmp_path / "kept.json").read_bytes())) == ["output", "input"]
