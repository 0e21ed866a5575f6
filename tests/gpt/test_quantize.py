"""int8 weights: the codes and scales by hand, the model computing exactly what its dequantised
weights compute, the held-out loss of trained checkpoints within 0.01 nats, memory, files."""
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import tinytorch as tt
from gpt import GPT, GPTConfig
from gpt.finetune.lora import apply_lora
from gpt.quantize import (INT8_FILE, Int8Embedding, Int8Linear, dequantize_rows, int8_matmul,
                          load_int8, quantize_int8, quantize_rows, save_int8, weight_bytes)
from tinytorch import nn, safetensors

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hf"
CHECKPOINTS = ["gpt2-tiny", "llama-tiny", "llama3-rope-scaled-tied", "llama-mqa-headdim",
               "qwen2", "qwen3-sharded-f16"]


@pytest.fixture(scope="module")
def checkpoints(shared_data):
    """{name: (float model, int8 model, reference.json)}, each loaded and quantised once."""
    found = {}
    for name in CHECKPOINTS:
        directory = shared_data / name if name.endswith("tiny") else FIXTURES / name
        model = GPT.from_pretrained(directory)
        reference = json.loads((directory / "reference.json").read_text(encoding="utf-8"))
        found[name] = (model, quantize_int8(model), reference)
    return found


