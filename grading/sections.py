"""Where the book teaches each exercise function and each named mistake, and the book's address.

The class report links every named mistake of gdcheck's catalogue to the book section that
addresses it, and the feedback pages link to the published book instead of
``../../chapters/<chapter>.ipynb`` (a path that exists only in the course repository).

- :data:`ASSIGNMENT_CHAPTERS`: assignment id -> the chapter it goes with;
- :data:`FUNCTION_SECTIONS`: exercise function (the ``<name>`` of ``gdcheck.check_<name>``, the
  ``function`` of a catalogue :class:`~gdcheck.catalogue.Mistake`) -> (chapter, section heading);
- :data:`MISTAKE_SECTIONS`: a catalogue key whose mistake a more precise section addresses.

A new exercise function or chapter heading goes here (tests/test_class_report.py checks that
every function of the catalogue is mapped to a heading that exists). The book's base URL comes
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

ASSIGNMENT_CHAPTERS = {
    "gradient-descent": "chapters/02-gradient-descent",
    "variants": "chapters/03-variants",
    "learning-rate": "chapters/04-learning-rate",
    "optimizers": "chapters/05-optimizers",
    "local-minima": "chapters/06-global-minimum",
    "speed": "chapters/07-speed",
    "saddle-points": "chapters/08-saddle-points",
    "activations": "chapters/09-activations",
    "regularization": "chapters/10-regularization",
}

_GD, _VAR, _LR, _OPT = ("chapters/02-gradient-descent", "chapters/03-variants",
                        "chapters/04-learning-rate", "chapters/05-optimizers")
_MIN, _SAD, _ACT, _REG = ("chapters/06-global-minimum", "chapters/08-saddle-points",
                          "chapters/09-activations", "chapters/10-regularization")
_SPD = "chapters/07-speed"
_MOMENTUM_MAP = "Momentum: where it is stable, and how much faster"
_BACKPROP = "The gradient of a neural network: backpropagation"
_ADAPTIVE = "The state, step by step"
_DEEPER = "Sigmoid, tanh, ReLU and leaky ReLU on a deeper network"

FUNCTION_SECTIONS = {
    "gradient_descent": (_GD, "The update rule"),
    "numerical_gradient": (_GD, _BACKPROP),
    "two_layer_backward": (_GD, _BACKPROP),
    "iterate_minibatches": (_VAR, "One algorithm, three batch sizes"),
    "train": (_VAR, "One algorithm, three batch sizes"),
    "stability_threshold": (_LR, "Four regimes on a quadratic"),
    "step_decay": (_LR, "Learning-rate schedules"),
    "exponential_decay": (_LR, "Learning-rate schedules"),
    "cosine_schedule": (_LR, "Learning-rate schedules"),
    "momentum_init": (_OPT, "Momentum: a running sum of gradients"),
    "momentum_step": (_OPT, "Momentum: a running sum of gradients"),
    "nesterov_init": (_OPT, "Momentum: a running sum of gradients"),
    "nesterov_step": (_OPT, "Momentum: a running sum of gradients"),
    "adagrad_init": (_OPT, _ADAPTIVE),
    "adagrad_step": (_OPT, _ADAPTIVE),
    "rmsprop_init": (_OPT, _ADAPTIVE),
    "rmsprop_step": (_OPT, _ADAPTIVE),
    "adam_init": (_OPT, _ADAPTIVE),
    "adam_step": (_OPT, _ADAPTIVE),
    "adamw_init": (_OPT, _ADAPTIVE),
    "adamw_step": (_OPT, _ADAPTIVE),
    "acceptance_probability": (_MIN, "Simulated annealing"),
    "temperature": (_MIN, "Simulated annealing"),
    "simulated_annealing": (_MIN, "Simulated annealing"),
    "random_restarts": (_MIN, "Random restarts"),
    "clip_by_global_norm": (_SPD, "Exploding gradients and clipping"),
    "heavy_ball_rate": (_SPD, _MOMENTUM_MAP),
    "heavy_ball_optimal": (_SPD, _MOMENTUM_MAP),
    "classify_critical_point": (_SAD, "Reading a critical point off the Hessian"),
    "perturbed_gradient_descent": (_SAD, "Escaping with perturbations and noise"),
    "relu": (_ACT, "The kink and its subgradients"),
    "relu_grad": (_ACT, "The kink and its subgradients"),
    "leaky_relu": (_ACT, "Dead units and leaky ReLU"),
    "leaky_relu_grad": (_ACT, "Dead units and leaky ReLU"),
    "sigmoid": (_ACT, _DEEPER),
    "sigmoid_grad": (_ACT, _DEEPER),
    "tanh": (_ACT, _DEEPER),
    "tanh_grad": (_ACT, _DEEPER),
    "layer_gradient_norms": (_ACT, _DEEPER),
    "l2_grad": (_REG, "L2 regularization is weight decay"),
    "l1_grad": (_REG, "L1 regularization and sparsity"),
    "dropout_forward": (_REG, "Dropout"),
    "dropout_backward": (_REG, "Dropout"),
}

MISTAKE_SECTIONS = {
    "ad-no-bias-correction": (_OPT, "Adam's bias correction"),
    "ad-bias-m-only": (_OPT, "Adam's bias correction"),
    "ad-bias-v-only": (_OPT, "Adam's bias correction"),
    "ad-t-after-use": (_OPT, "Adam's bias correction"),
}

CHAPTER_LINK = re.compile(r'href="(?:\.\./)*(chapters/[\w.-]+)\.(?:ipynb|md)(#[^"]*)?"')


@dataclass(frozen=True)
class Section:
    """A place in the book: ``docname`` (``chapters/05-optimizers``) and a heading, or none
    for the chapter itself."""

    docname: str
    heading: str = ""

    @property
    def anchor(self) -> str:
        """The HTML id Sphinx gives the heading (docutils' ``make_id``), or ``""``."""
        if not self.heading:
            return ""
        from docutils.nodes import make_id
        return make_id(self.heading)

    @property
    def label(self) -> str:
        """``Chapter 5, Adam's bias correction`` (or the chapter's title without a heading)."""
        match = re.match(r"chapters/(\d+)-", self.docname)
        chapter = f"Chapter {int(match.group(1))}" if match else self.docname
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
def chapter_title(docname: str) -> str:
    """The first ``# `` heading of ``<repo>/<docname>.ipynb``, or ``""``."""
    path = REPO_ROOT / f"{docname}.ipynb"
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return ""
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            match = re.search(r"^# +(.+)$", source, re.M)
            if match:
                return match.group(1).strip()
    return ""


def chapter_headings(docname: str) -> list[str]:
    """Every ``#``..``######`` heading of the chapter ``docname`` (for checks)."""
    cells = json.loads((REPO_ROOT / f"{docname}.ipynb").read_text(encoding="utf-8"))["cells"]
    headings = []
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            headings += [m.group(1).strip() for m in re.finditer(r"^#{1,6} +(.+)$", source, re.M)]
    return headings


def section_for(*, key: str = "", function: str = "", assignment: str = "") -> Section | None:
    """The most precise section for a catalogue ``key``, else its ``function``, else the
    chapter of ``assignment``; ``None`` when nothing is known."""
    if key in MISTAKE_SECTIONS:
        return Section(*MISTAKE_SECTIONS[key])
    if function in FUNCTION_SECTIONS:
        return Section(*FUNCTION_SECTIONS[function])
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
    """``href="../../chapters/05-optimizers.ipynb#x"`` -> the book's page for that chapter."""
    import html

    def replace(match):
        url = Section(match.group(1)).url(base, start) + html.unescape(match.group(2) or "")
        return f'href="{html.escape(url, quote=True)}"'
    return CHAPTER_LINK.sub(replace, page)
