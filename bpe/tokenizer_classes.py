"""Which tokenizer class transformers 5.24's AutoTokenizer builds for a directory, and what that
class keeps of tokenizer.json.

AutoTokenizer follows tokenizer.json as written only when it builds the generic class,
TokenizersBackend (PreTrainedTokenizerFast is another name for it). A model-specific class
builds its own pipeline in its __init__ and takes from the file only the vocabulary, the merges
and (all but GPT-NeoX's) the post-processor:

    class              normaliser   pre-tokeniser                           post-processor
    GPT2Tokenizer      none         ByteLevel with GPT-2's regex            the file's
    Qwen2Tokenizer     NFC          Split(Qwen2's regex), then ByteLevel    the file's
    Qwen3_5Tokenizer   NFC          Split(Qwen3.5's regex), then ByteLevel  the file's
    GPTNeoXTokenizer   NFC          ByteLevel with GPT-2's regex            none: no BOS

Such a class also takes ByteLevel's add_prefix_space from tokenizer_config.json (the generic
class ignores that key), drops the file's ignore_merges, and starts its added tokens from
tokenizer_config.json's added_tokens_decoder when there is one (the file's list otherwise). Its
default special tokens (GPT-2's <|endoftext|> as unk, bos and eos) are added where
tokenizer_config.json names none, as new tokens if the vocabulary lacks them; Qwen2Tokenizer
then re-adds its special tokens with default flags (no lstrip or rstrip). The normaliser,
pre-tokeniser, BPE options and decoder written in the file are never read. For every class,
transformers drops tokenizer_config.json's add_bos_token and add_eos_token when a
tokenizer.json exists.

Which class (tokenizer_config.json's "tokenizer_class", else config.json's, and config.json's
"model_type"), in this order:
1. a model type in FORCED_BY_MODEL_TYPE gets its registered class whatever the files name
   (transformers' list of checkpoints whose named class is wrong; qwen2 is on it);
2. a model type registered to the generic class gets the generic class;
3. a named class: LlamaTokenizer gives the generic class (its own pipeline is SentencePiece's;
   transformers switches when tokenizer.json is byte-level), a generic name the generic class,
   any other name that class;
4. no name: the model type's registered class, or the generic class.
So SmolLM2 (GPT2Tokenizer under llama) is rebuilt and loses its Digits step; Qwen2.5 and Qwen3
(Qwen2Tokenizer) are rebuilt into what their files already say; Llama 3
(PreTrainedTokenizerFast) and Phi-4 (GPT2Tokenizer under phi3) are read as written.

A class or model type missing from these tables, where it could change the ids, is a
ValueError that names it. tests/fixtures/hf-tokenizers/ holds what transformers built for
every class here and every model type in REGISTERED_CLASSES. (transformers builds
MistralCommonBackend for Mistral models only when the mistral-common package is installed and
the checkpoint has a tekken.json; that is not followed here.)
"""
import os
from dataclasses import dataclass

from bpe.hf_tokenizer import read_json_file
from bpe.patterns import QWEN2_PATTERN, QWEN3_5_PATTERN

GENERIC = "TokenizersBackend"
END_OF_TEXT = "<|endoftext|>"
# The BPE model a rebuilding class makes: the file's vocabulary and merges, nothing else.
REBUILT_BPE_OPTIONS = {"ignore_merges": False, "dropout": None,
                       "continuing_subword_prefix": None, "end_of_word_suffix": None}


