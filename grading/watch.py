"""What the sandbox watches (inside the sandbox): output, delegation to gdlib, tampering.

- :class:`Capture` keeps at most so many characters of what a cell prints;
- :class:`DelegationWatch` finds the forbidden gdlib functions a student's call uses: by the
  names in its code, and with a profiler while it runs (like gdcheck's own watcher, which runs
  in the grader and cannot see the sandbox); a call that changes the profiler or the tracer,
  starts a thread or a process while watched is reported as hiding what it runs;
- :class:`Watchers` holds the flags for the instructor: an audit hook (opening the instructor's
  files, processes, network, tracers, searching the interpreter's objects) and a snapshot of
  numpy, builtins, gdcheck, gdlib and IPython's hooks, compared after every student cell.
  Replaced builtins are put back, since the sandbox's own code needs them.

All of it is best effort: student code runs in the same process and could defeat it. Scores
never depend on it (the checks run in the grader); only the flags in the report do.
"""

from __future__ import annotations

import importlib
import inspect
import operator
import os
import sys

WATCHED_MODULES = ("builtins", "numpy", "numpy.testing", "numpy.linalg", "numpy.random", "math",
                   "os", "io", "inspect", "traceback", "warnings", "functools", "operator")
WATCHED_PREFIXES = ("gdcheck", "gdlib")
PROCESS_EVENTS = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
                  "os.fork", "os.forkpty", "pty.spawn")
# every event :meth:`Watchers.audit` acts on, besides those starting with PROCESS_EVENTS
AUDITED_EVENTS = frozenset({"sys.setprofile", "sys.settrace", "sys.addaudithook",
                            "_thread.start_new_thread", "open", "socket.connect", "socket.bind",
                            "gc.get_objects", "gc.get_referrers", "gc.get_referents"})
IGNORED_BUILTINS = {"_", "__", "___", "get_ipython", "exit", "quit", "display", "__IPYTHON__"}
BENIGN_CALLBACK_MODULES = ("IPython", "matplotlib", "matplotlib_inline", "ipykernel", "ipywidgets")


class Capture:
    """Collect what a cell writes to sys.stdout/sys.stderr, keeping at most ``limit`` characters."""

    def __init__(self, limit: int):
        self.limit, self.kept, self.dropped = limit, 0, 0
        self.chunks: list[list[str]] = []

    def stream(self, name: str):
        capture = self

        class Stream:
            encoding, errors = "utf-8", "replace"

            def write(self, text):
                text = str(text)
                room = capture.limit - capture.kept
                if len(text) > room:
                    capture.dropped += len(text) - max(room, 0)
                    text = text[:max(room, 0)]
                if text:
                    capture.kept += len(text)
                    if capture.chunks and capture.chunks[-1][0] == name:
                        capture.chunks[-1][1] += text
                    else:
                        capture.chunks.append([name, text])
                return len(text)

            def flush(self):
                pass

            def isatty(self):
                return False

            def writable(self):
                return True

        return Stream()

    def __enter__(self):
        self._saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = self.stream("stdout"), self.stream("stderr")
        return self

    def __exit__(self, *exc):
        sys.stdout, sys.stderr = self._saved
        return False

    def outputs(self) -> list[dict]:
        outs = [{"output_type": "stream", "name": name, "text": text} for name, text in self.chunks]
        if self.dropped:
            note = f"\n[... {self.dropped} more characters of output were not kept]\n"
            outs.append({"output_type": "stream", "name": "stdout", "text": note})
        return outs


