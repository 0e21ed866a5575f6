"""bpe.from_pretrained on tokenizer.json: Hugging Face's rules, checked against ids that
Hugging Face `tokenizers` 0.23.3 / transformers 5.24 gave for the same files (llama-tiny's
reference.json, and small tokenizer.json documents built here by hand)."""
import json

import pytest

import bpe
from bpe.pretokenizers import ByteLevel, PreTokenizer, Split, digits

CHARS = bpe.bytes_to_unicode()
MERGES = [("a", "b"), ("b", "c"), ("a", "bc"), ("Ġ", "a"), ("1", "2"), ("12", "3"), ("Ġ", "t"), ("h", "e"), ("Ġt", "he")]

def document(merges=MERGES, ignore_merges=False, pre_tokenizer=None, normalizer=None, added=(), post=None, pairs=False):
    vocab = {CHARS[b]: b for b in range(256)}
    for left, right in merges:
        vocab.setdefault(left + right, len(vocab))
    return {"version": "1.0", "truncation": None, "padding": None,
            "added_tokens": [dict(id=i, content=c, single_word=sw, lstrip=l, rstrip=r, normalized=n, special=s) for (i, c, s, l, r, sw, n) in added],
            "normalizer": normalizer,
            "pre_tokenizer": pre_tokenizer or {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
            "post_processor": post,
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                      "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": ignore_merges,
                      "vocab": vocab, "merges": [[l, r] if pairs else f"{l} {r}" for l, r in merges]}}


def write(directory, document, config=None):
    (directory / "tokenizer.json").write_text(json.dumps(document), encoding="utf-8")
    if config is not None:
        (directory / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    return directory


def load(tmp_path, **options):
    return bpe.from_pretrained(write(tmp_path, document(**options)))


def byte_level(prefix=False, regex=True):
    return {"type": "ByteLevel", "add_prefix_space": prefix, "trim_offsets": True,
            "use_regex": regex}


def split(pattern, behavior, invert=False, string=False):
    return {"type": "Split", "pattern": {"String" if string else "Regex": pattern},
            "behavior": behavior, "invert": invert}


def sequence(*steps):
    return {"type": "Sequence", "pretokenizers": list(steps)}


TEXTS = ["abc", "xabc abc", "the 123 1234 ab-c--d", "  the\n\nthe  x", "a1b22c333 \u0663\u0664\u00b2\u00bd\u2460", "", "-", "e\u0301 \u00e9 ab"]

CONFIGURATIONS = {
    "plain": {}, "ignore": {"ignore_merges": True}, "pairs": {"pairs": True},
    "prefix_regex": {"pre_tokenizer": byte_level(True, True)},
    "digits_individual": {"pre_tokenizer": sequence({"type": "Digits", "individual_digits": True},
                                                    byte_level(False, False))},
    "digits_runs": {"pre_tokenizer": sequence({"type": "Digits", "individual_digits": False},
                                              byte_level(True, False))},
    "nfc": {"normalizer": {"type": "NFC"}},
    "nfc_seq": {"normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"}]}},
    **{f"split_{behavior}_{invert}": {"pre_tokenizer": sequence(split(r"-|\s", behavior, invert),
                                                                 byte_level(False, False))}
       for behavior in bpe.pretokenizers.BEHAVIORS for invert in (False, True)},
    "split_string": {"pre_tokenizer": sequence(split("ab", "Isolated", string=True),
                                               byte_level(False, False))},
    "split_prefix": {"pre_tokenizer": sequence(split(r"\d+", "Isolated"), byte_level(True, False))},
}

