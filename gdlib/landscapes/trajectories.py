r"""Traces of update rules on the 2-D landscapes of :mod:`gdlib.landscapes`.

:func:`trace` runs any update rule of :mod:`gdlib.optim` (or a student's own ``(init, step)``
pair) from one start and stops cleanly, with a :class:`DivergenceWarning`, when the iterates blow
up; :func:`trace_many` runs many starts at once, for basin-of-attraction maps and sliders. A run
is a :class:`Trace`, many runs a :class:`TraceBatch`.

The landscapes are built in :mod:`gdlib.landscapes.surfaces` from the records of
:mod:`gdlib.landscapes.types`. Introduced in the gradient-descent chapter
(``ch-gradient-descent``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from gdlib._validate import _show, check_array, check_lr, check_positive_int
from gdlib.landscapes.types import Landscape
from gdlib.optim import Rule, check_hyper, get_rule
# One warning class for every run that blows up, on a landscape or in training.
from gdlib.train import DivergenceWarning

__all__ = [
    "MAX_ABS", "VALUE_GROWTH", "Trace", "TraceBatch", "trace", "trace_many",
]

#: A run has diverged once a coordinate leaves [-MAX_ABS, MAX_ABS].
MAX_ABS = 1e6
#: ... or once |f| exceeds VALUE_GROWTH * (1 + |f(start)|).
VALUE_GROWTH = 1e12


@dataclass(frozen=True, eq=False)
class Trace:
    """One run: ``path`` (k+1, 2) from the start, ``values`` and ``grad_norms`` (k+1,) there.

    If the run diverged, ``diverged`` is True, ``diverged_at`` is the step whose result was
    rejected (so ``path`` holds steps 0 .. diverged_at - 1, all finite) and ``message`` says why.
    ``num_grad_evals`` counts the gradient evaluations made.
    """

    path: np.ndarray
    values: np.ndarray
    grad_norms: np.ndarray
    diverged: bool
    diverged_at: int | None
    message: str
    rule: str = ""
    lr: float = float("nan")
    num_grad_evals: int = 0

    @property
    def num_steps(self) -> int:
        return len(self.path) - 1

    @property
    def final(self) -> np.ndarray:
        return self.path[-1]


@dataclass(frozen=True, eq=False)
class TraceBatch:
    """Many runs of the same rule: ``paths`` (m, k+1, 2), ``values`` and ``grad_norms`` (m, k+1).

    A run that diverged at step ``diverged_at[i]`` (-1 for none) stays at its last finite point
    for the remaining steps, so every array is finite; :meth:`trace` cuts run ``i`` back to
    exactly what :func:`trace` returns.
    """

    paths: np.ndarray
    values: np.ndarray
    grad_norms: np.ndarray
    diverged: np.ndarray
    diverged_at: np.ndarray
    rule: str = ""
    lr: float = float("nan")
    num_grad_evals: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def final(self) -> np.ndarray:
        """Last (finite) point of every run, shape (m, 2)."""
        return self.paths[:, -1]

    @property
    def final_values(self) -> np.ndarray:
        return self.values[:, -1]

    def trace(self, i: int) -> Trace:
        """Run ``i`` as a :class:`Trace`."""
        at = int(self.diverged_at[i])
        stop = len(self.paths[i]) if at < 0 else at
        message = "" if at < 0 else f"diverged at step {at}"
        return Trace(self.paths[i, :stop], self.values[i, :stop], self.grad_norms[i, :stop],
                     at >= 0, None if at < 0 else at, message, self.rule, self.lr,
                     int(self.num_grad_evals[i]))


def _run(landscape: Landscape, rule: Rule, x0: np.ndarray, lr: float, num_steps: int,
         hyper: dict):
    """Run ``rule`` from ``x0`` of shape (..., 2); rows that blow up are frozen, never NaN."""
    batch = x0.shape[:-1]
    with np.errstate(all="ignore"):  # overflow is detected below and reported, not warned
        x, state = x0.copy(), rule.init(x0.copy())
        v, g = np.asarray(landscape.value(x), float), landscape.grad(x)
        value_limit = VALUE_GROWTH * (1 + np.abs(v))
        paths, values, norms = [x], [v], [np.linalg.norm(g, axis=-1)]
        active = np.ones(batch, dtype=bool)
        diverged_at = np.full(batch, -1)
        for k in range(1, num_steps + 1):
            x_new, state = rule.step(x, g, state, lr=lr, **hyper)
            x_new = np.asarray(x_new, dtype=float)
            if x_new.shape != x.shape:
                raise ValueError(f"rule {rule.name!r} returned x of shape {x_new.shape} "
                                 f"for x of shape {x.shape}")
            v_new = np.asarray(landscape.value(x_new), float)
            g_new = landscape.grad(x_new)
            ok = (np.all(np.isfinite(x_new), axis=-1) & (np.max(np.abs(x_new), axis=-1) <= MAX_ABS)
                  & np.isfinite(v_new) & (np.abs(v_new) <= value_limit)
                  & np.all(np.isfinite(g_new), axis=-1))
            newly = active & ~ok
            diverged_at = np.where(newly, k, diverged_at)
            active = active & ok
            x = np.where(active[..., None], x_new, x)
            v = np.where(active, v_new, v)
            g = np.where(active[..., None], g_new, g)
            paths.append(x)
            values.append(v)
            norms.append(np.linalg.norm(g, axis=-1))
            if not np.any(active):
                break
    taken = np.where(diverged_at < 0, len(paths) - 1, diverged_at)
    return (np.stack(paths, axis=-2), np.stack(values, axis=-1), np.stack(norms, axis=-1),
            diverged_at, taken + 1)


def _check_run_args(landscape, lr, num_steps):
    if not isinstance(landscape, Landscape):
        raise TypeError(f"landscape must be a Landscape (see LANDSCAPES), got "
                        f"landscape={_show(landscape)}")
    return check_lr(lr), check_positive_int(num_steps, "num_steps")


def _divergence_hint(landscape: Landscape, rule: Rule, lr: float) -> str:
    L = landscape.smoothness
    if L and rule.name == "sgd" and lr >= 2 / L:
        return f" (lr={lr:g} >= 2/L = {2 / L:g}, the stability threshold of this landscape)"
    return "; try a smaller lr"


def trace(landscape: Landscape, rule, start, *, lr: float, num_steps: int, init=None,
          warn: bool = True, **hyper) -> Trace:
    r"""Run an update rule on a landscape: :math:`g_t = \nabla f(p_{t-1})`, then
    ``p_t, state_t = step(p_{t-1}, g_t, state_{t-1}, lr=lr, **hyper)`` for t = 1 .. num_steps.

    Parameters
    ----------
    landscape : Landscape
    rule : str, Rule, (init, step) pair, or a step callable
        Any rule of :data:`gdlib.optim.RULES`, or a student's own functions
        (see :func:`gdlib.optim.get_rule`).
    start : array of shape (2,)
        Finite starting point :math:`p_0`.
    lr : float
        Learning rate :math:`\eta > 0`.
    num_steps : int
        Number of steps, at least 1.
    init : callable, optional
        ``init(x) -> state``; replaces the rule's own initialiser.
    warn : bool
        Emit a :class:`DivergenceWarning` if the run diverges.
    **hyper
        The rule's other hyperparameters (``beta``, ``rho``, ``beta1``, ``beta2``, ``eps``).

    Returns
    -------
    Trace
        Stops at the first step whose result is non-finite, has a coordinate beyond
        :data:`MAX_ABS`, or a value beyond ``VALUE_GROWTH * (1 + |f(start)|)``; that step is
        not in ``path``, so ``path`` and ``values`` are always finite.
    """
    lr, num_steps = _check_run_args(landscape, lr, num_steps)
    p0 = check_array(start, "start", ndim=1)
    if p0.shape != (2,):
        raise ValueError(f"start must have shape (2,), got start of shape {p0.shape}")
    resolved = get_rule(rule, init)
    check_hyper(resolved, hyper)
    path, values, norms, diverged_at, evals = _run(landscape, resolved, p0.astype(float), lr,
                                                   num_steps, hyper)
    at = int(diverged_at)
    message = ""
    if at >= 0:
        path, values, norms = path[:at], values[:at], norms[:at]
        message = (f"{resolved.name} diverged on {landscape.name} at step {at} from start "
                   f"{p0.tolist()}: the iterate or its value blew up"
                   f"{_divergence_hint(landscape, resolved, lr)}")
        if warn:
            warnings.warn(message, DivergenceWarning, stacklevel=2)
    return Trace(path, values, norms, at >= 0, at if at >= 0 else None, message,
                 resolved.name, lr, int(evals))


def trace_many(landscape: Landscape, rule, starts, *, lr: float, num_steps: int, init=None,
               warn: bool = True, **hyper) -> TraceBatch:
    """Run the same rule from ``m`` starts at once, on an (m, 2) array.

    The rules of :mod:`gdlib.optim` act elementwise, so running them on the stacked starts
    gives exactly the m separate runs of :func:`trace` (a rule that mixes coordinates, such as
    gradient clipping by the global norm, would not). Used for basin-of-attraction maps and for
    the sliders of the interactive explorers. Arguments as for :func:`trace`; ``starts`` is a
    finite array of shape (m, 2). One :class:`DivergenceWarning` counts the runs that diverged.
    """
    lr, num_steps = _check_run_args(landscape, lr, num_steps)
    P0 = check_array(starts, "starts", ndim=2)
    if P0.shape[1] != 2 or P0.shape[0] == 0:
        raise ValueError(f"starts must have shape (m, 2) with m >= 1, got starts of shape "
                         f"{P0.shape}")
    resolved = get_rule(rule, init)
    check_hyper(resolved, hyper)
    paths, values, norms, diverged_at, evals = _run(landscape, resolved, P0.astype(float), lr,
                                                    num_steps, hyper)
    if len(paths[0]) < num_steps + 1:  # everything diverged early: pad with the frozen points
        pad = num_steps + 1 - len(paths[0])
        paths = np.concatenate([paths, np.repeat(paths[:, -1:], pad, axis=1)], axis=1)
        values = np.concatenate([values, np.repeat(values[:, -1:], pad, axis=1)], axis=1)
        norms = np.concatenate([norms, np.repeat(norms[:, -1:], pad, axis=1)], axis=1)
    diverged = diverged_at >= 0
    if warn and np.any(diverged):
        warnings.warn(f"{resolved.name} diverged on {landscape.name} for {int(diverged.sum())} "
                      f"of {len(P0)} starts{_divergence_hint(landscape, resolved, lr)}",
                      DivergenceWarning, stacklevel=2)
    return TraceBatch(paths, values, norms, diverged, diverged_at, resolved.name, lr, evals)
