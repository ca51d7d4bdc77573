"""The course, the assignment in nbgrader's gradebook, one writer of grades, and the export.

Everything here runs in the main process. :func:`sync_assignment` runs nbgrader's own
``generate_assignment`` on a copy of the source folder (so the gradebook learns the assignment's
notebooks, grade cells and points exactly as nbgrader records them, and we get the student
version of every cell). :class:`GradebookWriter` is the ONLY writer of grades: workers send their
results to the main process, which commits one submission at a time, so an interruption loses
no grade already given and parallel workers never write the database. It sets only
``auto_score`` (and ``needs_manual_grade``), never ``manual_score``, so a manual grade survives
any number of re-runs; a flagged submission is flagged in the gradebook (formgrader shows it).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import shutil
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

CONFIG_FILE = "nbgrader_config.py"


@dataclass
class Course:
    root: Path
    config: Config
    db_url: str
    course_id: str
    timeout: float | None

    def coursedir(self, **attrs):
        from nbgrader.coursedir import CourseDirectory
        coursedir = CourseDirectory(config=self.config)
        coursedir.root = str(self.root)
        for key, value in attrs.items():
            setattr(coursedir, key, value)
        return coursedir

    def folder(self, kind: str, student: str, assignment: str) -> Path:
        """nbgrader's folder ``kind`` (submitted_directory, autograded_directory, ...)."""
        coursedir = self.coursedir()
        return Path(coursedir.format_path(getattr(coursedir, kind), student, assignment))


def venv_on_path() -> None:
    """nbgrader's Gradebook runs the ``alembic`` command of its environment."""
    bin_dir = os.path.dirname(sys.executable)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])


def load_course(root: Path) -> Course:
    """The course at ``root``: its nbgrader_config.py (if any), gradebook URL and course id."""
    root = Path(root).resolve()
    config = Config()
    if (root / CONFIG_FILE).is_file():
        config = PyFileConfigLoader(CONFIG_FILE, path=str(root)).load_config()
    from nbgrader.coursedir import CourseDirectory
    coursedir = CourseDirectory(config=config)
    coursedir.root = str(root)
    db_url = coursedir.db_url or f"sqlite:///{root / 'gradebook.db'}"
    config.CourseDirectory.db_url = db_url
    timeout = None
    for section in ("Execute", "ExecutePreprocessor"):
        if section in config and "timeout" in config[section]:
            timeout = float(config[section]["timeout"])
    return Course(root, config, db_url, coursedir.course_id or "course", timeout)


def _quiet_nbgrader(app) -> None:
    app.log.setLevel(logging.ERROR)


def alembic_head() -> str:
    """The revision nbgrader stamps on a new gradebook, read in this process.

    ``nbgrader.api.get_alembic_version`` gets the same revision by running ``alembic heads`` in
    a second Python, which imports nbgrader again: 1.8 s for every new gradebook.
    """
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR
    return ScriptDirectory(ALEMBIC_DIR).get_current_head()


@contextlib.contextmanager
def _alembic_head_in_process():
    """While nbgrader may create the gradebook, it reads the revision with :func:`alembic_head`."""
    import nbgrader.api
    nbgrader_reads = nbgrader.api.get_alembic_version
    nbgrader.api.get_alembic_version = alembic_head
    try:
        yield
    finally:
        nbgrader.api.get_alembic_version = nbgrader_reads


