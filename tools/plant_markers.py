"""Plant a unique marker in every solution and hidden-test region of the source notebooks.

A marker is one comment line ``# MARKER:<assignment>:<n>:<hex>`` placed right after the
``### BEGIN SOLUTION`` / ``### BEGIN HIDDEN TESTS`` line of a region (``<!-- MARKER:... -->`` in
a markdown cell), or at the top of an nbgrader solution cell that has no delimiters (nbgrader
replaces such a cell whole). ``n`` counts the regions of one assignment from 1 and ``hex`` is 12
hex digits of a SHA-256 of the region, so a marker cannot occur by chance anywhere else.
nbgrader removes the marker together with its region when it writes the student version; so
tests/test_leaks.py can look for every marker in the built book, in exercises/ and in the student
repository, and any hit is a leak.

Idempotent: a region that already holds a marker is left alone, and a notebook is rewritten only
if a marker was added. Run it before ``nbgrader generate_assignment`` (``make exercises``):

    python tools/plant_markers.py            # every solutions/<id>/<id>.ipynb
    python tools/plant_markers.py --check    # exit 1 if a region lacks a marker, write nothing
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

REPO_ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS_GLOB = "solutions/*/*.ipynb"

BEGIN = re.compile(r"^\s*### BEGIN (SOLUTION|HIDDEN TESTS)\s*$")
END = re.compile(r"^\s*### END (SOLUTION|HIDDEN TESTS)\s*$")
MARKER = re.compile(r"MARKER:(?P<assignment>[A-Za-z0-9_.\-]+):(?P<n>\d+):(?P<hex>[0-9a-f]{8,})")
HEX_DIGITS = 12


@dataclass
class Region:
    """Lines of one solution or hidden-test region (or one whole solution cell)."""

    notebook: Path
    cell_index: int
    kind: str            # "SOLUTION", "HIDDEN TESTS" or "SOLUTION CELL"
    lines: list[str]     # the region's lines, delimiters excluded
    start: int           # index in the cell's lines where the region's content starts

    @property
    def markers(self) -> list[re.Match]:
        return [m for line in self.lines for m in MARKER.finditer(line)]

    @property
    def secret_lines(self) -> list[str]:
        """Stripped content lines, without markers and blank lines."""
        return [line.strip() for line in self.lines if line.strip() and not MARKER.search(line)]


def is_solution_cell(cell) -> bool:
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution", False))


def cell_regions(notebook: Path, cell_index: int, cell) -> list[Region]:
    """The delimited regions of one cell, or the whole cell if it is an undelimited solution cell."""
    lines = cell.source.split("\n")
    regions: list[Region] = []
    open_kind, open_at = None, None
    for i, line in enumerate(lines):
        begin, end = BEGIN.match(line), END.match(line)
        if begin and open_kind is None:
            open_kind, open_at = begin.group(1), i + 1
        elif end and open_kind is not None:
            regions.append(Region(notebook, cell_index, open_kind, lines[open_at:i], open_at))
            open_kind = None
    if open_kind is not None:
        raise ValueError(f"{notebook}: cell {cell_index} opens '### BEGIN {open_kind}' and never "
                         "closes it")
    if not regions and is_solution_cell(cell):
        regions.append(Region(notebook, cell_index, "SOLUTION CELL", lines, 0))
    return regions


def notebook_regions(notebook: Path) -> list[Region]:
    nb = nbformat.read(notebook, as_version=4)
    return [r for i, cell in enumerate(nb.cells) for r in cell_regions(notebook, i, cell)]


def public_lines(notebook: Path) -> set[str]:
    """Stripped lines of a source notebook that are outside every region (students see them)."""
    nb = nbformat.read(notebook, as_version=4)
    public: set[str] = set()
    for i, cell in enumerate(nb.cells):
        regions = cell_regions(notebook, i, cell)
        lines = cell.source.split("\n")
        hidden = set()
        for region in regions:
            hidden.update(range(max(region.start - 1, 0), region.start + len(region.lines) + 1))
        if regions and regions[0].kind == "SOLUTION CELL":
            continue
        public.update(line.strip() for j, line in enumerate(lines) if j not in hidden)
    public.discard("")
    return public


def marker_line(assignment: str, n: int, region_text: str, indent: str, cell_type: str) -> str:
    digest = hashlib.sha256(f"{assignment}:{n}:{region_text}".encode()).hexdigest()[:HEX_DIGITS]
    marker = f"MARKER:{assignment}:{n}:{digest}"
    return f"{indent}<!-- {marker} -->" if cell_type == "markdown" else f"{indent}# {marker}"


def plant(notebook: Path, write: bool = True) -> int:
    """Add the missing markers of one notebook; return how many were (or would be) added."""
    assignment = notebook.parent.name
    nb = nbformat.read(notebook, as_version=4)
    taken = [int(m["n"]) for i, cell in enumerate(nb.cells)
             for r in cell_regions(notebook, i, cell) for m in r.markers]
    next_n = max(taken, default=0) + 1
    added = 0
    for i, cell in enumerate(nb.cells):
        # Insert from the last region up, so earlier line numbers stay valid.
        for region in reversed(cell_regions(notebook, i, cell)):
            if region.markers:
                continue
            lines = cell.source.split("\n")
            at = region.start
            if region.kind == "SOLUTION CELL" and lines and lines[0].startswith("%%"):
                at = 1  # a cell magic must stay first
            template = lines[at] if at < len(lines) else ""
            indent = re.match(r"\s*", lines[region.start - 1] if region.start else template).group(0)
            lines.insert(at, marker_line(assignment, next_n, "\n".join(region.lines), indent,
                                         cell.cell_type))
            cell.source = "\n".join(lines)
            next_n += 1
            added += 1
    if added and write:
        nbformat.write(nb, notebook)
    return added


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report missing markers, write nothing")
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help=f"source notebooks (default: {SOLUTIONS_GLOB})")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted(REPO_ROOT.glob(SOLUTIONS_GLOB))
    if not notebooks:
        print(f"plant_markers: no source notebooks ({SOLUTIONS_GLOB})")
        return 1
    missing = 0
    for notebook in notebooks:
        added = plant(notebook, write=not args.check)
        missing += added
        if added:
            verb = "lacks" if args.check else "planted"
            print(f"plant_markers: {notebook}: {verb} {added} marker(s)")
    if args.check and missing:
        return 1
    print(f"plant_markers: {len(notebooks)} notebook(s) checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
