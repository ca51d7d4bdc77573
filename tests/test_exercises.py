"""The exercises through nbgrader itself.

A temporary copy of the course (nbgrader_config.py + solutions/) is released with
``nbgrader generate_assignment`` (every assignment by one nbgrader process, once per session), and
each assignment is graded in a copy of it (its gradebook and release) with ONE ``nbgrader
autograde`` call for all its submissions:

- ``reference``: the answer cells of the source notebook -> full marks;
- ``blank``: the student version untouched -> zero;
- ``wrong-<k>``: answer cells where functions are replaced by wrong variants of
  tests/wrong_variants (one per catalogue mistake; mistakes in unrelated functions share a
  submission) -> zero on every test cell that checks the wrong function, full marks elsewhere
  (one bug, one function: a function that builds on another is checked with gdlib's version of
  it), and the autograded notebook names each mistake in the output of the cells that check it;
- ``honest-<name>``: correct answers written from the student notebook's text alone
  (tests/honest_answers, never from solutions/) -> full marks.

**Differential test**: the same submissions are then graded by ``make grade``'s grader
(grading.grade_assignment) in a throw-away copy of the course, and every test cell of every
submission must get the same score from both graders.

The scores come from the gradebook (nbgrader.api.Gradebook). The committed exercises/ must equal
a fresh ``generate_assignment`` cell by cell and hold no solution, hidden test or marker, and the
feedback nbgrader generates must not show hidden tests either.

Grading runs a kernel per notebook, so each assignment is graded once per test session: the
results are cached on disk under a lock shared by the pytest-xdist workers. They are also kept
between sessions in ``_build/test-cache/exercises/``, under a digest of everything they depend on
(the assignment's solutions/ and exercises/ folders, gdcheck/, gdlib/, grading/, the wrong
variants and honest answers, this file, tools/make_exercises.py, nbgrader_config.py,
course.yml, requirements.txt, and the versions of Python, nbgrader, nbconvert, nbclient,
ipykernel, jupyter_client and numpy): a session whose inputs are the same as an earlier one's
reads that session's results, and any change to them grades afresh. ``GD_TEST_CACHE=0`` grades
afresh anyway; ``make clean`` empties the cache.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import importlib.metadata
import json
import os
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

import honest_answers
import wrong_variants as wv
from conftest import REPO_ROOT
from gdcheck.catalogue import MISTAKES

pytestmark = pytest.mark.grading

LEAK = re.compile(r"BEGIN SOLUTION|END SOLUTION|HIDDEN TESTS|MARKER:")
# nbgrader_config.py is shared, so one assignment's feedback shows that hidden tests stay hidden.
FEEDBACK_ASSIGNMENT = "optimizers"


def _load_make_exercises():
    spec = importlib.util.spec_from_file_location("make_exercises", REPO_ROOT / "tools" / "make_exercises.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_exercises = _load_make_exercises()
ASSIGNMENTS = make_exercises.assignments()


# -- planning the submissions -------------------------------------------------------------------

def grade_cells(nb) -> dict[str, str]:
    """grade_id -> source of every test cell of the source notebook (hidden tests included)."""
    return {wv.nbgrader_meta(c)["grade_id"]: c.source for c in nb.cells if wv.is_test(c)}


def cells_naming(nb, functions) -> set[str]:
    return {gid for gid, source in grade_cells(nb).items()
            if any(re.search(rf"\b{f}\b", source) for f in functions)}


def plan(assignment: str) -> list[dict]:
    """The wrong submissions: mistakes packed so that their affected test cells do not overlap."""
    nb = wv.read(assignment)
    submissions: list[dict] = []
    for key in wv.submissions(assignment):
        function = MISTAKES[key].function
        affected = cells_naming(nb, [function])
        for sub in submissions:
            if function not in sub["mistakes"] and not affected & set(sub["zero"]):
                break
        else:
            sub = {"student": f"wrong-{len(submissions) + 1}", "mistakes": {}, "zero": []}
            submissions.append(sub)
        sub["mistakes"][function] = key
        sub["zero"] = sorted(set(sub["zero"]) | affected)
    return submissions


def answer_sources(nb, mistakes: dict[str, str], assignment: str) -> dict[str, str]:
    """grade_id -> a student's answer cell: the reference answer, with the wrong functions swapped."""
    variants = wv.submissions(assignment)
    answers = {}
    for cell in nb.cells:
        if wv.is_answer(cell):
            source = wv.clean(cell.source)
            for function in wv.defined_functions(source):
                if function in mistakes:
                    source = wv.replace_functions(source, variants[mistakes[function]])
            answers[wv.nbgrader_meta(cell)["grade_id"]] = source
    return answers


