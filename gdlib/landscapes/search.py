r"""Beyond plain gradient descent: simulated annealing, random restarts, perturbed gradient descent.

Each method takes an explicit ``rng`` (a ``numpy.random.Generator`` or an int seed) and reports
how many function or gradient evaluations it spent, because the chapter compares them by cost,
not only by the answer they find.

Introduced in the global-minimum chapter (``ch-global-minimum``);
:func:`perturbed_gradient_descent` in the saddle-point chapter (``ch-saddle-points``).
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass

import numpy as np

from gdlib._validate import (
    _show, check_array, check_fraction, check_lr, check_positive_int, check_positive_number,
    check_rng,
)
from gdlib.landscapes.trajectories import MAX_ABS, trace_many
from gdlib.train import DivergenceWarning
from gdlib.landscapes.types import Landscape

SCHEDULES = ("exponential", "log", "linear")


def _check_t(t):
    """``t`` as an int array (steps count from 0) and whether it was a scalar."""
    scalar = isinstance(t, numbers.Integral) and not isinstance(t, bool)
    arr = np.asarray(t)
    if isinstance(t, bool) or not (scalar or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"t must be an integer step >= 0 or an integer array, got t={_show(t)}")
    if np.any(arr < 0):
        raise ValueError(f"t must be >= 0 (steps count from 0), got t={_show(t)}")
    return arr, scalar


def temperature(t, *, T0: float, schedule: str = "exponential", cooling: float = 0.99,
                num_steps: int | None = None):
    r"""The annealing temperature at step ``t = 0, 1, 2, ...``.

    .. math::

        T_t = \begin{cases}
            T_0\, c^{\,t} & \text{exponential (cooling } c \in (0, 1)\text{)} \\
            T_0\, \dfrac{\ln 2}{\ln(t + 2)} & \text{log (slow enough to provably find the
                global minimum, too slow in practice)} \\
            T_0\, \big(1 - t / n\big) & \text{linear, reaching 0 at } t = n = \text{num\_steps}
        \end{cases}

    All three start at :math:`T_0`. ``t`` may be an int (a float is returned) or an integer
    array (an array of the same shape).
    """
    arr, scalar = _check_t(t)
    T0 = check_positive_number(T0, "T0")
    if schedule == "exponential":
        cooling = check_fraction(cooling, "cooling", low_open=True)
        out = T0 * cooling ** arr.astype(float)
    elif schedule == "log":
        out = T0 * np.log(2.0) / np.log(arr + 2.0)
    elif schedule == "linear":
        if num_steps is None:
            raise ValueError("the linear schedule needs num_steps, got num_steps=None")
        num_steps = check_positive_int(num_steps, "num_steps")
        if np.any(arr > num_steps):
            raise ValueError(f"t must be <= num_steps={num_steps} for the linear schedule, "
                             f"got t={_show(t)}")
        out = T0 * (1.0 - arr / num_steps)
    else:
        raise ValueError(f"unknown schedule={schedule!r}; valid names: {', '.join(SCHEDULES)}")
    return float(out) if scalar else out


def acceptance_probability(delta, T):
    r"""Metropolis' rule: the probability of moving to a candidate whose value is higher by
    ``delta``.

    .. math::

        P(\text{accept}) = \begin{cases} 1 & \Delta \le 0 \\ e^{-\Delta / T} & \Delta > 0
        \end{cases}

    Downhill moves are always taken; uphill moves less often the larger the climb and the lower
    the temperature. At :math:`T = 0` only downhill moves are taken (greedy search).
    ``delta = +inf`` (a candidate where f is not finite) gives 0. Scalars give a float,
    arrays broadcast.
    """
    delta_arr = np.asarray(delta, dtype=float)
    T_arr = np.asarray(T, dtype=float)
    if np.any(np.isnan(delta_arr)) or np.any(delta_arr == -np.inf):
        raise ValueError(f"delta must be a number or +inf, got delta={_show(delta)}")
    if np.any(~np.isfinite(T_arr) | (T_arr < 0)):
        raise ValueError(f"T must be a finite temperature >= 0, got T={_show(T)}")
    with np.errstate(divide="ignore", invalid="ignore", under="ignore", over="ignore"):
        uphill = np.exp(-np.maximum(delta_arr, 0.0) / T_arr)
    prob = np.where(delta_arr <= 0, 1.0, np.where(T_arr > 0, uphill, 0.0))
    return float(prob) if prob.ndim == 0 else prob


def _check_bounds(bounds, dim: int, name: str = "bounds") -> np.ndarray | None:
    if bounds is None:
        return None
    b = check_array(bounds, name, ndim=2)
    if b.shape != (dim, 2) or np.any(b[:, 0] >= b[:, 1]):
        raise ValueError(f"{name} must be ((low, high), ...) with low < high for each of the "
                         f"{dim} coordinates, got {name}={_show(bounds)}")
    return b


def _check_start(x0, name: str = "x0") -> np.ndarray:
    x0 = check_array(x0, name, ndim=1)
    if x0.size == 0:
        raise ValueError(f"{name} must hold at least one coordinate, got {name} of shape (0,)")
    return x0.astype(float)


@dataclass(frozen=True, eq=False)
class AnnealingResult:
    """A simulated-annealing run: the chain ``path`` (k+1, d) and its ``values``; per step the
    ``temperatures`` and whether the candidate was ``accepted``; the best point ever visited;
    ``num_function_evals`` (one per step plus the start)."""

    path: np.ndarray
    values: np.ndarray
    temperatures: np.ndarray
    accepted: np.ndarray
    best_x: np.ndarray
    best_value: float
    num_function_evals: int

    @property
    def acceptance_rate(self) -> float:
        return float(np.mean(self.accepted))


def simulated_annealing(f, x0, *, rng, num_steps: int, step_size: float, T0: float,
                        schedule: str = "exponential", cooling: float = 0.99,
                        bounds=None) -> AnnealingResult:
    r"""Minimise ``f`` by simulated annealing with Gaussian proposals and Metropolis acceptance.

    For :math:`t = 0, \dots, n-1`:

    .. math::

        \tilde x = \operatorname{clip}(x_t + \sigma z), \quad z \sim \mathcal N(0, I), \qquad
        \Delta = f(\tilde x) - f(x_t), \qquad
        x_{t+1} = \begin{cases} \tilde x & u < P(\Delta, T_t),\ u \sim U[0, 1) \\ x_t &
        \text{otherwise} \end{cases}

    with :math:`P` from :func:`acceptance_probability` and :math:`T_t` from :func:`temperature`.
    It needs no gradient, only values of ``f``. Candidates where f is not finite are rejected.

    Parameters
    ----------
    f : callable or Landscape
        ``f(x) -> float`` for x of shape (d,); a Landscape's ``value`` is used.
    x0 : array of shape (d,)
        Finite start (inside ``bounds`` if given).
    rng : numpy.random.Generator or int
    num_steps : int
        Number of proposals n.
    step_size : float
        Standard deviation :math:`\sigma > 0` of a proposal.
    T0, schedule, cooling
        The temperature schedule, see :func:`temperature` (``num_steps`` is passed on).
    bounds : ((low, high), ...), optional
        Candidates are clipped to this box.
    """
    if isinstance(f, Landscape):
        f = f.value
    if not callable(f):
        raise TypeError(f"f must be callable as f(x) -> float or a Landscape, got f={_show(f)}")
    x = _check_start(x0)
    rng = check_rng(rng)
    num_steps = check_positive_int(num_steps, "num_steps")
    step_size = check_positive_number(step_size, "step_size")
    temps = np.asarray(temperature(np.arange(num_steps), T0=T0, schedule=schedule,
                                   cooling=cooling, num_steps=num_steps))
    box = _check_bounds(bounds, x.size)
    if box is not None and np.any((x < box[:, 0]) | (x > box[:, 1])):
        raise ValueError(f"x0 must lie inside bounds, got x0={x.tolist()} and "
                         f"bounds={box.tolist()}")
    fx = float(f(x))
    if not np.isfinite(fx):
        raise ValueError(f"f(x0) must be finite, got f(x0)={fx!r} at x0={x.tolist()}")
    path, values = [x], [fx]
    accepted = np.zeros(num_steps, dtype=bool)
    best_x, best_value = x, fx
    for t in range(num_steps):
        candidate = x + step_size * rng.standard_normal(x.size)
        if box is not None:
            candidate = np.clip(candidate, box[:, 0], box[:, 1])
        with np.errstate(all="ignore"):
            f_candidate = float(f(candidate))
        delta = f_candidate - fx if np.isfinite(f_candidate) else np.inf
        if rng.random() < acceptance_probability(delta, temps[t]):
            accepted[t] = True
            x, fx = candidate, f_candidate
            if fx < best_value:
                best_x, best_value = x, fx
        path.append(x)
        values.append(fx)
    return AnnealingResult(np.array(path), np.array(values), temps, accepted, np.array(best_x),
                           float(best_value), num_steps + 1)


@dataclass(frozen=True, eq=False)
class RestartsResult:
    """Random restarts: the ``starts`` (m, 2), where each run ended and its value, the best end
    point, which runs reached the global minimum (``at_global``, their count ``num_at_global``),
    which diverged, and ``num_grad_evals`` summed over the runs."""

    starts: np.ndarray
    end_points: np.ndarray
    end_values: np.ndarray
    best_x: np.ndarray
    best_value: float
    at_global: np.ndarray
    num_at_global: int
    diverged: np.ndarray
    num_grad_evals: int


def random_restarts(landscape: Landscape, rule, *, rng, num_restarts: int, lr: float,
                    num_steps: int, bounds=None, tol: float = 1e-2, init=None, warn: bool = True,
                    **hyper) -> RestartsResult:
    r"""Run ``rule`` from ``num_restarts`` starts drawn uniformly in ``bounds`` and keep the best.

    .. math::

        p_0^{(i)} \sim U\big([x_{\min}, x_{\max}] \times [y_{\min}, y_{\max}]\big), \qquad
        \hat p = \arg\min_i f\big(p_T^{(i)}\big).

    If each run lands in the global minimum's basin with probability q, at least one of m runs
    does with probability :math:`1 - (1 - q)^m`; the cost is m times that of one run. The runs
    go through :func:`gdlib.landscapes.trace_many` (all at once). A run counts as reaching the
    global minimum if it ends within ``tol`` (Euclidean) of it.

    Parameters
    ----------
    landscape : Landscape
    rule, lr, num_steps, init, **hyper
        As for :func:`gdlib.landscapes.trace`.
    rng : numpy.random.Generator or int
    num_restarts : int
    bounds : ((xmin, xmax), (ymin, ymax)), optional
        Where starts are drawn; default ``landscape.bounds``.
    tol : float
        Distance to the global minimiser that counts as reaching it.
    """
    if not isinstance(landscape, Landscape):
        raise TypeError(f"landscape must be a Landscape, got landscape={_show(landscape)}")
    rng = check_rng(rng)
    num_restarts = check_positive_int(num_restarts, "num_restarts")
    tol = check_positive_number(tol, "tol")
    box = _check_bounds(landscape.bounds if bounds is None else bounds, 2)
    starts = rng.uniform(box[:, 0], box[:, 1], size=(num_restarts, 2))
    runs = trace_many(landscape, rule, starts, lr=lr, num_steps=num_steps, init=init, warn=warn,
                      **hyper)
    ends, end_values = runs.final, runs.final_values
    usable = ~runs.diverged if not np.all(runs.diverged) else np.ones(len(ends), dtype=bool)
    candidates = np.flatnonzero(usable)
    best = candidates[np.argmin(end_values[candidates])]
    target = landscape.global_minimum
    if target is None:
        at_global = np.zeros(num_restarts, dtype=bool)
    else:
        at_global = ~runs.diverged & (np.linalg.norm(ends - target.point, axis=1) <= tol)
    return RestartsResult(starts, ends, end_values, ends[best].copy(), float(end_values[best]),
                          at_global, int(at_global.sum()), runs.diverged,
                          int(np.sum(runs.num_grad_evals)))


@dataclass(frozen=True, eq=False)
class PerturbedResult:
    """Perturbed gradient descent: ``path`` (k+1, d), ``grad_norms`` (k,) at each iterate
    before any perturbation, the steps at which it ``perturbed_at``, ``num_grad_evals`` (one
    per step plus one per perturbation) and whether it diverged."""

    path: np.ndarray
    grad_norms: np.ndarray
    perturbed_at: np.ndarray
    num_grad_evals: int
    diverged: bool
    diverged_at: int | None
    message: str


def uniform_ball(rng, dim: int, radius: float) -> np.ndarray:
    r"""One point uniform in the ball :math:`\{\xi \in \mathbb R^d : \|\xi\| \le r\}`: a uniform
    direction :math:`z / \|z\|` (z Gaussian) times :math:`r\, u^{1/d}` with u uniform."""
    rng = check_rng(rng)
    dim = check_positive_int(dim, "dim")
    radius = check_positive_number(radius, "radius")
    z = rng.standard_normal(dim)
    while not np.any(z):  # a zero draw has no direction; astronomically rare
        z = rng.standard_normal(dim)
    return radius * rng.random() ** (1.0 / dim) * z / np.linalg.norm(z)


def perturbed_gradient_descent(grad, x0, *, lr: float, rng, num_steps: int, g_thresh: float,
                               radius: float, wait: int = 10) -> PerturbedResult:
    r"""Gradient descent that adds a small random kick when the gradient is small
    (Jin, Ge, Netrapalli, Kakade and Jordan, 2017, "How to escape saddle points efficiently").

    For :math:`t = 0, \dots, n-1`:

    .. math::

        \text{if } \|\nabla f(x_t)\| \le g_{\text{thresh}} \text{ and }
        t - t_{\text{noise}} > w: \quad
        x_t \leftarrow x_t + \xi_t,\ \ \xi_t \sim U\big(B_0(r)\big),\ \ t_{\text{noise}} = t;
        \qquad x_{t+1} = x_t - \eta\, \nabla f(x_t).

    Near a strict saddle the kick has a component along a direction of negative curvature,
    which gradient descent then amplifies; on the stable manifold plain gradient descent would
    converge to the saddle instead. (Jin et al. also stop when a kick fails to decrease f;
    this teaching version always runs ``num_steps`` steps.)

    Parameters
    ----------
    grad : callable or Landscape
        :math:`\nabla f`, mapping x of shape (d,) to an array of shape (d,).
    x0 : array of shape (d,)
    lr : float
        Step size :math:`\eta > 0`.
    rng : numpy.random.Generator or int
    num_steps : int
    g_thresh : float
        Gradient norm below which a kick is considered.
    radius : float
        Radius r of the kick.
    wait : int
        Steps w (>= 0) that must pass after a kick before the next one.
    """
    if isinstance(grad, Landscape):
        grad = grad.grad
    if not callable(grad):
        raise TypeError(f"grad must be callable or a Landscape, got grad={_show(grad)}")
    x = _check_start(x0)
    lr = check_lr(lr)
    rng = check_rng(rng)
    num_steps = check_positive_int(num_steps, "num_steps")
    g_thresh = check_positive_number(g_thresh, "g_thresh")
    radius = check_positive_number(radius, "radius")
    if isinstance(wait, bool) or not isinstance(wait, numbers.Integral) or wait < 0:
        raise ValueError(f"wait must be an integer >= 0, got wait={_show(wait)}")
    path, norms, kicks = [x], [], []
    last_kick = -wait - 1
    evals, diverged_at = 0, None
    with np.errstate(all="ignore"):
        for t in range(num_steps):
            g = np.asarray(grad(x), dtype=float)
            evals += 1
            norms.append(float(np.linalg.norm(g)))
            if norms[-1] <= g_thresh and t - last_kick > wait:
                x = x + uniform_ball(rng, x.size, radius)
                last_kick = t
                kicks.append(t)
                g = np.asarray(grad(x), dtype=float)
                evals += 1
            x_new = x - lr * g
            if not (np.all(np.isfinite(x_new)) and np.max(np.abs(x_new)) <= MAX_ABS):
                diverged_at = t + 1
                break
            x = x_new
            path.append(x)
    message = ""
    if diverged_at is not None:
        message = (f"perturbed gradient descent diverged at step {diverged_at}: the iterate "
                   f"blew up (|x| > {MAX_ABS:g} or not finite); try a smaller lr")
        warnings.warn(message, DivergenceWarning, stacklevel=2)
    return PerturbedResult(np.array(path), np.array(norms), np.array(kicks, dtype=int), evals,
                           diverged_at is not None, diverged_at, message)
