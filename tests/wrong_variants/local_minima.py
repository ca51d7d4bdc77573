"""Wrong answers for the local-minima assignment, keyed by catalogue mistake."""

SUBMISSIONS = {
    "ap-sign": '''
def acceptance_probability(delta, T):
    return float(np.exp(delta / T))
''',
    "ap-always": '''
def acceptance_probability(delta, T):
    if delta <= 0:
        return 1.0
    return min(1.0, float(np.exp(delta / T)))
''',
    "temp-off-by-one": '''
def temperature(t, *, T0, cooling):
    T = T0
    for _ in range(t + 1):
        T = T * cooling
    return T
''',
    "temp-linear": '''
def temperature(t, *, T0, cooling):
    return T0 - cooling * t
''',
    "sa-always-accept": '''
def simulated_annealing(f, x0, *, rng, num_steps, step_size, T0, cooling):
    x = np.array(x0, dtype=float)
    path, accepted = [x], 0
    for t in range(num_steps):
        candidate = x + step_size * rng.standard_normal(len(x))
        T = temperature(t, T0=T0, cooling=cooling)
        if rng.random() < acceptance_probability(f(candidate) - f(x), T):
            accepted += 1
        x = candidate
        path.append(x)
    return np.array(path)
''',
    "sa-temperature-ahead": '''
def simulated_annealing(f, x0, *, rng, num_steps, step_size, T0, cooling):
    x = np.array(x0, dtype=float)
    fx = f(x)
    path = [x]
    for t in range(1, num_steps + 1):
        candidate = x + rng.normal(0.0, step_size, size=len(x))
        f_candidate = f(candidate)
        if rng.random() < acceptance_probability(f_candidate - fx, temperature(t, T0=T0, cooling=cooling)):
            x, fx = candidate, f_candidate
        path.append(x)
    return np.array(path)
''',
    "rr-same-start": '''
def random_restarts(f, local_search, bounds, *, rng, num_restarts):
    bounds = np.asarray(bounds, dtype=float)
    start = rng.uniform(bounds[:, 0], bounds[:, 1])
    ends = [local_search(start) for _ in range(num_restarts)]
    return min(ends, key=f)
''',
}
