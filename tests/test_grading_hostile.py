"""Instructor grading against hostile submissions, as root and as an ordinary user.

Most instructors grade as an ordinary user (a course JupyterHub), where a sandbox of the grader's
own uid could do anything the instructor can. Here an ordinary user created by the test
(``useradd``) and root each run ``python -m grading grade`` (the code behind ``make grade``) from a
checkout of the grader that the grading user owns, on a batch holding an honest correct student,
an honest wrong student and one submission per attack of the red team's list. Each attack must
cost nobody but its author: the honest students' scores come out as always, no process of a
sandbox is left afterwards, the grader's code and the gradebook are untouched, nothing of the
grader's environment or the host (IPC, sockets, network, /run) is reached.

The grader's Python lives under /root (mode 700) on this machine, as it would under another
user's home: the ordinary user's grader runs in a mount namespace in which /root shows only that
installation (what an instructor's own Python installation gives them), then drops to the user.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

import test_grading_tampering as tampering
from test_grading_batch import ASSIGNMENT, FORMULA_ID, REPO_ROOT, Plan, insert_cell, first_answer_index, \
    make_course, output_text, untrusted_folders, write_submissions

pytestmark = pytest.mark.grading

SECRET = "GRADER-SECRET-" + uuid.uuid4().hex  # in the grader's environment only
SHM_KEY = 0x6764_0001
GRADER_FILES = ("grading", "gdlib", "gdcheck", "tools", "chapters", "course.yml", "nbgrader_config.py", "_toc.yml")

EDIT_GRADER = '''\
import os, pathlib, signal
repo = pathlib.Path({repo!r})
import gdcheck
targets = [repo / "gdcheck" / "_engine.py", repo / "grading" / "submission.py",
           repo / "grading" / "sandbox_runner.py", pathlib.Path(gdcheck.__file__).parent / "_engine.py"]
wrote = 0
for target in targets:
    try:
        with open(target, "a") as handle:
            handle.write("\\nBACKDOOR = True\\n")
        wrote += 1
    except Exception as exc:
        print("blocked", target, type(exc).__name__)
print("WROTE", wrote)
for pid in (os.getppid(), 1):
    try:
        os.kill(pid, signal.SIGKILL)
    except Exception as exc:
        print("no kill", pid, type(exc).__name__)
'''

DAEMON = '''\
import os, time, pathlib
course = pathlib.Path({course!r})
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        import ctypes
        ctypes.CDLL(None).prctl(15, {marker!r}.encode(), 0, 0, 0)
        end = time.time() + 600
        while time.time() < end:
            for target in (course / "grades.csv", course / "gradebook.db",
                           course / "feedback" / "reference" / {assignment!r} / "{assignment}.html"):
                try:
                    target.write_text("REWRITTEN BY A DAEMON")
                except Exception:
                    pass
            time.sleep(0.2)
        os._exit(0)
    os._exit(0)
print("DAEMON started")
'''

ENVIRON = '''\
import os
pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
seen = []
for pid in pids:
    for part in ("environ", "cmdline"):
        try:
            seen.append(open(f"/proc/{{pid}}/{{part}}", "rb").read().decode(errors="replace"))
        except Exception:
            pass
print("PIDS", pids)
print("SEEN", " | ".join(seen)[:20000])
print("ROOT", sorted(os.listdir("/")))
import sys
venv = [p for p in sys.path if p.endswith("site-packages") and "pyenv" not in p][0]
print("VENV_PARENT", sorted(os.listdir(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(venv)))))))
'''

KILLER = '''\
import os, signal
try:
    os.kill(-1, signal.SIGKILL)
    print("KILL -1 sent")
except Exception as exc:
    print("KILL -1", type(exc).__name__)
killed = 0
for pid in range(3, 4_194_304 if os.path.exists("/proc/sys/kernel/pid_max") else 65536):
    if pid > 70000:
        break
    try:
        os.kill(pid, signal.SIGKILL)
        killed += 1
    except Exception:
        pass
print("KILLED", killed)
'''

HOST = '''\
import ctypes, os, socket
c = ctypes.CDLL(None, use_errno=True)
print("SHM", c.shmget({shm_key}, 4096, 0o1000 | 0o600))
for folder in ("/run", "/var/run", "/tmp", "/run/lock", "/dev/shm"):
    try:
        print("LIST", folder, sorted(os.listdir(folder)))
    except Exception as exc:
        print("LIST", folder, type(exc).__name__)
try:
    with open("/run/lock/gd-hostile", "w") as handle:
        handle.write("x")
    print("RUNLOCK wrote")
except Exception as exc:
    print("RUNLOCK", type(exc).__name__)
import sys
for folder in [p for p in sys.path if p.endswith("site-packages")]:
    try:
        with open(os.path.join(folder, "gd-hostile.pth"), "w") as handle:
            handle.write("import os")
        print("VENV wrote", folder)
    except Exception as exc:
        print("VENV", type(exc).__name__)
probe = socket.socket()
probe.settimeout(2)
try:
    probe.connect(("127.0.0.1", {port}))
    print("NET connected")
except Exception as exc:
    print("NET", type(exc).__name__)
'''

HOG = '''\
import os
kids = 0
for _ in range(400):
    try:
        if os.fork() == 0:
            import ctypes, time
            ctypes.CDLL(None).prctl(15, {marker!r}.encode(), 0, 0, 0)
            time.sleep(600)
            os._exit(0)
        kids += 1
    except OSError as exc:
        print("FORK refused", type(exc).__name__)
        break
print("KIDS", kids)
written = 0
try:
    with open("fill.bin", "wb") as handle:
        while written < (2 << 30):
            handle.write(b"x" * (1 << 20))
            handle.flush()
            written += 1 << 20
except OSError as exc:
    print("DISK", type(exc).__name__)
print("WRITTEN_MB", written >> 20)
'''

ATTACKS = {"edit-grader": EDIT_GRADER, "daemon": DAEMON, "environ": ENVIRON, "killer": KILLER,
           "host": HOST, "hog": HOG}


# -- the grading user and the batch -----------------------------------------------------------

def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        h.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return h.hexdigest()


def _host_shm_keys() -> set[int]:
    try:
        lines = Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
    except OSError:
        return set()
    return {int(line.split()[0]) for line in lines if line.split()}


def _processes_named(marker: str) -> list[str]:
    """Processes an attack started and named ``marker`` (its daemon, the hog's children)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            if status.startswith(f"Name:\t{marker}\n") and "\nState:\tZ" not in status:
                found.append(f"{entry.name}: {status.splitlines()[:3]}")
    return found


class GradingUser:
    """An ordinary user made for this test (removed after), or root."""

    def __init__(self, mode: str):
        self.mode = mode
        self.name = "root"
        if mode == "user":
            self.name = "gdgrade" + uuid.uuid4().hex[:6]
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", self.name],
                           check=True, capture_output=True)
        entry = pwd.getpwnam(self.name)
        self.uid, self.gid = entry.pw_uid, entry.pw_gid

    def own(self, path: Path) -> None:
        for folder, dirs, files in os.walk(path):
            for name in [folder] + [os.path.join(folder, n) for n in dirs + files]:
                os.lchown(name, self.uid, self.gid)

    def preexec(self):
        """As the user: a mount namespace showing only the Python installation under /root."""
        if self.mode != "user":
            return None
        from grading import isolation
        settings = {"hidden": ["/root"], "keep": [os.path.realpath(sys.base_prefix)], "network_namespace": False}
        uid, gid = self.uid, self.gid
        isolation.libc()

        def run():
            isolation.hide(settings)
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
        return run

    def run(self, argv: list[str], cwd: Path, home: Path, extra_env: dict | None = None) -> subprocess.CompletedProcess:
        env = {"PATH": f"{REPO_ROOT / '.venv' / 'bin'}:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8",
               "PYTHONPATH": str(cwd), "OPENBLAS_NUM_THREADS": "1", "GRADER_TOKEN": SECRET, **(extra_env or {})}
        return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=900,
                              preexec_fn=self.preexec())

    def processes(self) -> list[str]:
        """The user's processes still running. Zombies are left out: this machine's PID 1 does not
        reap the grader's own helpers (multiprocessing's) orphaned at its exit; a sandbox's
        processes cannot be orphaned to it (they die with their PID namespace)."""
        if self.mode != "user":
            return []
        done = subprocess.run(["ps", "-o", "pid=,stat=,args=", "-u", str(self.uid)], capture_output=True, text=True)
        return [line for line in done.stdout.splitlines() if line.split()[1:2] != ["Z"]]

    def remove(self) -> None:
        if self.mode == "user":
            subprocess.run(["pkill", "-KILL", "-u", str(self.uid)], capture_output=True)
            subprocess.run(["userdel", self.name], capture_output=True)


