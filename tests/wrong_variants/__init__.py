"""Student-like wrong answers for the exercises, and helpers to build submissions from them.

``submissions(assignment)`` maps a key of ``gdcheck.catalogue.MISTAKES`` to source code defining
the function(s) a student got wrong (numpy only, written as a student would, not with the
catalogue's code). ``answer_cells`` and ``replace_functions`` splice such code into the
reference answer cells of ``solutions/<id>/<id>.ipynb``; ``namespace`` executes a notebook's
setup and answer cells, as a kernel would before the test cells run.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import nbformat

REPO_ROOT = Path(__file__).resolve().parents[2]
SOLUTION_LINE = re.compile(r"^\s*(### (BEGIN|END) SOLUTION|# MARKER:\S+)\s*$")


def source_notebook(assignment: str) -> Path:
    return REPO_ROOT / "solutions" / assignment / f"{assignment}.ipynb"


def submissions(assignment: str) -> dict[str, str]:
    """The wrong variants of ``assignment``: catalogue key -> replacement source."""
    module = importlib.import_module(f"wrong_variants.{assignment.replace('-', '_')}")
    return module.SUBMISSIONS


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def is_answer(cell) -> bool:
    return cell.cell_type == "code" and nbgrader_meta(cell).get("solution", False)


def is_setup(cell) -> bool:
    meta = nbgrader_meta(cell)
    return cell.cell_type == "code" and meta.get("locked") and not meta.get("grade") \
        and not meta.get("solution")


def is_test(cell) -> bool:
    return cell.cell_type == "code" and nbgrader_meta(cell).get("grade", False)


def clean(source: str) -> str:
    """An answer cell's source without the solution delimiters and markers (a student's answer)."""
    return "\n".join(line for line in source.split("\n") if not SOLUTION_LINE.match(line))


def defined_functions(source: str) -> dict[str, ast.FunctionDef]:
    return {node.name: node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)}


def answer_cells(nb) -> dict[str, int]:
    """Function name -> index of the answer cell that defines it."""
    return {name: i for i, cell in enumerate(nb.cells) if is_answer(cell)
            for name in defined_functions(cell.source)}


def replace_functions(source: str, replacement: str) -> str:
    """``source`` with every top-level function that ``replacement`` defines swapped for it."""
    lines = source.split("\n")
    replacement = replacement.strip("\n")
    new = defined_functions(replacement)
    spans = []
    for name, node in defined_functions(source).items():
        if name in new:
            start = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
            spans.append((start, node.end_lineno, name))
    missing = set(new) - {name for _, _, name in spans}
    if missing:
        raise ValueError(f"the answer cell defines no {', '.join(sorted(missing))}")
    replacement_lines = replacement.split("\n")
    for start, end, name in sorted(spans, reverse=True):
        node = new[name]
        body = replacement_lines[node.lineno - 1:node.end_lineno]
        lines[start:end] = body
    return "\n".join(lines)


def calls(source: str) -> set[str]:
    """Names a piece of code refers to (to find which answer functions call which)."""
    return {node.id for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Name)}


def dependents(nb) -> dict[str, set[str]]:
    """Function -> itself and every answer function that calls it, directly or not."""
    bodies = {name: ast.get_source_segment(nb.cells[i].source, defined_functions(nb.cells[i].source)[name])
              for name, i in answer_cells(nb).items()}
    callers = {f: {g for g, body in bodies.items() if g != f and f in calls(body)} for f in bodies}
    closure = {}
    for f in bodies:
        seen, stack = {f}, [f]
        while stack:
            for g in callers[stack.pop()]:
                if g not in seen:
                    seen.add(g)
                    stack.append(g)
        closure[f] = seen
    return closure


def namespace(nb, replacements: dict[int, str] | None = None) -> dict:
    """Execute the setup and answer cells of ``nb`` (answer cell i replaced by replacements[i])."""
    replacements = replacements or {}
    ns: dict = {"__name__": "__main__"}
    for i, cell in enumerate(nb.cells):
        if is_setup(cell) or is_answer(cell):
            source = replacements.get(i, cell.source)
            exec(compile(source, f"<{nbgrader_meta(cell).get('grade_id', i)}>", "exec"), ns)
    return ns


def read(assignment: str):
    return nbformat.read(source_notebook(assignment), as_version=4)
