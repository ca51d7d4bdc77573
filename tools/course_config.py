"""Read ``course.yml``: the course's public addresses and its publishing remotes.

``course.yml`` is the one place a fork of the course edits. Everything that links to the course
online or pushes it there reads it through :func:`load`: the book's launch and repository
buttons (tools/build_book.py), the student README (tools/student_repo.py) and ``make publish``
(tools/publish.py). Import it from a script in ``tools/`` as ``import course_config``, from
elsewhere by adding ``tools/`` to ``sys.path`` first.

Usage: ``python tools/course_config.py [KEY]`` prints the whole configuration, or one value
(e.g. ``student_repository``), as the rest of the course sees it.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
COURSE_FILE = REPO_ROOT / "course.yml"

ADDRESSES = ("book_url", "student_repository", "instructor_repository")
REMOTES = ("student", "pages")
# Environment variables that override remotes.<name> (CI sets them; they never go in a file).
REMOTE_ENVIRONMENT = {"student": "COURSE_STUDENT_REMOTE", "pages": "COURSE_PAGES_REMOTE"}
GITHUB_REPOSITORY = re.compile(r"^https://github\.com/(?P<owner>[\w.-]+)/(?P<name>[\w.-]+)$")


class CourseConfigError(ValueError):
    """``course.yml`` is missing, malformed, or lacks a setting."""


def load(path: Path | str | None = None, *, environ: dict | None = None) -> dict:
    """Read and check ``course.yml``.

    Parameters
    ----------
    path : path-like, optional
        The file to read; default ``course.yml`` at the repository root.
    environ : dict, optional
        Where to look for ``COURSE_STUDENT_REMOTE`` and ``COURSE_PAGES_REMOTE`` (default
        ``os.environ``); a non-empty value replaces ``remotes.student`` or ``remotes.pages``.

    Returns
    -------
    dict
        ``book_url`` (ending in ``/``), ``student_repository`` and ``instructor_repository``
        (``https://github.com/OWNER/NAME``, no trailing ``/``), ``branch``, and ``remotes``
        with the keys ``student`` and ``pages`` (push URLs; ``""`` when not set).

    Raises
    ------
    CourseConfigError
        When the file is missing or a setting is missing or malformed; the message names the
        setting and the file.
    """
    path = Path(path) if path is not None else COURSE_FILE
    environ = os.environ if environ is None else environ
    if not path.is_file():
        raise CourseConfigError(f"{path} is missing: it holds the course's addresses "
                                "(book_url, student_repository, instructor_repository, branch)")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise CourseConfigError(f"{path}: expected `key: value` settings, got {type(raw).__name__}")
    unknown = sorted(set(raw) - {*ADDRESSES, "branch", "remotes"})
    if unknown:
        raise CourseConfigError(f"{path}: unknown setting(s) {unknown}; the settings are "
                                f"{[*ADDRESSES, 'branch', 'remotes']}")

    config: dict = {}
    for key in (*ADDRESSES, "branch"):
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise CourseConfigError(f"{path}: set `{key}` (a non-empty string), got {value!r}")
        config[key] = value.strip()
    for key in ADDRESSES:
        if not config[key].startswith("https://"):
            raise CourseConfigError(f"{path}: `{key}` must be an https:// address, got {config[key]!r}")
    config["book_url"] = config["book_url"].rstrip("/") + "/"
    for key in ("student_repository", "instructor_repository"):
        config[key] = config[key].rstrip("/")
        if not GITHUB_REPOSITORY.match(config[key]):
            raise CourseConfigError(
                f"{path}: `{key}` must be https://github.com/OWNER/NAME (Binder and Colab open "
                f"notebooks from GitHub), got {config[key]!r}")
    if config["student_repository"] == config["instructor_repository"]:
        raise CourseConfigError(f"{path}: `student_repository` and `instructor_repository` are the "
                                "same: the launch buttons would open the solutions' repository")

    remotes = raw.get("remotes") or {}
    if not isinstance(remotes, dict) or set(remotes) - set(REMOTES):
        raise CourseConfigError(f"{path}: `remotes` takes the keys {list(REMOTES)}, got {remotes!r}")
    config["remotes"] = {}
    for name in REMOTES:
        value = environ.get(REMOTE_ENVIRONMENT[name]) or remotes.get(name) or ""
        if not isinstance(value, str):
            raise CourseConfigError(f"{path}: `remotes.{name}` must be a git URL, got {value!r}")
        config["remotes"][name] = value.strip()
    return config


def github_slug(repository_url: str) -> str:
    """``OWNER/NAME`` of an ``https://github.com/OWNER/NAME`` address."""
    match = GITHUB_REPOSITORY.match(repository_url.rstrip("/"))
    if not match:
        raise CourseConfigError(f"not a GitHub repository address: {repository_url!r}")
    return f"{match['owner']}/{match['name']}"


def redact(url: str) -> str:
    """``url`` without a password or token (``https://x:TOKEN@host/...`` -> ``https://***@host/...``)."""
    return re.sub(r"(\w[\w+.-]*://)[^/@\s]+@", r"\1***@", url)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        config = load()
    except CourseConfigError as error:
        print(f"course_config: {error}", file=sys.stderr)
        return 1
    config["remotes"] = {name: redact(url) for name, url in config["remotes"].items()}
    if argv:
        value = config
        for part in argv[0].split("."):
            value = value[part]
        print(value)
    else:
        print(yaml.safe_dump(config, sort_keys=False), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
