r"""The source article's claimed tables, and the verdicts that compare measurements with them.

:data:`CLAIMS` quotes the article's eight result tables as printed: claims to be tested, never
results. :func:`compare_orderings` compares a claimed ordering with a measured one, pair by pair,
with Welch's t-test on the difference of the means over seeds
(:func:`gdlib.experiments.results.welch_test`); :func:`trend` names the direction of a measured sequence and
:func:`fit_line` fits the straight lines that timing claims reduce to; :func:`mean_sd` and
:func:`markdown_table` print the chapter's tables.

Introduced in the lab chapter (``ch-lab``).
"""

from __future__ import annotations

import math
from typing import Mapping, NamedTuple, Sequence

import numpy as np

from gdlib._validate import _show
from gdlib.experiments.results import welch_test

__all__ = [
    "Claim", "CLAIMS", "ORDINAL", "Comparison", "compare_orderings", "trend", "fit_line",
    "mean_sd", "markdown_table",
]


# ---------------------------------------------------------------------------------------------
# The article's claims


class Claim(NamedTuple):
    """One result table of the source article, as printed there."""

    title: str      #: the table's subject, in the article's words
    setting: str    #: the model and data the article says it used
    quantity: str   #: what its numbers are
    values: dict    #: our row label -> printed value(s)
    labels: dict | None = None  #: our row label -> the row's name as printed, where it differs

    def label(self, row) -> str:
        """The row's name as the article printed it."""
        return (self.labels or {}).get(row, str(row))


#: The article's printed result tables, QUOTED (no code or data was published): claims to be
#: tested, never results. Keys are our row labels (learning rate, feature, variant, (L1, L2),
#: batch size, activation, dropout rate, depth); values are exactly as printed.
CLAIMS: dict[str, Claim] = {
    "lr_vs_loss": Claim(
        "Learning rate vs training loss", "single-layer network, MNIST, 10 epochs",
        "training loss after epochs 1..10",
        {0.01: (0.56, 0.34, 0.23, 0.15, 0.10, 0.08, 0.07, 0.06, 0.05, 0.04),
         0.005: (0.50, 0.32, 0.20, 0.12, 0.08, 0.06, 0.05, 0.04, 0.03, 0.03),
         0.001: (0.45, 0.28, 0.17, 0.10, 0.06, 0.04, 0.03, 0.02, 0.02, 0.01)}),
    "gradient_per_feature": Claim(
        "Gradient magnitude per feature", "house-price network", "gradient magnitude",
        {"bedrooms": 0.16, "living_area_sqft": 0.24, "crime_rate": 0.05,
         "school_proximity": 0.14, "property_age": 0.08},
        {"bedrooms": "Number of bedrooms", "living_area_sqft": "Living area (sq.ft)",
         "crime_rate": "Neighborhood crime rate", "school_proximity": "Proximity to schools",
         "property_age": "Property age"}),
    "variants": Claim(
        "Variants compared", "MLP, IMDB sentiment", "(convergence speed, computational cost)",
        {"full-batch GD": ("slow", "low"), "SGD": ("fast", "high"),
         "mini-batch GD": ("moderate", "medium"), "Adam": ("very fast", "high")},
        {"full-batch GD": "Standard (full-batch) GD", "SGD": "SGD", "mini-batch GD": "Mini-batch GD",
         "Adam": "Adam"}),
    "regularization": Claim(
        "Regularization vs validation loss", "deep CNN, image classification",
        "validation loss", {(0.01, 0.01): 0.75, (0.001, 0.01): 0.62, (0.01, 0.001): 0.68,
                            (0.001, 0.001): 0.58}),
    "batch_size_time": Claim(
        "Batch size vs training time", "RNN, stock prediction", "training time (seconds)",
        {32: 560, 64: 500, 128: 480, 256: 460}),
    "activation_accuracy": Claim(
        "Activation vs training accuracy", "deep feed-forward network, sentiment",
        "training accuracy (%)", {"sigmoid": 92, "relu": 95, "tanh": 94, "leaky_relu": 96},
        {"sigmoid": "Sigmoid", "relu": "ReLU", "tanh": "Tanh", "leaky_relu": "Leaky ReLU"}),
    "dropout_accuracy": Claim(
        "Dropout vs test accuracy", "RNN language model", "test accuracy (%)",
        {0.0: 80, 0.2: 83, 0.5: 85, 0.8: 81}),
    "depth_time": Claim(
        "Depth vs training time", "residual network, CIFAR-10", "training time (minutes)",
        {20: 75, 32: 110, 44: 140, 56: 180}),
}

#: Ranks of the article's qualitative words (the variants table), slowest/cheapest first.
ORDINAL = {"slow": 0, "moderate": 1, "fast": 2, "very fast": 3, "low": 0, "medium": 1, "high": 2}


# ---------------------------------------------------------------------------------------------
# Verdict helpers


