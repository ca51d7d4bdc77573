"""Catching a student's function that calls the gdlib reference it is checked against.

Two looks: :func:`static_delegation` reads the function's code for names that resolve (through
its globals or closure) to a forbidden gdlib function, and :class:`Watcher` records, with
``sys.setprofile``, every frame of a forbidden gdlib module that runs while the student's code
runs. Callbacks handed to the student's code may use gdlib through :func:`allow_gdlib`. The state
NamedTuples of gdlib.optim are part of the exercises' interface and always allowed.

:func:`reference_helpers` lends the student's function gdlib's version of the other exercise
functions it builds on, so that one bug is charged to one function.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import os
import sys
from pathlib import Path
from types import MappingProxyType
from typing import Callable


def delegation_message(function: str, target: str) -> str:
    return (f"{function} calls {target}, the reference it is checked against: implement the "
            "rule yourself (numpy only), then run this cell again.")


def forbidden_prefix(module: str | None, prefixes: tuple[str, ...]) -> str | None:
    """The one of ``prefixes`` that ``module`` is or is inside (``gdlib.optim.rules`` is inside
    ``gdlib.optim``), else None: the checks forbid whole packages of gdlib (or single modules),
    and a hit is named after the forbidden package, as the student imports it."""
    if module is None:
        return None
    return next((p for p in prefixes if module == p or module.startswith(p + ".")), None)


@functools.cache
def module_files(prefixes: tuple[str, ...]) -> MappingProxyType:
    """Source file -> the forbidden name (package or module) it belongs to, for every module that
    is, or is inside, one of ``prefixes`` (read-only, and read from disk once per process: a
    watcher is made for every call of a student's function)."""
    files = {}
    for name in prefixes:
        module = importlib.import_module(name)
        files[os.path.abspath(module.__file__)] = name
        for folder in getattr(module, "__path__", ()):
            for path in sorted(Path(folder).rglob("*.py")):
                files.setdefault(os.path.abspath(path), name)
    return MappingProxyType(files)


class Watcher:
    """Record calls into forbidden gdlib modules while the student's code runs (sys.setprofile).

    ``modules`` are package or module names: ``gdlib.optim`` forbids every module inside it."""

    active: list[Watcher] = []

    def __init__(self, modules: tuple[str, ...]):
        self.files = module_files(modules)
        self.hits: list[str] = []
        self.paused = 0

    def _profile(self, frame, event, arg):
        if event == "call" and not self.paused:
            module = self.files.get(frame.f_code.co_filename)
            if module is not None:
                name = f"{module}.{frame.f_code.co_qualname}"
                if name not in self.hits:
                    self.hits.append(name)

    def __enter__(self):
        self._previous = sys.getprofile()
        Watcher.active.append(self)
        if self.files:
            sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc):
        sys.setprofile(self._previous)
        Watcher.active.pop()
        return False


def allow_gdlib(fn: Callable) -> Callable:
    """Wrap a callback handed to the student's function (a loss ``f``, a ``grad``) so that the
    gdlib code it runs is not mistaken for delegation. A generator it returns (gdlib's
    ``iterate_minibatches``) is unwatched while it runs too."""
    @functools.wraps(fn)
    def callback(*args, **kwargs):
        with _paused():
            result = fn(*args, **kwargs)
        return _paused_generator(result) if inspect.isgenerator(result) else result
    return callback


@contextlib.contextmanager
def _paused():
    watcher = Watcher.active[-1] if Watcher.active else None
    if watcher is not None:
        watcher.paused += 1
    try:
        yield
    finally:
        if watcher is not None:
            watcher.paused -= 1


def _paused_generator(generator):
    while True:
        with _paused():
            try:
                item = next(generator)
            except StopIteration:
                return
        yield item


@contextlib.contextmanager
def reference_helpers(fn, helpers: tuple[tuple[str, Callable], ...]):
    """While the block runs, the global names ``fn`` calls its helpers by are gdlib's references.

    ``helpers`` holds ``(name, reference)`` pairs. A name is replaced only where the student's
    namespace defines it (``fn.__globals__``) and is put back afterwards, so ``train`` is checked
    with the reference ``iterate_minibatches`` and a bug in the student's ``iterate_minibatches``
    costs the points of that function's own test only. The references run under
    :func:`allow_gdlib`: using them is not delegation.
    """
    namespace = getattr(fn, "__globals__", None)
    saved = {}
    try:
        for name, reference in helpers if namespace is not None else ():
            if name in namespace:
                saved[name] = namespace[name]
                lent = allow_gdlib(reference)
                lent.lent_by_gdcheck = True  # a grader that runs fn elsewhere runs it there too
                namespace[name] = lent
        yield
    finally:
        for name, value in saved.items():
            namespace[name] = value


def _forbidden_object(obj, modules: tuple[str, ...]) -> str | None:
    """``module.name`` if ``obj`` is a function or class (not a state tuple) of ``modules``."""
    while isinstance(obj, functools.partial):
        obj = obj.func
    obj = getattr(obj, "__func__", obj)
    module = forbidden_prefix(getattr(obj, "__module__", None), modules)
    if module is None:
        return None
    if inspect.isclass(obj) and issubclass(obj, tuple):
        return None  # the state NamedTuples are part of the interface, not the answer
    if inspect.isfunction(obj) or inspect.isclass(obj) or callable(obj):
        return f"{module}.{getattr(obj, '__qualname__', type(obj).__name__)}"
    return None


def static_hits(fn, modules: tuple[str, ...]) -> list[str]:
    """Every forbidden gdlib function or class that ``fn`` is, or names directly (its globals or
    closure), in order, as ``package.qualname``. gdcheck (:func:`static_delegation`) and the
    grader's sandbox (``grading/watch.py``) both ask this one function."""
    if not modules:
        return []
    target = fn
    while isinstance(target, functools.partial):
        target = target.func
    target = getattr(target, "__func__", target)
    values = [fn]
    code = getattr(target, "__code__", None)
    if code is not None:
        names, stack = set(), [code]
        while stack:
            c = stack.pop()
            names.update(c.co_names)
            stack.extend(k for k in c.co_consts if inspect.iscode(k))
        namespace = getattr(target, "__globals__", {})
        values += [namespace[n] for n in sorted(names) if n in namespace]
        values += [cell.cell_contents for cell in (getattr(target, "__closure__", None) or ())
                   if _has_contents(cell)]
    hits: list[str] = []
    for value in values:
        hit = _forbidden_object(value, modules)
        if hit and hit not in hits:
            hits.append(hit)
    return hits


def static_delegation(fn, modules: tuple[str, ...]) -> str | None:
    """The first forbidden gdlib function that ``fn`` is, or names directly (globals or closure)."""
    hits = static_hits(fn, modules)
    return hits[0] if hits else None


def _has_contents(cell) -> bool:
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True
