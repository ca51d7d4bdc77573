r"""Learning-rate schedules: pure functions of the step number ``t = 0, 1, 2, ...``.

Each schedule is ``f(t, *, lr0, ...) -> lr``. ``t`` is an int (the result is a float) or an
integer array of steps (the result is a float array of the same shape), so a whole schedule can
be plotted with ``f(np.arange(T), lr0=...)``. :func:`make_schedule` fixes the hyperparameters and
returns a callable of ``t`` alone, which is what ``fit(..., schedule=...)`` expects.

Introduced in the learning-rate chapter (``ch-learning-rate``); the optimizers chapter
(``ch-optimizers``) uses them again.
"""

from __future__ import annotations

import numbers
from typing import Callable

import numpy as np

from gdlib._validate import (
    _show, check_fraction, check_lr, check_positive_int, check_positive_number,
)


def _check_t(t):
    """Return ``t`` as an int64 array and whether it was a scalar; steps are integers >= 0."""
    if isinstance(t, bool):
        raise TypeError(f"t must be an integer step >= 0 or an integer array, got t={t!r}")
    scalar = isinstance(t, numbers.Integral)
    arr = np.asarray(t)
    if not (scalar or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(
            f"t must be an integer step >= 0 or an integer array, got t={_show(t)}"
            + ("" if isinstance(t, np.ndarray) else f" of type {type(t).__name__}")
        )
    if np.any(arr < 0):
        shown = repr(int(t)) if scalar else f"an array with minimum {int(arr.min())}"
        raise ValueError(f"t must be >= 0 (steps count from 0), got t={shown}")
    return arr.astype(np.int64), scalar


def _result(lr, scalar: bool):
    return float(lr) if scalar else np.asarray(lr, dtype=float)


def _check_decay(value, name: str) -> float:
    """Decay factors lie in (0, 1]: 1 means no decay."""
    return check_fraction(value, name, low_open=True, high_open=False)


def constant(t, *, lr0: float):
    r"""The constant schedule :math:`\eta_t = \eta_0`.

    Parameters
    ----------
    t : int or ndarray of int
        Step number(s), from 0.
    lr0 : float
        The learning rate :math:`\eta_0 > 0`.

    Returns
    -------
    float or ndarray
        The learning rate at each step (an array with the shape of ``t`` if ``t`` is one).
    """
    t, scalar = _check_t(t)
    lr0 = check_lr(lr0, "lr0")
    return _result(np.full(t.shape, lr0), scalar)


def step_decay(t, *, lr0: float, drop: float = 0.5, every: int = 10):
    r"""Multiply the learning rate by ``drop`` every ``every`` steps.

    .. math::

        \eta_t = \eta_0 \cdot \text{drop}^{\lfloor t / \text{every} \rfloor}

    Equals ``torch.optim.lr_scheduler.StepLR(step_size=every, gamma=drop)``.

    Parameters
    ----------
    t : int or ndarray of int
        Step number(s), from 0.
    lr0 : float
        The initial learning rate :math:`\eta_0 > 0`.
    drop : float
        Factor in (0, 1] applied at each drop.
    every : int
        Number of steps (>= 1) between drops.

    Returns
    -------
    float or ndarray
    """
    t, scalar = _check_t(t)
    lr0 = check_lr(lr0, "lr0")
    drop = _check_decay(drop, "drop")
    every = check_positive_int(every, "every")
    return _result(lr0 * drop ** (t // every), scalar)


def exponential_decay(t, *, lr0: float, gamma: float):
    r"""Multiply the learning rate by ``gamma`` at every step.

    .. math::

        \eta_t = \eta_0 \, \gamma^t

    Equals ``torch.optim.lr_scheduler.ExponentialLR(gamma=gamma)``.

    Parameters
    ----------
    t : int or ndarray of int
        Step number(s), from 0.
    lr0 : float
        The initial learning rate :math:`\eta_0 > 0`.
    gamma : float
        Factor :math:`\gamma \in (0, 1]` per step.

    Returns
    -------
    float or ndarray
    """
    t, scalar = _check_t(t)
    lr0 = check_lr(lr0, "lr0")
    gamma = _check_decay(gamma, "gamma")
    return _result(lr0 * gamma ** t.astype(float), scalar)


def inverse_sqrt(t, *, lr0: float):
    r"""Decay as one over the square root of the step count.

    .. math::

        \eta_t = \frac{\eta_0}{\sqrt{t + 1}}

    The classical rate under which stochastic gradient descent converges on convex problems:
    :math:`\sum_t \eta_t = \infty` while every single step shrinks.

    Parameters
    ----------
    t : int or ndarray of int
        Step number(s), from 0.
    lr0 : float
        The initial learning rate :math:`\eta_0 > 0`.

    Returns
    -------
    float or ndarray
    """
    t, scalar = _check_t(t)
    lr0 = check_lr(lr0, "lr0")
    return _result(lr0 / np.sqrt(t + 1.0), scalar)


def cosine(t, *, lr0: float, total_steps: int, lr_min: float = 0.0):
    r"""Cosine annealing from ``lr0`` to ``lr_min`` over ``total_steps`` steps, then constant.

    .. math::

        \eta_t = \eta_{\min} + \frac{\eta_0 - \eta_{\min}}{2}
                 \left(1 + \cos\frac{\pi \min(t, T)}{T}\right)

    with :math:`T` = ``total_steps``. Equals ``torch.optim.lr_scheduler.CosineAnnealingLR(
    T_max=total_steps, eta_min=lr_min)`` for :math:`t \le T` (PyTorch's keeps oscillating after
    :math:`T`; ours stays at :math:`\eta_{\min}`).

    Parameters
    ----------
    t : int or ndarray of int
        Step number(s), from 0.
    lr0 : float
        The initial learning rate :math:`\eta_0 > 0`.
    total_steps : int
        Length :math:`T \ge 1` of the annealing.
    lr_min : float
        The final learning rate, :math:`0 \le \eta_{\min} \le \eta_0`.

    Returns
    -------
    float or ndarray
    """
    t, scalar = _check_t(t)
    lr0 = check_lr(lr0, "lr0")
    total_steps = check_positive_int(total_steps, "total_steps")
    lr_min = check_positive_number(lr_min, "lr_min", allow_zero=True)
    if lr_min > lr0:
        raise ValueError(f"lr_min must be at most lr0={lr0!r}, got lr_min={lr_min!r}")
    progress = np.minimum(t, total_steps) / total_steps
    return _result(lr_min + (lr0 - lr_min) * (1 + np.cos(np.pi * progress)) / 2, scalar)


SCHEDULES: dict[str, Callable] = {
    "constant": constant,
    "step_decay": step_decay,
    "exponential_decay": exponential_decay,
    "inverse_sqrt": inverse_sqrt,
    "cosine": cosine,
}


def make_schedule(name: str, **kw) -> Callable:
    """Fix a schedule's hyperparameters: ``make_schedule("cosine", lr0=0.1, total_steps=100)``.

    The hyperparameters are checked here, so a mistake fails before training starts.

    Parameters
    ----------
    name : str
        A key of :data:`SCHEDULES`.
    **kw
        The schedule's keyword arguments (``lr0`` and the others).

    Returns
    -------
    callable
        ``schedule(t) -> lr``, for an int or an integer array ``t``.
    """
    if not isinstance(name, str) or name not in SCHEDULES:
        raise ValueError(f"unknown schedule name={_show(name)}; valid names: {', '.join(SCHEDULES)}")
    function = SCHEDULES[name]
    function(0, **kw)

    def schedule(t):
        return function(t, **kw)

    schedule.__name__ = schedule.__qualname__ = name
    schedule.__doc__ = f"{name} schedule with {kw}; see gdlib.optim.schedules.{name}."
    return schedule
