"""Where a token is: the position tables a model adds to, or turns, its vectors.

Three kinds, as the chapter on positions names them:

    learned      a trainable table (block_size, C) added to the token embeddings: GPT-2's
                 `wpe`, an nn.Embedding in the model (nothing to compute here)
    sinusoidal   a fixed table (T, C) added the same way (Vaswani et al., 2017):
                 `sinusoidal_positions`
    rotary       no table is added; queries and keys are turned by position-dependent angles
                 inside attention (Su et al., RoPE; Llama, Qwen): `rope_inverse_frequencies`
                 gives each pair of dimensions its frequency, `rotary_tables` the cos and sin
                 that `tinytorch.functional.rotary_embedding` applies

The rotary numbers follow Hugging Face transformers (LlamaRotaryEmbedding) step by step, in
float32 as it computes them, so that a checkpoint trained with it sees the angles it was
trained with (to the last bit for the configurations tested; a float32 pow may still differ
in the last bit between libraries).
"""
import math
from numbers import Real

import numpy as np

__all__ = ["sinusoidal_positions", "rope_inverse_frequencies", "rotary_tables"]

LLAMA3_KEYS = ("factor", "low_freq_factor", "high_freq_factor",
               "original_max_position_embeddings")


def sinusoidal_positions(n_positions, dim, dtype=np.float32):
    """The fixed encoding of "Attention Is All You Need", (n_positions, dim):

        PE[t, 2i]     = sin(t / 10000^(2i / dim))
        PE[t, 2i + 1] = cos(t / 10000^(2i / dim))

    Each pair of columns is a clock at its own speed, from one turn per 2 pi positions down to
    one per 10000 * 2 pi, so nearby positions get similar rows and every position a different
    one. Computed in float64, returned in `dtype`; an odd dim ends with a sine column.
    """
    _check_count("sinusoidal_positions", "n_positions", n_positions)
    _check_count("sinusoidal_positions", "dim", dim)
    pair = np.arange(dim) // 2                                    # column j has frequency j // 2
    frequencies = 1.0 / 10000.0 ** (2.0 * pair / dim)             # (dim,)
    angles = np.arange(n_positions, dtype=np.float64)[:, None] * frequencies  # (T, dim)
    table = np.where(np.arange(dim) % 2 == 0, np.sin(angles), np.cos(angles))
    return table.astype(dtype)


def rope_inverse_frequencies(head_dim, theta, rope_scaling=None):
    """The angle per position of each pair of a head's dimensions, float32 (head_dim / 2,):

        inv_freq[i] = 1 / theta^(2i / head_dim)          (rope_theta: 10000, Llama 3: 500000)

    rope_scaling is a checkpoint's `rope_scaling` entry: None (or {"rope_type": "default"})
    for none, or Llama 3.1/3.2's {"rope_type": "llama3", "factor", "low_freq_factor",
    "high_freq_factor", "original_max_position_embeddings"} (older files say "type"), which
    stretches the slow frequencies to a longer context: with L the original context and
    wavelength w = 2 pi / inv_freq,
        w < L / high_freq_factor    kept (fast pairs already turn many times within L)
        w > L / low_freq_factor     divided by factor (slow pairs: as if factor times slower)
        otherwise                   (1 - s) inv_freq / factor + s inv_freq,
                                    s = (L / w - low_freq_factor) / (high - low_freq_factor)
    Any other kind of scaling is refused by name.
    """
    if isinstance(head_dim, bool) or not isinstance(head_dim, (int, np.integer)) \
            or head_dim < 2 or head_dim % 2:
        raise ValueError(f"rotary embedding needs an even head_dim of at least 2 (its "
                         f"dimensions are turned in pairs), got {head_dim!r}")
    if not _is_number(theta) or not theta > 0:
        raise ValueError(f"rope theta must be a positive number, got {theta!r}")
    # HF's steps in float32: (2i as float32) / head_dim, theta^that, 1 / it. The power is
    # taken in float64 and rounded: the correctly rounded float32, which PyTorch's float32 pow
    # gives and NumPy's misses by an ulp for some exponents.
    exponents = np.arange(0, head_dim, 2).astype(np.float32) / int(head_dim)
    powers = (float(theta) ** exponents.astype(np.float64)).astype(np.float32)
    inverse_frequencies = 1.0 / powers
    kind = _scaling_kind(rope_scaling)
    if kind == "llama3":
        return _llama3_scaling(inverse_frequencies, _llama3_parameters(rope_scaling))
    return inverse_frequencies


