"""Which tests grade which exercise (see examples/make_exercises.py).

tests/conftest.py gives every test listed here a pytest marker named after its exercise, so
`python -m pytest -m softmax_backward` runs exactly the tests that check that exercise. An
entry is a test's node id; without brackets it selects every parametrization of the test.
"""

FUNCTIONAL = "tests/tinytorch/test_functional.py::"
ENGINE = "tests/tinytorch/test_engine.py::"
COVERAGE = "tests/tinytorch/test_function_coverage.py::test_gradcheck_case"
PARTS = "tests/tinytorch/test_modern_parts.py::"

EXERCISE_TESTS = {
    "elementwise_backward": [
        "tests/tinytorch/test_ops.py::test_unary_ops[tanh]",
        f"{COVERAGE}[tinytorch.ops.elementwise.Tanh]",
    ],
    "matmul_backward": [
        "tests/tinytorch/test_ops.py::test_matmul",
        f"{COVERAGE}[tinytorch.ops.matmul.MatMul]",
    ],
    "unbroadcast": [
        "tests/tinytorch/test_ops.py::test_binary_ops_broadcast",
        f"{ENGINE}test_a_user_function_may_return_its_gradient_in_the_broadcast_shape",
    ],
    "topological_sort": [
        f"{ENGINE}test_a_chain_of_ten_thousand_ops_does_not_hit_the_recursion_limit",
        f"{ENGINE}test_a_48_block_residual_stack_backpropagates",
        f"{ENGINE}test_the_walk_visits_a_node_once_however_many_paths_reach_it",
        f"{ENGINE}test_a_node_used_many_times_runs_backward_once_with_the_summed_gradient",
    ],
    "softmax_backward": [
        f"{FUNCTIONAL}test_fused_gradcheck[softmax]",
        f"{FUNCTIONAL}test_twins_agree_forward_and_backward[softmax]",
        f"{COVERAGE}[tinytorch.functional.activations.Softmax]",
    ],
    "log_softmax_backward": [
        f"{FUNCTIONAL}test_fused_gradcheck[log_softmax]",
        f"{FUNCTIONAL}test_twins_agree_forward_and_backward[log_softmax]",
        f"{COVERAGE}[tinytorch.functional.activations.LogSoftmax]",
    ],
    "layer_norm_backward": [
        f"{FUNCTIONAL}test_fused_gradcheck[layer_norm]",
        f"{FUNCTIONAL}test_twins_agree_forward_and_backward[layer_norm]",
        f"{COVERAGE}[tinytorch.functional.normalization.LayerNorm]",
    ],
    "gelu_derivative": [
        f"{FUNCTIONAL}test_fused_gradcheck[gelu]",
        f"{FUNCTIONAL}test_twins_agree_forward_and_backward[gelu]",
        f"{COVERAGE}[tinytorch.functional.activations.GELU]",
        f"{COVERAGE}[tinytorch.functional.mlp.GeluMLP]",
    ],
    "causal_attention": [
        f"{FUNCTIONAL}test_composed_gradcheck[scaled_dot_product_attention]",
        f"{FUNCTIONAL}test_twins_agree_forward_and_backward[scaled_dot_product_attention]",
        f"{FUNCTIONAL}test_causal_attention_ignores_the_future",
    ],
    "rms_norm_backward": [
        f"{FUNCTIONAL}test_fused_gradcheck[rms_norm]",
        f"{FUNCTIONAL}test_twins_agree_forward_and_backward[rms_norm]",
        f"{COVERAGE}[tinytorch.functional.normalization.RMSNorm]",
        f"{PARTS}test_rms_norm_over_two_axes_and_its_gradient_by_hand",
    ],
    "apply_rotation": [
        f"{FUNCTIONAL}test_fused_gradcheck[rotary_embedding]",
        f"{FUNCTIONAL}test_twins_agree_forward_and_backward[rotary_embedding]",
        f"{COVERAGE}[tinytorch.functional.rotary.RotaryEmbedding]",
        f"{PARTS}test_rotary_turns_each_pair_by_its_angle",
        f"{PARTS}test_rotary_keeps_lengths_and_its_gradient_turns_back",
    ],
    "swiglu_backward": [
        f"{FUNCTIONAL}test_fused_gradcheck[swiglu_mlp]",
        f"{FUNCTIONAL}test_twins_agree_forward_and_backward[swiglu_mlp]",
        f"{COVERAGE}[tinytorch.functional.mlp.SwiGLUMLP]",
    ],
    "repeat_kv": [
        f"{FUNCTIONAL}test_composed_gradcheck[scaled_dot_product_attention]",
        f"{FUNCTIONAL}test_twins_agree_forward_and_backward[scaled_dot_product_attention]",
        f"{FUNCTIONAL}test_fused_is_one_node_on_leaves_and_composed_only_primitives"
        f"[scaled_dot_product_attention]",
        f"{PARTS}test_repeat_kv_repeats_each_head_in_place",
        f"{PARTS}test_grouped_query_attention_matches_the_definition",
    ],
    "bpe_count_pairs": [
        "tests/bpe/test_bpe_naive.py::test_count_pairs_counts_overlapping_occurrences",
        "tests/bpe/test_bpe_naive.py::test_count_pairs_adds_into_an_existing_dict",
        "tests/bpe/test_bpe_naive.py::test_count_pairs_of_short_lists_is_empty",
    ],
    "bpe_merge_pair": [
        "tests/bpe/test_bpe_naive.py::test_merge_pair_goes_left_to_right_without_overlap",
        "tests/bpe/test_bpe_naive.py::test_merge_pair_leaves_other_ids_and_the_input_alone",
    ],
    "bpe_encode_by_rank": [
        "tests/bpe/test_bpe_bytepair.py::test_lowest_rank_merges_first",
        "tests/bpe/test_bpe_bytepair.py::test_ties_go_to_the_leftmost_pair",
        "tests/bpe/test_bpe_bytepair.py::test_runs",
        "tests/bpe/test_bpe_bytepair.py::test_heap_and_loop_agree",
    ],
    "top_p_filter": [
        "tests/gpt/test_generate.py::test_top_p_filter_by_hand",
    ],
    "kv_cache_update": [
        "tests/gpt/test_generate.py::test_kv_cache_shapes_grow_one_position_per_step",
        "tests/gpt/test_generate.py::test_cache_gives_the_same_greedy_tokens_as_no_cache",
        "tests/gpt/test_generate.py::test_kv_cache_refuses_graph_building",
    ],
    "adamw_step": [
        "tests/tinytorch/test_optim.py::test_adamw_decoupled_weight_decay",
        "tests/tinytorch/test_optim.py::test_adam",
        "tests/tinytorch/test_xor.py::test_mlp_learns_xor_with_adamw",
    ],
}


def exercises_of(nodeid):
    """The exercises a test (by node id) grades."""
    return [name for name, tests in EXERCISE_TESTS.items()
            if any(nodeid == test or nodeid.startswith(test + "[") for test in tests)]
