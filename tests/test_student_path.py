"""The student's path: every chapter and exercise works where a student opens it.

What ``make book`` and ``make student-repo`` wrote, checked where it is read:

- the student repository's chapters (and the book's "download .ipynb" files, the same plain
  notebooks) hold every figure, table and number the book pages show, and no MyST markup;
- every chapter and exercise starts with the install cell, with course.yml's address in what
  students get; no notebook imports what Colab lacks and the install does not bring;
- the student repository is the students' own: README, a small Makefile, a lean requirements
  file, runtime.txt for Binder, no instructor file.

Then the tests that play the student (marked ``slow``; tests/conftest.py starts them first, so
pytest-xdist runs them beside the rest). Each environment is built once per session, shared
by the xdist workers (a lock in pytest's base temp folder), and every notebook runs as its own
test:

(a) Colab: a fresh venv with only what Colab preinstalls (numpy, matplotlib, scikit-learn,
    ipywidgets, ipykernel, nbclient), then the notebooks' install cell pointed at a local clone
    of the student repository (``file://``, standing in for the published address); then every
    student chapter and every exercise (reference answers filled in) runs top to bottom;
(b) the student repository's own ``make setup`` in a clone, then ``make check`` (Run All) on
    every exercise with the reference answers filled in;
(c) JupyterLab from (b)'s venv on 127.0.0.1, driven by Debian's Chromium: chapter 4 opened,
    Run All, its figures, tables and glued numbers visible, each control of its explorers moved
    and the figure redrawn (the latency of each move is measured).

Measurements (install time and size, slider latency) go to ``_build/student-path.json``.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import fcntl
import html
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

import wrong_variants as wv
from conftest import BUILD_DIR, REPO_ROOT, STUDENT_REPO

sys.path.insert(0, str(REPO_ROOT / "tools"))
import install_cell  # noqa: E402  (tools/install_cell.py)
import plain_notebooks  # noqa: E402  (tools/plain_notebooks.py)

COLAB_PACKAGES = ("numpy", "matplotlib", "scikit-learn", "ipywidgets", "ipykernel", "nbclient")
METRICS = BUILD_DIR / "student-path.json"
CHAPTERS = sorted(p.name for p in (REPO_ROOT / "chapters").glob("*.ipynb"))
ASSIGNMENTS = sorted(p.parent.name for p in (REPO_ROOT / "exercises").glob("*/*.ipynb")
                     if p.stem == p.parent.name)
LEARNING_RATE = "04-learning-rate.ipynb"
STUDENT_TOP_LEVEL = {"README.md", "Makefile", "requirements.txt", "runtime.txt", ".gitignore",
                     "pyproject.toml", "CONVENTIONS.md", "nbgrader_config.py", "chapters",
                     "exercises", "gdlib", "gdcheck", "LICENSE"}
INSTRUCTOR_WORDS = ("make book", "make test", "make grade", "make exercises", "make publish",
                    "solutions/", "grading/")
INSTRUCTOR_PACKAGES = ("jupyter-book", "sphinx", "nbgrader", "pytest", "playwright", "hypothesis",
                       "nbval", "ghp-import", "check-jsonschema", "myst-nb")
# What the chapters and exercises may import: the standard library, what Colab preinstalls,
# and what the install cell brings (gdlib, gdcheck and their dependencies).
IMPORTABLE = set(sys.stdlib_module_names) | {
    "numpy", "matplotlib", "sklearn", "scipy", "threadpoolctl", "IPython", "ipywidgets",
    "gdlib", "gdcheck"}

# MyST that Jupyter would show raw (outside code blocks and code spans).
FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,}|:{3,})\s*(?P<info>.*)$")
INLINE = re.compile(r"(?P<role>\{[A-Za-z][\w:+.-]*\}`[^`]*`)|(?P<code>(`+)[\s\S]*?[^`]\3(?!`))")
RAW_MARKUP = {
    "target": re.compile(r"^\s*\([^()\s]+\)=\s*$", re.M),
    "substitution": re.compile(r"\{\{.*?\}\}"),
}
GLUE_ROLE = re.compile(r"\{glue:text\}`([^`:]+)(?::([^`]*))?`")
GLUE_MD = re.compile(r"\{glue:md\}`([^`]+)`|^\s*`{3,}\{glue:md\}\s*(\S+)", re.M)
GLUE_FIGURE = re.compile(r"^\s*`{3,}\{glue:figure\}\s*(\S+)", re.M)


# --- helpers -----------------------------------------------------------------------------------


def markdown_cells(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "markdown"]


def raw_markup(text: str) -> list[str]:
    """The MyST constructs left in a Markdown text: directives (fenced ``{name}`` blocks and
    colon fences), roles, ``(target)=`` lines and substitutions, outside code."""
    hits, kept, directives, code = [], [], [], None
    for line in text.split("\n"):
        fence = FENCE.match(line)
        if code is not None:
            if fence and fence["fence"][0] == code[0] and len(fence["fence"]) >= len(code) \
                    and not fence["info"].strip():
                code = None
            continue
        if fence and not fence["info"].strip() and directives \
                and fence["fence"][0] == directives[-1][0] and len(fence["fence"]) >= len(directives[-1]):
            directives.pop()
        elif fence and (fence["info"].startswith("{") or fence["fence"][0] == ":"):
            hits.append(f"directive: {line.strip()!r}")
            directives.append(fence["fence"])
        elif fence and fence["fence"][0] != ":":
            code = fence["fence"]
        else:
            kept.append(line)
    text = "\n".join(kept)
    hits += [f"role: {m['role']!r}" for m in INLINE.finditer(text) if m["role"]]
    text = INLINE.sub("", text)
    return hits + [f"{kind}: {m.group(0)!r}" for kind, pattern in RAW_MARKUP.items()
                   for m in pattern.finditer(text)]


def unescape(text: str) -> str:
    return re.sub(r"\\([\\`*_\[\]<>|$\-.()!#+{}])", r"\1", text)


def page_text(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


def glued(chapter: str) -> dict:
    """myst-nb's own record of what the chapter glued (written by `make book`)."""
    path = BUILD_DIR / "jupyter_execute" / "chapters" / chapter.replace(".ipynb", ".glue.json")
    return json.loads(path.read_text()) if path.is_file() else {}


