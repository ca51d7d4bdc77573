r"""Two-dimensional loss landscapes, their critical points, and traces of update rules on them.

A :class:`Landscape` bundles a function :math:`f:\mathbb{R}^2 \to \mathbb{R}` with its gradient,
its Hessian and every critical point (:math:`\nabla f = 0`) labelled by kind. All three functions
are vectorised: ``value(p)`` takes ``p`` of shape ``(2,)`` or ``(..., 2)`` (a contour grid) and
returns shape ``p.shape[:-1]``; ``grad(p)`` returns the shape of ``p``; ``hessian(p)`` returns
``p.shape[:-1] + (2, 2)``.

:func:`trace` runs any update rule of :mod:`gdlib.optim` (or a student's own ``(init, step)``
pair) from one start and stops cleanly, with a :class:`DivergenceWarning`, when the iterates blow
up; :func:`trace_many` runs many starts at once, for basin-of-attraction maps and sliders.

Introduced in the chapter *Gradient descent from first principles* (chapter 2); the saddles
belong to the saddle-point chapter (chapter 8), ``multi_minima`` to the global-minimum chapter
(chapter 6).
"""

from __future__ import annotations

import functools
import inspect
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from gdlib._validate import _show, check_array, check_lr, check_positive_int, check_positive_number
from gdlib.optim import Rule, get_rule
# One warning class for every run that blows up, on a landscape or in training.
from gdlib.train import DivergenceWarning  # noqa: F401  (re-exported)

#: A run has diverged once a coordinate leaves [-MAX_ABS, MAX_ABS].
MAX_ABS = 1e6
#: ... or once |f| exceeds VALUE_GROWTH * (1 + |f(start)|).
VALUE_GROWTH = 1e12

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

    Introduced in the saddle-point chapter (chapter 8).
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
    for every start exactly when :math:`0 < \eta < 2/L`. Introduced in the chapter
    *Gradient descent from first principles* (chapter 2); the threshold is derived in
    the learning-rate chapter (chapter 4).
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
    learning-rate chapter (chapter 4) on.
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
    points = find_critical_points(_mm_grad, _mm_hessian, ((-4.0, 4.0), (-4.0, 4.0)))
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
    global-minimum chapter (chapter 6).
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
    the saddle-point chapter (chapter 8).
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
    the saddle-point chapter (chapter 8).
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


# ---------------------------------------------------------------------------------------------
# Running update rules on a landscape


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


def resolve_rule(rule, init=None) -> Rule:
    """A :class:`~gdlib.optim.Rule` from a name, a Rule, an ``(init, step)`` pair, or a bare
    ``step`` callable together with ``init``; an explicit ``init`` replaces the rule's own."""
    if callable(rule) and not isinstance(rule, (Rule, tuple)):
        if init is None:
            raise TypeError(f"a bare step function needs its state initialiser: pass init=..., "
                            f"got rule={_show(rule)} and init=None")
        rule = (init, rule)
    resolved = get_rule(rule)
    if init is not None:
        if not callable(init):
            raise TypeError(f"init must be callable as init(x) -> state, got init={_show(init)}")
        resolved = Rule(resolved.name, init, resolved.step, resolved.defaults)
    return resolved


def _check_hyper(rule: Rule, lr, hyper: dict) -> None:
    try:
        inspect.signature(rule.step).bind(None, None, None, lr=lr, **hyper)
    except ValueError:  # no signature to check against
        pass
    except TypeError as exc:
        raise TypeError(f"rule {rule.name!r} does not accept hyperparameters {hyper}: {exc}") \
            from None


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
    rule : str, Rule, (init, step) pair, or a step callable (then pass ``init``)
        Any rule of :data:`gdlib.optim.RULES`, or a student's own functions.
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
    resolved = resolve_rule(rule, init)
    _check_hyper(resolved, lr, hyper)
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
    resolved = resolve_rule(rule, init)
    _check_hyper(resolved, lr, hyper)
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
