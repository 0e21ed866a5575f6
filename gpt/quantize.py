"""int8 weights: each weight matrix stored as 8-bit integers and one float32 scale per row.

Symmetric absmax quantisation of a row w (in,) of a weight matrix (out, in):

    scale = max |w| / 127                    one float32 per output row
    q     = round(w / scale)                 int8 in [-127, 127]
    w    ~= q * scale                        the error of each weight is at most scale / 2

One scale per row (not per matrix) keeps a row of small weights from being crushed by another
row's large one. Every Linear of the blocks (attention's c_attn and c_proj, the MLP's) becomes
an Int8Linear, and the token embedding an Int8Embedding, whose rows serve both as embeddings
and, tied, as the LM head (an untied lm_head is an Int8Linear); keep_head=True leaves the head
(and so a tied embedding) in float32. Biases, norms and a learned position table stay float32.

NumPy has no int8 matrix product, so the weights are widened back to float32 on the fly: the
int8 codes of a block of rows are cast, multiplied, and dropped, then the products are scaled:
(x @ q^T) * scale, which equals x @ (q * scale)^T. No float32 copy of a whole matrix is kept
(the fused MLP kernel takes whole matrices, `affine()`: that copy lives for one call). So this
trades speed for memory: the weights take about a quarter of the space at rest, and each
product costs a cast more than float32's. An int8 model is for inference only (under
tt.no_grad()).

Files: `save_int8(model, directory)` writes `model.int8.safetensors` into a checkpoint
directory, beside the float `model.safetensors` and `config.json` it may hold, and
`load_int8(directory)` reads it back. Its layout (our own names, Linear's (out, in) layout):

    <layer>.weight        I8  (out, in)   the codes q of every quantised matrix
    <layer>.weight_scale  F32 (out,)      its scales
    every other parameter F32             as GPT.state_dict() names it (biases, norms, wpe)
    __metadata__          {"format": "pt", "quantization": QUANTIZATION,
                           "gpt_config": GPTConfig as JSON,
                           "float_weights": the float weight files beside it, as JSON
                                            [name, bytes, modified (ns)]}

A tied head is stored once, as transformer.wte.weight. The float weights' stamp tells when the
checkpoint beside the file has changed since it was quantised (a run trained further): then
`load_int8` refuses the file rather than give the old weights; an int8 file alone in its
directory (the float weights deleted to save the space) loads.
"""
import json
from pathlib import Path

import numpy as np

import tinytorch as tt
import tinytorch.functional as F
from tinytorch import nn, safetensors

from .config import GPTConfig
from .model import GPT

INT8_FILE = "model.int8.safetensors"
QUANTIZATION = "int8, symmetric absmax, one float32 scale per output row"
BLOCK_ROWS = 1024          # rows of a weight matrix widened to float32 at a time


def quantize_rows(weight):
    """Symmetric absmax int8 codes of each row of weight (out, in), float32 or float64:
    (q int8 (out, in), scale float32 (out,)) with scale = max |row| / 127 and q = the row /
    scale rounded to the nearest integer, so that q * scale[:, None] ~= weight within scale / 2,
    |q| <= 127 and each row's largest |weight| is coded as +-127. An all-zero row gets scale 0
    and codes 0 (no division by zero), as does a row so small (max |w| below about 1e-36) that
    its scale underflows float32. `weight` is left as it is."""
    # BEGIN EXERCISE quantize_rows: scale = absmax / 127 per row; q = round(w / scale)
    scale = (np.abs(weight).max(axis=1) / 127.0).astype(np.float32)             # (out,)
    safe = np.where(scale > 0, scale, 1.0).astype(np.float32)   # a zero row: codes 0 anyway
    q = np.clip(np.rint(weight / safe[:, None]), -127, 127).astype(np.int8)
    return q, scale
    # END EXERCISE quantize_rows


def dequantize_rows(q, scale, dtype=np.float32):
    """The matrix the codes stand for: q (out, in) int8 times each row's scale (out,), as a
    new array of `dtype` (float32 unless asked otherwise); q and scale are left as they are."""
    # BEGIN EXERCISE dequantize_rows: widen the codes to dtype, multiply row i by scale[i]
    return q.astype(dtype) * scale.astype(dtype)[:, None]
    # END EXERCISE dequantize_rows