def formatted(value: str, spec: str | None) -> str:
    from myst_nb.core.variables import format_plain_text
    return format_plain_text(value, spec or "s")


def record(key: str, value) -> None:
    """Add a measurement to _build/student-path.json (shared by the xdist workers)."""
    METRICS.parent.mkdir(exist_ok=True)
    with open(METRICS.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.loads(METRICS.read_text()) if METRICS.is_file() else {}
        data[key] = value
        METRICS.write_text(json.dumps(data, indent=2) + "\n")


def with_reference_answers(exercise, assignment: str):
    """The student notebook with the answer cells of solutions/<id>/<id>.ipynb filled in."""
    answers = {wv.nbgrader_meta(c)["grade_id"]: wv.clean(c.source)
               for c in wv.read(assignment).cells if wv.is_answer(c)}
    filled = 0
    for cell in exercise.cells:
        grade_id = wv.nbgrader_meta(cell).get("grade_id")
        if grade_id in answers:
            cell.source, filled = answers[grade_id], filled + 1
    assert filled == len(answers), f"{assignment}: {len(answers) - filled} answer cells not found"
    return exercise


def repointed(nb, course: dict, url: str):
    """``nb`` with its install cell pointed at ``url`` instead of the published repository."""
    published = f"git+{course['student_repository']}@{course['branch']}"
    first = nb.cells[0]
    assert install_cell.is_install_cell(first) and first.source.count(published) == 1, \
        f"the install cell does not install {published}"
    first.source = first.source.replace(published, f"git+{url}@{course['branch']}")
    return nb


def clean_env(venv: Path | None = None, home: Path | None = None) -> dict:
    """The environment of a student's shell: no course venv, no PYTHONPATH, own Jupyter dirs."""
    drop = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "MPLBACKEND", "GDLIB_WIDGETS")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("JUPYTER")}
    course_bin = str(REPO_ROOT / ".venv" / "bin")
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and p != course_bin]
    if venv is not None:
        path.insert(0, str(venv / "bin"))
    env["PATH"] = os.pathsep.join(path)
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
               PYTHONDONTWRITEBYTECODE="1")
    if home is not None:
        for name, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                          ("JUPYTER_RUNTIME_DIR", "runtime")):
            env[name] = str(home / sub)
    return env


def run(command: list[str], *, cwd: Path, env: dict, timeout: int = 900) -> subprocess.CompletedProcess:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, command))} failed:\n{done.stdout[-4000:]}" \
        f"\n{done.stderr[-4000:]}"
    return done


def folder_size_mb(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()
                     and not p.is_symlink()) / 2**20, 1)


def clone_student_repo(target: Path, course: dict) -> Path:
    if not (STUDENT_REPO / ".git").is_dir():
        pytest.fail(f"{STUDENT_REPO} is missing: run `make student-repo` (or `make test`)")
    subprocess.run(["git", "clone", "-q", "-b", course["branch"], STUDENT_REPO.as_uri(), str(target)],
                   check=True)
    return target


