"""Instructor grading (grading/): one batch of many broken and tampering submissions, graded once.

The ``batch`` fixture builds a temporary course for one assignment (its source notebook, plus a
data file the sandboxes may see and a helper module they must not), writes ~35 submissions
(correct, blank, wrong, and one per robustness and tampering case), grades them ALL in one
``grading.grade_assignment`` run with two workers, and records what the tests need as JSON:
each student's status, score and reason, the gradebook, the feedback pages and the outputs of
the autograded notebooks. The JSON is cached under a lock shared by pytest-xdist workers, so the
batch is graded once per session (tests/test_grading_tampering.py and
tests/test_grading_pipeline.py use the same fixture).

This module holds the robustness cases: every submission gets a clear status and reason, the
batch finishes, and a repaired notebook gets the score its answers deserve.
"""

from __future__ import annotations

import ast
import contextlib
import fcntl
import json
import os
import re
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

pytestmark = pytest.mark.grading

SOLUTION_LINE = re.compile(r"^\s*(### (BEGIN|END) SOLUTION|# MARKER:\S+)\s*$")
TIMEOUT = 10.0  # per cell; a restarted sandbox re-imports numpy and re-runs the answers within it
TOKEN = "TOKEN-of-the-renamed-student-7f3a9c"  # only that student's feedback may show it
MEMORY_MB = 1024


def choose_assignment() -> str:
    ids = sorted(p.parent.name for p in (REPO_ROOT / "solutions").glob("*/*.ipynb") if p.stem == p.parent.name)
    return "gradient-descent" if "gradient-descent" in ids else ids[0]


ASSIGNMENT = choose_assignment()


# -- the course and its notebooks ---------------------------------------------------------------

