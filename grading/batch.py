"""Grade every submission of one assignment: the whole pipeline, in the main process.

1. nbgrader ``generate_assignment`` records the assignment in the gradebook (grading/gradebook.py);
2. the runtime for sandboxes is prepared (grading/sandbox.py), with the release's allowed data
   files only (grading/release.py);
3. worker processes (grading/pool.py) grade the submissions ``submitted/<student>/<id>/`` in
   parallel (grading/submission.py) and write ``autograded/<student>/<id>/``; with
   ``scheduler``, the workers of a Dask cluster do (grading/distributed.py);
4. this process, the only writer, commits each result to the gradebook as it arrives;
5. workers write each student's feedback with nbgrader ``generate_feedback`` (grading/feedback.py);
6. nbgrader's CSV export writes ``grades.csv`` at the course root; the class's records are
   updated (``autograded/grading-report-<id>.csv``: the rows of the students graded now replace
   theirs, the others stay; ``autograded/grades-<id>.csv`` with a status per student, students
   who submitted nothing included: grading/records.py), students the gradebook knows who
   submitted nothing get a feedback page saying so, the class report is written
   (``autograded/class-report-<id>.html``: grading/class_report.py) and the report is returned.

Every submission ends with a status (graded, timed out, crashed, malformed, flagged, refused,
not recorded) and a reason, whatever it contains: the batch always finishes. Nothing a
submission folder holds is trusted: a folder or timestamp that is a symbolic link, a timestamp
that is not a date (or not a file), a folder name that is no valid student id are reported for
that student alone; a grade the gradebook cannot take is that student's "not recorded"; a disk
about to fill stops the batch before a grade is lost.
"""

from __future__ import annotations

import os
import shutil
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import class_report, records, sections
from . import feedback as fb
from . import feedback_pages as fb_pages
from . import notebooks as nbs
from .diagnoses import test_titles
from .gradebook import GradebookWriter, export_grades, load_course, sync_assignment, venv_on_path
from .pool import Pool, cpu_count
from .release import check_release, split_files
from .report import printable, spreadsheet_cell
from .sandbox import cleanup_runtime, prepare_runtime
from .submission import Options, Result

REPO_ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 120.0
MIN_FREE_BYTES = 64 << 20  # below this much free disk, no further grade is attempted


@dataclass
class BatchReport:
    assignment: str
    results: list[Result] = field(default_factory=list)
    feedback: dict[str, dict] = field(default_factory=dict)
    isolation: str = ""
    sealed: list[str] = field(default_factory=list)  # what the sandbox's gdlib refuses (sealing.py)
    release_problems: list[str] = field(default_factory=list)
    grades_csv: Path | None = None
    report_csv: Path | None = None
    status_csv: Path | None = None        # autograded/grades-<id>.csv: a status per student
    class_report: Path | None = None      # autograded/class-report-<id>.html
    class_report_seconds: float = 0.0
    class_report_problem: str = ""
    missing: list[str] = field(default_factory=list)  # known to the gradebook, nothing submitted
    seconds: float = 0.0
    workers: int = 0
    scheduler: str = ""                   # the Dask scheduler that graded (grading/distributed.py)


def _record(writer, course, result: Result, folder: Path, notebooks: dict, assignment: str) -> Result:
    """Commit ``result`` to the gradebook; what cannot be recorded becomes that student's status
    (the batch goes on). A disk about to fill stops the batch first (grades so far are kept)."""
    free = shutil.disk_usage(course.root).free
    if free < MIN_FREE_BYTES:
        raise DiskFull(f"only {free >> 20} MB free on the disk of {course.root}: grading stopped "
                       "before a grade could be lost; every grade reported so far is committed")
    timestamp, note = read_timestamp(folder)
    if note:
        result.notes.append(note)
    try:
        writer.write(result, timestamp)
    except Exception as exc:
        why = f"the gradebook could not record this grade ({type(exc).__name__}: {str(exc)[:200]})"
        return _refused(result.student, notebooks, assignment, why, status="not recorded")
    return result


class DiskFull(RuntimeError):
    """The course's disk is nearly full: the batch stops before a grade is lost."""


def _failed(task: dict, notebooks: dict, assignment: str, why: str) -> Result:
    result = Result(task["student"], assignment)
    for name, cells in notebooks.items():
        result.max_scores[name] = {c.grade_id: c.points for c in cells if c.points is not None and c.grade_id}
        result.scores[name] = {gid: 0.0 for gid in result.max_scores[name]}
    if why.startswith("timed out"):
        result.timed_out = True
    else:
        result.crashed = True
    result.problems.append(why if len(why) < 300 else "the grader failed: " + why.strip().splitlines()[-1])
    return result.finish()


