"""Start, talk to and stop the sandbox process that runs one student's code.

A sandbox is ``python -S -s -P -B`` running grading/sandbox_runner.py from a *runtime* folder
that holds only copies of what student code may import from this repository (gdlib, gdcheck) and
the runner itself. Its working directory is a fresh, empty *box* holding only the assignment's
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

import compileall
import ctypes
import os
import resource
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

from . import protocol

REPO_ROOT = Path(__file__).resolve().parent.parent
INSTRUCTOR_ROOTS = ("/root", "/home", "/srv", "/var/tmp", "/dev/shm")
WRITABLE_TMPFS = ("/tmp", "/var/tmp", "/dev/shm")
STAGING = "/mnt"
CLONE_NEWNS, CLONE_NEWNET = 0x00020000, 0x40000000
MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE, MNT_DETACH = 2, 4, 4096, 16384, 1 << 18, 2
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
START_TIMEOUT = 60.0
UID_BASE, UID_BLOCK = 200_000, 256


class SandboxError(Exception):
    """The sandbox could not start, or broke the protocol."""


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

    @property
    def description(self) -> str:
        if self.as_root and self.namespaces:
            return ("sandbox: own uid, instructor files hidden (mount namespace)"
                    + (", no network" if self.network_namespace else ""))
        if self.as_root:
            return "sandbox: own uid (WARNING: no mount namespace; files readable by others are visible)"
        return ("sandbox: same user as the grader (WARNING: not root, so solutions/ and the gradebook "
                "stay readable to student code; run as root or in a container for full isolation)")


def _outermost(paths: list[str]) -> list[str]:
    paths = sorted(set(paths), key=len)
    out: list[str] = []
    for p in paths:
        if not any(p == q or p.startswith(q.rstrip("/") + "/") for q in out):
            out.append(p)
    return out


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


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


def prepare_runtime(course_root: Path, data_files: list[Path]) -> Isolation:
    """Make the runtime folder (lib copies, data files) and decide how sandboxes are isolated."""
    runtime = Path(tempfile.mkdtemp(prefix="grading-runtime-"))
    os.chmod(runtime, 0o711)
    lib, data = runtime / "lib", runtime / "data"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")
    for package in ("gdlib", "gdcheck"):
        shutil.copytree(REPO_ROOT / package, lib / package, ignore=ignore)
    (lib / "gdsandbox").mkdir(parents=True)
    (lib / "gdsandbox" / "__init__.py").write_text('"""The grader\'s sandbox runner (a copy)."""\n')
    here = Path(__file__).resolve().parent
    for module in ("protocol.py", "sandbox_runner.py"):
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
                    uid_base=_reserve_uids(str(runtime)) if as_root else os.getuid())
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
                              preexec_fn=_preexec(iso, iso.uid_base, str(box), 512))
        return done.returncode == 0
    except (subprocess.SubprocessError, OSError):
        return False
    finally:
        shutil.rmtree(box, ignore_errors=True)


# -- isolation (runs in the child between fork and exec) ---------------------------------------

_LIBC = None


def _libc():
    global _LIBC
    if _LIBC is None:
        _LIBC = ctypes.CDLL(None, use_errno=True)
    return _LIBC


def _check(result: int, what: str) -> None:
    if result != 0:
        raise OSError(ctypes.get_errno(), f"sandbox isolation failed: {what}")


def _hide(iso: Isolation) -> None:
    libc = _libc()
    _check(libc.unshare(CLONE_NEWNS | (CLONE_NEWNET if iso.network_namespace else 0)), "unshare")
    _check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
    _check(libc.mount(b"tmpfs", STAGING.encode(), b"tmpfs", 0, b"size=1m,mode=700"), "staging")
    for i, root in enumerate(iso.hidden):
        os.mkdir(f"{STAGING}/{i}")
        _check(libc.mount(root.encode(), f"{STAGING}/{i}".encode(), None, MS_BIND | MS_REC, None),
               f"stage {root}")
    for root in iso.hidden:
        options = b"size=64m,mode=1777" if root in WRITABLE_TMPFS else b"size=1m,mode=755"
        _check(libc.mount(b"tmpfs", root.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options), f"hide {root}")
    for path in iso.keep:
        for i, root in enumerate(iso.hidden):
            if _inside(path, root):
                os.makedirs(path, mode=0o755, exist_ok=True)
                source = f"{STAGING}/{i}/{os.path.relpath(path, root)}"
                _check(libc.mount(source.encode(), path.encode(), None, MS_BIND | MS_REC, None),
                       f"keep {path}")
                break
    _check(libc.umount2(STAGING.encode(), MNT_DETACH), "unstage")


