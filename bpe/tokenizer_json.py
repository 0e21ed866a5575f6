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

Which parts of the file apply depends on the tokenizer class transformers builds for the
directory (`bpe.tokenizer_classes`): the generic class reads the file as written; GPT2Tokenizer,
Qwen2Tokenizer and the like build their own normaliser and pre-tokeniser and keep only the
vocabulary, the merges and (most of them) the post-processor. The file is read as that class
reads it, and written back as it was.

tokenizer_config.json, where present, can add tokens (its "added_tokens_decoder", and named
special tokens such as "bos_token" that tokenizer.json lacks), and so can the class (GPT-2's
<|endoftext|>); transformers adds them, and so do we (`added_tokens_as_built`). Its
"add_bos_token" and "add_eos_token" do not apply: transformers 5 drops them when a
tokenizer.json exists, whose post-processor decides (they do apply to GPT-2's files, see
`bpe.files`).
"""
import json
import os
from dataclasses import replace

from bpe.added_tokens import AddedToken
from bpe.hf_tokenizer import (HFTokenizer, check_vocabulary, read_json_file,
                              vocabulary_tables)
from bpe.model_file import write_text_atomically
from bpe.pretokenizers import pre_tokenizer_from_json
from bpe.tokenizer import InputTemplate
from bpe.tokenizer_classes import tokenizer_class_of

TOKENIZER_JSON = "tokenizer.json"
TOKENIZER_CONFIG = "tokenizer_config.json"
# tokenizer_config.json's keys for named special tokens, which transformers adds if missing
NAMED_SPECIAL_TOKENS = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token",
                        "cls_token", "mask_token")
ADDED_TOKEN_FLAGS = ("special", "lstrip", "rstrip", "single_word", "normalized")


def read_tokenizer_json(directory):
    """The HFTokenizer that transformers' AutoTokenizer makes of `directory`: its tokenizer.json
    as the tokenizer class built there reads it, with tokenizer_config.json's tokens."""
    path = os.path.join(directory, TOKENIZER_JSON)
    document = read_json_file(path, "a tokenizer.json (JSON)")
    config_path = os.path.join(directory, TOKENIZER_CONFIG)
    documents = {TOKENIZER_JSON: document}
    if os.path.isfile(config_path):
        documents[TOKENIZER_CONFIG] = read_json_file(config_path, "a tokenizer config (JSON)")
        if not isinstance(documents[TOKENIZER_CONFIG], dict):
            raise ValueError(f"{config_path} should hold a JSON object")
    config = documents.get(TOKENIZER_CONFIG, {})
    tokenizer_class = tokenizer_class_of(directory, config)
    try:
        as_read = tokenizer_class.as_built(document, config)
    except ValueError as err:
        raise ValueError(f"{config_path}: {err}") from None
    try:
        vocab, merges, options, file_tokens = read_model(as_read)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    try:
        added_tokens = added_tokens_as_built(config, file_tokens, vocab, tokenizer_class)
    except ValueError as err:
        raise ValueError(f"{config_path}: {err}") from None
    try:
        return build_tokenizer(as_read, documents, vocab, merges, options, added_tokens,
                               tokenizer_class.name)
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