@dataclass(frozen=True)
class TokenizerClass:
    """What one transformers tokenizer class does with tokenizer.json (see the module
    docstring). The generic class keeps the file (rebuilds=False); the others build:

    nfc:                  an NFC normaliser, or none
    split_pattern:        the regex of a Split step before ByteLevel, or None
    byte_level_regex:     ByteLevel's own GPT-2 regex (use_regex)
    default_tokens:       (key, content) of the named special tokens it sets when
                          tokenizer_config.json does not set that key
    keeps_post_processor: the file's post-processor, or none
    resets_special_flags: re-adds its special tokens with default flags
    """
    name: str
    rebuilds: bool = True
    nfc: bool = False
    split_pattern: str | None = None
    byte_level_regex: bool = True
    default_tokens: tuple = ()
    keeps_post_processor: bool = True
    resets_special_flags: bool = False

    def pipeline_json(self, config):
        """The "normalizer" and "pre_tokenizer" this class builds, as tokenizer.json spells
        them, for tokenizer_config.json's `config` (a dict)."""
        prefix_space = config.get("add_prefix_space")
        if prefix_space is not None and not isinstance(prefix_space, bool):
            raise ValueError(f"add_prefix_space should be true or false, not {prefix_space!r}")
        steps = [{"type": "Split", "pattern": {"Regex": self.split_pattern},
                  "behavior": "Isolated", "invert": False}] if self.split_pattern else []
        steps.append({"type": "ByteLevel", "add_prefix_space": bool(prefix_space),
                      "trim_offsets": True, "use_regex": self.byte_level_regex})
        normalizer = {"type": "NFC"} if self.nfc else None
        return normalizer, {"type": "Sequence", "pretokenizers": steps}

    def as_built(self, document, config):
        """tokenizer.json's `document` with the parts this class builds itself in place of the
        file's (the added tokens are `bpe.tokenizer_json`'s business)."""
        if not self.rebuilds or not isinstance(document, dict):
            return document
        normalizer, pre_tokenizer = self.pipeline_json(config)
        model = document.get("model")
        return {**document, "normalizer": normalizer, "pre_tokenizer": pre_tokenizer,
                "model": {**model, **REBUILT_BPE_OPTIONS} if isinstance(model, dict) else model,
                "post_processor": document.get("post_processor") if self.keeps_post_processor
                else None}


_QWEN_TOKENS = (("unk_token", END_OF_TEXT), ("eos_token", END_OF_TEXT),
                ("pad_token", END_OF_TEXT))
CLASSES = {tokenizer_class.name: tokenizer_class for tokenizer_class in (
    TokenizerClass(GENERIC, rebuilds=False),
    TokenizerClass("GPT2Tokenizer", default_tokens=(
        ("bos_token", END_OF_TEXT), ("eos_token", END_OF_TEXT), ("unk_token", END_OF_TEXT))),
    TokenizerClass("Qwen2Tokenizer", nfc=True, split_pattern=QWEN2_PATTERN,
                   byte_level_regex=False, default_tokens=_QWEN_TOKENS,
                   resets_special_flags=True),
    TokenizerClass("Qwen3_5Tokenizer", nfc=True, split_pattern=QWEN3_5_PATTERN,
                   byte_level_regex=False, default_tokens=_QWEN_TOKENS),
    TokenizerClass("GPTNeoXTokenizer", nfc=True, keeps_post_processor=False, default_tokens=(
        ("bos_token", END_OF_TEXT), ("eos_token", END_OF_TEXT), ("unk_token", END_OF_TEXT),
        ("pad_token", "<|padding|>"))),
)}
# Names that mean the generic class once a "Fast" suffix is dropped, as transformers drops it
# (PreTrainedTokenizerFast among them).
GENERIC_NAMES = {GENERIC, "PreTrainedTokenizer", "PythonBackend"}

