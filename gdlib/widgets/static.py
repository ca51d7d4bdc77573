"""Static HTML twins of the explorers in :mod:`gdlib.widgets`, for the built book.

No kernel runs behind a page of the book and it makes no request to any host, so the twin
precomputes a grid of runs with the *same* functions the live explorers call
(:func:`gdlib.widgets.landscape_frame` and :func:`gdlib.widgets.training_frame`, through their
caches), draws the *same* figure without its lines once (one PNG), and ships the lines as
numbers: float32 arrays in base64 for the landscape paths, short lists for the training curves.
A few lines of inline JavaScript draw the selected run on a ``<canvas>`` over the PNG, with the
live figure's colours, markers and divergence marks, and write the same caption. The controls
are ``<input type="range">`` and ``<select>`` elements with labels; the canvas is a
``role="img"`` whose ``aria-label`` follows the caption. No CDN, no require.js, no widget state:
each instance is one ``<div>`` with its own id and one inline ``<script>``.

Introduced with the explorers in the learning-rate chapter (``ch-learning-rate``).
"""

from __future__ import annotations

import base64
import hashlib
import html
import itertools
import json

import numpy as np

from gdlib.widgets.figures import _CONTEXT_COLOR, DPI, _LandscapeFigure, _TrainingFigure
from gdlib.widgets.runs import (
    RULE_NAMES, TRAINING_BATCH_SIZES, TRAINING_LRS, TrainingSetup, _check_choice, _check_rule,
    _check_steps, _fmt, _landscape_defaults, _landscape_runs, _nearest, _resolve_landscape,
    _start_label, landscape_caption, training_caption, training_frame,
)
from gdlib.plotting import RULE_COLORS, RULE_MARKERS

__all__ = ["StaticWidget", "static_landscape_explorer", "static_training_explorer"]

_counter = itertools.count()


class StaticWidget:
    """A self-contained HTML control: ``html`` (one ``<div>``), shown by Jupyter and myst-nb
    through ``_repr_html_``; :meth:`page` wraps it in a complete HTML document."""

    def __init__(self, html_text: str, title: str, num_frames: int, data: dict):
        self.html = html_text
        self.title = title
        self.num_frames = num_frames
        self.data = data

    def _repr_html_(self) -> str:
        return self.html

    def page(self) -> str:
        """A complete HTML page holding only this control (for a test or a quick look)."""
        return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
                f"<title>{html.escape(self.title)}</title></head><body>\n{self.html}\n"
                f"</body></html>\n")

    def __repr__(self) -> str:
        return (f"<StaticWidget {self.title!r}: {self.num_frames} frames, "
                f"{len(self.html) / 1024:.0f} KiB of HTML>")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _float32_b64(arrays) -> str:
    """Concatenate arrays as little-endian float32, in base64 (JavaScript's Float32Array)."""
    flat = np.concatenate([np.asarray(a, dtype="<f4").ravel() for a in arrays])
    return _b64(flat.tobytes())


def _uid(payload: str) -> str:
    """An id that is unique in the page and stable for the same content."""
    digest = hashlib.sha1(payload.encode()).hexdigest()[:10]
    return f"gdw-{digest}-{next(_counter)}"


def _range(uid: str, name: str, label: str, low: int, high: int, value: int, readout: str):
    return (f'<span style="white-space:nowrap"><label for="{uid}-{name}">{label}</label> '
            f'<input type="range" id="{uid}-{name}" data-control="{name}" min="{low}" '
            f'max="{high}" step="1" value="{value}" aria-valuetext="{html.escape(readout)}" '
            f'style="vertical-align:middle"> <output for="{uid}-{name}" data-readout="{name}">'
            f"{html.escape(readout)}</output></span>")


def _select(uid: str, name: str, label: str, options, value: int) -> str:
    items = "".join(f'<option value="{i}"{" selected" if i == value else ""}>'
                    f"{html.escape(o)}</option>" for i, o in enumerate(options))
    return (f'<span style="white-space:nowrap"><label for="{uid}-{name}">{label}</label> '
            f'<select id="{uid}-{name}" data-control="{name}">{items}</select></span>')