def int8_matmul(x, q, scale):
    """x (..., in) @ (q * scale[:, None])^T -> (..., out) in x's dtype, widening BLOCK_ROWS
    rows of the codes at a time (no float copy of the whole matrix)."""
    out = np.empty(x.shape[:-1] + (q.shape[0],), x.dtype)
    for start in range(0, q.shape[0], BLOCK_ROWS):
        rows = q[start:start + BLOCK_ROWS].astype(x.dtype)              # (block, in)
        out[..., start:start + BLOCK_ROWS] = x @ rows.T
    out *= scale.astype(x.dtype)                        # one scale per output column
    return out


def inference_only(x, layer):
    """x's array; an error if x needs a gradient (int8 weights cannot be trained)."""
    if x.requires_grad:
        raise RuntimeError(f"{layer} holds int8 weights, for inference only: run the model "
                           f"under tt.no_grad()")
    return x.data


class Int8Linear(nn.Module):
    """A Linear whose weight (out, in) is int8 codes and float32 row scales; the bias, if
    any, stays a float32 Parameter. forward(x (..., in)) -> (..., out) as Linear's."""

    def __init__(self, q, scale, bias=None):
        super().__init__()
        self.q, self.scale = q, scale
        self.out_features, self.in_features = q.shape
        self.bias = bias

    @classmethod
    def from_linear(cls, linear):
        q, scale = quantize_rows(linear.weight.data)
        bias = None if linear.bias is None else nn.Parameter(linear.bias.data.copy())
        return cls(q, scale, bias)

    def forward(self, x, functional=F):
        y = int8_matmul(inference_only(x, self), self.q, self.scale)
        if self.bias is not None:
            y += self.bias.data
        return tt.Tensor(y)

    def affine(self):
        """(weight, bias) for a kernel that takes whole matrices (the fused MLP): the
        dequantised weight, made for this call and dropped after it."""
        return tt.Tensor(dequantize_rows(self.q, self.scale, self.scale.dtype)), self.bias

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, int8")


class Int8Embedding(nn.Module):
    """An Embedding whose table (V, C) is int8 codes and a float32 scale per row: forward(ids)
    widens the rows it picks; attend(x) is the tied LM head, x @ table^T."""

    def __init__(self, q, scale):
        super().__init__()
        self.q, self.scale = q, scale
        self.num_embeddings, self.embedding_dim = q.shape

    @classmethod
    def from_embedding(cls, embedding):
        return cls(*quantize_rows(embedding.weight.data))

    def forward(self, ids, functional=F):
        ids = ids.data if isinstance(ids, tt.Tensor) else np.asarray(ids)
        if ids.size and (ids.min() < 0 or ids.max() >= self.num_embeddings):
            bad = ids[(ids < 0) | (ids >= self.num_embeddings)][0]
            raise IndexError(f"token id {bad} is outside the vocabulary of "
                             f"{self.num_embeddings} tokens")
        return tt.Tensor(self.q[ids].astype(self.scale.dtype) * self.scale[ids][..., None])

    def attend(self, x, functional=F):
        return tt.Tensor(int8_matmul(inference_only(x, self), self.q, self.scale))

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}, int8"


def quantize_int8(model, keep_head=False):
    """A copy of `model` (a GPT; it is left as it is) whose weight matrices are int8: every
    Linear in the blocks, the token embedding and the head (tied or not), unless keep_head
    leaves the head (for a tied model, the embedding it shares) in float32. LoRA layers must
    be merged first (gpt.finetune.lora.merge_lora)."""
    if not isinstance(model, GPT):
        raise TypeError(f"quantize_int8 takes a GPT, got {type(model).__name__}")
    lora = [name for name, module in model.named_modules() if hasattr(module, "lora_A")]
    if lora:
        raise ValueError(f"{lora[0]} is a LoRA layer: merge it into its weights first with "
                         f"gpt.finetune.lora.merge_lora(model)")
    dtype = model.transformer.ln_f.weight.dtype              # what the model computes in
    quantized = GPT(model.config, seed=0).to(dtype)
    quantized.load_state_dict(model.state_dict())                      # copies the arrays
    for key in ("special_token_ids", "generation_config"):
        if hasattr(model, key):
            setattr(quantized, key, getattr(model, key))
    head_name = "transformer.wte" if model.config.tie_embeddings else "lm_head"
    modules = dict(quantized.named_modules())
    for name, module in list(modules.items()):
        if keep_head and name == head_name:
            continue
        if isinstance(module, nn.Linear):
            replace(modules, name, Int8Linear.from_linear(module))
        elif isinstance(module, nn.Embedding) and name == "transformer.wte":
            replace(modules, name, Int8Embedding.from_embedding(module))
    return quantized.requires_grad_(False).eval()    # nothing in it trains


