"""The program that runs INSIDE a sandbox: it executes a student's cells and calls their functions.

It is started by grading/sandbox.py (as an unprivileged user, in an empty working directory,
with the instructor's files hidden) and talks to the grader over one socket
(grading/protocol.py). The grader sends:

- ``exec``: run one cell (the student's, or an instructor's setup cell) in an IPython shell;
  reply with its text outputs (capped) and error;
- ``resolve``: the values of some global names, as plain data or references;
- ``call``: call a referenced object (a student's function) with plain-data arguments; reply
  with the result as plain data, the arguments the call changed in place (so the grader can
  mirror them), and the gdlib functions it used when the grader named some as forbidden;
- ``calls``: several such calls in a row (gdcheck's ``call_each``), each reply sent as soon as
  its call returns, so a check that calls a function hundreds of times waits for one round trip
  instead of hundreds;
- ``getattr`` on a referenced object;
- ``globals``: read or set global names of a student's function (what ``fn.__globals__`` gives a
  check in a plain notebook), or *lend* it gdlib's reference of a helper: while a check runs
  ``train``, its ``iterate_minibatches`` is gdlib's, run here, outside the delegation watch.

Test cells never come here: the grader runs them in its own process, so nothing in this process
can see, rewrite or intercept them. What this program reports about tampering (a replaced numpy
function, an IPython hook, an attempt to open the instructor's files, a tracer) is a *flag* for
the instructor; it is best effort, since student code runs in this same process. Scores never
depend on it.
"""

from __future__ import annotations

import inspect
import os
import re
import select
import socket
import sys

from . import codec, protocol
from .watch import Capture, DelegationWatch, Watchers

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
FAKE_SCORE = re.compile(r"(?i)\b(score|points|grade|marks?)\b[^\n]{0,40}?\d+(\.\d+)?\s*(/|out of)\s*\d+")


