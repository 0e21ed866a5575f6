"""Reading and writing checkpoints in Hugging Face's layout: GPT-2 here, and Llama, Qwen2 and
Qwen3 with gpt.hf_llama's names (`model_type` in config.json says which).

A directory holds `config.json` (the shape) and `model.safetensors`, or, for a large model,
several shards listed by `model.safetensors.index.json`. The weights may be stored as F32, BF16
or F16; the model computes in float32. The model is built without drawing random weights, the
files are memory-mapped and each tensor is converted straight into its parameter, so loading a
Llama or Qwen model holds no second copy of any tensor (a GPT-2 is read whole, then copied).
generation_config.json, when there is one, is kept with the model (`model.generation_config`):
its end-of-sequence ids (one or a list) end generation.

For GPT-2, two things differ from our own layout:

- HF's GPT-2 uses `Conv1D` layers, whose weights are stored (in, out); our `Linear` weights are
  (out, in) as everywhere else in PyTorch, so the four projection weights are transposed on the
  way in and out.
- OpenAI's released checkpoints name tensors without the `transformer.` prefix and carry
  causal-mask buffers (`h.N.attn.bias`, `h.N.attn.masked_bias`) that are not parameters; some
  files also store the tied `lm_head.weight`.
"""
import json
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from tinytorch import nn, safetensors
from tinytorch.serialization import write_json

from . import hf_llama
from .config import GPTConfig

CONV1D_WEIGHTS = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight",
                  "mlp.c_proj.weight")
MASK_BUFFER = re.compile(r"(^|\.)h\.\d+\.attn\.(bias|masked_bias)$")
TANH_GELUS = ("gelu_new", "gelu_pytorch_tanh", "gelu_fast")
# config.json's "architectures": a language model, or a classifier (gpt.finetune.classifier)
LANGUAGE_MODEL_ARCHITECTURE = "GPT2LMHeadModel"
CLASSIFIER_ARCHITECTURE = "GPT2ForSequenceClassification"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
WEIGHTS_INDEX_FILE = "model.safetensors.index.json"
GENERATION_CONFIG_FILE = "generation_config.json"
# config.json's ids of special tokens, kept from a checkpoint loaded and written back with it
SPECIAL_TOKEN_KEYS = ("bos_token_id", "eos_token_id", "pad_token_id")
REQUIRED_KEYS = ("vocab_size", "n_positions", "n_layer", "n_head", "n_embd")


# A model whose mix of parts no Hugging Face family has (sinusoidal positions, say) is still
# saved: config.json then holds its GPTConfig under this model_type, and the weights keep our
# names. Only this project reads such a directory.
OWN_MODEL_TYPE = "tinygpt"


def model_type(hf, source="config.json"):
    """The family of a parsed config.json: its model_type (GPT-2's files from before that key
    existed have n_embd); a family this project does not implement is an error naming it."""
    kind = hf.get("model_type", "gpt2" if "n_embd" in hf else None)
    if kind not in ("gpt2", OWN_MODEL_TYPE) + hf_llama.MODEL_TYPES:
        raise ValueError(f"{source}: model_type {kind!r} is not one this project implements "
                         f"(gpt2, {', '.join(hf_llama.MODEL_TYPES)})")
    return kind


def config_from_hf(hf, fused=True, source="config.json"):
    """GPTConfig from a parsed config.json of any family this project reads, refusing
    variants it does not implement. Every error names `source`, the file."""
    kind = model_type(hf, source)
    if kind == OWN_MODEL_TYPE:
        settings = {key: value for key, value in hf.get("gpt_config", {}).items()}
        try:
            return GPTConfig(**{**settings, "fused": fused})
        except TypeError as error:
            raise ValueError(f"{source}: gpt_config does not describe a GPTConfig: {error}") \
                from None
        except ValueError as error:
            raise ValueError(f"{source}: {error}") from None
    if kind != "gpt2":
        return hf_llama.config_from_hf(hf, fused, source)
    return gpt2_config_from_hf(hf, fused, source)


