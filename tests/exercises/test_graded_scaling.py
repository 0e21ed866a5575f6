"""Graded tests of the scaling-laws chapter (24_scaling_laws.py): the least-squares line
behind the power-law fit, against NumPy's polyfit and by hand."""
import numpy as np
import pytest

from gpt.inspection.scaling import least_squares_line


class TestLeastSquaresLine:
    def test_a_line_through_the_points_is_found_exactly(self):
        f = np.array([[1.0, 2.0, 4.0, 8.0]])
        a, c = least_squares_line(f, 3.0 * f[0] + 0.5)
        np.testing.assert_allclose(a, [3.0], rtol=1e-12)
        np.testing.assert_allclose(c, [0.5], rtol=1e-12)

    @pytest.mark.parametrize("G, n", [(5, 7), (1, 3), (3, 12)])
    def test_every_row_is_its_own_fit_as_polyfit_finds_it(self, G, n):
        rng = np.random.default_rng(G * n)
        features = rng.standard_normal((G, n)) * rng.uniform(0.5, 3.0, (G, 1)) + \
            rng.uniform(-2.0, 2.0, (G, 1))
        losses = rng.standard_normal(n) + 4.0
        f_copy, l_copy = features.copy(), losses.copy()
        a, c = least_squares_line(features, losses)
        assert a.shape == c.shape == (G,)
        for g in range(G):
            slope, intercept = np.polyfit(features[g], losses, 1)
            np.testing.assert_allclose([a[g], c[g]], [slope, intercept], rtol=1e-9, atol=1e-12)
        np.testing.assert_array_equal(features, f_copy, err_msg="features were written into")
        np.testing.assert_array_equal(losses, l_copy, err_msg="losses were written into")

    def test_the_residuals_of_the_best_line_sum_to_zero_and_are_orthogonal_to_f(self):
        rng = np.random.default_rng(7)
        features, losses = rng.uniform(0.1, 2.0, (4, 9)), rng.uniform(1.0, 3.0, 9)
        a, c = least_squares_line(features, losses)
        residuals = losses[None, :] - a[:, None] * features - c[:, None]
        np.testing.assert_allclose(residuals.sum(axis=1), 0.0, atol=1e-12)
        np.testing.assert_allclose((residuals * features).sum(axis=1), 0.0, atol=1e-12)

    def test_a_row_that_does_not_vary_gets_a_zero_slope_and_the_mean(self):
        features = np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 3.0]])
        losses = np.array([1.0, 4.0, 7.0])
        with np.errstate(all="raise"):             # no division by zero on the way
            a, c = least_squares_line(features, losses)
        np.testing.assert_allclose(a, [0.0, 3.0], atol=1e-12)
        np.testing.assert_allclose(c, [4.0, -2.0], atol=1e-12)

    def test_features_far_from_zero_keep_their_digits(self):
        # f = 1e8 + small steps: the normal equations lose the slope in cancellation
        steps = np.array([0.0, 1e-3, 2e-3, 3e-3, 4e-3])
        features = (1e8 + steps)[None, :]
        losses = 2.0 + 5.0 * steps
        a, c = least_squares_line(features, losses)
        np.testing.assert_allclose(a, [5.0], rtol=1e-4)
