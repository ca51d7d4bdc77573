"""Grade one submission (runs in a worker process): rebuild, execute, score, write autograded/.

Student cells (answers, cells the student added) run in the sandbox. Instructor setup cells run
in the sandbox too (student code needs their imports) and in the grader's namespace. Test cells
run only in the grader's namespace, where each name the student defined is a proxy or a copy
(grading/proxies.py). A test cell scores as nbgrader scores it (``nbgrader.utils.determine_grade``
on the outputs: an error or anything on stderr gives 0, a number as the last expression gives
partial credit, anything else full points) with the points of the *source*.

Per cell there is a time limit; when the sandbox dies (``os._exit``, out of memory, killed after
a time-out) it is restarted and the cells that ran before are replayed (not the one that killed
it), at most ``MAX_RESTARTS`` times, so one bad function costs only its own tests.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import dis
import io
import json
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import code_review, notebooks as nbs
from .diagnoses import mistakes_in_outputs
from .proxies import Bridge, forget_student_files
from .sandbox import Isolation, Sandbox, SandboxDied, SandboxError, SandboxTimeout

MAX_RESTARTS = 8
OUTPUT_LIMIT = 100_000
CODE_SUFFIXES = (".py", ".pth", ".pyc", ".so", ".pyx", ".egg-link")
IGNORED_FILES = ("timestamp.txt",)
STATUSES = ("graded", "timed out", "crashed", "malformed", "flagged", "refused", "not recorded")
# A student the gradebook knows who submitted nothing (grading/records.py): no Result, a status.
MISSING = "missing"


@dataclass
class Options:
    timeout: float = 60.0                 # per cell
    memory_mb: int = 2048
    output_limit: int = OUTPUT_LIMIT
    submission_seconds: float = 600.0     # wall clock for a whole submission, every cell included
    unsafe_same_user: bool = False        # grade without a sandbox of another user (see sandbox.py)


@dataclass
class Result:
    """What a worker reports for one submission; plain data, so it pickles."""

    student: str
    assignment: str
    status: str = "graded"
    scores: dict = field(default_factory=dict)       # notebook -> grade_id -> score (None: manual)
    unanswered: dict = field(default_factory=dict)   # notebook -> [grade_id of unanswered answers]
    max_scores: dict = field(default_factory=dict)   # notebook -> grade_id -> points
    notes: list = field(default_factory=list)
    flags: list = field(default_factory=list)
    problems: list = field(default_factory=list)     # time-outs, crashes, memory
    timed_out: bool = False
    crashed: bool = False
    malformed: str = ""
    seconds: float = 0.0
    autograded: list = field(default_factory=list)
    mistakes: dict = field(default_factory=dict)     # notebook -> grade_id -> [catalogue keys named]

    @property
    def score(self) -> float:
        return sum(s for nb in self.scores.values() for s in nb.values() if s is not None)

    @property
    def max_score(self) -> float:
        return sum(p for nb in self.max_scores.values() for p in nb.values() if p is not None)

    def finish(self) -> Result:
        if self.malformed:
            self.status = "malformed"
        elif self.flags:
            self.status = "flagged"
        elif self.crashed:
            self.status = "crashed"
        elif self.timed_out:
            self.status = "timed out"
        else:
            self.status = "graded"
        return self

    @property
    def reason(self) -> str:
        parts = ([self.malformed] if self.malformed else []) + self.flags + self.problems + self.notes
        return "; ".join(dict.fromkeys(parts)) or "ok"


# -- outputs ------------------------------------------------------------------------------------

def _error(ename: str, evalue: str) -> dict:
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": [f"{ename}: {evalue}"]}


def _clean_outputs(outputs) -> list[dict]:
    """The sandbox's outputs, checked (they come from student code's process)."""
    clean = []
    for out in outputs if isinstance(outputs, list) else []:
        if not isinstance(out, dict):
            continue
        if out.get("output_type") == "stream" and out.get("name") in ("stdout", "stderr"):
            clean.append({"output_type": "stream", "name": out["name"], "text": str(out.get("text", ""))[:OUTPUT_LIMIT]})
        elif out.get("output_type") == "error":
            trace = [str(line)[:5000] for line in out.get("traceback", [])[:40]] \
                if isinstance(out.get("traceback"), list) else []
            clean.append({"output_type": "error", "ename": str(out.get("ename", "Error"))[:200],
                          "evalue": str(out.get("evalue", ""))[:5000], "traceback": trace})
    return clean


class _CappedText(io.StringIO):
    def __init__(self, limit: int):
        super().__init__()
        self.limit, self.dropped = limit, 0

    def write(self, text):
        room = self.limit - self.tell()
        if len(text) > room:
            self.dropped += len(text) - max(room, 0)
            text = text[:max(room, 0)]
        return super().write(text)


def _loaded_names(code) -> set[str]:
    """Global names a cell's code reads (LOAD_NAME / LOAD_GLOBAL, nested functions included)."""
    names, stack = set(), [code]
    while stack:
        c = stack.pop()
        for ins in dis.get_instructions(c):
            if ins.opname in ("LOAD_NAME", "LOAD_GLOBAL") and isinstance(ins.argval, str):
                names.add(ins.argval)
        stack.extend(k for k in c.co_consts if hasattr(k, "co_code"))
    return names


