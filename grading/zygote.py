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

    Requests arrive on a SOCK_SEQPACKET socket: ``fork`` (with the new sandbox's socket and its
    log file as SCM_RIGHTS file descriptors, and its uid, box, memory limit, environment and
    isolation settings) answers the child's pid (in the zygote's PID namespace, which under
    bubblewrap is not the grader's: the grader never signals it itself); ``wait`` answers a
    child's exit code; ``kill`` asks a child (a sandbox's keeper under bubblewrap) to end its sandbox: it
    kills the sandbox's PID 1 and exits once every process of that namespace is gone. The zygote itself never runs student code and never talks to a sandbox.
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
        data, fds, _, _ = socket.recv_fds(control, 1 << 20, 2)
        if not data:
            return
        request = json.loads(data)
        if request.get("op") == "fork" and len(fds) == 2:
            pid = os.fork()
            if pid == 0:
                try:
                    _child(request, fds, control)
                except BaseException:
                    import traceback
                    traceback.print_exc()  # into the sandbox's log
                    sys.stderr.flush()
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
        elif request.get("op") == "kill":
            killed = request.get("pid") in children
            if killed:
                try:
                    os.kill(request["pid"], signal.SIGTERM)  # to the keeper (isolation._relay)
                except ProcessLookupError:
                    killed = False
            control.send(json.dumps({"killed": killed}).encode())
        else:
            for fd in fds:
                os.close(fd)
            control.send(json.dumps({"error": "bad request"}).encode())


def _child(request: dict, fds: list[int], control: socket.socket) -> None:
    import tempfile

    control.close()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    sock, log = fds
    os.dup2(log, 2)
    os.dup2(sock, 3)
    os.closerange(4, 65536)
    os.environ.clear()
    os.environ.update(request["env"])
    tempfile.tempdir = None
    isolation.enter(request["settings"], int(request["uid"]), request["box"], int(request["memory_mb"]))
    run(socket.socket(fileno=3))
    os._exit(0)
