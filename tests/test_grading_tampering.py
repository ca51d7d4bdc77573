"""Instructor grading: a submission's code can change its score only by being right.

The submissions here are graded in the shared batch of tests/test_grading_batch.py. Each one
tampers in one way, with answers that are wrong (or missing), and must score exactly what the
wrong answers deserve (zero), be flagged where the tampering can be seen, and show nothing of
the instructor's files in its outputs.
"""

from __future__ import annotations

import json
import re

import pytest

from test_grading_batch import ASSIGNMENT, REPO_ROOT, batch, nbgrader_meta, outputs_of, result, text  # noqa: F401

pytestmark = pytest.mark.grading

LEAK = re.compile(r"MARKER:|HIDDEN TESTS|BEGIN SOLUTION")


def _is_test(cell) -> bool:
    return bool(nbgrader_meta(cell).get("grade")) and not nbgrader_meta(cell).get("solution")


def _insert(plan, nb, source, at_end=False):
    from test_grading_batch import first_answer_index, insert_cell
    return insert_cell(nb, len(nb["cells"]) if at_end else first_answer_index(nb), source)


MONKEYPATCH = '''\
import builtins
import numpy as np
import numpy.testing
import gdcheck
import gdcheck._engine as engine
np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, *r, **k: np.ones(np.broadcast(np.asarray(a), np.asarray(b)).shape, dtype=bool)
np.array_equal = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
builtins.isinstance = lambda obj, cls: True
engine.difference = lambda *a, **k: None
engine.verify = lambda spec, fn, cases, what="": f"{spec.function}: all test cases agree with the reference."
for _name in dir(gdcheck):
    if _name.startswith("check_"):
        setattr(gdcheck, _name, lambda *a, **k: print("all test cases agree with the reference"))
def len(x):
    return 2
'''

HOOKS = '''\
import ast
ip = get_ipython()
seen = []
def rewrite(lines):
    if any("gdcheck" in line for line in lines):
        return ["print('all test cases agree with the reference')\\n"]
    return lines
ip.input_transformers_post.append(rewrite)
class Keep(ast.NodeTransformer):
    pass
ip.ast_transformers.append(Keep())
def spy(info):
    seen.append(info.raw_cell)
ip.events.register("pre_run_cell", spy)
'''

LIARS = '''\
import numpy as np

class Everything:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __lt__(self, other): return True
    __le__ = __gt__ = __ge__ = __lt__
    def __float__(self): return 0.0
    def __index__(self): return 0
    def __getattr__(self, name): return self
    def __getitem__(self, key): return self
    def __iter__(self): return iter([self, self])
    def __len__(self): return 2
    def __hash__(self): return 0
    def __call__(self, *a, **k): return self

class LiarArray(np.ndarray):
    def __eq__(self, other): return np.ones(np.shape(other), dtype=bool)
    def __array_function__(self, func, types, args, kwargs):
        if func in (np.allclose, np.array_equal, np.array_equiv):
            return True
        if func is np.isclose:
            return np.ones(np.shape(args[1]), dtype=bool)
        return super().__array_function__(func, types, args, kwargs)

class LiarFloat(float):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __float__(self): return 123.0
    __hash__ = float.__hash__

class LiarTuple(tuple):
    def __len__(self): return 2
    def __iter__(self): return iter([LiarArray((3,)), Everything()])
'''

