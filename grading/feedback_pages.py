"""Feedback pages a student can read offline, and zips to return them.

nbgrader's feedback page (grading/feedback.py makes it) is finished here:

- maths: nbgrader's template loads MathJax 2 from cdnjs; the page loads MathJax 3 from
  ``mathjax/`` beside it instead, the files the book uses (pip package sphinx-mathjax-offline),
  hard-linked (or copied) into every feedback folder, so the page has no request to any host;
- links: ``../../chapters/<chapter>.ipynb`` (a path of the course repository) becomes the
  chapter's page in the published book (``book_url`` of ``course.yml``, grading/sections.py);
- test cells are titled by what they check ("Visible test: momentum_step", "Hidden test:
  adam_step", grading/diagnoses.py) instead of "Test cell" / "Grade cell";
- a message naming a mistake of gdcheck's catalogue ("This looks like Adam without bias
  correction.") is followed by a link to the book section that addresses it;
- long messages wrap instead of scrolling sideways.

Students with no submission get a page saying so (:func:`write_missing`). ``python -m grading
feedback-zip <id>`` (:func:`zip_feedback`) writes ``feedback-zips/<id>/<student>.zip``: the
student's folder (pages and ``mathjax/``) to return by e-mail or the learning platform.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import sys
import zipfile
from pathlib import Path

from . import sections

MATHJAX_PACKAGE = "sphinx-mathjax-offline"
MATHJAX_SCRIPT = "tex-chtml-full.js"  # every TeX extension inside: nothing loaded later
MATHJAX_FONTS = "output/chtml/fonts/woff-v2"
ZIP_FOLDER = "feedback-zips"

MATHJAX_BLOCK = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.S)
ERROR_OUTPUT = re.compile(r'(<div class="output_subarea output_text output_error">\s*<pre>)(.*?)(</pre>)', re.S)
REMOTE_SCRIPT = re.compile(r"<script[^>]*\bsrc=[\"']?(?:https?:)?//[^>]*>\s*</script>", re.I)

MATHJAX3 = """<!-- MathJax 3, from the mathjax/ folder beside this page (no request to any host) -->
<script>
window.MathJax = {
  tex: {inlineMath: [['$', '$'], ['\\\\(', '\\\\)']], displayMath: [['$$', '$$'], ['\\\\[', '\\\\]']],
        processEscapes: true, processEnvironments: true, tags: 'ams', packages: {'[+]': ['textmacros']}},
  options: {enableMenu: false}
};
</script>
<script defer src="mathjax/tex-chtml-full.js"></script>"""

CSS = """<style>
/* long messages wrap; no scroll box */
div.output_area pre, div.output_subarea pre, div.input_area pre, div.text_cell_render pre {
  white-space: pre-wrap; overflow-wrap: anywhere; word-break: normal; overflow-x: visible; }
