"""The small convolutional network of the experiments lab: conv, pool, dense, dense.

Introduced in the chapter *Experiments lab*, which re-measures an article's claim about
convolutional networks on images (the 8x8 digits). The layers are the pure functions of
:mod:`gdlib.nn.conv`; :class:`CNN` chains them and has :class:`gdlib.nn.MLP`'s interface, so it
trains with :func:`gdlib.train.fit`.
"""

from __future__ import annotations

import copy

import numpy as np

from gdlib.nn._classifier import LogitClassifier, _dropout_rng
from gdlib._validate import check_array, check_fraction, check_positive_int, check_positive_number, check_rng
from gdlib.nn.conv import (
    _conv2d_backward, _conv2d_forward, _maxpool2d_backward, _maxpool2d_forward, _output_size,
    flatten_backward, flatten_forward,
)

__all__ = ["CNN"]


def _activation_pair(activation):
    """``(f, fprime)`` for a name in ``gdlib.nn.ACTIVATIONS`` or a given pair."""
    if isinstance(activation, tuple) and len(activation) == 2 and all(map(callable, activation)):
        return activation
    from gdlib.nn.activations import get_activation

    return get_activation(activation)


def _add_penalties(params: dict, grads: dict | None, l1: float, l2: float) -> float:
    r"""The penalties' value; their (sub)gradients on the weights ``W*`` are added to ``grads``
    unless it is None.

    :math:`\frac{\lambda_2}{2}\sum\lVert W\rVert_F^2 + \lambda_1 \sum \lVert W \rVert_1`, with
    gradient :math:`\lambda_2 W + \lambda_1 \operatorname{sign}(W)` and sign(0) = 0, as
    ``gdlib.nn.l2_penalty`` and ``l1_penalty`` (which refuse non-finite weights; here a
    diverged model must report a NaN loss instead).
    """
    total = 0.0
    for key, W in params.items():
        if not key.startswith("W"):
            continue
        if l2 > 0:
            total += 0.5 * l2 * float(np.vdot(W, W))
            if grads is not None:
                grads[key] = grads[key] + l2 * W
        if l1 > 0:
            total += l1 * float(np.abs(W).sum())
            if grads is not None:
                grads[key] = grads[key] + l1 * np.sign(W)
    return total


