r"""Sliders for the learning rate, the update rule, the start point and the batch size.

Two explorers, each in two twins that compute and draw alike:

- :func:`landscape_explorer`: an update rule (sgd, momentum, nesterov, adagrad, rmsprop, adam)
  on a 2-D landscape, with sliders for the learning rate :math:`\eta` (log scale), the start
  :math:`p_0 = (x, y)` and the number of steps; it draws the path
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
The **static** twins (:mod:`gdlib.static_widget`) precompute a grid of runs with the same
functions (:func:`landscape_frame`, :func:`training_frame`) and emit self-contained HTML: the
figure's background as one PNG, the lines as numbers drawn on a ``<canvas>`` by a few lines of
inline JavaScript, no request to any host. :func:`explore_landscape` and
:func:`explore_training` pick the twin: ``mode="auto"`` reads the environment variable
``GDLIB_WIDGETS`` (``static`` while the book is built, see the Makefile), and otherwise shows
the live twin in a Jupyter kernel and the static one anywhere else.

A run *converged* at the first step :math:`t` with :math:`\|\nabla f(p_t)\| <` ``1e-3``
(:data:`CONVERGENCE_TOL`); it *diverged* as :func:`gdlib.landscapes.trace` and
:func:`gdlib.train.fit` say (the training explorer passes ``divergence_factor=10``: a batch loss
above ten times the initial loss stops the run). Introduced in the learning-rate chapter
(chapter 4) and used again in the optimizers chapter (chapter 5).
"""

from __future__ import annotations

import contextlib
import functools
import html
import os
import struct
import sys
import warnings
import zlib
from dataclasses import dataclass

import numpy as np

from gdlib import optim
from gdlib._validate import _show, check_array, check_lr, check_positive_int, check_positive_number
from gdlib.landscapes import Landscape, get_landscape, trace_many
from gdlib.plotting import DIVERGED_MARKER, RULE_COLORS, RULE_MARKERS, contour, style

__all__ = [
    "RULE_NAMES", "LANDSCAPE_LRS", "TRAINING_LRS", "TRAINING_BATCH_SIZES", "CONVERGENCE_TOL",
    "LandscapeFrame", "TrainingFrame", "landscape_frame", "training_frame", "landscape_caption",
    "training_caption", "landscape_explorer", "training_explorer", "explore_landscape",
    "explore_training", "widget_mode",
]

RULE_NAMES = tuple(optim.RULES)
#: Learning rates of the landscape grid: half decades from 1e-4 to 1.
LANDSCAPE_LRS = tuple(float(v) for v in 10.0 ** np.linspace(-4, 0, 9))
#: Learning rates of the training grid: two-thirds of a decade from 1e-3 to 10.
TRAINING_LRS = tuple(float(v) for v in 10.0 ** np.linspace(-3, 1, 7))
#: Batch sizes of the training grid; None is the full batch.
TRAINING_BATCH_SIZES = (1, 4, 16, 64, 256, None)
CONVERGENCE_TOL = 1e-3
DPI = 100
LANDSCAPE_FIGSIZE = (8.4, 3.6)
TRAINING_FIGSIZE = (8.4, 3.4)
#: Fixed loss window of the training plots, so the axes never jump between slider moves.
TRAINING_LOSS_LIMITS = (1e-2, 1e1)
_START_FRACTIONS = ((0.12, 0.85), (0.88, 0.8), (0.6, 0.08))
_STARTS = {
    "quadratic": ((-1.6, 1.2), (1.7, 1.6), (0.6, -1.8)),
    "rosenbrock": ((-1.5, 2.5), (-1.2, 1.0), (1.6, -0.6)),
    "multi_minima": ((-3.0, 3.0), (2.8, 2.6), (0.5, -3.0)),
    "saddle": ((1.8, 0.0), (1.8, 0.05), (-1.5, 1.5)),
    "monkey_saddle": ((0.6, 0.05), (-1.2, 0.4), (1.2, -1.2)),
}
_DEFAULT_LR = {"quadratic": 0.1, "rosenbrock": 1e-3, "multi_minima": 0.1}