@contextlib.contextmanager
def gradebook_lock(course: Course):
    """Hold the gradebook for one grader while it records an assignment.

    Several graders may share one gradebook (a PostgreSQL ``db_url``, one grader per machine):
    recording the same assignment at once would insert its rows twice. On PostgreSQL the lock is
    a session advisory lock on the server; on SQLite, a lock on a file beside the database.
    """
    if course.db_url.startswith("postgresql"):
        import zlib

        import sqlalchemy
        engine = sqlalchemy.create_engine(course.db_url, poolclass=sqlalchemy.pool.NullPool)
        key = zlib.crc32(f"gradebook:{course.course_id}".encode())
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": key})
            try:
                yield
            finally:
                connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
        engine.dispose()
        return
    import fcntl
    path = course.db_url.removeprefix("sqlite:///") + ".lock" if course.db_url.startswith("sqlite:///") \
        else os.path.join(tempfile.gettempdir(), f"gradebook-{course.course_id}.lock")
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def sync_assignment(course: Course, assignment: str) -> tuple[dict[str, tuple[dict, dict]], list[Path], Path]:
    """Record ``assignment`` in the gradebook with ``nbgrader generate_assignment`` (run on a
    temporary copy of its source folder); return ({notebook: (source, release)}, the release's
    other files, the temporary folder holding the release). Graders sharing the gradebook take
    turns (:func:`gradebook_lock`)."""
    venv_on_path()
    coursedir = course.coursedir()
    source_dir = Path(coursedir.format_path(coursedir.source_directory, ".", assignment))
    if not source_dir.is_dir() or not list(source_dir.glob("*.ipynb")):
        raise FileNotFoundError(f"no source notebooks for assignment {assignment!r} in {source_dir}")
    temp = Path(tempfile.mkdtemp(prefix="grading-release-"))
    try:
        with gradebook_lock(course):
            return _generate(course, assignment, source_dir, temp)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def _generate(course: Course, assignment: str, source_dir: Path, temp: Path):
    import json

    from nbgrader.converters import GenerateAssignment

    relative = source_dir.relative_to(course.root)
    shutil.copytree(source_dir, temp / relative,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    config = copy.deepcopy(course.config)  # Config(...) would share its sections
    config.CourseDirectory.root = str(temp)
    config.CourseDirectory.db_url = course.db_url
    from nbgrader.coursedir import CourseDirectory
    temp_dir = CourseDirectory(config=config)
    temp_dir.root = str(temp)
    temp_dir.assignment_id = assignment
    app = GenerateAssignment(coursedir=temp_dir, config=config)
    app.force = True
    app.create_assignment = True
    _quiet_nbgrader(app)
    with contextlib.redirect_stdout(sys.stderr), _alembic_head_in_process():
        app.start()
    release = Path(temp_dir.format_path(temp_dir.release_directory, ".", assignment))
    notebooks = {}
    for path in sorted(source_dir.glob("*.ipynb")):
        released = release / path.name
        notebooks[path.stem] = (json.loads(path.read_text(encoding="utf-8")),
                                json.loads(released.read_text(encoding="utf-8")))
    others = sorted(p for p in release.rglob("*") if p.is_file() and p.suffix != ".ipynb")
    return notebooks, others, temp


class GradebookWriter:
    """The one process that writes grades; one commit per submission."""

    def __init__(self, course: Course, assignment: str):
        from nbgrader.api import Gradebook
        venv_on_path()
        self.assignment = assignment
        self.gb = Gradebook(course.db_url, course.course_id)

    def write(self, result, timestamp=None) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # nbgrader's add_submission warns through SQLAlchemy
            self._write(result, timestamp)

    def _write(self, result, timestamp) -> None:
        gb = self.gb
        try:
            gb.update_or_create_student(result.student)
            if timestamp:
                gb.update_or_create_submission(self.assignment, result.student, timestamp=timestamp)
            else:
                gb.update_or_create_submission(self.assignment, result.student)
            for notebook, scores in result.scores.items():
                submitted = gb.find_submission_notebook(notebook, self.assignment, result.student)
                for grade in submitted.grades:
                    if grade.name in scores:
                        grade.auto_score = scores[grade.name]
                        grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
                unanswered = set(result.unanswered.get(notebook, ()))
                for comment in submitted.comments:
                    comment.auto_comment = "No response." if comment.name in unanswered else None
                if result.status == "flagged":
                    submitted.flagged = True
            gb.db.commit()
        except BaseException:
            gb.db.rollback()
            raise

    def close(self) -> None:
        self.gb.close()


def read_scores(course: Course, assignment: str) -> dict[str, dict]:
    """student -> {"score", "max_score", "grades": {grade_id: (score, auto, manual)}, "flagged"}."""
    from nbgrader.api import Gradebook
    venv_on_path()
    out = {}
    with Gradebook(course.db_url, course.course_id) as gb:
        for submission in gb.assignment_submissions(assignment):
            grades, flagged = {}, False
            for notebook in submission.notebooks:
                flagged |= bool(notebook.flagged)
                for grade in notebook.grades:
                    grades[grade.name] = (grade.score, grade.auto_score, grade.manual_score)
            out[submission.student_id] = {"score": submission.score, "max_score": submission.max_score,
                                          "grades": grades, "flagged": flagged}
    return out


def export_grades(course: Course, path: Path) -> None:
    """nbgrader's CSV export (``nbgrader export``) of the whole gradebook to ``path``."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin
    venv_on_path()
    plugin = CsvExportPlugin(to=str(path))
    plugin.log.setLevel(logging.ERROR)
    with Gradebook(course.db_url, course.course_id) as gb:
        plugin.export(gb)
