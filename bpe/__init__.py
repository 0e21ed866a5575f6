"""bpe: a byte-level BPE tokenizer in pure Python (standard library + `regex`).

    import bpe
    tok = bpe.train(text, vocab_size=512)              # learn merges from a text
    ids = tok.encode("Hello world")                    # text -> token ids
    tok.decode(ids)                                    # token ids -> text
    tok.save("my.bpe"); tok = bpe.load("my.bpe")       # one human-readable file

    gpt4 = bpe.from_tiktoken("cl100k_base.tiktoken", bpe.GPT4_PATTERN, {"<|endoftext|>": 100257})
    gpt2 = bpe.from_pretrained("gpt2-directory")       # vocab.json + merges.txt
    llama = bpe.from_pretrained("llama-directory")     # tokenizer.json (+ tokenizer_config.json)
    bpe.save_pretrained(tok, "directory")              # the same files, for HF tools

A model's input is more than the text's ids when the checkpoint's template says so: Llama 3
puts <|begin_of_text|> first. `tokenizer.input_template` holds the ids before and after one
text; `tokenizer.input_template.apply(tokenizer.encode(prompt))` is what transformers'
`AutoTokenizer(prompt)["input_ids"]` gives (for tokenizers of our own and tiktoken's, nothing
is added).

Reading order for a learner: patterns.py (how text is cut into chunks), naive.py (training, the
textbook way), train.py (the same, fast), bytepair.py (encoding a chunk by rank), tokenizer.py
(encode/decode, special tokens), files.py (tiktoken and GPT-2 files), model_file.py (our own
file format), readable.py (showing tokens), __main__.py (the command line). Hugging Face's
tokenizer.json: hf_tokenizer.py (its rules), pretokenizers.py, added_tokens.py,
tokenizer_json.py (the file), tokenizer_classes.py (what transformers' tokenizer classes keep
of it).
"""
from bpe.files import bytes_to_unicode, from_pretrained, from_tiktoken, save_pretrained
from bpe.hf_tokenizer import HFTokenizer
from bpe.naive import train_naive
from bpe.patterns import GPT2_PATTERN, GPT4_PATTERN, split_into_chunks
from bpe.readable import render_merge, render_token
from bpe.tokenizer import InputTemplate, Tokenizer, from_merges, load
from bpe.train import train

__all__ = [
    "GPT2_PATTERN", "GPT4_PATTERN", "HFTokenizer", "InputTemplate", "Tokenizer",
    "bytes_to_unicode", "from_merges",
    "from_pretrained", "from_tiktoken", "load", "render_merge", "render_token",
    "save_pretrained", "split_into_chunks", "train", "train_naive",
]
