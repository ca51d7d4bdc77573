"""Build the book into _build/html: ``make book`` runs this.

1. Hash ``gdlib/**/*.py`` and ``pyproject.toml``. jupyter-cache only keys a chapter on its own
   code cells, so a change in gdlib would otherwise leave stale outputs in the book: when the
   hash differs from the stamp kept in the cache folder, the execution cache and Sphinx's
   environment are deleted and every chapter is executed again.
2. Execute the chapters of _toc.yml that are not cached yet, longest first, in parallel on every
   core, into the same jupyter-cache that jupyter-book reads (myst-nb alone executes them one by
   one).
   A chapter whose cell raises stops the build here, with its traceback.
3. Write ``_build/book-config.yml``: _config.yml with the addresses of ``course.yml`` filled in
   (``repository.url`` and ``repository.branch``, which the repository button and the Binder and
   Colab launch buttons use, and ``html.baseurl``), so that course.yml is the only place that
   names them. See :func:`book_config`.
4. Run ``jupyter-book build . --config _build/book-config.yml --builder html --warningiserror
   --keep-going --all``; _config.yml makes an exception in any executed cell fail the build
   (allow_errors false, raise_on_error true) and bounds each cell's run time. A built site gets a
   ``.nojekyll`` file (GitHub Pages would otherwise hide ``_static/`` and ``_sources/``).
5. Replace what the pages' "download" button serves, ``_sources/chapters/*``, by the plain
   notebooks of tools/plain_notebooks.py (every figure, table and number in the text, no MyST
   markup: what a student opens in Jupyter or Colab), and fill in the install cell of
   ``_sources/exercises/*/*.ipynb`` (tools/install_cell.py). See :func:`write_downloads`.
6. Print the elapsed time and whether the build was cold (empty cache) or warm, and write both to
   ``_build/book-build.json``; the full log goes to ``_build/book-build.log`` (the tests read it).

Usage: ``python tools/build_book.py [--force]`` (``--force`` drops the cache first: a cold build).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path, PurePosixPath

import nbformat
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import course_config  # noqa: E402  (tools/course_config.py)
import install_cell  # noqa: E402  (tools/install_cell.py)
import plain_notebooks  # noqa: E402  (tools/plain_notebooks.py)

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = REPO_ROOT / "_build"
HTML_DIR = BUILD_DIR / "html"
CACHE_DIR = BUILD_DIR / ".jupyter_cache"  # must match execute.cache in _config.yml
DOCTREES_DIR = BUILD_DIR / ".doctrees"
STAMP_FILE = CACHE_DIR / "gdlib-code.sha256"
SECONDS_FILE = BUILD_DIR / "execution-seconds.json"  # by path in the repository; kept when the cache is dropped
LOG_FILE = BUILD_DIR / "book-build.log"
REPORT_FILE = BUILD_DIR / "book-build.json"
BOOK_CONFIG_FILE = BUILD_DIR / "book-config.yml"
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def gdlib_code_hash(root: Path = REPO_ROOT) -> str:
    """SHA-256 over every gdlib source file (path and content) and pyproject.toml."""
    digest = hashlib.sha256()
    files = sorted((root / "gdlib").rglob("*.py")) + [root / "pyproject.toml"]
    for path in files:
        if not path.is_file():
            continue
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def invalidate_cache_if_gdlib_changed(code_hash: str, force: bool) -> str:
    """Delete the execution cache and the Sphinx environment when gdlib changed.

    Returns ``"cold"`` when the build will execute every chapter, ``"warm"`` otherwise.
    """
    stamp = STAMP_FILE.read_text().strip() if STAMP_FILE.is_file() else None
    if force or stamp != code_hash:
        if stamp is not None and not force:
            print("build_book: gdlib changed since the last build: every chapter re-executes")
        # Sphinx only re-reads a page whose source changed, so its environment goes too.
        for folder in (CACHE_DIR, DOCTREES_DIR, BUILD_DIR / "jupyter_execute"):
            shutil.rmtree(folder, ignore_errors=True)
        return "cold"
    return "warm"


def warm_matplotlib_font_cache() -> None:
    """Build matplotlib's font cache now, so its one-time notice never lands in a page."""
    subprocess.run(
        [sys.executable, "-c", "import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot"],
        cwd=REPO_ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def toc_notebooks(root: Path = REPO_ROOT) -> list[Path]:
    """The .ipynb files of _toc.yml that jupyter-book executes (execute.exclude_patterns removed)."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    config = yaml.safe_load((root / "_config.yml").read_text())
    excluded = config.get("execute", {}).get("exclude_patterns", [])
    docnames = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                docnames.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    notebooks = [root / f"{docname}.ipynb" for docname in docnames]
    return [nb for nb in notebooks if nb.is_file()
            and not any(PurePosixPath(nb.as_posix()).match(p) for p in excluded)]


def expected_order(uris: list[str], seconds: dict[str, float]) -> list[str]:
    """``uris`` longest first, so that no long chapter starts last and runs alone on one core.

    ``seconds`` holds each notebook's execution time in an earlier build; a notebook never
    timed counts as longer than all timed ones, and among those the later in _toc.yml first
    (the later chapters run the larger experiments: the lab is last).
    """
    rank = {uri: k for k, uri in enumerate(uris)}
    return sorted(uris, key=lambda uri: (uri in seconds, -seconds.get(uri, 0.0), -rank[uri]))


def execute_in_parallel(notebooks: list[Path], timeout: int) -> tuple[int, list[tuple[str, str]]]:
    """Execute the notebooks missing from the cache over a pool of processes, one per core.

    jupyter-book then finds them in the cache (the match is on their code cells). They start
    longest first (:func:`expected_order`, from the times in ``SECONDS_FILE``), which makes a
    cold build 15 to 30 s shorter on two cores than _toc.yml's order. Returns how many
    executed successfully, and ``(notebook, traceback)`` for each one that failed.
    """
    from jupyter_cache import get_cache
    from jupyter_cache.executors.basic import JupyterExecutorLocalMproc

    logger = logging.getLogger("build_book.execute")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("build_book: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    cache = get_cache(str(CACHE_DIR))
    uris = [str(cache.add_nb_to_project(str(nb)).uri) for nb in notebooks]
    uri_of = {Path(uri).relative_to(REPO_ROOT).as_posix(): uri for uri in uris}
    seconds = json.loads(SECONDS_FILE.read_text()) if SECONDS_FILE.is_file() else {}
    order = {uri_of[name]: k for k, name in enumerate(expected_order(list(uri_of), seconds))}

    class LongestFirst(JupyterExecutorLocalMproc):
        def get_records(self, *args, **kwargs):
            return sorted(super().get_records(*args, **kwargs), key=lambda r: order[r.uri])

    result = LongestFirst(cache=cache, logger=logger).run_and_cache(
        filter_uris=uris, timeout=timeout, allow_errors=False)
    for name, uri in uri_of.items():
        try:  # the cached execution of this notebook's code, wherever the checkout was then
            record = cache.match_cache_file(uri)
        except KeyError:
            continue
        if "execution_seconds" in (record.data or {}):
            seconds[name] = record.data["execution_seconds"]
    seconds = {name: seconds[name] for name in uri_of if name in seconds}
    SECONDS_FILE.write_text(json.dumps(seconds, indent=2, sort_keys=True) + "\n")
    failed = list(result.excepted) + list(result.errored)
    return len(result.succeeded), [
        (uri, cache.get_project_record(uri).traceback or "(no traceback recorded)") for uri in failed]


def book_config(course: dict, root: Path = REPO_ROOT) -> dict:
    """The jupyter-book configuration: _config.yml with the addresses of course.yml.

    Parameters
    ----------
    course : dict
        What :func:`course_config.load` returns.
    root : Path
        The folder holding ``_config.yml``.

    Returns
    -------
    dict
        _config.yml's settings, with ``repository.url`` the student repository and
        ``repository.branch`` its branch (the repository button, and the Binder and Colab launch
        buttons, open them) and ``html.baseurl`` the book's address (the pages' canonical link).
    """
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    repository = config.setdefault("repository", {})
    for key in ("url", "branch"):
        if key in repository:
            raise ValueError(f"_config.yml sets repository.{key}: remove it, course.yml is the one "
                             "place for the course's addresses")
    repository["url"] = course["student_repository"]
    repository["branch"] = course["branch"]
    config.setdefault("html", {})["baseurl"] = course["book_url"]
    return config


def write_book_config(course: dict, path: Path = BOOK_CONFIG_FILE) -> Path:
    """Write :func:`book_config` to ``path`` (what ``jupyter-book build --config`` reads)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = "# Written by tools/build_book.py from _config.yml and course.yml: edit those, not this.\n"
    path.write_text(header + yaml.safe_dump(book_config(course), sort_keys=False), encoding="utf-8")
    return path


