"""Start, talk to and stop the sandbox process that runs one student's code.

A sandbox is a ``python -S -s -P -B`` process running grading/sandbox_runner.py from a
*runtime* folder that holds only copies of what student code may import from this repository
(gdlib, gdcheck) and the runner itself. Each worker keeps a *zygote*, a process of that kind
that has imported numpy, IPython and gdcheck and never runs student code: it forks each sandbox,
which isolates itself (grading/isolation.py) before it runs anything else, so a sandbox starts
in milliseconds instead of a second (without the zygote, each sandbox is its own process). Its working directory is a fresh, empty *box* holding only the assignment's
allowed data files; its environment is rebuilt from scratch (no variable of the grader's).
When the grader runs as root (a course server, a container), each sandbox also

- runs as its own unprivileged uid (``uid_base + worker slot``, from a block of uids reserved
  for this batch), so sandboxes of two students cannot read each other's box or memory, and
  cannot signal the grader or another batch;
- gets a private mount namespace in which the course folder, this repository, /root, /home,
  /srv (nbgrader's exchange), /tmp and /dev/shm are empty tmpfs, with only the Python
  installation, the virtual environment and the runtime folder mounted back (read-only is not
  needed: the uid cannot write them); so solutions/, the gradebook, nbgrader_config.py,
  submitted/, autograded/ and feedback/ do not exist for student code;
- gets a private network namespace (no network), ``no_new_privs`` and resource limits: address
  space (``--memory``), processes, file size, no core dumps.

Without root, the sandbox runs as the grader's user with the same folder, environment and
limits, but the instructor's files stay readable to it: the report says so.
"""

from __future__ import annotations

import atexit
import compileall
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import bubblewrap, isolation, protocol, sealing
from .isolation import STAGING, inside as _inside, kill_uid

REPO_ROOT = Path(__file__).resolve().parent.parent
INSTRUCTOR_ROOTS = ("/root", "/home", "/srv", "/var/tmp", "/dev/shm")
RUNTIME_MODULES = ("protocol.py", "codec.py", "sandbox_runner.py", "watch.py", "zygote.py", "isolation.py")
START_TIMEOUT = 60.0
UID_BASE, UID_BLOCK = 200_000, 256


class SandboxError(Exception):
    """The sandbox could not start, or broke the protocol."""


class IsolationUnavailable(Exception):
    """Neither bubblewrap nor root is at hand, and the instructor did not accept same-user grading."""


class SandboxDied(BaseException):
    """The sandbox process ended (student code killed it, or it ran out of memory).

    A BaseException, so that no ``except Exception`` in a check turns it into a test failure
    message and carries on calling a dead process."""


class SandboxTimeout(BaseException):
    """The current cell used up its time; the sandbox is killed."""


@dataclass
class Isolation:
    """How sandboxes are built; prepared once per batch by :func:`prepare_runtime`."""

    runtime: str
    lib: str
    data: str
    python: str
    site_packages: str
    hidden: list[str] = field(default_factory=list)
    keep: list[str] = field(default_factory=list)
    sensitive: list[str] = field(default_factory=list)
    as_root: bool = False
    namespaces: bool = False
    network_namespace: bool = False
    uid_base: int = UID_BASE
    bubblewrap: bool = False
    visible: list[tuple[str, str]] = field(default_factory=list)  # bubblewrap: (outside, inside), read-only
    scratch_mb: int = 64
    cpu_seconds: int = 0
    why_not_bubblewrap: str = ""
    sealed: list[str] = field(default_factory=list)  # functions the sandbox's copies guard (sealing.py)

    @property
    def settings(self) -> dict:
        """What :mod:`grading.isolation` needs, as plain data (it also travels to the zygote)."""
        return {"hidden": self.hidden, "keep": self.keep, "as_root": self.as_root,
                "namespaces": self.namespaces, "network_namespace": self.network_namespace,
                "bubblewrap": self.bubblewrap, "scratch_mb": self.scratch_mb, "data": self.data_inside,
                "visible": [inside for _, inside in self.visible],
                "cpu_seconds": self.cpu_seconds}

    @property
    def lib_inside(self) -> str:
        """The runtime's lib folder as a sandbox sees it."""
        return bubblewrap.LIB if self.bubblewrap else self.lib

    @property
    def data_inside(self) -> str:
        return bubblewrap.DATA if self.bubblewrap else self.data

    @property
    def description(self) -> str:
        if self.bubblewrap:
            return ("sandbox: bubblewrap, instructor files hidden (only the Python runtime visible, "
                    "read-only), own PID, mount and IPC namespaces, no network, own size-limited scratch, "
                    "no capabilities" + (", own uid" if self.as_root else ""))
        if self.as_root and self.namespaces:
            return ("sandbox: own uid, instructor files hidden (mount namespace)"
                    + (", no network" if self.network_namespace else ""))
        if self.as_root:
            return "sandbox: own uid (WARNING: no mount namespace; files readable by others are visible)"
        return ("sandbox: same user as the grader, --unsafe-same-user (WARNING: student code can read "
                "and change everything the grader can, solutions/ and the gradebook included; "
                f"{self.why_not_bubblewrap})")


