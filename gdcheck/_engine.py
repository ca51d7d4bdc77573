"""How every check runs: a student's function beside gdlib's reference, on the same inputs.

A check is a :class:`Spec` (the function's name, gdlib's reference, and a ``run`` that calls an
implementation on one case's inputs and returns its named :class:`Outputs`) plus a list of
:class:`Case` objects. :func:`verify` then

1. refuses a function that is, or calls, the gdlib reference it is compared with;
2. runs the reference and the student's function on fresh copies of every case's inputs, with
   numpy's warnings recorded (never printed: nbgrader scores any stderr output as a failure);
3. looks for the first problem: an exception, an input changed in place, a broken property
   (``Spec.validate``), a shape, a NaN, a value or a dtype that differs from the reference;
4. on a problem, compares the student's outputs with every known mistake of the catalogue on
   the same cases and, if one matches, names it; otherwise says which output differs, where and
   by how much. Case labels name shapes and dtypes only, never the (possibly hidden) inputs.

Problems surface as :class:`Failure`; the public checks turn it into one short AssertionError.

Adding a check (see gdcheck/optimizers.py for a full example): write ``run(impl, inputs) ->
Outputs`` that calls an implementation and names what it returns (raise :class:`Failure` for a
result it cannot read; anything else raised is reported as the student's error), cases whose
``make`` builds fresh inputs from a seed, and a :class:`Spec` listing the gdlib modules the
student may not call; wrap ``verify`` in :func:`public_check`. Add the function's classic mistakes
to gdcheck/catalogue.py and a student-like version of each to tests/wrong_variants/<id>.py.
A ``run`` that calls the implementation many times (random checks: hundreds of short chains)
does it through :func:`call_each`, with arguments of their own for each call and test functions
that travel by value (``travels_by_value = True``, like ``local_minima.RecordedPlane``): the
grader then needs a few round trips to the student's sandbox instead of one per call.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import sysconfig
import traceback
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

from gdcheck._delegation import Watcher, delegation_message, reference_helpers, static_delegation
from gdcheck.catalogue import Mistake, mistakes_for

import gdlib

# Frames from these folders are not the student's: an error message points at the last other one.
_LIBRARY_DIRS = tuple({os.path.dirname(os.__file__), sysconfig.get_paths()["purelib"],
                       os.path.dirname(np.__file__), os.path.dirname(os.path.abspath(__file__)),
                       os.path.dirname(os.path.abspath(gdlib.__file__))})


class Failure(Exception):
    """A check found a problem; ``str(failure)`` is the message for the student."""


class Outputs(dict):
    """Named results of one implementation on one case, in the order they are compared.

    ``mutated`` lists the inputs the implementation changed in place; ``axis_names`` names the
    index of a 1-D output in messages (``lr_t differs at t = 4``).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.mutated: list[str] = []
        self.warnings: list[str] = []
        self.inputs: dict = {}
        self.axis_names: dict[str, str] = {}  # key -> name of a 1-D output's index ("t")


@dataclass(frozen=True)
class Case:
    """One test input. ``label`` is shown to students: shapes, dtypes, counts, never values."""

    label: str
    make: Callable[[], dict]


@dataclass(frozen=True)
class Spec:
    """What :func:`verify` needs to check one function."""

    function: str
    reference: Callable
    run: Callable[[Callable, dict], Outputs]
    forbidden: tuple[str, ...] = ()
    validate: Callable[[Outputs], str | None] | None = None  # properties; sees outputs.inputs
    hint: str = ""  # appended when a difference matches no known mistake
    # (name, gdlib reference) of the exercise's other functions that this one calls: while the
    # student's function runs, it calls the references instead (one bug, one function)
    helpers: tuple[tuple[str, Callable], ...] = ()
    rtol: float = 1e-6
    atol: float = 1e-9
    rtol32: float = 2e-5
    atol32: float = 1e-6

    def __post_init__(self):
        SPECS[self.function] = self


SPECS: dict[str, Spec] = {}  # exercise function -> its Spec, for the grader (grading/sealing.py)


# -- running code quietly ------------------------------------------------------------------------

@contextlib.contextmanager
def quiet():
    """Record warnings instead of printing them, and swallow anything written to stderr."""
    with warnings.catch_warnings(record=True) as caught, \
            np.errstate(all="warn", under="ignore"), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("always")
        yield caught


# -- snapshots and comparisons -------------------------------------------------------------------

