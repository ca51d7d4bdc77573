"""gdcheck for the local-minima, saddle-points, activations and regularization assignments: what
tests/test_gdcheck.py does not already cover for them. (That file runs their reference answers and
every wrong variant of tests/wrong_variants through all their test cells; they are registered in
its ASSIGNMENTS.)

- The randomised checks (simulated annealing, random restarts, perturbed gradient descent,
  dropout) accept any correct way of drawing: gdlib's own functions, which draw in another order
  than the notebooks' answers, and other correct spellings pass.
- Their statistics bite for any seed: the reference passes and the subtle mistakes are named.
- A mistake in a helper (acceptance_probability, temperature) fails the annealer's test cells too.
- Mistakes outside the catalogue get a message that says what is wrong; delegation is caught;
  nothing reaches stderr; hidden seeds never show.
"""

from __future__ import annotations

import dataclasses
import functools
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gdcheck
import gdlib.landscapes
import gdlib.nn
import wrong_variants as wv
from gdcheck import local_minima, regularization, saddle_points
from gdcheck._engine import verify
from gdcheck._statistics import ks_uniform, z_score
from gdcheck.catalogue import MISTAKES

MORE = ("local-minima", "saddle-points", "activations", "regularization")


@functools.cache
def notebook(assignment: str):
    return wv.read(assignment)


@functools.cache
def reference(assignment: str) -> dict:
    """The answer cells of solutions/<assignment>, executed as a kernel would."""
    return wv.namespace(notebook(assignment))


def student(source: str, assignment: str) -> dict:
    """A fresh kernel's namespace after the answer cells and then ``source`` (a student's
    functions, which the answer functions calling them then use)."""
    ns = wv.namespace(notebook(assignment))
    exec(source, ns)
    return ns


def test_these_assignments_are_registered_with_the_generic_gdcheck_tests():
    import test_gdcheck
    assert set(MORE) <= set(test_gdcheck.ASSIGNMENTS)
    keys = {key for a in MORE for key in wv.submissions(a)}
    assert keys <= set(MISTAKES) and all(MISTAKES[k].function in wv.defined_functions(
        wv.submissions(a)[k]) for a in MORE for k in wv.submissions(a))


# -- any correct way of drawing passes ---------------------------------------------------------

def _unforbidden(spec):
    return dataclasses.replace(spec, forbidden=())


def gdlib_annealing(f, x0, *, rng, num_steps, step_size, T0, cooling):
    return gdlib.landscapes.simulated_annealing(f, x0, rng=rng, num_steps=num_steps,
                                            step_size=step_size, T0=T0, cooling=cooling).path


def gdlib_pgd(grad, x0, *, lr, rng, num_steps, g_thresh, radius):
    return gdlib.landscapes.perturbed_gradient_descent(grad, x0, lr=lr, rng=rng, num_steps=num_steps,
                                                   g_thresh=g_thresh, radius=radius, wait=0).path


def gdlib_dropout(X, p, rng):
    out, mask = gdlib.nn.dropout_forward(X, p, rng)
    return (out, mask) if mask is not None else (X.copy(), np.ones_like(X))


def test_gdlibs_own_randomised_functions_pass_the_statistical_checks():
    """gdlib draws the proposal before u, the kick's direction before its radius: any order passes."""
    cases = [local_minima._tilted_case(s, 250) for s in (3, 4)] + [local_minima._global_case(5)]
    assert "agree" in verify(_unforbidden(local_minima._ANNEALING), gdlib_annealing, cases)
    cases = [saddle_points._pgd_case(s, d, 40) for s, d in ((3, 2), (4, 3))]
    assert "agree" in verify(_unforbidden(saddle_points._PGD), gdlib_pgd, cases)
    cases = [regularization._dropout_case(s, (400, 50), None) for s in (3, 4)]
    assert "agree" in verify(_unforbidden(regularization._DROPOUT), gdlib_dropout, cases)


