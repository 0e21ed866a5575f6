"""Position tables: sinusoidal positions, RoPE's frequencies (with Llama 3's scaling) and the
cos/sin tables, against values worked by hand and values Hugging Face computes."""
import json
import math
from pathlib import Path

import numpy as np
import pytest

import tinytorch as tt
import tinytorch.functional as F
from gpt.positions import rope_inverse_frequencies, rotary_tables, sinusoidal_positions

# Hugging Face's own frequencies for many configurations (tests/fixtures/README.md).
ROPE_REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "hf" / "rope_reference.json"
LLAMA3_KEYS = ("factor", "low_freq_factor", "high_freq_factor",
               "original_max_position_embeddings")

LLAMA_31 = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
            "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}


# ----- sinusoidal -------------------------------------------------------------------------------

def test_sinusoidal_positions_by_hand():
    # dim 4: frequencies 1 and 1/10000^(2/4) = 1/100; sin on even columns, cos on odd ones.
    table = sinusoidal_positions(3, 4)
    assert table.shape == (3, 4) and table.dtype == np.float32
    expected = [[math.sin(t), math.cos(t), math.sin(t / 100), math.cos(t / 100)]
                for t in range(3)]
    np.testing.assert_allclose(table, expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(table[0], [0.0, 1.0, 0.0, 1.0])


def test_sinusoidal_positions_odd_dim_and_dtype():
    # dim 3: column 2 is the sine of the second frequency, 1/10000^(2/3).
    table = sinusoidal_positions(5, 3, dtype=np.float64)
    assert table.dtype == np.float64
    t = np.arange(5)
    np.testing.assert_allclose(table, np.stack([np.sin(t), np.cos(t),
                                                np.sin(t / 10000 ** (2 / 3))], axis=1),
                               rtol=1e-15, atol=1e-15)


def test_sinusoidal_shift_is_a_rotation_of_each_pair():
    # PE[t + k] is PE[t] with pair i turned by k * frequency_i: the same map for every t,
    # which is what lets a model attend by relative position.
    table = sinusoidal_positions(40, 8, dtype=np.float64)
    k, frequencies = 7, 1.0 / 10000 ** (np.arange(4) * 2 / 8)
    sin_t, cos_t = table[:-k, 0::2], table[:-k, 1::2]
    c, s = np.cos(k * frequencies), np.sin(k * frequencies)
    np.testing.assert_allclose(table[k:, 0::2], sin_t * c + cos_t * s, atol=1e-12)
    np.testing.assert_allclose(table[k:, 1::2], cos_t * c - sin_t * s, atol=1e-12)


@pytest.mark.parametrize("args, message", [((0, 4), "n_positions must be a positive int"),
                                           ((4, 2.0), "dim must be a positive int"),
                                           ((True, 4), "n_positions")])
def test_sinusoidal_positions_refuses_bad_sizes(args, message):
    with pytest.raises(ValueError, match=message):
        sinusoidal_positions(*args)


# ----- rope_inverse_frequencies -----------------------------------------------------------------

def test_inverse_frequencies_by_hand():
    inverse = rope_inverse_frequencies(8, 10000.0)
    assert inverse.dtype == np.float32 and inverse.shape == (4,)
    np.testing.assert_allclose(inverse, [1.0, 0.1, 0.01, 0.001], rtol=1e-7)
    np.testing.assert_allclose(rope_inverse_frequencies(4, 500000),
                               [1.0, 1.0 / math.sqrt(500000)], rtol=1e-7)
    default = {"rope_type": "default"}
    np.testing.assert_array_equal(rope_inverse_frequencies(8, 1e4, default), inverse)


def test_llama3_scaling_by_hand():
    # head_dim 8, theta 10000: frequencies 1, 0.1, 0.01, 0.001, wavelengths 2 pi / those =
    # 6.3, 63, 628, 6283. Original context 1000, low 1, high 4: wavelengths under 1000 / 4
    # = 250 stay, over 1000 / 1 are divided by the factor 8, 628 is smoothed between.
    scaling = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
               "high_freq_factor": 4.0, "original_max_position_embeddings": 1000}
    smooth = (1000 / (2 * math.pi / 0.01) - 1.0) / (4.0 - 1.0)                # 0.19718...
    expected = [1.0, 0.1, (1 - smooth) * 0.01 / 8 + smooth * 0.01, 0.001 / 8]
    np.testing.assert_allclose(rope_inverse_frequencies(8, 10000.0, scaling), expected,
                               rtol=1e-6)
    older = dict(scaling, type="llama3")
    del older["rope_type"]                               # older config files say "type"
    np.testing.assert_array_equal(rope_inverse_frequencies(8, 10000.0, older),
                                  rope_inverse_frequencies(8, 10000.0, scaling))


