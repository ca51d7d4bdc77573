"""Argument checks shared by every gdlib module.

Every error names the argument and the value it received, so that a student reading the
traceback knows what to change: ``ValueError: lr must be a finite number > 0, got lr=0``.
"""

from __future__ import annotations

import numbers

import numpy as np


def _show(value) -> str:
    """A short representation of ``value`` for an error message."""
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_positive_number(value, name: str, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a float, or raise if it is not a finite number > 0 (or >= 0)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {name}={_show(value)}")
    value = float(value)
    bound_ok = value >= 0 if allow_zero else value > 0
    if not np.isfinite(value) or not bound_ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {name}={value!r}")
    return value


def check_lr(lr, name: str = "lr") -> float:
    """Return the learning rate as a float; it must be finite and strictly positive."""
    return check_positive_number(lr, name)


def check_fraction(value, name: str, *, low_open: bool = False, high_open: bool = True) -> float:
    """Return ``value`` if it lies in [0, 1) (by default); used for beta, rho, dropout p."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {name}={_show(value)}")
    value = float(value)
    low_ok = value > 0 if low_open else value >= 0
    high_ok = value < 1 if high_open else value <= 1
    if not (np.isfinite(value) and low_ok and high_ok):
        lo = "(0" if low_open else "[0"
        hi = "1)" if high_open else "1]"
        raise ValueError(f"{name} must lie in {lo}, {hi}, got {name}={value!r}")
    return value


def check_positive_int(value, name: str) -> int:
    """Return ``value`` as an int, or raise if it is not an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= 1, got {name}={_show(value)}")
    if value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {name}={value!r}")
    return int(value)


def check_non_negative_int(value, name: str) -> int:
    """Return ``value`` as an int, or raise if it is not an integer >= 0 (a padding, a count)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= 0, got {name}={_show(value)}")
    if value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {name}={value!r}")
    return int(value)


def check_array(x, name: str, *, ndim: int | None = None, finite: bool = True) -> np.ndarray:
    """Return ``x`` as a float ndarray; check its number of dimensions and finiteness."""
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be array-like, got {name}={_show(x)}") from exc
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name} must hold numbers, got {name} of dtype {arr.dtype}")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(float)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got {name} of shape {arr.shape}")
    if finite and not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s); clean the data first")
    return arr


def check_same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Raise if two arrays do not have the same shape."""
    if np.shape(a) != np.shape(b):
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape, "
            f"got {name_a} of shape {np.shape(a)} and {name_b} of shape {np.shape(b)}"
        )


def check_X_y(X, y, *, X_name: str = "X", y_name: str = "y") -> tuple[np.ndarray, np.ndarray]:
    """Check a data set: ``X`` of shape (n, d), ``y`` of shape (n,), both finite."""
    X = check_array(X, X_name, ndim=2)
    y_arr = np.asarray(y)
    if y_arr.ndim != 1:
        raise ValueError(f"{y_name} must have shape (n,), got {y_name} of shape {y_arr.shape}")
    if np.issubdtype(y_arr.dtype, np.floating) and not np.all(np.isfinite(y_arr)):
        raise ValueError(f"{y_name} contains NaN or infinite values; clean the data first")
    if len(y_arr) != len(X):
        raise ValueError(
            f"{X_name} and {y_name} must have the same number of rows, "
            f"got {X_name} with {len(X)} and {y_name} with {len(y_arr)}"
        )
    if len(X) == 0:
        raise ValueError(f"{X_name} must hold at least one example, got {X_name} of shape {X.shape}")
    return X, y_arr


def check_batch_size(batch_size, n: int) -> int:
    """Resolve ``batch_size`` against ``n`` examples: ``None`` means the full batch."""
    if batch_size is None:
        return n
    batch_size = check_positive_int(batch_size, "batch_size")
    if batch_size > n:
        raise ValueError(
            f"batch_size must be at most the number of examples ({n}), got batch_size={batch_size}"
        )
    return batch_size


def check_rng(rng, name: str = "rng") -> np.random.Generator:
    """Return a ``numpy.random.Generator``; an int seed is accepted and turned into one."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"{name} must be a numpy.random.Generator or an int seed, got {name}={_show(rng)}; "
        "gdlib never uses a global seed"
    )


def check_examples(X, y, *, X_name: str = "X", y_name: str = "y") -> tuple[np.ndarray, np.ndarray]:
    """Check a data set whose examples have any shape: ``X`` (n, ...) with at least 2
    dimensions (feature vectors, sequences (n, T, d), token ids (n, T), images (n, C, H, W)) and
    ``y`` (n,) (or (n, k) targets), both finite, with n >= 1.

    Unlike :func:`check_X_y`, integer ``X`` (token ids) keeps its dtype; other ``X`` becomes float.
    """
    try:
        X_arr = np.asarray(X)
    except Exception:  # ragged: check_array explains
        X_arr = None
    if X_arr is None or not np.issubdtype(X_arr.dtype, np.integer):
        X_arr = check_array(X, X_name)
    if X_arr.ndim < 2:
        raise ValueError(f"{X_name} must have at least 2 dimensions (examples first, e.g. (n, d)), "
                         f"got {X_name} of shape {X_arr.shape}")
    y_arr = np.asarray(y)
    if y_arr.ndim < 1 or y_arr.dtype == object or not (
            np.issubdtype(y_arr.dtype, np.number) or y_arr.dtype == bool):
        raise ValueError(f"{y_name} must be an array of numbers of shape (n,), "
                         f"got {y_name}={_show(y)}")
    if np.issubdtype(y_arr.dtype, np.inexact) and not np.all(np.isfinite(y_arr)):
        raise ValueError(f"{y_name} contains NaN or infinite values; clean the data first")
    if len(y_arr) != len(X_arr):
        raise ValueError(
            f"{X_name} and {y_name} must have the same number of rows, "
            f"got {X_name} with {len(X_arr)} and {y_name} with {len(y_arr)}"
        )
    if len(X_arr) == 0:
        raise ValueError(f"{X_name} must hold at least one example, got {X_name} of shape {X_arr.shape}")
    return X_arr, y_arr
