"""No solution or hidden test reaches students: not the book, not exercises/, not the student repo.

Every solution and hidden-test region of every solutions/<id>/<id>.ipynb carries a marker
``# MARKER:<assignment>:<n>:<hex>`` (tools/plant_markers.py plants them). A leak is any marker,
or any region line longer than 30 characters that is not public anyway (in a chapter, in gdlib or
in the visible part of the source notebook), found in a file of _build/html (pages,
searchindex.js, _sources, _downloads, ...), exercises/ or _build/student-repo.
"""

from __future__ import annotations

import html
import importlib.util
import json
import re
import sys
from functools import lru_cache
from pathlib import Path

import nbformat
import pytest

from conftest import REPO_ROOT

pytestmark = pytest.mark.book

SOLUTIONS_GLOB = "solutions/*/*.ipynb"
MIN_SECRET_LINE = 31  # "longer than 30 characters"
TEXT_SUFFIXES = {".html", ".js", ".txt", ".ipynb", ".json", ".md", ".py", ".css", ".xml", ".cfg",
                 ".toml", ".yml", ".yaml", ".csv", ".rst", ".tex", ".bib", ".inv", ""}


def load_plant_markers():
    spec = importlib.util.spec_from_file_location("plant_markers", REPO_ROOT / "tools/plant_markers.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


plant_markers = load_plant_markers()


def source_notebooks() -> list[Path]:
    return sorted(REPO_ROOT.glob(SOLUTIONS_GLOB))


@pytest.fixture(scope="module")
def regions():
    notebooks = source_notebooks()
    if not notebooks:
        pytest.fail(f"no source notebooks ({SOLUTIONS_GLOB}): nothing to check for leaks")
    return [r for nb in notebooks for r in plant_markers.notebook_regions(nb)]


def lines_of_text(path: Path) -> set[str]:
    return {line.strip() for line in readable_text(path).splitlines() if line.strip()}


@pytest.fixture(scope="module")
def public_lines() -> set[str]:
    """Lines students may see anyway: chapters, gdlib, and the visible cells of the sources."""
    public: set[str] = set()
    for pattern in ("chapters/**/*.ipynb", "chapters/**/*.md", "gdlib/**/*.py"):
        for path in REPO_ROOT.glob(pattern):
            public |= lines_of_text(path)
    for notebook in source_notebooks():
        public |= plant_markers.public_lines(notebook)
    return public


@pytest.fixture(scope="module")
def secrets(regions, public_lines):
    markers = {m.group(0): m for r in regions for m in r.markers}
    lines = {line for r in regions for line in r.secret_lines
             if len(line) >= MIN_SECRET_LINE and line not in public_lines}
    return markers, lines


def readable_text(path: Path) -> str:
    """A file's text as a reader would search it: notebook sources unescaped, HTML without tags."""
    raw = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".ipynb":
        try:
            nb = json.loads(raw)
            return raw + "\n" + "\n".join(
                "".join(c.get("source", "")) + "\n" + json.dumps(c.get("outputs", []))
                for c in nb.get("cells", []))
        except (json.JSONDecodeError, AttributeError):
            return raw
    if path.suffix == ".html":
        return raw + "\n" + html.unescape(re.sub(r"<[^>]+>", "", raw))
    return raw


@lru_cache(maxsize=None)
def searchable_files(folder: Path) -> tuple[Path, ...]:
    files = []
    for path in folder.rglob("*"):
        if ".git" in path.relative_to(folder).parts or not path.is_file():
            continue
        if path.suffix.lower() in TEXT_SUFFIXES:
            files.append(path)
        elif b"\0" not in path.read_bytes()[:4096]:
            files.append(path)
    return tuple(sorted(files))


def find_leaks(folder: Path, markers: dict, lines: set[str]) -> list[str]:
    hexes = {m.group("hex"): name for name, m in markers.items()}
    hex_pattern = re.compile(r"\b[0-9a-f]{8,}\b")
    leaks = []
    for path in searchable_files(folder):
        text = readable_text(path)
        where = f"{folder.name}/{path.relative_to(folder).as_posix()}"
        for found in set(hex_pattern.findall(text)) & hexes.keys():
            leaks.append(f"{where}: marker {hexes[found]}")
        for line in lines:
            if line in text:
                leaks.append(f"{where}: solution line {line!r}")
    return leaks


def test_there_are_source_notebooks():
    assert source_notebooks(), f"no source notebooks ({SOLUTIONS_GLOB})"


def test_every_region_has_a_unique_marker(regions):
    unmarked = [f"{r.notebook.relative_to(REPO_ROOT)} cell {r.cell_index} ({r.kind})"
                for r in regions if not r.markers]
    assert not unmarked, ("regions without a marker (run `python tools/plant_markers.py`):\n"
                          + "\n".join(unmarked))
    names = [m.group(0) for r in regions for m in r.markers]
    assert len(names) == len(set(names)), "a marker is used twice"
    for r in regions:
        for m in r.markers:
            assert m["assignment"] == r.notebook.parent.name, f"{m.group(0)} is in {r.notebook}"


def test_no_solution_in_the_book(book_html, secrets):
    leaks = find_leaks(book_html, *secrets)
    assert not leaks, "solutions leak into the book:\n" + "\n".join(leaks[:50])


def test_no_page_of_the_book_is_a_solution(book_html):
    paths = [p.relative_to(book_html).as_posix() for p in book_html.rglob("*")]
    assert not [p for p in paths if "solutions" in p.lower()], "a solutions path is in _build/html"


def test_no_solution_in_exercises(secrets):
    folder = REPO_ROOT / "exercises"
    leaks = find_leaks(folder, *secrets) if folder.is_dir() else []
    assert not leaks, "solutions leak into exercises/ (regenerate with `make exercises`):\n" + "\n".join(leaks[:50])


def test_no_solution_in_the_student_repo(student_repo, secrets):
    assert not (student_repo / "solutions").exists() and not (student_repo / "grading").exists()
    leaks = find_leaks(student_repo, *secrets)
    assert not leaks, "solutions leak into the student repo:\n" + "\n".join(leaks[:50])


def test_student_repo_has_no_instructor_files(student_repo):
    tracked = {p.relative_to(student_repo).as_posix() for p in student_repo.rglob("*")
               if ".git" not in p.relative_to(student_repo).parts}
    instructor = [p for p in tracked
                  if p.split("/")[0] in {"solutions", "grading", "submitted", "autograded", "feedback",
                                         "release", "tests"} or p.endswith(".db") or p == "grades.csv"]
    assert not instructor, f"instructor files in the student repo: {instructor}"
    needs_grader = [p for p in tracked if p.endswith(".py")
                    and re.search(r"^\s*(from|import) grading\b", (student_repo / p).read_text(), re.M)]
    assert not needs_grader, f"files that import the instructor's grader: {needs_grader}"
    assert "requirements.txt" in tracked and any(p.startswith("gdlib/") for p in tracked)
    assert any(p.startswith("chapters/") for p in tracked)
    config = student_repo / "nbgrader_config.py"
    if config.exists():
        assert "db_url" not in config.read_text(), "the gradebook URL reached the student repo"


# --- tools/plant_markers.py on a small notebook made here ------------------------------------


def make_source_notebook(folder: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("Implement `double`."),
        nbformat.v4.new_code_cell(
            "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x  # the reference answer, long line\n"
            "    ### END SOLUTION",
            metadata={"nbgrader": {"solution": True, "grade": False, "grade_id": "double",
                                   "locked": False, "schema_version": 3}}),
        nbformat.v4.new_code_cell(
            "assert double(1) == 2\n### BEGIN HIDDEN TESTS\nassert double(21) == 42\n### END HIDDEN TESTS",
            metadata={"nbgrader": {"grade": True, "solution": False, "points": 1, "grade_id": "t",
                                   "locked": True, "schema_version": 3}}),
        nbformat.v4.new_markdown_cell(
            "Explain.", metadata={"nbgrader": {"solution": True, "grade": False, "grade_id": "why",
                                               "locked": False, "schema_version": 3}}),
    ]
    path = folder / "solutions" / "double" / "double.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)
    return path


def test_plant_markers_marks_every_region_once_and_is_idempotent(tmp_path):
    path = make_source_notebook(tmp_path)
    assert plant_markers.plant(path) == 3
    before = path.read_text()
    assert plant_markers.plant(path) == 0 and path.read_text() == before
    regions = plant_markers.notebook_regions(path)
    assert [r.kind for r in regions] == ["SOLUTION", "HIDDEN TESTS", "SOLUTION CELL"]
    markers = [m.group(0) for r in regions for m in r.markers]
    assert len(markers) == 3 == len(set(markers))
    assert all(m.startswith("MARKER:double:") for m in markers)
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[1].source.split("\n")[2].startswith("    # MARKER:double:")  # indented like BEGIN
    assert nb.cells[3].source.startswith("<!-- MARKER:double:")
    assert "return 2 * x  # the reference answer, long line" in regions[0].secret_lines
    assert "assert double(1) == 2" in plant_markers.public_lines(path)


def test_leak_finder_sees_markers_and_lines(tmp_path):
    path = make_source_notebook(tmp_path)
    plant_markers.plant(path)
    regions = plant_markers.notebook_regions(path)
    markers = {m.group(0): m for r in regions for m in r.markers}
    lines = {line for r in regions for line in r.secret_lines if len(line) >= MIN_SECRET_LINE}
    site = tmp_path / "site"
    site.mkdir()
    (site / "clean.html").write_text("<p>nothing here</p>")
    (site / "page.html").write_text("<pre><span>return</span> <span>2</span> * x  "
                                    "# the reference answer, long line</pre>")
    hex_only = next(iter(markers.values()))["hex"]
    (site / "searchindex.js").write_text(f'Search.setIndex({{"terms": {{"{hex_only}": 0}}}})')
    leaks = find_leaks(site, markers, lines)
    assert any("page.html" in leak and "solution line" in leak for leak in leaks), leaks
    assert any("searchindex.js" in leak and "marker" in leak for leak in leaks), leaks
    assert not any("clean.html" in leak for leak in leaks)
