"""Which tokenizer class transformers 5.24's AutoTokenizer builds for a directory, and what bpe
refuses: checked against tests/fixtures/hf-tokenizers/class_resolution.json (made by
transformers) and against ids transformers gave for hand-made directories."""
import json
import re
import shutil
from pathlib import Path

import pytest

import bpe
from bpe.tokenizer_classes import (CLASSES, FORCED_BY_MODEL_TYPE, REGISTERED_CLASSES,
                                   tokenizer_class_of)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RESOLUTION = json.loads((FIXTURES / "hf-tokenizers" / "class_resolution.json")
                        .read_text(encoding="utf-8"))
LLAMA3 = FIXTURES / "hf" / "llama3-rope-scaled-tied"
KNOWN_NAMES = set(CLASSES) | {"PreTrainedTokenizerFast", "PreTrainedTokenizer",
                              "LlamaTokenizer"}


def directory_with(tmp_path, tokenizer_config=None, model_config=None, source=LLAMA3):
    """tmp_path holding `source`'s tokenizer.json, and the given tokenizer_config.json and
    config.json (none where None)."""
    shutil.copy(source / "tokenizer.json", tmp_path / "tokenizer.json")
    for name, document in (("tokenizer_config.json", tokenizer_config),
                           ("config.json", model_config)):
        path = tmp_path / name
        path.unlink(missing_ok=True)
        if document is not None:
            path.write_text(json.dumps(document), encoding="utf-8")
    return tmp_path


def test_the_class_for_every_model_type_and_name_is_the_one_transformers_builds(tmp_path):
    for model_type, named, built in RESOLUTION["rows"]:
        config = {} if named is None else {"tokenizer_class": named}
        (tmp_path / "config.json").unlink(missing_ok=True)
        if model_type is not None:
            (tmp_path / "config.json").write_text(json.dumps({"model_type": model_type}))
        try:
            assert tokenizer_class_of(tmp_path, config).name == built, (model_type, named)
        except ValueError as err:
            # refused, naming a class bpe does not know: the one transformers built, or a name
            # transformers does not know either (it then falls back to TokenizersBackend)
            refused = re.search(r"builds the tokenizer class (\w+)", str(err)).group(1)
            assert refused not in CLASSES and refused in (built, named), (model_type, named)


def test_every_model_type_in_the_table_was_checked_against_transformers():
    checked = {model_type for model_type, _, _ in RESOLUTION["rows"]}
    assert set(REGISTERED_CLASSES) <= checked
    assert FORCED_BY_MODEL_TYPE <= set(REGISTERED_CLASSES)
    assert {name for _, name, _ in RESOLUTION["rows"]} >= KNOWN_NAMES - {"PreTrainedTokenizer"}


@pytest.mark.parametrize("named, built", [
    ("PreTrainedTokenizerFast", "TokenizersBackend"),   # a generic name cannot be overridden
    ("LlamaTokenizerFast", "TokenizersBackend"),        # ... nor LlamaTokenizer on byte level
])
def test_a_model_type_bpe_does_not_know_is_fine_where_it_cannot_matter(tmp_path, named, built):
    directory_with(tmp_path, model_config={"model_type": "brand_new"})
    assert tokenizer_class_of(tmp_path, {"tokenizer_class": named}).name == built


@pytest.mark.parametrize("tokenizer_config", [{"tokenizer_class": "GPT2Tokenizer"}, {}])
def test_a_model_type_bpe_does_not_know_is_refused_where_it_decides(tmp_path, tokenizer_config):
    directory_with(tmp_path, tokenizer_config, {"model_type": "brand_new"})
    with pytest.raises(ValueError, match="config.json: model_type 'brand_new': which "
                                         "tokenizer class transformers builds"):
        bpe.from_pretrained(tmp_path)


@pytest.mark.parametrize("tokenizer_config, model_config, message", [
    ({"tokenizer_class": "BertTokenizer"}, None,
     "transformers builds the tokenizer class BertTokenizer here \\(tokenizer_class "
     "'BertTokenizer', no model_type\\), whose own pipeline bpe does not know"),
    ({}, {"model_type": "siglip2"}, "builds the tokenizer class Siglip2Tokenizer"),
    ({"tokenizer_class": "PreTrainedTokenizerFast", "auto_map": {"AutoTokenizer": ["a.B", None]}},
     None, "tokenizer_config.json: auto_map names tokenizer code of the checkpoint's own"),
    ({"tokenizer_class": 7}, None, "tokenizer_config.json: tokenizer_class should be a string"),
    ({}, {"model_type": ["llama"]}, "config.json: model_type should be a string"),
    ({"tokenizer_class": "GPT2Tokenizer", "add_prefix_space": "yes"}, None,
     "tokenizer_config.json: add_prefix_space should be true or false, not 'yes'"),
    ({"bos_token": 5}, None, "tokenizer_config.json: bos_token should be a string or a token"),
    ({"additional_special_tokens": "<x>"}, None, "extra special tokens should be a list"),
])
def test_what_could_change_the_ids_and_is_not_known_is_refused_by_name(
        tmp_path, tokenizer_config, model_config, message):
    directory_with(tmp_path, tokenizer_config, model_config)
    with pytest.raises(ValueError, match=message):
        bpe.from_pretrained(tmp_path)