def replace(modules, name, module):
    """Put `module` where the module named `name` (dotted) is; modules: named_modules()."""
    parent, _, child = name.rpartition(".")
    setattr(modules[parent], child, module)


def int8_layers(model):
    """{name: Int8Linear or Int8Embedding} of a model (empty for a float one)."""
    return {name: module for name, module in model.named_modules()
            if isinstance(module, (Int8Linear, Int8Embedding))}


def weight_bytes(model):
    """Bytes the model's weights take: float parameters, int8 codes and their scales."""
    params = sum(param.data.nbytes for param in model.parameters())
    return params + sum(layer.q.nbytes + layer.scale.nbytes
                        for layer in int8_layers(model).values())


def save_int8(model, directory):
    """Write an int8 model (quantize_int8's) to `directory`/model.int8.safetensors, in the
    layout of this module's docstring, atomically."""
    layers = int8_layers(model)
    if not layers:
        raise ValueError("this model has no int8 layers: quantize it first with "
                         "gpt.quantize.quantize_int8(model)")
    tensors = dict(model.state_dict())
    for name, layer in layers.items():
        tensors[f"{name}.weight"], tensors[f"{name}.weight_scale"] = layer.q, layer.scale
    config = {key: value for key, value in model.config.to_dict().items() if key != "fused"}
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    safetensors.save_file(tensors, directory / INT8_FILE,
                          {"quantization": QUANTIZATION, "gpt_config": json.dumps(config),
                           "float_weights": json.dumps(float_weights_stamp(directory))})


def float_weights_stamp(directory):
    """[name, bytes, modified (ns)] of each float weight file in `directory`
    (model.safetensors, or the index and its shards), in name order."""
    files = sorted(path for path in Path(directory).glob("model*.safetensors*")
                   if path.name != INT8_FILE)
    return [[path.name, path.stat().st_size, path.stat().st_mtime_ns] for path in files]


def check_quantized_from_these_weights(path, metadata):
    """A ValueError if the float weights beside the int8 file `path` are not those it was
    quantised from (its metadata's stamp); none beside it, or no stamp, is fine."""
    now = float_weights_stamp(path.parent)
    then = json.loads(metadata.get("float_weights", "null"))
    if now and then is not None and now != then:
        raise ValueError(f"{path} was quantised from other weights than {path.parent} holds "
                         f"now (they changed since): quantise again (python -m gpt quantize "
                         f"--model {path.parent})")


def load_int8(directory, fused=True):
    """The int8 model save_int8 wrote to `directory`; a file that is not such a model, or one
    quantised from other weights than the float checkpoint beside it, is an error naming it."""
    path = Path(directory) / INT8_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{directory} has no {INT8_FILE} (save_int8 writes one)")
    metadata = safetensors.read_metadata(path)
    if metadata.get("quantization") != QUANTIZATION or "gpt_config" not in metadata:
        raise ValueError(f"{path} is not an int8 model written by gpt.quantize.save_int8 (its "
                         f"metadata has no quantization {QUANTIZATION!r} and gpt_config)")
    check_quantized_from_these_weights(path, metadata)
    config = GPTConfig(**json.loads(metadata["gpt_config"]), fused=fused)
    tensors = safetensors.load_file(path)
    model = GPT(config, seed=0)
    modules = dict(model.named_modules())
    for name in [key[:-len(".weight_scale")] for key in tensors if key.endswith("_scale")]:
        q, scale = tensors.pop(f"{name}.weight"), tensors.pop(f"{name}.weight_scale")
        old = modules.get(name)
        if getattr(getattr(old, "weight", None), "shape", None) != q.shape \
                or q.dtype != np.int8 or scale.shape != q.shape[:1]:
            raise ValueError(f"{path}: {name}.weight {q.dtype} {q.shape} with scales "
                             f"{scale.shape} is no int8 layer of this model")
        if isinstance(old, nn.Embedding):
            replace(modules, name, Int8Embedding(q, scale.astype(np.float32)))
        else:
            replace(modules, name, Int8Linear(q, scale.astype(np.float32), old.bias))
    try:
        model.load_state_dict(tensors)
    except ValueError as error:
        raise ValueError(f"{path} does not fit its own gpt_config: {error}") from None
    return model.requires_grad_(False).eval()