class Comparison(NamedTuple):
    """How a measured ordering compares with a claimed one, pair of rows by pair of rows."""

    agree: int        #: pairs ordered as claimed, the difference significant (Welch's test)
    disagree: int     #: pairs ordered against the claim, the difference significant
    unresolved: int   #: pairs whose difference is not significant (the seeds cannot tell)
    claim_ties: int   #: pairs the claim does not order (equal values); not counted above
    spearman: float   #: rank correlation of the claimed and measured values (NaN if undefined)
    verdict: str      #: "holds", "holds where resolved", "mixed", "contradicted" or "unresolved"


def _per_row(value, keys, name, default):
    """``value`` as ``{row: value}``: one value for every row, or a mapping with the rows' keys."""
    if value is None:
        return {k: default for k in keys}
    if isinstance(value, Mapping):
        if set(value) != set(keys):
            raise ValueError(f"{name} must have the rows of measured, got rows {sorted(map(str, value))}")
        return dict(value)
    return {k: value for k in keys}


def _resolved(m_a, s_a, n_a, e_a, m_b, s_b, n_b, e_b, alpha) -> bool:
    """Whether Welch's test resolves the difference of two means (see :func:`welch_test`)."""
    return welch_test(float(m_a), float(s_a), n_a, float(m_b), float(s_b), n_b, alpha=alpha,
                      extra_se_a=float(e_a), extra_se_b=float(e_b)).significant


def _ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties sharing their average rank."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    for v in np.unique(values):
        ranks[values == v] = ranks[values == v].mean()
    return ranks


def compare_orderings(claimed: Mapping, measured: Mapping, measured_sd: Mapping | None = None, *,
                      n_seeds=None, extra_se=None, alpha: float = 0.05) -> Comparison:
    r"""Compare the ordering of ``measured`` values with that of ``claimed`` ones, pair by pair.

    For every pair of rows :math:`(a, b)` that the claim orders (:math:`c_a \ne c_b`), the
    difference of the measured means :math:`m_a - m_b` is tested with Welch's two-sided t-test
    at level ``alpha`` (:func:`gdlib.experiments.results.welch_test`), whose standard error is

    .. math::

        \mathrm{se} = \sqrt{s_a^2/n_a + s_b^2/n_b + e_a^2 + e_b^2},

    with :math:`s` the standard deviations over seeds, :math:`n` the numbers of seeds and
    :math:`e` any extra standard error (such as the binomial sampling error
    :math:`\sqrt{p(1-p)/N}` of an accuracy on a test set of :math:`N` examples). If the
    difference is significant, the measurement *agrees* when it has the sign of
    :math:`c_a - c_b` and *disagrees* otherwise; if not, the pair is *unresolved*. Each pair is
    tested at level ``alpha``, so a pair of rows with equal true means comes out resolved
    (either way) in about a fraction ``alpha`` of experiments. Without standard deviations and
    extra errors the measured values count as exact. Only orderings are compared, so claimed
    and measured values may have different units.

    Parameters
    ----------
    claimed, measured : mapping row -> float
        The same keys (the claim's values may be ordinal ranks, see :data:`ORDINAL`).
    measured_sd : mapping row -> float, optional
        Standard deviation over seeds (ddof = 1) behind each measured mean; 0 if omitted.
    n_seeds : int or mapping row -> int, optional
        Seeds behind each mean; required where a standard deviation is not zero.
    extra_se : float or mapping row -> float, optional
        Extra standard error of each mean (e.g. the test-set sampling error); 0 if omitted.
    alpha : float, optional
        Level of each pair's test, 0.05 by default.

    Returns
    -------
    Comparison
        With ``verdict`` "holds" (every ordered pair agrees), "holds where resolved" (none
        disagrees, some unresolved), "mixed", "contradicted" (some disagree, none agrees) or
        "unresolved" (no pair resolved).
    """
    if set(claimed) != set(measured):
        raise ValueError(f"claimed and measured must have the same rows, got claimed rows "
                         f"{sorted(map(str, claimed))} and measured rows {sorted(map(str, measured))}")
    keys = list(claimed)
    sd = {k: 0.0 for k in keys} if measured_sd is None else dict(measured_sd)
    if set(sd) != set(keys):
        raise ValueError(f"measured_sd must have the rows of measured, got rows {sorted(map(str, sd))}")
    c = np.array([float(claimed[k]) for k in keys])
    m = np.array([float(measured[k]) for k in keys])
    s = np.array([float(sd[k]) for k in keys])
    if not (np.all(np.isfinite(c)) and np.all(np.isfinite(m)) and np.all(s >= 0)):
        raise ValueError("claimed and measured must be finite and measured_sd >= 0, got "
                         f"claimed={c.tolist()}, measured={m.tolist()}, measured_sd={s.tolist()}")
    if n_seeds is None and np.any(s > 0):
        raise ValueError("n_seeds must be given where measured_sd is not zero, got n_seeds=None")
    n = _per_row(n_seeds, keys, "n_seeds", 1)
    e = _per_row(extra_se, keys, "extra_se", 0.0)
    agree = disagree = unresolved = ties = 0
    for a in range(len(keys)):
        for b in range(a + 1, len(keys)):
            ka, kb = keys[a], keys[b]
            if c[a] == c[b]:
                ties += 1
            elif not _resolved(m[a], s[a], n[ka], e[ka], m[b], s[b], n[kb], e[kb], alpha):
                unresolved += 1
            elif np.sign(m[a] - m[b]) == np.sign(c[a] - c[b]):
                agree += 1
            else:
                disagree += 1
    rc, rm = _ranks(c), _ranks(m)
    spearman = (float(np.corrcoef(rc, rm)[0, 1]) if len(keys) > 1 and rc.std() > 0 and rm.std() > 0
                else math.nan)
    if agree + disagree == 0:
        verdict = "unresolved"
    elif disagree == 0:
        verdict = "holds" if unresolved == 0 else "holds where resolved"
    elif agree == 0:
        verdict = "contradicted"
    else:
        verdict = "mixed"
    return Comparison(agree, disagree, unresolved, ties, spearman, verdict)


