"""Using open checkpoints as a learner who downloaded them would: every command on llama-tiny
(Llama 3's tokenizer, BOS template, untied head), the Qwen2 fixture (q/k/v biases, an embedding
padded past its tokenizer) and the Qwen3 fixture (q/k norms, a head size of its own, float16
shards). Each command runs in-process (gpt.cli.main); what it prints is checked against the
library computing the same thing, and what it writes loads back in the same family's layout.
"""
import contextlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import bpe
import tinytorch as tt
from gpt import GPT, GPTConfig
from gpt.cli import main
from gpt.finetune.classifier import load_classifier
from gpt.finetune.lora import LoRALinear, add_lora, merge_lora
from gpt.hf_checkpoint import llama_tensors
from gpt.inspection.attention_maps import attention_weights
from gpt.inspection.explain import Explainer
from gpt.inspection.lens import logit_lens
from gpt.tokenizers import (encode_prompt, end_of_text_id, load_tokenizer, output_bytes,
                            require_end_of_text, stop_ids)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hf"
FAMILIES = {"llama-tiny": "llama", "qwen2": "qwen2", "qwen3-sharded-f16": "qwen3"}
PROMPT = "ROMEO:\nBut, soft!"
HAM = ["Ok lar, see you at noon", "Where are you now", "I will call you later today",
       "Thanks for the lift home", "See you at the match", "What time is the film"]
SPAM = ["WINNER! Call 0900 now to win", "Free entry to win cash now", "You won a prize, call",
        "URGENT! Claim your reward now", "Txt WIN to 8007 for cash", "Win a free phone today"]


def directory_of(name, shared_data):
    return shared_data / "llama-tiny" if name == "llama-tiny" else FIXTURES / name


