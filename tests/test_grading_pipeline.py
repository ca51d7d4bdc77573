"""Instructor grading: the pieces around the batch.

- the codec that carries student results to the grader (grading/codec.py): plain data only,
  read through the base types, so a lying object arrives as what it really holds;
- feedback: no hidden test, marker or solution, the failure messages, no other student's data;
- release: only the notebooks and allowed data files reach students and sandboxes;
- the gradebook: re-running gives the same scores and keeps manual grades; an interruption keeps
  every grade already committed; ``python -m grading grade`` prints a progress bar and the
  summary table and writes grades.csv; ``make grade`` runs it;
- an assignment of two notebooks: each scored and given feedback on its own, a missing one 0;
- fidelity: student code in the sandbox receives real gdlib models and functions, Generators
  whose draws by a callback carry over, and helpers gdcheck lends it.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from test_grading_batch import (ASSIGNMENT, REPO_ROOT, TOKEN, Plan, batch, make_course,  # noqa: F401
                                write_submissions)

from grading import codec, protocol

pytestmark = pytest.mark.grading


# -- the codec ----------------------------------------------------------------------------------

def _codec():
    from grading.proxies import _grader_namedtuple
    return codec.Codec(codec.RefTable(), lambda meta, ref: ("remote", meta.get("type"), ref),
                          resolve_namedtuple=_grader_namedtuple)


def _roundtrip(value):
    codec = _codec()
    return codec.decode(*codec.encode(value))


def test_plain_data_survives_the_trip():
    from gdlib.optim import AdamState
    value = {"x": np.arange(6.0).reshape(2, 3), "n": 3, "f": float("nan"), "s": "é", "b": b"\x00\x01",
             "t": (1, [2.5, None]), 4: {1, 2}, "state": AdamState(np.zeros(2), np.ones(2), 3),
             "scalar": np.float32(1.5), "big": 2**70, "c": 1 + 2j}
    back = _roundtrip(value)
    assert np.array_equal(back["x"], value["x"]) and back["x"].dtype == np.float64
    assert np.isnan(back["f"]) and back["s"] == "é" and back["b"] == b"\x00\x01" and back["big"] == 2**70
    assert back["t"] == (1, [2.5, None]) and back[4] == {1, 2} and back["c"] == 1 + 2j
    assert type(back["state"]) is AdamState and back["state"].t == 3
    assert back["scalar"].dtype == np.float32


def test_a_generator_is_drained_and_a_random_generator_keeps_its_state():
    rng = np.random.default_rng(5)
    back = _roundtrip({"gen": (i * i for i in range(4)), "rng": rng})
    assert list(back["gen"]) == [0, 1, 4, 9]
    assert back["rng"].integers(10**9) == rng.integers(10**9)


def test_lying_objects_arrive_as_what_they_hold():
    class LiarFloat(float):
        def __eq__(self, other):
            return True

        def __float__(self):
            return 123.0

        __hash__ = float.__hash__

    class LiarArray(np.ndarray):
        def __eq__(self, other):
            return True

    class LiarDict(dict):
        def items(self):
            return [("w", 1.0)]

    class LiarList(list):
        def __iter__(self):
            return iter([1, 2, 3])

    back = _roundtrip([LiarFloat(0.5), np.zeros(3).view(LiarArray), LiarDict(a=2.0), LiarList([7])])
    assert type(back[0]) is float and back[0] == 0.5
    assert type(back[1]) is np.ndarray and not np.array_equal(back[1], np.ones(3))
    assert back[2] == {"a": 2.0} and back[3] == [7]


def test_other_objects_travel_as_references_only():
    class Anything:
        def __eq__(self, other):
            return True

    codec = _codec()
    tree, blobs = codec.encode(Anything())
    assert tree["t"] == "ref"
    assert codec.decode(tree, blobs)[0] == "remote"


@pytest.mark.parametrize("tree, blobs, match", [
    ({"t": "nd", "i": 3}, [], "blob index"),
    ({"t": "pickle", "v": "x"}, [], "unknown node type"),
    ({"t": "list", "v": "no"}, [], "list of items"),
    ({"t": "float", "v": "1e999"}, [], "bad float"),
    ({"t": "rng", "bg": "os.system", "state": {}}, [], "bit generator"),
])
def test_the_grader_refuses_malformed_payloads(tree, blobs, match):
    with pytest.raises(protocol.ProtocolError, match=match):
        _codec().decode(tree, blobs)


def test_the_grader_refuses_object_arrays_bad_sizes_and_deep_nesting():
    pickled = pickle.dumps(np.array([1, 2], dtype=object))
    for dtype in ("|O", "[('a', '<f8')]", "(2,)<f8"):
        with pytest.raises(protocol.ProtocolError, match="dtype"):
            _codec().decode({"t": "nd", "dtype": dtype, "shape": [2], "i": 0}, [pickled])
    with pytest.raises(protocol.ProtocolError, match="does not match"):
        _codec().decode({"t": "nd", "dtype": "<f8", "shape": [3], "i": 0}, [b"\0" * 16])
    deep = 1.0
    for _ in range(codec.MAX_DEPTH + 5):
        deep = {"t": "list", "v": [deep]}
    with pytest.raises(protocol.ProtocolError, match="nested too deeply"):
        _codec().decode(deep, [])


def test_decoding_has_a_budget_of_items_and_time(monkeypatch):
    from grading import codec
    wide = {"t": "list", "v": [{"t": "list", "v": []}] * 20_000}
    assert len(_codec().decode(wide, [])) == 20_000
    monkeypatch.setattr(codec, "MAX_NODES", 10_000)
    with pytest.raises(protocol.ProtocolError, match="more than 10000 items"):
        _codec().decode(wide, [])
    monkeypatch.setattr(codec, "MAX_NODES", 2_000_000)
    monkeypatch.setattr(codec, "DECODE_SECONDS", -1.0)
    with pytest.raises(protocol.ProtocolError, match="to read"):
        _codec().decode(wide, [])


# -- the sandbox without root, and without the zygote --------------------------------------------

@pytest.mark.parametrize("mode", ["bubblewrap", "unsafe-same-user", "root-without-bubblewrap-or-zygote"])
def test_the_sandbox_runs_in_each_isolation_mode(tmp_path, mode):
    import dataclasses
    import time

    from grading.proxies import Bridge
    from grading.sandbox import Sandbox, cleanup_runtime, prepare_runtime
    iso = prepare_runtime(tmp_path, [])
    use_zygote = mode != "root-without-bubblewrap-or-zygote"
    try:
        assert iso.bubblewrap, iso.why_not_bubblewrap
        if mode == "unsafe-same-user":  # an ordinary user's grader without bubblewrap (here uid 0)
            iso = dataclasses.replace(iso, as_root=False, namespaces=False, network_namespace=False,
                                      bubblewrap=False, why_not_bubblewrap="bwrap is not installed")
            assert "WARNING: student code can read and change everything" in iso.description
        elif mode == "root-without-bubblewrap-or-zygote":
            iso = dataclasses.replace(iso, bubblewrap=False, namespaces=True, network_namespace=True)
        sandbox = Sandbox(iso, 7, memory_mb=1024, use_zygote=use_zygote)
        sandbox.start()
        bridge = Bridge(sandbox)
        bridge.deadline = time.monotonic() + 60
        reply = bridge.exec("import os\ndef twice(x):\n    return 2 * x\nprint(os.getcwd())")
        assert reply["outputs"][0]["text"].strip() == sandbox.box
        assert bridge.resolve(["twice"])["twice"](np.arange(3)).tolist() == [0, 2, 4]
        assert (sandbox.zygote is not None) == use_zygote
        sandbox.close()
    finally:
        cleanup_runtime(iso)


@contextlib.contextmanager
def _answers_in_sandbox(tmp_path, slot: int, answers: str):
    """A real sandbox that has run ``answers`` without an error, and the bridge to it."""
    import time

    from grading.proxies import Bridge
    from grading.sandbox import Sandbox, cleanup_runtime, prepare_runtime
    iso = prepare_runtime(tmp_path, [])
    try:
        sandbox = Sandbox(iso, slot, memory_mb=1024)
        sandbox.start()
        bridge = Bridge(sandbox)
        bridge.deadline = time.monotonic() + 120
        reply = bridge.exec(answers)
        assert not any(o.get("output_type") == "error" for o in reply["outputs"]), reply
        yield bridge
        sandbox.close()
    finally:
        cleanup_runtime(iso)


# -- fidelity: student code gets the real thing ---------------------------------------------------

FIDELITY_ANSWERS = """
import numpy as np