def gpt2_config_from_hf(hf, fused=True, source="config.json"):
    """GPTConfig from a GPT-2 config.json, refusing variants this model does not implement."""
    missing = [key for key in REQUIRED_KEYS if key not in hf]
    if missing:
        raise ValueError(f"{source} has no {missing[0]!r} entry (a GPT-2 config.json has "
                         f"{', '.join(REQUIRED_KEYS)})")
    try:
        config = GPTConfig(vocab_size=hf["vocab_size"], block_size=hf["n_positions"],
                           n_layer=hf["n_layer"], n_head=hf["n_head"], n_embd=hf["n_embd"],
                           layer_norm_epsilon=hf.get("layer_norm_epsilon", 1e-5), fused=fused)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{source}: {error}") from None
    activation = hf.get("activation_function", "gelu_new")
    if activation not in TANH_GELUS:
        raise ValueError(f"{source}: activation_function {activation!r} is not GPT-2's tanh "
                         f"GELU")
    if hf.get("n_inner") not in (None, 4 * config.n_embd):
        raise ValueError(f"{source}: n_inner={hf['n_inner']}: only the 4 x n_embd MLP is "
                         f"implemented")
    if hf.get("scale_attn_by_inverse_layer_idx") or not hf.get("scale_attn_weights", True):
        raise ValueError(f"{source}: only GPT-2's attention scaling, 1/sqrt(head_size), is "
                         f"implemented")
    if not hf.get("tie_word_embeddings", True):
        raise ValueError(f"{source}: only a LM head tied to the token embedding is implemented")
    return config


def read_config(directory):
    """The settings in `directory`'s config.json, a dict; a file that is missing, not UTF-8,
    not JSON or not a JSON object is an error naming it."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{directory} has no {CONFIG_FILE}: not a Hugging Face "
                                f"checkpoint directory")
    hf = read_json(path)
    if not isinstance(hf, dict):
        raise ValueError(f"{path} must hold a JSON object of settings, got a JSON "
                         f"{type(hf).__name__}")
    if not isinstance(hf.get("architectures", []), list):
        raise ValueError(f"{path}: architectures must be a list of class names, got "
                         f"{hf['architectures']!r}")
    return hf


def hf_to_state_dict(tensors):
    """Our {name: array} from a checkpoint's tensors: `transformer.` names, Linear layout."""
    state = {}
    for key, array in tensors.items():
        converted = hf_tensor_to_ours(key, array)
        if converted is not None:                       # None: a mask buffer, not a weight
            name, array = converted
            state[name] = array
    head = state.pop("lm_head.weight", None)
    if head is not None and not np.array_equal(head, state.get("transformer.wte.weight")):
        raise ValueError("lm_head.weight differs from transformer.wte.weight; only a tied "
                         "LM head is implemented")
    return state


def hf_tensor_to_ours(key, array):
    """(our name, array in our layout) for one tensor of a GPT-2 checkpoint, or None for the
    causal-mask buffers `h.N.attn.bias` and `h.N.attn.masked_bias` (MASK_BUFFER), which are
    not parameters. A key without the `transformer.` prefix (OpenAI's files) gets it, except
    `lm_head.*`; the four Conv1D weights (names ending in CONV1D_WEIGHTS), stored (in, out),
    are transposed to Linear's (out, in); every other tensor is returned as it is.
    """
    # BEGIN EXERCISE hf_tensor_to_ours: skip mask buffers; add "transformer."; transpose Conv1D
    if MASK_BUFFER.search(key):
        return None
    name = key if key.startswith(("transformer.", "lm_head.")) else "transformer." + key
    if name.endswith(CONV1D_WEIGHTS):
        array = array.T
    return name, array
    # END EXERCISE hf_tensor_to_ours


def load_pretrained(model_class, directory, fused=True):
    """A language model built from `directory`'s config, holding its weights (float32), with
    the checkpoint's special-token ids and generation settings kept for saving it again."""
    hf = read_config(directory)
    source = Path(directory) / CONFIG_FILE
    classifiers = {CLASSIFIER_ARCHITECTURE, *hf_llama.CLASSIFIERS.values()}
    found = classifiers.intersection(hf.get("architectures", []))
    if found:
        raise ValueError(f"{directory} is a sequence classifier ({found.pop()}), not a language "
                         f"model: use it with `python -m gpt classify`, or give the language "
                         f"model it was made from")
    config = config_from_hf(hf, fused=fused, source=source)
    # Every parameter is read from the file next: drawing random weights first would cost
    # their time and float64 temporaries twice the size of the largest tensor.
    model = nn.utils.skip_init(model_class, config, seed=0)
    kind = model_type(hf, source)
    if kind == "gpt2":
        load_weights_into(model, directory, hf_to_state_dict(read_weights(directory)))
    elif kind == OWN_MODEL_TYPE:
        load_weights_into(model, directory, read_weights(directory))
    else:
        with open_weights(directory) as weights:
            fill_parameters(model, weights, hf_llama.weight_names(dict(model.named_parameters())))
    model.special_token_ids = {key: hf[key] for key in SPECIAL_TOKEN_KEYS if key in hf}
    model.generation_config = read_generation_config(directory)
    return model


