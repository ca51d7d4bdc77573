r"""Sliders for the learning rate, the update rule, the start point and the batch size.

Two explorers, each in two twins that compute and draw alike:

- :func:`landscape_explorer`: an update rule (any of :data:`gdlib.optim.RULES`: sgd, momentum,
  nesterov, adagrad, rmsprop, adam, adamw) on a 2-D landscape, with sliders for the learning
  rate :math:`\eta` (log scale), the start :math:`p_0 = (x, y)` and the number of steps; it
  draws the path
  :math:`p_{t} = \mathrm{step}(p_{t-1}, \nabla f(p_{t-1}))` on the contour and
  :math:`f(p_t) - f^\ast` against :math:`t`.
- :func:`training_explorer`: a small MLP on the digits, with sliders for the learning rate
  and the batch size (1, powers of two, the full batch); it draws the loss against epoch and
  against wall time, a map of the final loss over the whole lr x batch-size grid (diverged
  cells hatched) and states the final accuracy.

The **live** twins are ipywidgets (imported inside the functions, so ``import gdlib.widgets``
works without ipywidgets): every slider move calls ``update()``, which fetches the run from a
cache (:func:`functools.lru_cache`, keyed by the parameters) and redraws only the lines of a
persistent figure over its cached background, shown as a PNG in an ``ipywidgets.Image``.
The **static** twins (:mod:`gdlib.widgets.static`) precompute a grid of runs with the same
functions (:func:`landscape_frame`, :func:`training_frame`) and emit self-contained HTML: the
figure's background as one PNG, the lines as numbers drawn on a ``<canvas>`` by a few lines of
inline JavaScript, no request to any host. :func:`explore_landscape` and
:func:`explore_training` pick the twin: ``mode="auto"`` reads the environment variable
``GDLIB_WIDGETS`` (``static`` while the book is built, see the Makefile), and otherwise shows
the live twin in a Jupyter kernel and the static one anywhere else.

The computations and their caches are in :mod:`gdlib.widgets.runs`, the figures in
:mod:`gdlib.widgets.figures`; this module holds the live twins and picks the twin.

A run *converged* at the first step :math:`t` with :math:`\|\nabla f(p_t)\| <` ``1e-3``
(:data:`CONVERGENCE_TOL`); it *diverged* as :func:`gdlib.landscapes.trace` and
:func:`gdlib.train.fit` say (the training explorer passes ``divergence_factor=10``: a batch loss
above ten times the initial loss stops the run). Introduced in the learning-rate chapter
(``ch-learning-rate``) and used again in the optimizers chapter (``ch-optimizers``).
"""

from __future__ import annotations

import html
import os
import sys

import numpy as np

from gdlib._validate import _show, check_lr
from gdlib.widgets.figures import _LandscapeFigure, _TrainingFigure
from gdlib.widgets.runs import (
    RULE_NAMES, TRAINING_BATCH_SIZES, TRAINING_LRS,
    LandscapeFrame, TrainingFrame, TrainingSetup, _check_choice, _check_rule, _check_steps,
    _fmt, _landscape_defaults, _nearest, _resolve_landscape,
    landscape_caption, landscape_frame, training_caption, training_frame,
)

__all__ = [
    "landscape_explorer", "training_explorer", "explore_landscape", "explore_training", "widget_mode",
]


# ---------------------------------------------------------------------------------------------
# The live twins (ipywidgets)


def _ipywidgets():
    """Import ipywidgets here, not at module level: ``import gdlib.widgets`` works without it."""
    try:
        import ipywidgets
    except ImportError as exc:
        raise ImportError("the live explorers need ipywidgets: pip install 'ipywidgets>=8' "
                          "(or use mode='static' for the HTML version)") from exc
    return ipywidgets


def _busy_note(w):
    """A line above an explorer: a slider moved while the notebook is still running waits."""
    return w.HTML("<small>The sliders redraw once the kernel is free: while the notebook is "
                  "still running (Run All), a move waits for the cells before it.</small>")


