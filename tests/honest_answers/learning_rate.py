"""Honest answers to the learning-rate exercise.

Each entry of SUBMISSIONS is the source of a complete, correct student answer
(stability_threshold, step_decay, exponential_decay, cosine_schedule), written from the student
notebook's text alone. It runs after the notebook's setup cell (``np``, ``gdcheck``).
"""

SUBMISSIONS = {
    "eigvalsh-last": '''
def stability_threshold(A):
    return float(2.0 / np.linalg.eigvalsh(A)[-1])


def step_decay(t, *, lr0, drop, every):
    return float(lr0 * drop ** (t // every))


def exponential_decay(t, *, lr0, gamma):
    return float(lr0 * gamma ** t)


def cosine_schedule(t, *, lr0, total_steps, lr_min):
    tt = min(t, total_steps)
    return float(lr_min + (lr0 - lr_min) / 2 * (1 + np.cos(np.pi * tt / total_steps)))
''',
    "max-eigvals-math": '''
import math


def stability_threshold(A):
    lam_max = max(np.linalg.eigvalsh(A))
    return 2 / float(lam_max)


def step_decay(t, *, lr0, drop, every):
    return lr0 * math.pow(drop, math.floor(t / every))


def exponential_decay(t, *, lr0, gamma):
    return lr0 * math.pow(gamma, t)


def cosine_schedule(t, *, lr0, total_steps, lr_min):
    if t >= total_steps:
        return float(lr_min)
    return lr_min + 0.5 * (lr0 - lr_min) * (1.0 + math.cos(math.pi * t / total_steps))
''',
    "spectral-norm-loops": '''
def stability_threshold(A):
    # A is symmetric positive definite, so its spectral norm is its largest eigenvalue.
    return float(2.0 / np.linalg.norm(A, 2))


def step_decay(t, *, lr0, drop, every):
    lr = float(lr0)
    for _ in range(t // every):
        lr *= drop
    return lr


def exponential_decay(t, *, lr0, gamma):
    lr = float(lr0)
    for _ in range(t):
        lr = lr * gamma
    return lr


def cosine_schedule(t, *, lr0, total_steps, lr_min):
    progress = min(t / total_steps, 1.0)
    return float(lr_min + (lr0 - lr_min) * (1 + np.cos(np.pi * progress)) / 2)
''',
    "svd-numpy-scalars": '''
def stability_threshold(A):
    singular_values = np.linalg.svd(A, compute_uv=False)
    return float(2 / singular_values.max())


def step_decay(t, *, lr0, drop, every):
    return lr0 * np.power(drop, np.floor(t / every))


def exponential_decay(t, *, lr0, gamma):
    return lr0 * np.power(gamma, t)


def cosine_schedule(t, *, lr0, total_steps, lr_min):
    T = total_steps
    t_eff = np.minimum(t, T)
    return lr_min + (lr0 - lr_min) * 0.5 * (1 + np.cos(np.pi * t_eff / T))
''',
    "eigvals-general-real": '''
def stability_threshold(A):
    lam = np.linalg.eigvals(np.array(A, dtype=float))
    return 2.0 / float(np.max(lam.real))


def step_decay(t, *, lr0, drop, every):
    k = int(t) // int(every)
    return float(lr0) * float(drop) ** k


def exponential_decay(t, *, lr0, gamma):
    return float(np.exp(t * np.log(gamma)) * lr0)


def cosine_schedule(t, *, lr0, total_steps, lr_min):
    cos_part = np.cos(np.pi * min(t, total_steps) / total_steps)
    return float(lr_min * (1 - cos_part) / 2 + lr0 * (1 + cos_part) / 2)
''',
    "sorted-eigs-helper": '''
def stability_threshold(A):
    eigs = sorted(np.linalg.eigvalsh(A.copy()), reverse=True)
    lambda_max = eigs[0]
    return 2.0 / lambda_max


def step_decay(t, *, lr0, drop, every):
    num_drops = int(np.floor(t / every))
    return lr0 * drop ** num_drops


def exponential_decay(t, *, lr0, gamma):
    return lr0 * (gamma ** t)


def cosine_schedule(t, *, lr0, total_steps, lr_min):
    def half_cosine(fraction):
        return 0.5 * (1.0 + np.cos(np.pi * fraction))

    fraction = 1.0 if t > total_steps else t / total_steps
    return lr_min + (lr0 - lr_min) * float(half_cosine(fraction))
''',
}

WHAT = {
    "eigvalsh-last": "eigvalsh(A)[-1]; ** with // ; np.cos with min(t, T); float() on every return",
    "max-eigvals-math": "max() over eigvalsh; math.pow and math.floor; early return lr_min for t >= T",
    "spectral-norm-loops": "2 / spectral norm (= lambda_max for SPD A); schedules by repeated multiplication in a loop",
    "svd-numpy-scalars": "2 / largest singular value; schedules return numpy float64 scalars (np.power, np.minimum)",
    "eigvals-general-real": "general np.linalg.eigvals (real part); exponential via exp(t log gamma); cosine rearranged as a convex combination",
    "sorted-eigs-helper": "sorted eigenvalues (returns numpy float64); np.floor; cosine with a helper inside and t > T clamp",
}
