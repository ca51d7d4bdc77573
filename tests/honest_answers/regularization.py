"""Honest answers to the regularization exercise.

Each entry of SUBMISSIONS is the source of a complete, correct student answer (l2_grad, l1_grad,
dropout_forward, dropout_backward), written from the student notebook's text alone. It runs
after the notebook's setup cell (``np``, ``gdcheck``).
"""

SUBMISSIONS = {
    "one-liners": '''
def l2_grad(W, lam):
    return lam * W


def l1_grad(W, lam):
    return lam * np.sign(W)


def dropout_forward(X, p, rng):
    mask = (rng.random(X.shape) >= p) / (1 - p)
    return X * mask, mask


def dropout_backward(dout, mask):
    return dout * mask
''',
    "where-and-astype": '''
def l2_grad(W, lam):
    return np.multiply(W, lam)


def l1_grad(W, lam):
    return np.where(W > 0, lam, np.where(W < 0, -lam, 0.0))


def dropout_forward(X, p, rng):
    keep = rng.random(X.shape) >= p
    mask = keep.astype(float) * (1.0 / (1.0 - p))
    out = X * mask
    return out, mask


def dropout_backward(dout, mask):
    return np.multiply(dout, mask)
''',
    "copies-and-masks": '''
def l2_grad(W, lam):
    grad = W.copy()
    grad *= lam
    return grad


def l1_grad(W, lam):
    grad = np.zeros_like(W, dtype=float)
    grad[W > 0] = lam
    grad[W < 0] = -lam
    return grad


def dropout_forward(X, p, rng):
    mask = np.zeros(X.shape)
    kept = rng.random(X.shape) >= p
    mask[kept] = 1.0 / (1.0 - p)
    return (X * mask, mask)


def dropout_backward(dout, mask):
    dX = dout.copy()
    dX *= mask
    return dX
''',
    "binomial-draw": '''
def l2_grad(W, lam):
    return W * lam


def l1_grad(W, lam):
    return lam * (W > 0) - lam * (W < 0)


def dropout_forward(X, p, rng):
    B = rng.binomial(1, 1.0 - p, size=X.shape)
    M = B / (1.0 - p)
    return X * M, M


def dropout_backward(dout, mask):
    return mask * dout
''',
    "less-than-keep-prob": '''
def l2_grad(W, lam):
    return float(lam) * np.asarray(W, dtype=float)


def l1_grad(W, lam):
    return float(lam) * np.sign(np.asarray(W, dtype=float))


def dropout_forward(X, p, rng):
    keep_prob = 1.0 - p
    mask = np.where(rng.uniform(size=X.shape) < keep_prob, 1.0 / keep_prob, 0.0)
    return X * mask, mask


def dropout_backward(dout, mask):
    return dout * mask
''',
    "p-zero-shortcut-list": '''
def l2_grad(W, lam):
    return lam * np.array(W, copy=True)


def l1_grad(W, lam):
    return np.sign(W) * lam


def dropout_forward(X, p, rng):
    if p == 0:
        mask = np.ones_like(X, dtype=float)
        return [X * mask, mask]
    scale = 1.0 / (1.0 - p)
    mask = scale * (rng.random(size=X.shape) >= p)
    return [X * mask, mask]


def dropout_backward(dout, mask):
    return dout * mask
''',
}

WHAT = {
    "one-liners": "lam * W; lam * np.sign(W); mask = (rng.random(shape) >= p) / (1 - p)",
    "where-and-astype": "np.multiply; nested np.where for the sign; bool mask .astype(float) times the reciprocal 1 / (1 - p)",
    "copies-and-masks": "in-place on copies; sign by boolean-mask assignment; mask filled by boolean indexing; (out, mask) as a tuple",
    "binomial-draw": "L1 as lam (W > 0) - lam (W < 0); mask from rng.binomial(1, 1 - p) (another correct way of drawing)",
    "less-than-keep-prob": "mask from rng.uniform(size) < 1 - p via np.where; float(lam) casts",
    "p-zero-shortcut-list": "p == 0 returns a ones mask without drawing; returns the pair as a list [out, mask]",
}