# what Hugging Face tokenizers 0.23.3 gives for TEXTS under each configuration
HF_IDS = {
    "plain": [[256, 99], [120, 256, 99, 32, 256, 99], [116, 263, 32, 261, 32, 261, 52, 32, 256, 45, 99, 45, 45, 100], [32, 264, 10, 10, 116, 263, 32, 32, 120], [97, 49, 98, 50, 50, 99, 51, 51, 51, 32, 217, 163, 217, 164, 194, 178, 194, 189, 226, 145, 160], [], [45], [101, 204, 129, 32, 195, 169, 32, 256]],
    "ignore": [[258], [120, 256, 99, 32, 256, 99], [116, 263, 32, 261, 32, 261, 52, 32, 256, 45, 99, 45, 45, 100], [32, 264, 10, 10, 116, 263, 32, 32, 120], [97, 49, 98, 50, 50, 99, 51, 51, 51, 32, 217, 163, 217, 164, 194, 178, 194, 189, 226, 145, 160], [], [45], [101, 204, 129, 32, 195, 169, 32, 256]],
    "pairs": [[256, 99], [120, 256, 99, 32, 256, 99], [116, 263, 32, 261, 32, 261, 52, 32, 256, 45, 99, 45, 45, 100], [32, 264, 10, 10, 116, 263, 32, 32, 120], [97, 49, 98, 50, 50, 99, 51, 51, 51, 32, 217, 163, 217, 164, 194, 178, 194, 189, 226, 145, 160], [], [45], [101, 204, 129, 32, 195, 169, 32, 256]],
    "prefix_regex": [[32, 256, 99], [32, 120, 256, 99, 32, 256, 99], [264, 32, 261, 32, 261, 52, 32, 256, 45, 99, 45, 45, 100], [32, 264, 10, 10, 116, 263, 32, 32, 120], [259, 49, 98, 50, 50, 99, 51, 51, 51, 32, 217, 163, 217, 164, 194, 178, 194, 189, 226, 145, 160], [], [32, 45], [32, 101, 204, 129, 32, 195, 169, 32, 256]],
    "digits_individual": [[256, 99], [120, 256, 99, 32, 256, 99], [116, 263, 32, 49, 50, 51, 32, 49, 50, 51, 52, 32, 256, 45, 99, 45, 45, 100], [32, 264, 10, 10, 116, 263, 32, 32, 120], [97, 49, 98, 50, 50, 99, 51, 51, 51, 32, 217, 163, 217, 164, 194, 178, 194, 189, 226, 145, 160], [], [45], [101, 204, 129, 32, 195, 169, 32, 256]],
    "digits_runs": [[32, 256, 99], [32, 120, 256, 99, 32, 256, 99], [264, 32, 32, 261, 32, 32, 261, 52, 32, 256, 45, 99, 45, 45, 100], [32, 264, 10, 10, 116, 263, 32, 32, 120], [259, 32, 49, 32, 98, 32, 50, 50, 32, 99, 32, 51, 51, 51, 32, 32, 217, 163, 217, 164, 194, 178, 194, 189, 226, 145, 160], [], [32, 45], [32, 101, 204, 129, 32, 195, 169, 32, 256]],
    "nfc": [[256, 99], [120, 256, 99, 32, 256, 99], [116, 263, 32, 261, 32, 261, 52, 32, 256, 45, 99, 45, 45, 100], [32, 264, 10, 10, 116, 263, 32, 32, 120], [97, 49, 98, 50, 50, 99, 51, 51, 51, 32, 217, 163, 217, 164, 194, 178, 194, 189, 226, 145, 160], [], [45], [195, 169, 32, 195, 169, 32, 256]],
    "nfc_seq": [[256, 99], [120, 256, 99, 32, 256, 99], [116, 263, 32, 261, 32, 261, 52, 32, 256, 45, 99, 45, 45, 100], [32, 264, 10, 10, 116, 263, 32, 32, 120], [97, 49, 98, 50, 50, 99, 51, 51, 51, 32, 217, 163, 217, 164, 194, 178, 194, 189, 226, 145, 160], [], [45], [195, 169, 32, 195, 169, 32, 256]],
    "split_Removed_False": [[256, 99], [120, 256, 99, 256, 99], [116, 263, 261, 261, 52, 256, 99, 100], [116, 263, 116, 263, 120], [97, 49, 98, 50, 50, 99, 51, 51, 51, 217, 163, 217, 164, 194, 178, 194, 189, 226, 145, 160], [], [], [101, 204, 129, 195, 169, 256]],
    "split_Removed_True": [[], [32], [32, 32, 32, 45, 45, 45], [32, 32, 10, 10, 32, 32], [32], [], [45], [32, 32]],
    "split_Isolated_False": [[256, 99], [120, 256, 99, 32, 256, 99], [116, 263, 32, 261, 32, 261, 52, 32, 256, 45, 99, 45, 45, 100], [32, 32, 116, 263, 10, 10, 116, 263, 32, 32, 120], [97, 49, 98, 50, 50, 99, 51, 51, 51, 32, 217, 163, 217, 164, 194, 178, 194, 189, 226, 145, 160], [], [45], [101, 204, 129, 32, 195, 169, 32, 256]],
    "split_Isolated_True": [[256, 99], [120, 256, 99, 32, 256, 99], [116, 263, 32, 261, 32, 261, 52, 32, 256, 45, 99, 45, 45, 100], [32, 32, 116, 263, 10, 10, 116, 263, 32, 32, 120], [97, 49, 98, 50, 50, 99, 51, 51, 51, 32, 217, 163, 217, 164, 194, 178, 194, 189, 226, 145, 160], [], [45], [101, 204, 129, 32, 195, 169, 32, 256]],
    "split_MergedWithPrevious_False": [[256, 99], [120, 256, 99, 32, 256, 99], [116, 263, 32, 261, 32, 261, 52, 32, 256, 45, 99, 45, 45, 100], [32, 32, 116, 263, 10, 10, 116, 263, 32, 32, 120], [97, 49, 98, 50, 50, 99, 51, 51, 51, 32, 217, 163, 217, 164, 194, 178, 194, 189, 226, 145, 160], [], [45], [101, 204, 129, 32, 195, 169, 32, 256]],
    "split_MergedWithPrevious_True": [[256, 99], [120, 256, 99, 32, 256, 99], [116, 263, 32, 261, 32, 261, 52, 32, 256, 45, 99, 45, 45, 100], [32, 264, 10, 10, 116, 263, 32, 32, 120], [97, 49, 98, 50, 50, 99, 51, 51, 51, 32, 217, 163, 217, 164, 194, 178, 194, 189, 226, 145, 160], [], [45], [101, 204, 129, 32, 195, 169, 32, 256]],
    "split_MergedWithNext_False": [[256, 99], [120, 256, 99, 32, 256, 99], [116, 263, 32, 261, 32, 261, 52, 32, 256, 45, 99, 45, 45, 100], [32, 264, 10, 10, 116, 263, 32, 32, 120], [97, 49, 98, 50, 50, 99, 51, 51, 51, 32, 217, 163, 217, 164, 194, 178, 194, 189, 226, 145, 160], [], [45], [101, 204, 129, 32, 195, 169, 32, 256]],
    "split_MergedWithNext_True": [[256, 99], [120, 256, 99, 32, 256, 99], [116, 263, 32, 261, 32, 261, 52, 32, 256, 45, 99, 45, 45, 100], [32, 32, 116, 263, 10, 10, 116, 263, 32, 32, 120], [97, 49, 98, 50, 50, 99, 51, 51, 51, 32, 217, 163, 217, 164, 194, 178, 194, 189, 226, 145, 160], [], [45], [101, 204, 129, 32, 195, 169, 32, 256]],
    "split_Contiguous_False": [[256, 99], [120, 256, 99, 32, 256, 99], [116, 263, 32, 261, 32, 261, 52, 32, 256, 45, 99, 45, 45, 100], [32, 32, 116, 263, 10, 10, 116, 263, 32, 32, 120], [97, 49, 98, 50, 50, 99, 51, 51, 51, 32, 217, 163, 217, 164, 194, 178, 194, 189, 226, 145, 160], [], [45], [101, 204, 129, 32, 195, 169, 32, 256]],
    "split_Contiguous_True": [[256, 99], [120, 256, 99, 32, 256, 99], [116, 263, 32, 261, 32, 261, 52, 32, 256, 45, 99, 45, 45, 100], [32, 32, 116, 263, 10, 10, 116, 263, 32, 32, 120], [97, 49, 98, 50, 50, 99, 51, 51, 51, 32, 217, 163, 217, 164, 194, 178, 194, 189, 226, 145, 160], [], [45], [101, 204, 129, 32, 195, 169, 32, 256]],
    "split_string": [[256, 99], [120, 256, 99, 32, 256, 99], [116, 263, 32, 261, 32, 261, 52, 32, 256, 45, 99, 45, 45, 100], [32, 264, 10, 10, 116, 263, 32, 32, 120], [97, 49, 98, 50, 50, 99, 51, 51, 51, 32, 217, 163, 217, 164, 194, 178, 194, 189, 226, 145, 160], [], [45], [101, 204, 129, 32, 195, 169, 32, 256]],
    "split_prefix": [[32, 256, 99], [32, 120, 256, 99, 32, 256, 99], [264, 32, 32, 261, 32, 32, 261, 52, 32, 256, 45, 99, 45, 45, 100], [32, 264, 10, 10, 116, 263, 32, 32, 120], [259, 32, 49, 32, 98, 32, 50, 50, 32, 99, 32, 51, 51, 51, 32, 32, 217, 163, 217, 164, 32, 194, 178, 194, 189, 226, 145, 160], [], [32, 45], [32, 101, 204, 129, 32, 195, 169, 32, 256]],
}


