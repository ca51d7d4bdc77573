"""Checks for the *local-minima* assignment: ``acceptance_probability``, ``temperature``,
``simulated_annealing`` and ``random_restarts``, against :mod:`gdlib.landscapes.search`.

``acceptance_probability`` and ``temperature`` are deterministic and compared with gdlib number
for number. ``simulated_annealing`` and ``random_restarts`` are random: any correct way of drawing
is accepted (see :mod:`gdcheck._statistics`), and the checks look at every decision instead.

- Simulated annealing runs many short chains on a tilted plane ``f(x) = a . x``, where a proposal
  is uphill or downhill with probability 1/2 each. The points ``f`` is called at reveal every
  proposal, and the returned path which were accepted, so each step gives ``(delta, T_t,
  accepted)``: downhill proposals must all be accepted, the number of uphill ones accepted must
  match Metropolis' rule at ``T_t = T0 * cooling**t``, and the proposals must look like
  ``step_size`` times standard normals. A few longer runs from a local minimum of
  :func:`gdlib.landscapes.multi_minima` must find its global minimum.
- Random restarts get a ``local_search`` callback that records the starts it is given.
"""

from __future__ import annotations

import math

import numpy as np

from gdcheck._engine import Case, Failure, Outputs, Spec, as_array, call_each, public_check, verify
from gdcheck._statistics import KS_LIMIT, Z_LIMIT, Sampled, ks_uniform, same_point, z_score
from gdcheck.catalogue_more import GLOBAL_SEARCH, RESTARTS, TILTED_PLANE, uphill_acceptance
from gdlib.landscapes import search, multi_minima

# -- acceptance_probability ---------------------------------------------------------------------

_REGIONS = (("P for delta < 0", lambda d: d < 0), ("P for delta = 0", lambda d: d == 0),
            ("P for delta > 0", lambda d: d > 0))


def _run_acceptance(impl, inputs):
    values = []
    for delta, T in zip(inputs["delta"], inputs["T"]):
        p = as_array(impl(float(delta), float(T)), "acceptance_probability(delta, T)")
        if p.shape != ():
            raise Failure(f"acceptance_probability(delta, T) must return one number for numbers "
                          f"delta and T, got an array of shape {p.shape}")
        values.append(float(p))
    values = np.array(values)
    return Outputs({key: values[where(inputs["delta"])] for key, where in _REGIONS})


def _acceptance_case(seed: int) -> Case:
    def make():
        rng = np.random.default_rng([seed, 11])
        T = 10 ** rng.uniform(-1.3, 0.7, size=14)
        ratio = np.concatenate([-rng.uniform(0.05, 20, 4), [0.0, 0.0], rng.uniform(0.02, 20, 8)])
        return {"delta": ratio * T, "T": T}
    return Case("4 downhill, 2 level and 8 uphill moves, T from 0.05 to 5", make)


_ACCEPTANCE = Spec("acceptance_probability", search.acceptance_probability, _run_acceptance,
                   forbidden=("gdlib.landscapes",),
                   hint="Metropolis' rule: P = 1 when delta <= 0 and exp(-delta / T) when "
                        "delta > 0; a probability is never above 1.")


@public_check
def check_acceptance_probability(acceptance_probability, *, seeds=(0, 1)):
    r"""Check ``acceptance_probability(delta, T) -> float``, Metropolis' rule

    .. math::

        P = 1 \text{ if } \Delta \le 0, \qquad P = e^{-\Delta / T} \text{ if } \Delta > 0,

    against :func:`gdlib.landscapes.acceptance_probability`, on 14 pairs (delta, T) per seed
    (downhill, level and uphill moves; T between 0.05 and 5).
    """
    return verify(_ACCEPTANCE, acceptance_probability, [_acceptance_case(s) for s in seeds])


# -- temperature --------------------------------------------------------------------------------

def _reference_temperature(t, *, T0, cooling):
    return search.temperature(t, T0=T0, schedule="exponential", cooling=cooling)