def run(*argv):
    """(exit status, stdout, stderr) of `python -m gpt ARGV`, in-process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(arg) for arg in argv])
    return status, out.getvalue(), err.getvalue()


def ok(*argv):
    status, out, err = run(*argv)
    assert status == 0 and err == "", err
    return out


@pytest.fixture(scope="module")
def loaded(shared_data):
    """{name: (model, tokenizer, directory)}, each checkpoint loaded once."""
    return {name: (GPT.from_pretrained(directory_of(name, shared_data)),
                   load_tokenizer(directory_of(name, shared_data)),
                   directory_of(name, shared_data)) for name in FAMILIES}


@pytest.fixture(scope="module")
def data_files(tmp_path_factory):
    """Small spam, instruction and preference files."""
    root = tmp_path_factory.mktemp("data")
    lines = ["Label\tText"] + [f"ham\t{t}" for t in HAM] + [f"spam\t{t}" for t in SPAM]
    (root / "spam.tsv").write_text("\n".join(lines + lines[1:]) + "\n", encoding="utf-8")
    records = [{"instruction": f"Name colour {i}.", "input": "", "output": f"Red {i}."}
               for i in range(20)]
    (root / "records.json").write_text(json.dumps(records), encoding="utf-8")
    pairs = [{"instruction": f"Greet person {i}.", "input": "", "chosen": "Hello, friend.",
              "rejected": "Go away."} for i in range(20)]
    (root / "pairs.json").write_text(json.dumps(pairs), encoding="utf-8")
    return root


# ----- reading: sample, attention, lens, explain -----------------------------------------------

@pytest.mark.parametrize("name", FAMILIES)
def test_sample_continues_the_templated_prompt_as_generate_does(loaded, name):
    model, tokenizer, directory = loaded[name]
    out = ok("sample", "--model", directory, "--prompt", PROMPT, "--max-new-tokens", "12",
             "--temperature", "0")
    ids = encode_prompt(tokenizer, PROMPT)
    begins = ids[0] == tokenizer.special_tokens.get("<|begin_of_text|>")
    assert begins == (name == "llama-tiny")                 # Llama 3's template adds BOS
    greedy = model.generate(np.array([ids]), 12, temperature=0,
                            eos_token_id=stop_ids(tokenizer, model))[0, len(ids):]
    stop = np.atleast_1d(stop_ids(tokenizer, model))
    shown = [i for i in greedy.tolist() if i not in stop]
    assert out == PROMPT + output_bytes(tokenizer, shown).decode("utf-8", "replace") + "\n"


@pytest.mark.parametrize("name", FAMILIES)
def test_sample_with_a_seed_is_reproducible_and_stops_on_the_checkpoints_ids(loaded, name):
    _, tokenizer, directory = loaded[name]
    first = ok("sample", "--model", directory, "--max-new-tokens", "20", "--seed", "4")
    again = ok("sample", "--model", directory, "--max-new-tokens", "20", "--seed", "4")
    assert first == again and len(first) > 1
    # generation_config.json's eos ids (a list for Qwen), not only the tokenizer's
    model, _, _ = loaded[name]
    expected = model.generation_config["eos_token_id"]
    assert stop_ids(tokenizer, model) == expected


@pytest.mark.parametrize("name", FAMILIES)
def test_attention_shows_the_weights_of_the_templated_text(loaded, name):
    model, tokenizer, directory = loaded[name]
    layer, head = 1, model.config.n_head - 1
    out = ok("attention", "--model", directory, "--text", PROMPT, "--layer", layer,
             "--head", head, "--values")
    ids = encode_prompt(tokenizer, PROMPT)
    weights = attention_weights(model, np.array([ids]), layer)[0, head]
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)
    lines = out.splitlines()
    assert lines[0] == f"layer {layer}, head {head}"
    assert len(lines) >= len(ids) + 1
    if name == "llama-tiny":
        assert "'<|begin" in lines[2]                    # the BOS the model sees, first
    status, _, err = run("attention", "--model", directory, "--text", PROMPT, "--head",
                         model.config.n_head)
    assert status == 1 and f"heads 0 to {model.config.n_head - 1}" in err


@pytest.mark.parametrize("name", FAMILIES)
def test_lens_reads_the_templated_text_and_ends_with_the_models_prediction(loaded, name):
    model, tokenizer, directory = loaded[name]
    out = ok("lens", "--model", directory, "--text", PROMPT, "--top", "3")
    ids = encode_prompt(tokenizer, PROMPT)
    assert f"({len(ids)} tokens)" in out.splitlines()[0]     # BOS counted for llama-tiny
    with tt.no_grad():
        logits, _ = model(np.array([ids]))
    best = int(np.argmax(logits.data[0, -1]))
    lens = logit_lens(model, np.array([ids]))
    np.testing.assert_allclose(lens[-1, 0, -1], logits.data[0, -1], atol=1e-4)
    last = out.splitlines()[-1]                          # the model's own prediction first
    name_width = out.splitlines()[1].index("top 1")
    assert last[name_width:].startswith(bpe.render_token(tokenizer.decode_bytes([best])))


@pytest.mark.parametrize("name", FAMILIES)
def test_the_explainer_reads_a_checkpoint_as_the_model_does(loaded, name):
    model, tokenizer, directory = loaded[name]
    explainer = Explainer.from_directory(directory, PROMPT)
    sequence = explainer.sequence(PROMPT)
    assert list(sequence.ids) == encode_prompt(tokenizer, PROMPT)
    shown = explainer.distribution(sequence, temperature=1.0, show=5)
    assert shown["vocab_size"] == model.config.vocab_size          # as wide as the embedding
    with tt.no_grad():
        logits = model(np.array([sequence.ids]))[0].data[0, -1].astype(np.float64)
    assert shown["rows"][0]["id"] == int(np.argmax(logits))
    lens = explainer.lens(sequence, top=3)
    assert lens["prediction"]["id"] == int(np.argmax(logits))
    heat = explainer.attention(sequence, 0, model.config.n_head - 1)
    assert len(heat["weights"]) == len(sequence.ids)


# ----- fine-tuning: each command's output loads back in its family's layout --------------------

def assert_same_family(out_dir, source_dir, architecture_suffix):
    saved = json.loads((Path(out_dir) / "config.json").read_text())
    source = json.loads((Path(source_dir) / "config.json").read_text())
    assert saved["model_type"] == source["model_type"]
    family = source["architectures"][0].replace("ForCausalLM", "")
    assert saved["architectures"] == [family + architecture_suffix]
    return saved


def assert_tokenizer_kept(out_dir, source_dir):
    """The saved tokenizer gives the source's ids, template included."""
    again, source = load_tokenizer(out_dir), load_tokenizer(source_dir)
    assert encode_prompt(again, PROMPT + " <|endoftext|>") == \
        encode_prompt(source, PROMPT + " <|endoftext|>")
    assert again.special_tokens == source.special_tokens


@pytest.mark.parametrize("name, lora", [("llama-tiny", None), ("qwen2", "2"),
                                        ("qwen3-sharded-f16", "2")])