def base_python() -> str:
    """The Python a student's shell finds (never the course's venv)."""
    found = shutil.which("python3", path=clean_env()["PATH"])
    assert found, "no python3 on the PATH"
    return found


# --- the plain chapters ------------------------------------------------------------------------


@pytest.mark.book
def test_no_myst_markup_in_any_student_chapter(student_repo):
    chapters = sorted((student_repo / "chapters").iterdir())
    assert {p.name for p in chapters if p.suffix == ".ipynb"} == set(CHAPTERS)
    found = []
    for path in chapters:
        if path.suffix == ".ipynb":
            texts = markdown_cells(nbformat.read(path, as_version=4))
        else:
            texts = [path.read_text(encoding="utf-8")]
        found += [f"{path.name}: {hit}" for text in texts for hit in raw_markup(text)]
    assert not found, "MyST markup that Jupyter shows raw:\n" + "\n".join(found[:30])


def test_the_markup_finder_finds_markup():
    text = ("A {glue:text}`x:.2f` and {cite:t}`kingma2015`, `{doc}` in code.\n(label)=\n"
            "```{glue:figure} fig\n:name: f\n```\n:::{note}\nx\n:::\n```python\n{cite}`no`\n```\n")
    kinds = [hit.split(":")[0] for hit in raw_markup(text)]
    assert sorted(kinds) == ["directive", "directive", "role", "role", "target"], raw_markup(text)


@pytest.mark.book
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_a_student_chapter_holds_every_result_of_its_page(chapter, student_repo, book_html):
    """Each figure the source glues is attached with the glued PNG, each glued table is in the
    text, each glued number is in the text of its cell as the book page shows it, and the
    figures carry the page's numbers."""
    source = nbformat.read(REPO_ROOT / "chapters" / chapter, as_version=4)
    plain = nbformat.read(student_repo / "chapters" / chapter, as_version=4)
    values = glued(chapter)
    page = page_text(book_html / "chapters" / chapter.replace(".ipynb", ".html"))
    assert [c.cell_type for c in plain.cells[:len(source.cells)]] == [c.cell_type for c in source.cells]
    attachments = {name: data for c in plain.cells for name, data in c.get("attachments", {}).items()}
    figures = tables = numbers = 0
    for index, cell in enumerate(source.cells):
        if cell.cell_type != "markdown":
            continue
        text = unescape(plain.cells[index].source)
        for name in GLUE_FIGURE.findall(cell.source):
            figures += 1
            assert f"(attachment:{name}.png)" in plain.cells[index].source, f"{name} not shown"
            assert attachments[f"{name}.png"]["image/png"] == values[name]["data"]["image/png"] \
                .replace("\n", ""), f"{name}: not the glued figure"
        for match in GLUE_MD.finditer(cell.source):
            tables += 1
            name = match[1] or match[2]
            for line in values[name]["data"]["text/markdown"].strip().splitlines():
                if line.strip() and "{" not in line:
                    assert line.strip() in plain.cells[index].source, f"{name}: {line!r} missing"
        for name, spec in GLUE_ROLE.findall(cell.source):
            numbers += 1
            shown = formatted(values[name]["data"]["text/plain"], spec)
            assert shown in text, f"cell {index + 1}: {name} = {shown!r} not in its text"
            assert shown in page, f"{name} = {shown!r} is not what the book page shows"
    assert len(attachments) == figures
    book_figures = re.findall(r"Fig\. (\d+\.\d+)", page)
    plain_figures = re.findall(r"\*\*Fig\. (\d+\.\d+)\*\*", "\n".join(markdown_cells(plain)))
    assert plain_figures == list(dict.fromkeys(book_figures))[:len(plain_figures)] \
        and len(plain_figures) == figures
    assert not [o for c in plain.cells for o in c.get("outputs", [])
                if o.get("metadata", {}).get("scrapbook", {}).get("mime_prefix")], \
        "invisible glue records left in the outputs"
    if chapter == LEARNING_RATE:  # 41 placeholders (3 + 7 + 31); issue 18 added 1 table, 22 numbers
        assert (figures, tables, numbers) == (3, 8, 53), (figures, tables, numbers)


