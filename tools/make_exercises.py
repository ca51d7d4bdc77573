"""Write the student versions ``exercises/<id>/<id>.ipynb`` with ``nbgrader generate_assignment``.

For every source notebook ``solutions/<id>/<id>.ipynb`` (or the ids given): plant any missing
marker (tools/plant_markers.py), copy ``nbgrader_config.py`` and ``solutions/<id>`` into a
temporary course folder with its own gradebook, run ``nbgrader generate_assignment <id> --force``
there (for all the ids in one Python process: nbgrader's start-up, not the generation, is
what takes seconds), and copy ``release/<id>/<id>.ipynb`` to ``exercises/<id>/<id>.ipynb``.
Nothing else ever writes exercises/; an instructor's gradebook is never touched.
``make exercises`` runs this.

Usage::

    python tools/make_exercises.py            # every assignment
    python tools/make_exercises.py variants   # some
    python tools/make_exercises.py --check    # write nothing; exit 1 if exercises/ is stale
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG = "nbgrader_config.py"


def assignments(root: Path = REPO_ROOT) -> list[str]:
    """Ids of the assignments: the folders solutions/<id> holding <id>.ipynb."""
    return sorted(p.parent.name for p in (root / "solutions").glob("*/*.ipynb")
                  if p.stem == p.parent.name)


def make_course(course: Path, ids: list[str], root: Path = REPO_ROOT) -> Path:
    """A course folder at ``course`` with the config and the source notebooks of ``ids``."""
    course.mkdir(parents=True, exist_ok=True)
    shutil.copy2(root / CONFIG, course / CONFIG)
    for assignment in ids:
        shutil.copytree(root / "solutions" / assignment, course / "solutions" / assignment,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"),
                        dirs_exist_ok=True)
    return course


def nbgrader(course: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``nbgrader <args>`` in ``course``; raise with its log if it fails."""
    return _python(course, ["-m", "nbgrader", *args], f"nbgrader {' '.join(args)}", env)


def _python(course: Path, argv: list[str], what: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run this Python with ``argv`` in ``course``; raise with its log if it fails.

    nbgrader runs the ``alembic`` command of its own environment, so that environment's bin
    folder goes first on the PATH.
    """
    env = dict(os.environ if env is None else env)
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    done = subprocess.run([sys.executable, *argv], cwd=course, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed in {course}:\n{done.stdout}{done.stderr}")
    return done


# ``nbgrader generate_assignment <id> --force`` for each id, as nbgrader's command line runs it
# (the same application class, the course's nbgrader_config.py), in one process.
_GENERATE_ALL = """
import sys
from nbgrader.apps.generateassignmentapp import GenerateAssignmentApp
for assignment in sys.argv[1:]:
    app = GenerateAssignmentApp()
    app.initialize([assignment, "--force"])
    app.start()
"""


def generate_all(ids: list[str], workdir: Path, root: Path = REPO_ROOT) -> dict[str, Path]:
    """Generate every assignment of ``ids`` in one course folder ``workdir`` (one gradebook,
    as an instructor's) by one nbgrader process; return ``{id: student notebook}``."""
    course = make_course(workdir, ids, root)
    done = _python(course, ["-c", _GENERATE_ALL, *ids], "nbgrader generate_assignment")
    releases = {assignment: course / "release" / assignment / f"{assignment}.ipynb" for assignment in ids}
    missing = [str(path) for path in releases.values() if not path.is_file()]
    if missing:
        raise RuntimeError(f"nbgrader generate_assignment wrote no {', '.join(missing)}:\n{done.stderr}")
    return releases


def cell_sources(path: Path) -> list[tuple[str, str]]:
    """(cell type, source) of every cell: what a student sees."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [(c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list) else c["source"])
            for c in cells]


def plant_markers(root: Path = REPO_ROOT) -> None:
    script = root / "tools" / "plant_markers.py"
    if script.exists():
        subprocess.run([sys.executable, str(script)], cwd=root, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ids", nargs="*", help="assignment ids (default: every solutions/<id>)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if exercises/ differs from a fresh generation")
    args = parser.parse_args(argv)
    ids = args.ids or assignments()
    unknown = sorted(set(ids) - set(assignments()))
    if unknown:
        parser.error(f"no source notebook solutions/<id>/<id>.ipynb for {', '.join(unknown)}")
    if not args.check:
        plant_markers()
    stale = []
    with tempfile.TemporaryDirectory(prefix="make-exercises-") as tmp:
        for assignment, release in generate_all(ids, Path(tmp)).items():
            target = REPO_ROOT / "exercises" / assignment / f"{assignment}.ipynb"
            if args.check:
                if not target.exists() or cell_sources(target) != cell_sources(release):
                    stale.append(assignment)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(release, target)
            print(f"make_exercises: wrote {target.relative_to(REPO_ROOT)}")
    if stale:
        print(f"make_exercises: stale student versions: {', '.join(stale)}; run `make exercises`")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
