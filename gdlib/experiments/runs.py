r"""Runners for the experiments lab: the article's tables of losses, gradients and accuracies.

Each runner trains small gdlib models on an offline stand-in for the article's data, for every
setting of one table row and every seed, and returns a :class:`~gdlib.experiments.LabResult`.
Every run draws its initial weights, batch order and dropout masks from one
``numpy.random.default_rng(seed)``, so all metrics except times are reproducible. The two
timing tables (5 and 8) are in :mod:`gdlib.experiments.timing`.

Introduced in the lab chapter (``ch-lab``).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from gdlib._validate import (
    _show, check_fraction, check_lr, check_positive_int, check_positive_number,
)
from gdlib.data import HOUSE_FEATURES, house_prices, load_digits, next_token, sentiment
from gdlib.experiments.results import (
    SEEDS, LabResult, _check_rows, _check_seeds, _grad_norms_first_epoch, _padded,
)
from gdlib.experiments.timing import fit_cpu_timed
from gdlib.nn import CNN, MLP, RNNClassifier, softmax_cross_entropy
from gdlib.train import fit

__all__ = [
    "lr_vs_loss", "input_sensitivity", "gradient_per_feature", "VARIANTS", "variants",
    "regularization", "INIT_FOR", "activation_accuracy", "dropout_accuracy",
]


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

    The data (:func:`gdlib.data.house_prices`, drawn with each seed) have standardised
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
    \frac{\lambda_2}{2} \sum_l \lVert W_l \rVert_F^2` (:class:`gdlib.nn.CNN`).

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

    Data: :func:`gdlib.data.next_token`, text from a random Markov chain whose best possible
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
