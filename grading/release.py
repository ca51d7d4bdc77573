"""What may reach students and sandboxes: the notebooks and an allowed list of data files.

nbgrader copies every file of ``solutions/<id>/`` into the release folder (and into each
autograded folder). A helper module with answers, or notes, would leak that way. Here only data
files with a suffix in :data:`ALLOWED_DATA` reach a sandbox, and :func:`check_release` lists
anything else in a release folder, and any notebook there that still holds a solution region,
a hidden test or a marker (``python -m grading check-release <id>``).
"""

from __future__ import annotations

import re
from pathlib import Path

ALLOWED_DATA = (".csv", ".tsv", ".txt", ".dat", ".npy", ".npz", ".json", ".png", ".jpg", ".jpeg",
                ".gif", ".svg")
LEAK = re.compile(r"BEGIN SOLUTION|END SOLUTION|BEGIN HIDDEN TESTS|END HIDDEN TESTS|MARKER:")


def is_allowed_data(path: Path) -> bool:
    return path.suffix.lower() in ALLOWED_DATA and not path.name.startswith((".", "_"))


def split_files(files: list[Path]) -> tuple[list[Path], list[Path]]:
    """(allowed data files, refused files) among a release's non-notebook files."""
    allowed = [p for p in files if is_allowed_data(p)]
    return allowed, [p for p in files if p not in allowed]


def check_release(folder: Path) -> list[str]:
    """Problems of a release folder: files that are neither notebooks nor allowed data, and
    notebooks that still hold solutions, hidden tests or markers."""
    problems = []
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        relative = path.relative_to(folder)
        if ".ipynb_checkpoints" in path.parts:
            continue
        if path.suffix == ".ipynb":
            found = sorted(set(LEAK.findall(path.read_text(encoding="utf-8", errors="replace"))))
            if found:
                problems.append(f"{relative} holds {', '.join(found)}")
        elif not is_allowed_data(path):
            problems.append(f"{relative} is not a notebook or an allowed data file "
                            f"({', '.join(ALLOWED_DATA)})")
    return problems
