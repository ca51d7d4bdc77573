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
small functions its loop is made of: argument checks, one training step, the per-epoch
record, divergence); :class:`History` and :class:`DivergenceWarning` live in
:mod:`gdlib.train.history`, and the checks of parameters, gradients and steps and the updater
that applies the rule (resolved by :func:`gdlib.optim.get_rule`) in :mod:`gdlib.train.updaters`.
The package :mod:`gdlib.train` gathers the public names of all three.

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
from gdlib.train.history import DivergenceWarning, History, _drop_partial_epoch
from gdlib.optim import check_hyper, get_rule
from gdlib.train.updaters import _Updater, _check_grads, _check_params

__all__ = ["iterate_minibatches", "fit", "evaluate"]


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
        callback: Callable | None = None, **hyper) -> History:
    r"""Train ``model`` by mini-batch gradient descent; return a :class:`History`.

    Each epoch draws a fresh permutation from ``rng`` and cuts it into batches
    (:func:`iterate_minibatches`). For each batch :math:`B` at step :math:`t = 0, 1, \dots`, the
    model's own ``loss_and_grads`` gives the mean batch loss and its gradient, and the rule moves
    the parameters :math:`\theta` (its state :math:`s` carried from step to step):

    .. math::

        \eta_t = \begin{cases}\texttt{schedule}(t) & \text{if given}\\ \texttt{lr} &
        \text{otherwise}\end{cases}, \qquad
        (\theta, s) \leftarrow \mathrm{step}\Bigl(\theta,\ \nabla_\theta \tfrac{1}{|B|}
        \textstyle\sum_{i \in B} \ell_i,\ s;\ \mathrm{lr}=\eta_t, \dots\Bigr).

    An elementwise rule of :data:`gdlib.optim.RULES` runs once per step on all parameters as one
    flat vector :math:`\theta` (a :class:`gdlib.nn.MLP`'s parameters are views into one, so
    the update writes them all at once); any other rule runs once per parameter array, with one
    state each. Both give the numbers of the hand-written loop ``for X_b, y_b in
    iterate_minibatches(...): loss, grads = model.loss_and_grads(X_b, y_b, rng=rng); ...``
    with the rule's ``step`` on each array. A rule of :mod:`gdlib.optim` has its arguments
    checked on the first step of each epoch, and the later steps call its arithmetic alone
    (``step.__wrapped__``); any other step function is called as it is. Parameters are updated
    in place, so references to them stay valid.

    After every epoch (and before the first) the model is evaluated on the whole training set
    and on the validation set if given (:func:`evaluate`): ``History.loss_per_epoch`` is the
    loss of the parameters reached, not the mean of the epoch's batch losses (that is
    :meth:`History.mean_batch_loss_per_epoch`).

    Divergence: training stops, with a :class:`DivergenceWarning` and ``history.diverged``, as
    soon as a batch loss or gradient is not finite, a batch loss exceeds
    ``divergence_factor * max(initial_loss, 1)``, an update would make a parameter non-finite,
    or the loss after an epoch is not finite. The offending update is not applied, so the model
    keeps its last finite parameters, and the offending loss is not recorded. Numpy's overflow
    warnings are silenced inside ``fit``.

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
        ``schedule(t) -> lr`` for step ``t = 0, 1, ...`` (see :mod:`gdlib.optim.schedules`); overrides
        ``lr``.
    init : callable, optional
        ``init(x) -> state``: overrides the rule's own, or gives a bare step function its state.
    divergence_factor : float or None
        See above; ``None`` only stops on non-finite values.
    record_grad_norms : bool
        Record the per-epoch mean gradient norm of each parameter.
    callback : callable, optional
        ``callback(epoch, history)`` after each epoch (and after epoch 0); returning ``True``
        stops training.
    **hyper
        The rule's other hyperparameters (``beta``, ``rho``, ``beta1``, ``beta2``, ``eps``).

    Returns
    -------
    History
    """
    X, y, val, lr, num_epochs, batch_size, rng, limit_factor = _check_fit_arguments(
        X, y, X_val, y_val, lr, schedule, num_epochs, batch_size, rng, divergence_factor, callback)
    resolved = get_rule(rule, init)
    check_hyper(resolved, hyper)
    keys = _check_params(model.params)
    history = _new_history(resolved, lr, schedule, num_epochs, batch_size, len(y), hyper,
                           keys if record_grad_norms else [])
    lr_t = lr
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        stop = _record_epoch(history, model, (X, y), val, epoch=0)
        if stop is not None:
            return _diverged(history, 0, lr if lr is not None else schedule(0), *stop)
        limit = limit_factor * max(history.loss_per_epoch[0], 1.0)
        if callback is not None and callback(0, history) is True:
            return _stopped(history, "stopped by callback before training")
        updater = _Updater(resolved, model.params, hyper)
        for epoch in range(1, num_epochs + 1):
            updater.start_epoch()  # a callback may have replaced parameters
            start = time.perf_counter()
            for X_batch, y_batch in _batches(X, y, batch_size, rng):
                lr_t = _learning_rate(lr, schedule, history.steps)
                loss, stop = _train_step(model, updater, X_batch, y_batch, rng, lr_t, limit,
                                         history.steps)
                if stop is not None:
                    return _diverged(history, epoch, lr_t, loss, stop)
                _record_step(history, loss, len(y_batch))
            _end_epoch(history, updater, keys, time.perf_counter() - start, record_grad_norms)
            stop = _record_epoch(history, model, (X, y), val, epoch)
            if stop is not None:
                return _diverged(history, epoch, lr_t, *stop)
            if callback is not None and callback(epoch, history) is True:
                return _stopped(history, f"stopped by callback after epoch {epoch} "
                                         f"({history.steps} steps)")
    return _stopped(history, f"completed {num_epochs} epoch(s), {history.steps} steps")


