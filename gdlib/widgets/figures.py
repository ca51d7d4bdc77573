"""The explorers' figures: a static part drawn once, dynamic artists redrawn over its background.

``_LandscapeFigure`` (the path on the contour, the loss against step) and ``_TrainingFigure``
(the loss against epoch and against wall time, the map of final losses) draw on a matplotlib
``Figure`` with an Agg canvas, never pyplot; ``_Figure.png`` encodes a frame (or the static part
alone) as PNG. The live explorers (:mod:`gdlib.widgets`) show that PNG after every slider move;
the static twins (:mod:`gdlib.widgets.static`) ship the background once and draw the lines in
JavaScript with the same colours and marks.

Introduced with the explorers in the learning-rate chapter (``ch-learning-rate``).
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from gdlib.widgets.runs import LandscapeFrame, TrainingFrame, TrainingSetup, _fmt, _loss_axis
from gdlib.landscapes import Landscape
from gdlib.plotting import DIVERGED_MARKER, RULE_COLORS, RULE_MARKERS, contour, style

__all__ = ["DPI", "LANDSCAPE_FIGSIZE", "TRAINING_FIGSIZE", "TRAINING_LOSS_LIMITS"]

DPI = 100
LANDSCAPE_FIGSIZE = (8.4, 3.6)
TRAINING_FIGSIZE = (8.4, 3.4)
#: Fixed loss window of the training plots, so the axes never jump between slider moves.
TRAINING_LOSS_LIMITS = (1e-2, 1e1)


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