def _checkout(root: Path) -> Path:
    """The grader's own copy of the course code, as an instructor's checkout (owned by them)."""
    repo = root / "grader"
    repo.mkdir()
    for name in GRADER_FILES:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, repo / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc",
                                                                                ".ipynb_checkpoints"))
        elif source.exists():
            shutil.copy2(source, repo / name)
    return repo


def _read_grades(course: Path) -> dict:
    path = course / "grades.csv"
    if not path.exists():
        return {}
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    return {row["student_id"]: row for row in rows if row.get("assignment") == ASSIGNMENT}


def _grade(mode: str) -> dict:
    if os.geteuid() != 0:
        pytest.skip("creating the ordinary grading user needs root (useradd)")
    from grading import bubblewrap
    if bubblewrap.executable() is None:
        pytest.skip("bubblewrap is not installed here (make test installs Debian's bubblewrap)")
    user = GradingUser(mode)
    root = Path(tempfile.mkdtemp(prefix=f"gd-hostile-{mode}-", dir="/tmp"))
    os.chmod(root, 0o755)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    try:
        repo = _checkout(root)
        course = make_course(root)
        plan = Plan(course)
        subs = {"reference": plan.reference(), "wrong": plan.notebook(plan.wrong_answers())}
        marker = "gdh" + uuid.uuid4().hex[:8]
        values = {"repo": str(repo), "course": str(course), "assignment": ASSIGNMENT, "shm_key": SHM_KEY,
                  "port": listener.getsockname()[1], "marker": marker}
        for name, source in ATTACKS.items():
            nb = plan.notebook(plan.wrong_answers())
            subs[name] = insert_cell(nb, first_answer_index(nb), source.format(**values))
        subs.update(tampering.submissions(plan, course))  # the older red team's, in this mode too
        write_submissions(course, subs)
        for student, files in tampering.extra_files().items():
            for name, data in files.items():
                (course / "submitted" / student / ASSIGNMENT / name).write_text(data)
        for student, files in tampering.links(course).items():
            for name, target in files.items():
                link = course / "submitted" / student / ASSIGNMENT / name
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(target)
        untrusted_folders(course, plan)
        home = root / "home"
        home.mkdir()
        user.own(root)
        before = {"grader": _digest(repo), "shm": _host_shm_keys()}
        started = time.monotonic()
        done = user.run([str(REPO_ROOT / ".venv" / "bin" / "python"), "-m", "grading", "grade", ASSIGNMENT,
                         "--course", str(course), "--workers", "2", "--timeout", "20"], repo, home)
        seconds = time.monotonic() - started
        time.sleep(1.0)
        try:
            connection = listener.accept()[0]
            connection.close()
            connected = True
        except BlockingIOError:
            connected = False
        feedback = {p.parent.parent.name: p.read_text(encoding="utf-8", errors="replace")
                    for p in (course / "feedback").glob(f"*/{ASSIGNMENT}/*.html")}
        autograded = {p.parent.parent.name: "\n".join(output_text(c) for c in json.loads(p.read_text())["cells"])
                      for p in (course / "autograded").glob(f"*/{ASSIGNMENT}/{ASSIGNMENT}.ipynb")}
        return {"mode": mode, "returncode": done.returncode, "stdout": done.stdout, "stderr": done.stderr,
                "seconds": seconds, "grades": _read_grades(course), "max_score": plan.max_score,
                "feedback": feedback, "autograded": autograded, "connected": connected,
                "grades_csv": (course / "grades.csv").read_text() if (course / "grades.csv").exists() else "",
                "grader_before": before["grader"], "grader_after": _digest(repo),
                "shm_new": sorted(_host_shm_keys() - before["shm"]),
                "run_lock": Path("/run/lock/gd-hostile").exists(),
                "left_user": user.processes(), "left_attack": _processes_named(marker),
                "gradebook_size": (course / "gradebook.db").stat().st_size if (course / "gradebook.db").exists() else 0}
    finally:
        listener.close()
        user.remove()
        shutil.rmtree(root, ignore_errors=True)
        Path("/run/lock/gd-hostile").unlink(missing_ok=True)


