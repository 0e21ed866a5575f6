"""The explainer's JSON API, served in-process on an ephemeral port and asked with urllib: what
the page is told is checked against the model, gpt.sampling and gpt.generate, not only that
it answers; bad requests get one line, never a traceback."""
import http.client
import io
import json
import math
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from configparser import ConfigParser
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import bpe
from gpt import GPT, GPTConfig
from gpt.cli import main
from gpt.generate import next_logits
from gpt.inspection.attention_maps import attention_weights
from gpt.inspection.explain import EXAMPLE_PROMPT, Explainer, ExplainServer
from gpt.inspection.explain.explainer import filtered
from gpt.inspection.explain.server import MOST_BODY_BYTES, STATIC
from gpt.sampling import sampling_probs, softmax, top_k_filter
from gpt.tokenizers import CharTokenizer, save_tokenizer, token_ids_config

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, "
          "speak.\n\nFirst Citizen:\nYou are all resolved rather to die than to famish?\n") * 8
CONFIG = GPTConfig(vocab_size=300, block_size=48, n_layer=2, n_head=3, n_embd=24)


@pytest.fixture(scope="module")
def tokenizer():
    return bpe.train(CORPUS, 300, pattern=bpe.GPT2_PATTERN, special_tokens=["<|endoftext|>"])


@pytest.fixture(scope="module")
def model():
    return GPT(CONFIG, seed=3)


@pytest.fixture(scope="module")
def explainer(model, tokenizer):
    return Explainer(model, tokenizer, "tiny")


def serving(explainer, log=None):
    """A server on a free port in a thread of this process; stop it with stop(server)."""
    server = ExplainServer(explainer, "127.0.0.1", 0, log=log)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def stop(server):
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def server(explainer):
    server = serving(explainer)
    yield server
    stop(server)


def ask(server, path, body=None, raw=None):
    """(status, the answer as JSON) for a GET (no body) or a POST of `body` as JSON (or of
    the bytes `raw`)."""
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(server.url.rstrip("/") + path, data=data,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def answer(server, path, body=None):
    status, result = ask(server, path, body)
    assert status == 200, result
    return result


def token_bytes(tokens):
    return b"".join(bytes.fromhex(token["bytes"]) for token in tokens)


# ----- tokens --------------------------------------------------------------------------------

@pytest.mark.parametrize("prompt", [
    "First Citizen:\nBefore we proceed",
    "  two spaces,\ta tab,\n\nand two newlines",
    "naïve café: 東京 🙂",                         # characters split across byte tokens
    "a literal <|endoftext|> token",
])
def test_the_tokens_decode_to_the_prompt(server, tokenizer, prompt):
    result = answer(server, "/api/tokens", {"prompt": prompt})
    ids = tokenizer.encode(prompt, allowed_special="all")
    assert result["ids"] == ids == [token["id"] for token in result["tokens"]]
    assert token_bytes(result["tokens"]).decode("utf-8") == prompt
    assert result["dropped"] == [] and result["notes"] == [] and result["added"] == 0
    for token in result["tokens"]:
        raw = bytes.fromhex(token["bytes"])
        assert token["complete"] == (raw.decode("utf-8", errors="ignore").encode() == raw)
        assert token["special"] == (token["id"] == tokenizer.special_tokens["<|endoftext|>"])


@given(st.text(min_size=1, max_size=80))
def test_any_text_is_its_tokens_however_it_is_cropped(explainer, prompt):
    sequence = explainer.sequence(prompt)
    tokens = explainer.tokens(sequence)
    assert token_bytes(tokens["dropped"] + tokens["tokens"]) == prompt.encode("utf-8")
    assert len(tokens["tokens"]) == min(CONFIG.block_size, len(sequence.dropped) +
                                        len(sequence.ids))
    assert bool(sequence.notes) == bool(sequence.dropped)


def test_a_token_that_is_part_of_a_character_says_so(server):
    tokens = answer(server, "/api/tokens", {"prompt": "🙂"})["tokens"]
    assert len(tokens) > 1 and not any(token["complete"] for token in tokens)
    assert token_bytes(tokens) == "🙂".encode()


def test_a_prompt_longer_than_the_context_is_cropped_and_says_so(server, tokenizer):
    prompt = CORPUS[:200]
    ids = tokenizer.encode(prompt)
    assert len(ids) > CONFIG.block_size
    result = answer(server, "/api/tokens", {"prompt": prompt})
    assert result["ids"] == ids[-CONFIG.block_size:]
    assert [token["id"] for token in result["dropped"]] == ids[:-CONFIG.block_size]
    assert token_bytes(result["dropped"] + result["tokens"]).decode() == prompt
    (note,) = result["notes"]
    assert f"{len(ids)} tokens" in note and f"context is {CONFIG.block_size}" in note
    assert f"first {len(ids) - CONFIG.block_size}" in note
    # every panel works on the same cropped tokens and says so
    lens = answer(server, "/api/lens", {"prompt": prompt})
    assert lens["notes"] == [note] and lens["position"] == CONFIG.block_size - 1


def test_ids_are_taken_as_they_are(server):
    result = answer(server, "/api/tokens", {"ids": [5, 299, 0]})
    assert [token["id"] for token in result["tokens"]] == [5, 299, 0]


def test_the_input_template_is_put_around_the_prompt(model, tokenizer):
    llama_like = bpe.train(CORPUS, 299, pattern=bpe.GPT2_PATTERN,
                           special_tokens=["<|begin_of_text|>"])
    llama_like.input_template = bpe.InputTemplate(before=(298,), after=())
    explainer = Explainer(model, llama_like)
    sequence = explainer.sequence("Speak")
    assert sequence.ids[0] == 298 and sequence.added == 1
    tokens = explainer.tokens(sequence)["tokens"]
    assert tokens[0]["special"] and token_bytes(tokens[1:]) == b"Speak"


# ----- attention -----------------------------------------------------------------------------

def test_every_attention_row_sums_to_one_and_never_looks_ahead(server, model, tokenizer):
    prompt = "You are all resolved rather to die"
    ids = np.array([tokenizer.encode(prompt)])
    T = ids.shape[1]
    for layer in range(CONFIG.n_layer):
        for head in range(CONFIG.n_head):
            result = answer(server, "/api/attention",
                            {"prompt": prompt, "layer": layer, "head": head})
            weights = np.array(result["weights"])
            assert weights.shape == (T, T) and (result["layer"], result["head"]) == (layer, head)
            np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=0, atol=1e-6)
            assert np.all(weights[np.triu_indices(T, k=1)] == 0.0)
            np.testing.assert_array_equal(weights,
                                          attention_weights(model, ids, layer)[0, head])


