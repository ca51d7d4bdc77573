r"""Two-dimensional loss landscapes and their critical points.

A :class:`Landscape` bundles a function :math:`f:\mathbb{R}^2 \to \mathbb{R}` with its gradient,
its Hessian and every critical point (:math:`\nabla f = 0`) labelled by kind. All three functions
are vectorised: ``value(p)`` takes ``p`` of shape ``(2,)`` or ``(..., 2)`` (a contour grid) and
returns shape ``p.shape[:-1]``; ``grad(p)`` returns the shape of ``p``; ``hessian(p)`` returns
``p.shape[:-1] + (2, 2)``.

This module builds the landscapes (:func:`quadratic`, :func:`rosenbrock`, :func:`multi_minima`,
:func:`saddle`, :func:`monkey_saddle`; by name through :data:`LANDSCAPES` and
:func:`get_landscape`) and classifies and finds critical points (:func:`classify_critical_point`,
:func:`find_critical_points`). The rest of :mod:`gdlib.landscapes` lives beside it:

- :mod:`gdlib.landscapes.types`: the records :class:`Landscape` and :class:`CriticalPoint`, and
  :data:`KINDS`;
- :mod:`~gdlib.landscapes.trajectories`: :func:`trace` runs any update rule of :mod:`gdlib.optim` (or a
  student's own ``(init, step)`` pair) from one start and stops cleanly, with a
  :class:`DivergenceWarning`, when the iterates blow up; :func:`trace_many` runs many starts at
  once, for basin-of-attraction maps and sliders (with :class:`Trace`, :class:`TraceBatch`,
  :data:`MAX_ABS` and :data:`VALUE_GROWTH`); rules are resolved by :func:`gdlib.optim.get_rule`.

Introduced in the gradient-descent chapter (``ch-gradient-descent``); the saddles belong to the
saddle-point chapter (``ch-saddle-points``), ``multi_minima`` to the global-minimum chapter
(``ch-global-minimum``).
"""

from __future__ import annotations

import functools
from typing import Callable

import numpy as np

from gdlib._validate import _show, check_array, check_positive_number
from gdlib.landscapes.types import CriticalPoint, Landscape

__all__ = [
    "quadratic", "rosenbrock", "multi_minima", "saddle", "monkey_saddle", "LANDSCAPES",
    "get_landscape", "classify_critical_point", "find_critical_points",
]


def _xy(p):
    """Split ``p`` of shape (..., 2) into its two coordinates."""
    p = np.asarray(p, dtype=float)
    if p.ndim == 0 or p.shape[-1] != 2:
        raise ValueError(f"p must have shape (2,) or (..., 2), got p of shape {p.shape}")
    return p[..., 0], p[..., 1]


def _stack2(a, b):
    return np.stack(np.broadcast_arrays(a, b), axis=-1)


def _hess(hxx, hxy, hyy):
    hxx, hxy, hyy = np.broadcast_arrays(hxx, hxy, hyy)
    return np.stack([np.stack([hxx, hxy], -1), np.stack([hxy, hyy], -1)], -2)


def _scalar(a):
    """0-d arrays become numpy scalars, so ``value(p)`` of one point is a number."""
    return a[()] if np.ndim(a) == 0 else a


def classify_critical_point(hessian, tol: float = 1e-8) -> str:
    r"""Classify a critical point from the signs of the Hessian's eigenvalues.

    With eigenvalues :math:`\lambda_i` of :math:`H = \nabla^2 f(p)` and a threshold
    :math:`\tau = \text{tol}\cdot\max(1, \max_i |\lambda_i|)`:

    - all :math:`\lambda_i > \tau`: ``"minimum"``; all :math:`\lambda_i < -\tau`: ``"maximum"``;
    - some :math:`\lambda_i > \tau` and some :math:`\lambda_j < -\tau`: ``"saddle"``;
    - otherwise (a zero eigenvalue and no sign change): ``"degenerate"``; the second-order test
      cannot decide (the monkey saddle :math:`x^3 - 3xy^2` has :math:`H = 0` at the origin).

    Introduced in the saddle-point chapter (``ch-saddle-points``).
    """
    H = check_array(hessian, "hessian", ndim=2)
    if H.shape[0] != H.shape[1]:
        raise ValueError(f"hessian must be a square matrix, got hessian of shape {H.shape}")
    tol = check_positive_number(tol, "tol", allow_zero=True)
    eig = np.linalg.eigvalsh((H + H.T) / 2)
    threshold = tol * max(1.0, float(np.max(np.abs(eig))))
    pos, neg = np.any(eig > threshold), np.any(eig < -threshold)
    if pos and neg:
        return "saddle"
    if np.all(eig > threshold):
        return "minimum"
    if np.all(eig < -threshold):
        return "maximum"
    return "degenerate"


