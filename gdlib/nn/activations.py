r"""Activation functions and their derivatives with respect to the pre-activation.

Each activation :math:`f` comes with ``<name>_grad(z)`` returning :math:`f'(z)` elementwise,
the factor the backward pass multiplies by: :math:`\partial L/\partial z = \partial L/\partial a
\cdot f'(z)` with :math:`a = f(z)`. All functions accept an array of any shape (or a scalar) and
compute in float64; they do not check for NaN, since they sit inside every training step (the
model checks its inputs once, at the door).

Where :math:`f` has a kink (ReLU and leaky ReLU at 0) the ``_grad`` function returns one valid
subgradient, fixed by the course conventions: :math:`\mathrm{relu}'(0) = 0` and
:math:`\mathrm{leaky\_relu}'(0) = \alpha`.

Introduced in the activations chapter (``ch-activations``); ``step`` appears there to show what
breaks when the derivative is zero almost everywhere.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from gdlib._validate import check_positive_number

Activation = Callable[[np.ndarray], np.ndarray]


def _as_float(z) -> np.ndarray:
    return np.asarray(z, dtype=np.float64)


def sigmoid(z):
    r"""Logistic sigmoid, computed without overflow for any finite ``z``.

    .. math::

        \sigma(z) = \frac{1}{1 + e^{-z}} =
        \begin{cases} \dfrac{1}{1 + e^{-|z|}} & z \ge 0 \\[1ex]
                      \dfrac{e^{-|z|}}{1 + e^{-|z|}} & z < 0 \end{cases}

    The two-branch form only ever exponentiates :math:`-|z| \le 0`, so ``sigmoid(-1000)``
    is ``0.0`` (not an overflow warning) and ``sigmoid(-30)`` keeps its relative precision.
    """
    z = _as_float(z)
    e = np.exp(-np.abs(z))
    r = 1.0 / (1.0 + e)
    return np.where(z >= 0, r, e * r)


def sigmoid_grad(z):
    r"""Derivative of the sigmoid: :math:`\sigma'(z) = \sigma(z)\,(1 - \sigma(z)) \le 1/4`."""
    s = sigmoid(z)
    return s * (1.0 - s)


def tanh(z):
    r"""Hyperbolic tangent :math:`\tanh(z) = (e^{z} - e^{-z}) / (e^{z} + e^{-z}) = 2\sigma(2z) - 1`."""
    return np.tanh(_as_float(z))


def tanh_grad(z):
    r"""Derivative of tanh: :math:`\tanh'(z) = 1 - \tanh^2(z) \le 1`."""
    t = np.tanh(_as_float(z))
    return 1.0 - t * t


def relu(z):
    r"""Rectified linear unit :math:`\mathrm{relu}(z) = \max(z, 0)`."""
    return np.maximum(_as_float(z), 0.0)


def relu_grad(z):
    r"""Derivative of ReLU, with the subgradient 0 at the kink.

    .. math::

        \mathrm{relu}'(z) = \begin{cases} 1 & z > 0 \\ 0 & z \le 0 \end{cases}

    At :math:`z = 0` any value in :math:`[0, 1]` is a valid subgradient; the course (like
    PyTorch) uses 0, so a unit whose pre-activation is exactly 0 passes no gradient back.
    """
    return (_as_float(z) > 0).astype(np.float64)


def leaky_relu(z, alpha: float = 0.01):
    r"""Leaky ReLU with slope ``alpha`` for negative inputs.

    .. math::

        \mathrm{leaky\_relu}(z) = \begin{cases} z & z > 0 \\ \alpha z & z \le 0 \end{cases}

    Parameters
    ----------
    z : array_like
        Pre-activations.
    alpha : float, default 0.01
        Slope for :math:`z \le 0`; must be finite and :math:`\ge 0`.
    """
    alpha = check_positive_number(alpha, "alpha", allow_zero=True)
    z = _as_float(z)
    return np.where(z > 0, z, alpha * z)


def leaky_relu_grad(z, alpha: float = 0.01):
    r"""Derivative of leaky ReLU, with the subgradient :math:`\alpha` at the kink.

    .. math::

        \mathrm{leaky\_relu}'(z) = \begin{cases} 1 & z > 0 \\ \alpha & z \le 0 \end{cases}

    At :math:`z = 0` any value in :math:`[\alpha, 1]` is a valid subgradient; the course
    uses :math:`\alpha`, matching ``relu_grad(0) = 0`` when ``alpha = 0``.
    """
    alpha = check_positive_number(alpha, "alpha", allow_zero=True)
    return np.where(_as_float(z) > 0, 1.0, alpha)


def step(z):
    r"""Heaviside step :math:`H(z) = 1` for :math:`z > 0` and :math:`0` for :math:`z \le 0`.

    The perceptron's activation. Its derivative is 0 wherever it exists, so gradient descent
    through a step unit receives no signal: see :func:`step_grad`.
    """
    return (_as_float(z) > 0).astype(np.float64)


def step_grad(z):
    r"""Derivative of the step, taken as 0 everywhere.

    :math:`H'(z) = 0` for :math:`z \ne 0` and :math:`H` has no derivative (nor any finite
    subgradient) at 0; using 0 there too, every layer below a step unit gets a zero gradient.
    """
    return np.zeros_like(_as_float(z))


def identity(z):
    r"""The identity :math:`f(z) = z` (a linear unit; an output layer without activation)."""
    return _as_float(z)


def identity_grad(z):
    r"""Derivative of the identity: :math:`f'(z) = 1`."""
    return np.ones_like(_as_float(z))


#: name -> (f, fprime), where ``fprime(z)`` is :math:`f'(z)`; "linear" is "identity".
ACTIVATIONS: dict[str, tuple[Activation, Activation]] = {
    "sigmoid": (sigmoid, sigmoid_grad),
    "tanh": (tanh, tanh_grad),
    "relu": (relu, relu_grad),
    "leaky_relu": (leaky_relu, leaky_relu_grad),
    "step": (step, step_grad),
    "identity": (identity, identity_grad),
    "linear": (identity, identity_grad),
}


def get_activation(name: str) -> tuple[Activation, Activation]:
    """Return the pair ``(f, fprime)`` registered under ``name`` in :data:`ACTIVATIONS`.

    Raises
    ------
    ValueError
        If ``name`` is not a known activation; the message lists the valid names.
    """
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        valid = ", ".join(repr(k) for k in ACTIVATIONS)
        raise ValueError(f"unknown activation name={name!r}; valid names are {valid}") from None