def _run_temperature(impl, inputs):
    values = []
    for t in range(inputs["num_steps"]):
        T = as_array(impl(t, T0=inputs["T0"], cooling=inputs["cooling"]), f"the temperature at t={t}")
        if T.shape != ():
            raise Failure(f"temperature(t, T0=..., cooling=...) must return one number, got an "
                          f"array of shape {T.shape} at t={t}")
        values.append(float(T))
    out = Outputs({"T_t": np.array(values)})
    out.axis_names["T_t"] = "t"
    return out


def _temperature_case(seed: int) -> Case:
    rng = np.random.default_rng([seed, 12])
    T0, cooling = float(rng.uniform(0.5, 5.0)), float(rng.uniform(0.8, 0.99))
    return Case("t = 0 .. 14", lambda: {"T0": T0, "cooling": cooling, "num_steps": 15})


_TEMPERATURE = Spec("temperature", _reference_temperature, _run_temperature,
                    forbidden=("gdlib.landscapes",))


@public_check
def check_temperature(temperature, *, seeds=(0, 1)):
    r"""Check ``temperature(t, *, T0, cooling) -> float``, the exponential schedule
    :math:`T_t = T_0\, c^{\,t}` for the steps t = 0, 1, 2, ... (``T_0`` at t = 0), against
    :func:`gdlib.landscapes.temperature`. One random (T0, cooling) per seed.
    """
    return verify(_TEMPERATURE, temperature, [_temperature_case(s) for s in seeds])


# -- simulated_annealing ------------------------------------------------------------------------

_TILTED_STEPS = 6
_GLOBAL_RUNS, _GLOBAL_STEPS, _GLOBAL_RADIUS, _GLOBAL_NEEDED = 6, 300, 0.5, 2
_LANDSCAPE = multi_minima()
# Read once here: a check's run is watched for calls into gdlib.landscapes, the package of the
# references (simulated_annealing, random_restarts), so it uses no Landscape method.
_GLOBAL_MINIMUM = np.asarray(_LANDSCAPE.global_minimum.point, dtype=float)
_LOCAL_MINIMA = [c.point for c in _LANDSCAPE.critical_points if c.kind == "local minimum"]
_CENTRES, _DEPTHS, _WIDTHS = (np.asarray(_LANDSCAPE.meta[k], dtype=float)
                              for k in ("centres", "depths", "widths"))
_WELLS = [(float(cx), float(cy), float(d), float(2 * w * w))
          for (cx, cy), d, w in zip(_CENTRES, _DEPTHS, _WIDTHS)]


def _wells(x: float, y: float) -> float:
    return sum(d * math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / s) for cx, cy, d, s in _WELLS)


# gdlib's value is vectorised for contour grids and slow for one point; this is the same function
# for one point in plain Python. The bowl's curvature c of f = c/2 |p|^2 - wells is read off it.
_BOWL = 2 * (float(_LANDSCAPE.value(np.array([3.0, 4.0]))) + _wells(3.0, 4.0)) / 25.0


def multi_minima_value(p) -> float:
    """:func:`gdlib.landscapes.multi_minima`'s value at one point ``p`` of shape (2,)."""
    x, y = float(p[0]), float(p[1])
    return 0.5 * _BOWL * (x * x + y * y) - _wells(x, y)


def _reference_annealing(f, x0, *, rng, num_steps, step_size, T0, cooling):
    return search.simulated_annealing(f, x0, rng=rng, num_steps=num_steps, step_size=step_size,
                                      T0=T0, schedule="exponential", cooling=cooling).path


def _annealing_call(f, x0, rng, inputs) -> tuple[tuple, dict]:
    """The arguments of one call of simulated_annealing, for :func:`call_each`."""
    return (f, x0), {"rng": rng, "num_steps": inputs["num_steps"], "step_size": inputs["step_size"],
                     "T0": inputs["T0"], "cooling": inputs["cooling"]}


def _checked_path(path, x0, inputs) -> np.ndarray:
    """The path one call of simulated_annealing returned, as an array, or a Failure."""
    path = as_array(path, "the path simulated_annealing returns")
    n, d = inputs["num_steps"], len(x0)
    if path.shape != (n + 1, d):
        raise Failure(f"simulated_annealing must return the path as an array of shape "
                      f"(num_steps + 1, d) = {(n + 1, d)}, got shape {path.shape}")
    if not np.all(np.isfinite(path)):
        step = int(np.argmax(~np.all(np.isfinite(path), axis=1)))
        raise Failure(f"the path contains NaN or infinite values, from path[{step}] on")
    if not np.array_equal(path[0], x0):
        raise Failure("path[0] must be x0, the start of the chain")
    return path


