"""Checks for the *saddle-points* assignment: ``classify_critical_point`` and
``perturbed_gradient_descent``, against :mod:`gdlib.landscapes` and :mod:`gdlib.landscapes.search`.

``classify_critical_point`` is compared with gdlib's label for every Hessian of a batch that holds
each kind (minimum, maximum, saddle, and degenerate points with an eigenvalue 0) and for the
Hessians of gdlib's landscapes at their critical points.

``perturbed_gradient_descent`` is random, so it is checked step by step rather than number for
number (see :mod:`gdcheck._statistics`). On a quadratic saddle ``f(x) = 1/2 x^T H x`` the
gradient is ``H x``, so a step ``x_{t+1} = (x_t + xi) - lr * H (x_t + xi)`` can be solved for
the kick: ``xi = (I - lr H)^{-1} x_{t+1} - x_t``. It must be 0 where the gradient is large and
lie in the ball of radius ``radius`` where it is small; over all runs the kicks must look uniform
in that ball, and the runs must escape the saddle.
"""

from __future__ import annotations

import numpy as np

from gdcheck._engine import Case, Failure, Outputs, Spec, as_array, call_each, public_check, verify
from gdcheck._statistics import KS_LIMIT, Z_LIMIT, Sampled, ks_uniform
from gdcheck.catalogue_more import CRITICAL_KINDS, KICKS
from gdlib import landscapes
from gdlib.landscapes import search

# -- classify_critical_point --------------------------------------------------------------------

_SIGNS = {"minimum": "+", "maximum": "-", "saddle": "+-", "degenerate psd": "+0",
          "degenerate nsd": "-0", "zero": "0", "saddle with a zero": "+-0"}


def _reference_classify(hessian):
    return landscapes.classify_critical_point(hessian)


def _run_classify(impl, inputs):
    codes = []
    for H in inputs["hessians"]:
        label = impl(H)
        if not (isinstance(label, str) and label in CRITICAL_KINDS):
            raise Failure(f"classify_critical_point must return one of "
                          f"{', '.join(map(repr, CRITICAL_KINDS))}, got {label!r}")
        codes.append(CRITICAL_KINDS.index(label))
    out = Outputs({"classification": np.array(codes)})
    out.axis_names["classification"] = "Hessian"
    return out


def _sign_pattern(H) -> str:
    eig = np.linalg.eigvalsh((H + H.T) / 2)
    tol = 1e-8 * max(1.0, float(np.max(np.abs(eig))))
    return "(" + ", ".join("+" if e > tol else "-" if e < -tol else "0" for e in eig[::-1]) + ")"


def _validate_classify(out) -> str | None:
    """The first wrong label, a minimum, maximum or saddle before a degenerate point."""
    hessians = out.inputs["hessians"]
    wrong = [(expected == "degenerate", i, CRITICAL_KINDS[code], expected)
             for i, (H, code) in enumerate(zip(hessians, out["classification"]))
             for expected in [_reference_classify(H)] if CRITICAL_KINDS[code] != expected]
    if not wrong:
        return None
    _, i, label, expected = min(wrong)
    d = len(hessians[i])
    return (f"Hessian {i + 1} of {len(hessians)} ({d}x{d}, eigenvalue signs "
            f"{_sign_pattern(hessians[i])}): yours {label!r}, expected {expected!r}")


def _random_hessian(rng, d: int, kind: str) -> np.ndarray:
    size = rng.uniform(0.2, 5.0, size=d)
    if kind == "zero":
        return np.zeros((d, d))
    if kind == "badly scaled":  # eigenvalue 1e9 beside ones below tau = 1e-8 * 1e9 = 10: degenerate
        size[:] = rng.uniform(0.5, 5.0, size=d)
        size[int(rng.integers(d))] = 1e9
    signs = {"minimum": np.ones(d), "maximum": -np.ones(d)}.get(kind)
    if signs is None:
        signs = rng.permutation(np.resize([1.0, -1.0] if "saddle" in kind else [1.0], d))
        if kind == "degenerate nsd":
            signs = -np.ones(d)
        if kind in ("degenerate psd", "degenerate nsd", "saddle with a zero"):
            signs[int(rng.integers(d))] = 0.0
            if kind == "saddle with a zero":  # keep one eigenvalue of each sign
                signs[np.flatnonzero(signs)[:2]] = (1.0, -1.0)
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    H = (q * (signs * size)) @ q.T
    return (H + H.T) / 2


def _classify_case(seed: int, d: int) -> Case:
    kinds = ["minimum", "maximum", "maximum", "saddle", "saddle", "degenerate psd",
             "degenerate nsd", "zero", "badly scaled"] + (["saddle with a zero"] if d >= 3 else [])

    def make():
        rng = np.random.default_rng([seed, 21, d])
        return {"hessians": [_random_hessian(rng, d, kinds[i]) for i in rng.permutation(len(kinds))]}
    return Case(f"{len(kinds)} symmetric {d}x{d} Hessians of every kind", make)


