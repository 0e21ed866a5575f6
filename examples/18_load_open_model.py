"""18 - An open checkpoint (Llama, Qwen, SmolLM) and its tokenizer.json: read, check, run.

Today's open models ship as a Hugging Face directory: config.json (the architecture: which
parts, what sizes), model.safetensors (the weights, usually bfloat16, often in shards listed by
model.safetensors.index.json), tokenizer.json (the whole tokenizer: merges, pre-tokenizer,
special tokens, what goes around a text) and generation_config.json (how the authors sample).
This reads one with our own code, shows how each file becomes part of our model, runs it, and
checks what it computes against what Hugging Face transformers computed on the same files.

Run it:              python examples/18_load_open_model.py
Smaller and faster:  EXAMPLES_FAST=1 python examples/18_load_open_model.py
In a debugger:       python -m pdb examples/18_load_open_model.py, and stop at a line marked
                     `breakpoint:` below (the README's debugger table lists them).
Another checkpoint:  python examples/18_load_open_model.py DIRECTORY ["a prompt"]

Without an argument it loads ../shared/data/llama-tiny (next to the repository's folder): a
2-layer Llama trained briefly on Shakespeare, with a reference.json of transformers' outputs.
A real one works the same way, for example SmolLM2-135M (540 MB in float32 once loaded):

    mkdir smollm && for f in config.json generation_config.json model.safetensors \\
        tokenizer.json tokenizer_config.json; do curl -L -o smollm/$f \\
        https://huggingface.co/HuggingFaceTB/SmolLM2-135M/resolve/main/$f; done
    python examples/18_load_open_model.py smollm "The capital of France is"

Then read gpt/hf_llama.py (config.json and the tensor names to ours), gpt/hf_checkpoint.py
(fill_parameters, open_weights), tinytorch/safetensors.py (the memory-mapped file, bfloat16)
and gpt/tokenizers.py (encode_prompt, stop_ids).
"""
import json
import os
import sys
from pathlib import Path

import numpy as np

import bpe
import tinytorch as tt
import tinytorch.functional as F
from gpt import GPT
from gpt import hf_llama
from gpt.hf_checkpoint import open_weights, read_config
from gpt.tokenizers import encode_prompt, load_tokenizer, stop_ids
from tinytorch.safetensors import bfloat16_to_float32, float32_to_bfloat16

FAST = os.environ.get("EXAMPLES_FAST") == "1"
GREEDY_TOKENS = 12 if FAST else 30
SAMPLE_TOKENS = 16 if FAST else 50
ROOT = Path(__file__).resolve().parent.parent
LLAMA_TINY = ROOT.parent / "shared" / "data" / "llama-tiny"
directory = Path(sys.argv[1]) if len(sys.argv) > 1 else LLAMA_TINY
reference_file = directory / "reference.json"
reference = json.loads(reference_file.read_text()) if reference_file.is_file() else {}
prompt = sys.argv[2] if len(sys.argv) > 2 else reference.get("prompt", "ROMEO:\nWhat light")

if not directory.is_dir():
    sys.exit(f"error: no checkpoint directory at {directory} (see this file's docstring)")

# ---- 1. The files ------------------------------------------------------------------------------
print(f"== 1. the checkpoint in {directory.name}/ ==")
for path in sorted(p for p in directory.iterdir() if p.is_file()):
    print(f"  {path.name:32} {path.stat().st_size:>12,} bytes")

# ---- 2. config.json, read aloud -------------------------------------------------------------
try:
    hf = read_config(directory)
    model = GPT.from_pretrained(directory)    # config.json, then every tensor into its place
    tokenizer = load_tokenizer(directory)     # tokenizer.json (or GPT-2's vocab.json + merges)
except (OSError, ValueError) as error:
    sys.exit(f"error: cannot load {directory}: {error}")
config = model.config
print(f"\n== 2. config.json: a {hf.get('model_type')} model; its keys and our GPTConfig ==")
KEYS = [("hidden_size", "n_embd"), ("num_hidden_layers", "n_layer"),
        ("num_attention_heads", "n_head"), ("num_key_value_heads", "n_kv_head"),
        ("head_dim", "head_size"), ("intermediate_size", "mlp_hidden"),
        ("vocab_size", "vocab_size"), ("max_position_embeddings", "block_size"),
        ("rope_theta", "rope_theta"), ("rms_norm_eps", "layer_norm_epsilon"),
        ("tie_word_embeddings", "tie_embeddings")]
for hf_key, ours in KEYS:
    if hf_key in hf:
        print(f"  {hf_key:26} {str(hf[hf_key]):>10}  ->  {ours} = {getattr(config, ours)}")
print(f"the parts: norm {config.norm}, positions {config.positions}, mlp {config.mlp}, "
      f"{config.n_head} query heads sharing {config.n_kv_head} key/value heads, "
      f"{'a tied head' if config.tie_embeddings else 'a head of its own'}"
      + (", q/k norms" if config.qk_norm else ""))

# ---- 3. The weights: Hugging Face's tensors, our parameters ----------------------------------
print("\n== 3. the weights of layer 0: the file's tensors and the parameter each fills ==")
names = hf_llama.weight_names(dict(model.named_parameters())) if hf_llama.has_layout(config) \
    else {}
