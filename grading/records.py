"""The class's records of one assignment: one row per student, kept across partial re-grades.

``autograded/grading-report-<id>.csv`` holds one row per student: ``student, status, score,
max_score, reason, seconds, mistakes`` (``mistakes``: the catalogue keys gdcheck named, space
separated). Grading some students (``--student NAME``) updates their rows and keeps everyone
else's (:func:`merge_rows`); a full run rewrites the rows of every submission it graded and
keeps those of students whose grade is in the gradebook but whose folder is gone.

Every export tells apart a real zero, a malformed submission and no submission: a student the
gradebook knows (``nbgrader db student add``/``import``, or an earlier assignment) without a
submission folder or a submission in the gradebook has the status ``missing`` and no score.
``autograded/grades-<id>.csv`` (:func:`write_grades`) lists every student with a status and
the gradebook's score (manual grades included); nbgrader's own ``grades.csv`` stays as nbgrader
writes it (0.0 for a student who did not submit). Student ids and reasons are neutralised for
spreadsheets as in :func:`grading.report.spreadsheet_cell`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from .report import spreadsheet_cell, _fmt
from .submission import MISSING

REPORT_FIELDS = ("student", "status", "score", "max_score", "reason", "seconds", "mistakes")
GRADES_FIELDS = ("student_id", "status", "score", "max_score")
#: Statuses of a submission that was run (an autograded notebook exists, test cells scored).
RUN_STATUSES = ("graded", "flagged", "crashed", "timed out")
#: Statuses of a submission that could not be graded, or only in part.
PROBLEM_STATUSES = ("malformed", "refused", "not recorded", "crashed", "timed out")


@dataclass
class Snapshot:
    """What the gradebook holds for one assignment.

    Attributes
    ----------
    students : list of str
        Every student id the gradebook knows.
    submissions : dict
        student id -> ``{"score", "max_score", "flagged", "cells": {(notebook, grade_id):
        (score, points)}}`` for the students with a submission of this assignment.
    """

    students: list = field(default_factory=list)
    submissions: dict = field(default_factory=dict)


def snapshot(gb, assignment: str) -> Snapshot:
    """Read ``assignment``'s students and scores from an open nbgrader ``Gradebook``."""
    snap = Snapshot(sorted(student.id for student in gb.students))
    try:
        submissions = gb.assignment_submissions(assignment)
    except Exception:  # the assignment is not in the gradebook (yet)
        submissions = []
    for submission in submissions:
        cells, flagged = {}, False
        for notebook in submission.notebooks:
            flagged |= bool(notebook.flagged)
            for grade in notebook.grades:
                cells[(notebook.name, grade.name)] = (grade.score, grade.max_score)
        snap.submissions[submission.student_id] = {
            "score": submission.score, "max_score": submission.max_score, "flagged": flagged,
            "cells": cells}
    return snap


def read_snapshot(course, assignment: str) -> Snapshot:
    """:func:`snapshot` of the course's gradebook (opened and closed here)."""
    from nbgrader.api import Gradebook

    from .gradebook import venv_on_path
    venv_on_path()
    with Gradebook(course.db_url, course.course_id) as gb:
        return snapshot(gb, assignment)


def row_of(result) -> dict:
    """The report row of a :class:`grading.submission.Result`."""
    keys = [k for notebook in result.mistakes.values() for cell in notebook.values() for k in cell]
    return {"student": spreadsheet_cell(result.student), "status": result.status, "score": _fmt(result.score),
            "max_score": _fmt(result.max_score), "reason": spreadsheet_cell(result.reason),
            "seconds": f"{result.seconds:.1f}", "mistakes": " ".join(dict.fromkeys(keys))}


def missing_row(student: str, assignment: str, max_score: float | None) -> dict:
    """The row of a student the gradebook knows who submitted nothing: no score."""
    return {"student": spreadsheet_cell(student), "status": MISSING, "score": "",
            "max_score": _fmt(max_score) if max_score is not None else "",
            "reason": f"no submission (no folder submitted/<student>/{spreadsheet_cell(assignment)}/)",
            "seconds": "", "mistakes": ""}


