r"""The training loop: mini-batches, epochs, and a record of what happened.

:func:`fit` runs mini-batch gradient descent with any update rule of :mod:`gdlib.optim` (or a
student's own) on any model with ``params``, ``loss_and_grads`` and ``predict``. One epoch
visits every training example exactly once, in a fresh random order, ``batch_size`` examples
per step; each step moves every parameter array :math:`\theta` with the gradient of the batch
loss, which is the mean over the batch :math:`B`:

.. math::

    g = \nabla_\theta \frac{1}{|B|} \sum_{i \in B} \ell(x_i, y_i; \theta), \qquad
    (\theta, s) \leftarrow \mathrm{step}(\theta, g, s;\ \eta, \dots).

``batch_size=None`` (or ``n``) is batch gradient descent, ``1`` is stochastic gradient descent,
anything between is mini-batch gradient descent. The :class:`History` it returns holds the
loss at every step and after every epoch, accuracies, timings and gradient norms per layer, and
whether (and where) training diverged.

This module holds :func:`iterate_minibatches`, :func:`evaluate` and :func:`fit` (with the
model shortcuts and error tests ``fit`` uses); :class:`History` and :class:`DivergenceWarning`
live in :mod:`gdlib.history`, and the rule resolution, argument checks and parameter updaters
in :mod:`gdlib.updaters`. All of those are re-exported here, so ``from gdlib.train import
History, DivergenceWarning`` keeps working.

Introduced in the chapter on batch sizes (``ch-variants``).
"""

from __future__ import annotations

import math
import time
import warnings
from typing import Callable, Iterator

import numpy as np

from gdlib._validate import (
    _show, check_batch_size, check_lr, check_positive_int, check_positive_number, check_rng,
    check_examples,
)
from gdlib.history import DivergenceWarning, History, _drop_partial_epoch
from gdlib.optim import check_hyper, get_rule
from gdlib.updaters import _check_grads, _check_params, _make_updater
from gdlib.updaters import _FlatUpdater, _PerArrayUpdater, _check_update  # noqa: F401  (re-exported)

__all__ = ["DivergenceWarning", "History", "iterate_minibatches", "fit", "evaluate"]


