r"""Data sets for the course, all available offline, each split into train / validation / test.

Every loader returns a :class:`Split`. Splits are deterministic given ``seed``, and the three
parts are disjoint. The synthetic sets (:func:`house_prices`, :func:`price_series`,
:func:`sentiment`, :func:`next_token`) stand in for the data the source article used (house
prices, a stock series, IMDB reviews, a language-model corpus); each records the truth it was
generated from in ``meta`` so a chapter can check what a network learned against it.

- :func:`load_digits`: scikit-learn's bundled 8x8 digits, our offline MNIST stand-in.
- :func:`load_mnist`: the real MNIST from its four IDX files (optionally downloaded once and
  verified by SHA-256); :func:`read_idx` and :func:`write_idx` read and write the format.

This module holds :func:`load_digits` and :func:`house_prices` (with :data:`HOUSE_FEATURES` and
:data:`HOUSE_EFFECTS`); the rest of :mod:`gdlib.data` lives in three modules:

- :mod:`gdlib.data.splits`: :class:`Split` and the splitting helpers every loader shares;
- :mod:`gdlib.data.mnist`: :func:`load_mnist`, :func:`read_idx`, :func:`write_idx`,
  :data:`MNIST_URL`, :data:`MNIST_FILES` and :data:`MNIST_SHA256`;
- :mod:`gdlib.data.sequences`: :func:`price_series`, :func:`sentiment` and :func:`next_token`.

Introduced in the chapter on batch sizes (``ch-variants``); the lab chapter (``ch-lab``) adds
MNIST and the sequence data sets.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np

from gdlib._validate import check_positive_number
from gdlib.data.splits import (
    Split, _check_fracs, _check_n, _check_seed, _random_split, _stratified_split, _take,
)

__all__ = ["load_digits", "house_prices", "HOUSE_FEATURES", "HOUSE_EFFECTS"]


# ---------------------------------------------------------------------------------------------
# Digits (offline MNIST stand-in)


@functools.lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The 1797 digits as (pixels float64 (1797, 64), labels int64), read once per process.

    Reads the CSV that scikit-learn ships without importing scikit-learn (which takes seconds);
    falls back to ``sklearn.datasets.load_digits`` if the file has moved.
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is None:
        raise ImportError("load_digits needs scikit-learn installed (it ships the digits data)")
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz"
    if path.is_file():
        table = np.loadtxt(path, delimiter=",")
        pixels, labels = table[:, :-1], table[:, -1].astype(np.int64)
    else:  # pragma: no cover - depends on scikit-learn's layout
        from sklearn.datasets import load_digits as sklearn_digits

        bunch = sklearn_digits()
        pixels, labels = bunch.data.astype(np.float64), bunch.target.astype(np.int64)
    pixels.flags.writeable = False
    labels.flags.writeable = False
    return pixels, labels


def load_digits(seed: int = 0, *, val_frac: float = 0.15, test_frac: float = 0.15,
                scale: bool = True) -> Split:
    r"""scikit-learn's bundled 8x8 handwritten digits (1797 images), split by class.

    The UCI optical digits, shipped inside scikit-learn, so no download is needed: the course's
    stand-in for MNIST. Each image is 8x8 pixels with 17 grey levels (0..16), flattened to 64
    features; with ``scale=True`` pixels are divided by 16 to lie in [0, 1]. The split is
    stratified (each digit appears in each part in the same proportion) and deterministic
    given ``seed``; the defaults give about 1257 / 270 / 270 examples.

    Parameters
    ----------
    seed : int
        Seed of the split.
    val_frac, test_frac : float
        Fractions in [0, 1) of each class held out for validation and test.
    scale : bool
        Divide pixels by 16 (to [0, 1]); otherwise keep the raw 0..16 counts as floats.

    Returns
    -------
    Split
        ``X_*`` of shape (n, 64), ``y_*`` integer labels 0..9; ``meta`` has ``n_classes`` and
        ``image_shape``.
    """
    seed = _check_seed(seed)
    val_frac, test_frac = _check_fracs(val_frac, test_frac)
    pixels, labels = _digits_arrays()
    X = pixels / (16.0 if scale else 1.0)
    y = labels.copy()
    parts = _stratified_split(y, val_frac, test_frac, np.random.default_rng(seed))
    return _take(
        X, y, parts,
        feature_names=tuple(f"pixel_{r}_{c}" for r in range(8) for c in range(8)),
        description="8x8 handwritten digits (UCI, bundled with scikit-learn), pixels "
                    + ("in [0, 1]" if scale else "0..16"),
        meta={"n_classes": 10, "image_shape": (8, 8), "seed": seed},
    )


# ---------------------------------------------------------------------------------------------
# Synthetic house prices

HOUSE_FEATURES = ("bedrooms", "living_area_sqft", "crime_rate", "school_proximity", "property_age")

#: Effect on the price (in $100k) of one standard deviation of each feature.
HOUSE_EFFECTS = {"bedrooms": 0.15, "living_area_sqft": 0.9, "crime_rate": -0.35,
                 "school_proximity": 0.3, "property_age": -0.2}


def house_prices(n: int = 1000, seed: int = 0, *, noise: float = 0.3, val_frac: float = 0.15,
                 test_frac: float = 0.15) -> Split:
    r"""Synthetic house prices with a known linear effect per (standardised) feature.

    The raw features are drawn to look like a real market: living area is log-normal (median
    1800 sq.ft), bedrooms follow living area (1 to 7), the crime rate (incidents per 1000
    residents) is log-normal, school proximity is :math:`1/(1 + d)` for a gamma-distributed
    distance :math:`d` in km (1 = next door), property age is gamma-distributed in years. Each
    column is standardised, :math:`z_j = (x_j - \bar x_j) / s_j` over all ``n`` rows, and the
    price in units of $100k is

    .. math::

        y = 3.5 + \sum_j \beta_j z_j + \varepsilon, \qquad \varepsilon \sim N(0, \sigma^2),

    with :math:`\beta` = :data:`HOUSE_EFFECTS` stored in ``meta["true_effects"]`` and
    :math:`\sigma` = ``noise``. Bedrooms and living area are correlated (about 0.8), so a model
    can trade one effect for the other: that is the honest caveat for the article's "gradient
    magnitude per feature" table. Standardising with all rows (not only the training part)
    keeps the effects exact on ``X``; for a synthetic set it leaks nothing that matters.

    Parameters
    ----------
    n : int
        Number of houses, at least 20.
    seed : int
        Seed of the draw and of the (random) split.
    noise : float
        Standard deviation :math:`\sigma \ge 0` of the price noise, in $100k.
    val_frac, test_frac : float
        Fractions in [0, 1) held out.

    Returns
    -------
    Split
        ``X_*`` (n, 5) standardised, ``y_*`` (n,) prices in $100k; ``meta`` has
        ``true_effects``, ``intercept``, ``noise``, ``feature_mean`` and ``feature_std`` (raw
        units, to undo the standardisation) and ``raw_units``.
    """
    n = _check_n(n, 20)
    seed = _check_seed(seed)
    noise = check_positive_number(noise, "noise", allow_zero=True)
    val_frac, test_frac = _check_fracs(val_frac, test_frac)
    rng = np.random.default_rng(seed)
    living_area = np.clip(rng.lognormal(np.log(1800), 0.35, n), 350, 8000)
    bedrooms = np.clip(np.round(living_area / 650 + rng.normal(0, 0.6, n)), 1, 7)
    crime_rate = rng.lognormal(np.log(3.0), 0.6, n)
    school_proximity = 1 / (1 + rng.gamma(2.0, 0.8, n))
    property_age = rng.gamma(2.0, 15.0, n)
    raw = np.column_stack([bedrooms, living_area, crime_rate, school_proximity, property_age])
    mean, std = raw.mean(axis=0), raw.std(axis=0)
    X = (raw - mean) / std
    beta = np.array([HOUSE_EFFECTS[f] for f in HOUSE_FEATURES])
    intercept = 3.5
    y = intercept + X @ beta + noise * rng.standard_normal(n)
    parts = _random_split(n, val_frac, test_frac, rng)
    return _take(
        X, y, parts,
        feature_names=HOUSE_FEATURES,
        description="synthetic house prices ($100k) from 5 standardised features, known effects",
        meta={"true_effects": dict(HOUSE_EFFECTS), "intercept": intercept, "noise": noise,
              "feature_mean": dict(zip(HOUSE_FEATURES, mean.tolist())),
              "feature_std": dict(zip(HOUSE_FEATURES, std.tolist())),
              "raw_units": {"bedrooms": "count", "living_area_sqft": "sq.ft",
                            "crime_rate": "incidents per 1000 residents per year",
                            "school_proximity": "1 / (1 + distance in km)",
                            "property_age": "years"},
              "seed": seed},
    )