def test_layer_0_attention_is_softmax_of_q_k_by_hand(server, model, tokenizer):
    """Layer 0's map worked out in float64 from the weights: embeddings, ln_1, q and k from
    c_attn, softmax(q k^T / sqrt(D)) under the causal mask."""
    prompt = "Speak, speak."
    ids = tokenizer.encode(prompt)
    T, C, D = len(ids), CONFIG.n_embd, CONFIG.n_embd // CONFIG.n_head
    body, block = model.transformer, model.transformer.h[0]
    x = body.wte.weight.data[ids].astype(np.float64) + body.wpe.weight.data[:T]
    normed = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    normed = normed * block.ln_1.weight.data + block.ln_1.bias.data
    qkv = normed @ block.attn.c_attn.weight.data.T.astype(np.float64) + block.attn.c_attn.bias.data
    for head in range(CONFIG.n_head):
        q = qkv[:, head * D:(head + 1) * D]
        k = qkv[:, C + head * D:C + (head + 1) * D]
        scores = q @ k.T / math.sqrt(D) + np.triu(np.full((T, T), -np.inf), k=1)
        expected = np.exp(scores - scores.max(-1, keepdims=True))
        expected /= expected.sum(-1, keepdims=True)
        weights = answer(server, "/api/attention",
                         {"prompt": prompt, "layer": 0, "head": head})["weights"]
        np.testing.assert_allclose(weights, expected, rtol=1e-4, atol=1e-6)


# ----- the logit lens ------------------------------------------------------------------------

