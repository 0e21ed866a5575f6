"""Reading and writing GPT-2 checkpoints in Hugging Face's layout.

A directory holds `config.json` (the shape: n_embd, n_layer, n_head, n_positions, vocab_size,
layer_norm_epsilon) and `model.safetensors`. Two things differ from our own layout:

- HF's GPT-2 uses `Conv1D` layers, whose weights are stored (in, out); our `Linear` weights are
  (out, in) as everywhere else in PyTorch, so the four projection weights are transposed on the
  way in and out.
- OpenAI's released checkpoints name tensors without the `transformer.` prefix and carry
  causal-mask buffers (`h.N.attn.bias`, `h.N.attn.masked_bias`) that are not parameters; some
  files also store the tied `lm_head.weight`.
"""
import json
import re
from pathlib import Path

import numpy as np

from tinytorch import safetensors
from tinytorch.serialization import write_json

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
REQUIRED_KEYS = ("vocab_size", "n_positions", "n_layer", "n_head", "n_embd")


def config_from_hf(hf, fused=True, source="config.json"):
    """GPTConfig from a parsed config.json, refusing variants this model does not implement.
    Every error names `source`, the file the settings came from."""
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
        raise FileNotFoundError(f"{directory} has no {CONFIG_FILE}: not a Hugging Face GPT-2 "
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
    """A language model built from `directory`'s config, holding its weights (float32)."""
    hf = read_config(directory)
    if CLASSIFIER_ARCHITECTURE in hf.get("architectures", []):
        raise ValueError(f"{directory} is a sequence classifier ({CLASSIFIER_ARCHITECTURE}), "
                         f"not a language model: use it with `python -m gpt classify`, or give "
                         f"the language model it was made from")
    config = config_from_hf(hf, fused=fused, source=Path(directory) / CONFIG_FILE)
    return load_weights_into(model_class(config, seed=0), directory,
                             hf_to_state_dict(read_weights(directory)))


def load_weights_into(model, directory, state):
    """`model` holding `state` (from `directory`'s weights); a mismatch with its config.json
    is an error naming both files."""
    try:
        model.load_state_dict(state)
    except ValueError as error:
        raise ValueError(f"{Path(directory) / WEIGHTS_FILE} does not fit {CONFIG_FILE}'s "
                         f"sizes: {error}") from None
    return model


def read_weights(directory):
    """{name: ndarray} from `directory`'s model.safetensors, as stored there (HF's names and
    Conv1D layout: hf_to_state_dict converts them). A tensor holding nan or inf (as float32,
    which the model computes in) is refused, named: such a model only ever outputs nan."""
    weights_path = Path(directory) / WEIGHTS_FILE
    if not weights_path.is_file():
        raise FileNotFoundError(f"{directory} has no {WEIGHTS_FILE}")
    tensors = safetensors.load_file(weights_path)
    for name, array in tensors.items():
        if array.dtype.kind == "f" and not MASK_BUFFER.search(name):
            check_finite(weights_path, name, array)
    return tensors


def check_finite(path, name, array):
    """A ValueError naming `path`, the tensor and its first bad element if `array` has
    values that are nan or inf, or that become inf as float32."""
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


def save_pretrained(model, directory, extra_config=None):
    """Write model.safetensors (HF names and Conv1D layout) and config.json into `directory`.

    extra_config: more config.json entries, e.g. {"eos_token_id": 0} from the tokenizer.
    Each file is written to a temporary name and renamed, so an interruption never leaves a
    half-written checkpoint.
    """
    if not model.config.bias:
        raise ValueError("a bias=False model cannot be written in GPT-2's Hugging Face layout, "
                         "which has biases in every Linear and LayerNorm")
    lora = [name for name, _ in model.named_parameters() if name.endswith(".lora_A")]
    if lora:
        raise ValueError(f"this model has LoRA layers ({lora[0]}, ...), which GPT-2's layout "
                         f"cannot hold; fold them into the weights first with "
                         f"gpt.finetune.lora.merge_lora(model)")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for name, param in model.named_parameters():
        array = param.data.T if name.endswith(CONV1D_WEIGHTS) else param.data
        tensors[name] = np.ascontiguousarray(array)
    safetensors.save_file(tensors, directory / "model.safetensors")
    write_json(directory / "config.json", hf_config(model.config, extra_config))


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
