"""Graded tests of the data chapter (06_data_windows.py): random windows of a text as inputs
and targets shifted by one."""
import numpy as np
import pytest

from exercise_checks import read_only
from gpt.data import get_batch

# ids whose value tells its position: id 1000 + i sits at position i
IDS = read_only(np.arange(1000, 1060, dtype=np.uint16))


def starts_of(inputs):
    return inputs[:, 0] - 1000


class TestGetBatch:
    def test_shapes_dtype_and_the_shift_by_one(self):
        inputs, targets = get_batch(IDS, 8, 5, np.random.default_rng(0))
        assert inputs.shape == targets.shape == (5, 8)
        assert inputs.dtype == targets.dtype == np.int64
        np.testing.assert_array_equal(targets, inputs + 1)       # the token after each input

    def test_each_row_is_a_window_of_consecutive_tokens(self):
        inputs, targets = get_batch(IDS, 6, 20, np.random.default_rng(1))
        for row_inputs, row_targets in zip(inputs, targets):
            start = row_inputs[0] - 1000
            np.testing.assert_array_equal(row_inputs, IDS[start:start + 6])
            np.testing.assert_array_equal(row_targets, IDS[start + 1:start + 7])

    def test_every_start_is_drawn_the_last_one_included(self):
        ids = IDS[:13]                       # block_size 10: windows of 11, starts 0, 1 and 2
        starts = np.concatenate([starts_of(get_batch(ids, 10, 8, np.random.default_rng(s))[0])
                                 for s in range(20)])
        assert set(starts.tolist()) == {0, 1, 2}

    def test_a_text_of_exactly_one_window(self):
        inputs, targets = get_batch(IDS[:9], 8, 4, np.random.default_rng(2))
        np.testing.assert_array_equal(inputs, np.tile(IDS[:8], (4, 1)))
        np.testing.assert_array_equal(targets, np.tile(IDS[1:9], (4, 1)))

    def test_the_starts_are_spread_over_the_text(self):
        starts = starts_of(get_batch(IDS, 4, 4000, np.random.default_rng(3))[0])
        counts = np.bincount(starts, minlength=56)
        assert len(counts) == 56, f"a window starts at {len(counts) - 1}, past the last start 55"
        assert counts.min() > 30, (
            f"start {counts.argmin()} was drawn {counts.min()} times in 4000 windows over 56 "
            f"starts (about 71 each), fewer than 31: the starts are not spread over the text")

    def test_the_generator_decides_the_windows(self):
        a = get_batch(IDS, 5, 6, np.random.default_rng(7))
        b = get_batch(IDS, 5, 6, np.random.default_rng(7))
        c = get_batch(IDS, 5, 6, np.random.default_rng(8))
        np.testing.assert_array_equal(a[0], b[0])
        assert not np.array_equal(a[0], c[0])
        generator = np.random.default_rng(7)
        first, second = get_batch(IDS, 5, 6, generator), get_batch(IDS, 5, 6, generator)
        assert not np.array_equal(first[0], second[0])           # the generator moves on

    def test_the_ids_are_left_alone(self):
        ids = IDS.copy()
        inputs, targets = get_batch(ids, 5, 3, np.random.default_rng(0))
        inputs[:] = 0
        targets[:] = 0
        np.testing.assert_array_equal(ids, IDS)

    @pytest.mark.parametrize("length", [0, 5, 8])
    def test_a_text_shorter_than_one_window(self, length):
        with pytest.raises(ValueError):
            get_batch(IDS[:length], 8, 2, np.random.default_rng(0))
