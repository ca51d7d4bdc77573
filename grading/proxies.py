"""The grader's end of a sandbox: proxies that stand for the student's functions in test cells.

A test cell runs in the grader's own process, in a namespace where each name the student
defined is either a plain value (copied out of the sandbox) or a :class:`StudentFunction`. Calling
one sends the arguments to the sandbox as plain data, runs the student's function there, and
brings back the result as plain data (grading/codec.py), so

- the checks (gdcheck, numpy, builtins) are the grader's own and no student code can patch them;
- what a check compares is an honest copy of what the student's function returned: there is no
  student object left in the grader whose ``__eq__`` or ``__array__`` could lie;
- arguments the student's function changed in place are changed here too, so "do not modify the
  input" checks still see it; a function the grader passes (a test's gradient) is called back here;
- an exception the student's function raised is re-raised here with the same type and message,
  pointing at the student's line (``in gradient_descent, line 5: ...``), so a check's message
  reads as it would in the student's kernel;
- when a gdcheck check watches for calls into the gdlib reference it compares against
  (``gdcheck._delegation.Watcher``), the sandbox watches the student's call for the same modules
  and the hits are reported to the check, exactly as if the call had run under its watcher.
"""

from __future__ import annotations

import builtins
import contextlib
import itertools
import keyword
import linecache
import sys

from . import codec, protocol
from .sandbox import Sandbox, SandboxDied


def _forbidden_watcher():
    """gdcheck's active delegation watcher, if a check is running the student's code now."""
    module = sys.modules.get("gdcheck._delegation")
    watcher_class = getattr(module, "Watcher", None)
    active = getattr(watcher_class, "active", None)
    if not active:
        return None
    watcher = active[-1]
    if getattr(watcher, "paused", 0) or not getattr(watcher, "files", None):
        return None
    return watcher


def _grader_namedtuple(module: str, name: str, fields: tuple):
    """The grader's own class for a named tuple of gdlib (``AdamState``), if the fields agree."""
    return codec.gdlib_namedtuple(module, name, fields, load=True)


_CLASSES: dict[tuple[str, bool], type] = {}


def _safe_name(name: str) -> str:
    name = name.rsplit(".", 1)[-1]
    return name if name.isidentifier() and not keyword.iskeyword(name) else "StudentObject"


class StudentObject:
    """Something the student's code made that is not plain data: it can only be asked for
    attributes (each answered by the sandbox, as plain data or another reference)."""

    def __init__(self, bridge: Bridge, ref: int, meta: dict):
        self._bridge, self._ref, self._generation = bridge, ref, bridge.generation
        self._meta = meta

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._bridge.getattr(self, name)

    def __repr__(self):
        return f"<student {self._meta.get('type', 'object')} object>"


class StudentFunction(StudentObject):
    """A function (or any callable) the student defined, run in the sandbox when called."""

    def __init__(self, bridge: Bridge, ref: int, meta: dict):
        super().__init__(bridge, ref, meta)
        self.__name__ = meta.get("name") or "function"
        self.__qualname__ = meta.get("qualname") or self.__name__
        self.__module__ = meta.get("module") or "__main__"
        self.__doc__ = None
        self.__signature__ = meta.get("signature")

    def __call__(self, *args, **kwargs):
        return self._bridge.call(self, args, kwargs)

    def __gdcheck_call_each__(self, calls):
        """gdcheck's ``call_each(fn, calls)``: the calls run in the sandbox in batches (one round
        trip each), their results come back one by one, in order."""
        return self._bridge.call_each(self, calls)

    @property
    def __globals__(self):
        return StudentGlobals(self._bridge, self)

    def __repr__(self):
        return f"<function {self.__qualname__}>"