def _fmt(value: float) -> str:
    """Three significant digits, the way every label and caption prints a number."""
    return f"{value:.3g}"


def _start_label(start) -> str:
    return f"({_fmt(start[0])}, {_fmt(start[1])})"


def _batch_label(batch_size, n: int) -> str:
    return f"full ({n})" if batch_size is None or batch_size == n else str(batch_size)


def _check_rule(rule) -> str:
    if not isinstance(rule, str) or rule not in optim.RULES:
        raise ValueError(f"rule must be one of {', '.join(RULE_NAMES)}, got rule={_show(rule)}")
    return rule


def _check_choice(value, options, name: str):
    if value not in options:
        raise ValueError(f"{name} must be one of {list(options)}, got {name}={_show(value)}")
    return value


def _check_grid(values, name: str) -> tuple:
    values = check_array(values, name, ndim=1)
    if len(values) == 0:
        raise ValueError(f"{name} must hold at least one value, got {name}={values.tolist()}")
    return tuple(check_lr(float(v), name) for v in values)


def _nearest(grid, value: float) -> float:
    """The grid value closest to ``value`` on a log scale."""
    return min(grid, key=lambda g: abs(np.log(g) - np.log(value)))


# ---------------------------------------------------------------------------------------------
# The computations, shared by the live and the static twins


@functools.lru_cache(maxsize=16)
def _landscape_named(name: str) -> Landscape:
    return get_landscape(name)


def _resolve_landscape(landscape) -> Landscape:
    """A Landscape; names resolve to one instance per process, so the caches are shared."""
    return _landscape_named(landscape) if isinstance(landscape, str) else get_landscape(landscape)


@dataclass(frozen=True)
class _LossAxis:
    """The fixed y-axis of the loss panel: log of f - f* when f has a global minimum."""

    scale: str
    low: float
    high: float
    offset: float
    label: str  #: axis label (TeX)
    name: str  #: what a caption calls the plotted value

    def transform(self, values: np.ndarray) -> np.ndarray:
        if self.scale == "log":  # below the window (clipped), never 0 or negative
            return np.maximum(values - self.offset, self.low * 1e-3)
        return np.asarray(values, dtype=float)


@functools.lru_cache(maxsize=16)
def _loss_axis(landscape: Landscape) -> _LossAxis:
    _, _, Z = landscape.grid(120)
    Z = Z[np.isfinite(Z)]
    best = landscape.global_minimum
    if best is not None:
        high = 10.0 ** np.ceil(np.log10(max(float(Z.max()) - best.value, 1e-9)))
        return _LossAxis("log", high * 1e-12, high, best.value, r"$f(p_t) - f^\ast$", "f - f*")
    span = float(Z.max() - Z.min())
    return _LossAxis("linear", float(Z.min()) - 0.05 * span, float(Z.max()) + 0.05 * span, 0.0,
                     "$f(p_t)$", "f")


@dataclass(frozen=True, eq=False)
class LandscapeFrame:
    """What the landscape explorer draws for one setting of its sliders.

    ``path`` (k+1, 2) holds :math:`p_0 .. p_k`, ``loss`` (k+1,) the plotted loss
    (:math:`f - f^\\ast`, floored below the window, or :math:`f`), both finite;
    ``diverged_at`` is the step that blew up (then ``path`` stops before it) and
    ``converged_at`` the first step with :math:`\\|\\nabla f\\| <` :data:`CONVERGENCE_TOL`;
    ``loss_name`` says what ``loss`` holds (``"f - f*"`` or ``"f"``).
    """

    path: np.ndarray
    loss: np.ndarray
    diverged_at: int | None
    converged_at: int | None
    loss_name: str = "f - f*"

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None

    def upto(self, num_steps: int) -> LandscapeFrame:
        """The first ``num_steps`` steps of this run."""
        keep = lambda at: at if at is not None and at <= num_steps else None  # noqa: E731
        return LandscapeFrame(self.path[:num_steps + 1], self.loss[:num_steps + 1],
                              keep(self.diverged_at), keep(self.converged_at), self.loss_name)


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=float)
    a.setflags(write=False)
    return a


