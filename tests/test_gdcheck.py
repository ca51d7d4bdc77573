"""gdcheck, the student-facing checks: the reference answers pass, every classic mistake fails
with a message that names it, delegating to gdlib is caught, warnings never reach stderr, and a
NaN or an exception fails with one clean AssertionError.

The "students" here are the answer cells of solutions/<id>/<id>.ipynb, executed as a kernel
would, and the wrong variants of tests/wrong_variants (numpy code written as students would).
The checks are driven through the notebooks' own test cells, hidden ones included.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import gdcheck
import gdlib.nn
import gdlib.optim
import gdlib.train
import wrong_variants as wv
from gdcheck.catalogue import MISTAKES, mistakes_for
from gdlib.optim import AdamState, MomentumState

ASSIGNMENTS = ("gradient-descent", "variants", "learning-rate", "optimizers",
               "local-minima", "speed", "saddle-points", "activations", "regularization")


@functools.cache
def notebook(assignment: str):
    return wv.read(assignment)


@functools.cache
def reference(assignment: str) -> dict:
    """The answer cells of solutions/<assignment>, executed: a student who got everything right."""
    return wv.namespace(notebook(assignment))


@pytest.fixture(scope="module")
def notebooks():
    return {a: notebook(a) for a in ASSIGNMENTS}


@pytest.fixture(scope="module")
def references():
    return {a: reference(a) for a in ASSIGNMENTS}


def grade_cells(nb, function: str | None = None) -> list:
    """The grade cells (visible and hidden), or those that name ``function``."""
    return [c for c in nb.cells if wv.is_test(c)
            and (function is None or re.search(rf"\b{function}\b", c.source))]


def run_cell(cell, ns: dict) -> None:
    exec(compile(cell.source, f"<{wv.nbgrader_meta(cell)['grade_id']}>", "exec"), ns)


def with_variant(nb, source: str) -> dict:
    cells = wv.answer_cells(nb)
    changed = {cells[name] for name in wv.defined_functions(source)}
    return wv.namespace(nb, {i: wv.replace_functions(nb.cells[i].source, source) for i in changed})


# -- the reference answers pass -----------------------------------------------------------------

@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_reference_answers_pass_every_test_cell(assignment, notebooks, references, capfd):
    cells = grade_cells(notebooks[assignment])
    assert cells
    for cell in cells:
        run_cell(cell, dict(references[assignment]))
    out, err = capfd.readouterr()
    assert err == ""
    assert out.count("agree with the reference") >= len(cells)


# -- every catalogue mistake fails and is named -------------------------------------------------

def all_variants():
    return [(a, key) for a in ASSIGNMENTS for key in wv.submissions(a)]


def test_every_mistake_has_a_wrong_variant_and_back():
    variants = {key for _, key in all_variants()}
    assert variants == set(MISTAKES), (set(MISTAKES) - variants, variants - set(MISTAKES))


@pytest.mark.parametrize("assignment,key", all_variants())
def test_wrong_variant_fails_every_cell_that_checks_it_naming_the_mistake(assignment, key, notebooks, capfd):
    nb, mistake = notebooks[assignment], MISTAKES[key]
    source = wv.submissions(assignment)[key]
    assert mistake.function in wv.defined_functions(source)
    ns = with_variant(nb, source)
    cells = grade_cells(nb, mistake.function)
    assert cells, f"no test cell checks {mistake.function}"
    for cell in cells:
        with pytest.raises(AssertionError) as caught:
            run_cell(cell, dict(ns))
        message = str(caught.value)
        assert f"This looks like {mistake.title}." in message, message
        assert mistake.explanation in message
        assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert capfd.readouterr().err == ""


def test_titles_are_unique_per_function():
    for function in {m.function for m in MISTAKES.values()}:
        titles = [m.title for m in mistakes_for(function)]
        assert len(titles) == len(set(titles)), function


# -- delegation to gdlib is caught --------------------------------------------------------------

def delegating_adam(x, g, state, **hyper):
    return gdlib.optim.adam_step(x, g, state, **hyper)


def adam_through_helper(x, g, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    return _helper(x, g, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps)


def _helper(*args, **kwargs):
    return getattr(gdlib.optim, "adam_step")(*args, **kwargs)


def delegating_gradient(f, x, h=1e-5):
    return gdlib.nn.numerical_gradient(f, x, h)


def delegating_minibatches(X, y, batch_size, rng):
    yield from gdlib.train.iterate_minibatches(X, y, batch_size, rng)


@pytest.mark.parametrize("check,fn,target", [
    (gdcheck.check_adam_step, gdlib.optim.adam_step, "gdlib.optim.adam_step"),
    (gdcheck.check_adam_step, delegating_adam, "gdlib.optim.adam_step"),
    (gdcheck.check_adam_step, adam_through_helper, "gdlib.optim.adam_step"),
    (gdcheck.check_adam_init, gdlib.optim.adam_init, "gdlib.optim.adam_init"),
    (gdcheck.check_numerical_gradient, delegating_gradient, "gdlib.nn.numerical_gradient"),
    (gdcheck.check_iterate_minibatches, delegating_minibatches, "gdlib.train.iterate_minibatches"),
    (gdcheck.check_step_decay, gdlib.optim.step_decay, "gdlib.optim.step_decay"),
])
def test_delegating_to_the_reference_fails(check, fn, target):
    with pytest.raises(AssertionError, match="implement the rule yourself") as caught:
        check(fn)
    assert target in str(caught.value)


def test_delegation_through_an_alias_in_globals_is_caught():
    ns = {"np": np}
    exec("from gdlib.nn.losses import softmax_cross_entropy as sce\n"
         "def two_layer_backward(X, y, params):\n"
         "    if X is None:\n"
         "        return sce(X, y)\n"
         "    raise ValueError('never reached by a correct check')\n", ns)
    with pytest.raises(AssertionError, match="calls gdlib.nn.softmax_cross_entropy"):
        gdcheck.check_two_layer_backward(ns["two_layer_backward"])


def test_the_state_named_tuples_and_unrelated_gdlib_are_allowed(references):
    ns = references["variants"]
    gdcheck.check_train(ns["train"])  # uses the student's iterate_minibatches and numpy only
    from gdlib.nn import sigmoid as gd_sigmoid

    def train_with_gdlib_sigmoid(X, y, *, batch_size, lr, num_epochs, rng):
        w, b = np.zeros(X.shape[1]), 0.0
        for _ in range(num_epochs):
            for X_b, y_b in ns["iterate_minibatches"](X, y, batch_size, rng):
                error = gd_sigmoid(X_b @ w + b) - y_b
                w, b = w - lr * X_b.T @ error / len(y_b), b - lr * error.mean()
        return w, b
    gdcheck.check_train(train_with_gdlib_sigmoid)


def test_allow_gdlib_lets_a_callback_use_gdlib():
    from gdcheck._delegation import Watcher, allow_gdlib

    callback = allow_gdlib(lambda v: gdlib.optim.sgd_init(v))
    with Watcher(("gdlib.optim",)) as watcher:
        callback(np.zeros(2))
        assert watcher.hits == []
        gdlib.optim.sgd_init(np.zeros(2))
    assert watcher.hits == ["gdlib.optim.sgd_init"]


def test_a_watcher_per_call_reads_the_package_from_disk_once(monkeypatch):
    """A watcher is made for every call of a student's function (hundreds per check in the
    local-minima sandbox): the files of a forbidden package are listed once per process, in a
    mapping no watcher can change, and the cached list still catches delegation."""
    from pathlib import Path

    from gdcheck._delegation import Watcher, module_files

    module_files.cache_clear()
    listed = []
    rglob = Path.rglob
    monkeypatch.setattr(Path, "rglob", lambda self, pattern: listed.append(self) or rglob(self, pattern))
    watchers = [Watcher(("gdlib.optim",)) for _ in range(3)]
    assert len(listed) == 1 and watchers[0].files is watchers[2].files
    with pytest.raises(TypeError):
        watchers[0].files["/tmp/elsewhere.py"] = "gdlib.optim"
    with watchers[2] as watcher:
        gdlib.optim.sgd_init(np.zeros(2))
    assert watcher.hits == ["gdlib.optim.sgd_init"]


# -- warnings, NaN, exceptions: one clean AssertionError, nothing on stderr --------------------

def test_warnings_from_a_correct_solution_never_reach_stderr(references, capfd):
    adam = references["optimizers"]["adam_step"]

    def noisy_adam(x, g, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        np.log(np.zeros(2))                      # RuntimeWarning: divide by zero
        np.exp(np.array([1000.0]))               # RuntimeWarning: overflow
        import warnings
        warnings.warn("a student's own warning", UserWarning)
        return adam(x, g, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps)

    gdcheck.check_adam_step(noisy_adam)
    out, err = capfd.readouterr()
    assert err == ""
    assert "adam_step: all" in out


def test_a_student_print_to_stderr_is_swallowed(references, capfd):
    import sys
    step = references["optimizers"]["momentum_step"]

    def chatty(x, g, state, *, lr, beta=0.9):
        print("debugging", file=sys.stderr)
        return step(x, g, state, lr=lr, beta=beta)

    gdcheck.check_momentum_step(chatty)
    assert capfd.readouterr().err == ""


def test_nan_output_fails_cleanly(references, capfd):
    step = references["optimizers"]["rmsprop_step"]

    def nan_step(x, g, state, *, lr, rho=0.9, eps=1e-8):
        x_new, s = step(x, g, state, lr=lr, rho=rho, eps=eps)
        return x_new + np.sqrt(-np.ones_like(x_new)), s

    with pytest.raises(AssertionError) as caught:
        gdcheck.check_rmsprop_step(nan_step)
    message = str(caught.value)
    assert "x after step 1 contains" in message and "NaN or infinite" in message
    assert "numpy warned" in message and "invalid value" in message
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert capfd.readouterr().err == ""


def test_an_exception_names_its_type_and_the_students_line(capfd):
    ns = {"np": np}
    exec("def gradient_descent(grad, x0, *, lr, num_steps):\n"
         "    path = [x0]\n"
         "    return np.stack(path) @ np.ones((7, 7))\n", ns)
    with pytest.raises(AssertionError) as caught:
        gdcheck.check_gradient_descent(ns["gradient_descent"])
    message = str(caught.value)
    assert "gradient_descent raised ValueError" in message
    assert "in gradient_descent, line 3" in message
    assert "on test case 1 of 2 (x0 of shape (2,), 3 steps)" in message
    assert caught.value.__context__ is None
    assert capfd.readouterr().err == ""


def test_an_unanswered_exercise_says_so():
    def adam_step(x, g, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        raise NotImplementedError()

    with pytest.raises(AssertionError, match=r"adam_step is not implemented yet: replace the line"):
        gdcheck.check_adam_step(adam_step)


def test_a_divergent_result_fails_with_a_message(references):
    gd = references["gradient-descent"]["gradient_descent"]

    def exploding(grad, x0, *, lr, num_steps):
        return gd(lambda x: 1e200 * np.exp(np.abs(x)) * grad(x), x0, lr=lr, num_steps=num_steps)

    with pytest.raises(AssertionError, match="(?s)does not match the reference.*path contains"):
        gdcheck.check_gradient_descent(exploding)


def test_messages_never_show_hidden_inputs(references):
    def wrong(x, g, state, *, lr, beta=0.9):
        return x - 2 * lr * g, MomentumState(v=beta * state.v + g)

    with pytest.raises(AssertionError) as caught:
        gdcheck.check_momentum_step(wrong, seeds=(987654,), shapes=((3,),))
    message = str(caught.value)
    assert "987654" not in message
    assert "x of shape (3,), float64, 4 steps, default hyperparameters" in message
    assert "lr=" not in message and "beta=" not in message.replace("beta=0, where", "")


# -- interface errors ---------------------------------------------------------------------------

def test_a_non_function_is_refused():
    with pytest.raises(AssertionError, match="adam_step must be a function, got ndarray"):
        gdcheck.check_adam_step(np.zeros(3))


def test_a_wrong_default_is_named(references):
    step = references["optimizers"]["adam_step"]

    def adam_step(x, g, state, *, lr, beta1=0.9, beta2=0.99, eps=1e-8):
        return step(x, g, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps)

    with pytest.raises(AssertionError, match=r"beta2 must default to 0.999 .*got 0.99"):
        gdcheck.check_adam_step(adam_step)


def test_a_missing_hyperparameter_is_named():
    def rmsprop_step(x, g, state, *, lr, eps=1e-8):
        return x, state

    with pytest.raises(AssertionError, match="rmsprop_step must accept the keyword argument rho"):
        gdcheck.check_rmsprop_step(rmsprop_step)


def test_a_plain_tuple_state_is_accepted_and_a_wrong_one_is_explained(references):
    step = references["optimizers"]["adam_step"]

    def tuple_adam(x, g, state, **hyper):
        x_new, s = step(x, g, AdamState(*state), **hyper)
        return x_new, tuple(s)

    gdcheck.check_adam_step(tuple_adam)

    def dict_adam(x, g, state, **hyper):
        x_new, s = step(x, g, state, **hyper)
        return x_new, s._asdict()

    with pytest.raises(AssertionError, match=r"must return the state as AdamState\(m=\.\.\., v=\.\.\., t=\.\.\.\)"):
        gdcheck.check_adam_step(dict_adam)


def test_float32_must_stay_float32(references):
    step = references["optimizers"]["momentum_step"]

    def upcasting(x, g, state, *, lr, beta=0.9):
        x_new, s = step(x, g, state, lr=lr, beta=beta)
        return x_new.astype(np.float64), s

    with pytest.raises(AssertionError, match="x after step 1 has dtype float64, expected float32"):
        gdcheck.check_momentum_step(upcasting)


def test_an_input_changed_in_place_is_named(references):
    step = references["optimizers"]["momentum_step"]

    def mutating(x, g, state, *, lr, beta=0.9):
        x_new, s = step(x, g, state, lr=lr, beta=beta)
        g *= 0.5
        return x_new, s

    with pytest.raises(AssertionError, match=r"changed its input gradients\[0\]"):
        gdcheck.check_momentum_step(mutating)


# -- properties: the verdicts do not depend on the seed -----------------------------------------

PROPERTY_SETTINGS = settings(max_examples=15, deadline=None)


@PROPERTY_SETTINGS
@given(seed=st.integers(0, 2**31 - 1), shape=st.sampled_from([(1,), (4,), (2, 3), (2, 1, 2)]))
def test_any_seed_passes_the_reference_and_names_each_optimizer_mistake(seed, shape):
    ns = reference("optimizers")
    for rule in ("momentum", "nesterov", "adagrad", "rmsprop", "adam"):
        check = getattr(gdcheck, f"check_{rule}_step")
        check(ns[f"{rule}_step"], seeds=(seed,), shapes=(shape,))
        for mistake in mistakes_for(f"{rule}_step"):
            with pytest.raises(AssertionError, match=re.escape(mistake.title)):
                check(mistake.implementation, seeds=(seed,), shapes=(shape,))


@PROPERTY_SETTINGS
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(4, 40), d=st.integers(1, 4))
@example(seed=765, n=4, d=1)  # the reference's second epoch repeats its first (1 in 24 for n = 4)
def test_any_seed_and_size_passes_the_reference_minibatches(seed, n, d):
    gdcheck.check_iterate_minibatches(reference("variants")["iterate_minibatches"],
                                      seeds=(seed,), shapes=((n, d),))


def test_an_order_reused_every_epoch_is_named_on_small_data_too():
    # below n = 10 a repeated order is not refused outright (it can be chance): the comparison
    # with the reference's second epoch fails it, and the catalogue still names the mistake
    orders = {}

    def reused_order(X, y, batch_size, rng):
        order = orders.setdefault(len(X), rng.permutation(len(X)))
        size = batch_size or len(X)
        for start in range(0, len(X), size):
            yield X[order[start:start + size]], y[order[start:start + size]]

    with pytest.raises(AssertionError, match=re.escape("the same order in every epoch")):
        gdcheck.check_iterate_minibatches(reused_order, seeds=(0, 1), shapes=((4, 1), (7, 2)))
    orders.clear()
    with pytest.raises(AssertionError, match=re.escape("the same order in every epoch")):
        gdcheck.check_iterate_minibatches(reused_order, seeds=(765, 3), shapes=((4, 1),))


@PROPERTY_SETTINGS
@given(seed=st.integers(0, 2**31 - 1))
def test_any_seed_names_the_backward_pass_mistakes(seed):
    nb = notebook("gradient-descent")
    gdcheck.check_two_layer_backward(reference("gradient-descent")["two_layer_backward"], seeds=(seed,))
    for key in ("tl-relu-at-zero", "tl-no-relu-mask", "tl-mask-by-activation", "tl-sum-not-mean",
                "tl-naive-softmax"):
        ns = with_variant(nb, wv.submissions("gradient-descent")[key])
        with pytest.raises(AssertionError, match=re.escape(MISTAKES[key].title)):
            gdcheck.check_two_layer_backward(ns["two_layer_backward"], seeds=(seed,))


def test_gdcheck_ships_no_marker_hidden_test_or_solution_line():
    """gdcheck goes to students: no region of a source notebook may appear in it."""
    import importlib.util
    import sys
    spec = importlib.util.spec_from_file_location("plant_markers", wv.REPO_ROOT / "tools/plant_markers.py")
    plant_markers = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("plant_markers", plant_markers)
    spec.loader.exec_module(plant_markers)
    text = "\n".join(p.read_text() for p in sorted((wv.REPO_ROOT / "gdcheck").glob("*.py")))
    assert "MARKER:" not in text
    public = {line.strip() for path in (wv.REPO_ROOT / "gdlib").rglob("*.py")
              for line in path.read_text().splitlines()}
    for assignment in ASSIGNMENTS:
        public |= plant_markers.public_lines(wv.source_notebook(assignment))
        for region in plant_markers.notebook_regions(wv.source_notebook(assignment)):
            for line in region.secret_lines:
                if len(line) > 30 and line not in public:
                    assert line not in text, f"gdcheck holds a line of {assignment}'s {region.kind}: {line!r}"


def test_the_public_api_is_the_list_of_checks():
    assert gdcheck.__all__ == sorted(n for n in dir(gdcheck) if n.startswith("check_"))
    for name in gdcheck.__all__:
        check = getattr(gdcheck, name)
        assert check.__name__ == name and check.__doc__


def test_an_output_far_larger_than_the_references_is_refused_not_kept():
    from gdcheck import check_numerical_gradient

    def bloated(f, x, h=1e-5):
        return np.zeros((2048, 1024))  # 16.8 MB where the reference returns a few numbers

    with pytest.raises(AssertionError, match=r"returns about 16.8 MB on test case 1 .* return only what"):
        check_numerical_gradient(bloated)


def test_checks_forbid_gdlib_by_package():
    """Every ``forbidden=`` of gdcheck names a package of gdlib (or one module inside one, where a
    check must let the rest of the package through), so moving code inside a package never
    touches gdcheck; the watcher covers every module of a forbidden package."""
    import ast
    import importlib
    from gdcheck._delegation import Watcher

    packages = {p.name for p in (wv.REPO_ROOT / "gdlib").iterdir() if (p / "__init__.py").exists()}
    named = set()
    for path in sorted((wv.REPO_ROOT / "gdcheck").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "forbidden":
                named |= {e.value for e in node.value.elts}
    assert named and all(name.split(".")[:2] in (["gdlib", p] for p in packages) for name in named), named
    for name in named:
        importlib.import_module(name)
    watched = set(Watcher(("gdlib.landscapes",)).files)
    assert {str(p.resolve()) for p in (wv.REPO_ROOT / "gdlib" / "landscapes").glob("*.py")} <= watched
