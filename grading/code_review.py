"""Flags for a person, decided in the grader from the submitted source: never from the sandbox.

The delegation checks of gdcheck run while the student's code runs, in the student's process:
they catch an honest mistake (calling ``gdlib.optim.adam_step`` inside ``adam_step``), but code
that wants to hide can switch them off there. This module reads the student's cells as
submitted, in the grader, and flags for review:

- **gdlib's own code under another name**: a function whose compiled code (bytecode, the names
  it uses, its local names and its constants other than strings) is that of a gdlib function,
  whatever its module, file or name; the usual way to re-execute a reference where no module or
  file name gives it away;
- **gdlib's version of a function the student defines**, or a private name of gdlib
  (``gdlib.optim.rules._adam_update``), imported or used by attribute;
- **code that makes or reads code at run time**, which the first look cannot see through:
  ``exec``, ``eval``, ``compile``, ``__import__``, ``importlib``, ``inspect.getsource``,
  ``marshal``, ``types.FunctionType``/``CodeType``, ``__code__``, ``sys.modules``, profilers and
  tracers, and imports of gdcheck; also what reaches past the sealed gdlib of the sandbox
  (:mod:`grading.sealing`): a function's ``__closure__`` or ``__wrapped__``, frames,
  ``gc``, ``code``/``codeop``/``runpy`` (code under a file name of one's choosing) and ``pickle``.

A flag never changes a score: it marks the notebook for a person, like the sandbox's flags.
"""

from __future__ import annotations

import ast
import functools
import types
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
MIN_CODE_BYTES = 120  # shorter functions (sigmoid_grad: s * (1 - s)) are what anyone would write
BUILTIN_CALLS = {"exec", "eval", "compile", "__import__"}
METHOD_CALLS = {"getsource", "getsourcelines", "FunctionType", "CodeType", "setprofile", "settrace"}
DYNAMIC_MODULES = {"importlib", "marshal", "inspect", "gdcheck", "ctypes", "dis", "gc", "code", "codeop",
                   "runpy", "pickle", "copyreg"}
DYNAMIC_ATTRIBUTES = {"__code__", "__globals__", "__builtins__", "__dict__", "modules", "f_globals", "f_locals",
                      "co_code", "__closure__", "__wrapped__", "cell_contents", "f_back"}


def _fingerprint(code: types.CodeType) -> tuple:
    consts = tuple(c for c in code.co_consts if not isinstance(c, (str, types.CodeType)) and c is not None)
    return code.co_code, code.co_names, code.co_varnames, repr(consts)


def _functions(code: types.CodeType):
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield const
            yield from _functions(const)


@functools.lru_cache(maxsize=1)
def gdlib_fingerprints() -> dict[tuple, str]:
    """Fingerprint -> ``gdlib.module.function`` for every non-trivial function of gdlib."""
    out: dict[tuple, str] = {}
    package = REPO_ROOT / "gdlib"
    for path in sorted(package.rglob("*.py")):
        module = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts).removesuffix(".__init__")
        try:
            code = compile(path.read_text(encoding="utf-8"), str(path), "exec")
        except (SyntaxError, ValueError):
            continue
        for function in _functions(code):
            if len(function.co_code) >= MIN_CODE_BYTES:
                out.setdefault(_fingerprint(function), f"{module}.{function.co_qualname}")
    return out


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except SyntaxError:
        try:
            from IPython.core.inputtransformer2 import TransformerManager
            return ast.parse(TransformerManager().transform_cell(source))
        except Exception:  # noqa: BLE001  (a cell nobody can parse runs nothing either)
            return None


def _dynamic_uses(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in BUILTIN_CALLS \
                    or isinstance(func, ast.Attribute) and func.attr in METHOD_CALLS:
                found.add(f"{getattr(func, 'id', None) or func.attr}()")
            elif isinstance(func, ast.Name) and func.id in ("getattr", "vars", "globals") \
                    and not (func.id == "getattr" and len(node.args) > 1 and isinstance(node.args[1], ast.Constant)):
                found.add(f"{func.id}()")
        elif isinstance(node, ast.Attribute) and node.attr in DYNAMIC_ATTRIBUTES:
            found.add(node.attr)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] in DYNAMIC_MODULES}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in DYNAMIC_MODULES:
            found.add(node.module)
    return found


def _gdlib_uses(tree: ast.AST, defined: set[str]) -> set[str]:
    """``gdlib.module.name`` for each gdlib name the code imports or reads by attribute that is
    private or is also one of the functions the student defines."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "gdlib":
                    aliases[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else "gdlib"
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "gdlib":
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    found = set()

    def suspicious(name: str) -> bool:
        return name.startswith("_") and not name.startswith("__") or name in defined

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "gdlib"
                      and any(suspicious(part) for part in a.name.split(".")[1:])}
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "gdlib":
            found |= {node.module for part in node.module.split(".")[1:] if suspicious(part)}
            found |= {f"{node.module}.{a.name}" for a in node.names if suspicious(a.name)}
        elif isinstance(node, ast.Attribute) and suspicious(node.attr):
            base, chain = node.value, []
            while isinstance(base, ast.Attribute):
                chain.append(base.attr)
                base = base.value
            if isinstance(base, ast.Name) and base.id in aliases:
                found.add(".".join([aliases[base.id], *reversed(chain), node.attr]))
    return found


def review(sources: list[str]) -> list[str]:
    """Flags (plain sentences) for the student's cells ``sources``, in order, without repeats."""
    flags: list[str] = []
    known = gdlib_fingerprints()
    dynamic: set[str] = set()
    trees = [tree for tree in map(_parse, sources) if tree is not None]
    defined = {node.name for tree in trees for node in ast.walk(tree)
               if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    used = set()
    for tree in trees:
        used |= _gdlib_uses(tree, defined)
    if used:
        flags.append("uses " + ", ".join(sorted(used)) + " of gdlib (a function it defines itself, or a "
                     "private name): check by hand that it does not hand its work to gdlib")
    for tree in trees:
        dynamic |= _dynamic_uses(tree)
        try:
            code = compile(tree, "<cell>", "exec")
        except (SyntaxError, ValueError):
            continue
        for function in _functions(code):
            match = known.get(_fingerprint(function))
            if match and len(function.co_code) >= MIN_CODE_BYTES:
                flag = f"{function.co_qualname} is the code of {match} (same bytecode, names and constants)"
                if flag not in flags:
                    flags.append(flag)
    if dynamic:
        flags.append("makes or reads code at run time (" + ", ".join(sorted(dynamic)) + "): check by hand "
                     "that it does not run gdlib's reference")
    return flags