# -- the pieces of fit ---------------------------------------------------------------------


def _check_fit_arguments(X, y, X_val, y_val, lr, schedule, num_epochs, batch_size, rng,
                         divergence_factor, callback):
    """fit's arguments checked (errors name the argument and its value) and converted:
    ``(X, y, (X_val, y_val) or None, lr, num_epochs, batch_size, rng, divergence factor)``,
    the factor ``inf`` when ``divergence_factor`` is None."""
    X, y = check_examples(X, y)
    if lr is None and schedule is None:
        raise ValueError("lr must be a finite number > 0 (or give a schedule), got lr=None")
    lr = check_lr(lr) if lr is not None else None
    if schedule is not None and not callable(schedule):
        raise TypeError(f"schedule must be a callable step -> lr, got schedule={_show(schedule)}")
    num_epochs = check_positive_int(num_epochs, "num_epochs")
    batch_size = check_batch_size(batch_size, len(y))
    rng = check_rng(rng)
    if (X_val is None) != (y_val is None):
        raise ValueError("X_val and y_val must be given together, got "
                         f"X_val={_show(X_val)} and y_val={_show(y_val)}")
    val = None
    if X_val is not None:
        val = check_examples(X_val, y_val, X_name="X_val", y_name="y_val")
        if val[0].shape[1:] != X.shape[1:]:
            raise ValueError(f"X_val must have examples shaped like those of X {X.shape[1:]}, "
                             f"got X_val of shape {val[0].shape}")
    factor = math.inf
    if divergence_factor is not None:
        factor = check_positive_number(divergence_factor, "divergence_factor")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got callback={_show(callback)}")
    return X, y, val, lr, num_epochs, batch_size, rng, factor


def _new_history(rule, lr, schedule, num_epochs, batch_size, n, hyper, norm_keys) -> History:
    """An empty History with fit's configuration (and a gradient-norm list per key given)."""
    history = History(config={
        "rule": rule.name, "lr": lr, "batch_size": batch_size,
        "schedule": None if schedule is None else getattr(schedule, "__name__", repr(schedule)),
        "num_epochs": num_epochs, "hyper": {**rule.defaults, **hyper}, "n": n,
    })
    if norm_keys:
        history.grad_norms = {key: [] for key in norm_keys}
    return history