@pytest.mark.parametrize("name", sorted(HF_IDS))
def test_hand_made_tokenizer_json_gives_hugging_faces_ids(tmp_path, name):
    tokenizer = load(tmp_path, **CONFIGURATIONS[name])
    for text, expected in zip(TEXTS, HF_IDS[name]):
        assert tokenizer.encode(text) == expected, text


def test_merges_run_unless_the_file_sets_ignore_merges(tmp_path):
    # the merges ab, bc, a+bc: merging by listed pairs stops at ab, c (the pair ab+c is not
    # listed) although "abc" is a token; tiktoken's rule (ranks by bytes) would reach it
    plain = load(tmp_path, ignore_merges=False)
    assert [plain.decode([i]) for i in plain.encode("abc")] == ["ab", "c"]
    assert plain.ignore_merges is False
    looked_up = load(tmp_path, ignore_merges=True)
    assert [looked_up.decode([i]) for i in looked_up.encode("abc")] == ["abc"]
    tiktoken_rule = bpe.from_merges([(97, 98), (98, 99), (97, 257)], None)
    assert tiktoken_rule.encode("abc") == [258]


# ---- the pre-tokeniser, piece by piece, against Hugging Face's pre_tokenize_str ----

@pytest.mark.parametrize("behavior, invert, pieces, pieces_of_dash_x", [
    ("Removed", False, ["a", "b", "c"], ["x"]),
    ("Removed", True, ["-", "-", "-", "-"], ["-"]),
    ("Isolated", False, ["a", "-", "-", "b", "-", "c", "-"], ["-", "x"]),
    ("Isolated", True, ["a", "-", "-", "b", "-", "c", "-"], ["-", "x"]),
    ("MergedWithPrevious", False, ["a-", "-", "b-", "c-"], ["-", "x"]),
    ("MergedWithPrevious", True, ["a", "-", "-b", "-c", "-"], ["-x"]),
    ("MergedWithNext", False, ["a", "-", "-b", "-c", "-"], ["-x"]),
    ("MergedWithNext", True, ["a-", "-", "b-", "c-"], ["-", "x"]),
    ("Contiguous", False, ["a", "--", "b", "-", "c", "-"], ["-", "x"]),
    ("Contiguous", True, ["a", "--", "b", "-", "c", "-"], ["-", "x"]),
])
def test_split_behaviors(behavior, invert, pieces, pieces_of_dash_x):
    step = Split("-", behavior, invert)
    assert step.split("a--b-c-") == pieces
    assert step.split("-x") == pieces_of_dash_x
    assert step.split("") == []


