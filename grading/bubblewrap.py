"""The sandbox's file system, processes and network, from bubblewrap (Debian's ``bubblewrap``).

Each grading worker starts its sandbox *zygote* (grading/zygote.py) inside one bubblewrap
sandbox, the same way as root and as an ordinary user (bubblewrap uses unprivileged user
namespaces; as root, the worker first becomes its slot's own uid). What that sandbox sees is an
allowlist, read-only: the system's ``/usr`` (with the usual ``/bin``, ``/lib`` links), the Python
installation and the virtual environment, and the runtime's ``lib`` (copies of gdlib, gdcheck
and the runner) and ``data`` folders, at ``/grading/lib`` and ``/grading/data``. Nothing else exists in it: not the course, not this
repository, not the gradebook, not another submission, not the host's ``/proc``, ``/tmp`` or
``/run``. It has no network, its own PID, IPC and UTS namespaces, a clean environment, and it
dies with the worker.

Inside, each sandbox the zygote forks takes new PID, mount, IPC and network namespaces of its own
(grading/isolation.py, ``enter_nested``): it is PID 1 of a namespace that dies with it, sees
only its own processes, writes only to its own size-limited tmpfs scratch, then drops every
capability before student code runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess

BWRAP = "bwrap"
SANDBOX_UID = 1000
BOX = "/box"
LIB, DATA = "/grading/lib", "/grading/data"   # where the runtime's lib and data appear inside
ROOT_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


def executable() -> str | None:
    """The path of ``bwrap`` (``$GRADING_BWRAP`` if set), or None where it is not installed."""
    return shutil.which(os.environ.get("GRADING_BWRAP", BWRAP), path=os.environ.get("PATH", "") + ":/usr/bin:/bin")


def _system_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for path in ROOT_LINKS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in ("/etc/ld.so.cache", "/etc/localtime"):
        args += ["--ro-bind-try", path, path]
    return args


def command(visible: list[tuple[str, str]], environment: dict, workdir: str, scratch_mb: int) -> list[str]:
    """The ``bwrap`` arguments (up to and including ``--``) for a zygote.

    Parameters
    ----------
    visible : list of (str, str)
        Folders shown read-only, as (outside, inside) paths: the Python installation and the
        virtual environment at their own path, the runtime's lib and data at LIB and DATA.
    environment : dict
        The whole environment of the sandbox (``--clearenv`` first).
    workdir : str
        The zygote's working directory (one of ``visible``).
    scratch_mb : int
        Size of the zygote's own ``/tmp``; each sandbox mounts its own scratch over it.
    """
    args = [executable() or BWRAP, "--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-net",
            "--unshare-uts", "--unshare-cgroup-try", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
            "--hostname", "sandbox", "--die-with-parent", "--new-session",
            # capabilities inside the new user namespace only: the zygote needs them to give each
            # sandbox its own namespaces; every sandbox drops them before student code runs
            "--cap-add", "ALL"]
    args += _system_binds()
    args += ["--proc", "/proc", "--dev", "/dev", "--size", str(scratch_mb << 20), "--tmpfs", "/tmp"]
    for outside, inside in visible:  # after /tmp: the runtime lives there
        args += ["--ro-bind", outside, inside]
    args += ["--dir", BOX, "--chdir", workdir, "--clearenv"]
    for key, value in environment.items():
        args += ["--setenv", key, value]
    return args + ["--"]


def works(python: str, visible: list[tuple[str, str]], preexec=None) -> tuple[bool, str]:
    """Whether a zygote-like bubblewrap sandbox starts here and can nest a sandbox of its own.

    Returns ``(True, "")`` or ``(False, why)``; ``preexec`` is what the grader runs before
    ``bwrap`` (as root: become the slot's uid, see grading/sandbox.py)."""
    if executable() is None:
        return False, "bubblewrap (bwrap) is not installed (Debian: apt-get install bubblewrap)"
    probe = ("import ctypes, os; c = ctypes.CDLL(None, use_errno=True); "
             "assert c.unshare(0x20000 | 0x20000000 | 0x08000000 | 0x40000000) == 0, 'unshare'; "
             "pid = os.fork()\n"
             "if pid == 0:\n"
             "    ok = c.mount(b'proc', b'/proc', b'proc', 14, None) == 0 and "
             "c.mount(b'tmpfs', b'/box', b'tmpfs', 6, b'size=1m') == 0\n"
             "    os._exit(0 if ok else 3)\n"
             "assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0, 'mount'")
    argv = command(visible, {"PATH": "/usr/bin:/bin"}, "/", 1) + [python, "-S", "-c", probe]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=60, preexec_fn=preexec)
    except (OSError, subprocess.SubprocessError) as exc:
        return False, f"bubblewrap did not start: {exc}"
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        return False, f"bubblewrap cannot make a sandbox here: {why[0]}"
    return True, ""