def test_the_last_row_of_the_lens_is_the_model_s_own_prediction(server, model, tokenizer):
    prompt = "Before we proceed any"
    ids = np.array([tokenizer.encode(prompt)])
    logits = model(ids)[0].data[0]                                                 # (T, V)
    for position in (None, 0, 2):
        body = {"prompt": prompt, "top": 7}
        if position is not None:
            body["position"] = position
        result = answer(server, "/api/lens", body)
        at = ids.shape[1] - 1 if position is None else position
        expected = softmax(logits[at].astype(np.float64))
        assert result["position"] == at and result["token"]["id"] == ids[0, at]
        assert [row["name"] for row in result["rows"]] == ["embeddings", "block 0", "block 1"]
        last = result["rows"][-1]
        assert result["prediction"]["id"] == last["guesses"][0]["id"] == expected.argmax()
        np.testing.assert_allclose([guess["probability"] for guess in last["guesses"]],
                                   np.sort(expected)[::-1][:7], rtol=1e-5)
        assert last["prediction_rank"] == 1
        for row in result["rows"]:
            assert len(row["guesses"]) == 7
            probabilities = [guess["probability"] for guess in row["guesses"]]
            assert probabilities == sorted(probabilities, reverse=True)
            rank = 1 + sum(guess["probability"] > row["prediction_probability"]
                           for guess in row["guesses"])
            assert row["prediction_rank"] == rank or row["prediction_rank"] > 7


# ----- the next-token distribution -----------------------------------------------------------

def full_distribution(server, prompt, temperature, top_k, top_p):
    """The API's distribution over the whole vocabulary, as arrays by token id."""
    result = answer(server, "/api/distribution",
                    {"prompt": prompt, "temperature": temperature, "top_k": top_k,
                     "top_p": top_p, "show": CONFIG.vocab_size})
    rows = sorted(result["rows"], key=lambda row: row["id"])
    assert [row["id"] for row in rows] == list(range(CONFIG.vocab_size))
    columns = {name: np.array([row[name] for row in rows])
               for name in ("logit", "probability", "tempered", "final", "kept_top_k",
                            "kept_top_p")}
    return result, columns


@pytest.mark.parametrize("temperature, top_k, top_p", [
    (1.0, None, None), (0.7, 5, None), (1.3, None, 0.6), (0.5, 3, 0.5), (2.0, 40, 0.95),
    (1e-300, None, None),              # a tiny temperature: only the best token, no overflow
])
def test_the_distribution_after_filters_is_gpt_sampling_s(server, model, tokenizer,
                                                          temperature, top_k, top_p):
    prompt = "First Citizen:\nYou are"
    result, columns = full_distribution(server, prompt, temperature, top_k, top_p)
    idx = np.array([tokenizer.encode(prompt)])
    logits = next_logits(model, idx)                      # what generation samples from (1, V)
    np.testing.assert_array_equal(columns["logit"], logits[0])
    np.testing.assert_allclose(logits, model(idx)[0].data[:, -1], rtol=1e-5, atol=1e-6)
    expected = sampling_probs(logits, temperature, top_k, top_p)[0]
    np.testing.assert_allclose(columns["final"], expected, rtol=1e-12, atol=0)
    assert math.isclose(columns["final"].sum(), 1.0, abs_tol=1e-12)
    np.testing.assert_allclose(columns["probability"], softmax(logits[0].astype(np.float64)),
                               rtol=1e-12)
    np.testing.assert_allclose(columns["tempered"], sampling_probs(logits, temperature)[0],
                               rtol=1e-12)
    kept_k, kept_p = columns["kept_top_k"].astype(bool), columns["kept_top_p"].astype(bool)
    assert np.all(kept_k >= kept_p) and np.all(kept_p >= (columns["final"] > 0))
    if top_k is not None:
        scaled = logits / temperature
        assert np.array_equal(kept_k, np.isfinite(top_k_filter(scaled, top_k)[0]))
    if top_p is not None:        # the nucleus: the fewest most likely tokens holding top_p
        after_k = np.where(kept_k, columns["tempered"], 0.0)
        after_k /= after_k.sum()
        order = np.argsort(-after_k, kind="stable")
        mass, n = np.cumsum(after_k[order]), kept_p.sum()
        assert kept_p[order[:n]].all() and mass[n - 1] >= top_p - 1e-9
        assert n == 1 or mass[n - 2] < top_p + 1e-9
    assert (result["after_top_k"], result["after_top_p"]) == (kept_k.sum(), kept_p.sum())
    assert result["greedy"] is False