@pytest.fixture(scope="module", params=["user", "root"])
def hostile(request) -> dict:
    return _grade(request.param)


def _score(batch, student) -> float:
    row = batch["grades"].get(student)
    assert row is not None, (student, batch["stdout"][-3000:], batch["stderr"][-3000:])
    return float(row["score"])


def _outputs(batch, student) -> str:
    return batch["autograded"].get(student, "")


# -- the tests ---------------------------------------------------------------------------------

def test_the_grader_ran_in_bubblewrap_and_the_honest_students_score_as_always(hostile):
    assert hostile["returncode"] == 0, hostile["stderr"][-3000:]
    assert "sandbox: bubblewrap" in hostile["stdout"], hostile["stdout"][-2000:]
    assert _score(hostile, "reference") == hostile["max_score"]
    assert _score(hostile, "wrong") == 0
    for attack in ATTACKS:
        assert _score(hostile, attack) == 0, attack


def test_the_older_red_teams_tampering_scores_nothing_in_this_mode_too(hostile):
    """tests/test_grading_tampering.py's submissions (monkeypatching, hooks, lying objects, shadow
    files, reading secrets, fake scores, delegation behind the watcher's back, a link to the
    solution) and the folders that once stopped a batch, graded as this user."""
    full = {"points-changed", "bad-timestamp", "fifo-timestamp"}  # right answers: they keep their points
    for student in _tampering_students():
        expected = hostile["max_score"] if student in full else 0
        assert _score(hostile, student) == expected, (student, hostile["mode"])
    assert "symlink" not in hostile["grades"] or _score(hostile, "symlink") == 0
    # folder names that once stopped a batch or forged a row: refused, or recorded inert
    assert not any(k in hostile["grades"] for k in ("linked-folder", "bad\nid", "bad", "id", "caf\xe9"))
    formula = [k for k in hostile["grades"] if k.lstrip("'") == FORMULA_ID]
    assert formula and float(hostile["grades"][formula[0]]["score"]) == hostile["max_score"], hostile["grades"].keys()
    rows = list(csv.reader(io.StringIO(hostile["grades_csv"])))
    assert len({len(row) for row in rows}) == 1, rows  # no forged or broken row
    secrets = _outputs(hostile, "read-secrets")
    assert "FOUND 0 []" in secrets and "WROTE" not in secrets, secrets[-2000:]
    assert "PWNED" not in _outputs(hostile, "shadow-files")
    assert "gdlib.nn.gradcheck.numerical_gradient is not available to your code while this check runs" \
        in _outputs(hostile, "gdlib-unwatched")