def _arrays(value, name: str):
    """(name, array) pairs of the arrays inside an input: arrays, tuples/NamedTuples, dicts."""
    if isinstance(value, np.ndarray):
        yield name, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _arrays(item, f"{name}[{key!r}]")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _arrays(item, f"{name}[{i}]")
    elif isinstance(value, tuple):
        fields = getattr(value, "_fields", None) or [str(i) for i in range(len(value))]
        for field, item in zip(fields, value):
            yield from _arrays(item, f"{name}.{field}" if hasattr(value, "_fields") else f"{name}[{field}]")


def snapshot(inputs: dict) -> dict:
    return {name: arr.copy() for key, value in inputs.items() for name, arr in _arrays(value, key)}


# An input "changed in place" when it moved by more than the rounding of undoing a change (x[i] += h,
# then x[i] -= 2 * h, then x[i] += h can leave x a few units in the last place away).
ROUNDING_RTOL, ROUNDING_ATOL = 1e-12, 1e-15


def changed(inputs: dict, before: dict) -> list[str]:
    """Names of the arrays in ``inputs`` that differ from their ``before`` snapshot by more than
    rounding (see ``ROUNDING_RTOL``)."""
    now = dict(a for key, value in inputs.items() for a in _arrays(value, key))
    return [name for name, old in before.items()
            if name in now and (now[name].shape != old.shape or not _within_rounding(now[name], old))]


def _within_rounding(now: np.ndarray, old: np.ndarray) -> bool:
    if np.array_equal(now, old, equal_nan=True):
        return True
    if not (np.issubdtype(old.dtype, np.floating) and np.issubdtype(now.dtype, np.floating)):
        return False
    with np.errstate(all="ignore"):
        return bool(np.all(np.isclose(now, old, rtol=ROUNDING_RTOL, atol=ROUNDING_ATOL, equal_nan=True)))


def _fmt(value) -> str:
    return f"{value:.6g}" if isinstance(value, (float, np.floating)) else repr(value)


def _at(index, name: str | None) -> str:
    """" at index (1, 2)", or " at t = 4" when the single axis has a name; "" for a scalar."""
    if index == ():
        return ""
    if name and len(index) == 1:
        return f" at {name} = {index[0]}"
    return f" at index {index}"


def _tolerance(spec: Spec, expected: np.ndarray) -> tuple[float, float]:
    if expected.dtype in (np.float32, np.float16):
        return spec.rtol32, spec.atol32
    return spec.rtol, spec.atol


def difference(spec: Spec, yours: Outputs, expected: Outputs, *, dtypes: bool = True) -> str | None:
    """The first way ``yours`` differs from ``expected``, as a sentence; None if they agree."""
    if sorted(yours.mutated) != sorted(expected.mutated):
        extra = [m for m in yours.mutated if m not in expected.mutated]
        if extra:
            return (f"{spec.function} changed its input {', '.join(extra)} in place; leave the "
                    "inputs untouched (work on a copy, or restore what you change)")
        return f"{spec.function} did not change {', '.join(expected.mutated)} as expected"
    for key, b in expected.items():
        if key not in yours:
            return f"{key} is missing from what {spec.function} returned"
        problem = _array_difference(spec, key, yours[key], b, expected.axis_names.get(key))
        if problem:
            return problem
    if dtypes:
        for key, b in expected.items():
            a, b = np.asarray(yours[key]), np.asarray(b)
            if b.ndim and np.issubdtype(b.dtype, np.floating) and a.dtype != b.dtype:
                return (f"{key} has dtype {a.dtype}, expected {b.dtype} (the dtype of the input). "
                        "Arrays made with np.zeros(x.shape) and numpy scalars such as "
                        "np.power(beta, t) are float64 and turn a float32 result into float64: "
                        "use np.zeros_like(x) and Python numbers (beta**t)")
    return None