class RecordedPlane:
    """The tilted plane ``f(x) = a @ x``, recording (as tuples) every point it is called at.

    A plain object, so that a grader can run it next to the student's code (by value: no round
    trip per call) and bring the record back with the arguments the call changed.
    """

    travels_by_value = True

    def __init__(self, a):
        self.a = np.array(a, dtype=float)  # a copy: each plane is its own argument
        self.calls: list[tuple] = []

    def __call__(self, x) -> float:
        point = np.array(x, dtype=float)
        self.calls.append(tuple(point.ravel().tolist()))
        return float(self.a @ point)


def _proposals(calls: list, rows: list, num_steps: int) -> list:
    """The proposal of every step, read off the points f was called at, in order.

    A call at the chain's current point (f(x) evaluated again, before or after the proposal)
    or a repeat of the last proposal is skipped; every other call is the next step's proposal.
    """
    proposals = []
    for point in calls:
        k = len(proposals)
        if k == num_steps:
            break
        if point == rows[k] or (k and point in (proposals[-1], rows[k - 1])):
            continue
        proposals.append(point)
    if len(proposals) < num_steps:
        raise Failure(f"simulated_annealing must call f at each of its num_steps proposals "
                      f"x + step_size * z: found {len(proposals)} proposals for num_steps = "
                      f"{num_steps}")
    return proposals


def _run_tilted(impl, inputs):
    a, sigma, n = inputs["a"], inputs["step_size"], inputs["num_steps"]
    T = inputs["T0"] * inputs["cooling"] ** np.arange(n)
    delta, temps, accepted, steps = [], [], [], []
    # every run gets its own recording plane, Generator and start (call_each: no argument shared
    # by two calls); the last call repeats the first run (seed and start)
    starts = list(inputs["x0"]) + [inputs["x0"][0].copy()]
    seeds = list(range(len(inputs["x0"]))) + [0]
    planes = [RecordedPlane(a) for _ in starts]
    calls = [_annealing_call(f, x0, np.random.default_rng([inputs["seed"], r]), inputs)
             for f, x0, r in zip(planes, starts, seeds)]
    paths = []
    for f, x0, path in zip(planes, starts, call_each(impl, calls)):
        path = _checked_path(path, x0, inputs)
        paths.append(path)
        if len(paths) == len(starts):
            break  # the repeat: compared below
        rows = [tuple(row.tolist()) for row in path]
        for t, proposal in enumerate(_proposals(f.calls, rows, n)):
            if rows[t + 1] not in (proposal, rows[t]):
                raise Failure(f"path[t + 1] must be the proposal of step t if it was accepted, "
                              f"or path[t] if not; at step t = {t} of a run it is neither")
            move = np.array(proposal) - path[t]
            delta.append(float(a @ move))
            temps.append(T[t])
            accepted.append(rows[t + 1] == proposal)
            steps.append(move / sigma)
    first, again = paths[0], paths[-1]
    draws = {"delta": np.array(delta), "T": np.array(temps), "accepted": np.array(accepted),
             "steps": np.array(steps), "step_index": np.tile(np.arange(n), len(inputs["x0"])),
             "cooling": inputs["cooling"], "repeatable": bool(np.array_equal(first, again))}
    return Sampled(draws={TILTED_PLANE: draws})


