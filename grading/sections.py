"""Where the book teaches each exercise function and each named mistake, and the book's address.

The class report links every named mistake of gdcheck's catalogue to the book section that
addresses it, and the feedback pages link to the published book instead of
``../../chapters/<chapter>.ipynb`` (a path that exists only in the course repository).

- :data:`ASSIGNMENT_CHAPTERS`: assignment id -> the chapter it goes with, read from ``_toc.yml``
  (the chapter that lists ``exercises/<id>/<id>`` among its sections);
- :data:`FUNCTION_SECTIONS`: exercise function (the ``<name>`` of ``gdcheck.check_<name>``, the
  ``function`` of a catalogue :class:`~gdcheck.catalogue.Mistake`) -> the MyST label of the
  section that teaches it (``(sec-momentum)=`` above its heading);
- :data:`MISTAKE_SECTIONS`: a catalogue key whose mistake a more precise section addresses.

Chapters are never named by number or file here: the label gives the chapter and the heading
(:func:`book_labels`), ``_toc.yml`` the chapter's number (:func:`chapter_number`), so inserting
a chapter or renaming a heading changes nothing in this file. A new exercise function goes
here with its section's label (tests/test_class_report.py checks that every function of the
catalogue is mapped to a label that exists). The book's base URL comes
from the course configuration, ``book_url`` of ``course.yml`` read by
``tools/course_config.py``; without one, links are relative paths into the locally built book
(``_build/html``). The same file gives the student repository and branch that the notebooks'
install cell names (:func:`install_values`).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILT_BOOK = REPO_ROOT / "_build" / "html"

_BACKPROP, _ADAPTIVE, _DEEPER = "sec-backpropagation", "sec-adaptive-state", "sec-deeper-network"

# function -> the MyST label of the book section that teaches it (``(sec-...)=`` above the
# heading in the chapter); the chapter, its number and the heading are read from the book.
FUNCTION_SECTIONS = {
    "gradient_descent": "sec-update-rule",
    "numerical_gradient": _BACKPROP,
    "two_layer_backward": _BACKPROP,
    "iterate_minibatches": "sec-three-batch-sizes",
    "train": "sec-three-batch-sizes",
    "stability_threshold": "sec-four-regimes",
    "step_decay": "sec-learning-rate-schedules",
    "exponential_decay": "sec-learning-rate-schedules",
    "cosine_schedule": "sec-learning-rate-schedules",
    "momentum_init": "sec-momentum",
    "momentum_step": "sec-momentum",
    "nesterov_init": "sec-momentum",
    "nesterov_step": "sec-momentum",
    "adagrad_init": _ADAPTIVE,
    "adagrad_step": _ADAPTIVE,
    "rmsprop_init": _ADAPTIVE,
    "rmsprop_step": _ADAPTIVE,
    "adam_init": _ADAPTIVE,
    "adam_step": _ADAPTIVE,
    "adamw_init": _ADAPTIVE,
    "adamw_step": _ADAPTIVE,
    "acceptance_probability": "sec-simulated-annealing",
    "temperature": "sec-simulated-annealing",
    "simulated_annealing": "sec-simulated-annealing",
    "random_restarts": "sec-random-restarts",
    "classify_critical_point": "sec-critical-point-hessian",
    "perturbed_gradient_descent": "sec-escaping-saddles",
    "relu": "sec-kink-subgradients",
    "relu_grad": "sec-kink-subgradients",
    "leaky_relu": "sec-dead-units",
    "leaky_relu_grad": "sec-dead-units",
    "sigmoid": _DEEPER,
    "sigmoid_grad": _DEEPER,
    "tanh": _DEEPER,
    "tanh_grad": _DEEPER,
    "layer_gradient_norms": _DEEPER,
    "l2_grad": "sec-l2-weight-decay",
    "l1_grad": "sec-l1-sparsity",
    "dropout_forward": "sec-dropout",
    "dropout_backward": "sec-dropout",
    "clip_by_global_norm": "sec-clipping",
    "heavy_ball_rate": "sec-momentum-region",
    "heavy_ball_optimal": "sec-momentum-region",
}

MISTAKE_SECTIONS = {
    "ad-no-bias-correction": "sec-adam-bias-correction",
    "ad-bias-m-only": "sec-adam-bias-correction",
    "ad-bias-v-only": "sec-adam-bias-correction",
    "ad-t-after-use": "sec-adam-bias-correction",
}

TARGET_HEADING = re.compile(r"^\((?P<label>[^()\s]+)\)=[ \t]*\n(?:[ \t]*\n)*"
                            r"#{1,6}[ \t]+(?P<heading>.+?)[ \t]*$", re.M)


def _toc() -> dict:
    try:
        import yaml
        return yaml.safe_load((REPO_ROOT / "_toc.yml").read_text(encoding="utf-8")) or {}
    except (OSError, ImportError, ValueError):
        return {}


@functools.lru_cache(maxsize=None)
def toc_chapters() -> tuple[tuple[str, int | None, tuple[str, ...]], ...]:
    """Every chapter of ``_toc.yml`` in order: ``(docname, number, section docnames)``; the
    number as the book shows it (numbered parts count on across parts), None when unnumbered."""
    chapters, count = [], 0
    for part in _toc().get("parts", []):
        for entry in part.get("chapters", []):
            number = None
            if part.get("numbered"):
                count += 1
                number = count
            files = tuple(e["file"] for e in entry.get("sections") or [] if "file" in e)
            chapters.append((entry["file"], number, files))
    return tuple(chapters)


def chapter_number(docname: str) -> int | None:
    """The chapter's number in the book (from ``_toc.yml``), or None."""
    return next((number for doc, number, _ in toc_chapters() if doc == docname), None)


