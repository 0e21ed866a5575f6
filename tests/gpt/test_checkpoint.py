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


def test_a_gpt2_model_without_biases_is_saved_in_our_own_layout_and_reads_back(tmp_path):
    """GPT-2's layout has biases everywhere: a bias=False model is a mix no family has."""
    model = GPT(GPTConfig(vocab_size=10, block_size=4, n_layer=1, n_head=1, n_embd=4, bias=False))
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["model_type"] == "tinygpt"
    idx = np.array([[1, 2, 3]])
    again = GPT.from_pretrained(tmp_path)
    assert again.config == model.config
    np.testing.assert_array_equal(again(idx)[0].data, model(idx)[0].data)


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
    from gpt.finetune.classifier import GPTClassifier
    shutil.copy(shared_data / "gpt2-tiny" / "config.json", tmp_path / "config.json")
    with pytest.raises(FileNotFoundError, match="has no model.safetensors"):
        GPT.from_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["architectures"] = ["GPT2ForSequenceClassification"]
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(FileNotFoundError, match="has no model.safetensors"):
        GPTClassifier.from_pretrained(tmp_path)


def test_json_files_are_utf8_with_sorted_keys_unless_asked_to_keep_their_order(tmp_path):
    from tinytorch.serialization import write_json
    write_json(tmp_path / "sorted.json", {"output": "Grüße", "input": ""})
    assert (tmp_path / "sorted.json").read_text(encoding="utf-8") == \
        '{\n  "input": "",\n  "output": "Grüße"\n}\n'
    write_json(tmp_path / "kept.json", {"output": "Grüße", "input": ""}, sort_keys=False)
    assert json.loads((tmp_path / "kept.json").read_text(encoding="utf-8")) == \
        {"output": "Grüße", "input": ""}
    assert list(json.loads((tmp_path / "kept.json").read_bytes())) == ["output", "input"]


# ----- damaged and mismatched files are refused at load, naming the file ---------------------

def tiny_checkpoint(directory, seed=0):
    """A 1-layer GPT saved in `directory` (config.json + model.safetensors)."""
    model = GPT(GPTConfig(vocab_size=20, block_size=8, n_layer=1, n_head=2, n_embd=8), seed=seed)
    model.save_pretrained(directory)
    return directory


def edit_config(directory, **changes):
    config = json.loads((directory / "config.json").read_text())
    config.update(changes)
    for key in [key for key, value in changes.items() if value is None]:
        del config[key]
    (directory / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize("content, message", [
    (b"[1, 2]", r"config\.json must hold a JSON object of settings, got a JSON list"),
    (b'{"n_embd": 8,}', r"config\.json is not valid JSON: Expecting property name .* line 1, "
                        r"column 14"),
    (b"", r"config\.json is not valid JSON: Expecting value at line 1, column 1"),
    (b'{"n_embd": "\xff"}', r"config\.json is not valid UTF-8 \(byte 0xff at offset 12\)"),
    (b"\x89PNG\r\n\x1a\n\0\0", r"config\.json is not valid UTF-8 \(byte 0x89 at offset 0\)"),
])
def test_a_config_json_that_is_not_a_json_object_is_named(tmp_path, content, message):
    (tiny_checkpoint(tmp_path) / "config.json").write_bytes(content)
    with pytest.raises(ValueError, match=message) as error:
        GPT.from_pretrained(tmp_path)
    assert str(tmp_path / "config.json") in str(error.value)


@pytest.mark.parametrize("changes, message", [
    ({"n_embd": None}, r"config\.json has no 'n_embd' entry \(a GPT-2 config\.json has "
                       r"vocab_size, n_positions"),
    ({"n_positions": None}, "no 'n_positions' entry"),
    ({"vocab_size": True}, r"config\.json: GPTConfig\.vocab_size must be an integer, got True"),
    ({"n_layer": "1"}, r"GPTConfig\.n_layer must be an integer, got '1'"),
    ({"n_head": 0}, r"GPTConfig\.n_head must be at least 1, got 0"),
    ({"n_head": 3}, "n_embd=8 does not split evenly into n_head=3"),
    ({"layer_norm_epsilon": -1}, r"layer_norm_epsilon must be a number in \(0, inf\)"),
    ({"layer_norm_epsilon": "1e-5"}, "layer_norm_epsilon must be a number, got '1e-5'"),
    ({"activation_function": "relu"}, r"config\.json: activation_function 'relu'"),
    ({"n_inner": 5}, r"config\.json: n_inner=5"),
    ({"architectures": "GPT2LMHeadModel"}, "architectures must be a list"),
])
def test_a_config_json_with_missing_or_bad_entries_is_named(tmp_path, changes, message):
    edit_config(tiny_checkpoint(tmp_path), **changes)
    with pytest.raises(ValueError, match=message) as error:
        GPT.from_pretrained(tmp_path)
    assert str(tmp_path) in str(error.value)


def test_weights_that_do_not_fit_the_config_name_both_files_briefly(tmp_path):
    edit_config(tiny_checkpoint(tmp_path), n_layer=12)
    with pytest.raises(ValueError, match=r"model\.safetensors does not fit config\.json's "
                                         r"sizes: .*missing: transformer\.h\.1\.ln_1\.weight"
                                         r".*\(127 more\)") as error:
        GPT.from_pretrained(tmp_path)
    assert len(str(error.value)) < 400                 # 132 names would make a page


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_infinite_weights_are_refused_with_the_tensors_name(tmp_path, bad):
    tiny_checkpoint(tmp_path)
    tensors = safetensors.load_file(tmp_path / "model.safetensors")
    tensors["transformer.h.0.mlp.c_fc.weight"][3, 5] = bad
    tensors["transformer.h.0.mlp.c_fc.weight"][4, 0] = bad
    safetensors.save_file(tensors, tmp_path / "model.safetensors")
    with pytest.raises(ValueError, match=r"model\.safetensors: tensor "
                                         r"'transformer\.h\.0\.mlp\.c_fc\.weight' holds 2 nan or "
                                         r"infinite values \(the first at index \[3, 5\]"):
        GPT.from_pretrained(tmp_path)


def test_float64_weights_beyond_float32s_range_are_refused(tmp_path):
    tiny_checkpoint(tmp_path)
    tensors = safetensors.load_file(tmp_path / "model.safetensors")
    tensors["transformer.ln_f.bias"] = tensors["transformer.ln_f.bias"].astype(np.float64)
    tensors["transformer.ln_f.bias"][1] = 1e300                  # inf as float32
    safetensors.save_file(tensors, tmp_path / "model.safetensors")
    with pytest.raises(ValueError, match=r"'transformer\.ln_f\.bias' holds 1 nan or infinite"):
        GPT.from_pretrained(tmp_path)


def test_a_classifier_config_with_bad_labels_is_named(tmp_path):
    from gpt.finetune.classifier import GPTClassifier
    model = GPTClassifier(GPTConfig(vocab_size=20, block_size=8, n_layer=1, n_head=2, n_embd=8),
                          ("ham", "spam"), seed=0)
    model.save_pretrained(tmp_path)
    for id2label in ({"0": "ham", "2": "spam"}, ["ham", "spam"], {"0": "ham", "1": 7}):
        edit_config(tmp_path, id2label=id2label)
        with pytest.raises(ValueError, match=r"config\.json: id2label must map"):
            GPTClassifier.from_pretrained(tmp_path)