class StudentGlobals:
    """The global names of a student's function, as ``fn.__globals__`` gives them in a notebook:
    read and set in the sandbox. A gdlib reference that gdcheck lends the function
    (``gdcheck._delegation.reference_helpers``) travels by name and runs in the sandbox."""

    def __init__(self, bridge: Bridge, function: StudentFunction):
        self._bridge, self._function = bridge, function

    def _get(self, name: str) -> dict:
        return self._bridge.globals(self._function, get=[name])

    def __contains__(self, name) -> bool:
        return isinstance(name, str) and name in self._get(name)

    def __getitem__(self, name: str):
        values = self._get(name)
        if name not in values:
            raise KeyError(name)
        return values[name]

    def get(self, name: str, default=None):
        return self._get(name).get(name, default)

    def __setitem__(self, name: str, value) -> None:
        self.update({name: value})

    def update(self, mapping: dict) -> None:
        plain, lent = {}, {}
        for name, value in mapping.items():
            reference = getattr(value, "__wrapped__", None)
            named = codec.course_function(reference) if getattr(value, "lent_by_gdcheck", False) else None
            if named is not None:
                lent[name] = list(named)
            else:
                plain[name] = value
        self._bridge.globals(self._function, set=plain, lend=lent)


def _proxy_class(type_name: str, is_callable: bool) -> type:
    key = (_safe_name(type_name), is_callable)
    if key not in _CLASSES:
        base = StudentFunction if is_callable else StudentObject
        _CLASSES[key] = type(key[0], (base,), {"__module__": "student"})
    return _CLASSES[key]


# -- exceptions ---------------------------------------------------------------------------------

_RAISE_COUNT = [0]
_STUDENT_FILES: list[str] = []


def student_exception(info: dict) -> BaseException:
    """An exception like the student's: a builtin type when it was one, else a look-alike."""
    name = str(info.get("type") or "Error")
    message = str(info.get("message") or "")
    cls = getattr(builtins, name, None)
    if isinstance(cls, type) and issubclass(cls, Exception) and info.get("base") == "Exception":
        try:
            return cls(message)
        except Exception:
            pass
    base = Exception if info.get("base") == "Exception" else RuntimeError
    lookalike = type(_safe_name(name), (base,), {"__module__": str(info.get("module") or "student")})
    return lookalike(message)


def raise_student_error(info: dict):
    """Raise the student's exception with one traceback frame at the student's line."""
    exc = student_exception(info)
    frame = info.get("frame") if isinstance(info.get("frame"), dict) else None
    if not frame or not isinstance(frame.get("lineno"), int) or frame["lineno"] < 1:
        raise exc
    name = str(frame.get("name") or "<module>")
    lineno = min(frame["lineno"], 100_000)
    _RAISE_COUNT[0] += 1
    filename = f"<student code {_RAISE_COUNT[0]}>"
    lines = ["\n"] * (lineno - 1) + [str(frame.get("line") or "") + "\n"]
    linecache.cache[filename] = (len("".join(lines)), None, lines, filename)
    _STUDENT_FILES.append(filename)
    source = "\n" * (lineno - 1) + "def _raise(exc): raise exc\n"
    code = compile(source, filename, "exec")
    function_code = next(c for c in code.co_consts if hasattr(c, "co_name") and c.co_name == "_raise")
    function_code = function_code.replace(co_name=name[:100], co_qualname=name[:100])
    raiser = type(lambda: None)(function_code, {})
    raiser(exc)


def forget_student_files() -> None:
    while _STUDENT_FILES:
        linecache.cache.pop(_STUDENT_FILES.pop(), None)


# -- the bridge ---------------------------------------------------------------------------------

def _unshared(calls: list) -> int:
    """How many of ``calls`` can run in one batch: up to the first call that gets a mutable
    argument an earlier call of the batch got too (the batch sends each call a copy, so that
    call must see what the earlier ones changed in it, as in a loop: it starts the next batch)."""
    seen: set[int] = set()
    for i, (args, kwargs) in enumerate(calls):
        mutable = {id(v) for v in (*args, *kwargs.values()) if codec.holds_mutable(v)}
        if i and mutable & seen:
            return i
        seen |= mutable
    return len(calls)