def _tampering_students() -> list[str]:
    return ["edit-tests", "comment-tests", "delete-tests", "points-changed", "monkeypatch", "ipython-hooks",
            "always-equal", "shadow-files", "read-secrets", "fake-score", "grading-detector", "watcher-off",
            "gdlib-unwatched", "bad-timestamp", "fifo-timestamp"]


def test_no_process_of_a_sandbox_outlives_grading(hostile):
    assert "DAEMON started" in _outputs(hostile, "daemon")
    assert hostile["left_user"] == [], hostile["left_user"]
    assert hostile["left_attack"] == [], hostile["left_attack"]


def test_the_graders_code_and_records_are_out_of_reach(hostile):
    text = _outputs(hostile, "edit-grader")
    assert "WROTE 0" in text, text[-2000:]
    assert hostile["grader_after"] == hostile["grader_before"]
    for student, page in hostile["feedback"].items():
        assert student == "daemon" or "REWRITTEN BY A DAEMON" not in page, student
    assert hostile["gradebook_size"] > len("REWRITTEN BY A DAEMON")


def test_the_graders_environment_and_other_processes_are_invisible(hostile):
    text = _outputs(hostile, "environ")
    assert re.search(r"PIDS \[1, 2(, \d+)*\]", text), re.findall("PIDS.*", text)
    pids = json.loads(re.search(r"PIDS (\[[^\]]*\])", text).group(1))
    assert len(pids) <= 3, pids  # PID 1 (the sandbox's init), the runner, at most one child
    root = set(json.loads(re.search(r"ROOT (\[[^\]]*\])", text).group(1).replace("'", '"')))
    allowed = {"bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "proc", "dev", "tmp", "box", "grading"}
    allowed |= {Path(p).parts[1] for p in (sys.prefix, sys.base_prefix, os.path.realpath(sys.base_prefix))}
    assert root <= allowed, root - allowed
    assert re.search(r"VENV_PARENT \['\.venv'\]", text), text[-2000:]  # the venv, not the repository
    for page in list(hostile["feedback"].values()) + list(hostile["autograded"].values()):
        assert SECRET not in page


def test_a_sandbox_cannot_kill_the_others(hostile):
    assert "KILLED 0" in _outputs(hostile, "killer"), _outputs(hostile, "killer")[-2000:]
    assert _score(hostile, "reference") == hostile["max_score"]


def test_host_ipc_sockets_run_and_network_are_unreachable(hostile):
    text = _outputs(hostile, "host")
    assert "SHM" in text
    # the attack's own key: other tests running beside this one (PostgreSQL) may make segments
    assert SHM_KEY not in hostile["shm_new"], "a SysV segment outlived the sandbox"
    assert "RUNLOCK wrote" not in text and not hostile["run_lock"]
    assert "NET connected" not in text and not hostile["connected"]
    assert "VENV wrote" not in text and "VENV " in text
    # /tmp is the sandbox's own, empty but for the folders above a venv kept there (a clone in /tmp)
    kept = sorted({Path(p).parts[2] for p in (os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix))
                   if p.startswith("/tmp/")})
    assert "LIST /run FileNotFoundError" in text and f"LIST /tmp {kept!r}" in text, text[-2000:]


