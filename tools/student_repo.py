"""Write the student-facing repository: ``make student-repo`` runs this.

The student repository is what students, Binder and Colab see (the book's launch buttons point
at it). It is this repository's files (tracked, plus untracked files that .gitignore does not
ignore) EXCEPT the instructor-only ones:

- ``solutions/`` (nbgrader source notebooks: solutions and hidden tests) and ``grading/``;
- ``tests/`` and ``.ci/`` (the instructor test suite reads solutions/ and grading/);
- gradebooks and nbgrader's working folders (``gradebook.db``, ``grades.csv``, ``release/``,
  ``submitted/``, ``autograded/``, ``feedback/``);
- in ``nbgrader_config.py``, every setting but the course id and the exchange (a database URL,
  source folders and grading options are the instructor's).

It keeps ``exercises/`` (the student versions), ``chapters/``, ``gdlib/``, the book's config and
``requirements.txt``. The tree is written to ``--output`` (default ``_build/student-repo``) and
committed there on a fresh ``main`` branch, ready to push. The script refuses to finish if a
notebook in it still carries an nbgrader solution or hidden-test region.

Usage: ``python tools/student_repo.py [--output DIR]``
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "_build" / "student-repo"

EXCLUDED_FOLDERS = (
    "solutions", "grading", "tests", ".ci",
    "release", "submitted", "autograded", "feedback", "_build", ".venv",
)
EXCLUDED_FILES = ("gradebook.db", "grades.csv")
# Instructor-only files outside the excluded folders (they need grading/ and solutions/).
EXCLUDED_PATHS = (PurePosixPath("benchmarks/bench_grading.py"),)
EXCLUDED_SUFFIXES = (".db", ".sqlite", ".sqlite3")
NBGRADER_CONFIG = "nbgrader_config.py"
# Settings a student's nbgrader (on a course JupyterHub) needs; nothing else is kept.
STUDENT_NBGRADER_SETTING = re.compile(r"^c\.(CourseDirectory\.course_id|Exchange\.\w+)\s*=")
SOLUTION_REGION = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)")


def candidate_files(root: Path = REPO_ROOT) -> list[PurePosixPath]:
    """Tracked files plus untracked ones that .gitignore does not ignore, as repo-relative paths."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root, check=True, capture_output=True,
    ).stdout.decode()
    paths = {PurePosixPath(p) for p in listing.split("\0") if p}
    return sorted(p for p in paths if (root / p).is_file())


def is_for_students(path: PurePosixPath) -> bool:
    if path.parts[0] in EXCLUDED_FOLDERS:
        return False
    if path.name in EXCLUDED_FILES or path.suffix in EXCLUDED_SUFFIXES:
        return False
    if path in EXCLUDED_PATHS:
        return False
    if ".ipynb_checkpoints" in path.parts or "__pycache__" in path.parts:
        return False
    return True


def student_nbgrader_config(text: str) -> str:
    """Keep only the course id and exchange settings of an instructor nbgrader_config.py."""
    kept = [line for line in text.splitlines() if STUDENT_NBGRADER_SETTING.match(line.strip())]
    header = [
        "# nbgrader settings for students (course id and exchange only).",
        "# The instructor configuration is not part of the student repository.",
        "c = get_config()  # noqa: F821",
    ]
    return "\n".join(header + [line.strip() for line in kept]) + "\n"


def leaked_regions(output: Path) -> list[str]:
    """Notebooks under ``output`` that still hold a solution or hidden-test region."""
    return [
        str(nb.relative_to(output))
        for nb in output.rglob("*.ipynb")
        if SOLUTION_REGION.search(nb.read_text(encoding="utf-8", errors="replace"))
    ]


def git(output: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=Gradient Descent course", "-c", "user.email=course@example.invalid",
         "-c", "commit.gpgsign=false", *args],
        cwd=output, check=True, stdout=subprocess.DEVNULL,
    )


def write_student_repo(output: Path, root: Path = REPO_ROOT) -> list[PurePosixPath]:
    """Write the student tree into ``output`` (replacing it) and commit it. Returns the files."""
    if output.exists():
        shutil.rmtree(output)
    output.mkdir(parents=True)
    files = [p for p in candidate_files(root) if is_for_students(p)]
    for path in files:
        target = output / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.as_posix() == NBGRADER_CONFIG:
            target.write_text(student_nbgrader_config((root / path).read_text(encoding="utf-8")))
        else:
            shutil.copy2(root / path, target)

    leaks = leaked_regions(output)
    if leaks:
        shutil.rmtree(output)
        raise SystemExit(f"student_repo: solution or hidden-test regions found in {leaks}; "
                         "regenerate exercises/ with `make exercises` (nbgrader generate_assignment)")

    git(output, "init", "-q", "-b", "main")
    git(output, "add", "-A")
    git(output, "commit", "-q", "-m", "Student repository of Gradient Descent for Neural Networks")
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="folder to (re)create (default: _build/student-repo)")
    args = parser.parse_args(argv)
    output = args.output if args.output.is_absolute() else REPO_ROOT / args.output
    files = write_student_repo(output)
    print(f"student_repo: {len(files)} files committed on branch main in {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
