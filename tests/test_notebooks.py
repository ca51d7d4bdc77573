"""Run every nbgrader source notebook with nbval (``--nbval-lax``).

Each notebook runs in its own pytest subprocess with a fresh kernel (cwd: the notebook's
folder), so the notebooks spread over pytest-xdist workers and a failure shows that notebook's
nbval report. Under --nbval-lax a notebook passes when no cell raises; a cell marked
``# NBVAL_CHECK_OUTPUT`` must also reproduce its stored output, after tests/nbval_sanitize.cfg.

- solutions/*/*.ipynb: the reference solutions must pass their own visible and hidden tests.
- exercises/ is NOT run here: the student versions raise NotImplementedError by design
  (tests/test_student_path.py runs them with the reference answers filled in).
- chapters/*.ipynb are NOT run here either: `make book` executes every chapter and fails on any
  error, and tests/test_student_path.py runs each student chapter (the same code cells) top to
  bottom in a fresh venv with only what Colab preinstalls plus the chapters' install cell. A
  third run here would only add minutes to `make test`.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO_ROOT

NOTEBOOK_GLOBS = ("solutions/*/*.ipynb",)
SANITIZE = REPO_ROOT / "tests" / "nbval_sanitize.cfg"
CELL_TIMEOUT_SECONDS = 300  # as execute.timeout in _config.yml


def notebooks() -> list[str]:
    found = [p for pattern in NOTEBOOK_GLOBS for p in sorted(REPO_ROOT.glob(pattern))]
    return [p.relative_to(REPO_ROOT).as_posix() for p in found if ".ipynb_checkpoints" not in p.parts]


def test_there_are_source_notebooks():
    assert any(n.startswith("solutions/") for n in notebooks()), "no solutions/*/*.ipynb"


@pytest.mark.parametrize("notebook", notebooks())
def test_notebook_runs_under_nbval(notebook):
    command = [
        sys.executable, "-m", "pytest", "--nbval-lax", notebook,
        "--nbval-sanitize-with", str(SANITIZE),
        "--nbval-cell-timeout", str(CELL_TIMEOUT_SECONDS),
        "-p", "no:cacheprovider", "-p", "no:xdist", "-q", "--no-header",
    ]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    report = (result.stdout + result.stderr)[-6000:]
    assert result.returncode == 0, f"nbval failed on {notebook}:\n{report}"