def assignment_chapters() -> dict[str, str]:
    """Assignment id -> its chapter: ``_toc.yml`` lists ``exercises/<id>/<id>`` under it."""
    found = {}
    for docname, _, files in toc_chapters():
        for file in files:
            match = re.fullmatch(r"exercises/([^/]+)/\1", file)
            if match:
                found[match.group(1)] = docname
    return found


ASSIGNMENT_CHAPTERS = assignment_chapters()


@functools.lru_cache(maxsize=None)
def book_labels() -> dict[str, tuple[str, str]]:
    """Every ``(label)=`` of the chapters that stands above a heading: label -> (docname,
    heading); a label on a chapter's title maps to (docname, "") (the chapter itself)."""
    labels = {}
    for docname, _, _ in toc_chapters():
        path = REPO_ROOT / f"{docname}.ipynb"
        if not path.is_file():
            continue
        title = chapter_title(docname)
        for source in _markdown_sources(docname):
            for m in TARGET_HEADING.finditer(source):
                heading = m.group("heading").strip()
                labels[m.group("label")] = (docname, "" if heading == title else heading)
    return labels


def section_of(label: str) -> Section | None:
    """The :class:`Section` a MyST label stands above, or None for a label no chapter has."""
    found = book_labels().get(label)
    return Section(found[0], found[1], label) if found else None


CHAPTER_LINK = re.compile(r'href="(?:\.\./)*(chapters/[\w.-]+)\.(?:ipynb|md)(#[^"]*)?"')


@dataclass(frozen=True)
class Section:
    """A place in the book: ``docname`` (``chapters/<chapter>``) and a heading, or none
    for the chapter itself; ``target`` is the MyST label above the heading, if any."""

    docname: str
    heading: str = ""
    target: str = ""

    @property
    def anchor(self) -> str:
        """The HTML id of the heading: its MyST label (Sphinx gives the section that id), else
        the id Sphinx derives from the heading (docutils' ``make_id``), or ``""``."""
        if not self.heading:
            return ""
        if self.target:
            return self.target
        from docutils.nodes import make_id
        return make_id(self.heading)

    @property
    def label(self) -> str:
        """``Chapter <n>, Adam's bias correction`` (or the chapter's title without a heading); the
        number is the chapter's place in ``_toc.yml``."""
        number = chapter_number(self.docname)
        chapter = f"Chapter {number}" if number else chapter_title(self.docname) or self.docname
        return f"{chapter}, {self.heading or chapter_title(self.docname) or self.docname}"

    def url(self, base: str | None, start: Path | None = None) -> str:
        """This section's address under the book URL ``base``; with no ``base``, a path from the
        folder ``start`` to the locally built book."""
        page = f"{self.docname}.html" + (f"#{self.anchor}" if self.anchor else "")
        if base:
            return base.rstrip("/") + "/" + page
        target = BUILT_BOOK / page
        return os.path.relpath(target, start) if start is not None else target.as_uri()


