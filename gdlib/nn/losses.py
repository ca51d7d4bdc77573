r"""Loss functions, each returning the loss and its gradient with respect to its first argument.

Every loss is the **mean over the n examples** (never the sum), so that a gradient step does
not grow with the batch size (see the mini-batch conventions)::

    loss, dloss = mse(pred, y)                        # regression
    loss, dlogits = softmax_cross_entropy(logits, y)  # k classes, integer labels
    loss, dlogits = binary_cross_entropy(logits, y)   # 2 classes, labels 0/1

The classification losses take *logits* (scores before the softmax or sigmoid) and are computed
from them with the log-sum-exp trick, so they stay finite for logits as large as 1e4, where the
naive ``-log(softmax(z))`` gives ``inf`` or ``nan``.

Introduced in the gradient-descent chapter (``ch-gradient-descent``).
"""

from __future__ import annotations

import numpy as np

from gdlib._validate import check_array, check_same_shape


def softmax(z):
    r"""Row-wise softmax, computed stably.

    .. math::

        \mathrm{softmax}(z)_{ij} = \frac{e^{z_{ij} - m_i}}{\sum_{l} e^{z_{il} - m_i}},
        \qquad m_i = \max_l z_{il}.

    Subtracting the row maximum :math:`m_i` leaves the result unchanged (softmax is invariant
    to adding a constant to a row) and keeps every exponent :math:`\le 0`, so nothing overflows.

    Parameters
    ----------
    z : array_like, shape (n, k) or (k,)
        Logits; a 1-D array is treated as a single row.

    Returns
    -------
    ndarray of float64, same shape as ``z``
        Each row is a probability vector (non-negative, summing to 1).
    """
    z = check_array(z, "z").astype(np.float64, copy=False)
    if z.ndim == 0:
        raise ValueError(f"z must have at least one dimension, got z of shape {z.shape}")
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    e /= e.sum(axis=-1, keepdims=True)
    return e


def mse(pred, y):
    r"""Mean squared error over examples, and its gradient with respect to ``pred``.

    .. math::

        L = \frac{1}{n} \sum_{i=1}^{n} \lVert \hat y_i - y_i \rVert^2, \qquad
        \frac{\partial L}{\partial \hat y_i} = \frac{2}{n} (\hat y_i - y_i).

    For 1-D targets this is the usual mean of squared errors (``sklearn.metrics.mean_squared_error``,
    ``torch.nn.MSELoss``). For k outputs per example the squared errors are summed over the k
    outputs and averaged over the n examples, which is k times ``torch.nn.MSELoss()``.

    Parameters
    ----------
    pred : array_like, shape (n,) or (n, k)
        Predictions.
    y : array_like, same shape as ``pred``
        Targets.

    Returns
    -------
    loss : float
    dpred : ndarray of float64, same shape as ``pred``
    """
    pred = check_array(pred, "pred").astype(np.float64, copy=False)
    y = check_array(y, "y")
    if pred.ndim not in (1, 2):
        raise ValueError(f"pred must have shape (n,) or (n, k), got pred of shape {pred.shape}")
    check_same_shape(pred, y, "pred", "y")
    n = pred.shape[0]
    if n == 0:
        raise ValueError(f"pred must hold at least one example, got pred of shape {pred.shape}")
    return _mse(pred, y)


def _mse(pred: np.ndarray, y: np.ndarray):
    """:func:`mse` on checked arrays of the same shape."""
    n = pred.shape[0]
    diff = pred - y
    loss = float(np.vdot(diff, diff)) / n
    diff *= 2.0 / n
    return loss, diff


def _check_class_labels(y, n: int, k: int) -> np.ndarray:
    """Return ``y`` as an int array of shape (n,), or raise unless every label is in 0..k-1."""
    y_arr = np.asarray(y)
    if y_arr.shape != (n,):
        raise ValueError(f"y must have shape ({n},) to match the logits, got y of shape {y_arr.shape}")
    if y_arr.dtype.kind == "f":
        not_integral = ~np.isfinite(y_arr) | (y_arr != np.round(y_arr))
        if np.any(not_integral):
            bad = y_arr[not_integral][0].item()
            raise ValueError(f"y must hold integer class labels, got y containing {bad!r}")
        y_arr = y_arr.astype(np.intp)
    elif y_arr.dtype.kind == "b":
        y_arr = y_arr.astype(np.intp)  # a bool index would act as a mask
    elif y_arr.dtype.kind not in "iu":
        raise TypeError(f"y must hold integer class labels, got y of dtype {y_arr.dtype}")
    if n and (y_arr.min() < 0 or y_arr.max() >= k):
        bad = y_arr[(y_arr < 0) | (y_arr >= k)][0]
        raise ValueError(
            f"y must hold class labels in 0..{k - 1} (the logits have k={k} columns), "
            f"got y containing {int(bad)}"
        )
    return y_arr


