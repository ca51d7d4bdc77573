"""Honest answers to the speed exercise.

Each entry of SUBMISSIONS is the source of a complete, correct student answer
(clip_by_global_norm, heavy_ball_rate, heavy_ball_optimal), written from the student notebook's
text alone (its markdown, stubs and visible test cells, the speed chapter and CONVENTIONS.md). It runs
after the notebook's setup cell (``np``, ``gdcheck``).
"""

SUBMISSIONS = {
    "literal-spec": '''
def clip_by_global_norm(grads, max_norm):
    total = 0.0
    for g in grads.values():
        total += np.sum(g ** 2)
    norm = np.sqrt(total)
    if norm == 0:
        return {name: g.copy() for name, g in grads.items()}, norm
    factor = float(min(1.0, max_norm / norm))
    clipped = {name: g * factor for name, g in grads.items()}
    return clipped, norm


def heavy_ball_rate(lr, beta, lam):
    T = np.array([[1 + beta - lr * lam, -beta],
                  [1.0, 0.0]])
    z = np.linalg.eigvals(T)
    return float(np.max(np.abs(z)))


def heavy_ball_optimal(mu, L):
    kappa = L / mu
    lr = 4 / (np.sqrt(L) + np.sqrt(mu)) ** 2
    beta = ((np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)) ** 2
    return lr, beta
''',
    "concat-norm-cmath-roots": '''
import cmath


def clip_by_global_norm(grads, max_norm):
    flat = np.concatenate([g.ravel() for g in grads.values()])
    norm = np.linalg.norm(flat)
    if norm > max_norm:
        scale = max_norm / norm
        clipped = {k: (v * scale).astype(v.dtype) for k, v in grads.items()}
    else:
        clipped = {k: v.copy() for k, v in grads.items()}
    return clipped, float(norm)


def heavy_ball_rate(lr, beta, lam):
    a = 1 + beta - lr * lam
    root = cmath.sqrt(a * a - 4 * beta)
    z1 = (a + root) / 2
    z2 = (a - root) / 2
    return max(abs(z1), abs(z2))


def heavy_ball_optimal(mu, L):
    sL, smu = np.sqrt(L), np.sqrt(mu)
    lr = 4.0 / (sL + smu) ** 2
    beta = ((sL - smu) / (sL + smu)) ** 2
    return (float(lr), float(beta))
''',
    "hypot-real-branches": '''
import math


def clip_by_global_norm(grads, max_norm):
    norm = 0.0
    for g in grads.values():
        norm = np.hypot(norm, np.sqrt(np.sum(np.square(g, dtype=np.float64))))
    clipped = {}
    for name in grads:
        if norm > max_norm:
            clipped[name] = grads[name] * (max_norm / float(norm))
        else:
            clipped[name] = np.array(grads[name], copy=True)
    return clipped, float(norm)


def heavy_ball_rate(lr, beta, lam):
    a = 1.0 + beta - lr * lam
    disc = a * a - 4.0 * beta
    if disc >= 0:
        # two real roots (a +- sqrt(disc)) / 2: the larger modulus has the sign of a
        return (abs(a) + math.sqrt(disc)) / 2.0
    # complex conjugates: |z|^2 = z * conj(z) = product of the roots = beta
    return math.sqrt(beta)


def heavy_ball_optimal(mu, L):
    sqrt_beta = (math.sqrt(L) - math.sqrt(mu)) / (math.sqrt(L) + math.sqrt(mu))
    beta = sqrt_beta ** 2
    lr = (1 + sqrt_beta) ** 2 / L
    return lr, beta
''',
    "float64-accumulate-multiply-dtype": '''
def clip_by_global_norm(grads, max_norm):
    squares = [np.sum(g.astype(np.float64) ** 2) for g in grads.values()]
    norm = np.sqrt(np.sum(squares))
    factor = 1.0 if norm <= max_norm else max_norm / norm
    clipped = {key: np.multiply(value, factor, dtype=value.dtype) for key, value in grads.items()}
    return clipped, norm


def heavy_ball_rate(lr, beta, lam):
    roots = np.roots([1.0, -(1.0 + beta - lr * lam), beta])
    return float(np.abs(roots).max())


def heavy_ball_optimal(mu, L):
    r = np.sqrt(mu / L)
    lr = 4 / (L + mu + 2 * np.sqrt(L * mu))
    beta = (1 - r) ** 2 / (1 + r) ** 2
    return lr, beta
''',
    "vdot-rho-first-lists": '''
def clip_by_global_norm(grads, max_norm):
    norm = np.sqrt(sum(np.vdot(g, g) for g in grads.values()))
    if norm == 0.0 or norm <= max_norm:
        factor = 1.0
    else:
        factor = max_norm / norm
    out = dict()
    for key, g in grads.items():
        out[key] = g * float(factor)
    return [out, norm]


def heavy_ball_rate(lr, beta, lam):
    T = np.zeros((2, 2))
    T[0, 0] = 1 + beta - lr * lam
    T[0, 1] = -beta
    T[1, 0] = 1
    return np.abs(np.linalg.eigvals(T)).max()


def heavy_ball_optimal(mu, L):
    kappa = L / mu
    rho = (np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)
    beta = rho ** 2
    lr = (1 + rho) ** 2 / L
    return [lr, beta]
''',
    "copy-then-scale-in-place": '''
def clip_by_global_norm(grads, max_norm):
    clipped = {name: np.copy(g) for name, g in grads.items()}
    per_array = np.array([np.linalg.norm(g) for g in grads.values()], dtype=float)
    norm = float(np.sqrt(np.sum(per_array ** 2)))
    if norm > max_norm:
        scale = max_norm / norm
        for name in clipped:
            clipped[name] *= scale
    return clipped, norm


def heavy_ball_rate(lr, beta, lam):
    # eigenvalues of a 2x2 matrix from its trace and determinant
    T = np.array([[1 + beta - lr * lam, -beta], [1, 0]], dtype=float)
    tr = np.trace(T)
    det = np.linalg.det(T)
    s = np.emath.sqrt(tr ** 2 - 4 * det)
    eigenvalues = np.array([(tr + s) / 2, (tr - s) / 2])
    return float(np.max(np.abs(eigenvalues)))


def heavy_ball_optimal(mu, L):
    lr = (2 / (np.sqrt(L) + np.sqrt(mu))) ** 2
    sqrt_beta = 1 - np.sqrt(mu * lr)
    return lr, sqrt_beta ** 2
''',
    "pure-python-math": '''
import cmath
import math


def clip_by_global_norm(grads, max_norm):
    sum_sq = 0.0
    for array in grads.values():
        for value in np.asarray(array, dtype=np.float64).flat:
            sum_sq += value * value
    norm = math.sqrt(sum_sq)
    scale = min(1.0, max_norm / norm) if norm > 0 else 1.0
    result = {}
    for key, array in grads.items():
        result[key] = (array * scale).astype(array.dtype, copy=False)
    return result, norm


def heavy_ball_rate(lr, beta, lam):
    a = 1 + beta - lr * lam
    d = cmath.sqrt(a ** 2 - 4 * beta)
    return max(abs((a + d) / 2), abs((a - d) / 2))


def heavy_ball_optimal(mu, L):
    sqrt_kappa = math.sqrt(L / mu)
    beta = ((sqrt_kappa - 1) / (sqrt_kappa + 1)) ** 2
    lr = 4 / (math.sqrt(L) + math.sqrt(mu)) ** 2
    return lr, beta
''',
    "einsum-spectral-radius-helper": '''
def clip_by_global_norm(grads, max_norm):
    sq = sum(float(np.einsum("i,i->", g.ravel(), g.ravel())) for g in grads.values())
    norm = sq ** 0.5
    coef = max_norm / norm if norm > max_norm else 1.0
    return {k: np.asarray(g * coef, dtype=g.dtype) for k, g in grads.items()}, norm


def spectral_radius(M):
    return np.max(np.abs(np.linalg.eigvals(M)))


def heavy_ball_rate(lr, beta, lam):
    T = np.array([[1.0 + beta - lr * lam, -beta], [1.0, 0.0]])
    return float(spectral_radius(T))


def heavy_ball_optimal(mu, L):
    lr = 4.0 / (np.sqrt(L) + np.sqrt(mu)) ** 2
    beta = max(abs(1 - np.sqrt(lr * mu)), abs(1 - np.sqrt(lr * L))) ** 2
    return lr, beta
''',
}