def _compile_cell(source: str, label: str):
    """(code of all but a last expression, code of the last expression or None)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        from IPython.core.inputtransformer2 import TransformerManager
        tree = ast.parse(TransformerManager().transform_cell(source))
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = compile(ast.Expression(tree.body.pop().value), label, "eval")
    return compile(tree, label, "exec"), last


# -- running one rebuilt notebook ---------------------------------------------------------------

class NotebookRun:
    """Execute one rebuilt notebook: student cells in a sandbox, tests in this process."""

    def __init__(self, iso: Isolation, slot: int, options: Options, result: Result):
        self.options, self.result = options, result
        self.sandbox = Sandbox(iso, slot, memory_mb=options.memory_mb, output_limit=options.output_limit)
        self.bridge = Bridge(self.sandbox)
        self.namespace = {"__name__": "__main__", "__builtins__": builtins}
        self.instructor_names: set[str] = set(self.namespace)
        self.history: list[nbs.CleanCell] = []
        self.restarts = 0
        self.gave_up = ""
        self.ends = time.monotonic() + options.submission_seconds

    def _deadline(self) -> float:
        """The end of the current cell: its own limit, or the whole submission's if sooner."""
        return min(time.monotonic() + self.options.timeout, self.ends)

    def _timed_out(self, label: str) -> str:
        if time.monotonic() >= self.ends - 0.05:
            self.gave_up = (f"the submission used up its {self.options.submission_seconds:g} s; "
                            "later cells were not run")
            self.problem(self.gave_up, "timeout")
            self.sandbox.stop()
            return self.gave_up
        self.problem(f"{label} did not finish within {self.options.timeout:g} s", "timeout")
        return f"the cell did not finish within {self.options.timeout:g} s"

    def problem(self, text: str, kind: str) -> None:
        if kind == "timeout":
            self.result.timed_out = True
        else:
            self.result.crashed = True
        if text not in self.result.problems:
            self.result.problems.append(text)

    def _ensure_sandbox(self) -> bool:
        if self.sandbox.alive:
            return True
        if self.gave_up:
            return False
        first = self.sandbox.starts == 0
        while True:
            if not first:
                self.restarts += 1
                if self.restarts > MAX_RESTARTS:
                    self.gave_up = f"the sandbox died {MAX_RESTARTS + 1} times; later cells were not run"
                    self.problem(self.gave_up, "crash")
                    return False
            try:
                self.sandbox.start()
                self.bridge.restarted()
                for cell in self.history:
                    self.bridge.deadline = self._deadline()
                    self.bridge.exec(cell.source, instructor=cell.role == "instructor")
                return True
            except (SandboxDied, SandboxTimeout):
                first = False
            except SandboxError as exc:
                self.gave_up = f"the sandbox could not start: {exc}"
                self.problem(self.gave_up, "crash")
                return False

    def _not_run(self) -> list[dict]:
        return [_error("NotRun", f"this cell was not run: {self.gave_up}")]

    def run_sandbox_cell(self, cell: nbs.CleanCell) -> list[dict]:
        if not self._ensure_sandbox():
            return self._not_run()
        self.bridge.deadline = self._deadline()
        try:
            reply = self.bridge.exec(cell.source, instructor=cell.role == "instructor")
        except SandboxTimeout:
            return [_error("TimeoutError", self._timed_out(cell.label))]
        except SandboxDied as exc:
            self.problem(f"{cell.label} crashed the sandbox ({exc})", "crash")
            return [_error("DeadKernelError", f"the code in this cell stopped its Python process ({exc})")]
        self.history.append(cell)
        if reply.get("memory_error"):
            self.problem(f"{cell.label} exceeded the memory limit of {self.options.memory_mb} MB", "memory")
        outputs = _clean_outputs(reply.get("outputs"))
        if cell.role == "student" and any(o.get("ename") == "SystemExit" for o in outputs):
            self.result.notes.append(f"{cell.label} called sys.exit (that cell stopped; grading went on)")
        if cell.role == "instructor":
            self._run_here(cell, quiet=True)
        return outputs

    def _run_here(self, cell: nbs.CleanCell, *, quiet: bool = False) -> list[dict]:
        """Run an instructor's cell (a test, or setup) in the grader's namespace."""
        stdout, stderr = _CappedText(self.options.output_limit), _CappedText(self.options.output_limit)
        outputs, value = [], None
        try:
            body, last = _compile_cell(cell.source, cell.label)
        except SyntaxError as exc:
            return [_error("SyntaxError", str(exc))]
        resolved: dict = {}
        self.bridge.deadline = self._deadline()
        try:
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                wanted = set()
                for code in (body, last):
                    if code is not None:
                        wanted |= _loaded_names(code)
                wanted -= self.instructor_names | set(dir(builtins))
                for name in [k for k in self.namespace if k not in self.instructor_names]:
                    del self.namespace[name]
                if wanted:
                    if not self._ensure_sandbox():
                        return self._not_run()
                    resolved = self.bridge.resolve(sorted(wanted))
                    self.namespace.update(resolved)
                exec(body, self.namespace)
                if last is not None:
                    value = eval(last, self.namespace)
        except SandboxTimeout:
            outputs.append(_error("TimeoutError", "the student's code: " + self._timed_out(cell.label)))
        except SandboxDied as exc:
            self.problem(f"{cell.label}: the student's code crashed the sandbox ({exc})", "crash")
            outputs.append(_error("DeadKernelError", f"the student's code stopped its Python process ({exc})"))
        except BaseException as exc:  # noqa: B902  (a test's failure, whatever its type)
            if isinstance(exc, KeyboardInterrupt):
                raise
            outputs.append(_error(type(exc).__name__, str(exc)))
        finally:
            for name, value_ in list(self.namespace.items()):
                if name not in resolved or resolved[name] is not value_:
                    self.instructor_names.add(name)
        if quiet:
            return []
        head = []
        if stdout.getvalue() or stdout.dropped:
            text = stdout.getvalue() + (f"\n[... {stdout.dropped} more characters]\n" if stdout.dropped else "")
            head.append({"output_type": "stream", "name": "stdout", "text": text})
        if stderr.getvalue():
            head.append({"output_type": "stream", "name": "stderr", "text": stderr.getvalue()})
        if value is not None and not outputs:
            head.append({"output_type": "execute_result", "execution_count": None, "metadata": {},
                         "data": {"text/plain": repr(value)[:OUTPUT_LIMIT]}})
        return head + outputs

    def run(self, rebuilt: nbs.Rebuilt) -> list[tuple[nbs.CleanCell, list[dict]]]:
        done = []
        try:
            with warnings.catch_warnings():
                for cell in rebuilt.cells:
                    if cell.role in ("student", "instructor"):
                        outputs = self.run_sandbox_cell(cell) if cell.source.strip() else []
                    elif cell.role == "test":
                        memory_errors = self.bridge.memory_errors
                        outputs = self._run_here(cell)
                        if self.bridge.memory_errors > memory_errors:
                            self.problem(f"{cell.label}: the student's code exceeded the memory limit "
                                         f"of {self.options.memory_mb} MB", "memory")
                    else:
                        outputs = []
                    done.append((cell, outputs))
        finally:
            for flag in self.bridge.flags:
                if flag not in self.result.flags:
                    self.result.flags.append(flag)
            for hit in self.bridge.hits:
                text = f"calls {hit}, the gdlib reference it is checked against"
                if text not in self.result.flags:
                    self.result.flags.append(text)
            self.sandbox.close()
            forget_student_files()
        return done