class DelegationWatch:
    """Which forbidden gdlib functions a call uses: by name in its code, and while it runs."""

    def __init__(self, watchers, modules):
        self.watchers, self.files, self.hits = watchers, {}, []
        self.paused = 0  # > 0 while a reference helper the grader lent runs (not delegation)
        self.profile = self._profile  # one bound method, so that the identity check below holds
        # A package (gdlib.optim) stands for every module inside it; a hit is named after it.
        for name in modules:
            if isinstance(name, str) and (name == "gdlib" or name.startswith("gdlib.")):
                try:
                    module = importlib.import_module(name)
                    self.files[os.path.abspath(module.__file__)] = name
                    for folder in getattr(module, "__path__", ()):
                        for root, _, files in os.walk(folder):
                            for file in sorted(f for f in files if f.endswith(".py")):
                                self.files.setdefault(os.path.abspath(os.path.join(root, file)), name)
                except Exception:
                    pass

    def _profile(self, frame, event, arg):
        if event == "call" and not self.paused:
            module = self.files.get(frame.f_code.co_filename)
            if module is not None:
                hit = f"{module}.{frame.f_code.co_qualname}"
                if hit not in self.hits:
                    self.hits.append(hit)

    def static(self, fn) -> None:
        modules = set(self.files.values())
        if not modules:
            return
        import functools
        values, stack, names = [fn], [], set()
        target = getattr(fn, "__func__", fn)
        while isinstance(target, functools.partial):
            target = target.func
        code = getattr(target, "__code__", None)
        if code is not None:
            stack.append(code)
            namespace = getattr(target, "__globals__", {}) or {}
            while stack:
                c = stack.pop()
                names.update(c.co_names)
                stack.extend(k for k in c.co_consts if inspect.iscode(k))
            values += [namespace[n] for n in sorted(names) if n in namespace]
            for cell in getattr(target, "__closure__", None) or ():
                try:
                    values.append(cell.cell_contents)
                except ValueError:
                    pass
        for value in values:
            obj = getattr(value, "__func__", value)
            module = getattr(obj, "__module__", None)
            module = next((m for m in sorted(modules) if module is not None
                           and (module == m or module.startswith(m + "."))), None)
            if module is not None and not (inspect.isclass(obj) and issubclass(obj, tuple)) \
                    and (inspect.isfunction(obj) or inspect.isclass(obj) or callable(obj)):
                hit = f"{module}.{getattr(obj, '__qualname__', type(obj).__name__)}"
                if hit not in self.hits:
                    self.hits.append(hit)

    def __enter__(self):
        if self.files:
            import threading
            with self.watchers.internal():
                sys.setprofile(self.profile)
                threading.setprofile(self.profile)
        return self

    def __exit__(self, *exc):
        if self.files:
            import threading
            if sys.getprofile() is not self.profile:
                self.hits.append("(the call removed the grader's watcher, sys.setprofile)")
            with self.watchers.internal():
                sys.setprofile(None)
                threading.setprofile(None)
        return False


