"""The class report of one assignment: an offline HTML page and a CSV, for the instructor.

Written after every ``python -m grading grade <id>`` and on demand by ``python -m grading report
<id>``, from the class's records (``autograded/grading-report-<id>.csv``, kept whole across
partial re-grades: grading/records.py), the gradebook (scores, manual grades included) and the
source notebooks (what each test cell checks). It shows

- how many submissions have each status (graded, flagged, malformed, missing, ...);
- the score distribution (a real zero, a malformed submission and no submission kept apart);
- the pass rate of every test cell, titled by what it checks;
- the named mistakes of gdcheck's catalogue, with how many students made each and a link to the
  book section that addresses it (grading/sections.py, the book URL from ``course.yml``);
- the students flagged for review, and the submissions that could not be graded (or only in
  part) with their reason; the students who submitted nothing.

The page is self-contained (inline CSS, plots drawn by matplotlib as base64 PNG, no script, no
request to any host) and lives in ``autograded/``, the instructor's folder, like everything
that names students. ``--anonymise`` writes ``class-report-<id>-anonymised.html`` (and
``.csv``): student ids replaced by stable pseudonyms (an HMAC with a key kept in
``autograded/.pseudonym-key``, so they cannot be recomputed from a list of ids) and reasons left
out (they can quote file names): a version to share with colleagues.
"""

from __future__ import annotations

import base64
import csv
import datetime
import hashlib
import hmac
import html
import io
import math
import os
import secrets
import statistics
import threading
from dataclasses import dataclass, field
from pathlib import Path

from . import sections
from .records import PROBLEM_STATUSES, RUN_STATUSES, Snapshot, gradebook_ids
from .report import spreadsheet_cell, printable
from .submission import MISSING

KEY_FILE = ".pseudonym-key"
STATUS_ORDER = ("graded", "flagged", "crashed", "timed out", "malformed", "refused", "not recorded",
                MISSING)
_PRELOAD: list[threading.Thread] = []


def preload() -> None:
    """Import matplotlib and gdcheck's catalogue in a background thread (most of a report's
    cost), while a batch runs."""
    def run():
        try:
            import gdcheck  # noqa: F401
            from matplotlib.figure import Figure
            fig = Figure(figsize=(1, 1))  # loads the fonts and the renderer once
            fig.add_subplot().set_xlabel("score")
            _png(fig)
        except Exception:
            pass
    if not _PRELOAD:
        thread = threading.Thread(target=run, name="class-report-preload", daemon=True)
        thread.start()
        _PRELOAD.append(thread)


@dataclass
class Student:
    """One student's line of the report: the records' row joined with the gradebook."""

    key: str             # the student as in the records' CSV (neutralised)
    shown: str           # the id to show (the gradebook's, else the key)
    status: str
    score: float | None
    max_score: float | None
    reason: str
    mistakes: list = field(default_factory=list)
    cells: dict = field(default_factory=dict)   # (notebook, grade_id) -> (score, points)
    flagged: bool = False                       # flagged in the gradebook (by us or in formgrader)


@dataclass
class ClassData:
    """What the report shows: every student of the assignment, the test cells' titles."""

    assignment: str
    students: list
    titles: dict                                # notebook -> grade_id -> title
    max_score: float | None
    book_url: str | None

    def with_status(self, *statuses) -> list:
        return [s for s in self.students if s.status in statuses]

    def flagged(self) -> list:
        """Students to review: flagged by the grader, or in the gradebook (formgrader)."""
        return [s for s in self.students if s.status == "flagged" or s.flagged]


