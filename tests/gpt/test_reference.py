"""Our GPT against Hugging Face transformers' numbers for the gpt2-tiny checkpoint."""
import json

import numpy as np
import pytest

from gpt import GPT


@pytest.fixture(scope="module")
def tiny(shared_data):
    directory = shared_data / "gpt2-tiny"
    reference = json.loads((directory / "reference.json").read_text())
    return GPT.from_pretrained(directory), reference


@pytest.mark.parametrize("fused", [True, False])
def test_logits_for_the_prompt_match_hf(tiny, fused):
    model, reference = tiny
    model.config.fused = fused
    logits, _ = model(np.array([reference["prompt_ids"]]))
    expected = np.array(reference["logits"])
    assert logits.shape == (1, *expected.shape)
    np.testing.assert_allclose(logits.data[0], expected, atol=1e-4, rtol=0)
    model.config.fused = True


def test_batch_loss_and_every_gradient_norm_match_hf(tiny):
    model, reference = tiny
    batch_ids = np.array(reference["batch_ids"])                   # (4, 33)
    model.zero_grad()
    _, loss = model(batch_ids[:, :-1], batch_ids[:, 1:])
    assert abs(loss.item() - reference["batch_loss"]) <= 1e-5
    loss.backward()
    grads = {name: p.grad for name, p in model.named_parameters()}
    assert set(grads) == set(reference["grad_norms"])
    for name, expected in reference["grad_norms"].items():
        norm = float(np.linalg.norm(grads[name].astype(np.float64)))
        assert abs(norm - expected) <= 1e-3 * expected, name
    model.zero_grad()


@pytest.mark.parametrize("use_cache", [True, False])
def test_greedy_continuation_matches_hf(tiny, use_cache):
    model, reference = tiny
    prompt = np.array([reference["prompt_ids"]])
    n_new = len(reference["greedy_ids"]) - prompt.shape[1]
    out = model.generate(prompt, n_new, temperature=0, use_cache=use_cache)
    assert out.dtype == np.int64
    assert out[0].tolist() == reference["greedy_ids"]


def test_greedy_text_decodes_with_the_checkpoint_tokenizer(tiny, shared_data):
    import bpe
    _, reference = tiny
    tokenizer = bpe.from_pretrained(shared_data / "gpt2-tiny")
    assert tokenizer.decode(reference["greedy_ids"]) == reference["greedy_text"]