def write_submission(release: Path, target: Path, answers: dict[str, str] | None) -> None:
    nb = nbformat.read(release, as_version=4)
    for cell in nb.cells:
        grade_id = wv.nbgrader_meta(cell).get("grade_id")
        if answers is not None and grade_id in answers:
            cell.source = answers[grade_id]
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)


# -- grading (once per assignment and session) --------------------------------------------------

@contextlib.contextmanager
def venv_on_path():
    """nbgrader's Gradebook runs the `alembic` command of its environment."""
    old = os.environ.get("PATH", "")
    os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), old])
    try:
        yield
    finally:
        os.environ["PATH"] = old


def output_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        parts.append(out.get("evalue", ""))
        parts.extend(out.get("traceback", []))
    return re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(parts))


def released(root: Path) -> Path:
    """The course folder where every assignment was released by ONE ``generate_assignment``
    process (tools/make_exercises.generate_all), shared by the session's workers under a lock."""
    course = root / "released"
    with locked(root / "released.lock", block=True):
        if not (course / "done").exists():
            shutil.rmtree(course, ignore_errors=True)
            make_exercises.generate_all(ASSIGNMENTS, course)
            (course / "done").write_text("")
    return course


def grade(assignment: str, course: Path, releases: Path) -> dict:
    """Submit, autograde and read back one assignment released in ``releases`` (its gradebook
    knows every assignment); return the results as JSON data."""
    make_exercises.make_course(course, [assignment])
    shutil.copyfile(releases / "gradebook.db", course / "gradebook.db")
    shutil.copytree(releases / "release" / assignment, course / "release" / assignment)
    release = course / "release" / assignment / f"{assignment}.ipynb"
    nb = wv.read(assignment)
    submissions = plan(assignment)
    students = {"reference": {}, "blank": None}
    students.update({s["student"]: s["mistakes"] for s in submissions})
    honest = honest_answers.submissions(assignment)
    for student, mistakes in students.items():
        answers = None if mistakes is None else answer_sources(nb, mistakes, assignment)
        write_submission(release, course / "submitted" / student / assignment / f"{assignment}.ipynb", answers)
    for name, source in honest.items():
        answers = honest_answers.answer_cells(nb, source)
        write_submission(release, course / "submitted" / f"honest-{name}" / assignment / f"{assignment}.ipynb",
                         answers)
        students[f"honest-{name}"] = {}
    # make grade's grader on the same submissions, in a throw-away copy of the course
    ours_course = course.parent / f"{course.name}-make-grade"
    make_exercises.make_course(ours_course, [assignment])
    shutil.copytree(course / "submitted", ours_course / "submitted")
    paths = [str(REPO_ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))  # the kernels import this gdcheck
    make_exercises.nbgrader(course, "autograde", assignment, "--force", env=env)
    if assignment == FEEDBACK_ASSIGNMENT:
        make_exercises.nbgrader(course, "generate_feedback", assignment, "--force", env=env)

    from grading import grade_assignment
    from grading.gradebook import load_course, read_scores
    with venv_on_path():
        grade_assignment(assignment, ours_course, workers=2, feedback=False)
        ours = read_scores(load_course(ours_course), assignment)
    shutil.rmtree(ours_course, ignore_errors=True)

    from nbgrader.api import Gradebook
    results = {}
    with venv_on_path(), Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in students:
            notebook = gb.find_submission_notebook(assignment, assignment, student)
            autograded = nbformat.read(course / "autograded" / student / assignment / f"{assignment}.ipynb", 4)
            results[student] = {
                "scores": {g.name: [g.score, g.max_score] for g in notebook.grades},
                "outputs": {wv.nbgrader_meta(c)["grade_id"]: output_text(c)
                            for c in autograded.cells if wv.is_test(c)},
                "make_grade": {g: [v[0], notebook_max.get(g)] for g, v in
                               ours.get(student, {}).get("grades", {}).items()
                               for notebook_max in [{x.name: x.max_score for x in notebook.grades}]},
            }
    feedback = {student: path.read_text(encoding="utf-8") for student in students
                for path in (course / "feedback" / student / assignment).glob("*.html")}
    return {"release": make_exercises.cell_sources(release), "plan": submissions, "results": results,
            "feedback": feedback}