def norms(model, X, y):                      # a gdlib model, used as in a notebook
    _, grads = model.loss_and_grads(X, y)
    return {name: float(np.linalg.norm(grads[w])) for name, (w, _) in model.layer_keys().items()}

def kind(model):
    from gdlib.nn import MLP
    return type(model).__name__, isinstance(model, MLP), model._f.__module__

def apply(fn, z):                            # a gdlib function, called here
    return fn.__module__, fn(z)

def two_epochs(batches, X, y, rng):          # a grader's callback that draws from rng
    first = [b[1].tolist() for b in batches(X, y, 2, rng)]
    second = [b[1].tolist() for b in batches(X, y, 2, rng)]
    return first, second

def grow(model):                             # an in-place change to a model
    model.params["b1"] += 1.0

def missing(f):
    return f.no_such_attribute

def uses_helper(x):
    return helper(x) + 1

def helper(x):
    return -1000
"""


def test_student_code_receives_real_course_objects_and_functions(tmp_path):
    """What crosses to student code is exactly what the test cell passes in a notebook: a gdlib
    model it can call methods of, gdlib functions, a Generator whose draws by a callback are
    seen by the next call; in-place changes come back; error messages name no grader class."""
    import gdlib.nn
    from gdcheck._delegation import reference_helpers
    from gdlib.nn import MLP
    from gdlib.train import iterate_minibatches
    with _answers_in_sandbox(tmp_path, 7, FIDELITY_ANSWERS) as bridge:
        fns = bridge.resolve(["norms", "kind", "apply", "two_epochs", "grow", "missing", "uses_helper"])
        rng = np.random.default_rng(3)
        model = MLP((4, 5, 3), "tanh", rng=rng)
        X, y = rng.normal(size=(6, 4)), rng.integers(0, 3, size=6)
        grads = model.loss_and_grads(X, y)[1]
        expected = {n: float(np.linalg.norm(grads[w])) for n, (w, _) in model.layer_keys().items()}
        assert fns["norms"](model, X, y) == expected
        assert fns["kind"](model) == ("MLP", True, "gdlib.nn.activations")
        module, value = fns["apply"](gdlib.nn.relu, np.array([-1.0, 2.0]))
        assert module == "gdlib.nn.activations" and value.tolist() == [0.0, 2.0]
        X2, y2 = np.zeros((4, 1)), np.arange(4.0)
        first, second = fns["two_epochs"](iterate_minibatches, X2, y2, np.random.default_rng(0))
        plain_rng = np.random.default_rng(0)
        plain = [[b[1].tolist() for b in iterate_minibatches(X2, y2, 2, plain_rng)] for _ in range(2)]
        assert [first, second] == plain and first != second
        before = model.params["b1"].copy()
        fns["grow"](model)
        assert np.array_equal(model.params["b1"], before + 1.0)
        with pytest.raises(AttributeError) as caught:
            fns["missing"](lambda z: z)
        assert "GraderObject" not in str(caught.value) and "'function' object" in str(caught.value)
        assert fns["uses_helper"](1) == -999
        with reference_helpers(fns["uses_helper"], (("helper", gdlib.nn.relu),)):
            assert fns["uses_helper"](np.array([2.0])).tolist() == [3.0]
        assert fns["uses_helper"](1) == -999  # the student's helper is back


CALL_EACH_ANSWERS = """
import numpy as np