def test_temperature_0_is_greedy(server, model, tokenizer):
    prompt = "First Citizen:\nYou are"
    result, columns = full_distribution(server, prompt, 0, 3, 0.5)
    best = model(np.array([tokenizer.encode(prompt)]))[0].data[0, -1].argmax()
    assert result["greedy"] is True and result["rows"][0]["id"] == best
    assert columns["final"][best] == 1.0 and columns["final"].sum() == 1.0
    assert all(row["kept_top_k"] is None and row["kept_top_p"] is None
               for row in result["rows"])


@given(temperature=st.floats(0.05, 4.0), top_k=st.none() | st.integers(1, 300),
       top_p=st.none() | st.floats(0.01, 1.0))
def test_filtered_keeps_what_sampling_draws_from(temperature, top_k, top_p):
    logits = np.random.default_rng(0).normal(0.0, 3.0, 300)
    kept_k, kept_p, final = filtered(logits, temperature, top_k, top_p)
    np.testing.assert_array_equal(final, sampling_probs(logits[None], temperature, top_k,
                                                        top_p)[0])
    assert math.isclose(final.sum(), 1.0, abs_tol=1e-12)
    assert kept_k.sum() >= min(top_k or 300, 300) and np.all(kept_k >= kept_p)
    assert np.all(final[~kept_p] == 0) and kept_p.sum() >= 1


def test_an_infinite_temperature_makes_every_token_equally_likely(server):
    raw = b'{"prompt": "Speak", "temperature": Infinity, "show": 300, "top_p": 0.5}'
    status, result = ask(server, "/api/distribution", raw=raw)
    assert status == 200, result
    final = np.array([row["final"] for row in result["rows"]])
    assert result["after_top_p"] == 150 and np.count_nonzero(final) == 150
    np.testing.assert_allclose(final[final > 0], 1 / 150, rtol=1e-12)


def test_the_first_rows_are_the_most_likely(server):
    result = answer(server, "/api/distribution", {"prompt": "Speak", "show": 4})
    assert len(result["rows"]) == 4 and result["vocab_size"] == CONFIG.vocab_size
    logits = [row["logit"] for row in result["rows"]]
    assert logits == sorted(logits, reverse=True)


# ----- generation ----------------------------------------------------------------------------

@pytest.mark.parametrize("prompt, settings", [
    ("First Citizen:\n", {"temperature": 0.9, "top_k": 20, "top_p": 0.9}),
    ("Speak", {"temperature": 0}),
])
def test_each_step_adds_one_token_to_the_cache_as_generate_would(server, model, tokenizer,
                                                                  prompt, settings):
    ids = tokenizer.encode(prompt)
    first = answer(server, "/api/step", {"prompt": prompt, "seed": 11, **settings})
    assert first["cache_length"] == len(ids) and first["context"] == CONFIG.block_size
    steps = [first]
    while len(steps) < 5:
        steps.append(answer(server, "/api/step", {"session": first["session"], **settings}))
    assert [step["cache_length"] for step in steps] == list(range(len(ids), len(ids) + 5))
    assert all(step["session"] == first["session"] for step in steps)
    expected = model.generate(np.array([ids]), 5, seed=11, **settings)[0].tolist()
    assert steps[-1]["ids"] == expected
    assert [step["token"]["id"] for step in steps] == expected[len(ids):]
    for step in steps:
        assert 0 < step["probability"] <= 1 and not step["window_slid"]


def test_past_the_context_the_window_slides_and_the_cache_is_rebuilt(server, model, tokenizer):
    ids = tokenizer.encode(CORPUS)[:CONFIG.block_size - 2]
    first = answer(server, "/api/step", {"ids": ids, "seed": 5})
    steps = [first] + [answer(server, "/api/step", {"session": first["session"]})
                       for _ in range(4)]
    block = CONFIG.block_size
    assert [step["cache_length"] for step in steps] == [block - 2, block - 1, block, block,
                                                        block]
    assert [step["window_slid"] for step in steps] == [False, False, False, True, True]
    assert steps[-1]["ids"] == model.generate(np.array([ids]), 5, seed=5)[0].tolist()


def test_a_failed_first_step_starts_no_session(server):
    sessions = server.sessions.last_number
    status, result = ask(server, "/api/step", {"prompt": "Speak", "temperature": -1})
    assert status == 400 and "temperature" in result["error"]
    assert server.sessions.last_number == sessions