def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def text(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def make_course(root: Path) -> Path:
    course = root / "course"
    shutil.rmtree(course, ignore_errors=True)
    course.mkdir(parents=True)
    shutil.copy2(REPO_ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copytree(REPO_ROOT / "solutions" / ASSIGNMENT, course / "solutions" / ASSIGNMENT,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    (course / "solutions" / ASSIGNMENT / "data.csv").write_text("x,y\n1,2\n")
    (course / "solutions" / ASSIGNMENT / "notes.py").write_text("ANSWER = 42  # instructor's notes\n")
    return course


class Plan:
    """The source and student versions of the assignment, and ways to fill in the answers."""

    def __init__(self, course: Path):
        from grading.gradebook import load_course, sync_assignment
        sources, _, temp = sync_assignment(load_course(course), ASSIGNMENT)
        shutil.rmtree(temp, ignore_errors=True)
        self.source, self.release = sources[ASSIGNMENT]
        self.answers = {nbgrader_meta(c)["grade_id"]: "\n".join(
            line for line in text(c).split("\n") if not SOLUTION_LINE.match(line))
            for c in self.source["cells"] if nbgrader_meta(c).get("solution")}
        self.tests = {nbgrader_meta(c)["grade_id"]: (text(c), float(nbgrader_meta(c)["points"]))
                      for c in self.source["cells"] if nbgrader_meta(c).get("grade")
                      and not nbgrader_meta(c).get("solution")}
        self.max_score = sum(p for _, p in self.tests.values())
        self.functions = {name: gid for gid, src in self.answers.items() for name in functions_in(src)}

    def tests_naming(self, function: str) -> set[str]:
        return {gid for gid, (src, _) in self.tests.items() if re.search(rf"\b{function}\b", src)}

    def points(self, grade_ids) -> float:
        return sum(self.tests[g][1] for g in grade_ids)

    def independent_function(self) -> str:
        """An answer function no other answer uses, checked by some but not all tests."""
        for name, gid in self.functions.items():
            others = [src for g, src in self.answers.items() if g != gid]
            if not any(re.search(rf"\b{name}\b", src) for src in others) \
                    and 0 < len(self.tests_naming(name)) < len(self.tests):
                return name
        raise AssertionError(f"{ASSIGNMENT} has no independent answer function")

    def notebook(self, answers: dict | None = None) -> dict:
        nb = json.loads(json.dumps(self.release))
        for cell in nb["cells"]:
            gid = nbgrader_meta(cell).get("grade_id")
            if answers is not None and gid in answers:
                cell["source"] = answers[gid]
        return nb

    def reference(self) -> dict:
        return self.notebook(self.answers)

    def wrong_answers(self) -> dict:
        """Every answer function returns None."""
        return {gid: "\n\n".join(f"def {name}(*args, **kwargs):\n    return None" for name in functions_in(src))
                for gid, src in self.answers.items()}

    def with_function(self, name: str, body: str) -> dict:
        """The reference answers with function ``name`` given another body."""
        answers = dict(self.answers)
        gid = self.functions[name]
        answers[gid] = replace_function(answers[gid], name, f"def {name}(*args, **kwargs):\n{body}")
        return answers


def functions_in(source: str) -> list[str]:
    return [n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)]


def replace_function(source: str, name: str, new: str) -> str:
    lines = source.split("\n")
    node = next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == name)
    start = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
    return "\n".join(lines[:start] + new.split("\n") + lines[node.end_lineno:])


def insert_cell(nb: dict, index: int, source: str, cell_type: str = "code") -> dict:
    cell = {"cell_type": cell_type, "id": f"added-{index}-{len(nb['cells'])}", "metadata": {}, "source": source}
    if cell_type == "code":
        cell.update(outputs=[], execution_count=None)
    nb["cells"].insert(index, cell)
    return nb


def first_answer_index(nb: dict) -> int:
    return next(i for i, c in enumerate(nb["cells"]) if nbgrader_meta(c).get("solution"))


# -- the submissions ------------------------------------------------------------------------------

def robustness_submissions(plan: Plan, course: Path) -> dict:
    """student -> notebook dict, raw bytes, {filename: bytes}, or None (an empty folder)."""
    subs: dict = {"reference": plan.reference(), "blank": plan.notebook(), "wrong": plan.notebook(plan.wrong_answers())}
    subs["invalid-json"] = b"this is not a notebook {"
    subs["empty-file"] = b""
    reference_text = json.dumps(plan.reference(), indent=1)
    last_cell = reference_text.rfind('"cell_type"')
    subs["truncated"] = reference_text[:last_cell + 40].encode()
    subs["truncated-early"] = reference_text[:25].encode()
    import nbformat
    subs["nbformat-v3"] = json.loads(nbformat.writes(nbformat.convert(nbformat.from_dict(plan.reference()), 3)))
    nb = plan.reference()
    for cell in nb["cells"]:
        cell.pop("id", None)
    nb["nbformat_minor"] = 4
    subs["no-cell-ids"] = nb
    nb = plan.reference()
    for cell in nb["cells"]:
        cell["id"] = "same-id"
    subs["duplicate-ids"] = nb
    nb = plan.reference()
    test_index = next(i for i, c in enumerate(nb["cells"]) if nbgrader_meta(c).get("grade"))
    nb["cells"].insert(test_index + 1, json.loads(json.dumps(nb["cells"][test_index])))
    subs["duplicate-grade-cell"] = nb
    nb = plan.reference()
    for k, cell in enumerate(nb["cells"]):
        cell["metadata"] = {}
        cell["id"] = f"vscode-{k:04d}"
    subs["metadata-stripped"] = nb
    nb = plan.reference()
    nb["cells"] = [c for c in nb["cells"] if not (nbgrader_meta(c).get("grade") and not nbgrader_meta(c).get("solution"))]
    subs["tests-deleted"] = nb
    nb = plan.reference()
    for cell in nb["cells"]:
        if nbgrader_meta(cell).get("grade") and not nbgrader_meta(cell).get("solution"):
            cell["cell_type"] = "markdown"
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
    subs["tests-to-markdown"] = nb
    answers = dict(plan.answers)
    first = next(iter(answers))
    answers[first] = f"# {TOKEN}\n" + answers[first]
    subs["renamed"] = {f"Copy of {ASSIGNMENT}.ipynb": json.dumps(plan.notebook(answers)).encode()}
    subs["empty-folder"] = None
    nb = plan.reference()
    nb["metadata"]["kernelspec"] = {"name": "ir", "language": "R", "display_name": "R"}
    subs["wrong-kernel"] = nb
    nb = plan.reference()
    saved = {"output_type": "stream", "name": "stdout", "text": "x" * (20 << 20)}
    next(c for c in nb["cells"] if c["cell_type"] == "code")["outputs"] = [saved]
    subs["huge-outputs"] = insert_cell(nb, first_answer_index(nb), "for _ in range(3000):\n    print('y' * 10000)")
    raw = json.dumps(plan.reference(), indent=1).encode()
    raw = raw.replace(b'\n "metadata"', b'\n\x00 "metadata"', 1)
    raw = raw.replace(b"# Exercise", b"# Exercise \xff\xfe", 1)
    subs["null-bytes"] = raw
    crash = plan.independent_function()
    subs["kernel-dies"] = plan.notebook(plan.with_function(crash, "    import os\n    os._exit(3)"))
    nb = plan.reference()
    subs["sys-exit"] = insert_cell(nb, first_answer_index(nb), "import sys\nsys.exit(1)")
    subs["infinite-loop"] = plan.notebook(plan.with_function(crash, "    while True:\n        pass"))
    nb = plan.reference()
    subs["infinite-loop-cell"] = insert_cell(nb, first_answer_index(nb), "while True:\n    pass")
    subs["memory-hog"] = plan.notebook(plan.with_function(
        crash, "    import numpy as np\n    hoard = []\n    while True:\n        hoard.append(np.ones(6_000_000))"))
    return subs


def write_submissions(course: Path, subs: dict) -> None:
    for student, content in subs.items():
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "timestamp.txt").write_text("2025-01-15 10:00:00.000000 UTC")
        if content is None:
            (folder / "timestamp.txt").unlink()
            continue
        files = content if isinstance(content, dict) and "nbformat" not in content else {f"{ASSIGNMENT}.ipynb": content}
        for name, data in files.items():
            if isinstance(data, dict):
                data = json.dumps(data, indent=1).encode()
            (folder / name).write_bytes(data)


