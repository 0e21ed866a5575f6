"""Scaling laws: fitting L(N) = a * N^-alpha + c to the losses of a ladder of runs.

N is whatever grows along the ladder (parameters, or tokens seen) and L the final validation
loss of each run. Three numbers describe the curve: alpha how fast the loss falls as N grows
(Kaplan et al. 2020 measured alpha_N about 0.076 for parameters, alpha_D about 0.095 for data),
a its scale, c the loss that no size removes (the entropy of the text itself, plus whatever the
recipe cannot learn).

How the fit works, with NumPy alone (no SciPy optimiser):

    for a fixed alpha, L = a * f + c with f = N^-alpha is a straight line in (a, c):
        least squares gives them exactly:  a = cov(f, L) / var(f),  c = mean(L) - a * mean(f)
    so the sum of squared residuals is a function of alpha alone, rss(alpha):
        evaluate it on a fine geometric grid of alpha, take the best grid point, then narrow
        the bracket around it by golden-section search to full precision.

A loss cannot fall below zero, so c is held at or above c_min (0 by default): where the line
fit wants c < c_min, c = c_min and a is the least-squares a for that c (still exact).

A fit that means nothing is refused with a ValueError that says why: fewer than 3 points or 3
different sizes (three numbers need three points), losses that do not fall as N grows (a <= 0),
or a best alpha at the edge of the range searched (the points do not pin down an exponent: they
lie on a straight line in (log N, L), or fall in one step).
"""
import math
from dataclasses import dataclass

import numpy as np

GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0      # 0.618...: the bracket shrinks by this each step


@dataclass(frozen=True, eq=False)        # eq=False: == on arrays has no single answer
class PowerLawFit:
    """The least-squares fit L(N) = a * N^-alpha + c; residuals[i] = losses[i] - L(sizes[i]),
    float64 (n,), in the order of the points given."""

    a: float
    alpha: float
    c: float
    residuals: np.ndarray

    def __call__(self, sizes):
        """The fitted loss at `sizes` (a number or an array of any shape), float64."""
        return self.a * np.asarray(sizes, dtype=np.float64) ** -self.alpha + self.c

    @property
    def n_points(self):
        return len(self.residuals)

    @property
    def rms_residual(self):
        """The typical distance of a point from the curve, in loss units."""
        return float(np.sqrt(np.mean(self.residuals ** 2)))

    def formula(self, name="N"):
        """The fit as one line, e.g. 'L(N) = 7.5 * N^-0.310 + 1.420'."""
        return f"L({name}) = {self.a:.4g} * {name}^-{self.alpha:.3f} + {self.c:.3f}"


def fit_power_law(sizes, losses, alpha_range=(1e-3, 4.0), c_min=0.0, grid_points=2001):
    """Fit L(N) = a * N^-alpha + c to `losses` (n,) measured at `sizes` (n,) by least squares.

    alpha_range: the exponents searched (both > 0); c_min: the lowest c allowed (None: no
    bound); grid_points: the grid over alpha before refinement. Returns a PowerLawFit; raises
    ValueError for points that cannot be fitted or a fit that means nothing (see the module's
    docstring)."""
    sizes, losses = _checked_points(sizes, losses)
    low, high = _checked_alpha_range(alpha_range)
    # Sizes in units of their geometric mean: u^-alpha stays near 1 for every alpha, so the
    # line fit is well conditioned whether N counts thousands of parameters or millions.
    unit = math.exp(float(np.mean(np.log(sizes))))
    relative = sizes / unit

    grid = np.geomspace(low, high, grid_points)
    a_on_grid, c_on_grid, rss_on_grid = _line_fit(relative, losses, grid, c_min)
    best = int(np.argmin(rss_on_grid))
    _check_falls(relative, losses, a_on_grid[best], grid[best], c_on_grid[best], unit)
    if best in (0, grid_points - 1):
        raise ValueError(f"fit_power_law: the best exponent is at the edge of the range searched, "
                         f"alpha = {grid[best]:.4g} of alpha_range [{low:.4g}, {high:.4g}]: the "
                         f"{len(sizes)} points do not determine a power law (they lie too close "
                         f"to a straight line in log N, or fall in one step)")
    alpha = _golden_section(lambda value: float(_line_fit(relative, losses, value, c_min)[2][0]),
                            grid[best - 1], grid[best + 1])
    a_relative, c, rss = (float(v[0]) for v in _line_fit(relative, losses, alpha, c_min))
    if rss > rss_on_grid[best]:      # rss(alpha) had more than one dip in the bracket
        alpha, a_relative, c = float(grid[best]), float(a_on_grid[best]), float(c_on_grid[best])
    _check_falls(relative, losses, a_relative, alpha, c, unit)
    a = a_relative * unit ** alpha          # a * N^-alpha == a_relative * (N / unit)^-alpha
    residuals = losses - (a_relative * relative ** -alpha + c)
    residuals.flags.writeable = False       # a frozen fit: its residuals cannot change either
    return PowerLawFit(a=a, alpha=alpha, c=c, residuals=residuals)