def test_digits_are_numeric_characters_as_rust_has_them():
    assert digits(False).split("a123b٣٤x²½①") == [
        "a", "123", "b", "٣٤", "x", "²½①"]
    assert digits(True).split("a12½") == ["a", "1", "2", "½"]


def test_byte_level_prefix_space_goes_before_every_piece():
    pipeline = PreTokenizer([Split(r"\d+"), ByteLevel(add_prefix_space=True, use_regex=False)])
    assert pipeline("ab12cd 34") == [" ab", " 12", " cd ", " 34"]
    assert pipeline("") == []
    assert PreTokenizer([ByteLevel(True)])(" hello world") == [" hello", " world"]


def test_one_regex_pipelines_keep_the_text_findall_would_drop():
    pipeline = PreTokenizer([Split(r"[a-z]+"), ByteLevel(use_regex=False)])
    assert pipeline.pattern == "[a-z]+"
    assert pipeline("ab, cd!") == ["ab", ", ", "cd", "!"]


# ---- added tokens ----

ADDED = [(265, "<L>", False, True, False, False, False), (266, "<R>", False, False, True, False, False),
         (267, "word", False, False, False, True, False), (233, "é", True, False, False, False, True),
         (268, "<s>", True, False, False, False, False), (269, "<s>x", True, False, False, False, False)]


