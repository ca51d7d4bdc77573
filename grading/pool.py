"""Worker processes that grade submissions in parallel, each task with a deadline.

A worker is a spawned Python process with a fixed *slot* (0 .. n-1); its sandboxes run as uid
``uid_base + slot + 1``, so two workers never share a sandbox user (at most 255 workers). The
main process hands out one task at a time per worker and waits on all of them at once; a worker that dies, or that
passes its task's deadline (a backstop: each cell has its own time limit), is killed and replaced,
and the task is reported as failed. Workers ignore Ctrl-C: the main process stops them.
"""

from __future__ import annotations

import collections
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import sys
import time
import traceback
from pathlib import Path


def _worker(conn, slot: int, repo_root: str, parent: int = 0) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if parent:  # die with the process that started this one (a Dask worker: grading/distributed.py)
        from grading.isolation import PR_SET_PDEATHSIG, libc
        libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            return
    if repo_root not in sys.path:
        sys.path.insert(0, repo_root)
    from grading import tasks
    tasks.warm_up()  # the heavy imports, while the main process prepares the batch
    _bound_memory()
    try:
        context = pickle.loads(conn.recv())
    except (EOFError, OSError):
        return
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        try:
            conn.send(("ok", tasks.run(task, context, slot)))
        except Exception:
            conn.send(("error", traceback.format_exc()[-4000:]))


WORKER_MEMORY_MB = 6144


def _bound_memory() -> None:
    """The worker's own address space is bounded: what a student's function returns is decoded
    here, and a payload crafted to be huge costs this worker (its task fails with a reason and
    a fresh worker takes the next one), never the machine."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = WORKER_MEMORY_MB << 20
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


class Pool:
    """``n`` workers, started at once; :meth:`start` gives them the batch's context, then
    :meth:`submit` tasks and call :meth:`next_done` once per task. ``die_with_parent``: each
    worker is killed when the thread that started it ends (for a pool inside a Dask worker,
    which may be killed without warning)."""

    def __init__(self, n: int, die_with_parent: bool = False):
        self.die_with_parent = die_with_parent
        self.mp = multiprocessing.get_context("spawn")
        self.context_bytes: bytes | None = None
        self.repo_root = str(Path(__file__).resolve().parent.parent)
        self.queue: collections.deque = collections.deque()
        self.workers: dict[int, tuple] = {}       # slot -> (process, conn)
        self.busy: dict[int, tuple] = {}          # slot -> (task, deadline)
        for slot in range(n):
            self._start(slot)

    def _start(self, slot: int) -> None:
        parent, child = self.mp.Pipe()
        process = self.mp.Process(target=_worker, args=(child, slot + 1, self.repo_root,
                                                        os.getpid() if self.die_with_parent else 0),
                                  daemon=True, name=f"grading-worker-{slot}")
        process.start()
        child.close()
        self.workers[slot] = (process, parent)
        if self.context_bytes is not None:
            parent.send(self.context_bytes)

    def start(self, context: dict) -> None:
        self.context_bytes = pickle.dumps(context)
        for slot, (process, conn) in list(self.workers.items()):
            try:
                conn.send(self.context_bytes)
            except OSError:
                self._replace(slot)

    def _replace(self, slot: int) -> None:
        process, conn = self.workers.pop(slot)
        if process.is_alive():
            process.kill()
        process.join(timeout=10)
        conn.close()
        self._start(slot)

    def submit(self, task: dict, seconds: float) -> None:
        self.queue.append((task, seconds))

    @property
    def pending(self) -> int:
        return len(self.queue) + len(self.busy)

    def _dispatch(self) -> None:
        for slot in sorted(self.workers):
            if not self.queue:
                return
            if slot not in self.busy:
                task, seconds = self.queue.popleft()
                try:
                    self.workers[slot][1].send(task)
                except OSError:
                    self._replace(slot)
                    self.workers[slot][1].send(task)
                self.busy[slot] = (task, time.monotonic() + seconds)

    def next_done(self, wait: float | None = None) -> tuple[dict, bool, object] | None:
        """(task, ok, result or an explanation) of the next task to finish; with ``wait``
        (seconds), None if none finished by then."""
        limit = None if wait is None else time.monotonic() + wait
        while True:
            self._dispatch()
            if not self.busy:
                raise RuntimeError("no task is pending")
            waitables = {}
            for slot in self.busy:
                process, conn = self.workers[slot]
                waitables[conn] = slot
                waitables[process.sentinel] = slot
            timeout = max(0.0, min(d for _, d in self.busy.values()) - time.monotonic())
            if limit is not None:
                timeout = min(timeout, max(0.0, limit - time.monotonic()))
            ready = multiprocessing.connection.wait(list(waitables), timeout=timeout)
            for handle in ready:
                slot = waitables[handle]
                if slot not in self.busy:
                    continue
                task, _ = self.busy[slot]
                process, conn = self.workers[slot]
                if handle is conn or conn.poll():
                    try:
                        status, payload = conn.recv()
                    except (EOFError, OSError):
                        status, payload = "died", None
                    if status != "died":
                        del self.busy[slot]
                        return task, status == "ok", payload
                del self.busy[slot]
                code = process.exitcode
                self._replace(slot)
                return task, False, f"the grading worker died (exit code {code})"
            now = time.monotonic()
            for slot, (task, deadline) in list(self.busy.items()):
                if now >= deadline:
                    del self.busy[slot]
                    self._replace(slot)
                    return task, False, "timed out: the grading worker passed the deadline and was stopped"
            if limit is not None and now >= limit:
                return None

    def close(self) -> None:
        for slot, (process, conn) in list(self.workers.items()):
            if slot not in self.busy:
                try:
                    conn.send(None)
                except OSError:
                    pass
        for slot, (process, conn) in list(self.workers.items()):
            process.join(timeout=5 if slot not in self.busy else 0)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
            conn.close()
        self.workers.clear()

    def terminate(self) -> None:
        for process, conn in self.workers.values():
            if process.is_alive():
                process.kill()
        for process, conn in self.workers.values():
            process.join(timeout=5)
            conn.close()
        self.workers.clear()
        self.busy.clear()


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