# ----- mistakes ------------------------------------------------------------------------------

@pytest.mark.parametrize("path, body, status, fragment", [
    ("/api/tokens", {"prompt": ""}, 400, "the prompt is empty"),
    ("/api/tokens", {}, 400, "give either prompt"),
    ("/api/tokens", {"prompt": "a", "ids": [1]}, 400, "give either prompt"),
    ("/api/tokens", {"prompt": 5}, 400, "prompt must be a text"),
    ("/api/tokens", {"prompt": "\ud800"}, 400, "lone surrogate"),
    ("/api/tokens", {"ids": []}, 400, "non-empty list"),
    ("/api/tokens", {"ids": [1, 300]}, 400, "ids[1] is 300, outside"),
    ("/api/tokens", {"ids": [1, -2]}, 400, "ids[1] must be at least 0"),
    ("/api/tokens", {"ids": [1.5]}, 400, "ids[0] must be an integer"),
    ("/api/tokens", {"prompt": "a", "colour": "red"}, 400, "no field 'colour'"),
    ("/api/attention", {"prompt": "a", "layer": 2}, 400, "layer 2 does not exist"),
    ("/api/attention", {"prompt": "a", "layer": -1}, 400, "layer must be at least 0"),
    ("/api/attention", {"prompt": "a", "head": 3}, 400, "head 3 does not exist"),
    ("/api/attention", {"prompt": "a", "layer": "0"}, 400, "layer must be an integer"),
    ("/api/attention", {"prompt": "a", "head": True}, 400, "head must be an integer"),
    ("/api/lens", {"prompt": "ab", "position": 5}, 400, "position 5 does not exist"),
    ("/api/lens", {"prompt": "a", "top": 0}, 400, "top must be at least 1"),
    ("/api/lens", {"prompt": "a", "top": 51}, 400, "top must be at most 50"),
    ("/api/distribution", {"prompt": "a", "temperature": -1}, 400, "temperature"),
    ("/api/distribution", {"prompt": "a", "top_k": 0}, 400, "top_k must be at least 1"),
    ("/api/distribution", {"prompt": "a", "top_p": 2}, 400, "top_p must be a number in"),
    ("/api/distribution", {"prompt": "a", "show": 301}, 400, "show must be at most 300"),
    ("/api/step", {"session": 999}, 400, "no generation session 999"),
    ("/api/step", {"session": 1, "prompt": "a"}, 400, "give session alone"),
    ("/api/step", {"prompt": "a", "seed": -3}, 400, "seed must be at least 0"),
    ("/api/nothing", {}, 404, "nothing at /api/nothing"),
])
def test_a_mistake_gets_one_line_that_names_it(server, path, body, status, fragment):
    got, result = ask(server, path, body)
    assert (got, list(result)) == (status, ["error"])
    assert fragment in result["error"], result["error"]
    assert "\n" not in result["error"] and "Traceback" not in result["error"]


@pytest.mark.parametrize("raw, status, fragment", [
    (b'{"prompt": "a"', 400, "not valid JSON"),
    (b"", 400, "not valid JSON"),
    (b'["prompt", "a"]', 400, "must be a JSON object"),
    (b'{"prompt": "\xff"}', 400, "not UTF-8"),
    (b'{"prompt": "a", "temperature": NaN}', 400, "temperature"),
])
def test_a_body_that_is_not_a_json_object_is_refused(server, raw, status, fragment):
    got, result = ask(server, "/api/distribution", raw=raw)
    assert got == status and fragment in result["error"], result


def raw_request(server, method, path, headers, body=b""):
    connection = http.client.HTTPConnection(*server.server_address[:2], timeout=60)
    try:
        connection.putrequest(method, path)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_a_body_without_a_length_or_too_long_is_refused(server):
    status, result = raw_request(server, "POST", "/api/tokens", {})
    assert status == 411 and "Content-Length" in result["error"]
    status, result = raw_request(server, "POST", "/api/tokens",
                                 {"Content-Length": str(MOST_BODY_BYTES + 1)})
    assert status == 413 and f"{MOST_BODY_BYTES:,}" in result["error"]
    status, result = raw_request(server, "POST", "/api/tokens", {"Content-Length": "-1"})
    assert status == 400 and "Content-Length" in result["error"]