def test_finetune_classify_writes_a_classifier_of_the_same_family(loaded, data_files, tmp_path,
                                                                  name, lora):
    _, _, directory = loaded[name]
    extra = ["--lora-rank", lora] if lora else ["--trainable", "last-block"]
    ok("finetune-classify", "--model", directory, "--data", data_files / "spam.tsv",
       "--out", tmp_path / "out", "--epochs", "1", "--batch-size", "4", *extra)
    assert_same_family(tmp_path / "out", directory, "ForSequenceClassification")
    assert_tokenizer_kept(tmp_path / "out", directory)
    classifier, _ = load_classifier(tmp_path / "out")
    assert not any(isinstance(m, LoRALinear) for _, m in classifier.named_modules())
    assert classifier.config.qk_norm == (name == "qwen3-sharded-f16")
    label, probability = ok("classify", "--model", tmp_path / "out", "--text",
                            "Free cash now").split()
    assert label in ("ham", "spam") and 0.5 <= float(probability) <= 1.0


@pytest.mark.parametrize("name, lora", [("llama-tiny", "2"), ("qwen2", None),
                                        ("qwen3-sharded-f16", "2")])
def test_finetune_instruct_writes_a_model_of_the_same_family(loaded, data_files, tmp_path,
                                                             name, lora):
    model, tokenizer, directory = loaded[name]
    extra = ["--lora-rank", lora] if lora else []
    ok("finetune-instruct", "--model", directory, "--data", data_files / "records.json",
       "--out", tmp_path / "out", "--epochs", "1", "--subset", "2", "--batch-size", "2",
       *extra)
    saved = assert_same_family(tmp_path / "out", directory, "ForCausalLM")
    assert_tokenizer_kept(tmp_path / "out", directory)
    assert saved["eos_token_id"] == require_end_of_text(tokenizer)
    tuned = GPT.from_pretrained(tmp_path / "out")
    assert tuned.config == model.config
    assert tuned.generation_config == model.generation_config        # the checkpoint's own
    changed = [n for (n, a), (_, b) in zip(model.named_parameters(), tuned.named_parameters())
               if not np.array_equal(a.data, b.data)]
    assert changed                                                     # it trained
    if lora:      # LoRA trains the projections only; the norms and embedding stay as they were
        assert all(n.endswith(("c_attn.weight", "c_proj.weight", "c_gate.weight",
                               "c_fc.weight")) for n in changed)
        assert any(n.endswith("mlp.c_gate.weight") for n in changed)
    responses = json.loads((tmp_path / "out" / "test_responses.json").read_text())
    assert responses and all(isinstance(r["model_response"], str) for r in responses)
    ok("sample", "--model", tmp_path / "out", "--prompt", "Hi", "--max-new-tokens", "3")


@pytest.mark.parametrize("name, lora", [("llama-tiny", None), ("qwen3-sharded-f16", "2"),
                                        ("qwen2", "2")])
def test_finetune_preference_writes_a_model_of_the_same_family(loaded, data_files, tmp_path,
                                                               name, lora):
    model, _, directory = loaded[name]
    extra = ["--lora-rank", lora] if lora else []
    ok("finetune-preference", "--model", directory, "--data", data_files / "pairs.json",
       "--out", tmp_path / "out", "--epochs", "1", "--batch-size", "4", *extra)
    assert_same_family(tmp_path / "out", directory, "ForCausalLM")
    assert_tokenizer_kept(tmp_path / "out", directory)
    tuned = GPT.from_pretrained(tmp_path / "out")
    assert tuned.config == model.config


@pytest.mark.parametrize("name", FAMILIES)
def test_the_end_of_text_token_is_the_one_the_family_ends_documents_with(loaded, name):
    _, tokenizer, _ = loaded[name]
    expected = {"llama-tiny": "<|end_of_text|>", "qwen2": "<|endoftext|>",
                "qwen3-sharded-f16": "<|endoftext|>"}[name]
    assert end_of_text_id(tokenizer) == tokenizer.special_tokens[expected]
    model = loaded[name][0]
    assert end_of_text_id(tokenizer) in np.atleast_1d(model.generation_config["eos_token_id"])


# ----- LoRA on every projection, merged back exactly -------------------------------------------

