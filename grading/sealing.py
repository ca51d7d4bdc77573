"""The sandbox's gdlib and gdcheck, sealed: an answer's reference cannot be called by the answer.

A submission runs beside copies of gdlib and gdcheck (the runtime's ``lib``): release cells
import gdlib, gdlib's models and landscapes travel into the sandbox by value, gdcheck's
recording classes run there, and a check may lend the student's ``train`` gdlib's
``iterate_minibatches``. Those copies also hold the answers (gdlib's ``simulated_annealing``,
gdcheck's reference of ``l2_grad``), and the checks' delegation watcher runs in the student's
process, where code that wants to hide can switch it off.

So in the copies, :func:`seal` wraps every top-level function of the gdlib modules an assignment's
checks forbid (``gdlib.landscapes`` for ``simulated_annealing``: every module of the package), and every check's reference in
gdcheck, in a guard (``gdlib/_sealed.py``, written into the copy only). The guard lets the call
through when the caller's code lives in the runtime's lib (gdlib itself, gdcheck, the sandbox
runner that lends a helper) and refuses it, with an error that says why, when student code calls:

- a gdcheck reference, always;
- a gdlib function of a module that the check *now running* forbids (the runner says which,
  :data:`FORBIDDEN`), exactly the calls gdcheck's watcher would count as delegation.

Outside a check (a student trying gdlib in a free cell, the optimizers notebook's "try it" cell
running gdlib's own Adam) gdlib works as in a notebook. The caller is known by its code's file
name, which student code cannot set without ``compile``/``exec``/code objects, which the grader's
code review (:mod:`grading.code_review`) flags.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

GUARD_MODULE = '''\
"""Written by the grader into its sandbox's copy of gdlib (grading/sealing.py); not in the course."""

import inspect
import os
import sys

LIB = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
FORBIDDEN = ()  # the modules the check now running forbids (set by the sandbox runner)
MESSAGE = ("{name} is not available to your code while this check runs: it is the reference your "
           "answer is checked against (or part of it). Implement the function yourself, with numpy only.")


def _refused(module):
    return module.startswith("gdcheck") or any(module == m or module.startswith(m + ".") for m in FORBIDDEN)


def guard(fn):
    """``fn``, refusing callers outside the runtime's lib while ``fn`` is forbidden."""
    name, module, inner = f"{fn.__module__}.{fn.__qualname__}", fn.__module__, getattr(fn, "__wrapped__", None)

    def sealed(*args, **kwargs):
        if _refused(module) and not sys._getframe(1).f_code.co_filename.startswith(LIB):
            raise RuntimeError(MESSAGE.format(name=name))
        return fn(*args, **kwargs)
    for attr in ("__module__", "__name__", "__qualname__", "__doc__", "__annotations__"):
        setattr(sealed, attr, getattr(fn, attr, None))
    sealed.__dict__.update({k: v for k, v in vars(fn).items() if k != "__wrapped__"})
    try:
        sealed.__signature__ = inspect.signature(fn)
    except (TypeError, ValueError):
        pass
    if callable(inner):
        sealed.__wrapped__ = guard(inner)
    return sealed
'''
IMPORT = "from gdlib._sealed import guard as _grader_seal\n"


def _module_name(lib: Path, path: Path) -> str:
    return ".".join(path.relative_to(lib).with_suffix("").parts).removesuffix(".__init__")


def _qualified(fn) -> str | None:
    fn = inspect.unwrap(fn) if callable(fn) else None
    module, name = getattr(fn, "__module__", None), getattr(fn, "__qualname__", None)
    if isinstance(module, str) and isinstance(name, str) and "." not in name and "<" not in name:
        return f"{module}.{name}"
    return None


def targets(graded) -> tuple[tuple[str, ...], list[str]]:
    """(forbidden modules, gdcheck references) of the checks of the functions ``graded``."""
    import gdcheck  # noqa: F401  (builds every check's Spec)
    from gdcheck._engine import SPECS
    specs = [SPECS[name] for name in sorted(set(graded)) if name in SPECS]
    forbidden = tuple(sorted({m for spec in specs for m in spec.forbidden}))
    references = sorted(q for spec in specs if (q := _qualified(spec.reference)) and q.startswith("gdcheck."))
    return forbidden, references


def seal(lib: Path, graded) -> list[str]:
    """Seal the copies under ``lib`` for an assignment whose answer cells define ``graded``;
    returns the qualified names of the functions guarded."""
    forbidden, references = targets(graded)
    if not forbidden and not references:
        return []
    (lib / "gdlib" / "_sealed.py").write_text(GUARD_MODULE, encoding="utf-8")
    done = []
    for path in sorted(p for package in ("gdlib", "gdcheck") for p in (lib / package).rglob("*.py")):
        module = _module_name(lib, path)
        whole = any(module == m or module.startswith(m + ".") for m in forbidden)
        names = {q.rpartition(".")[2] for q in references if q.rpartition(".")[0] == module}
        if module == "gdlib._sealed" or not (whole or names):
            continue
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines(keepends=True)
        nodes = [n for n in ast.parse(source).body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                 and (whole or n.name in names)]
        for node in sorted(nodes, key=lambda n: n.lineno, reverse=True):
            start = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
            lines[start:start] = [IMPORT, "@_grader_seal\n"]
            done.append(f"{module}.{node.name}")
        path.write_text("".join(lines), encoding="utf-8")
    return sorted(done)
