"""The grader's commands: grade, report, feedback-zip, check-release.

``python -m grading grade <id>`` (``make grade ASSIGNMENT=<id>``),
``python -m grading report <id>`` (the class report, ``--anonymise`` to share it),
``python -m grading feedback-zip <id>`` (one zip of feedback per student) and
``python -m grading check-release <id>``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .batch import REPO_ROOT, DiskFull, grade_assignment
from .sandbox import IsolationUnavailable
from .report import Progress, printable, table


def _grade(args) -> int:
    print(f"grading {args.assignment} in {args.course}", file=sys.stderr)
    bar = {}

    def progress(event):
        if event["kind"] != "graded":
            return
        if "bar" not in bar:
            bar["bar"], bar["counts"] = Progress(event["total"]), {}
        status = event["result"].status
        bar["counts"][status] = bar["counts"].get(status, 0) + 1
        bar["bar"].show(event["done"], bar["counts"])

    stops: tuple = (DiskFull, IsolationUnavailable)
    if args.scheduler:  # dask is imported only for a cluster
        from .distributed import ClusterError
        stops += (ClusterError,)
    try:
        report = grade_assignment(args.assignment, Path(args.course), workers=args.workers,
                                  timeout=args.timeout, memory_mb=args.memory, students=args.student,
                                  feedback=not args.no_feedback, progress=progress,
                                  scheduler=args.scheduler, unsafe_same_user=args.unsafe_same_user,
                                  submission_seconds=args.submission_timeout)
    except KeyboardInterrupt:
        if "bar" in bar:
            bar["bar"].close()
        print("interrupted: every grade shown so far is committed to the gradebook", file=sys.stderr)
        return 130
    except stops as exc:
        if "bar" in bar:
            bar["bar"].close()
        print(f"stopped: {exc}", file=sys.stderr)
        return 1
    if "bar" in bar:
        bar["bar"].close()
    print(report.isolation)
    if report.sealed:
        modules = sorted({name.rpartition(".")[0] for name in report.sealed})
        print(f"sealed: {len(report.sealed)} functions of {', '.join(modules)} refuse student code "
              "while a check that forbids them runs")
    for problem in report.release_problems:
        print(f"release: {problem}")
    if report.missing:
        shown = ", ".join(printable(s) for s in report.missing[:20])
        print(f"no submission from {len(report.missing)} student(s) of the gradebook: {shown}"
              f"{', ...' if len(report.missing) > 20 else ''}")
    if not report.results:
        print(f"no submissions found under submitted/*/{args.assignment}/")
    else:
        print(table(report.results, report.feedback))
        where = f" on the Dask cluster {report.scheduler}" if report.scheduler else ""
        print(f"\n{len(report.results)} submission(s) in {report.seconds:.1f} s with {report.workers} worker(s){where}; "
              f"grades: {report.grades_csv} and {report.status_csv}; report: {report.report_csv}; "
              f"feedback: feedback/<student>/{args.assignment}/")
    if report.class_report:
        print(f"class report: {report.class_report} ({report.class_report_seconds:.2f} s)")
    if report.class_report_problem:
        print(report.class_report_problem)
    return 0


def _report(args) -> int:
    import time

    from . import class_report, records, sections
    from .diagnoses import test_titles
    from .gradebook import load_course
    started = time.monotonic()
    course = load_course(Path(args.course))
    coursedir = course.coursedir()
    autograded = course.root / coursedir.autograded_directory
    rows = list(records.read_rows(autograded / f"grading-report-{args.assignment}.csv").values())
    snap = records.read_snapshot(course, args.assignment)
    if not rows and not snap.submissions:
        print(f"nothing graded for {args.assignment} yet: run python -m grading grade {args.assignment}")
        return 1
    rows = records.complete_rows(rows, snap, args.assignment)
    source = Path(coursedir.format_path(coursedir.source_directory, ".", args.assignment))
    titles = {}
    for path in sorted(source.glob("*.ipynb")):
        try:
            titles[path.stem] = test_titles(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            pass
    book_url = sections.book_url(course.root)
    data = class_report.collect(args.assignment, rows, snap, titles, book_url)
    output = Path(args.output) if args.output else autograded
    for anonymise in ([False, True] if args.anonymise else [False]):
        page, table_csv = class_report.write(data, output, anonymise=anonymise)
        print(f"{'anonymised ' if anonymise else ''}class report: {page} and {table_csv}")
    if not book_url:
        print("no book_url in course.yml: links go to the locally built book (_build/html)")
    print(f"({time.monotonic() - started:.1f} s)", file=sys.stderr)
    return 0


def _feedback_zip(args) -> int:
    from .feedback_pages import zip_feedback
    from .gradebook import load_course
    course = load_course(Path(args.course))
    written, skipped = zip_feedback(course, args.assignment, Path(args.output) if args.output else None)
    for why in skipped:
        print(f"skipped {printable(why)}")
    if not written:
        print(f"no feedback under feedback/*/{args.assignment}/: run python -m grading grade {args.assignment}")
        return 1
    print(f"{len(written)} zip(s) in {written[0].parent}: one per student, to return to each "
          "(e-mail, the learning platform); each holds the pages and mathjax/ for offline reading")
    return 0


def _check_release(args) -> int:
    from .gradebook import load_course
    from .release import check_release
    course = load_course(Path(args.course))
    coursedir = course.coursedir()
    folder = Path(coursedir.format_path(coursedir.release_directory, ".", args.assignment))
    if not folder.is_dir():
        print(f"no release folder {folder}")
        return 1
    problems = check_release(folder)
    for problem in problems:
        print(problem)
    print(f"{folder}: {'OK' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grading", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    grade = sub.add_parser("grade", help="autograde, write feedback and export grades")
    grade.add_argument("assignment")
    grade.add_argument("--workers", type=int, default=None,
                       help="parallel workers (default: cores); with --scheduler, the local workers "
                            "that write feedback")
    grade.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                       help="grade the submissions on this Dask cluster (grading/distributed.py); "
                            "this machine still writes the gradebook and the feedback")
    grade.add_argument("--timeout", type=float, default=None,
                       help="seconds per cell (default: nbgrader_config's timeout, else 60)")
    grade.add_argument("--memory", type=int, default=2048, help="memory limit per submission, MB")
    grade.add_argument("--submission-timeout", type=float, default=None, metavar="SECONDS",
                       help="wall-clock limit for one whole submission (default 600)")
    grade.add_argument("--unsafe-same-user", action="store_true",
                       help="grade even where no sandbox can be made (no bubblewrap, not root): student "
                            "code then runs as you and can read and change everything you can")
    grade.add_argument("--course", default=str(REPO_ROOT), help="course folder (default: this repository)")
    grade.add_argument("--student", nargs="+", action="extend", metavar="NAME",
                       help="grade only these students (e.g. this machine's share)")
    grade.add_argument("--no-feedback", action="store_true", help="do not write feedback")
    grade.set_defaults(run=_grade)
    report = sub.add_parser("report", help="write the class report (HTML and CSV) from the records")
    report.add_argument("assignment")
    report.add_argument("--course", default=str(REPO_ROOT))
    report.add_argument("--anonymise", "--anonymize", action="store_true",
                        help="also write a version with pseudonyms instead of student ids, to share")
    report.add_argument("--output", default=None, help="folder (default: autograded/ of the course)")
    report.set_defaults(run=_report)
    zips = sub.add_parser("feedback-zip", help="one zip of feedback/<student>/<id>/ per student")
    zips.add_argument("assignment")
    zips.add_argument("--course", default=str(REPO_ROOT))
    zips.add_argument("--output", default=None, help="folder (default: feedback-zips/<id>/ of the course)")
    zips.set_defaults(run=_feedback_zip)
    check = sub.add_parser("check-release", help="list files of release/<id> students must not get")
    check.add_argument("assignment")
    check.add_argument("--course", default=str(REPO_ROOT))
    check.set_defaults(run=_check_release)
    args = parser.parse_args(argv)
    if getattr(args, "workers", None) is not None and args.workers < 1:
        parser.error(f"--workers must be >= 1, got --workers={args.workers}")
    if getattr(args, "timeout", None) is not None and not args.timeout > 0:
        parser.error(f"--timeout must be > 0 seconds, got --timeout={args.timeout}")
    if getattr(args, "memory", 2048) < 256:
        parser.error(f"--memory must be >= 256 MB, got --memory={args.memory}")
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