OTHER_SPELLINGS = {
    ("local-minima", "simulated_annealing"): '''
def simulated_annealing(f, x0, *, rng, num_steps, step_size, T0, cooling):
    path = np.empty((num_steps + 1, len(x0)))
    path[0] = x0
    for t in range(num_steps):
        u = rng.random()                                   # u drawn first
        proposal = path[t] + rng.normal(0.0, step_size, size=len(x0))
        delta = f(proposal) - f(path[t])                   # f of the current point again
        accept = delta <= 0 or u < acceptance_probability(f(proposal) - f(path[t]),
                                                          temperature(t, T0=T0, cooling=cooling))
        path[t + 1] = proposal if accept else path[t]
    return path
''',
    ("local-minima", "random_restarts"): '''
def random_restarts(f, local_search, bounds, *, rng, num_restarts):
    low, high = np.asarray(bounds, dtype=float).T
    starts = low + (high - low) * rng.random((num_restarts, len(low)))
    return min((local_search(s) for s in starts), key=f)
''',
    ("saddle-points", "perturbed_gradient_descent"): '''
def perturbed_gradient_descent(grad, x0, *, lr, rng, num_steps, g_thresh, radius):
    path = [np.asarray(x0, dtype=float)]
    for _ in range(num_steps):
        x = path[-1]
        if np.linalg.norm(grad(x)) <= g_thresh:
            while True:                                    # rejection sampling from the cube
                kick = rng.uniform(-radius, radius, size=len(x))
                if np.linalg.norm(kick) <= radius:
                    break
            x = x + kick
        path.append(x - lr * grad(x))
    return np.stack(path)
''',
    ("saddle-points", "classify_critical_point"): '''
def classify_critical_point(hessian):
    values = np.linalg.eigh(hessian)[0]
    scale = 1e-8 * max(1.0, np.abs(values).max())
    signs = {int(np.sign(v)) if abs(v) > scale else 0 for v in values}
    if {1, -1} <= signs:
        return "saddle"
    return {frozenset({1}): "minimum", frozenset({-1}): "maximum"}.get(frozenset(signs), "degenerate")
''',
    ("activations", "sigmoid"): '''
def sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))
''',
    ("activations", "layer_gradient_norms"): '''
def layer_gradient_norms(model, X, y):
    grads = model.loss_and_grads(X, y)[1]
    return {name: np.sqrt(np.sum(grads[w] * grads[w])) for name, (w, b) in model.layer_keys().items()}
''',
    ("regularization", "dropout_forward"): '''
def dropout_forward(X, p, rng):
    mask = rng.binomial(1, 1.0 - p, size=X.shape) / (1.0 - p)
    return X * mask, mask
''',
}


@pytest.mark.parametrize("assignment,function", list(OTHER_SPELLINGS))
def test_other_correct_spellings_pass(assignment, function, capfd):
    ns = student(OTHER_SPELLINGS[assignment, function], assignment)
    getattr(gdcheck, f"check_{function}")(ns[function], seeds=(5, 6))
    out, err = capfd.readouterr()
    assert "agree with the reference" in out and err == ""


def test_a_naive_sigmoid_passes_and_its_overflow_warning_stays_quiet(capfd):
    ns = student("def sigmoid(z):\n    return 1.0 / (1.0 + np.exp(-z))\n", "activations")
    gdcheck.check_sigmoid(ns["sigmoid"])
    gdcheck.check_sigmoid_grad(ns["sigmoid_grad"])
    assert capfd.readouterr().err == ""


# -- the statistics bite for any seed ---------------------------------------------------------

PROPERTY_SETTINGS = settings(max_examples=4, deadline=None)


def _named(check, fn, key, **kwargs):
    with pytest.raises(AssertionError, match=re.escape(f"This looks like {MISTAKES[key].title}.")):
        check(fn, **kwargs)


