"""Convolution and pooling layers (im2col) and a small convolutional network.

Introduced in the chapter *Experiments lab*, which re-measures an article's claim about
convolutional networks on images; we use scikit-learn's bundled 8x8 digits as the image set.

Every layer is a pair of pure functions in the CS231n style::

    out, cache = conv2d_forward(X, W, b, *, stride=1, pad=0)
    dX, dW, db = conv2d_backward(dout, cache)
    out, cache = maxpool2d_forward(X, *, size=2, stride=2)     # or avgpool2d_forward
    dX = maxpool2d_backward(dout, cache)

Images are stored channels first, ``X`` of shape ``(n, c, h, w)``. The convolution is computed
with *im2col*: every ``kh x kw`` window of every image becomes one column of a matrix (built
from a ``numpy.lib.stride_tricks.sliding_window_view``), so that the whole layer is one
matrix product, with no Python loop over examples. :class:`CNN` chains them into the
network of the lab.
"""

from __future__ import annotations

import copy

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from gdlib._classifier import LogitClassifier
from gdlib._validate import (
    check_array,
    check_fraction,
    check_non_negative_int,
    check_positive_int,
    check_positive_number,
    check_rng,
)

__all__ = [
    "conv2d_forward",
    "conv2d_backward",
    "maxpool2d_forward",
    "maxpool2d_backward",
    "avgpool2d_forward",
    "avgpool2d_backward",
    "flatten_forward",
    "flatten_backward",
    "CNN",
]


def _output_size(size: int, window: int, stride: int, pad: int, what: str) -> int:
    """Number of window positions along one axis: floor((size + 2 pad - window) / stride) + 1."""
    span = size + 2 * pad - window
    if span < 0:
        raise ValueError(
            f"{what} of size {window} does not fit an input of size {size} with pad={pad}"
        )
    return span // stride + 1


def _offset_view(X: np.ndarray, k: int, l: int, oh: int, ow: int, stride: int) -> np.ndarray:
    """The entries at offset (k, l) of every window: ``X[..., s*i + k, s*j + l]`` (a view)."""
    return X[..., k:k + stride * (oh - 1) + 1:stride, l:l + stride * (ow - 1) + 1:stride]


def conv2d_forward(X, W, b, *, stride: int = 1, pad: int = 0):
    r"""Forward pass of a 2-D convolution (cross-correlation, as in every deep-learning library).

    With :math:`\tilde X` the input zero-padded by ``pad`` on each side of both spatial axes,

    .. math::

        \text{out}_{n f i j} = b_f + \sum_{c=1}^{C} \sum_{k=1}^{k_h} \sum_{l=1}^{k_w}
            W_{f c k l}\, \tilde X_{n, c, s i + k, s j + l},

    with :math:`s` the stride, for :math:`i < h_{out} = \lfloor (h + 2p - k_h)/s \rfloor + 1`
    (likewise :math:`j`). Computed with *im2col*: the windows (a
    ``sliding_window_view``, no copy) are laid out as a matrix with :math:`C k_h k_w` rows and
    one column per window of every image, so that the layer is a single matrix product
    :math:`W_{(F,\, C k_h k_w)} \cdot \text{cols}`.

    Parameters
    ----------
    X : ndarray, shape (n, c, h, w)
        A batch of images, channels first.
    W : ndarray, shape (f, c, kh, kw)
        ``f`` filters; their channel count must equal ``X``'s.
    b : ndarray, shape (f,)
        One bias per filter.
    stride : int >= 1, keyword-only
    pad : int >= 0, keyword-only
        Zeros added on each side of the height and width axes (``pad = (kh - 1) // 2`` keeps
        the size for odd kernels and stride 1).

    Returns
    -------
    out : ndarray, shape (n, f, h_out, w_out)
        (A transposed view of an (f, n, h_out, w_out) array; numpy handles either layout.)
    cache : tuple
        What :func:`conv2d_backward` needs.

    Raises
    ------
    ValueError
        If a shape does not match (naming the argument and its shape), the kernel does not fit
        or stride/pad are invalid.
    """
    X = check_array(X, "X", ndim=4)
    W = check_array(W, "W", ndim=4)
    b = check_array(b, "b", ndim=1)
    stride = check_positive_int(stride, "stride")
    pad = check_non_negative_int(pad, "pad")
    n, c, h, w = X.shape
    f, cw, kh, kw = W.shape
    if cw != c:
        raise ValueError(
            f"W must have shape (f, c, kh, kw) with c = {c} channels as in X of shape {X.shape}, "
            f"got W of shape {W.shape}"
        )
    if b.shape != (f,):
        raise ValueError(f"b must have shape ({f},) (one bias per filter), got b of shape {b.shape}")
    _output_size(h, kh, stride, pad, "kernel height")
    _output_size(w, kw, stride, pad, "kernel width")
    return _conv2d_forward(X, W, b, stride, pad)


