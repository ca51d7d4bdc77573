"""What every gdlib classifier shares once it has a ``forward`` giving logits (n, k), and the
source of their dropout masks."""

from __future__ import annotations

import numpy as np

from gdlib._validate import check_rng


class LogitClassifier:
    """Mixin: ``predict``, ``score``, ``evaluate`` and ``layer_names`` from ``forward`` and
    ``layer_keys``, for a model whose objective is the mean softmax cross-entropy of its logits
    plus ``_penalty()`` (0 unless the model has penalties)."""

    def predict(self, X) -> np.ndarray:
        """Predicted class labels (n,): the index of the largest logit."""
        return self.forward(X).argmax(axis=1)

    def score(self, X, y) -> float:
        """Accuracy: the fraction of examples whose predicted label equals ``y``."""
        pred = self.predict(X)
        y = np.asarray(y)
        if y.shape != pred.shape:
            raise ValueError(f"y must have shape {pred.shape}, got y of shape {y.shape}")
        return float(np.mean(pred == y))

    def evaluate(self, X, y) -> tuple[float, float]:
        r"""``(loss_and_grads(X, y, train=False)[0], score(X, y))`` from one forward pass and no
        backward pass: what :func:`gdlib.train.fit` records after every epoch.

        With the logits :math:`Z` of ``forward(X)`` (no dropout), the loss is
        :math:`\frac{1}{n}\sum_i -\log \mathrm{softmax}(Z_i)_{y_i}` plus the penalties, and the
        score is the fraction of rows whose largest logit is at :math:`y_i`. A model whose
        ``loss_and_grads``, ``forward``, ``predict`` or ``score`` is defined outside gdlib (a
        subclass's own) gets those methods' numbers instead.
        """
        from gdlib.nn.losses import _check_class_labels, _softmax_cross_entropy

        if any(name in vars(self) or not getattr(type(self), name).__module__.startswith("gdlib.")
               for name in ("loss_and_grads", "forward", "predict", "score")):
            return float(self.loss_and_grads(X, y, rng=None, train=False)[0]), self.score(X, y)
        with np.errstate(over="ignore", invalid="ignore"):
            logits = self.forward(X)
            labels = _check_class_labels(y, len(logits), logits.shape[1])
            score = float(np.mean(logits.argmax(axis=1) == labels))
            loss = _softmax_cross_entropy(logits, labels)[0]
            loss += self._penalty()
        return float(loss), score

    def _penalty(self) -> float:
        """The value of the model's penalties on its weights (none here)."""
        return 0.0

    def layer_names(self) -> list[str]:
        """The names of the layers, in order (the keys of ``layer_keys()``)."""
        return list(self.layer_keys())


def _dropout_rng(rng, dropout: float, train: bool):
    """The source of the dropout masks, or None when no mask is drawn (``train=False`` or
    ``dropout=0``); an error naming ``rng`` when masks are needed and ``rng`` is None."""
    if not (train and dropout > 0):
        return None
    if rng is None:
        raise ValueError(
            f"rng must be a numpy.random.Generator or an int seed when dropout={dropout} and "
            "train=True (the dropout masks are random), got rng=None"
        )
    return check_rng(rng)