@PROPERTY_SETTINGS
@given(seed=st.integers(0, 2**31 - 1))
def test_any_seed_passes_the_annealer_and_names_a_temperature_one_step_ahead(seed):
    gdcheck.check_simulated_annealing(reference("local-minima")["simulated_annealing"], seeds=(seed,))
    ns = student(wv.submissions("local-minima")["sa-temperature-ahead"], "local-minima")
    _named(gdcheck.check_simulated_annealing, ns["simulated_annealing"], "sa-temperature-ahead",
           seeds=(seed,))


@PROPERTY_SETTINGS
@given(seed=st.integers(0, 2**31 - 1), dim=st.integers(2, 4))
def test_any_seed_and_dimension_passes_the_perturbed_descent_and_names_its_mistakes(seed, dim):
    check = functools.partial(gdcheck.check_perturbed_gradient_descent, seeds=(seed,), dims=(dim,))
    check(reference("saddle-points")["perturbed_gradient_descent"])
    for key in ("pgd-always", "pgd-never", "pgd-stale-gradient"):
        _named(check, student(wv.submissions("saddle-points")[key], "saddle-points")
               ["perturbed_gradient_descent"], key)


@PROPERTY_SETTINGS
@given(seed=st.integers(0, 2**31 - 1), dim=st.integers(2, 5))
def test_any_seed_and_dimension_classifies_and_names_the_classification_mistakes(seed, dim):
    check = functools.partial(gdcheck.check_classify_critical_point, seeds=(seed,), dims=(dim,))
    check(reference("saddle-points")["classify_critical_point"])
    for key in ("cc-determinant", "cc-trace", "cc-zero-as-minimum"):
        _named(check, student(wv.submissions("saddle-points")[key], "saddle-points")
               ["classify_critical_point"], key)


@PROPERTY_SETTINGS
@given(seed=st.integers(0, 2**31 - 1))
def test_any_seed_passes_dropout_and_names_its_mistakes(seed):
    gdcheck.check_dropout_forward(reference("regularization")["dropout_forward"], seeds=(seed,))
    for key in ("dropout-no-rescale", "dropout-keep-probability"):
        _named(gdcheck.check_dropout_forward, student(wv.submissions("regularization")[key],
                                                      "regularization")["dropout_forward"],
               key, seeds=(seed,))


@pytest.mark.parametrize("key", ["ap-sign", "ap-always", "temp-off-by-one", "temp-linear"])
def test_a_wrong_helper_costs_only_its_own_points(key):
    """One bug, one function: the annealer is checked with gdlib's helpers lent to it, so a
    correct annealer passes its cells beside a wrong helper, and the helper's own cell fails."""
    nb = notebook("local-minima")
    ns = student(wv.submissions("local-minima")[key], "local-minima")
    annealer = [c for c in nb.cells if wv.is_test(c) and "simulated_annealing" in c.source]
    assert len(annealer) == 2
    helper = MISTAKES[key].function
    theirs = ns["simulated_annealing"].__globals__[helper]
    for cell in annealer:
        exec(cell.source, dict(ns))
    assert ns["simulated_annealing"].__globals__[helper] is theirs  # put back after the check
    own = [c for c in nb.cells if wv.is_test(c) and f"check_{helper}(" in c.source]
    assert own
    with pytest.raises(AssertionError, match=helper):
        exec(own[0].source, dict(ns))


# -- messages for mistakes the catalogue does not list ------------------------------------------

ANNEALER = '''
def simulated_annealing(f, x0, *, rng, num_steps, step_size, T0, cooling):
    x = np.array(x0, dtype=float)
    path = [x]
    for t in range(num_steps):
        candidate = x + {proposal}
        p = acceptance_probability(f(candidate) - f(x), temperature(t, T0=T0, cooling=cooling))
        if {test}:
            x = candidate
        path.append(x)
    return {result}
'''
GOOD = {"proposal": "step_size * rng.standard_normal(len(x))", "test": "rng.random() < p",
        "result": "np.array(path)"}