def _array_difference(spec: Spec, key: str, a, b, axis: str | None = None) -> str | None:
    b = np.asarray(b)
    try:
        a = np.asarray(a, dtype=b.dtype if b.dtype.kind in "iub" else float)
    except (TypeError, ValueError):
        return f"{key} should be {'a number' if b.ndim == 0 else 'an array'}, got {type(a).__name__}"
    if a.shape != b.shape:
        return f"{key} has shape {a.shape}, expected {b.shape}"
    if b.dtype.kind in "iub":
        wrong = np.argwhere(a != b)
        if len(wrong):
            i = tuple(int(j) for j in wrong[0])
            return (f"{key} differs{_at(i, axis)}: yours {_fmt(a[i].item())}, expected "
                    f"{_fmt(b[i].item())} ({len(wrong)} of {b.size} entries differ)")
        return None
    bad = ~np.isfinite(a) & np.isfinite(b)
    if bad.any():
        if b.ndim == 0:
            return f"{key} is {a.item()} where the reference is finite"
        i = tuple(int(j) for j in np.argwhere(bad)[0])
        return (f"{key} contains {int(bad.sum())} NaN or infinite value(s) (the first"
                f"{_at(i, axis)}) where the reference is finite")
    rtol, atol = _tolerance(spec, b)
    with np.errstate(all="ignore"):
        close = np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
        if close.all():
            return None
        error = np.where(close, 0.0, np.abs(a - b))
        i = tuple(int(j) for j in np.unravel_index(np.argmax(error), b.shape))
        relative = np.max(error / np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-300))
    head = f"{key} differs{_at(i, axis)}: yours {_fmt(a[i].item())}, expected {_fmt(b[i].item())}"
    if b.ndim == 0:
        return f"{head} (relative error {relative:.3g})"
    return (f"{head} (largest absolute error {np.max(error):.3g}, largest relative error "
            f"{relative:.3g}; {int((~close).sum())} of {b.size} entries differ)")


def is_pair(value) -> bool:
    """Whether ``value`` is the pair the notebooks ask for: a tuple (named or not) or a list of two."""
    return isinstance(value, (tuple, list)) and len(value) == 2


def as_array(value, what: str) -> np.ndarray:
    """A copy of ``value`` as a numeric array, or a :class:`Failure` saying what was expected."""
    try:
        arr = np.array(value, copy=True)
    except (TypeError, ValueError):
        arr = None
    if arr is None or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise Failure(f"{what} should be a numpy array of numbers, got {type(value).__name__}")
    return arr


# -- calling an implementation many times --------------------------------------------------------

def call_each(impl: Callable, calls):
    """``impl(*args, **kwargs)`` for each ``(args, kwargs)`` of ``calls``, in order, as a generator.

    In a notebook this is the plain loop: each call happens when the check asks for its result,
    and an exception comes out of the call that raised it. A grader that runs the student's
    function in another process (grading/proxies.py: its proxies have ``__gdcheck_call_each__``)
    runs the calls there in batches, one round trip per batch instead of one per call, and gives
    the same results, in-place changes of the arguments and exceptions, in the same order. So
    that both agree, a check gives each call its own arguments (no mutable argument shared by two
    calls) and does not change the arguments of a call before it gets that call's result.
    """
    batched = getattr(type(impl), "__gdcheck_call_each__", None)
    if batched is not None:
        yield from batched(impl, calls)
        return
    for args, kwargs in calls:
        yield impl(*args, **kwargs)


# -- running one implementation on one case ------------------------------------------------------

class _StudentError(Exception):
    def __init__(self, exc: BaseException):
        self.exc = exc


def execute(spec: Spec, impl: Callable, case: Case, *, student: bool = False) -> Outputs:
    """Run ``impl`` on fresh inputs of ``case``; record the inputs it changes in place."""
    inputs = case.make()
    before = snapshot(inputs)
    watcher = Watcher(spec.forbidden if student else ())
    with quiet() as caught:
        try:
            with watcher, reference_helpers(impl, spec.helpers if student else ()):
                outputs = spec.run(impl, inputs)
        except Failure:
            raise
        except Exception as exc:  # anything but Failure comes from the implementation
            if not student:
                raise
            raise _StudentError(exc) from None
    if watcher.hits:
        raise Failure(delegation_message(spec.function, watcher.hits[0]))
    outputs.mutated = outputs.mutated + [m for m in changed(inputs, before) if m not in outputs.mutated]
    outputs.warnings = [str(w.message) for w in caught]
    outputs.inputs = case.make()  # pristine inputs, for validate and the detectors
    return outputs


def _error_message(function: str, exc: BaseException, where: str) -> str:
    if isinstance(exc, NotImplementedError):
        return (f"{function} is not implemented yet: replace the line "
                "`raise NotImplementedError()` with your code, run that cell, then this one.")
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith(_LIBRARY_DIRS)]
    line = ""
    if frames:
        last = frames[-1]
        code = f": {last.line.strip()}" if last.line else ""
        line = f"\n  in {last.name}, line {last.lineno}{code}"
    return f"{function} raised {type(exc).__name__}: {exc}{line}\n{where}."


