"""Checks for the *gradient-descent* assignment: ``gradient_descent``, ``numerical_gradient`` and
``two_layer_backward``.

The test functions handed to the student's code (a gradient, a scalar function) are plain numpy
closures built from the seed. The references are gdlib's: plain-gradient-descent steps of
:func:`gdlib.optim.sgd_step`, :func:`gdlib.nn.numerical_gradient`, and
:meth:`gdlib.nn.MLP.loss_and_grads` of a ReLU network with a softmax cross-entropy loss.
"""

from __future__ import annotations

import numpy as np

from gdcheck._engine import Case, Failure, Outputs, Spec, as_array, is_pair, public_check, verify
from gdlib.nn import gradcheck
from gdlib import optim
from gdlib.nn import MLP

PARAM_KEYS = ("W1", "b1", "W2", "b2")


def _spd(rng, d: int, low: float, high: float) -> np.ndarray:
    """A random symmetric positive-definite matrix with eigenvalues in [low, high]."""
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return (q * rng.uniform(low, high, size=d)) @ q.T


# -- gradient_descent ---------------------------------------------------------------------------

def _reference_gradient_descent(grad, x0, *, lr, num_steps):
    x, state = np.array(x0, dtype=float), optim.sgd_init(x0)
    path = [x]
    for _ in range(num_steps):
        x, state = optim.sgd_step(x, grad(x), state, lr=lr)
        path.append(x)
    return np.stack(path)


def _run_gradient_descent(impl, inputs):
    path = impl(inputs["grad"], inputs["x0"], lr=inputs["lr"], num_steps=inputs["num_steps"])
    return Outputs({"path": as_array(path, "the path gradient_descent returns")})


def _gradient_descent_case(seed: int, d: int) -> Case:
    num_steps = 3 + seed % 5

    def make():
        rng = np.random.default_rng([seed, d])
        A, c = _spd(rng, d, 0.5, 4.0), rng.uniform(0.1, 0.5, size=d)
        return {"grad": lambda x: A @ x + c * np.sin(x), "x0": rng.normal(size=d) * 2,
                "lr": float(rng.uniform(0.05, 0.3)), "num_steps": num_steps}

    return Case(f"x0 of shape ({d},), {num_steps} steps", make)


_GRADIENT_DESCENT = Spec("gradient_descent", _reference_gradient_descent, _run_gradient_descent,
                         forbidden=("gdlib.optim", "gdlib.landscapes", "gdlib.train"))


@public_check
def check_gradient_descent(gradient_descent, *, seeds=(0, 1), dims=(2, 3)):
    """Check ``gradient_descent(grad, x0, *, lr, num_steps) -> path``.

    ``path`` has shape ``(num_steps + 1, d)``: ``path[0]`` is ``x0`` and
    ``path[k + 1] = path[k] - lr * grad(path[k])``. One case per seed, on a smooth convex
    function of dimension ``dims[i % len(dims)]``; ``x0`` must not be modified.
    """
    cases = [_gradient_descent_case(s, dims[i % len(dims)]) for i, s in enumerate(seeds)]
    return verify(_GRADIENT_DESCENT, gradient_descent, cases)


# -- numerical_gradient -------------------------------------------------------------------------

def _run_numerical_gradient(impl, inputs):
    h = inputs["h"]
    result = impl(inputs["f"], inputs["x"]) if h is None else impl(inputs["f"], inputs["x"], h=h)
    return Outputs({"gradient": as_array(result, "the gradient numerical_gradient returns")})


def _reference_numerical_gradient(f, x, h=1e-5):
    return gradcheck.numerical_gradient(f, x, h)


def _numerical_gradient_case(seed: int, shape: tuple, h) -> Case:
    def make():
        rng = np.random.default_rng([seed, len(shape), h is None])
        c, w = rng.uniform(0.2, 0.5, size=shape), rng.uniform(2.0, 6.0, size=shape)

        def f(x):
            return float(np.sum(c * np.sin(x)) + 0.5 * np.sum(w * x * x) + 0.3 * np.sum(x) ** 2)

        return {"f": f, "x": rng.normal(size=shape), "h": h}

    return Case(f"x of shape {shape}, {'the default h' if h is None else 'h given'}", make)


