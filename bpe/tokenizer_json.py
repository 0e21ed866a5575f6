"""Hugging Face's tokenizer.json (byte-level BPE), read into an `HFTokenizer` and written back.

A tokenizer.json holds the whole pipeline; the parts that change the ids are read here:

    model           "BPE": "vocab" (token string -> id, strings in GPT-2's byte alphabet),
                    "merges" (["a b", ...] or [["a", "b"], ...], in rank order),
                    "ignore_merges" (look a whole chunk up first; Llama 3 sets it)
    added_tokens    strings cut out of the text first (`bpe.added_tokens`); their ids are the
                    ones Hugging Face assigns, which a consistent file repeats
    normalizer, pre_tokenizer                     `bpe.pretokenizers`
    post_processor  TemplateProcessing, RobertaProcessing or BertProcessing: the ids around
                    one text (`InputTemplate`); ByteLevel adds none

Anything else that would change the ids (another model type, BPE dropout, a subword prefix,
a normaliser other than NFC, ...) is a ValueError that names it, never silently ignored.
"truncation" and "padding" are ignored, as transformers ignores them when it encodes one text.

tokenizer_config.json, where present, can add tokens (its "added_tokens_decoder", and named
special tokens such as "bos_token" that tokenizer.json lacks); transformers adds them, and so
do we. Its "add_bos_token" and "add_eos_token" do not apply: transformers 5 drops them when a
tokenizer.json exists, whose post-processor decides (they do apply to GPT-2's files, see
`bpe.files`).
"""
import json
import os

from bpe.added_tokens import AddedToken
from bpe.hf_tokenizer import (HFTokenizer, check_vocabulary, read_json_file,
                              vocabulary_tables)
from bpe.model_file import write_text_atomically
from bpe.pretokenizers import pre_tokenizer_from_json
from bpe.tokenizer import InputTemplate

TOKENIZER_JSON = "tokenizer.json"
TOKENIZER_CONFIG = "tokenizer_config.json"
# tokenizer_config.json's keys for named special tokens, which transformers adds if missing
NAMED_SPECIAL_TOKENS = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token",
                        "cls_token", "mask_token")
ADDED_TOKEN_FLAGS = ("special", "lstrip", "rstrip", "single_word", "normalized")


def read_tokenizer_json(directory):
    """The HFTokenizer of `directory`/tokenizer.json (and tokenizer_config.json if there)."""
    path = os.path.join(directory, TOKENIZER_JSON)
    document = read_json_file(path, "a tokenizer.json (JSON)")
    config_path = os.path.join(directory, TOKENIZER_CONFIG)
    config = None
    if os.path.isfile(config_path):
        config = read_json_file(config_path, "a tokenizer config (JSON)")
        if not isinstance(config, dict):
            raise ValueError(f"{config_path} should hold a JSON object")
    try:
        vocab, merges, options, added_tokens = read_model(document)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    if config is not None:
        try:
            added_tokens = tokens_the_config_adds(config, added_tokens, vocab)
        except ValueError as err:
            raise ValueError(f"{config_path}: {err}") from None
    try:
        return build_tokenizer(document, config, vocab, merges, options, added_tokens)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def read_model(document):
    """vocab, merges (as (where, left, right)), ignore_merges, added tokens of a document."""
    if not isinstance(document, dict):
        raise ValueError("expected a JSON object")
    model = document.get("model")
    if not isinstance(model, dict):
        raise ValueError("no \"model\" object")
    kind = model.get("type", "BPE")
    if kind != "BPE":
        raise ValueError(f"the model is {kind}; only byte-level BPE is supported")
    if model.get("dropout") not in (None, 0, 0.0):
        raise ValueError(f"model.dropout {model['dropout']} (random merges) is not supported")
    for key in ("continuing_subword_prefix", "end_of_word_suffix"):
        if model.get(key) not in (None, ""):
            raise ValueError(f"model.{key} {model[key]!r} is not supported (byte-level BPE "
                             f"has none)")
    ignore_merges = model.get("ignore_merges", False)
    if not isinstance(ignore_merges, bool):
        raise ValueError(f"model.ignore_merges must be true or false, not {ignore_merges!r}")
    vocab = model.get("vocab")
    check_vocabulary(vocab, "model.vocab")
    merges = model.get("merges")
    if not isinstance(merges, list):
        raise ValueError("model.merges should be a list")
    merges = [(f"model.merges[{index}]", *merge_pair(merge, index))
              for index, merge in enumerate(merges)]
    specs = document.get("added_tokens", [])
    if not isinstance(specs, list):
        raise ValueError("added_tokens should be a list")
    added_tokens = []
    for index, spec in enumerate(specs):
        added_tokens = add_token(added_tokens, added_token_from_json(spec, f"added_tokens"
                                                                           f"[{index}]"), vocab)
    return vocab, merges, ignore_merges, added_tokens


