r"""The experiments lab's clocks: CPU-timed training and the article's two timing tables.

Timing runners record two clocks per epoch, both for the training steps only: the wall-clock
:attr:`gdlib.train.History.epoch_time` of :func:`~gdlib.train.fit`, and the CPU time of the
calling thread (``time.thread_time``, :func:`fit_cpu_timed`), which other processes on a busy
machine cannot inflate. :func:`batch_size_time` (table 5) and :func:`depth_time` (table 8)
interleave their runs epoch by epoch. Compare their ratios and slopes, never their seconds,
across machines.

Introduced in the lab chapter (``ch-lab``).
"""

from __future__ import annotations

import math
import time

import numpy as np

from gdlib._validate import check_positive_int
from gdlib.data import load_digits, price_series
from gdlib.experiments.results import SEEDS, LabResult, _check_rows, _check_seeds, _stack
from gdlib.nn import ResidualMLP, num_blocks_for_depth, RNNRegressor
from gdlib.train import evaluate, fit

__all__ = ["fit_cpu_timed", "batch_size_time", "depth_time"]


class _EvaluationTimer:
    """A model seen through ``fit``: the same parameters, with its per-epoch evaluation timed.

    ``fit`` calls ``evaluate`` after every epoch; the thread CPU seconds spent there are summed
    in ``seconds`` so that they can be taken out of the CPU time measured between epochs.
    """

    def __init__(self, model):
        self.model, self.params, self.seconds = model, model.params, 0.0

    def loss_and_grads(self, X, y, *, rng=None, train=True):
        return self.model.loss_and_grads(X, y, rng=rng, train=train)

    def predict(self, X):
        return self.model.predict(X)

    def evaluate(self, X, y):
        start = time.thread_time()
        try:
            return evaluate(self.model, X, y)
        finally:
            self.seconds += time.thread_time() - start


def fit_cpu_timed(model, X, y, *, callback=None, **kwargs):
    r""":func:`gdlib.train.fit`, also measuring the CPU time of each epoch's training steps.

    The thread CPU time (``time.thread_time``) between the end of one epoch and the end of
    the next, minus the CPU time of the evaluation ``fit`` runs after each epoch. Unlike the
    wall-clock ``History.epoch_time``, it does not grow when other processes compete for
    the cores (with single-threaded BLAS all the work runs in the calling thread).

    Returns
    -------
    history : History
    epoch_cpu : list of float
        CPU seconds of each epoch's training steps, one per entry of ``history.epoch_time``.
    """
    timed = _EvaluationTimer(model)
    epoch_cpu, last = [], {}

    def on_epoch(epoch, history):
        now, evaluation = time.thread_time(), timed.seconds
        if epoch > 0:
            epoch_cpu.append(now - last["now"] - (evaluation - last["evaluation"]))
        last.update(now=now, evaluation=evaluation)
        return callback(epoch, history) if callback is not None else None

    history = fit(timed, X, y, callback=on_epoch, **kwargs)
    return history, epoch_cpu[:history.num_epochs]


def _timed_epochs_interleaved(runs: dict, X, y, num_epochs: int, **fit_kwargs):
    """Train every ``runs[key] = (model, rng, kwargs)`` for ``num_epochs``, one epoch at a time
    in turn, with ``fit(..., **fit_kwargs, **kwargs)``.

    Every run trains its first epoch, then every run its second, and so on, so that a change in
    the machine's load during the measurement spreads over all runs instead of falling on the
    last ones. For a stateless rule (plain SGD) this trains exactly as one call of ``fit`` per
    run: the batches come from the same ``rng`` in the same order. Returns three dicts keyed
    like ``runs``: the wall-clock and the CPU seconds of each epoch's training steps (NaN after
    a divergence), and the training loss after epochs 0..num_epochs.
    """
    wall = {key: np.full(num_epochs, np.nan) for key in runs}
    cpu = {key: np.full(num_epochs, np.nan) for key in runs}
    loss = {key: np.full(num_epochs + 1, np.nan) for key in runs}
    alive = set(runs)
    for epoch in range(num_epochs):
        for key, (model, rng, kwargs) in runs.items():
            if key not in alive:
                continue
            h, seconds = fit_cpu_timed(model, X, y, num_epochs=1, rng=rng, record_grad_norms=False,
                                       **fit_kwargs, **kwargs)
            if epoch == 0:
                loss[key][0] = h.loss_per_epoch[0]
            if h.diverged:
                alive.discard(key)
                continue
            wall[key][epoch], cpu[key][epoch] = h.epoch_time[0], seconds[0]
            loss[key][epoch + 1] = h.loss_per_epoch[-1]
    return wall, cpu, loss


# ---------------------------------------------------------------------------------------------
# Table 5: batch size vs training time


