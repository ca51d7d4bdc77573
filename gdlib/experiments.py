r"""Runners for the experiments lab: the source article's eight result tables, re-measured.

Each runner trains small gdlib models on an offline stand-in for the article's data, for every
setting of one table row and every seed, and returns a :class:`LabResult` whose metrics are
arrays shaped ``(rows, seeds, ...)``; the chapter prints their mean and standard deviation
beside the article's claim (:data:`CLAIMS`). The helpers at the end compare a claimed ordering
with a measured one, taking the spread over seeds into account (:func:`compare_orderings`), and
fit the straight lines that timing claims reduce to (:func:`fit_line`).

Every run draws its initial weights, batch order and dropout masks from one
``numpy.random.default_rng(seed)``, so all metrics except times are reproducible. Timing
runners record two clocks per epoch, both for the training steps only: the wall-clock
:attr:`gdlib.train.History.epoch_time` of :func:`~gdlib.train.fit`, and the CPU time of the
calling thread (``time.thread_time``), which other processes on a busy machine cannot
inflate. Compare their ratios and slopes, never their seconds, across machines.

Introduced in the chapter *Experiments lab* (``chapters/11-lab``).
"""

from __future__ import annotations

import math
import numbers
import time
import warnings
from dataclasses import dataclass, field
from typing import Mapping, NamedTuple, Sequence

import numpy as np

from gdlib._validate import (
    _show, check_fraction, check_lr, check_non_negative_int, check_positive_int,
    check_positive_number,
)
from gdlib.conv import CNN
from gdlib.datasets import (
    HOUSE_FEATURES, house_prices, load_digits, next_token, price_series, sentiment,
)
from gdlib.losses import softmax_cross_entropy
from gdlib.model import MLP
from gdlib.residual import ResidualMLP, num_blocks_for_depth
from gdlib.rnn import RNNClassifier, RNNRegressor
from gdlib.train import evaluate, fit

__all__ = [
    "Claim", "CLAIMS", "SEEDS", "LabResult", "seed_mean_sd", "lr_vs_loss", "gradient_per_feature", "VARIANTS",
    "variants", "regularization", "batch_size_time", "INIT_FOR", "fit_cpu_timed", "activation_accuracy",
    "dropout_accuracy", "depth_time", "input_sensitivity", "Comparison", "compare_orderings",
    "trend", "fit_line", "ORDINAL", "mean_sd", "markdown_table",
]

SEEDS = (0, 1, 2)  #: the lab's default seeds (mean ± sd over at least three runs)


# ---------------------------------------------------------------------------------------------
# The article's claims


class Claim(NamedTuple):
    """One result table of the source article, as printed there."""

    title: str      #: the table's subject, in the article's words
    setting: str    #: the model and data the article says it used
    quantity: str   #: what its numbers are
    values: dict    #: our row label -> printed value(s)
    labels: dict | None = None  #: our row label -> the row's name as printed, where it differs

    def label(self, row) -> str:
        """The row's name as the article printed it."""
        return (self.labels or {}).get(row, str(row))


#: The article's printed result tables, QUOTED (no code or data was published): claims to be
#: tested, never results. Keys are our row labels (learning rate, feature, variant, (L1, L2),
#: batch size, activation, dropout rate, depth); values are exactly as printed.
CLAIMS: dict[str, Claim] = {
    "lr_vs_loss": Claim(
        "Learning rate vs training loss", "single-layer network, MNIST, 10 epochs",
        "training loss after epochs 1..10",
        {0.01: (0.56, 0.34, 0.23, 0.15, 0.10, 0.08, 0.07, 0.06, 0.05, 0.04),
         0.005: (0.50, 0.32, 0.20, 0.12, 0.08, 0.06, 0.05, 0.04, 0.03, 0.03),
         0.001: (0.45, 0.28, 0.17, 0.10, 0.06, 0.04, 0.03, 0.02, 0.02, 0.01)}),
    "gradient_per_feature": Claim(
        "Gradient magnitude per feature", "house-price network", "gradient magnitude",
        {"bedrooms": 0.16, "living_area_sqft": 0.24, "crime_rate": 0.05,
         "school_proximity": 0.14, "property_age": 0.08},
        {"bedrooms": "Number of bedrooms", "living_area_sqft": "Living area (sq.ft)",
         "crime_rate": "Neighborhood crime rate", "school_proximity": "Proximity to schools",
         "property_age": "Property age"}),
    "variants": Claim(
        "Variants compared", "MLP, IMDB sentiment", "(convergence speed, computational cost)",
        {"full-batch GD": ("slow", "low"), "SGD": ("fast", "high"),
         "mini-batch GD": ("moderate", "medium"), "Adam": ("very fast", "high")},
        {"full-batch GD": "Standard (full-batch) GD", "SGD": "SGD", "mini-batch GD": "Mini-batch GD",
         "Adam": "Adam"}),
    "regularization": Claim(
        "Regularization vs validation loss", "deep CNN, image classification",
        "validation loss", {(0.01, 0.01): 0.75, (0.001, 0.01): 0.62, (0.01, 0.001): 0.68,
                            (0.001, 0.001): 0.58}),
    "batch_size_time": Claim(
        "Batch size vs training time", "RNN, stock prediction", "training time (seconds)",
        {32: 560, 64: 500, 128: 480, 256: 460}),
    "activation_accuracy": Claim(
        "Activation vs training accuracy", "deep feed-forward network, sentiment",
        "training accuracy (%)", {"sigmoid": 92, "relu": 95, "tanh": 94, "leaky_relu": 96},
        {"sigmoid": "Sigmoid", "relu": "ReLU", "tanh": "Tanh", "leaky_relu": "Leaky ReLU"}),
    "dropout_accuracy": Claim(
        "Dropout vs test accuracy", "RNN language model", "test accuracy (%)",
        {0.0: 80, 0.2: 83, 0.5: 85, 0.8: 81}),
    "depth_time": Claim(
        "Depth vs training time", "residual network, CIFAR-10", "training time (minutes)",
        {20: 75, 32: 110, 44: 140, 56: 180}),
}