def _outermost(paths: list[str]) -> list[str]:
    paths = sorted(set(paths), key=len)
    out: list[str] = []
    for p in paths:
        if not any(p == q or p.startswith(q.rstrip("/") + "/") for q in out):
            out.append(p)
    return out


_UID_LOCKS: dict[str, object] = {}


def _reserve_uids(runtime: str) -> int:
    """The first uid of a block of UID_BLOCK uids no other batch on this machine is using (a lock
    file held until :func:`cleanup_runtime`), so batches graded at the same time never kill or
    read each other's sandboxes."""
    import fcntl
    folder = Path(tempfile.gettempdir()) / "grading-uids"
    folder.mkdir(mode=0o700, exist_ok=True)
    for block in range(4096):
        handle = open(folder / f"{block}.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        _UID_LOCKS[runtime] = handle
        return UID_BASE + block * UID_BLOCK
    raise RuntimeError("no free block of sandbox uids")


def prepare_runtime(course_root: Path, data_files: list[Path], *, graded: tuple[str, ...] = (),
                    unsafe_same_user: bool = False, cpu_seconds: int = 0) -> Isolation:
    """Make the runtime folder (lib copies, data files) and decide how sandboxes are isolated.

    ``graded`` names the functions the assignment's answer cells define: in the copies of gdlib and
    gdcheck, their checks' references are sealed (:mod:`grading.sealing`).

    Bubblewrap first (grading/bubblewrap.py), as root and as an ordinary user; without it, as
    root, the grader's own namespaces and a uid per sandbox; without either, grading refuses
    (:class:`IsolationUnavailable`) unless ``unsafe_same_user``: student code would then run as
    the grader's user and could read and change everything the grader can."""
    runtime = Path(tempfile.mkdtemp(prefix="grading-runtime-"))
    os.chmod(runtime, 0o711)
    lib, data = runtime / "lib", runtime / "data"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")
    for package in ("gdlib", "gdcheck"):
        shutil.copytree(REPO_ROOT / package, lib / package, ignore=ignore)
    sealed = sealing.seal(lib, graded)
    (lib / "gdsandbox").mkdir(parents=True)
    (lib / "gdsandbox" / "__init__.py").write_text('"""The grader\'s sandbox runner (a copy)."""\n')
    here = Path(__file__).resolve().parent
    for module in RUNTIME_MODULES:
        shutil.copy2(here / module, lib / "gdsandbox" / module)
    compileall.compile_dir(str(lib), quiet=1)
    data.mkdir()
    for path in data_files:
        shutil.copy2(path, data / path.name)
    for folder, _, files in os.walk(runtime):
        if Path(folder) != runtime:
            os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)

    python = sys.executable
    keep = sorted({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, str(runtime))})
    roots = [str(course_root.resolve()), str(REPO_ROOT), tempfile.gettempdir(),
             *[r for r in INSTRUCTOR_ROOTS if os.path.isdir(r)]]
    for path in keep:  # folders above a kept one that others cannot enter are replaced too
        parent = os.path.dirname(path)
        while parent not in ("/", ""):
            if not os.stat(parent).st_mode & 0o001:
                roots.append(parent)
            parent = os.path.dirname(parent)
    hidden = [r for r in _outermost([os.path.realpath(r) for r in roots]) if r != "/"
              and not any(_inside(r, k) for k in keep)]
    sensitive = _outermost([str(course_root.resolve()), str(REPO_ROOT)]
                           + [r for r in ("/root", "/home", "/srv") if os.path.isdir(r)])
    as_root = os.geteuid() == 0
    iso = Isolation(str(runtime), str(lib), str(data), python, sysconfig.get_paths()["purelib"],
                    hidden=hidden, keep=keep, sensitive=sensitive, as_root=as_root,
                    uid_base=_reserve_uids(str(runtime)) if as_root else os.getuid(),
                    visible=[(p, p) for p in _outermost([os.path.realpath(p) for p in (sys.prefix, sys.base_prefix)])]
                    + [(str(lib), bubblewrap.LIB), (str(data), bubblewrap.DATA)],
                    cpu_seconds=int(cpu_seconds), sealed=sealed)
    iso.bubblewrap, iso.why_not_bubblewrap = bubblewrap.works(python, iso.visible, _zygote_preexec(iso, 0))
    if iso.bubblewrap:
        return iso
    if not as_root and not unsafe_same_user:
        cleanup_runtime(iso)
        raise IsolationUnavailable(
            f"no sandbox: {iso.why_not_bubblewrap}, and the grader is not root. Install bubblewrap, "
            "or grade as root or in a container; or pass --unsafe-same-user to grade anyway, knowing "
            "that student code can then read and change everything you can (solutions/, the "
            "gradebook, other students' files).")
    if iso.as_root and os.path.isdir(STAGING):
        for namespaces, network in ((True, True), (True, False)):
            iso.namespaces, iso.network_namespace = namespaces, network
            if _probe(iso):
                break
        else:
            iso.namespaces = iso.network_namespace = False
    return iso


