"""Wrong answers for the activations assignment, keyed by catalogue mistake."""

SUBMISSIONS = {
    "relu-grad-at-zero": '''
def relu_grad(z):
    return np.where(z >= 0, 1.0, 0.0)
''',
    "relu-grad-negative": '''
def relu_grad(z):
    return np.sign(z)
''',
    "leaky-no-slope": '''
def leaky_relu(z, alpha=0.01):
    return np.maximum(z, 0.0)
''',
    "leaky-grad-no-slope": '''
def leaky_relu_grad(z, alpha=0.01):
    return (z > 0) * 1.0
''',
    "sigmoid-overflow": '''
def sigmoid(z):
    e = np.exp(z)
    return e / (1.0 + e)
''',
    "sigmoid-grad-s": '''
def sigmoid_grad(z):
    return sigmoid(z)
''',
    "tanh-grad-linear": '''
def tanh_grad(z):
    return 1.0 - tanh(z)
''',
    "norms-with-biases": '''
def layer_gradient_norms(model, X, y):
    loss, grads = model.loss_and_grads(X, y)
    norms = {}
    for l, name in enumerate(model.layer_names(), start=1):
        norms[name] = np.sqrt(np.sum(grads[f"W{l}"] ** 2) + np.sum(grads[f"b{l}"] ** 2))
    return norms
''',
    "norms-squared": '''
def layer_gradient_norms(model, X, y):
    loss, grads = model.loss_and_grads(X, y)
    return {name: np.sum(grads[f"W{l}"] ** 2) for l, name in enumerate(model.layer_names(), start=1)}
''',
}