def softmax_cross_entropy(logits, y):
    r"""Softmax followed by cross-entropy, averaged over examples, and its gradient.

    With :math:`p_i = \mathrm{softmax}(z_i)` and true class :math:`y_i`,

    .. math::

        L = \frac{1}{n} \sum_{i=1}^{n} -\log p_{i, y_i}
          = \frac{1}{n} \sum_{i=1}^{n} \Bigl( m_i + \log \sum_{l} e^{z_{il} - m_i} - z_{i, y_i} \Bigr),

        \frac{\partial L}{\partial z_{ij}} = \frac{1}{n} \bigl( p_{ij} - [j = y_i] \bigr),

    where :math:`m_i = \max_l z_{il}` (the log-sum-exp trick). This is
    ``torch.nn.CrossEntropyLoss()`` on logits.

    Parameters
    ----------
    logits : array_like, shape (n, k)
        Scores before the softmax.
    y : array_like of int, shape (n,)
        Class labels in ``0 .. k-1``.

    Returns
    -------
    loss : float
    dlogits : ndarray of float64, shape (n, k)
    """
    z = check_array(logits, "logits", ndim=2).astype(np.float64, copy=False)
    n, k = z.shape
    if n == 0 or k == 0:
        raise ValueError(f"logits must have shape (n, k) with n, k >= 1, got logits of shape {z.shape}")
    return _softmax_cross_entropy(z, _check_class_labels(y, n, k))


def _softmax_cross_entropy(z: np.ndarray, y: np.ndarray):
    """:func:`softmax_cross_entropy` on checked float64 logits (n, k) and int labels (n,)."""
    return _shifted_softmax_cross_entropy(z - z.max(axis=1, keepdims=True), y)


def _softmax_cross_entropy_inplace(z: np.ndarray, y: np.ndarray):
    """:func:`_softmax_cross_entropy` that overwrites ``z`` with the returned gradient.

    The same numbers, without a new (n, k) array: for a training loop that reuses its buffers.
    The row maxima are read at the ``argmax`` (faster than a maximum over short rows); they
    can differ from ``z.max`` only in the sign of a zero, which changes neither ``exp`` nor
    the loss.
    """
    rows = np.arange(z.shape[0])
    np.subtract(z, z[rows, z.argmax(axis=1)][:, None], out=z)
    return _shifted_softmax_cross_entropy(z, y, rows)


def _shifted_softmax_cross_entropy(shifted: np.ndarray, y: np.ndarray, rows=None):
    """The loss and gradient from logits minus their row maxima; ``shifted`` becomes the gradient.

    (``np.add.reduce`` is what ``ndarray.sum`` calls, minus a layer of Python: this runs at
    every training step.)
    """
    n = shifted.shape[0]
    rows = np.arange(n) if rows is None else rows
    picked = float(np.add.reduce(shifted[rows, y]))
    probs = np.exp(shifted, out=shifted)
    sums = np.add.reduce(probs, axis=1)
    loss = (float(np.add.reduce(np.log(sums))) - picked) / n
    probs /= sums[:, None]
    probs[rows, y] -= 1.0
    probs *= 1.0 / n
    return loss, probs


def binary_cross_entropy(logits, y):
    r"""Sigmoid followed by binary cross-entropy, averaged over examples, and its gradient.

    With :math:`\sigma(z) = 1/(1+e^{-z})` and labels :math:`y_i \in \{0, 1\}`,

    .. math::

        L = \frac{1}{n} \sum_{i=1}^{n} -\bigl[ y_i \log \sigma(z_i) + (1-y_i) \log(1-\sigma(z_i)) \bigr]
          = \frac{1}{n} \sum_{i=1}^{n} \Bigl( \max(z_i, 0) - z_i y_i + \log\bigl(1 + e^{-|z_i|}\bigr) \Bigr),

        \frac{\partial L}{\partial z_i} = \frac{1}{n} \bigl( \sigma(z_i) - y_i \bigr).

    The second form (computed with ``log1p``) never exponentiates a positive number, so it is
    finite for any finite logit. This is ``torch.nn.BCEWithLogitsLoss()``.

    Parameters
    ----------
    logits : array_like, shape (n,)
        Scores before the sigmoid.
    y : array_like, shape (n,)
        Labels, each 0 or 1 (bool, int or float).

    Returns
    -------
    loss : float
    dlogits : ndarray of float64, shape (n,)
    """
    z = check_array(logits, "logits", ndim=1).astype(np.float64, copy=False)
    n = z.shape[0]
    if n == 0:
        raise ValueError(f"logits must hold at least one example, got logits of shape {z.shape}")
    y_arr = np.asarray(y)
    if y_arr.shape != (n,):
        raise ValueError(f"y must have shape ({n},) to match the logits, got y of shape {y_arr.shape}")
    if not (np.issubdtype(y_arr.dtype, np.number) or y_arr.dtype == bool):
        raise TypeError(f"y must hold labels 0 or 1, got y of dtype {y_arr.dtype}")
    return _binary_cross_entropy(z, _check_binary_labels(y_arr))


def _check_binary_labels(y_arr: np.ndarray) -> np.ndarray:
    """Return the labels as float64, or raise if any is not 0 or 1."""
    not_binary = (y_arr != 0) & (y_arr != 1)
    if np.any(not_binary):
        raise ValueError(f"y must hold labels 0 or 1, got y containing {y_arr[not_binary][0].item()!r}")
    return y_arr.astype(np.float64, copy=False)


def _binary_cross_entropy(z: np.ndarray, y: np.ndarray):
    """:func:`binary_cross_entropy` on checked float64 logits (n,) and float 0/1 labels (n,)."""
    n = z.shape[0]
    e = np.exp(-np.abs(z))
    loss = float((np.maximum(z, 0.0) - z * y + np.log1p(e)).sum()) / n
    r = 1.0 / (1.0 + e)
    sig = np.where(z >= 0, r, e * r)
    sig -= y
    sig *= 1.0 / n
    return loss, sig