# ---------------------------------------------------------------------------------------------
# The landscapes


def quadratic(condition: float = 10.0, *, angle: float = 0.0) -> Landscape:
    r"""The quadratic bowl :math:`f(p) = \tfrac12 p^\top A p` with condition number ``condition``.

    .. math::

        A = R_\theta \begin{pmatrix} 1 & 0 \\ 0 & \kappa \end{pmatrix} R_\theta^\top,
        \qquad \nabla f = A p, \qquad \nabla^2 f = A,

    with :math:`R_\theta` the rotation by ``angle`` (radians). The eigenvalues are
    :math:`\mu = \min(1, \kappa)` and :math:`L = \max(1, \kappa)`, so gradient descent converges
    for every start exactly when :math:`0 < \eta < 2/L`. Introduced in the
    gradient-descent chapter (``ch-gradient-descent``); the threshold is derived in the
    learning-rate chapter (``ch-learning-rate``).
    """
    kappa = check_positive_number(condition, "condition")
    angle = float(check_array(angle, "angle", ndim=0))
    c, s = np.cos(angle), np.sin(angle)
    R = np.array([[c, -s], [s, c]])
    A = R @ np.diag([1.0, kappa]) @ R.T
    A = (A + A.T) / 2
    A.setflags(write=False)

    (a, b), (_, c) = A

    # Written out elementwise (not p @ A) so that one point and a batch round identically.
    def value(p):
        x, y = _xy(p)
        return _scalar(0.5 * (a * x * x + 2 * b * x * y + c * y * y))

    def grad(p):
        x, y = _xy(p)
        return _stack2(a * x + b * y, b * x + c * y)

    def hessian(p):
        x, _ = _xy(p)
        return np.broadcast_to(A, x.shape + (2, 2)).copy()

    return Landscape(
        "quadratic", value, grad, hessian,
        (CriticalPoint((0.0, 0.0), "global minimum", 0.0),),
        ((-2.0, 2.0), (-2.0, 2.0)),
        f"1/2 p^T A p, eigenvalues 1 and {kappa:g}, rotated by {angle:g} rad",
        {"smoothness": max(1.0, kappa), "strong_convexity": min(1.0, kappa),
         "condition": max(kappa, 1 / kappa), "A": A},
    )


def rosenbrock(a: float = 1.0, b: float = 100.0) -> Landscape:
    r"""Rosenbrock's banana valley :math:`f(x, y) = (a - x)^2 + b\,(y - x^2)^2`.

    .. math::

        \nabla f = \begin{pmatrix} -2(a - x) - 4bx(y - x^2) \\ 2b(y - x^2) \end{pmatrix},
        \qquad
        \nabla^2 f = \begin{pmatrix} 2 - 4by + 12bx^2 & -4bx \\ -4bx & 2b \end{pmatrix}.

    The only critical point is the global minimum :math:`(a, a^2)` with value 0, at the end of a
    long curved valley that is easy to find and slow to follow. Used from the
    learning-rate chapter (``ch-learning-rate``) on.
    """
    a = float(check_array(a, "a", ndim=0))
    b = check_positive_number(b, "b")

    def value(p):
        x, y = _xy(p)
        return _scalar((a - x) ** 2 + b * (y - x**2) ** 2)

    def grad(p):
        x, y = _xy(p)
        return _stack2(-2 * (a - x) - 4 * b * x * (y - x**2), 2 * b * (y - x**2))

    def hessian(p):
        x, y = _xy(p)
        return _hess(2 - 4 * b * y + 12 * b * x**2, -4 * b * x, 2 * b + 0 * x)

    return Landscape(
        "rosenbrock", value, grad, hessian,
        (CriticalPoint((a, a * a), "global minimum", 0.0),),
        ((-2.0, 2.0), (-1.0, 3.0)),
        f"(a - x)^2 + b (y - x^2)^2 with a={a:g}, b={b:g}",
        {"a": a, "b": b},
    )


