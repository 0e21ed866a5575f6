"""The logit lens reads the residual stream through the model's own final norm and head."""
import ast
import re
from dataclasses import replace

import numpy as np
import pytest

from gpt import GPT, GPTConfig
from gpt.inspection.lens import (depth_names, lens_table, logit_lens, read_out,
                                 residual_streams, top_guesses)
from gpt.tokenizers import CharTokenizer

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


def test_read_out_is_the_final_norm_then_the_tied_head_by_hand():
    config = replace(CONFIG, bias=False, layer_norm_epsilon=0.25)
    model = GPT(config, seed=6)
    model.transformer.ln_f.weight.data[:] = np.linspace(0.5, 2.0, 24, dtype=np.float32)
    streams = np.random.default_rng(2).standard_normal((2, 1, 3, 24)).astype(np.float32)
    kept = streams.copy()
    logits = read_out(model, streams)
    assert logits.dtype == np.float32 and logits.shape == (2, 1, 3, 37)
    np.testing.assert_array_equal(streams, kept)
    x = streams.astype(np.float64)
    normed = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 0.25)
    wte = model.transformer.wte.weight.data.astype(np.float64)
    expected = (normed * model.transformer.ln_f.weight.data) @ wte.T
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-5)


def test_top_guesses_by_hand():
    logits = np.log(np.array([[0.1, 0.2, 0.3, 0.4], [0.25, 0.25, 0.4, 0.1]]))
    ids, probs = top_guesses(logits, 2)
    np.testing.assert_array_equal(ids, [[3, 2], [2, 0]])      # a tie: the lower id first
    np.testing.assert_allclose(probs, [[0.4, 0.3], [0.4, 0.25]], rtol=1e-12)
    ids, probs = top_guesses(logits.astype(np.float32), 10)   # more than V: all of them
    assert ids.shape == (2, 4) and probs.dtype == np.float64
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=1e-6)


def test_the_lens_table_by_hand():
    tokenizer = CharTokenizer(["a", "b", "\n"])
    lens = np.log(np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.5, 0.45, 0.05]]))
    assert lens_table(lens, tokenizer, 2) == [
        "         top 1       top 2",
        'embed    "a"  0.700  "b"  0.200',
        'block 0  "\\n" 0.600  "b"  0.300',
        'block 1  "a"  0.500  "b"  0.450']
    assert depth_names(3) == ["embed", "block 0", "block 1", "block 2"]


def test_the_lens_command_prints_each_depth_s_guesses(shared_data, capsys):
    from gpt.cli import main
    from gpt.tokenizers import load_tokenizer
    directory = shared_data / "gpt2-tiny"
    assert main(["lens", "--model", str(directory), "--text", "KING RICHARD I",
                 "--top", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ('the next token after "KING RICHARD I" (6 tokens), read out after '
                        "each depth; the last row is the model's prediction")
    assert lines[1].split() == ["top", "1", "top", "2", "top", "3"]
    assert [line[:9].strip() for line in lines[2:]] == ["embed", "block 0", "block 1"]
    # the last row is the model's own prediction: its top 3 and their probabilities
    model, tokenizer = GPT.from_pretrained(directory), load_tokenizer(directory)
    logits, _ = model(np.array([tokenizer.encode("KING RICHARD I")]))
    ids, probs = top_guesses(logits.data[0, -1], 3)
    cells = re.findall(r'(".*?") +(\d\.\d{3})', lines[-1])
    assert [ast.literal_eval(piece) for piece, _ in cells] == [tokenizer.decode([int(i)])
                                                               for i in ids]
    np.testing.assert_allclose([float(p) for _, p in cells], probs, atol=5e-4)


def test_one_position_reads_out_as_in_the_whole_lens():
    model = GPT(CONFIG, seed=6)
    idx = np.random.default_rng(2).integers(0, 37, (1, 6))
    at_position_3 = read_out(model, residual_streams(model, idx)[:, 0, 3])      # (L+1, V)
    assert at_position_3.shape == (CONFIG.n_layer + 1, 37)
    np.testing.assert_allclose(at_position_3, logit_lens(model, idx)[:, 0, 3], rtol=1e-5,
                               atol=1e-6)
