"""Which walk-through each exercise belongs to, and which tests grade it (for the exercise
tool, examples/make_exercises.py).

CHAPTERS maps each walk-through (examples/NN_name.py; the README's learning-path table gives
its chapter) to its exercises, and each exercise to the tests that grade it: node ids, or the
start of node ids up to a "::" or "[" (a test file, a class, a test without its parameters).
tests/conftest.py marks every one of those tests with its exercise's name, so that
`python -m pytest -m softmax_backward` runs exactly the tests that grade softmax_backward.

The graded tests run in-process: the exercise tool swaps a function's body for a wrong or a
right answer in the running process, which a subprocess would not see. Each exercise keeps
wrong and right answers in tests/exercise_solutions/<exercise>/ that its graded tests must
fail and pass (tests/exercises/test_exercise_solutions.py).

In a student copy (made by `make_exercises.py --out`), `exercises.json` records the blanked
exercises and, for each, the exercises its tests run (its dependencies, computed by running
them); `dependencies_still_blank` tells conftest which of those a student has yet to do.
"""
import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = "exercises.json"           # in a student copy's top folder
GRADED = "tests/exercises/test_graded_"

CHAPTERS = {
    "01_next_token.py": {
        "bigram_counts": [f"{GRADED}next_token.py::TestBigramCounts"],
    },
    "02_autograd.py": {
        "tanh_backward": [f"{GRADED}autograd.py::TestTanhBackward"],
        "unbroadcast": [f"{GRADED}autograd.py::TestUnbroadcast"],
        "topological_sort": [f"{GRADED}autograd.py::TestTopologicalSort"],
    },
    "03_backprop_by_hand.py": {
        "matmul_backward": [f"{GRADED}backprop.py::TestMatmulBackward"],
        "softmax_backward": [f"{GRADED}backprop.py::TestSoftmaxBackward"],
        "log_softmax_backward": [f"{GRADED}backprop.py::TestLogSoftmaxBackward"],
        "cross_entropy_backward": [f"{GRADED}backprop.py::TestCrossEntropyBackward"],
    },
    "04_bpe.py": {
        "bpe_count_pairs": [f"{GRADED}bpe.py::TestCountPairs"],
        "bpe_merge_pair": [f"{GRADED}bpe.py::TestMergePair"],
        "bpe_encode_by_rank": [f"{GRADED}bpe.py::TestEncodeByRank"],
    },
    "05_embeddings.py": {
        "embedding_backward": [f"{GRADED}embeddings.py::TestEmbeddingBackward"],
    },
    "06_data_windows.py": {
        "get_batch": [f"{GRADED}data.py::TestGetBatch"],
    },
    "07_attention.py": {
        "causal_attention": [f"{GRADED}attention.py::TestCausalAttention"],
    },
    "08_transformer_block.py": {
        "layer_norm_backward": [f"{GRADED}block.py::TestLayerNormBackward"],
        "gelu_derivative": [f"{GRADED}block.py::TestGeluDerivative"],
    },
    "09_sampling.py": {
        "top_k_filter": [f"{GRADED}sampling.py::TestTopKFilter"],
        "top_p_filter": [f"{GRADED}sampling.py::TestTopPFilter"],
        "next_token_probs": [f"{GRADED}sampling.py::TestNextTokenProbs"],
    },
    "10_train_tiny.py": {
        "adamw_step": [f"{GRADED}training.py::TestAdamwStep"],
        "warmup_cosine_lr": [f"{GRADED}training.py::TestWarmupCosineLr"],
        "clip_grad_norm": [f"{GRADED}training.py::TestClipGradNorm"],
    },
    "11_kv_cache.py": {
        "kv_cache_update": [f"{GRADED}kv_cache.py::TestKVCacheUpdate"],
    },
    "12_load_gpt2.py": {
        "hf_tensor_to_ours": [f"{GRADED}load_gpt2.py::TestHfTensorToOurs"],
    },
    "13_classify_spam.py": {
        "last_token_pooling": [f"{GRADED}classify.py::TestLastTokenPooling"],
    },
    "14_instruction_tuning.py": {
        "instruction_collate": [f"{GRADED}instruct.py::TestInstructionCollate"],
    },
    "15_lora.py": {
        "lora_forward": [f"{GRADED}lora.py::TestLoraForward"],
        "lora_merge": [f"{GRADED}lora.py::TestLoraMerge"],
    },
    "16_positions.py": {
        "apply_rotation": [f"{GRADED}modern_parts.py::TestApplyRotation"],
    },
    "17_modern_block.py": {
        "rms_norm_backward": [f"{GRADED}modern_parts.py::TestRmsNormBackward"],
        "swiglu_backward": [f"{GRADED}modern_parts.py::TestSwigluBackward"],
        "repeat_kv": [f"{GRADED}modern_parts.py::TestRepeatKv"],
    },
    "18_load_open_model.py": {
        "bfloat16_to_float32": [f"{GRADED}open_model.py::TestBfloat16ToFloat32"],
    },
    "19_beam_search.py": {
        "select_candidates": [f"{GRADED}inference.py::TestSelectCandidates"],
    },
    "20_speculative_decoding.py": {
        "verify_token": [f"{GRADED}inference.py::TestVerifyToken"],
    },
    "21_int8.py": {
        "quantize_rows": [f"{GRADED}inference.py::TestQuantizeRows"],
        "dequantize_rows": [f"{GRADED}inference.py::TestDequantizeRows"],
    },
    "22_dpo.py": {
        "dpo_loss": [f"{GRADED}dpo.py::TestDpoLoss"],
    },
    "23_look_inside.py": {
        "logit_lens_readout": [f"{GRADED}look_inside.py::TestLogitLensReadout"],
        "patch_activation": [f"{GRADED}look_inside.py::TestPatchActivation"],
    },
    "24_scaling_laws.py": {
        "least_squares_line": [f"{GRADED}scaling.py::TestLeastSquaresLine"],
    },
}