# -- one submission -----------------------------------------------------------------------------

def _find_notebooks(folder: Path, names: list[str], result: Result) -> dict[str, Path]:
    """Source notebook name -> submitted file (a renamed notebook is found if it is the only one)."""
    links = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_symlink())
    if links:  # a link could point at the instructor's files, which the grader can read
        result.flags.append(f"symbolic links in the submission were ignored: {', '.join(links[:10])}")
    found = sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
                   and p.is_file() and not _linked(p, folder))
    chosen = {name: p for name in names for p in found if p.stem == name and p.parent == folder}
    for name in names:
        if name not in chosen:
            same = [p for p in found if p.stem == name]
            if same:
                chosen[name] = same[0]
    spare = [p for p in found if p not in chosen.values()]
    missing = [n for n in names if n not in chosen]
    if len(missing) == 1 and spare:
        chosen[missing[0]] = spare.pop(0)
        result.notes.append(f"the notebook was submitted as {chosen[missing[0]].relative_to(folder)} "
                            f"instead of {missing[0]}.ipynb")
    used = set(chosen.values())
    extra = sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                   if p.is_file() and p not in used and p.name not in IGNORED_FILES
                   and ".ipynb_checkpoints" not in p.parts and not _linked(p, folder))
    code = [e for e in extra if e.endswith(CODE_SUFFIXES)]
    if code:
        result.flags.append(f"extra code files beside the notebook were ignored: {', '.join(code[:10])}")
    other = [e for e in extra if e not in code]
    if other:
        result.notes.append(f"extra files were ignored: {', '.join(other[:10])}")
    return chosen


