"""config.json of Llama, Qwen2 and Qwen3 as released checkpoints spell it, read into a GPTConfig
as transformers 5.24 reads it: a table of variants, each accepted with the GPTConfig it must
give or refused with the error it must give (naming the file and the key); and the config.json
of four released checkpoints, whose sizes and parameter counts are published."""
import copy
import json

import numpy as np
import pytest

from gpt import GPT
from gpt.hf_checkpoint import config_from_hf
from gpt.positions import rope_inverse_frequencies

SOURCE = "some/dir/config.json"
BASES = {
    "llama": {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 96,
              "hidden_size": 48, "intermediate_size": 80, "num_hidden_layers": 2,
              "num_attention_heads": 6, "num_key_value_heads": 2,
              "max_position_embeddings": 64},
    "qwen2": {"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"], "vocab_size": 96,
              "hidden_size": 48, "intermediate_size": 80, "num_hidden_layers": 2,
              "num_attention_heads": 6, "num_key_value_heads": 2,
              "max_position_embeddings": 64},
    "qwen3": {"model_type": "qwen3", "architectures": ["Qwen3ForCausalLM"], "vocab_size": 96,
              "hidden_size": 48, "intermediate_size": 80, "num_hidden_layers": 2,
              "num_attention_heads": 6, "num_key_value_heads": 2, "head_dim": 10,
              "max_position_embeddings": 64},
}
LLAMA3 = {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
          "original_max_position_embeddings": 16}


ABSENT = object()            # a table row's value for a key config.json does not have


def config_of(family, changes):
    """The family's base config.json with `changes` (ABSENT: the key removed; None: null)."""
    hf = copy.deepcopy(BASES[family])
    hf.update(copy.deepcopy({key: value for key, value in changes.items()
                             if value is not ABSENT}))
    for key in [key for key, value in changes.items() if value is ABSENT]:
        hf.pop(key, None)
    return hf


