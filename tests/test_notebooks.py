"""Run every nbgrader source notebook with nbval (``--nbval-lax``).

All notebooks run in ONE pytest subprocess, once per session (the first xdist worker to need it
runs it, the others read its JUnit report): starting pytest and its plugins costs more than
running a notebook. nbval gives each notebook a fresh kernel (cwd: the notebook's folder), and
each notebook still has its own test here, which fails with that notebook's failing cells and
their tracebacks. Under --nbval-lax a notebook passes when no cell raises; a cell marked
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
import xml.etree.ElementTree as ET

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


@pytest.fixture(scope="session")
def nbval_report(shared) -> dict:
    """{notebook: {"cells": number of nbval items, "failures": [text]}} and the run's output."""
    def run(folder) -> dict:
        junit = folder / "nbval.xml"
        command = [
            sys.executable, "-m", "pytest", "--nbval-lax", *notebooks(),
            "--nbval-sanitize-with", str(SANITIZE),
            "--nbval-cell-timeout", str(CELL_TIMEOUT_SECONDS), f"--junitxml={junit}",
            "-p", "no:cacheprovider", "-p", "no:xdist", "-q", "--no-header",
        ]
        result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
        found = {n: {"cells": 0, "failures": []} for n in notebooks()}
        dotted = {n.replace("/", "."): n for n in notebooks()}  # JUnit's classname of a notebook
        if junit.is_file():
            for case in ET.parse(junit).getroot().iter("testcase"):
                notebook = dotted.get(case.get("classname"), case.get("classname"))
                entry = found.setdefault(notebook, {"cells": 0, "failures": []})
                entry["cells"] += 1
                for problem in [*case.iter("failure"), *case.iter("error")]:
                    entry["failures"].append(f"{case.get('name')}: {problem.get('message', '')}\n"
                                             f"{(problem.text or '')[-3000:]}")
        return {"notebooks": found, "returncode": result.returncode,
                "output": (result.stdout + result.stderr)[-6000:]}
    return shared("nbval", run)


def test_nbval_ran_every_notebook_and_nothing_else(nbval_report):
    ran = {n for n, entry in nbval_report["notebooks"].items() if entry["cells"]}
    assert ran == set(notebooks()), f"nbval's report:\n{nbval_report['output']}"
    failed = any(entry["failures"] for entry in nbval_report["notebooks"].values())
    assert (nbval_report["returncode"] == 0) == (not failed), nbval_report["output"]


@pytest.mark.parametrize("notebook", notebooks())
def test_notebook_runs_under_nbval(notebook, nbval_report):
    entry = nbval_report["notebooks"][notebook]
    assert entry["cells"], f"nbval ran no cell of {notebook}:\n{nbval_report['output']}"
    assert not entry["failures"], f"nbval failed on {notebook}:\n" + "\n\n".join(entry["failures"])
