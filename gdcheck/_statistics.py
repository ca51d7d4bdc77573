"""Checking randomised functions: simulated annealing, random restarts, perturbed gradient
descent and dropout.

A randomised function can be compared with gdlib's number for number only if it draws its random
numbers in exactly gdlib's order. These checks accept any correct way of drawing and test what the
exercise asks for instead: every decision or draw the student's function made, against the
distribution it should come from. The deterministic parts of a run (a kick only where the gradient
is small, out = X * mask, ...) are checked exactly; the random parts with thresholds at about five
standard deviations, so that a correct function fails with probability below one in a million
while the catalogue's mistakes land many standard deviations away.
"""

from __future__ import annotations

import numpy as np

from gdcheck._engine import Outputs

#: |z| above this fails a z-test; a correct function exceeds it with probability 6e-7.
Z_LIMIT = 5.0
#: sqrt(n) * (Kolmogorov-Smirnov distance) above this fails; P < 1e-6 for a correct sample.
KS_LIMIT = 2.7


class Sampled(Outputs):
    """Outputs of a randomised function. Its keys (if any) are compared with the reference as
    usual; ``draws`` (paths, masks, decisions) depend on the random numbers drawn, so only the
    check's properties and the catalogue's detectors look at them."""

    def __init__(self, *args, draws: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.draws: dict = draws or {}


def draws_of(outputs_list, key: str) -> list:
    """``outputs.draws[key]`` of every outputs that has it (the cases of one kind)."""
    return [o.draws[key] for o in outputs_list if key in getattr(o, "draws", {})]


def z_score(observed: float, expected: float, variance: float) -> float:
    """(observed - expected) / sd; 0 when the variance is 0 and the two agree."""
    if variance <= 0:
        return 0.0 if np.isclose(observed, expected) else np.copysign(np.inf, observed - expected)
    return float((observed - expected) / np.sqrt(variance))


def ks_uniform(u) -> float:
    r"""sqrt(n) times the Kolmogorov-Smirnov distance of the sample ``u`` from U(0, 1):

    .. math::

        \sqrt n \, \sup_x |F_n(x) - x| .
    """
    u = np.sort(np.asarray(u, dtype=float).ravel())
    n = u.size
    if n == 0:
        return 0.0
    ranks = np.arange(1, n + 1)
    distance = max(np.max(ranks / n - u), np.max(u - (ranks - 1) / n))
    return float(np.sqrt(n) * distance)


def same_point(a, b) -> bool:
    """Whether two points are the same, up to rounding (a chain that stayed, a duplicate call)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-12, atol=1e-12))