def test_quantize_rows_by_hand():
    weight = np.array([[0.5, -1.27, 0.0, 0.004], [0.0, 0.0, 0.0, 0.0], [1e-45, 0, 0, 0]],
                      np.float32)
    q, scale = quantize_rows(weight)
    assert q.dtype == np.int8 and scale.dtype == np.float32
    np.testing.assert_allclose(scale, [0.01, 0.0, 0.0], rtol=1e-6)    # the last underflows
    assert q.tolist() == [[50, -127, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    assert dequantize_rows(q, scale).dtype == np.float32


# weights as models have them: 0, or large enough that max |w| / 127 is a normal float32
WEIGHTS = st.floats(-1e3, 1e3, width=32).filter(lambda w: w == 0 or abs(w) > 1e-30)


@given(arrays(np.float32, st.tuples(st.integers(1, 6), st.integers(1, 9)), elements=WEIGHTS))
def test_each_weight_is_within_half_a_step_and_the_largest_is_exact(weight):
    q, scale = quantize_rows(weight)
    error = np.abs(dequantize_rows(q, scale) - weight)
    assert (error <= scale[:, None] * 0.5 * (1 + 1e-5) + 1e-30).all()
    assert (np.abs(q) <= 127).all()
    nonzero = np.abs(weight).max(axis=1) > 0
    assert (np.abs(q[nonzero]).max(axis=1) == 127).all()


def test_int8_matmul_is_the_product_with_the_dequantised_matrix_across_blocks():
    generator = np.random.default_rng(0)
    weight = generator.normal(size=(2100, 24)).astype(np.float32)    # three blocks of rows
    q, scale = quantize_rows(weight)
    x = generator.normal(size=(2, 3, 24)).astype(np.float32)
    out = int8_matmul(x, q, scale)
    assert out.shape == (2, 3, 2100) and out.dtype == np.float32
    np.testing.assert_allclose(out, x @ dequantize_rows(q, scale).T, rtol=1e-5, atol=1e-5)


def dequantised_twin(model, quantized):
    """A float model holding the int8 model's dequantised weights: what it must compute."""
    twin = GPT(model.config, seed=0)
    twin.load_state_dict(model.state_dict())
    params = dict(twin.named_parameters())
    for name, module in quantized.named_modules():
        if isinstance(module, (Int8Linear, Int8Embedding)):
            params[f"{name}.weight"].data[...] = dequantize_rows(module.q, module.scale)
    return twin


@pytest.mark.parametrize("name", CHECKPOINTS)
def test_the_int8_model_computes_what_its_dequantised_weights_compute(checkpoints, name):
    model, quantized, reference = checkpoints[name]
    idx = np.array([reference["prompt_ids"]])
    with tt.no_grad():
        expected, _ = dequantised_twin(model, quantized)(idx)
        got, _ = quantized(idx)
        original, _ = model(idx)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got.data, expected.data, rtol=1e-4, atol=1e-4)
    assert 0 < np.abs(got.data - original.data).max() < 1.0     # rounded, but not far


@pytest.mark.parametrize("name", CHECKPOINTS)
def test_held_out_loss_moves_by_less_than_a_hundredth_of_a_nat(checkpoints, name):
    model, quantized, reference = checkpoints[name]
    assert "batch_ids" in reference, f"{name}'s reference has no held-out batch"
    batch = np.array(reference["batch_ids"])
    with tt.no_grad():
        _, loss = model(batch[:, :-1], batch[:, 1:])
        _, int8_loss = quantized(batch[:, :-1], batch[:, 1:])
    assert abs(loss.item() - reference["batch_loss"]) < 1e-4
    assert abs(int8_loss.item() - loss.item()) < 0.01


@pytest.mark.parametrize("name, keep_head", [("gpt2-tiny", False), ("gpt2-tiny", True),
                                             ("llama-mqa-headdim", False),
                                             ("llama-mqa-headdim", True)])
def test_every_matrix_is_int8_and_the_head_only_when_asked(checkpoints, name, keep_head):
    model = checkpoints[name][0]
    quantized = quantize_int8(model, keep_head=keep_head)
    linears = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    int8 = {n for n, m in quantized.named_modules() if isinstance(m, (Int8Linear, Int8Embedding))}
    head = "transformer.wte" if model.config.tie_embeddings else "lm_head"
    expected = (set(linears) | {"transformer.wte"}) - ({head} if keep_head else set())
    assert int8 == expected
    assert all(not p.requires_grad for p in quantized.parameters())
    assert all(p.requires_grad for p in model.parameters())        # the original is as it was
    ratio = weight_bytes(model) / weight_bytes(quantized)
    assert ratio > (1.5 if keep_head else 3.0)


def test_memory_counts_codes_scales_and_float_parameters(checkpoints):
    model, quantized, _ = checkpoints["gpt2-tiny"]
    c = model.config
    floats = sum(p.data.nbytes for p in model.parameters())
    matrices = [m.weight for m in model.modules() if isinstance(m, nn.Linear)]
    matrices.append(model.transformer.wte.weight)
    expected = floats - sum(w.data.nbytes for w in matrices) \
        + sum(w.data.size + 4 * w.shape[0] for w in matrices)
    assert weight_bytes(quantized) == expected
    assert weight_bytes(model) == floats and c.vocab_size == model.transformer.wte.weight.shape[0]


def test_saved_and_loaded_int8_model_is_the_same(checkpoints, tmp_path):
    model, quantized, reference = checkpoints["qwen2"]
    save_int8(quantized, tmp_path)
    tensors = safetensors.load_file(tmp_path / INT8_FILE)
    assert tensors["transformer.h.0.attn.c_attn.weight"].dtype == np.int8
    assert tensors["transformer.h.0.attn.c_attn.weight_scale"].dtype == np.float32
    assert tensors["transformer.h.0.attn.c_attn.bias"].dtype == np.float32   # Qwen2's biases
    assert "lm_head.weight" not in tensors                                  # tied: stored once
    loaded = load_int8(tmp_path)
    idx = np.array([reference["prompt_ids"]])
    with tt.no_grad():
        np.testing.assert_array_equal(loaded(idx)[0].data, quantized(idx)[0].data)
    assert loaded.config == dataclasses.replace(quantized.config)


def test_int8_files_that_are_wrong_are_named(checkpoints, tmp_path):
    model, quantized, _ = checkpoints["gpt2-tiny"]
    with pytest.raises(FileNotFoundError, match=INT8_FILE):
        load_int8(tmp_path)
    safetensors.save_file({"x": np.zeros(2, np.float32)}, tmp_path / INT8_FILE)
    with pytest.raises(ValueError, match="not an int8 model"):
        load_int8(tmp_path)
    with pytest.raises(ValueError, match="no int8 layers"):
        save_int8(model, tmp_path)


def test_int8_models_generate_in_every_way(checkpoints):
    model, quantized, reference = checkpoints["llama-tiny"]
    idx = np.array([reference["prompt_ids"]])
    greedy = quantized.generate(idx, 12, temperature=0)
    assert np.array_equal(quantized.generate(idx, 12, temperature=0, use_cache=False), greedy)
    beams = quantized.generate(idx, 8, num_beams=3, num_return_sequences=2)
    assert beams.shape[0] == 2
    # an int8 copy of the model is a draft that agrees with it on most tokens
    assert np.array_equal(model.generate(idx, 12, temperature=0, draft_model=quantized),
                          model.generate(idx, 12, temperature=0))


def test_a_float64_model_gives_a_float64_int8_model():
    config = GPTConfig(vocab_size=13, block_size=8, n_layer=1, n_head=2, n_embd=8)
    model = GPT(config, seed=0).to(np.float64)
    quantized = quantize_int8(model)
    with tt.no_grad():
        logits, _ = quantized(np.array([[1, 2, 3]]))
    assert logits.dtype == np.float64


def test_int8_layers_refuse_gradients_and_lora_models_are_refused():
    config = GPTConfig(vocab_size=13, block_size=8, n_layer=1, n_head=2, n_embd=8)
    layer = Int8Linear.from_linear(nn.Linear(8, 5))
    with pytest.raises(RuntimeError, match="int8 weights, for inference only"):
        layer(tt.tensor(np.ones((1, 8), np.float32), requires_grad=True))
    model = GPT(config, seed=0)
    apply_lora(model, rank=2, generator=np.random.default_rng(0))
    with pytest.raises(ValueError, match="merge_lora"):
        quantize_int8(model)
    with pytest.raises(TypeError, match="takes a GPT"):
        quantize_int8(nn.Linear(2, 2))
    with pytest.raises(IndexError, match="token id 13 is outside the vocabulary of 13"):
        quantize_int8(GPT(config, seed=0))(np.array([[1, 13]]))
