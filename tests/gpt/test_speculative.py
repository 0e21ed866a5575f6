"""Speculative decoding: with temperature 0, exactly the large model's greedy output whatever
the draft (a random one included) on every architecture the project loads; with sampling, each
token distributed as the large model alone would draw it (chi-square tests, fixed seeds)."""
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

import tinytorch as tt
from gpt import GPT, GPTConfig
from gpt.sampling import sampling_probs
from gpt.speculative import speculative_generate, verify_token

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hf"
OPEN_MODELS = ["llama3-rope-scaled-tied", "llama-mqa-headdim", "qwen2", "qwen3-sharded-f16",
               "smollm-digits"]
# chi-square critical values at p = 0.001 (tables; a correct sampler fails 1 run in 1000,
# and the seeds are fixed, so a run that passes always passes)
CHI2_CRITICAL = {3: 16.266, 8: 26.124, 15: 37.697}          # {degrees of freedom: value}


@pytest.fixture(scope="module")
def checkpoints(shared_data):
    paths = {"gpt2-tiny": shared_data / "gpt2-tiny", "llama-tiny": shared_data / "llama-tiny"}
    paths.update({name: FIXTURES / name for name in OPEN_MODELS})
    return {name: GPT.from_pretrained(path) for name, path in paths.items()}


def random_draft(model, seed):
    """An untrained one-layer model of the same family and vocabulary: a bad draft."""
    return GPT(dataclasses.replace(model.config, n_layer=1), seed=seed)


def prompts_of(name, model):
    reference = FIXTURES / name / "reference.json"
    if reference.is_file():
        ids = json.loads(reference.read_text(encoding="utf-8"))["prompt_ids"][:7]
    else:
        ids = list(np.random.default_rng(1).integers(0, model.config.vocab_size, 7))
    return np.array([ids, ids[::-1]])


@pytest.mark.parametrize("name", ["gpt2-tiny", "llama-tiny"] + OPEN_MODELS)
@pytest.mark.parametrize("draft_kind, k", [("random", 3), ("itself", 4), ("random", 1)])
def test_greedy_output_is_the_large_models_whatever_the_draft(checkpoints, name, draft_kind, k):
    model = checkpoints[name]
    draft = model if draft_kind == "itself" else random_draft(model, seed=k)
    idx = prompts_of(name, model)
    greedy = model.generate(idx, 24, temperature=0)
    out, stats = speculative_generate(model, draft, idx, 24, k, temperature=0,
                                      return_stats=True)
    assert np.array_equal(out, greedy)
    assert np.array_equal(model.generate(idx, 24, temperature=0, draft_model=draft,
                                         num_draft_tokens=k), greedy)
    if draft_kind == "itself":                  # a draft that is the model is always right
        assert stats.acceptance_rate == 1.0 and stats.tokens_per_round > k


def test_greedy_with_eos_pads_and_stops_as_generate_does(checkpoints):
    model = checkpoints["gpt2-tiny"]
    idx = prompts_of("gpt2-tiny", model)
    newline = 199                                   # a newline ends lines early on this model
    greedy = model.generate(idx, 30, temperature=0, eos_token_id=[newline, 12])
    out = model.generate(idx, 30, temperature=0, eos_token_id=[newline, 12],
                         draft_model=random_draft(model, 5), num_draft_tokens=3)
    assert out.shape[1] < idx.shape[1] + 30         # every row ended before the limit
    assert np.array_equal(out, greedy)


def test_on_token_sees_each_token_and_can_stop(checkpoints):
    model = checkpoints["llama-tiny"]
    idx = prompts_of("llama-tiny", model)[:1]
    seen = []
    out = model.generate(idx, 20, temperature=0, draft_model=model,
                         on_token=lambda token: seen.append(int(token[0])) or len(seen) == 6)
    assert seen == out[0, idx.shape[1]:].tolist() and len(seen) == 6


def peaked_pair(vocab_size=4):
    """A large model and a draft with sharp, different next-token distributions (scaled-up
    random weights), in float64: the test has power only if p and q differ."""
    models = []
    for seed in (3, 4):
        model = GPT(GPTConfig(vocab_size=vocab_size, block_size=8, n_layer=1, n_head=2,
                              n_embd=8), seed=seed).to(np.float64)
        model.transformer.wte.weight.data *= 8.0
        models.append(model)
    return models