#: Ranks of the article's qualitative words (the variants table), slowest/cheapest first.
ORDINAL = {"slow": 0, "moderate": 1, "fast": 2, "very fast": 3, "low": 0, "medium": 1, "high": 2}


# ---------------------------------------------------------------------------------------------
# Results


@dataclass
class LabResult:
    """The measurements of one table: ``metrics[name]`` has shape ``(len(rows), len(seeds), ...)``.

    ``timing`` names the metrics that are wall-clock seconds (the only ones that change from
    run to run with the same seeds); ``histories`` maps ``(row, seed)`` to the
    :class:`~gdlib.train.History` of that run where the chapter plots it; ``config`` records
    every setting used.
    """

    name: str
    rows: tuple
    seeds: tuple
    metrics: dict
    timing: tuple = ()
    config: dict = field(default_factory=dict)
    histories: dict = field(default_factory=dict)

    def mean(self, metric: str) -> np.ndarray:
        """Mean over seeds (axis 1), ignoring NaN (a run that never reached a target)."""
        return seed_mean_sd(self._get(metric))[0]

    def sd(self, metric: str) -> np.ndarray:
        """Sample standard deviation over seeds (ddof = 1; 0 with a single seed)."""
        return seed_mean_sd(self._get(metric))[1]

    def per_run(self, metric: str, reduce=np.nanmedian) -> np.ndarray:
        """One number per run, shape (rows, seeds): ``reduce`` over the trailing axes (e.g. the
        fastest epoch of each run with ``np.nanmin``); NaN for a run with no value."""
        values = self._get(metric)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # numpy's "All-NaN slice"
            return reduce(values.reshape(values.shape[:2] + (-1,)), axis=2)

    def column(self, metric: str) -> dict:
        """``{row: mean}`` for a metric with one value per run."""
        return dict(zip(self.rows, self.mean(metric).tolist()))

    def _get(self, metric: str) -> np.ndarray:
        if metric not in self.metrics:
            raise KeyError(f"metric must be one of {', '.join(self.metrics)}, got metric={metric!r}")
        return self.metrics[metric]


