"""Added tokens: strings a Hugging Face tokenizer cuts out of the text before BPE sees it.

tokenizer.json lists them under "added_tokens". A "special" one (<|begin_of_text|>, <|im_end|>)
follows tiktoken's rules here: it becomes its id only where `encode` allows it. One that is
not special (Qwen's <tool_call>) is cut out always, as Hugging Face does. Each has four flags:

    lstrip       the match takes the whitespace on its left with it
    rstrip       ... and on its right
    single_word  it matches only where it is not part of a longer word
    normalized   it is looked for in the normalised text (after NFC), not the raw text

Where two tokens could match at the same place, the longer wins (Hugging Face's
leftmost-longest rule, as `bpe.tokenizer` does for special tokens).
"""
from dataclasses import dataclass

import regex

# Rust's char::is_whitespace and is_alphanumeric (+ "_"), which Hugging Face uses.
_WHITESPACE = r"\p{White_Space}*"
_WORD_CHAR = r"[\p{Alphabetic}\p{N}_]"


@dataclass(frozen=True)
class AddedToken:
    content: str
    id: int
    special: bool = True
    lstrip: bool = False
    rstrip: bool = False
    single_word: bool = False
    normalized: bool = False


def added_token_regex(tokens):
    """A regex finding any of `tokens` (AddedToken), longest content first; group i of a match
    is token i's content. None if there are none."""
    tokens = sorted(tokens, key=lambda token: (-len(token.content), token.content))
    if not tokens:
        return None, []
    alternatives = []
    for token in tokens:
        content = f"({regex.escape(token.content)})"
        if token.single_word:
            content = f"(?<!{_WORD_CHAR}){content}(?!{_WORD_CHAR})"
        alternatives.append((_WHITESPACE if token.lstrip else "") + content
                            + (_WHITESPACE if token.rstrip else ""))
    return regex.compile("|".join(alternatives)), tokens


def cut_added_tokens(text, found_regex, tokens):
    """Yield (piece of text, None) and (None, token id) in order, cutting out each match of
    `found_regex` (from `added_token_regex`) with the whitespace its flags take."""
    start = 0
    if found_regex is not None:
        for found in found_regex.finditer(text):
            if found.start() > start:
                yield text[start:found.start()], None
            yield None, tokens[found.lastindex - 1].id
            start = found.end()
    if start < len(text):
        yield text[start:], None