def jupyter_book_command(config_file: Path = BOOK_CONFIG_FILE) -> list[str]:
    executable = Path(sys.executable).parent / "jupyter-book"
    # --all: Sphinx re-reads every page (outputs come from the cache). Without it, a page whose
    # warnings failed the last build is not read again, and the next build passes silently.
    return [str(executable), "build", ".", "--config", str(config_file.relative_to(REPO_ROOT)),
            "--builder", "html", "--warningiserror", "--keep-going", "--all"]


def run_and_log(command: list[str], log_file: Path) -> int:
    """Run ``command`` in the repository root, echo its output and keep a copy in ``log_file``."""
    # No MPLBACKEND here: the kernels must keep their inline backend, or figures vanish.
    env = {key: value for key, value in os.environ.items() if key != "MPLBACKEND"}
    env["PYTHONHASHSEED"] = "0"
    with log_file.open("w") as log, subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, bufsize=1,
    ) as process:
        log.write("$ " + " ".join(command) + "\n")
        for line in process.stdout:
            sys.stdout.write(line)
            log.write(ANSI_ESCAPE.sub("", line))
    return process.returncode


def write_downloads(course: dict, html_dir: Path = HTML_DIR, root: Path = REPO_ROOT) -> list[Path]:
    """Make the download button of every chapter and exercise serve what students should open.

    ``html_copy_source`` copies each page's source to ``_sources/``: for a chapter, a MyST
    notebook without outputs whose text shows raw ``{glue:text}`` roles; for an exercise, a
    notebook whose install cell holds placeholders. They are replaced by the plain notebook of
    each chapter (and the plain Markdown of its Markdown pages) and by the exercise with the
    student repository's address. Returns the files written.
    """
    sources = html_dir / "_sources"
    book = plain_notebooks.load_course(root, course, html_dir)
    chapters = [p for p in plain_notebooks.chapter_sources(root)
                if (sources / p.relative_to(root)).is_file()]
    written = plain_notebooks.write_plain_chapters(sources / "chapters", book, chapters)
    for path in sorted(sources.glob("exercises/*/*.ipynb")):
        nb = install_cell.render_notebook(nbformat.read(path, as_version=4), course)
        nbformat.write(nb, path)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true",
                        help="drop the execution cache first (a cold build)")
    args = parser.parse_args(argv)

    BUILD_DIR.mkdir(exist_ok=True)
    # The kernels inherit this environment. The sliders render as their static HTML/JS twins
    # (no kernel, no widget manager from a CDN); one BLAS thread each, since the chapters run
    # in parallel on every core and time their epochs.
    os.environ["GDLIB_WIDGETS"] = "static"
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = "1"
    code_hash = gdlib_code_hash()
    kind = invalidate_cache_if_gdlib_changed(code_hash, args.force)
    # From here on the cache only receives executions made with this gdlib, so the stamp holds
    # even if the build fails: the chapters that did execute need not run again next time.
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    STAMP_FILE.write_text(code_hash + "\n")
    warm_matplotlib_font_cache()

    start = time.perf_counter()
    try:
        course = course_config.load()
        write_book_config(course)
    except (course_config.CourseConfigError, ValueError) as error:
        print(f"build_book: {error}", file=sys.stderr)
        return 1
    command = jupyter_book_command()
    timeout = yaml.safe_load((REPO_ROOT / "_config.yml").read_text())["execute"]["timeout"]
    executed, failures = execute_in_parallel(toc_notebooks(), timeout)
    for notebook, traceback in failures:
        print(f"build_book: executing {notebook} failed:\n{traceback}", file=sys.stderr)
    if failures:
        LOG_FILE.write_text("".join(f"ERROR: executing {nb} failed:\n{tb}\n" for nb, tb in failures))
    returncode = 1 if failures else run_and_log(command, LOG_FILE)
    if returncode == 0:
        (HTML_DIR / ".nojekyll").touch()  # GitHub Pages serves _static/ and _sources/ as they are
        try:
            write_downloads(course)
        except plain_notebooks.PlainNotebookError as error:
            print(f"build_book: the plain notebooks of the download buttons: {error}", file=sys.stderr)
            returncode = 1
    elapsed = time.perf_counter() - start

    REPORT_FILE.write_text(json.dumps({
        "command": command,
        "warningiserror": "--warningiserror" in command,
        "cache": kind,
        "notebooks_executed": executed,
        "elapsed_seconds": round(elapsed, 1),
        "gdlib_code_sha256": code_hash,
        "returncode": returncode,
    }, indent=2) + "\n")

    status = "built" if returncode == 0 else "FAILED"
    print(f"build_book: {status} ({kind} cache) in {elapsed:.1f} s -> {HTML_DIR.relative_to(REPO_ROOT)}"
          f"; log in {LOG_FILE.relative_to(REPO_ROOT)}")
    return returncode


if __name__ == "__main__":
    sys.exit(main())
