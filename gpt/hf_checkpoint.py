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
from tinytorch.serialization import atomic_write

from .config import GPTConfig

CONV1D_WEIGHTS = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight",
                  "mlp.c_proj.weight")
MASK_BUFFER = re.compile(r"(^|\.)h\.\d+\.attn\.(bias|masked_bias)$")
TANH_GELUS = ("gelu_new", "gelu_pytorch_tanh", "gelu_fast")
# config.json's "architectures": a language model, or a classifier (gpt.classifier)
LANGUAGE_MODEL_ARCHITECTURE = "GPT2LMHeadModel"
CLASSIFIER_ARCHITECTURE = "GPT2ForSequenceClassification"


def config_from_hf(hf, fused=True):
    """GPTConfig from a parsed config.json, refusing variants this model does not implement."""
    activation = hf.get("activation_function", "gelu_new")
    if activation not in TANH_GELUS:
        raise ValueError(f"activation_function {activation!r} is not GPT-2's tanh GELU")
    if hf.get("n_inner") not in (None, 4 * hf["n_embd"]):
        raise ValueError(f"n_inner={hf['n_inner']}: only the 4 x n_embd MLP is implemented")
    if hf.get("scale_attn_by_inverse_layer_idx") or not hf.get("scale_attn_weights", True):
        raise ValueError("only GPT-2's attention scaling, 1/sqrt(head_size), is implemented")
    if not hf.get("tie_word_embeddings", True):
        raise ValueError("only a LM head tied to the token embedding is implemented")
    return GPTConfig(vocab_size=hf["vocab_size"], block_size=hf["n_positions"],
                     n_layer=hf["n_layer"], n_head=hf["n_head"], n_embd=hf["n_embd"],
                     layer_norm_epsilon=float(hf.get("layer_norm_epsilon", 1e-5)), fused=fused)


def read_config(directory):
    path = Path(directory) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{directory} has no config.json: not a Hugging Face GPT-2 "
                                f"checkpoint directory")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


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
    config = config_from_hf(hf, fused=fused)
    model = model_class(config, seed=0)
    model.load_state_dict(hf_to_state_dict(read_weights(directory)))
    return model


def read_weights(directory):
    """{name: ndarray} from `directory`'s model.safetensors, as stored there (HF's names and
    Conv1D layout: hf_to_state_dict converts them)."""
    weights_path = Path(directory) / "model.safetensors"
    if not weights_path.is_file():
        raise FileNotFoundError(f"{directory} has no model.safetensors")
    return safetensors.load_file(weights_path)


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
                         f"gpt.lora.merge_lora(model)")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for name, param in model.named_parameters():
        array = param.data.T if name.endswith(CONV1D_WEIGHTS) else param.data
        tensors[name] = np.ascontiguousarray(array)
    safetensors.save_file(tensors, directory / "model.safetensors")
    write_json(directory / "config.json", hf_config(model.config, extra_config))


def write_json(path, obj, sort_keys=True):
    """Write JSON atomically (a temporary file, then a rename), as UTF-8 that keeps non-ASCII
    text readable. Keys sorted, as HF writes config.json; sort_keys=False keeps their order."""
    text = json.dumps(obj, indent=2, sort_keys=sort_keys, ensure_ascii=False) + "\n"
    with atomic_write(path) as f:
        f.write(text.encode("utf-8"))
