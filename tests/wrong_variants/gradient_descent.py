"""Wrong answers for the gradient-descent assignment, keyed by catalogue mistake."""

SUBMISSIONS = {
    "gd-ascent": '''
def gradient_descent(grad, x0, *, lr, num_steps):
    path = [np.array(x0, dtype=float)]
    for k in range(num_steps):
        path.append(path[k] + lr * grad(path[k]))
    return np.array(path)
''',
    "gd-no-start": '''
def gradient_descent(grad, x0, *, lr, num_steps):
    x = x0.copy()
    path = np.zeros((num_steps, len(x0)))
    for k in range(num_steps):
        x = x - lr * grad(x)
        path[k] = x
    return path
''',
    "gd-aliasing": '''
def gradient_descent(grad, x0, *, lr, num_steps):
    x = x0.astype(float)
    path = [x]
    for k in range(num_steps):
        x -= lr * grad(x)
        path.append(x)
    return np.vstack(path)
''',
    "ng-forward": '''
def numerical_gradient(f, x, h=1e-5):
    fx = f(x)
    grad = np.empty(x.shape)
    for i in np.ndindex(x.shape):
        x_plus = x.copy()
        x_plus[i] += h
        grad[i] = (f(x_plus) - fx) / h
    return grad
''',
    "ng-missing-2": '''
def numerical_gradient(f, x, h=1e-5):
    grad = np.empty(x.shape)
    for i in np.ndindex(x.shape):
        x_plus, x_minus = x.copy(), x.copy()
        x_plus[i] += h
        x_minus[i] -= h
        grad[i] = (f(x_plus) - f(x_minus)) / h
    return grad
''',
    "ng-all-at-once": '''
def numerical_gradient(f, x, h=1e-5):
    grad = np.empty(x.shape)
    for i in np.ndindex(x.shape):
        grad[i] = (f(x + h) - f(x - h)) / (2 * h)
    return grad
''',
    "ng-not-restored": '''
def numerical_gradient(f, x, h=1e-5):
    grad = np.empty(x.shape)
    for i in np.ndindex(x.shape):
        x[i] += h
        up = f(x)
        x[i] -= 2 * h
        down = f(x)
        grad[i] = (up - down) / (2 * h)
    return grad
''',
    "tl-relu-at-zero": '''
def two_layer_backward(X, y, params):
    n = len(X)
    z1 = X @ params["W1"] + params["b1"]
    a1 = np.maximum(0, z1)
    s = a1 @ params["W2"] + params["b2"]
    s = s - s.max(axis=1, keepdims=True)
    p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(p[np.arange(n), y]))
    ds = p.copy()
    ds[np.arange(n), y] -= 1
    ds = ds / n
    dz1 = ds @ params["W2"].T
    dz1[z1 < 0] = 0
    return loss, {"W1": X.T @ dz1, "b1": dz1.sum(0), "W2": a1.T @ ds, "b2": ds.sum(0)}
''',
    "tl-no-relu-mask": '''
def two_layer_backward(X, y, params):
    n = len(X)
    z1 = X @ params["W1"] + params["b1"]
    a1 = np.maximum(0, z1)
    s = a1 @ params["W2"] + params["b2"]
    s = s - s.max(axis=1, keepdims=True)
    p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(p[np.arange(n), y]))
    ds = p.copy()
    ds[np.arange(n), y] -= 1
    ds = ds / n
    dz1 = ds @ params["W2"].T
    return loss, {"W1": X.T @ dz1, "b1": dz1.sum(0), "W2": a1.T @ ds, "b2": ds.sum(0)}
''',
    "tl-mask-by-activation": '''
def two_layer_backward(X, y, params):
    n = len(X)
    z1 = X @ params["W1"] + params["b1"]
    a1 = np.maximum(0, z1)
    s = a1 @ params["W2"] + params["b2"]
    s = s - s.max(axis=1, keepdims=True)
    p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(p[np.arange(n), y]))
    ds = p.copy()
    ds[np.arange(n), y] -= 1
    ds = ds / n
    dz1 = (ds @ params["W2"].T) * a1
    return loss, {"W1": X.T @ dz1, "b1": dz1.sum(0), "W2": a1.T @ ds, "b2": ds.sum(0)}
''',
    "tl-sum-not-mean": '''
def two_layer_backward(X, y, params):
    n = len(X)
    z1 = X @ params["W1"] + params["b1"]
    a1 = np.maximum(0, z1)
    s = a1 @ params["W2"] + params["b2"]
    s = s - s.max(axis=1, keepdims=True)
    p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
    loss = -np.sum(np.log(p[np.arange(n), y]))
    ds = p.copy()
    ds[np.arange(n), y] -= 1
    dz1 = (ds @ params["W2"].T) * (z1 > 0)
    return loss, {"W1": X.T @ dz1, "b1": dz1.sum(0), "W2": a1.T @ ds, "b2": ds.sum(0)}
''',
    "tl-naive-softmax": '''
def two_layer_backward(X, y, params):
    n = len(X)
    z1 = X @ params["W1"] + params["b1"]
    a1 = np.maximum(0, z1)
    s = a1 @ params["W2"] + params["b2"]
    p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(p[np.arange(n), y]))
    ds = p.copy()
    ds[np.arange(n), y] -= 1
    ds = ds / n
    dz1 = (ds @ params["W2"].T) * (z1 > 0)
    return loss, {"W1": X.T @ dz1, "b1": dz1.sum(0), "W2": a1.T @ ds, "b2": ds.sum(0)}
''',
    "gd-stale-gradient": '''
def gradient_descent(grad, x0, *, lr, num_steps):
    g = grad(x0)
    x = x0.copy()
    path = [x]
    for k in range(num_steps):
        x = x - lr * g
        path.append(x)
    return np.array(path)
''',
    "ng-backward": '''
def numerical_gradient(f, x, h=1e-5):
    fx = f(x)
    grad = np.empty(x.shape)
    for i in np.ndindex(x.shape):
        x_minus = x.copy()
        x_minus[i] -= h
        grad[i] = (fx - f(x_minus)) / h
    return grad
''',
    "tl-grads-not-averaged": '''
def two_layer_backward(X, y, params):
    n = len(X)
    z1 = X @ params["W1"] + params["b1"]
    a1 = np.maximum(0, z1)
    s = a1 @ params["W2"] + params["b2"]
    s = s - s.max(axis=1, keepdims=True)
    p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(p[np.arange(n), y]))
    ds = p.copy()
    ds[np.arange(n), y] -= 1
    dz1 = (ds @ params["W2"].T) * (z1 > 0)
    return loss, {"W1": X.T @ dz1, "b1": dz1.sum(0), "W2": a1.T @ ds, "b2": ds.sum(0)}
''',
}
