"""What every gdlib classifier shares once it has a ``forward`` giving logits (n, k), and the
source of their dropout masks."""

from __future__ import annotations

import numpy as np

from gdlib._validate import check_rng


class LogitClassifier:
    """Mixin: ``predict``, ``score`` and ``layer_names`` from ``forward`` and ``layer_keys``."""

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
