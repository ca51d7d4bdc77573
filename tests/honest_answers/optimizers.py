"""Honest answers to the optimizers exercise.

Each entry of SUBMISSIONS is the source of a complete, correct student answer (the init and step
functions of momentum, Nesterov, AdaGrad, RMSprop and Adam), written from the student notebook's
text alone. It runs after the notebook's setup cell (``np``, ``gdcheck`` and the state named
tuples ``MomentumState``, ``NesterovState``, ``AdagradState``, ``RMSpropState``, ``AdamState``).
"""

SUBMISSIONS = {
    "textbook": '''
def momentum_init(x):
    return MomentumState(v=np.zeros_like(x))


def momentum_step(x, g, state, *, lr, beta=0.9):
    v = beta * state.v + g
    return x - lr * v, MomentumState(v=v)


def nesterov_init(x):
    return NesterovState(v=np.zeros_like(x))


def nesterov_step(x, g, state, *, lr, beta=0.9):
    v = beta * state.v + g
    return x - lr * (g + beta * v), NesterovState(v=v)


def adagrad_init(x):
    return AdagradState(G=np.zeros_like(x))


def adagrad_step(x, g, state, *, lr, eps=1e-8):
    G = state.G + g ** 2
    return x - lr * g / (np.sqrt(G) + eps), AdagradState(G=G)


def rmsprop_init(x):
    return RMSpropState(s=np.zeros_like(x))


def rmsprop_step(x, g, state, *, lr, rho=0.9, eps=1e-8):
    s = rho * state.s + (1 - rho) * g ** 2
    return x - lr * g / (np.sqrt(s) + eps), RMSpropState(s=s)


def adam_init(x):
    return AdamState(m=np.zeros_like(x), v=np.zeros_like(x), t=0)


def adam_step(x, g, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    t = state.t + 1
    m = beta1 * state.m + (1 - beta1) * g
    v = beta2 * state.v + (1 - beta2) * g ** 2
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    return x - lr * m_hat / (np.sqrt(v_hat) + eps), AdamState(m=m, v=v, t=t)
''',
    "replace-and-lists": '''
def momentum_init(x):
    return MomentumState(np.zeros(x.shape, dtype=x.dtype))


def momentum_step(x, g, state, *, lr, beta=0.9):
    v_new = state.v * beta + g
    x_new = x - v_new * lr
    return [x_new, state._replace(v=v_new)]


def nesterov_init(x):
    return NesterovState(np.zeros(x.shape, dtype=x.dtype))


def nesterov_step(x, g, state, *, lr, beta=0.9):
    v_new = state.v * beta + g
    return [x - lr * (g + beta * v_new), state._replace(v=v_new)]


def adagrad_init(x):
    return AdagradState(np.zeros(x.shape, dtype=x.dtype))


def adagrad_step(x, g, state, *, lr, eps=1e-8):
    G_new = state.G + g * g
    return [x - lr * g / (np.sqrt(G_new) + eps), state._replace(G=G_new)]


def rmsprop_init(x):
    return RMSpropState(np.zeros(x.shape, dtype=x.dtype))


def rmsprop_step(x, g, state, *, lr, rho=0.9, eps=1e-8):
    s_new = state.s * rho + (1 - rho) * g * g
    return [x - lr * g / (np.sqrt(s_new) + eps), state._replace(s=s_new)]


def adam_init(x):
    return AdamState(np.zeros(x.shape, dtype=x.dtype), np.zeros(x.shape, dtype=x.dtype), 0)


def adam_step(x, g, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    t = state.t + 1
    m = state.m * beta1 + g * (1 - beta1)
    v = state.v * beta2 + g * g * (1 - beta2)
    denom = np.sqrt(v / (1 - beta2 ** t)) + eps
    return [x - lr * (m / (1 - beta1 ** t)) / denom, state._replace(m=m, v=v, t=t)]
''',
    "inplace-on-copies": '''
def momentum_init(x):
    return MomentumState(v=np.zeros_like(x))


def momentum_step(x, g, state, *, lr, beta=0.9):
    v = state.v.copy()
    v *= beta
    v += g
    x_new = x.copy()
    x_new -= lr * v
    return x_new, MomentumState(v=v)


def nesterov_init(x):
    return NesterovState(v=np.zeros_like(x))


def nesterov_step(x, g, state, *, lr, beta=0.9):
    v = state.v.copy()
    v *= beta
    v += g
    x_new = x.copy()
    x_new -= lr * (g + beta * v)
    return x_new, NesterovState(v=v)


def adagrad_init(x):
    return AdagradState(G=np.zeros_like(x))


def adagrad_step(x, g, state, *, lr, eps=1e-8):
    G = state.G.copy()
    G += np.square(g)
    x_new = x.copy()
    x_new -= lr * g / (np.sqrt(G) + eps)
    return x_new, AdagradState(G=G)


def rmsprop_init(x):
    return RMSpropState(s=np.zeros_like(x))


def rmsprop_step(x, g, state, *, lr, rho=0.9, eps=1e-8):
    s = state.s.copy()
    s *= rho
    s += (1 - rho) * np.square(g)
    x_new = x.copy()
    x_new -= lr * g / (np.sqrt(s) + eps)
    return x_new, RMSpropState(s=s)


def adam_init(x):
    return AdamState(m=np.zeros_like(x), v=np.zeros_like(x), t=0)


def adam_step(x, g, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m = state.m.copy()
    v = state.v.copy()
    t = state.t + 1
    m *= beta1
    m += (1 - beta1) * g
    v *= beta2
    v += (1 - beta2) * np.square(g)
    x_new = x.copy()
    x_new -= lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)
    return x_new, AdamState(m=m, v=v, t=t)
''',
    "float64-then-cast": '''
def momentum_init(x):
    return MomentumState(v=np.full_like(x, 0))


def momentum_step(x, g, state, *, lr, beta=0.9):
    dt = np.asarray(x).dtype
    v = beta * state.v.astype(np.float64) + g.astype(np.float64)
    x_new = x.astype(np.float64) - lr * v
    return x_new.astype(dt), MomentumState(v=v.astype(dt))


def nesterov_init(x):
    return NesterovState(v=np.full_like(x, 0))


def nesterov_step(x, g, state, *, lr, beta=0.9):
    dt = x.dtype
    g64 = g.astype(np.float64)
    v = beta * state.v.astype(np.float64) + g64
    x_new = x.astype(np.float64) - lr * (g64 + beta * v)
    return x_new.astype(dt), NesterovState(v=v.astype(dt))


def adagrad_init(x):
    return AdagradState(G=np.full_like(x, 0))


def adagrad_step(x, g, state, *, lr, eps=1e-8):
    dt = x.dtype
    g64 = g.astype(np.float64)
    G = state.G.astype(np.float64) + g64 ** 2
    x_new = x.astype(np.float64) - lr * g64 / (np.sqrt(G) + eps)
    return x_new.astype(dt), AdagradState(G=G.astype(dt))


def rmsprop_init(x):
    return RMSpropState(s=np.full_like(x, 0))


def rmsprop_step(x, g, state, *, lr, rho=0.9, eps=1e-8):
    dt = x.dtype
    g64 = g.astype(np.float64)
    s = rho * state.s.astype(np.float64) + (1 - rho) * g64 ** 2
    x_new = x.astype(np.float64) - lr * g64 / (np.sqrt(s) + eps)
    return x_new.astype(dt), RMSpropState(s=s.astype(dt))


def adam_init(x):
    return AdamState(m=np.full_like(x, 0), v=np.full_like(x, 0), t=0)


def adam_step(x, g, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    dt = x.dtype
    g64 = g.astype(np.float64)
    t = state.t + 1
    m = beta1 * state.m.astype(np.float64) + (1 - beta1) * g64
    v = beta2 * state.v.astype(np.float64) + (1 - beta2) * g64 ** 2
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    x_new = x.astype(np.float64) - lr * m_hat / (np.sqrt(v_hat) + eps)
    return x_new.astype(dt), AdamState(m=m.astype(dt), v=v.astype(dt), t=t)
''',
    "rearranged-math": '''
def _zeros(x):
    return np.zeros_like(x)


def momentum_init(x):
    return MomentumState(_zeros(x))


def momentum_step(x, g, state, *, lr, beta=0.9):
    (v_old,) = state
    v = np.add(np.multiply(beta, v_old), g)
    return np.subtract(x, np.multiply(lr, v)), MomentumState(v)


def nesterov_init(x):
    return NesterovState(_zeros(x))


def nesterov_step(x, g, state, *, lr, beta=0.9):
    (v_old,) = state
    v = beta * v_old + g
    x_new = x - lr * g - lr * beta * v
    return x_new, NesterovState(v)


def adagrad_init(x):
    return AdagradState(_zeros(x))


def adagrad_step(x, g, state, *, lr, eps=1e-8):
    (G_old,) = state
    G = G_old + g * g
    step = lr * g / (np.sqrt(G) + eps)
    return x - step, AdagradState(G)


def rmsprop_init(x):
    return RMSpropState(_zeros(x))


def rmsprop_step(x, g, state, *, lr, rho=0.9, eps=1e-8):
    (s_old,) = state
    s = s_old + (1 - rho) * (g * g - s_old)
    step = lr * g / (np.sqrt(s) + eps)
    return x - step, RMSpropState(s)


def adam_init(x):
    return AdamState(_zeros(x), _zeros(x), 0)


def adam_step(x, g, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m_old, v_old, t_old = state
    t = t_old + 1
    m = m_old + (1 - beta1) * (g - m_old)
    v = v_old + (1 - beta2) * (g * g - v_old)
    bc1 = 1.0 - beta1 ** t
    bc2 = 1.0 - beta2 ** t
    return x - lr * (m / bc1) / (np.sqrt(v / bc2) + eps), AdamState(m, v, t)
''',
    "dtype-explicit-casts": '''
def momentum_init(x):
    x = np.asarray(x)
    return MomentumState(v=np.zeros(np.shape(x), dtype=x.dtype))


def momentum_step(x, g, state, *, lr, beta=0.9):
    dt = x.dtype
    v = (dt.type(beta) * state.v + g).astype(dt)
    return (x - dt.type(lr) * v).astype(dt), MomentumState(v=v)


def nesterov_init(x):
    x = np.asarray(x)
    return NesterovState(v=np.zeros(np.shape(x), dtype=x.dtype))


def nesterov_step(x, g, state, *, lr, beta=0.9):
    dt = x.dtype
    b = dt.type(beta)
    v = (b * state.v + g).astype(dt)
    return (x - dt.type(lr) * (g + b * v)).astype(dt), NesterovState(v=v)


def adagrad_init(x):
    x = np.asarray(x)
    return AdagradState(G=np.zeros(np.shape(x), dtype=x.dtype))


def adagrad_step(x, g, state, *, lr, eps=1e-8):
    dt = x.dtype
    G = (state.G + g ** 2).astype(dt)
    upd = dt.type(lr) * g / (np.sqrt(G) + dt.type(eps))
    return (x - upd).astype(dt), AdagradState(G=G)


def rmsprop_init(x):
    x = np.asarray(x)
    return RMSpropState(s=np.zeros(np.shape(x), dtype=x.dtype))


def rmsprop_step(x, g, state, *, lr, rho=0.9, eps=1e-8):
    dt = x.dtype
    r = dt.type(rho)
    s = (r * state.s + (dt.type(1) - r) * g ** 2).astype(dt)
    upd = dt.type(lr) * g / (np.sqrt(s) + dt.type(eps))
    return (x - upd).astype(dt), RMSpropState(s=s)


def adam_init(x):
    x = np.asarray(x)
    z = np.zeros(np.shape(x), dtype=x.dtype)
    return AdamState(m=z, v=z.copy(), t=0)


def adam_step(x, g, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    dt = x.dtype
    t = int(state.t) + 1
    m = (beta1 * state.m + (1 - beta1) * g).astype(dt)
    v = (beta2 * state.v + (1 - beta2) * g ** 2).astype(dt)
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    x_new = (x - lr * m_hat / (np.sqrt(v_hat) + eps)).astype(dt)
    return x_new, AdamState(m=m, v=v, t=t)
''',
}

WHAT = {
    "textbook": "the table's formulas line by line, np.zeros_like, new named tuples with keywords, tuple returns",
    "replace-and-lists": "np.zeros(x.shape, dtype=x.dtype); positional named tuples; state._replace; returns the pair as a list",
    "inplace-on-copies": "copies state and x, then updates the copies in place (*=, +=, -=)",
    "float64-then-cast": "np.full_like zeros; computes each step in float64 and casts x and the state back to x's dtype",
    "rearranged-math": "tuple-unpacks the state; Nesterov as x - lr g - lr beta v; RMSprop/Adam averages as s + (1 - rho)(g^2 - s)",
    "dtype-explicit-casts": "hyperparameters cast to x's dtype scalar type, .astype(x.dtype) on every result; Adam t as int",
}