@functools.lru_cache(maxsize=4096)
def _landscape_runs(landscape: Landscape, rule: str, lr: float, starts: tuple,
                    max_steps: int) -> tuple:
    """Full-length frames of ``rule`` from each start: one vectorised run (trace_many)."""
    batch = trace_many(landscape, rule, np.array(starts, dtype=float), lr=lr,
                       num_steps=max_steps, warn=False)
    axis = _loss_axis(landscape)
    frames = []
    for i in range(len(starts)):
        run = batch.trace(i)
        converged = np.flatnonzero(run.grad_norms < CONVERGENCE_TOL)
        frames.append(LandscapeFrame(_readonly(run.path), _readonly(axis.transform(run.values)),
                                     run.diverged_at,
                                     int(converged[0]) if converged.size else None, axis.name))
    return tuple(frames)


def _check_start(start) -> tuple:
    p = check_array(start, "start", ndim=1)
    if p.shape != (2,):
        raise ValueError(f"start must have shape (2,), got start of shape {p.shape}")
    return (float(p[0]), float(p[1]))


def _check_steps(num_steps, max_steps) -> tuple[int, int]:
    max_steps = check_positive_int(max_steps, "max_steps")
    num_steps = check_positive_int(num_steps, "num_steps")
    if num_steps > max_steps:
        raise ValueError(f"num_steps must be at most max_steps={max_steps}, got "
                         f"num_steps={num_steps}")
    return num_steps, max_steps


def landscape_frame(landscape, rule: str, lr: float, start, num_steps: int, *,
                    max_steps: int = 200) -> LandscapeFrame:
    r"""The run the landscape explorer shows: ``num_steps`` steps of ``rule`` from ``start``.

    The run is computed once for ``max_steps`` steps (cached) and cut, so moving the steps
    slider costs nothing. Parameters as for :func:`landscape_explorer`.
    """
    landscape = _resolve_landscape(landscape)
    num_steps, max_steps = _check_steps(num_steps, max_steps)
    runs = _landscape_runs(landscape, _check_rule(rule), check_lr(lr), (_check_start(start),),
                           max_steps)
    return runs[0].upto(num_steps)


def landscape_caption(rule: str, lr: float, start, frame: LandscapeFrame) -> str:
    """``"lr = 0.01, rule = adam, start (-1.5, 2.5): converged in 143 steps"`` and the like.

    A run that neither converged nor diverged ends with its last plotted loss, printed from
    its float32 value as the static twin holds it, so that both twins print the same digits.
    """
    head = f"lr = {_fmt(lr)}, rule = {rule}, start {_start_label(start)}: "
    if frame.diverged_at is not None:
        return head + f"diverged at step {frame.diverged_at}"
    if frame.converged_at is not None:
        n = frame.converged_at
        return head + f"converged in {n} step{'' if n == 1 else 's'}"
    num_steps = len(frame.path) - 1
    last = _fmt(float(np.float32(frame.loss[-1])))
    return head + (f"not converged after {num_steps} step{'' if num_steps == 1 else 's'} "
                   f"({frame.loss_name} = {last})")


