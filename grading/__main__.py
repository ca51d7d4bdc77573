"""Command line: ``python -m grading grade <id>`` (``make grade ASSIGNMENT=<id>``) and
``python -m grading check-release <id>``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .batch import REPO_ROOT, DiskFull, grade_assignment
from .report import Progress, table


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

    try:
        report = grade_assignment(args.assignment, Path(args.course), workers=args.workers,
                                  timeout=args.timeout, memory_mb=args.memory, students=args.student,
                                  feedback=not args.no_feedback, progress=progress)
    except KeyboardInterrupt:
        if "bar" in bar:
            bar["bar"].close()
        print("interrupted: every grade shown so far is committed to the gradebook", file=sys.stderr)
        return 130
    except DiskFull as exc:
        if "bar" in bar:
            bar["bar"].close()
        print(f"stopped: {exc}", file=sys.stderr)
        return 1
    if "bar" in bar:
        bar["bar"].close()
    print(report.isolation)
    for problem in report.release_problems:
        print(f"release: {problem}")
    if not report.results:
        print(f"no submissions found under submitted/*/{args.assignment}/")
        return 0
    print(table(report.results, report.feedback))
    print(f"\n{len(report.results)} submission(s) in {report.seconds:.1f} s with {report.workers} worker(s); "
          f"grades: {report.grades_csv}; report: {report.report_csv}; feedback: feedback/<student>/{args.assignment}/")
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
    grade.add_argument("--workers", type=int, default=None, help="parallel workers (default: cores)")
    grade.add_argument("--timeout", type=float, default=None,
                       help="seconds per cell (default: nbgrader_config's timeout, else 60)")
    grade.add_argument("--memory", type=int, default=2048, help="memory limit per submission, MB")
    grade.add_argument("--course", default=str(REPO_ROOT), help="course folder (default: this repository)")
    grade.add_argument("--student", nargs="+", action="extend", metavar="NAME",
                       help="grade only these students (e.g. this machine's share)")
    grade.add_argument("--no-feedback", action="store_true", help="do not write feedback")
    grade.set_defaults(run=_grade)
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