@functools.lru_cache(maxsize=None)
def _markdown_sources(docname: str) -> list[str]:
    """The sources of the markdown cells of ``<repo>/<docname>.ipynb``."""
    cells = json.loads((REPO_ROOT / f"{docname}.ipynb").read_text(encoding="utf-8"))["cells"]
    return ["".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            for cell in cells if cell.get("cell_type") == "markdown"]


def chapter_title(docname: str) -> str:
    """The first ``# `` heading of ``<repo>/<docname>.ipynb``, or ``""``."""
    try:
        sources = _markdown_sources(docname)
    except (OSError, ValueError, KeyError):
        return ""
    for source in sources:
        match = re.search(r"^# +(.+)$", source, re.M)
        if match:
            return match.group(1).strip()
    return ""


def chapter_headings(docname: str) -> list[str]:
    """Every ``#``..``######`` heading of the chapter ``docname`` (for checks)."""
    return [m.group(1).strip() for source in _markdown_sources(docname)
            for m in re.finditer(r"^#{1,6} +(.+)$", source, re.M)]


def section_for(*, key: str = "", function: str = "", assignment: str = "") -> Section | None:
    """The most precise section for a catalogue ``key``, else its ``function``, else the
    chapter of ``assignment``; ``None`` when nothing is known."""
    for label in (MISTAKE_SECTIONS.get(key), FUNCTION_SECTIONS.get(function)):
        section = section_of(label) if label else None
        if section is not None:
            return section
    if assignment in ASSIGNMENT_CHAPTERS:
        return Section(ASSIGNMENT_CHAPTERS[assignment])
    return None


def _course_config_module():
    path = REPO_ROOT / "tools" / "course_config.py"
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location("_grading_course_config", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _course_file(course_root: Path | None) -> Path | None:
    """``course.yml`` of ``course_root`` if it has one, else of this repository, else None."""
    candidates = [Path(course_root) / "course.yml"] if course_root is not None else []
    candidates.append(REPO_ROOT / "course.yml")
    return next((p for p in candidates if p.is_file()), None)


def _course_setting(course_root: Path | None, key: str):
    """One setting of ``course.yml``: through ``tools/course_config.py``'s ``load()`` when
    present (checked and normalised), else read directly; None when there is none."""
    path = _course_file(course_root)
    if path is None:
        return None
    try:
        module = _course_config_module()
        if module is not None:
            return module.load(path, environ={})[key]
    except Exception:  # an incomplete course.yml: the setting alone is enough here
        pass
    try:
        import yaml
        value = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get(key)
    except Exception:
        return None
    return value.strip() if isinstance(value, str) and value.strip() else None


def book_url(course_root: Path | None = None) -> str | None:
    """The published book's address (ending in ``/``), or ``None``.

    Read from ``course.yml`` of ``course_root`` if it has one, else of this repository:
    through ``tools/course_config.py``'s ``load()`` when present, else read directly (only
    ``book_url``). ``None`` when no course configuration gives one: links then go to the
    locally built book.
    """
    value = _course_setting(course_root, "book_url")
    if isinstance(value, str) and value.startswith(("https://", "http://")):
        return value.rstrip("/") + "/"
    return None


def install_values(course_root: Path | None = None) -> dict[str, str]:
    """The values of the install cell's placeholders ``{{ student_repository }}`` and
    ``{{ branch }}`` (tools/install_cell.py), from ``course.yml`` as :func:`book_url` reads
    it, the same values the student repository's notebooks get; only those found."""
    values = {}
    for key in ("student_repository", "branch"):
        value = _course_setting(course_root, key)
        if isinstance(value, str) and value and not any(c in value for c in "\n\r{}\"'"):
            values[key] = value.rstrip("/") if key == "student_repository" else value
    return values


def rewrite_chapter_links(page: str, base: str | None, start: Path | None = None) -> str:
    """``href="../../chapters/<chapter>.ipynb#x"`` -> the book's page for that chapter."""
    import html

    def replace(match):
        url = Section(match.group(1)).url(base, start) + html.unescape(match.group(2) or "")
        return f'href="{html.escape(url, quote=True)}"'
    return CHAPTER_LINK.sub(replace, page)