def batch_size_time(batch_sizes=(32, 64, 128, 256), *, seeds=SEEDS, num_epochs: int = 6,
                    hidden: int = 16, lr: float = 0.1, n_steps: int = 2000) -> LabResult:
    r"""Time per epoch of an RNN regressor on a synthetic price series, for each batch size.

    Plain mini-batch SGD; the runs are interleaved epoch by epoch
    (see :func:`_timed_epochs_interleaved`).

    One epoch of ``n`` windows takes :math:`\lceil n/b \rceil` steps; its time is modelled as
    :math:`t_{epoch} = c_{step} \lceil n/b \rceil + c_{ex}\, n` (a fixed cost per step plus a
    cost per example), which :func:`fit_line` of epoch time on steps per epoch estimates.

    Returns
    -------
    LabResult
        Metrics: ``epoch_time`` and ``epoch_cpu`` (batch sizes, seeds, num_epochs): wall-clock
        and CPU seconds of each epoch's training steps (:func:`fit_cpu_timed`); ``train_loss``
        (batch sizes, seeds, num_epochs + 1) the training MSE after each epoch;
        ``steps_per_epoch`` (batch sizes, seeds).
    """
    batch_sizes = _check_rows(batch_sizes, "batch_sizes", lambda b: check_positive_int(b, "batch_size"))
    seeds = _check_seeds(seeds)
    num_epochs = check_positive_int(num_epochs, "num_epochs")
    data = price_series(n_steps, 0)
    n = len(data.y_train)
    steps = np.array([[math.ceil(n / b)] * len(seeds) for b in batch_sizes], dtype=float)
    runs = {}
    for j, seed in enumerate(seeds):
        for i, b in enumerate(batch_sizes):
            rng = np.random.default_rng(seed)
            runs[i, j] = (RNNRegressor(1, hidden, rng=rng), rng, {"batch_size": b})
    wall, cpu, loss = _timed_epochs_interleaved(runs, data.X_train, data.y_train, num_epochs, lr=lr)
    times, cpu_times, losses = (_stack(d, len(batch_sizes), len(seeds)) for d in (wall, cpu, loss))
    return LabResult("batch_size_time", batch_sizes, seeds,
                     {"epoch_time": times, "epoch_cpu": cpu_times, "train_loss": losses,
                      "steps_per_epoch": steps},
                     timing=("epoch_time", "epoch_cpu"),
                     config={"n_train": n, "window": data.meta["window"], "hidden": hidden,
                             "lr": lr, "rule": "sgd", "num_epochs": num_epochs})


# ---------------------------------------------------------------------------------------------
# Table 8: depth vs training time


def depth_time(depths=(20, 32, 44, 56), *, seeds=SEEDS, num_epochs: int = 4, width: int = 32,
               batch_size: int = 64, lr: float = 0.01) -> LabResult:
    r"""Time per epoch of a fully connected residual network of each depth on the digits.

    Plain mini-batch SGD; the runs are interleaved epoch by epoch
    (see :func:`_timed_epochs_interleaved`).

    Depth counts weight layers, :math:`2B + 2` for :math:`B` residual blocks
    (:func:`gdlib.nn.num_blocks_for_depth`); every block costs the same, so the time of
    an epoch should be :math:`t(\text{depth}) = a + c \cdot \text{depth}` (:func:`fit_line`).

    Returns
    -------
    LabResult
        Metrics: ``epoch_time`` and ``epoch_cpu`` (depths, seeds, num_epochs): wall-clock and
        CPU seconds of each epoch's training steps (:func:`fit_cpu_timed`); ``train_loss``
        (depths, seeds) after the last epoch.
    """
    depths = _check_rows(depths, "depths", num_blocks_for_depth)
    depths = tuple(2 * b + 2 for b in depths)
    seeds = _check_seeds(seeds)
    num_epochs = check_positive_int(num_epochs, "num_epochs")
    data = load_digits(seed=0)
    runs = {}
    for j, seed in enumerate(seeds):
        for i, depth in enumerate(depths):
            rng = np.random.default_rng(seed)
            model = ResidualMLP(data.X_train.shape[1], width, num_blocks_for_depth(depth), 10, rng=rng)
            runs[i, j] = (model, rng, {})
    wall, cpu, losses = _timed_epochs_interleaved(runs, data.X_train, data.y_train, num_epochs,
                                                  lr=lr, batch_size=batch_size)
    times, cpu_times = _stack(wall, len(depths), len(seeds)), _stack(cpu, len(depths), len(seeds))
    loss = _stack(losses, len(depths), len(seeds))[:, :, -1]
    return LabResult("depth_time", depths, seeds,
                     {"epoch_time": times, "epoch_cpu": cpu_times, "train_loss": loss},
                     timing=("epoch_time", "epoch_cpu"),
                     config={"width": width, "batch_size": batch_size, "lr": lr, "rule": "sgd",
                             "num_epochs": num_epochs, "n_train": len(data.y_train)})