# A weak bowl minus four Gaussian wells of different depths: four minima, one of them global.
_WELL_CENTRES = np.array([[-1.5, 1.0], [1.5, 1.2], [0.2, -1.5], [2.4, -1.4]])
_WELL_DEPTHS = np.array([2.0, 1.6, 1.3, 1.0])
_WELL_WIDTHS = np.array([0.8, 0.8, 0.8, 0.7])
_BOWL = 0.1


def _wells(p):
    """Offsets from the well centres (..., k, 2) and the weighted Gaussians d_i e_i (..., k)."""
    _xy(p)
    d = np.asarray(p, dtype=float)[..., None, :] - _WELL_CENTRES
    e = _WELL_DEPTHS * np.exp(-np.sum(d * d, axis=-1) / (2 * _WELL_WIDTHS**2))
    return d, e


def _mm_value(p):
    d, e = _wells(p)
    p = np.asarray(p, dtype=float)
    return _scalar(0.5 * _BOWL * np.sum(p * p, axis=-1) - np.sum(e, axis=-1))


def _mm_grad(p):
    d, e = _wells(p)
    return _BOWL * np.asarray(p, dtype=float) + np.sum((e / _WELL_WIDTHS**2)[..., None] * d, -2)


def _mm_hessian(p):
    d, e = _wells(p)
    s2 = (_WELL_WIDTHS**2)[:, None, None]
    outer = d[..., :, None] * d[..., None, :]
    terms = (e / _WELL_WIDTHS**2)[..., None, None] * (np.eye(2) - outer / s2)
    return _BOWL * np.eye(2) + np.sum(terms, axis=-3)


def find_critical_points(grad, hessian, bounds, *, num: int = 41, iterations: int = 100,
                         tol: float = 1e-10) -> np.ndarray:
    r"""All zeros of ``grad`` reached by damped Newton steps from a ``num x num`` grid.

    Each start iterates :math:`p \leftarrow p - \min(1, 0.5/\|s\|)\, s` with
    :math:`s = (\nabla^2 f)^{-1} \nabla f`; points with :math:`\|\nabla f\| < \text{tol}` inside
    ``bounds`` are kept, and duplicates (closer than 1e-6) merged. Returns an array (n, 2).
    """
    (x0, x1), (y0, y1) = bounds
    X, Y = np.meshgrid(np.linspace(x0, x1, num), np.linspace(y0, y1, num))
    P = np.stack([X.ravel(), Y.ravel()], axis=-1)
    with np.errstate(all="ignore"):
        for _ in range(iterations):
            H = hessian(P)
            ok = np.abs(np.linalg.det(H)) > 1e-14
            s = np.zeros_like(P)
            s[ok] = np.linalg.solve(H[ok], grad(P[ok])[..., None])[..., 0]
            norm = np.linalg.norm(s, axis=-1, keepdims=True)
            P = P - s * np.minimum(1.0, 0.5 / np.maximum(norm, 1e-300))
        inside = (P[:, 0] >= x0) & (P[:, 0] <= x1) & (P[:, 1] >= y0) & (P[:, 1] <= y1)
        found = P[inside & (np.linalg.norm(grad(P), axis=-1) < tol)]
    points: list[np.ndarray] = []
    for p in found:
        if all(np.linalg.norm(p - q) > 1e-6 for q in points):
            points.append(p)
    return np.array(points).reshape(-1, 2)


_KIND_OF = {"minimum": "local minimum", "saddle": "saddle", "maximum": "maximum",
            "degenerate": "degenerate saddle"}


@functools.lru_cache(maxsize=1)
def _mm_critical_points() -> tuple:
    # 21 x 21 starts and 40 steps find the nine points that 41 x 41 starts and 100 steps find, to
    # within 5e-16, in a ninth of the time (tests/test_landscapes.py compares them): every
    # process that imports gdcheck, every grading kernel among them, builds this landscape.
    points = find_critical_points(_mm_grad, _mm_hessian, ((-4.0, 4.0), (-4.0, 4.0)),
                                  num=21, iterations=40)
    cps = sorted((CriticalPoint(p, _KIND_OF[classify_critical_point(_mm_hessian(p))],
                                _mm_value(p)) for p in points), key=lambda c: c.value)
    minima = [c for c in cps if c.kind == "local minimum"]
    assert len(minima) >= 2 and minima[1].value - minima[0].value > 0.1, "global min not unique"
    best = minima[0]
    return tuple(CriticalPoint(c.point, "global minimum", c.value) if c is best else c
                 for c in cps)