def _landscape_case() -> Case:
    def make():
        points = [(landscapes.multi_minima(), c.point) for c in landscapes.multi_minima().critical_points]
        points += [(landscapes.saddle(), (0.0, 0.0)), (landscapes.monkey_saddle(), (0.0, 0.0)),
                   (landscapes.quadratic(10.0, angle=0.4), (0.0, 0.0)),
                   (landscapes.rosenbrock(), (1.0, 1.0))]
        return {"hessians": [np.array(land.hessian(np.array(p, dtype=float))) for land, p in points]}
    return Case("the Hessians of gdlib's landscapes at their critical points", make)


_CLASSIFY = Spec("classify_critical_point", _reference_classify, _run_classify,
                 forbidden=("gdlib.landscapes",), validate=_validate_classify)


@public_check
def check_classify_critical_point(classify_critical_point, *, seeds=(0, 1), dims=(2, 3)):
    r"""Check ``classify_critical_point(hessian) -> str`` against
    :func:`gdlib.landscapes.classify_critical_point`.

    With the eigenvalues :math:`\lambda_i` of the Hessian and :math:`\tau = 10^{-8}
    \max(1, \max_i |\lambda_i|)`: ``"minimum"`` if every :math:`\lambda_i > \tau`, ``"maximum"``
    if every :math:`\lambda_i < -\tau`, ``"saddle"`` if there are both, ``"degenerate"``
    otherwise. Per seed a batch of Hessians of size ``dims[i % len(dims)]`` holding every kind
    (degenerate ones with an exact zero eigenvalue), then the Hessians of gdlib's landscapes at
    their critical points. The Hessians must not be modified.
    """
    cases = [_classify_case(s, dims[i % len(dims)]) for i, s in enumerate(seeds)] + [_landscape_case()]
    return verify(_CLASSIFY, classify_critical_point, cases)


# -- perturbed_gradient_descent -----------------------------------------------------------------

_PGD_STEPS = 25
_ESCAPE_NEEDED = 0.8


def _reference_pgd(grad, x0, *, lr, rng, num_steps, g_thresh, radius):
    return search.perturbed_gradient_descent(grad, x0, lr=lr, rng=rng, num_steps=num_steps,
                                             g_thresh=g_thresh, radius=radius, wait=0).path


class QuadraticGradient:
    """The gradient ``H @ x`` of the quadratic saddle ``f(x) = x @ H @ x / 2``, handed to
    perturbed_gradient_descent. A plain object, so that a grader can run it next to the
    student's code (by value: no round trip per step)."""

    travels_by_value = True

    def __init__(self, H):
        self.H = np.array(H, dtype=float)  # a copy: each gradient is its own argument

    def __call__(self, x):
        return self.H @ np.asarray(x, dtype=float)


def _run_pgd(impl, inputs):
    if impl is _reference_pgd:
        return Sampled()  # its kicks are random too and nothing of them is compared: skip them
    H, lr, n = inputs["H"], inputs["lr"], inputs["num_steps"]
    d = len(H)
    undo = np.linalg.inv(np.eye(d) - lr * H)  # x_{t+1} = (I - lr H)(x_t + xi)
    records = {"small": [], "kicked": [], "kicks": [], "stale_kicks": []}
    escaped = 0
    # every run gets its own gradient, Generator and start (call_each: no argument shared by two
    # calls); the last call repeats the first run (seed and start)
    runs = list(range(len(inputs["x0"]))) + [0]
    starts = list(inputs["x0"]) + [inputs["x0"][0].copy()]
    calls = [((QuadraticGradient(H), x0), {"lr": lr, "rng": np.random.default_rng([inputs["seed"], r]),
                                           "num_steps": n, "g_thresh": inputs["g_thresh"],
                                           "radius": inputs["radius"]})
             for r, x0 in zip(runs, starts)]
    paths = []
    for x0, path in zip(starts, call_each(impl, calls)):
        path = as_array(path, "the path perturbed_gradient_descent returns")
        if path.shape != (n + 1, d):
            raise Failure(f"perturbed_gradient_descent must return the path as an array of shape "
                          f"(num_steps + 1, d) = {(n + 1, d)}, got shape {path.shape}")
        if not np.all(np.isfinite(path)):
            step = int(np.argmax(~np.all(np.isfinite(path), axis=1)))
            raise Failure(f"the path contains NaN or infinite values, from path[{step}] on")
        if not np.array_equal(path[0], x0):
            raise Failure("path[0] must be x0, the start")
        paths.append(path)
        if len(paths) == len(starts):
            break  # the repeat: compared below
        before, after = path[:-1], path[1:]
        g = before @ H.T
        kicks = after @ undo.T - before
        records["small"].append(np.linalg.norm(g, axis=1) <= inputs["g_thresh"])
        records["kicked"].append(np.linalg.norm(kicks, axis=1) > 1e-9 * (1 + np.linalg.norm(before, axis=1)))
        records["kicks"].append(kicks)
        records["stale_kicks"].append(after - (before - lr * g))
        escaped += bool(0.5 * path[-1] @ H @ path[-1] < 0)
    draws = {key: np.concatenate(value) for key, value in records.items()}
    draws.update(radius=inputs["radius"], dim=d, escaped=escaped, runs=len(inputs["x0"]),
                 repeatable=bool(np.array_equal(paths[0], paths[-1])))
    return Sampled(draws={KICKS: draws})


