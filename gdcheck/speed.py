"""Checks for the *speed* assignment (the speed chapter, ``ch-speed``): ``clip_by_global_norm`` against
:func:`gdlib.nn.clip_by_global_norm`, and ``heavy_ball_rate`` and ``heavy_ball_optimal``
against :mod:`gdlib.optim.rates`.

``clip_by_global_norm`` gets dicts of gradients shaped like a small network's (float64 and
float32), with a global norm above ``max_norm``, below it, and zero. ``heavy_ball_rate`` gets
batches of ``(lr, beta, lam)`` in every regime of the heavy ball's 2x2 iteration matrix:
complex eigenvalues, real ones of either sign, plain gradient descent (``beta = 0``), and
settings beyond the stability edge. ``heavy_ball_optimal`` gets pairs ``(mu, L)`` with
condition numbers from 1 to about 10^4.
"""

from __future__ import annotations

import numpy as np

from gdcheck._engine import (
    Case, Failure, Outputs, Spec, as_array, call_each, is_pair, public_check, verify,
)
from gdcheck.catalogue_speed import clipped_arrays  # noqa: F401  (registers the speed mistakes)
from gdlib.optim import rates
from gdlib.nn import rnn

# -- clip_by_global_norm --------------------------------------------------------------------------


def _reference_clip(grads, max_norm):
    return rnn.clip_by_global_norm(grads, max_norm)


def _run_clip(impl, inputs):
    grads = inputs["grads"]
    result = impl(grads, inputs["max_norm"])
    if not is_pair(result):
        raise Failure(f"clip_by_global_norm must return a pair (clipped, norm), got "
                      f"{type(result).__name__}")
    clipped, norm = result
    if not isinstance(clipped, dict) or set(clipped) != set(grads):
        keys = sorted(clipped) if isinstance(clipped, dict) else type(clipped).__name__
        raise Failure(f"clip_by_global_norm must return the clipped gradients as a dict with the keys "
                      f"of grads, {sorted(grads)}, got {keys}")
    out = Outputs()
    for name, g in grads.items():
        arr = as_array(clipped[name], f"clipped[{name!r}]")
        if arr.shape != g.shape:
            raise Failure(f"clipped[{name!r}] must have the shape of grads[{name!r}], {g.shape}, "
                          f"got shape {arr.shape}")
        out[f"clipped[{name!r}]"] = arr
    norm = as_array(norm, "the norm clip_by_global_norm returns")
    if norm.shape != ():
        raise Failure(f"the norm clip_by_global_norm returns must be one number, got an array of "
                      f"shape {norm.shape}")
    out["norm"] = norm.astype(float)
    return out


_NETWORK = (("W1", (5, 4)), ("b1", (4,)), ("W2", (4, 3)), ("b2", (3,)))


def _clip_case(seed: int, kind: str, dtype=np.float64, layout=_NETWORK) -> Case:
    """``kind``: "long" (global norm above max_norm), "short" (below it) or "zero"."""
    def make():
        rng = np.random.default_rng([seed, 71, len(kind), np.dtype(dtype).itemsize, len(layout)])
        # one array much larger than the others, as in an exploding recurrent gradient
        big = int(rng.integers(len(layout)))
        grads = {name: (rng.normal(size=shape) * (10.0 if i == big else 1.0)).astype(dtype)
                 for i, (name, shape) in enumerate(layout)}
        norm = float(np.sqrt(sum(np.sum(g.astype(float) ** 2) for g in grads.values())))
        if kind == "zero":
            grads = {name: np.zeros_like(g) for name, g in grads.items()}
            max_norm = float(rng.uniform(0.5, 5.0))
        elif kind == "long":
            max_norm = float(norm * rng.uniform(0.05, 0.5))
        else:
            max_norm = float(norm * rng.uniform(1.2, 3.0))
        return {"grads": grads, "max_norm": max_norm}
    shapes = ", ".join(f"{name} {shape}" for name, shape in layout)
    what = {"long": "global norm above max_norm", "short": "global norm below max_norm",
            "zero": "every gradient zero"}[kind]
    return Case(f"grads of {len(layout)} arrays ({shapes}), {np.dtype(dtype).name}, {what}", make)


