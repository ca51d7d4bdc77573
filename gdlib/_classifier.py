"""What every gdlib classifier shares once it has a ``forward`` giving logits (n, k)."""

from __future__ import annotations

import numpy as np


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
