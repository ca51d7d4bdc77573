"""Turn a freshly forked process into a sandbox: namespaces, scratch, own uid, limits (Linux).

Used in the child of the sandbox *zygote* (grading/zygote.py) after fork, between fork and exec
(``preexec_fn``) when a sandbox or a zygote is spawned, so this module imports only the
standard library and is copied into the sandbox runtime with the runner.

``settings`` is a plain dict: ``bubblewrap`` (the zygote runs inside bubblewrap, see
grading/bubblewrap.py: each sandbox then takes namespaces of its own with :func:`enter_nested`),
``scratch_mb``, ``data`` (files copied into each fresh box), ``cpu_seconds``; without
bubblewrap: ``hidden`` (folders replaced by an empty tmpfs), ``keep`` (folders inside them
mounted back: the Python installation, the venv, the runtime), ``as_root``, ``namespaces``,
``network_namespace``.
"""

from __future__ import annotations

import ctypes
import os
import resource
import shutil
import signal

STAGING = "/mnt"
WRITABLE_TMPFS = ("/tmp", "/var/tmp", "/dev/shm")
CLONE_NEWNS, CLONE_NEWNET, CLONE_NEWPID, CLONE_NEWIPC, CLONE_NEWUTS = (
    0x00020000, 0x40000000, 0x20000000, 0x08000000, 0x04000000)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE, MNT_DETACH = (
    1, 2, 4, 8, 32, 4096, 16384, 1 << 18, 2)
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP = 1, 38, 24
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
LINUX_CAPABILITY_VERSION_3 = 0x20080522
MAX_PROCESSES = 256
NICE = 10

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
    """Address space, core dumps, file size, CPU time and, where the count is the sandbox's own
    (its own uid as root, its own user namespace under bubblewrap), processes."""
    out = [(resource.RLIMIT_AS, memory_mb << 20), (resource.RLIMIT_CORE, 0),
           (resource.RLIMIT_FSIZE, 512 << 20)]
    if settings.get("cpu_seconds"):
        out.append((resource.RLIMIT_CPU, int(settings["cpu_seconds"])))
    if settings.get("as_root") or settings.get("bubblewrap"):
        out.append((resource.RLIMIT_NPROC, MAX_PROCESSES))
    return out


def _apply_limits(settings: dict, memory_mb: int) -> None:
    c = libc()
    c.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    for kind, value in limits(settings, memory_mb):
        soft, hard = resource.getrlimit(kind)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(kind, (value, value))
    os.nice(NICE)  # below the grader, so a busy submission cannot starve the others' checks


def enter(settings: dict, uid: int, box: str, memory_mb: int) -> None:
    """Make the calling process a sandbox: namespaces or hidden files, own uid, ``box``, limits."""
    if settings.get("bubblewrap"):
        enter_nested(settings, box, memory_mb)
        return
    if settings.get("as_root") and settings.get("namespaces"):
        hide(settings)
    if settings.get("as_root"):
        become(uid)
    os.chdir(box)
    libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    _apply_limits(settings, memory_mb)


def become(uid: int) -> None:
    """Drop from root to ``uid`` (group ``uid``, no supplementary groups)."""
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def enter_nested(settings: dict, box: str, memory_mb: int) -> None:
    """Inside the zygote's bubblewrap sandbox: make this process a sandbox of its own.

    The caller takes new mount, PID, IPC, network and UTS namespaces and stays behind as the
    sandbox's *keeper* (the zygote waits for it and kills it to stop the sandbox). Its child is
    PID 1 of the new PID namespace: it mounts a fresh ``/proc`` (its own processes only) and
    size-limited tmpfs at ``box``, ``/tmp`` and ``/dev/shm`` (``scratch_mb`` each; a ``visible``
    folder below one of them, a venv under /tmp, is bound back read-only), copies the
    assignment's data files into ``box``, drops every capability, sets the limits, and forks the
    process that returns from here to run student code (PID 2). PID 1 reaps orphans and exits
    with PID 2's status; when it exits, the kernel kills every process left in the namespace,
    so nothing a submission starts outlives its sandbox.
    """
    c = libc()
    _check(c.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWUTS), "unshare")
    _relay(os.fork(), init=False)
    c.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    _check(c.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
    _check(c.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None), "mount /proc")
    options = f"size={int(settings.get('scratch_mb', 64))}m,mode=1777".encode()
    scratch = (box, "/tmp", "/dev/shm")
    # what the runtime needs below a scratch folder (a venv under /tmp) is held open, then bound back
    held = {path: os.open(path, os.O_PATH | os.O_DIRECTORY) for path in settings.get("visible", ())
            if any(inside(path, root) and path != root for root in scratch)}
    for path in scratch:
        os.makedirs(path, exist_ok=True)
        _check(c.mount(b"tmpfs", path.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options), f"scratch {path}")
    for path, fd in held.items():
        os.makedirs(path, exist_ok=True)
        _check(c.mount(f"/proc/self/fd/{fd}".encode(), path.encode(), None, MS_BIND | MS_REC, None), f"keep {path}")
        _check(c.mount(None, path.encode(), None, MS_BIND | MS_REMOUNT | MS_RDONLY | _locked_flags(path), None),
               f"read-only {path}")
        os.close(fd)
    data = settings.get("data")
    for name in sorted(os.listdir(data)) if data else ():
        shutil.copyfile(os.path.join(data, name), os.path.join(box, name))
    os.chdir(box)
    drop_capabilities()
    _apply_limits(settings, memory_mb)
    _relay(os.fork(), init=True)
    c.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _locked_flags(path: str) -> int:
    """The mount flags of ``path`` a remount inside a user namespace must keep."""
    found = os.statvfs(path).f_flag
    flags = 0
    for st, ms in ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
                   (os.ST_NOATIME, 1024), (os.ST_NODIRATIME, 2048), (os.ST_RELATIME, 1 << 21)):
        if found & st:
            flags |= ms
    return flags


def _relay(pid: int, *, init: bool) -> None:
    """In the child (``pid == 0``) return; in the parent, wait for the child and end the same
    way: PID 1 (``init``) reaps every orphan until its child ends, then exits with 128 + the
    signal that killed it (PID 1 cannot kill itself), which the keeper turns back into that
    signal. On SIGTERM the keeper kills PID 1 and waits for it: PID 1's exit completes only
    once the kernel has reaped every process of its namespace."""
    if pid == 0:
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not init:  # the zygote's SIGTERM: end the sandbox, and return only once all of it is gone
        signal.signal(signal.SIGTERM, lambda *_: os.kill(pid, signal.SIGKILL))
    while True:
        try:
            done, status = os.waitpid(-1 if init else pid, 0)
        except ChildProcessError:
            os._exit(70)
        except InterruptedError:
            continue
        if done == pid:
            break
    code = os.waitstatus_to_exitcode(status)
    if init:
        os._exit(128 - code if code < 0 else code)
    if code > 128 and code - 128 in signal.Signals._value2member_map_:
        signal.signal(code - 128, signal.SIG_DFL)
        os.kill(os.getpid(), code - 128)
    os._exit(code)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def drop_capabilities() -> None:
    """No capability left, none to regain: bounding and ambient sets cleared, then every set."""
    c = libc()
    for cap in range(64):
        if c.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            break
    c.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header, data = _CapHeader(LINUX_CAPABILITY_VERSION_3, 0), (_CapData * 2)()
    _check(c.capset(ctypes.byref(header), data), "drop capabilities")


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
