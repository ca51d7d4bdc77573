"""What :func:`gdlib.train.fit` returns and warns: the record of a training run.

:class:`History` holds the loss at every step and after every epoch, accuracies, timings and
gradient norms per layer, and whether (and where) training diverged;
:class:`DivergenceWarning` is the warning ``fit`` gives when it stops a diverging run, and
:func:`_drop_partial_epoch` trims a History back to its last complete epoch. The first two
are part of :mod:`gdlib.train`'s public API.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

__all__ = ["DivergenceWarning", "History"]


class DivergenceWarning(UserWarning):
    """Training stopped because the loss blew up or a parameter stopped being finite.

    A ``UserWarning`` (not a ``RuntimeWarning``), so that the course's test configuration,
    which turns gdlib's RuntimeWarnings into errors, still lets a diverging run be inspected.
    """


@dataclass
class History:
    r"""What happened during :func:`fit`.

    Per-epoch evaluation lists (``loss_per_epoch``, ``train_acc``, ``val_loss``, ``val_acc``)
    start with the value *before* training (epoch 0), so entry ``e`` is after ``e`` epochs and
    they have ``num_epochs + 1`` entries; ``epoch_time`` and each ``grad_norms`` list have one
    entry per training epoch. A run that diverged keeps only complete epochs, and never holds a
    NaN or infinite loss.

    Attributes
    ----------
    loss_per_step : list of float
        The mini-batch loss (with dropout, as trained on) at each step, before its update.
    loss_per_epoch : list of float
        The loss on the whole training set (``train=False``: no dropout) after each epoch:
        one more pass over the data, not the mean of the epoch's batch losses (which
        ``loss_per_step`` holds and :meth:`mean_batch_loss_per_epoch` averages), so that every
        entry is the loss of one set of parameters.
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

    def mean_batch_loss_per_epoch(self) -> list[float]:
        r"""The mean of each complete epoch's batch losses, weighted by batch size.

        For epoch :math:`e` with batches :math:`B_1, \dots, B_m` (sizes summing to :math:`n`)
        and batch losses :math:`L_{B_j}` (``loss_per_step``, each before its update),

        .. math::

            \bar L_e = \frac{1}{n} \sum_{j=1}^{m} |B_j|\, L_{B_j},

        what scikit-learn's ``MLPClassifier.loss_curve_`` (without its penalty term) and
        Keras's epoch loss report. Unlike ``loss_per_epoch`` it costs no extra pass over the
        data; but it mixes the losses of the epoch's successive parameters, so it lags behind
        the loss of the parameters reached at the end of the epoch (the more steps per epoch,
        the more).

        Returns
        -------
        list of float
            One entry per complete epoch (entry ``e - 1`` is epoch ``e``; there is no epoch 0).
        """
        n, batch_size = self.config.get("n"), self.config.get("batch_size")
        if not n or not batch_size:
            raise ValueError("mean_batch_loss_per_epoch needs the History of a fit call "
                             f"(config with n and batch_size), got config={self.config!r}")
        sizes = [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
        steps, weights = len(sizes), [size / n for size in sizes]
        return [math.fsum(w * loss for w, loss in zip(weights, self.loss_per_step[e * steps:]))
                for e in range(self.num_epochs)]

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


def _drop_partial_epoch(history: History) -> None:
    """Remove the last epoch's entries so that every per-epoch list ends at a complete epoch."""
    complete = len(history.epoch_time) - 1
    history.epoch_time[complete:] = []
    for norms in history.grad_norms.values():
        norms[complete:] = []
    for values in (history.loss_per_epoch, history.train_acc, history.val_loss, history.val_acc):
        values[complete + 1:] = []
