r"""Synthetic sequence data: a price series, movie reviews and a next-token prediction set.

Each stands in for data the source article used and records the truth it was generated from in
``meta``, so a chapter can check what a network learned against it:

- :func:`price_series`: a stock-like daily price cut into windows (a stock series);
- :func:`sentiment`: reviews as a bag of words or token ids, labelled by sentiment (IMDB);
- :func:`next_token`: text from a random Markov chain with a known best accuracy (a
  language-model corpus).

Each returns a :class:`~gdlib.data.Split`; :mod:`gdlib.data` gathers all three with the
course's other data sets. Introduced in the lab chapter
(``ch-lab``).
"""

from __future__ import annotations

import numpy as np

from gdlib._validate import check_fraction, check_positive_int, check_positive_number
from gdlib.data.splits import (
    Split, _check_fracs, _check_n, _check_seed, _part_sizes, _random_split, _stratified_split,
    _take,
)

__all__ = ["price_series", "sentiment", "next_token"]


# ---------------------------------------------------------------------------------------------
# Synthetic price series


def price_series(n_steps: int = 2000, seed: int = 0, *, window: int = 20, val_frac: float = 0.15,
                 test_frac: float = 0.15, period: int = 250) -> Split:
    r"""A synthetic daily stock price, cut into windows for next-value prediction.

    The log price is a random walk with drift plus a yearly seasonal wave,

    .. math::

        \log p_t = \log 100 + \mu t + a \sin(2\pi t / P) + \sum_{s \le t} \sigma \varepsilon_s,
        \quad \varepsilon_s \sim N(0, 1),

    with :math:`\mu = 3 \cdot 10^{-4}`, :math:`\sigma = 0.01` (1% daily volatility),
    :math:`a = 0.05` and :math:`P` = ``period``. Prices are normalised with the mean and
    standard deviation of the *training* period only (so nothing from the future leaks in); each
    example is ``window`` consecutive normalised prices and its target the next one. The split is
    chronological: training windows come first, then validation, then test, never shuffled.

    Parameters
    ----------
    n_steps : int
        Length of the series, at least ``window + 10``.
    seed : int
        Seed of the noise.
    window : int
        Number of past values per example.
    val_frac, test_frac : float
        Fractions in [0, 1) of the windows held out, from the end.
    period : int
        Period :math:`P` of the seasonal wave, in steps.

    Returns
    -------
    Split
        ``X_*`` of shape (n, window, 1), ``y_*`` (n,), with ``n = n_steps - window`` in all;
        ``meta`` has ``prices`` (the raw series), ``mean`` and ``std`` (to undo the
        normalisation: ``price = value * std + mean``) and ``target_index`` (the time step of
        each target, per part).
    """
    window = check_positive_int(window, "window")
    period = check_positive_int(period, "period")
    n_steps = _check_n(n_steps, window + 10, "n_steps")
    seed = _check_seed(seed)
    val_frac, test_frac = _check_fracs(val_frac, test_frac)
    rng = np.random.default_rng(seed)
    t = np.arange(n_steps)
    log_price = (np.log(100.0) + 3e-4 * t + 0.05 * np.sin(2 * np.pi * t / period)
                 + np.cumsum(0.01 * rng.standard_normal(n_steps)))
    prices = np.exp(log_price)
    n = n_steps - window
    n_val, n_test = _part_sizes(n, val_frac, test_frac, "n_steps - window")
    n_train = n - n_val - n_test
    train_end = n_train + window  # the training windows and targets only see prices[:train_end]
    mean, std = prices[:train_end].mean(), prices[:train_end].std()
    z = (prices - mean) / std
    X = np.lib.stride_tricks.sliding_window_view(z[:-1], window)[:, :, None].copy()
    y = z[window:].copy()
    cuts = (slice(0, n_train), slice(n_train, n_train + n_val), slice(n_train + n_val, n))
    parts = [np.arange(n)[c] for c in cuts]
    return _take(
        X, y, parts,
        description=f"synthetic daily price (random walk with drift and seasonality), "
                    f"windows of {window} -> next value, chronological split",
        meta={"prices": prices, "mean": float(mean), "std": float(std), "window": window,
              "target_index": {name: p + window for name, p in zip(("train", "val", "test"), parts)},
              "drift": 3e-4, "volatility": 0.01, "season_amplitude": 0.05, "period": period,
              "seed": seed},
    )