PGD = '''
def perturbed_gradient_descent(grad, x0, *, lr, rng, num_steps, g_thresh, radius):
    x = np.array(x0, dtype=float)
    path = [x]
    for _ in range(num_steps):
        if np.linalg.norm(grad(x)) <= g_thresh:
            z = rng.standard_normal(len(x))
            x = x + {kick}
        x = x - lr * grad(x)
        path.append(x)
    return np.array(path)
'''


@pytest.mark.parametrize("assignment,function,source,expected", [
    ("local-minima", "simulated_annealing", ANNEALER.format(**{**GOOD, "test": "rng.random() > p"}),
     "rejected .* downhill proposals"),
    ("local-minima", "simulated_annealing",
     ANNEALER.format(**{**GOOD, "proposal": "rng.uniform(-step_size, step_size, len(x))"}),
     r"proposals do not look like x \+ step_size \* rng.standard_normal\(d\)"),
    ("local-minima", "simulated_annealing", ANNEALER.format(**{**GOOD, "result": "x"}),
     r"must return the path as an array of shape \(num_steps \+ 1, d\) = \(7, 2\)"),
    ("local-minima", "simulated_annealing",
     ANNEALER.format(**{**GOOD, "proposal": "step_size * np.random.standard_normal(len(x))"}),
     "the same seed gave a different path"),
    ("local-minima", "simulated_annealing",
     "def simulated_annealing(f, x0, *, rng, num_steps, step_size, T0, cooling):\n"
     "    return np.array([x0] * (num_steps + 1), dtype=float)\n",
     "must call f at each of its num_steps proposals"),
    ("local-minima", "random_restarts",
     "def random_restarts(f, local_search, bounds, *, rng, num_restarts):\n"
     "    b = np.asarray(bounds)\n"
     "    return [local_search(rng.uniform(b[:, 0], b[:, 1])) for _ in range(num_restarts)][-1]\n",
     "not the best one"),
    ("local-minima", "random_restarts",
     "def random_restarts(f, local_search, bounds, *, rng, num_restarts):\n"
     "    return min((local_search(rng.uniform(-5, 5, 2)) for _ in range(num_restarts)), key=f)\n",
     "outside the box bounds"),
    ("saddle-points", "perturbed_gradient_descent",
     PGD.format(kick="radius * z / np.linalg.norm(z)"), "not uniform in the ball"),
    ("saddle-points", "perturbed_gradient_descent", PGD.format(kick="radius * z"),
     r"for any kick xi with \|\|xi\|\| <= radius"),
    ("saddle-points", "classify_critical_point",
     "def classify_critical_point(hessian):\n    return 'min'\n", "must return one of 'minimum'"),
    ("saddle-points", "classify_critical_point",
     "def classify_critical_point(hessian):\n"
     "    e = np.linalg.eigvalsh(hessian)\n"
     "    if np.all(e > 0):\n        return 'minimum'\n"
     "    if np.all(e < 0):\n        return 'maximum'\n"
     "    return 'saddle' if e.min() < 0 < e.max() else 'degenerate'\n",
     r"Hessian \d+ of \d+ \(\dx\d, eigenvalue signs \([-+0, ]+\)\): yours '\w+', expected"),
    ("activations", "relu", "def relu(z):\n    return np.maximum(z, 0).ravel()\n",
     r"must return an array of the shape of z, \(4, 5\)"),
    ("activations", "leaky_relu",
     "def leaky_relu(z, alpha=0.1):\n    return np.where(z > 0, z, alpha * z)\n",
     "alpha with the default 0.01"),
    ("activations", "layer_gradient_norms",
     "def layer_gradient_norms(model, X, y):\n"
     "    grads = model.loss_and_grads(X, y)[1]\n"
     "    return [np.linalg.norm(grads[k]) for k in grads if k.startswith('W')]\n",
     r"must return a dict with the keys \['layer 1'"),
    ("regularization", "dropout_forward",
     "def dropout_forward(X, p, rng):\n"
     "    mask = (np.random.default_rng(0).random(X.shape) >= p) / (1 - p)\n"
     "    return X * mask, mask\n",
     "the same rng gave the same mask: draw a fresh mask"),
    ("regularization", "dropout_forward",
     "def dropout_forward(X, p, rng):\n    return X * (rng.random(X.shape) >= p) / (1 - p)\n",
     r"must return a pair \(out, mask\)"),
], ids=["sa-reversed-test", "sa-uniform-proposals", "sa-final-point-only", "sa-global-rng",
        "sa-never-calls-f", "rr-last-not-best", "rr-outside-bounds", "pgd-sphere", "pgd-gaussian",
        "cc-bad-label", "cc-no-tolerance", "relu-flattened", "leaky-default", "norms-list",
        "dropout-same-mask", "dropout-no-pair"])