def cleanup_runtime(iso: Isolation) -> None:
    shutil.rmtree(iso.runtime, ignore_errors=True)
    handle = _UID_LOCKS.pop(iso.runtime, None)
    if handle is not None:
        handle.close()


def _probe(iso: Isolation) -> bool:
    box = Path(iso.runtime) / "probe"
    box.mkdir(exist_ok=True)
    try:
        done = subprocess.run([iso.python, "-S", "-c", "import os; os.listdir('.')"], cwd=box,
                              env={"PATH": "/usr/bin:/bin"}, capture_output=True, timeout=30,
                              preexec_fn=isolation.preexec(iso.settings, iso.uid_base, str(box), 512))
        return done.returncode == 0
    except (subprocess.SubprocessError, OSError):
        return False
    finally:
        shutil.rmtree(box, ignore_errors=True)


# -- the zygote -----------------------------------------------------------------------------------

def _environment(home: str) -> dict:
    """A sandbox's whole environment: nothing of the grader's."""
    return {"PATH": "/usr/bin:/bin", "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "MPLBACKEND": "Agg", "MPLCONFIGDIR": os.path.join(home, ".matplotlib"),
            "IPYTHONDIR": os.path.join(home, ".ipython"), "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0", "PYTHONIOENCODING": "utf-8"}


def _command(iso: Isolation, module: str, fd: int) -> list[str]:
    boot = (f"import sys; sys.path.insert(0, {iso.lib_inside!r}); sys.path.append({iso.site_packages!r}); "
            f"from gdsandbox.{module} import main; main()")
    return [iso.python, "-S", "-s", "-P", "-B", "-c", boot, str(fd)]


def _zygote_preexec(iso: Isolation, slot: int):
    """What runs between fork and exec of a zygote: under bubblewrap as root, hide the instructor's
    folders from the uid (bubblewrap then binds only what it is told) and become the slot's uid;
    always die with the worker."""
    settings, uid = dict(iso.settings, namespaces=True), iso.uid_base + slot
    isolation.libc()

    def run():
        if iso.as_root:
            isolation.hide(settings)
            isolation.become(uid)
        _die_with_parent()
    return run