# ---------------------------------------------------------------------------------------------
# Synthetic sentiment (IMDB stand-in)

_POSITIVE = ("good", "great", "excellent", "wonderful", "loved", "best", "brilliant", "enjoyed",
             "beautiful", "fun", "superb", "moving", "perfect", "favourite", "charming", "gripping")
_NEGATIVE = ("bad", "awful", "boring", "worst", "terrible", "waste", "poor", "dull", "hated",
             "stupid", "mess", "weak", "annoying", "predictable", "disappointing", "pointless")
_NEUTRAL = ("the", "a", "and", "of", "to", "is", "in", "it", "this", "that", "film", "movie",
            "was", "with", "as", "for", "but", "on", "his", "her", "story", "plot", "acting",
            "scene", "character", "end", "time", "director", "cast", "music")


def _sentiment_vocabulary(vocab_size: int) -> list[str]:
    """Neutral words first (the most frequent), then sentiment words, then filler tokens."""
    words = list(_NEUTRAL) + [w for pair in zip(_POSITIVE, _NEGATIVE) for w in pair]
    return words + [f"tok{i}" for i in range(len(words), vocab_size)]


def sentiment(n: int = 2000, seed: int = 0, *, vocab_size: int = 500, seq_len: int | None = None,
              sentiment_rate: float = 0.15, label_noise: float = 0.05, val_frac: float = 0.15,
              test_frac: float = 0.15) -> Split:
    r"""Synthetic movie reviews labelled positive (1) or negative (0): an IMDB stand-in.

    Word frequencies follow Zipf's law, :math:`P(w_r) \propto 1 / r^{1.1}` for rank
    :math:`r = 1, 2, \dots` (common words like "the" first). A review has a hidden sentiment;
    each of its tokens is, with probability ``sentiment_rate``, a sentiment word (of the
    review's polarity with probability 0.85, of the other one with 0.15, for irony and
    negation), and otherwise a word drawn from the Zipf distribution over the whole
    vocabulary. Finally a fraction ``label_noise`` of the labels is flipped, so no classifier
    can exceed about ``1 - label_noise`` accuracy on average.

    Parameters
    ----------
    n : int
        Number of reviews, at least 20.
    seed : int
        Seed of the draw and of the split.
    vocab_size : int
        Number of distinct words, at least 80 (46 named words plus filler tokens ``tokK``).
    seq_len : int, optional
        ``None``: each review has a Poisson(60) + 10 length and ``X`` is a multi-hot bag of
        words (n, vocab_size) of 0.0 / 1.0 (word present or not), as in Chollet's IMDB example.
        An int: every review has exactly ``seq_len`` tokens and ``X`` holds their integer ids
        (n, seq_len), for a recurrent network.
    sentiment_rate : float
        Probability in [0, 1) that a token carries sentiment.
    label_noise : float
        Fraction in [0, 1) of labels flipped.
    val_frac, test_frac : float
        Fractions in [0, 1) held out (stratified by label).

    Returns
    -------
    Split
        ``y_*`` int64 labels 0/1; ``feature_names`` the vocabulary in the bag-of-words case;
        ``meta`` has ``vocabulary``, ``positive_words``, ``negative_words``, ``label_noise``.
    """
    n = _check_n(n, 20)
    seed = _check_seed(seed)
    vocab_size = _check_n(vocab_size, 80, "vocab_size")
    if seq_len is not None:
        seq_len = check_positive_int(seq_len, "seq_len")
    sentiment_rate = check_fraction(sentiment_rate, "sentiment_rate")
    label_noise = check_fraction(label_noise, "label_noise")
    val_frac, test_frac = _check_fracs(val_frac, test_frac)
    rng = np.random.default_rng(seed)
    vocabulary = _sentiment_vocabulary(vocab_size)
    index = {w: i for i, w in enumerate(vocabulary)}
    positive = np.array([index[w] for w in _POSITIVE])
    negative = np.array([index[w] for w in _NEGATIVE])
    zipf = 1.0 / np.arange(1, vocab_size + 1) ** 1.1
    zipf /= zipf.sum()
    within = 1.0 / np.arange(1, len(positive) + 1)  # sentiment words are Zipf among themselves
    within /= within.sum()

    polarity = rng.permutation(np.arange(n) % 2)  # balanced classes
    lengths = (np.full(n, seq_len) if seq_len is not None else rng.poisson(60, n) + 10)
    docs = []
    for label, length in zip(polarity, lengths):
        tokens = rng.choice(vocab_size, size=length, p=zipf)
        charged = rng.random(length) < sentiment_rate
        agrees = rng.random(length) < 0.85
        own, other = (positive, negative) if label == 1 else (negative, positive)
        picks = rng.choice(len(positive), size=length, p=within)
        tokens = np.where(charged, np.where(agrees, own[picks], other[picks]), tokens)
        docs.append(tokens)
    flipped = rng.random(n) < label_noise
    y = np.where(flipped, 1 - polarity, polarity).astype(np.int64)
    if seq_len is None:
        X = np.zeros((n, vocab_size))
        for row, tokens in enumerate(docs):
            X[row, tokens] = 1.0
        names = tuple(vocabulary)
    else:
        X = np.stack(docs).astype(np.int64)
        names = None
    parts = _stratified_split(y, val_frac, test_frac, rng)
    return _take(
        X, y, parts,
        feature_names=names,
        description="synthetic movie reviews (Zipf words, sentiment words, label noise), "
                    + ("multi-hot bag of words" if seq_len is None else f"token ids, length {seq_len}"),
        meta={"vocabulary": vocabulary, "positive_words": _POSITIVE, "negative_words": _NEGATIVE,
              "label_noise": label_noise, "sentiment_rate": sentiment_rate,
              "flipped": int(flipped.sum()), "seed": seed},
    )


