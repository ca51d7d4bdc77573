r"""The experiments lab's measurements: :class:`LabResult` and statistics over seeds.

Every runner (:mod:`~gdlib.experiments.runs`, :mod:`~gdlib.experiments.timing`) returns a
:class:`LabResult` whose metrics are arrays shaped ``(rows, seeds, ...)``; :func:`seed_mean_sd`
reduces them over the seeds, ignoring NaN (a run that never reached a target). The private
helpers check the runners' rows and seeds and assemble their arrays.

Introduced in the lab chapter (``ch-lab``).
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from gdlib._validate import _show, check_non_negative_int

__all__ = ["SEEDS", "LabResult", "seed_mean_sd"]

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
