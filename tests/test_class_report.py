"""The class report, the class's records across re-grades, and feedback a student can read.

A small course (tests/test_grading_batch.py's ``make_course`` and ``Plan``) is graded once with
``grade_assignment``: a correct notebook, two with gdcheck's named mistake "gradient ascent", an
untouched one (a real zero), an invalid file (malformed), one with its test cells deleted
(flagged), one whose student id and file names are HTML (flagged), and a student the gradebook knows who
submitted nothing. Then one student is re-graded alone (``students=[...]``). The tests check

- records: a partial re-grade updates that row and keeps the others; missing, malformed and a
  real zero stay distinct in ``grading-report-<id>.csv``, ``grades-<id>.csv`` and the report;
- the class report: statuses, pass rate per test cell (titled), named mistakes with counts,
  shares and links to the book section, flagged and ungraded students; escaped student text;
  the anonymised version names no student; it costs well under a second;
- in Debian's Chromium: the class report and a feedback page load with no request to another
  host (the feedback page's maths typeset by MathJax from its own folder), screenshots taken;
- feedback: test cells titled by what they check, links to the book, a hidden test's details
  withheld, a page for a student with no submission, one zip per student.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from pathlib import Path

import pytest

from test_grading_batch import ASSIGNMENT, Plan, make_course, write_submissions

pytestmark = pytest.mark.grading

HTML_ID = "<img src=x onerror=alert(1)>"       # a valid student id (printable, no "/")
HTML_FILE = "<img src=y onerror=alert(2)>.ipynb"
ASCENT = """    import numpy as np
    grad, x0 = args
    x = np.array(x0, dtype=float)
    path = [x.copy()]
    for _ in range(kwargs["num_steps"]):
        x = x + kwargs["lr"] * grad(x)
        path.append(x.copy())
    return np.array(path)"""


def _stage(course: Path, report) -> dict:
    autograded = course / "autograded"
    feedback = {}
    for page in sorted(course.glob(f"feedback/*/{ASSIGNMENT}/*.html")):
        feedback[page.parent.parent.name] = page.read_text(encoding="utf-8")
    return {"rows": {r["student"]: r for r in csv.DictReader(io.StringIO(
                (autograded / f"grading-report-{ASSIGNMENT}.csv").read_text(encoding="utf-8")))},
            "grades": {r["student_id"]: r for r in csv.DictReader(io.StringIO(
                (autograded / f"grades-{ASSIGNMENT}.csv").read_text(encoding="utf-8")))},
            "html": (autograded / f"class-report-{ASSIGNMENT}.html").read_text(encoding="utf-8"),
            "csv": list(csv.reader(io.StringIO(
                (autograded / f"class-report-{ASSIGNMENT}.csv").read_text(encoding="utf-8")))),
            "feedback": feedback, "missing": report.missing, "seconds": report.class_report_seconds,
            "problem": report.class_report_problem, "nbgrader_csv": (course / "grades.csv").read_text()}


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict:
    from grading import grade_assignment
    from grading.gradebook import load_course
    from nbgrader.api import Gradebook
    course = make_course(tmp_path_factory.mktemp("class-report"))
    plan = Plan(course)
    ascent = plan.notebook(plan.with_function("gradient_descent", ASCENT))
    no_tests = plan.reference()
    no_tests["cells"] = [c for c in no_tests["cells"] if not (
        c.get("metadata", {}).get("nbgrader", {}).get("grade")
        and not c["metadata"]["nbgrader"].get("solution"))]
    write_submissions(course, {"alice": plan.reference(), "ascent-1": ascent, "ascent-2": ascent,
                               "blank": plan.notebook(), "broken": b"{ not a notebook",
                               "tests-deleted": no_tests,
                               HTML_ID: {HTML_FILE: json.dumps(plan.reference()).encode(),
                                         "helper.py": b"x = 1\n"}})  # flagged: an extra code file
    info = load_course(course)
    with Gradebook(info.db_url, info.course_id) as gb:
        gb.add_student("nobody")             # known to the gradebook, never submits
    first = grade_assignment(ASSIGNMENT, course, workers=2, timeout=30)
    stages = {"full": _stage(course, first)}
    write_submissions(course, {"ascent-2": plan.reference()})  # fixed, and re-graded alone
    second = grade_assignment(ASSIGNMENT, course, workers=1, timeout=30, students=["ascent-2", "nobody"])
    stages["partial"] = _stage(course, second)
    stages["partial_results"] = {r.student: r.status for r in second.results}
    return {"course": course, "max_score": plan.max_score, **stages}


def _rows(stage, section):
    return [row for row in stage["csv"] if row[0] == section]


# -- records -------------------------------------------------------------------------------------

def test_a_partial_regrade_updates_its_rows_and_keeps_the_others(graded):
    full, partial = graded["full"]["rows"], graded["partial"]["rows"]
    assert graded["partial_results"] == {"ascent-2": "graded"}
    assert set(partial) == set(full) == {"alice", "ascent-1", "ascent-2", "blank", "broken",
                                         "tests-deleted", HTML_ID, "nobody"}
    for student, row in full.items():
        if student != "ascent-2":
            assert partial[student] == row, student
    assert (full["ascent-2"]["score"], full["ascent-2"]["mistakes"]) == ("11", "gd-ascent")
    assert (partial["ascent-2"]["score"], partial["ascent-2"]["mistakes"]) == (f"{graded['max_score']:g}", "")
    counts = {row[1]: int(row[3]) for row in _rows(graded["partial"], "mistake")}
    assert counts == {"gd-ascent": 1}, "the class report counts the whole class after a partial run"
    statuses = {row[1]: int(row[3]) for row in _rows(graded["partial"], "status")}
    assert sum(statuses.values()) == 8


def test_missing_malformed_and_a_real_zero_are_distinct(graded):
    stage = graded["full"]
    rows, grades = stage["rows"], stage["grades"]
    assert stage["missing"] == ["nobody"]
    assert (rows["nobody"]["status"], rows["nobody"]["score"]) == ("missing", "")
    assert (rows["broken"]["status"], rows["broken"]["score"]) == ("malformed", "0")
    assert (rows["blank"]["status"], rows["blank"]["score"]) == ("graded", "0")
    assert {s: (g["status"], g["score"]) for s, g in grades.items() if s in ("nobody", "broken", "blank")} \
        == {"nobody": ("missing", ""), "broken": ("malformed", "0"), "blank": ("graded", "0")}
    assert set(grades) == set(rows)
    assert grades["alice"]["score"] == f"{graded['max_score']:g}"
    # nbgrader's own export is left as nbgrader writes it
    assert stage["nbgrader_csv"].startswith("assignment,duedate,timestamp,student_id")
    statuses = {row[1]: int(row[3]) for row in _rows(stage, "status")}
    assert statuses == {"graded": 4, "flagged": 2, "malformed": 1, "missing": 1}, statuses


def test_a_student_with_no_submission_gets_a_feedback_page(graded):
    page = graded["full"]["feedback"]["nobody"]
    assert "no submission from you" in page and ASSIGNMENT in page
    assert "chapters/02-gradient-descent.html" in page


# -- the class report ----------------------------------------------------------------------------

def test_the_report_counts_named_mistakes_and_links_the_book_section(graded):
    from grading import sections
    stage = graded["full"]
    mistakes = _rows(stage, "mistake")
    assert [(m[1], m[3]) for m in mistakes] == [("gd-ascent", "2")]
    key, title, count, of, percent, url = mistakes[0][1:]
    run = sum(int(row[3]) for row in _rows(stage, "status") if row[1] in ("graded", "flagged"))
    assert title == "gradient ascent (a plus sign in the update)" and of == str(run)
    assert percent == f"{100 * 2 / run:.1f}"
    base = sections.book_url(graded["course"])
    page = "chapters/02-gradient-descent.html#sec-update-rule"
    assert url == (base + page if base else url) and url.endswith(page)
    assert "The update rule" in sections.chapter_headings("chapters/02-gradient-descent")
    assert f"href='{url}'" in stage["html"] and "Chapter 2, The update rule" in stage["html"]


def test_the_report_shows_scores_test_cells_flagged_and_ungraded_students(graded):
    stage = graded["full"]
    html = stage["html"]
    assert not stage["problem"]
    assert html.count("data:image/png;base64,") == 2          # the two plots, inline
    cells = {row[1]: row for row in _rows(stage, "test_cell")}
    assert cells["test_gradient_descent"][2] == "Visible test: gradient_descent"
    assert cells["test_gradient_descent_hidden"][2] == "Hidden test: gradient_descent"
    run = int(cells["test_gradient_descent"][4])
    assert int(cells["test_gradient_descent"][3]) == run - 3    # the two ascents and blank fail
    assert [row[1] for row in _rows(stage, "flagged")] == [HTML_ID, "tests-deleted"]
    assert [row[1] for row in _rows(stage, "not_graded")] == ["broken"]
    assert "not valid JSON" in _rows(stage, "not_graded")[0][6]
    assert [row[1] for row in _rows(stage, "missing")] == ["nobody"]
    for heading in ("Score distribution", "Test cells", "Named mistakes", "Flagged for review",
                    "Could not be graded, or only in part", "No submission"):
        assert f">{heading}</h2>" in html


def test_student_text_is_escaped_in_the_report(graded):
    import html as html_module
    page = graded["full"]["html"]
    assert graded["full"]["rows"][HTML_ID]["status"] == "flagged"
    assert HTML_FILE in graded["full"]["rows"][HTML_ID]["reason"]
    assert f">{html_module.escape(HTML_ID)}</td>" in page             # listed as flagged, escaped
    assert html_module.escape(HTML_FILE) in page                     # its reason, escaped
    assert re.findall(r"<img\b[^>]*>", page) == re.findall(r"<img alt='[^']*' src='data:image/png;base64,[^']*'>", page)
    assert page.count("<img") == 2 and "<script" not in page        # only the two plots


def test_the_report_says_what_it_cost(graded):
    # its cost is measured (printed after each `make grade`), not bounded here: timings in tests
    # fail on a busy machine and pass on a fast one, whatever the code does
    for stage in ("full", "partial"):
        assert 0 < graded[stage]["seconds"] < 600, graded[stage]["seconds"]


def test_the_anonymised_report_names_no_student(graded, capsys):
    import html as html_module

    from grading.__main__ import main
    course = graded["course"]
    out = course / "shared"
    assert main(["report", ASSIGNMENT, "--course", str(course), "--anonymise", "--output", str(out)]) == 0
    page = (out / f"class-report-{ASSIGNMENT}-anonymised.html").read_text(encoding="utf-8")
    table = (out / f"class-report-{ASSIGNMENT}-anonymised.csv").read_text(encoding="utf-8")
    assert (out / f"class-report-{ASSIGNMENT}.html").is_file()
    for student in graded["partial"]["rows"]:
        for text in (page, table):
            assert student not in text and html_module.escape(student) not in text, student
    assert "not valid JSON" not in page + table            # reasons are left out
    pseudonyms = re.findall(r"student-[0-9a-f]{8}", table)
    assert len(pseudonyms) == len(set(pseudonyms)) == 4      # 2 flagged, 1 malformed, 1 missing
    assert main(["report", ASSIGNMENT, "--course", str(course), "--anonymise", "--output", str(out)]) == 0
    assert re.findall(r"student-[0-9a-f]{8}", (out / f"class-report-{ASSIGNMENT}-anonymised.csv")
                      .read_text(encoding="utf-8")) == pseudonyms, "pseudonyms are stable"
    assert (out / ".pseudonym-key").stat().st_mode & 0o077 == 0


# -- feedback ------------------------------------------------------------------------------------

def test_feedback_titles_test_cells_links_the_book_and_withholds_hidden_details(graded):
    page = graded["full"]["feedback"]["ascent-1"]
    assert '<a href="#test_gradient_descent">Visible test: gradient_descent</a>' in page
    assert '<a href="#test_gradient_descent_hidden">Hidden test: gradient_descent</a>' in page
    assert ">Test cell<" not in page and "Grade cell:" not in page
    assert "../../chapters/" not in page and "chapters/02-gradient-descent.html" in page
    assert "cdnjs" not in page and not re.search(r"<script[^>]*src=[\"']?(https?:)?//", page)
    assert page.count("This looks like gradient ascent") == 2          # visible and hidden
    assert page.count("(Details:") == 1                                # the visible test's only
    assert "A hidden test: its inputs and values are not shown" in page
    links = re.findall(r'<p class="book-link">Read about it in the book: <a href="([^"]+)">([^<]+)</a>', page)
    assert len(links) == 2 and links[0][1] == "Chapter 2, The update rule", links
    assert links[0][0].endswith("chapters/02-gradient-descent.html#sec-update-rule")


def test_feedback_zip_gives_one_zip_per_student(graded):
    from grading.__main__ import main
    course = graded["course"]
    assert main(["feedback-zip", ASSIGNMENT, "--course", str(course)]) == 0
    zips = {p.stem: p for p in (course / "feedback-zips" / ASSIGNMENT).glob("*.zip")}
    assert set(zips) == set(graded["partial"]["rows"])
    with zipfile.ZipFile(zips["alice"]) as archive:
        names = archive.namelist()
    assert f"{ASSIGNMENT}/{ASSIGNMENT}.html" in names
    assert f"{ASSIGNMENT}/mathjax/tex-chtml-full.js" in names
    assert any(n.endswith(".woff") for n in names)
    with zipfile.ZipFile(zips["nobody"]) as archive:
        assert "no submission from you" in archive.read(f"{ASSIGNMENT}/{ASSIGNMENT}.html").decode()


# -- in a real browser ---------------------------------------------------------------------------

def _open(browser, url):
    from browser_support import open_offline
    visit = open_offline(browser, url, width=1100)
    return visit.page, visit.requests, visit.foreign, visit.errors, visit.failed


@pytest.mark.browser
def test_the_class_report_and_feedback_read_offline_in_chromium(graded, tmp_path):
    from browser_support import chromium, is_local, serve
    course = graded["course"]
    with serve(course) as base, chromium() as browser:
        report_url = f"{base}/autograded/class-report-{ASSIGNMENT}.html"
        page, requests, foreign, errors, failed = _open(browser, report_url)
        try:
            assert requests == [report_url] and not foreign and not errors and not failed, \
                (requests, foreign, errors, failed)
            widths = page.evaluate("() => [...document.images].map(i => i.naturalWidth)")
            assert len(widths) == 2 and all(w > 300 for w in widths), widths
            assert page.locator("h2").count() == 7
            assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
            shot = tmp_path / "class-report.png"
            page.screenshot(path=str(shot), full_page=True)
            _assert_not_blank(shot)
        finally:
            page.context.close()

        feedback_url = f"{base}/feedback/ascent-1/{ASSIGNMENT}/{ASSIGNMENT}.html"
        page, requests, foreign, errors, failed = _open(browser, feedback_url)
        try:
            page.wait_for_selector("mjx-container", state="attached", timeout=30_000)
            assert not foreign and not failed and not errors, (foreign, failed, errors)
            assert all(is_local(u) for u in requests)
            mathjax = [u for u in requests if "mathjax" in u]
            assert mathjax and all(u.startswith(f"{base}/feedback/ascent-1/{ASSIGNMENT}/mathjax/")
                                   for u in mathjax), mathjax
            # long messages wrap: no output is wider than its box
            assert page.evaluate("""() => [...document.querySelectorAll('div.output_subarea pre')]
                                    .every(p => p.scrollWidth <= p.clientWidth + 1)""")
            shot = tmp_path / "feedback.png"
            page.screenshot(path=str(shot), full_page=True)
            _assert_not_blank(shot)
        finally:
            page.context.close()


def _assert_not_blank(path: Path) -> None:
    from PIL import Image, ImageStat
    with Image.open(path) as image:
        assert image.width >= 1000 and image.height >= 900
        assert max(ImageStat.Stat(image.convert("L")).stddev) > 10, "the screenshot is blank"


# -- pieces ---------------------------------------------------------------------------------------

def test_every_catalogue_function_is_mapped_to_a_book_section():
    import gdcheck
    from gdcheck.catalogue import MISTAKES
    from grading import sections
    functions = {m.function for m in MISTAKES.values()}
    functions |= {n[len("check_"):] for n in dir(gdcheck) if n.startswith("check_")}
    unmapped = sorted(functions - set(sections.FUNCTION_SECTIONS))
    assert not unmapped, f"add these to grading/sections.py FUNCTION_SECTIONS: {unmapped}"
    assert set(sections.MISTAKE_SECTIONS) <= set(MISTAKES)
    for label in [*sections.FUNCTION_SECTIONS.values(), *sections.MISTAKE_SECTIONS.values()]:
        section = sections.section_of(label)
        assert section is not None, f"no chapter has the label ({label})= above a heading"
        assert section.heading in sections.chapter_headings(section.docname), (label, section)
        assert section.anchor == label
    assignments = {p.parent.name for p in (Path(sections.REPO_ROOT) / "solutions").glob("*/*.ipynb")}
    assert assignments <= set(sections.ASSIGNMENT_CHAPTERS)
    for docname in sections.ASSIGNMENT_CHAPTERS.values():
        assert (Path(sections.REPO_ROOT) / f"{docname}.ipynb").is_file(), docname
    assert sections.section_of("sec-no-such-label") is None


def test_chapter_numbers_come_from_the_toc_not_from_file_names(tmp_path, monkeypatch):
    """Insert a chapter before the optimizers chapter in _toc.yml: its sections' links say
    "Chapter 6" without any change in grading/sections.py."""
    import yaml

    from grading import sections
    assert sections.section_for(key="ad-t-after-use").label.startswith("Chapter 5, ")
    toc = yaml.safe_load((Path(sections.REPO_ROOT) / "_toc.yml").read_text())
    toc["parts"][0]["chapters"].insert(1, {"file": "chapters/new-chapter"})
    (tmp_path / "_toc.yml").write_text(yaml.safe_dump(toc))
    monkeypatch.setattr(sections, "_toc", lambda: yaml.safe_load((tmp_path / "_toc.yml").read_text()))
    sections.toc_chapters.cache_clear()
    try:
        assert sections.chapter_number("chapters/new-chapter") == 2
        label = sections.section_for(key="ad-t-after-use").label
        assert label == "Chapter 6, Adam's bias correction", label
        assert sections.assignment_chapters()["optimizers"] == "chapters/05-optimizers"
    finally:
        sections.toc_chapters.cache_clear()


def test_named_mistakes_are_read_from_gdchecks_messages():
    from grading.diagnoses import named_mistakes, test_title
    message = ("adagrad_step is not right yet. This looks like eps inside the square root.\n"
               "Move eps outside.\n(Details: ...)")
    assert named_mistakes(message) == ["ag-eps-inside"]                 # not rmsprop's or adam's
    assert named_mistakes(message.replace("adagrad_step", "rmsprop_step")) == ["rp-eps-inside"]
    assert named_mistakes("adam_step does not match the reference on test case 1") == []
    assert named_mistakes("adam_step is not right yet. This looks like a made-up title.") == []
    assert test_title("# Visible\ngdcheck.check_momentum_init(momentum_init)\n"
                      "gdcheck.check_momentum_step(momentum_step)") == "Visible test: momentum_init, momentum_step"
    assert test_title("### BEGIN HIDDEN TESTS\ngdcheck.check_adam_step(adam_step, seeds=(1,))\n"
                      "### END HIDDEN TESTS") == "Hidden test: adam_step"


def test_book_links_come_from_the_course_configuration(tmp_path):
    from grading import sections
    assert sections.book_url(tmp_path / "nowhere") == sections.book_url()
    (tmp_path / "course.yml").write_text("book_url: https://example.org/book\n")
    assert sections.book_url(tmp_path) == "https://example.org/book/"
    page = '<a href="../../chapters/05-optimizers.ipynb">x</a><a href="../chapters/03-variants.ipynb#y">'
    out = sections.rewrite_chapter_links(page, "https://example.org/book/")
    assert out == ('<a href="https://example.org/book/chapters/05-optimizers.html">x</a>'
                   '<a href="https://example.org/book/chapters/03-variants.html#y">')
    local = sections.rewrite_chapter_links(page, None, tmp_path)
    assert "_build/html/chapters/05-optimizers.html" in local and "://" not in local


def test_each_whole_score_has_its_own_bar_centred_on_it():
    """A full mark of 18 is drawn at 18 (not between 17 and 18) and a 4 at 4; above 20 points,
    20 equal bins cover 0 to the full mark."""
    import numpy as np
    from grading.class_report import score_bins
    for top in (1, 5, 10, 18, 20):
        counts, edges = np.histogram(np.arange(top + 1), bins=score_bins(top))
        assert counts.tolist() == [1] * (top + 1), (top, counts)
        assert ((edges[:-1] + edges[1:]) / 2).tolist() == list(range(top + 1)), top
    assert np.histogram([17.5], bins=score_bins(17.5))[0].sum() == 1
    edges = score_bins(60)
    assert len(edges) == 21 and edges[0] == 0 and edges[-1] == 60


def test_merge_rows_keeps_the_records_of_a_partial_run():
    from grading.records import merge_rows
    old = {s: {"student": s, "status": "graded", "score": "1"} for s in ("a", "b", "c")}
    new = [{"student": "b", "status": "malformed", "score": "0"}]
    assert [r["student"] for r in merge_rows(old, new, full=False, keep=set())] == ["a", "b", "c"]
    assert merge_rows(old, new, full=False, keep=set())[1]["status"] == "malformed"
    assert [r["student"] for r in merge_rows(old, new, full=True, keep={"c"})] == ["b", "c"]


def test_a_feedback_page_loads_nothing_from_another_host():
    from grading.feedback_pages import finish
    page = ("<html><head><!-- Load mathjax -->\n<script src=\"https://cdnjs.cloudflare.com/x.js\"> </script>"
            "<script type=\"text/x-mathjax-config\">...</script>\n<!-- End of mathjax configuration -->"
            "<script src='//cdn.example.org/y.js'></script></head><body></body></html>")
    out = finish(page)
    assert "cdn" not in out and 'src="mathjax/tex-chtml-full.js"' in out
    assert "mathjax/" not in finish(page, mathjax=False)


def test_a_report_without_grades_says_so(graded, capsys):
    from grading.__main__ import main
    assert main(["report", "no-such-assignment", "--course", str(graded["course"])]) == 1
    assert "nothing graded for no-such-assignment" in capsys.readouterr().out
