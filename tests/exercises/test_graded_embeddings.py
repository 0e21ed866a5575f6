"""Graded tests of the embeddings chapter (05_embeddings.py): the embedding's backward, a
scatter-add of the output's gradient into the rows of the table."""
import numpy as np
import pytest

from exercise_checks import check_backward, run_backward, run_forward
from tinytorch.functional.embedding import Embedding


class TestEmbeddingBackward:
    def test_by_hand_with_repeated_ids(self):
        weight = np.zeros((5, 2))
        ids = np.array([[1, 3, 1], [0, 1, 3]])
        ctx, _ = run_forward(Embedding, ids, weight)
        grad = np.arange(12.0).reshape(2, 3, 2)
        grad_ids, grad_weight = run_backward(Embedding, ctx, grad)
        assert grad_ids is None
        np.testing.assert_array_equal(grad_weight, [
            [6.0, 7.0],                           # id 0: row (1, 0)
            [0 + 4 + 8, 1 + 5 + 9],               # id 1: rows (0, 0), (0, 2) and (1, 1)
            [0.0, 0.0],                           # id 2 does not occur
            [2 + 10, 3 + 11],                     # id 3: rows (0, 1) and (1, 2)
            [0.0, 0.0],
        ])

    @pytest.mark.parametrize("ids_shape", [(7,), (2, 5), (2, 2, 3), ()])
    def test_matches_central_differences(self, ids_shape):
        rng = np.random.default_rng(len(ids_shape))
        ids = rng.integers(0, 4, size=ids_shape)
        weight = rng.standard_normal((6, 3))
        check_backward(Embedding, [ids, weight], rng.standard_normal(ids_shape + (3,)))

    def test_every_id_the_same(self):
        ctx, _ = run_forward(Embedding, np.full(50, 2), np.zeros((3, 4)))
        grad_weight = run_backward(Embedding, ctx, np.ones((50, 4)))[1]
        np.testing.assert_array_equal(grad_weight, [[0.0] * 4, [0.0] * 4, [50.0] * 4])

    def test_float32_rows_and_a_large_table(self):
        rng = np.random.default_rng(3)
        ids = rng.integers(0, 1000, size=(4, 64))
        ctx, _ = run_forward(Embedding, ids, np.zeros((1000, 8), np.float32))
        grad = rng.standard_normal((4, 64, 8)).astype(np.float32)
        grad_weight = run_backward(Embedding, ctx, grad)[1]
        expected = np.zeros((1000, 8))
        np.add.at(expected, ids.reshape(-1), grad.reshape(-1, 8).astype(np.float64))
        assert grad_weight.shape == (1000, 8)
        np.testing.assert_allclose(grad_weight, expected, rtol=1e-5, atol=1e-5)
