"""The sandbox's sealed gdlib (grading/sealing.py): student code cannot call what the running check
forbids, while gdlib, gdcheck and the runner's lent helpers use it as always."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from grading import notebooks as nbs, sealing  # noqa: E402

pytestmark = pytest.mark.grading

ASSIGNMENTS = sorted(p.parent.name for p in (REPO_ROOT / "solutions").glob("*/*.ipynb") if p.stem == p.parent.name)


def graded(assignment: str) -> tuple[str, ...]:
    source = json.loads((REPO_ROOT / "solutions" / assignment / f"{assignment}.ipynb").read_text())
    release = json.loads((REPO_ROOT / "exercises" / assignment / f"{assignment}.ipynb").read_text())
    return nbs.graded_functions({assignment: nbs.source_cells(source, release)})


def sealed_lib(tmp_path: Path, assignment: str) -> tuple[Path, list[str]]:
    lib = tmp_path / "lib"
    for package in ("gdlib", "gdcheck"):
        shutil.copytree(REPO_ROOT / package, lib / package, ignore=shutil.ignore_patterns("__pycache__"))
    return lib, sealing.seal(lib, graded(assignment))


def run_in(lib: Path, script: str) -> subprocess.CompletedProcess:
    """``script`` as student code (its file is not in the lib) beside the sealed copy."""
    student = lib.parent / "student.py"
    student.write_text(textwrap.dedent(script))
    return subprocess.run([sys.executable, str(student)], cwd=lib, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(lib), "MPLBACKEND": "Agg",
                               "OPENBLAS_NUM_THREADS": "1"}, timeout=120)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_assignments_sealed_copy_imports_and_guards_its_checks_references(tmp_path, assignment):
    lib, done = sealed_lib(tmp_path, assignment)
    forbidden, references = sealing.targets(graded(assignment))
    assert forbidden and done, (assignment, forbidden)
    assert set(references) <= set(done)
    assert any(name.startswith("gdlib.") for name in done), done
    assert all(any(name.startswith(m + ".") for m in forbidden) or name in references for name in done)
    ran = run_in(lib, """
        import importlib, pkgutil, gdlib, gdcheck
        for package in (gdlib, gdcheck):
            for m in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
                importlib.import_module(m.name)
        print("IMPORTED")
    """)
    assert "IMPORTED" in ran.stdout, ran.stderr[-2000:]


def test_student_calls_are_refused_only_while_a_check_forbids_them(tmp_path):
    lib, done = sealed_lib(tmp_path, "optimizers")
    assert "gdlib.optim.rules.adam_step" in done
    ran = run_in(lib, """
        import inspect
        import numpy as np
        import gdlib._sealed as sealed
        from gdlib import optim
        from gdlib.landscapes import quadratic, trace

        def refused(call):
            try:
                call()
            except RuntimeError as exc:
                return "not available to your code while this check runs" in str(exc)
            return False

        x, g = np.ones(3), np.full(3, 0.5)
        state = optim.adam_init(x)
        print("FREE", optim.adam_step(x, g, state, lr=0.1)[0].tolist())  # a free cell: as in a notebook
        print("SIGNATURE", inspect.signature(optim.adam_step))
        sealed.FORBIDDEN = ("gdlib.optim",)  # what the runner sets while adam_step's check runs
        print("DIRECT", refused(lambda: optim.adam_step(x, g, state, lr=0.1)))
        print("INIT", refused(lambda: optim.adam_init(x)))
        print("REGISTRY", refused(lambda: optim.RULES["adam"].step(x, g, state, lr=0.1)))
        print("WRAPPED", refused(lambda: optim.adam_step.__wrapped__(x, g, state, lr=0.1)))
        print("MAP", refused(lambda: list(map(optim.adam_init, [x]))))
        # gdlib's own code still runs the rule (the optimizers notebook's "try it" cell)
        print("TRACE", trace(quadratic(10.0), "adam", [1.0, 1.0], lr=0.1, num_steps=5).values[-1] > 0)
        sealed.FORBIDDEN = ("gdlib.landscapes",)  # another check: gdlib.optim is the student's to use
        print("OTHER", optim.adam_init(x).t)
        sealed.FORBIDDEN = ()
    """)
    out = ran.stdout
    assert "FREE [0.9" in out, ran.stderr[-2000:]
    import inspect
    from gdlib import optim
    assert f"SIGNATURE {inspect.signature(optim.adam_step)}" in out, out  # what a student's help() shows
    for line in ("DIRECT True", "INIT True", "REGISTRY True", "WRAPPED True", "MAP True", "TRACE True",
                 "OTHER 0"):
        assert line in out, (line, out, ran.stderr[-2000:])


def test_gdcheck_references_refuse_student_code_always(tmp_path):
    lib, done = sealed_lib(tmp_path, "regularization")
    assert "gdcheck.regularization._reference_l2" in done
    ran = run_in(lib, """
        import numpy as np
        import gdcheck.regularization as r
        try:
            r._reference_l2(np.ones(3), 0.1)
        except RuntimeError as exc:
            print("REFUSED", exc)
    """)
    assert "REFUSED gdcheck.regularization._reference_l2 is not available" in ran.stdout, ran.stderr[-2000:]


def test_the_course_itself_is_never_sealed():
    """Sealing writes only into the runtime's copies: the repository's gdlib has no guard."""
    assert not (REPO_ROOT / "gdlib" / "_sealed.py").exists()
    assert "_grader_seal" not in (REPO_ROOT / "gdlib" / "optim" / "rules.py").read_text()