def fill_parameters(model, weights, names):
    """Copy each checkpoint tensor into its parameter, in place: `names` maps each parameter to
    the tensor names of `weights` whose rows fill it, in order (q, k, v into c_attn). A tensor
    the model has no place for, one it lacks, a shape that does not fit, or a value that is not
    finite is an error naming the file and the tensor."""
    params = dict(model.named_parameters())
    wanted = {hf_name for hf_names in names.values() for hf_name in hf_names}
    tied_head = "lm_head.weight" if "lm_head.weight" not in params else None
    unexpected = sorted(set(weights) - wanted - {tied_head})
    missing = sorted(wanted - set(weights))
    if missing or unexpected:
        raise ValueError(f"{weights.describe()} does not fit {CONFIG_FILE}: "
                         + "; ".join(f"{what} {', '.join(found[:5])}"
                                     + (f" and {len(found) - 5} more" if len(found) > 5 else "")
                                     for what, found in (("missing", missing),
                                                         ("unexpected", unexpected)) if found))
    for name, hf_names in names.items():
        param, row = params[name], 0
        for hf_name in hf_names:
            shape = weights.shape_of(hf_name)
            if shape[1:] != param.shape[1:] or row + shape[0] > len(param.data):
                raise ValueError(f"{weights.path_of(hf_name)}: tensor {hf_name!r} has shape "
                                 f"{shape}, which does not fit {name} {param.shape} "
                                 f"({CONFIG_FILE}'s sizes)")
            rows = param.data[row:row + shape[0]]
            weights.read_into(hf_name, rows)              # converted to float32 in place
            check_finite(weights.path_of(hf_name), hf_name, rows)
            row += shape[0]
        if row != len(param.data):
            raise ValueError(f"{weights.describe()}: {', '.join(hf_names)} fill {row} of the "
                             f"{len(param.data)} rows of {name} ({CONFIG_FILE}'s sizes)")
    if tied_head in weights and not np.array_equal(weights[tied_head],
                                                   params["transformer.wte.weight"].data):
        raise ValueError(f"{weights.describe()}: lm_head.weight differs from the token "
                         f"embedding, but {CONFIG_FILE} says they are tied")


def load_weights_into(model, directory, state):
    """`model` holding `state` (from `directory`'s weights); a mismatch with its config.json
    is an error naming both files."""
    try:
        model.load_state_dict(state)
    except ValueError as error:
        raise ValueError(f"{Path(directory) / WEIGHTS_FILE} does not fit {CONFIG_FILE}'s "
                         f"sizes: {error}") from None
    return model


class Weights(Mapping):
    """A checkpoint's tensors, one file or several shards, read on demand ({HF name: array},
    see tinytorch.safetensors.TensorFile: F32 as views of the file, BF16 and F16 converted
    tensor by tensor). A context manager."""

    def __init__(self, files, shard_of):
        self.files, self.shard_of = files, shard_of          # {path: TensorFile}, {name: path}

    def __getitem__(self, name):
        return self.files[self.shard_of[name]][name]

    def __iter__(self):
        return iter(self.shard_of)

    def __len__(self):
        return len(self.shard_of)

    def path_of(self, name):
        return self.shard_of[name]

    def shape_of(self, name):
        """The stored shape of tensor `name`, read from its file's header (no data read)."""
        return tuple(self.files[self.shard_of[name]].header[name]["shape"])

    def read_into(self, name, out):
        """Tensor `name` copied into `out` as float32 with no copy in between (see
        tinytorch.safetensors.TensorFile.read_into)."""
        return self.files[self.shard_of[name]].read_into(name, out)

    def describe(self):
        paths = sorted(self.files)
        return str(paths[0]) if len(paths) == 1 else f"{paths[0].parent}'s {len(paths)} shards"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for file in self.files.values():
            file.close()
        return False