class Runner:
    """Serves the grader's requests on one socket (see the module's docstring)."""

    def __init__(self, sock: socket.socket, config: dict):
        self.sock, self.config = sock, config
        self.output_limit = int(config.get("output_limit", 100_000))
        self.library_dirs = tuple(config.get("library_dirs", ())) + codec.default_library_dirs()
        self.refs = codec.RefTable()
        max_bytes = int(config.get("max_bytes", 256 << 20))
        self.codec = codec.Codec(self.refs, self._grader_object, self._own,
                                 resolve_namedtuple=codec.gdlib_namedtuple, max_bytes=max_bytes,
                                 signatures=True)
        # fingerprints of arguments must not drain an iterator the call has yet to read
        self.snap_codec = codec.Codec(self.refs, self._grader_object, self._own,
                                      max_bytes=max_bytes, drain_iterators=False)
        self.calls = 0
        self._static: dict = {}
        self.shell = _make_shell()
        self.watch = Watchers(self.shell, config)

    # references -------------------------------------------------------------------------------

    def _own(self, obj):
        return obj._grader_ref if isinstance(obj, GraderObject) else None

    def _grader_object(self, meta: dict, ref: int):
        return GraderObject(self, ref, meta)

    def request_callback(self, ref: int, args, kwargs):
        """Call the grader's function ``ref``; mirror what it changed in place (a Generator it
        drew from, an array it filled) on our arguments, as a plain call would have."""
        tree, blobs = self.codec.encode([list(args), kwargs])
        header, blobs = self.request({"op": "callback", "ref": ref, "args": tree}, blobs)
        codec.apply_changes(header.get("changed"), args, kwargs,
                            lambda subtree: self.codec.decode(subtree, blobs))
        if header.get("op") == "error":
            raise _rebuild_exception(header.get("exc") or {})
        return self.codec.decode(header.get("value"), blobs)

    # the channel -------------------------------------------------------------------------------

    def send(self, header: dict, blobs=()) -> None:
        with self.watch.internal():
            header["flags"], self.watch.flags = self.watch.flags, []
            protocol.send(self.sock, header, list(blobs))

    def request(self, header: dict, blobs) -> tuple[dict, list[bytes]]:
        self.send(header, blobs)
        while True:
            with self.watch.internal():
                reply, rblobs = protocol.recv(self.sock)
            if reply.get("op") in ("result", "error"):
                return reply, rblobs
            self.dispatch(reply, rblobs)

    def serve(self) -> None:
        while True:
            with self.watch.internal():
                try:
                    header, blobs = protocol.recv(self.sock)
                except protocol.PeerClosed:
                    return
            self.dispatch(header, blobs)

    def dispatch(self, header: dict, blobs) -> None:
        op = header.get("op")
        if op == "stop":  # for a batch of calls that ended before it came: nothing to stop
            return
        handler = {"exec": self.op_exec, "resolve": self.op_resolve, "call": self.op_call, "calls": self.op_calls,
                   "getattr": self.op_getattr, "globals": self.op_globals}.get(op)
        if handler is None:
            reply, rblobs = {"op": "error", "exc": {"type": "ValueError", "message": f"unknown op {op!r}"}}, []
        else:
            reply, rblobs = handler(header, blobs)
        self.send(reply, rblobs)

    # operations -------------------------------------------------------------------------------

    def op_exec(self, header, blobs):
        source = str(header.get("source", ""))
        instructor = bool(header.get("instructor"))
        self._error = None
        capture = Capture(self.output_limit)
        with capture:
            self.shell.run_cell(source, store_history=True)
        outputs = capture.outputs()
        error = self._error
        if error is not None:
            outputs.append(error)
        memory = bool(error and error["ename"] == "MemoryError")
        if instructor:
            self.watch.snapshot = self.watch.take_snapshot()
        else:
            self.watch.check_tampering()
            text = "".join(o.get("text", "") for o in outputs)
            if FAKE_SCORE.search(text):
                self.watch.flag("printed something that looks like a score")
        return {"op": "result", "outputs": outputs, "memory_error": memory}, []

    def _show_traceback(self, etype, evalue, stb):
        lines = [ANSI.sub("", line) for line in (stb or [])][-30:]
        lines = [line if len(line) < 4000 else line[:4000] + " ..." for line in lines]
        try:
            message = str(evalue)[:4000]
        except Exception:
            message = ""
        self._error = {"output_type": "error", "ename": getattr(etype, "__name__", "Error"),
                       "evalue": message, "traceback": lines}

    def op_resolve(self, header, blobs):
        names = [n for n in header.get("names", []) if isinstance(n, str)]
        found = {n: self.shell.user_ns[n] for n in names if n in self.shell.user_ns}
        try:
            with Capture(0):
                tree, rblobs = self.codec.encode(found)
        except Exception as exc:
            return {"op": "error", "exc": codec.encode_exception(exc)}, []
        return {"op": "result", "value": tree}, rblobs

    def op_getattr(self, header, blobs):
        obj = self.refs.get(header.get("ref"))
        name = str(header.get("name", ""))
        try:
            with Capture(0):
                value = getattr(obj, name)
                tree, rblobs = self.codec.encode(value)
        except BaseException as exc:
            return {"op": "error", "exc": self._exception(exc)}, []
        return {"op": "result", "value": tree}, rblobs

    def op_globals(self, header, blobs):
        fn = self.refs.get(header.get("ref"))
        namespace = getattr(fn, "__globals__", None)
        if not isinstance(namespace, dict):
            return {"op": "error", "exc": {"type": "AttributeError", "base": "Exception",
                                           "message": "this object has no __globals__"}}, []
        try:
            updates = self.codec.decode(header["set"], blobs) if "set" in header else {}
            for name, (module, qualname) in (header.get("lend") or {}).items():
                helper = codec.lookup(module, qualname)
                if not callable(helper):
                    raise ValueError(f"nothing to lend at {module}.{qualname}")
                updates[name] = self._lent(helper)
            names = [n for n in header.get("get") or [] if isinstance(n, str)]
            with Capture(0):
                tree, rblobs = self.codec.encode({n: namespace[n] for n in names if n in namespace})
        except Exception as exc:
            return {"op": "error", "exc": codec.encode_exception(exc)}, []
        namespace.update({k: v for k, v in updates.items() if isinstance(k, str)})
        return {"op": "result", "value": tree}, rblobs

    def _lent(self, helper):
        """gdlib's ``helper``, run outside the delegation watch of the call that uses it (a
        generator it returns too, while it runs)."""
        runner = self

        class Paused:
            def __enter__(self):
                self.watch = runner.watch.current
                if self.watch is not None:
                    self.watch.paused += 1

            def __exit__(self, *exc):
                if self.watch is not None:
                    self.watch.paused -= 1
                return False

        def paused_generator(generator):
            while True:
                with Paused():
                    try:
                        item = next(generator)
                    except StopIteration:
                        return
                yield item

        def lent(*args, **kwargs):
            with Paused():
                result = helper(*args, **kwargs)
            return paused_generator(result) if inspect.isgenerator(result) else result
        lent.__name__ = lent.__qualname__ = helper.__name__
        return lent

    def op_call(self, header, blobs):
        fn = self.refs.get(header.get("ref"))
        args, kwargs = self.codec.decode(header.get("args"), blobs)
        return self._call(fn, args, kwargs, header.get("forbidden"), "result")

    def op_calls(self, header, blobs):
        """Several calls of one function, in order (gdcheck's ``call_each``): each call's reply
        is sent on its own as an ``item`` message, exactly what ``call`` would reply, without
        waiting for the grader; the batch ends at the first call that raised, or once the
        replies hold ``budget`` bytes (the grader asks for the rest in another batch), or when
        the grader says ``stop`` (its check stopped reading: a notebook's loop would have
        stopped there too)."""
        fn = self.refs.get(header.get("ref"))
        calls = self.codec.decode(header.get("calls"), blobs)
        budget = int(header.get("budget") or 0) or 64 << 20
        done = sent = 0
        for args, kwargs in calls:
            reply, rblobs = self._call(fn, args, kwargs, header.get("forbidden"), "item")
            self.send(reply, rblobs)
            done += 1
            sent += sum(len(b) for b in rblobs)
            if "exc" in reply or sent > budget or self._stopped():
                break
        return {"op": "result", "done": done}, []

    def _stopped(self) -> bool:
        """Whether the grader sent ``stop`` (the only message it sends during a batch)."""
        with self.watch.internal():
            if not select.select([self.sock], [], [], 0)[0]:
                return False
            try:
                header, _ = protocol.recv(self.sock)
            except protocol.ProtocolError:
                return True
        return header.get("op") == "stop"

    def _call(self, fn, args, kwargs, forbidden, op: str):
        in_place = codec.InPlace(self.snap_codec, args, kwargs)
        forbidden = tuple(sorted(str(m) for m in forbidden or []))
        watch = DelegationWatch(self.watch, forbidden)
        key = (id(fn), forbidden)
        if key not in self._static:
            watch.static(fn)
            self._static[key] = list(watch.hits)
        watch.hits = list(self._static[key])
        rblobs: list[bytes] = []
        error = value = None
        self.watch.current = watch
        sealed = sys.modules.get("gdlib._sealed")  # grading/sealing.py: refuses forbidden references
        if sealed is not None:
            sealed.FORBIDDEN = forbidden
        try:
            with Capture(0), watch:
                try:
                    result = fn(*args, **kwargs)
                    value, rblobs = self.codec.encode(result, rblobs)
                except BaseException as exc:
                    error = self._exception(exc)
                    rblobs = []
        finally:
            self.watch.current = None
            if sealed is not None:
                sealed.FORBIDDEN = ()
        with self.watch.internal():
            changed = in_place.changed(rblobs)
        self.calls += 1
        if self.calls % 25 == 0:  # the next cell is checked anyway; a full check costs milliseconds
            self.watch.check_tampering()
        reply = {"op": "error" if error and op == "result" else op, "changed": changed, "hits": watch.hits}
        if error:
            reply["exc"] = error
        else:
            reply["value"] = value
        return reply, rblobs

    def _exception(self, exc: BaseException) -> dict:
        frame = codec.student_frame(exc.__traceback__, self.library_dirs)
        return codec.encode_exception(exc, frame)