_CLIP = Spec("clip_by_global_norm", _reference_clip, _run_clip, forbidden=("gdlib.nn",))


@public_check
def check_clip_by_global_norm(clip_by_global_norm, *, seeds=(0, 1)):
    r"""Check ``clip_by_global_norm(grads, max_norm) -> (clipped, norm)`` against
    :func:`gdlib.nn.clip_by_global_norm`:

    .. math::

        \|g\| = \Bigl(\sum_{\text{name}} \sum_i g_{\text{name}, i}^2\Bigr)^{1/2}, \qquad
        \text{clipped[name]} = g_{\text{name}} \cdot \min\Bigl(1, \frac{c}{\|g\|}\Bigr),

    with ``norm`` the global norm before clipping and a zero gradient returned as it is. Per
    seed, a network's gradients (four arrays) with a global norm above ``max_norm`` in float64
    and float32 and below it; then one gradient that is all zeros and one single array. ``grads``
    must not be modified; float32 gradients must stay float32.
    """
    cases = []
    for seed in seeds:
        cases += [_clip_case(seed, "long"), _clip_case(seed, "long", np.float32),
                  _clip_case(seed, "short")]
    cases += [_clip_case(seeds[0], "zero"), _clip_case(seeds[-1], "long", layout=(("W", (6, 2)),))]
    return verify(_CLIP, clip_by_global_norm, cases)


# -- heavy_ball_rate ------------------------------------------------------------------------------

def _reference_rate(lr, beta, lam):
    return rates.heavy_ball_rate(lr, beta, lam)


def _regime(lr, beta, lam) -> str:
    a = 1.0 + beta - lr * lam
    if beta == 0:
        return "beta = 0, plain gradient descent"
    if a * a < 4 * beta:
        return "complex eigenvalues, a^2 < 4 beta"
    side = "a = 1 + beta - lr * lam < 0" if a < 0 else "a = 1 + beta - lr * lam > 0"
    edge = ", beyond the stability edge lr * lam > 2 (1 + beta)" if lr * lam > 2 * (1 + beta) else ""
    return f"real eigenvalues, {side}{edge}"


def _run_rate(impl, inputs):
    triples = inputs["triples"]
    values = []
    for i, value in enumerate(call_each(impl, [((lr, beta, lam), {}) for lr, beta, lam in triples])):
        arr = as_array(value, "the rate heavy_ball_rate returns")
        if arr.shape != ():
            raise Failure(f"heavy_ball_rate must return one number, got an array of shape {arr.shape}")
        if np.iscomplexobj(arr):
            if abs(arr.imag) > 1e-12 * max(1.0, abs(arr)):
                raise Failure(f"heavy_ball_rate returned a complex number for triple {i + 1} of "
                              f"{len(triples)} ({_regime(*triples[i])}): the rate is the largest "
                              "modulus |z| of the eigenvalues, a real number (np.abs)")
            arr = arr.real
        values.append(float(arr))
    out = Outputs({"rate": np.array(values)})
    out.axis_names["rate"] = "triple"
    return out


def _validate_rate(out) -> str | None:
    """The first wrong rate, with the regime of its triple."""
    triples = out.inputs["triples"]
    for i, ((lr, beta, lam), yours) in enumerate(zip(triples, out["rate"])):
        expected = rates.heavy_ball_rate(lr, beta, lam)
        if not np.isclose(yours, expected, rtol=1e-6, atol=1e-9):
            return (f"triple {i + 1} of {len(triples)} ({_regime(lr, beta, lam)}): yours "
                    f"{yours:.6g}, expected {expected:.6g}")
    return None


