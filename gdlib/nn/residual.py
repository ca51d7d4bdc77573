"""Fully connected residual blocks and a residual MLP whose depth is a parameter.

Introduced in the chapter *Experiments lab*, which re-measures an article's table of
"depth vs training time" for residual networks of depth 20, 32, 44 and 56. The article uses
convolutional ResNets on CIFAR; on two CPU cores we measure the same effect with fully
connected residual blocks on the digits (a CIFAR substitute), which keeps what matters for the
table: the time per step grows linearly with depth, and the skip connections let a deep net
train at all.
"""

from __future__ import annotations

import numpy as np

from gdlib.nn._classifier import LogitClassifier
from gdlib._validate import check_array, check_positive_int, check_rng

__all__ = [
    "residual_block_forward",
    "residual_block_backward",
    "num_blocks_for_depth",
    "ResidualMLP",
]


def residual_block_forward(X, W1, b1, W2, b2):
    r"""Forward pass of a fully connected residual block.

    .. math::

        z = X W_1 + b_1, \qquad a = \operatorname{relu}(z), \qquad
        \text{out} = X + a W_2 + b_2.

    The identity path :math:`X` is added unchanged, so the block computes a *correction*
    to its input, and the gradient reaches earlier blocks through the ``+ X`` term without
    being multiplied by any weight.

    Parameters
    ----------
    X : ndarray, shape (n, d)
    W1 : ndarray, shape (d, k)
    b1 : ndarray, shape (k,)
    W2 : ndarray, shape (k, d)
        Maps back to the input width ``d`` so that the sum with ``X`` is defined.
    b2 : ndarray, shape (d,)

    Returns
    -------
    out : ndarray, shape (n, d)
    cache : tuple
        What :func:`residual_block_backward` needs.
    """
    X = check_array(X, "X", ndim=2)
    W1 = check_array(W1, "W1", ndim=2)
    b1 = check_array(b1, "b1", ndim=1)
    W2 = check_array(W2, "W2", ndim=2)
    b2 = check_array(b2, "b2", ndim=1)
    d = X.shape[1]
    if W1.shape[0] != d:
        raise ValueError(
            f"W1 must have shape (d, k) with d = {d} as in X of shape {X.shape}, "
            f"got W1 of shape {W1.shape}"
        )
    k = W1.shape[1]
    if b1.shape != (k,):
        raise ValueError(f"b1 must have shape ({k},), got b1 of shape {b1.shape}")
    if W2.shape != (k, d):
        raise ValueError(f"W2 must have shape (k, d) = {(k, d)}, got W2 of shape {W2.shape}")
    if b2.shape != (d,):
        raise ValueError(f"b2 must have shape ({d},), got b2 of shape {b2.shape}")
    return _residual_block_forward(X, W1, b1, W2, b2)


def _residual_block_forward(X, W1, b1, W2, b2):
    """:func:`residual_block_forward` on checked arrays (NaN propagates)."""
    z = X @ W1 + b1
    a = np.maximum(z, 0.0)
    out = X + a @ W2 + b2
    return out, (X, W1, W2, z, a)


def residual_block_backward(dout, cache):
    r"""Backward pass of :func:`residual_block_forward`.

    With :math:`\delta = \partial L/\partial\,\text{out}`:

    .. math::

        \frac{\partial L}{\partial W_2} = a^\top \delta, \quad
        \frac{\partial L}{\partial b_2} = \mathbf 1^\top \delta, \quad
        \delta_z = (\delta W_2^\top) \odot [z > 0], \\
        \frac{\partial L}{\partial W_1} = X^\top \delta_z, \quad
        \frac{\partial L}{\partial b_1} = \mathbf 1^\top \delta_z, \quad
        \frac{\partial L}{\partial X} = \delta + \delta_z W_1^\top,

    using relu'(0) = 0 (a valid subgradient, as everywhere in the course). The first term of
    :math:`\partial L/\partial X` is the skip connection's unattenuated gradient.

    Returns
    -------
    dX, dW1, db1, dW2, db2
        Gradients with the shapes of the forward arguments.
    """
    dout = check_array(dout, "dout", ndim=2)
    if dout.shape != cache[0].shape:
        raise ValueError(f"dout must have shape {cache[0].shape}, got dout of shape {dout.shape}")
    return _residual_block_backward(dout, cache)