def test_the_converter_renders_each_construct_and_refuses_unknown_ones(course):
    book = plain_notebooks.load_course(REPO_ROOT, course, html_dir=None)
    png = base64.b64encode(b"\x89PNG fake").decode()
    page = plain_notebooks.Page(book, "chapters/04-learning-rate", glue={
        "x": {"text/plain": "0.123456"}, "word": {"text/plain": "'a_b'"},
        "table": {"text/markdown": "| a |\n|---|\n| {cite}`kingma2015` |"},
        "fig": {"image/png": png, "text/plain": "<Figure>"}})
    text = plain_notebooks.convert_text(page, "\n".join([
        "(a-label)=", "% a MyST comment", "x is {glue:text}`x:.2f`, {glue:text}`word`; see",
        "{cite:t}`kingma2015` {cite}`polyak1964,nesterov1983` and {doc}`02-gradient-descent`.",
        "`{glue:text}` stays code.", "```{glue:md} table", ":format: myst", "```",
        "````{glue:figure} fig", ":alt: A [test] figure", ":name: fig", "", "Its caption.", "````",
        "```{exercise}", ":label: ex", "", "Do it.", "```", "```{solution} ex", ":class: dropdown",
        "", "Done.", "```", "```{prf:algorithm} Descent", ":label: alg", "", "1. step", "```",
        "```{note}", "Careful.", "```", "```python", "{cite}`in code`", "```"]))
    assert not raw_markup(text), raw_markup(text)
    for expected in ("x is 0.12, a\\_b", "[Kingma and Ba (2015)](", "([Polyak, 1964](",
                     "; [Nesterov, 1983](", "[Gradient descent from first principles]("
                     f"{course['book_url']}chapters/02-gradient-descent.html)",
                     "`{glue:text}` stays code", "| ([Kingma and Ba, 2015](",
                     "![A \\[test\\] figure](attachment:fig.png)", "**Fig. 4.1** Its caption.",
                     "**Exercise 4.1**\n\nDo it.", "<summary>Solution to Exercise 4.1</summary>",
                     "**Algorithm 4.1** (Descent)", "**Note.** Careful.", "```python\n{cite}`in code`"):
        assert expected in text, f"{expected!r} not in:\n{text}"
    assert page.attachments == {"fig.png": {"image/png": png}}
    assert "a MyST comment" not in text and "a-label" not in text
    for unknown in ("{unknownrole}`x`", "```{unknown-directive}\nx\n```", "{glue:text}`missing`"):
        with pytest.raises(plain_notebooks.PlainNotebookError):
            plain_notebooks.convert_text(page, unknown)


def test_the_converter_shows_references_as_the_book_does(course):
    """{ref} shows the labelled chapter's or section's title, {numref} its number from _toc.yml,
    both linked to the book's page; a label no page defines is an error, not a raw role."""
    book = plain_notebooks.load_course(REPO_ROOT, course, html_dir=None)
    url = course["book_url"]
    optimizers = book.labels["ch-optimizers"]
    assert optimizers.docname == "chapters/05-optimizers" and optimizers.anchor == ""
    number = str(book.numbers["chapters/05-optimizers"])
    page = plain_notebooks.Page(book, "chapters/04-learning-rate")
    text = plain_notebooks.convert_text(page, "\n".join([
        "See {ref}`ch-optimizers`, {ref}`that chapter <ch-optimizers>`,",
        "{numref}`Chapter %s <ch-optimizers>`, {numref}`%s <ch-variants>`,",
        "{ref}`sec-noise-floor` and {numref}`sec-noise-floor`."]))
    assert not raw_markup(text), raw_markup(text)
    title = book.titles["chapters/05-optimizers"]
    noise = book.labels["sec-noise-floor"]
    assert noise.number.startswith(str(book.numbers["chapters/03-variants"]) + ".")
    for expected in (f"[{title}]({url}chapters/05-optimizers.html)",
                     f"[that chapter]({url}chapters/05-optimizers.html)",
                     f"[Chapter {number}]({url}chapters/05-optimizers.html)",
                     f"[{book.numbers['chapters/03-variants']}]({url}chapters/03-variants.html)",
                     f"[{noise.title}]({url}chapters/03-variants.html#sec-noise-floor)",
                     f"[Section {noise.number}]({url}chapters/03-variants.html#sec-noise-floor)"):
        assert expected in text, f"{expected!r} not in:\n{text}"
    for unknown in ("{ref}`ch-no-such-chapter`", "{numref}`Chapter %s <no-such-label>`",
                    "{numref}`%s <bibliography>`"):          # the bibliography has no number
        with pytest.raises(plain_notebooks.PlainNotebookError):
            plain_notebooks.convert_text(page, unknown)


