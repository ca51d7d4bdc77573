"""Seconds of grading per student, for each assignment, with the course's own grader.

For each assignment: a temporary course (``nbgrader_config.py`` and the assignment's source
folder), ``--n`` submissions that are the reference solution (the slowest kind to grade: every
check runs to the end), graded by ``grading.grade_assignment`` with ``--workers`` processes and
no feedback or export. Per student, the time is ``Result.seconds`` (what the grading report's
``seconds`` column shows: reading the notebook, running it in the sandbox with every test cell,
writing the autograded notebook). Printed per assignment: median, min and max over the
students, the batch's wall-clock time, the CPU seconds per student (all processes of the batch:
this one, the workers, their sandboxes; start-up included, so a little more than the grading
alone) and the load average before the batch. Wall-clock timings on a shared machine are noisy:
compare runs made at similar loads, or the CPU column, which moves less with the load.

Run: .venv/bin/python benchmarks/bench_grading_time.py [--n 8] [--workers 1] [ASSIGNMENT ...]
(as root, sandboxes run the interpreter by the path ``sys.executable`` gives, with this repository
hidden: in a git worktree whose ``.venv`` is a link to another checkout's, run that checkout's
``.venv/bin/python`` with ``PYTHONPATH`` set to the worktree.)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))


def assignments() -> list[str]:
    return sorted(p.parent.name for p in (REPO_ROOT / "solutions").glob("*/*.ipynb")
                  if p.stem == p.parent.name)


def time_assignment(assignment: str, n: int, workers: int, timeout: float) -> dict:
    from bench_grading import _meta, _text, SOLUTION_LINE, make_course, write
    from grading import grade_assignment
    from grading.gradebook import load_course, sync_assignment

    with tempfile.TemporaryDirectory(prefix="bench-grading-time-") as tmp:
        course = make_course(Path(tmp) / "course", assignment)
        sources, _, temp = sync_assignment(load_course(course), assignment)
        shutil.rmtree(temp, ignore_errors=True)
        source, release = sources[assignment]
        answers = {_meta(c)["grade_id"]: "\n".join(l for l in _text(c).split("\n")
                                                   if not SOLUTION_LINE.match(l))
                   for c in source["cells"] if _meta(c).get("solution")}
        nb = json.loads(json.dumps(release))
        for cell in nb["cells"]:
            if _meta(cell).get("grade_id") in answers:
                cell["source"] = answers[_meta(cell)["grade_id"]]
        data = json.dumps(nb).encode()
        write(course, assignment, {f"student-{i:03d}": ("correct", data) for i in range(n)})
        load = os.getloadavg()[0]
        cpu = _cpu()
        started = time.perf_counter()
        report = grade_assignment(assignment, course, workers=workers, timeout=timeout,
                                  feedback=False, export=False, write_report=False)
        wall = time.perf_counter() - started
        cpu = _cpu() - cpu
    seconds = [r.seconds for r in report.results]
    for r in report.results:
        if not (r.status == "graded" and r.score == r.max_score):
            print(f"  {r.student}: {r.status}, {r.score}/{r.max_score}: {r.reason[:300]}")
    full = sum(1 for r in report.results if r.status == "graded" and r.score == r.max_score)
    return {"assignment": assignment, "median": statistics.median(seconds), "min": min(seconds),
            "max": max(seconds), "wall": wall, "cpu": cpu / max(1, len(seconds)), "load": load,
            "full": full, "n": len(seconds)}


def _cpu() -> float:
    """CPU seconds of this process and of its children that ended (the grading workers, which
    reap their zygote, which reaps the sandboxes)."""
    import resource
    return sum(resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*", help="default: every assignment")
    parser.add_argument("--n", type=int, default=8, help="submissions per assignment")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    from grading.gradebook import venv_on_path
    venv_on_path()
    print(f"{'assignment':<20} {'median s':>9} {'min':>6} {'max':>6} {'batch s':>8} "
          f"{'CPU s/st':>8} {'load':>5}  full marks")
    ok = True
    for assignment in args.assignments or assignments():
        row = time_assignment(assignment, args.n, args.workers, args.timeout)
        ok &= row["full"] == row["n"]
        print(f"{row['assignment']:<20} {row['median']:9.2f} {row['min']:6.2f} {row['max']:6.2f} "
              f"{row['wall']:8.1f} {row['cpu']:8.2f} {row['load']:5.1f}  {row['full']}/{row['n']}",
              flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
