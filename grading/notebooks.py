"""Reading a submitted notebook whatever state it is in, and rebuilding it as a CLEAN notebook.

:func:`read_submission` accepts what students actually hand in: nbformat 3, cells without ids
or with duplicate ids, invalid UTF-8, null bytes, saved outputs of any size, a truncated file
(the complete cells before the cut are kept). It raises :class:`Malformed` with a reason only
when nothing usable is left (not JSON, empty, no cells).

:func:`rebuild` then makes the notebook that is graded: the instructor's source notebook in
which only the student's *answer* cells (and cells the student added) are the student's. Test
cells, setup cells and the points always come from the source, so an edited, commented-out,
deleted or re-pointed test cell changes nothing (and is flagged). Cells are matched to the
source by nbgrader ``grade_id``, then by cell id, then by content (a cell equal to the student
version of a source cell); matches must keep the source's order. An answer cell whose metadata
was stripped (the notebook was edited in another tool) is found between its matched neighbours
by the names it defines. A cell that matches nothing is the student's own and keeps its place.
"""

from __future__ import annotations

import ast
import json
import re
from bisect import bisect_left
from dataclasses import dataclass, field
from pathlib import Path

MAX_FILE_BYTES = 200 << 20
TEST, ANSWER, LOCKED, TASK, FREE = "test", "answer", "locked", "task", "free"


class Malformed(Exception):
    """The submission cannot be graded; ``str()`` says why, for the report and the student."""


@dataclass
class SourceCell:
    """One cell of the instructor's source notebook, with its student (release) version."""

    index: int
    cell_type: str
    source: str
    release_source: str
    metadata: dict
    kind: str
    grade_id: str | None = None
    cell_id: str | None = None
    points: float | None = None
    defines: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return self.grade_id or f"cell {self.index + 1}"


@dataclass
class SubmittedCell:
    position: int
    cell_type: str
    source: str
    metadata: dict
    cell_id: str | None

    @property
    def nbgrader(self) -> dict:
        meta = self.metadata.get("nbgrader")
        return meta if isinstance(meta, dict) else {}


@dataclass
class CleanCell:
    """A cell of the rebuilt notebook: ``role`` is test, instructor, student, markdown or raw."""

    role: str
    source: str
    metadata: dict
    label: str
    grade_id: str | None = None
    points: float | None = None
    unanswered: bool = False


@dataclass
class Rebuilt:
    cells: list[CleanCell]
    notes: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)


# -- the source ---------------------------------------------------------------------------------

def _text(source) -> str:
    if isinstance(source, list):
        return "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""


