r"""The experiments lab's measurements: :class:`LabResult` and statistics over seeds.

Every runner (:mod:`~gdlib.experiments.runs`, :mod:`~gdlib.experiments.timing`) returns a
:class:`LabResult` whose metrics are arrays shaped ``(rows, seeds, ...)``; :func:`seed_mean_sd`
reduces them over the seeds, ignoring NaN (a run that never reached a target). :func:`welch_test`
decides whether two rows differ (Welch's two-sided t-test on the difference of their means over
seeds, with an optional sampling error of a shared test set), :func:`welch_power` measures its
error rates by simulation and :func:`seeds_for_power` picks the number of seeds a stated power
needs. The private helpers check the runners' rows and seeds and assemble their arrays.

Introduced in the lab chapter (``ch-lab``).
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass, field
from typing import NamedTuple, Sequence

import numpy as np

from gdlib._validate import _show, check_fraction, check_non_negative_int, check_positive_int, check_rng

__all__ = ["SEEDS", "LabResult", "seed_mean_sd", "WelchTest", "welch_test", "welch_power", "seeds_for_power",
           "student_t_sf"]

SEEDS = (0, 1, 2)  #: the lab's default seeds (mean ± sd over at least three runs)


# ---------------------------------------------------------------------------------------------
# Results


@dataclass
class LabResult:
    """The measurements of one table: ``metrics[name]`` has shape ``(len(rows), len(seeds), ...)``.

    ``timing`` names the metrics that are wall-clock seconds (the only ones that change from
    run to run with the same seeds); ``histories`` maps ``(row, seed)`` to the
    :class:`~gdlib.train.History` of that run where the chapter plots it; ``config`` records
    every setting used.
    """

    name: str
    rows: tuple
    seeds: tuple
    metrics: dict
    timing: tuple = ()
    config: dict = field(default_factory=dict)
    histories: dict = field(default_factory=dict)

    def mean(self, metric: str) -> np.ndarray:
        """Mean over seeds (axis 1), ignoring NaN (a run that never reached a target)."""
        return seed_mean_sd(self._get(metric))[0]

    def sd(self, metric: str) -> np.ndarray:
        """Sample standard deviation over seeds (ddof = 1; 0 with a single seed)."""
        return seed_mean_sd(self._get(metric))[1]

    def per_run(self, metric: str, reduce=np.nanmedian) -> np.ndarray:
        """One number per run, shape (rows, seeds): ``reduce`` over the trailing axes (e.g. the
        fastest epoch of each run with ``np.nanmin``); NaN for a run with no value."""
        values = self._get(metric)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # numpy's "All-NaN slice"
            return reduce(values.reshape(values.shape[:2] + (-1,)), axis=2)

    def column(self, metric: str) -> dict:
        """``{row: mean}`` for a metric with one value per run."""
        return dict(zip(self.rows, self.mean(metric).tolist()))

    def _get(self, metric: str) -> np.ndarray:
        if metric not in self.metrics:
            raise KeyError(f"metric must be one of {', '.join(self.metrics)}, got metric={metric!r}")
        return self.metrics[metric]


def seed_mean_sd(values) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample standard deviation (ddof = 1) over axis 1 (the seeds), ignoring NaN.

    Where every seed is NaN both are NaN (without numpy's warning); with one finite seed the
    standard deviation is 0.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim < 2:
        raise ValueError(f"values must have shape (rows, seeds, ...), got shape {values.shape}")
    finite = np.isfinite(values)
    count = finite.sum(axis=1)
    total = np.where(finite, values, 0.0).sum(axis=1)
    mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    squares = np.where(finite, (values - np.expand_dims(mean, 1)) ** 2, 0.0).sum(axis=1)
    sd = np.where(count > 1, np.sqrt(squares / np.maximum(count - 1, 1)), 0.0)
    return mean, np.where(count > 0, sd, np.nan)


# ---------------------------------------------------------------------------------------------
# The test behind every verdict: Welch's t-test on the difference of two means over seeds


def _betainc(a, b, x) -> np.ndarray:
    r"""Regularised incomplete beta function :math:`I_x(a, b)`, elementwise (Lentz's continued
    fraction, evaluated where it converges fast and mirrored with :math:`I_x(a,b) = 1 - I_{1-x}(b,a)`
    elsewhere)."""
    a, b, x = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (a, b, x)))
    swap = x > (a + 1) / (a + b + 2)
    a, b, x = np.where(swap, b, a), np.where(swap, a, b), np.where(swap, 1 - x, x)
    tiny = 1e-300
    with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
        c = np.ones_like(x)
        d = 1 - (a + b) * x / (a + 1)
        d = 1 / np.where(np.abs(d) < tiny, tiny, d)
        f = d.copy()
        for m in range(1, 300):
            for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                        -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
                d = 1 + num * d
                d = 1 / np.where(np.abs(d) < tiny, tiny, d)
                c = 1 + num / c
                c = np.where(np.abs(c) < tiny, tiny, c)
                f = f * c * d
            if np.all(np.abs(c * d - 1) < 1e-13):
                break
        log_front = (a * np.log(np.where(x > 0, x, 1)) + b * np.log1p(-x)
                     - np.vectorize(math.lgamma)(a) - np.vectorize(math.lgamma)(b)
                     + np.vectorize(math.lgamma)(a + b) - np.log(a))
        value = np.where(x > 0, np.exp(log_front) * f, 0.0)
    return np.where(swap, 1 - value, value)


def student_t_sf(t, df) -> np.ndarray:
    r"""Two-sided tail probability :math:`P(|T_\nu| \ge |t|)` of Student's t with ``df`` degrees
    of freedom (any real :math:`\nu > 0`; ``inf`` gives the normal distribution).

    .. math::

        P(|T_\nu| \ge |t|) = I_{\nu / (\nu + t^2)}\!\left(\tfrac{\nu}{2}, \tfrac12\right),

    with :math:`I` the regularised incomplete beta function; for :math:`\nu = \infty`,
    :math:`\operatorname{erfc}(|t| / \sqrt 2)`. Agrees with ``2 * scipy.stats.t.sf(abs(t), df)``
    to about twelve digits (tested), without needing scipy.

    Introduced in the lab chapter (``ch-lab``).
    """
    t, df = np.broadcast_arrays(np.asarray(t, dtype=float), np.asarray(df, dtype=float))
    finite = np.isfinite(df)
    safe_df = np.where(finite, df, 1.0)
    tail = _betainc(safe_df / 2, 0.5, safe_df / (safe_df + t ** 2))
    normal = np.vectorize(math.erfc)(np.abs(t) / math.sqrt(2))
    return np.where(finite, tail, normal)


class WelchTest(NamedTuple):
    """The outcome of :func:`welch_test` for one pair of rows."""

    difference: float  #: mean of a minus mean of b
    se: float          #: standard error of the difference
    t: float           #: difference / se (±inf when se = 0 and the means differ, 0 when equal)
    df: float          #: Welch–Satterthwaite degrees of freedom (inf: variance known)
    p_value: float     #: two-sided p-value
    significant: bool  #: p_value < alpha: the seeds resolve the order of the two rows


def welch_test(mean_a, sd_a, n_a, mean_b, sd_b, n_b, *, alpha: float = 0.05,
               extra_se_a: float = 0.0, extra_se_b: float = 0.0) -> WelchTest:
    r"""Welch's two-sided t-test of :math:`\mu_a = \mu_b` from the means and standard deviations
    over seeds of two rows, with an optional extra standard error per row.

    With :math:`n` seeds per row, means :math:`m`, sample standard deviations :math:`s`
    (ddof = 1) and extra standard errors :math:`e` (for an accuracy on a shared test set of
    :math:`N` examples, the binomial :math:`e = \sqrt{p(1 - p)/N}`, which more seeds do not
    shrink),

    .. math::

        \mathrm{se}^2 = \frac{s_a^2}{n_a} + \frac{s_b^2}{n_b} + e_a^2 + e_b^2, \qquad
        t = \frac{m_a - m_b}{\mathrm{se}}, \qquad
        \nu = \frac{\mathrm{se}^4}{\dfrac{(s_a^2/n_a)^2}{n_a - 1} + \dfrac{(s_b^2/n_b)^2}{n_b - 1}},

    (Welch–Satterthwaite; the extra errors count as known variances, with infinitely many
    degrees of freedom), and the p-value is :math:`P(|T_\nu| \ge |t|)`. The pair is
    *significant*, its order resolved, when :math:`p < \alpha`. If the means are normal with
    equal true values this happens in a fraction close to :math:`\alpha` of experiments
    whatever :math:`n` (exactly :math:`\alpha` for equal variances and sizes up to Welch's
    approximation); the power to detect a true difference :math:`\delta` grows with
    :math:`n` because :math:`\mathrm{se}` shrinks like :math:`1/\sqrt n`
    (:func:`welch_power`). Adding the test-set errors of two accuracies measured on the same
    test set treats them as independent, which is conservative: both models see the same
    examples, so their errors are positively correlated and the variance of the difference
    is smaller.

    Where :math:`\mathrm{se} = 0` (every seed gave the same value, no extra error) the
    difference is known exactly: it is significant if and only if it is not zero.

    Parameters
    ----------
    mean_a, sd_a, mean_b, sd_b : float
        Means and sample standard deviations (ddof = 1, >= 0) over the seeds.
    n_a, n_b : int
        Numbers of seeds, at least 2 where the standard deviation is not zero.
    alpha : float, optional
        Significance level in (0, 1), 0.05 by default.
    extra_se_a, extra_se_b : float, optional
        Extra standard errors of the two means (>= 0), e.g. the test-set sampling error.

    Returns
    -------
    WelchTest

    Introduced in the lab chapter (``ch-lab``).
    """
    alpha = check_fraction(alpha, "alpha", low_open=True, high_open=True)
    values = {"mean_a": mean_a, "mean_b": mean_b, "sd_a": sd_a, "sd_b": sd_b,
              "extra_se_a": extra_se_a, "extra_se_b": extra_se_b}
    for name, v in values.items():
        if not isinstance(v, numbers.Real) or not math.isfinite(v) or (not name.startswith("mean") and v < 0):
            raise ValueError(f"{name} must be a finite number{'' if name.startswith('mean') else ' >= 0'}, "
                             f"got {name}={_show(v)}")
    for name, n, sd in (("n_a", n_a, sd_a), ("n_b", n_b, sd_b)):
        check_positive_int(n, name)
        if n < 2 and sd > 0:
            raise ValueError(f"{name} must be at least 2 where the standard deviation is not zero, got {name}={n}")
    va, vb = sd_a ** 2 / n_a, sd_b ** 2 / n_b
    var = va + vb + extra_se_a ** 2 + extra_se_b ** 2
    difference = float(mean_a - mean_b)
    if var == 0:
        exact = difference != 0
        return WelchTest(difference, 0.0, math.copysign(math.inf, difference) if exact else 0.0, math.inf,
                         0.0 if exact else 1.0, exact)
    se = math.sqrt(var)
    denominator = (va ** 2 / (n_a - 1) if va > 0 else 0.0) + (vb ** 2 / (n_b - 1) if vb > 0 else 0.0)
    df = var ** 2 / denominator if denominator > 0 else math.inf
    t = difference / se
    p = float(student_t_sf(t, df))
    return WelchTest(difference, se, t, df, p, bool(p < alpha))


def welch_power(n_seeds: int, delta: float, *, alpha: float = 0.05, trials: int = 100_000,
                extra_se: float = 0.0, rng=None) -> float:
    r"""The fraction of simulated experiments in which :func:`welch_test` resolves two rows
    whose true means differ by ``delta`` standard deviations of a single run.

    Each trial draws ``n_seeds`` values per row from :math:`N(0, 1)` and :math:`N(\delta, 1)`
    and applies the test at level ``alpha`` (with ``extra_se``, in units of the run-to-run
    standard deviation, added to each row). With ``delta = 0`` this is the false-positive
    rate, close to ``alpha``; with ``delta > 0`` it is the power.

    Parameters
    ----------
    n_seeds : int
        Seeds per row, at least 2.
    delta : float
        True difference of the means, in run-to-run standard deviations (>= 0).
    alpha : float, optional
        Significance level.
    trials : int, optional
        Simulated experiments.
    extra_se : float, optional
        Extra standard error of each mean (>= 0), in run-to-run standard deviations.
    rng : numpy.random.Generator
        Source of the simulated runs.

    Returns
    -------
    float
        The fraction of trials with :math:`p < \alpha`.

    Introduced in the lab chapter (``ch-lab``).
    """
    n_seeds = check_positive_int(n_seeds, "n_seeds")
    if n_seeds < 2:
        raise ValueError(f"n_seeds must be at least 2, got n_seeds={n_seeds}")
    trials = check_positive_int(trials, "trials")
    alpha = check_fraction(alpha, "alpha", low_open=True, high_open=True)
    for name, v in (("delta", delta), ("extra_se", extra_se)):
        if not isinstance(v, numbers.Real) or not math.isfinite(v) or v < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {name}={_show(v)}")
    rng = check_rng(rng)
    a = rng.standard_normal((trials, n_seeds))
    b = rng.standard_normal((trials, n_seeds)) + delta
    va, vb = a.var(axis=1, ddof=1) / n_seeds, b.var(axis=1, ddof=1) / n_seeds
    var = va + vb + 2 * extra_se ** 2
    df = var ** 2 / ((va ** 2 + vb ** 2) / (n_seeds - 1))
    t = (b.mean(axis=1) - a.mean(axis=1)) / np.sqrt(var)
    return float(np.mean(student_t_sf(t, df) < alpha))


def seeds_for_power(delta: float, power: float = 0.8, *, alpha: float = 0.05, max_seeds: int = 20,
                    trials: int = 100_000, rng=None) -> tuple[int, dict]:
    r"""The smallest number of seeds per row (from 2 up to ``max_seeds``) whose
    :func:`welch_power` for a difference of ``delta`` run-to-run standard deviations reaches
    ``power``, and the power of every count tried (``{n_seeds: power}``).

    For orientation, the normal approximation gives
    :math:`n \approx 2 (z_{1-\alpha/2} + z_{\text{power}})^2 / \delta^2` per row (3.9 for
    :math:`\delta = 2`, :math:`\alpha = 0.05`, power 0.8); the t distribution's heavier tails
    with few seeds need a little more. Raises ``ValueError`` if ``max_seeds`` is not enough.

    Introduced in the lab chapter (``ch-lab``).
    """
    power = check_fraction(power, "power", low_open=True, high_open=True)
    max_seeds = check_positive_int(max_seeds, "max_seeds")
    rng = check_rng(rng)
    tried = {}
    for n_seeds in range(2, max_seeds + 1):
        tried[n_seeds] = welch_power(n_seeds, delta, alpha=alpha, trials=trials, rng=rng)
        if tried[n_seeds] >= power:
            return n_seeds, tried
    raise ValueError(f"max_seeds must be large enough to reach power={power}, got max_seeds={max_seeds} "
                     f"(power {tried[max_seeds]:.3f} for delta={delta})")


def _check_seeds(seeds) -> tuple:
    if isinstance(seeds, numbers.Integral) or not isinstance(seeds, Sequence) or not seeds:
        raise ValueError(f"seeds must be a non-empty sequence of integers >= 0, got seeds={_show(seeds)}")
    return tuple(check_non_negative_int(s, "seeds[i]") for s in seeds)


def _check_rows(rows, name: str, check) -> tuple:
    if isinstance(rows, (str, numbers.Number)) or not isinstance(rows, Sequence) or not rows:
        raise ValueError(f"{name} must be a non-empty sequence, got {name}={_show(rows)}")
    return tuple(check(r) for r in rows)


def _padded(values, length: int) -> np.ndarray:
    """``values`` as floats, NaN-padded to ``length`` (a run that stopped early)."""
    out = np.full(length, np.nan)
    out[:len(values)] = values[:length]
    return out


def _grad_norms_first_epoch(history, layer_keys: dict) -> list[float]:
    r"""Per layer :math:`\sqrt{\sum_k \overline{\lVert g_k\rVert}^2}` over its arrays, epoch 1."""
    return [math.sqrt(sum(history.grad_norms[k][0] ** 2 for k in keys))
            for keys in layer_keys.values()]


def _stack(per_run: dict, num_rows: int, num_seeds: int) -> np.ndarray:
    """``{(row, seed): array}`` as one array of shape (rows, seeds, ...)."""
    return np.stack([np.stack([per_run[i, j] for j in range(num_seeds)]) for i in range(num_rows)])