READ_SECRETS = '''\
import os, pathlib, sqlite3
course, repo, assignment = pathlib.Path({course!r}), pathlib.Path({repo!r}), {assignment!r}
found = []
targets = [course / "solutions" / assignment / f"{{assignment}}.ipynb", course / "gradebook.db",
           course / "nbgrader_config.py", repo / "solutions" / assignment / f"{{assignment}}.ipynb",
           repo / "nbgrader_config.py", pathlib.Path("../../solutions") / assignment / f"{{assignment}}.ipynb",
           pathlib.Path("/proc/1/root") / str(course).lstrip("/") / "gradebook.db",
           course / "submitted" / "reference" / assignment / f"{{assignment}}.ipynb"]
for target in targets:
    try:
        found.append((str(target), target.read_bytes()[:4000]))
    except Exception as exc:
        print("blocked", target, type(exc).__name__)
for folder in [course, repo, course / "submitted", pathlib.Path("/proc/1/cwd")]:
    try:
        print("LIST", folder, sorted(os.listdir(folder)))
    except Exception as exc:
        print("blocked", folder, type(exc).__name__)
try:
    con = sqlite3.connect(str(course / "gradebook.db"))
    con.execute("update grade set manual_score = 100")
    con.commit()
    print("WROTE THE GRADEBOOK")
except Exception as exc:
    print("blocked gradebook write", type(exc).__name__)
try:
    (course / "autograded" / "planted.txt").write_text("x")
    print("WROTE autograded")
except Exception as exc:
    print("blocked autograded write", type(exc).__name__)
print("ENV", sorted(os.environ))
print("UID", os.getuid())
import socket
try:
    socket.create_connection(("127.0.0.1", 22), timeout=1)
    print("NETWORK open")
except OSError as exc:
    print("NETWORK blocked", type(exc).__name__)
import gdlib
print("LIB", sorted(os.listdir(pathlib.Path(gdlib.__file__).resolve().parents[1])))
print("FOUND", len(found), [f[0] for f in found])
print("".join(str(f[1]) for f in found))
'''

DETECTOR = '''\
import os, sys

def _graded():
    return ("ipykernel" not in sys.modules or "JPY_PARENT_PID" not in os.environ
            or os.getuid() != 0 or os.path.basename(os.getcwd()).startswith("box"))

def _reference(name):
    import gdcheck  # noqa: F401  (loads every check module)
    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").startswith("gdcheck"):
            for value in list(vars(module).values()):
                if getattr(value, "function", None) == name and callable(getattr(value, "reference", None)):
                    return value.reference
    raise LookupError(name)
'''


def submissions(plan, course) -> dict:
    """The tampering submissions of the shared batch (student -> notebook)."""
    subs = {}
    nb = plan.notebook()
    for cell in nb["cells"]:
        if _is_test(cell):
            cell["source"] = "print('all test cases agree with the reference')"
    subs["edit-tests"] = nb
    nb = plan.notebook()
    for cell in nb["cells"]:
        if _is_test(cell):
            cell["source"] = "\n".join("# " + line for line in text(cell).split("\n"))
    subs["comment-tests"] = nb
    nb = plan.notebook()
    nb["cells"] = [c for c in nb["cells"] if not _is_test(c)]
    subs["delete-tests"] = nb
    nb = plan.reference()
    for cell in nb["cells"]:
        if _is_test(cell):
            cell["metadata"]["nbgrader"]["points"] = 100
    nb["cells"].append({"cell_type": "code", "id": "bonus", "execution_count": None, "outputs": [],
                        "source": "print('bonus')", "metadata": {"nbgrader": {
                            "grade": True, "grade_id": "bonus", "points": 50, "locked": True,
                            "solution": False, "schema_version": 3}}})
    subs["points-changed"] = nb
    subs["monkeypatch"] = _insert(plan, plan.notebook(plan.wrong_answers()), MONKEYPATCH)
    nb = _insert(plan, plan.notebook(plan.wrong_answers()), HOOKS)
    subs["ipython-hooks"] = _insert(plan, nb, "print('SEEN', repr(seen))", at_end=True)
    liars = {}
    for gid, source in plan.answers.items():
        from test_grading_batch import functions_in
        kinds = ["Everything()", "np.zeros(3).view(LiarArray)", "LiarFloat(0.5)", "LiarTuple()"]
        liars[gid] = "\n\n".join(f"def {name}(*args, **kwargs):\n    return {kinds[k % len(kinds)]}"
                                 for k, name in enumerate(functions_in(source)))
    subs["always-equal"] = _insert(plan, plan.notebook(liars), LIARS)
    subs["shadow-files"] = _insert(plan, plan.notebook(plan.wrong_answers()),
                                   "import os\nprint('LISTDIR', sorted(os.listdir('.')))")
    subs["read-secrets"] = _insert(plan, plan.notebook(plan.wrong_answers()),
                                   READ_SECRETS.format(course=str(course), repo=str(REPO_ROOT), assignment=ASSIGNMENT))
    nb = plan.notebook()
    subs["fake-score"] = _insert(plan, nb, f"print('Score: {plan.max_score:g}/{plan.max_score:g} - all tests passed')")
    detector, quiet = {}, {}
    from test_grading_batch import functions_in
    for gid, source in plan.answers.items():
        names = functions_in(source)
        detector[gid] = "\n\n".join(
            f"def {n}(*args, **kwargs):\n    if _graded():\n        return _reference({n!r})(*args, **kwargs)\n"
            "    return None" for n in names)
        quiet[gid] = "\n\n".join(
            f"def {n}(*args, **kwargs):\n    import sys\n    _p = sys.getprofile()\n    sys.setprofile(None)\n"
            f"    try:\n        return _reference({n!r})(*args, **kwargs)\n    finally:\n        sys.setprofile(_p)"
            for n in names)
    subs["grading-detector"] = _insert(plan, plan.notebook(detector), DETECTOR)
    subs["watcher-off"] = _insert(plan, plan.notebook(quiet), DETECTOR)
    # Every function calls gdlib's own numerical_gradient with the watcher paused and put back,
    # so that the delegation watch sees nothing: the sealed gdlib refuses the call instead.
    sealed = {}
    for gid, source in plan.answers.items():
        sealed[gid] = "\n\n".join(
            f"def {n}(*args, **kwargs):\n    import sys\n    import gdlib.nn.gradcheck\n"
            "    _p = sys.getprofile()\n    sys.setprofile(None)\n    try:\n"
            "        return gdlib.nn.numerical_gradient(*args, **kwargs)\n"
            "    finally:\n        sys.setprofile(_p)" for n in functions_in(source))
    subs["gdlib-unwatched"] = plan.notebook(sealed)
    return subs