def normalized(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def defined_names(source: str) -> tuple[str, ...]:
    """Top-level names a cell defines (functions, classes, assignments, imports)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return tuple(re.findall(r"^(?:def|class)\s+(\w+)", source, flags=re.M))
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [t.id for t in targets if isinstance(t, ast.Name)]
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names += [(a.asname or a.name).split(".")[0] for a in node.names]
    return tuple(dict.fromkeys(names))


def graded_functions(notebooks: dict[str, list[SourceCell]]) -> tuple[str, ...]:
    """The functions the answer cells of an assignment's notebooks define (what is graded)."""
    return tuple(sorted({name for cells in notebooks.values() for cell in cells
                         if cell.kind == ANSWER for name in cell.defines}))


def source_cells(source_nb: dict, release_nb: dict) -> list[SourceCell]:
    """The cells of a source notebook, paired with the release version nbgrader made of them."""
    release_by_id = {}
    for cell in release_nb.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        key = meta.get("grade_id") or cell.get("id")
        if key:
            release_by_id[key] = cell
    cells = []
    for i, cell in enumerate(source_nb.get("cells", [])):
        meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
        key = meta.get("grade_id") or cell.get("id")
        release = release_by_id.get(key, cell)
        if meta.get("solution"):
            kind = ANSWER
        elif meta.get("task"):
            kind = TASK
        elif meta.get("grade") and cell["cell_type"] == "code":
            kind = TEST
        elif meta.get("locked") or meta.get("grade"):
            kind = LOCKED
        else:
            kind = FREE
        source = _text(cell.get("source"))
        points = float(meta["points"]) if meta.get("grade") or meta.get("task") else None
        cells.append(SourceCell(
            index=i, cell_type=cell["cell_type"], source=source,
            release_source=_text(release.get("source")), metadata=dict(release.get("metadata", {})),
            kind=kind, grade_id=meta.get("grade_id"), cell_id=cell.get("id"), points=points,
            defines=defined_names(source) if kind == ANSWER and cell["cell_type"] == "code" else ()))
    return cells


# -- reading a submission -----------------------------------------------------------------------

def _salvage_cells(text: str) -> list:
    """The complete cell objects at the start of a truncated notebook's "cells" array."""
    match = re.search(r'"cells"\s*:\s*\[', text)
    if not match:
        return []
    decoder, cells, at = json.JSONDecoder(strict=False), [], match.end()
    while True:
        while at < len(text) and text[at] in " \t\r\n,":
            at += 1
        try:
            cell, at = decoder.raw_decode(text, at)
        except ValueError:
            return cells
        if isinstance(cell, dict):
            cells.append(cell)


def _parse(raw: bytes, notes: list[str]) -> dict:
    if not raw.strip():
        raise Malformed("the notebook file is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", errors="replace")
        notes.append("invalid UTF-8 bytes were replaced")
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\x00" in text:
        text = text.replace("\x00", "")
        notes.append("null bytes were removed")
    try:
        nb = json.loads(text, strict=False)
    except ValueError as exc:
        cells = _salvage_cells(text)
        if not cells:
            where = "it is cut off" if exc.pos >= len(text.rstrip()) - 1 else \
                f"line {exc.lineno}, column {exc.colno}"
            raise Malformed(f"the notebook is not valid JSON ({where}: {exc.msg})") from None
        notes.append(f"the notebook file is truncated: the {len(cells)} complete cell(s) before "
                     "the cut were graded")
        return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    if not isinstance(nb, dict):
        raise Malformed("the file is JSON but not a notebook (no top-level object)")
    return nb


def _upgrade(nb: dict, notes: list[str]) -> dict:
    version = nb.get("nbformat")
    if "worksheets" in nb or version == 3:
        import nbformat
        try:
            nb = json.loads(json.dumps(nbformat.convert(nbformat.from_dict(nb), 4)))
        except Exception as exc:
            raise Malformed(f"an nbformat 3 notebook that could not be converted: {exc}") from None
        notes.append("converted from nbformat 3")
    elif isinstance(version, int) and version < 3:
        raise Malformed(f"nbformat {version} is too old to read")
    if not isinstance(nb.get("cells"), list):
        raise Malformed("the notebook has no list of cells")
    return nb


def read_submission(path: Path) -> tuple[list[SubmittedCell], dict, list[str]]:
    """(cells, notebook metadata, notes); raises :class:`Malformed`."""
    notes: list[str] = []
    if path.is_symlink():
        raise Malformed("the notebook is a symbolic link")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise Malformed(f"the notebook file is {size >> 20} MB, more than {MAX_FILE_BYTES >> 20} MB")
    nb = _upgrade(_parse(path.read_bytes(), notes), notes)
    cells, seen_ids, without_id, duplicate_ids, nul = [], set(), 0, 0, False
    for position, raw in enumerate(nb["cells"]):
        if not isinstance(raw, dict) or raw.get("cell_type") not in ("code", "markdown", "raw"):
            notes.append(f"cell {position + 1} is not a valid cell and was skipped")
            continue
        source = _text(raw.get("source"))
        if "\x00" in source:
            source, nul = source.replace("\x00", ""), True
        metadata = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
        cell_id = raw.get("id") if isinstance(raw.get("id"), str) and raw.get("id") else None
        if cell_id is None:
            without_id += 1
        elif cell_id in seen_ids:
            duplicate_ids += 1
            cell_id = None
        else:
            seen_ids.add(cell_id)
        cells.append(SubmittedCell(position, raw["cell_type"], source, metadata, cell_id))
    if nul:
        notes.append("null characters were removed from cell sources")
    if without_id and without_id < len(cells):
        notes.append(f"{without_id} cell(s) had no id")
    elif without_id:
        notes.append("the cells had no ids")
    if duplicate_ids:
        notes.append(f"{duplicate_ids} cell(s) repeated the id of an earlier cell")
    if not cells:
        raise Malformed("the notebook has no cells")
    metadata = nb.get("metadata") if isinstance(nb.get("metadata"), dict) else {}
    return cells, metadata, notes


# -- matching -----------------------------------------------------------------------------------

def _longest_increasing(pairs: list[tuple[int, int]]) -> set[int]:
    """Positions of a longest run of (position, source index) pairs increasing in both."""
    tails, tail_at, previous = [], [], {}
    for k, (_, index) in enumerate(pairs):
        j = bisect_left(tails, index)
        previous[k] = tail_at[j - 1] if j else None
        if j == len(tails):
            tails.append(index)
            tail_at.append(k)
        else:
            tails[j], tail_at[j] = index, k
    keep, k = set(), tail_at[-1] if tail_at else None
    while k is not None:
        keep.add(pairs[k][0])
        k = previous[k]
    return keep


def _match(source: list[SourceCell], cells: list[SubmittedCell], rebuilt: Rebuilt) -> dict[int, int]:
    """submitted position -> source index, for the cells that correspond to a source cell."""
    by_grade_id = {c.grade_id: c for c in source if c.grade_id}
    by_cell_id = {c.cell_id: c for c in source if c.cell_id}
    by_content: dict[tuple[str, str], list[SourceCell]] = {}
    for c in source:
        by_content.setdefault((c.cell_type, normalized(c.release_source)), []).append(c)
    candidates: list[tuple[int, int]] = []
    taken: set[int] = set()
    stripped = 0
    for cell in cells:
        grade_id = cell.nbgrader.get("grade_id")
        target = by_grade_id.get(grade_id) if isinstance(grade_id, str) else None
        if target is None and not cell.nbgrader:
            stripped += 1
            target = by_cell_id.get(cell.cell_id)
            if target is not None and target.grade_id and target.kind != FREE:
                target = target if normalized(cell.source) == normalized(target.release_source) \
                    or target.kind == ANSWER else None
            if target is None:
                for option in by_content.get((cell.cell_type, normalized(cell.source)), []):
                    if option.index not in taken:
                        target = option
                        break
        if target is None:
            if isinstance(grade_id, str) and grade_id not in by_grade_id:
                _note_unknown(cell, grade_id, rebuilt)
            continue
        if target.index in taken:
            rebuilt.notes.append(f"a copy of {target.label} (cell {cell.position + 1}) was run as "
                                 "the student's own cell")
            continue
        taken.add(target.index)
        candidates.append((cell.position, target.index))
    kept = _longest_increasing(candidates)
    if len(kept) < len(candidates):
        rebuilt.notes.append(f"{len(candidates) - len(kept)} cell(s) were moved out of the "
                             "notebook's order and were run as the student's own cells")
    if stripped and stripped == len(cells):
        rebuilt.notes.append("the nbgrader metadata was missing (the notebook was edited in "
                             "another tool): cells were matched to the source by content and order")
    elif stripped and any(c.nbgrader for c in cells) and any(
            not c.nbgrader and normalized(c.source) in {normalized(s.release_source) for s in source if s.grade_id}
            for c in cells):
        rebuilt.notes.append("some cells had lost their nbgrader metadata and were matched by content")
    return {p: i for p, i in candidates if p in kept}


def _note_unknown(cell: SubmittedCell, grade_id: str, rebuilt: Rebuilt) -> None:
    meta = cell.nbgrader
    if meta.get("grade"):
        rebuilt.flags.append(f"cell {cell.position + 1} claims to be a grade cell {grade_id!r} "
                             f"worth {meta.get('points')} points that the assignment does not have "
                             "(run as the student's own cell)")


def _assign_answers(source: list[SourceCell], cells: list[SubmittedCell], matched: dict[int, int]) -> None:
    """Find answer cells that lost their metadata: between their matched neighbours, by the names
    they define (or the only candidate there)."""
    matched_sources = sorted(matched.values())
    position_of = {i: p for p, i in matched.items()}
    for cell in source:
        if cell.kind != ANSWER or cell.index in position_of:
            continue
        before = [i for i in matched_sources if i < cell.index]
        after = [i for i in matched_sources if i > cell.index]
        low = position_of[before[-1]] if before else -1
        high = position_of[after[0]] if after else len(cells) + 10**9
        gap = [c for c in cells if low < c.position < high and c.position not in matched
               and c.cell_type == cell.cell_type]
        answers_in_gap = [s for s in source if s.kind == ANSWER and s.index not in position_of
                          and (before[-1] if before else -1) < s.index < (after[0] if after else 10**9)]
        chosen = None
        if cell.defines:
            scored = [(len(set(cell.defines) & set(defined_names(c.source))), -c.position, c) for c in gap]
            scored = [s for s in scored if s[0] > 0]
            if scored:
                chosen = max(scored, key=lambda s: (s[0], s[1]))[2]
        if chosen is None and len(gap) == 1 and len(answers_in_gap) == 1:
            chosen = gap[0]
        if chosen is not None:
            matched[chosen.position] = cell.index
            position_of[cell.index] = chosen.position
            matched_sources = sorted(matched.values())


# -- flags about test cells ---------------------------------------------------------------------

def _check_graded_cells(source: list[SourceCell], cells: list[SubmittedCell], matched: dict[int, int],
                        rebuilt: Rebuilt) -> None:
    by_index = {c.index: c for c in source}
    position_of = {i: p for p, i in matched.items()}
    cell_at = {c.position: c for c in cells}
    for s in source:
        if s.kind not in (TEST, LOCKED, TASK) or s.grade_id is None:
            continue
        mine = cell_at.get(position_of.get(s.index, -1))
        same_id = [c for c in cells if c.nbgrader.get("grade_id") == s.grade_id]
        if mine is None and same_id:
            mine = same_id[0]
        if mine is None:
            as_markdown = [c for c in cells if c.cell_type == "markdown" and s.cell_type == "code"
                           and normalized(c.source) == normalized(s.release_source)]
            if s.kind == TEST:
                if as_markdown:
                    rebuilt.flags.append(f"test cell {s.grade_id} was turned into markdown "
                                         "(the source's test was run)")
                else:
                    rebuilt.flags.append(f"test cell {s.grade_id} was deleted or changed beyond "
                                         "recognition (the source's test was run)")
            continue
        if mine.cell_type != s.cell_type:
            rebuilt.flags.append(f"{'test' if s.kind == TEST else 'locked'} cell {s.grade_id} was "
                                 f"turned into {mine.cell_type} (the source's cell was used)")
        elif normalized(mine.source) != normalized(s.release_source):
            if s.cell_type == "markdown":
                rebuilt.notes.append(f"the locked text cell {s.grade_id} was edited (the source's text was used)")
            else:
                what = "test" if s.kind == TEST else "locked"
                rebuilt.flags.append(f"{what} cell {s.grade_id} was edited (the source's cell was used)")
        meta = mine.nbgrader
        if meta and s.points is not None and _points(meta) != s.points:
            rebuilt.flags.append(f"cell {s.grade_id}: points changed from {s.points:g} to "
                                 f"{meta.get('points')} (the source's points count)")
    for p, i in matched.items():
        s, meta = by_index[i], cell_at[p].nbgrader
        if s.kind == ANSWER and meta.get("grade") and s.points is None:
            rebuilt.flags.append(f"answer cell {s.grade_id} was marked as a grade cell worth "
                                 f"{meta.get('points')} points (ignored)")


def _points(meta: dict):
    try:
        return float(meta.get("points"))
    except (TypeError, ValueError):
        return meta.get("points")


# -- the clean notebook -------------------------------------------------------------------------

def rebuild(source: list[SourceCell], cells: list[SubmittedCell]) -> Rebuilt:
    """The clean notebook to grade, with notes (harmless repairs) and flags (suspicious edits)."""
    rebuilt = Rebuilt(cells=[])
    matched = _match(source, cells, rebuilt)
    _assign_answers(source, cells, matched)
    _check_graded_cells(source, cells, matched, rebuilt)
    position_of = {i: p for p, i in matched.items()}
    cell_at = {c.position: c for c in cells}
    attached: dict[int, list[SubmittedCell]] = {}
    last = -1
    for cell in cells:
        if cell.position in matched:
            last = matched[cell.position]
        else:
            attached.setdefault(last, []).append(cell)
    out = rebuilt.cells
    out.extend(_student_cell(c) for c in attached.get(-1, []))
    missing_answers = []
    for s in source:
        mine = cell_at.get(position_of.get(s.index, -1))
        if s.kind == ANSWER:
            if mine is None:
                missing_answers.append(s.label)
            text = mine.source if mine is not None else s.release_source
            role = "student" if s.cell_type == "code" else "markdown"
            out.append(CleanCell(role, text, s.metadata, s.label, s.grade_id, s.points,
                                 unanswered=normalized(text) == normalized(s.release_source)))
        elif s.kind == FREE:
            if mine is not None:
                out.append(_student_cell(mine))
        elif s.kind == TEST:
            out.append(CleanCell("test", s.source, s.metadata, s.label, s.grade_id, s.points))
        else:
            role = {"code": "instructor", "markdown": "markdown"}.get(s.cell_type, "raw")
            out.append(CleanCell(role, s.source, s.metadata, s.label, s.grade_id, s.points))
        out.extend(_student_cell(c) for c in attached.get(s.index, []))
    if missing_answers:
        rebuilt.notes.append(f"no answer found for {', '.join(missing_answers)} (graded as unanswered)")
    return rebuilt


def _student_cell(cell: SubmittedCell) -> CleanCell:
    role = {"code": "student", "markdown": "markdown"}.get(cell.cell_type, "raw")
    return CleanCell(role, cell.source, {}, f"cell {cell.position + 1}")


def kernel_note(metadata: dict) -> str | None:
    """A note when the submission names a kernel other than Python 3 (it is graded with Python)."""
    spec = metadata.get("kernelspec") if isinstance(metadata.get("kernelspec"), dict) else {}
    name, language = str(spec.get("name", "python3")), str(spec.get("language", "python"))
    if name.startswith("python") and language.lower().startswith("python"):
        return None
    return f"the notebook asked for the kernel {name!r} ({language}); it was graded with Python 3"
