r"""Data sets, all available offline, each split into train / validation / test (layer 1).

- :mod:`gdlib.data.splits`: :class:`Split`, the record every loader returns;
- :mod:`gdlib.data.datasets`: :func:`load_digits` (the offline MNIST stand-in) and
  :func:`house_prices`;
- :mod:`gdlib.data.mnist`: the real MNIST from its IDX files;
- :mod:`gdlib.data.sequences`: the synthetic sequences :func:`price_series`,
  :func:`sentiment` and :func:`next_token`.
"""

from gdlib.data.splits import Split
from gdlib.data.datasets import load_digits, house_prices, HOUSE_FEATURES, HOUSE_EFFECTS
from gdlib.data.mnist import load_mnist, read_idx, write_idx, MNIST_URL, MNIST_SHA256, MNIST_FILES
from gdlib.data.sequences import price_series, sentiment, next_token

__all__ = [
    "Split", "load_digits", "house_prices", "HOUSE_FEATURES", "HOUSE_EFFECTS", "load_mnist",
    "read_idx", "write_idx", "MNIST_URL", "MNIST_SHA256", "MNIST_FILES", "price_series",
    "sentiment", "next_token",
]