def _preexec(iso: Isolation, uid: int, box: str, memory_mb: int):
    limits = [(resource.RLIMIT_AS, memory_mb << 20), (resource.RLIMIT_CORE, 0),
              (resource.RLIMIT_FSIZE, 512 << 20)]
    if iso.as_root:
        limits.append((resource.RLIMIT_NPROC, 256))
    _libc()

    def run():
        if iso.as_root and iso.namespaces:
            _hide(iso)
        if iso.as_root:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        os.chdir(box)
        libc = _libc()
        libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        for kind, value in limits:
            soft, hard = resource.getrlimit(kind)
            value = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(kind, (value, value))
    return run


def kill_uid(uid: int) -> None:
    """SIGKILL every process of ``uid`` (what a sandbox left running); root only."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


# -- one sandbox --------------------------------------------------------------------------------

class Sandbox:
    """One student's sandbox process and the socket to it."""

    def __init__(self, iso: Isolation, slot: int, *, memory_mb: int, output_limit: int = 100_000,
                 max_message_mb: int = 256):
        self.iso, self.slot, self.memory_mb = iso, slot, memory_mb
        self.uid = iso.uid_base + slot if iso.as_root else os.getuid()
        self.box = os.path.join(iso.runtime, f"box-{slot}")
        self.output_limit, self.max_bytes = output_limit, max_message_mb << 20
        self.process: subprocess.Popen | None = None
        self.sock: socket.socket | None = None
        self.log_path = os.path.join(iso.runtime, f"sandbox-{slot}-{os.getpid()}.log")

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        self.stop()
        shutil.rmtree(self.box, ignore_errors=True)
        os.mkdir(self.box, 0o700)
        for name in os.listdir(self.iso.data):
            shutil.copy2(os.path.join(self.iso.data, name), os.path.join(self.box, name))
        if self.iso.as_root:
            for folder, dirs, files in os.walk(self.box):
                for name in [folder] + [os.path.join(folder, f) for f in dirs + files]:
                    os.chown(name, self.uid, self.uid)
        parent, child = socket.socketpair()
        env = {"PATH": "/usr/bin:/bin", "HOME": self.box, "TMPDIR": self.box, "LANG": "C.UTF-8",
               "LC_ALL": "C.UTF-8", "MPLBACKEND": "Agg", "MPLCONFIGDIR": os.path.join(self.box, ".matplotlib"),
               "IPYTHONDIR": os.path.join(self.box, ".ipython"), "OPENBLAS_NUM_THREADS": "1",
               "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0",
               "PYTHONIOENCODING": "utf-8"}
        boot = (f"import sys; sys.path.insert(0, {self.iso.lib!r}); sys.path.append({self.iso.site_packages!r}); "
                "from gdsandbox.sandbox_runner import main; main()")
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [self.iso.python, "-S", "-s", "-P", "-B", "-c", boot, str(child.fileno())],
                cwd=self.box, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=log, pass_fds=(child.fileno(),), start_new_session=True,
                preexec_fn=_preexec(self.iso, self.uid, self.box, self.memory_mb))
        child.close()
        self.sock = parent
        config = {"output_limit": self.output_limit, "max_bytes": self.max_bytes,
                  "sensitive": self.iso.sensitive, "keep": self.iso.keep,
                  "library_dirs": [self.iso.lib]}
        try:
            protocol.send(self.sock, {"op": "hello", "config": config})
            header, _ = protocol.recv(self.sock, deadline=time.monotonic() + START_TIMEOUT,
                                      max_bytes=1 << 20)
        except (protocol.ProtocolError, OSError) as exc:
            self.stop()
            raise SandboxError(f"the sandbox did not start ({exc}); {self.log_tail()}") from None
        if header.get("op") != "ready":
            self.stop()
            raise SandboxError(f"the sandbox sent {header.get('op')!r} instead of 'ready'")

    def log_tail(self) -> str:
        try:
            with open(self.log_path, "rb") as log:
                return log.read()[-2000:].decode("utf-8", "replace")
        except OSError:
            return ""

    def exit_description(self) -> str:
        if self.process is None:
            return "the sandbox is not running"
        code = self.process.poll()
        if code is None:
            return "the sandbox stopped answering"
        if code < 0:
            name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
            return f"the sandbox was killed by signal {name}"
        return f"the sandbox exited with code {code}"

    def send(self, header: dict, blobs=()) -> None:
        try:
            protocol.send(self.sock, header, list(blobs))
        except OSError:
            self._died()

    def receive(self, deadline: float) -> tuple[dict, list[bytes]]:
        try:
            return protocol.recv(self.sock, deadline=deadline, max_bytes=self.max_bytes)
        except protocol.Timeout:
            self.stop()
            raise SandboxTimeout() from None
        except (protocol.PeerClosed, OSError):
            self._died()
        except protocol.ProtocolError as exc:
            self.stop()
            raise SandboxDied(f"the sandbox broke the protocol: {exc}") from None

    def _died(self):
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        description = self.exit_description()
        self.stop()
        raise SandboxDied(description)

    def stop(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None
        if self.process is not None:
            if self.process.poll() is None:
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if self.iso.as_root:
            kill_uid(self.uid)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.box, ignore_errors=True)
        try:
            os.unlink(self.log_path)
        except OSError:
            pass
