"""Checks for the *learning-rate* assignment: ``stability_threshold`` and three schedules.

The schedules are compared with :mod:`gdlib.optim.schedules` step by step from ``t = 0``, past the
points where off-by-one mistakes show (the first drop, ``total_steps`` and beyond).
"""

from __future__ import annotations

import numpy as np

from gdcheck._engine import Case, Outputs, Spec, as_array, public_check, verify
from gdlib.optim import schedules
from gdlib.landscapes import quadratic


# -- stability_threshold ------------------------------------------------------------------------

def _reference_threshold(A):
    """2 / lambda_max(A), the stability threshold of gradient descent on 1/2 x^T A x."""
    return 2.0 / float(np.linalg.eigvalsh(A)[-1])


def _run_threshold(impl, inputs):
    return Outputs({"threshold": as_array(impl(inputs["A"]), "the threshold")})


def _threshold_case(seed: int, d: int, kind: str) -> Case:
    def make():
        rng = np.random.default_rng([seed, d, len(kind)])
        if kind == "landscape":  # gdlib's rotated 2-D bowl
            A = np.array(quadratic(float(rng.uniform(2, 50)), angle=float(rng.uniform(0.2, 1.3))).meta["A"])
        else:
            q, _ = np.linalg.qr(rng.normal(size=(d, d)))
            A = (q * rng.uniform(0.5, 20.0, size=d)) @ q.T
            A = (A + A.T) / 2
        return {"A": A}

    shape = "(2, 2), a rotated quadratic bowl" if kind == "landscape" else f"({d}, {d})"
    return Case(f"A of shape {shape}", make)


_THRESHOLD = Spec("stability_threshold", _reference_threshold, _run_threshold,
                  forbidden=("gdlib.landscapes",))


@public_check
def check_stability_threshold(stability_threshold, *, seeds=(0, 1), dims=(3, 5)):
    r"""Check ``stability_threshold(A) -> float``: the largest learning rate for which gradient
    descent on :math:`f(x) = \tfrac12 x^\top A x` converges, :math:`2 / \lambda_{\max}(A)`.

    Per seed, a random symmetric positive-definite A of size ``dims[i % len(dims)]`` and one of
    gdlib's rotated quadratic landscapes. ``A`` must not be modified.
    """
    cases = []
    for i, seed in enumerate(seeds):
        cases += [_threshold_case(seed, dims[i % len(dims)], "random"),
                  _threshold_case(seed, 2, "landscape")]
    return verify(_THRESHOLD, stability_threshold, cases)


# -- schedules ----------------------------------------------------------------------------------

def _run_schedule(impl, inputs):
    values = []
    for t in range(inputs["num_steps"]):
        lr = as_array(impl(t, **inputs["hyper"]), f"the learning rate at t={t}")
        if lr.shape != ():
            return Outputs({f"the learning rate at t={t}": lr})  # reported as a shape problem
        values.append(float(lr))
    out = Outputs({"lr_t": np.array(values)})
    out.axis_names["lr_t"] = "t"
    return out


def _schedule_case(seed: int, name: str) -> Case:
    rng = np.random.default_rng([seed, len(name)])
    lr0 = float(rng.uniform(0.05, 1.0))
    if name == "step_decay":
        every = int(rng.integers(2, 6))
        hyper, num_steps = {"lr0": lr0, "drop": float(rng.uniform(0.2, 0.8)), "every": every}, 4 * every + 1
    elif name == "exponential_decay":
        hyper, num_steps = {"lr0": lr0, "gamma": float(rng.uniform(0.5, 0.95))}, 12
    else:
        total = int(rng.integers(5, 12))
        hyper = {"lr0": lr0, "total_steps": total, "lr_min": float(lr0 * rng.uniform(0.05, 0.5))}
        num_steps = total + 4
    return Case(f"t = 0 .. {num_steps - 1}", lambda: {"hyper": dict(hyper), "num_steps": num_steps})


def _schedule_check(name: str, reference, student_name: str, formula: str):
    spec = Spec(student_name, reference, _run_schedule,
                forbidden=("gdlib.optim",))

    @public_check
    def check(schedule, *, seeds=(0, 1)):
        return verify(spec, schedule, [_schedule_case(seed, name) for seed in seeds])

    check.__name__ = check.__qualname__ = f"check_{student_name}"
    check.__doc__ = f"""Check ``{student_name}(t, *, ...) -> float`` against ``gdlib.optim.schedules.{reference.__name__}``:
    {formula}, for the integer steps t = 0, 1, 2, ... One random set of hyperparameters per seed.
    """
    return check


check_step_decay = _schedule_check("step_decay", schedules.step_decay, "step_decay",
                                   "lr0 * drop ** (t // every)")
check_exponential_decay = _schedule_check("exponential_decay", schedules.exponential_decay,
                                          "exponential_decay", "lr0 * gamma ** t")
check_cosine_schedule = _schedule_check(
    "cosine", schedules.cosine, "cosine_schedule",
    "lr_min + (lr0 - lr_min) * (1 + cos(pi * min(t, total_steps) / total_steps)) / 2")