def test_the_converter_numbers_sections_as_sphinx_does():
    labels = plain_notebooks.page_labels("chapters/x", "\n".join([
        "(ch-x)=", "# Title", "", "(a)=", "## First", "```python", "# not a heading", "```",
        "### Sub", "(b)=", "### Second sub", "(c)=", "## Second", "(d)=", "Some paragraph."]), 7)
    assert labels["ch-x"] == plain_notebooks.Target("chapters/x", "Title", "7", "")
    assert labels["a"] == plain_notebooks.Target("chapters/x", "First", "7.1", "a")
    assert labels["b"].number == "7.1.2" and labels["c"].number == "7.2"
    assert labels["d"] == plain_notebooks.Target("chapters/x", "", "", "d")
    assert plain_notebooks.page_labels("p", "(t)=\n# T\n(s)=\n## S", None)["s"].number == ""


@pytest.mark.book
def test_download_buttons_serve_the_plain_notebooks(book_html, student_repo, course):
    for chapter in CHAPTERS:
        served = json.loads((book_html / "_sources" / "chapters" / chapter).read_text("utf-8"))
        student = json.loads((student_repo / "chapters" / chapter).read_text("utf-8"))
        assert served == student, f"_sources/chapters/{chapter} is not the student's notebook"
    for assignment in ASSIGNMENTS:
        served = nbformat.read(book_html / "_sources" / "exercises" / assignment / f"{assignment}.ipynb", 4)
        assert f"git+{course['student_repository']}@{course['branch']}" in served.cells[0].source


# --- the install cell --------------------------------------------------------------------------


def test_every_chapter_solution_and_exercise_starts_with_the_install_cell():
    assert install_cell.main(["--check"]) == 0
    for path in sorted((REPO_ROOT / "exercises").glob("*/*.ipynb")):
        assert install_cell.has_current_cell(nbformat.read(path, as_version=4)), \
            f"{path.relative_to(REPO_ROOT)}: no install cell first (run `make exercises`)"


@pytest.mark.book
def test_the_install_cell_holds_course_yml_address_where_students_get_it(student_repo, course,
                                                                         book_html):
    expected = install_cell.render(install_cell.SOURCE, course)
    assert f'"git+{course["student_repository"]}@{course["branch"]}"' in expected
    notebooks = sorted(student_repo.rglob("*.ipynb"))
    assert len(notebooks) == len(CHAPTERS) + len(ASSIGNMENTS)
    for path in notebooks:
        first = nbformat.read(path, as_version=4).cells[0]
        assert first.source == expected, f"{path.relative_to(student_repo)}: install cell"
    for chapter in CHAPTERS:  # hidden in the book's pages
        assert "find_spec(name)" not in (book_html / "chapters" / chapter.replace(".ipynb", ".html")) \
            .read_text(encoding="utf-8")


def test_a_fork_changes_the_install_address_in_course_yml_only(course):
    fork = dict(course, student_repository="https://github.com/someone/fork-student", branch="term2")
    text = install_cell.render(install_cell.SOURCE, fork)
    assert "git+https://github.com/someone/fork-student@term2" in text and "{{" not in text