def test_an_auto_map_for_other_auto_classes_does_not_matter(tmp_path):
    directory_with(tmp_path, {"tokenizer_class": "PreTrainedTokenizerFast",
                              "auto_map": {"AutoProcessor": "processing.P"}})
    assert bpe.from_pretrained(tmp_path).built_as == "TokenizersBackend"


def test_a_broken_config_json_is_named(tmp_path):
    directory_with(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="config.json is not a model config"):
        bpe.from_pretrained(tmp_path)


@pytest.mark.parametrize("named, expected", [
    ("PreTrainedTokenizerFast", [257, 275, 78]),      # the file's ByteLevel: no prefix space
    ("GPT2Tokenizer", [296, 275, 78]),                # ByteLevel(add_prefix_space=true): " hello"
])
def test_the_generic_class_ignores_add_prefix_space_a_rebuilding_class_takes_it(
        tmp_path, named, expected):
    # transformers 5.24's AutoTokenizer("hello") on the same directory
    directory_with(tmp_path, {"tokenizer_class": named, "add_prefix_space": True})
    assert bpe.from_pretrained(tmp_path).encode("hello") == expected


def test_the_file_as_written_is_kept_for_save_pretrained(tmp_path):
    source = FIXTURES / "hf-tokenizers" / "gpt2-class-smollm2"
    tokenizer = bpe.from_pretrained(source)
    out = tmp_path / "saved"
    out.mkdir()
    bpe.save_pretrained(tokenizer, out)
    written = json.loads((out / "tokenizer.json").read_text(encoding="utf-8"))
    assert written == json.loads((source / "tokenizer.json").read_text(encoding="utf-8"))
    assert written["pre_tokenizer"]["pretokenizers"][0]["type"] == "Digits"


# ---- GPT-2's vocab.json + merges.txt: read as GPT2Tokenizer, or refused ----

def gpt2_directory(tmp_path, gpt2_tiny_dir, tokenizer_config=None, model_config=None):
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(gpt2_tiny_dir / name, tmp_path / name)
    for name, document in (("tokenizer_config.json", tokenizer_config),
                           ("config.json", model_config)):
        if document is not None:
            (tmp_path / name).write_text(json.dumps(document))
    return tmp_path


def test_gpt2_files_take_add_prefix_space(tmp_path, gpt2_tiny_dir):
    # transformers 5.24's AutoTokenizer on gpt2-tiny's files with this config
    directory = gpt2_directory(tmp_path, gpt2_tiny_dir, {"add_prefix_space": True},
                               {"model_type": "gpt2"})
    tokenizer = bpe.from_pretrained(directory)
    assert tokenizer.encode("hello world") == [293, 274, 79, 264, 271, 313]
    saved = tmp_path / "saved"
    saved.mkdir()
    bpe.save_pretrained(tokenizer, saved)
    assert bpe.from_pretrained(saved).encode("hello world") == [293, 274, 79, 264, 271, 313]


@pytest.mark.parametrize("tokenizer_config, model_config, built", [
    ({"tokenizer_class": "Qwen2Tokenizer"}, None, "Qwen2Tokenizer"),
    ({}, {"model_type": "qwen3"}, "Qwen2Tokenizer"),
    ({"tokenizer_class": "PreTrainedTokenizerFast"}, None, "TokenizersBackend"),
    ({"tokenizer_class": "LlamaTokenizerFast"}, {"model_type": "llama"}, "LlamaTokenizer"),
])
def test_gpt2_files_another_class_would_read_are_refused(tmp_path, gpt2_tiny_dir,
                                                         tokenizer_config, model_config, built):
    directory = gpt2_directory(tmp_path, gpt2_tiny_dir, tokenizer_config, model_config)
    with pytest.raises(ValueError, match=f"transformers reads vocab.json \\+ merges.txt as "
                                         f"{built}, not as GPT2Tokenizer"):
        bpe.from_pretrained(directory)
