"""Feedback for students: nbgrader's ``generate_feedback``, with hidden tests removed for sure.

The feedback is nbgrader's HTML of the autograded notebook (scores from the gradebook), made
with a fixed list of preprocessors whatever nbgrader_config.py says: nbgrader's ``GetGrades``,
``ClearHiddenTests`` (plain nbgrader keeps hidden tests in the feedback), tracebacks of test
cells cut to their last line (the message), a hidden test's message cut to pass/fail and the kind
of mistake (its details would show the hidden inputs), the install cell's placeholders filled
from ``course.yml`` (the student repository and branch students install from), and nbconvert's
CSS. Each student's feedback is made
from that student's autograded notebook only. Each page is finished for offline reading
(grading/feedback_pages.py: MathJax from the folder, links to the book, test cells titled by
what they check, wrapped messages). Then every HTML file is read back as text: if it
holds a solution or hidden-test delimiter, a marker, or any line of a hidden test, it is
deleted and the report says so, rather than sent.
"""

from __future__ import annotations

import copy
import html
import re

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool, Dict

from .release import LEAK

TAG = re.compile(r"<[^>]+>")
# the install cell's placeholders (tools/install_cell.py: PLACEHOLDER)
PLACEHOLDER = re.compile(r"\{\{\s*(student_repository|branch)\s*\}\}")
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", re.S)


class OneLineTestErrors(Preprocessor):
    """A failing test cell shows only its error message, never a traceback quoting test code."""

    enabled = Bool(True)  # nbconvert's preprocessors are off unless enabled; nbgrader's are on

    def preprocess_cell(self, cell, resources, index):
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade") and cell.cell_type == "code":
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources


class FillPlaceholders(Preprocessor):
    """The install cell names the student repository and branch of ``course.yml`` (``values``,
    from :func:`grading.sections.install_values`), as in the notebooks students got, instead of
    the source's ``{{ student_repository }}@{{ branch }}``."""

    enabled = Bool(True)
    values = Dict(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and self.values and PLACEHOLDER.search(cell.source or ""):
            cell.source = PLACEHOLDER.sub(lambda m: self.values.get(m[1], m[0]), cell.source)
        return cell, resources


class HiddenTestSummaries(Preprocessor):
    """A hidden test's feedback says that it failed and, when a check named it, the kind of
    mistake; never the details that would show its hidden inputs (values, where they differ).
    Runs before ``ClearHiddenTests``, which removes the region this recognises the cell by."""

    enabled = Bool(True)

    def preprocess_cell(self, cell, resources, index):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and cell.cell_type == "code" and HIDDEN.search(cell.source or ""):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["evalue"] = hidden_summary(str(output.get("evalue", "")))
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output['evalue']}"]
        return cell, resources


def hidden_summary(message: str) -> str:
    """The first line of a check's message and its named mistake, without the details."""
    lines = message.split("(Details:")[0].strip().splitlines() or [""]
    kept = [lines[0]] + [line for line in lines[1:2] if lines[0].rstrip().endswith(".")
                         and "This looks like" in lines[0]]
    return "\n".join(kept).strip() + "\n(A hidden test: its inputs and values are not shown.)"


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def secret_lines(notebooks: dict[str, tuple[dict, dict]]) -> list[str]:
    """Lines of the hidden tests that students never see (whitespace flattened)."""
    public = set()
    for _, release in notebooks.values():
        for cell in release.get("cells", []):
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            public.update(_flat(line) for line in source.splitlines())
    secrets = set()
    for source_nb, _ in notebooks.values():
        for cell in source_nb.get("cells", []):
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            for region in HIDDEN.findall(source):
                secrets.update(_flat(line) for line in region.splitlines()
                               if len(_flat(line)) >= 6 and _flat(line) not in public)
    return sorted(secrets)


def leaks(page: str, secrets: list[str]) -> list[str]:
    """What an HTML page shows that it must not: delimiters, markers, hidden-test lines."""
    text = _flat(html.unescape(TAG.sub("", page)))
    found = sorted(set(LEAK.findall(text)))
    found += [f"a hidden-test line ({line[:40]}...)" for line in secrets if line in text]
    return found


def generate(course, assignment: str, student: str, secrets: list[str], titles: dict | None = None,
             book_url: str | None = None, install: dict | None = None) -> dict:
    """Run nbgrader's GenerateFeedback for one student; {"files": [...], "problem": str}.

    The install cell's placeholders get ``install`` (``student_repository``, ``branch``). Each
    page is then finished by :func:`grading.feedback_pages.finish` (offline MathJax from
    ``mathjax/`` beside it, links to the book at ``book_url``, test cells named by ``titles``:
    notebook -> grade_id -> title) before the check for leaks."""
    import contextlib
    import io
    import logging

    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.converters import GenerateFeedback
    from nbgrader.preprocessors import ClearHiddenTests, GetGrades

    from .feedback_pages import finish, install_mathjax

    config = copy.deepcopy(course.config)
    config.GenerateFeedback.preprocessors = [GetGrades, HiddenTestSummaries, ClearHiddenTests,
                                             OneLineTestErrors, FillPlaceholders,
                                             CSSHTMLHeaderPreprocessor]
    config.FillPlaceholders.values = dict(install or {})
    config.HTMLExporter.template_name = "feedback"
    coursedir = course.coursedir(assignment_id=assignment, student_id=student)
    app = GenerateFeedback(coursedir=coursedir, config=config)
    app.force = True
    app.log.setLevel(logging.CRITICAL)
    log = io.StringIO()
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            app.start()
    except Exception as exc:  # nbgrader raises NbGraderException with its log
        return {"files": [], "problem": f"generate_feedback failed: {exc}"}
    folder = course.folder("feedback_directory", student, assignment)
    files, problems = [], []
    mathjax = install_mathjax(folder)
    for page in sorted(folder.glob("*.html")):
        text = finish(page.read_text(encoding="utf-8", errors="replace"),
                      titles=(titles or {}).get(page.stem), book_url=book_url, folder=folder,
                      mathjax=mathjax)
        page.write_text(text, encoding="utf-8")
        found = leaks(text, secrets)
        if found:
            page.unlink()
            problems.append(f"{page.name} withheld: it showed {', '.join(found[:3])}")
        else:
            files.append(str(page))
    return {"files": files, "problem": "; ".join(problems)}


def write_unreadable(course, assignment: str, student: str, notebooks: list[str], reason: str) -> list[str]:
    """A short feedback page for a submission that could not be graded."""
    from .feedback_pages import simple_page, write_pages
    folder = course.folder("feedback_directory", student, assignment)
    folder.mkdir(parents=True, exist_ok=True)
    body = simple_page(f"{assignment}: not graded", f"<p>Your submission could not be graded: "
                        f"{html.escape(reason)}.</p><p>Score: 0. Please check the file and ask your "
                        "instructor.</p>")
    return write_pages(folder, notebooks, body)
