"""Grading on a Dask cluster (grading/distributed.py), with a worker killed in the middle.

The ``cluster`` fixture starts a Dask scheduler and two workers as separate processes on
127.0.0.1 (``python -m dask scheduler`` / ``python -m dask worker --no-nanny``: without a
nanny, a SIGKILL really loses the worker) and stops all of them, and every process they
started, afterwards. One class (correct and wrong submissions of test_grading_batch's
ASSIGNMENT) is graded three times: on one machine and on the cluster, both through
``python -m grading grade`` (the throughput of both is printed: run with ``-s``), then on
the cluster again with one worker SIGKILLed as soon as the first grade is in while it grades:
every student still gets the score one machine gives, committed once, and the gradebook holds
each student once. It skips, saying why, only where dask or distributed cannot be imported.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from test_grading_batch import ASSIGNMENT, REPO_ROOT, Plan, make_course, write_submissions

pytestmark = pytest.mark.grading

STUDENTS = 8           # half correct, half wrong
WORKERS = ("w0", "w1")
ENV = dict(os.environ, PYTHONPATH=str(REPO_ROOT), OPENBLAS_NUM_THREADS="1")


def _dask_missing() -> str:
    try:
        import dask  # noqa: F401
        import distributed  # noqa: F401
    except ImportError as exc:
        return str(exc)
    return ""


def _start(args: list[str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as handle:
        return subprocess.Popen([sys.executable, "-m", "dask", *args], cwd=REPO_ROOT, env=ENV,
                                stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _descendants(pids) -> dict[int, float]:
    """pid -> start time of every living process started (directly or not) by ``pids``."""
    import psutil
    found = {}
    for pid in pids:
        try:
            for child in psutil.Process(pid).children(recursive=True):
                found[child.pid] = child.create_time()
        except psutil.NoSuchProcess:
            pass
    return found


def _alive(processes: dict[int, float]) -> list[int]:
    """Those of ``processes`` still running (the same process: same pid and start time)."""
    import psutil
    alive = []
    for pid, started in processes.items():
        try:
            process = psutil.Process(pid)
            if process.create_time() == started and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def _wait_gone(processes: dict[int, float], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while _alive(processes) and time.monotonic() < deadline:
        time.sleep(0.2)
    return _alive(processes)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two one-thread workers on 127.0.0.1: {"address", "procs", "base"}."""
    missing = _dask_missing()
    if missing:
        pytest.skip(f"dask/distributed cannot be imported ({missing}): "
                    "install them with .venv/bin/pip install -r requirements.txt")
    from distributed import Client
    base = tmp_path_factory.mktemp("dask")
    procs: dict[str, subprocess.Popen] = {}
    children: dict[int, float] = {}
    try:
        scheduler_file = base / "scheduler.json"
        procs["scheduler"] = _start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                     "--scheduler-file", str(scheduler_file)], base / "scheduler.log")
        deadline = time.monotonic() + 120
        address = None
        while address is None:
            assert time.monotonic() < deadline, (base / "scheduler.log").read_text()
            assert procs["scheduler"].poll() is None, (base / "scheduler.log").read_text()
            try:
                address = json.loads(scheduler_file.read_text())["address"]
            except (OSError, ValueError, KeyError):
                time.sleep(0.2)
        for name in WORKERS:
            procs[name] = _start(["worker", address, "--name", name, "--nthreads", "1", "--no-nanny",
                                  "--no-dashboard", "--death-timeout", "60",
                                  "--local-directory", str(base / name)], base / f"{name}.log")
        with Client(address, timeout=60, set_as_default=False) as client:
            client.wait_for_workers(len(WORKERS), timeout=120)
        yield {"address": address, "procs": procs, "base": base}
    finally:
        children = _descendants(p.pid for p in procs.values() if p.poll() is None)
        for process in reversed(list(procs.values())):  # workers first: they close their plugins
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
        left = _wait_gone(children, 30)
        for pid in left:
            os.kill(pid, signal.SIGKILL)
    assert not left, f"processes left behind by the cluster: {left}"