def two_token_probabilities(model, prompt, temperature, top_k):
    """The exact joint distribution (V * V,) of the first two new tokens under `model`."""
    V = model.config.vocab_size
    with tt.no_grad():
        first_logits, _ = model(prompt)
        first = sampling_probs(first_logits.data[:, -1], temperature, top_k)[0]        # (V,)
        rows = np.concatenate([np.repeat(prompt, V, axis=0), np.arange(V)[:, None]], axis=1)
        second_logits, _ = model(rows)
        second = sampling_probs(second_logits.data[:, -1], temperature, top_k)        # (V, V)
    return (first[:, None] * second).ravel()


def chi_square(counts, probs):
    """Pearson's statistic over the cells of positive probability (a cell of probability 0
    must stay empty)."""
    assert counts[probs == 0].sum() == 0
    expected = counts.sum() * probs[probs > 0]
    return float(((counts[probs > 0] - expected) ** 2 / expected).sum())


@pytest.mark.parametrize("temperature, top_k", [(1.0, None), (0.8, 3)])
def test_sampled_tokens_are_distributed_as_the_large_model_draws_them(temperature, top_k):
    model, draft = peaked_pair()
    prompt = np.array([[1, 2, 0]])
    p = two_token_probabilities(model, prompt, temperature, top_k)
    q = two_token_probabilities(draft, prompt, temperature, top_k)
    assert 0.5 * np.abs(p - q).sum() > 0.3                # the draft alone would fail badly
    n = 2000
    out = speculative_generate(model, draft, np.repeat(prompt, n, axis=0), 2, 2,
                               temperature=temperature, top_k=top_k, seed=3)
    counts = np.bincount(out[:, 3] * 4 + out[:, 4], minlength=16).astype(float)
    assert chi_square(counts, p) < CHI2_CRITICAL[int((p > 0).sum()) - 1]
    assert 0.5 * np.abs(counts / n - p).sum() < 0.05          # and far from the draft's q


def test_verify_token_accepts_with_min_one_p_over_q_and_resamples_the_rest():
    p = np.array([0.5, 0.1, 0.3, 0.1, 0.0])
    q = np.array([0.1, 0.5, 0.1, 0.2, 0.1])
    generator = np.random.default_rng(0)
    n = 20000
    drafts = generator.choice(5, size=n, p=q)
    results = [verify_token(p, q, token, generator) for token in drafts]
    emitted = np.bincount([token for _, token in results], minlength=5).astype(float)
    assert emitted[4] == 0                                    # p says never
    assert chi_square(emitted, p) < CHI2_CRITICAL[3]           # 4 possible tokens
    accepted = np.array([ok for ok, _ in results])
    # acceptance probability sum_x min(p, q) = 0.1 + 0.1 + 0.1 + 0.1 + 0 = 0.4
    assert abs(accepted.mean() - 0.4) < 0.015
    # a draft of token 0 (p/q = 5) is always accepted; token 1 (p/q = 0.2) one time in five
    assert accepted[drafts == 0].all()
    assert abs(accepted[drafts == 1].mean() - 0.2) < 0.02


def test_a_draft_of_another_vocabulary_is_refused_naming_both_sizes(checkpoints):
    model = checkpoints["qwen2"]                   # 320 embedding rows for 304 tokens
    draft = GPT(dataclasses.replace(model.config, vocab_size=304, n_layer=1), seed=0)
    with pytest.raises(ValueError, match="draft model's vocabulary has 304 tokens and the "
                                         "model's 320"):
        model.generate(np.array([[1, 2]]), 3, draft_model=draft)


@pytest.mark.parametrize("arguments, message", [
    (dict(use_cache=False), "needs use_cache=True"),
    (dict(num_draft_tokens=0), "num_draft_tokens must be at least 1"),
    (dict(num_draft_tokens=2.5), "num_draft_tokens must be an integer"),
    (dict(num_beams=2), "does not combine with num_beams=2"),
])
def test_speculative_arguments_are_checked(arguments, message):
    model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8), seed=0)
    with pytest.raises((ValueError, TypeError), match=message):
        model.generate(np.array([[1, 2]]), 3, draft_model=model, **arguments)


def test_num_draft_tokens_without_a_draft_and_a_context_too_short_are_errors():
    model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8), seed=0)
    with pytest.raises(ValueError, match="applies to speculative decoding only"):
        model.generate(np.array([[1, 2]]), 3, num_draft_tokens=2)
    with pytest.raises(ValueError, match="need a context of 9, and the model's block_size is 8"):
        model.generate(np.array([[1, 2, 3]]), 7, draft_model=model)
    with pytest.raises(TypeError, match="draft_model must be a GPT"):
        model.generate(np.array([[1, 2]]), 3, draft_model="small")
    with pytest.raises(ValueError, match="on_token streams one row's tokens"):
        model.generate(np.array([[1, 2], [3, 4]]), 3, draft_model=model, on_token=print)