def _linked(path: Path, folder: Path) -> bool:
    """Whether ``path`` or a folder between it and ``folder`` is a symbolic link."""
    while path != folder and path != path.parent:
        if path.is_symlink():
            return True
        path = path.parent
    return False


def _autograded_notebook(done, metadata: dict) -> dict:
    cells, ids = [], set()
    for k, (cell, outputs) in enumerate(done):
        cell_id = cell.grade_id or f"cell-{k}"
        while cell_id in ids:
            cell_id += "-x"
        ids.add(cell_id)
        entry = {"cell_type": "code" if cell.role in ("student", "instructor", "test") else
                 ("markdown" if cell.role == "markdown" else "raw"),
                 "id": cell_id, "metadata": json.loads(json.dumps(cell.metadata)), "source": cell.source}
        if entry["cell_type"] == "code":
            entry["execution_count"] = None
            entry["outputs"] = outputs
        cells.append(entry)
    return {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def grade_submission(task: dict, context: dict, slot: int) -> Result:
    """Grade ``task['student']``'s submission folder; write autograded/ files; return the result."""
    started = time.monotonic()
    result = Result(task["student"], context["assignment"])
    options: Options = context["options"]
    notebooks: dict[str, list[nbs.SourceCell]] = context["notebooks"]
    for name, cells in notebooks.items():
        result.max_scores[name] = {c.grade_id: c.points for c in cells
                                   if c.points is not None and c.grade_id}
        result.scores[name] = {gid: 0.0 for gid in result.max_scores[name]}
    folder = Path(task["folder"])
    target = Path(task["autograded"])
    shutil.rmtree(target, ignore_errors=True)
    found = _find_notebooks(folder, list(notebooks), result) if folder.is_dir() else {}
    if not found:
        result.malformed = "no notebook in the submission folder" if folder.is_dir() else \
            "the submission folder does not exist"
        result.seconds = time.monotonic() - started
        return result.finish()
    target.mkdir(parents=True, exist_ok=True)
    if (folder / "timestamp.txt").is_file():
        shutil.copy2(folder / "timestamp.txt", target / "timestamp.txt")
    malformed = []
    for name, source in notebooks.items():
        if name not in found:
            result.notes.append(f"{name}.ipynb is missing from the submission (scored 0)")
            continue
        try:
            cells, metadata, notes = nbs.read_submission(found[name])
        except nbs.Malformed as exc:
            malformed.append(f"{name}.ipynb: {exc}" if len(notebooks) > 1 else str(exc))
            continue
        result.notes.extend(notes)
        note = nbs.kernel_note(metadata)
        if note:
            result.notes.append(note)
        rebuilt = nbs.rebuild(source, cells)
        result.notes.extend(rebuilt.notes)
        result.flags.extend(rebuilt.flags)
        done = NotebookRun(context["isolation"], slot, options, result).run(rebuilt)
        provided = {nbs.normalized(s.release_source) for s in source}
        for text in code_review.review([c.source for c in rebuilt.cells if c.role == "student"
                                        and nbs.normalized(c.source) not in provided]):
            if text not in result.flags:
                result.flags.append(text)
        scores, unanswered = _score(done)
        result.scores[name].update(scores)
        result.unanswered[name] = unanswered
        result.mistakes[name] = {cell.grade_id: keys for cell, outputs in done
                                 if cell.role == "test" and cell.grade_id
                                 for keys in [mistakes_in_outputs(outputs)] if keys}
        graded = _autograded_notebook(done, context["metadata"][name])
        nbformat.validate(nbformat.from_dict(graded))
        path = target / f"{name}.ipynb"
        path.write_text(json.dumps(graded, indent=1, ensure_ascii=False), encoding="utf-8")
        result.autograded.append(str(path))
    if malformed and not result.autograded:
        result.malformed = "; ".join(malformed)
        shutil.rmtree(target, ignore_errors=True)
    else:
        result.notes.extend(malformed)
    result.seconds = time.monotonic() - started
    return result.finish()


def _score(done) -> tuple[dict, list]:
    from nbgrader.utils import determine_grade
    scores, unanswered = {}, []
    for cell, outputs in done:
        if cell.grade_id is None:
            continue
        if cell.unanswered:
            unanswered.append(cell.grade_id)
        if cell.points is None:
            continue
        node = nbformat.from_dict({"cell_type": "code" if cell.role in ("test", "student") else "markdown",
                                   "metadata": cell.metadata, "source": cell.source, "outputs": outputs,
                                   "execution_count": None})
        if cell.role == "test":
            scores[cell.grade_id], _ = determine_grade(node)
        else:
            scores[cell.grade_id] = 0.0 if cell.unanswered else None
    return scores, unanswered
