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

Introduced in the chapter *Training a network: mini-batches, epochs and data*.
"""

from __future__ import annotations

import inspect
import math
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterator

import numpy as np

from gdlib import optim
from gdlib._validate import (
    _show, check_batch_size, check_lr, check_positive_int, check_positive_number, check_rng,
    check_examples,
)

__all__ = ["DivergenceWarning", "History", "iterate_minibatches", "fit", "evaluate"]


class DivergenceWarning(UserWarning):
    """Training stopped because the loss blew up or a parameter stopped being finite.

    A ``UserWarning`` (not a ``RuntimeWarning``), so that the course's test configuration,
    which turns gdlib's RuntimeWarnings into errors, still lets a diverging run be inspected.
    """


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


@dataclass
class History:
    r"""What happened during :func:`fit`.

    Per-epoch evaluation lists (``loss_per_epoch``, ``train_acc``, ``val_loss``, ``val_acc``)
    start with the value *before* training (epoch 0), so entry ``e`` is after ``e`` epochs and
    they have ``num_epochs + 1`` entries; ``epoch_time`` and each ``grad_norms`` list have one
    entry per training epoch. A run that diverged keeps only complete epochs, and never holds a
    NaN or infinite loss. ``fit(..., record_epoch_metrics=False)`` leaves the four evaluation
    lists empty.

    Attributes
    ----------
    loss_per_step : list of float
        The mini-batch loss (with dropout, as trained on) at each step, before its update.
    loss_per_epoch : list of float
        The loss on the whole training set (``train=False``: no dropout) after each epoch:
        one more pass over the data, not the mean of the epoch's batch losses (which
        ``loss_per_step`` holds), so that every entry is the loss of one set of parameters.
    train_acc, val_acc : list of float
        ``model.score`` on the training and validation sets (accuracy, or :math:`R^2` for
        regression); empty if the model has no ``score`` or no validation set was given.
    val_loss : list of float
        The validation loss after each epoch (empty without a validation set).
    epoch_time : list of float
        Wall-clock seconds (``time.perf_counter``) of each epoch's training steps, evaluation
        excluded.
    grad_norms : dict of str -> list of float
        For each parameter name, the mean over the epoch's steps of :math:`\lVert g \rVert_2`.
    steps : int
        Number of parameter updates made.
    gradient_evaluations : int
        Number of per-example gradients computed (examples processed in training steps).
    diverged : bool
    diverged_at : int or None
        Index of the step (from 0, as in ``loss_per_step``) at which divergence was detected.
    message : str
        One line saying how training ended.
    config : dict
        The rule, learning rate, batch size, number of epochs and hyperparameters used.
    """

    loss_per_step: list = field(default_factory=list)
    loss_per_epoch: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    epoch_time: list = field(default_factory=list)
    grad_norms: dict = field(default_factory=dict)
    steps: int = 0
    gradient_evaluations: int = 0
    diverged: bool = False
    diverged_at: int | None = None
    message: str = ""
    config: dict = field(default_factory=dict)

    @property
    def final_loss(self) -> float:
        """The training-set loss after the last complete epoch (NaN if there is none)."""
        return self.loss_per_epoch[-1] if self.loss_per_epoch else math.nan

    @property
    def num_epochs(self) -> int:
        """Number of complete training epochs."""
        return len(self.epoch_time)

    def as_dict(self) -> dict:
        """Everything as plain Python containers (for JSON or a DataFrame of steps)."""
        return asdict(self)

    def to_rows(self) -> list[dict]:
        """One dict per epoch (0 = before training): the table a chapter prints.

        Keys: ``epoch``, ``loss``, and where recorded ``train_acc``, ``val_loss``, ``val_acc``,
        ``epoch_time`` (None at epoch 0) and ``grad_norm[<name>]`` (None at epoch 0).
        """
        rows = []
        for e, loss in enumerate(self.loss_per_epoch):
            row = {"epoch": e, "loss": loss}
            for key in ("train_acc", "val_loss", "val_acc"):
                values = getattr(self, key)
                if values:
                    row[key] = values[e]
            row["epoch_time"] = self.epoch_time[e - 1] if e > 0 else None
            for name, norms in self.grad_norms.items():
                row[f"grad_norm[{name}]"] = norms[e - 1] if e > 0 else None
            rows.append(row)
        return rows


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


def _resolve_rule(rule, init) -> tuple[str, Callable | None, Callable, dict]:
    """(name, init, step, defaults) from a name, a Rule, an (init, step) pair or a bare step."""
    if callable(rule) and not isinstance(rule, tuple):
        name = getattr(rule, "__name__", "custom")
        return name, init, rule, optim._keyword_defaults(rule)
    if isinstance(rule, str) and rule not in optim.RULES:
        raise ValueError(f"rule must be one of {', '.join(optim.RULES)}, a Rule, an (init, step) "
                         f"pair or a step function, got rule={rule!r}")
    resolved = optim.get_rule(rule)
    return resolved.name, init if init is not None else resolved.init, resolved.step, resolved.defaults


def _check_hyper(name: str, step: Callable, hyper: dict) -> None:
    try:
        inspect.signature(step).bind(None, None, None, lr=1.0, **hyper)
    except ValueError:  # no signature to check against
        pass
    except TypeError as exc:
        raise TypeError(f"rule {name!r} does not accept the arguments lr=..., "
                        f"{', '.join(f'{k}={v!r}' for k, v in hyper.items())}: {exc}") from None


def _check_update(name: str, key: str, x: np.ndarray, out) -> None:
    """A step must return (x_new, state_new) with x_new shaped like x (checked on step 0)."""
    if not (isinstance(out, tuple) and len(out) == 2):
        raise TypeError(f"the step function of rule {name!r} must return a pair (x_new, state_new), "
                        f"got {_show(out)} for params[{key!r}]")
    if np.shape(out[0]) != x.shape:
        raise ValueError(f"the step function of rule {name!r} returned x_new of shape "
                         f"{np.shape(out[0])} for params[{key!r}] of shape {x.shape}")


def _check_params(params) -> list[str]:
    """The model's parameters must be a non-empty dict of float arrays (updated in place)."""
    if not isinstance(params, dict) or not params:
        raise TypeError(f"model.params must be a non-empty dict of float arrays, got {_show(params)}")
    for key, value in params.items():
        if not (isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating)
                and value.flags.writeable):
            raise TypeError(f"model.params[{key!r}] must be a writeable float numpy array "
                            f"(fit updates it in place), got {_show(value)}")
    return list(params)


