"""The built book (_build/html, from `make book`): pages, images, MathJax, search, buttons, warnings."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import BUILD_DIR, REPO_ROOT, source_of

sys.path.insert(0, str(REPO_ROOT / "tools"))
import build_book  # noqa: E402  (tools/build_book.py)

pytestmark = pytest.mark.book

WARNING_LINE = re.compile(r"\b(WARNING|ERROR|CRITICAL|SEVERE):")


class TagCollector(HTMLParser):
    """Collect the attributes of every start tag, by tag name."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: dict[str, list[dict[str, str | None]]] = {}

    def handle_starttag(self, tag, attrs):
        self.tags.setdefault(tag, []).append(dict(attrs))

    handle_startendtag = handle_starttag


def tags_of(page: Path) -> dict[str, list[dict]]:
    collector = TagCollector()
    collector.feed(page.read_text(encoding="utf-8"))
    return collector.tags


def page_of(book_html: Path, docname: str) -> Path:
    return book_html / f"{docname}.html"


def notebook_pages(toc_pages: list[str]) -> list[str]:
    return [d for d in toc_pages if source_of(d).suffix == ".ipynb"]


def test_build_used_warnings_as_errors_and_emitted_no_warning(book_html):
    report_file, log_file = BUILD_DIR / "book-build.json", BUILD_DIR / "book-build.log"
    assert report_file.is_file() and log_file.is_file(), "build with `make book` (tools/build_book.py)"
    report = json.loads(report_file.read_text())
    assert report["warningiserror"], f"the book must be built with -W: {report['command']}"
    assert report["returncode"] == 0, f"the last `make book` failed: see {log_file}"
    warnings = [line for line in log_file.read_text().splitlines() if WARNING_LINE.search(line)]
    assert not warnings, "the build emitted:\n" + "\n".join(warnings)


def test_every_toc_entry_produced_a_page(book_html, toc_pages):
    missing = [d for d in toc_pages if not page_of(book_html, d).is_file()]
    assert not missing, f"no HTML page for toc entries {missing}"


def test_every_image_has_a_real_alt_text(book_html, toc_pages):
    bad = []
    for docname in toc_pages:
        for img in tags_of(page_of(book_html, docname)).get("img", []):
            alt, src = (img.get("alt") or "").strip(), img.get("src") or ""
            # docutils falls back to the file name when a figure has no alt: that is not a text.
            if not alt or alt == src or re.search(r"\.(png|svg|jpe?g|gif)$", alt):
                bad.append(f"{docname}: <img src={src!r} alt={alt!r}>")
    assert not bad, ("images without alt text (in a notebook, set the cell metadata "
                     '{"mystnb": {"image": {"alt": "..."}}}):\n' + "\n".join(bad))


def test_mathjax_is_loaded_from_the_book_itself(book_html, toc_pages):
    assert (book_html / "_static/mathjax/tex-chtml.js").is_file(), "sphinx-mathjax-offline did not copy MathJax"
    pages_with_maths = 0
    for docname in toc_pages:
        page = page_of(book_html, docname)
        scripts = [s.get("src") or "" for s in tags_of(page).get("script", [])]
        mathjax = [s for s in scripts if "mathjax" in s.lower()]
        for src in mathjax:
            assert "://" not in src and not src.startswith("//"), f"{docname}: MathJax from {src}"
            assert "_static/mathjax/" in src, f"{docname}: MathJax from {src}, not _static/mathjax"
            assert (page.parent / src.split("?")[0]).resolve().is_file(), f"{docname}: {src} missing"
        pages_with_maths += bool(mathjax)
    assert pages_with_maths, "no page loads MathJax: the introduction has maths, so this is a bug"


def test_no_page_loads_anything_from_another_host(book_html):
    offenders = []
    for page in book_html.rglob("*.html"):
        tags = tags_of(page)
        urls = [t.get("src") for t in tags.get("script", []) + tags.get("img", []) + tags.get("iframe", [])]
        urls += [t.get("href") for t in tags.get("link", []) if t.get("rel") != "canonical"]
        for url in filter(None, urls):
            if urlsplit(url).netloc or url.startswith("//"):
                offenders.append(f"{page.relative_to(book_html)}: {url}")
    assert not offenders, "resources from other hosts:\n" + "\n".join(offenders)


def test_search_index_exists(book_html):
    index = book_html / "searchindex.js"
    assert index.is_file() and index.stat().st_size > 100
    assert (book_html / "search.html").is_file()


def test_chapters_have_download_and_launch_buttons(book_html, toc_pages, course):
    # The addresses come from course.yml (tools/build_book.py passes them to jupyter-book).
    repo_url, branch = course["student_repository"], course["branch"]
    owner_repo = urlsplit(repo_url).path.strip("/")
    chapters = notebook_pages(toc_pages)
    assert chapters, "no .ipynb chapter in _toc.yml"
    for docname in chapters:
        links = [a.get("href") or "" for a in tags_of(page_of(book_html, docname)).get("a", [])]
        source = f"_sources/{docname}.ipynb"
        assert any(link.endswith(source) for link in links), f"{docname}: no .ipynb download button"
        assert (book_html / source).is_file(), f"{docname}: {source} missing"
        # lab/tree: JupyterLab, where the arrow keys move the sliders (not Notebook 7's tree/).
        binder = f"https://mybinder.org/v2/gh/{owner_repo}/{branch}?urlpath=lab/tree/{docname}.ipynb"
        assert binder in links, f"{docname}: no Binder button to the student repo ({binder})"
        colab = f"https://colab.research.google.com/github/{owner_repo}/blob/{branch}/{docname}.ipynb"
        assert colab in links, f"{docname}: no Colab button to the student repo ({colab})"
        assert repo_url in links, f"{docname}: no repository button"