def test_wrong_methods_and_paths_are_named(server):
    assert ask(server, "/api/tokens")[0] == 405
    status, result = ask(server, "/favicon.ico")
    assert status == 404 and "/api/tokens" in result["error"]
    status, result = raw_request(server, "DELETE", "/api/tokens", {})
    assert status == 405 and "DELETE" in result["error"]


class BrokenExplainer(Explainer):
    """An explainer with a bug in it, as the server must survive one."""

    def lens(self, sequence, position=None, top=5):
        raise RuntimeError("a bug in the lens")


def test_a_bug_is_one_line_for_the_browser_and_a_traceback_for_the_terminal(model, tokenizer):
    log = io.StringIO()
    server = serving(BrokenExplainer(model, tokenizer), log=log)
    try:
        status, result = ask(server, "/api/lens", {"prompt": "Speak"})
        assert status == 500 and list(result) == ["error"]
        assert "RuntimeError: a bug in the lens" in result["error"]
        assert "Traceback" not in result["error"] and "\n" not in result["error"]
        assert "Traceback" in log.getvalue() and "a bug in the lens" in log.getvalue()
        assert ask(server, "/api/tokens", {"prompt": "Speak"})[0] == 200    # still serving
    finally:
        stop(server)


# ----- the page, the model, the server -------------------------------------------------------

def test_the_page_and_its_files_are_served_from_here(server):
    for path, kind in (("/", "text/html"), ("/explain.css", "text/css"),
                       ("/explain.js", "text/javascript")):
        with urllib.request.urlopen(server.url.rstrip("/") + path, timeout=60) as response:
            assert response.headers["Content-Type"].startswith(kind)
            assert "default-src 'self'" in response.headers["Content-Security-Policy"]
            text = response.read().decode("utf-8")
        # nothing from elsewhere (no CDN): the only URL is SVG's namespace, which is a name
        assert text.replace("http://www.w3.org/2000/svg", "").count("://") == 0, path
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    assert 'src="explain.js"' in page and 'href="explain.css"' in page


def test_the_model_is_described(server):
    result = answer(server, "/api/model")
    assert result == {"name": "tiny", "n_layer": 2, "n_head": 3, "n_embd": 24,
                      "block_size": 48, "vocab_size": 300,
                      "parameters": GPT(CONFIG, seed=0).num_parameters(),
                      "example_prompt": EXAMPLE_PROMPT}


def test_the_example_prompt_is_what_the_tokenizer_can_encode(model):
    chars = CharTokenizer(sorted(set(EXAMPLE_PROMPT) - {"r", "s"}))
    explainer = Explainer(model, chars)
    assert explainer.example_prompt == "".join(ch for ch in EXAMPLE_PROMPT
                                               if ch not in "rs")
    assert Explainer(model, chars, example_prompt="Cite").example_prompt == "Cite"
    with pytest.raises(ValueError, match="not in this model's vocabulary"):
        Explainer(model, chars, example_prompt="Cite rs")


def test_a_character_model_shows_characters_and_names_those_it_lacks(model):
    chars = CharTokenizer(sorted(set(EXAMPLE_PROMPT)))
    explainer = Explainer(model, chars)
    tokens = explainer.tokens(explainer.sequence("Cite\n"))["tokens"]
    assert [token["text"] for token in tokens] == ["C", "i", "t", "e", "\n"]
    with pytest.raises(ValueError, match=r"not in this model's vocabulary: \['Q'\]"):
        explainer.sequence("Qi")
    beyond = explainer.token(len(chars.chars) + 5)        # the model has ids its tokenizer lacks
    assert beyond["known"] is False and beyond["bytes"] == ""


def test_port_0_picks_a_free_port_and_a_taken_one_is_named(explainer):
    with ExplainServer(explainer, "127.0.0.1", 0) as first:
        port = first.server_address[1]
        assert port > 0 and first.url == f"http://127.0.0.1:{port}/"
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}: .*--port"):
            ExplainServer(explainer, "127.0.0.1", port)
    with pytest.raises(OSError, match="cannot listen on no-such-host.invalid:0"):
        ExplainServer(explainer, "no-such-host.invalid", 0)