def test_processes_and_disk_are_bounded(hostile):
    text = _outputs(hostile, "hog")
    kids = int(re.search(r"KIDS (\d+)", text).group(1))
    written = int(re.search(r"WRITTEN_MB (\d+)", text).group(1))
    assert "FORK refused" in text and kids < 256, text[-2000:]
    assert "DISK OSError" in text and written <= 64, text[-2000:]


# -- without bubblewrap ------------------------------------------------------------------------

def test_without_a_sandbox_an_ordinary_user_is_refused_unless_unsafe_same_user():
    if os.geteuid() != 0:
        pytest.skip("creating the ordinary grading user needs root (useradd)")
    user = GradingUser("user")
    root = Path(tempfile.mkdtemp(prefix="gd-unsafe-", dir="/tmp"))
    os.chmod(root, 0o755)
    try:
        repo = _checkout(root)
        course = make_course(root)
        plan = Plan(course)
        write_submissions(course, {"reference": plan.reference(), "wrong": plan.notebook(plan.wrong_answers())})
        (root / "home").mkdir()
        user.own(root)
        argv = [str(REPO_ROOT / ".venv" / "bin" / "python"), "-m", "grading", "grade", ASSIGNMENT,
                "--course", str(course), "--workers", "1"]
        no_bwrap = {"GRADING_BWRAP": "/nonexistent/bwrap"}
        refused = user.run(argv, repo, root / "home", no_bwrap)
        assert refused.returncode == 1, (refused.stdout, refused.stderr)
        assert "bubblewrap" in refused.stderr and "--unsafe-same-user" in refused.stderr, refused.stderr
        assert not (course / "grades.csv").exists()
        unsafe = user.run(argv + ["--unsafe-same-user"], repo, root / "home", no_bwrap)
        assert unsafe.returncode == 0, unsafe.stderr[-3000:]
        assert "WARNING: student code can read and change everything" in unsafe.stdout
        grades = _read_grades(course)
        assert float(grades["reference"]["score"]) == plan.max_score
        assert float(grades["wrong"]["score"]) == 0
    finally:
        user.remove()
        shutil.rmtree(root, ignore_errors=True)


