"""Graded tests of the open-checkpoint chapter (18_load_open_model.py): bfloat16 words, the
way today's open checkpoints ship their weights, turned into float32 values."""
import math
import struct

import numpy as np
import pytest

from tinytorch.safetensors import bfloat16_to_float32

# words and the numbers they encode, worked out from the bits by hand: sign | 8 exponent bits
# (bias 127) | 7 mantissa bits
BY_HAND = [
    (0x3F80, 1.0), (0xC000, -2.0), (0x4049, 3.140625), (0x3EAB, 0.333984375),
    (0x0000, 0.0), (0x7F7F, 3.3895313892515355e38),       # the largest finite bfloat16
    (0x0080, 2.0 ** -126),                                 # the smallest normal
    (0x0001, 2.0 ** -133),                                 # the smallest subnormal
    (0x7F80, math.inf), (0xFF80, -math.inf),
]


def float32_of_bits(bits):
    return struct.unpack("<f", struct.pack("<I", bits))[0]


class TestBfloat16ToFloat32:
    def test_words_worked_out_by_hand(self):
        words = np.array([w for w, _ in BY_HAND], dtype=np.uint16)
        values = bfloat16_to_float32(words)
        assert values.dtype == np.float32 and values.shape == words.shape
        np.testing.assert_array_equal(values, np.array([v for _, v in BY_HAND], np.float32))

    def test_signed_zeros_and_nans_keep_their_bits(self):
        values = bfloat16_to_float32(np.array([0x8000, 0x7FC0, 0xFFC1], dtype=np.uint16))
        assert values[0] == 0.0 and math.copysign(1.0, values[0]) == -1.0
        assert np.isnan(values[1:]).all()
        assert values.view(np.uint32).tolist() == [0x80000000, 0x7FC00000, 0xFFC10000]

    def test_every_one_of_the_65536_words(self):
        words = np.arange(2 ** 16, dtype=np.uint64).astype(np.uint16)
        bits = bfloat16_to_float32(words).view(np.uint32)
        assert bits.tolist() == [w << 16 for w in range(2 ** 16)]
        for w in (0x1234, 0xBEEF, 0x4120, 0xC2F7):          # a few values as Python floats
            assert float(bfloat16_to_float32(np.array([w], np.uint16))[0]) == \
                float32_of_bits(w << 16)

    @pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 3, 4), (1, 0, 5)])
    def test_any_shape_is_kept(self, shape):
        words = np.random.default_rng(len(shape)).integers(0, 2 ** 16, shape).astype(np.uint16)
        values = bfloat16_to_float32(words)
        assert values.shape == shape and values.dtype == np.float32
        assert values.view(np.uint32).tolist() == (words.astype(np.uint32) << 16).tolist()

    def test_a_read_only_view_of_file_bytes_is_read_and_left_alone(self):
        raw = struct.pack("<4H", 0x3F80, 0x4000, 0xBF80, 0x4040)       # as a file holds them
        words = np.frombuffer(raw, dtype="<u2").reshape(2, 2)           # read-only, like a map
        values = bfloat16_to_float32(words)
        np.testing.assert_array_equal(values, [[1.0, 2.0], [-1.0, 3.0]])
        assert values.flags.writeable and not np.shares_memory(values, words)
        values[0, 0] = 7.0                                              # ours to change
        assert words[0, 0] == 0x3F80

    def test_a_non_contiguous_view_converts_element_by_element(self):
        words = np.array([[0x3F80, 0x4000, 0x4040], [0xC000, 0x0000, 0x3F00]], np.uint16)
        values = bfloat16_to_float32(words.T)                          # (3, 2), strided
        np.testing.assert_array_equal(values, [[1.0, -2.0], [2.0, 0.0], [3.0, 0.5]])
        values = bfloat16_to_float32(words[:, ::2])
        np.testing.assert_array_equal(values, [[1.0, 3.0], [-2.0, 0.5]])

    def test_big_endian_words_are_the_same_numbers(self):
        words = np.array([0x3F80, 0xC0A0], dtype=">u2")                # 1.0 and -5.0
        np.testing.assert_array_equal(bfloat16_to_float32(words), [1.0, -5.0])