class Zygote:
    """A template process of one worker, started once: it has imported numpy, IPython and gdcheck,
    never runs student code, and forks a fresh sandbox in milliseconds (the child isolates itself
    with grading/isolation.py before it runs anything else)."""

    def __init__(self, iso: Isolation, slot: int):
        self.iso, self.slot = iso, slot
        self.control, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        log = os.path.join(iso.runtime, f"zygote-{slot}-{os.getpid()}.log")
        command = _command(iso, "zygote", child.fileno())
        if iso.bubblewrap:
            command = bubblewrap.command(iso.visible, _environment(bubblewrap.LIB), bubblewrap.LIB,
                                         iso.scratch_mb) + command
        with open(log, "wb") as handle:
            self.process = subprocess.Popen(
                command, cwd=iso.runtime,
                env=_environment(iso.runtime), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=handle, pass_fds=(child.fileno(),), start_new_session=True,
                preexec_fn=_zygote_preexec(iso, slot) if iso.bubblewrap else _die_with_parent)
        child.close()
        if self._receive(START_TIMEOUT).get("op") != "ready":
            raise SandboxError("the sandbox zygote did not start")

    def _receive(self, timeout: float) -> dict:
        ready = select.select([self.control], [], [], timeout)[0]
        data = self.control.recv(1 << 16) if ready else b""
        if not data:
            raise SandboxError("the sandbox zygote stopped answering")
        return json.loads(data)

    def fork(self, request: dict, fds: list[int]) -> int:
        socket.send_fds(self.control, [json.dumps(dict(request, op="fork")).encode()], fds)
        return int(self._receive(30)["pid"])

    def kill(self, pid: int) -> None:
        """SIGKILL sandbox ``pid`` (a pid of the zygote's namespace, never signalled from here)."""
        self.control.send(json.dumps({"op": "kill", "pid": pid}).encode())
        self._receive(30)

    def wait(self, pid: int, timeout: float) -> int | None:
        """The exit code of sandbox ``pid`` (negative: killed by that signal), None if it runs."""
        self.control.send(json.dumps({"op": "wait", "pid": pid, "timeout": timeout}).encode())
        return self._receive(timeout + 30).get("code")

    def close(self) -> None:
        self.control.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