def merge_pair(merge, index):
    """(left, right) of one merge: "a b" or ["a", "b"]."""
    if isinstance(merge, str):
        parts = merge.split(" ")
    elif isinstance(merge, list) and all(isinstance(part, str) for part in merge):
        parts = merge
    else:
        parts = []
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"model.merges[{index}] should be \"left right\" or [\"left\", "
                         f"\"right\"], not {json.dumps(merge, ensure_ascii=False)[:60]}")
    return parts


def added_token_from_json(spec, where):
    if not isinstance(spec, dict) or not isinstance(spec.get("content"), str) \
            or not spec["content"]:
        raise ValueError(f"{where} should be an object with a non-empty \"content\"")
    token_id = spec.get("id")
    if token_id is not None and (not isinstance(token_id, int) or isinstance(token_id, bool)
                                 or token_id < 0):
        raise ValueError(f"{where}'s id should be a whole number >= 0, not {token_id!r}")
    flags = {}
    for flag in ADDED_TOKEN_FLAGS:
        value = spec.get(flag, flag == "special")
        if not isinstance(value, bool):
            raise ValueError(f"{where}'s {flag} should be true or false, not {value!r}")
        flags[flag] = value
    return AddedToken(spec["content"], token_id, **flags)


def add_token(tokens, token, vocab):
    """`tokens` with `token` added the way Hugging Face adds it: a string already added keeps
    its id and takes the new flags; one in the vocabulary gets the vocabulary's id; a new one
    the next id after both. A token whose file gives another id is an inconsistent file."""
    existing = {added.content: added for added in tokens}
    if token.content in existing:
        assigned = existing[token.content].id
    elif token.content in vocab:
        assigned = vocab[token.content]
    else:
        highest = max((added.id for added in tokens), default=-1)
        assigned = highest + 1 if highest >= len(vocab) else len(vocab)
    if token.id is not None and token.id != assigned:
        raise ValueError(f"added token {token.content!r} has id {token.id}, but Hugging Face "
                         f"gives it {assigned} (the vocabulary's id for it, or the next id "
                         f"after the vocabulary and the tokens added before it)")
    token = AddedToken(token.content, assigned, token.special, token.lstrip, token.rstrip,
                       token.single_word, token.normalized)
    return [added for added in tokens if added.content != token.content] + [token]


def tokens_the_config_adds(config, tokens, vocab):
    """The added tokens after tokenizer_config.json's additions, as transformers makes them."""
    if config.get("split_special_tokens"):
        raise ValueError("split_special_tokens is not supported")
    decoder = config.get("added_tokens_decoder", {})
    if not isinstance(decoder, dict):
        raise ValueError("added_tokens_decoder should be an object id -> token")
    for key in sorted(decoder, key=lambda key: int(key) if key.isdigit() else -1):
        if not key.isdigit():
            raise ValueError(f"added_tokens_decoder has the key {key!r}, not an id")
        where = f"added_tokens_decoder[{key}]"
        token = added_token_from_json({**decoder[key], "id": int(key)}
                                      if isinstance(decoder[key], dict) else None, where)
        if token not in tokens:
            tokens = add_token(tokens, token, vocab)
    named = [config.get(key) for key in NAMED_SPECIAL_TOKENS]
    for key in ("additional_special_tokens", "extra_special_tokens"):
        extra = config.get(key) or []
        named += extra if isinstance(extra, list) else []
    for value in named:
        content = value.get("content") if isinstance(value, dict) else value
        if isinstance(content, str) and content and content not in {t.content for t in tokens}:
            tokens = add_token(tokens, AddedToken(content, None), vocab)
    return tokens