def open_weights(directory):
    """The tensors of `directory`: model.safetensors, or the shards that
    model.safetensors.index.json lists (its weight_map: tensor name -> file)."""
    directory = Path(directory)
    single, index = directory / WEIGHTS_FILE, directory / WEIGHTS_INDEX_FILE
    if single.is_file():
        file = safetensors.TensorFile(single)
        return Weights({single: file}, {name: single for name in file})
    if not index.is_file():
        raise FileNotFoundError(f"{directory} has no {WEIGHTS_FILE} (nor {WEIGHTS_INDEX_FILE})")
    contents = read_json(index)
    weight_map = contents.get("weight_map") if isinstance(contents, dict) else None
    if not (isinstance(weight_map, dict) and weight_map
            and all(isinstance(f, str) and "/" not in f for f in weight_map.values())):
        raise ValueError(f"{index}: expected a weight_map of tensor names to shard file names")
    files = {}
    for shard in sorted(set(weight_map.values())):
        path = directory / shard
        if not path.is_file():
            raise FileNotFoundError(f"{index} lists {shard}, which {directory} does not have")
        files[path] = safetensors.TensorFile(path)
    shard_of = {}
    for path, file in files.items():
        for name in file:
            if weight_map.get(name) != path.name:
                raise ValueError(f"{path}: tensor {name!r} is not listed for this shard in "
                                 f"{index}")
            shard_of[name] = path
    missing = sorted(set(weight_map) - set(shard_of))
    if missing:
        raise ValueError(f"{index} lists {missing[0]!r}, which no shard holds")
    return Weights(files, shard_of)


def read_weights(directory):
    """{name: ndarray} from `directory`'s weights, as stored there (HF's names and GPT-2's
    Conv1D layout: hf_to_state_dict converts them). A tensor holding nan or inf (as float32,
    which the model computes in) is refused, named: such a model only ever outputs nan."""
    with open_weights(directory) as weights:
        tensors = {}
        for name in weights:
            array = weights[name]
            if array.dtype.kind == "f" and not MASK_BUFFER.search(name):
                check_finite(weights.path_of(name), name, array)
            tensors[name] = np.array(array)                 # our own copy, writable
    return tensors


def read_generation_config(directory):
    """generation_config.json's settings (a dict), or None where there is none."""
    path = Path(directory) / GENERATION_CONFIG_FILE
    if not path.is_file():
        return None
    settings = read_json(path)
    if not isinstance(settings, dict):
        raise ValueError(f"{path} must hold a JSON object of settings")
    return settings


def check_finite(path, name, array):
    """A ValueError naming `path`, the tensor and its first bad element if `array` has
    values that are nan or inf, or that become inf as float32."""
    if array.dtype.itemsize <= 4:
        # A sum in float64 of float32 (or narrower) values is finite exactly when they all
        # are (it cannot overflow), and NumPy sums through small buffers: no copy of a tensor
        # the size of the largest, which loading must not hold.
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isfinite(np.sum(array, dtype=np.float64)):
                return
    with np.errstate(over="ignore"):                 # float64 beyond float32's range -> inf
        bad = ~np.isfinite(array.astype(np.float32, copy=False))
    if bad.any():
        first = np.unravel_index(np.argmax(bad), bad.shape)
        raise ValueError(f"{path}: tensor {name!r} holds {int(bad.sum()):,} nan or infinite "
                         f"values (the first at index {list(map(int, first))}: "
                         f"{array[first]}); the weights are damaged, perhaps saved from a run "
                         f"that diverged")


def hf_config(config, extra=None):
    """config.json contents that HF's GPT2LMHeadModel reads."""
    hf = {
        "activation_function": "gelu_new",
        "architectures": [LANGUAGE_MODEL_ARCHITECTURE],
        "attn_pdrop": config.dropout,
        "embd_pdrop": config.dropout,
        "layer_norm_epsilon": config.layer_norm_epsilon,
        "model_type": "gpt2",
        "n_embd": config.n_embd,
        "n_head": config.n_head,
        "n_inner": None,
        "n_layer": config.n_layer,
        "n_positions": config.block_size,
        "resid_pdrop": config.dropout,
        "scale_attn_weights": True,
        "tie_word_embeddings": True,
        "vocab_size": config.vocab_size,
    }
    hf.update(extra or {})
    return hf