with open_weights(directory) as weights:
    stored_as = {name: weights.files[weights.path_of(name)].dtype_name(name) for name in weights}
    for ours, theirs in names.items():
        if ".h.0." not in ours:
            continue
        pieces = " + ".join(f"{name.removeprefix('model.layers.0.')} "
                            f"{tuple(weights[name].shape)}" for name in theirs)
        print(f"  {ours.removeprefix('transformer.h.0.'):20} "
              f"{str(dict(model.named_parameters())[ours].shape):12} <- {pieces}")
    if names:
        print("q, k and v are stacked into one c_attn, the rows of q first")
    else:
        print("GPT-2's layout: the file's names are ours (c_attn already holds q, k and v)")
    print(f"stored as {', '.join(sorted(set(stored_as.values())))}, held as float32")
    # bfloat16, as real checkpoints ship: the first few weights of the embedding, rounded to
    # bfloat16's 8 significant bits and read back the way a bf16 file is read
    first = model.transformer.wte.weight.data[0, :4]                                  # (4,)
    words = float32_to_bfloat16(first)          # the top 16 bits of each, rounded to nearest
    # breakpoint: `first`, `[hex(w) for w in words]` (the top 16 bits of each float32), then
    #   `n` and `as_bf16`, `first - as_bf16` (what bfloat16 loses)
    as_bf16 = bfloat16_to_float32(words)
    print(f"wte[0, :4] in float32:   {first}")
    print(f"the same as bfloat16:    {as_bf16}  (words {[hex(int(w)) for w in words]})")
    change = np.max(np.abs(first - as_bf16) / np.abs(first))
    print(f"largest relative change: {change:.1e} (bfloat16 keeps 8 significant bits: at most "
          f"2^-8 = {2.0 ** -8:.1e})" + ("; these were bfloat16 already" if change == 0 else ""))

# ---- 4. tokenizer.json: the prompt as ids --------------------------------------------------
print("\n== 4. the tokenizer: the prompt as the model receives it ==")
print(f"{tokenizer}; special tokens {tokenizer.special_tokens}")
print(f"around every text: {tokenizer.input_template}")
# breakpoint: `s` into encode_prompt (`gpt/tokenizers.py`), `n` and `r` to its end; then `n` and
#   `ids[:3]` (begin-of-text first), `len(ids)`
ids = encode_prompt(tokenizer, prompt)
print(f"prompt: {prompt!r}")
print(f"ids:    {ids}")
print("pieces: " + " | ".join(bpe.render_token(tokenizer.decode_bytes([i])) for i in ids))
if "prompt_ids" in reference:
    print(f"the ids transformers' AutoTokenizer gave: the same: {ids == reference['prompt_ids']}")

# ---- 5. The next token -----------------------------------------------------------------------
print("\n== 5. the next token after the prompt ==")
idx = np.array([ids])                                                              # (1, T)
with tt.no_grad():
    logits, _ = model(idx)                                                         # (1, T, V)
probs = F.softmax(logits[0, -1], dim=-1).data                                      # (V,)
for rank, token in enumerate(np.argsort(-probs, kind="stable")[:5], start=1):
    piece = bpe.render_token(tokenizer.decode_bytes([int(token)]))
    print(f"  {rank}. id {int(token):6}  {piece:14} p = {probs[token]:.4f}")
if "logits" in reference and reference.get("prompt_ids") == ids:
    difference = np.abs(logits.data[0] - np.array(reference["logits"], np.float32)).max()
    print(f"largest difference from transformers' logits at all {len(ids)} positions: "
          f"{difference:.1e}")

# ---- 6. Generating -----------------------------------------------------------------------------
stops = stop_ids(tokenizer, model)
print(f"\n== 6. greedy, up to {GREEDY_TOKENS} tokens, stopping at end id(s) {stops} ==")
greedy = model.generate(idx, GREEDY_TOKENS, temperature=0, eos_token_id=stops)
print(f"new ids: {greedy[0, len(ids):].tolist()}")
for line in tokenizer.decode(greedy[0, len(ids):].tolist()).split("\n"):
    print(f"  | {line}")
if "greedy_ids" in reference:
    hf_greedy = reference["greedy_ids"][:greedy.shape[1]]
    print(f"transformers' greedy continuation starts the same: "
          f"{greedy[0, :len(hf_greedy)].tolist() == hf_greedy}")
settings = model.generation_config or {}
temperature, top_p = settings.get("temperature", 1.0), settings.get("top_p")
print(f"\n== 7. sampling as generation_config.json says (temperature {temperature}, top-p "
      f"{top_p}), seed 0, {SAMPLE_TOKENS} tokens ==")
sample = model.generate(idx, SAMPLE_TOKENS, temperature=temperature, top_p=top_p, seed=0,
                        eos_token_id=stops)
for line in tokenizer.decode(sample[0, len(ids):].tolist()).split("\n"):
    print(f"  | {line}")

# ---- 8. Memory ---------------------------------------------------------------------------------
print("\n== 8. memory ==")
n = model.num_parameters()
print(f"{n:,} parameters: {4 * n:,} bytes in float32 here, {2 * n:,} in bfloat16")
for size in (0.5e9, 8e9):
    print(f"{size / 1e9:g}B parameters: {4 * size / 1e9:g} GB in float32 (what we compute in), "
          f"{2 * size / 1e9:g} GB in bfloat16 (what it ships in)")