def _die_with_parent() -> None:
    isolation.libc().prctl(isolation.PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


_ZYGOTES: dict[tuple[str, int], Zygote | None] = {}


def _zygote(iso: Isolation, slot: int, *, fresh: bool = False) -> Zygote | None:
    key = (iso.runtime, slot)
    if fresh and _ZYGOTES.get(key) is not None:
        _ZYGOTES.pop(key).close()
    if key not in _ZYGOTES:
        try:
            _ZYGOTES[key] = Zygote(iso, slot)
        except (SandboxError, OSError, ValueError):
            _ZYGOTES[key] = None  # sandboxes are then started one Python process each
    return _ZYGOTES[key]


@atexit.register
def _close_zygotes() -> None:
    for zygote in _ZYGOTES.values():
        if zygote is not None:
            zygote.close()
    _ZYGOTES.clear()


# -- one sandbox --------------------------------------------------------------------------------

class Sandbox:
    """One student's sandbox process and the socket to it."""

    def __init__(self, iso: Isolation, slot: int, *, memory_mb: int, output_limit: int = 100_000,
                 use_zygote: bool = True):
        self.iso, self.slot, self.memory_mb = iso, slot, memory_mb
        self.uid = iso.uid_base + slot if iso.as_root else os.getuid()
        self.box = bubblewrap.BOX if iso.bubblewrap else os.path.join(iso.runtime, f"box-{slot}")
        self.output_limit, self.max_bytes = output_limit, 256 << 20  # the largest message accepted
        self.use_zygote = use_zygote
        self.pid: int | None = None
        self.process: subprocess.Popen | None = None   # when started without the zygote
        self.zygote: Zygote | None = None
        self.sock: socket.socket | None = None
        self.starts = 0
        self.code: int | None = None   # the exit code, once known
        self.log_path = os.path.join(iso.runtime, f"sandbox-{slot}-{os.getpid()}.log")

    @property
    def alive(self) -> bool:
        return self.sock is not None

    def _make_box(self) -> None:
        if self.iso.bubblewrap:
            return  # each sandbox mounts a fresh scratch of its own (isolation.enter_nested)
        shutil.rmtree(self.box, ignore_errors=True)
        os.mkdir(self.box, 0o700)
        for name in os.listdir(self.iso.data):
            shutil.copy2(os.path.join(self.iso.data, name), os.path.join(self.box, name))
        if self.iso.as_root:
            for folder, dirs, files in os.walk(self.box):
                for name in [folder] + [os.path.join(folder, f) for f in dirs + files]:
                    os.chown(name, self.uid, self.uid)

    def _spawn(self, child: socket.socket) -> None:
        request = {"settings": self.iso.settings, "uid": self.uid, "box": self.box,
                   "memory_mb": self.memory_mb, "env": _environment(self.box)}
        self.zygote = _zygote(self.iso, self.slot) if self.use_zygote or self.iso.bubblewrap else None
        for attempt in range(2):
            if self.zygote is None:
                break
            try:
                with open(self.log_path, "wb") as log:
                    self.pid = self.zygote.fork(request, [child.fileno(), log.fileno()])
                return
            except (SandboxError, OSError, ValueError, KeyError):
                self.zygote = _zygote(self.iso, self.slot, fresh=True) if attempt == 0 else None
        if self.iso.bubblewrap:
            raise SandboxError("the bubblewrap sandbox's zygote did not start; " + self.log_tail(zygote=True))
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                _command(self.iso, "sandbox_runner", child.fileno()), cwd=self.box, env=_environment(self.box),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                pass_fds=(child.fileno(),), start_new_session=True,
                preexec_fn=isolation.preexec(self.iso.settings, self.uid, self.box, self.memory_mb))
        self.pid = self.process.pid

    def start(self) -> None:
        self.stop()
        self._make_box()
        parent, child = socket.socketpair()
        self.process = self.zygote = self.code = None
        try:
            self._spawn(child)
        finally:
            child.close()
        self.sock = parent
        self.starts += 1
        config = {"output_limit": self.output_limit, "max_bytes": self.max_bytes,
                  "sensitive": self.iso.sensitive, "keep": self.iso.keep, "library_dirs": [self.iso.lib_inside]}
        try:
            protocol.send(self.sock, {"op": "hello", "config": config})
            header, _ = protocol.recv(self.sock, deadline=time.monotonic() + START_TIMEOUT, max_bytes=1 << 20)
        except (protocol.ProtocolError, OSError) as exc:
            self.stop()
            raise SandboxError(f"the sandbox did not start ({exc}); {self.log_tail()}") from None
        if header.get("op") != "ready":
            self.stop()
            raise SandboxError(f"the sandbox sent {header.get('op')!r} instead of 'ready'")

    def log_tail(self, zygote: bool = False) -> str:
        path = os.path.join(self.iso.runtime, f"zygote-{self.slot}-{os.getpid()}.log") if zygote else self.log_path
        try:
            with open(path, "rb") as log:
                return log.read()[-2000:].decode("utf-8", "replace")
        except OSError:
            return ""

    def _exit_code(self, timeout: float) -> int | None:
        if self.code is None:
            self.code = self._wait(timeout)
        return self.code

    def _wait(self, timeout: float) -> int | None:
        if self.process is not None:
            try:
                return self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                return None
        if self.zygote is not None and self.pid is not None:
            try:
                return self.zygote.wait(self.pid, timeout)
            except (SandboxError, OSError, ValueError):
                return None
        return None

    def exit_description(self, code: int | None) -> str:
        if code is None:
            return "the sandbox stopped answering"
        if code < 0:
            name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
            return f"the sandbox was killed by signal {name}"
        return f"the sandbox exited with code {code}"

    def send(self, header: dict, blobs=()) -> None:
        try:
            protocol.send(self.sock, header, list(blobs))
        except (OSError, AttributeError):
            self._died()

    def receive(self, deadline: float) -> tuple[dict, list[bytes]]:
        try:
            return protocol.recv(self.sock, deadline=deadline, max_bytes=self.max_bytes)
        except protocol.Timeout:
            self.stop()
            raise SandboxTimeout() from None
        except (protocol.PeerClosed, OSError, AttributeError):
            self._died()
        except protocol.ProtocolError as exc:
            self.stop()
            raise SandboxDied(f"the sandbox broke the protocol: {exc}") from None

    def _died(self):
        description = self.exit_description(self._exit_code(5))
        self.stop()
        raise SandboxDied(description)

    def stop(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None
        if self.pid is not None:
            if self.code is None:
                self._kill()
                self._exit_code(10)
            self.pid = None
        if self.iso.as_root and not self.iso.bubblewrap:
            kill_uid(self.uid)  # under bubblewrap, the kernel ends the sandbox's PID namespace

    def _kill(self) -> None:
        try:
            if self.iso.bubblewrap and self.zygote is not None:
                self.zygote.kill(self.pid)
            else:
                os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, SandboxError, OSError, ValueError):
            pass

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.box, ignore_errors=True)
        try:
            os.unlink(self.log_path)
        except OSError:
            pass
