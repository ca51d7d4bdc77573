r"""The records a 2-D loss landscape is made of: :class:`Landscape` and :class:`CriticalPoint`.

A :class:`Landscape` bundles a function :math:`f:\mathbb{R}^2 \to \mathbb{R}` with its gradient,
its Hessian and every critical point (:math:`\nabla f = 0`) labelled by kind (one of
:data:`KINDS`). All three functions are vectorised: ``value(p)`` takes ``p`` of shape ``(2,)``
or ``(..., 2)`` (a contour grid) and returns shape ``p.shape[:-1]``; ``grad(p)`` returns the
shape of ``p``; ``hessian(p)`` returns ``p.shape[:-1] + (2, 2)``.

The landscapes themselves (``quadratic``, ``rosenbrock``, ...) are built in
:mod:`gdlib.landscapes.surfaces`; :mod:`gdlib.landscapes.trajectories` runs update
rules on them. Introduced in the gradient-descent chapter (``ch-gradient-descent``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from gdlib._validate import check_positive_int

__all__ = ["KINDS", "CriticalPoint", "Landscape"]

KINDS = ("global minimum", "local minimum", "saddle", "degenerate saddle", "maximum")


@dataclass(frozen=True, eq=False)
class CriticalPoint:
    """A point where the gradient vanishes: ``point`` (read-only array of shape (2,)), its
    ``kind`` (one of :data:`KINDS`) and the function ``value`` there."""

    point: np.ndarray
    kind: str
    value: float

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got kind={self.kind!r}")
        point = np.array(self.point, dtype=float)
        point.setflags(write=False)
        object.__setattr__(self, "point", point)
        object.__setattr__(self, "value", float(self.value))


@dataclass(frozen=True, eq=False)
class Landscape:
    r"""A 2-D test function with its derivatives and its critical points.

    ``bounds = ((xmin, xmax), (ymin, ymax))`` is the window the plots show. ``meta`` holds
    constants such as ``smoothness`` (:math:`L \ge \|\nabla^2 f(p)\|` for every p, the largest
    absolute Hessian eigenvalue) and ``strong_convexity`` (:math:`\mu`, with
    :math:`\nabla^2 f \succeq \mu I` everywhere), where they exist; ``critical_points`` is a
    tuple of :class:`CriticalPoint`, sorted by value for ``multi_minima``.
    """

    name: str
    value: Callable[[np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray], np.ndarray]
    hessian: Callable[[np.ndarray], np.ndarray]
    critical_points: tuple
    bounds: tuple
    description: str
    meta: dict = field(default_factory=dict)

    @property
    def smoothness(self) -> float | None:
        r""":math:`L` with :math:`\|\nabla^2 f\| \le L` everywhere, or None if unbounded."""
        return self.meta.get("smoothness")

    @property
    def strong_convexity(self) -> float | None:
        r""":math:`\mu` with :math:`\nabla^2 f \succeq \mu I` everywhere, or None."""
        return self.meta.get("strong_convexity")

    @property
    def global_minimum(self) -> CriticalPoint | None:
        """The critical point of kind ``"global minimum"``, or None if ``f`` is unbounded below."""
        return next((c for c in self.critical_points if c.kind == "global minimum"), None)

    def grid(self, num: int = 200, bounds=None):
        """``(X, Y, Z)`` on a ``num x num`` grid over ``bounds`` (default ``self.bounds``)."""
        num = check_positive_int(num, "num")
        (x0, x1), (y0, y1) = self.bounds if bounds is None else bounds
        X, Y = np.meshgrid(np.linspace(x0, x1, num), np.linspace(y0, y1, num))
        return X, Y, self.value(np.stack([X, Y], axis=-1))

    def __repr__(self) -> str:
        return f"Landscape({self.name!r}: {self.description})"