@pytest.mark.parametrize("text, expected", [           # Hugging Face's ids for the same file
    ("x  <L>  y", [120, 265, 32, 32, 121]),                 # lstrip takes the spaces before
    ("x  <R>  y", [120, 32, 32, 266, 121]),                 # rstrip the spaces after
    ("a word, words sword_ word_x word.",                   # single_word: only whole words
     [97, 32, 267, 44, 32, 119, 111, 114, 100, 115, 32, 115, 119, 111, 114, 100, 95, 32, 119,
      111, 114, 100, 95, 120, 32, 267, 46]),
    ("e\u0301 é", [233, 32, 233]),                          # normalized: found after NFC
    ("<s>x<s> <s>", [269, 268, 32, 268]),                    # the longest match wins
    ("\t<L>\n", [265, 10]),
    ("x <L><R> y", [120, 265, 266, 121]),
])
def test_added_tokens_and_their_flags(tmp_path, text, expected):
    tokenizer = load(tmp_path, added=ADDED, normalizer={"type": "NFC"})
    assert tokenizer.encode(text, allowed_special="all") == expected


def test_special_added_tokens_follow_tiktokens_rules_the_others_are_always_cut(tmp_path):
    tokenizer = load(tmp_path, added=ADDED)
    assert tokenizer.special_tokens == {"é": 233, "<s>": 268, "<s>x": 269}
    with pytest.raises(ValueError, match="disallowed"):
        tokenizer.encode("a<s>")
    assert tokenizer.encode("x<L>", disallowed_special=()) == [120, 265]   # not special
    ordinary = tokenizer.encode_ordinary("<s>")
    assert 268 not in ordinary and tokenizer.decode(ordinary) == "<s>"
    assert tokenizer.decode([268, 265, 97]) == "<s><L>a"


def test_tokenizer_config_adds_tokens_as_transformers_does(tmp_path):
    roberta = {"type": "RobertaProcessing", "sep": ["</s>", 266], "cls": ["<s>", 265],
               "trim_offsets": True, "add_prefix_space": False}
    config = {"added_tokens_decoder": {"266": {"content": "</s>", "special": True}},
              "eos_token": "</s>", "pad_token": "<pad>"}
    write(tmp_path, document(added=[(265, "<s>", True, False, False, False, False)],
                             post=roberta), config)
    tokenizer = bpe.from_pretrained(tmp_path)
    # transformers 5.24's AutoTokenizer on the same directory
    assert tokenizer.encode("abc</s><pad> <s>", allowed_special="all") == [256, 99, 266, 267,
                                                                           32, 265]
    assert tokenizer.input_template.apply(tokenizer.encode("the")) == [265, 116, 263, 266]
    assert tokenizer.vocab_size == 268


# ---- llama-tiny, made by transformers ----