def _rate_case(seed: int, size: int) -> Case:
    def make():
        rng = np.random.default_rng([seed, 72, size])
        triples = []
        for i in range(size):
            kind = i % 6
            lam = float(10 ** rng.uniform(-1, 1.5))
            beta = 0.0 if kind == 0 else float(rng.uniform(0.05, 0.97))
            # lr * lam: inside, at the stability edge's far side, beyond it, or small
            h = {0: rng.uniform(0.05, 2.4), 1: rng.uniform(0.1, 1.0) * (1 - np.sqrt(beta)) ** 2,
                 2: (1 + np.sqrt(beta)) ** 2 + rng.uniform(0.05, 0.5) * (1 - beta),
                 3: rng.uniform(1.05, 1.95) * (1 + beta), 4: rng.uniform(2.05, 2.6) * (1 + beta)}.get(kind)
            if h is None:  # complex eigenvalues: (1 - sqrt(beta))^2 < lr * lam < (1 + sqrt(beta))^2
                lo, hi = (1 - np.sqrt(beta)) ** 2, (1 + np.sqrt(beta)) ** 2
                h = lo + rng.uniform(0.1, 0.9) * (hi - lo)
            triples.append((float(h / lam), beta, lam))
        order = rng.permutation(size)
        return {"triples": [triples[j] for j in order]}
    return Case(f"{size} triples (lr, beta, lam) in every regime of the iteration matrix", make)


_RATE = Spec("heavy_ball_rate", _reference_rate, _run_rate, forbidden=("gdlib.optim",),
             validate=_validate_rate)


@public_check
def check_heavy_ball_rate(heavy_ball_rate, *, seeds=(0, 1), size=24):
    r"""Check ``heavy_ball_rate(lr, beta, lam) -> float``, the spectral radius of the heavy
    ball's iteration matrix along a curvature ``lam`` (:func:`gdlib.optim.heavy_ball_rate`),

    .. math::

        T_\lambda = \begin{pmatrix} 1 + \beta - \eta\lambda & -\beta \\ 1 & 0 \end{pmatrix},
        \qquad \rho = \max |z| \text{ over its eigenvalues } z.

    Per seed, ``size`` triples of numbers covering plain gradient descent (``beta = 0``),
    complex eigenvalues, real eigenvalues of either sign and settings beyond the stability edge.
    """
    return verify(_RATE, heavy_ball_rate, [_rate_case(seed, size) for seed in seeds])


# -- heavy_ball_optimal ---------------------------------------------------------------------------

def _reference_optimal(mu, L):
    return rates.heavy_ball_optimal(mu, L)


def _run_optimal(impl, inputs):
    lrs, betas = [], []
    for i, result in enumerate(call_each(impl, [((mu, L), {}) for mu, L in inputs["pairs"]])):
        if not is_pair(result):
            raise Failure(f"heavy_ball_optimal must return a pair (lr, beta), got {type(result).__name__}")
        for name, value, kept in (("lr", result[0], lrs), ("beta", result[1], betas)):
            arr = as_array(value, f"the {name} heavy_ball_optimal returns")
            if arr.shape != () or np.iscomplexobj(arr):
                raise Failure(f"the {name} heavy_ball_optimal returns must be one real number")
            kept.append(float(arr))
    out = Outputs({"lr": np.array(lrs), "beta": np.array(betas)})
    out.axis_names.update(lr="pair", beta="pair")
    return out


def _optimal_case(seed: int, size: int) -> Case:
    def make():
        rng = np.random.default_rng([seed, 73, size])
        kappas = np.concatenate([[1.0], 10 ** rng.uniform(0.1, 4.0, size=size - 1)])
        mus = 10 ** rng.uniform(-2, 1, size=size)
        return {"pairs": [(float(mu), float(mu * k)) for mu, k in zip(mus, kappas[rng.permutation(size)])]}
    return Case(f"{size} pairs (mu, L), condition numbers from 1 to about 10^4", make)


_OPTIMAL = Spec("heavy_ball_optimal", _reference_optimal, _run_optimal, forbidden=("gdlib.optim",))


@public_check
def check_heavy_ball_optimal(heavy_ball_optimal, *, seeds=(0,), size=8):
    r"""Check ``heavy_ball_optimal(mu, L) -> (lr, beta)``, the fastest setting of the heavy ball
    on a quadratic with curvatures in :math:`[\mu, L]` (:func:`gdlib.optim.heavy_ball_optimal`):
    :math:`\eta^\star = 4 / (\sqrt L + \sqrt\mu)^2`,
    :math:`\beta^\star = ((\sqrt\kappa - 1) / (\sqrt\kappa + 1))^2` with :math:`\kappa = L / \mu`.
    Per seed, ``size`` pairs, one of them with :math:`\mu = L`.
    """
    return verify(_OPTIMAL, heavy_ball_optimal, [_optimal_case(seed, size) for seed in seeds])