def added_tokens_as_built(config, file_tokens, vocab, tokenizer_class):
    """The added tokens transformers ends with for tokenizer_config.json's `config`, the file's
    `file_tokens` and a `bpe.tokenizer_classes.TokenizerClass`, made in its order (a string not added yet takes
    the next id, so the order decides new tokens' ids):

    1. the file's `file_tokens`, which the generic class loads with the file (a class that
       rebuilds the tokenizer starts without them);
    2. tokenizer_config.json's added_tokens_decoder, or without one the file's list again, in
       id order, each with its flags (and special if it is a named special token);
    3. the named special tokens (the class's defaults where the config names none), the
       model-specific ones (other "..._token" keys) and the extra ones, where not added yet;
    4. for a class that resets them (Qwen2Tokenizer), 3's tokens again with default flags.
    """
    if config.get("split_special_tokens"):
        raise ValueError("split_special_tokens is not supported")
    named, extras = special_tokens_named(config, dict(tokenizer_class.default_tokens))
    named_contents = {token.content for token in named}
    tokens = [] if tokenizer_class.rebuilds else list(file_tokens)
    for token in decoder_tokens(config) if "added_tokens_decoder" in config else file_tokens:
        special = token.special or token.content in named_contents
        tokens = add_token(tokens, replace(token, special=special), vocab)
    for token in named + extras:
        if token.content not in {added.content for added in tokens}:
            tokens = add_token(tokens, token, vocab)
    if tokenizer_class.resets_special_flags:
        for token in named + extras:
            tokens = add_token(tokens, AddedToken(token.content, None), vocab)
    return tokens


def decoder_tokens(config):
    """tokenizer_config.json's added_tokens_decoder (id -> token) as AddedTokens, in id order."""
    decoder = config["added_tokens_decoder"]
    if not isinstance(decoder, dict):
        raise ValueError("added_tokens_decoder should be an object id -> token")
    tokens = []
    for key in sorted(decoder, key=lambda key: int(key) if key.isdigit() else -1):
        if not key.isdigit():
            raise ValueError(f"added_tokens_decoder has the key {key!r}, not an id")
        spec = decoder[key]
        tokens.append(added_token_from_json({**spec, "id": int(key)} if isinstance(spec, dict)
                                            else None, f"added_tokens_decoder[{key}]"))
    return tokens


def special_tokens_named(config, defaults):
    """(named, extras): AddedTokens for tokenizer_config.json's named special tokens in
    transformers' order (bos, eos, unk, sep, pad, cls, mask, then model-specific keys such as
    "image_token"), the class's `defaults` (key -> content) where a key is absent, and for its
    extra special tokens ("extra_special_tokens", else "additional_special_tokens")."""
    values = {key: config.get(key, defaults.get(key)) for key in NAMED_SPECIAL_TOKENS}
    for key, value in config.items():
        if key.endswith("_token") and key not in values and (
                isinstance(value, str) or is_added_token_object(value)):
            values[key] = value
    extra = config.get("extra_special_tokens")
    if isinstance(extra, dict):               # transformers 5's spelling of model-specific keys
        values.update(extra)
        extra = None
    extras = extra or config.get("additional_special_tokens") or []
    if not isinstance(extras, list):
        raise ValueError(f"extra special tokens should be a list, not {extras!r}")
    named = [special_token(value, key, special=True) for key, value in values.items()]
    extras = [special_token(value, "extra special token") for value in extras]
    return [t for t in named if t is not None], [t for t in extras if t is not None]


def is_added_token_object(value):
    return isinstance(value, dict) and value.get("__type") == "AddedToken"


def special_token(value, where, special=None):
    """The AddedToken a named or extra special token stands for (a string, or an object with
    "content" and flags), or None for null or ""."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return AddedToken(value, None)
    if isinstance(value, dict):
        token = added_token_from_json({key: value[key] for key in value if key != "id"}, where)
        return token if special is None else replace(token, special=special)
    raise ValueError(f"{where} should be a string or a token object, not {value!r}")


def build_tokenizer(document, documents, vocab, merges, ignore_merges, added_tokens, built_as):
    """The HFTokenizer of `document` as read (`documents` are the files as written)."""
    token_bytes, merge_ids, decode_only = vocabulary_tables(vocab, merges, "model.vocab")
    pre_tokenizer = pre_tokenizer_from_json(document.get("pre_tokenizer"),
                                            document.get("normalizer"))
    template = template_from_json(document.get("post_processor"))
    tokenizer = HFTokenizer(token_bytes, merge_ids, pre_tokenizer, added_tokens, ignore_merges,
                            template, decode_only, documents, built_as)
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
