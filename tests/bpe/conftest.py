"""Fixtures for the bpe tests: the reference tokenizers, read once per session from
../shared/data through the `shared_data` fixture (which skips, with the reason, without it)."""
import json

import pytest

import bpe


@pytest.fixture(scope="session")
def cl100k_cases(shared_data):
    with open(shared_data / "cl100k_cases.json", encoding="utf-8") as file:
        return json.load(file)


@pytest.fixture(scope="session")
def cl100k(shared_data, cl100k_cases):
    return bpe.from_tiktoken(shared_data / "cl100k_base.tiktoken", cl100k_cases["pattern"],
                             cl100k_cases["special_tokens"])


@pytest.fixture(scope="session")
def gpt2_tiny_dir(shared_data):
    return shared_data / "gpt2-tiny"


@pytest.fixture(scope="session")
def gpt2_tiny(gpt2_tiny_dir):
    return bpe.from_pretrained(gpt2_tiny_dir)


@pytest.fixture(scope="session")
def gpt2_reference(gpt2_tiny_dir):
    with open(gpt2_tiny_dir / "reference.json", encoding="utf-8") as file:
        return json.load(file)


@pytest.fixture(scope="session")
def shakespeare(shared_data):
    return (shared_data / "tinyshakespeare.txt").read_text(encoding="utf-8")
