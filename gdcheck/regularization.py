"""Checks for the *regularization* assignment: ``l2_grad``, ``l1_grad``, ``dropout_forward`` and
``dropout_backward``, against :mod:`gdlib.nn.layers` and the course's conventions: the L2 penalty is
``lam / 2 * ||W||^2`` (gradient ``lam * W``), the L1 subgradient uses ``sign(0) = 0``, and
dropout is inverted (``p`` is the probability of dropping a unit; kept units are scaled by
``1 / (1 - p)``).

``dropout_forward`` is random, so it is not compared with gdlib mask for mask: the mask must hold
only 0 and ``1 / (1 - p)``, ``out`` must be ``X * mask``, the fraction dropped must be ``p``
(within five standard deviations, on 20 000 units), a second call must draw a new mask and the
same seed the same one (see :mod:`gdcheck._statistics`).
"""

from __future__ import annotations

import numpy as np

from gdcheck._engine import Case, Failure, Outputs, Spec, as_array, is_pair, public_check, verify
from gdcheck._statistics import Z_LIMIT, Sampled, z_score
from gdcheck.catalogue_more import DROPOUT
from gdlib.nn import layers

# -- l2_grad, l1_grad ---------------------------------------------------------------------------

_SIGNS = (("where W > 0", np.greater), ("where W = 0", np.equal), ("where W < 0", np.less))


def _reference_l2(W, lam):
    return layers.l2_penalty({"W": W}, lam)[1]["W"]


def _reference_l1(W, lam):
    return layers.l1_penalty({"W": W}, lam)[1]["W"]


def _run_penalty(name: str, by_sign: bool):
    def run(impl, inputs):
        W = inputs["W"]
        grad = as_array(impl(W, inputs["lam"]), f"{name}(W, lam)").astype(float)
        if grad.shape != W.shape:
            raise Failure(f"{name}(W, lam) must return an array of the shape of W, {W.shape}, "
                          f"got shape {grad.shape}")
        if not by_sign:
            return Outputs({"gradient": grad})
        return Outputs({f"gradient {where}": grad[test(W, 0)] for where, test in _SIGNS})
    return run


def _penalty_cases(seeds, shapes, zeros: bool) -> list[Case]:
    cases = []
    for i, seed in enumerate(seeds):
        shape = tuple(shapes[i % len(shapes)])

        def make(seed=seed, shape=shape):
            rng = np.random.default_rng([seed, 41, len(shape)])
            W = rng.normal(size=shape)
            if zeros:
                W.flat[rng.choice(W.size, min(3, W.size - 1), replace=False)] = 0.0
            return {"W": W, "lam": float(10 ** rng.uniform(-3, 0))}
        cases.append(Case(f"W of shape {shape}{', with exact zeros' if zeros else ''}", make))
    return cases


_L2 = Spec("l2_grad", _reference_l2, _run_penalty("l2_grad", False), forbidden=("gdlib.nn",))
_L1 = Spec("l1_grad", _reference_l1, _run_penalty("l1_grad", True), forbidden=("gdlib.nn",))


@public_check
def check_l2_grad(l2_grad, *, seeds=(0, 1), shapes=((4, 3), (6,))):
    r"""Check ``l2_grad(W, lam)``, the gradient :math:`\lambda W` of the course's L2 penalty
    :math:`\tfrac{\lambda}{2} \lVert W \rVert_F^2` (:func:`gdlib.nn.l2_penalty`). One W of
    shape ``shapes[i % len(shapes)]`` and one lam per seed; W must not be modified.
    """
    return verify(_L2, l2_grad, _penalty_cases(seeds, shapes, zeros=False))


@public_check
def check_l1_grad(l1_grad, *, seeds=(0, 1), shapes=((4, 3), (6,))):
    r"""Check ``l1_grad(W, lam)``, the subgradient :math:`\lambda\, \mathrm{sign}(W)` of the L1
    penalty :math:`\lambda \sum_{ij} |W_{ij}|` with :math:`\mathrm{sign}(0) = 0`
    (:func:`gdlib.nn.l1_penalty`), compared where W > 0, W = 0 and W < 0. One W with exact
    zeros and one lam per seed; W must not be modified.
    """
    return verify(_L1, l1_grad, _penalty_cases(seeds, shapes, zeros=True))


# -- dropout_forward ----------------------------------------------------------------------------

def _reference_dropout(X, p, rng):
    out, mask = layers.dropout_forward(X, p, rng)
    return (out, mask) if mask is not None else (np.array(X, dtype=float), np.ones(np.shape(X)))


def _call_dropout(impl, X, p, rng):
    result = impl(X, p, rng)
    if not is_pair(result):
        raise Failure(f"dropout_forward must return a pair (out, mask), got {type(result).__name__}")
    out = as_array(result[0], "out").astype(float)
    mask = as_array(result[1], "mask").astype(float)
    for name, value in (("out", out), ("mask", mask)):
        if value.shape != X.shape:
            raise Failure(f"{name} must have the shape of X, {X.shape}, got shape {value.shape}")
    return out, mask