def _judge_tilted(draws: dict) -> str | None:
    delta, accepted, steps = draws["delta"], draws["accepted"], draws["steps"]
    downhill = delta < 0
    refused = int(np.sum(downhill & ~accepted))
    if refused:
        return (f"simulated_annealing rejected {refused} of {int(downhill.sum())} downhill "
                "proposals (f lower at the proposal); Metropolis' rule accepts every move that "
                "lowers f (P = 1 when delta <= 0)")
    count, dim = steps.shape
    mean_square = float(np.mean(np.sum(steps**2, axis=1)) / dim)
    if abs(z_score(mean_square, 1.0, 2.0 / (count * dim))) > Z_LIMIT:
        return (f"the proposals do not look like x + step_size * rng.standard_normal(d): their "
                f"mean squared length per coordinate is {mean_square:.3g} * step_size**2, "
                "expected 1 * step_size**2")
    drift = np.abs(steps.mean(axis=0)) * np.sqrt(count)
    if np.max(drift) > Z_LIMIT + 0.5:
        return ("the proposals are not centred on the current point: propose "
                "x + step_size * rng.standard_normal(d)")
    z, taken, expected, sd = uphill_acceptance(draws)
    if abs(z) > Z_LIMIT:
        uphill = delta > 0
        per_step = []
        for t in range(int(draws["step_index"].max()) + 1):
            at = uphill & (draws["step_index"] == t)
            p = np.exp(-delta[at] / draws["T"][at])
            per_step.append(f"t = {t}: {int(accepted[at].sum())} vs {p.sum():.0f}")
        how = "more" if z > 0 else "fewer"
        return (f"simulated_annealing accepted {taken} of {int(uphill.sum())} uphill proposals; "
                f"Metropolis' rule at the temperatures T_t = T0 * cooling**t (t = 0, 1, ...) "
                f"accepts about {expected:.0f} +- {sd:.0f} of them. Yours accepted {how} "
                f"(yours vs expected, by step: {'; '.join(per_step)}). Step t must accept an "
                "uphill proposal when rng.random() < acceptance_probability(delta, "
                "temperature(t, T0=T0, cooling=cooling))")
    if not draws["repeatable"]:
        return ("the same seed gave a different path: take all randomness from rng "
                "(rng.standard_normal, rng.random), never from np.random")
    return None


def _run_global(impl, inputs):
    hits = 0
    target = _GLOBAL_MINIMUM
    # each run its own start (call_each: no argument shared by two calls); the first is the input
    starts = [inputs["x0"]] + [inputs["x0"].copy() for _ in range(_GLOBAL_RUNS - 1)]
    calls = [_annealing_call(multi_minima_value, x0,
                             np.random.default_rng([inputs["seed"], 1000 + r]), inputs)
             for r, x0 in enumerate(starts)]
    for x0, path in zip(starts, call_each(impl, calls)):
        path = _checked_path(path, x0, inputs)
        values = [multi_minima_value(p) for p in path]
        best = path[int(np.argmin(values))]
        hits += bool(np.linalg.norm(best - target) <= _GLOBAL_RADIUS)
    return Sampled(draws={GLOBAL_SEARCH: {"hits": hits, "runs": _GLOBAL_RUNS}})


def _judge_global(draws: dict) -> str | None:
    if draws["hits"] >= _GLOBAL_NEEDED:
        return None
    return (f"started in a local minimum of gdlib's multi_minima, simulated_annealing reached "
            f"the global minimum (its lowest point within {_GLOBAL_RADIUS} of it) in "
            f"{draws['hits']} of {draws['runs']} runs; a correct annealer with these settings "
            "does in about 95 % of runs")


def _validate_annealing(out) -> str | None:
    if TILTED_PLANE in out.draws:
        return _judge_tilted(out.draws[TILTED_PLANE])
    return _judge_global(out.draws[GLOBAL_SEARCH])


def _run_annealing(impl, inputs):
    if impl is _reference_annealing:
        return Sampled()  # its chains are random too and nothing of them is compared: skip them
    return (_run_tilted if inputs["kind"] == TILTED_PLANE else _run_global)(impl, inputs)


def _tilted_case(seed: int, num_runs: int) -> Case:
    def make():
        rng = np.random.default_rng([seed, 13])
        a = rng.normal(size=2)
        a *= rng.uniform(0.5, 2.0) / np.linalg.norm(a)
        sigma = float(rng.uniform(0.2, 1.0))
        # uphill moves climb sigma * |a| * |z|: start where they are often, not always, accepted
        T0 = float(sigma * np.linalg.norm(a) / rng.uniform(0.3, 0.5))
        return {"kind": TILTED_PLANE, "a": a, "x0": rng.normal(size=(num_runs, 2)), "seed": seed,
                "num_steps": _TILTED_STEPS, "step_size": sigma, "T0": T0,
                "cooling": float(rng.uniform(0.45, 0.55))}
    return Case(f"a tilted plane in 2-D, {num_runs} runs of {_TILTED_STEPS} steps, fast cooling",
                make)