def save_pretrained(model, directory, extra_config=None, dtype="float32"):
    """Write model.safetensors and config.json into `directory` in the Hugging Face layout of
    the model's family (GPT-2's Conv1D layout and names, or Llama's, Qwen2's or Qwen3's), and
    generation_config.json if the model came with one.

    dtype: "float32" (exact) or "bfloat16" (each weight rounded to nearest: half the bytes, the
    way open checkpoints ship; loading it back gives those rounded values).

    extra_config: more config.json entries, e.g. {"eos_token_id": 0} from the tokenizer; they
    override the special-token ids the model was loaded with. Each file is written to a
    temporary name and renamed, so an interruption never leaves a half-written file.
    """
    lora = [name for name, _ in model.named_parameters() if name.endswith(".lora_A")]
    if lora:
        raise ValueError(f"this model has LoRA layers ({lora[0]}, ...), which a Hugging Face "
                         f"layout cannot hold; fold them into the weights first with "
                         f"gpt.finetune.lora.merge_lora(model)")
    if dtype not in ("float32", "bfloat16"):
        raise ValueError(f"dtype must be 'float32' or 'bfloat16', got {dtype!r}")
    config = model.config
    if is_gpt2(config):
        tensors = {name: np.ascontiguousarray(param.data.T if name.endswith(CONV1D_WEIGHTS)
                                              else param.data)
                   for name, param in model.named_parameters()}
        settings = hf_config(config)
    elif hf_llama.has_layout(config):
        tensors = llama_tensors(model)
        settings = hf_llama.hf_config(config)
    else:                                  # parts no Hugging Face family has: our own layout
        tensors = {name: np.ascontiguousarray(param.data)
                   for name, param in model.named_parameters()}
        own = {key: value for key, value in config.to_dict().items() if key != "fused"}
        settings = {"model_type": OWN_MODEL_TYPE, "architectures": [type(model).__name__],
                    "gpt_config": own}
    if dtype == "bfloat16":
        settings["torch_dtype"] = dtype
    settings.update(getattr(model, "special_token_ids", None) or {})
    settings.update(extra_config or {})
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    safetensors.save_file(tensors, directory / WEIGHTS_FILE, bfloat16=dtype == "bfloat16")
    write_json(directory / CONFIG_FILE, settings)
    if getattr(model, "generation_config", None):
        write_json(directory / GENERATION_CONFIG_FILE, model.generation_config)


def is_gpt2(config):
    """True if a model of `config` is made of GPT-2's parts, so GPT-2's layout can hold it."""
    return (config.norm, config.positions, config.mlp) == ("layernorm", "learned", "gelu") \
        and config.tie_embeddings and not config.qk_norm and config.bias \
        and config.qkv_bias and config.proj_bias and config.mlp_bias \
        and config.n_kv_head == config.n_head and config.mlp_hidden == 4 * config.n_embd \
        and config.head_size * config.n_head == config.n_embd


def llama_tensors(model):
    """{Hugging Face name: array} of a Llama-style model: each parameter cut into the tensors
    that fill it (c_attn's rows into q, k and v); other parameters (a classifier's score) keep
    their names."""
    params = dict(model.named_parameters())
    body = {name: param for name, param in params.items()
            if name.startswith("transformer.") or name == "lm_head.weight"}
    tensors = {name: np.ascontiguousarray(param.data) for name, param in params.items()
               if name not in body}
    for name, hf_names in hf_llama.weight_names(body).items():
        data, row = params[name].data, 0
        for hf_name, rows in zip(hf_names, hf_llama.row_counts(model.config, name, len(data))):
            tensors[hf_name] = np.ascontiguousarray(data[row:row + rows])
            row += rows
    return tensors


def classifier_architecture(config):
    """config.json's architecture name of a classifier with this body."""
    if is_gpt2(config):
        return CLASSIFIER_ARCHITECTURE
    return hf_llama.CLASSIFIERS[hf_llama.model_type_of(config)]


def read_json(path):
    """The JSON value in the file at `path`; a file that is not UTF-8 or not JSON is a
    ValueError naming it and where the problem is."""
    raw = Path(path).read_bytes()
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not valid UTF-8 (byte 0x{raw[error.start]:02x} at offset "
                         f"{error.start})") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error.msg} at line {error.lineno}, "
                         f"column {error.colno}") from None