def _widget(uid: str, title: str, controls: list, figure, alt: str, caption: str, data: dict,
            script: str) -> str:
    width, height = (int(round(v)) for v in figure.fig.bbox.size)
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return (
        f'<div id="{uid}" class="gdlib-explorer" role="group" aria-label="{html.escape(title)}" '
        f'style="max-width:{width}px;font-family:sans-serif;font-size:14px;margin:0.5em 0">\n'
        f'<div style="display:flex;flex-wrap:wrap;gap:0.3em 1.5em;align-items:center;'
        f'margin-bottom:0.3em">{"".join(controls)}</div>\n'
        f'<figure style="margin:0"><canvas width="{width}" height="{height}" role="img" '
        f'aria-label="{html.escape(alt + caption)}" style="width:100%;height:auto;display:block">'
        f"</canvas>\n"
        f'<figcaption aria-live="polite" style="margin-top:0.3em">{html.escape(caption)}'
        f"</figcaption></figure>\n"
        f"<script>(function () {{\nvar D = {payload};\nvar root = document.getElementById("
        f'"{uid}");\n{_RUNTIME_JS}\n{script}\n}})();</script>\n</div>'
    )


def static_landscape_explorer(landscape="rosenbrock", *, rule: str = "sgd", lr=None, start=None,
                              num_steps: int = 100, max_steps: int = 200, lrs=None, starts=None,
                              rules=RULE_NAMES) -> StaticWidget:
    """The static twin of :func:`gdlib.widgets.landscape_explorer`.

    Precomputes ``len(rules) x len(lrs) x len(starts)`` runs of ``max_steps`` steps (by default
    every rule of the registry x 9 x 3, 189 runs for 7 rules, about 0.8 MB of HTML); the steps
    slider cuts them in the browser. ``lr``
    snaps to the nearest value of ``lrs``; a ``start`` not in ``starts`` is added to them.
    """
    landscape = _resolve_landscape(landscape)
    num_steps, max_steps = _check_steps(num_steps, max_steps)
    lrs, starts, rule, lr, start = _landscape_defaults(landscape, lrs, starts, rule, lr, start)
    rules = tuple(_check_rule(r) for r in rules)
    _check_choice(rule, rules, "rule")
    starts = starts if start in starts else (start, *starts)
    lr = _nearest(lrs, lr)
    frames = [f for r in rules for v in lrs
              for f in _landscape_runs(landscape, r, v, starts, max_steps)]
    figure = _LandscapeFigure(landscape, max_steps)
    lengths = [len(f.path) for f in frames]
    data = {
        "background": "data:image/png;base64," + _b64(figure.png(background_only=True)),
        "scale": DPI / 72, "maxSteps": max_steps, "landscape": landscape.name,
        "axes": [figure.layout(figure.ax_path), figure.layout(figure.ax_loss)],
        "rules": list(rules), "colors": [RULE_COLORS[r] for r in rules],
        "markers": [RULE_MARKERS[r] for r in rules],
        "lrs": [_fmt(v) for v in lrs], "starts": [_start_label(s) for s in starts],
        "lossName": frames[0].loss_name,
        "offsets": np.concatenate([[0], np.cumsum(lengths)[:-1]]).tolist(), "lengths": lengths,
        "divergedAt": [-1 if f.diverged_at is None else f.diverged_at for f in frames],
        "convergedAt": [-1 if f.converged_at is None else f.converged_at for f in frames],
        "xy": _float32_b64(f.path for f in frames),
        "loss": _float32_b64(f.loss for f in frames),
    }
    i_rule, i_lr, i_start = rules.index(rule), lrs.index(lr), starts.index(start)
    uid = _uid(data["xy"] + data["loss"])
    first = frames[(i_rule * len(lrs) + i_lr) * len(starts) + i_start].upto(num_steps)
    controls = [
        _select(uid, "rule", "rule", rules, i_rule),
        _range(uid, "lr", "learning rate", 0, len(lrs) - 1, i_lr, data["lrs"][i_lr]),
        _select(uid, "start", "start", data["starts"], i_start),
        _range(uid, "steps", "steps", 1, max_steps, num_steps, str(num_steps)),
    ]
    alt = (f"Left: the path of the update rule on the contour plot of {landscape.name}; "
           f"right: its loss against the step. ")
    data["alt"] = alt
    text = _widget(uid, f"Learning-rate explorer on {landscape.name}", controls, figure, alt,
                   landscape_caption(rule, lr, start, first), data, _LANDSCAPE_JS)
    return StaticWidget(text, f"landscape explorer ({landscape.name})", len(frames), data)


