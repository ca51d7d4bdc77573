"""Plotting helpers with one colour-blind-safe style, shared by every chapter.

Colours come from the Okabe-Ito palette (:data:`gdlib.palette.COLORS`), which stays
distinguishable under the common colour-vision deficiencies; each update rule has a fixed colour
*and* marker (:data:`RULE_COLORS`, :data:`RULE_MARKERS`, read from the rule registry
:data:`gdlib.optim.RULES`), so a figure never relies on colour alone. Every
helper takes an ``Axes`` (or creates one when given None), sets its axis labels and returns it.
Divergence is drawn as an ``x`` with a note, never as NaN.

Introduced in the gradient-descent chapter (``ch-gradient-descent``); used
throughout the book.
"""

from __future__ import annotations

from typing import Iterable

import matplotlib as mpl
import numpy as np
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.colors import LinearSegmentedColormap

from gdlib._validate import _show
from gdlib.optim import RULES
from gdlib.palette import COLORS

#: Order of colours for anything that is not an update rule (yellow last: weak on white).
CYCLE = [COLORS[c] for c in ("blue", "orange", "bluish_green", "vermillion", "reddish_purple",
                             "sky_blue", "black", "yellow")]
#: Each update rule's colour and marker, read from the rule registry :data:`gdlib.optim.RULES`.
RULE_COLORS = {name: rule.color for name, rule in RULES.items()}
RULE_MARKERS = {name: rule.marker for name, rule in RULES.items()}
#: Marker, size and face colour of each kind of critical point on a contour plot.
CRITICAL_POINT_MARKERS = {
    "global minimum": ("*", 15, "black"),
    "local minimum": ("o", 8, "black"),
    "saddle": ("P", 10, "white"),
    "degenerate saddle": ("D", 8, "white"),
    "maximum": ("^", 9, "white"),
}
DIVERGED_MARKER = "x"

STYLE = {
    "axes.prop_cycle": cycler(color=CYCLE),
    "image.cmap": "cividis",
    "figure.figsize": (6.0, 4.0),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 2.0,
    "legend.frameon": False,
}


def use_style() -> None:
    """Apply :data:`STYLE` to every later figure of this session."""
    mpl.rcParams.update(STYLE)


def style():
    """Context manager applying :data:`STYLE` inside a ``with`` block only."""
    return mpl.rc_context(STYLE)


def rule_color(name: str, index: int = 0) -> str:
    """The fixed colour of update rule ``name``, else the ``index``-th colour of :data:`CYCLE`."""
    return RULE_COLORS.get(name, CYCLE[index % len(CYCLE)])


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt
        _, ax = plt.subplots()
    elif not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None, got ax={_show(ax)}")
    return ax


def _finite_prefix(y: np.ndarray) -> int:
    """Length of the leading run of finite entries (rows, for 2-D arrays)."""
    ok = np.isfinite(y) if y.ndim == 1 else np.all(np.isfinite(y), axis=-1)
    bad = np.flatnonzero(~ok)
    return len(y) if bad.size == 0 else int(bad[0])


def _labels(labels, n: int, default) -> list:
    if labels is None:
        return [default(i) for i in range(n)]
    labels = list(labels) if not isinstance(labels, str) else [labels]
    if len(labels) != n:
        raise ValueError(f"labels must have one entry per curve ({n}), got {len(labels)} labels")
    return labels


def _mark_divergence(ax, x, y, color, note: str) -> None:
    ax.plot([x], [y], linestyle="none", marker=DIVERGED_MARKER, markersize=11,
            markeredgewidth=2.5, color=color)
    ax.annotate(note, (x, y), xytext=(6, 6), textcoords="offset points", color=color,
                fontsize=9)


def contour(ax, landscape, *, levels: int = 30, log_scale: bool = True, num: int = 200,
            bounds=None, critical_points: bool = True, colorbar: bool = False):
    r"""Filled contour plot of a landscape with its critical points marked.

    With ``log_scale`` the contours are those of :math:`\log_{10}(f - f_{\min} + \delta)`, with
    :math:`f_{\min}` the smallest value on the grid and :math:`\delta` a millionth of the range,
    so narrow valleys (Rosenbrock) show. A landscape without a global minimum (the saddles,
    unbounded below) is always drawn on a linear scale, where its shape is clearer. Critical
    points use :data:`CRITICAL_POINT_MARKERS` and carry their kind as legend label.
    """
    ax = _axes(ax)
    if not all(hasattr(landscape, a) for a in ("grid", "critical_points", "bounds")):
        raise TypeError(f"landscape must be a gdlib.landscapes.Landscape, got "
                        f"landscape={_show(landscape)}")
    X, Y, Z = landscape.grid(num, bounds)
    with np.errstate(all="ignore"):
        Z = np.where(np.isfinite(Z), Z, np.nan)
        label = "$f$"
        if log_scale and getattr(landscape, "global_minimum", None) is not None:
            low, high = np.nanmin(Z), np.nanmax(Z)
            Z = np.log10(Z - low + max(1e-6 * (high - low), 1e-12))
            label = r"$\log_{10}(f - f_{\min} + \delta)$"
    greys = LinearSegmentedColormap.from_list("light_greys", ["#ffffff", "#a8a8a8"])
    filled = ax.contourf(X, Y, Z, levels=levels, cmap=greys)
    ax.contour(X, Y, Z, levels=levels, colors="#555555", linewidths=0.4, alpha=0.6)
    if colorbar:
        ax.figure.colorbar(filled, ax=ax, label=label)
    if critical_points:
        seen = set()
        for cp in landscape.critical_points:
            marker, size, face = CRITICAL_POINT_MARKERS[cp.kind]
            ax.plot(*cp.point, linestyle="none", marker=marker, markersize=size,
                    markerfacecolor=face, markeredgecolor="black", zorder=5,
                    label=None if cp.kind in seen else cp.kind)
            seen.add(cp.kind)
    (x0, x1), (y0, y1) = landscape.bounds if bounds is None else bounds
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("$x$")
    ax.set_ylabel("$y$")
    return ax


