"""Honest answers to the local-minima exercise.

Each entry of SUBMISSIONS is the source of a complete, correct student answer
(acceptance_probability, temperature, simulated_annealing, random_restarts), written from the
student notebook's text alone. It runs after the notebook's setup cell (``np``, ``gdcheck``).
"""

SUBMISSIONS = {
    "literal-spec": '''
def acceptance_probability(delta, T):
    if delta <= 0:
        return 1.0
    return float(np.exp(-delta / T))


def temperature(t, *, T0, cooling):
    return float(T0 * cooling ** t)


def simulated_annealing(f, x0, *, rng, num_steps, step_size, T0, cooling):
    x = np.array(x0, dtype=float)
    d = x.shape[0]
    path = np.empty((num_steps + 1, d))
    path[0] = x
    for t in range(num_steps):
        proposal = x + step_size * rng.standard_normal(d)
        delta = f(proposal) - f(x)
        u = rng.random()
        if u < acceptance_probability(delta, temperature(t, T0=T0, cooling=cooling)):
            x = proposal
        path[t + 1] = x
    return path


def random_restarts(f, local_search, bounds, *, rng, num_restarts):
    best_x, best_f = None, np.inf
    for _ in range(num_restarts):
        start = rng.uniform(bounds[:, 0], bounds[:, 1])
        end = local_search(start)
        value = f(end)
        if value < best_f:
            best_x, best_f = end, value
    return best_x
''',
    "math-cached-f": '''
import math


def acceptance_probability(delta, T):
    return 1.0 if delta <= 0 else math.exp(-delta / T)


def temperature(t, *, T0, cooling):
    return T0 * math.pow(cooling, t)


def simulated_annealing(f, x0, *, rng, num_steps, step_size, T0, cooling):
    x = np.asarray(x0, dtype=float).copy()
    fx = f(x)
    path = [x.copy()]
    for t in range(num_steps):
        z = rng.standard_normal(x.size)
        x_new = x + step_size * z
        f_new = f(x_new)
        T = temperature(t, T0=T0, cooling=cooling)
        if rng.random() < acceptance_probability(f_new - fx, T):
            x, fx = x_new, f_new
        path.append(x.copy())
    return np.array(path)


def random_restarts(f, local_search, bounds, *, rng, num_restarts):
    bounds = np.asarray(bounds, dtype=float)
    ends = []
    for _ in range(num_restarts):
        ends.append(local_search(rng.uniform(bounds[:, 0], bounds[:, 1])))
    return min(ends, key=f)
''',
    "predrawn-noise": '''
def acceptance_probability(delta, T):
    return float(np.exp(-max(delta, 0.0) / T))


def temperature(t, *, T0, cooling):
    return float(T0) * float(cooling) ** int(t)


def simulated_annealing(f, x0, *, rng, num_steps, step_size, T0, cooling):
    x0 = np.asarray(x0, dtype=float)
    d = len(x0)
    Z = rng.standard_normal((num_steps, d))
    U = rng.random(num_steps)
    path = np.zeros((num_steps + 1, d))
    path[0] = x0
    for t in range(num_steps):
        current = path[t]
        proposal = current + step_size * Z[t]
        delta = f(proposal) - f(current)
        p = acceptance_probability(delta, temperature(t, T0=T0, cooling=cooling))
        path[t + 1] = proposal if U[t] < p else current
    return path


def random_restarts(f, local_search, bounds, *, rng, num_restarts):
    b = np.array(bounds, dtype=float)
    starts = rng.uniform(b[:, 0], b[:, 1], size=(num_restarts, b.shape[0]))
    ends = [local_search(s) for s in starts]
    values = [f(e) for e in ends]
    return ends[int(np.argmin(values))]
''',
    "lazy-uniform-draw": '''
def acceptance_probability(delta, T):
    p = np.minimum(1.0, np.exp(-delta / T))
    return float(p)


def temperature(t, *, T0, cooling):
    return T0 * cooling ** t


def simulated_annealing(f, x0, *, rng, num_steps, step_size, T0, cooling):
    x = np.copy(x0).astype(float)
    chain = [x]
    for t in range(num_steps):
        cand = x + step_size * rng.standard_normal(x.shape[0])
        delta = f(cand) - f(x)
        if delta <= 0:
            x = cand  # accepted with probability 1; no need to draw u
        elif rng.random() < acceptance_probability(delta, temperature(t, T0=T0, cooling=cooling)):
            x = cand
        chain.append(x)
    return np.vstack(chain)


def random_restarts(f, local_search, bounds, *, rng, num_restarts):
    low, high = bounds[:, 0], bounds[:, 1]
    best = None
    for r in range(num_restarts):
        end = local_search(rng.uniform(low, high))
        if best is None or f(end) < f(best):
            best = end
    return best
''',
    "log-acceptance-generator": '''
def acceptance_probability(delta, T):
    if delta > 0:
        return float(np.exp(-delta / T))
    else:
        return 1.0


def temperature(t, *, T0, cooling):
    return float(np.exp(np.log(T0) + t * np.log(cooling)))


def simulated_annealing(f, x0, *, rng, num_steps, step_size, T0, cooling):
    def chain():
        x = np.array(x0, dtype=float, copy=True)
        yield x
        for t in range(num_steps):
            prop = x + step_size * rng.standard_normal(len(x))
            delta = f(prop) - f(x)
            u = rng.random()
            if u < acceptance_probability(delta, temperature(t, T0=T0, cooling=cooling)):
                x = prop
            yield x

    return np.array(list(chain()))


def random_restarts(f, local_search, bounds, *, rng, num_restarts):
    lows = np.array([b[0] for b in bounds], dtype=float)
    highs = np.array([b[1] for b in bounds], dtype=float)
    results = []
    for _ in range(num_restarts):
        start = lows + (highs - lows) * rng.random(len(lows))
        end = local_search(start)
        results.append((f(end), end))
    best_value, best_end = min(results, key=lambda pair: pair[0])
    return best_end
''',
    "while-loop-copyto": '''
def acceptance_probability(delta, T):
    delta = float(delta)
    return 1.0 if not delta > 0 else float(np.exp(-delta / float(T)))


def temperature(t, *, T0, cooling):
    T = T0
    for _ in range(t):
        T *= cooling
    return float(T)


def simulated_annealing(f, x0, *, rng, num_steps, step_size, T0, cooling):
    x0 = np.asarray(x0, dtype=float)
    path = np.tile(x0, (num_steps + 1, 1))
    x = x0.copy()
    t = 0
    while t < num_steps:
        x_tilde = x + step_size * rng.standard_normal(x0.size)
        delta = f(x_tilde) - f(x)
        accept = rng.random() < acceptance_probability(delta, temperature(t, T0=T0, cooling=cooling))
        if accept:
            np.copyto(x, x_tilde)
        path[t + 1] = x
        t += 1
    return path


def random_restarts(f, local_search, bounds, *, rng, num_restarts):
    bounds = np.asarray(bounds, dtype=float)
    best_end, best_val = None, None
    for _ in range(num_restarts):
        start = rng.uniform(low=bounds[:, 0], high=bounds[:, 1])
        end = local_search(start)
        val = f(end)
        if best_val is None or val < best_val:
            best_end, best_val = end, val
    return best_end
''',
}

WHAT = {
    "literal-spec": "the text's calls literally, incl. rng.uniform(bounds[:, 0], bounds[:, 1]) on bounds as given; preallocated path",
    "math-cached-f": "math.exp / math.pow; f cached for the current point; path as a list; min(ends, key=f); bounds converted with np.asarray",
    "predrawn-noise": "exp(-max(delta, 0) / T); all z and u drawn up front; all starts drawn in one rng.uniform call; argmin",
    "lazy-uniform-draw": "min(1, exp(-delta/T)); u drawn only for uphill proposals; bounds[:, 0] used directly (bounds as given)",
    "log-acceptance-generator": "temperature via exp(log T0 + t log c); the chain as an inner generator; starts as low + (high - low) * rng.random(d) from bounds rows",
    "while-loop-copyto": "temperature by repeated multiplication; path by np.tile then overwritten; while loop with np.copyto; best tracked with None",
}