# (family, name, changes to the base, {GPTConfig field: value it must have})
ACCEPTED = [
    ("llama", "the base", {}, dict(n_head=6, n_kv_head=2, head_size=8, n_embd=48,
                                   mlp_hidden=80, qkv_bias=False, proj_bias=False,
                                   mlp_bias=False, qk_norm=False, tie_embeddings=False,
                                   rope_theta=10000.0, rope_scaling=None,
                                   layer_norm_epsilon=1e-6)),
    ("llama", "no num_key_value_heads: one per query head", {"num_key_value_heads": ABSENT},
     dict(n_kv_head=6)),
    ("qwen2", "no num_key_value_heads: transformers' 32", dict(
        num_attention_heads=32, hidden_size=64, num_key_value_heads=ABSENT),
     dict(n_head=32, n_kv_head=32, head_size=2)),
    ("qwen2", "num_key_value_heads null: one per query head", dict(num_key_value_heads=None,
                                                                   head_dim=None),
     dict(n_kv_head=6)),
    ("llama", "head_dim absent: width / heads", {}, dict(head_size=8)),
    ("llama", "head_dim of its own", dict(head_dim=12), dict(head_size=12)),
    ("qwen2", "head_dim of its own", dict(head_dim=12), dict(head_size=12)),
    ("qwen3", "head_dim absent: Qwen3's 128", dict(head_dim=ABSENT), dict(head_size=128)),
    ("qwen3", "head_dim null: width / heads", dict(head_dim=None), dict(head_size=8)),
    ("qwen3", "head_dim given", {}, dict(head_size=10, qk_norm=True)),
    ("llama", "torch_dtype bfloat16", dict(torch_dtype="bfloat16"), {}),
    ("llama", "dtype float16 (transformers 5)", dict(dtype="float16"), {}),
    ("llama", "tied", dict(tie_word_embeddings=True), dict(tie_embeddings=True)),
    ("qwen3", "untied", dict(tie_word_embeddings=False), dict(tie_embeddings=False)),
    ("llama", "attention_bias: q, k, v and o", dict(attention_bias=True),
     dict(qkv_bias=True, proj_bias=True, mlp_bias=False)),
    ("llama", "mlp_bias", dict(mlp_bias=True), dict(mlp_bias=True, qkv_bias=False)),
    ("qwen2", "q/k/v biases always, none on o", {},
     dict(qkv_bias=True, proj_bias=False, mlp_bias=False)),
    ("qwen2", "attention_bias false: Qwen2 does not read it", dict(attention_bias=False),
     dict(qkv_bias=True, proj_bias=False)),
    ("qwen2", "mlp_bias true: Qwen2 does not read it", dict(mlp_bias=True),
     dict(mlp_bias=False)),
    ("qwen3", "no biases", {}, dict(qkv_bias=False, proj_bias=False)),
    ("qwen3", "attention_bias: q, k, v and o", dict(attention_bias=True),
     dict(qkv_bias=True, proj_bias=True)),
    ("llama", "rope_theta", dict(rope_theta=500000.0), dict(rope_theta=500000.0)),
    ("llama", "rope_scaling null", dict(rope_scaling=None), dict(rope_scaling=None)),
    ("llama", "rope_scaling llama3 under rope_type",
     dict(rope_theta=500000.0, rope_scaling={"rope_type": "llama3", **LLAMA3}),
     dict(rope_theta=500000.0, rope_scaling={"rope_type": "llama3", **LLAMA3})),
    ("llama", "rope_scaling llama3 under the older type",
     dict(rope_scaling={"type": "llama3", **LLAMA3}),
     dict(rope_scaling={"rope_type": "llama3", **LLAMA3})),
    ("llama", "rope_scaling default with a factor", dict(
        rope_scaling={"rope_type": "default", "factor": 4.0}), dict(rope_scaling=None)),
    ("llama", "rope_parameters (transformers 5) with rope_theta inside", dict(
        rope_parameters={"rope_type": "default", "rope_theta": 250000.0}),
     dict(rope_theta=250000.0, rope_scaling=None)),
    ("llama", "rope_parameters llama3", dict(
        rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, **LLAMA3}),
     dict(rope_theta=500000.0, rope_scaling={"rope_type": "llama3", **LLAMA3})),
    ("llama", "rope_parameters' theta wins over the top-level one", dict(
        rope_theta=1.0e4, rope_parameters={"rope_type": "default", "rope_theta": 2.0e4}),
     dict(rope_theta=2.0e4)),
    ("llama", "rope_scaling wins over rope_parameters, as transformers reads them", dict(
        rope_scaling={"rope_type": "llama3", **LLAMA3},
        rope_parameters={"rope_type": "default", "rope_theta": 3.0e4}),
     dict(rope_theta=10000.0, rope_scaling={"rope_type": "llama3", **LLAMA3})),
    ("llama", "llama3 without original_max_position_embeddings: the context", dict(
        rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                      "high_freq_factor": 4.0}),
     dict(rope_scaling={"rope_type": "llama3", **LLAMA3,
                        "original_max_position_embeddings": 64})),
    ("llama", "a top-level original_max_position_embeddings wins", dict(
        original_max_position_embeddings=32, rope_scaling={"rope_type": "llama3", **LLAMA3}),
     dict(rope_scaling={"rope_type": "llama3", **LLAMA3,
                        "original_max_position_embeddings": 32})),
    ("llama", "rope_parameters' partial_rotary_factor 1.0", dict(
        rope_parameters={"rope_type": "default", "partial_rotary_factor": 1.0}), {}),
    ("qwen3", "llama3 scaling on Qwen3", dict(rope_parameters={"rope_type": "llama3",
                                                               **LLAMA3}),
     dict(rope_scaling={"rope_type": "llama3", **LLAMA3})),
    ("llama", "hidden_act swish (SiLU by another name)", dict(hidden_act="swish"), {}),
    ("llama", "pretraining_tp 4 (sliced matmuls, the same sums)", dict(pretraining_tp=4), {}),
    ("llama", "keys that change nothing", dict(
        bos_token_id=1, eos_token_id=[2, 3], pad_token_id=None, initializer_range=0.04,
        use_cache=False, attention_dropout=0.0, is_llama_config=True, rope_interleaved=False,
        transformers_version="4.48.0", tokenizer_class="LlamaTokenizer"), {}),
    ("llama", "rms_norm_eps", dict(rms_norm_eps=1e-5), dict(layer_norm_epsilon=1e-5)),
    ("qwen2", "use_sliding_window false with a window and max_window_layers", dict(
        use_sliding_window=False, sliding_window=8, max_window_layers=1), {}),
    ("qwen2", "use_sliding_window true from layer 28 of 2", dict(
        use_sliding_window=True, sliding_window=8), {}),
    ("qwen2", "use_sliding_window true with a window as long as the context", dict(
        use_sliding_window=True, sliding_window=64, max_window_layers=0), {}),
    ("qwen3", "layer_types all full_attention", dict(
        layer_types=["full_attention"] * 2, sliding_window=None, max_window_layers=28), {}),
    ("qwen2", "use_mrope false", dict(use_mrope=False), {}),
]