def static_training_explorer(*, lr: float = 0.1, batch_size: int | None = 16, rule: str = "sgd",
                             lrs=TRAINING_LRS, batch_sizes=TRAINING_BATCH_SIZES,
                             num_epochs: int = 3, n_train: int = 300, hidden: int = 32,
                             seed: int = 0, divergence_factor: float = 10.0) -> StaticWidget:
    """The static twin of :func:`gdlib.widgets.training_explorer`: trains every cell of the
    ``lrs`` x ``batch_sizes`` grid (7 x 6 = 42 small runs by default, a few seconds)."""
    setup = TrainingSetup(rule=rule, num_epochs=num_epochs, n_train=n_train, hidden=hidden,
                          seed=seed, divergence_factor=divergence_factor, lrs=tuple(lrs),
                          batch_sizes=tuple(batch_sizes))
    lr = _nearest(setup.lrs, lr)
    batch_size = _check_choice(setup.n_train if batch_size is None else batch_size,
                               setup.batch_sizes, "batch_size")
    cells = {(i, j): training_frame(v, b, setup) for i, v in enumerate(setup.lrs)
             for j, b in enumerate(setup.batch_sizes)}
    figure = _TrainingFigure(setup)
    figure.set_map(cells)
    figure.set_time_window(cells)
    frames = [{"loss": [float(f"{v:.5g}") for v in f.loss],
               "val": [float(f"{v:.5g}") for v in f.val_loss],
               "times": [float(f"{v:.4g}") for v in f.times],
               "divergedAt": -1 if f.diverged_at is None else f.diverged_at,
               "caption": training_caption(setup.lrs[i], setup.batch_sizes[j], setup, f)}
              for (i, j), f in cells.items()]
    data = {
        "background": "data:image/png;base64," + _b64(figure.png(background_only=True)),
        "scale": DPI / 72, "color": RULE_COLORS[setup.rule], "timeLow": figure.time_window[0],
        "contextColor": _CONTEXT_COLOR,
        "axes": [figure.layout(figure.ax_epoch), figure.layout(figure.ax_time),
                 figure.layout(figure.ax_map)],
        "lrs": [_fmt(v) for v in setup.lrs], "batchSizes": list(setup.batch_labels),
        "frames": frames,
    }
    i_lr, j_batch = setup.lrs.index(lr), setup.batch_sizes.index(batch_size)
    uid = _uid(json.dumps(frames))
    controls = [
        _range(uid, "lr", "learning rate", 0, len(setup.lrs) - 1, i_lr, data["lrs"][i_lr]),
        _range(uid, "batch", "batch size", 0, len(setup.batch_sizes) - 1, j_batch,
               data["batchSizes"][j_batch]),
    ]
    alt = (f"Left: the training loss (solid) and validation loss (dashed) of a small network on "
           f"the digits against epoch; middle: the same against wall time; right: the final loss "
           f"for every learning rate and batch size, diverged runs hatched, the current one "
           f"outlined. ")
    data["alt"] = alt
    caption = frames[i_lr * len(setup.batch_sizes) + j_batch]["caption"]
    text = _widget(uid, f"Learning-rate and batch-size explorer ({setup.rule})", controls,
                   figure, alt, caption, data, _TRAINING_JS)
    return StaticWidget(text, f"training explorer ({setup.rule})", len(frames), data)


# ---------------------------------------------------------------------------------------------
# The JavaScript: plain ES5, no library, run once per instance inside its own closure.