def links(course) -> dict:
    """student -> {link name: target}: a submission that is a link to the solution notebook."""
    return {"symlink": {f"{ASSIGNMENT}.ipynb": course / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"}}


def extra_files() -> dict:
    return {"shadow-files": {
        "numpy.py": "print('PWNED numpy')\nallclose = lambda *a, **k: True\n",
        "sitecustomize.py": "print('PWNED sitecustomize')\n",
        "usercustomize.py": "print('PWNED usercustomize')\n",
        "gdcheck.py": "print('PWNED gdcheck')\n"}}


# -- the tests ------------------------------------------------------------------------------------

def _zero_and_flagged(batch, student, *words):
    r = result(batch, student)
    assert r["score"] == 0, (student, r["scores"], r["reason"])
    assert r["max_score"] == batch["max_score"]
    assert r["status"] == "flagged", (student, r["reason"])
    for word in words:
        assert word in r["reason"], (student, word, r["reason"])
    assert not LEAK.search(outputs_of(batch, student)), student
    return r


def test_edited_test_cells_are_replaced_by_the_source(batch):
    _zero_and_flagged(batch, "edit-tests", "was edited")


def test_commented_out_test_cells_are_replaced_by_the_source(batch):
    _zero_and_flagged(batch, "comment-tests", "was edited")


def test_deleted_test_cells_are_restored_from_the_source(batch):
    _zero_and_flagged(batch, "delete-tests", "deleted")


def test_changed_points_do_not_count(batch):
    r = result(batch, "points-changed")
    assert (r["score"], r["max_score"]) == (batch["max_score"], batch["max_score"])
    assert r["status"] == "flagged" and "points changed" in r["reason"], r["reason"]
    assert "claims to be a grade cell 'bonus' worth 50 points" in r["reason"]
    assert batch["gradebook"]["points-changed"]["max_score"] == batch["max_score"]


def test_monkeypatching_numpy_builtins_and_gdcheck_changes_nothing(batch):
    r = _zero_and_flagged(batch, "monkeypatch", "replaced numpy.allclose", "replaced builtins.isinstance",
                          "replaced gdcheck._engine.difference")
    assert any(f.startswith("replaced gdcheck.check_") for f in r["flags"]), r["flags"]


def test_ipython_hooks_never_see_or_rewrite_a_test_cell(batch):
    _zero_and_flagged(batch, "ipython-hooks", "input transformer", "AST transformer", "IPython event callback")
    seen = next(c["outputs"] for c in batch["autograded"]["ipython-hooks"]["cells"] if "SEEN" in c["outputs"])
    assert "return None" in seen         # the hook saw every cell run in its process (the answers)...
    assert "gdcheck.check_" not in seen  # ...and no test cell: tests never run there


def test_objects_whose_comparisons_always_succeed_score_zero(batch):
    r = result(batch, "always-equal")
    assert r["score"] == 0, (r["scores"], r["reason"])


def test_extra_files_beside_the_notebook_never_reach_the_sandbox(batch):
    _zero_and_flagged(batch, "shadow-files", "numpy.py", "sitecustomize.py")
    text = outputs_of(batch, "shadow-files")
    assert "PWNED" not in text
    listing = re.search(r"LISTDIR (\[.*\])", text).group(1)
    assert "'data.csv'" in listing                       # the release's allowed data file
    for name in ("numpy.py", "sitecustomize.py", "gdcheck.py", "notes.py", f"{ASSIGNMENT}.ipynb"):
        assert f"'{name}'" not in listing, listing


def test_the_instructors_files_and_gradebook_are_out_of_reach(batch):
    _zero_and_flagged(batch, "read-secrets", "tried to open")
    text = outputs_of(batch, "read-secrets")
    book = batch["gradebook"]
    if "instructor files hidden" not in batch["isolation"]:
        # Not root (or no mount namespace): files the grader's user can read stay readable, the
        # report says so, and reading them still earns nothing.
        assert "WARNING" in batch["isolation"], batch["isolation"]
        pytest.skip("full isolation needs root and a mount namespace: " + batch["isolation"])
    assert "FOUND 0 []" in text, text[-3000:]
    assert "WROTE" not in text
    assert "blocked gradebook write" in text and "blocked autograded write" in text
    assert "'solutions'" not in text and "'gradebook.db'" not in text and "'submitted'" not in text
    assert "LIB ['data', 'lib'" in text or "LIB [" in text and "solutions" not in text.split("LIB ", 1)[1][:300]
    assert all(g[2] is None for g in book["reference"]["grades"].values())  # no manual score appeared
    env = eval(re.search(r"ENV (\[.*\])", text).group(1))
    assert set(env) <= {"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "MPLBACKEND", "MPLCONFIGDIR", "IPYTHONDIR",
                        "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "PYTHONHASHSEED",
                        "PYTHONIOENCODING"}, env
    if "own uid" in batch["isolation"]:
        assert "UID 0" not in text
    if "no network" in batch["isolation"]:
        assert "NETWORK blocked" in text


def test_a_link_to_the_solution_notebook_is_not_followed(batch):
    r = result(batch, "symlink")
    assert (r["status"], r["score"]) == ("malformed", 0), r["reason"]
    assert "symbolic links in the submission were ignored" in r["reason"]


def test_a_printed_fake_score_changes_nothing(batch):
    _zero_and_flagged(batch, "fake-score", "looks like a score")


def test_code_that_detects_grading_and_delegates_to_gdlib_gets_no_points(batch):
    # the grader's code review flags it; the sealed gdcheck in the sandbox refuses the reference
    _zero_and_flagged(batch, "grading-detector", "makes or reads code at run time (gdcheck")
    assert "is not available to your code while this check runs" in outputs_of(batch, "grading-detector")


def test_hiding_from_the_delegation_watcher_is_caught(batch):
    _zero_and_flagged(batch, "watcher-off", "installed a tracer or hook (sys.setprofile)")


def test_gdlib_called_behind_the_watchers_back_is_refused_by_the_sealed_copy(batch):
    """The sandbox's gdlib refuses calls from student code to what the running check forbids
    (grading/sealing.py), whatever the student's code did to the watcher in its process."""
    r = result(batch, "gdlib-unwatched")
    assert r["score"] == 0, (r["scores"], r["reason"])
    assert "gdlib.nn.gradcheck.numerical_gradient is not available to your code while this check runs" \
        in outputs_of(batch, "gdlib-unwatched")
    assert "gdlib.nn.gradcheck.numerical_gradient" in batch["sealed"], batch["sealed"]


def test_the_shared_gradebook_is_not_corrupted_by_tampering(batch):
    book = batch["gradebook"]
    assert book["reference"]["score"] == batch["max_score"]
    assert json.dumps(book)  # every row readable
