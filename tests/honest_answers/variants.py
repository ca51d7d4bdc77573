"""Honest answers to the variants (batch / stochastic / mini-batch) exercise.

Each entry of SUBMISSIONS is the source of a complete, correct student answer
(iterate_minibatches, train), written from the student notebook's text alone. It runs after the
notebook's setup cell (``np``, ``gdcheck``, ``sigmoid``).
"""

SUBMISSIONS = {
    "generator-slices": '''
def iterate_minibatches(X, y, batch_size, rng):
    n = X.shape[0]
    if batch_size is None or batch_size == n:
        yield X, y
        return
    order = rng.permutation(n)
    Xs, ys = X[order], y[order]
    for start in range(0, n, batch_size):
        yield Xs[start:start + batch_size], ys[start:start + batch_size]


def train(X, y, *, batch_size, lr, num_epochs, rng):
    w = np.zeros(X.shape[1])
    b = 0.0
    for _ in range(num_epochs):
        for Xb, yb in iterate_minibatches(X, y, batch_size, rng):
            m = Xb.shape[0]
            p = sigmoid(Xb @ w + b)
            grad_w = Xb.T @ (p - yb) / m
            grad_b = np.sum(p - yb) / m
            w = w - lr * grad_w
            b = b - lr * grad_b
    return w, b
''',
    "list-of-index-batches": '''
def iterate_minibatches(X, y, batch_size, rng):
    n = len(X)
    if batch_size is None or batch_size >= n:
        return [(X, y)]
    order = rng.permutation(n)
    batches = []
    for start in range(0, n, batch_size):
        idx = order[start:start + batch_size]
        batches.append((X[idx], y[idx]))
    return batches


def train(X, y, *, batch_size, lr, num_epochs, rng):
    n, d = X.shape
    w = np.zeros(d)
    b = 0.0
    for epoch in range(num_epochs):
        for X_batch, y_batch in iterate_minibatches(X, y, batch_size, rng):
            err = sigmoid(X_batch.dot(w) + b) - y_batch
            w = w - lr * X_batch.T.dot(err) / len(y_batch)
            b = b - lr * err.mean()
    return w, float(b)
''',
    "split-at-cuts": '''
def iterate_minibatches(X, y, batch_size, rng):
    n = X.shape[0]
    if batch_size is None:
        batch_size = n
    if batch_size == n:
        yield (X, y)
    else:
        order = rng.permutation(n)
        cuts = np.arange(batch_size, n, batch_size)
        for Xb, yb in zip(np.split(X[order], cuts), np.split(y[order], cuts)):
            yield Xb, yb


def train(X, y, *, batch_size, lr, num_epochs, rng):
    w = np.zeros(X.shape[1])
    b = 0.0
    for _ in range(num_epochs):
        for Xb, yb in iterate_minibatches(X, y, batch_size, rng):
            residual = sigmoid(Xb @ w + b) - yb
            grad_w = np.mean(residual[:, None] * Xb, axis=0)
            grad_b = np.mean(residual)
            w, b = w - lr * grad_w, b - lr * grad_b
    return (w, b)
''',
    "while-loop-copies": '''
def iterate_minibatches(X, y, batch_size, rng):
    n = X.shape[0]
    if batch_size in (None, n):
        yield X, y
        return
    order = rng.permutation(n)
    X_shuf = X[order]
    y_shuf = y[order]
    i = 0
    while i < n:
        j = min(i + batch_size, n)
        yield X_shuf[i:j].copy(), y_shuf[i:j].copy()
        i = j


def train(X, y, *, batch_size, lr, num_epochs, rng):
    d = X.shape[1]
    w = np.zeros(d)
    b = 0.0
    epoch = 0
    while epoch < num_epochs:
        for Xb, yb in iterate_minibatches(X, y, batch_size, rng):
            m = len(yb)
            z = Xb @ w + b
            diff = sigmoid(z) - yb
            grad_w = (1.0 / m) * (Xb.T @ diff)
            grad_b = (1.0 / m) * diff.sum()
            w = w - lr * grad_w
            b = b - lr * grad_b
        epoch += 1
    return w, b
''',
    "per-example-sum-loop": '''
def iterate_minibatches(X, y, batch_size, rng):
    n = len(y)
    if batch_size is None or batch_size == n:
        yield X, y
    else:
        perm = rng.permutation(n)
        num_batches = (n + batch_size - 1) // batch_size
        for k in range(num_batches):
            sel = perm[k * batch_size:(k + 1) * batch_size]
            yield X[sel], y[sel]


def train(X, y, *, batch_size, lr, num_epochs, rng):
    w = np.zeros(X.shape[1])
    b = 0.0
    for _ in range(num_epochs):
        for Xb, yb in iterate_minibatches(X, y, batch_size, rng):
            m = len(yb)
            gw = np.zeros_like(w)
            gb = 0.0
            for xi, yi in zip(Xb, yb):
                err = sigmoid(xi @ w + b) - yi
                gw += err * xi
                gb += err
            w = w - lr * gw / m
            b = b - lr * gb / m
    return w, b
''',
    "helper-grad-list-return": '''
def iterate_minibatches(X, y, batch_size, rng):
    n = X.shape[0]
    size = n if batch_size is None else batch_size
    if size == n:
        return [(X, y)]
    order = rng.permutation(n)
    Xo, yo = X[order], y[order]
    return [(Xo[s:s + size], yo[s:s + size]) for s in range(0, n, size)]


def train(X, y, *, batch_size, lr, num_epochs, rng):
    def mean_gradient(w, b, Xb, yb):
        r = sigmoid(Xb @ w + b) - yb
        return Xb.T @ r / r.size, r.sum() / r.size

    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(num_epochs):
        for batch in iterate_minibatches(X, y, batch_size, rng):
            grad_w, grad_b = mean_gradient(w, b, *batch)
            w = w - lr * grad_w
            b = b - lr * grad_b
    return [w, b]
''',
    "yield-lists-enumerate": '''
def iterate_minibatches(X, y, batch_size, rng):
    n = X.shape[0]
    if batch_size is None or batch_size == n:
        yield [X, y]
        return
    order = rng.permutation(n)
    for k, start in enumerate(range(0, n, batch_size)):
        idx = order[start:start + batch_size]
        yield [X[idx], y[idx]]


def train(X, y, *, batch_size, lr, num_epochs, rng):
    w = np.zeros(X.shape[1])
    b = 0.0
    for _ in range(num_epochs):
        for Xb, yb in iterate_minibatches(X, y, batch_size, rng):
            diff = sigmoid(np.dot(Xb, w) + b) - yb
            w = w - lr * np.dot(diff, Xb) / diff.shape[0]
            b = b - lr * np.mean(diff)
    return w, b
''',
}

WHAT = {
    "generator-slices": "generator; permute once, slice X[order] consecutively; X_B^T (p - y) / m",
    "list-of-index-batches": "returns a list; batch_size >= n treated as the full batch; slices of the permutation used as index arrays; float(b)",
    "split-at-cuts": "batch_size None -> n first; np.split at multiples of batch_size; mean of residual * rows",
    "while-loop-copies": "batch_size in (None, n); while loop yielding copies; gradient with 1/m factors; while over epochs",
    "per-example-sum-loop": "batches by index arithmetic; the batch gradient as a Python sum over examples divided by m",
    "helper-grad-list-return": "list comprehension of batches; gradient helper inside train; returns [w, b] as a list",
    "yield-lists-enumerate": "yields each batch as a list [X_batch, y_batch]; gradient as diff @ Xb / m",
}
