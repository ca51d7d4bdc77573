"""Wrong answers for the regularization assignment, keyed by catalogue mistake."""

SUBMISSIONS = {
    "l2-factor-2": '''
def l2_grad(W, lam):
    return 2 * lam * W
''',
    "l1-sign-zero": '''
def l1_grad(W, lam):
    return lam * (2.0 * (W >= 0) - 1.0)
''',
    "dropout-no-rescale": '''
def dropout_forward(X, p, rng):
    mask = (rng.random(X.shape) > p).astype(float)
    return X * mask, mask
''',
    "dropout-keep-probability": '''
def dropout_forward(X, p, rng):
    keep = rng.random(X.shape) < p
    mask = keep / (1 - p)
    return X * mask, mask
''',
    "dropout-backward-no-mask": '''
def dropout_backward(dout, mask):
    return dout
''',
}