FORMULA_ID = "=1+HYPERLINK(0)"  # a student id a spreadsheet would run


def untrusted_folders(course: Path, plan: Plan) -> None:
    """Folders whose names or files would have stopped the batch (issue: nothing a submission
    holds can stop the batch): each must cost its own student only."""
    submitted = course / "submitted"
    (submitted / "linked-folder").symlink_to(submitted / "reference")
    write_submissions(course, {"bad\nid": plan.reference(), "bad-timestamp": plan.reference(),
                               "fifo-timestamp": plan.reference(), FORMULA_ID: plan.reference()})
    (submitted / "bad-timestamp" / ASSIGNMENT / "timestamp.txt").write_text("=HYPERLINK(\"x\") not a date")
    fifo = submitted / "fifo-timestamp" / ASSIGNMENT / "timestamp.txt"
    fifo.unlink()
    os.mkfifo(fifo)
    undecodable = os.fsencode(submitted) + b"/caf\xe9"
    os.makedirs(undecodable + b"/" + ASSIGNMENT.encode())
    with open(undecodable + b"/" + ASSIGNMENT.encode() + b"/" + ASSIGNMENT.encode() + b".ipynb", "wb") as handle:
        handle.write(json.dumps(plan.reference()).encode())


# -- grading once per session ---------------------------------------------------------------------

def output_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts += [out.get("text", ""), out.get("ename", ""), out.get("evalue", "")]
        parts += out.get("traceback", [])
        parts += [str(v) for v in out.get("data", {}).values()]
    return "\n".join(str(p) for p in parts)