_NUMERICAL_GRADIENT = Spec("numerical_gradient", _reference_numerical_gradient,
                           _run_numerical_gradient, forbidden=("gdlib.nn",))


@public_check
def check_numerical_gradient(numerical_gradient, *, seeds=(0, 1), shapes=((3,), (2, 3))):
    """Check ``numerical_gradient(f, x, h=1e-5)``, the centred finite difference
    ``(f(x + h e_i) - f(x - h e_i)) / (2 h)`` for every index ``i`` of ``x`` (any shape).

    Two cases per seed (the default ``h`` and a given one) with ``x`` of shape
    ``shapes[i % len(shapes)]``; ``x`` must hold its original values afterwards.
    """
    cases = []
    for i, seed in enumerate(seeds):
        shape = tuple(shapes[i % len(shapes)])
        cases += [_numerical_gradient_case(seed, shape, None), _numerical_gradient_case(seed, shape, 1e-3)]
    return verify(_NUMERICAL_GRADIENT, numerical_gradient, cases)


# -- two_layer_backward -------------------------------------------------------------------------

def _reference_two_layer(X, y, params):
    d, h = params["W1"].shape
    model = MLP((d, h, params["W2"].shape[1]), "relu", rng=0, loss="softmax")
    model.params = {key: np.array(params[key], dtype=float) for key in PARAM_KEYS}
    return model.loss_and_grads(X, y, train=False)


def _run_two_layer(impl, inputs):
    result = impl(inputs["X"], inputs["y"], inputs["params"])
    if not (is_pair(result) and isinstance(result[1], dict)):
        raise Failure("two_layer_backward must return a pair (loss, grads) with grads a dict, "
                      f"got {type(result).__name__}")
    loss, grads = result
    missing = [key for key in PARAM_KEYS if key not in grads]
    if missing:
        raise Failure(f"grads must have the keys {', '.join(PARAM_KEYS)}; missing {', '.join(missing)}")
    out = Outputs({"loss": as_array(loss, "the loss")})
    for key in PARAM_KEYS:
        out[f"grads[{key!r}]"] = as_array(grads[key], f"grads[{key!r}]")
    return out


def _two_layer_case(seed: int, sizes: tuple, large: bool = False) -> Case:
    d, h, k = sizes
    n = 4 + seed % 5

    def make():
        rng = np.random.default_rng([seed, d, h, k, large])
        params = {"W1": rng.normal(size=(d, h)) * 0.8, "b1": rng.normal(size=h) * 0.2,
                  "W2": rng.normal(size=(h, k)) * 0.8, "b2": rng.normal(size=k) * 0.2}
        params["W1"][:, 0] = 0.0  # hidden unit 0 sits exactly at the kink, z = 0
        params["b1"][0] = 0.0
        if large:  # every logit near 800: np.exp overflows unless the row maximum is subtracted
            params["b2"] += 800.0
        return {"X": rng.normal(size=(n, d)), "y": rng.integers(0, k, size=n), "params": params}

    what = ", logits above 700" if large else ""
    return Case(f"X of shape ({n}, {d}), {h} hidden units, {k} classes{what}", make)


_TWO_LAYER = Spec("two_layer_backward", _reference_two_layer, _run_two_layer,
                  forbidden=("gdlib.nn",))


@public_check
def check_two_layer_backward(two_layer_backward, *, seeds=(0, 1), sizes=((4, 5, 3), (3, 6, 2))):
    """Check ``two_layer_backward(X, y, params) -> (loss, grads)``.

    The network is ``scores = relu(X @ W1 + b1) @ W2 + b2`` and the loss the mean softmax
    cross-entropy of ``scores`` with integer labels ``y``; ``grads`` holds the gradients of the
    loss with respect to ``W1, b1, W2, b2`` (same shapes), with relu'(0) = 0. One case per seed
    with ``(d, hidden, classes) = sizes[i % len(sizes)]``, where one hidden unit sits exactly at
    z = 0, plus one case with logits above 700. ``X``, ``y`` and ``params`` must not be modified.
    """
    cases = [_two_layer_case(s, tuple(sizes[i % len(sizes)])) for i, s in enumerate(seeds)]
    cases.append(_two_layer_case(seeds[0] if seeds else 0, tuple(sizes[0]), large=True))
    return verify(_TWO_LAYER, two_layer_backward, cases)
