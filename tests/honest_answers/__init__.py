"""Honest student answers: several correct variants per assignment, written from the student
notebook's text alone (never from solutions/), for the fairness tests of the checks and graders.

Each module ``<assignment>.py`` (the id with ``-`` as ``_``) holds ``SUBMISSIONS`` (name -> a
complete answer: source defining every function the assignment asks for) and ``WHAT`` (name ->
what the variant does differently). ``FINDINGS.md`` lists what the audit found.
"""

from __future__ import annotations

import ast
import importlib


def submissions(assignment: str) -> dict[str, str]:
    """name -> source of the honest answers to ``assignment``; none (``{}``) while its module is
    not written yet, so that the other tests of a new assignment can run (the test that wants
    at least five honest answers then fails and names the missing module)."""
    name = f"honest_answers.{assignment.replace('-', '_')}"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name != name:
            raise
        return {}
    return dict(module.SUBMISSIONS)


def answer_cells(nb, source: str) -> dict[str, str]:
    """grade_id -> answer cell source: each answer cell of ``nb`` gets the honest definitions of
    the functions it asks for; everything else of ``source`` (imports, the student's own helpers)
    goes into the first answer cell, so it runs before anything uses it."""
    import wrong_variants as wv

    tree = ast.parse(source)
    lines = source.split("\n")
    by_name, others = {}, []
    for node in tree.body:
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1
        text = "\n".join(lines[start:node.end_lineno])
        if isinstance(node, ast.FunctionDef):
            by_name[node.name] = text
        else:
            others.append(text)
    cells = [(wv.nbgrader_meta(c)["grade_id"], list(wv.defined_functions(wv.clean(c.source))))
             for c in nb.cells if wv.is_answer(c)]
    asked = {name for _, names in cells for name in names}
    missing = asked - set(by_name)
    if missing:
        raise ValueError(f"the honest answer defines no {', '.join(sorted(missing))}")
    extra = [text for name, text in by_name.items() if name not in asked]
    answers = {}
    for i, (grade_id, names) in enumerate(cells):
        parts = (others + extra if i == 0 else []) + [by_name[n] for n in names]
        answers[grade_id] = "\n\n\n".join(parts) + "\n"
    return answers