def _conv2d_forward(X, W, b, stride, pad):
    """:func:`conv2d_forward` on checked arrays (NaN propagates: a diverged model says so)."""
    n, c, h, w = X.shape
    f, _, kh, kw = W.shape
    oh = (h + 2 * pad - kh) // stride + 1
    ow = (w + 2 * pad - kw) // stride + 1
    Xp = np.pad(X, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else X
    windows = sliding_window_view(Xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    cols = windows.transpose(1, 4, 5, 0, 2, 3).reshape(c * kh * kw, n * oh * ow)
    out = W.reshape(f, -1) @ cols
    out += b[:, None]
    cache = (cols, W, Xp.shape, stride, pad)
    return out.reshape(f, n, oh, ow).transpose(1, 0, 2, 3), cache


def conv2d_backward(dout, cache, *, input_grad: bool = True):
    r"""Backward pass of :func:`conv2d_forward`.

    .. math::

        \frac{\partial L}{\partial W_{fckl}} = \sum_{n,i,j} \delta_{nfij}\,
            \tilde X_{n, c, si+k, sj+l}, \qquad
        \frac{\partial L}{\partial b_f} = \sum_{n,i,j} \delta_{nfij}, \qquad
        \frac{\partial L}{\partial \tilde X_{ncpq}} = \sum_{f}\sum_{\substack{i,k:\, si+k=p \\
            j,l:\, sj+l=q}} \delta_{nfij}\, W_{fckl},

    with :math:`\delta = \partial L / \partial\,\text{out}`; the padding is then cut off. Input
    positions that no window covers (when the stride does not divide the size) get zero. In
    matrix form, with :math:`\Delta` the (F, n h_out w_out) matrix of :math:`\delta`:
    :math:`dW = \Delta\, \text{cols}^\top` and :math:`d\,\text{cols} = W^\top \Delta`, which
    *col2im* adds back onto the image (a loop over the :math:`k_h k_w` kernel offsets).

    Parameters
    ----------
    dout : ndarray, shape (n, f, h_out, w_out)
    cache : tuple from :func:`conv2d_forward`
    input_grad : bool, default True, keyword-only
        If False, ``dX`` is not computed and ``None`` is returned in its place (a first layer
        needs no gradient with respect to the data; this saves most of the backward pass).

    Returns
    -------
    dX : ndarray, shape (n, c, h, w), or None
    dW : ndarray, shape (f, c, kh, kw)
    db : ndarray, shape (f,)
    """
    _, W, (n, _, hp, wp), stride, _ = cache
    f, _, kh, kw = W.shape
    oh = (hp - kh) // stride + 1
    ow = (wp - kw) // stride + 1
    dout = check_array(dout, "dout", ndim=4)
    if dout.shape != (n, f, oh, ow):
        raise ValueError(f"dout must have shape {(n, f, oh, ow)}, got dout of shape {dout.shape}")
    return _conv2d_backward(dout, cache, input_grad)


def _conv2d_backward(dout, cache, input_grad):
    """:func:`conv2d_backward` on a checked ``dout``."""
    cols, W, padded_shape, stride, pad = cache
    f, c, kh, kw = W.shape
    n, _, hp, wp = padded_shape
    oh, ow = dout.shape[2:]
    dout_mat = dout.transpose(1, 0, 2, 3).reshape(f, n * oh * ow)
    dW = (dout_mat @ cols.T).reshape(W.shape)
    db = dout_mat.sum(axis=1)
    if not input_grad:
        return None, dW, db
    dcols = (W.reshape(f, -1).T @ dout_mat).reshape(c, kh, kw, n, oh, ow)
    dXp = np.zeros((c, n, hp, wp))        # channel-major, like dcols: contiguous additions
    for k in range(kh):
        for l in range(kw):
            _offset_view(dXp, k, l, oh, ow, stride)[...] += dcols[:, k, l]
    dX = dXp.transpose(1, 0, 2, 3)
    return (dX[:, :, pad:hp - pad, pad:wp - pad] if pad else dX), dW, db


def _check_pool(X, size, stride):
    X = check_array(X, "X", ndim=4)
    size = check_positive_int(size, "size")
    stride = check_positive_int(stride, "stride")
    oh = _output_size(X.shape[2], size, stride, 0, "pooling window")
    ow = _output_size(X.shape[3], size, stride, 0, "pooling window")
    return X, size, stride, oh, ow


def _check_pool_dout(dout, shape):
    dout = check_array(dout, "dout", ndim=4)
    if dout.shape != shape:
        raise ValueError(f"dout must have shape {shape}, got dout of shape {dout.shape}")
    return dout


def maxpool2d_forward(X, *, size: int = 2, stride: int = 2):
    r"""Max pooling over ``size x size`` windows moved by ``stride`` (2x2, stride 2 by default).

    .. math::

        \text{out}_{ncij} = \max_{0 \le k, l < \text{size}} X_{n, c, si+k, sj+l}.

    Computed as a running maximum over the :math:`\text{size}^2` offsets, each a strided view
    of ``X`` (no copy of the windows), remembering which offset holds the maximum.

    Returns ``(out, cache)``; ``out`` has shape (n, c, h_out, w_out) with
    :math:`h_{out} = \lfloor (h - \text{size})/s \rfloor + 1`.
    """
    X, size, stride, oh, ow = _check_pool(X, size, stride)
    return _maxpool2d_forward(X, size, stride, oh, ow)


def _maxpool2d_forward(X, size, stride, oh, ow):
    """:func:`maxpool2d_forward` on checked arguments."""
    out = _offset_view(X, 0, 0, oh, ow, stride).copy()
    argmax = np.zeros(out.shape, dtype=np.intp)
    for j in range(1, size * size):
        candidate = _offset_view(X, j // size, j % size, oh, ow, stride)
        argmax[candidate > out] = j         # strict: a tie keeps the first maximum
        np.maximum(out, candidate, out=out)
    return out, (X.shape, argmax, size, stride)


def maxpool2d_backward(dout, cache):
    r"""Backward pass of :func:`maxpool2d_forward`: the gradient flows to the maximum only.

    .. math::

        \frac{\partial L}{\partial X_{n,c,si+k,sj+l}} \mathrel{+}= \delta_{ncij}\,
            [\,(k, l) = \operatorname{argmax}\,],

    where a tie goes to the first maximum in row-major order (a valid subgradient, as in
    PyTorch). Returns ``dX`` of the input's shape.
    """
    return _maxpool2d_backward(_check_pool_dout(dout, cache[1].shape), cache)


def _maxpool2d_backward(dout, cache):
    """:func:`maxpool2d_backward` on a checked ``dout``."""
    X_shape, argmax, size, stride = cache
    oh, ow = argmax.shape[2:]
    dX = np.zeros(X_shape)
    for j in range(size * size):
        _offset_view(dX, j // size, j % size, oh, ow, stride)[...] += np.where(argmax == j, dout, 0.0)
    return dX


def avgpool2d_forward(X, *, size: int = 2, stride: int = 2):
    r"""Average pooling: :math:`\text{out}_{ncij} = \frac{1}{\text{size}^2}\sum_{k,l}
    X_{n,c,si+k,sj+l}`. Returns ``(out, cache)``."""
    X, size, stride, oh, ow = _check_pool(X, size, stride)
    out = np.zeros(X.shape[:2] + (oh, ow))
    for j in range(size * size):
        out += _offset_view(X, j // size, j % size, oh, ow, stride)
    return out / (size * size), (X.shape, out.shape, size, stride)


def avgpool2d_backward(dout, cache):
    r"""Backward pass of :func:`avgpool2d_forward`: each input in a window receives
    :math:`\delta_{ncij} / \text{size}^2`. Returns ``dX``."""
    X_shape, out_shape, size, stride = cache
    dout = _check_pool_dout(dout, out_shape) / (size * size)
    dX = np.zeros(X_shape)
    for j in range(size * size):
        _offset_view(dX, j // size, j % size, out_shape[2], out_shape[3], stride)[...] += dout
    return dX


def flatten_forward(X):
    """Flatten every example to a row: (n, ...) -> (n, prod(...)). Returns ``(out, shape)``."""
    X = np.asarray(X)
    return X.reshape(len(X), -1), X.shape


def flatten_backward(dout, cache):
    """Backward pass of :func:`flatten_forward`: reshape the gradient back to the input's shape."""
    return np.asarray(dout).reshape(cache)


def _activation_pair(activation):
    """``(f, fprime)`` for a name in ``gdlib.activations.ACTIVATIONS`` or a given pair."""
    if isinstance(activation, tuple) and len(activation) == 2 and all(map(callable, activation)):
        return activation
    from gdlib.activations import get_activation

    return get_activation(activation)


def _dropout_rng(rng, dropout: float, train: bool):
    """The source of the dropout masks, or None when no mask is drawn."""
    if not (train and dropout > 0):
        return None
    if rng is None:
        raise ValueError(
            f"rng must be a numpy.random.Generator or an int seed when dropout={dropout} and "
            "train=True (the dropout masks are random), got rng=None"
        )
    return check_rng(rng)


def _add_penalties(params: dict, grads: dict, l1: float, l2: float) -> float:
    r"""Add the penalties' (sub)gradients on the weights ``W*`` to ``grads``; return their value.

    :math:`\frac{\lambda_2}{2}\sum\lVert W\rVert_F^2 + \lambda_1 \sum \lVert W \rVert_1`, with
    gradient :math:`\lambda_2 W + \lambda_1 \operatorname{sign}(W)` and sign(0) = 0, as
    ``gdlib.layers.l2_penalty`` and ``l1_penalty`` (which refuse non-finite weights; here a
    diverged model must report a NaN loss instead).
    """
    total = 0.0
    for key, W in params.items():
        if not key.startswith("W"):
            continue
        if l2 > 0:
            total += 0.5 * l2 * float(np.vdot(W, W))
            grads[key] = grads[key] + l2 * W
        if l1 > 0:
            total += l1 * float(np.abs(W).sum())
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
    Same interface as :class:`gdlib.model.MLP`, so it trains with ``gdlib.train.fit``.

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
        A name in :data:`gdlib.activations.ACTIVATIONS` or a pair ``(f, fprime)``; used after
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
        from gdlib.layers import he_init

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
        from gdlib.layers import dropout_forward

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
        from gdlib.layers import dropout_backward
        from gdlib.losses import _check_class_labels, _softmax_cross_entropy

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

    def layer_keys(self) -> dict[str, tuple[str, str]]:
        """``{"conv": ("W1", "b1"), "hidden": ("W2", "b2"), "output": ("W3", "b3")}``."""
        return {"conv": ("W1", "b1"), "hidden": ("W2", "b2"), "output": ("W3", "b3")}

    def copy(self) -> "CNN":
        """A new CNN with the same settings and copied parameters."""
        new = copy.copy(self)
        new.params = {key: value.copy() for key, value in self.params.items()}
        return new
