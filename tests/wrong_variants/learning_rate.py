"""Wrong answers for the learning-rate assignment, keyed by catalogue mistake."""

SUBMISSIONS = {
    "st-one-over": '''
def stability_threshold(A):
    return 1 / max(np.linalg.eigvalsh(A))
''',
    "st-lambda-min": '''
def stability_threshold(A):
    return 2 / min(np.linalg.eigvalsh(A))
''',
    "st-diagonal": '''
def stability_threshold(A):
    return 2 / A.diagonal().max()
''',
    "sd-off-by-one": '''
def step_decay(t, *, lr0, drop, every):
    return lr0 * drop ** ((t + 1) // every)
''',
    "sd-no-floor": '''
def step_decay(t, *, lr0, drop, every):
    return lr0 * drop ** (t / every)
''',
    "ed-off-by-one": '''
def exponential_decay(t, *, lr0, gamma):
    return lr0 * gamma ** (t + 1)
''',
    "cs-off-by-one": '''
def cosine_schedule(t, *, lr0, total_steps, lr_min):
    t = min(t + 1, total_steps)
    return lr_min + 0.5 * (lr0 - lr_min) * (1 + np.cos(np.pi * t / total_steps))
''',
    "cs-no-clamp": '''
def cosine_schedule(t, *, lr0, total_steps, lr_min):
    return lr_min + 0.5 * (lr0 - lr_min) * (1 + np.cos(np.pi * t / total_steps))
''',
    "cs-no-lr-min": '''
def cosine_schedule(t, *, lr0, total_steps, lr_min):
    t = min(t, total_steps)
    return 0.5 * lr0 * (1 + np.cos(np.pi * t / total_steps))
''',
    "sd-round": '''
def step_decay(t, *, lr0, drop, every):
    return lr0 * drop ** round(t / every)
''',
}