def _validate_pgd(out) -> str | None:
    d = out.draws[KICKS]
    small, kicked = d["small"], d["kicked"]
    wrong = int(np.sum(kicked & ~small))
    if wrong:
        return (f"perturbed_gradient_descent perturbed x at {wrong} of {int(np.sum(~small))} "
                "steps where ||grad f(x_t)|| > g_thresh; there the step must be plain gradient "
                "descent, x_{t+1} = x_t - lr * grad f(x_t)")
    missed = int(np.sum(small & ~kicked))
    if missed:
        return (f"perturbed_gradient_descent did not perturb x at {missed} of {int(small.sum())} "
                "steps where ||grad f(x_t)|| <= g_thresh")
    norms = np.linalg.norm(d["kicks"][small], axis=1) / d["radius"]
    outside = int(np.sum(norms > 1 + 1e-9))
    if outside:
        return (f"at {outside} of {norms.size} perturbed steps, x_(t+1) is not "
                "(x_t + xi) - lr * grad f(x_t + xi) for any kick xi with ||xi|| <= radius: draw "
                "xi from the ball of radius `radius`, add it to x_t, then take the gradient step "
                "with the gradient at the perturbed point")
    if norms.size >= 20:
        directions = d["kicks"][small] / np.maximum(norms * d["radius"], 1e-300)[:, None]
        drift = np.abs(directions.mean(axis=0)) * np.sqrt(norms.size * d["dim"])
        if ks_uniform(norms ** d["dim"]) > KS_LIMIT or np.max(drift) > Z_LIMIT + 0.5:
            return ("the kicks are not uniform in the ball of radius `radius`: use xi = radius * "
                    "u ** (1 / d) * z / ||z|| with z = rng.standard_normal(d) and u = rng.random()")
    if d["escaped"] < _ESCAPE_NEEDED * d["runs"]:
        return (f"only {d['escaped']} of {d['runs']} runs escaped the saddle (f below its value "
                f"there after {_PGD_STEPS} steps)")
    if not d["repeatable"]:
        return "the same seed gave a different path: take all randomness from rng"
    return None


def _pgd_case(seed: int, d: int, num_runs: int) -> Case:
    def make():
        rng = np.random.default_rng([seed, 22, d])
        eig = np.concatenate([[-rng.uniform(0.4, 0.8)], rng.uniform(0.5, 1.0, size=d - 1)])
        q, _ = np.linalg.qr(rng.normal(size=(d, d)))
        H = (q * eig) @ q.T
        H = (H + H.T) / 2
        # half the runs start at the saddle, half on its stable manifold (no negative component)
        stable = rng.normal(size=(num_runs, d - 1)) * 1.5 @ q[:, 1:].T
        x0 = np.where(np.arange(num_runs)[:, None] % 2 == 0, 0.0, stable)
        return {"H": H, "x0": x0, "seed": seed, "lr": float(rng.uniform(0.75, 0.9) / eig.max()),
                "num_steps": _PGD_STEPS, "g_thresh": float(rng.uniform(0.02, 0.05)),
                "radius": float(rng.uniform(0.02, 0.05))}
    return Case(f"a quadratic saddle in {d}-D, {num_runs} runs of {_PGD_STEPS} steps", make)


_PGD = Spec("perturbed_gradient_descent", _reference_pgd, _run_pgd, forbidden=("gdlib.landscapes",),
            validate=_validate_pgd)


@public_check
def check_perturbed_gradient_descent(perturbed_gradient_descent, *, seeds=(0, 1), dims=(2, 3),
                                     num_runs=40):
    r"""Check ``perturbed_gradient_descent(grad, x0, *, lr, rng, num_steps, g_thresh, radius)
    -> path``.

    ``path`` has shape (num_steps + 1, d): ``path[0]`` is ``x0``; at every step t where
    :math:`\|\nabla f(x_t)\| \le g_{\text{thresh}}` a kick :math:`\xi` drawn uniformly from the
    ball of radius ``radius`` is added first, and then
    :math:`x_{t+1} = x_t - \eta \nabla f(x_t)` (with the gradient at the perturbed point).

    Per seed, ``num_runs`` runs on a quadratic saddle of dimension ``dims[i % len(dims)]``, half
    from the saddle itself and half from its stable manifold: every step is checked, the kicks
    must look uniform in the ball, at least 80 % of the runs must escape, and the same seed must
    give the same path.
    """
    cases = [_pgd_case(s, dims[i % len(dims)], num_runs) for i, s in enumerate(seeds)]
    return verify(_PGD, perturbed_gradient_descent, cases,
                  what=" (every step and every kick checked)")