@dataclass(frozen=True)
class TrainingSetup:
    """Everything a training run depends on besides lr and batch size (validated)."""

    rule: str = "sgd"
    num_epochs: int = 3
    n_train: int = 300
    hidden: int = 32
    seed: int = 0
    divergence_factor: float = 10.0
    lrs: tuple = TRAINING_LRS
    batch_sizes: tuple = TRAINING_BATCH_SIZES

    def __post_init__(self):
        _check_rule(self.rule)
        for name in ("num_epochs", "n_train", "hidden"):
            check_positive_int(getattr(self, name), name)
        check_positive_number(self.divergence_factor, "divergence_factor")
        object.__setattr__(self, "lrs", _check_grid(self.lrs, "lrs"))
        n_max = len(_digits(self.seed)[1])
        if self.n_train > n_max:
            raise ValueError(f"n_train must be at most {n_max} (the digits' training part), got "
                             f"n_train={self.n_train}")
        sizes = tuple(self.n_train if b is None else check_positive_int(b, "batch_sizes")
                      for b in self.batch_sizes)
        if not sizes or max(sizes) > self.n_train:
            raise ValueError(f"batch_sizes must be non-empty and at most n_train={self.n_train} "
                             f"(None: the full batch), got batch_sizes={self.batch_sizes}")
        object.__setattr__(self, "batch_sizes", sizes)

    @property
    def batch_labels(self) -> tuple:
        return tuple(_batch_label(b, self.n_train) for b in self.batch_sizes)


@functools.lru_cache(maxsize=4)
def _digits(seed: int):
    from gdlib.datasets import load_digits

    split = load_digits(seed)
    return split.X_train, split.y_train, split.X_val, split.y_val


@dataclass(frozen=True, eq=False)
class TrainingFrame:
    """One training run: per complete epoch (from epoch 0, before training) the training and
    validation losses, the seconds elapsed, and the final accuracies; where it diverged."""

    loss: np.ndarray
    val_loss: np.ndarray
    times: np.ndarray
    train_acc: float
    val_acc: float
    steps: int
    diverged_at: int | None
    diverged_epoch: int | None

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None

    @property
    def final_loss(self) -> float:
        return float(self.loss[-1])


