r"""The :class:`Split` every loader of :mod:`gdlib.data.datasets` returns, and how data are split.

A :class:`Split` holds the training, validation and test parts of a data set. The private
helpers here check the arguments every loader shares (``seed``, ``val_frac``, ``test_frac``,
sizes) and cut a data set into three disjoint parts, at random or stratified by class; they are
used by :mod:`gdlib.data.datasets`, :mod:`gdlib.data.mnist` and :mod:`gdlib.data.sequences`.

Introduced in the chapter on batch sizes (``ch-variants``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gdlib._validate import _show, check_fraction, check_positive_int

__all__ = ["Split"]


@dataclass
class Split:
    """A data set split into training, validation and test parts.

    ``X_*`` have one example per row (``(n, d)``, or ``(n, T, 1)`` / ``(n, T)`` for sequences),
    ``y_*`` have shape ``(n,)``. ``feature_names`` names the columns of ``X`` where that means
    something, ``description`` says in a sentence what the data are, and ``meta`` holds what
    each loader documents (true effects, vocabulary, normalisation constants, ...).
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    feature_names: tuple[str, ...] | None = None
    description: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def train(self) -> tuple[np.ndarray, np.ndarray]:
        return self.X_train, self.y_train

    @property
    def val(self) -> tuple[np.ndarray, np.ndarray]:
        return self.X_val, self.y_val

    @property
    def test(self) -> tuple[np.ndarray, np.ndarray]:
        return self.X_test, self.y_test

    def __repr__(self) -> str:
        sizes = ", ".join(f"{part}={len(getattr(self, 'y_' + part))}"
                          for part in ("train", "val", "test"))
        return f"Split({sizes}, X shape {self.X_train.shape[1:]}: {self.description[:60]!r})"


# ---------------------------------------------------------------------------------------------
# Splitting helpers


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer >= 0, got seed={_show(seed)}")
    if seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got seed={seed!r}")
    return int(seed)


def _check_fracs(val_frac, test_frac) -> tuple[float, float]:
    """Fractions lie in [0, 1) and leave something to train on."""
    val_frac = check_fraction(val_frac, "val_frac")
    test_frac = check_fraction(test_frac, "test_frac")
    if val_frac + test_frac >= 1:
        raise ValueError(
            f"val_frac + test_frac must be < 1 to leave training data, "
            f"got val_frac={val_frac!r} and test_frac={test_frac!r}"
        )
    return val_frac, test_frac


def _check_n(n, minimum: int, name: str = "n") -> int:
    n = check_positive_int(n, name)
    if n < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {name}={n}")
    return n


def _part_sizes(n: int, val_frac: float, test_frac: float, what: str = "n") -> tuple[int, int]:
    """Sizes of the validation and test parts; each non-zero fraction gets at least one row."""
    n_val = max(1, round(val_frac * n)) if val_frac > 0 else 0
    n_test = max(1, round(test_frac * n)) if test_frac > 0 else 0
    if n - n_val - n_test < 1:
        raise ValueError(f"{what}={n} is too small to split with val_frac={val_frac!r} "
                         f"and test_frac={test_frac!r}")
    return n_val, n_test


def _random_split(n: int, val_frac: float, test_frac: float, rng: np.random.Generator):
    """Index arrays (train, val, test): a random partition of range(n), each part sorted."""
    n_val, n_test = _part_sizes(n, val_frac, test_frac)
    perm = rng.permutation(n)
    test, val, train = perm[:n_test], perm[n_test:n_test + n_val], perm[n_test + n_val:]
    return np.sort(train), np.sort(val), np.sort(test)


def _stratified_split(y: np.ndarray, val_frac: float, test_frac: float, rng: np.random.Generator):
    """Like :func:`_random_split`, but each class is split in the same proportions."""
    _part_sizes(len(y), val_frac, test_frac)
    parts: list[list[np.ndarray]] = [[], [], []]
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        n_test = round(test_frac * len(idx))
        n_val = round(val_frac * len(idx))
        parts[2].append(idx[:n_test])
        parts[1].append(idx[n_test:n_test + n_val])
        parts[0].append(idx[n_test + n_val:])
    return tuple(np.sort(np.concatenate(p)).astype(np.intp) for p in parts)


def _take(X, y, parts, **extra) -> Split:
    train, val, test = parts
    return Split(X[train], y[train], X[val], y[val], X[test], y[test], **extra)