class Watchers:
    """Flags about what student code did in this process (see the module's docstring)."""

    def __init__(self, shell, config: dict):
        import builtins
        self.shell = shell
        self.sensitive = tuple(p.rstrip("/") + "/" for p in config.get("sensitive", ()))
        self.keep = tuple(p.rstrip("/") + "/" for p in config.get("keep", ()))
        self.flags: list[str] = []
        self._internal = 0
        self.current: DelegationWatch | None = None
        gdcheck = sys.modules.get("gdcheck")
        self.gdcheck_dir = os.path.dirname(os.path.abspath(gdcheck.__file__)) + "/" if gdcheck else "\0"
        self.builtins = dict(vars(builtins))
        self.snapshot = self.take_snapshot()

    def flag(self, text: str) -> None:
        if text not in self.flags and len(self.flags) < 50:
            self.flags.append(text)

    def internal(self):
        watchers = self

        class Internal:
            def __enter__(self):
                watchers._internal += 1

            def __exit__(self, *exc):
                watchers._internal -= 1
                return False
        return Internal()

    def _from_gdcheck(self) -> bool:
        """Whether the code that raised the audit event is gdcheck's (its own delegation watcher)."""
        self._internal += 1
        try:
            frame = sys._getframe(2)
        except ValueError:
            return False
        finally:
            self._internal -= 1
        return frame.f_code.co_filename.startswith(self.gdcheck_dir)

    def audit(self, event: str, args) -> None:
        # first, the events this hook has nothing to say about (most of them: builtins.id,
        # object.__getattr__ for every frame a profile function looks at), at the cost of a lookup
        if event not in AUDITED_EVENTS and not event.startswith(PROCESS_EVENTS):
            return
        if self._internal:
            return
        if event in ("sys.setprofile", "sys.settrace") and self._from_gdcheck():
            return
        watch = self.current
        if watch is not None and watch.files and (
                event in ("sys.setprofile", "sys.settrace", "_thread.start_new_thread")
                or event.startswith(PROCESS_EVENTS)):
            hit = f"(the call used {event}, which hides what it runs from the grader)"
            if hit not in watch.hits:
                watch.hits.append(hit)
        if event == "open" and args and isinstance(args[0], (str, bytes)):
            path = args[0].decode("utf-8", "replace") if isinstance(args[0], bytes) else args[0]
            full = os.path.normpath(os.path.join(os.getcwd(), path)) + "/"
            if full.startswith(self.sensitive) and not full.startswith(self.keep):
                self.flag(f"tried to open {full.rstrip('/')} (an instructor's file)")
        elif event.startswith(PROCESS_EVENTS):
            self.flag(f"started a process ({event})")
        elif event in ("socket.connect", "socket.bind"):
            self.flag(f"used the network ({event})")
        elif event in ("sys.setprofile", "sys.settrace", "sys.addaudithook"):
            self.flag(f"installed a tracer or hook ({event})")
        elif event in ("gc.get_objects", "gc.get_referrers", "gc.get_referents"):
            self.flag(f"searched the interpreter's objects ({event})")

    def take_snapshot(self) -> dict:
        modules = {name: sys.modules.get(name) for name in WATCHED_MODULES}
        modules.update({name: m for name, m in list(sys.modules.items())
                        if name.split(".")[0] in WATCHED_PREFIXES})
        shot = {"modules": {}, "hooks": self._hook_counts()}
        for name, module in modules.items():
            if module is not None:
                # the objects themselves, compared by identity (``id()`` is an audited event:
                # thousands of calls to the audit hook)
                shot["modules"][name] = (module, dict(vars(module)))
        return shot

    def _hook_counts(self) -> dict:
        shell = self.shell
        user_callbacks = sorted(
            f"{event}:{getattr(cb, '__qualname__', cb)}" for event, cbs in shell.events.callbacks.items()
            for cb in cbs if not str(getattr(cb, "__module__", "") or "").startswith(BENIGN_CALLBACK_MODULES))
        return {"input transformer": len(shell.input_transformers_cleanup) + len(shell.input_transformers_post),
                "AST transformer": len(shell.ast_transformers),
                "IPython event callback": user_callbacks,
                "import hook": len(sys.meta_path) + len(sys.path_hooks),
                "custom exception handler": len(getattr(shell, "custom_exceptions", ()) or ())}

    def check_tampering(self) -> None:
        """Flag what student code changed in the watched modules and IPython's hooks."""
        old, new = self.snapshot, self.take_snapshot()
        restored = False
        for name, (module, attrs) in old["modules"].items():
            now = sys.modules.get(name)
            if now is not module:
                self.flag(f"replaced the module {name} in sys.modules")
                continue
            now_attrs = new["modules"].get(name, (None, {}))[1]
            if len(now_attrs) == len(attrs) and all(map(operator.is_, now_attrs.values(), attrs.values())) \
                    and list(now_attrs) == list(attrs):
                continue  # the same names bound to the same objects: nothing to look at
            current = vars(module)
            for key, old_value in attrs.items():
                if name == "builtins" and key in IGNORED_BUILTINS:
                    continue
                if key not in current:
                    self.flag(f"deleted {name}.{key}")
                elif current[key] is not old_value:
                    if name == "builtins" or not key.startswith("__"):
                        self.flag(f"replaced {name}.{key}")
                else:
                    continue
                if name == "builtins":  # this program needs the real builtins
                    current[key] = self.builtins[key]
                    restored = True
        for hook, count in new["hooks"].items():
            if count != old["hooks"].get(hook):
                self.flag(f"installed an {hook}" if hook[0] in "AIaei" else f"installed a {hook}")
        self.snapshot = self.take_snapshot() if restored else new