def _check_grads(params: dict, grads) -> None:
    """On the first step: the model's gradients match its parameters key by key, shape by shape."""
    if not isinstance(grads, dict):
        raise TypeError(f"model.loss_and_grads must return (loss, grads) with grads a dict, "
                        f"got grads={_show(grads)}")
    for key, value in params.items():
        if key not in grads:
            raise KeyError(f"grads has no entry for parameter {key!r}; params has keys "
                           f"{list(params)}, grads has {list(grads)}")
        if np.shape(grads[key]) != value.shape:
            raise ValueError(f"grads[{key!r}] must have the shape of params[{key!r}] "
                             f"{value.shape}, got shape {np.shape(grads[key])}")


class _PerArrayUpdater:
    """Applies a rule to each parameter array with its own state: the general case.

    ``__call__(grads, lr)`` adds each gradient's L2 norm to ``norm_sums``, computes every new
    value, and only if all are finite writes them into the model's arrays (in place); it
    returns None on success, or the reason it refused.
    """

    def __init__(self, name, init, step, params: dict, hyper: dict):
        self.name, self.step, self.params, self.hyper = name, step, params, hyper
        self.keys = list(params)
        self.states = [init(params[k]) if init is not None else None for k in self.keys]
        self.norm_sums = np.zeros(len(self.keys))
        self.checked = False
        self.grads_out = None  # the step may keep g (in its state): fresh gradients every step

    def sync(self) -> None:
        """Nothing to do: the model's arrays are read at every step."""

    def __call__(self, grads: dict, lr: float) -> str | None:
        updates = []
        for i, key in enumerate(self.keys):
            g = grads[key]
            sq_norm = float(np.vdot(g, g))
            if not math.isfinite(sq_norm):
                return f"the gradient of {key} is not finite"
            self.norm_sums[i] += math.sqrt(sq_norm)
            x = self.params[key]
            out = self.step(x, g, self.states[i], lr=lr, **self.hyper)
            if not self.checked:
                _check_update(self.name, key, x, out)
            if not math.isfinite(float(np.sum(out[0]))):
                return f"the update made {key} non-finite"
            updates.append(out)
        self.checked = True
        for i, key in enumerate(self.keys):
            self.params[key][...] = updates[i][0]
            self.states[i] = updates[i][1]
        return None