class CNN(LogitClassifier):
    r"""A small convolutional network for images: conv, pool, dense, dense.

    .. math::

        A_1 &= f(\mathrm{conv}(X; W_1, b_1)) \quad \text{(same-size padding, stride 1)}, \\
        P &= \mathrm{maxpool}_{2\times 2}(A_1), \qquad
        A_2 = \mathrm{dropout}\bigl(f(\mathrm{flat}(P)\, W_2 + b_2)\bigr), \\
        Z &= A_2 W_3 + b_3, \qquad
        J = \mathrm{CE}(\mathrm{softmax}(Z), y) + \frac{\lambda_2}{2}\sum_{l}\lVert W_l\rVert_F^2
            + \lambda_1 \sum_l \lVert W_l \rVert_1 .

    Introduced in the chapter *Experiments lab* (the "CNN on images" table, on the 8x8 digits).
    Same interface as :class:`gdlib.nn.MLP`, so it trains with ``gdlib.train.fit``.

    Parameters
    ----------
    in_shape : (c, h, w), default (1, 8, 8)
        Shape of one image, channels first.
    num_filters : int, default 8
    kernel : int, default 3
        Square kernel size; padding ``(kernel - 1) // 2`` keeps the image size for odd kernels.
    hidden : int, default 32
        Width of the dense hidden layer.
    num_classes : int >= 2, default 10
    rng : numpy.random.Generator or int
        Source of the initial weights (He normal, biases 0); keyword-only and required.
    activation : str or (callable, callable), default "relu"
        A name in :data:`gdlib.nn.ACTIVATIONS` or a pair ``(f, fprime)``; used after
        the convolution and after the hidden dense layer.
    l1, l2 : float >= 0, default 0.0
        Penalties on the weights ``W1, W2, W3`` only (not the biases); the L1 subgradient uses
        sign(0) = 0.
    dropout : float in [0, 1), default 0.0
        Inverted dropout on the hidden dense layer's activations during training.

    Attributes
    ----------
    params : dict of str -> ndarray
        ``W1`` (num_filters, c, kernel, kernel), ``b1`` (num_filters,): the convolution;
        ``W2`` (num_filters * h_pool * w_pool, hidden), ``b2``: the hidden dense layer;
        ``W3`` (hidden, num_classes), ``b3``: the output layer.

    Notes
    -----
    ``X`` may be given as images ``(n, c, h, w)`` or flattened ``(n, c*h*w)`` (row-major, as
    ``sklearn.datasets.load_digits().data`` for ``in_shape=(1, 8, 8)``).
    """

    def __init__(self, in_shape=(1, 8, 8), num_filters: int = 8, kernel: int = 3, hidden: int = 32,
                 num_classes: int = 10, *, rng, activation="relu", l1: float = 0.0, l2: float = 0.0,
                 dropout: float = 0.0):
        from gdlib.nn.layers import he_init

        shape = tuple(in_shape) if isinstance(in_shape, (tuple, list)) else None
        if shape is None or len(shape) != 3:
            raise ValueError(f"in_shape must be a tuple (c, h, w), got in_shape={in_shape!r}")
        c, h, w = (check_positive_int(size, f"in_shape[{i}]") for i, size in enumerate(shape))
        self.in_shape = (c, h, w)
        self.num_filters = check_positive_int(num_filters, "num_filters")
        self.kernel = check_positive_int(kernel, "kernel")
        self.hidden = check_positive_int(hidden, "hidden")
        self.num_classes = check_positive_int(num_classes, "num_classes")
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got num_classes={num_classes!r}")
        self.pad = (self.kernel - 1) // 2
        conv_h = _output_size(h, self.kernel, 1, self.pad, "kernel")
        conv_w = _output_size(w, self.kernel, 1, self.pad, "kernel")
        if conv_h < 2 or conv_w < 2:
            raise ValueError(
                f"in_shape={self.in_shape} with kernel={self.kernel} leaves a {conv_h}x{conv_w} "
                "feature map, too small for 2x2 pooling"
            )
        self.pool_shape = (self.num_filters, conv_h // 2, conv_w // 2)
        self._f, self._fprime = _activation_pair(activation)
        self.activation = activation
        self.l1 = check_positive_number(l1, "l1", allow_zero=True)
        self.l2 = check_positive_number(l2, "l2", allow_zero=True)
        self.dropout = check_fraction(dropout, "dropout")
        rng = check_rng(rng)
        k, F = self.kernel, self.num_filters
        flat = int(np.prod(self.pool_shape))
        self.params = {
            "W1": he_init(c * k * k, F, rng).T.reshape(F, c, k, k).copy(),
            "b1": np.zeros(F),
            "W2": he_init(flat, self.hidden, rng),
            "b2": np.zeros(self.hidden),
            "W3": he_init(self.hidden, self.num_classes, rng),
            "b3": np.zeros(self.num_classes),
        }

    def __repr__(self) -> str:
        return (f"CNN(in_shape={self.in_shape}, num_filters={self.num_filters}, kernel={self.kernel}, "
                f"hidden={self.hidden}, num_classes={self.num_classes}, activation={self.activation!r}, "
                f"l1={self.l1}, l2={self.l2}, dropout={self.dropout})")

    def _images(self, X) -> np.ndarray:
        """``X`` as images (n, c, h, w), accepting the flattened form (n, c*h*w)."""
        X = check_array(X, "X")
        c, h, w = self.in_shape
        if X.ndim == 2 and X.shape[1] == c * h * w:
            return X.reshape(len(X), c, h, w)
        if X.ndim == 4 and X.shape[1:] == self.in_shape:
            return X
        raise ValueError(
            f"X must have shape (n, {c}, {h}, {w}) or (n, {c * h * w}) for in_shape={self.in_shape}, "
            f"got X of shape {X.shape}"
        )

    def _forward(self, X: np.ndarray, rng):
        """Logits (n, num_classes) and what the backward pass needs; ``rng`` None: no dropout."""
        from gdlib.nn.layers import dropout_forward

        p = self.params
        Z1, conv_cache = _conv2d_forward(X, p["W1"], p["b1"], 1, self.pad)
        pool_h, pool_w = self.pool_shape[1:]
        P, pool_cache = _maxpool2d_forward(self._f(Z1), 2, 2, pool_h, pool_w)
        F_flat, flat_shape = flatten_forward(P)
        Z2 = F_flat @ p["W2"] + p["b2"]
        A2, mask = dropout_forward(self._f(Z2), self.dropout, rng, train=rng is not None)
        Z3 = A2 @ p["W3"] + p["b3"]
        return Z3, (conv_cache, Z1, pool_cache, flat_shape, F_flat, Z2, A2, mask)

    def loss_and_grads(self, X, y, *, rng=None, train: bool = True):
        """The objective (mean cross-entropy plus penalties) and its gradient for every parameter.

        ``rng`` (Generator or int seed) draws the dropout mask; required when ``train`` and
        ``dropout > 0``. An int seed gives the same mask on every call (for gradient checks).
        Returns ``(loss, grads)`` with ``grads`` keyed like :attr:`params`.
        """
        from gdlib.nn.layers import dropout_backward
        from gdlib.nn.losses import _check_class_labels, _softmax_cross_entropy

        X = self._images(X)
        y = _check_class_labels(y, len(X), self.num_classes)
        rng = _dropout_rng(rng, self.dropout, train)
        p = self.params
        with np.errstate(over="ignore", invalid="ignore"):
            Z3, (conv_cache, Z1, pool_cache, flat_shape, F_flat, Z2, A2, mask) = self._forward(X, rng)
            loss, dZ3 = _softmax_cross_entropy(Z3, y)
            grads = {"W3": A2.T @ dZ3, "b3": dZ3.sum(axis=0)}
            dZ2 = dropout_backward(dZ3 @ p["W3"].T, mask) * self._fprime(Z2)
            grads["W2"] = F_flat.T @ dZ2
            grads["b2"] = dZ2.sum(axis=0)
            dP = flatten_backward(dZ2 @ p["W2"].T, flat_shape)
            dZ1 = _maxpool2d_backward(dP, pool_cache) * self._fprime(Z1)
            _, grads["W1"], grads["b1"] = _conv2d_backward(dZ1, conv_cache, False)
            loss += _add_penalties(p, grads, self.l1, self.l2)
        return loss, {key: grads[key] for key in p}

    def forward(self, X) -> np.ndarray:
        """The logits (n, num_classes), without dropout."""
        return self._forward(self._images(X), None)[0]

    def _penalty(self) -> float:
        """The value of the L1 and L2 penalties (what ``loss_and_grads`` adds to the loss)."""
        return _add_penalties(self.params, None, self.l1, self.l2)

    def layer_keys(self) -> dict[str, tuple[str, str]]:
        """``{"conv": ("W1", "b1"), "hidden": ("W2", "b2"), "output": ("W3", "b3")}``."""
        return {"conv": ("W1", "b1"), "hidden": ("W2", "b2"), "output": ("W3", "b3")}

    def copy(self) -> "CNN":
        """A new CNN with the same settings and copied parameters."""
        new = copy.copy(self)
        new.params = {key: value.copy() for key, value in self.params.items()}
        return new