# model_type -> the tokenizer class transformers 5.24 registers for it (None: none), for the
# families that ship byte-level BPE; the class matters when tokenizer_config.json names none
# or names a class the model type overrides (rules 1 and 2 of the module docstring).
REGISTERED_CLASSES = {
    **dict.fromkeys(("gpt2", "gpt_neo", "gptj", "codegen", "phi", "starcoder2",
                     "hyperclovax_vision_v2"), "GPT2Tokenizer"),
    **dict.fromkeys(("qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "qwen3_next"),
                    "Qwen2Tokenizer"),
    **dict.fromkeys(("qwen3_5", "qwen3_5_text", "qwen3_5_moe", "qwen3_5_moe_text",
                     "qwen4_exp"), "Qwen3_5Tokenizer"),
    **dict.fromkeys(("gpt_neox", "olmo"), "GPTNeoXTokenizer"),
    **dict.fromkeys(("llama", "llama4", "smollm3", "deepseek_v3"), None),
    **dict.fromkeys(("mistral", "mixtral", "phi3", "olmo2", "olmo3", "granite", "granitemoe",
                     "gpt_bigcode", "stablelm"), GENERIC),
    "siglip2": "Siglip2Tokenizer",
}
# Every model type whose registered class transformers 5.24 builds whatever the files name
# (its MODELS_WITH_INCORRECT_HUB_TOKENIZER_CLASS, those with a class of their own): a model
# type missing from REGISTERED_CLASSES is then known not to override a generic name.
FORCED_BY_MODEL_TYPE = {"qwen2", "qwen3_5", "qwen3_5_moe", "qwen3_5_moe_text", "qwen4_exp",
                        "hyperclovax_vision_v2", "siglip2"}
_UNKNOWN = object()


def class_name_for(named, model_type, byte_level_tokenizer_json=True):
    """The name of the class transformers builds when `named` (a str, or None) is the named
    tokenizer class and `model_type` (a str, or None without config.json) the model type;
    `byte_level_tokenizer_json`: the directory has a byte-level tokenizer.json. A ValueError
    when that depends on a model type missing from REGISTERED_CLASSES."""
    registered = REGISTERED_CLASSES.get(model_type, _UNKNOWN) if model_type else None
    if model_type in FORCED_BY_MODEL_TYPE or registered == GENERIC:
        return registered
    if named is not None:
        name = named.removesuffix("Fast")
        if name in GENERIC_NAMES or (name == "LlamaTokenizer" and byte_level_tokenizer_json):
            return GENERIC
        if registered is not _UNKNOWN:
            return name
    elif registered is not _UNKNOWN:
        return registered or GENERIC
    raise ValueError(f"model_type {model_type!r}: which tokenizer class transformers builds "
                     f"for it{' with ' + repr(named) if named else ''} depends on the class "
                     f"it registers for that model type, which bpe does not know (it knows "
                     f"{', '.join(sorted(REGISTERED_CLASSES))})")


def named_class_and_model_type(directory, config):
    """(tokenizer class named by tokenizer_config.json's `config` or else config.json, the model
    type config.json gives), each a str or None."""
    model_config = {}
    model_config_path = os.path.join(directory, "config.json")
    if os.path.isfile(model_config_path):
        model_config = read_json_file(model_config_path, "a model config (JSON)")
        if not isinstance(model_config, dict):
            raise ValueError(f"{model_config_path} should hold a JSON object")
    for where, document, key in (("tokenizer_config.json", config, "tokenizer_class"),
                                 ("config.json", model_config, "tokenizer_class"),
                                 ("config.json", model_config, "model_type")):
        value = document.get(key)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{os.path.join(directory, where)}: {key} should be a string, "
                             f"not {value!r}")
    named = config.get("tokenizer_class") or model_config.get("tokenizer_class")
    return named, model_config.get("model_type") or None


def tokenizer_class_of(directory, config):
    """The TokenizerClass that transformers' AutoTokenizer builds for `directory`, which holds
    a byte-level tokenizer.json and tokenizer_config.json's `config` ({} without one)."""
    auto_map = config.get("auto_map")
    if isinstance(auto_map, list) or isinstance(auto_map, dict) and auto_map.get("AutoTokenizer"):
        raise ValueError(f"{os.path.join(directory, 'tokenizer_config.json')}: auto_map names "
                         f"tokenizer code of the checkpoint's own (trust_remote_code), which "
                         f"bpe cannot follow")
    named, model_type = named_class_and_model_type(directory, config)
    try:
        name = class_name_for(named, model_type)
    except ValueError as err:
        raise ValueError(f"{os.path.join(directory, 'config.json')}: {err}") from None
    if name not in CLASSES:
        raise ValueError(f"{directory}: transformers builds the tokenizer class {name} here "
                         f"({describe(named, model_type)}), whose own pipeline bpe does not "
                         f"know and which may change the ids (bpe knows {', '.join(CLASSES)}, "
                         f"PreTrainedTokenizerFast and LlamaTokenizer)")
    return CLASSES[name]


def gpt2_files_class(directory, config):
    """GPT2Tokenizer, the one reading of GPT-2's vocab.json + merges.txt that bpe follows, for
    `directory` with tokenizer_config.json's `config` ({} without one); a ValueError naming the
    class if transformers builds another there. With neither a tokenizer_class nor a model_type
    the files are GPT-2's (transformers itself then needs a config.json to load them)."""
    named, model_type = named_class_and_model_type(directory, config)
    if named is None and model_type is None:
        return CLASSES["GPT2Tokenizer"]
    try:
        name = class_name_for(named, model_type, byte_level_tokenizer_json=False)
    except ValueError as err:
        raise ValueError(f"{os.path.join(directory, 'config.json')}: {err}") from None
    if name != "GPT2Tokenizer":
        raise ValueError(f"{directory}: with {describe(named, model_type)}, transformers reads "
                         f"vocab.json + merges.txt as {name}, not as GPT2Tokenizer, the one "
                         f"reading of these files bpe follows")
    return CLASSES[name]


def describe(named, model_type):
    """Where a class choice came from, for messages."""
    return (f"tokenizer_class {named!r}" if named else "no tokenizer_class") + \
        (f", model_type {model_type!r}" if model_type else ", no model_type")
