r"""The training loop (layer 2: uses :mod:`gdlib.optim`).

- :mod:`gdlib.train.loop`: :func:`iterate_minibatches`, :func:`fit` and :func:`evaluate`;
- :mod:`gdlib.train.history`: :class:`History`, the record of a run, and
  :class:`DivergenceWarning`;
- :mod:`gdlib.train.updaters`: how ``fit`` applies a rule to a model's parameter arrays.
"""

from gdlib.train.history import DivergenceWarning, History
from gdlib.train.loop import iterate_minibatches, fit, evaluate

__all__ = [
    "DivergenceWarning", "History", "iterate_minibatches", "fit", "evaluate"
]