def _one_blas_thread():
    """Tiny matrix products run ~2x faster on one BLAS thread (threadpoolctl comes with
    scikit-learn); the results are the same."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


@functools.lru_cache(maxsize=1024)
def _training_run(setup: TrainingSetup, lr: float, batch_size: int) -> TrainingFrame:
    from gdlib.model import MLP
    from gdlib.train import DivergenceWarning, fit

    X, y, X_val, y_val = _digits(setup.seed)
    model = MLP((X.shape[1], setup.hidden, 10), rng=setup.seed)
    with warnings.catch_warnings(), _one_blas_thread():
        warnings.simplefilter("ignore", DivergenceWarning)
        h = fit(model, X[:setup.n_train], y[:setup.n_train], rule=setup.rule, lr=lr,
                num_epochs=setup.num_epochs, batch_size=batch_size, rng=setup.seed,
                X_val=X_val, y_val=y_val, record_grad_norms=False,
                divergence_factor=setup.divergence_factor)
    times = np.concatenate([[0.0], np.cumsum(h.epoch_time)])[:len(h.loss_per_epoch)]
    return TrainingFrame(_readonly(h.loss_per_epoch), _readonly(h.val_loss), _readonly(times),
                         float(h.train_acc[-1]), float(h.val_acc[-1]), h.steps, h.diverged_at,
                         len(h.epoch_time) + 1 if h.diverged else None)


def training_frame(lr: float, batch_size, setup: TrainingSetup | None = None) -> TrainingFrame:
    """The run the training explorer shows for ``lr`` and ``batch_size`` (None: full batch)."""
    setup = TrainingSetup() if setup is None else setup
    lr = check_lr(lr)
    batch_size = setup.n_train if batch_size is None else batch_size
    return _training_run(setup, lr, _check_choice(batch_size, setup.batch_sizes, "batch_size"))


def training_caption(lr: float, batch_size: int, setup: TrainingSetup,
                     frame: TrainingFrame) -> str:
    head = f"lr = {_fmt(lr)}, batch size = {_batch_label(batch_size, setup.n_train)}: "
    epochs = len(frame.loss) - 1
    if frame.diverged:
        when = (f"after {epochs} complete epoch{'' if epochs == 1 else 's'}" if epochs
                else "before training")
        return head + (f"diverged at step {frame.diverged_at} (epoch {frame.diverged_epoch}); "
                       f"validation accuracy {frame.val_acc:.0%} {when}")
    return head + (f"final training loss {_fmt(frame.final_loss)}, training accuracy "
                   f"{frame.train_acc:.0%}, validation accuracy {frame.val_acc:.0%} after "
                   f"{epochs} epochs ({frame.times[-1]:.2g} s)")


# ---------------------------------------------------------------------------------------------
# The figures: static parts drawn once, dynamic artists redrawn over the cached background


class _Figure:
    def __init__(self, figsize):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        with style():
            self.fig = Figure(figsize=figsize, dpi=DPI)
        FigureCanvasAgg(self.fig)
        self.dynamic: list = []
        self._background = None

    def dynamic_artist(self, artist):
        """Mark ``artist`` as redrawn per frame: ``canvas.draw`` skips animated artists."""
        artist.set_animated(True)
        self.dynamic.append(artist)
        return artist

    def invalidate(self) -> None:
        self._background = None

    def render(self) -> np.ndarray:
        """The figure as an RGBA array (height, width, 4)."""
        canvas = self.fig.canvas
        if self._background is None:
            with style():  # tick labels are made while drawing: they need the style too
                canvas.draw()
            self._background = canvas.copy_from_bbox(self.fig.bbox)
        else:
            canvas.restore_region(self._background)
        for artist in self.dynamic:
            if artist.get_visible():
                self.fig.draw_artist(artist)
        return np.asarray(canvas.buffer_rgba())

    def png(self, *, background_only: bool = False) -> bytes:
        """The figure (or only its static part) as PNG bytes."""
        if not background_only:
            return _png(self.render())
        self.invalidate()
        visible = [a.get_visible() for a in self.dynamic]
        for a in self.dynamic:
            a.set_visible(False)
        data = _png(self.render())
        for a, v in zip(self.dynamic, visible):
            a.set_visible(v)
        return data

    def layout(self, ax) -> dict:
        """Where ``ax`` sits in the PNG (pixels from the top left) and what it shows."""
        box = ax.get_window_extent()
        height = self.fig.bbox.height
        return {"box": [box.x0, height - box.y1, box.width, box.height],
                "x": [*ax.get_xlim(), ax.get_xscale() == "log"],
                "y": [*ax.get_ylim(), ax.get_yscale() == "log"]}


def _png(rgba: np.ndarray) -> bytes:
    """Encode an RGBA array (height, width, 4) as PNG: rows unfiltered, zlib level 1. Three
    times as fast as PIL's encoder on these figures (the main cost of a slider move)."""
    height, width = rgba.shape[:2]
    rows = np.zeros((height, 1 + 4 * width), dtype=np.uint8)  # a 0 byte per row: no filter
    rows[:, 1:] = rgba.reshape(height, 4 * width)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows.tobytes(), 1)) + chunk(b"IEND", b""))


def _mark_divergence(ax, cross, note, x: float, y: float, step: int | None) -> None:
    """Show (or hide, ``step=None``) the ``x`` and its note "diverged at step k"; the note
    goes left of the mark in the right part of the axes and below it near the top."""
    cross.set(data=([x], [y]), visible=step is not None)
    note.set(text=f"diverged at step {step}", visible=step is not None)
    fx, fy = (ax.transScale + ax.transLimits).transform((x, y))
    note.xy = (x, y)
    note.xyann = (-6 if fx > 0.6 else 6, -16 if fy > 0.85 else 6)
    note.set_horizontalalignment("right" if fx > 0.6 else "left")