def valid_student_id(name: str) -> bool:
    """A folder name nbgrader, the gradebook and a CSV can all hold as a student id."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes in the folder name (surrogate escapes)
        return False
    return 0 < len(name) <= 100 and name.isprintable() and name.strip() == name and "/" not in name


def submission_folders(course, assignment: str, students=None) -> tuple[dict[str, Path], dict[str, str]]:
    """(student -> ``submitted/<student>/<assignment>``, refused folder -> why).

    A student folder or submission folder that is a symbolic link (it could lead into solutions/
    or another student's work) and a folder name that is no valid student id are refused.
    """
    coursedir = course.coursedir()
    pattern = Path(coursedir.format_path(coursedir.submitted_directory, "*", assignment))
    base = pattern.parent.parent
    folders, refused = {}, {}
    for student_dir in sorted(base.iterdir()) if base.is_dir() else []:
        name = student_dir.name
        if students is not None and name not in students:
            continue
        folder = Path(coursedir.format_path(coursedir.submitted_directory, name, assignment))
        if student_dir.is_symlink() or folder.is_symlink():
            refused[printable(name)] = "the submission folder is a symbolic link: not followed"
        elif not student_dir.is_dir() or not folder.is_dir():
            continue
        elif not valid_student_id(name):
            refused[printable(name)] = ("the folder name is not a valid student id (printable UTF-8, "
                                        "at most 100 characters, no surrounding spaces)")
        else:
            folders[name] = folder
    return folders, refused


def read_timestamp(folder: Path):
    """(timestamp or None, note): nbgrader's ``timestamp.txt``, only if it is a small regular
    file holding a date; never opened otherwise (a named pipe would block)."""
    from nbgrader.utils import parse_utc
    path = folder / "timestamp.txt"
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None, ""
    except OSError as exc:
        return None, f"timestamp.txt could not be read ({exc.strerror}): submission time unknown"
    if not stat.S_ISREG(info.st_mode) or info.st_size > 1024:
        return None, "timestamp.txt is not a small regular file: submission time unknown"
    try:
        with open(path, "rb") as handle:
            return parse_utc(handle.read(1024).decode("utf-8").strip()), ""
    except Exception:
        return None, "timestamp.txt does not hold a date: submission time unknown"


def _keep_records(writer, course, assignment, notebooks, report, students, feedback, export,
                  with_class_report, titles, book_url) -> None:
    """Missing students' feedback, the class's records (merged), the exports, the class report."""
    snap = records.snapshot(writer.gb, assignment)
    requested = None if students is None else set(students)
    report.missing = records.missing_students(snap, {r.student for r in report.results}, requested)
    for student in report.missing if feedback else ():
        files = fb_pages.write_missing(course, assignment, student, list(notebooks), book_url)
        report.feedback[student] = {"files": files, "problem": ""}
    max_score = sum(c.points for cells in notebooks.values() for c in cells
                    if c.points is not None and c.grade_id)
    autograded = course.root / course.coursedir().autograded_directory
    report.report_csv = autograded / f"grading-report-{assignment}.csv"
    new = [records.row_of(r) for r in report.results]
    new += [records.missing_row(s, assignment, max_score) for s in report.missing]
    rows = records.merge_rows(records.read_rows(report.report_csv), new, full=students is None,
                              keep={spreadsheet_cell(s) for s in snap.submissions})
    rows = records.complete_rows(rows, snap, assignment)
    records.write_rows(report.report_csv, rows)
    if export:
        report.grades_csv = course.root / "grades.csv"
        export_grades(course, report.grades_csv)
        report.status_csv = autograded / f"grades-{assignment}.csv"
        records.write_grades(report.status_csv, rows, snap)
    if with_class_report:
        begun = time.monotonic()
        try:
            data = class_report.collect(assignment, rows, snap, titles, book_url)
            report.class_report, _ = class_report.write(data, autograded)
        except Exception as exc:  # every grade is committed: a report's failure costs only itself
            report.class_report_problem = f"the class report failed: {type(exc).__name__}: {exc}"
        report.class_report_seconds = time.monotonic() - begun


def _refused(student: str, notebooks: dict, assignment: str, why: str, status: str = "refused") -> Result:
    result = _failed({"student": student}, notebooks, assignment, why)
    result.status = status
    return result


def grade_assignment(assignment: str, course_root: Path = REPO_ROOT, *, workers: int | None = None,
                     timeout: float | None = None, memory_mb: int = 2048, students=None,
                     feedback: bool = True, export: bool = True, progress=None,
                     write_report: bool = True, scheduler: str | None = None,
                     unsafe_same_user: bool = False, submission_seconds: float | None = None) -> BatchReport:
    """Autograde, write feedback and export grades for every submission of ``assignment``.

    ``progress(event)`` is called after each grade is committed (``event["kind"] == "graded"``)
    and each feedback is written (``"feedback"``), with ``event["done"]`` and ``event["total"]``.
    ``students`` grades only those (the other students' records are kept); ``write_report``
    writes the class report at the end. ``scheduler`` (``tcp://HOST:PORT``) grades the
    submissions on that Dask cluster (grading/distributed.py); this process still writes the
    gradebook, and the feedback with ``workers`` local workers. Without bubblewrap or root,
    grading refuses (grading.sandbox.IsolationUnavailable) unless ``unsafe_same_user``.
    ``submission_seconds`` bounds the wall-clock time of one whole submission.
    """
    started = time.monotonic()
    venv_on_path()
    course = load_course(course_root)
    options = Options(timeout=float(timeout or course.timeout or 60.0), memory_mb=int(memory_mb),
                      unsafe_same_user=unsafe_same_user)
    if submission_seconds:
        options.submission_seconds = float(submission_seconds)
    report = BatchReport(assignment)
    folders, refused_folders = submission_folders(course, assignment, students)
    n = max(1, min(workers or cpu_count(), len(folders) or 1, 255))
    report.workers = n
    if scheduler:
        from .distributed import DaskPool
        pool = DaskPool(scheduler, n if feedback else 0)
        report.scheduler = scheduler
    else:
        pool = Pool(n)  # the workers import their modules while this process prepares the batch
    try:
        report = _grade(pool, course, assignment, folders, refused_folders, options, report, started,
                        feedback, export, progress, students, write_report)
    except BaseException:
        pool.terminate()
        raise
    if scheduler:
        report.isolation, report.workers = pool.describe(), len(pool.workers_seen)
    return report


def _grade(pool, course, assignment, folders, refused_folders, options, report, started, feedback,
           export, progress, students=None, with_class_report=True) -> BatchReport:
    sources, release_files, release_temp = sync_assignment(course, assignment)
    allowed, refused = split_files(release_files)
    report.release_problems = [f"{p.name} stays out of the sandboxes (not an allowed data file)" for p in refused]
    report.release_problems += check_release(release_temp / "release" / assignment) \
        if (release_temp / "release" / assignment).is_dir() else []
    notebooks = {name: nbs.source_cells(src, rel) for name, (src, rel) in sources.items()}
    titles = {name: test_titles(src) for name, (src, _) in sources.items()}
    book_url = sections.book_url(course.root)
    iso = prepare_runtime(course.root, allowed, graded=nbs.graded_functions(notebooks),
                          unsafe_same_user=options.unsafe_same_user,
                          cpu_seconds=int(options.submission_seconds) + 1)
    report.isolation, report.sealed = iso.description, list(iso.sealed)
    context = {"assignment": assignment, "options": options, "notebooks": notebooks,
               "metadata": {name: src.get("metadata", {}) for name, (src, _) in sources.items()},
               "isolation": iso, "course_root": str(course.root), "secrets": fb.secret_lines(sources),
               "titles": titles, "book_url": book_url,
               "install": sections.install_values(course.root)}
    cells = sum(len(c) for c in notebooks.values())
    budget = STARTUP_SECONDS + min(2 * cells * (options.timeout + 5), options.submission_seconds + 60)
    writer = None
    report.results += [_refused(student, notebooks, assignment, why)
                       for student, why in refused_folders.items()]
    try:
        pool.start(context)
        writer = GradebookWriter(course, assignment)
        for student, folder in folders.items():
            pool.submit({"kind": "grade", "student": student, "folder": str(folder),
                         "autograded": str(course.folder("autograded_directory", student, assignment))},
                        budget)
        if with_class_report:
            class_report.preload()  # matplotlib's import, while the workers grade
        graded = 0
        while pool.pending:
            task, ok, payload = pool.next_done()
            student = task["student"]
            if task["kind"] == "grade":
                result = payload if ok else _failed(task, notebooks, assignment, str(payload))
                result = _record(writer, course, result, folders[student], notebooks, assignment)
                report.results.append(result)
                graded += 1
                if feedback:
                    if result.autograded:
                        pool.submit({"kind": "feedback", "student": student}, STARTUP_SECONDS + 60 * len(notebooks))
                    else:
                        files = fb.write_unreadable(course, assignment, student, list(notebooks),
                                                    result.malformed or result.reason)
                        report.feedback[student] = {"files": files, "problem": ""}
                if progress:
                    progress({"kind": "graded", "student": student, "result": result,
                              "done": graded, "total": len(folders), "runtime": iso.runtime})
            else:
                report.feedback[student] = payload if ok else {"files": [], "problem": str(payload)[-300:]}
                if progress:
                    progress({"kind": "feedback", "student": student, "done": len(report.feedback),
                              "total": len(folders)})
        pool.close()
        _keep_records(writer, course, assignment, notebooks, report, students, feedback, export,
                      with_class_report, titles, book_url)
    finally:
        if writer is not None:
            writer.close()
        cleanup_runtime(iso)
        shutil.rmtree(release_temp, ignore_errors=True)
    report.seconds = time.monotonic() - started
    return report
