r"""Layers as pure functions with explicit caches (CS231n style), penalties and initialisers.

A forward function returns its output and a *cache* of what its backward function needs; the
backward function takes the upstream gradient :math:`\partial L/\partial\,\mathrm{out}` and the
cache and returns the gradients with respect to each input::

    out, cache = dense_forward(X, W, b)
    dX, dW, db = dense_backward(dout, cache)

Convolutional, recurrent and residual layers follow the same pattern in ``gdlib.nn.conv``,
``gdlib.nn.rnn`` and ``gdlib.nn.residual``.

The dense layer is introduced in the gradient-descent chapter (``ch-gradient-descent``), the
initialisers in the activations chapter (``ch-activations``, vanishing gradients), dropout
and the penalties in the regularization chapter (``ch-regularization``).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from gdlib._validate import (
    _show, check_fraction, check_positive_int, check_positive_number, check_rng,
)


# -- dense (fully connected) layer -------------------------------------------------------

def dense_forward(X, W, b):
    r"""Affine layer :math:`\mathrm{out} = X W + b`.

    Parameters
    ----------
    X : ndarray, shape (n, d)
        Inputs, one example per row.
    W : ndarray, shape (d, m)
        Weights.
    b : ndarray, shape (m,)
        Biases, broadcast over the rows.

    Returns
    -------
    out : ndarray, shape (n, m)
    cache : tuple
        ``(X, W)``, references (not copies) for :func:`dense_backward`.
    """
    X = np.asarray(X)
    W = np.asarray(W)
    b = np.asarray(b)
    if X.ndim != 2:
        raise ValueError(f"X must have shape (n, d), got X of shape {X.shape}")
    if W.ndim != 2 or W.shape[0] != X.shape[1]:
        raise ValueError(
            f"W must have shape (d, m) with d = X.shape[1] = {X.shape[1]}, got W of shape {W.shape}"
        )
    if b.shape != (W.shape[1],):
        raise ValueError(f"b must have shape ({W.shape[1]},) to match W, got b of shape {b.shape}")
    out = X @ W
    out += b
    return out, (X, W)


def dense_backward(dout, cache, *, input_grad: bool = True):
    r"""Backward pass of :func:`dense_forward`.

    .. math::

        \frac{\partial L}{\partial X} = \delta W^\top, \qquad
        \frac{\partial L}{\partial W} = X^\top \delta, \qquad
        \frac{\partial L}{\partial b} = \sum_{i=1}^{n} \delta_i,

    with :math:`\delta = \partial L / \partial\,\mathrm{out}` of shape (n, m). The loss is
    already a mean over examples, so no further division by n happens here.

    Parameters
    ----------
    dout : ndarray, shape (n, m)
        Upstream gradient.
    cache : tuple
        As returned by :func:`dense_forward`.
    input_grad : bool, default True
        If False, ``dX`` is not computed and ``None`` is returned in its place (the first layer
        of a network needs no gradient with respect to the data; this saves a matrix product).

    Returns
    -------
    dX : ndarray, shape (n, d), or None
    dW : ndarray, shape (d, m)
    db : ndarray, shape (m,)
    """
    X, W = cache
    dout = np.asarray(dout)
    if dout.shape != (X.shape[0], W.shape[1]):
        raise ValueError(
            f"dout must have the shape of the layer's output {(X.shape[0], W.shape[1])}, "
            f"got dout of shape {dout.shape}"
        )
    dW = X.T @ dout
    db = dout.sum(axis=0)
    dX = dout @ W.T if input_grad else None
    return dX, dW, db


# -- inverted dropout --------------------------------------------------------------------

def dropout_forward(X, p, rng=None, *, train: bool = True):
    r"""Inverted dropout: zero each unit with probability ``p``, scale the survivors by 1/(1-p).

    .. math::

        \mathrm{out} = X \odot M, \qquad
        M_{ij} = \frac{B_{ij}}{1 - p}, \quad B_{ij} \sim \mathrm{Bernoulli}(1 - p)
        \text{ independently},

    so :math:`\mathbb{E}[\mathrm{out}] = X`: the expected activation is the same in training and
    at evaluation, where dropout is the identity and nothing needs rescaling (this is
    ``torch.nn.Dropout``).

    Parameters
    ----------
    X : ndarray
        Activations, any shape.
    p : float in [0, 1)
        Probability of *dropping* a unit (not of keeping it). ``p = 1`` would drop everything
        and divide by zero, so it is rejected.
    rng : numpy.random.Generator or int
        Source of the mask; required when a mask is drawn (``train=True`` and ``p > 0``).
    train : bool, default True
        If False, dropout is the identity.

    Returns
    -------
    out : ndarray, same shape as ``X``
    mask : ndarray of float64 or None
        The scaled mask :math:`M` for :func:`dropout_backward`; ``None`` when dropout is the
        identity (``train=False`` or ``p = 0``), in which case ``out`` is ``X`` itself.
    """
    p = check_fraction(p, "p")
    if not train or p == 0.0:
        return X, None
    if rng is None:
        raise ValueError(
            f"rng must be a numpy.random.Generator or an int seed to draw a dropout mask "
            f"(p={p}, train=True), got rng=None"
        )
    rng = check_rng(rng)
    X = np.asarray(X)
    mask = rng.random(X.shape) >= p
    mask = np.multiply(mask, 1.0 / (1.0 - p), dtype=np.float64)
    return X * mask, mask


def dropout_backward(dout, mask):
    r"""Backward pass of :func:`dropout_forward`: :math:`\partial L/\partial X = \delta \odot M`.

    Parameters
    ----------
    dout : ndarray
        Upstream gradient, the shape of the layer's input.
    mask : ndarray or None
        As returned by :func:`dropout_forward`; ``None`` means dropout was the identity and
        ``dout`` is returned unchanged.
    """
    if mask is None:
        return dout
    dout = np.asarray(dout)
    if dout.shape != mask.shape:
        raise ValueError(
            f"dout must have the shape of the dropout mask {mask.shape}, got dout of shape {dout.shape}"
        )
    return dout * mask


# -- penalties -----------------------------------------------------------------------------

def _penalised(params: dict, keys: Iterable[str] | None) -> list[str]:
    """The keys a penalty applies to: those given, or by default every key starting with "W"."""
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict of arrays, got params={_show(params)}")
    if keys is None:
        return [k for k in params if isinstance(k, str) and k.startswith("W")]
    if isinstance(keys, str):
        keys = [keys]
    keys = list(keys)
    for k in keys:
        if k not in params:
            raise KeyError(f"keys names a parameter that params lacks: {k!r}; params has {list(params)}")
    return keys


def l2_penalty(params: dict, lam: float, keys: Iterable[str] | None = None):
    r"""L2 penalty (weight decay) on the weight matrices, and its gradient.

    .. math::

        R(\theta) = \frac{\lambda}{2} \sum_{W} \lVert W \rVert_F^2, \qquad
        \frac{\partial R}{\partial W} = \lambda W.

    Biases are not penalised: shrinking a bias does not make the function simpler.

    Parameters
    ----------
    params : dict of str -> ndarray
    lam : float >= 0
        The strength :math:`\lambda`.
    keys : iterable of str, optional
        The parameters to penalise; by default every key starting with ``"W"``.

    Returns
    -------
    value : float
    grads : dict of str -> ndarray
        One entry per penalised key (add them to the data-loss gradients).
    """
    lam = check_positive_number(lam, "lam", allow_zero=True)
    keys = _penalised(params, keys)
    value = 0.0
    grads = {}
    for k in keys:
        W = np.asarray(params[k], dtype=np.float64)
        value += float(np.vdot(W, W))
        grads[k] = lam * W
    return 0.5 * lam * value, grads


def l1_penalty(params: dict, lam: float, keys: Iterable[str] | None = None):
    r"""L1 penalty on the weight matrices, and its subgradient.

    .. math::

        R(\theta) = \lambda \sum_{W} \sum_{ij} |W_{ij}|, \qquad
        \frac{\partial R}{\partial W_{ij}} = \lambda\, \mathrm{sign}(W_{ij}),

    with :math:`\mathrm{sign}(0) = 0`, a valid subgradient of :math:`|w|` at 0 (any value in
    :math:`[-\lambda, \lambda]` is). Parameters and return values as for :func:`l2_penalty`.
    """
    lam = check_positive_number(lam, "lam", allow_zero=True)
    keys = _penalised(params, keys)
    value = 0.0
    grads = {}
    for k in keys:
        W = np.asarray(params[k], dtype=np.float64)
        value += float(np.abs(W).sum())
        grads[k] = lam * np.sign(W)
    return lam * value, grads


# -- initialisers --------------------------------------------------------------------------

def he_init(fan_in: int, fan_out: int, rng) -> np.ndarray:
    r"""He (Kaiming) normal initialisation, for ReLU layers.

    .. math::

        W_{ij} \sim \mathcal{N}\!\left(0, \frac{2}{\text{fan\_in}}\right),

    which keeps the variance of ReLU activations roughly constant from layer to layer
    (He et al., 2015; ``torch.nn.init.kaiming_normal_`` with ``nonlinearity="relu"``).

    Returns
    -------
    ndarray of float64, shape (fan_in, fan_out)
    """
    fan_in = check_positive_int(fan_in, "fan_in")
    fan_out = check_positive_int(fan_out, "fan_out")
    rng = check_rng(rng)
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))


def glorot_init(fan_in: int, fan_out: int, rng) -> np.ndarray:
    r"""Glorot (Xavier) uniform initialisation, for tanh and sigmoid layers.

    .. math::

        W_{ij} \sim \mathcal{U}\!\left(-a, a\right), \qquad
        a = \sqrt{\frac{6}{\text{fan\_in} + \text{fan\_out}}},

    so that :math:`\mathrm{Var}(W_{ij}) = 2 / (\text{fan\_in} + \text{fan\_out})` (Glorot and
    Bengio, 2010; ``torch.nn.init.xavier_uniform_``).

    Returns
    -------
    ndarray of float64, shape (fan_in, fan_out)
    """
    fan_in = check_positive_int(fan_in, "fan_in")
    fan_out = check_positive_int(fan_out, "fan_out")
    rng = check_rng(rng)
    a = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=(fan_in, fan_out))