def _last_inside(path: np.ndarray, ax) -> np.ndarray:
    """The last point of ``path`` inside the axes' window, else the start (as
    :func:`gdlib.plotting.trajectories` places the divergence mark)."""
    (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
    inside = np.flatnonzero((path[:, 0] >= x0) & (path[:, 0] <= x1)
                            & (path[:, 1] >= y0) & (path[:, 1] <= y1))
    return path[inside[-1]] if inside.size else path[0]


class _LandscapeFigure(_Figure):
    def __init__(self, landscape: Landscape, max_steps: int):
        super().__init__(LANDSCAPE_FIGSIZE)
        self.axis = _loss_axis(landscape)
        with style():
            self.ax_path = self.fig.add_axes((0.085, 0.14, 0.39, 0.76))
            self.ax_loss = self.fig.add_axes((0.585, 0.14, 0.395, 0.76))
            contour(self.ax_path, landscape, num=150)
            self.ax_path.set_title(f"path on {landscape.name}")
            ax = self.ax_loss
            ax.set_yscale(self.axis.scale)
            ax.set_ylim(self.axis.low, self.axis.high)
            ax.set_xlim(0, max_steps)
            ax.set_xlabel("step $t$")
            ax.set_ylabel(self.axis.label)
            ax.set_title("loss against step")
            d = self.dynamic_artist
            self.path = d(self.ax_path.plot([], [], linewidth=1.6, markersize=3, zorder=3)[0])
            self.start = d(self.ax_path.plot([], [], linestyle="none", marker="o", markersize=8,
                                             markerfacecolor="white", zorder=4)[0])
            self.end = d(self.ax_path.plot([], [], linestyle="none", markersize=8, zorder=4)[0])
            self.loss = d(ax.plot([], [], linewidth=2.0, zorder=3)[0])
            self.crosses, self.notes = [], []
            for axes in (self.ax_path, self.ax_loss):
                self.crosses.append(d(axes.plot([], [], linestyle="none", marker=DIVERGED_MARKER,
                                                markersize=11, markeredgewidth=2.5, zorder=5,
                                                clip_on=False)[0]))
                self.notes.append(d(axes.annotate("", (0, 0), xytext=(6, 6), fontsize=9,
                                                  textcoords="offset points", zorder=5)))

    def set_frame(self, frame: LandscapeFrame, rule: str) -> None:
        color, marker = RULE_COLORS[rule], RULE_MARKERS[rule]
        path, n = frame.path, len(frame.path)
        self.path.set(data=(path[:, 0], path[:, 1]), color=color, marker=marker,
                      markevery=max(1, n // 50))
        self.start.set(data=([path[0, 0]], [path[0, 1]]), markeredgecolor=color)
        self.end.set(data=([path[-1, 0]], [path[-1, 1]]), color=color, marker=marker,
                     visible=not frame.diverged)
        self.loss.set(data=(np.arange(n), frame.loss), color=color)
        low, high = self.axis.low, self.axis.high
        marks = (_last_inside(path, self.ax_path), (n - 1, min(max(frame.loss[-1], low), high)))
        for ax, cross, note, at in zip((self.ax_path, self.ax_loss), self.crosses, self.notes,
                                       marks):
            cross.set_color(color)
            note.set_color(color)
            _mark_divergence(ax, cross, note, *at, frame.diverged_at)


_CONTEXT_COLOR = "#bbbbbb"


class _TrainingFigure(_Figure):
    def __init__(self, setup: TrainingSetup):
        from matplotlib.collections import LineCollection
        from matplotlib.lines import Line2D

        super().__init__(TRAINING_FIGSIZE)
        self.setup = setup
        self.color = RULE_COLORS[setup.rule]
        self.time_window = (1e-3, 1.0)
        with style():
            self.ax_epoch = self.fig.add_axes((0.085, 0.15, 0.235, 0.72))
            self.ax_time = self.fig.add_axes((0.39, 0.15, 0.245, 0.72))
            self.ax_map = self.fig.add_axes((0.775, 0.15, 0.215, 0.72))
            for ax, xlabel, title in ((self.ax_epoch, "epoch", "loss against epoch"),
                                      (self.ax_time, "time (s)", "loss against wall time")):
                ax.set_yscale("log")
                ax.set_ylim(*TRAINING_LOSS_LIMITS)
                ax.set_xlabel(xlabel)
                ax.set_title(title)
            self.ax_epoch.set_ylabel("loss")
            self.ax_epoch.set_xlim(0, setup.num_epochs)
            self.ax_epoch.set_xticks(range(setup.num_epochs + 1))
            self.ax_time.set_xscale("log")
            self.ax_time.set_xlim(*self.time_window)
            d, c = self.dynamic_artist, self.color
            self.lines, self.crosses, self.notes, self.context = [], [], [], []
            for ax in (self.ax_epoch, self.ax_time):
                self.context.append(d(ax.add_collection(LineCollection(
                    [], colors=_CONTEXT_COLOR, linewidths=1.0, zorder=2))))
                self.lines.append(d(ax.plot([], [], color=c, marker="o", markersize=4,
                                            label="training")[0]))
                self.lines.append(d(ax.plot([], [], color=c, linestyle="--", linewidth=1.4,
                                            label="validation")[0]))
                self.crosses.append(d(ax.plot([], [], linestyle="none", marker=DIVERGED_MARKER,
                                              markersize=11, markeredgewidth=2.5, color=c,
                                              clip_on=False)[0]))
                self.notes.append(d(ax.annotate("", (0, 0), xytext=(6, 6), fontsize=9, color=c,
                                                textcoords="offset points")))
            self.ax_epoch.legend(handles=[Line2D([], [], color=c, marker="o", markersize=4),
                                          Line2D([], [], color=c, linestyle="--"),
                                          Line2D([], [], color=_CONTEXT_COLOR, linewidth=1.0)],
                                 labels=["training", "validation", "other batch sizes"],
                                 loc="lower left", fontsize=8)
            self.cell = d(self.ax_map.add_patch(_rectangle(0, 0, fill=False, edgecolor="black",
                                                           linewidth=2.5, zorder=6)))
        self.set_map({})

    def set_time_window(self, cells: dict) -> None:
        """Decades around the first-epoch and total times of the runs in ``cells``."""
        ends = [t for f in cells.values() for t in f.times[1:]]
        if not ends:
            return
        window = (10.0 ** np.floor(np.log10(min(ends) / 1.5)),
                  10.0 ** np.ceil(np.log10(max(ends) * 1.5)))
        if window != self.time_window:
            self.time_window = window
            self.ax_time.set_xlim(*window)
            self.invalidate()

    def time_xs(self, frame: TrainingFrame) -> np.ndarray:
        """x of each epoch on the log time axis: epoch 0 (time 0) sits at its left edge."""
        return np.concatenate([[self.time_window[0]], frame.times[1:]])

    def set_map(self, cells: dict) -> None:
        """Draw the final loss of every finished run, ``cells[(i_lr, i_batch)] = frame``."""
        from matplotlib.colors import LogNorm

        s, ax = self.setup, self.ax_map
        for artist in [*ax.images, *ax.texts, *[p for p in ax.patches if p is not self.cell]]:
            artist.remove()
        values = np.full((len(s.lrs), len(s.batch_sizes)), np.nan)
        for (i, j), frame in cells.items():
            values[i, j] = frame.final_loss
        with style():
            ax.imshow(np.ma.masked_invalid(values), origin="lower", cmap="cividis",
                      norm=LogNorm(0.03, 3.0, clip=True), aspect="auto", interpolation="nearest",
                      extent=(-0.5, len(s.batch_sizes) - 0.5, -0.5, len(s.lrs) - 0.5))
            for (i, j), frame in cells.items():
                if frame.diverged:
                    ax.add_patch(_rectangle(j, i, facecolor="#dddddd", edgecolor="#555555",
                                            hatch="xxx", linewidth=0.5, zorder=3))
                else:
                    dark = frame.final_loss < 0.35
                    ax.text(j, i, f"{frame.final_loss:.2g}", ha="center", va="center",
                            fontsize=6.5, color="white" if dark else "black", zorder=4)
            ax.set_xticks(range(len(s.batch_sizes)),
                          [label.split(" ")[0] for label in s.batch_labels], fontsize=8)
            ax.set_yticks(range(len(s.lrs)), [_fmt(lr) for lr in s.lrs], fontsize=8)
            ax.set_xlabel("batch size")
            ax.set_ylabel("lr")
            ax.set_title("final loss (x: diverged)", fontsize=10)
            ax.grid(False)
        self.invalidate()

    def set_frame(self, frame: TrainingFrame, i_lr: int, i_batch: int, others=()) -> None:
        """Draw ``frame`` (cell ``i_lr, i_batch``) and, in grey, the runs ``others``."""
        low, high = TRAINING_LOSS_LIMITS
        for k, xs_of in enumerate((lambda f: np.arange(len(f.loss)), self.time_xs)):
            xs = xs_of(frame)
            self.context[k].set_segments([np.column_stack([xs_of(f), f.loss]) for f in others])
            self.lines[2 * k].set_data(xs, frame.loss)
            self.lines[2 * k + 1].set_data(xs[:len(frame.val_loss)], frame.val_loss)
            _mark_divergence((self.ax_epoch, self.ax_time)[k], self.crosses[k], self.notes[k],
                             xs[-1], min(max(frame.loss[-1], low), high), frame.diverged_at)
        self.cell.set_xy((i_batch - 0.5, i_lr - 0.5))


def _rectangle(j, i, **kwargs):
    from matplotlib.patches import Rectangle

    return Rectangle((j - 0.5, i - 0.5), 1.0, 1.0, **kwargs)


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


def _landscape_defaults(landscape: Landscape, lrs, starts, rule, lr, start):
    """Resolved grids and initial values shared by both landscape twins."""
    lrs = LANDSCAPE_LRS if lrs is None else _check_grid(lrs, "lrs")
    if starts is None:
        (x0, x1), (y0, y1) = landscape.bounds
        starts = _STARTS.get(landscape.name) or tuple(
            (x0 + fx * (x1 - x0), y0 + fy * (y1 - y0)) for fx, fy in _START_FRACTIONS)
    starts = tuple(_check_start(s) for s in starts)
    start = starts[0] if start is None else _check_start(start)
    lr = _nearest(lrs, _DEFAULT_LR.get(landscape.name, 1e-2)) if lr is None else check_lr(lr)
    return lrs, starts, _check_rule(rule), lr, start


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
        exponents = np.log10(lrs)
        self.controls = {
            "rule": w.Dropdown(options=rules, value=rule, description="rule"),
            "lr": w.FloatLogSlider(value=lr, base=10, min=exponents.min(),
                                   max=exponents.max(), step=0.125, description="lr",
                                   readout_format=".3g"),
            "num_steps": w.IntSlider(value=num_steps, min=1, max=max_steps, description="steps"),
            "x": w.FloatSlider(value=start[0], min=x0, max=x1, step=(x1 - x0) / 80,
                               description="start x", readout_format=".3g"),
            "y": w.FloatSlider(value=start[1], min=y0, max=y1, step=(y1 - y0) / 80,
                               description="start y", readout_format=".3g"),
        }
        self.image = w.Image(format="png", layout=w.Layout(max_width="100%", height="auto"))
        self.caption = w.HTML(layout=w.Layout(margin="0 0 0 1em"))
        c = self.controls
        self.widget = w.VBox([w.HBox([w.VBox([c["rule"], c["lr"], c["num_steps"]]),
                                      w.VBox([c["x"], c["y"]])]), self.image, self.caption])
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
        self.widget = w.VBox([w.HBox([*self.controls.values(), self.fill_button]), self.image,
                              self.caption])
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
    (:func:`gdlib.static_widget.static_landscape_explorer`) when the book is built; see
    :func:`widget_mode`. Keyword arguments as for :func:`landscape_explorer`."""
    if widget_mode(mode) == "live":
        return landscape_explorer(landscape, **kwargs)
    from gdlib.static_widget import static_landscape_explorer

    return static_landscape_explorer(landscape, **kwargs)


def explore_training(*, mode: str = "auto", **kwargs):
    """:func:`training_explorer` in a live kernel, its static HTML twin
    (:func:`gdlib.static_widget.static_training_explorer`) when the book is built."""
    if widget_mode(mode) == "live":
        return training_explorer(**kwargs)
    from gdlib.static_widget import static_training_explorer

    return static_training_explorer(**kwargs)