_RUNTIME_JS = r"""
var canvas = root.querySelector("canvas"), ctx = canvas.getContext("2d");
var caption = root.querySelector("figcaption"), S = D.scale;
function control(name) { return root.querySelector('[data-control="' + name + '"]'); }
function readout(name, text) {
  root.querySelector('[data-readout="' + name + '"]').textContent = text;
  control(name).setAttribute("aria-valuetext", text);
}
function decode(b64) {
  var s = atob(b64), n = s.length, u = new Uint8Array(n);
  for (var i = 0; i < n; i++) u[i] = s.charCodeAt(i);
  return new Float32Array(u.buffer);
}
function Axes(a) {
  function t(v, log) { return log ? Math.log(v) / Math.LN10 : v; }
  function lim(p) { return Math.max(-1e5, Math.min(1e5, p)); }
  var b = a.box;
  return {
    px: function (x) { var l = t(a.x[0], a.x[2]), h = t(a.x[1], a.x[2]);
      return lim(b[0] + (t(x, a.x[2]) - l) / (h - l) * b[2]); },
    py: function (y) { var l = t(a.y[0], a.y[2]), h = t(a.y[1], a.y[2]);
      return lim(b[1] + b[3] - (t(y, a.y[2]) - l) / (h - l) * b[3]); },
    clip: function () { ctx.beginPath(); ctx.rect(b[0], b[1], b[2], b[3]); ctx.clip(); },
    inside: function (x, y) {
      return x >= Math.min(a.x[0], a.x[1]) && x <= Math.max(a.x[0], a.x[1]) &&
             y >= Math.min(a.y[0], a.y[1]) && y <= Math.max(a.y[0], a.y[1]); },
    frac: function (x, y) {
      return [(this.px(x) - b[0]) / b[2], 1 - (this.py(y) - b[1]) / b[3]]; },
    ylim: a.y
  };
}
function marker(shape, x, y, size, face, edge, width) {
  var r = size * S / 2;
  ctx.beginPath();
  if (shape === "o") { ctx.arc(x, y, r, 0, 2 * Math.PI); }
  else if (shape === "s") { ctx.rect(x - r, y - r, 2 * r, 2 * r); }
  else if (shape === "^" || shape === "v") {
    var d = shape === "^" ? 1 : -1;
    ctx.moveTo(x, y - d * r); ctx.lineTo(x - r, y + d * r); ctx.lineTo(x + r, y + d * r);
    ctx.closePath();
  } else if (shape === "D") {
    var q = r * Math.SQRT2;
    ctx.moveTo(x, y - q); ctx.lineTo(x + q, y); ctx.lineTo(x, y + q); ctx.lineTo(x - q, y);
    ctx.closePath();
  } else if (shape === "P") {
    var a = r / 3, pts = [[-a, -r], [a, -r], [a, -a], [r, -a], [r, a], [a, a], [a, r], [-a, r],
                          [-a, a], [-r, a], [-r, -a], [-a, -a]];
    ctx.moveTo(x + pts[0][0], y + pts[0][1]);
    for (var i = 1; i < pts.length; i++) ctx.lineTo(x + pts[i][0], y + pts[i][1]);
    ctx.closePath();
  } else if (shape === "x") {
    ctx.moveTo(x - r, y - r); ctx.lineTo(x + r, y + r); ctx.moveTo(x - r, y + r);
    ctx.lineTo(x + r, y - r);
    ctx.strokeStyle = edge; ctx.lineWidth = width * S; ctx.stroke(); return;
  }
  if (face) { ctx.fillStyle = face; ctx.fill(); }
  ctx.strokeStyle = edge; ctx.lineWidth = width * S; ctx.stroke();
}
function line(ax, xs, ys, n, color, width, dash, shape, size, every) {
  ctx.save(); ax.clip();
  ctx.beginPath();
  for (var i = 0; i < n; i++) {
    var x = ax.px(xs(i)), y = ax.py(ys(i));
    if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
  }
  ctx.strokeStyle = color; ctx.lineWidth = width * S; ctx.lineJoin = "round";
  ctx.lineCap = dash ? "butt" : "square";
  ctx.setLineDash(dash ? [3.7 * width * S, 1.6 * width * S] : []);
  ctx.stroke(); ctx.setLineDash([]);
  if (shape) for (var k = 0; k < n; k += every) marker(shape, ax.px(xs(k)), ax.py(ys(k)), size,
                                                        color, color, 1);
  ctx.restore();
}
function diverged(ax, x, y, color, text) {
  var px = ax.px(x), py = ax.py(y), f = ax.frac(x, y), right = f[0] > 0.6;
  marker("x", px, py, 11, null, color, 2.5);
  ctx.font = (9 * S) + "px 'DejaVu Sans', Verdana, sans-serif";
  ctx.fillStyle = color; ctx.textBaseline = "alphabetic";
  ctx.textAlign = right ? "right" : "left";
  ctx.fillText(text, px + (right ? -6 : 6) * S, py - (f[1] > 0.85 ? -16 : 6) * S);
  ctx.textAlign = "left";
}
function fmt3g(v) {
  // Python's format(v, ".3g"): 3 significant digits, exponent form below 1e-4 or from 1e3.
  if (v === 0) return "0";
  var sign = v < 0 ? "-" : "", e = Math.abs(v).toExponential(2).split("e");
  var x = +e[1], digits = e[0];
  if (x < -4 || x >= 3) {
    var m = digits.indexOf(".") >= 0 ? digits.replace(/0+$/, "").replace(/\.$/, "") : digits;
    return sign + m + "e" + (x < 0 ? "-" : "+") + (Math.abs(x) < 10 ? "0" : "") + Math.abs(x);
  }
  var s = (+(digits + "e" + x)).toFixed(Math.max(0, 2 - x));
  if (s.indexOf(".") >= 0) s = s.replace(/0+$/, "").replace(/\.$/, "");
  return sign + s;
}
function clampY(ax, y) {
  return Math.min(Math.max(y, Math.min(ax.ylim[0], ax.ylim[1])), Math.max(ax.ylim[0], ax.ylim[1]));
}
var background = new Image(), ready = false;
function redraw() {
  if (!ready) return;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(background, 0, 0);
  var text = draw();
  caption.textContent = text;
  canvas.setAttribute("aria-label", D.alt + text);
}
root.querySelectorAll("[data-control]").forEach(function (el) {
  el.addEventListener("input", redraw); el.addEventListener("change", redraw);
});
background.onload = function () { ready = true; redraw(); };
"""

