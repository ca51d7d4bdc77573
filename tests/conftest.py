"""Shared fixtures. Book tests (marked ``book``/``browser``) read what ``make test`` builds first:
_build/html (``make book``) and _build/student-repo (``make student-repo``). If those are
missing, the tests FAIL with the command to run; they never skip."""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = REPO_ROOT / "_build"
BOOK_HTML = BUILD_DIR / "html"
STUDENT_REPO = BUILD_DIR / "student-repo"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def book_html() -> Path:
    """The built book; fails (never skips) when `make book` has not been run."""
    if not (BOOK_HTML / "index.html").is_file():
        pytest.fail(f"{BOOK_HTML} is missing: run `make book` (or `make test`, which builds it first)")
    return BOOK_HTML


@pytest.fixture(scope="session")
def student_repo() -> Path:
    """The student repository; fails when `make student-repo` has not been run."""
    if not (STUDENT_REPO / ".git").is_dir():
        pytest.fail(f"{STUDENT_REPO} is missing: run `make student-repo` (or `make test`)")
    return STUDENT_REPO


@pytest.fixture(scope="session")
def book_config() -> dict:
    return yaml.safe_load((REPO_ROOT / "_config.yml").read_text())


def load_tool(name: str):
    """Import ``tools/<name>.py`` (tools/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def course() -> dict:
    """course.yml, the course's addresses (book, student and instructor repositories, branch)."""
    return load_tool("course_config").load(environ={})


@pytest.fixture(scope="session")
def shared(tmp_path_factory):
    """Build something once per session for every xdist worker; returns ``once(name, build)``."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the workers' base folders are siblings

    def once(name: str, build) -> dict:
        result = root / f"{name}.json"
        with open(root / f"{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not result.exists():
                folder = root / name
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir()
                result.write_text(json.dumps(build(folder)))
        return json.loads(result.read_text())
    return once


def toc_files(toc: dict) -> list[str]:
    """Every file of a jb-book _toc.yml (root, chapters, sections), without suffix, in order."""
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return files


@pytest.fixture(scope="session")
def toc_pages() -> list[str]:
    """Docnames listed in _toc.yml, e.g. ``["index", "chapters/01-introduction", ...]``."""
    return read_toc_pages()


def read_toc_pages() -> list[str]:
    """:func:`toc_pages` outside a fixture (for parametrizing at collection)."""
    return toc_files(yaml.safe_load((REPO_ROOT / "_toc.yml").read_text()))


def source_of(docname: str) -> Path:
    """The source file of a toc entry (.ipynb preferred, then .md)."""
    for suffix in (".ipynb", ".md"):
        path = REPO_ROOT / f"{docname}{suffix}"
        if path.is_file():
            return path
    raise FileNotFoundError(f"no source for toc entry {docname!r}")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: builds an environment or runs many notebooks (tests/test_student_path.py); "
                   "collected first, so that pytest-xdist runs them beside the quick tests")


def pytest_collection_modifyitems(session, config, items):
    """Slow tests first: pytest-xdist hands tests out in collection order, so the long ones start
    at once on every worker instead of trailing at the end of the run."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