def run_batch(root: Path) -> dict:
    from grading import grade_assignment
    from grading.gradebook import load_course, read_scores
    from grading.release import check_release

    course = make_course(root)
    plan = Plan(course)
    subs = robustness_submissions(plan, course)
    import test_grading_tampering as tampering
    subs.update(tampering.submissions(plan, course))
    write_submissions(course, subs)
    for student, files in tampering.extra_files().items():
        for name, data in files.items():
            (course / "submitted" / student / ASSIGNMENT / name).write_text(data)
    for student, files in tampering.links(course).items():
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True, exist_ok=True)
        for name, target in files.items():
            (folder / name).symlink_to(target)
    untrusted_folders(course, plan)
    report = grade_assignment(ASSIGNMENT, course, workers=2, timeout=TIMEOUT, memory_mb=MEMORY_MB)
    results = {r.student: {"status": r.status, "score": r.score, "max_score": r.max_score, "reason": r.reason,
                           "flags": r.flags, "notes": r.notes, "problems": r.problems,
                           "scores": r.scores.get(ASSIGNMENT, {})} for r in report.results}
    autograded = {}
    for student in results:
        path = course / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        if path.exists():
            nb = json.loads(path.read_text())
            autograded[student] = {"size": path.stat().st_size, "cells": [
                {"label": nbgrader_meta(c).get("grade_id") or c.get("id"), "type": c["cell_type"],
                 "source": text(c), "outputs": output_text(c)} for c in nb["cells"]]}
    feedback = {}
    for student in results:
        pages = sorted((course / "feedback" / student / ASSIGNMENT).glob("*.html"))
        feedback[student] = pages[0].read_text(encoding="utf-8") if pages else None
    release = root / "release-check"
    shutil.rmtree(release, ignore_errors=True)
    shutil.copytree(course / "solutions" / ASSIGNMENT, release)
    with contextlib.closing(sqlite3.connect(course / "gradebook.db")) as db:
        stamped = db.execute("SELECT version_num FROM alembic_version").fetchall()
    return {"course": str(course), "results": results, "autograded": autograded, "feedback": feedback,
            "alembic_version": stamped,
            "gradebook": read_scores(load_course(course), ASSIGNMENT),
            "grades_csv": (course / "grades.csv").read_text() if (course / "grades.csv").exists() else "",
            "report_csv": report.report_csv.read_text() if report.report_csv else "",
            "feedback_problems": {s: f.get("problem", "") for s, f in report.feedback.items()},
            "release_problems": report.release_problems, "isolation": report.isolation,
            "sealed": report.sealed,
            "source_release_problems": check_release(release),
            "max_score": plan.max_score, "independent": plan.independent_function(),
            "independent_points": plan.points(plan.tests_naming(plan.independent_function())),
            "independent_tests": sorted(plan.tests_naming(plan.independent_function())),
            "seconds": report.seconds, "workers": report.workers}