div.output_subarea { max-width: 100%; overflow-x: visible; }
div.output_scroll { height: auto; overflow: visible; box-shadow: none; }
div.nbgrader_cell .panel-heading { height: auto; min-height: 37px; }
span.nbgrader-label code { color: #777; font-size: 85%; }
p.book-link { margin: 0.3em 0 0.6em 0; }
</style>
"""


def mathjax_source() -> Path | None:
    """The folder holding MathJax 3 (``tex-chtml-full.js``): the sphinx-mathjax-offline package of
    this Python, else the built book's ``_static/mathjax``; ``None`` if neither exists."""
    for entry in sys.path:
        candidate = Path(entry or ".") / MATHJAX_PACKAGE / "static" / "mathjax"
        if (candidate / MATHJAX_SCRIPT).is_file():
            return candidate
    built = sections.BUILT_BOOK / "_static" / "mathjax"
    return built if (built / MATHJAX_SCRIPT).is_file() else None


def mathjax_files(source: Path) -> list[Path]:
    """The files a page needs, relative to ``source``: the script and its web fonts."""
    fonts = sorted((source / MATHJAX_FONTS).glob("*.woff"))
    return [Path(MATHJAX_SCRIPT)] + [f.relative_to(source) for f in fonts]


def install_mathjax(folder: Path) -> bool:
    """Put MathJax into ``folder/mathjax/`` (hard links where the disk allows, else copies).
    Return whether it is there."""
    source = mathjax_source()
    if source is None:
        return False
    for relative in mathjax_files(source):
        target = Path(folder) / "mathjax" / relative
        if target.is_file() and target.stat().st_size == (source / relative).stat().st_size:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        try:
            os.link(source / relative, target)
        except OSError:
            shutil.copyfile(source / relative, target)
    return True


def retitle(page: str, titles: dict[str, str]) -> str:
    """Name each test cell by what it checks, in the table of contents and above the cell."""
    for grade_id, title in titles.items():
        gid, text = re.escape(html.escape(grade_id)), html.escape(title)
        page = re.sub(rf'(<a href="#{gid}">)Test cell(</a>)', rf"\g<1>{_sub(text)}\g<2>", page)
        page = re.sub(rf'(<span class="nbgrader-label">)Grade cell: (<code>{gid}</code></span>)',
                      rf"\g<1>{_sub(text)} \g<2>", page)
    return page


def link_mistakes(page: str, book_url: str | None, folder: Path | None = None) -> str:
    """After each error message that names a catalogue mistake, a link to the book section
    that addresses it."""
    from .diagnoses import named_mistakes
    if "This looks like" not in page:
        return page

    def add(match):
        keys = named_mistakes(html.unescape(re.sub(r"<[^>]+>", "", match.group(2))))
        links = []
        for key in keys:
            section = sections.section_for(key=key, function=_function_of(key))
            if section is not None:
                url = html.escape(section.url(book_url, folder), quote=True)
                links.append(f"<a href=\"{url}\">{html.escape(section.label)}</a>")
        if not links:
            return match.group(0)
        return (match.group(0) + f'<p class="book-link">Read about it in the book: '
                f'{", ".join(dict.fromkeys(links))}.</p>')
    return ERROR_OUTPUT.sub(add, page)


def _function_of(key: str) -> str:
    from gdcheck.catalogue import MISTAKES
    mistake = MISTAKES.get(key)
    return mistake.function if mistake else ""


def _sub(text: str) -> str:
    return text.replace("\\", "\\\\")


def finish(page: str, *, titles: dict[str, str] | None = None, book_url: str | None = None,
           folder: Path | None = None, mathjax: bool = True) -> str:
    """nbgrader's feedback page made readable offline (see the module's docstring).

    Parameters
    ----------
    page : str
        The HTML nbgrader wrote.
    titles : dict, optional
        grade_id -> title of the notebook's test cells.
    book_url : str, optional
        The published book's address; ``None``: relative links into the locally built book.
    folder : Path, optional
        The page's folder (for relative links).
    mathjax : bool
        Whether ``mathjax/`` is beside the page; without it, maths stays as LaTeX source.

    Returns
    -------
    str
        The page, with no script or style loaded from another host.
    """
    page = MATHJAX_BLOCK.sub(lambda _: MATHJAX3 if mathjax else "", page, count=1)
    page = REMOTE_SCRIPT.sub("", page)
    page = page.replace("</head>", CSS + "</head>", 1)
    page = retitle(page, titles or {})
    page = link_mistakes(page, book_url, folder)
    return sections.rewrite_chapter_links(page, book_url, folder)


def simple_page(title: str, body: str) -> str:
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>body {{ font-family: system-ui, sans-serif; "
            "max-width: 42em; margin: 2em auto; padding: 0 1em; line-height: 1.5; } "
            "p { overflow-wrap: anywhere; }</style>"
            f"</head><body><h1>{html.escape(title)}</h1>{body}</body></html>\n")


def chapter_paragraph(assignment: str, book_url: str | None, folder: Path) -> str:
    section = sections.section_for(assignment=assignment)
    if section is None:
        return ""
    url = html.escape(section.url(book_url, folder), quote=True)
    return f"<p>The chapter that goes with it: <a href='{url}'>{html.escape(section.label)}</a>.</p>"


def write_missing(course, assignment: str, student: str, notebooks: list[str],
                  book_url: str | None = None) -> list[str]:
    """A feedback page for a student the gradebook knows who submitted nothing (none for an id
    that is no plain folder name)."""
    from .batch import valid_student_id
    if not valid_student_id(student) or student in (".", ".."):
        return []
    folder = course.folder("feedback_directory", student, assignment)
    folder.mkdir(parents=True, exist_ok=True)
    body = (f"<p>We have no submission from you for <b>{html.escape(assignment)}</b>: there was "
            "nothing to grade, so this assignment has no score yet.</p><p>If you did submit it, "
            "please tell your instructor (and keep your notebook).</p>"
            + chapter_paragraph(assignment, book_url, folder))
    return write_pages(folder, notebooks, simple_page(f"{assignment}: no submission", body))


def write_pages(folder, notebooks: list[str], page: str) -> list[str]:
    """``page`` as ``<notebook>.html`` in ``folder`` for every notebook; the paths written."""
    paths = []
    for name in notebooks:
        path = Path(folder) / f"{name}.html"
        path.write_text(page, encoding="utf-8")
        paths.append(str(path))
    return paths


def zip_feedback(course, assignment: str, output: Path | None = None) -> tuple[list[Path], list[str]]:
    """One zip per student: ``<output>/<student>.zip`` holding ``<assignment>/`` (the pages and
    ``mathjax/``). ``output`` defaults to ``<course>/feedback-zips/<assignment>``.

    Returns
    -------
    (list of Path, list of str)
        The zips written, and the folders skipped with why (a symbolic link, an invalid id).
    """
    from .batch import valid_student_id
    coursedir = course.coursedir()
    pattern = Path(coursedir.format_path(coursedir.feedback_directory, "*", assignment))
    base = pattern.parent.parent
    output = Path(output) if output is not None else course.root / ZIP_FOLDER / assignment
    output.mkdir(parents=True, exist_ok=True)
    written, skipped = [], []
    for student_dir in sorted(base.iterdir()) if base.is_dir() else []:
        student = student_dir.name
        folder = Path(coursedir.format_path(coursedir.feedback_directory, student, assignment))
        if not folder.is_dir():
            continue
        if student_dir.is_symlink() or folder.is_symlink() or not valid_student_id(student) \
                or student.startswith("."):
            skipped.append(f"{student_dir.name!r}: not a student's feedback folder")
            continue
        if not any(folder.glob("*.html")):
            skipped.append(f"{student}: no feedback page")
            continue
        target = output / f"{student}.zip"
        temp = target.with_name(target.name + ".tmp")
        with zipfile.ZipFile(temp, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    archive.write(path, f"{assignment}/{path.relative_to(folder).as_posix()}")
        temp.replace(target)
        written.append(target)
    return written, skipped
