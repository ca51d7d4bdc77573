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
matrix product, with no Python loop over examples. :class:`gdlib.nn.CNN` chains them into
the network of the lab.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from gdlib._validate import (
    check_array,
    check_non_negative_int,
    check_positive_int,
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
