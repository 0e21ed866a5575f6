"""The regular expressions that cut text into chunks before BPE sees it.

BPE never merges across a chunk boundary, so the pattern decides what a token can be: with
GPT-2's pattern " dog" can become one token but "dog." cannot, because the letters and the
punctuation land in different chunks. The patterns need the `regex` module (the standard
`re` has no \\p{L} letter classes and no possessive quantifiers).
"""
import regex

# GPT-2 (OpenAI's encoder.py). Contractions, then an optional space glued to a run of letters,
# digits or other symbols, then whitespace. `\s+(?!\S)` keeps the last space of a run free to
# start the next word, which is why " world" rather than " " + "world" is a token.
GPT2_PATTERN = (
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
)

# GPT-4 (tiktoken's cl100k_base). Differences from GPT-2: contractions are case-insensitive,
# numbers are split into groups of at most three digits, a letter run may take one leading
# non-letter (so "(word" or "_name" stay together), and newlines get their own rules. The
# possessive quantifiers (`?+`, `++`) never backtrack, which keeps matching linear.
GPT4_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)

# Qwen2 (and Qwen2.5, Qwen3; transformers' Qwen2Tokenizer builds it whatever tokenizer.json
# says): GPT-4's shape, but every digit is a chunk of its own and nothing is possessive.
QWEN2_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)

# Qwen3.5 (transformers' Qwen3_5Tokenizer): Qwen2's, with combining marks (\p{M}) kept in the
# run of letters they follow instead of cut off on their own.
QWEN3_5_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}"""
    r"""| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)

# The names the command line accepts for --pattern; "none" means no pre-splitting at all.
PATTERNS_BY_NAME = {"gpt2": GPT2_PATTERN, "gpt4": GPT4_PATTERN, "none": None}


def split_into_chunks(text, pattern):
    """The chunks of `text` that BPE works on, in order; they concatenate back to `text`.

    `pattern=None` means no pre-splitting: the whole text is one chunk (an empty text gives
    no chunks). A pattern must match every character somewhere, or text would be lost; the
    two patterns above do.
    """
    if pattern is None:
        return [text] if text else []
    return regex.findall(pattern, text)
