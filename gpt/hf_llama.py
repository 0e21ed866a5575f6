"""Llama, Qwen2 and Qwen3 checkpoints in Hugging Face's layout, read into our GPT and written back.

The three families are one decoder with different parts (gpt.config): RMSNorm, rotary
positions, a SwiGLU MLP, grouped-query attention, and

    llama    optional biases (attention_bias on q, k, v and o; mlp_bias), Llama 3.1's rope
             scaling, a head tied or not
    qwen2    biases on q, k and v, never on o
    qwen3    an RMSNorm on each head's q and k, and a head size of its own (128 by default)

config.json, spelled the way released checkpoints spell it (rope_theta + rope_scaling, whose
kind is under "rope_type" or the older "type", or transformers 5's rope_parameters; torch_dtype
or dtype; head_dim), becomes a GPTConfig; a key that would change the computation and is not
implemented (a sliding window in use, partial rotary, a rope scaling other than llama3, an
activation other than SiLU) is refused by name, never ignored.

The weights keep their meaning under other names: Hugging Face's separate q_proj, k_proj and
v_proj are our one c_attn, their rows side by side (see WEIGHT_NAMES).
"""
from .config import GPTConfig
from .positions import LLAMA3_KEYS

MODEL_TYPES = ("llama", "qwen2", "qwen3")
ARCHITECTURES = {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM",
                 "qwen3": "Qwen3ForCausalLM"}
CLASSIFIERS = {"llama": "LlamaForSequenceClassification",
               "qwen2": "Qwen2ForSequenceClassification",
               "qwen3": "Qwen3ForSequenceClassification"}
REQUIRED_KEYS = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                 "num_attention_heads", "max_position_embeddings")
DEFAULT_THETA = 10000.0              # transformers' default_theta for all three

# Hugging Face's names of one block's tensors, by ours ({i}: the block). c_attn is three
# tensors of HF's, their rows stacked in this order.
BLOCK_NAMES = {
    "ln_1.weight": ["input_layernorm.weight"],
    "attn.c_attn.weight": ["self_attn.q_proj.weight", "self_attn.k_proj.weight",
                           "self_attn.v_proj.weight"],
    "attn.c_attn.bias": ["self_attn.q_proj.bias", "self_attn.k_proj.bias",
                         "self_attn.v_proj.bias"],
    "attn.c_proj.weight": ["self_attn.o_proj.weight"],
    "attn.c_proj.bias": ["self_attn.o_proj.bias"],
    "attn.q_norm.weight": ["self_attn.q_norm.weight"],
    "attn.k_norm.weight": ["self_attn.k_norm.weight"],
    "ln_2.weight": ["post_attention_layernorm.weight"],
    "mlp.c_gate.weight": ["mlp.gate_proj.weight"],
    "mlp.c_gate.bias": ["mlp.gate_proj.bias"],
    "mlp.c_fc.weight": ["mlp.up_proj.weight"],
    "mlp.c_fc.bias": ["mlp.up_proj.bias"],
    "mlp.c_proj.weight": ["mlp.down_proj.weight"],
    "mlp.c_proj.bias": ["mlp.down_proj.bias"],
}
OUTER_NAMES = {"transformer.wte.weight": ["model.embed_tokens.weight"],
               "transformer.ln_f.weight": ["model.norm.weight"],
               "lm_head.weight": ["lm_head.weight"]}


def weight_names(our_names):
    """{our parameter name: the Hugging Face tensor names that fill it, rows stacked in order}
    for the parameters a model has (`our_names`), the body under `model.` as HF writes it."""
    mapping = {}
    for name in our_names:
        if name in OUTER_NAMES:
            mapping[name] = OUTER_NAMES[name]
            continue
        prefix, block, rest = name.partition(".h.")
        layer, _, part = rest.partition(".")
        if prefix != "transformer" or not layer.isdigit() or part not in BLOCK_NAMES:
            raise ValueError(f"{name} has no place in a Llama-style checkpoint")
        mapping[name] = [f"model.layers.{layer}.{hf}" for hf in BLOCK_NAMES[part]]
    return mapping


def row_counts(config, name, n_rows):
    """How many rows of our parameter `name` (n_rows in all) each of its Hugging Face tensors
    holds, in weight_names' order: c_attn's are q's, k's and v's; any other, all of them."""
    if name.endswith(("attn.c_attn.weight", "attn.c_attn.bias")):
        return [config.n_head * config.head_size] + [config.n_kv_head * config.head_size] * 2
    return [n_rows]


def config_from_hf(hf, fused=True, source="config.json"):
    """GPTConfig from a Llama, Qwen2 or Qwen3 config.json (as a dict), every error naming
    `source`."""
    model_type = hf["model_type"]
    missing = [key for key in REQUIRED_KEYS if key not in hf]
    if missing:
        raise ValueError(f"{source} has no {missing[0]!r} entry (a {model_type} config.json "
                         f"has {', '.join(REQUIRED_KEYS)})")
    refuse_what_is_not_implemented(hf, source)
    theta, scaling = rope_settings(hf, source)
    heads = hf["num_attention_heads"]
    head_size = hf.get("head_dim")
    if head_size is None:        # Qwen3's default is its own; the others split the width
        head_size = 128 if model_type == "qwen3" else hf["hidden_size"] // heads
    attention_bias = hf.get("attention_bias", False)
    try:
        return GPTConfig(
            vocab_size=hf["vocab_size"], block_size=hf["max_position_embeddings"],
            n_layer=hf["num_hidden_layers"], n_head=heads, n_embd=hf["hidden_size"],
            bias=False, layer_norm_epsilon=hf.get("rms_norm_eps", 1e-6), fused=fused,
            norm="rmsnorm", positions="rotary", mlp="swiglu",
            mlp_hidden=hf["intermediate_size"], n_kv_head=hf.get("num_key_value_heads"),
            head_size=head_size,
            qkv_bias=True if model_type == "qwen2" else attention_bias,
            proj_bias=False if model_type == "qwen2" else attention_bias,
            mlp_bias=hf.get("mlp_bias", False), qk_norm=model_type == "qwen3",
            tie_embeddings=hf.get("tie_word_embeddings", False),
            rope_theta=theta, rope_scaling=scaling)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{source}: {error}") from None