def _grade_cli(course: Path, *extra: str) -> dict:
    """Run ``python -m grading grade``: its output and times (the batch's own seconds, the
    command's, and when the first and last autograded notebooks were written)."""
    begun = time.time()
    done = subprocess.run([sys.executable, "-m", "grading", "grade", ASSIGNMENT, "--course", str(course),
                           "--timeout", "60", "--workers", "2", *extra], cwd=REPO_ROOT, env=ENV,
                          capture_output=True, text=True, timeout=900)
    wall = time.time() - begun
    assert done.returncode == 0, done.stdout + done.stderr
    found = re.search(r"(\d+) submission\(s\) in ([\d.]+) s", done.stdout)
    assert found and int(found.group(1)) == STUDENTS, done.stdout
    written = sorted(p.stat().st_mtime - begun for p in course.glob(f"autograded/*/{ASSIGNMENT}/*.ipynb"))
    assert len(written) == STUDENTS, done.stdout[-3000:] + done.stderr[-3000:]
    return {"output": done.stdout, "seconds": float(found.group(2)), "wall": wall,
            "first": written[0], "last": written[-1], "grading": _grading_seconds(course)}


def _describe(label: str, run: dict) -> str:
    steady = (STUDENTS - 1) / max(run["last"] - run["first"], 1e-9)
    return (f"{label}: {STUDENTS} submissions in {run['seconds']:.1f} s ({STUDENTS / run['seconds']:.2f}/s; "
            f"command {run['wall']:.1f} s); first grade after {run['first']:.1f} s, then "
            f"{steady:.2f}/s; grading one submission {sum(run['grading']) / STUDENTS:.2f} s on average")


def _scores(course: Path) -> dict[str, float]:
    from grading.gradebook import load_course, read_scores
    return {s: v["score"] for s, v in read_scores(load_course(course), ASSIGNMENT).items()}


def _gradebook_rows(course: Path) -> dict[str, int]:
    with sqlite3.connect(course / "gradebook.db") as db:
        return dict(db.execute("SELECT student_id, count(*) FROM submitted_assignment GROUP BY student_id"))


def _grading_seconds(course: Path) -> list[float]:
    """Each submission's grading time (grade_submission's own, from the class's records)."""
    import csv
    with open(course / "autograded" / f"grading-report-{ASSIGNMENT}.csv", newline="") as handle:
        return [float(row["seconds"]) for row in csv.DictReader(handle)]


