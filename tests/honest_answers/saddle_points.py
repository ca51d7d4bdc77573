"""Honest answers to the saddle-points exercise.

Each entry of SUBMISSIONS is the source of a complete, correct student answer
(classify_critical_point, perturbed_gradient_descent), written from the student notebook's text
alone. It runs after the notebook's setup cell (``np``, ``gdcheck``).
"""

SUBMISSIONS = {
    "literal-spec": '''
def classify_critical_point(hessian):
    lam = np.linalg.eigvalsh(hessian)
    tau = 1e-8 * max(1.0, np.max(np.abs(lam)))
    if np.all(lam > tau):
        return "minimum"
    if np.all(lam < -tau):
        return "maximum"
    if np.any(lam > tau) and np.any(lam < -tau):
        return "saddle"
    return "degenerate"


def perturbed_gradient_descent(grad, x0, *, lr, rng, num_steps, g_thresh, radius):
    x = np.array(x0, dtype=float)
    d = x.shape[0]
    path = np.empty((num_steps + 1, d))
    path[0] = x
    for t in range(num_steps):
        g = grad(x)
        if np.linalg.norm(g) <= g_thresh:
            z = rng.standard_normal(d)
            u = rng.random()
            xi = radius * u ** (1.0 / d) * z / np.linalg.norm(z)
            x = x + xi
            g = grad(x)
        x = x - lr * g
        path[t + 1] = x
    return path
''',
    "counts-and-list": '''
def classify_critical_point(hessian):
    eigenvalues = np.linalg.eigvalsh(hessian)
    tol = 1e-8 * max(1.0, float(np.abs(eigenvalues).max()))
    n_pos = int(np.sum(eigenvalues > tol))
    n_neg = int(np.sum(eigenvalues < -tol))
    d = len(eigenvalues)
    if n_pos == d:
        return "minimum"
    if n_neg == d:
        return "maximum"
    if n_pos > 0 and n_neg > 0:
        return "saddle"
    return "degenerate"


def perturbed_gradient_descent(grad, x0, *, lr, rng, num_steps, g_thresh, radius):
    x = np.asarray(x0, dtype=float).copy()
    d = x.size
    path = [x.copy()]
    for _ in range(num_steps):
        g = grad(x)
        if np.sqrt(np.sum(g ** 2)) <= g_thresh:
            direction = rng.standard_normal(d)
            direction /= np.linalg.norm(direction)
            r = radius * rng.random() ** (1 / d)
            x = x + r * direction
            g = grad(x)
        x = x - lr * g
        path.append(x.copy())
    return np.array(path)
''',
    "extremes-sorted": '''
def classify_critical_point(hessian):
    lam = np.linalg.eigvalsh(hessian)  # ascending
    lo, hi = lam[0], lam[-1]
    tau = 1e-8 * max(1.0, abs(lo), abs(hi))
    if lo > tau:
        return "minimum"
    if hi < -tau:
        return "maximum"
    if lo < -tau and hi > tau:
        return "saddle"
    return "degenerate"


def perturbed_gradient_descent(grad, x0, *, lr, rng, num_steps, g_thresh, radius):
    x0 = np.asarray(x0, dtype=float)
    d = x0.shape[0]
    path = np.zeros((num_steps + 1, d))
    path[0] = x0
    for t in range(num_steps):
        x = path[t].copy()
        g = grad(x)
        if g @ g <= g_thresh ** 2:
            u = rng.random()
            z = rng.standard_normal(d)
            x += radius * u ** (1.0 / d) * z / np.sqrt(z @ z)
            g = grad(x)
        path[t + 1] = x - lr * g
    return path
''',
    "rejection-sampling-kick": '''
def classify_critical_point(hessian):
    H = np.array(hessian, dtype=float, copy=True)
    eig = np.linalg.eigvalsh(H)
    tau = 1e-8 * np.maximum(1.0, np.abs(eig).max())
    positive = eig > tau
    negative = eig < -tau
    if positive.all():
        return "minimum"
    elif negative.all():
        return "maximum"
    elif positive.any() and negative.any():
        return "saddle"
    else:
        return "degenerate"


def perturbed_gradient_descent(grad, x0, *, lr, rng, num_steps, g_thresh, radius):
    def kick(d):
        # uniform in the ball by rejection from the enclosing cube (another correct way of drawing)
        while True:
            c = rng.uniform(-1.0, 1.0, size=d)
            if c @ c <= 1.0:
                return radius * c

    x = np.array(x0, dtype=float)
    d = len(x)
    path = [x]
    for _ in range(num_steps):
        g = grad(x)
        if np.linalg.norm(g) <= g_thresh:
            x = x + kick(d)
            g = grad(x)
        x = x - lr * g
        path.append(x)
    return np.vstack(path)
''',
    "eigvals-general-flags": '''
def classify_critical_point(hessian):
    lam = np.real(np.linalg.eigvals(hessian))
    tau = 1e-8 * max(1.0, max(abs(v) for v in lam))
    has_up = any(v > tau for v in lam)
    has_down = any(v < -tau for v in lam)
    all_up = all(v > tau for v in lam)
    all_down = all(v < -tau for v in lam)
    if all_up:
        return "minimum"
    if all_down:
        return "maximum"
    if has_up and has_down:
        return "saddle"
    return "degenerate"


def perturbed_gradient_descent(grad, x0, *, lr, rng, num_steps, g_thresh, radius):
    x = x0.copy()
    d = x.shape[0]
    path = np.empty((num_steps + 1, d))
    path[0] = x
    for t in range(num_steps):
        g = grad(x)
        if np.linalg.norm(g) <= g_thresh:
            z = rng.standard_normal(d)
            x = x + radius * rng.random() ** (1.0 / d) * (z / np.linalg.norm(z))
            g = grad(x)
        x = x - lr * g
        path[t + 1] = x
    return path
''',
    "generator-path": '''
def classify_critical_point(hessian):
    lam = np.linalg.eigvalsh(np.asarray(hessian))
    tau = 1e-8 * max(1.0, np.abs(lam).max())
    signs = np.where(lam > tau, 1, np.where(lam < -tau, -1, 0))
    if (signs == 1).all():
        return "minimum"
    if (signs == -1).all():
        return "maximum"
    if 1 in signs and -1 in signs:
        return "saddle"
    return "degenerate"


def perturbed_gradient_descent(grad, x0, *, lr, rng, num_steps, g_thresh, radius):
    def ball_point(d):
        z = rng.standard_normal(d)
        u = rng.random()
        return radius * np.power(u, 1.0 / d) * z / np.linalg.norm(z)

    def iterates():
        x = np.array(x0, dtype=np.float64)
        yield x
        for _ in range(num_steps):
            g = grad(x)
            if not np.linalg.norm(g) > g_thresh:
                x = x + ball_point(x.size)
                g = grad(x)
            x = x - lr * g
            yield x

    return np.array(list(iterates()))
''',
}

WHAT = {
    "literal-spec": "the text's formulas literally; np.all / np.any; z then u; preallocated path",
    "counts-and-list": "counts positive and negative eigenvalues; kick radius and direction built separately; path as a list of copies",
    "extremes-sorted": "only the smallest and largest eigenvalue (eigvalsh is ascending); g @ g <= g_thresh**2; u drawn before z",
    "rejection-sampling-kick": "copies the Hessian; kick uniform in the ball by rejection from the cube (another correct way of drawing)",
    "eigvals-general-flags": "general np.linalg.eigvals (real part) with Python any/all; x0.copy() (assumes x0 is an ndarray)",
    "generator-path": "sign vector via nested np.where; kick helper; path from an inner generator",
}