class LandscapeExplorer:
    """The live landscape explorer: ``widget`` (an ipywidgets box), ``controls`` (rule, lr, x,
    y, num_steps), ``image`` (the figure as PNG) and ``caption``; see :func:`landscape_explorer`."""

    def __init__(self, landscape="rosenbrock", *, rule="sgd", lr=None, start=None,
                 num_steps=100, max_steps=200, lrs=None, starts=None, rules=RULE_NAMES):
        w = _ipywidgets()
        self.landscape = _resolve_landscape(landscape)
        self.num_steps, self.max_steps = _check_steps(num_steps, max_steps)
        lrs, _, rule, lr, start = _landscape_defaults(self.landscape, lrs, starts, rule, lr, start)
        rules = tuple(_check_rule(r) for r in rules)
        _check_choice(rule, rules, "rule")
        self.figure = _LandscapeFigure(self.landscape, self.max_steps)
        (x0, x1), (y0, y1) = self.landscape.bounds
        # the static explorer's learning rates, read out (and to a screen reader) as themselves
        self.controls = {
            "rule": w.Dropdown(options=rules, value=rule, description="rule"),
            "lr": w.SelectionSlider(options=[(_fmt(v), float(v)) for v in lrs],
                                    value=float(_nearest(lrs, lr)), description="lr"),
            "num_steps": w.IntSlider(value=num_steps, min=1, max=max_steps, description="steps"),
            "x": w.FloatSlider(value=start[0], min=x0, max=x1, step=(x1 - x0) / 80,
                               description="start x", readout_format=".3g"),
            "y": w.FloatSlider(value=start[1], min=y0, max=y1, step=(y1 - y0) / 80,
                               description="start y", readout_format=".3g"),
        }
        self.image = w.Image(format="png", layout=w.Layout(max_width="100%", height="auto"))
        self.caption = w.HTML(layout=w.Layout(margin="0 0 0 1em"))
        c = self.controls
        self.widget = w.VBox([_busy_note(w), w.HBox([w.VBox([c["rule"], c["lr"], c["num_steps"]]),
                                                    w.VBox([c["x"], c["y"]])]),
                              self.image, self.caption])
        for control in c.values():
            control.observe(self._on_change, names="value")
        self.update()

    def _on_change(self, change) -> None:
        self.update()

    def update(self) -> LandscapeFrame:
        """Recompute (or fetch) the run for the controls' values and redraw: what every slider
        move calls."""
        v = {name: control.value for name, control in self.controls.items()}
        start = (v["x"], v["y"])
        self.frame = landscape_frame(self.landscape, v["rule"], v["lr"], start, v["num_steps"],
                                     max_steps=self.max_steps)
        self.figure.set_frame(self.frame, v["rule"])
        self.image.value = self.figure.png()
        self.caption.value = html.escape(landscape_caption(v["rule"], v["lr"], start, self.frame))
        return self.frame

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


