"""gpt.inspection.scaling.fit_power_law: L(N) = a * N^-alpha + c by least squares, on synthetic losses
whose a, alpha and c are known."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpt.inspection.scaling import PowerLawFit, fit_power_law

SIZES = np.array([4_352.0, 27_552.0, 59_760.0, 154_240.0, 453_792.0, 801_664.0])


def law(sizes, a, alpha, c):
    return a * np.asarray(sizes, dtype=np.float64) ** -alpha + c


def rss(sizes, losses, a, alpha, c):
    return float(np.sum((losses - law(sizes, a, alpha, c)) ** 2))


def test_noise_free_points_give_back_a_alpha_and_c():
    losses = law(SIZES, a=7.5, alpha=0.31, c=1.42)
    fit = fit_power_law(SIZES, losses)
    assert isinstance(fit, PowerLawFit)
    np.testing.assert_allclose([fit.a, fit.alpha, fit.c], [7.5, 0.31, 1.42], rtol=1e-6)
    assert fit.residuals.shape == (6,) and np.max(np.abs(fit.residuals)) < 1e-9
    assert fit.n_points == 6
    with pytest.raises(ValueError):
        fit.residuals[0] = 1.0                    # a fit is a record of what was measured


@given(a=st.floats(0.5, 50.0), alpha=st.floats(0.03, 1.5), c=st.floats(0.0, 3.0),
       low=st.floats(1.0, 1e4), decades=st.floats(1.0, 4.0), n=st.integers(3, 9))
def test_any_noise_free_law_is_recovered(a, alpha, c, low, decades, n):
    sizes = np.geomspace(low, low * 10.0 ** decades, n)
    losses = law(sizes, a, alpha, c)
    fit = fit_power_law(sizes, losses)
    # What the fit must get right is the curve through the points; the parameters follow
    # from it (up to the conditioning of a curve that hardly bends over the range).
    np.testing.assert_allclose(fit(sizes), losses, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(fit.alpha, alpha, rtol=1e-3)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_noisy_points_give_a_sensible_fit(seed):
    a, alpha, c = 6.0, 0.35, 1.5
    sizes = np.geomspace(2e3, 2e6, 10)
    clean = law(sizes, a, alpha, c)
    losses = clean + np.random.default_rng(seed).normal(0.0, 0.004, size=sizes.shape)
    fit = fit_power_law(sizes, losses)
    assert abs(fit.alpha - alpha) < 0.06 and abs(fit.c - c) < 0.08
    np.testing.assert_allclose(fit(sizes), clean, atol=0.006)
    # the residuals are the measured losses minus the fitted curve at each point ...
    np.testing.assert_allclose(fit.residuals, losses - fit(sizes), atol=1e-12)
    # ... and no nearby curve has smaller ones: the fit is the least-squares minimum
    best = rss(sizes, losses, fit.a, fit.alpha, fit.c)
    assert best <= rss(sizes, losses, a, alpha, c)
    for d_alpha in (-1e-3, 1e-3):
        for d_c in (-1e-3, 0.0, 1e-3):
            for scale in (0.999, 1.0, 1.001):
                assert best <= rss(sizes, losses, fit.a * scale, fit.alpha + d_alpha,
                                   fit.c + d_c) + 1e-15


def test_three_points_are_fitted_exactly():
    sizes = np.array([1e3, 1e4, 1e5])
    losses = np.array([3.0, 2.2, 1.9])
    fit = fit_power_law(sizes, losses)
    assert np.max(np.abs(fit.residuals)) < 1e-9 and fit.a > 0 and fit.c >= 0
    # by hand: (3.0 - 2.2) / (2.2 - 1.9) = 10^alpha for three points a decade apart
    np.testing.assert_allclose(fit.alpha, np.log10(0.8 / 0.3), rtol=1e-8)


def test_the_fit_does_not_depend_on_the_units_of_size():
    losses = law(SIZES, a=4.0, alpha=0.2, c=1.0) + np.array([3, -2, 1, 0, -1, 2]) * 1e-3
    fit = fit_power_law(SIZES, losses)
    in_thousands = fit_power_law(SIZES / 1000.0, losses)
    np.testing.assert_allclose(in_thousands.alpha, fit.alpha, rtol=1e-7)
    np.testing.assert_allclose(in_thousands.c, fit.c, rtol=1e-6)
    np.testing.assert_allclose(in_thousands.a, fit.a * 1000.0 ** -fit.alpha, rtol=1e-6)


def test_integer_sizes_and_lists_work_and_the_input_is_left_alone():
    sizes = [1000, 10_000, 100_000, 1_000_000]
    losses = [float(v) for v in law(sizes, 3.0, 0.5, 0.5)]
    fit = fit_power_law(sizes, losses)
    np.testing.assert_allclose([fit.a, fit.alpha, fit.c], [3.0, 0.5, 0.5], rtol=1e-6)
    assert sizes == [1000, 10_000, 100_000, 1_000_000]
    assert isinstance(fit.a, float) and isinstance(fit.alpha, float) and isinstance(fit.c, float)


def test_a_loss_cannot_fall_below_zero_so_c_stays_at_or_above_c_min():
    # Points that fall ever more steeply in log-log (c < 0: a loss below zero for large N).
    sizes = np.geomspace(1e3, 1e6, 6)
    losses = law(sizes, 20.0, 0.3, -0.1)
    bounded = fit_power_law(sizes, losses)
    assert bounded.c == 0.0 and bounded.a > 0
    free = fit_power_law(sizes, losses, c_min=None)
    np.testing.assert_allclose([free.a, free.alpha, free.c], [20.0, 0.3, -0.1], rtol=1e-6)
    assert np.sum(free.residuals ** 2) < np.sum(bounded.residuals ** 2)
    floor = fit_power_law(SIZES, law(SIZES, 30.0, 0.4, 1.2), c_min=1.25)
    assert floor.c == 1.25 and floor.rms_residual > 1e-3      # the bound costs some fit


def test_pure_power_law_with_c_zero():
    fit = fit_power_law(SIZES, law(SIZES, a=9.0, alpha=0.076, c=0.0))
    np.testing.assert_allclose([fit.a, fit.alpha], [9.0, 0.076], rtol=1e-6)
    assert fit.c < 1e-6


def test_formula_and_prediction():
    fit = fit_power_law(SIZES, law(SIZES, a=7.5, alpha=0.31, c=1.42))
    assert fit.formula("N") == "L(N) = 7.5 * N^-0.310 + 1.420"
    np.testing.assert_allclose(fit(1e9), 7.5 * 1e9 ** -0.31 + 1.42, rtol=1e-6)
    assert fit(np.array([1e3, 1e4])).shape == (2,)


@pytest.mark.parametrize("sizes, losses, message", [
    ([1e3, 1e4], [3.0, 2.5], "at least 3 points"),
    ([1e3, 1e3, 1e4, 1e4], [3.0, 3.1, 2.5, 2.4], "at least 3 different sizes"),
    ([1e3, 1e4, 1e5], [3.0, 2.5], "3 sizes but 2 losses"),
    ([1e3, 0.0, 1e5], [3.0, 2.5, 2.0], r"sizes\[1\] = 0.0"),
    ([1e3, -1e4, 1e5], [3.0, 2.5, 2.0], r"sizes\[1\] = -10000.0"),
    ([1e3, np.inf, 1e5], [3.0, 2.5, 2.0], r"sizes\[1\] = inf"),
    ([1e3, 1e4, 1e5], [3.0, np.nan, 2.0], r"losses\[1\] = nan"),
    ([[1e3, 1e4, 1e5]], [[3.0, 2.5, 2.0]], "one-dimensional"),
])
def test_bad_input_is_named(sizes, losses, message):
    with pytest.raises(ValueError, match=message):
        fit_power_law(sizes, losses)


def test_losses_that_rise_with_size_are_refused():
    with pytest.raises(ValueError, match=r"a = -[\d.]+.*do not fall"):
        fit_power_law(SIZES, law(SIZES, a=-2.0, alpha=0.3, c=3.0))


def test_flat_losses_are_refused():
    with pytest.raises(ValueError, match="do not fall"):
        fit_power_law(SIZES, np.full(6, 2.5))


def test_an_exponent_at_the_edge_of_the_range_is_refused():
    # A straight line in (log N, L) is the alpha -> 0 limit of a * N^-alpha + c with c -> -inf:
    # without the bound on c, no exponent inside the range fits best.
    sizes = np.geomspace(1e3, 1e6, 6)
    losses = 3.0 - 0.2 * np.log(sizes)
    with pytest.raises(ValueError, match=r"edge of the range searched.*0.01"):
        fit_power_law(sizes, losses, c_min=None, alpha_range=(0.01, 2.0))
    # and a step (flat, then one drop) wants an exponent larger than any in the range
    with pytest.raises(ValueError, match=r"edge of the range searched.*0.5"):
        fit_power_law(sizes, [2.0, 1.0, 1.0, 1.0, 1.0, 1.0], alpha_range=(0.01, 0.5))


@pytest.mark.parametrize("alpha_range", [(0.0, 1.0), (1.0, 0.5), (0.1, np.inf)])
def test_a_bad_alpha_range_is_named(alpha_range):
    with pytest.raises(ValueError, match="alpha_range"):
        fit_power_law(SIZES, law(SIZES, 1.0, 0.3, 1.0), alpha_range=alpha_range)
