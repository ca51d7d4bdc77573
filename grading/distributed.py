"""Grade one assignment's submissions on a Dask cluster (``grade <id> --scheduler ADDRESS``).

The main process does everything it does on one machine (grading/batch.py): it records the
assignment, reads each submission folder, commits every grade to the gradebook (it is still
the only writer) and writes the feedback, the exports and the class report. Only the grading of
submissions moves: each becomes one Dask task, sent with the submission's files as data (no
shared file system is needed; what is not a regular file is never read, see
:func:`pack_submission`). On each Dask worker, :class:`GradingPlugin` keeps, for the batch, the
same machinery as a local batch: a sandbox runtime prepared once (``prepare_runtime``, with the
release's allowed data files) and a one-process :class:`grading.pool.Pool` whose process runs
:func:`grading.tasks.run` exactly as a local worker does (per-task deadline, replaced when it
dies). The autograded notebooks come back with each result and the main process writes them.

Feedback needs the gradebook and ``autograded/``, both on the main machine: it is generated
there, by a local pool, while the cluster grades (``--workers`` sets its size).

No grade is lost with a worker: the scheduler gives the tasks of a worker that dies to the
others (``distributed.scheduler.allowed-failures``, 3 by default, bounds how often one
submission may take a worker with it; after that it is reported as crashed, as a local batch
reports a worker that died). A task only reads its data and writes to the worker's own scratch
folder, so running it again is harmless, and a result is committed once: when its future
finishes, the only time it does. Errors of the worker's own (its disk, a plugin missing on a
worker that just joined) are retried elsewhere (``RETRIES``); what the grading of a submission
decides (a time-out, a grading process that died) is a result, as on one machine.

Workers need this repository (its code is checked: :func:`code_digest`) and its virtual
environment: ``PYTHONPATH=<repo> .venv/bin/dask worker tcp://HOST:8786 --nthreads 1``; with
``--nworkers N`` (a nanny per worker, one process per core) also
``DASK_DISTRIBUTED__WORKER__DAEMON=False``, since each worker starts a grading process.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import queue
import shutil
import stat
import tempfile
import time
import uuid
from pathlib import Path

from .pool import Pool

try:
    from distributed import WorkerPlugin
except ImportError:  # dask is needed only with --scheduler; the rest of grading works without
    WorkerPlugin = object

REPO_ROOT = Path(__file__).resolve().parent.parent
RETRIES = 2               # retries of a task whose WORKER failed (not of a grading's own outcome)
POLL_SECONDS = 0.05       # how often the main process looks at both the cluster and its feedback
SMALL_BYTES = 1 << 20     # other regular files travel with their contents up to this size
CONNECT_SECONDS = 30.0
CONTEXT_KEYS = ("assignment", "options", "notebooks", "metadata")


class ClusterError(RuntimeError):
    """The Dask cluster cannot grade this batch (no scheduler, workers running other code)."""


def code_digest() -> str:
    """SHA-256 of the code that decides a grade: grading/*.py and what ``prepare_runtime`` copies
    into the sandboxes (gdlib, gdcheck). Main process and workers must agree."""
    digest, root = hashlib.sha256(), REPO_ROOT
    files = sorted(Path(root, "grading").glob("*.py"))
    for package in ("gdlib", "gdcheck"):
        files += sorted(p for p in Path(root, package).rglob("*") if p.is_file()
                        and "__pycache__" not in p.parts and ".ipynb_checkpoints" not in p.parts
                        and p.suffix != ".pyc")
    for path in files:
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


# -- a submission folder as data ------------------------------------------------------------------

def pack_submission(folder: Path) -> list[tuple[str, str, object]]:
    """The submission folder as ``[(relative path, kind, data)]``, for a worker to rebuild.

    Only what the grader reads travels with its contents: notebooks (up to the size the grader
    accepts) and small regular files (``timestamp.txt``). Other regular files travel as their
    size (rebuilt as sparse files: the grader only lists them), symbolic links as links to
    nothing (the grader never follows them; it names them), folders as folders; named pipes and
    devices are left out (the grader ignores them). Nothing is followed; a file is opened with
    ``O_NOFOLLOW`` and only if it is a regular file.
    """
    from .notebooks import MAX_FILE_BYTES
    entries: list[tuple[str, str, object]] = []
    for root, dirs, files in os.walk(folder):
        for name in sorted(dirs) + sorted(files):
            path = os.path.join(root, name)
            relative = os.path.relpath(path, folder)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISLNK(info.st_mode):
                entries.append((relative, "link", None))
            elif stat.S_ISDIR(info.st_mode):
                entries.append((relative, "dir", None))
            elif stat.S_ISREG(info.st_mode):
                wanted = info.st_size <= SMALL_BYTES or (
                    name.endswith(".ipynb") and info.st_size <= MAX_FILE_BYTES
                    and ".ipynb_checkpoints" not in Path(relative).parts)
                data = _read_regular(path) if wanted else None
                entries.append((relative, "file", data) if data is not None
                               else (relative, "size", info.st_size))
    return entries


def _read_regular(path: str) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        return handle.read()


def unpack_submission(entries: list[tuple[str, str, object]], folder: Path) -> None:
    """Rebuild a folder packed by :func:`pack_submission` under ``folder`` (which it creates)."""
    folder.mkdir(parents=True, exist_ok=True)
    for relative, kind, data in entries:
        parts = Path(relative).parts
        if Path(relative).is_absolute() or ".." in parts or not parts:
            raise ValueError(f"a packed path leaves its folder: {relative!r}")
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "dir":
            path.mkdir(exist_ok=True)
        elif kind == "link":
            path.symlink_to("/nonexistent/a-link-of-the-submission-not-followed")
        elif kind == "file":
            path.write_bytes(data)
        elif kind == "size":
            with open(path, "wb") as handle:
                handle.truncate(int(data))


# -- on each worker -------------------------------------------------------------------------------

class GradingPlugin(WorkerPlugin):
    """What a Dask worker keeps for one batch: the sandbox runtime and one grading process.

    Parameters
    ----------
    context : dict
        The batch's context for :func:`grading.tasks.run` without its ``isolation`` (each
        worker prepares its own).
    data_files : dict
        Name -> contents of the release's allowed data files, copied into every sandbox.
    course_root : str
        The course folder on the main machine; hidden from sandboxes where it exists.
    digest : str
        :func:`code_digest` of the main process: a worker running other code refuses to grade.
    """

    def __init__(self, context: dict, data_files: dict[str, bytes], course_root: str, digest: str):
        self.context, self.data_files = context, data_files
        self.course_root, self.digest = course_root, digest

    def setup(self, worker) -> None:
        """Start the grading thread; it prepares the runtime and the grading process at once."""
        import multiprocessing
        if multiprocessing.current_process().daemon:
            raise RuntimeError("this Dask worker is a daemonic process and cannot start grading "
                               "processes: start it with DASK_DISTRIBUTED__WORKER__DAEMON=False")
        self.address = worker.address
        self.pool = self.iso = self.scratch = None
        self.busy = False
        # one thread for everything: the grading process (whose death signal is tied to the
        # thread that started it) and the sandboxes live as long as the plugin
        self.thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="grading")
        self.ready = self.thread.submit(self._prepare)

    def _prepare(self) -> None:
        from .notebooks import graded_functions
        from .sandbox import prepare_runtime
        found = code_digest()
        if found != self.digest:
            raise RuntimeError(f"this worker ({self.address}) runs other grading code than the main "
                               f"process (code digest {found[:12]} instead of {self.digest[:12]}): "
                               "update its copy of the repository")
        self.pool = Pool(1, die_with_parent=True)  # imports while the runtime is prepared
        remove_orphans()
        self.scratch = Path(tempfile.mkdtemp(prefix=f"grading-dask-{os.getpid()}-"))
        data = self.scratch / "data"
        data.mkdir()
        for name, contents in self.data_files.items():
            (data / Path(name).name).write_bytes(contents)
        root = Path(self.course_root)
        options = self.context["options"]
        self.iso = prepare_runtime(root if root.is_dir() else REPO_ROOT, sorted(data.iterdir()),
                                   graded=graded_functions(self.context["notebooks"]),
                                   unsafe_same_user=options.unsafe_same_user,
                                   cpu_seconds=int(options.submission_seconds) + 1)
        (self.scratch / "runtime").write_text(self.iso.runtime)  # for remove_orphans
        self.pool.start(dict(self.context, isolation=self.iso))

    def grade(self, payload: dict) -> dict:
        """Grade one packed submission (in the grading thread, one at a time)."""
        return self.thread.submit(self._grade, payload).result()

    def _grade(self, payload: dict) -> dict:
        self.ready.result()  # the preparation's error, if any, is this task's error
        work = Path(tempfile.mkdtemp(prefix="submission-", dir=self.scratch))
        self.busy = True
        try:
            folder = work / "submitted" / self.context["assignment"]
            target = work / "autograded"
            unpack_submission(payload["submission"], folder)
            task = {"kind": "grade", "student": payload["student"], "folder": str(folder),
                    "autograded": str(target)}
            self.pool.submit(task, payload["seconds"])
            _, ok, result = self.pool.next_done()
            files = {p.name: p.read_bytes() for p in sorted(target.iterdir())} if target.is_dir() else {}
        finally:
            self.busy = False
            shutil.rmtree(work, ignore_errors=True)
        return {"ok": ok, "result": result, "files": files, "worker": self.address,
                "isolation": self.iso.description}

    async def teardown(self, worker) -> None:
        """Stop the grading process and remove the runtime (at the end of the batch)."""
        import asyncio
        thread = getattr(self, "thread", None)
        if thread is not None:
            if self.busy and self.pool is not None:  # the batch was stopped: its grading is abandoned
                for process, _ in list(self.pool.workers.values()):
                    process.kill()
            await asyncio.wrap_future(thread.submit(self._cleanup))
            thread.shutdown(wait=False)

    def _cleanup(self) -> None:
        from .sandbox import cleanup_runtime
        if self.pool is not None:
            self.pool.close()
        if self.iso is not None:
            cleanup_runtime(self.iso)
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)


def remove_orphans() -> list[str]:
    """Remove what killed Dask workers of this machine left in the temporary folder (their
    scratch folder, named after the worker's pid, and the sandbox runtime it names); the
    folders removed. A worker that stops normally removes its own."""
    tmp = Path(tempfile.gettempdir())
    removed = []
    for folder in tmp.glob("grading-dask-*-*"):
        try:
            pid = int(folder.name.split("-")[2])
            os.kill(pid, 0)
            continue  # its worker is alive
        except ProcessLookupError:
            pass
        except (ValueError, IndexError, PermissionError):
            continue
        try:
            runtime = Path((folder / "runtime").read_text().strip())
        except OSError:
            runtime = None
        if runtime is not None and runtime.parent == tmp and runtime.name.startswith("grading-runtime-"):
            shutil.rmtree(runtime, ignore_errors=True)
            removed.append(str(runtime))
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(str(folder))
    return removed


def grade_on_worker(plugin: str, payload: dict) -> dict:
    """The Dask task: grade one submission with the worker's :class:`GradingPlugin`."""
    from distributed import get_worker
    found = get_worker().plugins.get(plugin)
    if found is None or not hasattr(found, "thread"):
        raise RuntimeError(f"this worker has no working grading plugin {plugin!r} (see its log)")
    return found.grade(payload)


# -- in the main process -------------------------------------------------------------------------

class DaskPool:
    """:class:`grading.pool.Pool`'s interface, with grading tasks sent to a Dask scheduler.

    Parameters
    ----------
    address : str
        The scheduler, e.g. ``tcp://10.0.0.5:8786``.
    local_workers : int
        Size of the local pool that writes feedback (0: no feedback task will come).

    Notes
    -----
    ``grade`` tasks become Dask tasks (:func:`grade_on_worker`) as they are submitted, at most
    ``in_flight`` at a time (enough to keep every worker busy, so that 2,000 notebooks do not all
    sit in the scheduler's memory); ``feedback`` tasks go to the local pool. :meth:`next_done`
    returns whichever finishes first. The autograded files of a result are written into the
    course before the result is returned.
    """

    def __init__(self, address: str, local_workers: int = 0):
        from distributed import Client
        self.address = address
        try:
            self.client = Client(address, timeout=CONNECT_SECONDS, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"no Dask scheduler answered at {address} ({exc})") from None
        self.local = Pool(local_workers) if local_workers else None
        self.name = f"grading-{uuid.uuid4().hex[:12]}"
        self.futures: dict[str, tuple[dict, object]] = {}
        self.backlog: list[tuple[dict, float]] = []
        self.done: queue.Queue = queue.Queue()
        self.count = 0
        self.workers_seen: set[str] = set()
        self.isolations: set[str] = set()
        self._capacity = (0.0, 64)
        self.registered = False

    @property
    def nthreads(self) -> int:
        """Worker threads the scheduler knows now."""
        return sum(self.client.nthreads().values())

    def start(self, context: dict) -> None:
        """Check the workers' code and give every worker (and any that joins) the batch."""
        if self.local is not None:
            self.local.start(context)
        digest = code_digest()
        try:
            found = self.client.run(code_digest)
        except Exception as exc:
            raise ClusterError(f"the Dask workers cannot run this repository's grading package "
                               f"({type(exc).__name__}: {exc}): start them in a copy of the repository "
                               "with PYTHONPATH=<that copy> and its .venv") from None
        other = sorted(address for address, value in found.items() if value != digest)
        if other:
            raise ClusterError(f"{len(other)} Dask worker(s) run other grading code than this process "
                               f"(e.g. {other[0]}): update their copy of the repository")
        data = Path(context["isolation"].data)
        plugin = GradingPlugin({k: context[k] for k in CONTEXT_KEYS},
                               {p.name: p.read_bytes() for p in sorted(data.iterdir())},
                               context["course_root"], digest)
        self.registered = True
        try:
            self.client.register_plugin(plugin, name=self.name)
        except Exception as exc:
            raise ClusterError(f"a Dask worker could not take the batch: {type(exc).__name__}: {exc}") from None

    def submit(self, task: dict, seconds: float) -> None:
        if task["kind"] != "grade":
            self.local.submit(task, seconds)
            return
        self.backlog.append((task, seconds))
        self._top_up()

    def _in_flight(self) -> int:
        checked, capacity = self._capacity
        if time.monotonic() - checked > 10:
            capacity = max(64, 4 * self.nthreads)
            self._capacity = (time.monotonic(), capacity)
        return capacity

    def _top_up(self) -> None:
        if self.backlog and len(self.futures) < self._in_flight():
            room = self._in_flight() - len(self.futures)
            for task, seconds in self.backlog[:room]:
                self._send(task, seconds)
            del self.backlog[:room]

    def _send(self, task: dict, seconds: float) -> None:
        payload = {"student": task["student"], "seconds": seconds,
                   "submission": pack_submission(Path(task["folder"]))}
        key = f"{self.name}-{self.count}"
        self.count += 1
        future = self.client.submit(grade_on_worker, self.name, payload, key=key, pure=False,
                                    retries=RETRIES)
        self.futures[key] = (task, future)
        future.add_done_callback(lambda f: self.done.put(f.key))

    @property
    def pending(self) -> int:
        return len(self.futures) + len(self.backlog) + (self.local.pending if self.local else 0)

    def next_done(self) -> tuple[dict, bool, object]:
        """(task, ok, result or an explanation) of the next task to finish, here or there."""
        while True:
            self._top_up()
            try:
                key = self.done.get_nowait()
            except queue.Empty:
                key = None
            if key is not None:
                if key in self.futures:  # a future finishes once; anything else is ignored
                    return self._finish(key)
                continue
            if self.local is not None and self.local.pending:
                got = self.local.next_done(wait=POLL_SECONDS if self.futures else None)
                if got is not None:
                    return got
                continue
            if not self.futures:
                raise RuntimeError("no task is pending")
            try:
                key = self.done.get(timeout=1.0)
            except queue.Empty:
                continue
            if key in self.futures:
                return self._finish(key)

    def _finish(self, key: str) -> tuple[dict, bool, object]:
        from distributed.scheduler import KilledWorker
        task, future = self.futures.pop(key)
        try:
            payload = future.result()
        except KilledWorker:
            return task, False, ("the grading worker died while grading this submission, on several "
                                 "Dask workers in turn (see their logs)")
        except concurrent.futures.CancelledError as exc:  # the scheduler was lost: stop, record nothing
            raise ClusterError(f"the Dask cluster dropped the batch ({exc or 'the scheduler is gone'}): "
                               "grading stopped; every grade reported so far is committed") from None
        except Exception as exc:
            return task, False, f"the grader failed on a Dask worker: {type(exc).__name__}: {exc}"
        finally:
            future.release()
        self.workers_seen.add(payload["worker"])
        self.isolations.add(payload["isolation"])
        if not payload["ok"]:
            return task, False, payload["result"]
        result = payload["result"]
        target = Path(task["autograded"])
        shutil.rmtree(target, ignore_errors=True)
        if payload["files"]:
            target.mkdir(parents=True, exist_ok=True)
            for name, contents in payload["files"].items():
                (target / Path(name).name).write_bytes(contents)
        result.autograded = [str(target / Path(path).name) for path in result.autograded]
        return task, True, result

    def describe(self) -> str:
        """How the cluster's sandboxes were isolated (each worker decides on its machine)."""
        found = " | ".join(sorted(self.isolations)) or "no submission reached a worker"
        return f"on the Dask cluster {self.address}: {found}"

    def _shutdown(self) -> None:
        for _, future in self.futures.values():
            future.cancel()
        self.futures.clear()
        self.backlog.clear()
        if self.registered:
            try:
                self.client.unregister_worker_plugin(self.name)
            except Exception:  # a worker gone meanwhile; the others have cleaned up
                pass
            self.registered = False
        self.client.close()

    def close(self) -> None:
        if self.local is not None:
            self.local.close()
        self._shutdown()

    def terminate(self) -> None:
        if self.local is not None:
            self.local.terminate()
        self._shutdown()