def multi_minima() -> Landscape:
    r"""A bowl with four Gaussian wells: four minima (one global), four saddles, one maximum.

    .. math::

        f(p) = \frac{c}{2}\|p\|^2 - \sum_{i=1}^{4} d_i\,
               \exp\!\Big(-\frac{\|p - m_i\|^2}{2 s_i^2}\Big), \qquad
        \nabla f = c\,p + \sum_i \frac{d_i e_i}{s_i^2}(p - m_i),

        \nabla^2 f = c\,I + \sum_i \frac{d_i e_i}{s_i^2}
                     \Big(I - \frac{(p - m_i)(p - m_i)^\top}{s_i^2}\Big),

    where :math:`e_i` is the i-th exponential. The deepest well, near :math:`(-1.45, 0.97)`, is
    the global minimum. The critical points are found once by Newton's method from a grid
    (:func:`find_critical_points`); their count obeys the Morse relation
    #minima - #saddles + #maxima = 1 for a function that grows at infinity. Introduced in the
    global-minimum chapter (``ch-global-minimum``).
    """
    return Landscape(
        "multi_minima", _mm_value, _mm_grad, _mm_hessian, _mm_critical_points(),
        ((-3.5, 3.5), (-3.5, 3.5)),
        "0.05 |p|^2 minus four Gaussian wells; one global and three local minima",
        {"centres": _WELL_CENTRES, "depths": _WELL_DEPTHS, "widths": _WELL_WIDTHS},
    )


def saddle() -> Landscape:
    r"""The saddle :math:`f(x, y) = x^2 - y^2`, :math:`\nabla f = (2x, -2y)`,
    :math:`\nabla^2 f = \mathrm{diag}(2, -2)`.

    Gradient descent started on the stable manifold :math:`y = 0` converges to the saddle at the
    origin; any other start escapes along :math:`y`, exponentially fast. Introduced in
    the saddle-point chapter (``ch-saddle-points``).
    """
    def value(p):
        x, y = _xy(p)
        return _scalar(x**2 - y**2)

    def grad(p):
        x, y = _xy(p)
        return _stack2(2 * x, -2 * y)

    def hessian(p):
        x, _ = _xy(p)
        return _hess(2 + 0 * x, 0 * x, -2 + 0 * x)

    return Landscape(
        "saddle", value, grad, hessian,
        (CriticalPoint((0.0, 0.0), "saddle", 0.0),),
        ((-2.0, 2.0), (-2.0, 2.0)),
        "x^2 - y^2: a strict saddle, unbounded below",
        {"smoothness": 2.0},
    )


def monkey_saddle() -> Landscape:
    r"""The monkey saddle :math:`f(x, y) = x^3 - 3xy^2`, a degenerate saddle.

    .. math::

        \nabla f = \begin{pmatrix} 3x^2 - 3y^2 \\ -6xy \end{pmatrix}, \qquad
        \nabla^2 f = \begin{pmatrix} 6x & -6y \\ -6y & -6x \end{pmatrix}.

    The Hessian vanishes at the origin, so the second-order test says nothing; three valleys
    (for the monkey's legs and tail) go down from it. Introduced in
    the saddle-point chapter (``ch-saddle-points``).
    """
    def value(p):
        x, y = _xy(p)
        return _scalar(x**3 - 3 * x * y**2)

    def grad(p):
        x, y = _xy(p)
        return _stack2(3 * x**2 - 3 * y**2, -6 * x * y)

    def hessian(p):
        x, y = _xy(p)
        return _hess(6 * x, -6 * y, -6 * x)

    return Landscape(
        "monkey_saddle", value, grad, hessian,
        (CriticalPoint((0.0, 0.0), "degenerate saddle", 0.0),),
        ((-1.5, 1.5), (-1.5, 1.5)),
        "x^3 - 3 x y^2: a degenerate saddle with three descending valleys",
    )


LANDSCAPES: dict[str, Callable[..., Landscape]] = {
    "quadratic": quadratic,
    "rosenbrock": rosenbrock,
    "multi_minima": multi_minima,
    "saddle": saddle,
    "monkey_saddle": monkey_saddle,
}


def get_landscape(name, **kwargs) -> Landscape:
    """The landscape called ``name`` in :data:`LANDSCAPES`, built with ``kwargs``."""
    if isinstance(name, Landscape):
        return name
    if not isinstance(name, str) or name not in LANDSCAPES:
        raise ValueError(f"unknown landscape name={_show(name)}; valid names: "
                         f"{', '.join(LANDSCAPES)}")
    return LANDSCAPES[name](**kwargs)