def iterate_minibatches(X, y, batch_size: int | None, rng) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The mini-batches of one epoch: every example exactly once, in a fresh random order.

    A new permutation is drawn from ``rng`` on each call, so calling it once per epoch gives a
    different order every epoch, and the same ``rng`` state gives the same batches. The last
    batch holds the ``n mod batch_size`` examples left over, if any (none is dropped).

    ``batch_size=None`` or ``n`` yields the single batch ``(X, y)`` in its original order and
    draws nothing from ``rng``: the order cannot change the full-batch mean gradient beyond
    round-off, and skipping the shuffle makes batch gradient descent reproducible bit for bit.

    Parameters
    ----------
    X : array_like, shape (n, d) or (n, ...)
        Examples along the first axis (sequences and images too); integer ``X`` (token ids)
        keeps its dtype.
    y : array_like, shape (n,)
    batch_size : int or None
        Examples per batch, ``1 <= batch_size <= n``; ``None`` means ``n``.
    rng : numpy.random.Generator or int
        Source of the permutation.

    Yields
    ------
    X_batch : ndarray, shape (b, d) or (b, ...)
    y_batch : ndarray, shape (b,)
        Views into a shuffled copy of the data (``X`` and ``y`` are never modified).
    """
    X, y = check_examples(X, y)
    n = len(y)
    batch_size = check_batch_size(batch_size, n)
    rng = check_rng(rng)
    return _batches(X, y, batch_size, rng)


def _batches(X: np.ndarray, y: np.ndarray, batch_size: int, rng: np.random.Generator):
    """:func:`iterate_minibatches` on checked arguments (the generator itself)."""
    n = len(y)
    if batch_size >= n:
        yield X, y
        return
    order = rng.permutation(n)
    X, y = X[order], y[order]  # one gather per epoch; the batches are then contiguous views
    for start in range(0, n, batch_size):
        yield X[start:start + batch_size], y[start:start + batch_size]


def _measure(model, X: np.ndarray, y: np.ndarray) -> tuple[float, float | None]:
    """(loss without dropout, score or None) on checked data.

    A model may offer ``evaluate(X, y) -> (loss, score)`` computing both from one forward pass;
    otherwise ``loss_and_grads(X, y, train=False)`` and ``score(X, y)`` are called.
    """
    own = getattr(model, "evaluate", None)
    if callable(own):
        loss, score = own(X, y)
        return float(loss), (None if score is None else float(score))
    loss = float(model.loss_and_grads(X, y, rng=None, train=False)[0])
    score = getattr(model, "score", None)
    return loss, (float(score(X, y)) if callable(score) else None)


def evaluate(model, X, y) -> tuple[float, float | None]:
    """The loss (``train=False``: no dropout) and ``model.score`` on ``(X, y)``.

    Returns ``(loss, score)``; ``score`` is None if the model has no ``score`` method. A model
    with its own ``evaluate(X, y) -> (loss, score)`` method (one forward pass for both) is
    asked for it instead; :func:`fit` does the same after every epoch.
    """
    X, y = check_examples(X, y)
    return _measure(model, X, y)


def fit(model, X, y, *, rule="sgd", lr, num_epochs: int, batch_size: int | None = None, rng,
        X_val=None, y_val=None, schedule: Callable | None = None, init: Callable | None = None,
        divergence_factor: float | None = 1e4, record_grad_norms: bool = True,
        record_epoch_metrics: bool = True, callback: Callable | None = None,
        **hyper) -> History:
    r"""Train ``model`` by mini-batch gradient descent; return a :class:`History`.

    Each epoch draws a fresh permutation from ``rng`` and cuts it into batches
    (:func:`iterate_minibatches`). For each batch :math:`B` at step :math:`t = 0, 1, \dots`, every
    parameter array :math:`\theta` (one optimiser state :math:`s` each) is updated with the
    mean gradient of the batch loss:

    .. math::

        \eta_t = \begin{cases}\texttt{schedule}(t) & \text{if given}\\ \texttt{lr} &
        \text{otherwise}\end{cases}, \qquad
        (\theta, s) \leftarrow \mathrm{step}\Bigl(\theta,\ \nabla_\theta \tfrac{1}{|B|}
        \textstyle\sum_{i \in B} \ell_i,\ s;\ \mathrm{lr}=\eta_t, \dots\Bigr).

    Parameters are updated in place (``model.params[k][...] = new``), so references to them
    stay valid. A :class:`gdlib.model.MLP` (not a subclass replacing its public methods) has its
    data checked once per call, then trains through private shortcuts that reuse their arrays
    and give the same numbers, bit for bit, as ``loss_and_grads`` and ``evaluate``.

    Divergence: training stops, with a :class:`DivergenceWarning` and ``history.diverged``, as
    soon as a batch loss or gradient is not finite, a batch loss exceeds
    ``divergence_factor * max(initial_loss, 1)``, or an update would make a parameter non-finite.
    The offending update is not applied, so the model keeps its last finite parameters, and the
    offending loss is not recorded. Numpy's overflow warnings are silenced inside ``fit``.

    Parameters
    ----------
    model
        Has ``params`` (dict of float arrays), ``loss_and_grads(X, y, *, rng, train)`` returning
        ``(mean loss, grads dict)``, ``predict``, and optionally ``score`` and
        ``evaluate(X, y) -> (loss, score)`` (see :func:`evaluate`).
    X, y : array_like, shapes (n, d) (or (n, ...): sequences, images, token ids) and (n,)
        Training data (finite).
    rule : str, Rule, (init, step) pair or callable
        A name in :data:`gdlib.optim.RULES`, an :class:`~gdlib.optim.Rule`, a pair of functions
        following the update-rule convention, or a bare ``step`` function (then ``init`` gives
        its state, or the state is ``None`` for a stateless rule).
    lr : float or None
        Learning rate :math:`\eta > 0`; may be ``None`` when ``schedule`` is given.
    num_epochs : int
        Number of passes over the training data, >= 1.
    batch_size : int or None
        Examples per step, ``1 <= batch_size <= n``; ``None`` means ``n`` (batch GD).
    rng : numpy.random.Generator or int
        Source of the shuffling and of the model's dropout masks.
    X_val, y_val : array_like, optional
        A validation set, evaluated after every epoch.
    schedule : callable, optional
        ``schedule(t) -> lr`` for step ``t = 0, 1, ...`` (see :mod:`gdlib.schedules`); overrides
        ``lr``.
    init : callable, optional
        ``init(x) -> state``: overrides the rule's own, or gives a bare step function its state.
    divergence_factor : float or None
        See above; ``None`` only stops on non-finite values.
    record_grad_norms : bool
        Record the per-epoch mean gradient norm of each parameter.
    record_epoch_metrics : bool, default True
        Evaluate the model after every epoch: ``loss_per_epoch`` (the loss on the whole
        training set, not the mean of the epoch's batch losses), ``train_acc``, and with a
        validation set ``val_loss`` and ``val_acc``. That is one more forward pass over the
        training set per epoch (a third of an epoch's arithmetic, which is a forward and a
        backward pass). ``False`` skips it, to time the training steps alone
        (``benchmarks/bench_fit.py`` does, beside the default): these four lists then stay
        empty (``final_loss`` is NaN and ``to_rows()`` is empty; the mean batch loss of each
        epoch, what scikit-learn records, is still there: ``mean_batch_loss_per_epoch()``), and
        divergence is detected from the batch losses, gradients and updates only. The loss
        before training is still computed, to check the data and set the divergence threshold.
    callback : callable, optional
        ``callback(epoch, history)`` after each epoch (and after epoch 0); returning ``True``
        stops training.
    **hyper
        The rule's other hyperparameters (``beta``, ``rho``, ``beta1``, ``beta2``, ``eps``).

    Returns
    -------
    History
    """
    X, y = check_examples(X, y)
    n = len(y)
    if lr is None and schedule is None:
        raise ValueError("lr must be a finite number > 0 (or give a schedule), got lr=None")
    lr = check_lr(lr) if lr is not None else None
    if schedule is not None and not callable(schedule):
        raise TypeError(f"schedule must be a callable step -> lr, got schedule={_show(schedule)}")
    num_epochs = check_positive_int(num_epochs, "num_epochs")
    batch_size = check_batch_size(batch_size, n)
    rng = check_rng(rng)
    if (X_val is None) != (y_val is None):
        raise ValueError("X_val and y_val must be given together, got "
                         f"X_val={_show(X_val)} and y_val={_show(y_val)}")
    if X_val is not None:
        X_val, y_val = check_examples(X_val, y_val, X_name="X_val", y_name="y_val")
        if X_val.shape[1:] != X.shape[1:]:
            raise ValueError(f"X_val must have examples shaped like those of X {X.shape[1:]}, "
                             f"got X_val of shape {X_val.shape}")
    if divergence_factor is not None:
        divergence_factor = check_positive_number(divergence_factor, "divergence_factor")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got callback={_show(callback)}")
    if not isinstance(record_epoch_metrics, (bool, np.bool_)):
        raise TypeError("record_epoch_metrics must be True or False, "
                        f"got record_epoch_metrics={_show(record_epoch_metrics)}")
    resolved = get_rule(rule, init)
    check_hyper(resolved, hyper)
    params = model.params
    keys = _check_params(params)

    history = History(config={
        "rule": resolved.name, "lr": lr, "batch_size": batch_size,
        "schedule": None if schedule is None else getattr(schedule, "__name__", repr(schedule)),
        "num_epochs": num_epochs, "hyper": {**resolved.defaults, **hyper}, "n": n,
    })
    if record_grad_norms:
        history.grad_norms = {key: [] for key in keys}

    shortcuts = _has_shortcuts(model)
    workspace: dict = {}  # the arrays the model's shortcuts reuse from batch to batch
    ready: list = []  # (X, y) then (X_val, y_val) checked once by the model, for its shortcuts

    def measure(i: int, X_i, y_i) -> tuple[float, float | None]:
        if not shortcuts:
            return _measure(model, X_i, y_i)
        if len(ready) == i:  # epoch 0: the model's checks, with their errors, once per set
            ready.append(model._prepare_data(X_i, y_i))
        loss, score = model._evaluate_unchecked(*ready[i], y_i, workspace)
        return float(loss), float(score)

    def record_epoch() -> None:
        loss, score = measure(0, X, y)
        history.loss_per_epoch.append(loss)
        if score is not None:
            history.train_acc.append(score)
        if X_val is not None:
            loss, score = measure(1, X_val, y_val)
            history.val_loss.append(loss)
            if score is not None:
                history.val_acc.append(score)

    def stop(epoch: int, loss: float, lr_t, reason: str = "") -> History:
        history.diverged = True
        history.diverged_at = history.steps
        history.message = (f"diverged at epoch {epoch} step {history.steps}: loss={loss:.4g} "
                           f"(lr={lr_t:.4g}){reason}")
        warnings.warn(history.message, DivergenceWarning, stacklevel=3)
        return history

    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        record_epoch()  # also checks, on the whole data, that the model accepts X and y
        initial = history.loss_per_epoch[0]
        if not math.isfinite(initial):
            for values in (history.loss_per_epoch, history.train_acc, history.val_loss,
                           history.val_acc):
                values.clear()
            return stop(0, initial, lr if lr is not None else schedule(0),
                        ": the initial loss is not finite")
        limit = math.inf if divergence_factor is None else divergence_factor * max(initial, 1.0)
        if not record_epoch_metrics:
            for values in (history.loss_per_epoch, history.train_acc, history.val_loss,
                           history.val_acc):
                values.clear()
        if callback is not None and callback(0, history) is True:
            history.message = "stopped by callback before training"
            return history

        updater = _make_updater(resolved, params, hyper)
        X_train, y_train = ready[0] if shortcuts else (X, y)
        losses = history.loss_per_step
        lr_t = lr
        for epoch in range(1, num_epochs + 1):
            updater.sync()  # a callback may have changed the parameters
            updater.norm_sums[:] = 0.0
            steps_before = history.steps
            start = time.perf_counter()
            for X_batch, y_batch in _batches(X_train, y_train, batch_size, rng):
                if schedule is not None:
                    lr_t = schedule(history.steps)
                    if not 0 < lr_t < math.inf:
                        raise ValueError(f"schedule({history.steps}) must return a finite lr > 0, "
                                         f"got lr={lr_t!r}")
                try:
                    if shortcuts:
                        loss, grads = model._loss_and_grads_unchecked(
                            X_batch, y_batch, rng, True, workspace, updater.grads_out)
                    else:
                        loss, grads = model.loss_and_grads(X_batch, y_batch, rng=rng, train=True)
                except ValueError as exc:
                    # gdlib's layers refuse non-finite arrays; after a successful step that
                    # means the parameters have blown up (e.g. logits overflowed to inf).
                    if history.steps == 0 or not _non_finite_error(exc):
                        raise
                    return stop(epoch, math.nan, lr_t, f": the loss could not be computed ({exc})")
                if history.steps == 0:
                    _check_grads(params, grads)
                loss = float(loss)
                if not loss <= limit:  # also catches NaN
                    return stop(epoch, loss, lr_t)
                refused = updater(grads, lr_t)
                if refused is not None:
                    return stop(epoch, loss, lr_t, ": " + refused)
                losses.append(loss)
                history.steps += 1
                history.gradient_evaluations += len(y_batch)
            history.epoch_time.append(time.perf_counter() - start)
            if record_grad_norms:
                count = history.steps - steps_before
                for key, norm_sum in zip(keys, updater.norm_sums.tolist()):
                    history.grad_norms[key].append(norm_sum / count)
            if record_epoch_metrics:
                try:
                    record_epoch()
                except ValueError as exc:
                    if not _non_finite_error(exc):
                        raise
                    _drop_partial_epoch(history)
                    return stop(epoch, math.nan, lr_t,
                                f": the epoch's loss could not be computed ({exc})")
                if not math.isfinite(history.loss_per_epoch[-1]):
                    loss = history.loss_per_epoch[-1]
                    _drop_partial_epoch(history)
                    return stop(epoch, loss, lr_t, ": the training-set loss is not finite")
            if callback is not None and callback(epoch, history) is True:
                history.message = f"stopped by callback after epoch {epoch} ({history.steps} steps)"
                return history
    history.message = f"completed {num_epochs} epoch(s), {history.steps} steps"
    return history


def _has_shortcuts(model) -> bool:
    """Whether ``model`` offers fit's private shortcuts (gdlib's :class:`~gdlib.model.MLP`
    does) and its public methods are its own, so that the shortcuts compute what they would.

    ``_prepare_data(X, y)`` checks and converts a data set once, raising what
    ``loss_and_grads`` would; ``_loss_and_grads_unchecked(X, y, rng, train, workspace,
    grads_out)`` and ``_evaluate_unchecked(X, y_ready, y, workspace)`` then skip the per-call
    checks.
    """
    own = getattr(model, "_own_public_methods", None)
    return (callable(own) and own() is True and all(
        callable(getattr(model, name, None))
        for name in ("_prepare_data", "_loss_and_grads_unchecked", "_evaluate_unchecked")))


def _non_finite_error(exc: Exception) -> bool:
    """Whether an error is gdlib's refusal of NaN/inf values (see ``_validate.check_array``)."""
    text = str(exc)
    return "NaN" in text or "infinite" in text