# Hugging Face transformers 5.24 (torch 2.13, CPU) LlamaRotaryEmbedding(config).inv_freq, and
# its cos[..., 3] and sin[..., D/2 + 3] at positions 3, 1000 and 100000, as float32 hex.
HF_VALUES = [
    (16, 500000.0, {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                    "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
     ["0x1.0p+0", "0x1.8d276p-3", "0x1.34119p-5", "0x1.ddee9ep-8", "0x1.c26c4p-12",
      "0x1.1f91fp-17", "0x1.be2188p-20", "0x1.5a0f4ep-22"],
     ["0x1.ffe0a2p-1", "0x1.1089cap-1", "0x1.d4210cp-1"],
     ["0x1.666ba4p-6", "0x1.b16fa8p-1", "0x1.9eb986p-2"]),
    (32, 10000.0, {"rope_type": "llama3", "factor": 2.0, "low_freq_factor": 0.5,
                   "high_freq_factor": 3.0, "original_max_position_embeddings": 100},
     ["0x1.0p+0", "0x1.1feb34p-1", "0x1.43d136p-2", "0x1.5fd33ap-3", "0x1.26384p-4",
      "0x1.0aba34p-5", "0x1.03651cp-6", "0x1.235a72p-7", "0x1.47ae14p-8", "0x1.708938p-9",
      "0x1.9e7c7p-10", "0x1.d22a5p-11", "0x1.0624dep-11", "0x1.26d42cp-12", "0x1.4b96cp-13",
      "0x1.74eea6p-14"],
     ["0x1.bd7f3p-1", "-0x1.157f04p-1", "0x1.7cbd88p-1"],
     ["0x1.f8af3p-2", "0x1.ae4762p-1", "0x1.565118p-1"]),
]


@pytest.mark.parametrize("head_dim, theta, scaling, inverse, cos_3, sin_3", HF_VALUES,
                         ids=["llama3.2-like", "smoothing"])
def test_inverse_frequencies_and_tables_equal_hugging_faces(head_dim, theta, scaling, inverse,
                                                            cos_3, sin_3):
    ours = rope_inverse_frequencies(head_dim, theta, scaling)
    np.testing.assert_array_equal(ours, np.array([float.fromhex(h) for h in inverse],
                                                 np.float32))              # to the bit
    cos, sin = rotary_tables([3, 1000, 100000], ours)
    # float32 cos and sin of the same float32 angles: NumPy's and PyTorch's within an ulp
    np.testing.assert_allclose(cos[:, 3], [float.fromhex(h) for h in cos_3], atol=1.2e-7)
    np.testing.assert_allclose(sin[:, head_dim // 2 + 3], [float.fromhex(h) for h in sin_3],
                               atol=1.2e-7)


def test_inverse_frequencies_equal_transformers_for_every_reference_configuration():
    cases = json.loads(ROPE_REFERENCE.read_text(encoding="utf-8"))["cases"]
    assert {case["rope_type"] for case in cases} == {"default", "llama3"}
    for case in cases:
        scaling = None
        if case["rope_type"] == "llama3":
            scaling = {"rope_type": "llama3", **{key: case[key] for key in LLAMA3_KEYS}}
        ours = rope_inverse_frequencies(case["head_dim"], case["rope_theta"], scaling)
        np.testing.assert_array_equal(ours, np.array(case["inv_freq"], np.float32),
                                      err_msg=str({k: v for k, v in case.items()
                                                   if k != "inv_freq"}))
        assert case["attention_scaling"] == 1.0           # the tables need no extra factor


@pytest.mark.parametrize("scaling, message", [
    ({"rope_type": "linear", "factor": 2.0}, "rope scaling 'linear' is not supported"),
    ({"type": "dynamic", "factor": 2.0}, "rope scaling 'dynamic' is not supported"),
    ({"rope_type": "yarn", "factor": 4.0}, "'yarn'"),
    ({"rope_type": "llama3", "factor": 8.0}, "needs low_freq_factor, high_freq_factor, "
                                             "original_max_position_embeddings"),
    (dict(LLAMA_31, high_freq_factor=1.0), "0 < low_freq_factor < high_freq_factor"),
    (dict(LLAMA_31, factor="8"), r"factor must be numbers, got '8'"),
    (dict(LLAMA_31, original_max_position_embeddings=0), "original_max_position_embeddings"),
])
def test_other_scalings_and_bad_parameters_are_refused_by_name(scaling, message):
    with pytest.raises(ValueError, match=message):
        rope_inverse_frequencies(64, 500000.0, scaling)


@pytest.mark.parametrize("args, error, message", [
    ((7, 10000.0), ValueError, "even head_dim"),
    ((0, 10000.0), ValueError, "even head_dim"),
    ((8, 0.0), ValueError, "theta must be a positive number"),
    ((8, "1e4"), ValueError, "theta"),
    ((8, 1e4, "llama3"), TypeError, "rope_scaling must be a dict"),
])
def test_inverse_frequencies_refuse_bad_arguments(args, error, message):
    with pytest.raises(error, match=message):
        rope_inverse_frequencies(*args)


# ----- rotary_tables ----------------------------------------------------------------------------

def test_rotary_tables_repeat_the_angles_in_both_halves():
    inverse = rope_inverse_frequencies(4, 100.0)                       # [1, 0.1]
    cos, sin = rotary_tables(np.arange(3), inverse)
    assert cos.shape == sin.shape == (3, 4) and cos.dtype == np.float32
    angles = np.array([[t * 1.0, t * 0.1] for t in range(3)])
    np.testing.assert_allclose(cos, np.cos(np.concatenate([angles, angles], 1)), rtol=1e-6)
    np.testing.assert_allclose(sin, np.sin(np.concatenate([angles, angles], 1)), atol=1e-7)
    # Positions per sequence (B, T), e.g. after a KV cache: (B, T, D).
    cos_rows, _ = rotary_tables(np.array([[0, 1, 2], [5, 6, 7]]), inverse, dtype=np.float64)
    assert cos_rows.shape == (2, 3, 4) and cos_rows.dtype == np.float64
    np.testing.assert_array_equal(cos_rows[0], cos.astype(np.float64))


def test_rotary_tables_compute_angles_in_the_frequencies_dtype():
    # float32 frequencies: float32 angles, as HF computes them (position 100003 rounds).
    inverse32 = np.array([0.1], np.float32)
    cos32, _ = rotary_tables([100003], inverse32, dtype=np.float64)
    assert cos32[0, 0] == np.cos(np.float32(100003) * np.float32(0.1))
    cos64, _ = rotary_tables([100003], inverse32.astype(np.float64), dtype=np.float64)
    assert cos64[0, 0] == np.cos(100003 * np.float64(np.float32(0.1)))


def test_rotary_tables_refuse_bad_arguments():
    with pytest.raises(TypeError, match="positions must be integers"):
        rotary_tables([0.5], np.ones(2, np.float32))
    with pytest.raises(ValueError, match=r"one float per pair.*\(2, 2\)"):
        rotary_tables([0, 1], np.ones((2, 2), np.float32))


def test_after_rotation_a_score_depends_only_on_the_distance():
    """RoPE's point: q at position m and k at position n, both turned, give a dot product
    that depends on m - n only (the same q and k moved along together keep their score)."""
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((2, 1, 1, 1, 16))
    cos, sin = rotary_tables(np.arange(64), rope_inverse_frequencies(16, 10000.0, LLAMA_31),
                             dtype=np.float64)

    def turned(x, position):
        return F.rotary_embedding(tt.tensor(x), cos[position], sin[position]).data[0, 0, 0]

    def score(m, n):
        return turned(q, m) @ turned(k, n)

    assert score(10, 3) == pytest.approx(score(50, 43), rel=1e-5)
    assert score(7, 7) == pytest.approx(score(0, 0), rel=1e-5)
    assert score(0, 0) == pytest.approx(float(q.ravel() @ k.ravel()), rel=1e-12)
    assert abs(score(10, 3) - score(10, 4)) > 1e-3
