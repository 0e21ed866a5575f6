"""The logit lens reads the residual stream through the model's own final norm and head."""
from dataclasses import replace

import numpy as np
import pytest

from gpt import GPT, GPTConfig
from gpt.inspection.lens import logit_lens, read_out, residual_streams

CONFIG = GPTConfig(vocab_size=37, block_size=16, n_layer=3, n_head=2, n_embd=24)


@pytest.mark.parametrize("fused", [True, False])
def test_the_last_layer_of_the_lens_is_the_model_s_logits(fused):
    model = GPT(replace(CONFIG, fused=fused), seed=4)
    idx = np.random.default_rng(0).integers(0, 37, (2, 7))
    lens = logit_lens(model, idx)
    assert lens.shape == (CONFIG.n_layer + 1, 2, 7, 37)
    logits, _ = model(idx)
    assert np.array_equal(lens[-1], logits.data)
    assert not np.allclose(lens[0], lens[-1])          # the embeddings alone say something else


def test_the_streams_are_what_the_blocks_pass_on():
    model = GPT(CONFIG, seed=5)
    idx = np.random.default_rng(1).integers(0, 37, (1, 5))
    streams = residual_streams(model, idx)
    body = model.transformer
    x = body.wte(idx) + body.wpe(np.arange(5))
    np.testing.assert_array_equal(streams[0], x.data)
    for i, block in enumerate(body.h):
        x = block(x)
        np.testing.assert_array_equal(streams[i + 1], x.data)


def test_one_position_reads_out_as_in_the_whole_lens():
    model = GPT(CONFIG, seed=6)
    idx = np.random.default_rng(2).integers(0, 37, (1, 6))
    at_position_3 = read_out(model, residual_streams(model, idx)[:, 0, 3])      # (L+1, V)
    assert at_position_3.shape == (CONFIG.n_layer + 1, 37)
    np.testing.assert_allclose(at_position_3, logit_lens(model, idx)[:, 0, 3], rtol=1e-5,
                               atol=1e-6)