ran = []

def chain(f, x, *, rng, fail_at=None):     # records its calls in f, draws from rng, may raise
    ran.append(float(x))
    if x == fail_at:
        raise ValueError(f"no chain from {x}")
    f(np.array([x, rng.standard_normal()]))
    return np.array([x, rng.random()])

def how_many():
    return len(ran)

def cheat(t):                               # delegates to the gdlib reference
    import gdlib.landscapes
    return gdlib.landscapes.temperature(t, T0=1.0, schedule="exponential", cooling=0.5)
"""


def test_call_each_runs_batches_in_the_sandbox_as_a_loop_would(tmp_path, monkeypatch):
    """gdcheck's ``call_each`` through a sandbox gives what the plain loop gives: the results in
    order, each call's in-place changes (a recording test function, a Generator) mirrored before
    its result reaches the check, the exception of the call that raised at its place (after the
    results before it), in batches of 1, then growing, so far fewer round trips than calls; a
    check that stops early leaves the calls after the current batch unrun."""
    from gdcheck._engine import call_each
    from gdcheck.local_minima import RecordedPlane
    from grading import proxies
    from grading.sandbox import Sandbox

    def calls_for(starts, fail_at=None):
        planes = [RecordedPlane(np.array([1.0, 2.0])) for _ in starts]
        rngs = [np.random.default_rng(int(x)) for x in starts]
        return planes, rngs, [((f, float(x)), {"rng": r, "fail_at": fail_at})
                              for f, x, r in zip(planes, starts, rngs)]

    plain_ns: dict = {}
    exec(CALL_EACH_ANSWERS, plain_ns)
    with _answers_in_sandbox(tmp_path, 6, CALL_EACH_ANSWERS) as bridge:
        fns = bridge.resolve(["chain", "how_many", "cheat"])
        requests = []
        real_send = Sandbox.send
        monkeypatch.setattr(Sandbox, "send", lambda self, header, *a, **k: (
            requests.append(header.get("op")), real_send(self, header, *a, **k))[1])
        starts = range(100)
        got, expected = calls_for(starts), calls_for(starts)
        results = list(call_each(fns["chain"], got[2]))
        plain = list(call_each(plain_ns["chain"], expected[2]))
        assert len(results) == 100 and all(np.array_equal(a, b) for a, b in zip(results, plain))
        assert [f.calls for f in got[0]] == [f.calls for f in expected[0]] and got[0][5].calls
        assert all(a.bit_generator.state == b.bit_generator.state for a, b in zip(got[1], expected[1]))
        assert requests.count("calls") == 4 and "call" not in requests  # 1 + 8 + 64 + 27 calls

        # the call that raised: the results before it, then its exception, nothing after it
        before = fns["how_many"]()
        seen = []
        with pytest.raises(ValueError, match="no chain from 20.0"):
            for result in call_each(fns["chain"], calls_for(range(40), fail_at=20.0)[2]):
                seen.append(float(result[0]))
        assert seen == [float(x) for x in range(20)] and fns["how_many"]() == before + 21

        # a check that stops at the first result: only the first batch (one call) ran; a check
        # that stops in the middle of a batch: the sandbox stops it soon (at most the batch),
        # its other replies are dropped, and the next request gets its own reply
        before = fns["how_many"]()
        for _ in call_each(fns["chain"], calls_for(range(40))[2]):
            break
        assert fns["how_many"]() == before + 1
        for k, _ in enumerate(call_each(fns["chain"], calls_for(range(200))[2])):
            if k == 10:
                break
        ran = fns["how_many"]() - before - 1
        assert 11 <= ran <= 1 + 8 + 64
        # a check that raises while reading: the batch is stopped as the generator closes
        stopped_at = fns["how_many"]()
        results = call_each(fns["chain"], calls_for(range(200))[2])
        for k, _ in enumerate(results):
            if k == 10:
                break
        results.close()
        assert bridge._stream is None or bridge._stream.get("stopped")
        assert fns["how_many"]() - stopped_at <= 1 + 8 + 64
        ran += fns["how_many"]() - stopped_at
        with pytest.raises(ValueError):
            list(call_each(fns["chain"], calls_for(range(5, 40), fail_at=7.0)[2]))
        assert fns["how_many"]() == before + 1 + ran + 3
        # a Generator shared by the calls: each call draws where the one before stopped
        shared = np.random.default_rng(5)
        planes = [RecordedPlane(np.ones(2)) for _ in range(12)]
        requests.clear()
        results = list(call_each(fns["chain"], [((f, 1.0), {"rng": shared}) for f in planes]))
        plain_rng = np.random.default_rng(5)
        plain = list(call_each(plain_ns["chain"], [((RecordedPlane(np.ones(2)), 1.0), {"rng": plain_rng})
                                                   for _ in range(12)]))
        assert all(np.array_equal(a, b) for a, b in zip(results, plain))
        assert shared.bit_generator.state == plain_rng.bit_generator.state

        monkeypatch.setattr(proxies, "CALLS_MAX", 4)
        assert len(list(call_each(fns["chain"], calls_for(range(30))[2]))) == 30

        # the delegation watcher of the running check sees every call of the batch
        from gdcheck._delegation import Watcher
        with Watcher(("gdlib.landscapes",)) as watcher:
            assert list(call_each(fns["cheat"], [((t,), {}) for t in range(3)])) == [1.0, 0.5, 0.25]
        assert "gdlib.landscapes.temperature" in watcher.hits


# -- feedback and release (from the shared batch) ------------------------------------------------

def _secrets():
    from grading.feedback import secret_lines
    source = REPO_ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    release = REPO_ROOT / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    nbs = {ASSIGNMENT: (json.loads(source.read_text()), json.loads(release.read_text()))}
    return secret_lines(nbs)


def test_feedback_never_shows_hidden_tests_markers_or_solutions(batch):
    from grading.feedback import leaks
    secrets = _secrets()
    assert secrets, "the assignment has hidden tests"
    pages = {s: html for s, html in batch["feedback"].items() if html}
    assert set(pages) == {s for s, r in batch["results"].items() if r["status"] != "refused"}
    for student, html in pages.items():
        assert not leaks(html, secrets), student
        assert "HIDDEN TESTS" not in html and "MARKER:" not in html, student
    assert not any(batch["feedback_problems"].values()), batch["feedback_problems"]


def test_feedback_install_cell_names_the_student_repository_of_course_yml(batch):
    """The install cell on a feedback page shows ``git+<student repository>@<branch>`` of
    course.yml (as in the notebooks students got), never an unfilled ``{{ ... }}``."""
    from grading.sections import install_values
    values = install_values(Path(batch["course"]))
    assert set(values) == {"student_repository", "branch"}
    import html
    pages = {s: page for s, page in batch["feedback"].items() if page}
    texts = {s: html.unescape(re.sub(r"<[^>]+>", "", page)) for s, page in pages.items()}
    graded = [s for s, text in texts.items() if "importlib.util.find_spec" in text]
    assert graded, "no feedback page shows the install cell"
    for student, page in pages.items():
        assert "{{" not in page and "{{" not in texts[student], student
    for student in graded:
        assert f"git+{values['student_repository']}@{values['branch']}" in texts[student], student


def test_a_hidden_tests_message_keeps_the_mistake_and_drops_the_details():
    import nbformat

    from grading.feedback import HiddenTestSummaries
    message = ("adam_step is not right yet. This looks like Adam without bias correction.\n"
               "Divide m and v by (1 - beta**t).\n(Details: on test case 2 of 3 (x of shape (4,)), "
               "x after step 1 differs at index 3: yours 0.123457, expected 0.987654.)")
    visible = "gdcheck.check_adam_step(adam_step)"
    hidden = visible + "\n### BEGIN HIDDEN TESTS\ngdcheck.check_adam_step(adam_step, seeds=(75, 87))\n" \
                       "### END HIDDEN TESTS"
    cells = []
    for source in (visible, hidden):
        cell = nbformat.v4.new_code_cell(source, metadata={"nbgrader": {"grade": True, "grade_id": "t",
                                                                        "points": 1}})
        cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue=message,
                                               traceback=["..."])]
        cells.append(cell)
    nb = nbformat.v4.new_notebook(cells=cells)
    nb, _ = HiddenTestSummaries().preprocess(nb, {})
    assert nb.cells[0].outputs[0]["evalue"] == message  # a visible test keeps its details
    shown = nb.cells[1].outputs[0]["evalue"]
    assert "This looks like Adam without bias correction" in shown and "hidden test" in shown
    assert "0.123457" not in shown and "Details" not in shown and "test case 2" not in shown


def test_the_leak_check_sees_through_html_markup():
    from grading.feedback import leaks
    secrets = _secrets()
    line = secrets[0]
    page = "<pre>" + "".join(f"<span class='n'>{c}</span>" for c in line).replace("(", "&#40;") + "</pre>"
    assert leaks(page, secrets) and not leaks("<p>all fine</p>", secrets)
    assert leaks("<p>### BEGIN HIDDEN TESTS</p>", []) == ["BEGIN HIDDEN TESTS"]


def test_feedback_shows_scores_and_failure_messages(batch):
    assert "should be" in batch["feedback"]["wrong"]            # gdcheck's message
    assert "not implemented yet" in batch["feedback"]["blank"]
    assert "could not be graded" in batch["feedback"]["invalid-json"]


def test_feedback_never_shows_another_students_data(batch):
    assert TOKEN in batch["feedback"]["renamed"]
    for student, html in batch["feedback"].items():
        if student != "renamed" and html:
            assert TOKEN not in html, student


def test_only_notebooks_and_allowed_data_files_are_released(batch):
    assert any("notes.py" in p for p in batch["source_release_problems"])
    assert not any("data.csv" in p for p in batch["source_release_problems"])
    assert any("notes.py" in p for p in batch["release_problems"])


def test_check_release_finds_solutions_left_in_a_notebook(tmp_path):
    from grading.release import check_release
    shutil.copy2(REPO_ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", tmp_path / "x.ipynb")
    (tmp_path / "data.npz").write_bytes(b"")
    problems = check_release(tmp_path)
    assert len(problems) == 1 and "BEGIN SOLUTION" in problems[0] and "x.ipynb" in problems[0]


# -- the gradebook, re-runs, interruptions, the command line --------------------------------------

@pytest.fixture(scope="module")
def small_course(tmp_path_factory):
    root = tmp_path_factory.mktemp("grading-small")
    course = make_course(root)
    plan = Plan(course)
    write_submissions(course, {"alice": plan.reference(), "bob": plan.notebook(plan.wrong_answers()),
                               "carol": plan.notebook()})
    return course, plan


def test_rerunning_gives_the_same_scores_and_keeps_manual_grades(small_course):
    from grading import grade_assignment
    from grading.gradebook import load_course, read_scores
    from nbgrader.api import Gradebook
    course, plan = small_course
    first = grade_assignment(ASSIGNMENT, course, workers=2, timeout=30, feedback=False)
    assert {r.student: r.score for r in first.results} == {"alice": plan.max_score, "bob": 0, "carol": 0}
    info = load_course(course)
    grade_id = next(iter(plan.tests))
    with Gradebook(info.db_url, info.course_id) as gb:
        gb.find_grade(grade_id, ASSIGNMENT, ASSIGNMENT, "bob").manual_score = 1.5
        gb.db.commit()
    before = read_scores(info, ASSIGNMENT)
    second = grade_assignment(ASSIGNMENT, course, workers=2, timeout=30, feedback=False)
    after = read_scores(info, ASSIGNMENT)
    assert {r.student: r.scores for r in second.results} == {r.student: r.scores for r in first.results}
    assert after == before
    assert after["bob"]["grades"][grade_id] == (1.5, 0.0, 1.5) and after["bob"]["score"] == 1.5
    with Gradebook(info.db_url, info.course_id) as gb:
        assert gb.find_grade(grade_id, ASSIGNMENT, ASSIGNMENT, "bob").needs_manual_grade


def test_an_interruption_keeps_every_committed_grade(tmp_path):
    from grading import grade_assignment
    from grading.gradebook import load_course, read_scores
    course = make_course(tmp_path)
    plan = Plan(course)
    write_submissions(course, {"s1": plan.reference(), "s2": plan.reference(), "s3": plan.reference()})
    committed, runtime = [], []

    def stop_after_first(event):
        if event["kind"] == "graded":
            committed.append(event["student"])
            runtime.append(event["runtime"])
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        grade_assignment(ASSIGNMENT, course, workers=1, timeout=30, progress=stop_after_first)
    scores = read_scores(load_course(course), ASSIGNMENT)
    assert list(scores) == committed and scores[committed[0]]["score"] == plan.max_score
    assert not multiprocessing.active_children()
    left = subprocess.run(["ps", "-eo", "args="], capture_output=True, text=True).stdout
    assert runtime[0] not in left  # no sandbox process of this batch was left behind
    assert not Path(runtime[0]).exists()


def test_the_command_line_prints_progress_and_the_summary_table(small_course):
    course, plan = small_course
    done = subprocess.run([sys.executable, "-m", "grading", "grade", ASSIGNMENT, "--course", str(course),
                           "--workers", "2", "--timeout", "30"], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"\[#+\] 3/3 graded", done.stderr), done.stderr[-2000:]
    table = done.stdout
    assert re.search(rf"alice\s+graded\s+{plan.max_score:g}/{plan.max_score:g}\s+ok", table), table
    assert re.search(rf"bob\s+graded\s+(0|1\.5)/{plan.max_score:g}", table), table
    assert "3 graded" in table
    csv = (course / "grades.csv").read_text().splitlines()
    assert csv[0].split(",")[:4] == ["assignment", "duedate", "timestamp", "student_id"]
    assert len(csv) == 4
    assert (course / "feedback" / "alice" / ASSIGNMENT / f"{ASSIGNMENT}.html").is_file()


def test_an_assignment_of_two_notebooks_is_graded_notebook_by_notebook(tmp_path):
    """Each notebook is scored on its own, its feedback written, and a missing one scores 0."""
    from grading import grade_assignment
    from grading.gradebook import load_course, read_scores
    course = make_course(tmp_path)
    source = course / "solutions" / ASSIGNMENT
    shutil.copy2(source / f"{ASSIGNMENT}.ipynb", source / "part2.ipynb")
    plan = Plan(course)
    reference, untouched = plan.reference(), plan.notebook()
    write_submissions(course, {
        "both": {f"{ASSIGNMENT}.ipynb": reference, "part2.ipynb": reference},
        "half": {f"{ASSIGNMENT}.ipynb": reference, "part2.ipynb": untouched},
        "one": {f"{ASSIGNMENT}.ipynb": reference},
    })
    report = grade_assignment(ASSIGNMENT, course, workers=2, timeout=60)
    results = {r.student: r for r in report.results}
    full = plan.max_score
    assert {name: r.score for name, r in results.items()} == {"both": 2 * full, "half": full, "one": full}
    assert all(r.max_score == 2 * full and r.status == "graded" for r in results.values())
    assert set(results["half"].scores) == {ASSIGNMENT, "part2"}
    assert sum(s for s in results["half"].scores["part2"].values() if s) == 0
    assert any("part2.ipynb is missing" in note for note in results["one"].notes), results["one"].notes
    scores = read_scores(load_course(course), ASSIGNMENT)
    assert {name: scores[name]["score"] for name in results} == {"both": 2 * full, "half": full, "one": full}
    for name in ("both", "half"):
        folder = course / "feedback" / name / ASSIGNMENT
        assert (folder / f"{ASSIGNMENT}.html").is_file() and (folder / "part2.html").is_file()


@pytest.mark.parametrize("argv, match", [
    (["grade", "x", "--workers", "0"], "--workers must be >= 1, got --workers=0"),
    (["grade", "x", "--timeout", "-1"], "--timeout must be > 0 seconds, got --timeout=-1"),
    (["grade", "x", "--memory", "10"], "--memory must be >= 256 MB, got --memory=10"),
])
def test_the_command_line_rejects_bad_options(argv, match, capsys):
    from grading.__main__ import main
    with pytest.raises(SystemExit):
        main(argv)
    assert match in capsys.readouterr().err


def test_make_grade_runs_the_grader():
    done = subprocess.run(["make", "-n", "grade", "ASSIGNMENT=optimizers"], cwd=REPO_ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "-m grading grade optimizers" in done.stdout
    missing = subprocess.run(["make", "-s", "grade"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert missing.returncode != 0 and "ASSIGNMENT" in missing.stdout + missing.stderr