def test_mistakes_outside_the_catalogue_get_a_message_that_says_what_is_wrong(
        assignment, function, source, expected, capfd):
    ns = student(source, assignment)
    with pytest.raises(AssertionError, match=expected) as caught:
        getattr(gdcheck, f"check_{function}")(ns[function])
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert capfd.readouterr().err == ""


def test_an_exception_in_a_helper_names_the_helper_and_its_line():
    source = ANNEALER.format(proposal="propose(step_size, len(x), rng)", test="rng.random() < p",
                             result="np.array(path)")
    source += "\n\ndef propose(step_size, d, rng):\n    return step_size * rng.standard_normal(d) * (1 / (d - d))\n"
    ns = student(source, "local-minima")
    with pytest.raises(AssertionError, match=r"(?s)simulated_annealing raised ZeroDivisionError.*"
                                             r"in propose, line \d+"):
        gdcheck.check_simulated_annealing(ns["simulated_annealing"])


def test_a_nan_path_fails_cleanly(capfd):
    source = PGD.format(kick="radius * z / np.linalg.norm(z) * rng.random() ** (1 / len(x))")
    ns = student(source.replace("x = x - lr * grad(x)", "x = x - lr * grad(x) * np.sqrt(-lr)"),
                 "saddle-points")
    with pytest.raises(AssertionError, match=r"the path contains NaN or infinite values, from "
                                             r"path\[1\] on") as caught:
        gdcheck.check_perturbed_gradient_descent(ns["perturbed_gradient_descent"])
    assert caught.value.__context__ is None and capfd.readouterr().err == ""


def test_messages_never_show_hidden_seeds():
    ns = student(wv.submissions("local-minima")["sa-temperature-ahead"], "local-minima")
    with pytest.raises(AssertionError) as caught:
        gdcheck.check_simulated_annealing(ns["simulated_annealing"], seeds=(987654,))
    message = str(caught.value)
    assert "987654" not in message
    assert "a tilted plane in 2-D, 250 runs of 6 steps, fast cooling" in message


# -- delegation -------------------------------------------------------------------------------

@pytest.mark.parametrize("assignment,function,source,target", [
    ("local-minima", "simulated_annealing",
     "def simulated_annealing(f, x0, **kw):\n"
     "    return gdlib.landscapes.simulated_annealing(f, x0, **kw).path\n",
     "gdlib.landscapes.simulated_annealing"),
    ("local-minima", "acceptance_probability",
     "from gdlib.landscapes.search import acceptance_probability as metropolis\n"
     "def acceptance_probability(delta, T):\n    return metropolis(delta, T)\n",
     "gdlib.landscapes.acceptance_probability"),
    ("saddle-points", "perturbed_gradient_descent",
     PGD.format(kick="gdlib.landscapes.uniform_ball(rng, len(x), radius)"), "gdlib.landscapes.uniform_ball"),
    ("saddle-points", "classify_critical_point",
     "def classify_critical_point(hessian):\n"
     "    return gdlib.landscapes.classify_critical_point(hessian)\n",
     "gdlib.landscapes.classify_critical_point"),
    ("activations", "sigmoid_grad",
     "def sigmoid_grad(z):\n    s = gdlib.nn.sigmoid(z)\n    return s * (1 - s)\n",
     "gdlib.nn.sigmoid"),
    ("regularization", "dropout_forward",
     "def dropout_forward(X, p, rng):\n    return gdlib.nn.dropout_forward(X, p, rng)\n",
     "gdlib.nn.dropout_forward"),
], ids=["simulated_annealing", "acceptance_probability-alias", "uniform_ball", "classify",
        "sigmoid", "dropout_forward"])