def build_tokenizer(document, config, vocab, merges, ignore_merges, added_tokens):
    token_bytes, merge_ids, decode_only = vocabulary_tables(vocab, merges, "model.vocab")
    pre_tokenizer = pre_tokenizer_from_json(document.get("pre_tokenizer"),
                                            document.get("normalizer"))
    template = template_from_json(document.get("post_processor"))
    documents = {TOKENIZER_JSON: document}
    if config is not None:
        documents[TOKENIZER_CONFIG] = config
    tokenizer = HFTokenizer(token_bytes, merge_ids, pre_tokenizer, added_tokens, ignore_merges,
                            template, decode_only, documents)
    for token_id in template.before + template.after:
        if token_id not in tokenizer._id_to_bytes:
            raise ValueError(f"the post_processor puts id {token_id} around a text, which is "
                             f"not a token")
    return tokenizer


# ---- the post-processor: the ids around one text ----

def template_from_json(spec):
    """The InputTemplate that tokenizer.json's "post_processor" makes for one sequence."""
    if spec is None:
        return InputTemplate()
    kind = spec.get("type") if isinstance(spec, dict) else None
    if kind == "ByteLevel":                  # it only moves offsets
        return InputTemplate()
    if kind == "Sequence":
        template = InputTemplate()
        for part in spec.get("processors") or []:
            inner = template_from_json(part)   # each wraps what the ones before it made
            template = InputTemplate(inner.before + template.before,
                                     template.after + inner.after)
        return template
    if kind == "TemplateProcessing":
        return template_processing(spec)
    if kind in ("RobertaProcessing", "BertProcessing"):
        return InputTemplate((_named_id(spec, "cls"),), (_named_id(spec, "sep"),))
    raise ValueError(f"the post_processor {kind} is not supported (only TemplateProcessing, "
                     f"RobertaProcessing, BertProcessing, ByteLevel, or a Sequence of them)")


def template_processing(spec):
    """TemplateProcessing's "single" template: special tokens around the sequence $A."""
    before, after, sequence_seen = [], [], False
    special_tokens = spec.get("special_tokens") or {}
    for item in spec.get("single") or []:
        if isinstance(item, dict) and isinstance(item.get("Sequence"), dict):
            if item["Sequence"].get("id") != "A" or sequence_seen:
                raise ValueError("the post_processor's single template should hold $A once")
            sequence_seen = True
        elif isinstance(item, dict) and isinstance(item.get("SpecialToken"), dict):
            name = item["SpecialToken"].get("id")
            ids = (special_tokens.get(name) or {}).get("ids") if isinstance(name, str) else None
            if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
                raise ValueError(f"the post_processor's template names {name!r}, which its "
                                 f"special_tokens do not give ids for")
            (after if sequence_seen else before).extend(ids)
        else:
            raise ValueError(f"the post_processor's template holds {str(item)[:60]}")
    if not sequence_seen:
        raise ValueError("the post_processor's single template has no $A")
    return InputTemplate(tuple(before), tuple(after))


def _named_id(spec, key):
    pair = spec.get(key)
    if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[1], int)):
        raise ValueError(f"the post_processor {spec['type']} needs {key} as [token, id]")
    return pair[1]


# ---- writing ----

def write_tokenizer_json(tokenizer, directory):
    """Write the tokenizer.json (and tokenizer_config.json) `tokenizer` was read from into
    `directory`; transformers reads them back to the same ids."""
    config = tokenizer.documents.get(TOKENIZER_CONFIG,
                                     {"tokenizer_class": "PreTrainedTokenizerFast"})
    for name, document in ((TOKENIZER_JSON, tokenizer.documents[TOKENIZER_JSON]),
                           (TOKENIZER_CONFIG, config)):
        write_text_atomically(os.path.join(directory, name),
                              json.dumps(document, ensure_ascii=False, indent=2) + "\n")