def _float(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def collect(assignment: str, rows: list[dict], snap: Snapshot, titles: dict,
            book_url: str | None = None) -> ClassData:
    """Join the records' rows with the gradebook's scores.

    Parameters
    ----------
    assignment : str
        The assignment id.
    rows : list of dict
        The class's rows (grading/records.py), one per student.
    snap : Snapshot
        The gradebook's students and scores for the assignment.
    titles : dict
        notebook -> grade_id -> title of each test cell (grading/diagnoses.py).
    book_url : str, optional
        The published book's address; ``None`` links to the locally built book.

    Returns
    -------
    ClassData
    """
    ids = gradebook_ids(snap)
    students = []
    for row in rows:
        student_id = ids.get(row["student"])
        info = snap.submissions.get(student_id) if student_id is not None else None
        score = info["score"] if info is not None and row["status"] != MISSING else _float(row["score"])
        max_score = info["max_score"] if info is not None else _float(row["max_score"])
        students.append(Student(row["student"], student_id if student_id is not None else row["student"],
                                row["status"], score, max_score, row["reason"],
                                row["mistakes"].split(), dict(info["cells"]) if info else {},
                                bool(info and info["flagged"])))
    max_scores = [s.max_score for s in students if s.max_score]
    return ClassData(assignment, students, titles, max(max_scores) if max_scores else None, book_url)


# -- pseudonyms ----------------------------------------------------------------------------------

def pseudonymiser(folder: Path):
    """A function student -> stable pseudonym (``student-1a2b3c4d``), keyed by a secret kept in
    ``folder/.pseudonym-key`` (created on first use, readable by its owner only)."""
    path = Path(folder) / KEY_FILE
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    key = path.read_text().strip().encode()
    return lambda student: "student-" + hmac.new(key, student.encode("utf-8", "surrogateescape"),
                                                 hashlib.sha256).hexdigest()[:8]


# -- numbers -------------------------------------------------------------------------------------

def status_counts(data: ClassData) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for s in data.students:
        counts[s.status] = counts.get(s.status, 0) + 1
    return sorted(counts.items(), key=lambda kv: (STATUS_ORDER.index(kv[0]) if kv[0] in STATUS_ORDER
                                                 else len(STATUS_ORDER), kv[0]))


def cell_rates(data: ClassData) -> list[dict]:
    """Per test cell: title, passed (full points), partial, failed, of, rate (0..1)."""
    run = data.with_status(*RUN_STATUSES)
    cells = [(nb, gid) for nb, by_id in data.titles.items() for gid in by_id]
    if not cells:  # no source notebook: every grade cell the gradebook has
        cells = sorted({c for s in run for c in s.cells})
    rates = []
    for nb, gid in cells:
        scored = [s.cells[(nb, gid)] for s in run if (nb, gid) in s.cells]
        scored = [(score or 0.0, points) for score, points in scored if points]
        passed = sum(1 for score, points in scored if score >= points - 1e-9)
        partial = sum(1 for score, points in scored if 0 < score < points - 1e-9)
        title = data.titles.get(nb, {}).get(gid, gid)
        if len(data.titles) > 1:
            title = f"{nb}: {title}"
        rates.append({"notebook": nb, "grade_id": gid, "title": title, "passed": passed,
                      "partial": partial, "failed": len(scored) - passed - partial, "of": len(scored),
                      "rate": passed / len(scored) if scored else None})
    return rates


def mistake_counts(data: ClassData, start: Path | None = None) -> list[dict]:
    """Per named mistake: key, title, function, count (students), of, rate, section, url."""
    from gdcheck.catalogue import MISTAKES
    run = data.with_status(*RUN_STATUSES)
    counts: dict[str, int] = {}
    for s in run:
        for key in dict.fromkeys(s.mistakes):
            counts[key] = counts.get(key, 0) + 1
    out = []
    for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        mistake = MISTAKES.get(key)
        function = mistake.function if mistake else ""
        section = sections.section_for(key=key, function=function, assignment=data.assignment)
        out.append({"key": key, "title": mistake.title if mistake else key, "function": function,
                    "count": n, "of": len(run), "rate": n / len(run) if run else 0.0,
                    "section": section.label if section else "",
                    "url": section.url(data.book_url, start) if section else ""})
    return out


# -- plots ---------------------------------------------------------------------------------------

def _png(fig) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def score_bins(top: float) -> list[float]:
    """The histogram's bin edges for scores out of ``top``: up to 20 points, one bar per whole
    score, centred on it (a full mark of 18 is drawn at 18, not between 17 and 18); above that,
    20 equal bins from 0 to ``top``."""
    if top <= 20:
        return [k - 0.5 for k in range(int(math.ceil(top)) + 2)]
    return [top * k / 20 for k in range(21)]


def score_plot(data: ClassData) -> str:
    """A stacked histogram of the scores: graded, graded with a problem, malformed; "" if none."""
    from matplotlib.figure import Figure
    groups = [("graded", ("graded",), "#2a7ab9"), ("flagged, crashed or timed out",
              ("flagged", "crashed", "timed out"), "#e69f00"), ("malformed", ("malformed",), "#c0392b")]
    values = [[s.score or 0.0 for s in data.with_status(*statuses)] for _, statuses, _ in groups]
    if not any(values):
        return ""
    top = data.max_score or max(max(v) for v in values if v) or 1.0
    fig = Figure(figsize=(7.0, 2.8))
    ax = fig.add_subplot()
    kept = [(v, label, colour) for v, (label, _, colour) in zip(values, groups) if v]
    ax.hist([v for v, _, _ in kept], bins=score_bins(top), stacked=True,
            label=[label for _, label, _ in kept], color=[c for _, _, c in kept], edgecolor="white")
    ax.set_xlabel(f"score (out of {top:g})")
    ax.set_ylabel("students")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return _png(fig)


def cells_plot(rates: list[dict]) -> str:
    """Horizontal bars: the share of students with full points on each test cell; "" if none."""
    from matplotlib.figure import Figure
    shown = [r for r in rates if r["rate"] is not None]
    if not shown:
        return ""
    fig = Figure(figsize=(7.0, 0.9 + 0.28 * len(shown)))
    ax = fig.add_subplot()
    labels = [r["title"] if len(r["title"]) <= 48 else r["title"][:45] + "..." for r in shown]
    ax.barh(range(len(shown)), [100 * r["rate"] for r in shown], color="#2a7ab9")
    ax.set_yticks(range(len(shown)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("students with full points (%)")
    fig.tight_layout()
    return _png(fig)


# -- the page and the CSV ------------------------------------------------------------------------

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em auto;
       max-width: 60em; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0; width: 100%; }
th, td { text-align: left; padding: 0.3em 0.6em; border-bottom: 1px solid #eee; vertical-align: top;
         overflow-wrap: break-word; }
td.who { min-width: 8em; max-width: 20em; overflow-wrap: anywhere; }
td.st { white-space: nowrap; }
td.n, th.n { text-align: right; white-space: nowrap; }
img { max-width: 100%; height: auto; }
.note { color: #555; font-size: 0.92em; }
.status-missing, .status-malformed, .status-refused, .status-not-recorded { color: #a02020; }
code { font-size: 0.92em; }
"""


def _e(text) -> str:
    return html.escape(printable(str(text)), quote=True)


def _pct(rate) -> str:
    return "" if rate is None else f"{100 * rate:.0f}%"


def render_html(data: ClassData, rates: list[dict], mistakes: list[dict], *, name=None,
                anonymised: bool = False, plots: tuple[str, str] = ("", "")) -> str:
    """The page. ``name(student)`` gives the id to show; every student-controlled text is
    escaped."""
    name = name or (lambda s: s.shown)
    run = data.with_status(*RUN_STATUSES)
    scores = [s.score for s in run if s.score is not None]
    parts = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
             "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
             "img-src data:; style-src 'unsafe-inline'\">",
             f"<title>Class report: {_e(data.assignment)}</title><style>{CSS}</style></head><body>",
             f"<h1>Class report: {_e(data.assignment)}{' (anonymised)' if anonymised else ''}</h1>",
             f"<p class='note'>{len(data.students)} student(s); written "
             f"{datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}. "
             + ("Student ids are pseudonyms; reasons are left out (they can quote file names)."
                if anonymised else "Names students: keep it in the instructor's folder "
                "(<code>python -m grading report --anonymise</code> writes a version to share).")
             + "</p>"]
    parts.append("<h2 id='statuses'>Submissions</h2><table><tr><th>status</th><th class='n'>students</th></tr>")
    parts += [f"<tr><td class='status-{_e(status.replace(' ', '-'))}'>{_e(status)}</td>"
              f"<td class='n'>{n}</td></tr>" for status, n in status_counts(data)]
    parts.append("</table>")

    parts.append("<h2 id='scores'>Score distribution</h2>")
    if scores:
        top = f" of {data.max_score:g}" if data.max_score else ""
        parts.append(f"<p>{len(scores)} submission(s) run: mean {statistics.fmean(scores):.2f}{top}, "
                     f"median {statistics.median(scores):g}, {sum(1 for x in scores if x == 0)} "
                     f"scored 0. Malformed submissions (score 0) are drawn apart; students with no "
                     f"submission are not drawn.</p>")
    if plots[0]:
        parts.append(f"<img alt='Histogram of the scores' src='data:image/png;base64,{plots[0]}'>")
    elif not scores:
        parts.append("<p>No submission was graded.</p>")

    parts.append("<h2 id='cells'>Test cells</h2>")
    if plots[1]:
        parts.append(f"<img alt='Share of students with full points per test cell' "
                     f"src='data:image/png;base64,{plots[1]}'>")
    parts.append("<table><tr><th>test cell</th><th class='n'>full points</th><th class='n'>partial</th>"
                 "<th class='n'>failed</th><th class='n'>pass rate</th></tr>")
    parts += [f"<tr><td>{_e(r['title'])} <code>{_e(r['grade_id'])}</code></td><td class='n'>{r['passed']}</td>"
              f"<td class='n'>{r['partial']}</td><td class='n'>{r['failed']}</td>"
              f"<td class='n'>{_pct(r['rate'])}</td></tr>" for r in rates]
    parts.append("</table>")

    parts.append("<h2 id='mistakes'>Named mistakes</h2>")
    if mistakes:
        parts.append(f"<p class='note'>Mistakes gdcheck recognised (visible or hidden test), each "
                     f"student counted once, out of the {len(run)} submission(s) run.</p>")
        parts.append("<table><tr><th>mistake</th><th>function</th><th class='n'>students</th>"
                     "<th class='n'>share</th><th>where the book addresses it</th></tr>")
        for m in mistakes:
            link = (f"<a href='{_e(m['url'])}' rel='noopener noreferrer'>{_e(m['section'])}</a>"
                    if m["url"] else "")
            parts.append(f"<tr><td>{_e(m['title'])}</td><td><code>{_e(m['function'])}</code></td>"
                         f"<td class='n'>{m['count']}</td><td class='n'>{_pct(m['rate'])}</td>"
                         f"<td>{link}</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p>No named mistake was recognised.</p>")

    def student_table(title, anchor, students, empty):
        parts.append(f"<h2 id='{anchor}'>{title}</h2>")
        if not students:
            parts.append(f"<p>{empty}</p>")
            return
        parts.append("<table><tr><th>student</th><th>status</th>"
                     + ("" if anonymised else "<th>reason</th>") + "</tr>")
        for s in sorted(students, key=name):
            reason = "" if anonymised else f"<td>{_e(s.reason)}</td>"
            parts.append(f"<tr><td class='who'>{_e(name(s))}</td><td class='st'>{_e(s.status)}</td>"
                         f"{reason}</tr>")
        parts.append("</table>")

    student_table("Flagged for review", "flagged", data.flagged(),
                  "No submission was flagged.")
    student_table("Could not be graded, or only in part", "problems",
                  data.with_status(*PROBLEM_STATUSES), "Every submission was graded in full.")
    student_table("No submission", "missing", data.with_status(MISSING),
                  "Every student the gradebook knows submitted.")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def render_csv(data: ClassData, rates: list[dict], mistakes: list[dict], *, name=None,
               anonymised: bool = False) -> str:
    """The report as rows ``section, item, title, count, of, percent, detail``: statuses,
    scores, test cells, named mistakes (detail: the book section's address), and one row per
    flagged, ungraded or missing student (detail: the reason, left out when anonymised)."""
    name = name or (lambda s: s.shown)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "item", "title", "count", "of", "percent", "detail"])
    total = len(data.students)
    for status, n in status_counts(data):
        writer.writerow(["status", status, "", n, total, f"{100 * n / total:.1f}" if total else "", ""])
    run = data.with_status(*RUN_STATUSES)
    scores = [s.score for s in run if s.score is not None]
    if scores:
        writer.writerow(["score", "mean", "", len(scores), "", "", f"{statistics.fmean(scores):.3f}"])
        writer.writerow(["score", "median", "", len(scores), "", "", f"{statistics.median(scores):g}"])
        writer.writerow(["score", "max_score", "", "", "", "", f"{data.max_score or 0:g}"])
    for r in rates:
        writer.writerow(["test_cell", spreadsheet_cell(r["grade_id"]), spreadsheet_cell(r["title"]), r["passed"], r["of"],
                         f"{100 * r['rate']:.1f}" if r["rate"] is not None else "", ""])
    for m in mistakes:
        writer.writerow(["mistake", m["key"], spreadsheet_cell(m["title"]), m["count"], m["of"],
                         f"{100 * m['rate']:.1f}", spreadsheet_cell(m["url"])])
    for section, students in (("flagged", data.flagged()), ("not_graded", data.with_status(*PROBLEM_STATUSES)),
                              ("missing", data.with_status(MISSING))):
        for s in sorted(students, key=name):
            writer.writerow([section, spreadsheet_cell(name(s)), "", "", "", "", s.status if anonymised
                             else spreadsheet_cell(f"{s.status}: {s.reason}")])
    return out.getvalue()


def write(data: ClassData, folder: Path, *, anonymise: bool = False) -> tuple[Path, Path]:
    """Write ``class-report-<id>.html`` and ``.csv`` (``-anonymised`` with pseudonyms) in
    ``folder``; return their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for thread in _PRELOAD:
        thread.join()
    rates = cell_rates(data)
    mistakes = mistake_counts(data, folder)
    name = None
    if anonymise:
        pseudonym = pseudonymiser(folder)
        name = lambda s: pseudonym(s.key)  # noqa: E731
    plots = (score_plot(data), cells_plot(rates))
    stem = f"class-report-{data.assignment}" + ("-anonymised" if anonymise else "")
    page = folder / f"{stem}.html"
    table = folder / f"{stem}.csv"
    page.write_text(render_html(data, rates, mistakes, name=name, anonymised=anonymise, plots=plots),
                    encoding="utf-8")
    table.write_text(render_csv(data, rates, mistakes, name=name, anonymised=anonymise),
                     encoding="utf-8", newline="")
    return page, table
