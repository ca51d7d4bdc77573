"""Wrong answers for the speed assignment, keyed by catalogue mistake."""

SUBMISSIONS = {
    "clip-per-array": '''
def clip_by_global_norm(grads, max_norm):
    clipped, total = {}, 0.0
    for name, g in grads.items():
        norm = np.linalg.norm(g)
        total += norm ** 2
        clipped[name] = g * min(1.0, max_norm / norm) if norm > 0 else g.copy()
    return clipped, np.sqrt(total)
''',
    "clip-always": '''
def clip_by_global_norm(grads, max_norm):
    norm = np.sqrt(sum(np.sum(g ** 2) for g in grads.values()))
    return {name: g * (max_norm / norm) for name, g in grads.items()}, norm
''',
    "clip-in-place": '''
def clip_by_global_norm(grads, max_norm):
    norm = np.sqrt(sum(np.sum(g ** 2) for g in grads.values()))
    if norm > max_norm:
        for g in grads.values():
            g *= max_norm / norm
    return grads, norm
''',
    "clip-norm-after": '''
def clip_by_global_norm(grads, max_norm):
    norm = np.sqrt(sum(np.sum(g * g) for g in grads.values()))
    scale = 1.0
    if norm > max_norm:
        scale = max_norm / norm
    clipped = {name: g * scale for name, g in grads.items()}
    return clipped, np.sqrt(sum(np.sum(g * g) for g in clipped.values()))
''',
    "clip-sum-of-norms": '''
def clip_by_global_norm(grads, max_norm):
    norm = sum(np.linalg.norm(g) for g in grads.values())
    scale = min(1.0, max_norm / norm) if norm > 0 else 1.0
    return {name: g * scale for name, g in grads.items()}, norm
''',
    "hb-real-part": '''
def heavy_ball_rate(lr, beta, lam):
    T = np.array([[1 + beta - lr * lam, -beta], [1.0, 0.0]])
    return np.linalg.eigvals(T).real.max()
''',
    "hb-largest-not-modulus": '''
def heavy_ball_rate(lr, beta, lam):
    a = 1 + beta - lr * lam
    disc = a ** 2 - 4 * beta
    if disc < 0:
        return np.sqrt(beta)
    return (a + np.sqrt(disc)) / 2
''',
    "hb-beta-sign": '''
def heavy_ball_rate(lr, beta, lam):
    T = np.array([[1 + beta - lr * lam, beta], [1.0, 0.0]])
    return np.max(np.abs(np.linalg.eigvals(T)))
''',
    "hbo-beta-not-squared": '''
def heavy_ball_optimal(mu, L):
    kappa = L / mu
    lr = 4 / (np.sqrt(L) + np.sqrt(mu)) ** 2
    beta = (np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)
    return lr, beta
''',
    "hbo-gd-lr": '''
def heavy_ball_optimal(mu, L):
    kappa = L / mu
    lr = 2 / (L + mu)
    beta = ((np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)) ** 2
    return lr, beta
''',
}
