r"""The explorers' computations, one cached run per setting, shared by the live and static twins.

:func:`landscape_frame` is a run of an update rule on a 2-D landscape, computed once for
``max_steps`` steps by :func:`gdlib.landscapes.trace_many` and cut to the steps slider;
:func:`training_frame` is a small MLP trained on the digits for one learning rate and batch
size (:class:`TrainingSetup` holds the rest). Both runs are cached
(:func:`functools.lru_cache`, keyed by the parameters): the live explorers
(:mod:`gdlib.widgets`) and their static HTML twins (:mod:`gdlib.widgets.static`) call these same
functions, so they compute, and print in their captions (:func:`landscape_caption`,
:func:`training_caption`), the same numbers. Nothing here needs ipywidgets.

Introduced with the explorers in the learning-rate chapter (``ch-learning-rate``).
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from dataclasses import dataclass

import numpy as np

from gdlib import optim
from gdlib._validate import _show, check_array, check_lr, check_positive_int, check_positive_number
from gdlib.landscapes import Landscape, get_landscape, trace_many

__all__ = [
    "RULE_NAMES", "LANDSCAPE_LRS", "TRAINING_LRS", "TRAINING_BATCH_SIZES", "CONVERGENCE_TOL",
    "LandscapeFrame", "TrainingFrame", "TrainingSetup", "landscape_frame", "training_frame",
    "landscape_caption", "training_caption",
]

RULE_NAMES = tuple(optim.RULES)
#: Learning rates of the landscape grid: half decades from 1e-4 to 1.
LANDSCAPE_LRS = tuple(float(v) for v in 10.0 ** np.linspace(-4, 0, 9))
#: Learning rates of the training grid: two-thirds of a decade from 1e-3 to 10.
TRAINING_LRS = tuple(float(v) for v in 10.0 ** np.linspace(-3, 1, 7))
#: Batch sizes of the training grid; None is the full batch.
TRAINING_BATCH_SIZES = (1, 4, 16, 64, 256, None)
CONVERGENCE_TOL = 1e-3
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
    from gdlib.data import load_digits

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
    from gdlib.nn import MLP
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