@pytest.mark.parametrize("name", FAMILIES)
def test_lora_wraps_every_projection_and_merges_back_exactly(loaded, name, tmp_path):
    _, _, directory = loaded[name]
    model = GPT.from_pretrained(directory).to(np.float64)
    add_lora(model, rank=2, seed=5)
    wrapped = sorted(n for n, m in model.named_modules() if isinstance(m, LoRALinear))
    parts = ("attn.c_attn", "attn.c_proj", "mlp.c_gate", "mlp.c_fc", "mlp.c_proj")
    assert wrapped == sorted(f"transformer.h.{i}.{part}" for i in range(model.config.n_layer)
                             for part in parts)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(n.endswith(("lora_A", "lora_B")) for n in trainable)
    rng = np.random.default_rng(0)
    for _, module in model.named_modules():
        if isinstance(module, LoRALinear):                 # as if trained: B away from zero
            module.lora_B.data = rng.normal(0, 0.05, module.lora_B.shape)
    ids = np.array([[3, 14, 15, 92, 65, 35, 89, 79]])
    with tt.no_grad():
        adapted = model(ids)[0].data
    merge_lora(model)
    with tt.no_grad():
        merged = model(ids)[0].data
    np.testing.assert_allclose(merged, adapted, rtol=1e-10, atol=1e-10)
    model.to(np.float32).save_pretrained(tmp_path)
    assert set(llama_tensors(GPT.from_pretrained(tmp_path))) == set(llama_tensors(model))


# ----- an embedding wider than the tokenizer (Qwen pads it) ------------------------------------

@pytest.fixture(scope="module")
def padded(tmp_path_factory):
    """A Qwen2-layout model of 320 rows with random weights (so padded ids are likely) and
    the Qwen2 fixture's tokenizer of 304 tokens."""
    directory = tmp_path_factory.mktemp("padded")
    source = FIXTURES / "qwen2"
    config = GPTConfig(vocab_size=320, block_size=64, n_layer=1, n_head=2, n_embd=32,
                       bias=False, norm="rmsnorm", positions="rotary", mlp="swiglu",
                       qkv_bias=True, mlp_hidden=48, tie_embeddings=True)
    model = GPT(config, seed=1)
    wte = model.transformer.wte.weight.data
    wte[304:] *= 40.0                     # the padding rows win often: the case to survive
    model.save_pretrained(directory, {"eos_token_id": 301})
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(source / name, directory / name)
    return directory


def test_the_logits_are_as_wide_as_the_embedding_and_padded_ids_print_as_hf_decodes(padded):
    model, tokenizer = GPT.from_pretrained(padded), load_tokenizer(padded)
    assert tokenizer.vocab_size == 304 and model.config.vocab_size == 320
    ids = encode_prompt(tokenizer, "ROMEO:")
    assert model(np.array([ids]))[0].shape == (1, len(ids), 320)
    drawn = model.generate(np.array([ids]), 30, temperature=1.0, seed=2)[0, len(ids):]
    assert (drawn >= 304).any()         # transformers' generate may draw them too
    out = ok("sample", "--model", padded, "--prompt", "ROMEO:", "--max-new-tokens", "30",
             "--temperature", "1", "--seed", "2")
    # what transformers' decode gives: padded ids stand for no text
    known = [i for i in drawn.tolist() if i < 304 and i != 301]
    assert out == "ROMEO:" + tokenizer.decode(known) + "\n"
    assert output_bytes(tokenizer, [310, 40, 319]) == tokenizer.decode_bytes([40])
    with pytest.raises(ValueError, match="unknown token id"):
        output_bytes(tokenizer, [-1])
    lens = ok("lens", "--model", padded, "--text", "ROMEO:", "--top", "40")
    assert "<padding id " in lens
    explainer = Explainer.from_directory(padded, "ROMEO:")
    rows = explainer.distribution(explainer.sequence("ROMEO:"), show=320)["rows"]
    assert {row["id"] for row in rows if not row["known"]} == set(range(304, 320))


def test_a_tokenizer_larger_than_the_embedding_is_refused_naming_both(tmp_path):
    config = GPTConfig(vocab_size=300, block_size=32, n_layer=1, n_head=2, n_embd=16,
                       bias=False, norm="rmsnorm", positions="rotary", mlp="swiglu",
                       qkv_bias=True, mlp_hidden=32, tie_embeddings=True)
    GPT(config, seed=0).save_pretrained(tmp_path)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(FIXTURES / "qwen2" / name, tmp_path / name)
    with pytest.raises(ValueError, match=r"the tokenizer has ids up to 303 but the model's "
                                         r"vocabulary \(vocab_size in config.json\) has 300"):
        load_tokenizer(tmp_path)
    status, _, err = run("sample", "--model", tmp_path, "--max-new-tokens", "2")
    assert status == 1 and err.startswith("error: ") and "303" in err and "300" in err
    assert len(err.splitlines()) == 1
