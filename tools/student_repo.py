"""Write the student-facing repository: ``make student-repo`` runs this.

The student repository is what students, Binder and Colab see (the book's launch buttons point
at it). It is made for them, not copied from the course repository: it holds exactly

- ``chapters/``: the plain notebooks of the chapters (tools/plain_notebooks.py: the book
  build's executed notebooks with every glued figure, table and number in their text, and no
  MyST markup), and the book's Markdown pages (bibliography, conventions) as plain Markdown;
  this needs an up-to-date ``make book`` (its execution cache);
- ``exercises/``: the student versions nbgrader generated (``make exercises``);
- ``gdlib/``, ``gdcheck/``, ``pyproject.toml`` (``pip install`` of the repository installs both
  packages) and ``CONVENTIONS.md``;
- in ``nbgrader_config.py``, only the course id and the exchange (a database URL, source
  folders and grading options are the instructor's);
- every file of ``student/`` at its root: its own ``Makefile`` (``make setup``, ``make lab``,
  ``make check``), a lean ``requirements.txt``, ``runtime.txt`` for Binder and ``.gitignore``;
- ``README.md`` made from ``README.student.md``, with ``{{ book_url }}``,
  ``{{ student_repository }}``, ``{{ instructor_repository }}`` and ``{{ branch }}`` replaced by
  the values of ``course.yml``, and ``{{ student_repository_slug }}`` (``OWNER/NAME``) and
  ``{{ student_repository_name }}`` (``NAME``) derived from it.

The first cell of every notebook (tools/install_cell.py) gets the student repository's address
and branch from ``course.yml`` here. Nothing else of the course repository is copied: no
solutions/, grading/, tests/, tools/, book configuration or instructor README, Makefile or
requirements.

The tree is written to ``--output`` (default ``_build/student-repo``) and committed there on
the branch of ``course.yml``, ready to push. The history goes on from release to release: an
existing repository in ``--output`` keeps its ``.git`` and gets one new commit when the tree
changed (none when it did not); with ``--base URL`` (``make publish`` passes the student
remote) the new commit goes on top of that remote's branch, so pushing it never needs a force.
The script refuses to finish if a notebook in it still carries an nbgrader solution or
hidden-test region, or an install cell without the repository's address.

Usage: ``python tools/student_repo.py [--output DIR] [--base URL]``
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import course_config  # noqa: E402  (tools/course_config.py)
import install_cell  # noqa: E402  (tools/install_cell.py)
import plain_notebooks  # noqa: E402  (tools/plain_notebooks.py)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "_build" / "student-repo"
STUDENT_README = "README.student.md"  # optional: the student repository's README.md
STUDENT_FILES = "student"             # its files go to the root of the student repository
README_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
COMMIT_MESSAGE = "Student repository of Gradient Descent for Neural Networks"

# What is copied from the course repository (folders end in "/"); chapters/ is rendered.
STUDENT_PATHS = ("gdlib/", "gdcheck/", "exercises/", "CONVENTIONS.md", "pyproject.toml",
                 "nbgrader_config.py", "LICENSE")
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
    """True for a file of the course repository that is copied as it is into the student one."""
    text = path.as_posix()
    if not any(text == p or (p.endswith("/") and text.startswith(p)) for p in STUDENT_PATHS):
        return False
    if path.suffix in EXCLUDED_SUFFIXES:
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


def unfilled_placeholders(output: Path) -> list[str]:
    """Notebooks under ``output`` whose install cell still holds a placeholder."""
    return [str(nb.relative_to(output)) for nb in output.rglob("*.ipynb")
            if install_cell.PLACEHOLDER.search(nb.read_text(encoding="utf-8", errors="replace"))]


def readme_values(course: dict) -> dict[str, str]:
    """The values a README template may use: course.yml's, and the student repository's names."""
    values = {key: value for key, value in course.items() if isinstance(value, str)}
    slug = course_config.github_slug(course["student_repository"])
    values.update(student_repository_slug=slug, student_repository_name=slug.split("/")[1])
    return values


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
    values = readme_values(course)
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
                       base: str | None = None,
                       cache_dir: Path = plain_notebooks.CACHE_DIR,
                       html_dir: Path | None = plain_notebooks.HTML_DIR) -> list[PurePosixPath]:
    """Write the student tree into ``output`` and commit it on top of its history.

    Parameters
    ----------
    output : Path
        The student repository. Everything in it but ``.git`` is replaced.
    root : Path
        The course repository the files come from.
    course : dict, optional
        :func:`course_config.load` of ``root`` (read when not given): the branch, the links
        of the student README and the address in the notebooks' install cell.
    base : str, optional
        A git URL (the published student repository): its branch becomes the parent.
    cache_dir : Path
        The execution cache of ``make book``, where the chapters' outputs come from (it matches
        a chapter by its code, so it serves a copy of the course too).
    html_dir : Path, optional
        The built book, for the anchors of the bibliography's entries (links go to the page
        without it).

    Returns
    -------
    list of PurePosixPath
        The files of the student tree. ``HEAD`` gains one commit if they differ from its tree.
    """
    course = course_config.load(root / "course.yml") if course is None else course
    # Render first: a chapter that cannot be rendered stops here, with the repository untouched.
    chapters = {}
    if (root / "_toc.yml").is_file():
        book = plain_notebooks.load_course(root, course, html_dir)
        for source in plain_notebooks.chapter_sources(root):
            try:
                chapters[source.name] = (
                    nbformat.writes(plain_notebooks.render_notebook(source, book, cache_dir=cache_dir))
                    + "\n" if source.suffix == ".ipynb" else plain_notebooks.render_markdown(source, book))
            except plain_notebooks.PlainNotebookError as error:
                raise SystemExit(f"student_repo: {error}") from None

    prepare_history(output, course["branch"], base)
    for entry in output.iterdir():
        if entry.name != ".git":
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    files = []
    for path in (p for p in candidate_files(root) if is_for_students(p)):
        target = output / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.as_posix() == NBGRADER_CONFIG:
            target.write_text(student_nbgrader_config((root / path).read_text(encoding="utf-8")))
        elif path.suffix == ".ipynb":
            nb = install_cell.render_notebook(nbformat.read(root / path, as_version=4), course)
            target.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
        else:
            shutil.copy2(root / path, target)
        files.append(path)
    for name, text in chapters.items():
        (output / "chapters").mkdir(exist_ok=True)
        (output / "chapters" / name).write_text(text, encoding="utf-8")
        files.append(PurePosixPath("chapters", name))
    extras = root / STUDENT_FILES
    for path in sorted(extras.rglob("*")) if extras.is_dir() else []:
        if path.is_file() and "__pycache__" not in path.parts:
            relative = PurePosixPath(path.relative_to(extras).as_posix())
            (output / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, output / relative)
            files.append(relative)
    readme = root / STUDENT_README
    if readme.is_file():
        (output / "README.md").write_text(student_readme(readme.read_text(encoding="utf-8"), course),
                                          encoding="utf-8")
        files.append(PurePosixPath("README.md"))

    leaks = leaked_regions(output)
    if leaks:
        shutil.rmtree(output)
        raise SystemExit(f"student_repo: solution or hidden-test regions found in {leaks}; "
                         "regenerate exercises/ with `make exercises` (nbgrader generate_assignment)")
    unfilled = unfilled_placeholders(output)
    if unfilled:
        raise SystemExit(f"student_repo: the install cell of {unfilled} still has a placeholder")

    git(output, "add", "-A")
    unchanged = head_commit(output) is not None and subprocess.run(
        ["git", "diff", "--cached", "--quiet", "HEAD"], cwd=output).returncode == 0
    if not unchanged:
        git(output, "commit", "-q", "-m", COMMIT_MESSAGE)
    return sorted(set(files))


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