def test_the_trust_page_states_the_limits_the_code_sets():
    from grading import isolation
    from grading.sandbox import Isolation
    from grading.submission import Options
    page = (REPO_ROOT / "instructors" / "grading-trust.md").read_text()
    assert f"tmpfs of {Isolation('', '', '', '', '').scratch_mb} MB" in page
    assert f"at most {isolation.MAX_PROCESSES} processes" in page
    assert f"`--submission-timeout`, {Options().submission_seconds:g} s" in page
    assert f"{Options().memory_mb // 1024} GB by default" in page
    assert "instructors/grading-trust" in (REPO_ROOT / "_toc.yml").read_text()


# -- the grader's own look at the submitted code (grading/code_review.py) ------------------------

def test_honest_answers_and_references_raise_no_code_review_flag():
    from grading.code_review import review
    from honest_answers import submissions
    from test_grading_batch import nbgrader_meta, text
    for notebook in sorted((REPO_ROOT / "solutions").glob("*/*.ipynb")):
        assignment = notebook.parent.name
        if notebook.stem != assignment:
            continue
        cells = json.loads(notebook.read_text())["cells"]
        assert review([text(c) for c in cells if nbgrader_meta(c).get("solution")]) == [], assignment
        for name, source in submissions(assignment).items():
            assert review([source]) == [], (assignment, name)


def test_gdlib_code_under_another_name_or_run_from_its_source_is_flagged():
    import inspect

    from grading.code_review import review
    from gdlib.nn import gradcheck
    source = inspect.getsource(gradcheck.numerical_gradient)
    renamed = source.replace('"""', "'''", 2).replace("def numerical_gradient", "def my_gradient")
    assert review(["import numpy as np\n\n" + renamed]) == [
        "my_gradient is the code of gdlib.nn.gradcheck.numerical_gradient (same bytecode, names and constants)"]
    flags = review(["import inspect\nimport gdlib.nn.gradcheck as g\n"
                    "exec(inspect.getsource(g.numerical_gradient).replace('numerical', 'my'))"])
    assert len(flags) == 1 and "makes or reads code at run time (exec(), getsource(), inspect)" in flags[0]
    assert review(["import re\npattern = re.compile('a+')\ndef f(x):\n    return x"]) == []
    own_name = review(["def adam_step(*args):\n    from gdlib.optim import adam_step as reference\n"
                       "    return reference(*args)"])
    assert len(own_name) == 1 and own_name[0].startswith("uses gdlib.optim.adam_step of gdlib"), own_name
    private = review(["import gdlib.optim.rules as o\ndef my_step(p, g, s):\n    return o._adam_update(p, g, s)"])
    assert len(private) == 1 and private[0].startswith("uses gdlib.optim.rules._adam_update of gdlib"), private
    assert review(["from gdlib.landscapes import quadratic\nbowl = quadratic(10.0)"]) == []
    hidden = review(["import sys, gdlib.optim as o\nsys.__dict__['setprof' + 'ile'](None)\n"
                     "step = getattr(o, 'adam' + '_step')"])
    assert len(hidden) == 1 and "(__dict__, getattr())" in hidden[0], hidden
    assert review(["import numpy as np\nlr = getattr(np, 'float64')(0.1)"]) == []


