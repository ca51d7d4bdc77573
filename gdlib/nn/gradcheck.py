"""Numerical gradient checks: centred finite differences and relative errors.

Introduced in the gradient-descent chapter (``ch-gradient-descent``), where the backward pass
of a small network is checked against these numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    r"""Centred finite-difference gradient of a scalar function.

    .. math::

        \frac{\partial f}{\partial x_i} \approx \frac{f(x + h e_i) - f(x - h e_i)}{2h},

    whose error is :math:`O(h^2)` for smooth ``f``. ``x`` is perturbed in place and restored
    after each evaluation (``f`` may hold a reference to it, as model parameters do), so on
    return ``x`` holds its original values.

    Parameters
    ----------
    f : callable
        Maps the array ``x`` (of any shape) to a float.
    x : ndarray of float
        The point at which to differentiate.
    h : float
        The step; 1e-5 balances truncation and round-off error in float64.

    Returns
    -------
    ndarray
        The gradient, with the shape of ``x``.
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"x must be a float array to be perturbed, got dtype {x.dtype}")
    if not (np.isfinite(h) and h > 0):
        raise ValueError(f"h must be a finite number > 0, got h={h!r}")
    grad = np.zeros_like(x, dtype=float)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        f_plus = float(f(x))
        x[i] = old - h
        f_minus = float(f(x))
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def relative_error(a, b, floor: float = 1e-8) -> float:
    r"""Largest elementwise relative error :math:`|a-b| / \max(|a|+|b|, \text{floor})`."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor)))


@dataclass(frozen=True)
class GradientReport:
    """The result of comparing analytic with numerical gradients, one entry per parameter."""

    errors: dict[str, float]
    tolerance: float

    @property
    def ok(self) -> bool:
        return all(err <= self.tolerance for err in self.errors.values())

    @property
    def worst(self) -> float:
        return max(self.errors.values(), default=0.0)

    def __str__(self) -> str:
        lines = [f"{'parameter':<12} {'relative error':>15}  ok (<= {self.tolerance:g})"]
        for name, err in self.errors.items():
            lines.append(f"{name:<12} {err:>15.2e}  {'yes' if err <= self.tolerance else 'NO'}")
        return "\n".join(lines)


def check_gradient(f, analytic_grad, x, *, h: float = 1e-5, tolerance: float = 1e-6) -> GradientReport:
    """Compare ``analytic_grad`` (an array) with the numerical gradient of ``f`` at ``x``."""
    numeric = numerical_gradient(f, x, h)
    return GradientReport({"x": relative_error(analytic_grad, numeric)}, tolerance)


def check_model_gradients(model, X, y, *, h: float = 1e-5, tolerance: float = 1e-6,
                          **loss_kwargs) -> GradientReport:
    """Check every gradient ``model.loss_and_grads(X, y)`` returns against finite differences.

    ``model`` is any object with a ``params`` dict of float arrays and a method
    ``loss_and_grads(X, y, **loss_kwargs) -> (loss, grads)``. Randomness inside the loss
    (dropout) must be fixed through ``loss_kwargs`` (for example ``train=False`` or a seeded
    ``rng`` that the model re-creates on every call), or the check is meaningless.
    """
    _, grads = model.loss_and_grads(X, y, **loss_kwargs)
    errors = {}
    for name, value in model.params.items():
        def loss_at(_, name=name):
            return model.loss_and_grads(X, y, **loss_kwargs)[0]
        numeric = numerical_gradient(loss_at, value, h)
        errors[name] = relative_error(grads[name], numeric)
    return GradientReport(errors, tolerance)
