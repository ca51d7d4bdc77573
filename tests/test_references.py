"""Chapters are referred to by label or title, never by a typed number.

Inserting a chapter renumbers the book: every number a person typed ("chapter 5", a link to
``05-optimizers``) would then be wrong. The book's text uses ``{ref}``/``{numref}`` to MyST labels
(``(ch-optimizers)=`` on each chapter's title, ``(sec-...)=`` on the sections referred to), and
gdlib, gdcheck and grading name chapters by label (``ch-optimizers``). These tests read the
sources only (no build): the book build itself fails on a label no page defines (-W).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "tools"))
import plain_notebooks  # noqa: E402  (tools/plain_notebooks.py)

# "chapter 5", "Chapters 6 to 10", "ch. 4", "section 3.2", "Figure 5.1", "Table 2.3", but not a
# chapter or section of a cited work: "chapter 8 of {cite:t}`goodfellow2016`".
TYPED = re.compile(r"\b(?:chapters?|ch\.|sections?|figures?|fig\.|tables?)\s*\d+(?:\.\d+)*(?!\.?\d)"
                   r"(?!\s+of\s+\{cite)", re.I)
NUMBERED_FILE = re.compile(r"\b(?:chapters/)?\d\d-[a-z][a-z-]*\b")
ROLE = re.compile(r"\{(?P<name>ref|numref)\}`(?:[^`<]*<)?(?P<label>[^`<>]+)>?`")
LABEL_DEFINITIONS = re.compile(r"^\s*\((?P<target>[^()\s]+)\)=\s*$"
                               r"|^:(?:label|name):\s*(?P<option>\S+)", re.M)
CODE_LABEL = re.compile(r"``(?P<label>(?:ch|sec)-[a-z0-9-]+)``"
                        r"|\((?P<paren>(?:ch|sec)-[a-z0-9-]+)\)")


def typed_numbers(text: str) -> list[str]:
    return [m.group(0) for m in TYPED.finditer(text)]


def book_pages() -> dict[str, str]:
    """docname -> MyST text of every page of _toc.yml (notebooks: their markdown cells)."""
    order, _ = plain_notebooks.toc_docnames(REPO_ROOT)
    pages = {}
    for docname in order:
        for suffix in (".ipynb", ".md"):
            path = REPO_ROOT / f"{docname}{suffix}"
            if path.is_file():
                pages[docname] = plain_notebooks.page_text(path)
                break
    return pages


def notebook_markdown(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def python_sources() -> list[Path]:
    return sorted(p for package in ("gdlib", "gdcheck", "grading")
                  for p in (REPO_ROOT / package).rglob("*.py"))


def test_the_pattern_finds_typed_numbers_and_spares_cited_works():
    text = ("See chapter 5, Chapters 6 to 10 and ch. 4; section 3.2, Figure 5.1 and table 2. "
            "Chapter 8 of {cite:t}`goodfellow2016` and section 8.3 of {cite:t}`goodfellow2016`; "
            "the {ref}`ch-optimizers` chapter, {numref}`Chapter %s <ch-speed>`.")
    assert typed_numbers(text) == ["chapter 5", "Chapters 6", "ch. 4", "section 3.2",
                                   "Figure 5.1", "table 2"]


@pytest.mark.parametrize("docname", sorted(book_pages()))
def test_no_page_types_a_chapter_number(docname):
    text = book_pages()[docname]
    typed = typed_numbers(text)
    assert not typed, f"{docname}: use {{ref}}/{{numref}} to a label: {typed}"
    links = [m.group(0) for m in re.finditer(r"\{doc\}`[^`]*`", text)
             if NUMBERED_FILE.search(m.group(0))]
    assert not links, f"{docname}: link chapters by label ({{ref}}`ch-...`), not by file: {links}"


def test_no_exercise_or_solution_types_a_chapter_number():
    found = []
    notebooks = [*sorted(REPO_ROOT.glob("solutions/*/*.ipynb")),
                 *sorted(REPO_ROOT.glob("exercises/*/*.ipynb"))]
    for path in notebooks:
        found += [f"{path.relative_to(REPO_ROOT)}: {hit}"
                  for hit in typed_numbers(notebook_markdown(path))]
    assert not found, "\n".join(found)


def test_no_gdlib_gdcheck_or_grading_source_types_a_chapter_number():
    found = []
    for path in python_sources():
        text = path.read_text(encoding="utf-8")
        for line_number, line in enumerate(text.splitlines(), 1):
            hits = [m.group(0) for m in re.finditer(r"\b(?:chapters?|ch\.)\s*\d+", line, re.I)]
            hits += [m.group(0) for m in NUMBERED_FILE.finditer(line) if "chapters/" in m.group(0)]
            found += [f"{path.relative_to(REPO_ROOT)}:{line_number}: {hit}" for hit in hits]
    assert not found, "name the chapter by its label (``ch-optimizers``):\n" + "\n".join(found)


def defined_labels() -> dict[str, str]:
    labels = {}
    for docname, text in book_pages().items():
        for m in LABEL_DEFINITIONS.finditer(text):
            label = m["target"] or m["option"]
            assert label not in labels, f"{label} is defined in {labels[label]} and {docname}"
            labels[label] = docname
    return labels


def test_every_chapter_has_a_label_on_its_title():
    toc = yaml.safe_load((REPO_ROOT / "_toc.yml").read_text())
    chapters = [e["file"] for part in toc["parts"] for e in part["chapters"]]
    pages = book_pages()
    for docname in chapters:
        first = next(line for line in pages[docname].splitlines() if line.strip())
        assert re.fullmatch(r"\((ch-)?[a-z0-9-]+\)=", first.strip()), \
            f"{docname} starts with {first!r}, not a label such as (ch-name)="
    numbered = [d for d in chapters if d.startswith("chapters/") and re.match(r"chapters/\d", d)]
    assert all(f"(ch-" in pages[d].splitlines()[0] for d in numbered)


def test_every_reference_names_a_label_a_page_defines():
    labels = defined_labels()
    unknown = [f"{docname}: {m.group(0)}" for docname, text in book_pages().items()
               for m in ROLE.finditer(text) if m["label"].strip() not in labels]
    assert not unknown, "\n".join(unknown)
    assert {"ch-optimizers", "sec-noise-floor"} <= set(labels)


def test_every_label_named_in_the_code_exists():
    labels = defined_labels()
    named = {}
    for path in python_sources():
        for m in CODE_LABEL.finditer(path.read_text(encoding="utf-8")):
            named.setdefault(m["label"] or m["paren"], path.relative_to(REPO_ROOT))
    from grading import sections
    for label in [*sections.FUNCTION_SECTIONS.values(), *sections.MISTAKE_SECTIONS.values()]:
        named.setdefault(label, "grading/sections.py")
    unknown = {label: str(where) for label, where in named.items() if label not in labels}
    assert not unknown, f"labels no page defines: {unknown}"
    assert "ch-optimizers" in named