def seed_mean_sd(values) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample standard deviation (ddof = 1) over axis 1 (the seeds), ignoring NaN.

    Where every seed is NaN both are NaN (without numpy's warning); with one finite seed the
    standard deviation is 0.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim < 2:
        raise ValueError(f"values must have shape (rows, seeds, ...), got shape {values.shape}")
    finite = np.isfinite(values)
    count = finite.sum(axis=1)
    total = np.where(finite, values, 0.0).sum(axis=1)
    mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    squares = np.where(finite, (values - np.expand_dims(mean, 1)) ** 2, 0.0).sum(axis=1)
    sd = np.where(count > 1, np.sqrt(squares / np.maximum(count - 1, 1)), 0.0)
    return mean, np.where(count > 0, sd, np.nan)


def _check_seeds(seeds) -> tuple:
    if isinstance(seeds, numbers.Integral) or not isinstance(seeds, Sequence) or not seeds:
        raise ValueError(f"seeds must be a non-empty sequence of integers >= 0, got seeds={_show(seeds)}")
    return tuple(check_non_negative_int(s, "seeds[i]") for s in seeds)


def _check_rows(rows, name: str, check) -> tuple:
    if isinstance(rows, (str, numbers.Number)) or not isinstance(rows, Sequence) or not rows:
        raise ValueError(f"{name} must be a non-empty sequence, got {name}={_show(rows)}")
    return tuple(check(r) for r in rows)


def _padded(values, length: int) -> np.ndarray:
    """``values`` as floats, NaN-padded to ``length`` (a run that stopped early)."""
    out = np.full(length, np.nan)
    out[:len(values)] = values[:length]
    return out


def _grad_norms_first_epoch(history, layer_keys: dict) -> list[float]:
    r"""Per layer :math:`\sqrt{\sum_k \overline{\lVert g_k\rVert}^2}` over its arrays, epoch 1."""
    return [math.sqrt(sum(history.grad_norms[k][0] ** 2 for k in keys))
            for keys in layer_keys.values()]


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


def _stack(per_run: dict, num_rows: int, num_seeds: int) -> np.ndarray:
    """``{(row, seed): array}`` as one array of shape (rows, seeds, ...)."""
    return np.stack([np.stack([per_run[i, j] for j in range(num_seeds)]) for i in range(num_rows)])


# ---------------------------------------------------------------------------------------------
# Table 1: learning rate vs training loss per epoch


def lr_vs_loss(lrs=(0.01, 0.005, 0.001), *, seeds=SEEDS, num_epochs: int = 10,
               batch_size: int = 32, data=None) -> LabResult:
    r"""Training loss per epoch of a single-layer network (softmax regression) for each ``lr``.

    The model is :math:`p = \mathrm{softmax}(xW + b)` on the 8x8 digits (the MNIST stand-in),
    weights drawn with standard deviation 0.01 (``init="small"``, initial loss
    :math:`\approx \log 10`), trained by plain mini-batch SGD, :math:`W \leftarrow W - \eta g`.

    Returns
    -------
    LabResult
        ``loss`` (lrs, seeds, num_epochs + 1): training loss after epochs 0..num_epochs (NaN
        after a divergence); ``train_acc`` (lrs, seeds): final training accuracy.
    """
    lrs = _check_rows(lrs, "lrs", check_lr)
    seeds = _check_seeds(seeds)
    num_epochs = check_positive_int(num_epochs, "num_epochs")
    data = load_digits(seed=0) if data is None else data
    loss = np.full((len(lrs), len(seeds), num_epochs + 1), np.nan)
    acc = np.full((len(lrs), len(seeds)), np.nan)
    for i, lr in enumerate(lrs):
        for j, seed in enumerate(seeds):
            rng = np.random.default_rng(seed)
            model = MLP([data.X_train.shape[1], 10], rng=rng, init="small")
            h = fit(model, data.X_train, data.y_train, lr=lr, num_epochs=num_epochs,
                    batch_size=batch_size, rng=rng, record_grad_norms=False)
            loss[i, j] = _padded(h.loss_per_epoch, num_epochs + 1)
            acc[i, j] = h.train_acc[-1]
    return LabResult("lr_vs_loss", lrs, seeds, {"loss": loss, "train_acc": acc},
                     config={"num_epochs": num_epochs, "batch_size": batch_size, "rule": "sgd",
                             "model": "softmax regression (64 -> 10)", "n_train": len(data.y_train)})


# ---------------------------------------------------------------------------------------------
# Table 2: gradient magnitude per feature


def input_sensitivity(predict, X, *, h: float = 1e-4) -> np.ndarray:
    r"""Mean absolute sensitivity of a model's output to each input feature.

    .. math::

        S_j = \frac{1}{n} \sum_{i=1}^{n} \left| \frac{\partial \hat y(x_i)}{\partial x_{ij}} \right|
            \approx \frac{1}{n} \sum_i \frac{|\hat y(x_i + h e_j) - \hat y(x_i - h e_j)|}{2h},

    by central differences (exact for a linear model, and for a ReLU network away from its
    kinks). For a linear model :math:`\hat y = \beta^\top x + c` it returns :math:`|\beta|`.

    Parameters
    ----------
    predict : callable
        ``predict(X) -> (n,)`` real-valued outputs.
    X : ndarray, shape (n, d)
    h : float > 0
        Step of the central difference.

    Returns
    -------
    ndarray, shape (d,)
    """
    X = np.asarray(X, dtype=float)
    h = check_positive_number(h, "h")
    out = np.empty(X.shape[1])
    for j in range(X.shape[1]):
        step = np.zeros(X.shape[1])
        step[j] = h
        out[j] = np.mean(np.abs(predict(X + step) - predict(X - step))) / (2 * h)
    return out


def _linear_gradient_at_start(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """|dJ/dw_j| of the mean squared error of a linear model at w = 0, b = mean(y)."""
    model = MLP([X.shape[1], 1], loss="mse", rng=0)
    model.params["W1"][:] = 0.0
    model.params["b1"][:] = y.mean()
    return np.abs(model.loss_and_grads(X, y)[1]["W1"][:, 0])


def gradient_per_feature(*, seeds=SEEDS, n: int = 1000, hidden: int = 16, num_epochs: int = 40,
                         lr: float = 0.01, batch_size: int = 32) -> LabResult:
    r"""Five candidate "gradient magnitudes per feature" on synthetic house prices.

    The data (:func:`gdlib.datasets.house_prices`, drawn with each seed) have standardised
    features :math:`z_j = (x_j - \bar x_j)/s_j` and a known linear effect :math:`\beta_j` per
    standard deviation. A network :math:`5 \to` ``hidden`` :math:`\to 1` (ReLU, squared error)
    is trained with Adam; then, per feature :math:`j`:

    - ``network_grad_init`` / ``network_grad_trained``: the norm of the loss gradient with
      respect to the feature's first-layer weights, :math:`\lVert \partial J/\partial W_{1,j:}
      \rVert_2`, before and after training;
    - ``linear_grad_start`` / ``linear_grad_start_raw``: :math:`|\partial J/\partial w_j| =
      |\frac{2}{n}\sum_i (\hat y_i - y_i) x_{ij}|` of a linear model at :math:`w = 0`,
      :math:`b = \bar y` (the first gradient-descent step), on standardised and on raw inputs;
    - ``sensitivity`` / ``sensitivity_raw``: the trained network's :func:`input_sensitivity`
      per standard deviation and per raw unit (:math:`\partial \hat y/\partial x_j =
      s_j^{-1}\, \partial \hat y/\partial z_j`);
    - ``true_effect``: :math:`|\beta_j|`.

    Every metric has shape (5, seeds); rows follow ``HOUSE_FEATURES``.
    """
    seeds = _check_seeds(seeds)
    names = ("true_effect", "network_grad_init", "network_grad_trained", "linear_grad_start",
             "linear_grad_start_raw", "sensitivity", "sensitivity_raw")
    metrics = {name: np.empty((len(HOUSE_FEATURES), len(seeds))) for name in names}
    r2 = []
    for j, seed in enumerate(seeds):
        data = house_prices(n, seed)
        X, y = data.X_train, data.y_train
        std = np.array([data.meta["feature_std"][f] for f in HOUSE_FEATURES])
        mean = np.array([data.meta["feature_mean"][f] for f in HOUSE_FEATURES])
        rng = np.random.default_rng(seed)
        model = MLP([X.shape[1], hidden, 1], loss="mse", rng=rng)
        metrics["network_grad_init"][:, j] = np.linalg.norm(model.loss_and_grads(X, y)[1]["W1"], axis=1)
        fit(model, X, y, rule="adam", lr=lr, num_epochs=num_epochs, batch_size=batch_size, rng=rng,
            record_grad_norms=False)
        metrics["network_grad_trained"][:, j] = np.linalg.norm(model.loss_and_grads(X, y)[1]["W1"], axis=1)
        metrics["linear_grad_start"][:, j] = _linear_gradient_at_start(X, y)
        metrics["linear_grad_start_raw"][:, j] = _linear_gradient_at_start(X * std + mean, y)
        metrics["sensitivity"][:, j] = input_sensitivity(model.predict, X)
        metrics["sensitivity_raw"][:, j] = metrics["sensitivity"][:, j] / std
        metrics["true_effect"][:, j] = [abs(data.meta["true_effects"][f]) for f in HOUSE_FEATURES]
        r2.append(model.score(data.X_val, data.y_val))
    return LabResult("gradient_per_feature", HOUSE_FEATURES, seeds, metrics,
                     config={"n": n, "hidden": hidden, "num_epochs": num_epochs, "lr": lr,
                             "batch_size": batch_size, "rule": "adam", "val_r2": r2,
                             "raw_units": house_prices(20, 0).meta["raw_units"]})


# ---------------------------------------------------------------------------------------------
# Table 3: variants by convergence speed and cost

#: The four variants of the article's table: (rule, lr, batch_size); None is the full batch.
VARIANTS = {
    "full-batch GD": ("sgd", 0.3, None),
    "SGD": ("sgd", 0.01, 1),
    "mini-batch GD": ("sgd", 0.1, 32),
    "Adam": ("adam", 0.001, 32),
}


def variants(settings: Mapping | None = None, *, seeds=SEEDS, target_loss: float = 0.35,
             max_epochs: int = 40, n: int = 2000, hidden: int = 32) -> LabResult:
    r"""Train an MLP on synthetic bag-of-words reviews with each variant until a target loss.

    Each run stops after the first epoch (at least one) whose training loss (logistic, on the
    whole training set) is at most ``target_loss``, or after ``max_epochs``. Speed is then
    measured three ways: in epochs (passes over the data), in updates (steps) and in CPU
    seconds; cost as the CPU time of one epoch and of one update (:func:`fit_cpu_timed`).

    Returns
    -------
    LabResult
        Rows are the variant names; metrics (variants, seeds): ``epochs_to_target``,
        ``updates_to_target``, ``seconds_to_target`` (CPU seconds; all three NaN if the
        target was not reached), ``epoch_cpu`` (CPU seconds of the run's fastest epoch),
        ``update_cpu`` (that epoch's seconds per update), ``epoch_time`` (wall-clock seconds
        of the fastest epoch, from ``fit``), ``val_acc`` (when stopped).
        ``histories[(variant, seed)]`` keeps each run and ``config["epoch_cpu"][(variant,
        seed)]`` its CPU seconds per epoch.
    """
    settings = dict(VARIANTS if settings is None else settings)
    seeds = _check_seeds(seeds)
    target_loss = check_positive_number(target_loss, "target_loss")
    max_epochs = check_positive_int(max_epochs, "max_epochs")
    data = sentiment(n, 0)
    names = ("epochs_to_target", "updates_to_target", "seconds_to_target", "epoch_cpu",
             "update_cpu", "epoch_time", "val_acc")
    metrics = {name: np.full((len(settings), len(seeds)), np.nan) for name in names}
    histories, cpu_per_epoch = {}, {}

    def reached(epoch, history):
        return epoch > 0 and history.loss_per_epoch[-1] <= target_loss

    for i, (label, (rule, lr, batch_size)) in enumerate(settings.items()):
        for j, seed in enumerate(seeds):
            rng = np.random.default_rng(seed)
            model = MLP([data.X_train.shape[1], hidden, 1], loss="binary", rng=rng)
            h, cpu = fit_cpu_timed(model, data.X_train, data.y_train, rule=rule, lr=lr,
                                   batch_size=batch_size, num_epochs=max_epochs, rng=rng,
                                   X_val=data.X_val, y_val=data.y_val, callback=reached,
                                   record_grad_norms=False)
            histories[label, seed], cpu_per_epoch[label, seed] = h, cpu
            if h.loss_per_epoch[-1] <= target_loss:
                metrics["epochs_to_target"][i, j] = h.num_epochs
                metrics["updates_to_target"][i, j] = h.steps
                metrics["seconds_to_target"][i, j] = sum(cpu)
            metrics["epoch_cpu"][i, j] = min(cpu)
            metrics["update_cpu"][i, j] = min(cpu) / (h.steps / h.num_epochs)
            metrics["epoch_time"][i, j] = min(h.epoch_time)
            metrics["val_acc"][i, j] = h.val_acc[-1]
    return LabResult("variants", tuple(settings), seeds, metrics,
                     timing=("seconds_to_target", "epoch_cpu", "update_cpu", "epoch_time"),
                     config={"settings": settings, "target_loss": target_loss,
                             "max_epochs": max_epochs, "n_train": len(data.y_train),
                             "vocab_size": data.X_train.shape[1], "hidden": hidden,
                             "epoch_cpu": cpu_per_epoch},
                     histories=histories)


# ---------------------------------------------------------------------------------------------
# Table 4: L1/L2 strength vs validation loss


def regularization(strengths=((0.01, 0.01), (0.001, 0.01), (0.01, 0.001), (0.001, 0.001),
                              (0.0, 0.0)), *, seeds=SEEDS, num_epochs: int = 10, lr: float = 0.1,
                   batch_size: int = 32) -> LabResult:
    r"""A small CNN on the digits for each ``(l1, l2)`` pair, trained by mini-batch SGD.

    The objective is :math:`J = \mathrm{CE} + \lambda_1 \sum_l \lVert W_l\rVert_1 +
    \frac{\lambda_2}{2} \sum_l \lVert W_l \rVert_F^2` (:class:`gdlib.conv.CNN`).

    Returns
    -------
    LabResult
        Metrics (pairs, seeds): ``val_objective`` (validation cross-entropy plus the penalty:
        what ``History.val_loss`` would record), ``val_loss`` (validation cross-entropy alone),
        ``penalty``, ``val_acc``, ``train_loss`` (training cross-entropy).
    """
    def check_pair(pair):
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise ValueError(f"strengths must hold (l1, l2) pairs, got {_show(pair)}")
        return tuple(check_positive_number(v, "l1 or l2", allow_zero=True) for v in pair)

    strengths = _check_rows(strengths, "strengths", check_pair)
    seeds = _check_seeds(seeds)
    data = load_digits(seed=0)
    names = ("val_objective", "val_loss", "penalty", "val_acc", "train_loss")
    metrics = {name: np.full((len(strengths), len(seeds)), np.nan) for name in names}
    for i, (l1, l2) in enumerate(strengths):
        for j, seed in enumerate(seeds):
            rng = np.random.default_rng(seed)
            model = CNN(rng=rng, l1=l1, l2=l2)
            fit(model, data.X_train, data.y_train, lr=lr, num_epochs=num_epochs,
                batch_size=batch_size, rng=rng, record_grad_norms=False)
            objective, _ = model.loss_and_grads(data.X_val, data.y_val, train=False)
            metrics["val_objective"][i, j] = objective
            metrics["val_loss"][i, j] = softmax_cross_entropy(model.forward(data.X_val), data.y_val)[0]
            metrics["penalty"][i, j] = objective - metrics["val_loss"][i, j]
            metrics["val_acc"][i, j] = model.score(data.X_val, data.y_val)
            metrics["train_loss"][i, j] = softmax_cross_entropy(model.forward(data.X_train),
                                                                data.y_train)[0]
    return LabResult("regularization", strengths, seeds, metrics,
                     config={"num_epochs": num_epochs, "lr": lr, "batch_size": batch_size,
                             "rule": "sgd", "model": repr(CNN(rng=0)),
                             "num_weights": sum(CNN(rng=0).params[k].size for k in ("W1", "W2", "W3"))})


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
# Table 6: activation vs training accuracy

#: The initialisation paired with each activation: Glorot for the saturating ones (Glorot and
#: Bengio, 2010), He for the rectifiers (He et al., 2015).
INIT_FOR = {"sigmoid": "glorot", "tanh": "glorot", "relu": "he", "leaky_relu": "he"}


def activation_accuracy(activations=("sigmoid", "relu", "tanh", "leaky_relu"), *, seeds=SEEDS,
                        hidden=(32, 32, 32, 32, 32), num_epochs: int = 10, lr: float = 0.05,
                        batch_size: int = 32, n: int = 2000) -> LabResult:
    r"""Training accuracy of a deep MLP on synthetic bag-of-words reviews, per activation.

    Each activation gets its usual initialisation (:data:`INIT_FOR`); all runs use plain
    mini-batch SGD with the same learning rate and number of epochs.

    Returns
    -------
    LabResult
        Metrics: ``train_acc``, ``val_acc`` (activations, seeds) after the last epoch;
        ``grad_norm`` (activations, seeds, layers): each layer's mean gradient norm during
        epoch 1, input layer first.
    """
    activations = _check_rows(activations, "activations", str)
    for act in activations:
        if act not in INIT_FOR:
            raise ValueError(f"activations must be among {', '.join(INIT_FOR)}, got {act!r}")
    seeds = _check_seeds(seeds)
    hidden = _check_rows(hidden, "hidden", lambda w: check_positive_int(w, "hidden[i]"))
    data = sentiment(n, 0)
    sizes = [data.X_train.shape[1], *hidden, 1]
    train_acc = np.full((len(activations), len(seeds)), np.nan)
    val_acc = np.full_like(train_acc, np.nan)
    grad_norm = np.full((len(activations), len(seeds), len(sizes) - 1), np.nan)
    for i, act in enumerate(activations):
        for j, seed in enumerate(seeds):
            rng = np.random.default_rng(seed)
            model = MLP(sizes, activation=act, loss="binary", init=INIT_FOR[act], rng=rng)
            h = fit(model, data.X_train, data.y_train, lr=lr, num_epochs=num_epochs,
                    batch_size=batch_size, rng=rng, X_val=data.X_val, y_val=data.y_val)
            train_acc[i, j], val_acc[i, j] = h.train_acc[-1], h.val_acc[-1]
            grad_norm[i, j] = _grad_norms_first_epoch(h, model.layer_keys())
    return LabResult("activation_accuracy", activations, seeds,
                     {"train_acc": train_acc, "val_acc": val_acc, "grad_norm": grad_norm},
                     config={"sizes": sizes, "lr": lr, "num_epochs": num_epochs,
                             "batch_size": batch_size, "rule": "sgd", "init": dict(INIT_FOR)})


# ---------------------------------------------------------------------------------------------
# Table 7: dropout vs test accuracy


def dropout_accuracy(rates=(0.0, 0.2, 0.5, 0.8), *, seeds=SEEDS, num_epochs: int = 15,
                     hidden: int = 32, embed_dim: int = 8, n: int = 1500, vocab_size: int = 20,
                     context: int = 8, lr: float = 0.01) -> LabResult:
    r"""A recurrent next-token predictor (a tiny language model) for each dropout rate.

    Data: :func:`gdlib.datasets.next_token`, text from a random Markov chain whose best possible
    accuracy is known (``config["bayes_accuracy"]``). Model: embedding, vanilla RNN, inverted
    dropout on the last hidden state, softmax over the vocabulary; Adam.

    Returns
    -------
    LabResult
        Metrics: ``test_acc``, ``train_acc`` (rates, seeds) after the last epoch; ``val_acc``
        (rates, seeds, num_epochs + 1) after each epoch.
    """
    rates = _check_rows(rates, "rates", lambda p: check_fraction(p, "dropout"))
    seeds = _check_seeds(seeds)
    num_epochs = check_positive_int(num_epochs, "num_epochs")
    data = next_token(n, 0, vocab_size=vocab_size, context=context, test_frac=0.2)
    test_acc = np.full((len(rates), len(seeds)), np.nan)
    train_acc = np.full_like(test_acc, np.nan)
    val_acc = np.full((len(rates), len(seeds), num_epochs + 1), np.nan)
    for i, p in enumerate(rates):
        for j, seed in enumerate(seeds):
            rng = np.random.default_rng(seed)
            model = RNNClassifier(vocab_size, hidden, vocab_size, embed_dim=embed_dim, dropout=p,
                                  rng=rng)
            h = fit(model, data.X_train, data.y_train, rule="adam", lr=lr, num_epochs=num_epochs,
                    batch_size=32, rng=rng, X_val=data.X_val, y_val=data.y_val,
                    record_grad_norms=False)
            test_acc[i, j] = model.score(data.X_test, data.y_test)
            train_acc[i, j] = h.train_acc[-1]
            val_acc[i, j] = _padded(h.val_acc, num_epochs + 1)
    return LabResult("dropout_accuracy", rates, seeds,
                     {"test_acc": test_acc, "train_acc": train_acc, "val_acc": val_acc},
                     config={"bayes_accuracy": data.meta["bayes_accuracy"], "n_train": len(data.y_train),
                             "n_test": len(data.y_test), "vocab_size": vocab_size, "context": context,
                             "hidden": hidden, "embed_dim": embed_dim, "num_epochs": num_epochs,
                             "lr": lr, "rule": "adam"})


# ---------------------------------------------------------------------------------------------
# Table 8: depth vs training time


def depth_time(depths=(20, 32, 44, 56), *, seeds=SEEDS, num_epochs: int = 4, width: int = 32,
               batch_size: int = 64, lr: float = 0.01) -> LabResult:
    r"""Time per epoch of a fully connected residual network of each depth on the digits.

    Plain mini-batch SGD; the runs are interleaved epoch by epoch
    (see :func:`_timed_epochs_interleaved`).

    Depth counts weight layers, :math:`2B + 2` for :math:`B` residual blocks
    (:func:`gdlib.residual.num_blocks_for_depth`); every block costs the same, so the time of
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


# ---------------------------------------------------------------------------------------------
# Verdict helpers


class Comparison(NamedTuple):
    """How a measured ordering compares with a claimed one, pair of rows by pair of rows."""

    agree: int        #: pairs ordered as claimed, with non-overlapping mean ± sd
    disagree: int     #: pairs ordered against the claim, with non-overlapping mean ± sd
    unresolved: int   #: pairs whose mean ± sd intervals overlap (the seeds cannot tell)
    claim_ties: int   #: pairs the claim does not order (equal values); not counted above
    spearman: float   #: rank correlation of the claimed and measured values (NaN if undefined)
    verdict: str      #: "holds", "holds where resolved", "mixed", "contradicted" or "unresolved"


def _ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties sharing their average rank."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    for v in np.unique(values):
        ranks[values == v] = ranks[values == v].mean()
    return ranks


def compare_orderings(claimed: Mapping, measured: Mapping, measured_sd: Mapping | None = None
                      ) -> Comparison:
    r"""Compare the ordering of ``measured`` values with that of ``claimed`` ones, pair by pair.

    For every pair of rows :math:`(a, b)` that the claim orders (:math:`c_a \ne c_b`), the
    measurement *agrees* if :math:`m_a - m_b` has the sign of :math:`c_a - c_b` and the
    intervals :math:`m \pm s` do not overlap, :math:`|m_a - m_b| > s_a + s_b`; it *disagrees*
    if the sign is opposite with the same separation; otherwise the pair is *unresolved*.
    Only orderings are compared, so claimed and measured values may have different units.

    Parameters
    ----------
    claimed, measured : mapping row -> float
        The same keys (the claim's values may be ordinal ranks, see :data:`ORDINAL`).
    measured_sd : mapping row -> float, optional
        Spread of each measured value (e.g. the standard deviation over seeds); 0 if omitted.

    Returns
    -------
    Comparison
        With ``verdict`` "holds" (every ordered pair agrees), "holds where resolved" (none
        disagrees, some unresolved), "mixed", "contradicted" (some disagree, none agrees) or
        "unresolved" (no pair resolved).
    """
    if set(claimed) != set(measured):
        raise ValueError(f"claimed and measured must have the same rows, got claimed rows "
                         f"{sorted(map(str, claimed))} and measured rows {sorted(map(str, measured))}")
    keys = list(claimed)
    sd = {k: 0.0 for k in keys} if measured_sd is None else dict(measured_sd)
    if set(sd) != set(keys):
        raise ValueError(f"measured_sd must have the rows of measured, got rows {sorted(map(str, sd))}")
    c = np.array([float(claimed[k]) for k in keys])
    m = np.array([float(measured[k]) for k in keys])
    s = np.array([float(sd[k]) for k in keys])
    if not (np.all(np.isfinite(c)) and np.all(np.isfinite(m)) and np.all(s >= 0)):
        raise ValueError("claimed and measured must be finite and measured_sd >= 0, got "
                         f"claimed={c.tolist()}, measured={m.tolist()}, measured_sd={s.tolist()}")
    agree = disagree = unresolved = ties = 0
    for a in range(len(keys)):
        for b in range(a + 1, len(keys)):
            if c[a] == c[b]:
                ties += 1
            elif abs(m[a] - m[b]) <= s[a] + s[b]:
                unresolved += 1
            elif np.sign(m[a] - m[b]) == np.sign(c[a] - c[b]):
                agree += 1
            else:
                disagree += 1
    rc, rm = _ranks(c), _ranks(m)
    spearman = (float(np.corrcoef(rc, rm)[0, 1]) if len(keys) > 1 and rc.std() > 0 and rm.std() > 0
                else math.nan)
    if agree + disagree == 0:
        verdict = "unresolved"
    elif disagree == 0:
        verdict = "holds" if unresolved == 0 else "holds where resolved"
    elif agree == 0:
        verdict = "contradicted"
    else:
        verdict = "mixed"
    return Comparison(agree, disagree, unresolved, ties, spearman, verdict)


def trend(values: Sequence[float], sd: Sequence[float] | None = None) -> str:
    r"""``"increasing"``, ``"decreasing"``, ``"flat"`` or ``"not monotonic"``.

    Consecutive values :math:`v_k, v_{k+1}` count as a step up (down) only when
    :math:`|v_{k+1} - v_k| > s_k + s_{k+1}`. A sequence with resolved steps in one direction
    only is increasing (decreasing); with steps both ways it is not monotonic. Without any
    resolved step, a sequence whose means move monotonically and whose ends are resolved,
    :math:`|v_{last} - v_1| > s_1 + s_{last}`, still counts as increasing (decreasing); any
    other is flat.
    """
    v = np.asarray(values, dtype=float)
    s = np.zeros_like(v) if sd is None else np.asarray(sd, dtype=float)
    if v.ndim != 1 or len(v) < 2 or s.shape != v.shape:
        raise ValueError(f"values must be 1-D with at least 2 entries and sd of the same shape, "
                         f"got values of shape {v.shape} and sd of shape {s.shape}")
    diff = np.diff(v)
    resolved = np.abs(diff) > s[:-1] + s[1:]
    up, down = bool(np.any(resolved & (diff > 0))), bool(np.any(resolved & (diff < 0)))
    if not (up or down) and abs(v[-1] - v[0]) > s[0] + s[-1]:
        up, down = bool(np.all(diff > 0)), bool(np.all(diff < 0))
    return {(True, False): "increasing", (False, True): "decreasing",
            (False, False): "flat"}.get((up, down), "not monotonic")


def fit_line(x: Sequence[float], y: Sequence[float]) -> tuple[float, float, float]:
    r"""Least-squares line :math:`y \approx a + c x`; returns ``(slope c, intercept a, R^2)``.

    .. math::

        c = \frac{\sum_i (x_i - \bar x)(y_i - \bar y)}{\sum_i (x_i - \bar x)^2}, \quad
        a = \bar y - c \bar x, \quad
        R^2 = 1 - \frac{\sum_i (y_i - a - c x_i)^2}{\sum_i (y_i - \bar y)^2}.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.ndim != 1 or x.shape != y.shape or len(x) < 2 or np.ptp(x) == 0:
        raise ValueError(f"x and y must be 1-D of the same length >= 2 with x not constant, "
                         f"got x={_show(x)} and y={_show(y)}")
    slope = float(np.sum((x - x.mean()) * (y - y.mean())) / np.sum((x - x.mean()) ** 2))
    intercept = float(y.mean() - slope * x.mean())
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    ss_res = float(np.sum((y - intercept - slope * x) ** 2))
    return slope, intercept, (1.0 - ss_res / ss_tot) if ss_tot > 0 else 1.0


# ---------------------------------------------------------------------------------------------
# Tables


def mean_sd(mean: float, sd: float, digits: int = 3) -> str:
    """``"0.512 ± 0.004"`` (``"—"`` for a NaN mean, e.g. a target never reached)."""
    if not math.isfinite(mean):
        return "—"
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A MyST/GitHub markdown table from a header and rows of cells (any objects, via str)."""
    width = len(header)
    for k, row in enumerate(rows):
        if len(row) != width:
            raise ValueError(f"every row must have {width} cells like the header, got row {k} "
                             f"with {len(row)}")
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * width]
    lines += ["| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)