def test_a_submission_running_gdlib_code_is_flagged_in_a_batch(tmp_path):
    import inspect

    from gdlib.nn import gradcheck
    from grading import grade_assignment
    if ASSIGNMENT != "gradient-descent":
        pytest.skip("the batch's assignment has no numerical_gradient")
    course = make_course(tmp_path)
    plan = Plan(course)
    copied = inspect.getsource(gradcheck.numerical_gradient)
    answers = dict(plan.answers)
    gid = plan.functions["numerical_gradient"]
    answers[gid] = "import numpy as np\n\n" + copied
    write_submissions(course, {"reference": plan.reference(), "copied": plan.notebook(answers)})
    report = grade_assignment(ASSIGNMENT, course, workers=1, timeout=30)
    results = {r.student: r for r in report.results}
    assert results["reference"].status == "graded" and results["reference"].flags == []
    assert results["copied"].status == "flagged"
    assert "numerical_gradient is the code of gdlib.nn.gradcheck.numerical_gradient" in " ".join(results["copied"].flags)


# -- limits of a whole submission and of the grader's own worker ----------------------------------

def test_many_cells_each_just_under_the_cell_limit_hit_the_submission_limit(tmp_path):
    from grading import grade_assignment
    course = make_course(tmp_path)
    plan = Plan(course)
    slow = plan.notebook(plan.wrong_answers())
    for _ in range(4):
        slow = insert_cell(slow, first_answer_index(slow), "import time\ntime.sleep(3.5)")
    write_submissions(course, {"reference": plan.reference(), "slow": slow})
    report = grade_assignment(ASSIGNMENT, course, workers=2, timeout=4, submission_seconds=8)
    results = {r.student: r for r in report.results}
    assert results["reference"].status == "graded" and results["reference"].score == plan.max_score
    assert results["slow"].status == "timed out" and results["slow"].score == 0
    assert "the submission used up its 8 s; later cells were not run" in results["slow"].reason
    assert results["slow"].seconds < 8 + 20


def test_the_grading_worker_cannot_grow_without_bound():
    code = ("import numpy as np\nfrom grading import pool\npool.WORKER_MEMORY_MB = 512\npool._bound_memory()\n"
            "try:\n    np.ones(2 << 30, dtype=np.uint8)\nexcept MemoryError:\n    print('bounded')\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)), timeout=120)
    assert done.stdout.strip() == "bounded", done.stderr[-2000:]


def test_reaching_past_the_sealed_gdlib_is_flagged():
    """What could find a sealed function's original (grading/sealing.py), or run code under a file
    name of the submission's choosing, is flagged for a person."""
    from grading.code_review import review
    for source, word in [
        ("import gdlib._sealed as s\ns.FORBIDDEN = ()", "gdlib._sealed"),
        ("from gdlib._sealed import guard", "gdlib._sealed"),
        ("import gdlib.optim as o\nf = o.adam_step.__closure__[1].cell_contents", "__closure__"),
        ("import gdlib.optim as o\nf = o.adam_step.__wrapped__", "__wrapped__"),
        ("import gc\nfound = gc.get_referents(len)", "gc"),
        ("import codeop\nc = codeop.compile_command('x = 1', '/grading/lib/gdlib/x.py')", "codeop"),
        ("import runpy\nrunpy.run_path('/tmp/x.py')", "runpy"),
        ("import pickle\npickle.loads(b'')", "pickle"),
        ("import sys\nframe = sys._getframe().f_back", "f_back"),
    ]:
        flags = review([source])
        assert len(flags) == 1 and word in flags[0], (source, flags)
