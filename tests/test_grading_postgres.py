"""The gradebook on a real PostgreSQL server, shared by two graders writing at the same time.

A course of several machines points every grader at one PostgreSQL gradebook (``db_url`` in
nbgrader_config.py) and gives each a share of the students (``--student``). This test starts
Debian's PostgreSQL on 127.0.0.1 (its own cluster in a temporary folder, stopped afterwards),
runs two ``python -m grading grade`` processes at once on two halves of the class, and checks
that every grade is there exactly once with the right score, and that running both again
changes nothing. It skips, saying why, only where PostgreSQL is not installed.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from test_grading_batch import ASSIGNMENT, REPO_ROOT, Plan, make_course, write_submissions

pytestmark = pytest.mark.grading


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(args, **kwargs):
    """Run a PostgreSQL program as the ``postgres`` user (the server refuses to run as root)."""
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--"] + [str(a) for a in args]
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=120, **kwargs)


@pytest.fixture(scope="module")
def postgres():
    """postgresql:// URL of a fresh database on a server of our own on 127.0.0.1."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (make test installs Debian's postgresql)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("no postgres user to run the server as")
    # not under pytest's folder: that is private to root, and the server runs as postgres
    base = Path(tempfile.mkdtemp(prefix="gd-postgres-"))
    data, sockets = base / "data", base / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sockets, "postgres")
    port = _free_port()
    _as_postgres([bin_dir / "initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"])
    _as_postgres([bin_dir / "pg_ctl", "-D", data, "-l", base / "server.log", "-w", "-o",
                  f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets} -c fsync=off", "start"])
    try:
        _as_postgres([bin_dir / "createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
                      "gradebook"])
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/gradebook"
    finally:
        _as_postgres([bin_dir / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop"])
        shutil.rmtree(base, ignore_errors=True)


def _grade(course: Path, students: list[str]) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    return subprocess.Popen([sys.executable, "-m", "grading", "grade", ASSIGNMENT, "--course", str(course),
                             "--workers", "1", "--no-feedback", "--timeout", "60", "--student", *students],
                            cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def _submission_rows(url: str) -> list[tuple]:
    import sqlalchemy
    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    with engine.connect() as connection:
        rows = connection.execute(sqlalchemy.text(
            "SELECT s.student_id, count(*) FROM submitted_assignment s "
            "GROUP BY s.student_id ORDER BY s.student_id")).fetchall()
    engine.dispose()
    return [tuple(r) for r in rows]


def test_two_graders_share_one_postgresql_gradebook(postgres, tmp_path):
    course = make_course(tmp_path)
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(f"\nc.CourseDirectory.db_url = {postgres!r}\n")
    plan = Plan(course)
    right, wrong = plan.reference(), plan.notebook(plan.wrong_answers())
    students = {f"s{k}": right if k % 2 == 0 else wrong for k in range(6)}
    write_submissions(course, students)
    halves = [["s0", "s1", "s2"], ["s3", "s4", "s5"]]

    from grading.gradebook import load_course, read_scores
    expected = {s: plan.max_score if nb is right else 0.0 for s, nb in students.items()}
    for attempt in range(2):  # the second time: a re-run must change nothing
        graders = [_grade(course, half) for half in halves]
        outputs = [g.communicate(timeout=600)[0] for g in graders]
        assert [g.returncode for g in graders] == [0, 0], "\n".join(outputs)
        scores = read_scores(load_course(course), ASSIGNMENT)
        assert {s: v["score"] for s, v in scores.items()} == expected, (attempt, outputs)
        assert _submission_rows(postgres) == [(s, 1) for s in sorted(students)]
    assert not (course / "gradebook.db").exists()  # nothing went to a local SQLite file