def test_notebooks_import_only_what_colab_and_the_install_bring():
    paths = [REPO_ROOT / "chapters" / c for c in CHAPTERS] + \
        sorted((REPO_ROOT / "solutions").glob("*/*.ipynb"))
    missing = []
    for path in paths:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            code = "\n".join(line for line in cell.source.splitlines()
                             if not line.lstrip().startswith(("%", "!")))
            for node in ast.walk(ast.parse(code)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
                missing += [f"{path.name}: {n}" for n in names if n.split(".")[0] not in IMPORTABLE]
    assert not missing, f"imports a student's Colab lacks: {missing}"


# --- the student repository --------------------------------------------------------------------


@pytest.mark.book
def test_the_student_repository_is_the_students_own(student_repo, course):
    top = {p.name for p in student_repo.iterdir() if p.name != ".git"}
    assert top <= STUDENT_TOP_LEVEL and top >= STUDENT_TOP_LEVEL - {"LICENSE"}, top
    readme = (student_repo / "README.md").read_text(encoding="utf-8")
    for needed in ("make setup", "make lab", "exercises/<id>/<id>.ipynb", "Run All", "Submit",
                   "make check", course["book_url"], course["student_repository"], "CONVENTIONS.md"):
        assert needed in readme, f"the student README does not say {needed!r}"
    makefile = (student_repo / "Makefile").read_text(encoding="utf-8")
    for text in (readme, makefile):
        assert not [w for w in INSTRUCTOR_WORDS if w in text], "an instructor command for students"
    targets = set(re.findall(r"^([\w-]+):", makefile, re.M))
    assert targets == {"help", "setup", "lab", "check"}, targets
    assert (student_repo / "runtime.txt").read_text() == "python-3.11\n"

    lean = (student_repo / "requirements.txt").read_text(encoding="utf-8").splitlines()
    pins = dict(line.split("==") for line in lean if "==" in line)
    assert "-e ." in lean and {"jupyterlab", "ipywidgets", "numpy", "matplotlib",
                                "scikit-learn"} <= set(pins)
    assert not [p for p in pins if p.lower().startswith(INSTRUCTOR_PACKAGES)], pins
    instructor = dict(line.split("==") for line in
                      (REPO_ROOT / "requirements.txt").read_text().splitlines() if "==" in line)
    assert {p: v for p, v in pins.items() if instructor.get(p) != v} == {}, \
        "student pins differ from the book's (requirements.txt)"
    history = subprocess.run(["git", "rev-list", "--count", "HEAD"], cwd=student_repo, check=True,
                             capture_output=True, text=True).stdout.strip()
    assert int(history) >= 1


# --- (a) Colab: only what Colab preinstalls, then the install cell -----------------------------


RUNNER = r"""
import pathlib, sys, time
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
path = pathlib.Path(sys.argv[1])
nb = nbformat.read(path, as_version=4)
client = NotebookClient(nb, timeout=600, kernel_name="python3",
                        resources={"metadata": {"path": str(path.parent)}})
start = time.perf_counter()
try:
    client.execute()
except CellExecutionError as error:
    print(error)
    sys.exit(1)
finally:
    nbformat.write(nb, path)
print(f"ran {path.name} in {time.perf_counter() - start:.1f} s")
"""


@pytest.fixture(scope="session")
def colab(shared, course):
    """A fresh venv with Colab's packages (the course's pins) and gdlib and
    gdcheck installed by the notebooks' install cell from a clone of the student repository."""
    def build(folder: Path) -> dict:
        clone = clone_student_repo(folder / "student-repo", course)
        venv, home = folder / "venv", folder / "home"
        (folder / "run_notebook.py").write_text(RUNNER)
        pins = [line for line in (REPO_ROOT / "requirements.txt").read_text().splitlines()
                if "==" in line]
        (folder / "constraints.txt").write_text("\n".join(pins) + "\n")
        start = time.perf_counter()
        run([base_python(), "-m", "venv", str(venv)], cwd=folder, env=clean_env())
        # Colab's own packages: how they got there is not the student's path, so the course's
        # uv puts them in (pip takes six times as long); the install cell below uses pip.
        run([str(REPO_ROOT / ".venv" / "bin" / "uv"), "pip", "install", "-q", "--python", str(venv),
             "--compile-bytecode", "-c", "constraints.txt", *COLAB_PACKAGES],
            cwd=folder, env=clean_env(venv))
        colab_seconds = time.perf_counter() - start
        python = str(venv / "bin" / "python")
        probe = "import importlib.util as u; print(u.find_spec('gdlib'), u.find_spec('gdcheck'))"
        assert run([python, "-c", probe], cwd=folder, env=clean_env(venv)).stdout.split() == \
            ["None", "None"], "gdlib is importable before the install cell ran"
        # The install cell, as the first cell of a notebook run by a kernel of that venv.
        first = nbformat.read(clone / "chapters" / CHAPTERS[0], as_version=4)
        nb = nbformat.v4.new_notebook(cells=[repointed(first, course, clone.as_uri()).cells[0]])
        nbformat.write(nb, folder / "install.ipynb")
        start = time.perf_counter()
        run([python, "run_notebook.py", "install.ipynb"], cwd=folder, env=clean_env(venv, home))
        install_seconds = time.perf_counter() - start
        printed = "".join(o.get("text", "") for o in nbformat.read(folder / "install.ipynb", 4)
                          .cells[0].outputs)
        assert "installed gdlib and gdcheck" in printed, printed
        where = run([python, "-c", "import gdlib, gdcheck; print(gdlib.__file__, gdcheck.__file__)"],
                    cwd=folder, env=clean_env(venv)).stdout
        assert str(venv) in where and str(REPO_ROOT) not in where, where
        return {"clone": str(clone), "venv": str(venv), "home": str(home),
                "colab_packages_seconds": round(colab_seconds, 1),
                "install_cell_seconds": round(install_seconds, 1)}

    result = shared("colab", build)
    record("colab", {k: v for k, v in result.items() if k.endswith("seconds")})
    return result


@pytest.mark.slow
@pytest.mark.parametrize("notebook", [f"chapters/{c}" for c in CHAPTERS] +
                         [f"exercises/{a}/{a}.ipynb" for a in ASSIGNMENTS])
def test_colab_runs_every_student_notebook(notebook, colab, course):
    clone, venv = Path(colab["clone"]), Path(colab["venv"])
    nb = nbformat.read(clone / notebook, as_version=4)
    if notebook.startswith("exercises/"):
        nb = with_reference_answers(nb, Path(notebook).stem)
    target = (clone / notebook).with_suffix(".colab.ipynb")
    nbformat.write(repointed(nb, course, clone.as_uri()), target)
    run([str(venv / "bin" / "python"), str(clone.parent / "run_notebook.py"), str(target)],
        cwd=target.parent, env=clean_env(venv, Path(colab["home"])))


# --- (b) the student repository's own set-up ---------------------------------------------------


@pytest.fixture(scope="session")
def student_setup(shared, course):
    """A clone of the student repository after its own `make setup`."""
    def build(folder: Path) -> dict:
        clone = clone_student_repo(folder / "student-repo", course)
        start = time.perf_counter()
        run(["make", "setup"], cwd=clone, env=clean_env(), timeout=1200)
        seconds = time.perf_counter() - start
        venv = clone / ".venv"
        packages = json.loads(run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json"],
                                  cwd=clone, env=clean_env(venv)).stdout)
        return {"clone": str(clone), "venv": str(venv), "setup_seconds": round(seconds, 1),
                "venv_mb": folder_size_mb(venv), "packages": len(packages)}

    result = shared("student-setup", build)
    record("make_setup", {k: result[k] for k in ("setup_seconds", "venv_mb", "packages")})
    return result


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_make_setup_then_run_all_on_every_exercise(assignment, student_setup):
    clone = Path(student_setup["clone"])
    notebook = f"exercises/{assignment}/{assignment}.ipynb"
    nbformat.write(with_reference_answers(nbformat.read(clone / notebook, 4), assignment),
                   clone / notebook)
    done = run(["make", "check", f"NOTEBOOK={notebook}"], cwd=clone,
               env=clean_env(home=clone.parent / "home"))
    assert "Traceback" not in done.stdout + done.stderr


