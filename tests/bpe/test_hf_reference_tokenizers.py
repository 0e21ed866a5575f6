"""bpe.from_pretrained against every tokenizer reference transformers 5.24 made: the
tokenizer_cases, prompt_ids and text_sample_ids of tests/fixtures/hf/*/, tests/fixtures/
hf-tokenizers/*/ (tokenizer_config.json naming GPT2Tokenizer, Qwen2Tokenizer, ...) and
../shared/data/llama-tiny, one test per fixture and case.

Each case's ids are AutoTokenizer(text, add_special_tokens=False)'s, which
`encode(text, allowed_special="all")` must equal; prompt_ids are AutoTokenizer(prompt)'s, with
the template's BOS, which `tokenizer.input_template` adds."""
import functools
import json
import os
from pathlib import Path

import pytest

import bpe

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
# The directory tests/conftest.py's `shared_data` fixture serves; read here at collection to
# list llama-tiny's cases (without it llama-tiny gets one test, which that fixture skips).
SHARED_DATA = Path(os.environ.get("TINYGPT_SHARED_DATA", ROOT.parent / "shared" / "data"))
SHARED_FIXTURES = {"llama-tiny": SHARED_DATA / "llama-tiny"}


def fixture_directories():
    """name -> directory of every fixture with a tokenizer reference."""
    found = {f"{path.parent.parent.name}/{path.parent.name}": path.parent
             for folder in ("hf", "hf-tokenizers")
             for path in sorted((FIXTURES / folder).glob("*/reference.json"))}
    return {**found, **SHARED_FIXTURES}


def read_reference(directory):
    with open(directory / "reference.json", encoding="utf-8") as file:
        return json.load(file)


def case_params():
    params = []
    for name, directory in fixture_directories().items():
        if not (directory / "reference.json").is_file():
            params.append(pytest.param(name, 0, id=f"{name}-data-missing"))
            continue
        count = len(read_reference(directory)["tokenizer_cases"])
        params += [pytest.param(name, index, id=f"{name}-{index:02d}") for index in range(count)]
    return params


@functools.lru_cache(maxsize=None)
def loaded(name):
    """(tokenizer, reference) of one fixture, read once per session."""
    directory = fixture_directories()[name]
    return bpe.from_pretrained(directory), read_reference(directory)


@pytest.fixture
def reference_tokenizer(request):
    """The fixture a test names, after making sure ../shared/data is there for shared ones."""
    name = request.param
    if name in SHARED_FIXTURES:
        request.getfixturevalue("shared_data")
    return loaded(name)


def test_the_fixtures_are_all_found():
    names = set(fixture_directories())
    assert {"hf/qwen2", "hf/smollm-digits", "hf/gpt2-tokenizer-json", "llama-tiny",
            "hf-tokenizers/gpt2-class-smollm2", "hf-tokenizers/qwen2-class-added-tokens",
            "hf-tokenizers/llama-class-keeps-file"} <= names
    assert len(names) >= 6 + 12 + 1


@pytest.mark.parametrize("reference_tokenizer, index", case_params(),
                         indirect=["reference_tokenizer"])
def test_tokenizer_case(reference_tokenizer, index):
    tokenizer, reference = reference_tokenizer
    case = reference["tokenizer_cases"][index]
    assert tokenizer.encode(case["text"], allowed_special="all") == case["ids"], case["text"]


@pytest.mark.parametrize("reference_tokenizer", list(fixture_directories()), indirect=True)
def test_prompt_with_the_template_and_text_sample(reference_tokenizer):
    tokenizer, reference = reference_tokenizer
    prompt_ids = tokenizer.input_template.apply(tokenizer.encode(reference["prompt"]))
    assert prompt_ids == reference["prompt_ids"]
    assert tokenizer.encode(reference["text_sample"]) == reference["text_sample_ids"]


HF_TOKENIZERS = sorted(name for name in fixture_directories()
                       if name.startswith("hf-tokenizers/"))


@pytest.mark.parametrize("reference_tokenizer", HF_TOKENIZERS, indirect=True)
def test_the_class_transformers_built_and_its_added_tokens(reference_tokenizer):
    tokenizer, reference = reference_tokenizer
    assert tokenizer.built_as == reference["built_class"]
    added = sorted([token.id, token.content, token.special, token.lstrip, token.rstrip,
                    token.single_word, token.normalized] for token in tokenizer.added_tokens)
    assert added == reference["added_tokens"]
    assert tokenizer.vocab_size == reference["vocab_size"]
    specials = {row[1]: row[0] for row in reference["added_tokens"] if row[2]}
    assert tokenizer.special_tokens == specials
    assert tokenizer.ignore_merges == reference["pipeline"]["ignore_merges"]