def _learning_rate(lr, schedule, t: int) -> float:
    """The learning rate of step ``t``: ``schedule(t)`` if given (checked), else ``lr``."""
    if schedule is None:
        return lr
    lr_t = schedule(t)
    if not 0 < lr_t < math.inf:
        raise ValueError(f"schedule({t}) must return a finite lr > 0, got lr={lr_t!r}")
    return lr_t


def _train_step(model, updater: _Updater, X_batch, y_batch, rng, lr_t: float, limit: float,
                t: int) -> tuple[float, str | None]:
    """Step ``t``: ``model.loss_and_grads`` on the batch, then the rule's update.

    Returns ``(batch loss, None)``, or ``(loss, reason)`` without updating when training has
    diverged: the loss exceeds ``limit`` or is NaN, a gradient or the update is not finite, or
    the parameters have blown up so far that the model refuses them (gdlib's layers refuse
    non-finite arrays; on step 0 such an error is the data's and is raised). On step 0 the
    gradients are also checked against the parameters.
    """
    try:
        loss, grads = model.loss_and_grads(X_batch, y_batch, rng=rng, train=True)
    except ValueError as exc:
        if t == 0 or not _non_finite_error(exc):
            raise
        return math.nan, f": the loss could not be computed ({exc})"
    if t == 0:
        _check_grads(model.params, grads)
    loss = float(loss)
    if not loss <= limit:  # also catches NaN
        return loss, ""
    refused = updater(grads, lr_t)
    return loss, (None if refused is None else ": " + refused)


def _record_step(history: History, loss: float, batch: int) -> None:
    """A step was taken: its batch loss, the step count and the examples it used."""
    history.loss_per_step.append(loss)
    history.steps += 1
    history.gradient_evaluations += batch


def _end_epoch(history: History, updater: _Updater, keys, seconds: float,
               record_grad_norms: bool) -> None:
    """The epoch's training time and each parameter's mean gradient norm over its steps."""
    history.epoch_time.append(seconds)
    if record_grad_norms:
        for key, norm_sum in zip(keys, updater.norm_sums.tolist()):
            history.grad_norms[key].append(norm_sum / updater.steps)


def _record_epoch(history: History, model, train, val, epoch: int) -> tuple[float, str] | None:
    """Evaluate the model after ``epoch`` epochs on the training set and on the validation set
    if any, appending to the History's per-epoch lists.

    Returns None, or ``(loss, reason)`` when the loss is not finite (or, after a training epoch,
    cannot be computed): the epoch's entries are then removed again.
    """
    try:
        for data, losses, scores in ((train, history.loss_per_epoch, history.train_acc),
                                     (val, history.val_loss, history.val_acc)):
            if data is None:
                continue
            loss, score = _measure(model, *data)
            losses.append(loss)
            if score is not None:
                scores.append(score)
    except ValueError as exc:
        if epoch == 0 or not _non_finite_error(exc):
            raise
        _drop_partial_epoch(history)
        return math.nan, f": the epoch's loss could not be computed ({exc})"
    loss = history.loss_per_epoch[-1]
    if math.isfinite(loss):
        return None
    _drop_partial_epoch(history)
    return loss, (": the initial loss is not finite" if epoch == 0
                  else ": the training-set loss is not finite")


def _diverged(history: History, epoch: int, lr_t: float, loss: float, reason: str) -> History:
    """Mark the History as diverged at the current step, warn, and return it."""
    history.diverged = True
    history.diverged_at = history.steps
    history.message = (f"diverged at epoch {epoch} step {history.steps}: loss={loss:.4g} "
                       f"(lr={lr_t:.4g}){reason}")
    warnings.warn(history.message, DivergenceWarning, stacklevel=3)
    return history


def _stopped(history: History, message: str) -> History:
    """End the run with ``message``; return the History."""
    history.message = message
    return history


def _non_finite_error(exc: Exception) -> bool:
    """Whether an error is gdlib's refusal of NaN/inf values (see ``_validate.check_array``)."""
    text = str(exc)
    return "NaN" in text or "infinite" in text