# --- (c) JupyterLab in Chromium ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyterlab(clone: Path, venv: Path, home: Path):
    """JupyterLab of ``venv`` serving ``clone`` on 127.0.0.1; yields (base URL, token)."""
    port, token = free_port(), secrets.token_hex(16)
    settings = home / "lab-settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True, exist_ok=True)
    # Every cell rendered (no virtual scrolling), so the whole notebook can be checked.
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    env = clean_env(venv, home)
    env.update(JUPYTERLAB_SETTINGS_DIR=str(home / "lab-settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"))
    log = (home / "jupyterlab.log").open("w")
    process = subprocess.Popen(
        [str(venv / "bin" / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={clone}", "--LabApp.expose_app_in_browser=True",
         "--LabApp.extension_manager=readonly", *(["--allow-root"] if os.geteuid() == 0 else [])],
        cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("JupyterLab did not start:\n" + (home / "jupyterlab.log").read_text())
                time.sleep(0.5)
        yield base, token
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


NOTEBOOK_READY = """() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  return !!(w && w.context && w.context.isReady && w.sessionContext && w.sessionContext.session
            && w.sessionContext.session.kernel); }"""
RUN_ALL = """async () => { const app = window.jupyterapp; const w = app.shell.currentWidget;
  await w.sessionContext.ready; const t0 = performance.now();
  await app.commands.execute('notebook:run-all-cells');
  return performance.now() - t0; }"""
CELL_REPORT = """() => { const nb = window.jupyterapp.shell.currentWidget.content; const r = [];
  for (const cell of nb.widgets) { if (cell.model.type !== 'code') continue;
    const outputs = cell.model.outputs.toJSON();
    r.push({count: cell.model.executionCount,
            errors: outputs.filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue)}); }
  return r; }"""
MARKDOWN_REPORT = """() => { const cells = [...document.querySelectorAll('.jp-MarkdownCell .jp-RenderedMarkdown')];
  const images = cells.flatMap(c => [...c.querySelectorAll('img')]);
  return {text: cells.map(c => c.innerText).join('\\n'),
          images: images.length, loaded: images.filter(i => i.complete && i.naturalWidth > 0).length,
          tables: cells.reduce((n, c) => n + c.querySelectorAll('table').length, 0)}; }"""
WATCH_IMAGE = """(img) => { const before = img.src; const start = performance.now();
  window.__redrawn = new Promise(resolve => {
    const done = () => { observer.disconnect(); resolve(performance.now() - start); };
    const observer = new MutationObserver(() => { if (img.src !== before) done(); });
    observer.observe(img, {attributes: true, attributeFilter: ['src']});
    setTimeout(() => { observer.disconnect(); resolve(null); }, 30000); }); }"""


def expected_on_screen(chapter: str) -> tuple[int, int, list[str]]:
    """Figures, tables and glued numbers (as shown) of a plain chapter."""
    plain = nbformat.read(STUDENT_REPO / "chapters" / chapter, as_version=4)
    figures = sum(len(c.get("attachments", {})) for c in plain.cells)
    tables = sum(len(re.findall(r"^\|[-|: ]+\|\s*$", c.source, re.M)) for c in plain.cells
                 if c.cell_type == "markdown")
    values = glued(chapter)
    source = "\n".join(markdown_cells(nbformat.read(REPO_ROOT / "chapters" / chapter, 4)))
    numbers = [formatted(values[name]["data"]["text/plain"], spec)
               for name, spec in GLUE_ROLE.findall(source)]
    return figures, tables, numbers


def check_results_visible(page, chapter: str) -> None:
    figures, tables, numbers = expected_on_screen(chapter)
    shown = page.evaluate(MARKDOWN_REPORT)
    assert shown["images"] == shown["loaded"] == figures, shown | {"text": "..."}
    assert shown["tables"] == tables, (shown["tables"], tables)
    text = " ".join(shown["text"].split())
    missing = [n for n in numbers if n not in text]
    assert not missing, f"glued numbers not visible: {missing}"
    assert "{glue" not in text and "{cite" not in text


def move_and_time(page, explorer, control) -> float:
    """Move one control of an explorer; return the ms until its figure was redrawn."""
    image = explorer.locator("img.widget-image")
    before = image.screenshot()
    page.evaluate(WATCH_IMAGE, image.element_handle())
    if control.evaluate("e => e.tagName") == "SELECT":
        options = control.locator("option")
        current = control.evaluate("e => e.selectedIndex")
        control.select_option(index=(current + 1) % options.count())
    else:
        at_max = control.evaluate("e => e.getAttribute('aria-valuenow') === e.getAttribute('aria-valuemax')")
        control.focus()
        control.press("ArrowLeft" if at_max else "ArrowRight")
    latency = page.evaluate("() => window.__redrawn")
    assert latency is not None, "the figure was not redrawn within 30 s"
    image.evaluate("img => img.decode()")
    assert image.screenshot() != before, "the figure looks the same after the move"
    return latency


@pytest.mark.slow
@pytest.mark.browser
def test_jupyterlab_runs_chapter_4_and_its_sliders_redraw(student_setup, tmp_path):
    from browser_support import chromium, is_local

    clone, venv = Path(student_setup["clone"]), Path(student_setup["venv"])
    home = tmp_path / "home"
    latencies, foreign = {}, []
    with jupyterlab(clone, venv, home) as (base, token), chromium() as browser:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})

        def route(request_route):
            if is_local(request_route.request.url):
                request_route.continue_()
            else:
                foreign.append(request_route.request.url)
                request_route.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.goto(f"{base}/lab/tree/chapters/{LEARNING_RATE}?token={token}")
        page.wait_for_function(NOTEBOOK_READY, timeout=120_000)
        page.wait_for_selector(".jp-MarkdownCell .jp-RenderedMarkdown table", timeout=60_000)
        check_results_visible(page, LEARNING_RATE)  # as opened

        run_all_ms = page.evaluate(RUN_ALL)
        cells = page.evaluate(CELL_REPORT)
        assert all(c["count"] for c in cells), "a code cell did not run"
        assert not [e for c in cells for e in c["errors"]], cells
        check_results_visible(page, LEARNING_RATE)  # after Run All

        explorers = page.locator(".jp-OutputArea-output:has(img.widget-image)")
        assert explorers.count() == 2, "the landscape and the training explorer"
        for e in range(explorers.count()):
            explorer = explorers.nth(e)
            explorer.scroll_into_view_if_needed()
            controls = explorer.locator(".noUi-handle, select")
            assert controls.count() >= 2
            for c in range(controls.count()):
                control = controls.nth(c)
                label = control.evaluate(
                    "e => (e.closest('.widget-inline-hbox') || e).querySelector('label')?.innerText || e.tagName")
                latencies[f"explorer {e + 1}: {label} #{c}"] = round(move_and_time(page, explorer, control))
        page.screenshot(path=str(tmp_path / "jupyterlab-learning-rate.png"), full_page=True)
        context.close()
    record("jupyterlab_chapter_4", {"run_all_seconds": round(run_all_ms / 1000, 1),
                                    "slider_latency_ms": latencies,
                                    "median_ms": sorted(latencies.values())[len(latencies) // 2],
                                    "max_ms": max(latencies.values())})
    assert not foreign, f"JupyterLab asked other hosts: {foreign}"
    assert max(latencies.values()) < 5000, latencies