def _run_dropout(impl, inputs):
    X, p, seed = inputs["X"], inputs["p"], inputs["seed"]
    rng = np.random.default_rng(seed)
    out, mask = _call_dropout(impl, X, p, rng)
    _, next_mask = _call_dropout(impl, X, p, rng)
    _, same_seed = _call_dropout(impl, X, p, np.random.default_rng(seed))
    return Sampled(draws={DROPOUT: {"out": out, "mask": mask, "X": np.array(X, dtype=float),
                                    "p": p, "next": next_mask, "same seed": same_seed}})


def _validate_dropout(result) -> str | None:
    d = result.draws[DROPOUT]
    mask, p, n = d["mask"], d["p"], d["mask"].size
    scale = 1.0 / (1.0 - p)
    odd = ~(np.isclose(mask, 0.0, atol=1e-12) | np.isclose(mask, scale, rtol=1e-6))
    if odd.any():
        value = mask[odd].flat[0]
        return (f"the mask must hold 0 (dropped) or 1 / (1 - p) = {scale:.10g} (kept, scaled), to "
                f"about six significant digits; got {value:.10g} in {int(odd.sum())} of {n} entries")
    if not np.allclose(d["out"], d["X"] * mask, rtol=1e-6, atol=1e-9):
        return "out must be X * mask"
    dropped = int(np.sum(mask == 0))
    if abs(z_score(dropped, p * n, p * (1 - p) * n)) > Z_LIMIT:
        return (f"{dropped} of {n} units were dropped ({dropped / n:.1%}); each unit should be "
                f"dropped with probability p = {p:.1%}: about {p * n:.0f} +- "
                f"{np.sqrt(p * (1 - p) * n):.0f} of them")
    if p > 0 and n >= 1000 and np.array_equal(mask, d["next"]):
        return ("a second call with the same rng gave the same mask: draw a fresh mask on every "
                "call, from rng")
    if not np.array_equal(mask, d["same seed"]):
        return "the same seed gave a different mask: take all randomness from rng"
    return None


def _dropout_case(seed: int, shape: tuple, p) -> Case:
    def make():
        rng = np.random.default_rng([seed, 42, len(shape)])
        prob = float(rng.uniform(0.15, 0.4)) if p is None else p
        return {"X": rng.normal(size=shape), "p": prob, "seed": seed}
    what = "p = 0" if p == 0 else "p between 0.15 and 0.4"
    return Case(f"X of shape {shape}, {what}", make)


_DROPOUT = Spec("dropout_forward", _reference_dropout, _run_dropout, forbidden=("gdlib.nn",),
                validate=_validate_dropout)


@public_check
def check_dropout_forward(dropout_forward, *, seeds=(0, 1)):
    r"""Check ``dropout_forward(X, p, rng) -> (out, mask)``, inverted dropout:

    .. math::

        M = \frac{B}{1 - p}, \quad B_{ij} \sim \mathrm{Bernoulli}(1 - p), \qquad
        \mathrm{out} = X \odot M .

    Per seed, X of shape (400, 50) and a small X, with p between 0.15 and 0.4, and one X with
    p = 0 (nothing dropped). The mask must hold only 0 and 1 / (1 - p), out must be X * mask, the
    fraction dropped must be p (within 5 standard deviations), a second call with the same rng
    must draw a new mask and a fresh rng of the same seed the same mask. X must not be modified.
    """
    cases = []
    for seed in seeds:
        cases += [_dropout_case(seed, (400, 50), None), _dropout_case(seed, (3, 4), None)]
    cases.append(_dropout_case(seeds[0] if seeds else 0, (5, 2), 0.0))
    return verify(_DROPOUT, dropout_forward, cases, what=" (mask, scaling and drop rate)")


# -- dropout_backward ---------------------------------------------------------------------------

def _run_dropout_backward(impl, inputs):
    dX = as_array(impl(inputs["dout"], inputs["mask"]), "dropout_backward(dout, mask)").astype(float)
    if dX.shape != inputs["dout"].shape:
        raise Failure(f"dropout_backward must return an array of the shape of dout, "
                      f"{inputs['dout'].shape}, got shape {dX.shape}")
    return Outputs({"dX": dX})


def _dropout_backward_case(seed: int, shape: tuple) -> Case:
    def make():
        rng = np.random.default_rng([seed, 43, len(shape)])
        _, mask = layers.dropout_forward(np.ones(shape), float(rng.uniform(0.2, 0.6)), rng)
        return {"dout": rng.normal(size=shape), "mask": mask}
    return Case(f"dout of shape {shape}", make)


_DROPOUT_BACKWARD = Spec("dropout_backward", layers.dropout_backward, _run_dropout_backward,
                         forbidden=("gdlib.nn",))


@public_check
def check_dropout_backward(dropout_backward, *, seeds=(0, 1), shapes=((6, 5), (8, 3))):
    r"""Check ``dropout_backward(dout, mask) -> dX``, the backward pass of inverted dropout,
    :math:`\partial L / \partial X = \delta \odot M` (:func:`gdlib.nn.dropout_backward`),
    with the scaled mask M of ``dropout_forward``. One case per seed; dout and mask must not be
    modified.
    """
    cases = [_dropout_backward_case(s, tuple(shapes[i % len(shapes)])) for i, s in enumerate(seeds)]
    return verify(_DROPOUT_BACKWARD, dropout_backward, cases)
