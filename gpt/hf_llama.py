"""Llama, Qwen2 and Qwen3 checkpoints in Hugging Face's layout, read into our GPT and written back.

The three families are one decoder with different parts (gpt.config): RMSNorm, rotary
positions, a SwiGLU MLP, grouped-query attention, and

    llama    optional biases (attention_bias on q, k, v and o; mlp_bias), Llama 3.1's rope
             scaling, a head tied or not
    qwen2    biases on q, k and v, never on o
    qwen3    an RMSNorm on each head's q and k, and a head size of its own (128 by default)

config.json, spelled the way released checkpoints spell it (rope_theta + rope_scaling, whose
kind is under "rope_type" or the older "type", or transformers 5's rope_parameters; torch_dtype
or dtype; head_dim), becomes a GPTConfig, read as transformers 5.24 reads it (its defaults for
absent keys, the keys each family ignores ignored); a key that would change the computation and
is not implemented (a sliding window that cuts the context, partial rotary, a rope scaling other
than llama3, an activation other than SiLU, softcapping, quantized weights) is refused by name,
never ignored.

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
# What transformers 5.24's config classes assume where config.json has no such key (null
# key/value heads means as many as query heads; a null head_dim, the width split among them)
FAMILY_DEFAULTS = {"llama": {"num_key_value_heads": None, "head_dim": None},
                   "qwen2": {"num_key_value_heads": 32, "head_dim": None},
                   "qwen3": {"num_key_value_heads": 32, "head_dim": 128}}
SILU_NAMES = ("silu", "swish")       # transformers' ACT2FN: both are SiLU
# config.json's key for each GPTConfig field it sets, to name them in errors
HF_KEYS = {"vocab_size": "vocab_size", "block_size": "max_position_embeddings",
           "n_layer": "num_hidden_layers", "n_head": "num_attention_heads",
           "n_embd": "hidden_size", "layer_norm_epsilon": "rms_norm_eps",
           "mlp_hidden": "intermediate_size", "n_kv_head": "num_key_value_heads",
           "head_size": "head_dim", "tie_embeddings": "tie_word_embeddings",
           "rope_theta": "rope_theta", "rope_scaling": "rope_scaling",
           "qkv_bias": "attention_bias", "proj_bias": "attention_bias", "mlp_bias": "mlp_bias"}
# Keys of related models (other families, other versions, quantized files) that change the
# computation, with the values that leave it as this model computes it; any other value is
# refused, by name. (Keys that never change it pass unread: bos/eos/pad ids, use_cache,
# initializer_range, pretraining_tp, attention_dropout, torch_dtype or dtype, ...)
NEUTRAL_VALUES = {
    "partial_rotary_factor": (1, None), "rope_interleaved": (False, None),
    "use_mrope": (False, None), "attn_logit_softcapping": (None,),
    "final_logit_softcapping": (None,), "no_rope_layers": (None,),
    "embedding_multiplier": (1, None), "logits_scaling": (1, None),
    "residual_multiplier": (1, None), "attention_multiplier": (None,),
    "query_pre_attn_scalar": (None,), "use_qk_norm": (False, None),
    "num_experts": (0, None), "num_local_experts": (0, None),
    "quantization_config": (None,),
}
NOT_IMPLEMENTED = {
    "partial_rotary_factor": "rotary over part of each head",
    "rope_interleaved": "rotary on interleaved pairs (here, rotate-half as in transformers)",
    "use_mrope": "multimodal rotary positions",
    "attn_logit_softcapping": "softcapped attention scores",
    "final_logit_softcapping": "softcapped logits",
    "no_rope_layers": "layers without rotary positions",
    "embedding_multiplier": "scaled embeddings", "logits_scaling": "scaled logits",
    "residual_multiplier": "a scaled residual stream",
    "attention_multiplier": "an attention scale other than 1/sqrt(head_dim)",
    "query_pre_attn_scalar": "an attention scale other than 1/sqrt(head_dim)",
    "use_qk_norm": "Llama 4's q/k norm",
    "num_experts": "a mixture of experts", "num_local_experts": "a mixture of experts",
    "quantization_config": "quantized weights; give the float16, bfloat16 or float32 files",
}

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
    """GPTConfig from a Llama, Qwen2 or Qwen3 config.json (as a dict), read as transformers
    5.24 reads it (its defaults where a key is absent, FAMILY_DEFAULTS), every error naming
    `source` and the config.json key."""
    model_type = hf["model_type"]
    missing = [key for key in REQUIRED_KEYS if key not in hf]
    if missing:
        raise ValueError(f"{source} has no {missing[0]!r} entry (a {model_type} config.json "
                         f"has {', '.join(REQUIRED_KEYS)})")
    refuse_what_is_not_implemented(hf, source)
    theta, scaling = rope_settings(hf, source)
    defaults = FAMILY_DEFAULTS[model_type]
    heads = hf["num_attention_heads"]
    kv_heads = hf.get("num_key_value_heads", defaults["num_key_value_heads"])
    head_size = hf.get("head_dim", defaults["head_dim"])
    if head_size is None:                               # null: the width split among heads
        head_size = hf["hidden_size"] // heads if isinstance(heads, int) and heads > 0 else 0
    # Llama: attention_bias on q, k, v and o, and mlp_bias. Qwen2: biases on q, k and v
    # always, never on o or the MLP (it reads neither key). Qwen3: attention_bias, no mlp_bias.
    attention_bias = hf.get("attention_bias", False)
    try:
        return GPTConfig(
            vocab_size=hf["vocab_size"], block_size=hf["max_position_embeddings"],
            n_layer=hf["num_hidden_layers"], n_head=heads, n_embd=hf["hidden_size"],
            bias=False, layer_norm_epsilon=hf.get("rms_norm_eps", 1e-6), fused=fused,
            norm="rmsnorm", positions="rotary", mlp="swiglu",
            mlp_hidden=hf["intermediate_size"], n_kv_head=kv_heads, head_size=head_size,
            qkv_bias=True if model_type == "qwen2" else attention_bias,
            proj_bias=False if model_type == "qwen2" else attention_bias,
            mlp_bias=hf.get("mlp_bias", False) if model_type == "llama" else False,
            qk_norm=model_type == "qwen3",
            tie_embeddings=hf.get("tie_word_embeddings", False),
            rope_theta=theta, rope_scaling=scaling)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{source}: {in_hf_names(str(error))}") from None


def in_hf_names(message):
    """A GPTConfig error's message with our field names replaced by config.json's keys."""
    for ours, theirs in sorted(HF_KEYS.items(), key=lambda item: -len(item[0])):
        message = message.replace(f"GPTConfig.{ours}", theirs)
    return message


def refuse_what_is_not_implemented(hf, source):
    """A ValueError naming the first key of `hf` that would change the computation in a way
    this model does not implement (keys that do not change it, such as pretraining_tp, whose
    sliced matmuls compute the same sums, or a dropout, which inference does not use, are
    accepted)."""
    activation = hf.get("hidden_act", "silu")
    if activation not in SILU_NAMES:
        raise ValueError(f"{source}: hidden_act {activation!r}: only SiLU (SwiGLU) is "
                         f"implemented for {hf['model_type']}")
    for key, neutral in NEUTRAL_VALUES.items():
        if key in hf and not is_one_of(hf[key], neutral):
            raise ValueError(f"{source}: {key} is {hf[key]!r}, which changes the computation "
                             f"in a way this model does not implement "
                             f"({NOT_IMPLEMENTED[key]})")
    refuse_windowed_layers(hf, source)


def is_one_of(value, choices):
    """`value` is one of `choices`, where True is not 1 and False is not 0 (JSON's true is
    not a multiplier of one)."""
    return any(value is choice if isinstance(value, bool) or isinstance(choice, bool)
               or choice is None else value == choice for choice in choices)


def refuse_windowed_layers(hf, source):
    """A ValueError if a layer would attend only to a window of recent tokens: the layers
    layer_types names (or, without it, those from max_window_layers on when
    use_sliding_window is true, as transformers derives them), unless the window is no
    shorter than the context and so never cuts anything."""
    layers = hf["num_hidden_layers"]
    window = hf.get("sliding_window") if hf.get("use_sliding_window") else None
    kinds = hf.get("layer_types")
    if kinds is None:
        first = hf.get("max_window_layers", 28)
        kinds = ["full_attention" if window is None or not isinstance(first, int) or i < first
                 else "sliding_attention" for i in range(layers if isinstance(layers, int)
                                                         else 0)]
    if not isinstance(kinds, list) or not all(isinstance(kind, str) for kind in kinds):
        raise ValueError(f"{source}: layer_types must be a list of names such as "
                         f"\"full_attention\", got {kinds!r}")
    others = sorted(set(kinds) - {"full_attention", "sliding_attention"})
    if others:
        raise ValueError(f"{source}: layer_types has {others}: only full attention is "
                         f"implemented")
    windowed = [i for i, kind in enumerate(kinds) if kind == "sliding_attention"]
    if not windowed:
        return
    if window is None:
        raise ValueError(f"{source}: layer_types makes layer {windowed[0]} a sliding-window "
                         f"layer, but no window is in use (use_sliding_window, "
                         f"sliding_window); transformers cannot run it either")
    context = hf["max_position_embeddings"]
    if not isinstance(window, int) or isinstance(window, bool) or window < 1:
        raise ValueError(f"{source}: sliding_window must be a number of tokens, got {window!r}")
    if isinstance(context, int) and window < context:
        raise ValueError(f"{source}: use_sliding_window is true: layers {windowed[0]} to "
                         f"{windowed[-1]} attend to a window of sliding_window={window} tokens "
                         f"only, shorter than the context of {context}; sliding-window "
                         f"attention is not implemented (every layer here attends to the "
                         f"whole context)")


def rope_settings(hf, source):
    """(theta, scaling or None), as transformers 5.24 reads them: the settings are
    rope_scaling (4.x's spelling; its kind under "rope_type" or the older "type") when that is
    set, else rope_parameters (5.x's); rope_theta among them wins over the top-level key, which
    wins over the default 10,000. Llama 3.1's scaling without original_max_position_embeddings
    takes max_position_embeddings (a top-level original_max_position_embeddings wins over
    both). Any other kind, and rotary over part of a head, is refused by name."""
    key = "rope_scaling" if hf.get("rope_scaling") else "rope_parameters"
    settings = hf.get(key) or {}
    if not isinstance(settings, dict) or any(isinstance(v, dict) for v in settings.values()):
        raise ValueError(f"{source}: {key} must be one set of settings (a JSON object of "
                         f"numbers and names), got {settings!r}")
    settings = dict(settings)
    theta = settings.pop("rope_theta", hf.get("rope_theta", DEFAULT_THETA))
    partial = settings.get("partial_rotary_factor", 1.0)
    if partial != 1.0:
        raise ValueError(f"{source}: {key} has partial_rotary_factor {partial!r}: only rotary "
                         f"over the whole head is implemented")
    kind = settings.get("rope_type", settings.get("type", "default"))
    if kind == "default":
        return theta, None
    if kind != "llama3":
        raise ValueError(f"{source}: {key} asks for rope scaling {kind!r}, which is not "
                         f"implemented (only Llama 3.1's 'llama3', or none)")
    settings.setdefault("original_max_position_embeddings", hf["max_position_embeddings"])
    if "original_max_position_embeddings" in hf:
        settings["original_max_position_embeddings"] = hf["original_max_position_embeddings"]
    return theta, {"rope_type": "llama3", **{name: settings[name] for name in LLAMA3_KEYS
                                             if name in settings}}


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