def trend(values: Sequence[float], sd: Sequence[float] | None = None, *, n_seeds: int | None = None,
          alpha: float = 0.05) -> str:
    r"""``"increasing"``, ``"decreasing"``, ``"flat"`` or ``"not monotonic"``.

    Consecutive values :math:`v_k, v_{k+1}` count as a step up (down) only when their
    difference is significant in Welch's test at level ``alpha``
    (:func:`gdlib.experiments.results.welch_test`, with the standard deviations ``sd`` over
    ``n_seeds`` seeds; without ``sd`` the values count as exact). A sequence with resolved
    steps in one direction only is increasing (decreasing); with steps both ways it is not
    monotonic. Without any resolved step, a sequence whose means move monotonically and whose
    ends differ significantly still counts as increasing (decreasing); any other is flat.
    """
    v = np.asarray(values, dtype=float)
    s = np.zeros_like(v) if sd is None else np.asarray(sd, dtype=float)
    if v.ndim != 1 or len(v) < 2 or s.shape != v.shape:
        raise ValueError(f"values must be 1-D with at least 2 entries and sd of the same shape, "
                         f"got values of shape {v.shape} and sd of shape {s.shape}")
    if n_seeds is None and np.any(s > 0):
        raise ValueError("n_seeds must be given where sd is not zero, got n_seeds=None")
    n = 1 if n_seeds is None else n_seeds

    def differs(i, j):
        return _resolved(v[i], s[i], n, 0.0, v[j], s[j], n, 0.0, alpha)

    diff = np.diff(v)
    resolved = np.array([differs(k, k + 1) for k in range(len(v) - 1)])
    up, down = bool(np.any(resolved & (diff > 0))), bool(np.any(resolved & (diff < 0)))
    if not (up or down) and differs(0, len(v) - 1):
        up, down = bool(np.all(diff > 0)), bool(np.all(diff < 0))
    return {(True, False): "increasing", (False, True): "decreasing",
            (False, False): "flat"}.get((up, down), "not monotonic")


def fit_line(x: Sequence[float], y: Sequence[float]) -> tuple[float, float, float]:
    r"""Least-squares line :math:`y \approx a + c x`; returns ``(slope c, intercept a, R^2)``.

    .. math::

        c = \frac{\sum_i (x_i - \bar x)(y_i - \bar y)}{\sum_i (x_i - \bar x)^2}, \quad
        a = \bar y - c \bar x, \quad
        R^2 = 1 - \frac{\sum_i (y_i - a - c x_i)^2}{\sum_i (y_i - \bar y)^2}.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.ndim != 1 or x.shape != y.shape or len(x) < 2 or np.ptp(x) == 0:
        raise ValueError(f"x and y must be 1-D of the same length >= 2 with x not constant, "
                         f"got x={_show(x)} and y={_show(y)}")
    slope = float(np.sum((x - x.mean()) * (y - y.mean())) / np.sum((x - x.mean()) ** 2))
    intercept = float(y.mean() - slope * x.mean())
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    ss_res = float(np.sum((y - intercept - slope * x) ** 2))
    return slope, intercept, (1.0 - ss_res / ss_tot) if ss_tot > 0 else 1.0


# ---------------------------------------------------------------------------------------------
# Tables


def mean_sd(mean: float, sd: float, digits: int = 3) -> str:
    """``"0.512 ± 0.004"`` (``"—"`` for a NaN mean, e.g. a target never reached)."""
    if not math.isfinite(mean):
        return "—"
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A MyST/GitHub markdown table from a header and rows of cells (any objects, via str)."""
    width = len(header)
    for k, row in enumerate(rows):
        if len(row) != width:
            raise ValueError(f"every row must have {width} cells like the header, got row {k} "
                             f"with {len(row)}")
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * width]
    lines += ["| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)