class _FlatUpdater(_PerArrayUpdater):
    """The same for a reference rule of :mod:`gdlib.optim`, applied once per step to all
    parameters concatenated into one vector.

    The reference rules act elementwise (Adam's step count is the same for every array), so
    this gives bit for bit the result of one state per array, with a quarter of the calls for
    a two-layer network. The first step after each :meth:`sync` goes through the rule's public
    (checked) step; the next ones through the same arithmetic without the checks
    (``optim._UNCHECKED``), since fit has checked everything they would (finite gradients,
    finite parameters, valid hyperparameters and state).

    A model that can write its gradients into given arrays gets :attr:`grads_out`, views of
    one flat gradient vector, which then needs no concatenation.
    """

    def __init__(self, name, init, step, params: dict, hyper: dict):
        self.name, self.step, self.params, self.hyper = name, step, params, hyper
        self.unchecked = optim._UNCHECKED.get(step, step)
        self.keys = list(params)
        self.norm_sums = np.zeros(len(self.keys))
        bounds = np.cumsum([0] + [params[k].size for k in self.keys]).tolist()
        self.slices = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
        self.sync()
        self.state = init(self.theta)
        self.grad = np.empty(self.theta.shape)
        self.grads_out = None
        if self.theta.dtype == np.float64:  # the dtype of gdlib's gradients
            self.grads_out = {k: self.grad[part].reshape(params[k].shape)
                              for k, part in zip(self.keys, self.slices)}

    def sync(self) -> None:
        """Re-read the model's arrays into the flat vector (keeping the rule's state)."""
        for key in self.keys:
            if not self.params[key].flags.c_contiguous:  # reshape would copy, not view
                raise ValueError(f"model.params[{key!r}] was replaced by a non-contiguous array "
                                 "during fit; update parameters in place instead")
        self.flat_views = [self.params[k].reshape(-1) for k in self.keys]  # share memory
        self.theta = np.concatenate(self.flat_views)
        self.checked = False

    def __call__(self, grads: dict, lr: float) -> str | None:
        flat = []
        norm_sums = self.norm_sums
        written = grads is self.grads_out
        for i, key in enumerate(self.keys):
            g = grads[key]
            sq_norm = float(np.vdot(g, g))
            if not math.isfinite(sq_norm):
                return f"the gradient of {key} is not finite"
            norm_sums[i] += math.sqrt(sq_norm)
            if not written:
                flat.append(np.ravel(g))
        g = self.grad if written else np.concatenate(flat)
        if self.checked and g.shape == self.theta.shape:  # else the step explains
            lr = lr if type(lr) is float else check_lr(lr)
            theta, state = self.unchecked(self.theta, g.astype(self.theta.dtype, copy=False),
                                          self.state, lr=lr, **self.hyper)
        else:
            theta, state = self.step(self.theta, g, self.state, lr=lr, **self.hyper)
            self.checked = True
        if not math.isfinite(theta.sum()):
            return "the update made a parameter non-finite"
        self.theta, self.state = theta, state
        for view, part in zip(self.flat_views, self.slices):
            view[...] = theta[part]
        return None


def _make_updater(name, init, step, params: dict, hyper: dict) -> _PerArrayUpdater:
    """The flat updater for the reference rules on same-dtype float arrays, else per array."""
    reference = any(step is r.step and init is r.init for r in optim.RULES.values())
    dtypes = {p.dtype for p in params.values()}
    contiguous = all(p.flags.c_contiguous for p in params.values())
    if reference and contiguous and len(dtypes) == 1:
        return _FlatUpdater(name, init, step, params, hyper)
    return _PerArrayUpdater(name, init, step, params, hyper)


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
        empty (``final_loss`` is NaN and ``to_rows()`` is empty), and divergence is detected
        from the batch losses, gradients and updates only. The loss before training is still
        computed, to check the data and set the divergence threshold.
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
    if init is not None and not callable(init):
        raise TypeError(f"init must be a callable x -> state, got init={_show(init)}")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got callback={_show(callback)}")
    if not isinstance(record_epoch_metrics, (bool, np.bool_)):
        raise TypeError("record_epoch_metrics must be True or False, "
                        f"got record_epoch_metrics={_show(record_epoch_metrics)}")
    name, rule_init, step, defaults = _resolve_rule(rule, init)
    _check_hyper(name, step, hyper)
    params = model.params
    keys = _check_params(params)

    history = History(config={
        "rule": name, "lr": lr, "batch_size": batch_size,
        "schedule": None if schedule is None else getattr(schedule, "__name__", repr(schedule)),
        "num_epochs": num_epochs, "hyper": {**defaults, **hyper}, "n": n,
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

        updater = _make_updater(name, rule_init, step, params, hyper)
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


def _drop_partial_epoch(history: History) -> None:
    """Remove the last epoch's entries so that every per-epoch list ends at a complete epoch."""
    complete = len(history.epoch_time) - 1
    history.epoch_time[complete:] = []
    for norms in history.grad_norms.values():
        norms[complete:] = []
    for values in (history.loss_per_epoch, history.train_acc, history.val_loss, history.val_acc):
        values[complete + 1:] = []