_LANDSCAPE_JS = r"""
var xy = decode(D.xy), loss = decode(D.loss);
var axPath = Axes(D.axes[0]), axLoss = Axes(D.axes[1]);
function draw() {
  var r = +control("rule").value, l = +control("lr").value, s = +control("start").value;
  var steps = +control("steps").value;
  readout("lr", D.lrs[l]); readout("steps", String(steps));
  var f = (r * D.lrs.length + l) * D.starts.length + s;
  var off = D.offsets[f], n = Math.min(D.lengths[f], steps + 1);
  var div = D.divergedAt[f] >= 0 && D.divergedAt[f] <= steps ? D.divergedAt[f] : -1;
  var conv = D.convergedAt[f] >= 0 && D.convergedAt[f] <= steps ? D.convergedAt[f] : -1;
  var color = D.colors[r], shape = D.markers[r];
  function px(i) { return xy[2 * (off + i)]; }
  function py(i) { return xy[2 * (off + i) + 1]; }
  line(axPath, px, py, n, color, 1.6, false, shape, 3, Math.max(1, Math.floor(n / 50)));
  ctx.save(); axPath.clip();
  marker("o", axPath.px(px(0)), axPath.py(py(0)), 8, "white", color, 1);
  if (div < 0) marker(shape, axPath.px(px(n - 1)), axPath.py(py(n - 1)), 8, color, color, 1);
  ctx.restore();
  line(axLoss, function (i) { return i; }, function (i) { return loss[off + i]; }, n, color, 2);
  var head = "lr = " + D.lrs[l] + ", rule = " + D.rules[r] + ", start " + D.starts[s] + ": ";
  if (div >= 0) {
    var k = n - 1;
    while (k > 0 && !axPath.inside(px(k), py(k))) k--;
    if (!axPath.inside(px(k), py(k))) k = 0;
    var note = "diverged at step " + div;
    diverged(axPath, px(k), py(k), color, note);
    diverged(axLoss, n - 1, clampY(axLoss, loss[off + n - 1]), color, note);
    return head + note;
  }
  if (conv >= 0) return head + "converged in " + conv + " step" + (conv === 1 ? "" : "s");
  return head + "not converged after " + steps + " step" + (steps === 1 ? "" : "s") +
         " (" + D.lossName + " = " + fmt3g(loss[off + n - 1]) + ")";
}
background.src = D.background;
"""

_TRAINING_JS = r"""
var axes = [Axes(D.axes[0]), Axes(D.axes[1])], axMap = Axes(D.axes[2]);
function draw() {
  var l = +control("lr").value, b = +control("batch").value;
  readout("lr", D.lrs[l]); readout("batch", D.batchSizes[b]);
  var nb = D.batchSizes.length, f = D.frames[l * nb + b], n = f.loss.length;
  function xsOf(k, g) {
    return k === 0 ? function (i) { return i; }
                   : function (i) { return i === 0 ? D.timeLow : g.times[i]; };
  }
  for (var k = 0; k < 2; k++) {
    for (var o = 0; o < nb; o++) {
      var g = D.frames[l * nb + o];
      if (o !== b) line(axes[k], xsOf(k, g), (function (g) {
        return function (i) { return g.loss[i]; }; })(g), g.loss.length, D.contextColor, 1.0);
    }
    var xs = xsOf(k, f);
    line(axes[k], xs, function (i) { return f.loss[i]; }, n, D.color, 2, false, "o", 4, 1);
    line(axes[k], xs, function (i) { return f.val[i]; }, f.val.length, D.color, 1.4, true);
    if (f.divergedAt >= 0)
      diverged(axes[k], xs(n - 1), clampY(axes[k], f.loss[n - 1]), D.color,
               "diverged at step " + f.divergedAt);
  }
  var x0 = axMap.px(b - 0.5), x1 = axMap.px(b + 0.5);
  var y0 = axMap.py(l + 0.5), y1 = axMap.py(l - 0.5);
  ctx.strokeStyle = "black"; ctx.lineWidth = 2.5 * S;
  ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
  return f.caption;
}
background.src = D.background;
"""