def _residual_block_backward(dout, cache):
    """:func:`residual_block_backward` on a checked ``dout``."""
    X, W1, W2, z, a = cache
    dW2 = a.T @ dout
    db2 = dout.sum(axis=0)
    dz = (dout @ W2.T) * (z > 0)
    dW1 = X.T @ dz
    db1 = dz.sum(axis=0)
    dX = dout + dz @ W1.T
    return dX, dW1, db1, dW2, db2


def num_blocks_for_depth(depth: int) -> int:
    """The ``num_blocks`` giving a :class:`ResidualMLP` of ``depth = 2 * num_blocks + 2`` layers.

    ``num_blocks_for_depth(20) == 9``, 32 -> 15, 44 -> 21, 56 -> 27 (the depths of the
    article's table, which are those of the CIFAR ResNets of He et al., 2016, there 6k + 2).
    """
    depth = check_positive_int(depth, "depth")
    if depth < 4 or depth % 2:
        raise ValueError(f"depth must be an even integer >= 4 (2 * num_blocks + 2), got depth={depth}")
    return (depth - 2) // 2


class ResidualMLP(LogitClassifier):
    r"""A deep fully connected network made of residual blocks.

    .. math::

        H_0 &= \operatorname{relu}(X W_1 + b_1), \\
        H_i &= H_{i-1} + \operatorname{relu}(H_{i-1} W_{2i} + b_{2i})\, W_{2i+1} + b_{2i+1},
            \qquad i = 1, \dots, B, \\
        Z &= H_B W_{2B+2} + b_{2B+2}, \qquad
        J = \frac{1}{n}\sum_{i=1}^{n} -\log \mathrm{softmax}(Z_i)_{y_i},

    so the network has **depth = 2 B + 2 weight layers** (an input layer, two per block, an
    output layer), numbered ``W1 .. W{2B+2}`` in order. Depths 20/32/44/56 are
    ``num_blocks`` 9/15/21/27 (see :func:`num_blocks_for_depth`). Introduced in the lab
    chapter, ``ch-lab`` (the "depth vs training time" table). Same interface as
    :class:`gdlib.nn.MLP`, so it trains with ``gdlib.train.fit``.

    Initialisation: He normal for every layer (biases 0), except that the **second layer of
    each block is scaled by** :math:`1/\sqrt{B}`. A block with plain He layers roughly triples
    the second moment of its input (:math:`H + \text{branch}`, the branch of variance about
    twice the input's); with the scaling the factor is :math:`1 + 2/B`, so over :math:`B`
    blocks the growth stays below :math:`e^2 \approx 7.4` whatever the depth. Without it the
    initial loss on random inputs is about 40 at depth 20 and :math:`10^5` at depth 56, and the
    deep net cannot be trained at any useful learning rate (the idea of Fixup, Zhang et al.,
    2019, and of zero-initialised last layers in ResNets). With it, full-batch gradient descent
    with ``lr = 0.03`` trains both depth 20 and depth 56 on the digits (``lr = 0.1`` diverges).

    Parameters
    ----------
    in_dim : int
        Input features ``d``.
    width : int
        Width of every hidden representation :math:`H_i` and of the blocks' inner layers.
    num_blocks : int >= 1
        Number of residual blocks ``B``.
    num_classes : int >= 2
    rng : numpy.random.Generator or int
        Source of the initial weights.
    """

    def __init__(self, in_dim: int, width: int, num_blocks: int, num_classes: int, *, rng):
        from gdlib.nn.layers import he_init

        self.in_dim = check_positive_int(in_dim, "in_dim")
        self.width = check_positive_int(width, "width")
        self.num_blocks = check_positive_int(num_blocks, "num_blocks")
        self.num_classes = check_positive_int(num_classes, "num_classes")
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got num_classes={num_classes!r}")
        rng = check_rng(rng)
        B, w = self.num_blocks, self.width
        block_scale = 1.0 / np.sqrt(B)
        params = {"W1": he_init(self.in_dim, w, rng), "b1": np.zeros(w)}
        for i in range(1, B + 1):
            params[f"W{2 * i}"] = he_init(w, w, rng)
            params[f"b{2 * i}"] = np.zeros(w)
            params[f"W{2 * i + 1}"] = he_init(w, w, rng) * block_scale
            params[f"b{2 * i + 1}"] = np.zeros(w)
        params[f"W{2 * B + 2}"] = he_init(w, self.num_classes, rng)
        params[f"b{2 * B + 2}"] = np.zeros(self.num_classes)
        self.params = params

    @property
    def depth(self) -> int:
        """Number of weight layers, ``2 * num_blocks + 2``."""
        return 2 * self.num_blocks + 2

    def __repr__(self) -> str:
        return (f"ResidualMLP(in_dim={self.in_dim}, width={self.width}, num_blocks={self.num_blocks}, "
                f"num_classes={self.num_classes})  # depth {self.depth}")

    def _check_X(self, X) -> np.ndarray:
        X = check_array(X, "X", ndim=2)
        if X.shape[1] != self.in_dim:
            raise ValueError(
                f"X must have {self.in_dim} columns (in_dim={self.in_dim}), got X of shape {X.shape}"
            )
        return X

    def _forward(self, X):
        p, B = self.params, self.num_blocks
        Z0 = X @ p["W1"] + p["b1"]
        H = np.maximum(Z0, 0.0)
        caches = []
        for i in range(1, B + 1):
            H, cache = _residual_block_forward(H, p[f"W{2 * i}"], p[f"b{2 * i}"],
                                              p[f"W{2 * i + 1}"], p[f"b{2 * i + 1}"])
            caches.append(cache)
        logits = H @ p[f"W{2 * B + 2}"] + p[f"b{2 * B + 2}"]
        return logits, (Z0, caches, H)

    def loss_and_grads(self, X, y, *, rng=None, train: bool = True):
        """Mean cross-entropy and its gradient for every parameter.

        ``rng`` and ``train`` are accepted for the common model interface and unused (no
        dropout). Returns ``(loss, grads)`` with ``grads`` keyed like :attr:`params`.
        """
        from gdlib.nn.losses import _check_class_labels, _softmax_cross_entropy

        X = self._check_X(X)
        y = _check_class_labels(y, len(X), self.num_classes)
        p, B = self.params, self.num_blocks
        with np.errstate(over="ignore", invalid="ignore"):
            logits, (Z0, caches, H) = self._forward(X)
            loss, dZ = _softmax_cross_entropy(logits, y)
            out = 2 * B + 2
            grads = {f"W{out}": H.T @ dZ, f"b{out}": dZ.sum(axis=0)}
            dH = dZ @ p[f"W{out}"].T
            for i in range(B, 0, -1):
                dH, grads[f"W{2 * i}"], grads[f"b{2 * i}"], grads[f"W{2 * i + 1}"], grads[f"b{2 * i + 1}"] = (
                    _residual_block_backward(dH, caches[i - 1]))
            dZ0 = dH * (Z0 > 0)
            grads["W1"] = X.T @ dZ0
            grads["b1"] = dZ0.sum(axis=0)
        return loss, {key: grads[key] for key in p}

    def forward(self, X) -> np.ndarray:
        """The logits (n, num_classes)."""
        return self._forward(self._check_X(X))[0]

    def layer_keys(self) -> dict[str, tuple[str, str]]:
        """``{"layer 1": ("W1", "b1"), ...}`` for the ``depth`` weight layers, in order."""
        return {f"layer {l}": (f"W{l}", f"b{l}") for l in range(1, self.depth + 1)}

    def copy(self) -> "ResidualMLP":
        """A new model with the same settings and copied parameters."""
        import copy

        new = copy.copy(self)
        new.params = {key: value.copy() for key, value in self.params.items()}
        return new