# ---------------------------------------------------------------------------------------------
# Tiny next-token prediction set (language-model stand-in)


def next_token(n: int = 2000, seed: int = 0, *, vocab_size: int = 20, context: int = 8,
               concentration: float = 0.1, val_frac: float = 0.15,
               test_frac: float = 0.15) -> Split:
    r"""Next-token prediction on text from a random first-order Markov chain.

    A transition matrix :math:`P` is drawn with rows from a symmetric Dirichlet
    (``concentration``; small values make each token's successor nearly predictable). One long
    sequence is sampled from the chain and cut into non-overlapping examples of ``context``
    tokens followed by the token to predict. Because the chain is known, so is the best
    possible accuracy, :math:`\sum_i \pi_i \max_j P_{ij}` with :math:`\pi` the stationary
    distribution, stored as ``meta["bayes_accuracy"]``: the ceiling for the article's
    "dropout vs test accuracy (RNN language model)" table.

    Parameters
    ----------
    n : int
        Number of examples, at least 20.
    seed : int
        Seed of the chain, the text and the split.
    vocab_size : int
        Number of tokens, at least 2.
    context : int
        Tokens per example.
    concentration : float
        Dirichlet concentration > 0 of each row of :math:`P`.
    val_frac, test_frac : float
        Fractions in [0, 1) held out (random split of the examples).

    Returns
    -------
    Split
        ``X_*`` integer token ids (n, context), ``y_*`` (n,) the next token id; ``meta`` has
        ``transition`` and ``bayes_accuracy``.
    """
    n = _check_n(n, 20)
    seed = _check_seed(seed)
    vocab_size = _check_n(vocab_size, 2, "vocab_size")
    context = check_positive_int(context, "context")
    concentration = check_positive_number(concentration, "concentration")
    val_frac, test_frac = _check_fracs(val_frac, test_frac)
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.full(vocab_size, concentration), size=vocab_size)
    cumulative = np.cumsum(P, axis=1)
    length = n * (context + 1)
    text = np.empty(length, dtype=np.int64)
    text[0] = rng.integers(vocab_size)
    uniforms = rng.random(length)
    for i in range(1, length):
        text[i] = min(np.searchsorted(cumulative[text[i - 1]], uniforms[i]), vocab_size - 1)
    examples = text.reshape(n, context + 1)
    eigvals, eigvecs = np.linalg.eig(P.T)
    stationary = np.real(eigvecs[:, np.argmin(np.abs(eigvals - 1))])
    stationary /= stationary.sum()
    bayes = float(stationary @ P.max(axis=1))
    parts = _random_split(n, val_frac, test_frac, rng)
    return _take(
        examples[:, :context], examples[:, context], parts,
        description=f"next-token prediction from a random Markov chain over {vocab_size} tokens",
        meta={"transition": P, "bayes_accuracy": bayes, "vocab_size": vocab_size, "seed": seed},
    )