def _as_sequence(items) -> list:
    """One item (a Trace, an array, a History) or a list of them -> a list."""
    if isinstance(items, np.ndarray) or hasattr(items, "path") or hasattr(items, "loss_per_step"):
        return [items]
    items = list(items)
    if items and all(isinstance(v, (int, float, np.number)) for v in items):
        return [np.asarray(items, dtype=float)]
    return items


def _default_label(tr, i: int, repeated: bool) -> str:
    rule = getattr(tr, "rule", "")
    if not rule:
        return f"run {i + 1}"
    lr = getattr(tr, "lr", None)
    return f"{rule}, lr={lr:g}" if repeated and lr is not None and np.isfinite(lr) else rule


def _inside(points: np.ndarray, limits) -> np.ndarray:
    (x0, x1), (y0, y1) = (sorted(limits[0]), sorted(limits[1]))
    return ((points[:, 0] >= x0) & (points[:, 0] <= x1)
            & (points[:, 1] >= y0) & (points[:, 1] <= y1))


def trajectories(ax, traces, labels=None, *, colors=None, legend: bool = True,
                 keep_limits: bool = True):
    """Draw paths in the plane: each :class:`~gdlib.landscapes.Trace` or (k, 2) array.

    The start is a hollow circle, every iterate a small marker in the rule's marker, the end a
    filled one; a diverged run ends in an ``x`` with a note, at its last finite point or, if
    that lies outside the window, at its last point inside it. With ``keep_limits`` an Axes that
    already shows a contour keeps its window, so a run that flew off does not shrink the
    landscape to a dot. Labels default to each trace's rule name (with its lr when a rule
    appears twice); each rule keeps its colour from :data:`RULE_COLORS` when the rules all
    differ, otherwise the runs take the colours of :data:`CYCLE` in turn.
    """
    ax = _axes(ax)
    traces = _as_sequence(traces)
    rules = [getattr(t, "rule", "") for t in traces]
    repeated = len(set(rules)) < len(rules)
    labels = _labels(labels, len(traces), lambda i: _default_label(traces[i], i, repeated))
    limits = (ax.get_xlim(), ax.get_ylim()) if keep_limits and ax.has_data() else None
    for i, (tr, label) in enumerate(zip(traces, labels)):
        path = np.asarray(getattr(tr, "path", tr), dtype=float)
        if path.ndim != 2 or path.shape[1] != 2:
            raise ValueError(f"a trajectory must have shape (k, 2), got traces[{i}] of shape "
                             f"{path.shape}")
        stop = _finite_prefix(path)
        diverged = bool(getattr(tr, "diverged", False)) or stop < len(path)
        path = path[:stop]
        name = rules[i] or str(label)
        if colors is not None:
            color = colors[i]
        elif not repeated and name in RULE_COLORS:
            color = RULE_COLORS[name]
        else:
            color = CYCLE[i % len(CYCLE)]
        marker = RULE_MARKERS.get(name, "o")
        if len(path) == 0:
            continue
        ax.plot(path[:, 0], path[:, 1], color=color, marker=marker, markersize=3,
                markevery=max(1, len(path) // 50), linewidth=1.6, label=label, zorder=3)
        ax.plot(*path[0], linestyle="none", marker="o", markersize=8, markerfacecolor="white",
                markeredgecolor=color, zorder=4)
        if diverged:
            at = getattr(tr, "diverged_at", None)
            last = path[-1]
            if limits is not None:
                inside = np.flatnonzero(_inside(path, limits))
                last = path[inside[-1]] if inside.size else path[0]
            _mark_divergence(ax, *last, color,
                             "diverged" + (f" at step {at}" if at is not None else ""))
        else:
            ax.plot(*path[-1], linestyle="none", marker=marker, markersize=8, color=color,
                    zorder=4)
    if limits is not None:
        ax.set_xlim(*limits[0])
        ax.set_ylim(*limits[1])
    if legend and any(labels):
        ax.legend(loc="best", fontsize=9)
    ax.set_xlabel("$x$")
    ax.set_ylabel("$y$")
    return ax


_X_LABELS = {"step": "step", "epoch": "epoch", "time": "time (s)"}


def _curve(item, x: str, i: int):
    """(xs, ys, diverged, diverged_at) for one History-like object or 1-D array."""
    if hasattr(item, "loss_per_step"):
        if x == "step":
            ys = np.asarray(item.loss_per_step, dtype=float)
            xs = np.arange(len(ys), dtype=float)
        else:  # loss_per_epoch[e] is after e epochs, from e = 0 (before training)
            ys = np.asarray(item.loss_per_epoch, dtype=float)
            xs = np.arange(len(ys), dtype=float)
            if x == "time":
                elapsed = np.cumsum(np.asarray(item.epoch_time, dtype=float))
                xs = np.concatenate([[0.0], elapsed]) if len(elapsed) < len(ys) else elapsed
                xs, ys = xs[: len(ys)], ys[: len(xs)]
        return xs, ys, bool(getattr(item, "diverged", False)), getattr(item, "diverged_at", None)
    if x == "time":
        raise ValueError(f"x='time' needs History objects with epoch_time, got item {i} "
                         f"= {_show(item)}")
    ys = np.asarray(item, dtype=float)
    if ys.ndim != 1:
        raise ValueError(f"a loss curve must be 1-D, got item {i} of shape {ys.shape}")
    return np.arange(len(ys), dtype=float), ys, False, None


def loss_curves(ax, histories_or_arrays, labels=None, *, x: str = "step", log: bool = True,
                colors=None, legend: bool = True):
    """Loss against ``x`` = ``"step"``, ``"epoch"`` or ``"time"`` for each curve.

    Each entry is a 1-D array of losses (entry i at step or epoch i) or a
    ``gdlib.train.History``-like object: ``loss_per_step``, ``loss_per_epoch`` (entry e after e
    epochs, from e = 0), ``epoch_time`` (seconds of each epoch; "time" is their running sum),
    ``diverged`` and ``diverged_at`` (a step index). Only the finite prefix of a curve is drawn;
    a curve that became non-finite or whose history says it diverged ends in an ``x`` with a
    note. ``log`` uses a log y-axis when every plotted loss is positive.
    """
    ax = _axes(ax)
    if x not in _X_LABELS:
        raise ValueError(f"x must be one of {', '.join(map(repr, _X_LABELS))}, got x={x!r}")
    items = _as_sequence(histories_or_arrays)
    labels = _labels(labels, len(items), lambda i: f"run {i + 1}")
    all_positive, plotted = True, False
    for i, (item, label) in enumerate(zip(items, labels)):
        xs, ys, diverged, at = _curve(item, x, i)
        stop = _finite_prefix(ys)
        diverged = diverged or stop < len(ys)
        xs, ys = xs[:stop], ys[:stop]
        color = colors[i] if colors is not None else rule_color(str(label), i)
        if len(ys):
            ax.plot(xs, ys, color=color, label=label)
            all_positive &= bool(np.all(ys > 0))
            plotted = True
        if diverged:
            note = f"{label} diverged" + (f" (step {at})" if at is not None else "")
            if len(ys):
                _mark_divergence(ax, xs[-1], ys[-1], color, note)
            else:
                ax.text(0.02, 0.95 - 0.07 * i, note + " before the first value", color=color,
                        transform=ax.transAxes, fontsize=9, va="top")
    if log and plotted and all_positive:
        ax.set_yscale("log")
    if legend and plotted and any(labels):
        ax.legend(loc="best", fontsize=9)
    ax.set_xlabel(_X_LABELS[x])
    ax.set_ylabel("loss")
    return ax


def comparison_bars(ax, labels: Iterable[str], values, errors=None, *, ylabel: str = "value",
                    xlabel: str = "method", colors=None, log: bool = False):
    """A bar per method, with optional error bars (for example a standard deviation over seeds).

    A non-finite value (a method that diverged) gets no bar but the word "diverged" at the
    baseline. Bars of update rules take the rule's colour.
    """
    ax = _axes(ax)
    labels = [str(label) for label in labels]
    values = np.asarray(values, dtype=float)
    if values.shape != (len(labels),):
        raise ValueError(f"values must have one entry per label ({len(labels)}), got values of "
                         f"shape {values.shape}")
    if errors is not None:
        errors = np.asarray(errors, dtype=float)
        if errors.shape != values.shape:
            raise ValueError(f"errors must have the shape of values {values.shape}, got errors "
                             f"of shape {errors.shape}")
    finite = np.isfinite(values)
    pos = np.arange(len(labels))
    if colors is None:
        colors = [rule_color(label, i) for i, label in enumerate(labels)]
    err = None if errors is None else np.where(finite & np.isfinite(errors), errors, 0.0)
    ax.bar(pos[finite], values[finite], yerr=None if err is None else err[finite],
           color=[colors[i] for i in pos[finite]], capsize=4, edgecolor="black", linewidth=0.6)
    for i in pos[~finite]:
        ax.text(i, 0.02, "diverged", rotation=90, ha="center", va="bottom", fontsize=9,
                transform=ax.get_xaxis_transform())
    ax.set_xticks(pos, labels)
    if log and np.all(values[finite] > 0):
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax
