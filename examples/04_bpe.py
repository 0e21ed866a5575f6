"""04 - Byte-pair encoding: how text becomes token ids.

A language model reads integers, not text. Byte-level BPE gets them in two steps:
  1. the text becomes UTF-8 bytes, so every string is representable with 256 base tokens;
  2. training repeatedly takes the most frequent adjacent pair of tokens and makes it a new
     token, so frequent pieces ("the", " and", "ing") end up as single ids.

Run it:              python examples/04_bpe.py
Smaller and faster:  EXAMPLES_FAST=1 python examples/04_bpe.py
In a debugger:       python -m pdb examples/04_bpe.py, and stop at a line marked
                     `breakpoint:` below (the README's debugger table lists them).
Then read bpe/naive.py (training, the textbook way) and bpe/tokenizer.py (encode, decode).
"""
import os

import bpe

FAST = os.environ.get("EXAMPLES_FAST") == "1"
VOCAB_SIZE = 256 + (30 if FAST else 80) + 1  # bytes + merges + one special token

PARAGRAPH = """\
The tokenizer is the part of a language model that nobody sees. Before the model reads a
single word, the tokenizer cuts the text into pieces and gives each piece a number. The
pieces are not letters and they are not words: they are whatever the training text made
frequent. In English the pieces are often whole words such as " the" or " and", or the
endings that words share, such as "ing" and "tion". A word the tokenizer has never seen is
not a problem: it falls apart into smaller pieces, and in the worst case into single bytes,
so every text can be encoded, even one written in a language the training text never used.
"""

# ---- 1. Text is bytes ----------------------------------------------------------------------
print("== 1. text is bytes ==")
for word in ["the", "thé", "日本"]:
    print(f"{word!r:8} -> UTF-8 bytes {list(word.encode('utf-8'))}")
print("Every string is a sequence of bytes 0..255, so 256 base tokens can encode anything.")

# ---- 2. Pre-splitting ----------------------------------------------------------------------
print("\n== 2. the pattern cuts text into chunks; merges never cross a chunk boundary ==")
sentence = "The pieces aren't words, mostly."
print(f"GPT-4 pattern: {bpe.split_into_chunks(sentence, bpe.GPT4_PATTERN)}")

# ---- 3. Training -----------------------------------------------------------------------------
print(f"\n== 3. training on one paragraph ({len(PARAGRAPH)} characters), "
      f"vocab_size={VOCAB_SIZE} ==")
# breakpoint: `s` into `bpe/train.py`'s train, `ll` to read it, `r` to let it finish, then `n`
#   and `len(tokenizer.merges)`, `list(tokenizer.merges.items())[:3]` (the first merges)
tokenizer = bpe.train(PARAGRAPH, VOCAB_SIZE, special_tokens=["<|endoftext|>"])
print(f"learned {len(tokenizer.merges)} merges; vocabulary size {tokenizer.vocab_size}")
print("the first merges (the most frequent pairs first):")
for (left, right), new_id in list(tokenizer.merges.items())[:10]:
    pieces = bpe.render_merge(tokenizer.token_bytes(left), tokenizer.token_bytes(right))
    print(f"  merge {new_id - 255:2}: ({left}, {right}) -> {new_id}   {pieces}")

# ---- 4. Encoding and decoding ----------------------------------------------------------------
print("\n== 4. encode and decode a sentence ==")
sentence = "The tokenizer cuts the text into pieces."
# breakpoint: `sentence`, then `n` and `ids`, `[tokenizer.decode([i]) for i in ids]` (the pieces)
ids = tokenizer.encode(sentence)
print(f"text:   {sentence!r}")
print(f"ids:    {ids}")
print("pieces: " + " | ".join(bpe.render_token(tokenizer.token_bytes(i)) for i in ids))
print(f"{len(sentence.encode('utf-8'))} bytes -> {len(ids)} tokens")
print(f"decode(encode(text)) == text: {tokenizer.decode(ids) == sentence}")
unseen = "Zebras quizzically vex jumpy wolves."
print(f"an unseen sentence still works, in smaller pieces: "
      f"{len(unseen.encode('utf-8'))} bytes -> {len(tokenizer.encode(unseen))} tokens")

# ---- 5. Special tokens -------------------------------------------------------------------------
print("\n== 5. special tokens ==")
document = "first document<|endoftext|>second document"
end_of_text = tokenizer.special_tokens["<|endoftext|>"]
print(f"<|endoftext|> has id {end_of_text}, the last one")
try:
    tokenizer.encode(document)
except ValueError as err:
    print(f"encode(text) refuses it by default: ValueError: {str(err)[:60]}...")
allowed = tokenizer.encode(document, allowed_special="all")
print(f"allowed_special='all':   one id {end_of_text} in the middle: {end_of_text in allowed}")
as_text = tokenizer.encode(document, disallowed_special=())
print(f"disallowed_special=():   encoded as plain text, {len(as_text)} tokens, "
      f"id {end_of_text} absent: {end_of_text not in as_text}")
print(f"decode of either gives the text back: "
      f"{tokenizer.decode(allowed) == tokenizer.decode(as_text) == document}")