WHAT = {
    "literal-spec": "the text's formulas literally: loop over the arrays, min(1, c/norm) as a Python float; "
                    "eigvals of T; beta from kappa",
    "concat-norm-cmath-roots": "np.linalg.norm of the concatenated ravels, clip only if norm > c, astype back to "
                               "the dtype; roots of z^2 - a z + beta with cmath.sqrt; beta from sqrt(L), sqrt(mu)",
    "hypot-real-branches": "norm accumulated with np.hypot in float64; real-root / complex-root branches "
                           "(|z| = sqrt(beta) when complex); lr = (1 + sqrt(beta))^2 / L",
    "float64-accumulate-multiply-dtype": "squares summed in float64, np.multiply(..., dtype=g.dtype), norm an "
                                         "np.float64; np.roots of the characteristic polynomial; "
                                         "lr = 4 / (L + mu + 2 sqrt(L mu))",
    "vdot-rho-first-lists": "np.vdot per array (norm in the arrays' dtype), returns lists [clipped, norm] and "
                            "[lr, beta]; T filled entry by entry, np.float64 result; lr and beta from rho*",
    "copy-then-scale-in-place": "copies first, then *= scale in place on the copies; norm from the per-array "
                                "norms; eigenvalues from trace and determinant with np.emath.sqrt; "
                                "beta = (1 - sqrt(mu lr))^2",
    "pure-python-math": "Python loop over every entry with math.sqrt, guards norm == 0; cmath roots with "
                        "a ** 2; math.sqrt for Polyak's setting",
    "einsum-spectral-radius-helper": "np.einsum dot per array, norm ** 0.5; a spectral_radius helper of its own; "
                                     "beta as the squared larger of |1 - sqrt(lr mu)|, |1 - sqrt(lr L)|",
}