def test_an_address_this_machine_does_not_have_is_blamed_on_the_host_not_the_port(explainer):
    # 192.0.2.1 is kept for documentation (RFC 5737): no machine has it
    with pytest.raises(OSError) as failure:
        ExplainServer(explainer, "192.0.2.1", 8000)
    message = str(failure.value)
    assert message.startswith("cannot listen on 192.0.2.1:8000: ") and "--port" not in message
    assert message.endswith("this machine has no such address: give --host one of its own "
                            "(127.0.0.1, or 0.0.0.0 for all of them)")


def test_the_static_files_are_installed_with_the_package():
    """setup.cfg's package_data covers every file of the page (a wheel carries them)."""
    config = ConfigParser()
    config.read(ROOT / "setup.cfg")
    value = config["options.package_data"]["gpt.inspection.explain"]
    # as setuptools reads the list: one pattern a line, or separated by commas
    patterns = [pattern.strip() for line in value.splitlines() for pattern in line.split(",")
                if pattern.strip()]
    package = ROOT / "gpt" / "inspection" / "explain"
    files = [path.relative_to(package).as_posix() for path in STATIC.iterdir()]
    assert sorted(files) == ["static/explain.css", "static/explain.js", "static/index.html"]
    for name in files:
        assert any(fnmatch(name, pattern) for pattern in patterns), name


# ----- the command ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, model, tokenizer):
    directory = tmp_path_factory.mktemp("explain-model")
    model.save_pretrained(directory, token_ids_config(tokenizer))
    save_tokenizer(tokenizer, directory)
    return directory


def test_the_command_prints_the_url_serves_and_stops_on_ctrl_c(model_dir):
    # A test run started in the background (nohup, &) ignores SIGINT, and a program inherits
    # an ignored signal: give the server Ctrl-C's default, as a terminal would.
    process = subprocess.Popen([sys.executable, "-m", "gpt", "explain", "--model", model_dir,
                                "--port", "0", "--prompt", "Speak, speak."],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        line = process.stdout.readline()
        assert line.startswith(f"Explaining {model_dir} at http://127.0.0.1:"), \
            line + process.stderr.read()
        url = line.split(" at ")[1].split()[0]
        with urllib.request.urlopen(url + "api/model", timeout=60) as response:
            described = json.load(response)
        assert described["example_prompt"] == "Speak, speak."
        assert described["name"] == model_dir.name
    finally:
        process.send_signal(signal.SIGINT)
        try:
            _, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()                      # no server left behind by a failing test
            raise
    assert process.returncode == 128 + signal.SIGINT and "Traceback" not in err


def test_command_mistakes_are_one_line(model_dir, tmp_path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["explain", "--model", str(model_dir), "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot listen on 127.0.0.1:{port}") and err.count("\n") == 1
    assert main(["explain", "--model", str(tmp_path)]) == 1
    assert "config.json" in capsys.readouterr().err
    assert main(["explain", "--model", str(model_dir), "--prompt", ""]) == 1
    assert "--prompt is empty" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["explain", "--model", str(model_dir), "--port", "70000"])
    assert "from 0 to 65535" in capsys.readouterr().err


# ----- gpt2-tiny, against Hugging Face's numbers ---------------------------------------------

def test_gpt2_tiny_tokens_lens_and_distribution_match_hugging_face(shared_data):
    directory = shared_data / "gpt2-tiny"
    reference = json.loads((directory / "reference.json").read_text())
    explainer = Explainer.from_directory(directory)
    sequence = explainer.sequence(reference["prompt"])
    assert list(sequence.ids) == reference["prompt_ids"]
    hf_last = np.array(reference["logits"])[-1].astype(np.float64)                # (V,)
    lens = explainer.lens(sequence)
    assert lens["prediction"]["id"] == hf_last.argmax()
    assert lens["rows"][-1]["guesses"][0]["id"] == hf_last.argmax()
    np.testing.assert_allclose(lens["rows"][-1]["prediction_probability"],
                               softmax(hf_last).max(), atol=1e-5)
    rows = explainer.distribution(sequence, show=explainer.config.vocab_size)["rows"]
    by_id = np.array([row["probability"] for row in sorted(rows, key=lambda r: r["id"])])
    np.testing.assert_allclose(by_id, softmax(hf_last), atol=1e-6)
    greedy = explainer.distribution(sequence, temperature=0)["rows"][0]["id"]
    assert greedy == reference["greedy_ids"][len(reference["prompt_ids"])]