@pytest.mark.parametrize("family, name, changes, expected", ACCEPTED,
                         ids=[f"{row[0]}: {row[1]}" for row in ACCEPTED])
def test_a_variant_is_read_as_transformers_reads_it(family, name, changes, expected):
    config = config_from_hf(config_of(family, changes), source=SOURCE)
    assert (config.norm, config.positions, config.mlp) == ("rmsnorm", "rotary", "swiglu")
    assert config.bias is False and config.vocab_size == 96 and config.block_size == 64
    for field, value in expected.items():
        assert getattr(config, field) == value, field
    GPT(config, seed=0)                               # and a model of it can be built


# (family, name, changes to the base, what the error must say besides the file)
REFUSED = [
    ("llama", "hidden_act gelu", dict(hidden_act="gelu"), "hidden_act 'gelu'"),
    ("qwen2", "hidden_act relu", dict(hidden_act="relu"), "hidden_act 'relu'"),
    ("qwen2", "a sliding window in use", dict(use_sliding_window=True, sliding_window=8,
                                              max_window_layers=1),
     "use_sliding_window is true: layers 1 to 1 attend to a window of sliding_window=8"),
    ("qwen3", "layer_types with a sliding layer", dict(
        use_sliding_window=True, sliding_window=16,
        layer_types=["sliding_attention", "full_attention"]), "layers 0 to 0"),
    ("qwen3", "layer_types sliding with no window in use", dict(
        layer_types=["full_attention", "sliding_attention"]), "no window is in use"),
    ("qwen3", "layer_types of another kind", dict(
        layer_types=["full_attention", "chunked_attention"]), "['chunked_attention']"),
    ("qwen3", "layer_types not a list", dict(layer_types="full_attention"), "layer_types"),
    ("llama", "rope yarn", dict(rope_scaling={"rope_type": "yarn", "factor": 4.0}),
     "rope_scaling asks for rope scaling 'yarn'"),
    ("llama", "rope dynamic (older type)", dict(rope_scaling={"type": "dynamic",
                                                              "factor": 2.0}),
     "rope scaling 'dynamic'"),
    ("llama", "rope linear", dict(rope_scaling={"rope_type": "linear", "factor": 2.0}),
     "'linear'"),
    ("qwen2", "rope longrope in rope_parameters", dict(rope_parameters={
        "rope_type": "longrope", "short_factor": [1.0], "long_factor": [1.0]}),
     "rope_parameters asks for rope scaling 'longrope'"),
    ("llama", "rope_parameters per layer type", dict(rope_parameters={
        "full_attention": {"rope_type": "default", "rope_theta": 1e4}}),
     "rope_parameters must be one set of settings"),
    ("llama", "rope_scaling a list", dict(rope_scaling=[8.0]), "rope_scaling must be one set"),
    ("llama", "llama3 scaling without factor", dict(rope_scaling={
        "rope_type": "llama3", "low_freq_factor": 1.0, "high_freq_factor": 4.0}), "factor"),
    ("llama", "llama3 scaling with low >= high", dict(rope_scaling={
        **LLAMA3, "rope_type": "llama3", "low_freq_factor": 4.0}), "low_freq_factor"),
    ("llama", "partial_rotary_factor at the top", dict(partial_rotary_factor=0.5),
     "partial_rotary_factor is 0.5"),
    ("llama", "partial_rotary_factor in rope_parameters", dict(rope_parameters={
        "rope_type": "default", "partial_rotary_factor": 0.25}),
     "rope_parameters has partial_rotary_factor 0.25"),
    ("llama", "rope_interleaved", dict(rope_interleaved=True), "rope_interleaved is True"),
    ("llama", "attention logit softcapping", dict(attn_logit_softcapping=50.0),
     "attn_logit_softcapping is 50.0"),
    ("llama", "final logit softcapping", dict(final_logit_softcapping=30.0),
     "final_logit_softcapping"),
    ("qwen2", "multimodal rope", dict(use_mrope=True), "use_mrope"),
    ("llama", "an embedding multiplier", dict(embedding_multiplier=12.0),
     "embedding_multiplier is 12.0"),
    ("llama", "an embedding multiplier of true", dict(embedding_multiplier=True),
     "embedding_multiplier is True"),
    ("llama", "a residual multiplier", dict(residual_multiplier=0.22), "residual_multiplier"),
    ("llama", "experts", dict(num_local_experts=8), "num_local_experts is 8"),
    ("llama", "quantized", dict(quantization_config={"quant_method": "gptq", "bits": 4}),
     "quantization_config"),
    ("llama", "no hidden_size", dict(hidden_size=ABSENT), "no 'hidden_size' entry"),
    ("qwen3", "no max_position_embeddings", dict(max_position_embeddings=ABSENT),
     "no 'max_position_embeddings' entry"),
    ("llama", "kv heads that do not divide the heads", dict(num_key_value_heads=4),
     "num_attention_heads=6 query heads do not share evenly among num_key_value_heads=4"),
    ("llama", "an odd head_dim", dict(head_dim=7), "head_size 7 must be even"),
    ("llama", "num_key_value_heads 0", dict(num_key_value_heads=0),
     "num_key_value_heads must be at least 1"),
    ("llama", "tie_word_embeddings as text", dict(tie_word_embeddings="true"),
     "tie_word_embeddings"),
    ("llama", "rms_norm_eps negative", dict(rms_norm_eps=-1e-6), "rms_norm_eps"),
    ("llama", "rope_theta as text", dict(rope_theta="10000"), "rope_theta"),
    ("qwen2", "intermediate_size 0", dict(intermediate_size=0), "intermediate_size"),
]