@contextlib.contextmanager
def locked(path: Path, *, block: bool):
    """An exclusive lock on ``path`` (shared by processes); yields False if it is taken and not
    ``block``."""
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True


CACHE_DIR = REPO_ROOT / "_build" / "test-cache" / "exercises"
CACHE_INPUTS = ("gdcheck", "gdlib", "grading", "tests/wrong_variants", "tests/honest_answers",
                "tests/test_exercises.py", "tools/make_exercises.py", "nbgrader_config.py",
                "course.yml", "requirements.txt")
CACHE_PACKAGES = ("nbgrader", "nbconvert", "nbclient", "ipykernel", "jupyter_client", "numpy")


def cache_key(assignment: str) -> str:
    """A digest of everything :func:`grade` depends on for ``assignment`` (see the module's
    docstring): the same digest, the same results."""
    digest = hashlib.sha256(sys.version.encode())
    for package in CACHE_PACKAGES:
        try:
            digest.update(f"{package}=={importlib.metadata.version(package)}\n".encode())
        except importlib.metadata.PackageNotFoundError:
            digest.update(f"{package} missing\n".encode())
    roots = [REPO_ROOT / p for p in CACHE_INPUTS]
    roots += [REPO_ROOT / "solutions" / assignment, REPO_ROOT / "exercises" / assignment]
    for root in roots:
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for path in files:
            if "__pycache__" in path.parts or ".ipynb_checkpoints" in path.parts \
                    or path.suffix == ".pyc":
                continue
            digest.update(path.relative_to(REPO_ROOT).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() if path.is_file() else b"(missing)")
            digest.update(b"\0")
    return digest.hexdigest()[:24]


def cached_results(assignment: str) -> Path | None:
    """Where the results of an earlier session with the same inputs are kept (None: no cache)."""
    if os.environ.get("GD_TEST_CACHE", "1") in ("0", "", "no", "off"):
        return None
    return CACHE_DIR / f"{assignment}-{cache_key(assignment)}.json"


def keep_results(assignment: str, kept: Path | None, data: str) -> None:
    """Keep this session's results for the next one (and only the newest per assignment)."""
    if kept is None:
        return
    try:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        for old in CACHE_DIR.glob(f"{assignment}-*.json"):
            if re.fullmatch(rf"{re.escape(assignment)}-[0-9a-f]{{24}}\.json", old.name):
                old.unlink(missing_ok=True)
        temp = kept.with_suffix(f".{os.getpid()}.tmp")
        temp.write_text(data)
        temp.replace(kept)
    except OSError:
        pass


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """assignment -> grading results, computed once per session and shared by xdist workers.

    A worker that finds an assignment being graded by another grades a different one meanwhile,
    so two workers always grade two assignments at once.
    """
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the workers' base folders are siblings
    cache = {}

    def result(assignment: str) -> Path:
        return root / f"graded-{assignment}.json"

    def grade_if_free(assignment: str, *, block: bool) -> None:
        with locked(root / f"graded-{assignment}.lock", block=block) as mine:
            if mine and not result(assignment).exists():
                kept = cached_results(assignment)
                if kept is not None and kept.is_file():
                    shutil.copyfile(kept, result(assignment))
                    return
                course = root / f"course-{assignment}-{os.getpid()}"
                try:
                    data = json.dumps(grade(assignment, course, released(root)))
                    result(assignment).write_text(data)
                    keep_results(assignment, kept, data)
                finally:
                    shutil.rmtree(course, ignore_errors=True)

    def get(assignment: str) -> dict:
        if assignment not in cache:
            grade_if_free(assignment, block=False)
            for other in ASSIGNMENTS:
                if result(assignment).exists():
                    break
                if not result(other).exists():
                    grade_if_free(other, block=False)
            grade_if_free(assignment, block=True)
            cache[assignment] = json.loads(result(assignment).read_text())
        return cache[assignment]
    return get


# -- the tests ----------------------------------------------------------------------------------

