"""Write the student-facing repository: ``make student-repo`` runs this.

The student repository is what students, Binder and Colab see (the book's launch buttons point
at it). It is this repository's files (tracked, plus untracked files that .gitignore does not
ignore) EXCEPT the instructor-only ones:

- ``solutions/`` (nbgrader source notebooks: solutions and hidden tests) and ``grading/``;
- ``tests/`` and ``.ci/`` (the instructor test suite reads solutions/ and grading/), and
  ``.github/`` (the course repository's workflows: they test, deploy and publish it);
- gradebooks and nbgrader's working folders (``gradebook.db``, ``grades.csv``, ``release/``,
  ``submitted/``, ``autograded/``, ``feedback/``);
- in ``nbgrader_config.py``, every setting but the course id and the exchange (a database URL,
  source folders and grading options are the instructor's).

It keeps ``exercises/`` (the student versions), ``chapters/``, ``gdlib/``, the book's config,
``course.yml`` and ``requirements.txt``. If the course has a ``README.student.md``, it becomes
the student repository's ``README.md``, with ``{{ book_url }}``, ``{{ student_repository }}``,
``{{ instructor_repository }}`` and ``{{ branch }}`` replaced by the values of ``course.yml``.

The tree is written to ``--output`` (default ``_build/student-repo``) and committed there on
the branch of ``course.yml``, ready to push. The history goes on from release to release: an
existing repository in ``--output`` keeps its ``.git`` and gets one new commit when the tree
changed (none when it did not); with ``--base URL`` (``make publish`` passes the student
remote) the new commit goes on top of that remote's branch, so pushing it never needs a force.
The script refuses to finish if a notebook in it still carries an nbgrader solution or
hidden-test region.

Usage: ``python tools/student_repo.py [--output DIR] [--base URL]``
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath

sys.path.insert(0, str(Path(__file__).resolve().parent))
import course_config  # noqa: E402  (tools/course_config.py)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "_build" / "student-repo"
STUDENT_README = "README.student.md"  # optional: the student repository's README.md
README_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
COMMIT_MESSAGE = "Student repository of Gradient Descent for Neural Networks"

EXCLUDED_FOLDERS = (
    "solutions", "grading", "tests", ".ci", ".github",
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


def student_readme(template: str, course: dict) -> str:
    """The student README: ``template`` with ``{{ key }}`` replaced by course.yml's values.

    Parameters
    ----------
    template : str
        The text of ``README.student.md``.
    course : dict
        What :func:`course_config.load` returns.

    Raises
    ------
    SystemExit
        When the template names a key that course.yml does not have.
    """
    values = {key: value for key, value in course.items() if isinstance(value, str)}
    unknown = sorted({m[1] for m in README_PLACEHOLDER.finditer(template)} - values.keys())
    if unknown:
        raise SystemExit(f"student_repo: {STUDENT_README} uses {unknown}, which course.yml does not "
                         f"set; the keys are {sorted(values)}")
    return README_PLACEHOLDER.sub(lambda m: values[m[1]], template)


def git(output: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=Gradient Descent course", "-c", "user.email=course@example.invalid",
         "-c", "commit.gpgsign=false", *args],
        cwd=output, check=True, stdout=subprocess.DEVNULL,
    )


def head_commit(output: Path) -> str | None:
    """The commit HEAD of the repository in ``output`` points at, or None (no commit yet)."""
    result = subprocess.run(["git", "rev-parse", "-q", "--verify", "HEAD^{commit}"], cwd=output,
                            capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def prepare_history(output: Path, branch: str, base: str | None) -> None:
    """Make ``output`` a repository on ``branch`` whose next commit continues the history.

    An existing repository keeps its history. With ``base`` (a git URL) whose ``branch`` exists,
    ``branch`` is moved to that commit first, so the next commit is a fast-forward of it.
    """
    if not (output / ".git").is_dir():
        if output.exists():
            shutil.rmtree(output)
        output.mkdir(parents=True)
        git(output, "init", "-q", "-b", branch)
    git(output, "symbolic-ref", "HEAD", f"refs/heads/{branch}")
    if base:
        listed = subprocess.run(["git", "ls-remote", "--heads", base, f"refs/heads/{branch}"],
                                cwd=output, capture_output=True, text=True)
        if listed.returncode != 0:
            raise SystemExit(f"student_repo: cannot read {course_config.redact(base)}: "
                             f"{listed.stderr.strip()}")
        if listed.stdout.strip():
            git(output, "fetch", "-q", "--no-tags", base, f"refs/heads/{branch}")
            git(output, "update-ref", f"refs/heads/{branch}", "FETCH_HEAD")


def write_student_repo(output: Path, root: Path = REPO_ROOT, *, course: dict | None = None,
                       base: str | None = None) -> list[PurePosixPath]:
    """Write the student tree into ``output`` and commit it on top of its history.

    Parameters
    ----------
    output : Path
        The student repository. Everything in it but ``.git`` is replaced.
    root : Path
        The course repository the files come from.
    course : dict, optional
        :func:`course_config.load` of ``root`` (read when not given): the branch, and the links
        of the student README.
    base : str, optional
        A git URL (the published student repository): its branch becomes the parent.

    Returns
    -------
    list of PurePosixPath
        The files of the student tree. ``HEAD`` gains one commit if they differ from its tree.
    """
    course = course_config.load(root / "course.yml") if course is None else course
    prepare_history(output, course["branch"], base)
    for entry in output.iterdir():
        if entry.name != ".git":
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    files = [p for p in candidate_files(root) if is_for_students(p)]
    readme = root / STUDENT_README
    if readme.is_file():
        files = [p for p in files if p.as_posix() not in (STUDENT_README, "README.md")]
    for path in files:
        target = output / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.as_posix() == NBGRADER_CONFIG:
            target.write_text(student_nbgrader_config((root / path).read_text(encoding="utf-8")))
        else:
            shutil.copy2(root / path, target)
    if readme.is_file():
        (output / "README.md").write_text(student_readme(readme.read_text(encoding="utf-8"), course),
                                          encoding="utf-8")
        files.append(PurePosixPath("README.md"))

    leaks = leaked_regions(output)
    if leaks:
        shutil.rmtree(output)
        raise SystemExit(f"student_repo: solution or hidden-test regions found in {leaks}; "
                         "regenerate exercises/ with `make exercises` (nbgrader generate_assignment)")

    git(output, "add", "-A")
    unchanged = head_commit(output) is not None and subprocess.run(
        ["git", "diff", "--cached", "--quiet", "HEAD"], cwd=output).returncode == 0
    if not unchanged:
        git(output, "commit", "-q", "-m", COMMIT_MESSAGE)
    return sorted(files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="the student repository to write (default: _build/student-repo)")
    parser.add_argument("--base", metavar="URL",
                        help="git URL of the published student repository: commit on top of it")
    args = parser.parse_args(argv)
    output = args.output if args.output.is_absolute() else REPO_ROOT / args.output
    course = course_config.load()
    before = head_commit(output) if (output / ".git").is_dir() else None
    files = write_student_repo(output, course=course, base=args.base)
    after = head_commit(output)
    what = "no change" if after == before else "new commit"
    print(f"student_repo: {len(files)} files at {after[:12]} ({what}) on branch {course['branch']} "
          f"in {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
