"""Throughput of the course's grader (grading/) against plain, sequential nbgrader.

Both graders get the same temporary course (a copy of ``nbgrader_config.py`` and one
assignment's source folder) and the same ``--n`` synthetic submissions, a mix of

- correct (40%): the source's answers;
- wrong (25%): one answer function returns None;
- slow (15%): correct, plus a cell that sleeps ``--sleep`` seconds;
- crashing (10%): one answer function calls ``os._exit(1)``;
- malformed (10%): not JSON.

Each grader does the whole job, timed by the wall clock: plain nbgrader runs
``nbgrader autograde``, ``nbgrader generate_feedback`` and ``nbgrader export`` one after the other
(its kernels import this repository's gdcheck through PYTHONPATH), in its own copy of the course;
ours runs ``grading.grade_assignment`` (autograde, feedback, export) with ``--workers`` processes
(default: the number of cores). In both, ``generate_assignment`` has run once beforehand, so the
gradebook exists. The verdict compares submissions per second (``--target``, 3 by default: the grading issues ask for at least 3x plain nbgrader).
The scores of the submissions both graded (correct, wrong, slow) must agree.

Run: .venv/bin/python benchmarks/bench_grading.py [--n 100] [--workers 2] [--assignment gradient-descent]
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

SOLUTION_LINE = re.compile(r"^\s*(### (BEGIN|END) SOLUTION|# MARKER:\S+)\s*$")
MIX = (("correct", 0.40), ("wrong", 0.25), ("slow", 0.15), ("crashing", 0.10), ("malformed", 0.10))


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _text(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _functions(source: str) -> list[str]:
    return [n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)]


def make_course(folder: Path, assignment: str) -> Path:
    folder.mkdir(parents=True)
    shutil.copy2(REPO_ROOT / "nbgrader_config.py", folder / "nbgrader_config.py")
    shutil.copytree(REPO_ROOT / "solutions" / assignment, folder / "solutions" / assignment)
    return folder


def submissions(source: dict, release: dict, n: int, sleep: float) -> dict[str, tuple[str, bytes]]:
    """student -> (kind, notebook bytes)."""
    answers = {_meta(c)["grade_id"]: "\n".join(l for l in _text(c).split("\n") if not SOLUTION_LINE.match(l))
               for c in source["cells"] if _meta(c).get("solution")}
    first = next(gid for gid, src in answers.items() if _functions(src))
    name = _functions(answers[first])[0]

    def notebook(changes: dict, extra: str | None = None) -> bytes:
        nb = json.loads(json.dumps(release))
        for cell in nb["cells"]:
            gid = _meta(cell).get("grade_id")
            if gid in changes:
                cell["source"] = changes[gid]
        if extra:
            at = next(i for i, c in enumerate(nb["cells"]) if _meta(c).get("solution"))
            nb["cells"].insert(at, {"cell_type": "code", "id": "extra", "metadata": {}, "outputs": [],
                                    "execution_count": None, "source": extra})
        return json.dumps(nb).encode()

    def with_body(body: str) -> dict:
        changed = dict(answers)
        changed[first] = answers[first] + f"\n\n\ndef {name}(*args, **kwargs):\n{body}\n"
        return changed

    kinds = []
    for kind, share in MIX:
        kinds += [kind] * round(share * n)
    kinds = (kinds + ["correct"] * n)[:n]
    made = {"correct": notebook(answers), "wrong": notebook(with_body("    return None")),
            "slow": notebook(answers, f"import time\ntime.sleep({sleep})"),
            "crashing": notebook(with_body("    import os\n    os._exit(1)")),
            "malformed": b"{ this is not a notebook"}
    return {f"student-{i:03d}": (kind, made[kind]) for i, kind in enumerate(kinds)}


def write(course: Path, assignment: str, subs: dict) -> None:
    for student, (_, data) in subs.items():
        folder = course / "submitted" / student / assignment
        folder.mkdir(parents=True)
        (folder / f"{assignment}.ipynb").write_bytes(data)


def nbgrader(course: Path, *args: str) -> float:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def plain_scores(course: Path, assignment: str) -> dict[str, float]:
    from grading.gradebook import load_course, read_scores
    return {s: v["score"] for s, v in read_scores(load_course(course), assignment).items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="number of submissions")
    parser.add_argument("--workers", type=int, default=None, help="our grader's workers (default: cores)")
    parser.add_argument("--assignment", default="gradient-descent")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per cell, both graders")
    parser.add_argument("--sleep", type=float, default=1.0, help="seconds a slow submission sleeps")
    parser.add_argument("--target", type=float, default=3.0)
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error(f"--n must be >= 1, got --n={args.n}")

    from grading import grade_assignment
    from grading.gradebook import load_course, sync_assignment, venv_on_path
    from grading.pool import cpu_count
    venv_on_path()
    workers = args.workers or cpu_count()
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        ours = make_course(Path(tmp) / "ours", args.assignment)
        plain = make_course(Path(tmp) / "plain", args.assignment)
        sources, _, temp = sync_assignment(load_course(ours), args.assignment)
        shutil.rmtree(temp, ignore_errors=True)
        source, release = sources[args.assignment]
        subs = submissions(source, release, args.n, args.sleep)
        write(ours, args.assignment, subs)
        write(plain, args.assignment, subs)
        nbgrader(plain, "generate_assignment", args.assignment, "--force")
        (plain / "nbgrader_config.py").write_text((plain / "nbgrader_config.py").read_text()
                                                  + f"\nc.ExecutePreprocessor.timeout = {args.timeout:g}\n"
                                                  f"c.Execute.timeout = {args.timeout:g}\n")
        load = os.getloadavg()[0]
        print(f"{args.n} submissions of {args.assignment}: "
              + ", ".join(f"{sum(k == kind for k, _ in subs.values())} {kind}" for kind, _ in MIX)
              + f"; {cpu_count()} cores, load average {load:.1f}")

        plain_seconds = {"autograde": nbgrader(plain, "autograde", args.assignment, "--force"),
                         "generate_feedback": nbgrader(plain, "generate_feedback", args.assignment, "--force"),
                         "export": nbgrader(plain, "export")}
        started = time.perf_counter()
        report = grade_assignment(args.assignment, ours, workers=workers, timeout=args.timeout)
        our_seconds = time.perf_counter() - started

        theirs = plain_scores(plain, args.assignment)
        autograded = sum(1 for s in subs if (plain / "autograded" / s / args.assignment
                                             / f"{args.assignment}.ipynb").is_file())
        mine = {r.student: r for r in report.results}
        comparable = [s for s, (kind, _) in subs.items() if kind in ("correct", "wrong", "slow")]
        disagree = [s for s in comparable if theirs.get(s) != mine[s].score]
        plain_total = sum(plain_seconds.values())
        print(f"\n{'grader':<44} {'seconds':>8} {'subs/s':>7}")
        print(f"{'plain nbgrader (sequential)':<44} {plain_total:8.1f} {args.n / plain_total:7.2f}   "
              + ", ".join(f"{k} {v:.1f} s" for k, v in plain_seconds.items()))
        print(f"{f'grading.grade_assignment ({workers} workers)':<44} {our_seconds:8.1f} {args.n / our_seconds:7.2f}")
        statuses = {}
        for r in report.results:
            statuses[r.status] = statuses.get(r.status, 0) + 1
        print(f"\nour statuses: {statuses}; plain nbgrader autograded {autograded} of {args.n} "
              "notebooks (it gives up on a dead kernel or an unreadable notebook)")
        print(f"scores of correct/wrong/slow submissions: {len(comparable) - len(disagree)} of "
              f"{len(comparable)} agree with plain nbgrader" + (f"; DIFFER: {disagree[:5]}" if disagree else ""))
        ratio = plain_total / our_seconds
        print(f"\nthroughput ratio (ours / plain): {ratio:.2f}x -> target {args.target:g}x "
              f"{'met' if ratio >= args.target else 'NOT met'}")
        return 0 if not disagree else 1


if __name__ == "__main__":
    sys.exit(main())