def test_there_are_assignments():
    assert {"gradient-descent", "variants", "learning-rate", "optimizers"} <= set(ASSIGNMENTS)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_committed_exercises_hold_no_solution_hidden_test_or_marker(assignment):
    path = REPO_ROOT / "exercises" / assignment / f"{assignment}.ipynb"
    assert path.exists(), f"{path} is missing: run `make exercises`"
    found = sorted(set(LEAK.findall(path.read_text(encoding="utf-8"))))
    assert not found, f"{path} holds {found}: regenerate it with `make exercises`"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_committed_exercises_equal_a_fresh_generate_assignment(assignment, graded):
    path = REPO_ROOT / "exercises" / assignment / f"{assignment}.ipynb"
    committed = [list(c) for c in make_exercises.cell_sources(path)]
    assert committed == graded(assignment)["release"], \
        f"exercises/{assignment} is stale: run `make exercises`"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_reference_solution_gets_full_marks(assignment, graded):
    scores = graded(assignment)["results"]["reference"]["scores"]
    assert scores and all(score == top for score, top in scores.values()), scores
    outputs = graded(assignment)["results"]["reference"]["outputs"]
    assert all("agree with the reference" in text for text in outputs.values()), outputs


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_honest_answers_get_full_marks(assignment, graded):
    """Correct answers written from the notebook's text alone, in many styles (loops and
    vectorised, float32, lists and tuples, restoring or copying inputs) get every point."""
    results = graded(assignment)["results"]
    honest = {s: r for s, r in results.items() if s.startswith("honest-")}
    assert len(honest) >= 5, (f"only {len(honest)} honest alternatives for {assignment}: write them in "
                              f"tests/honest_answers/{assignment.replace('-', '_')}.py")
    problems = [f"{student}: {grade_id} scored {score}/{top}; its output: {r['outputs'][grade_id][-400:]!r}"
                for student, r in honest.items() for grade_id, (score, top) in r["scores"].items()
                if score != top]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_make_grade_scores_every_cell_as_plain_nbgrader_does(assignment, graded):
    """The differential test: reference, blank, every catalogued wrong variant and every honest
    alternative get the same score per test cell from make grade and from nbgrader autograde."""
    results = graded(assignment)["results"]
    problems = []
    for student, r in results.items():
        plain = {g: score for g, (score, _) in r["scores"].items()}
        ours = {g: score for g, (score, _) in r["make_grade"].items()}
        if plain != ours:
            differ = {g: (plain.get(g), ours.get(g)) for g in set(plain) | set(ours)
                      if plain.get(g) != ours.get(g)}
            problems.append(f"{student}: (nbgrader, make grade) = {differ}")
    assert len(results) >= 7 and not problems, "\n".join(problems)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_untouched_student_version_gets_zero(assignment, graded):
    results = graded(assignment)["results"]["blank"]
    assert sum(score for score, _ in results["scores"].values()) == 0, results["scores"]
    assert all("is not implemented yet" in text for text in results["outputs"].values())


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_each_mistake_loses_the_points_it_affects_and_is_named(assignment, graded):
    data = graded(assignment)
    nb = wv.read(assignment)
    assert {k for sub in data["plan"] for k in sub["mistakes"].values()} == set(wv.submissions(assignment))
    problems = []
    for sub in data["plan"]:
        result = data["results"][sub["student"]]
        for grade_id, (score, top) in result["scores"].items():
            expected = 0 if grade_id in sub["zero"] else top
            if score != expected:
                problems.append(f"{sub['student']} {sorted(sub['mistakes'].values())}: {grade_id} "
                                f"scored {score}/{top}, expected {expected}")
        for function, key in sub["mistakes"].items():
            for grade_id in cells_naming(nb, [function]):
                if MISTAKES[key].title not in result["outputs"][grade_id]:
                    problems.append(f"{key}: {grade_id} does not name the mistake; its output: "
                                    f"{result['outputs'][grade_id][-500:]!r}")
    assert not problems, "\n".join(problems)


def test_feedback_shows_no_hidden_test(graded):
    data = graded(FEEDBACK_ASSIGNMENT)
    feedback = data["feedback"]
    assert set(feedback) == set(data["results"])
    assert "agree with the reference" in feedback["reference"]
    assert "This looks like" in feedback["wrong-1"]  # a failing hidden test shows its message...
    hidden = "seeds=(75, 87)"  # ...but not its code: the arguments of a hidden test of optimizers
    assert hidden in nbformat.writes(wv.read(FEEDBACK_ASSIGNMENT))
    for student, html in feedback.items():
        assert not LEAK.search(html), student
        assert hidden not in html, student