def missing_students(snap: Snapshot, ran: set[str], requested=None) -> list[str]:
    """Students of the gradebook with no submission of the assignment, none graded now (``ran``),
    among ``requested`` when given."""
    return [s for s in snap.students if s not in snap.submissions and s not in ran
            and (requested is None or s in requested)]


def read_rows(path: Path) -> dict[str, dict]:
    """The rows of a report CSV by (neutralised) student; ``{}`` if there is none. Columns
    missing from an older file are empty."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except FileNotFoundError:
        return {}
    return {row["student"]: {name: row.get(name) or "" for name in REPORT_FIELDS}
            for row in rows if row.get("student")}


def merge_rows(old: dict[str, dict], new: list[dict], *, full: bool, keep: set[str]) -> list[dict]:
    """The rows after a run that produced ``new``.

    Parameters
    ----------
    old : dict
        The rows before, by student (:func:`read_rows`).
    new : list of dict
        The rows of this run (graded, refused, missing).
    full : bool
        Whether the run graded every submission folder (no ``--student``). A partial run keeps
        every old row it did not redo; a full run keeps only the old rows of students in
        ``keep``.
    keep : set of str
        (Neutralised) students whose old row a full run keeps: those with a grade in the
        gradebook and no submission folder any more.

    Returns
    -------
    list of dict
        One row per student, sorted by student.
    """
    merged = {k: row for k, row in old.items() if not full or k in keep}
    for row in new:
        merged[row["student"]] = row
    return [merged[k] for k in sorted(merged)]


def _write_csv(path: Path, header, rows) -> None:
    """Write ``header`` and ``rows`` (lists of cells) to the CSV file ``path``, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(path.name + ".tmp")
    with open(temp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    temp.replace(path)


def write_rows(path: Path, rows: list[dict]) -> None:
    """Write report rows (already neutralised) to ``path``, atomically."""
    _write_csv(path, REPORT_FIELDS, ([row.get(name, "") for name in REPORT_FIELDS] for row in rows))


def gradebook_ids(snap: Snapshot) -> dict[str, str]:
    """Neutralised student text (the CSV's) -> the gradebook's student id."""
    return {spreadsheet_cell(s): s for s in snap.students}


def complete_rows(rows: list[dict], snap: Snapshot, assignment: str) -> list[dict]:
    """``rows`` plus a row for every student of the gradebook they lack: ``missing`` without
    a submission, ``graded`` (from the gradebook) with one."""
    have = {row["student"] for row in rows}
    extra = []
    max_score = next((s["max_score"] for s in snap.submissions.values()), None)
    for student in snap.students:
        if spreadsheet_cell(student) in have:
            continue
        if student in snap.submissions:
            info = snap.submissions[student]
            extra.append({"student": spreadsheet_cell(student), "status": "graded", "score": _fmt(info["score"]),
                          "max_score": _fmt(info["max_score"]),
                          "reason": "in the gradebook, not in the grading report (graded elsewhere)",
                          "seconds": "", "mistakes": ""})
        else:
            extra.append(missing_row(student, assignment, max_score))
    return sorted(rows + extra, key=lambda row: row["student"])


def write_grades(path: Path, rows: list[dict], snap: Snapshot) -> None:
    """``grades-<id>.csv``: every student's status and score, the gradebook's score (manual
    grades included) where it has one; no score for ``missing``, ``refused`` and
    ``not recorded``."""
    ids = gradebook_ids(snap)
    cells = []
    for row in rows:
        info = snap.submissions.get(ids.get(row["student"], ""))
        if info is not None and row["status"] not in (MISSING, "refused", "not recorded"):
            score, max_score = _fmt(info["score"]), _fmt(info["max_score"])
        else:
            score = "" if row["status"] in (MISSING, "refused", "not recorded") else row["score"]
            max_score = row["max_score"]
        cells.append([row["student"], row["status"], score, max_score])
    _write_csv(path, GRADES_FIELDS, cells)