@pytest.mark.parametrize("family, name, changes, message", REFUSED,
                         ids=[f"{row[0]}: {row[1]}" for row in REFUSED])
def test_a_variant_that_would_change_the_computation_is_refused_by_name(family, name,
                                                                           changes, message):
    with pytest.raises(ValueError) as error:
        config_from_hf(config_of(family, changes), source=SOURCE)
    assert str(error.value).startswith(SOURCE)
    assert message in str(error.value)


def test_every_refusal_names_a_key_the_table_changed():
    """The rows are about what they say: each error names a key its row changed (or the
    parameter a key sets), so no row passes on an unrelated error."""
    for family, name, changes, message in REFUSED:
        with pytest.raises(ValueError) as error:
            config_from_hf(config_of(family, changes), source=SOURCE)
        keys = set(changes) | {key for value in changes.values() if isinstance(value, dict)
                               for key in value}
        assert any(key in str(error.value) for key in keys) \
            or any(word in str(error.value) for word in ("rope scaling", "head_size")), name


def test_the_rope_frequencies_follow_the_spelling_not_the_order_of_keys():
    """Four spellings of Llama 3.1's scaling give one set of frequencies."""
    spellings = [
        dict(rope_theta=5e5, rope_scaling={"rope_type": "llama3", **LLAMA3}),
        dict(rope_theta=5e5, rope_scaling={"type": "llama3", **LLAMA3}),
        dict(rope_parameters={"rope_type": "llama3", "rope_theta": 5e5, **LLAMA3}),
        dict(rope_theta=5e5, rope_parameters={"rope_type": "llama3", **LLAMA3}),
    ]
    frequencies = []
    for changes in spellings:
        config = config_from_hf(config_of("llama", changes), source=SOURCE)
        frequencies.append(rope_inverse_frequencies(config.head_size, config.rope_theta,
                                                    config.rope_scaling))
    for other in frequencies[1:]:
        np.testing.assert_array_equal(other, frequencies[0])
    plain = rope_inverse_frequencies(8, 5e5)
    assert not np.array_equal(plain, frequencies[0])       # the scaling did something


# ----- released checkpoints --------------------------------------------------------------------