def _scaling_kind(rope_scaling):
    """"default" (no scaling) or "llama3"; anything else is refused by name."""
    if rope_scaling is None:
        return "default"
    if not isinstance(rope_scaling, dict):
        raise TypeError(f"rope_scaling must be a dict (a checkpoint's rope_scaling entry) or "
                        f"None, not {type(rope_scaling).__name__}")
    kind = rope_scaling.get("rope_type", rope_scaling.get("type", "default"))
    if kind not in ("default", "llama3"):
        raise ValueError(f"rope scaling {kind!r} is not supported: only Llama 3's 'llama3' "
                         f"scaling (or none) is implemented")
    return kind


def _llama3_parameters(rope_scaling):
    """The four numbers of "llama3" scaling, checked: present, numbers, sensible."""
    missing = [key for key in LLAMA3_KEYS if rope_scaling.get(key) is None]
    if missing:
        raise ValueError(f"rope scaling 'llama3' needs {', '.join(missing)} "
                         f"(it has {', '.join(sorted(rope_scaling))})")
    bad = [key for key in LLAMA3_KEYS if not _is_number(rope_scaling[key])]
    if bad:
        raise ValueError(f"rope scaling 'llama3': {', '.join(bad)} must be numbers, got "
                         f"{', '.join(repr(rope_scaling[key]) for key in bad)}")
    factor, low, high, context = (rope_scaling[key] for key in LLAMA3_KEYS)
    if not factor > 0 or not context > 0 or not 0 < low < high:
        raise ValueError(f"rope scaling 'llama3' needs factor > 0, "
                         f"0 < low_freq_factor < high_freq_factor and "
                         f"original_max_position_embeddings > 0; got factor={factor}, "
                         f"low_freq_factor={low}, high_freq_factor={high}, "
                         f"original_max_position_embeddings={context}")
    return float(factor), float(low), float(high), float(context)


def _llama3_scaling(inverse_frequencies, parameters):
    """HF's _compute_llama3_parameters, step for step in float32 (see the docstring above)."""
    factor, low_freq_factor, high_freq_factor, old_context = parameters
    low_freq_wavelength = old_context / low_freq_factor
    high_freq_wavelength = old_context / high_freq_factor
    # PyTorch computes number / tensor as tensor.reciprocal() * number (two roundings); so
    # do we, which keeps the smoothed frequencies equal to HF's to the last bit.
    wavelengths = np.reciprocal(inverse_frequencies) * (2 * math.pi)
    scaled = np.where(wavelengths > low_freq_wavelength, inverse_frequencies / factor,
                      inverse_frequencies)
    smooth = np.reciprocal(wavelengths) * old_context - low_freq_factor
    smooth /= high_freq_factor - low_freq_factor
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    is_medium = ~(wavelengths < high_freq_wavelength) & ~(wavelengths > low_freq_wavelength)
    return np.where(is_medium, smoothed, scaled)


def rotary_tables(positions, inverse_frequencies, dtype=np.float32):
    """cos and sin tables for `tinytorch.functional.rotary_embedding`, in Hugging Face's
    layout: for positions (T,) (or (B, T), one row of positions per sequence) and
    inverse_frequencies (D/2,), each (*positions.shape, D) with

        angle[t, i] = positions[t] * inverse_frequencies[i],   both halves the same:
        cos[t] = [cos(angle[t]), cos(angle[t])],   sin[t] likewise

    so that dimension i and dimension i + D/2 are turned together. The angles are computed in
    the dtype of inverse_frequencies (float32 from `rope_inverse_frequencies`, as HF does),
    the tables returned in `dtype`. With a KV cache, positions start at the cache's length.
    """
    positions = np.asarray(positions)
    inverse_frequencies = np.asarray(inverse_frequencies)
    if positions.dtype.kind not in "iu":
        raise TypeError(f"rotary_tables: positions must be integers, not {positions.dtype}")
    if inverse_frequencies.ndim != 1 or inverse_frequencies.dtype.kind != "f":
        raise ValueError(f"rotary_tables: inverse_frequencies must be one float per pair of "
                         f"dimensions (D/2,), got {inverse_frequencies.dtype} "
                         f"{inverse_frequencies.shape}")
    angles = positions.astype(inverse_frequencies.dtype)[..., None] * inverse_frequencies
    angles = np.concatenate([angles, angles], axis=-1)             # (..., T, D)
    return np.cos(angles).astype(dtype), np.sin(angles).astype(dtype)


def _is_number(value):
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def _check_count(function, name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{function}: {name} must be a positive int, got {value!r}")
