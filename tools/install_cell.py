"""The first cell of every chapter and exercise: install gdlib and gdcheck where they are missing.

On Colab, on Binder before its set-up, or in a notebook downloaded on its own, the course's
library is not installed. The first cell of every notebook of ``chapters/`` and ``solutions/``
(hence of ``exercises/``, which nbgrader generates from solutions/) installs it from the student
repository, and does nothing where ``gdlib`` and ``gdcheck`` import already (``make setup``,
Binder, the course's own venv, the grader's sandbox).

The repository's address is NOT written in the notebooks: they hold the placeholders
``{{ student_repository }}`` and ``{{ branch }}``, replaced with the values of ``course.yml``
(the one place for them) in what reaches students: the student repository
(tools/student_repo.py) and the book's "download .ipynb" files (tools/build_book.py), both
through :func:`render`. In the book's pages the cell is hidden (tag ``remove-cell``).

Usage: ``python tools/install_cell.py [--check]`` puts the cell first in every notebook of
chapters/ and solutions/ (replacing an older version of it), or with ``--check`` only says which
notebooks lack it (exit 1). After a change to solutions/, run ``make exercises``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_GLOBS = ("chapters/*.ipynb", "solutions/*/*.ipynb")
CELL_ID = "install-gdlib"
TAGS = ["remove-cell"]
PLACEHOLDER = re.compile(r"\{\{\s*(student_repository|branch)\s*\}\}")
REQUIREMENT = "git+{{ student_repository }}@{{ branch }}"

SOURCE = f'''\
# Set-up for Colab or a notebook downloaded on its own: installs the course's library (gdlib and
# gdcheck) from the student repository when it is missing. Where it is installed, nothing happens.
import importlib
import importlib.util
import subprocess
import sys

if not all(importlib.util.find_spec(name) for name in ("gdlib", "gdcheck")):
    requirements = ["{REQUIREMENT}"]
    if importlib.util.find_spec("ipywidgets") is None:  # for the sliders (Colab has it)
        requirements.append("ipywidgets")
    print("installing", *requirements, "...")
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *requirements],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError("pip could not install the course's library:\\n" + done.stderr[-3000:])
    importlib.invalidate_caches()
    print("installed gdlib and gdcheck")'''


def cell() -> nbformat.NotebookNode:
    """The install cell, with its placeholders."""
    new = nbformat.v4.new_code_cell(SOURCE, metadata={"tags": list(TAGS)})
    new["id"] = CELL_ID
    return new


def is_install_cell(candidate) -> bool:
    return candidate.get("id") == CELL_ID


def has_current_cell(nb) -> bool:
    """True when the first cell of ``nb`` is this version of the install cell."""
    return bool(nb.cells) and is_install_cell(nb.cells[0]) and nb.cells[0].source == SOURCE \
        and nb.cells[0].metadata.get("tags") == TAGS


def ensure(path: Path) -> bool:
    """Make the install cell the first cell of the notebook at ``path``; True if it was rewritten."""
    nb = nbformat.read(path, as_version=4)
    if has_current_cell(nb):
        return False
    nb.cells = [cell()] + [c for c in nb.cells if not is_install_cell(c)]
    nbformat.write(nb, path)
    return True


def render(text: str, course: dict) -> str:
    """``text`` with ``{{ student_repository }}`` and ``{{ branch }}`` replaced from ``course``."""
    return PLACEHOLDER.sub(lambda m: course[m[1]], text)


def render_notebook(nb, course: dict):
    """Replace the placeholders in the source of every code cell of ``nb`` (in place)."""
    for c in nb.cells:
        if c.cell_type == "code" and PLACEHOLDER.search(c.source):
            c.source = render(c.source, course)
    return nb


def notebooks(root: Path = REPO_ROOT) -> list[Path]:
    return [p for pattern in NOTEBOOK_GLOBS for p in sorted(root.glob(pattern))
            if ".ipynb_checkpoints" not in p.parts]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a notebook lacks the current install cell")
    args = parser.parse_args(argv)
    if args.check:
        missing = [p.relative_to(REPO_ROOT).as_posix() for p in notebooks()
                   if not has_current_cell(nbformat.read(p, as_version=4))]
        if missing:
            print(f"install_cell: no current install cell first in {', '.join(missing)}; run "
                  "`python tools/install_cell.py`, then `make exercises`")
            return 1
        return 0
    for path in notebooks():
        if ensure(path):
            print(f"install_cell: wrote {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
