"""Llama, Qwen2 and Qwen3 checkpoints as Hugging Face made them, against transformers' numbers:
../shared/data/llama-tiny and the fixtures in tests/fixtures/hf/ (tied heads with Llama 3 rope
scaling in bf16, multi-query attention with a head size of its own, Qwen2's q/k/v biases and a
padded embedding, Qwen3's q/k norms in sharded float16, SmolLM's tokenizer)."""
import json
from pathlib import Path

import numpy as np
import pytest

import bpe
import tinytorch as tt
from gpt import GPT, KVCache
from gpt.hf_llama import row_counts, weight_names

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hf"
MODEL_FIXTURES = ["llama3-rope-scaled-tied", "llama-mqa-headdim", "qwen2", "qwen3-sharded-f16",
                  "smollm-digits"]
CHECKPOINTS = ["llama-tiny"] + MODEL_FIXTURES


def directory_of(name, shared_data):
    return shared_data / "llama-tiny" if name == "llama-tiny" else FIXTURES / name


@pytest.fixture(scope="module")
def loaded(shared_data):
    """{name: (model, reference, directory)}, each checkpoint loaded once."""
    found = {}
    for name in CHECKPOINTS:
        directory = directory_of(name, shared_data)
        reference = json.loads((directory / "reference.json").read_text(encoding="utf-8"))
        found[name] = (GPT.from_pretrained(directory), reference, directory)
    return found


@pytest.mark.parametrize("name", CHECKPOINTS)
@pytest.mark.parametrize("fused", [True, False])
def test_logits_for_the_prompt_match_transformers(loaded, name, fused):
    model, reference, _ = loaded[name]
    model.config.fused = fused
    try:
        logits, _ = model(np.array([reference["prompt_ids"]]))
    finally:
        model.config.fused = True
    expected = np.array(reference["logits"])
    assert logits.shape == (1, *expected.shape)            # as wide as the embedding (Qwen pads)
    np.testing.assert_allclose(logits.data[0], expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize("name", CHECKPOINTS)
def test_batch_loss_and_every_gradient_norm_match_transformers(loaded, name):
    model, reference, _ = loaded[name]
    batch_ids = np.array(reference["batch_ids"])                   # (4, 33)
    model.zero_grad()
    _, loss = model(batch_ids[:, :-1], batch_ids[:, 1:])
    assert abs(loss.item() - reference["batch_loss"]) <= 1e-5
    loss.backward()
    norms = {}
    params = dict(model.named_parameters())
    for ours, hf_names in weight_names(params).items():
        grad, row = params[ours].grad, 0
        for hf_name, rows in zip(hf_names, row_counts(model.config, ours, len(grad))):
            norms[hf_name] = float(np.linalg.norm(grad[row:row + rows].astype(np.float64)))
            row += rows
    model.zero_grad()
    assert set(norms) == set(reference["grad_norms"])
    for hf_name, expected in reference["grad_norms"].items():
        assert abs(norms[hf_name] - expected) <= 1e-3 * expected + 1e-7, hf_name


@pytest.mark.parametrize("name", CHECKPOINTS)
@pytest.mark.parametrize("use_cache", [True, False])
def test_greedy_continuation_matches_transformers(loaded, name, use_cache):
    model, reference, _ = loaded[name]
    prompt = np.array([reference["prompt_ids"]])
    n_new = len(reference["greedy_ids"]) - prompt.shape[1]
    out = model.generate(prompt, n_new, temperature=0, use_cache=use_cache)
    assert out[0].tolist() == reference["greedy_ids"]


@pytest.mark.parametrize("name", CHECKPOINTS)
def test_the_kv_cache_holds_the_key_value_heads(loaded, name):
    model, reference, _ = loaded[name]
    prompt = np.array([reference["prompt_ids"]])
    cache = KVCache.for_model(model, batch_size=1)
    with tt.no_grad():
        model(prompt, kv_cache=cache)
    for layer, shapes in enumerate(reference["kv_shapes"]):
        assert list(cache.keys[layer, :, :, :cache.length].shape) == shapes["key"]
        assert list(cache.values[layer, :, :, :cache.length].shape) == shapes["value"]


@pytest.mark.parametrize("name", CHECKPOINTS)
def test_cached_logits_equal_uncached_ones(loaded, name):
    model, reference, _ = loaded[name]
    ids = np.array([reference["greedy_ids"][:24]])
    with tt.no_grad():
        full, _ = model(ids)
        cache = KVCache.for_model(model, batch_size=1)
        steps = [model(ids[:, :10], kv_cache=cache)[0].data]
        steps += [model(ids[:, t:t + 1], kv_cache=cache)[0].data for t in range(10, 24)]
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full.data, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", CHECKPOINTS)
def test_the_prompt_is_encoded_as_transformers_encodes_it(loaded, name):
    _, reference, directory = loaded[name]
    tokenizer = bpe.from_pretrained(directory)
    ids = tokenizer.input_template.apply(tokenizer.encode(reference["prompt"],
                                                          allowed_special="all"))
    assert ids == reference["prompt_ids"]


@pytest.mark.parametrize("name", CHECKPOINTS)
def test_saved_and_reloaded_the_model_is_the_same(loaded, name, tmp_path):
    model, reference, directory = loaded[name]
    model.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    source = json.loads((directory / "config.json").read_text())
    assert saved["model_type"] == source["model_type"]
    assert saved["architectures"] == source["architectures"]
    for key in ("eos_token_id", "bos_token_id"):
        assert saved.get(key) == source.get(key)
    again = GPT.from_pretrained(tmp_path)
    assert again.config == model.config
    for (name_a, a), (name_b, b) in zip(model.named_parameters(), again.named_parameters()):
        assert name_a == name_b and np.array_equal(a.data, b.data), name_a


@pytest.mark.parametrize("name", ["llama-tiny", "qwen3-sharded-f16"])
def test_saved_in_bfloat16_the_model_is_its_weights_rounded(loaded, name, tmp_path):
    from tinytorch.safetensors import TensorFile, bfloat16_to_float32, float32_to_bfloat16
    model, reference, _ = loaded[name]
    model.save_pretrained(tmp_path / "f32")
    model.save_pretrained(tmp_path / "bf16", dtype="bfloat16")
    assert json.loads((tmp_path / "bf16" / "config.json").read_text())["torch_dtype"] == \
        "bfloat16"
    with TensorFile(tmp_path / "bf16" / "model.safetensors") as tensors:
        assert {tensors.dtype_name(name) for name in tensors} == {"BF16"}
    sizes = [(tmp_path / kind / "model.safetensors").stat().st_size for kind in ("f32", "bf16")]
    assert sizes[1] < 0.51 * sizes[0]
    again = GPT.from_pretrained(tmp_path / "bf16")
    for (name_a, a), (_, b) in zip(model.named_parameters(), again.named_parameters()):
        np.testing.assert_array_equal(b.data, bfloat16_to_float32(float32_to_bfloat16(a.data)),
                                      err_msg=name_a)
    # a model of rounded weights still predicts what the float32 one does, roughly
    logits, _ = again(np.array([reference["prompt_ids"]]))
    assert np.abs(logits.data[0] - np.array(reference["logits"])).max() < 0.1   # 0.037, 0.042
    with pytest.raises(ValueError, match="dtype must be 'float32' or 'bfloat16', got 'int8'"):
        model.save_pretrained(tmp_path / "bad", dtype="int8")