def test_student_repo_is_what_the_launch_buttons_open(course, book_config):
    assert course["student_repository"].endswith("-student"), \
        "launch buttons must open the student repository (`make student-repo`), never the instructor one"
    assert "url" not in book_config.get("repository", {}), \
        "_config.yml names a repository: course.yml is the one place for the course's addresses"
    assert book_config["launch_buttons"]["notebook_interface"] == "jupyterlab", \
        "launch into JupyterLab: the classic link lands in Notebook 7, where arrow keys do not move sliders"


def test_the_conventions_are_a_page_of_the_book_and_a_file_students_get(book_html):
    """Students never see the developers' notes: the course ships its conventions itself, as
    CONVENTIONS.md (in the student repository, next to the exercises that cite it) and as a page
    of the book, and both state the rules the checks enforce."""
    from conftest import REPO_ROOT
    text = (REPO_ROOT / "CONVENTIONS.md").read_text(encoding="utf-8")
    page = page_of(book_html, "chapters/conventions").read_text(encoding="utf-8")
    for rule in ("relu}'(0) = 0", "rng.permutation(n)", "outside the square root", "**mean**",
                 "a tuple or a\n  list of two items"):
        assert rule in text, rule
    for shown in ("momentum", "nesterov", "adagrad", "rmsprop", "adam", "six significant digits",
                  "before</strong> it uses it"):
        assert shown in page, shown
    student_repo = BUILD_DIR / "student-repo"
    if student_repo.is_dir():
        assert (student_repo / "CONVENTIONS.md").read_text(encoding="utf-8") == text


def test_references_resolve_to_the_numbers_and_titles_the_plain_notebooks_show(book_html, course):
    """Every labelled heading carries, in the built page, the id of its label and the number
    tools/plain_notebooks.py computes from _toc.yml (so a plain notebook's "Chapter 5" is the
    book's); every {ref}/{numref} became a link (no raw role, no "???" of an unresolved one);
    the home page's chapter map shows each chapter's number from the toc."""
    import sys

    from conftest import REPO_ROOT
    sys.path.insert(0, str(REPO_ROOT / "tools"))
    import plain_notebooks

    book = plain_notebooks.load_course(REPO_ROOT, course, html_dir=None)
    checked = 0
    for label, target in book.labels.items():
        html = page_of(book_html, target.docname).read_text(encoding="utf-8")
        assert f'id="{label}"' in html, f"{label}: no such id in {target.docname}.html"
        if target.number and target.anchor:
            after = html[html.index(f'id="{label}"'):]
            shown = re.search(r'<span class="section-number">([\d.]+?)\.? </span>', after)
            assert shown and shown.group(1) == target.number, (label, target.number, shown)
            checked += 1
    assert checked >= 10
    for docname in book.titles:
        text = re.sub(r"<pre.*?</pre>", "", page_of(book_html, docname).read_text(encoding="utf-8"),
                      flags=re.S)                              # code shown is code
        assert "{ref}" not in text and "{numref}" not in text and "???" not in text, docname
    import html as html_module
    home = html_module.unescape(re.sub(r"<[^>]+>", "", page_of(book_html, "index").read_text("utf-8")))
    home = " ".join(home.replace("\u2019", "'").split())       # Sphinx's smart quotes
    for docname, number in book.numbers.items():
        assert f"Chapter {number}, {book.titles[docname]}" in home, docname


def test_chapters_execute_longest_first_and_untimed_ones_before_all():
    uris = ["intro", "variants", "regularization", "lab"]
    assert build_book.expected_order(uris, {}) == ["lab", "regularization", "variants", "intro"]
    timed = {"intro": 2.0, "variants": 12.0, "lab": 57.0}
    assert build_book.expected_order(uris, timed) == ["regularization", "lab", "variants", "intro"]


def test_the_build_kept_each_chapters_execution_time(book_html):
    seconds = json.loads(build_book.SECONDS_FILE.read_text())
    executed = {nb.relative_to(build_book.REPO_ROOT).as_posix() for nb in build_book.toc_notebooks()}
    assert set(seconds) == executed and all(s > 0 for s in seconds.values()), seconds


def test_no_page_shows_a_python_objects_address(book_html, toc_pages):
    # a cell whose last line returns an object prints "<module.Class at 0x7f...>" into the page
    shown = {d: re.findall(r"&lt;[\w.]+ (?:object )?at 0x[0-9a-f]+&gt;", page_of(book_html, d).read_text(encoding="utf-8"))
             for d in toc_pages}
    assert not {d: s for d, s in shown.items() if s}, shown


def test_importing_nbformat_builds_no_iri_parser():
    """jsonschema 4.25 and later import rfc3987-syntax, which builds Lark parsers (1.7 s) in every
    process that imports nbformat: the book build, nbgrader, every grading worker, JupyterLab.
    requirements.txt pins jsonschema below 4.25; this fails if a regenerated freeze brings it back."""
    probe = ("import sys, nbformat, jsonschema; "
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'rfc3987_syntax', 'lark'}))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout
