"""Turn a freshly forked process into a sandbox: hidden files, own uid, limits (Linux, root).

Used between fork and exec (``preexec_fn``) when a sandbox is spawned, and in the child of the
sandbox *zygote* (grading/sandbox_runner.py) after fork, so this module imports only the
standard library and is copied into the sandbox runtime with the runner.

``settings`` is a plain dict: ``hidden`` (folders replaced by an empty tmpfs), ``keep`` (folders
inside them mounted back: the Python installation, the venv, the runtime), ``as_root``,
``namespaces``, ``network_namespace``.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal

STAGING = "/mnt"
WRITABLE_TMPFS = ("/tmp", "/var/tmp", "/dev/shm")
CLONE_NEWNS, CLONE_NEWNET = 0x00020000, 0x40000000
MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE, MNT_DETACH = 2, 4, 4096, 16384, 1 << 18, 2
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38

_LIBC = None


def libc():
    global _LIBC
    if _LIBC is None:
        _LIBC = ctypes.CDLL(None, use_errno=True)
    return _LIBC


def inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _check(result: int, what: str) -> None:
    if result != 0:
        raise OSError(ctypes.get_errno(), f"sandbox isolation failed: {what}")


def hide(settings: dict) -> None:
    """A private mount namespace in which the ``hidden`` folders are empty tmpfs, except the
    ``keep`` folders, mounted back from a staging area that is then detached."""
    c = libc()
    _check(c.unshare(CLONE_NEWNS | (CLONE_NEWNET if settings.get("network_namespace") else 0)), "unshare")
    _check(c.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
    _check(c.mount(b"tmpfs", STAGING.encode(), b"tmpfs", 0, b"size=1m,mode=700"), "staging")
    hidden = settings["hidden"]
    for i, root in enumerate(hidden):
        os.mkdir(f"{STAGING}/{i}")
        _check(c.mount(root.encode(), f"{STAGING}/{i}".encode(), None, MS_BIND | MS_REC, None), f"stage {root}")
    for root in hidden:
        options = b"size=64m,mode=1777" if root in WRITABLE_TMPFS else b"size=1m,mode=755"
        _check(c.mount(b"tmpfs", root.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options), f"hide {root}")
    for path in settings["keep"]:
        for i, root in enumerate(hidden):
            if inside(path, root):
                os.makedirs(path, mode=0o755, exist_ok=True)
                source = f"{STAGING}/{i}/{os.path.relpath(path, root)}"
                _check(c.mount(source.encode(), path.encode(), None, MS_BIND | MS_REC, None), f"keep {path}")
                break
    _check(c.umount2(STAGING.encode(), MNT_DETACH), "unstage")


def limits(settings: dict, memory_mb: int) -> list[tuple[int, int]]:
    out = [(resource.RLIMIT_AS, memory_mb << 20), (resource.RLIMIT_CORE, 0),
           (resource.RLIMIT_FSIZE, 512 << 20)]
    if settings.get("as_root"):
        out.append((resource.RLIMIT_NPROC, 256))
    return out


def enter(settings: dict, uid: int, box: str, memory_mb: int) -> None:
    """Make the calling process a sandbox: hide files, drop to ``uid``, enter ``box``, limits."""
    if settings.get("as_root") and settings.get("namespaces"):
        hide(settings)
    if settings.get("as_root"):
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    os.chdir(box)
    c = libc()
    c.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    c.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    for kind, value in limits(settings, memory_mb):
        soft, hard = resource.getrlimit(kind)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(kind, (value, value))


def preexec(settings: dict, uid: int, box: str, memory_mb: int):
    """``enter`` as a ``subprocess`` preexec_fn (ctypes loaded before the fork)."""
    libc()

    def run():
        enter(settings, uid, box, memory_mb)
    return run


def kill_uid(uid: int) -> None:
    """SIGKILL every process of ``uid`` (whatever a sandbox left running); root only."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