@pytest.fixture(scope="module")
def llama_tiny(shared_data):
    return bpe.from_pretrained(shared_data / "llama-tiny")


@pytest.fixture(scope="module")
def llama_reference(shared_data):
    with open(shared_data / "llama-tiny" / "reference.json", encoding="utf-8") as file:
        return json.load(file)


def test_llama_tiny_every_tokenizer_case(llama_tiny, llama_reference):
    cases = llama_reference["tokenizer_cases"]
    assert len(cases) == 40
    for case in cases:
        ids = llama_tiny.encode(case["text"], allowed_special="all")
        assert ids == case["ids"], case["text"]
        assert llama_tiny.decode(ids) == case["text"]


def test_llama_tiny_model_input_starts_with_bos(llama_tiny, llama_reference):
    assert llama_tiny.input_template == bpe.InputTemplate(before=(510,), after=())
    prompt_ids = llama_tiny.input_template.apply(llama_tiny.encode(llama_reference["prompt"]))
    assert prompt_ids == llama_reference["prompt_ids"]
    assert llama_tiny.encode(llama_reference["text_sample"]) == llama_reference["text_sample_ids"]


def test_llama_tiny_tables(llama_tiny):
    assert llama_tiny.special_tokens == {"<|begin_of_text|>": 510, "<|end_of_text|>": 511}
    assert llama_tiny.vocab_size == 512 and len(llama_tiny.merges) == 254
    assert llama_tiny.ignore_merges is True
    assert isinstance(llama_tiny, bpe.HFTokenizer)


def test_merges_as_pairs_read_like_merges_as_strings(llama_tiny, shared_data, tmp_path):
    document = json.loads((shared_data / "llama-tiny" / "tokenizer.json").read_text("utf-8"))
    document["model"]["merges"] = [merge.split(" ") for merge in document["model"]["merges"]]
    as_pairs = bpe.from_pretrained(write(tmp_path, document))
    text = "ROMEO: 1234567, naïve 👍 <|end_of_text|>"
    assert (as_pairs.encode(text, allowed_special="all")
            == llama_tiny.encode(text, allowed_special="all"))
    assert as_pairs.merges == llama_tiny.merges


def test_save_pretrained_writes_what_transformers_reads_back(llama_tiny, shared_data, tmp_path):
    bpe.save_pretrained(llama_tiny, tmp_path)
    source = shared_data / "llama-tiny"
    for name in ("tokenizer.json", "tokenizer_config.json"):
        assert (json.loads((tmp_path / name).read_text("utf-8"))
                == json.loads((source / name).read_text("utf-8")))
    again = bpe.from_pretrained(tmp_path)
    text = "KING RICHARD III:\n<|begin_of_text|>Now is the winter 2024"
    assert again.encode(text, allowed_special="all") == llama_tiny.encode(text,
                                                                           allowed_special="all")
    assert again.input_template == llama_tiny.input_template
    with pytest.raises(ValueError, match="write it with bpe.save_pretrained"):
        llama_tiny.save(tmp_path / "llama.bpe")


def test_a_directory_with_tokenizer_json_is_read_from_it(gpt2_tiny_dir, tmp_path):
    for name in ("vocab.json", "merges.txt"):
        (tmp_path / name).write_bytes((gpt2_tiny_dir / name).read_bytes())
    write(tmp_path, document(added=[(265, "<s>", True, False, False, False, False)]))
    assert bpe.from_pretrained(tmp_path).special_tokens == {"<s>": 265}


# ---- GPT-2 files and tokenizer_config.json ----

