"""Honest answers to the activations exercise.

Each entry of SUBMISSIONS is the source of a complete, correct student answer (relu, relu_grad,
leaky_relu, leaky_relu_grad, sigmoid, sigmoid_grad, tanh, tanh_grad and layer_gradient_norms),
written from the student notebook's text alone. It runs after the notebook's setup cell
(``np``, ``gdcheck``, ``MLP``).
"""

SUBMISSIONS = {
    "where-everywhere": '''
def relu(z):
    return np.where(z > 0, z, 0.0)


def relu_grad(z):
    return np.where(z > 0, 1.0, 0.0)


def leaky_relu(z, alpha=0.01):
    return np.where(z > 0, z, alpha * z)


def leaky_relu_grad(z, alpha=0.01):
    return np.where(z > 0, 1.0, alpha)


def sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_grad(z):
    s = sigmoid(z)
    return s * (1 - s)


def tanh(z):
    return np.tanh(z)


def tanh_grad(z):
    return 1 - tanh(z) ** 2


def layer_gradient_norms(model, X, y):
    loss, grads = model.loss_and_grads(X, y)
    norms = {}
    for l, name in enumerate(model.layer_names(), start=1):
        norms[name] = float(np.linalg.norm(grads[f"W{l}"]))
    return norms
''',
    "maximum-astype-masks": '''
def relu(z):
    return np.maximum(z, 0)


def relu_grad(z):
    return (z > 0).astype(float)


def leaky_relu(z, alpha=0.01):
    out = np.array(z, dtype=float, copy=True)
    neg = out <= 0
    out[neg] = alpha * out[neg]
    return out


def leaky_relu_grad(z, alpha=0.01):
    g = np.ones(np.shape(z))
    g[np.asarray(z) <= 0] = alpha
    return g


def sigmoid(z):
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    pos = z >= 0
    neg = ~pos
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[neg])
    out[neg] = ez / (1.0 + ez)
    return out


def sigmoid_grad(z):
    s = sigmoid(z)
    return s * (1.0 - s)


def tanh(z):
    return np.tanh(z)


def tanh_grad(z):
    t = tanh(z)
    return 1.0 - t * t


def layer_gradient_norms(model, X, y):
    _, grads = model.loss_and_grads(X, y)
    result = {}
    for name in model.layer_names():
        l = int(name.split()[-1])
        g = grads["W" + str(l)]
        result[name] = float(np.sqrt(np.sum(g ** 2)))
    return result
''',
    "multiply-by-mask-int-grad": '''
def relu(z):
    return z * (z > 0)


def relu_grad(z):
    return (z > 0) * 1


def leaky_relu(z, alpha=0.01):
    return np.maximum(z, alpha * z)


def leaky_relu_grad(z, alpha=0.01):
    return (z > 0) + alpha * (z <= 0)


def sigmoid(z):
    e = np.exp(-np.abs(z))
    s = 1 / (1 + e)
    return np.where(z < 0, 1 - s, s)


def sigmoid_grad(z):
    s = sigmoid(z)
    return s - s ** 2


def tanh(z):
    return np.tanh(z)


def tanh_grad(z):
    return 1 - np.square(tanh(z))


def layer_gradient_norms(model, X, y):
    loss, grads = model.loss_and_grads(X, y)
    keys = model.layer_keys()
    return {name: float(np.linalg.norm(grads[keys[name][0]].ravel())) for name in model.layer_names()}
''',
    "logaddexp-sigma-sigma-minus": '''
def relu(z):
    return np.clip(z, 0, None)


def relu_grad(z):
    return np.heaviside(z, 0.0)


def leaky_relu(z, alpha=0.01):
    return np.where(z > 0, 1.0, alpha) * z


def leaky_relu_grad(z, alpha=0.01):
    return np.select([z > 0], [1.0], default=alpha)


def sigmoid(z):
    return np.exp(-np.logaddexp(0.0, -z))


def sigmoid_grad(z):
    return sigmoid(z) * sigmoid(-z)


def tanh(z):
    return np.tanh(z)


def tanh_grad(z):
    t = tanh(z)
    return (1 - t) * (1 + t)


def layer_gradient_norms(model, X, y):
    loss, grads = model.loss_and_grads(X, y)
    out = {}
    for i, name in enumerate(model.layer_names()):
        W_grad = grads[f"W{i + 1}"]
        out[name] = float(np.sqrt((W_grad * W_grad).sum()))
    return out
''',
    "tanh-identity-sigmoid": '''
def relu(z):
    out = z.copy()
    out[out < 0] = 0
    return out


def relu_grad(z):
    g = np.zeros_like(z, dtype=float)
    g[z > 0] = 1.0
    return g


def leaky_relu(z, alpha=0.01):
    return np.where(z > 0, z, z * alpha)


def leaky_relu_grad(z, alpha=0.01):
    g = np.full(z.shape, alpha, dtype=float)
    g[z > 0] = 1.0
    return g


def sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def sigmoid_grad(z):
    s = sigmoid(z)
    return s * (1 - s)


def tanh(z):
    return np.tanh(z)


def tanh_grad(z):
    return 1.0 - tanh(z) ** 2


def layer_gradient_norms(model, X, y):
    loss, grads = model.loss_and_grads(X, y)
    names = model.layer_names()
    return dict(zip(names, (float(np.linalg.norm(grads["W%d" % (k + 1)], "fro")) for k in range(len(names)))))
''',
    "vectorize-loop-style": '''
def relu(z):
    z = np.asarray(z, dtype=float)
    return np.fmax(z, 0.0)


def relu_grad(z):
    return np.greater(z, 0).astype(np.float64)


def leaky_relu(z, alpha=0.01):
    pos = z > 0
    return pos * z + (~pos) * (alpha * z)


def leaky_relu_grad(z, alpha=0.01):
    pos = (z > 0).astype(float)
    return pos + alpha * (1.0 - pos)


def sigmoid(z):
    z = np.asarray(z, dtype=float)
    e = np.exp(-np.abs(z))
    denom = 1.0 + e
    num = np.where(z >= 0, 1.0, e)
    return num / denom


def sigmoid_grad(z):
    s = sigmoid(z)
    return s * (1 - s)


def tanh(z):
    return np.tanh(np.asarray(z, dtype=float))


def tanh_grad(z):
    th = tanh(z)
    return 1 - th * th


def layer_gradient_norms(model, X, y):
    loss, grads = model.loss_and_grads(X, y)
    norms = {}
    for name, (w_key, _b_key) in model.layer_keys().items():
        total = 0.0
        for value in grads[w_key].flat:
            total += value * value
        norms[name] = total ** 0.5
    return norms
''',
}

WHAT = {
    "where-everywhere": "np.where for every function; sigmoid by the two-branch formula; dict built in a loop over layer_names",
    "maximum-astype-masks": "np.maximum / astype(float); leaky ReLU on a copy with a boolean mask; sigmoid filled by masks; sqrt(sum(g**2))",
    "multiply-by-mask-int-grad": "relu as z * (z > 0); relu_grad as an int array (z > 0) * 1; leaky via np.maximum(z, alpha z); sigmoid 1 - s for z < 0; s - s**2",
    "logaddexp-sigma-sigma-minus": "np.clip / np.heaviside / np.select; sigmoid = exp(-logaddexp(0, -z)); sigmoid_grad = sigmoid(z) * sigmoid(-z); tanh_grad = (1 - t)(1 + t)",
    "tanh-identity-sigmoid": "relu on a copy; sigmoid via 0.5 * (1 + tanh(z / 2)) (never overflows); Frobenius norm by np.linalg.norm(., 'fro')",
    "vectorize-loop-style": "np.fmax; leaky ReLU by arithmetic with masks; sigmoid as where(z >= 0, 1, e) / (1 + e); norms by a Python loop over .flat",
}