# gdcheck's call_each: the first call alone (a result a check refuses usually shows up at once, and
# the check then stops as it would in a notebook), then batches 8 times larger, up to CALLS_MAX
CALLS_FIRST, CALLS_GROWTH, CALLS_MAX = 1, 8, 512
CALLS_BUDGET = 64 << 20  # bytes of replies after which the sandbox ends a batch early


class _Unprofiled:
    """Suspends the profile function (gdcheck's delegation ``Watcher``) while the bridge's own
    code runs: student code never runs in this process, so the watcher has nothing to see there
    but would be called for every function of the codec. :meth:`Bridge._serve_callback` puts it
    back while a grader's callback runs (as it would run under the watcher in a notebook)."""

    def __init__(self):
        self.profile = None

    def __enter__(self):
        self.profile = sys.getprofile()
        if self.profile is not None:
            sys.setprofile(None)
        return self

    def __exit__(self, *exc):
        if self.profile is not None:
            sys.setprofile(self.profile)
        return False


class Bridge:
    """Requests to one sandbox, with callbacks served, flags and delegation hits collected.

    ``deadline`` (time.monotonic()) bounds every wait of the current cell; the sandbox is
    killed when it passes (:class:`grading.sandbox.SandboxTimeout`).
    """

    def __init__(self, sandbox: Sandbox):
        self.sandbox = sandbox
        self.refs = codec.RefTable()
        self.codec = codec.Codec(self.refs, self._remote, self._own,
                                 resolve_namedtuple=_grader_namedtuple, max_bytes=sandbox.max_bytes)
        self.snap_codec = codec.Codec(self.refs, self._remote, self._own,
                                      max_bytes=sandbox.max_bytes, drain_iterators=False)
        self.deadline = float("inf")
        self.generation = 0
        self.flags: list[str] = []
        self.hits: list[str] = []
        self.memory_errors = 0
        self._unprofiled: _Unprofiled | None = None  # while a call or calls request runs
        self._stream: dict | None = None  # a calls request in flight: {"most": n, "count": read}

    def restarted(self) -> None:
        self.generation += 1
        self._stream = None
        self.refs = self.codec.refs = self.snap_codec.refs = codec.RefTable()

    def _remote(self, meta: dict, ref: int):
        return _proxy_class(str(meta.get("type", "object")), bool(meta.get("callable")))(self, ref, meta)

    def _own(self, obj):
        if isinstance(obj, StudentObject) and obj._bridge is self and obj._generation == self.generation:
            return obj._ref
        return None

    def _note_flags(self, header: dict) -> None:
        for flag in header.get("flags") or []:
            if isinstance(flag, str) and flag not in self.flags and len(self.flags) < 50:
                self.flags.append(flag[:300])

    def request(self, header: dict, blobs=()) -> tuple[dict, list[bytes]]:
        """Send ``header`` and serve the sandbox's callbacks until its reply (after reading what
        is left of a ``calls`` request in flight)."""
        if self._stream is not None:
            with self._machinery():
                self._drain()
        self.sandbox.send(header, blobs)
        reply, rblobs = self._reply()
        op = reply.get("op")
        if op in ("result", "error"):
            return reply, rblobs
        self.sandbox.stop()
        raise SandboxDied(f"the sandbox broke the protocol (sent {str(op)[:40]!r})")

    def _reply(self) -> tuple[dict, list[bytes]]:
        """The sandbox's next message that is not a callback, serving the callbacks before it."""
        while True:
            reply, rblobs = self.sandbox.receive(self.deadline)
            self._note_flags(reply)
            if reply.get("op") != "callback":
                return reply, rblobs
            self.sandbox.send(*self._serve_callback(reply, rblobs))

    def _serve_callback(self, header: dict, blobs) -> tuple[dict, list[bytes]]:
        try:
            function = self.refs.get(header.get("ref"))
            args, kwargs = self.codec.decode(header.get("args"), blobs)
            if not (isinstance(args, list) and isinstance(kwargs, dict)
                    and all(isinstance(k, str) for k in kwargs)):
                raise protocol.ProtocolError("bad callback arguments")
        except protocol.ProtocolError as exc:
            self.sandbox.stop()
            raise SandboxDied(f"the sandbox broke the protocol: {exc}") from None
        in_place = codec.InPlace(self.snap_codec, args, kwargs)
        try:
            if self._unprofiled is not None and self._unprofiled.profile is not None:
                sys.setprofile(self._unprofiled.profile)
                try:
                    value = function(*args, **kwargs)
                finally:
                    sys.setprofile(None)
            else:
                value = function(*args, **kwargs)
            tree, rblobs = self.codec.encode(value)
        except Exception as exc:
            rblobs = []
            return {"op": "error", "exc": codec.encode_exception(exc),
                    "changed": in_place.changed(rblobs)}, rblobs
        return {"op": "result", "value": tree, "changed": in_place.changed(rblobs)}, rblobs

    def _decode(self, tree, blobs):
        try:
            return self.codec.decode(tree, blobs)
        except protocol.ProtocolError as exc:
            self.sandbox.stop()
            raise SandboxDied(f"the sandbox broke the protocol: {exc}") from None

    def _check_generation(self, proxy: StudentObject) -> None:
        if proxy._generation != self.generation or not self.sandbox.alive:
            raise SandboxDied("the sandbox was restarted, so this object of the student's is gone")

    # operations -------------------------------------------------------------------------------

    def exec(self, source: str, *, instructor: bool = False) -> dict:
        reply, _ = self.request({"op": "exec", "source": source, "instructor": instructor})
        return reply

    def resolve(self, names: list[str]) -> dict:
        reply, blobs = self.request({"op": "resolve", "names": sorted(names)})
        if reply.get("op") == "error":
            raise_student_error(reply.get("exc") or {})
        values = self._decode(reply.get("value"), blobs)
        if not isinstance(values, dict):
            raise SandboxDied("the sandbox broke the protocol (resolve)")
        return {k: v for k, v in values.items() if isinstance(k, str) and k in names}

    def getattr(self, proxy: StudentObject, name: str):
        self._check_generation(proxy)
        reply, blobs = self.request({"op": "getattr", "ref": proxy._ref, "name": name})
        if reply.get("op") == "error":
            raise_student_error(reply.get("exc") or {})
        return self._decode(reply.get("value"), blobs)

    def globals(self, proxy: StudentFunction, *, get=(), set=None, lend=None) -> dict:
        self._check_generation(proxy)
        header = {"op": "globals", "ref": proxy._ref, "get": list(get), "lend": lend or {}}
        blobs: list[bytes] = []
        if set:
            header["set"], blobs = self.codec.encode(dict(set))
        reply, rblobs = self.request(header, blobs)
        if reply.get("op") == "error":
            raise_student_error(reply.get("exc") or {})
        values = self._decode(reply.get("value"), rblobs)
        return values if isinstance(values, dict) else {}

    def call(self, proxy: StudentFunction, args: tuple, kwargs: dict):
        self._check_generation(proxy)
        watcher = _forbidden_watcher()
        with self._machinery():
            tree, blobs = self.codec.encode([list(args), kwargs])
            reply, rblobs = self.request({"op": "call", "ref": proxy._ref, "args": tree,
                                          "forbidden": self._forbidden(watcher)}, blobs)
            return self._returned(watcher, reply, rblobs, args, kwargs)

    def call_each(self, proxy: StudentFunction, calls):
        """``proxy(*args, **kwargs)`` for each ``(args, kwargs)`` of ``calls``, in order, as a
        generator. The calls run in the sandbox in batches (CALLS_FIRST, then CALLS_GROWTH times
        more, up to CALLS_MAX), one request each; the sandbox sends each call's reply as soon as
        the call returns, and the check gets it while the next calls run (the two processes work
        at once). Each result, the arguments its call changed in place and the exception it
        raised come back as :meth:`call` gives them. A batch stops at the call that raised, and
        before a call that shares a mutable argument with an earlier call of the batch; when
        the check stops reading, the next request first tells the sandbox to stop the batch
        after its current call and drops the replies still coming (nothing of them reaches the
        check)."""
        calls = iter(calls)
        size = CALLS_FIRST
        while True:
            pending = [(tuple(args), dict(kwargs)) for args, kwargs in itertools.islice(calls, size)]
            if not pending:
                return
            while pending:
                self._check_generation(proxy)
                watcher = _forbidden_watcher()
                batch = pending[:_unshared(pending)]
                with self._machinery():
                    self._drain()
                    tree, blobs = self.codec.encode([[list(a), k] for a, k in batch])
                    self.sandbox.send({"op": "calls", "ref": proxy._ref, "calls": tree,
                                       "forbidden": self._forbidden(watcher),
                                       "budget": CALLS_BUDGET}, blobs)
                    self._stream = {"most": len(batch), "count": 0}
                done = 0
                while True:
                    with self._machinery():
                        got = self._next_item()
                    if got is None:
                        break
                    args, kwargs = batch[done]
                    done += 1
                    with self._machinery():
                        value = self._returned(watcher, got[0], got[1], args, kwargs)
                    try:
                        yield value
                    except GeneratorExit:  # the check stopped reading: stop the batch now
                        self._stop_stream()
                        raise
                pending = pending[done:]
            size = min(size * CALLS_GROWTH, CALLS_MAX)

    def _next_item(self):
        """The next call's reply of the ``calls`` request in flight, as (header, blobs); None at
        the request's final reply. Serves the sandbox's callbacks meanwhile."""
        stream = self._stream
        try:
            reply, rblobs = self._reply()
            op = reply.get("op")
            if op == "item" and stream["count"] < stream["most"]:
                stream["count"] += 1
                return reply, rblobs
            if op == "result" and reply.get("done") == stream["count"] >= 1:
                self._stream = None
                return None
            self.sandbox.stop()
            raise SandboxDied(f"the sandbox broke the protocol (sent {str(op)[:40]!r} during calls)")
        except BaseException:
            self._stream = None
            raise

    def _stop_stream(self) -> None:
        """Tell the sandbox to end the ``calls`` request in flight after its current call."""
        if self._stream is not None and not self._stream.get("stopped") and self.sandbox.alive:
            self._stream["stopped"] = True
            try:
                self.sandbox.send({"op": "stop"})
            except SandboxDied:  # it is gone: nothing left to read either
                self._stream = None

    def _drain(self) -> None:
        """Read and drop what is left of a ``calls`` request the check stopped reading, after
        telling the sandbox to stop it after the call it is running."""
        self._stop_stream()
        while self._stream is not None:
            self._next_item()

    @contextlib.contextmanager
    def _machinery(self):
        """The bridge's own work, unprofiled (:class:`_Unprofiled`)."""
        outer = self._unprofiled
        with _Unprofiled() as self._unprofiled:
            try:
                yield
            finally:
                self._unprofiled = outer

    @staticmethod
    def _forbidden(watcher) -> list[str]:
        return sorted(set(watcher.files.values())) if watcher is not None else []

    def _returned(self, watcher, reply: dict, rblobs, args, kwargs):
        """What a call returned (or raise what it raised), after mirroring its in-place changes
        and recording the forbidden gdlib functions it used."""
        for hit in reply.get("hits") or []:
            hit = str(hit)[:200]
            if watcher is not None and hit not in watcher.hits:
                watcher.hits.append(hit)
            if hit not in self.hits:
                self.hits.append(hit)
        codec.apply_changes(reply.get("changed"), args, kwargs,
                            lambda subtree: self._decode(subtree, rblobs))
        if reply.get("op") == "error" or "exc" in reply:
            if (reply.get("exc") or {}).get("type") == "MemoryError":
                self.memory_errors += 1
            raise_student_error(reply.get("exc") or {})
        return self._decode(reply.get("value"), rblobs)