def _global_case(seed: int) -> Case:
    def make():
        return {"kind": GLOBAL_SEARCH, "x0": np.array(_LOCAL_MINIMA[seed % len(_LOCAL_MINIMA)]), "seed": seed,
                "num_steps": _GLOBAL_STEPS, "step_size": 1.0, "T0": 0.5, "cooling": 0.99}
    return Case(f"gdlib's multi_minima from a local minimum, {_GLOBAL_RUNS} runs of "
                f"{_GLOBAL_STEPS} steps", make)


_ANNEALING = Spec("simulated_annealing", _reference_annealing, _run_annealing,
                  forbidden=("gdlib.landscapes",), validate=_validate_annealing,
                  helpers=(("acceptance_probability", search.acceptance_probability),
                           ("temperature", search.temperature)))


@public_check
def check_simulated_annealing(simulated_annealing, *, seeds=(0, 1), num_runs=250):
    r"""Check ``simulated_annealing(f, x0, *, rng, num_steps, step_size, T0, cooling) -> path``.

    ``path`` has shape (num_steps + 1, d): ``path[0]`` is ``x0`` and at step t = 0, 1, ... the
    chain proposes :math:`\tilde x = x_t + \sigma z`, :math:`z \sim \mathcal N(0, I)`, and moves
    there with probability ``acceptance_probability(f(x~) - f(x_t), temperature(t, ...))``.

    Per seed, ``num_runs`` chains of 6 steps on a tilted plane: every downhill proposal must be
    accepted, the uphill ones as often as Metropolis' rule says (within 5 standard deviations),
    and the proposals must be Gaussian with standard deviation ``step_size``; the same seed must
    give the same path. Then 6 runs of 300 steps on gdlib's ``multi_minima`` from a local minimum
    must reach the global minimum at least twice.
    """
    cases = [_tilted_case(s, num_runs) for s in seeds] + [_global_case(seeds[0] if seeds else 0)]
    return verify(_ANNEALING, simulated_annealing, cases,
                  what=" (every acceptance decision judged by Metropolis' rule)")


# -- random_restarts ----------------------------------------------------------------------------

def multi_minima_grad(p) -> np.ndarray:
    """The gradient of :func:`multi_minima_value` at one point ``p`` of shape (2,), computed here:
    the local search runs inside the student's call, where gdlib.landscapes is watched."""
    x, y = float(p[0]), float(p[1])
    gx, gy = _BOWL * x, _BOWL * y
    for cx, cy, d, s in _WELLS:
        e = 2.0 * d * math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / s) / s
        gx, gy = gx + e * (x - cx), gy + e * (y - cy)
    return np.array([gx, gy])


def _descend(x, num_steps: int = 25, lr: float = 0.5) -> np.ndarray:
    """The local search handed to random_restarts: 25 steps of gradient descent on multi_minima."""
    x = np.array(x, dtype=float)
    for _ in range(num_steps):
        x = x - lr * multi_minima_grad(x)
    return x


def _reference_restarts(f, local_search, bounds, *, rng, num_restarts):
    box = np.asarray(bounds, dtype=float)
    starts = rng.uniform(box[:, 0], box[:, 1], size=(num_restarts, len(box)))
    ends = [local_search(start) for start in starts]
    return ends[int(np.argmin([f(end) for end in ends]))]


class RecordedSearch:
    """The ``local_search`` handed to random_restarts: :func:`_descend`, recording the starts it
    is given and the end points it returns. A plain object, so that a grader can run it next to
    the student's code (by value, like :class:`RecordedPlane`)."""

    travels_by_value = True

    def __init__(self):
        self.starts: list = []
        self.ends: list = []

    def __call__(self, x):
        self.starts.append(np.array(x, dtype=float))
        self.ends.append(_descend(self.starts[-1]))
        return self.ends[-1].copy()