@pytest.mark.parametrize("config, before, after", [
    ({}, (), ()),
    ({"add_bos_token": True}, (0,), ()),
    ({"add_eos_token": True, "eos_token": "<|endoftext|>"}, (), (0,)),
    ({"add_bos_token": True, "add_eos_token": True,
      "bos_token": {"content": "<|endoftext|>"}}, (0,), (0,)),
])
def test_gpt2_files_take_add_bos_token_from_tokenizer_config(gpt2_tiny_dir, tmp_path, config,
                                                            before, after):
    # transformers 5.24's AutoTokenizer: [0, 258, 274, 79] for "hello" with add_bos_token
    for name in ("vocab.json", "merges.txt"):
        (tmp_path / name).write_bytes((gpt2_tiny_dir / name).read_bytes())
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    tokenizer = bpe.from_pretrained(tmp_path)
    assert tokenizer.encode("hello") == [258, 274, 79]
    assert tokenizer.input_template == bpe.InputTemplate(before, after)
    out = tmp_path / "saved"
    out.mkdir()
    bpe.save_pretrained(tokenizer, out)
    assert json.loads((out / "tokenizer_config.json").read_text("utf-8")) == config
    assert bpe.from_pretrained(out).input_template == tokenizer.input_template


def test_tokenizer_json_ignores_add_bos_token_as_transformers_5_does(shared_data, tmp_path):
    source = shared_data / "llama-tiny"
    document = json.loads((source / "tokenizer.json").read_text("utf-8"))
    write(tmp_path, document, {"add_bos_token": False, "add_eos_token": True})
    assert bpe.from_pretrained(tmp_path).input_template == bpe.InputTemplate((510,), ())
    document["post_processor"] = None
    write(tmp_path, document, {"add_bos_token": True})
    assert bpe.from_pretrained(tmp_path).input_template == bpe.InputTemplate((), ())


# ---- the post-processor ----

def template_processing(single, special_tokens):
    return {"type": "TemplateProcessing", "single": single, "pair": [],
            "special_tokens": special_tokens}


BOS = {"SpecialToken": {"id": "<s>", "type_id": 0}}
SEQUENCE_A = {"Sequence": {"id": "A", "type_id": 0}}
SPECIALS = {"<s>": {"id": "<s>", "ids": [265], "tokens": ["<s>"]}}
S_TOKEN = [(265, "<s>", True, False, False, False, False)]


@pytest.mark.parametrize("post, before, after", [
    (None, (), ()),
    (byte_level(), (), ()),
    (template_processing([BOS, SEQUENCE_A], SPECIALS), (265,), ()),
    (template_processing([SEQUENCE_A, BOS], SPECIALS), (), (265,)),
    ({"type": "Sequence", "processors": [byte_level(), template_processing([BOS, SEQUENCE_A],
                                                                           SPECIALS)]},
     (265,), ()),
    ({"type": "BertProcessing", "sep": ["<s>", 265], "cls": ["a", 97]}, (97,), (265,)),
])
def test_post_processors(tmp_path, post, before, after):
    tokenizer = load(tmp_path, added=S_TOKEN, post=post)
    assert tokenizer.input_template == bpe.InputTemplate(before, after)
    assert tokenizer.input_template.apply([1, 2]) == [*before, 1, 2, *after]


# ---- what is refused, by name ----

def changed(**options):
    def change(doc):
        for path, value in options.items():
            *keys, last = path.split("__")
            target = doc
            for key in keys:
                target = target[key]
            target[last] = value
        return doc
    return change


