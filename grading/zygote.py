"""The sandbox zygote (runs in the sandbox runtime, as root): a template that forks sandboxes.

Started once per worker by grading/sandbox.py. It imports what every sandbox needs (numpy,
IPython, gdcheck), never runs student code and never talks to a sandbox; each child isolates
itself with grading/isolation.py before it runs anything else, then serves the grader
(grading/sandbox_runner.py).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time

from . import isolation
from .sandbox_runner import run


def main() -> None:
    """Import what every sandbox needs, then fork one sandbox per request of the worker.

    Requests arrive on a SOCK_SEQPACKET socket: ``fork`` (with the new sandbox's socket as an
    SCM_RIGHTS file descriptor, and its uid, box, memory limit, environment and isolation
    settings) answers the child's pid; ``wait`` answers a child's exit code. The zygote itself
    never runs student code and never talks to a sandbox.
    """
    import gdcheck  # noqa: F401
    import IPython.core.interactiveshell  # noqa: F401
    import traitlets.config  # noqa: F401

    control = socket.socket(fileno=int(sys.argv[1]))
    exits: dict[int, int] = {}
    children: set[int] = set()

    def reap(*_):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            exits[pid] = os.waitstatus_to_exitcode(status)

    signal.signal(signal.SIGCHLD, reap)
    control.send(json.dumps({"op": "ready"}).encode())
    while True:
        data, fds, _, _ = socket.recv_fds(control, 1 << 20, 1)
        if not data:
            return
        request = json.loads(data)
        if request.get("op") == "fork" and fds:
            pid = os.fork()
            if pid == 0:
                try:
                    _child(request, fds[0], control)
                finally:
                    os._exit(70)
            children.add(pid)
            for fd in fds:
                os.close(fd)
            control.send(json.dumps({"pid": pid}).encode())
        elif request.get("op") == "wait":
            pid, deadline = request.get("pid"), time.monotonic() + float(request.get("timeout", 5))
            while pid in children and pid not in exits and time.monotonic() < deadline:
                reap()
                time.sleep(0.005)
            code = exits.pop(pid, None)
            if code is not None:
                children.discard(pid)
            control.send(json.dumps({"code": code}).encode())
        else:
            for fd in fds:
                os.close(fd)
            control.send(json.dumps({"error": "bad request"}).encode())


def _child(request: dict, fd: int, control: socket.socket) -> None:
    import tempfile

    control.close()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 2)
    os.dup2(fd, 3)
    os.closerange(4, 65536)
    os.environ.clear()
    os.environ.update(request["env"])
    tempfile.tempdir = None
    isolation.enter(request["settings"], int(request["uid"]), request["box"], int(request["memory_mb"]))
    run(socket.socket(fileno=3))
    os._exit(0)