def _run_restarts(impl, inputs):
    bounds, m = inputs["bounds"], inputs["num_restarts"]
    searches = [RecordedSearch(), RecordedSearch()]  # twice with the same seed
    calls = [((multi_minima_value, search, box),
              {"rng": np.random.default_rng(inputs["seed"]), "num_restarts": m})
             for search, box in zip(searches, (bounds, bounds.copy()))]
    runs = []
    for search, best in zip(searches, call_each(impl, calls)):
        best = as_array(best, "the point random_restarts returns")
        if best.shape != (2,):
            raise Failure(f"random_restarts must return the best end point, an array of shape "
                          f"(2,) here, got shape {best.shape}")
        runs.append((np.array(search.starts).reshape(-1, 2), np.array(search.ends).reshape(-1, 2),
                     best))
    (starts, ends, best), (again, _, _) = runs
    draws = {"starts": starts, "ends": ends, "best": best, "bounds": np.asarray(bounds),
             "repeatable": starts.shape == again.shape and np.array_equal(starts, again)}
    return Sampled({"number of local searches": np.array(len(starts))}, draws={RESTARTS: draws})


def _validate_restarts(out) -> str | None:
    d = out.draws[RESTARTS]
    starts, ends, bounds = d["starts"], d["ends"], d["bounds"]
    m = len(starts)
    if m != out.inputs["num_restarts"]:
        return None  # reported as a difference in the number of local searches
    low, high = bounds[:, 0], bounds[:, 1]
    outside = np.any((starts < low) | (starts > high), axis=1)
    if outside.any():
        return (f"{int(outside.sum())} of the {m} starts lie outside the box bounds: draw each "
                "coordinate uniformly between bounds[i, 0] and bounds[i, 1]")
    distinct = len({tuple(s) for s in starts.tolist()})
    if distinct < m:
        return f"the {m} local searches started from only {distinct} different points"
    values = [multi_minima_value(e) for e in ends]
    if not any(same_point(d["best"], end) for end in ends):
        return "random_restarts must return one of the end points local_search returned"
    if multi_minima_value(d["best"]) > min(values) + 1e-12:
        return ("random_restarts returned an end point that is not the best one: return the end "
                "point with the lowest f")
    if m >= 20:
        for i in range(starts.shape[1]):
            u = (starts[:, i] - low[i]) / (high[i] - low[i])
            if ks_uniform(u) > KS_LIMIT:
                return (f"coordinate {i} of the starts is not uniform between its bounds: use "
                        "rng.uniform(low, high)")
    if not d["repeatable"]:
        return "the same seed gave different starts: take all randomness from rng"
    return None


def _restarts_case(seed: int, num_restarts: int) -> Case:
    def make():
        rng = np.random.default_rng([seed, 14, num_restarts])
        low = rng.uniform(-3.5, -1.5, size=2)
        return {"bounds": np.stack([low, low + rng.uniform(3.0, 5.0, size=2)], axis=1),
                "num_restarts": num_restarts, "seed": seed}
    return Case(f"gdlib's multi_minima, {num_restarts} restarts in a random box", make)


_RESTARTS = Spec("random_restarts", _reference_restarts, _run_restarts, forbidden=("gdlib.landscapes",),
                 validate=_validate_restarts)


@public_check
def check_random_restarts(random_restarts, *, seeds=(0, 1), num_restarts=(40, 5)):
    """Check ``random_restarts(f, local_search, bounds, *, rng, num_restarts) -> best_x``.

    It must call ``local_search(start)`` once for each of ``num_restarts`` starts drawn
    uniformly from the box ``bounds`` (shape (d, 2): a (low, high) row per coordinate) and return
    the end point with the lowest ``f``. Per seed, ``num_restarts[i % len(num_restarts)]``
    restarts on gdlib's ``multi_minima`` (the local search: 25 gradient-descent steps). The starts
    must lie in the box, differ, look uniform (with 20 or more of them), and repeat with the seed.
    """
    cases = [_restarts_case(s, num_restarts[i % len(num_restarts)]) for i, s in enumerate(seeds)]
    return verify(_RESTARTS, random_restarts, cases)