class GraderObject:
    """A function of the grader's (a test's gradient, say): calling it asks the grader."""

    def __init__(self, runner: Runner, ref: int, meta: dict):
        self._runner, self._grader_ref = runner, ref
        self.__name__ = meta.get("name", "function")
        self.__qualname__ = meta.get("qualname", self.__name__)

    def __call__(self, *args, **kwargs):
        return self._runner.request_callback(self._grader_ref, args, kwargs)

    def __repr__(self):
        return f"<function {self.__qualname__}>"


# A student's code (and its error messages) sees what it would see in a notebook: a function, not
# the grader's machinery ("'function' object has no attribute '__code__'").
GraderObject.__name__ = GraderObject.__qualname__ = "function"


def _rebuild_exception(exc: dict) -> BaseException:
    import builtins
    cls = getattr(builtins, str(exc.get("type", "")), None)
    message = str(exc.get("message", ""))
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(message)
        except Exception:
            pass
    return RuntimeError(f"{exc.get('type', 'Error')}: {message}")


def _make_shell():
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=config)
    shell.ask_exit = lambda: None
    return shell


def run(sock: socket.socket) -> None:
    """Serve the grader on ``sock`` until it goes away."""
    header, _ = protocol.recv(sock)
    import gdcheck  # noqa: F401  (loaded before any student code, so its snapshot is the real one)
    try:
        import gdlib._sealed  # noqa: F401  (in a lib the grader sealed: grading/sealing.py)
    except ImportError:
        pass
    runner = Runner(sock, header.get("config", {}))
    runner.shell._showtraceback = runner._show_traceback
    sys.addaudithook(runner.watch.audit)
    protocol.send(sock, {"op": "ready", "pid": os.getpid()})
    runner.serve()


def main() -> None:
    """A sandbox started as its own process (already isolated by its preexec_fn)."""
    run(socket.socket(fileno=int(sys.argv[1])))


if __name__ == "__main__":
    main()