def test_a_class_graded_on_dask_gets_the_scores_of_one_machine_even_when_a_worker_dies(
        cluster, tmp_path, monkeypatch):
    from distributed import Client

    from grading import grade_assignment
    from grading.gradebook import GradebookWriter

    course = make_course(tmp_path / "cluster")
    plan = Plan(course)
    right, wrong = plan.reference(), plan.notebook(plan.wrong_answers())
    students = {f"student-{k:02d}": right if k % 2 == 0 else wrong for k in range(STUDENTS)}
    write_submissions(course, students)
    expected = {s: plan.max_score if nb is right else 0.0 for s, nb in students.items()}
    one_machine = tmp_path / "one-machine" / "course"
    shutil.copytree(course, one_machine)

    # the same submissions, on one machine (2 workers) and on the cluster (2 workers)
    local = _grade_cli(one_machine)
    on_dask = _grade_cli(course, "--scheduler", cluster["address"])
    assert f"on the Dask cluster {cluster['address']}" in on_dask["output"]
    assert _scores(one_machine) == expected
    assert _scores(course) == expected
    for student in students:  # feedback, written by this machine's pool
        assert list((course / "feedback" / student / ASSIGNMENT).glob("*.html")), student
        assert (course / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").is_file()
    print("\n" + _describe("one machine, 2 local workers", local)
          + "\n" + _describe("Dask, 2 workers on the same machine", on_dask))

    # again on the cluster; a worker is killed while it grades, once the first grade is in
    watcher = Client(cluster["address"], timeout=60, set_as_default=False)
    addresses = {info["name"]: address
                 for address, info in watcher.scheduler_info(n_workers=-1)["workers"].items()}
    killed: dict = {}

    def progress(event):
        if event["kind"] != "graded" or killed:
            return
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            busy = {address: keys for address, keys in watcher.processing().items() if keys}
            for name in WORKERS:
                if addresses.get(name) in busy:
                    process = cluster["procs"][name]
                    killed.update(name=name, keys=busy[addresses[name]], pid=process.pid,
                                  children=_descendants([process.pid]))
                    process.send_signal(signal.SIGKILL)
                    process.wait(timeout=30)
                    return
            time.sleep(0.05)

    commits: dict[str, int] = {}
    commit_seconds: list[float] = []
    write = GradebookWriter.write

    def counting_write(self, result, timestamp=None):
        commits[result.student] = commits.get(result.student, 0) + 1
        begun = time.monotonic()
        try:
            return write(self, result, timestamp)
        finally:
            commit_seconds.append(time.monotonic() - begun)

    monkeypatch.setattr(GradebookWriter, "write", counting_write)
    try:
        report = grade_assignment(ASSIGNMENT, course, workers=2, timeout=60, scheduler=cluster["address"],
                                  progress=progress)
        assert killed, "no worker was grading when the first grade came in"
        assert killed["keys"], killed
        assert cluster["procs"][killed["name"]].returncode == -signal.SIGKILL
        assert len(watcher.nthreads()) == len(WORKERS) - 1  # the scheduler lost it
    finally:
        watcher.close()
        if killed:
            left = _wait_gone(killed["children"], 30)  # its grading process and sandboxes die with it
            from grading.distributed import remove_orphans
            removed = remove_orphans()  # what a worker's next start removes: its folders
            assert not left, f"the killed worker left processes behind: {left}"
            assert any(f"grading-dask-{killed['pid']}-" in folder for folder in removed), removed
            assert not list(Path(tempfile.gettempdir()).glob(f"grading-dask-{killed['pid']}-*"))
    assert sorted(r.student for r in report.results) == sorted(students)
    assert {r.student: (r.status, r.score) for r in report.results} == \
        {s: ("graded", score) for s, score in expected.items()}
    assert commits == {s: 1 for s in students}
    assert _scores(course) == expected == _scores(one_machine)
    assert _gradebook_rows(course) == {s: 1 for s in students}
    assert "on the Dask cluster" in report.isolation and report.scheduler == cluster["address"]
    print(f"with {killed['name']} killed: {STUDENTS} submissions in {report.seconds:.1f} s; "
          f"a gradebook commit {1000 * sum(commit_seconds) / len(commit_seconds):.0f} ms on average")


def test_a_packed_submission_reads_like_its_folder(tmp_path):
    """What travels to a worker (grading/distributed.py) gives the grader the same notebooks,
    flags and notes; links are not followed and named pipes are not opened."""
    from grading.distributed import pack_submission, unpack_submission
    from grading.submission import Result, _find_notebooks

    folder = tmp_path / "submitted"
    (folder / ".ipynb_checkpoints").mkdir(parents=True)
    (folder / "work").mkdir()
    notebook = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()
    (folder / f"Copy of {ASSIGNMENT}.ipynb").write_bytes(notebook)
    (folder / ".ipynb_checkpoints" / f"{ASSIGNMENT}-checkpoint.ipynb").write_bytes(notebook)
    (folder / "timestamp.txt").write_text("2025-01-15 10:00:00.000000 UTC")
    (folder / "helper.py").write_text("x = 1\n")
    (folder / "work" / "data.csv").write_text("a,b\n")
    with open(folder / "large.bin", "wb") as handle:
        handle.truncate(5 << 20)
    os.mkfifo(folder / "pipe")
    (folder / "solution.ipynb").symlink_to(REPO_ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    (folder / "linked-folder").symlink_to(REPO_ROOT / "solutions")

    entries = pack_submission(folder)  # returns at once: the named pipe is not opened
    kinds = {path: kind for path, kind, _ in entries}
    assert "pipe" not in kinds
    assert kinds["solution.ipynb"] == kinds["linked-folder"] == "link"
    assert kinds["large.bin"] == "size"
    copy = tmp_path / "copy"
    unpack_submission(entries, copy)
    assert (copy / "large.bin").stat().st_size == 5 << 20
    assert (copy / "timestamp.txt").read_bytes() == (folder / "timestamp.txt").read_bytes()

    original, rebuilt = Result("s", ASSIGNMENT), Result("s", ASSIGNMENT)
    found = _find_notebooks(folder, [ASSIGNMENT], original)
    found_copy = _find_notebooks(copy, [ASSIGNMENT], rebuilt)
    assert {k: p.relative_to(folder) for k, p in found.items()} == \
        {k: p.relative_to(copy) for k, p in found_copy.items()} == {ASSIGNMENT: Path(f"Copy of {ASSIGNMENT}.ipynb")}
    assert found_copy[ASSIGNMENT].read_bytes() == notebook
    assert (original.flags, original.notes) == (rebuilt.flags, rebuilt.notes)
    assert any("solution.ipynb" in flag for flag in rebuilt.flags)
    with pytest.raises(ValueError):
        unpack_submission([("../outside", "file", b"")], tmp_path / "other")