@pytest.mark.parametrize("change, message", [
    (changed(model__type="WordPiece"), "the model is WordPiece; only byte-level BPE"),
    (changed(model__dropout=0.1), r"model.dropout 0.1 \(random merges\)"),
    (changed(model__continuing_subword_prefix="##"), "model.continuing_subword_prefix '##'"),
    (changed(model__end_of_word_suffix="</w>"), "model.end_of_word_suffix"),
    (changed(normalizer={"type": "Lowercase"}), "the normalizer Lowercase is not supported"),
    (changed(normalizer={"type": "Sequence", "normalizers": [{"type": "NFC"},
                                                             {"type": "NFKD"}]}),
     "the normalizer NFKD"),
    (changed(pre_tokenizer={"type": "Metaspace", "replacement": "▁"}),
     "the pre_tokenizer Metaspace is not supported"),
    (changed(pre_tokenizer=split(" ", "Isolated")), "no ByteLevel step"),
    (changed(pre_tokenizer=sequence(byte_level(), {"type": "Digits"})), "after ByteLevel"),
    (changed(pre_tokenizer=sequence(split("(", "Isolated"), byte_level())),
     "the split pattern is not a valid regex"),
    (changed(pre_tokenizer=sequence(split("x", "Sideways"), byte_level())),
     "Split behavior 'Sideways'"),
    (changed(post_processor={"type": "Cowsay"}), "the post_processor Cowsay is not supported"),
    (changed(post_processor=template_processing([BOS], SPECIALS)), "has no \\$A"),
    (changed(post_processor=template_processing([BOS, SEQUENCE_A], {})), "do not give ids"),
    (changed(added_tokens=[{"id": 300, "content": "<x>", "special": True}]),
     "added token '<x>' has id 300, but Hugging Face gives it 265"),
    (changed(added_tokens=[{"id": 97, "content": "<x>"}]), "has id 97, but"),
    (changed(model__merges=["a b c"]), r"model.merges\[0\] should be"),
    (changed(model__merges=[["a"]]), r"model.merges\[0\] should be"),
    (changed(model__merges=["a q"]), r"model.merges\[0\]: token 'aq' is not in model.vocab"),
    (changed(model__vocab={"a": 0, "b": 0}), "gives id 0 to both 'a' and 'b'"),
    (changed(model__vocab={"a": -1}), "should map token strings to ids >= 0"),
    (changed(model__vocab={"a": 0}, model__merges=[]), "no token for byte 0x00"),
    (changed(model__ignore_merges="yes"), "model.ignore_merges must be true or false"),
    (lambda doc: [doc], "expected a JSON object"),
    (lambda doc: {"model": None}, "no \"model\" object"),
])
def test_what_would_change_the_ids_and_is_not_implemented_is_refused(tmp_path, change,
                                                                     message):
    write(tmp_path, change(document()))
    with pytest.raises(ValueError, match=message) as caught:
        bpe.from_pretrained(tmp_path)
    assert str(tmp_path / "tokenizer.json") in str(caught.value)


@pytest.mark.parametrize("content, message", [
    (b"", "is not a tokenizer.json"),
    (b"{not json", "is not a tokenizer.json"),
    (b"\x89PNG\xff\xfe", "not UTF-8 text"),
    (b"[]", "expected a JSON object"),
])
def test_corrupt_files_are_named(tmp_path, content, message):
    (tmp_path / "tokenizer.json").write_bytes(content)
    with pytest.raises(ValueError, match=message) as caught:
        bpe.from_pretrained(tmp_path)
    assert str(tmp_path / "tokenizer.json") in str(caught.value)


def test_a_bad_tokenizer_config_is_named(tmp_path):
    write(tmp_path, document(), {"split_special_tokens": True})
    with pytest.raises(ValueError, match="tokenizer_config.json: split_special_tokens"):
        bpe.from_pretrained(tmp_path)
    write(tmp_path, document(), {"added_tokens_decoder": {"300": {"content": "<x>"}}})
    with pytest.raises(ValueError, match="tokenizer_config.json: added token '<x>' has id 300"):
        bpe.from_pretrained(tmp_path)
    (tmp_path / "tokenizer_config.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="tokenizer_config.json should hold a JSON object"):
        bpe.from_pretrained(tmp_path)


def test_truncation_and_padding_do_not_apply_to_one_text(tmp_path):
    doc = document()
    doc["truncation"] = {"direction": "Right", "max_length": 1, "strategy": "LongestFirst",
                         "stride": 0}
    assert bpe.from_pretrained(write(tmp_path, doc)).encode("the abc") == [116, 263, 32, 256, 99]


def test_decode_of_added_tokens_follows_the_byte_level_decoder(tmp_path):
    # "ĠX" is written in the byte alphabet (a space, then X); "日本" is not, so it is itself
    tokenizer = load(tmp_path, added=[(265, "日本", False, False, False, False, False),
                                      (266, "ĠX", False, False, False, False, False)])
    assert tokenizer.decode([97, 265, 266]) == "a日本 X"
    assert tokenizer.encode("x日本") == [120, 265]
