"""Wrong answers for the variants assignment, keyed by catalogue mistake."""

SUBMISSIONS = {
    "mb-in-place": '''
def iterate_minibatches(X, y, batch_size, rng):
    n = len(X)
    batch_size = n if batch_size is None else batch_size
    if batch_size < n:
        order = rng.permutation(n)
        X[:] = X[order]
        y[:] = y[order]
    return [(X[i:i + batch_size], y[i:i + batch_size]) for i in range(0, n, batch_size)]
''',
    "mb-with-replacement": '''
def iterate_minibatches(X, y, batch_size, rng):
    n = len(X)
    batch_size = n if batch_size is None else batch_size
    for start in range(0, n, batch_size):
        idx = rng.choice(n, size=min(batch_size, n - start))
        yield X[idx], y[idx]
''',
    "mb-drops-last": '''
def iterate_minibatches(X, y, batch_size, rng):
    n = len(X)
    if batch_size is None or batch_size == n:
        yield X, y
        return
    order = rng.permutation(n)
    for k in range(n // batch_size):
        idx = order[k * batch_size:(k + 1) * batch_size]
        yield X[idx], y[idx]
''',
    "mb-unpaired": '''
def iterate_minibatches(X, y, batch_size, rng):
    n = len(X)
    if batch_size is None:
        batch_size = n
    X_shuffled = X[rng.permutation(n)]
    y_shuffled = y[rng.permutation(n)]
    for start in range(0, n, batch_size):
        yield X_shuffled[start:start + batch_size], y_shuffled[start:start + batch_size]
''',
    "mb-no-shuffle": '''
def iterate_minibatches(X, y, batch_size, rng):
    n = len(X)
    if batch_size is None:
        batch_size = n
    for start in range(0, n, batch_size):
        yield X[start:start + batch_size], y[start:start + batch_size]
''',
    "mb-global-rng": '''
def iterate_minibatches(X, y, batch_size, rng):
    n = len(X)
    if batch_size is None:
        batch_size = n
    order = np.random.permutation(n)
    for start in range(0, n, batch_size):
        idx = order[start:start + batch_size]
        yield X[idx], y[idx]
''',
    "mb-same-order": '''
def iterate_minibatches(X, y, batch_size, rng):
    n = len(X)
    if batch_size is None:
        batch_size = n
    order = np.random.default_rng(42).permutation(n)
    for start in range(0, n, batch_size):
        idx = order[start:start + batch_size]
        yield X[idx], y[idx]
''',
    "tr-summed-gradient": '''
def train(X, y, *, batch_size, lr, num_epochs, rng):
    w = np.zeros(X.shape[1])
    b = 0.0
    for epoch in range(num_epochs):
        for Xb, yb in iterate_minibatches(X, y, batch_size, rng):
            err = sigmoid(Xb @ w + b) - yb
            w -= lr * Xb.T @ err
            b -= lr * err.sum()
    return w, b
''',
    "tr-batches-once": '''
def train(X, y, *, batch_size, lr, num_epochs, rng):
    w = np.zeros(X.shape[1])
    b = 0.0
    batches = list(iterate_minibatches(X, y, batch_size, rng))
    for epoch in range(num_epochs):
        for Xb, yb in batches:
            err = sigmoid(Xb @ w + b) - yb
            w -= lr * Xb.T @ err / len(yb)
            b -= lr * err.mean()
    return w, b
''',
    "tr-full-gradient": '''
def train(X, y, *, batch_size, lr, num_epochs, rng):
    w = np.zeros(X.shape[1])
    b = 0.0
    for epoch in range(num_epochs):
        for Xb, yb in iterate_minibatches(X, y, batch_size, rng):
            err = sigmoid(X @ w + b) - y
            w -= lr * X.T @ err / len(y)
            b -= lr * err.mean()
    return w, b
''',
}
