"""Honest answers to the gradient-descent exercise.

Each entry of SUBMISSIONS is the source of a complete, correct student answer (all of
``gradient_descent``, ``numerical_gradient`` and ``two_layer_backward``), written from the
student notebook's text alone. It runs after the notebook's setup cell (``np``, ``gdcheck``).
"""

SUBMISSIONS = {
    "list-append-copy-onehot": '''
def gradient_descent(grad, x0, *, lr, num_steps):
    x = np.array(x0, dtype=float)
    path = [x.copy()]
    for _ in range(num_steps):
        x = x - lr * grad(x)
        path.append(x.copy())
    return np.array(path)


def numerical_gradient(f, x, h=1e-5):
    out = np.zeros_like(x, dtype=float)
    for idx in np.ndindex(x.shape):
        xp = x.copy()
        xm = x.copy()
        xp[idx] += h
        xm[idx] -= h
        out[idx] = (f(xp) - f(xm)) / (2 * h)
    return out


def two_layer_backward(X, y, params):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    n = X.shape[0]
    Z1 = X @ W1 + b1
    A1 = np.maximum(Z1, 0)
    S = A1 @ W2 + b2
    S = S - S.max(axis=1, keepdims=True)
    logsum = np.log(np.exp(S).sum(axis=1, keepdims=True))
    logP = S - logsum
    Y = np.zeros_like(S)
    Y[np.arange(n), y] = 1.0
    loss = -np.sum(Y * logP) / n
    P = np.exp(logP)
    dS = (P - Y) / n
    dW2 = A1.T @ dS
    db2 = dS.sum(axis=0)
    dA1 = dS @ W2.T
    dZ1 = dA1 * (Z1 > 0)
    dW1 = X.T @ dZ1
    db1 = dZ1.sum(axis=0)
    return float(loss), {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
''',
    "prealloc-restore-inplace": '''
def gradient_descent(grad, x0, *, lr, num_steps):
    x0 = np.asarray(x0, dtype=float)
    path = np.empty((num_steps + 1, x0.shape[0]))
    path[0] = x0
    for k in range(num_steps):
        path[k + 1] = path[k] - lr * grad(path[k])
    return path


def numerical_gradient(f, x, h=1e-5):
    grad = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        fp = f(x)
        x[i] = old - h
        fm = f(x)
        x[i] = old
        grad[i] = (fp - fm) / (2 * h)
    return grad


def two_layer_backward(X, y, params):
    n = len(y)
    z1 = X.dot(params["W1"]) + params["b1"]
    a1 = np.where(z1 > 0, z1, 0.0)
    scores = a1.dot(params["W2"]) + params["b2"]
    shifted = scores - np.max(scores, axis=1)[:, None]
    exp_s = np.exp(shifted)
    sums = exp_s.sum(axis=1)
    rows = np.arange(n)
    loss = np.mean(np.log(sums) - shifted[rows, y])
    probs = exp_s / sums[:, None]
    dscores = probs.copy()
    dscores[rows, y] -= 1
    dscores /= n
    grads = {}
    grads["W2"] = a1.T.dot(dscores)
    grads["b2"] = np.sum(dscores, axis=0)
    da1 = dscores.dot(params["W2"].T)
    dz1 = np.where(z1 > 0, da1, 0.0)
    grads["W1"] = X.T.dot(dz1)
    grads["b1"] = np.sum(dz1, axis=0)
    return loss, grads
''',
    "add-subtract-2h-restore": '''
def gradient_descent(grad, x0, *, lr, num_steps):
    path = np.zeros((num_steps + 1, len(x0)))
    x = x0.copy()
    path[0] = x
    for k in range(1, num_steps + 1):
        g = grad(x)
        x = x - lr * g
        path[k] = x
    return path


def numerical_gradient(f, x, h=1e-5):
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    while not it.finished:
        ix = it.multi_index
        x[ix] += h
        fxph = f(x)
        x[ix] -= 2 * h
        fxmh = f(x)
        x[ix] += h
        grad[ix] = (fxph - fxmh) / (2 * h)
        it.iternext()
    return grad


def two_layer_backward(X, y, params):
    W1, b1, W2, b2 = (params[k] for k in ("W1", "b1", "W2", "b2"))
    n = X.shape[0]
    hidden = X @ W1 + b1
    relu_mask = hidden > 0
    act = hidden * relu_mask
    S = act @ W2 + b2
    m = S.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.sum(np.exp(S - m), axis=1))
    loss = np.sum(lse - S[np.arange(n), y]) / n
    P = np.exp(S - lse[:, None])
    P[np.arange(n), y] -= 1.0
    dS = P / n
    dW2 = act.T @ dS
    db2 = dS.sum(0)
    dH = (dS @ W2.T) * relu_mask
    return loss, {"W1": X.T @ dH, "b1": dH.sum(0), "W2": dW2, "b2": db2}
''',
    "flat-view-loops": '''
def gradient_descent(grad, x0, *, lr, num_steps):
    xs = []
    x = np.copy(x0)
    for step in range(num_steps + 1):
        xs.append(x)
        if step < num_steps:
            x = x - lr * grad(x)
    return np.stack(xs)


def numerical_gradient(f, x, h=1e-5):
    x_flat = x.reshape(-1)
    g = np.empty(x.size)
    for j in range(x.size):
        xp = x_flat.copy()
        xp[j] += h
        xm = x_flat.copy()
        xm[j] -= h
        g[j] = (f(xp.reshape(x.shape)) - f(xm.reshape(x.shape))) / (2.0 * h)
    return g.reshape(x.shape)


def two_layer_backward(X, y, params):
    n = X.shape[0]
    k = params["W2"].shape[1]
    Z1 = X @ params["W1"] + params["b1"]
    A1 = np.maximum(0.0, Z1)
    S = A1 @ params["W2"] + params["b2"]
    loss = 0.0
    dS = np.zeros_like(S)
    for i in range(n):
        s = S[i] - S[i].max()
        e = np.exp(s)
        total = e.sum()
        loss += np.log(total) - s[y[i]]
        p = e / total
        onehot = np.zeros(k)
        onehot[y[i]] = 1.0
        dS[i] = (p - onehot) / n
    loss /= n
    dZ1 = (dS @ params["W2"].T) * (Z1 > 0).astype(float)
    grads = {
        "W1": X.T @ dZ1,
        "b1": dZ1.sum(axis=0),
        "W2": A1.T @ dS,
        "b2": dS.sum(axis=0),
    }
    return float(loss), grads
''',
    "probs-then-log": '''
def gradient_descent(grad, x0, *, lr, num_steps):
    d = np.size(x0)
    path = np.zeros((num_steps + 1, d))
    path[0, :] = x0
    for k in range(num_steps):
        path[k + 1, :] = path[k, :] - lr * np.asarray(grad(path[k, :].copy()))
    return path


def numerical_gradient(f, x, h=1e-5):
    result = np.zeros(x.shape, dtype=float)
    for index in np.ndindex(*x.shape):
        e = np.zeros(x.shape)
        e[index] = h
        result[index] = (f(x + e) - f(x - e)) / (2 * h)
    return result


def two_layer_backward(X, y, params):
    n = X.shape[0]
    Z1 = np.dot(X, params["W1"]) + params["b1"]
    A1 = np.maximum(Z1, 0)
    S = np.dot(A1, params["W2"]) + params["b2"]
    S_stable = S - np.max(S, axis=1, keepdims=True)
    E = np.exp(S_stable)
    P = E / np.sum(E, axis=1, keepdims=True)
    correct = P[np.arange(n), y]
    loss = -np.mean(np.log(correct))
    G = P.copy()
    G[np.arange(n), y] -= 1
    G = G / n
    dW2 = np.dot(A1.T, G)
    db2 = np.sum(G, axis=0)
    dA1 = np.dot(G, params["W2"].T)
    dZ1 = dA1.copy()
    dZ1[Z1 <= 0] = 0
    dW1 = np.dot(X.T, dZ1)
    db1 = np.sum(dZ1, axis=0)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
''',
    "helpers-inside-list-return": '''
def gradient_descent(grad, x0, *, lr, num_steps):
    def step(x):
        return x - lr * grad(x)

    rows = [np.array(x0, dtype=np.float64, copy=True)]
    while len(rows) <= num_steps:
        rows.append(step(rows[-1]))
    return np.vstack(rows)


def numerical_gradient(f, x, h=1e-5):
    def bumped(idx, delta):
        y = np.array(x, dtype=float, copy=True)
        y[idx] = y[idx] + delta
        return f(y)

    return np.array([(bumped(idx, h) - bumped(idx, -h)) / (2 * h) for idx in np.ndindex(x.shape)],
                    dtype=float).reshape(x.shape)


def two_layer_backward(X, y, params):
    def softmax_xent(scores, labels):
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        m = scores.shape[0]
        loss = -log_probs[np.arange(m), labels].mean()
        d = np.exp(log_probs)
        d[np.arange(m), labels] -= 1
        return loss, d / m

    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    pre = X @ W1 + b1
    hid = np.maximum(pre, 0)
    loss, dS = softmax_xent(hid @ W2 + b2, y)
    dpre = (dS @ W2.T) * np.heaviside(pre, 0.0)
    grads = dict(W1=X.T @ dpre, b1=dpre.sum(axis=0), W2=hid.T @ dS, b2=dS.sum(axis=0))
    return [loss, grads]
''',
    "einsum-logsumexp": '''
def gradient_descent(grad, x0, *, lr, num_steps):
    x = x0 + 0.0
    path = np.empty((num_steps + 1,) + x.shape, dtype=float)
    path[0] = x
    for k in range(num_steps):
        x = x - lr * grad(x)
        path[k + 1] = x
    return path


def numerical_gradient(f, x, h=1e-5):
    grad = np.empty_like(x, dtype=float)
    for idx in np.ndindex(x.shape):
        original = x[idx].copy()
        x[idx] = original + h
        f_plus = f(x)
        x[idx] = original - h
        f_minus = f(x)
        x[idx] = original
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad


def two_layer_backward(X, y, params):
    n = X.shape[0]
    Z1 = np.einsum("nd,dh->nh", X, params["W1"]) + params["b1"]
    A1 = Z1.clip(min=0)
    S = np.einsum("nh,hk->nk", A1, params["W2"]) + params["b2"]
    smax = S.max(axis=1)
    lse = smax + np.log(np.exp(S - smax[:, None]).sum(axis=1))
    loss = float(np.mean(lse) - np.mean(np.take_along_axis(S, y[:, None], axis=1)))
    P = np.exp(S - lse[:, None])
    onehot = np.eye(S.shape[1])[y]
    dS = (P - onehot) / n
    dA1 = np.einsum("nk,hk->nh", dS, params["W2"])
    dZ1 = np.where(Z1 > 0, dA1, 0.0)
    return loss, {"W1": np.einsum("nd,nh->dh", X, dZ1), "b1": dZ1.sum(axis=0),
                  "W2": np.einsum("nh,nk->hk", A1, dS), "b2": dS.sum(axis=0)}
''',
}

WHAT = {
    "list-append-copy-onehot": "path as a list of copies; numerical gradient on two copies per index; one-hot labels with log-softmax",
    "prealloc-restore-inplace": "preallocated path filled row by row; numerical gradient perturbs x in place and restores the saved value; index subtraction",
    "add-subtract-2h-restore": "x0.copy(); numerical gradient with x[i] += h, x[i] -= 2h, x[i] += h (np.nditer); logsumexp loss",
    "flat-view-loops": "path via np.stack; numerical gradient on a flat copy; per-example softmax loop",
    "probs-then-log": "path of float64 zeros; numerical gradient with a basis vector x +/- h e_i; stable softmax P first, then loss = -mean(log P[i, y_i])",
    "helpers-inside-list-return": "helper functions inside; numerical gradient as a list comprehension reshaped; heaviside(pre, 0) for relu'; returns [loss, grads] as a list",
    "einsum-logsumexp": "path shaped (num_steps + 1,) + x0.shape via x0 + 0.0; restore with saved value; einsum, take_along_axis and np.eye one-hot",
}