# exercise -> its tests, and exercise -> its walk-through, in learning-path order
EXERCISE_TESTS = {name: tests for exercises in CHAPTERS.values()
                  for name, tests in exercises.items()}
WALK_THROUGH = {name: example for example, exercises in CHAPTERS.items() for name in exercises}


def grades(entry, nodeid):
    """Whether the test `nodeid` is one that `entry` (a node id or the start of some) names."""
    return nodeid == entry or nodeid.startswith((entry + "::", entry + "["))


def exercises_of(nodeid):
    """The exercises a test (by node id) grades."""
    return [name for name, tests in EXERCISE_TESTS.items()
            if any(grades(entry, nodeid) for entry in tests)]


def test_files(names):
    """The test files that hold the graded tests of the exercises `names`, each once."""
    return sorted({entry.split("::")[0].split("[")[0] for name in names
                   for entry in EXERCISE_TESTS[name]})


def load_make_exercises(root=ROOT):
    """examples/make_exercises.py (the tool: regions, copies, grading) as a module; examples/
    is not a package."""
    spec = importlib.util.spec_from_file_location(
        "make_exercises", Path(root) / "examples" / "make_exercises.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_manifest(root=ROOT):
    """The student copy's manifest (see make_exercises.py), or None in the project itself."""
    path = Path(root) / MANIFEST
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def dependencies_still_blank(manifest, root=ROOT):
    """{exercise: [(dependency, where it is), ...]} for the copy's exercises whose tests run
    blanked exercises that still hold nothing but their `raise NotImplementedError` line."""
    blank = {}
    for exercise in manifest["exercises"]:
        path = Path(root) / exercise["path"]
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        if exercise["blank_line"] in text.split("\n"):
            blank[exercise["name"]] = f"{exercise['path']}:{exercise['line']}"
    return {exercise["name"]: [(need, blank[need]) for need in exercise["needs"] if need in blank]
            for exercise in manifest["exercises"]}


def do_first_message(name, missing):
    """What a test of exercise `name` says when exercises it depends on are still blank."""
    listed = ", ".join(f"{need} ({where})" for need, where in missing)
    return (f"{name}'s tests run {listed}, still blank in this copy: do "
            f"{'it' if len(missing) == 1 else 'those'} first (EXERCISES.md lists a working "
            f"order)")