def _line_fit(relative, losses, alphas, c_min):
    """For each alpha in `alphas` (G,): the least-squares (a, c) of losses ~ a * relative^-alpha
    + c with c >= c_min, and its sum of squared residuals; three arrays (G,)."""
    alphas = np.atleast_1d(np.asarray(alphas, dtype=np.float64))
    features = relative[None, :] ** -alphas[:, None]                        # (G, n)
    a, c = least_squares_line(features, losses)
    if c_min is not None:
        held = c < c_min           # the line wants c below the bound: fix c, fit a alone
        a = np.where(held, features @ (losses - c_min) / np.sum(features ** 2, axis=1), a)
        c = np.where(held, float(c_min), c)
    rss = np.sum((losses[None, :] - a[:, None] * features - c[:, None]) ** 2, axis=1)
    return a, c, rss


def least_squares_line(features, losses):
    """The least-squares line losses ~ a * f + c for each row f of `features` (G, n), against
    `losses` (n,): a and c, (G,) each, each row fitted on its own.

        a = sum((f - mean f) (L - mean L)) / sum((f - mean f)^2),   c = mean L - a * mean f

    A row that does not vary (every f the same) gets a = 0 and c = mean L. Work with centred
    sums (subtract the means first), not the normal equations: f hardly varies when alpha is
    small, and subtracting the means first keeps the digits that tell the points apart. Leave
    the arguments as they are."""
    # BEGIN EXERCISE least_squares_line: per row, a = sum((f - mean f)(L - mean L)) / sum((f - mean f)^2), c = mean L - a mean f
    centred = features - features.mean(axis=1, keepdims=True)             # (G, n)
    spread = np.sum(centred ** 2, axis=1)                                  # (G,)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(spread > 0, centred @ (losses - losses.mean()) / spread, 0.0)
    c = losses.mean() - a * features.mean(axis=1)
    return a, c
    # END EXERCISE least_squares_line


def _check_falls(relative, losses, a_relative, alpha, c, unit):
    """A ValueError unless the curve falls over the points' range by more than rounding."""
    fall = a_relative * (relative.min() ** -alpha - relative.max() ** -alpha)
    if not fall > 1e-9 * float(np.max(np.abs(losses))):
        raise ValueError(f"fit_power_law: the fitted a = {a_relative * unit ** alpha:.4g} (alpha "
                         f"{alpha:.4g}, c {c:.4g}): the losses do not fall as the size grows, so "
                         f"a * N^-alpha + c with a > 0 does not describe them")


def _golden_section(function, low, high, rtol=1e-12):
    """The x in [low, high] where `function` is least, if it has one minimum there."""
    inner_low, inner_high = high - GOLDEN * (high - low), low + GOLDEN * (high - low)
    value_low, value_high = function(inner_low), function(inner_high)
    while high - low > rtol * high:
        if value_low <= value_high:           # the minimum is left of inner_high
            high, inner_high, value_high = inner_high, inner_low, value_low
            inner_low = high - GOLDEN * (high - low)
            value_low = function(inner_low)
        else:
            low, inner_low, value_low = inner_low, inner_high, value_high
            inner_high = low + GOLDEN * (high - low)
            value_high = function(inner_high)
    return float((low + high) / 2.0)


def _checked_points(sizes, losses):
    """sizes and losses as float64 arrays (n,), or a ValueError naming what is wrong."""
    sizes = np.array(sizes, dtype=np.float64)
    losses = np.array(losses, dtype=np.float64)
    if sizes.ndim != 1 or losses.ndim != 1:
        raise ValueError(f"fit_power_law: sizes and losses must be one-dimensional, got shapes "
                         f"{sizes.shape} and {losses.shape}")
    if len(sizes) != len(losses):
        raise ValueError(f"fit_power_law: {len(sizes)} sizes but {len(losses)} losses")
    if len(sizes) < 3:
        raise ValueError(f"fit_power_law: needs at least 3 points to fit a, alpha and c, got "
                         f"{len(sizes)}")
    for index, size in enumerate(sizes):
        if not (math.isfinite(size) and size > 0):
            raise ValueError(f"fit_power_law: sizes must be positive and finite, got "
                             f"sizes[{index}] = {size}")
    for index, loss in enumerate(losses):
        if not math.isfinite(loss):
            raise ValueError(f"fit_power_law: losses must be finite, got losses[{index}] = {loss}")
    if len(np.unique(sizes)) < 3:
        raise ValueError(f"fit_power_law: needs at least 3 different sizes, got "
                         f"{sorted(set(sizes.tolist()))}")
    return sizes, losses


def _checked_alpha_range(alpha_range):
    low, high = (float(value) for value in alpha_range)
    if not (0.0 < low < high < math.inf):
        raise ValueError(f"fit_power_law: alpha_range must be (low, high) with "
                         f"0 < low < high < inf, got {tuple(alpha_range)}")
    return low, high