@contextlib.contextmanager
def _locked(path: Path):
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@pytest.fixture(scope="session")
def batch(tmp_path_factory) -> dict:
    """The graded batch (graded once per session, shared by pytest-xdist workers)."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    root = root / "grading-batch"
    root.mkdir(exist_ok=True)
    cache = root / "batch.json"
    with _locked(root / "batch.lock"):
        if not cache.exists():
            cache.write_text(json.dumps(run_batch(root)))
    return json.loads(cache.read_text())


def result(batch, student) -> dict:
    return batch["results"][student]


def outputs_of(batch, student) -> str:
    return "\n".join(c["outputs"] for c in batch["autograded"][student]["cells"])


# -- the robustness cases ------------------------------------------------------------------------

def test_untrusted_folder_names_and_links_are_refused_for_that_student_only(batch):
    assert result(batch, "linked-folder")["status"] == "refused"
    assert "symbolic link" in result(batch, "linked-folder")["reason"]
    assert result(batch, "bad\\nid")["status"] == "refused"   # shown escaped
    assert result(batch, "caf\\xe9")["status"] == "refused"
    assert "not a valid student id" in result(batch, "caf\\xe9")["reason"]
    for student in ("linked-folder", "bad\nid", "caf\\xe9"):
        assert student not in batch["gradebook"]
    assert result(batch, "reference")["score"] == batch["max_score"]


def test_a_timestamp_that_is_no_date_or_a_named_pipe_costs_nothing(batch):
    for student in ("bad-timestamp", "fifo-timestamp"):
        r = result(batch, student)
        assert (r["status"], r["score"]) == ("graded", batch["max_score"]), r
        assert "submission time unknown" in r["reason"]
        assert batch["gradebook"][student]["score"] == batch["max_score"]


def test_student_text_is_neutralised_in_the_report_csv_and_table(batch):
    import csv
    import io
    rows = list(csv.reader(io.StringIO(batch["report_csv"])))
    cells = [cell for row in rows for cell in row]
    assert "'" + FORMULA_ID in cells and FORMULA_ID not in cells
    assert not any(cell[:1] in ("=", "+", "-", "@") for cell in cells)  # ("" is in any string)
    assert not any(ch in cell for cell in cells for ch in "\x1b\r\n\x00")
    assert result(batch, FORMULA_ID)["score"] == batch["max_score"]

def test_every_submission_gets_a_status_and_a_reason(batch):
    from grading.submission import STATUSES
    assert len(batch["results"]) >= 30
    for student, r in batch["results"].items():
        assert r["status"] in STATUSES, student
        assert r["reason"], student
        assert r["max_score"] == batch["max_score"], student


def test_the_reference_solution_gets_full_marks_and_no_remark(batch):
    r = result(batch, "reference")
    assert (r["status"], r["score"], r["reason"]) == ("graded", batch["max_score"], "ok")


def test_the_untouched_student_version_gets_zero(batch):
    r = result(batch, "blank")
    assert (r["status"], r["score"]) == ("graded", 0)
    texts = [c["outputs"] for c in batch["autograded"]["blank"]["cells"] if c["label"] in r["scores"]]
    assert texts and all("not implemented yet" in t for t in texts)


def test_wrong_answers_get_zero_with_the_checks_messages(batch):
    r = result(batch, "wrong")
    assert (r["status"], r["score"]) == ("graded", 0)
    assert "should be" in outputs_of(batch, "wrong")  # gdcheck's message about a None result


def test_invalid_json_is_malformed(batch):
    r = result(batch, "invalid-json")
    assert (r["status"], r["score"]) == ("malformed", 0)
    assert "not valid JSON" in r["reason"]


def test_an_empty_file_is_malformed(batch):
    r = result(batch, "empty-file")
    assert (r["status"], r["score"]) == ("malformed", 0)
    assert "empty" in r["reason"]


def test_a_truncated_file_keeps_the_cells_before_the_cut(batch):
    r = result(batch, "truncated")
    assert r["status"] == "graded", r["reason"]
    assert "truncated" in r["reason"]
    assert r["score"] == batch["max_score"]  # only the last (ungraded) cell was cut


def test_a_file_cut_before_any_cell_is_malformed(batch):
    r = result(batch, "truncated-early")
    assert (r["status"], r["score"]) == ("malformed", 0)
    assert "not valid JSON" in r["reason"]


def test_an_nbformat_3_notebook_is_converted_and_graded(batch):
    r = result(batch, "nbformat-v3")
    assert (r["status"], r["score"]) == ("graded", batch["max_score"]), r["reason"]
    assert "nbformat 3" in r["reason"]


def test_missing_cell_ids_are_tolerated(batch):
    r = result(batch, "no-cell-ids")
    assert (r["status"], r["score"]) == ("graded", batch["max_score"]), r["reason"]
    assert "no ids" in r["reason"]


def test_duplicate_cell_ids_are_tolerated(batch):
    r = result(batch, "duplicate-ids")
    assert (r["status"], r["score"]) == ("graded", batch["max_score"]), r["reason"]
    assert "repeated the id" in r["reason"]


def test_a_duplicated_grade_cell_counts_once_and_does_not_stop_the_batch(batch):
    r = result(batch, "duplicate-grade-cell")
    assert (r["status"], r["score"]) == ("graded", batch["max_score"]), r["reason"]
    assert "a copy of test" in r["reason"]


def test_stripped_metadata_is_recovered_by_content_and_order(batch):
    r = result(batch, "metadata-stripped")
    assert (r["status"], r["score"]) == ("graded", batch["max_score"]), r["reason"]
    assert "metadata was missing" in r["reason"]


def test_deleted_test_cells_are_run_from_the_source_and_flagged(batch):
    r = result(batch, "tests-deleted")
    assert (r["status"], r["score"]) == ("flagged", batch["max_score"]), r["reason"]
    assert "deleted" in r["reason"]


def test_test_cells_turned_into_markdown_are_run_from_the_source_and_flagged(batch):
    r = result(batch, "tests-to-markdown")
    assert (r["status"], r["score"]) == ("flagged", batch["max_score"]), r["reason"]
    assert "turned into markdown" in r["reason"]


def test_a_renamed_notebook_is_found(batch):
    r = result(batch, "renamed")
    assert (r["status"], r["score"]) == ("graded", batch["max_score"]), r["reason"]
    assert f"Copy of {ASSIGNMENT}.ipynb" in r["reason"]


def test_an_empty_submission_folder_is_malformed(batch):
    r = result(batch, "empty-folder")
    assert (r["status"], r["score"]) == ("malformed", 0)
    assert "no notebook" in r["reason"]


def test_a_wrong_kernelspec_is_graded_with_python(batch):
    r = result(batch, "wrong-kernel")
    assert (r["status"], r["score"]) == ("graded", batch["max_score"]), r["reason"]
    assert "'ir'" in r["reason"]


def test_huge_outputs_are_dropped_or_capped(batch):
    r = result(batch, "huge-outputs")
    assert (r["status"], r["score"]) == ("graded", batch["max_score"]), r["reason"]
    assert batch["autograded"]["huge-outputs"]["size"] < 2 << 20
    assert "more characters of output were not kept" in outputs_of(batch, "huge-outputs")


def test_null_bytes_and_invalid_utf8_are_repaired(batch):
    r = result(batch, "null-bytes")
    assert (r["status"], r["score"]) == ("graded", batch["max_score"]), r["reason"]
    assert "null bytes were removed" in r["reason"] and "invalid UTF-8" in r["reason"]


def test_a_function_that_kills_its_process_loses_only_its_own_tests(batch):
    r = result(batch, "kernel-dies")
    assert r["status"] == "crashed", r["reason"]
    assert "exited with code 3" in r["reason"]
    assert r["score"] == batch["max_score"] - batch["independent_points"]
    for gid, score in r["scores"].items():
        assert (score == 0) == (gid in batch["independent_tests"]), gid


def test_sys_exit_stops_one_cell_only(batch):
    r = result(batch, "sys-exit")
    assert (r["status"], r["score"]) == ("graded", batch["max_score"]), r["reason"]
    assert "sys.exit" in r["reason"]


def test_an_infinite_loop_in_a_function_times_out_its_tests_only(batch):
    r = result(batch, "infinite-loop")
    assert r["status"] == "timed out", r["reason"]
    assert f"did not finish within {TIMEOUT:g} s" in r["reason"]
    assert r["score"] == batch["max_score"] - batch["independent_points"]


def test_an_infinite_loop_in_a_cell_times_out_that_cell_only(batch):
    r = result(batch, "infinite-loop-cell")
    assert (r["status"], r["score"]) == ("timed out", batch["max_score"]), r["reason"]


def test_runaway_memory_hits_the_limit_and_loses_only_its_tests(batch):
    r = result(batch, "memory-hog")
    assert r["status"] == "crashed", r["reason"]
    assert f"memory limit of {MEMORY_MB} MB" in r["reason"]
    assert r["score"] == batch["max_score"] - batch["independent_points"]


def test_the_batch_is_recorded_in_the_gradebook_and_exported(batch):
    book = batch["gradebook"]
    recorded = {s: r for s, r in batch["results"].items() if r["status"] != "refused"}
    assert set(book) == set(recorded)  # a refused folder (symlink, invalid id) is never recorded
    for student, r in recorded.items():
        assert book[student]["score"] == r["score"], student
        assert book[student]["max_score"] == batch["max_score"], student
        assert book[student]["flagged"] == (r["status"] == "flagged"), student
    lines = batch["grades_csv"].splitlines()
    assert lines[0].startswith("assignment,duedate,timestamp,student_id,last_name,first_name,email,raw_score")
    assert len(lines) == 1 + len(recorded)
    assert "reference" in batch["report_csv"] and "malformed" in batch["report_csv"]


def test_the_new_gradebook_carries_the_revision_nbgrader_itself_stamps(batch):
    """make grade created this course's gradebook, reading the schema revision in its own process
    (grading.gradebook.alembic_head); nbgrader reads it with ``alembic heads`` in a second one."""
    from grading.gradebook import venv_on_path
    from nbgrader.api import get_alembic_version
    venv_on_path()
    assert batch["alembic_version"] == [[get_alembic_version()]]


INTERNAL_NAMES = re.compile(r"GraderObject|StudentFunction|StudentObject|StudentGlobals|Bridge\b|"
                            r"SandboxDied|SandboxTimeout|grading\.|sandbox_runner|proxies\.py")


def test_no_internal_class_name_reaches_a_student(batch):
    """What a student reads (autograded outputs, feedback) never names the grader's machinery."""
    for student, nb in batch["autograded"].items():
        for cell in nb["cells"]:
            assert not INTERNAL_NAMES.search(cell["outputs"]), (student, cell["outputs"][-300:])
    for student, page in batch["feedback"].items():
        assert page is None or not INTERNAL_NAMES.search(page), student
