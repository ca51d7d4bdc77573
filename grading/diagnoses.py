"""The named mistakes in a graded notebook, and what each test cell checks.

gdcheck names a known mistake in its failure message: ``"<function> is not right yet. This
looks like <title>."`` where ``<title>`` is ``gdcheck.catalogue.MISTAKES[key].title``. The
worker reads those messages from the outputs of the test cells it just ran
(:func:`mistakes_in_outputs`), so the class report counts them without opening a notebook again.

A test cell is titled by what it checks: ``"Visible test: momentum_init, momentum_step"`` or
``"Hidden test: adam_step"``, from its ``gdcheck.check_<function>(...)`` calls and whether it
holds a hidden-test region (:func:`test_titles`).
"""

from __future__ import annotations

import functools
import re

LOOKS_LIKE = re.compile(r"\b(\w+) is not right yet\. This looks like ")
CHECK_CALL = re.compile(r"\bcheck_(\w+)\s*\(")
HIDDEN_REGION = re.compile(r"### BEGIN HIDDEN TESTS")


@functools.lru_cache(maxsize=1)
def _titles_by_function() -> dict[str, list[tuple[str, str]]]:
    """function -> [(title, key)], longest title first (so no title matches a shorter one's
    prefix by mistake)."""
    import gdcheck  # noqa: F401  (registers the catalogue_more mistakes too)
    from gdcheck.catalogue import MISTAKES
    table: dict[str, list[tuple[str, str]]] = {}
    for key, mistake in MISTAKES.items():
        table.setdefault(mistake.function, []).append((mistake.title, key))
    for entries in table.values():
        entries.sort(key=lambda entry: -len(entry[0]))
    return table


def named_mistakes(text: str) -> list[str]:
    """Catalogue keys of the mistakes a check's message names, in order of appearance.

    Parameters
    ----------
    text : str
        A failure message (or several), e.g. an error output's ``evalue``.

    Returns
    -------
    list of str
        Keys of ``gdcheck.catalogue.MISTAKES``; a title the catalogue does not know is skipped.
    """
    found = []
    table = _titles_by_function()
    for match in LOOKS_LIKE.finditer(text):
        rest = text[match.end():]
        for title, key in table.get(match.group(1), ()):
            if rest.startswith(title + ".") and key not in found:
                found.append(key)
                break
    return found


def mistakes_in_outputs(outputs: list[dict]) -> list[str]:
    """Catalogue keys named by the error outputs of one executed cell."""
    text = "\n".join(str(out.get("evalue", "")) for out in outputs or []
                     if isinstance(out, dict) and out.get("output_type") == "error")
    return named_mistakes(text) if "This looks like" in text else []


def test_title(source: str, grade_id: str = "") -> str:
    """``"Visible test: f, g"`` / ``"Hidden test: f"`` for a test cell's ``source``."""
    kind = "Hidden test" if HIDDEN_REGION.search(source) else "Visible test"
    functions = list(dict.fromkeys(CHECK_CALL.findall(source)))
    return f"{kind}: {', '.join(functions) if functions else grade_id or 'checks'}"


def test_titles(notebook: dict) -> dict[str, str]:
    """grade_id -> title for every test cell (a graded code cell that is no answer) of an
    nbformat-4 ``notebook`` dict (the instructor's source, hidden tests included)."""
    titles = {}
    for cell in notebook.get("cells", []):
        meta = (cell.get("metadata") or {}).get("nbgrader") or {}
        if cell.get("cell_type") == "code" and meta.get("grade") and not meta.get("solution") \
                and meta.get("grade_id"):
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            titles[meta["grade_id"]] = test_title(source, meta["grade_id"])
    return titles