class TrainingExplorer:
    """The live training explorer: ``controls`` (lr, batch_size), a button that fills the whole
    map, ``image`` and ``caption``; see :func:`training_explorer`."""

    def __init__(self, *, lr=0.1, batch_size=16, setup: TrainingSetup | None = None):
        w = _ipywidgets()
        self.setup = TrainingSetup() if setup is None else setup
        s = self.setup
        lr = _nearest(s.lrs, check_lr(lr))
        batch_size = s.n_train if batch_size is None else batch_size
        _check_choice(batch_size, s.batch_sizes, "batch_size")
        self.figure = _TrainingFigure(s)
        self.cells: dict = {}
        self.controls = {
            "lr": w.SelectionSlider(options=[(_fmt(v), v) for v in s.lrs], value=lr,
                                    description="lr", continuous_update=False),
            "batch_size": w.SelectionSlider(options=list(zip(s.batch_labels, s.batch_sizes)),
                                            value=batch_size, description="batch size",
                                            continuous_update=False),
        }
        self.fill_button = w.Button(description="fill the whole map",
                                    tooltip="train every lr x batch size of the grid")
        self.fill_button.on_click(lambda _: self.fill_map())
        self.image = w.Image(format="png", layout=w.Layout(max_width="100%", height="auto"))
        self.caption = w.HTML(layout=w.Layout(margin="0 0 0 1em"))
        self.widget = w.VBox([_busy_note(w), w.HBox([*self.controls.values(), self.fill_button]),
                              self.image, self.caption])
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        self.update()

    def _on_change(self, change) -> None:
        self.update()

    def _run(self, i: int, j: int) -> TrainingFrame:
        if (i, j) not in self.cells:
            self.cells[(i, j)] = training_frame(self.setup.lrs[i], self.setup.batch_sizes[j],
                                                self.setup)
            self.figure.set_map(self.cells)
            self.figure.set_time_window(self.cells)
        return self.cells[(i, j)]

    def fill_map(self) -> None:
        """Train every cell of the lr x batch-size grid (a few seconds), then redraw."""
        for i in range(len(self.setup.lrs)):
            for j in range(len(self.setup.batch_sizes)):
                self._run(i, j)
        self.update()

    def update(self) -> TrainingFrame:
        """Train (or fetch) the run for the controls' values and redraw: what every slider
        move calls."""
        lr, batch_size = self.controls["lr"].value, self.controls["batch_size"].value
        i, j = self.setup.lrs.index(lr), self.setup.batch_sizes.index(batch_size)
        self.frame = self._run(i, j)
        others = [f for (a, b), f in sorted(self.cells.items()) if a == i and b != j]
        self.figure.set_frame(self.frame, i, j, others)
        self.image.value = self.figure.png()
        self.caption.value = html.escape(training_caption(lr, batch_size, self.setup, self.frame))
        return self.frame

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def landscape_explorer(landscape="rosenbrock", *, rule: str = "sgd", lr: float | None = None,
                       start=None, num_steps: int = 100, max_steps: int = 200, lrs=None,
                       starts=None, rules=RULE_NAMES) -> LandscapeExplorer:
    r"""Live sliders for an update rule on a 2-D landscape (needs ipywidgets and a kernel).

    Parameters
    ----------
    landscape : str or Landscape
        A name in :data:`gdlib.landscapes.LANDSCAPES` or a Landscape object.
    rule : str
        Initial update rule, one of :data:`RULE_NAMES`.
    lr : float, optional
        Initial learning rate :math:`\eta`; by default a value of ``lrs`` suited to the landscape.
    start : (x, y), optional
        Initial start :math:`p_0`; by default the first of ``starts``.
    num_steps, max_steps : int
        Initial number of steps and the slider's maximum (runs are computed for ``max_steps``).
    lrs : sequence of float, optional
        The learning rates of the static grid (default :data:`LANDSCAPE_LRS`); the live log
        slider spans the same range in eighths of a decade.
    starts : sequence of (x, y), optional
        The starts of the static grid (three per landscape by default).
    rules : sequence of str
        The rules offered (default: all six).

    Returns
    -------
    LandscapeExplorer
        Displays as the widget; ``update()`` is what every slider move calls.
    """
    return LandscapeExplorer(landscape, rule=rule, lr=lr, start=start, num_steps=num_steps,
                             max_steps=max_steps, lrs=lrs, starts=starts, rules=rules)