def test_delegating_to_the_reference_fails(assignment, function, source, target):
    ns = student("import gdlib.landscapes, gdlib.nn\n" + source,
                 assignment)
    with pytest.raises(AssertionError, match="implement the rule yourself") as caught:
        getattr(gdcheck, f"check_{function}")(ns[function])
    assert target in str(caught.value)


# -- the helpers ------------------------------------------------------------------------------

@settings(max_examples=25, deadline=None)
@given(x=st.floats(-4, 4), y=st.floats(-4, 4))
def test_the_fast_multi_minima_value_is_gdlibs(x, y):
    p = np.array([x, y])
    assert local_minima.multi_minima_value(p) == pytest.approx(
        float(gdlib.landscapes.multi_minima().value(p)), rel=1e-12, abs=1e-12)


def test_the_statistics_helpers_on_hand_computed_cases():
    assert ks_uniform([0.5]) == pytest.approx(0.5)
    n = 16
    assert ks_uniform((np.arange(1, n + 1) - 0.5) / n) == pytest.approx(0.5 / np.sqrt(n))
    assert ks_uniform(np.full(100, 0.99)) == pytest.approx(np.sqrt(100) * 0.99)
    assert z_score(60, 50, 25) == pytest.approx(2.0)
    assert z_score(0, 0, 0) == 0.0 and z_score(1, 0, 0) == np.inf


# -- answers compared as the notebooks promise ----------------------------------------------------

def test_a_float32_dropout_mask_passes_at_six_significant_digits():
    """The notebook promises agreement to about six significant digits: 1 / (1 - p) held in
    float32 (about 7 digits) is a right mask."""
    ns = student('''
def dropout_forward(X, p, rng):
    keep = (rng.random(X.shape) >= p).astype(np.float32)
    mask = keep / np.float32(1 - p)
    return X * mask, mask
''', "regularization")
    gdcheck.check_dropout_forward(ns["dropout_forward"])
    ns = student('''
def dropout_forward(X, p, rng):
    keep = rng.random(X.shape) >= p
    mask = keep * round(1 / (1 - p), 3)
    return X * mask, mask
''', "regularization")
    with pytest.raises(AssertionError, match="about six significant digits"):
        gdcheck.check_dropout_forward(ns["dropout_forward"])


def test_inputs_restored_up_to_rounding_are_unchanged_and_others_are_not():
    restored = student('''
def numerical_gradient(f, x, h=1e-5):
    grad = np.zeros_like(x, dtype=float)
    for i in np.ndindex(x.shape):
        x[i] += h
        up = f(x)
        x[i] -= 2 * h
        down = f(x)
        x[i] += h
        grad[i] = (up - down) / (2 * h)
    return grad
''', "gradient-descent")
    gdcheck.check_numerical_gradient(restored["numerical_gradient"])
    left = student('''
def numerical_gradient(f, x, h=1e-5):
    grad = np.zeros_like(x, dtype=float)
    for i in np.ndindex(x.shape):
        x[i] += h
        up = f(x)
        x[i] -= 2 * h
        down = f(x)
        x[i] += 1.0001 * h
        grad[i] = (up - down) / (2 * h)
    return grad
''', "gradient-descent")
    with pytest.raises(AssertionError, match="changed its input x in place"):
        gdcheck.check_numerical_gradient(left["numerical_gradient"])
