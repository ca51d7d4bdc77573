"""Wrong answers for the optimizers assignment, keyed by catalogue mistake."""

SUBMISSIONS = {
    "mo-velocity-sign": '''
def momentum_step(x, g, state, *, lr, beta=0.9):
    velocity = beta * state.v - g
    return x - lr * velocity, MomentumState(velocity)
''',
    "mo-dampening": '''
def momentum_step(x, g, state, *, lr, beta=0.9):
    velocity = beta * state.v + (1 - beta) * g
    return x - lr * velocity, MomentumState(velocity)
''',
    "mo-old-velocity": '''
def momentum_step(x, g, state, *, lr, beta=0.9):
    x_new = x - lr * state.v
    return x_new, MomentumState(beta * state.v + g)
''',
    "ne-heavy-ball": '''
def nesterov_step(x, g, state, *, lr, beta=0.9):
    velocity = beta * state.v + g
    return x - lr * velocity, NesterovState(velocity)
''',
    "ag-eps-inside": '''
def adagrad_step(x, g, state, *, lr, eps=1e-8):
    total = state.G + g ** 2
    return x - lr * g / np.sqrt(total + eps), AdagradState(total)
''',
    "ag-no-accumulation": '''
def adagrad_step(x, g, state, *, lr, eps=1e-8):
    total = g ** 2
    return x - lr * g / (np.sqrt(total) + eps), AdagradState(total)
''',
    "rp-sum": '''
def rmsprop_step(x, g, state, *, lr, rho=0.9, eps=1e-8):
    avg = state.s + g ** 2
    return x - lr * g / (np.sqrt(avg) + eps), RMSpropState(avg)
''',
    "rp-eps-inside": '''
def rmsprop_step(x, g, state, *, lr, rho=0.9, eps=1e-8):
    avg = rho * state.s + (1 - rho) * g ** 2
    return x - lr * g / np.sqrt(avg + eps), RMSpropState(avg)
''',
    "rp-rho-swapped": '''
def rmsprop_step(x, g, state, *, lr, rho=0.9, eps=1e-8):
    avg = (1 - rho) * state.s + rho * g ** 2
    return x - lr * g / (np.sqrt(avg) + eps), RMSpropState(avg)
''',
    "ad-no-bias-correction": '''
def adam_step(x, g, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m1 = beta1 * state.m + (1 - beta1) * g
    m2 = beta2 * state.v + (1 - beta2) * g ** 2
    return x - lr * m1 / (np.sqrt(m2) + eps), AdamState(m1, m2, state.t + 1)
''',
    "ad-t-after-use": '''
def adam_step(x, g, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    t = state.t
    m1 = beta1 * state.m + (1 - beta1) * g
    m2 = beta2 * state.v + (1 - beta2) * g ** 2
    x_new = x - lr * (m1 / (1 - beta1 ** t)) / (np.sqrt(m2 / (1 - beta2 ** t)) + eps)
    t += 1
    return x_new, AdamState(m1, m2, t)
''',
    "ad-eps-inside": '''
def adam_step(x, g, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    t = state.t + 1
    m1 = beta1 * state.m + (1 - beta1) * g
    m2 = beta2 * state.v + (1 - beta2) * g ** 2
    x_new = x - lr * (m1 / (1 - beta1 ** t)) / np.sqrt(m2 / (1 - beta2 ** t) + eps)
    return x_new, AdamState(m1, m2, t)
''',
    "mo-lr-in-velocity": '''
def momentum_step(x, g, state, *, lr, beta=0.9):
    velocity = beta * state.v + lr * g
    return x - velocity, MomentumState(velocity)
''',
    "mo-textbook-velocity": '''
def momentum_step(x, g, state, *, lr, beta=0.9):
    v = beta * state.v - lr * g
    x_new = x + v
    return x_new, MomentumState(v)
''',
    "ag-no-sqrt": '''
def adagrad_step(x, g, state, *, lr, eps=1e-8):
    total = state.G + g ** 2
    return x - lr * g / (total + eps), AdagradState(total)
''',
    "rp-no-sqrt": '''
def rmsprop_step(x, g, state, *, lr, rho=0.9, eps=1e-8):
    avg = rho * state.s + (1 - rho) * g ** 2
    return x - lr * g / (avg + eps), RMSpropState(avg)
''',
    "ad-bias-m-only": '''
def adam_step(x, g, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    t = state.t + 1
    m1 = beta1 * state.m + (1 - beta1) * g
    m2 = beta2 * state.v + (1 - beta2) * g ** 2
    m1_hat = m1 / (1 - beta1 ** t)
    return x - lr * m1_hat / (np.sqrt(m2) + eps), AdamState(m1, m2, t)
''',
    "ad-bias-v-only": '''
def adam_step(x, g, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    t = state.t + 1
    m1 = beta1 * state.m + (1 - beta1) * g
    m2 = beta2 * state.v + (1 - beta2) * g ** 2
    m2_hat = m2 / (1 - beta2 ** t)
    return x - lr * m1 / (np.sqrt(m2_hat) + eps), AdamState(m1, m2, t)
''',
}