# config.json as published with each checkpoint (the keys that matter and those that do not)
RELEASED = {
    "SmolLM2-135M": {
        "architectures": ["LlamaForCausalLM"], "attention_bias": False,
        "attention_dropout": 0.0, "bos_token_id": 0, "eos_token_id": 0, "hidden_act": "silu",
        "hidden_size": 576, "initializer_range": 0.041666666666666664,
        "intermediate_size": 1536, "is_llama_config": True, "max_position_embeddings": 8192,
        "model_type": "llama", "num_attention_heads": 9, "num_hidden_layers": 30,
        "num_key_value_heads": 3, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
        "rope_interleaved": False, "rope_scaling": None, "rope_theta": 100000,
        "tie_word_embeddings": True, "torch_dtype": "bfloat16",
        "transformers_version": "4.40.1", "use_cache": True, "vocab_size": 49152},
    "Qwen2.5-0.5B": {
        "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0,
        "bos_token_id": 151643, "eos_token_id": 151643, "hidden_act": "silu",
        "hidden_size": 896, "initializer_range": 0.02, "intermediate_size": 4864,
        "max_position_embeddings": 32768, "max_window_layers": 24, "model_type": "qwen2",
        "num_attention_heads": 14, "num_hidden_layers": 24, "num_key_value_heads": 2,
        "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 32768,
        "tie_word_embeddings": True, "torch_dtype": "bfloat16",
        "transformers_version": "4.40.1", "use_cache": True, "use_mrope": False,
        "use_sliding_window": False, "vocab_size": 151936},
    "Qwen3-0.6B": {
        "architectures": ["Qwen3ForCausalLM"], "attention_bias": False,
        "attention_dropout": 0.0, "bos_token_id": 151643, "eos_token_id": 151645,
        "head_dim": 128, "hidden_act": "silu", "hidden_size": 1024, "initializer_range": 0.02,
        "intermediate_size": 3072, "max_position_embeddings": 40960, "max_window_layers": 28,
        "model_type": "qwen3", "num_attention_heads": 16, "num_hidden_layers": 28,
        "num_key_value_heads": 8, "rms_norm_eps": 1e-06, "rope_scaling": None,
        "rope_theta": 1000000, "sliding_window": None, "tie_word_embeddings": True,
        "torch_dtype": "bfloat16", "transformers_version": "4.51.0", "use_cache": True,
        "use_sliding_window": False, "vocab_size": 151936},
    "Llama-3.2-1B": {
        "architectures": ["LlamaForCausalLM"], "attention_bias": False,
        "attention_dropout": 0.0, "bos_token_id": 128000, "eos_token_id": 128001,
        "head_dim": 64, "hidden_act": "silu", "hidden_size": 2048, "initializer_range": 0.02,
        "intermediate_size": 8192, "max_position_embeddings": 131072, "mlp_bias": False,
        "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 16,
        "num_key_value_heads": 8, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
        "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                         "original_max_position_embeddings": 8192, "rope_type": "llama3"},
        "rope_theta": 500000.0, "tie_word_embeddings": True, "torch_dtype": "bfloat16",
        "transformers_version": "4.45.0.dev0", "use_cache": True, "vocab_size": 128256},
}
# (n_layer, n_head, n_kv_head, head_size, n_embd, mlp_hidden, vocab_size, block_size,
#  qkv_bias, qk_norm, tied, rope_theta, published parameter count)
PUBLISHED = {
    "SmolLM2-135M": (30, 9, 3, 64, 576, 1536, 49152, 8192, False, False, True, 1e5,
                     134_515_008),
    "Qwen2.5-0.5B": (24, 14, 2, 64, 896, 4864, 151936, 32768, True, False, True, 1e6,
                     494_032_768),
    "Qwen3-0.6B": (28, 16, 8, 128, 1024, 3072, 151936, 40960, False, True, True, 1e6,
                   596_049_920),
    "Llama-3.2-1B": (16, 32, 8, 64, 2048, 8192, 128256, 131072, False, False, True, 5e5,
                     1_235_814_400),
}


@pytest.mark.parametrize("name", RELEASED)
def test_a_released_checkpoints_config_gives_its_published_sizes(name):
    hf = json.loads(json.dumps(RELEASED[name]))             # as read from the file
    config = config_from_hf(hf, source=f"{name}/config.json")
    (n_layer, n_head, n_kv_head, head_size, n_embd, mlp_hidden, vocab_size, block_size,
     qkv_bias, qk_norm, tied, theta, parameters) = PUBLISHED[name]
    assert (config.n_layer, config.n_head, config.n_kv_head, config.head_size, config.n_embd,
            config.mlp_hidden, config.vocab_size, config.block_size) == (
        n_layer, n_head, n_kv_head, head_size, n_embd, mlp_hidden, vocab_size, block_size)
    assert (config.qkv_bias, config.qk_norm, config.tie_embeddings) == (qkv_bias, qk_norm, tied)
    assert config.proj_bias is False and config.mlp_bias is False
    assert config.rope_theta == theta
    assert config.parameter_count() == parameters


def test_llama_3_2_keeps_its_rope_scaling():
    config = config_from_hf(RELEASED["Llama-3.2-1B"], source="config.json")
    assert config.rope_scaling == {"rope_type": "llama3", "factor": 32.0,
                                   "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                   "original_max_position_embeddings": 8192}