def training_explorer(*, lr: float = 0.1, batch_size: int | None = 16, rule: str = "sgd",
                      lrs=TRAINING_LRS, batch_sizes=TRAINING_BATCH_SIZES, num_epochs: int = 3,
                      n_train: int = 300, hidden: int = 32, seed: int = 0,
                      divergence_factor: float = 10.0) -> TrainingExplorer:
    r"""Live sliders for the learning rate and the batch size of a small MLP on the digits.

    The model is ``MLP((64, hidden, 10), rng=seed)`` (ReLU, softmax cross-entropy), trained by
    :func:`gdlib.train.fit` on the first ``n_train`` training digits of ``load_digits(seed)``,
    each step on a batch :math:`B` of ``batch_size`` examples:

    .. math::

        \theta \leftarrow \mathrm{step}\Bigl(\theta,\ \nabla_\theta \tfrac{1}{|B|}
        \textstyle\sum_{i \in B} \ell_i;\ \eta\Bigr),

    and scored on the validation part. A run stops as diverged once a batch loss exceeds
    ``divergence_factor`` times :math:`\max(\ell_0, 1)`, :math:`\ell_0` the initial loss.

    Parameters
    ----------
    lr, batch_size
        Initial slider positions; ``lr`` snaps to the nearest value of ``lrs``, ``batch_size``
        must be one of ``batch_sizes`` (None: the full batch).
    rule : str
        The update rule, one of :data:`RULE_NAMES`, with its default hyperparameters.
    lrs, batch_sizes : sequences
        The grid the sliders move over (7 x 6 by default); the map shows all of it.
    num_epochs, n_train, hidden, seed, divergence_factor
        The run, as above.

    Returns
    -------
    TrainingExplorer
        Displays as the widget. Each run is trained on its first visit (up to a second for
        batch size 1) and cached; the map fills in as you go, or at once with its button.
    """
    setup = TrainingSetup(rule=rule, num_epochs=num_epochs, n_train=n_train, hidden=hidden,
                          seed=seed, divergence_factor=divergence_factor, lrs=tuple(lrs),
                          batch_sizes=tuple(batch_sizes))
    return TrainingExplorer(lr=lr, batch_size=batch_size, setup=setup)


# ---------------------------------------------------------------------------------------------
# Picking the twin


def _in_kernel() -> bool:
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


def widget_mode(mode: str = "auto") -> str:
    """``"live"`` or ``"static"``: ``mode`` itself unless ``"auto"``; then the environment
    variable ``GDLIB_WIDGETS`` (``static`` or ``live``) if set, else ``"live"`` inside a Jupyter
    kernel with ipywidgets installed and ``"static"`` elsewhere."""
    if mode not in ("auto", "live", "static"):
        raise ValueError(f"mode must be 'auto', 'live' or 'static', got mode={_show(mode)}")
    if mode != "auto":
        return mode
    env = os.environ.get("GDLIB_WIDGETS", "").strip().lower()
    if env:
        if env not in ("live", "static"):
            raise ValueError(f"GDLIB_WIDGETS must be 'live' or 'static', got GDLIB_WIDGETS={env!r}")
        return env
    if not _in_kernel():
        return "static"
    try:
        _ipywidgets()
    except ImportError:
        return "static"
    return "live"


def explore_landscape(landscape="rosenbrock", *, mode: str = "auto", **kwargs):
    """:func:`landscape_explorer` in a live kernel, its static HTML twin
    (:func:`gdlib.widgets.static_landscape_explorer`) when the book is built; see
    :func:`widget_mode`. Keyword arguments as for :func:`landscape_explorer`."""
    if widget_mode(mode) == "live":
        return landscape_explorer(landscape, **kwargs)
    from gdlib.widgets.static import static_landscape_explorer

    return static_landscape_explorer(landscape, **kwargs)


def explore_training(*, mode: str = "auto", **kwargs):
    """:func:`training_explorer` in a live kernel, its static HTML twin
    (:func:`gdlib.widgets.static_training_explorer`) when the book is built."""
    if widget_mode(mode) == "live":
        return training_explorer(**kwargs)
    from gdlib.widgets.static import static_training_explorer

    return static_training_explorer(**kwargs)