# -- the check ----------------------------------------------------------------------------------

def verify(spec: Spec, fn, cases: list[Case], *, what: str = "") -> str:
    """Check ``fn`` against ``spec.reference`` on ``cases``; return a one-line summary or raise
    :class:`Failure` with a message for the student."""
    if not callable(fn):
        raise Failure(f"{spec.function} must be a function, got {type(fn).__name__}: pass the "
                      f"function itself, e.g. check_{spec.function}({spec.function})")
    hit = static_delegation(fn, spec.forbidden)
    if hit:
        raise Failure(delegation_message(spec.function, hit))
    n = len(cases)
    references, yours = [], []
    for i, case in enumerate(cases):
        where = f"on test case {i + 1} of {n} ({case.label})"
        references.append(execute(spec, spec.reference, case))
        try:
            yours.append(execute(spec, fn, case, student=True))
        except _StudentError as error:
            raise Failure(_error_message(spec.function, error.exc, where)) from None
        size, expected = _size(dict(yours[-1])), _size(dict(references[-1]))
        if size > OUTPUT_SIZE_FACTOR * expected + OUTPUT_SIZE_SLACK:
            yours.pop()  # not kept: a check holds what it compares
            raise Failure(f"{spec.function} returns about {size / 1e6:.1f} MB {where}, where the reference "
                          f"returns {expected / 1e3:.1f} kB: return only what the exercise asks for.")
    for i, (case, mine, expected) in enumerate(zip(cases, yours, references)):
        problem = (spec.validate(mine) if spec.validate and not mine.mutated else None) \
            or difference(spec, mine, expected)
        if problem:
            raise Failure(_failure_message(spec, cases, yours, references, i, problem))
    return f"{spec.function}: all {n} test cases agree with the reference{what}."


OUTPUT_SIZE_FACTOR, OUTPUT_SIZE_SLACK = 64, 1 << 20


def _size(value, depth: int = 0) -> int:
    """Bytes an output holds, roughly: arrays' buffers, strings, containers' items."""
    if depth > 20:
        return 0
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, (str, bytes)):
        return len(value)
    if isinstance(value, dict):
        return sum(_size(k, depth + 1) + _size(v, depth + 1) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return 8 * len(value) + sum(_size(v, depth + 1) for v in value)
    return 8


def _failure_message(spec, cases, yours, references, i, problem) -> str:
    where = f"test case {i + 1} of {len(cases)} ({cases[i].label})"
    mistake = diagnose(spec, cases, yours, references)
    if mistake is not None:
        return (f"{spec.function} is not right yet. This looks like {mistake.title}.\n"
                f"{mistake.explanation}\n(Details: on {where}, {problem}.)")
    hint = ""
    if yours[i].warnings:
        hint = f"\nnumpy warned while your code ran: {yours[i].warnings[0]}"
    if spec.hint:
        hint += f"\n{spec.hint}"
    return f"{spec.function} does not match the reference on {where}:\n{problem}.{hint}"


def diagnose(spec: Spec, cases: list[Case], yours: list[Outputs],
             references: list[Outputs]) -> Mistake | None:
    """The first catalogue mistake whose outputs equal the student's on every case."""
    for mistake in mistakes_for(spec.function):
        if mistake.detect is not None:
            with quiet():
                try:
                    if mistake.detect(yours, references):
                        return mistake
                except Exception:
                    pass
        if mistake.implementation is not None and _reproduces(spec, mistake, cases, yours):
            return mistake
    return None


def _reproduces(spec: Spec, mistake: Mistake, cases: list[Case], yours: list[Outputs]) -> bool:
    for case, mine in zip(cases, yours):
        try:
            theirs = execute(spec, mistake.implementation, case)
        except Exception:
            return False
        if difference(spec, mine, theirs, dtypes=False) is not None:
            return False
    return True


def public_check(fn: Callable) -> Callable:
    """Turn a function that returns a summary or raises :class:`Failure` into a student-facing
    check: it prints the summary, or raises one AssertionError holding just the message."""
    @functools.wraps(fn)
    def check(*args, **kwargs):
        __tracebackhide__ = True  # noqa: F841  (pytest and IPython hide this frame)
        try:
            summary = fn(*args, **kwargs)
        except Failure as failure:
            message = str(failure)
        else:
            print(summary)
            return None
        raise AssertionError(message)
    return check