def refuse_what_is_not_implemented(hf, source):
    """A ValueError naming the first key of `hf` that would change the computation in a way
    this model does not implement."""
    activation = hf.get("hidden_act", "silu")
    if activation != "silu":
        raise ValueError(f"{source}: hidden_act {activation!r}: only SiLU (SwiGLU) is "
                         f"implemented for {hf['model_type']}")
    if hf.get("use_sliding_window"):
        raise ValueError(f"{source}: use_sliding_window is true: sliding-window attention is not "
                         f"implemented (every layer here attends to the whole context)")
    layer_types = hf.get("layer_types")
    if layer_types is not None and set(layer_types) != {"full_attention"}:
        raise ValueError(f"{source}: layer_types has {sorted(set(layer_types) - {'full_attention'})}"
                         f": only full attention is implemented")
    if hf.get("partial_rotary_factor", 1.0) != 1.0:
        raise ValueError(f"{source}: partial_rotary_factor {hf['partial_rotary_factor']}: only "
                         f"rotary over the whole head is implemented")
    for key in ("attn_logit_softcapping", "final_logit_softcapping", "use_mrope",
                "no_rope_layers", "embedding_multiplier", "logits_scaling"):
        if hf.get(key) not in (None, False):
            raise ValueError(f"{source}: {key} is set ({hf[key]!r}), which this model does not "
                             f"implement")


def rope_settings(hf, source):
    """(theta, scaling or None) from either spelling: rope_theta + rope_scaling (with its kind
    under "rope_type" or the older "type"), or transformers 5's rope_parameters."""
    parameters = hf.get("rope_parameters")
    if parameters is not None:
        if not isinstance(parameters, dict) or any(isinstance(v, dict) for v in parameters.values()):
            raise ValueError(f"{source}: rope_parameters must be one set of settings, got "
                             f"{parameters!r}")
        scaling = dict(parameters)
        theta = scaling.pop("rope_theta", hf.get("rope_theta", DEFAULT_THETA))
    else:
        scaling = hf.get("rope_scaling")
        scaling = None if scaling is None else dict(scaling)
        theta = hf.get("rope_theta", DEFAULT_THETA)
    if scaling is not None:
        kind = scaling.get("rope_type", scaling.get("type", "default"))
        if kind == "default":
            scaling = None
        elif kind != "llama3":
            raise ValueError(f"{source}: rope scaling {kind!r} is not implemented (only "
                             f"Llama 3.1's 'llama3')")
        else:
            scaling = {"rope_type": "llama3", **{key: scaling[key] for key in LLAMA3_KEYS
                                                 if key in scaling}}
    return theta, scaling


def has_layout(config):
    """True if one of the three families can hold a model of `config`."""
    return (config.norm, config.positions, config.mlp) == ("rmsnorm", "rotary", "swiglu")


def model_type_of(config):
    """Which family's layout can hold a model of `config`: qwen3 (q/k norms), qwen2 (biases on
    q, k, v only), llama; a ValueError naming the parts for a mix no family has."""
    parts = (config.norm, config.positions, config.mlp)
    if parts != ("rmsnorm", "rotary", "swiglu"):
        raise ValueError(f"a model with norm={config.norm!r}, positions={config.positions!r} "
                         f"and mlp={config.mlp!r} has no Hugging Face layout (GPT-2 is "
                         f"layernorm, learned, gelu; Llama and Qwen are rmsnorm, rotary, swiglu)")
    if config.qk_norm:
        return "qwen3"
    if config.qkv_bias and not config.proj_bias and not config.mlp_bias:
        return "qwen2"
    return "llama"


def hf_config(config):
    """config.json's settings for a model of `config` (a Llama-style GPTConfig), in its family."""
    model_type = model_type_of(config)
    hf = {
        "architectures": [ARCHITECTURES[model_type]],
        "model_type": model_type,
        "vocab_size": config.vocab_size,
        "hidden_size": config.n_embd,
        "intermediate_size": config.mlp_hidden,
        "num_hidden_layers": config.n_layer,
        "num_attention_heads": config.n_head,
        "num_key_value_heads": config.n_kv_head,
        "head_dim": config.head_size,
        "hidden_act": "silu",
        "max_position_embeddings": config.block_size,
        "rms_norm_eps": config.layer_norm_epsilon,
        "rope_theta": config.rope_theta,
        "rope_scaling": config.rope_scaling,
        "tie_word_embeddings": config.tie_embeddings,
        "attention_dropout": config.dropout,
        "torch_dtype": "float32",
    }
    if model_type == "llama":
        hf.update(attention_bias=config.qkv_bias, mlp_bias=config.mlp_bias)
    if model_type == "qwen3":
        hf.update(attention_bias=config.qkv_bias)
    if model_type in ("qwen2", "qwen3"):
        hf.update(use_sliding_window=False)
    return hf
