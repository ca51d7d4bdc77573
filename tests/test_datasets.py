"""Tests for gdlib.data: shapes, determinism, disjoint splits, the IDX format, MNIST loading
from files and from a (file://) download with checksums, and the synthetic sets' known truths."""

from __future__ import annotations

import gzip
import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gdlib import data
from gdlib.data import (
    MNIST_FILES, MNIST_SHA256, Split, house_prices, load_digits, load_mnist, next_token,
    price_series, read_idx, sentiment, write_idx,
)


def parts(split: Split):
    return [(split.X_train, split.y_train), (split.X_val, split.y_val), (split.X_test, split.y_test)]


def assert_partition(split: Split, X_all: np.ndarray):
    """The three parts together are exactly the rows of X_all (as a multiset): disjoint, complete."""
    together = np.concatenate([X.reshape(len(X), -1) for X, _ in parts(split)])
    flat = X_all.reshape(len(X_all), -1)
    assert len(together) == len(flat)
    np.testing.assert_array_equal(np.unique(together, axis=0, return_counts=True)[1],
                                  np.unique(flat, axis=0, return_counts=True)[1])
    np.testing.assert_array_equal(np.unique(together, axis=0), np.unique(flat, axis=0))


# ---------------------------------------------------------------- digits


def test_digits_shapes_range_and_partition():
    split = load_digits(0)
    assert split.X_train.shape[1] == 64 and split.X_train.dtype == np.float64
    assert sum(len(y) for _, y in parts(split)) == 1797
    assert len(split.y_val) == len(split.y_test) == pytest.approx(0.15 * 1797, abs=10)
    for X, y in parts(split):
        assert X.min() >= 0 and X.max() <= 1 and len(X) == len(y)
        assert set(np.unique(y)) == set(range(10))  # stratified: every class in every part
    raw = load_digits(0, scale=False)
    np.testing.assert_array_equal(raw.X_train / 16, split.X_train)
    all_rows = np.concatenate([X for X, _ in parts(raw)])
    assert all_rows.max() == 16
    assert_partition(split, np.concatenate([X for X, _ in parts(split)]))
    assert split.meta["image_shape"] == (8, 8) and len(split.feature_names) == 64


def test_digits_split_is_stratified_and_deterministic():
    a, b, c = load_digits(0), load_digits(0), load_digits(1)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.y_train, c.y_train)
    train_share = np.bincount(a.y_train) / np.bincount(np.concatenate([y for _, y in parts(a)]))
    np.testing.assert_allclose(train_share, 0.7, atol=0.01)
    a.X_train[0, 0] = 99.0  # a caller's edit does not reach the next call
    assert load_digits(0).X_train[0, 0] != 99.0


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(val_frac=1.0), ValueError, "val_frac=1.0"),
    (dict(val_frac=-0.1), ValueError, "val_frac=-0.1"),
    (dict(test_frac=float("nan")), ValueError, "test_frac=nan"),
    (dict(val_frac=0.5, test_frac=0.5), ValueError, "val_frac \\+ test_frac must be < 1"),
    (dict(seed=-1), ValueError, "seed=-1"),
    (dict(seed="0"), TypeError, "seed='0'"),
])
def test_digits_argument_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        load_digits(**kwargs)


def test_zero_fraction_gives_an_empty_part():
    split = load_digits(0, val_frac=0.0)
    assert split.X_val.shape == (0, 64) and len(split.y_train) + len(split.y_test) == 1797


# ---------------------------------------------------------------- IDX and MNIST


IDX_DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


@settings(max_examples=40, deadline=None)
@given(data=st.data(), dtype=st.sampled_from(IDX_DTYPES), gz=st.booleans())
def test_idx_round_trip(tmp_path_factory, data, dtype, gz):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5))
    elements = (st.floats(-1e6, 1e6, width=32) if np.dtype(dtype).kind == "f" else None)
    array = data.draw(hnp.arrays(dtype, shape, elements=elements))
    path = tmp_path_factory.mktemp("idx") / ("a.idx.gz" if gz else "a.idx")
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.shape == shape
    np.testing.assert_array_equal(back, array)


def test_idx_header_is_the_published_format(tmp_path):
    path = write_idx(tmp_path / "labels-idx1-ubyte", np.array([7, 2, 1], dtype=np.uint8))
    assert path.read_bytes() == bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1])
    path = write_idx(tmp_path / "x.gz", np.zeros((2, 3), dtype=">i4"))  # big-endian input is fine
    assert gzip.decompress(path.read_bytes())[:12] == bytes([0, 0, 0x0C, 2, 0, 0, 0, 2, 0, 0, 0, 3])


def test_idx_errors(tmp_path):
    with pytest.raises(TypeError, match="int64"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=np.int64))
    (tmp_path / "bad").write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x01\x05")
    with pytest.raises(ValueError, match="magic"):
        read_idx(tmp_path / "bad")
    full = write_idx(tmp_path / "short", np.arange(10, dtype=np.uint8)).read_bytes()
    (tmp_path / "short").write_bytes(full[:-2])
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "short")
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        read_idx(tmp_path / "nothing-here")


def make_mnist_files(folder, *, n_train=24, n_test=6, gz=True, seed=0):
    """Four small MNIST-like IDX files; returns the arrays written."""
    rng = np.random.default_rng(seed)
    arrays = [rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              rng.integers(0, 10, n_train).astype(np.uint8),
              rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              rng.integers(0, 10, n_test).astype(np.uint8)]
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in zip(MNIST_FILES, arrays):
        write_idx(folder / (name if gz else name.removesuffix(".gz")), array)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist_from_a_folder(tmp_path, gz):
    train_images, train_labels, test_images, test_labels = make_mnist_files(tmp_path, gz=gz)
    split = load_mnist(tmp_path, cache_dir=tmp_path / "unused", val_frac=0.25)
    assert split.X_train.shape == (18, 784) and split.X_val.shape == (6, 784)
    assert split.X_test.shape == (6, 784)
    np.testing.assert_array_equal(split.X_train * 255, train_images[:18].reshape(18, -1))
    np.testing.assert_array_equal(split.y_val, train_labels[18:])  # the end of the file
    np.testing.assert_array_equal(split.y_test, test_labels)
    assert split.X_train.max() <= 1 and split.meta["image_shape"] == (28, 28)
    raw = load_mnist(tmp_path, cache_dir=tmp_path / "unused", scale=False)
    np.testing.assert_array_equal(raw.X_test, test_images.reshape(6, -1))


def test_missing_mnist_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=True.*load_digits"):
        load_mnist(tmp_path, cache_dir=tmp_path / "cache")
    with pytest.raises(FileNotFoundError, match="not a folder"):
        load_mnist(tmp_path / "missing")


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_download_verifies_checksums_and_caches(tmp_path):
    server = tmp_path / "server"
    arrays = make_mnist_files(server)
    checksums = {name: sha256(server / name) for name in MNIST_FILES}
    cache = tmp_path / "cache"
    split = load_mnist(cache_dir=cache, download=True, url=server.as_uri(), checksums=checksums)
    assert sorted(p.name for p in cache.iterdir()) == sorted(MNIST_FILES)
    np.testing.assert_array_equal(split.y_test, arrays[3])
    # second call: read from the cache, nothing downloaded (the server is gone)
    for name in MNIST_FILES:
        (server / name).unlink()
    again = load_mnist(cache_dir=cache, download=True, url=server.as_uri(), checksums=checksums)
    np.testing.assert_array_equal(again.X_train, split.X_train)


def test_download_with_a_wrong_checksum_keeps_nothing(tmp_path):
    server = tmp_path / "server"
    make_mnist_files(server)
    checksums = {name: sha256(server / name) for name in MNIST_FILES}
    checksums[MNIST_FILES[1]] = "0" * 64
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match="SHA-256 mismatch.*train-labels.*expected 0000"):
        load_mnist(cache_dir=cache, download=True, url=server.as_uri(), checksums=checksums)
    assert sorted(p.name for p in cache.iterdir()) == [MNIST_FILES[0]]  # no partial, no bad file


def test_published_mnist_checksums_are_well_formed():
    assert set(MNIST_SHA256) == set(MNIST_FILES)
    assert all(len(v) == 64 and int(v, 16) >= 0 for v in MNIST_SHA256.values())
    assert data.MNIST_URL.startswith("https://")


# ---------------------------------------------------------------- house prices


def test_house_prices_shapes_standardisation_and_truth():
    split = house_prices(4000, seed=1, noise=0.2)
    X = np.concatenate([X for X, _ in parts(split)])
    y = np.concatenate([y for _, y in parts(split)])
    assert X.shape == (4000, 5) and split.feature_names == data.HOUSE_FEATURES
    np.testing.assert_allclose(X.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(X.std(axis=0), 1, atol=1e-12)
    coef = np.linalg.lstsq(np.column_stack([np.ones(len(y)), X]), y, rcond=None)[0]
    truth = [split.meta["true_effects"][f] for f in split.feature_names]
    np.testing.assert_allclose(coef[1:], truth, atol=0.02)
    assert coef[0] == pytest.approx(split.meta["intercept"], abs=0.02)
    raw_area = X[:, 1] * split.meta["feature_std"]["living_area_sqft"] + \
        split.meta["feature_mean"]["living_area_sqft"]
    assert 350 <= raw_area.min() and raw_area.max() <= 8000 and 1500 < np.median(raw_area) < 2200


def test_house_prices_determinism_and_errors():
    a, b, c = house_prices(100, 0), house_prices(100, 0), house_prices(100, 1)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert not np.array_equal(a.y_train, c.y_train)
    assert_partition(a, np.concatenate([X for X, _ in parts(b)]))
    with pytest.raises(ValueError, match="n must be at least 20, got n=5"):
        house_prices(5)
    with pytest.raises(ValueError, match="noise=-1"):
        house_prices(100, noise=-1)


# ---------------------------------------------------------------- price series


def test_price_series_windows_and_chronological_split():
    split = price_series(500, seed=3, window=10)
    n = 500 - 10
    assert sum(len(y) for _, y in parts(split)) == n
    assert split.X_train.shape[1:] == (10, 1)
    idx = split.meta["target_index"]
    assert idx["train"].max() < idx["val"].min() and idx["val"].max() < idx["test"].min()
    X = np.concatenate([X for X, _ in parts(split)])[:, :, 0]
    y = np.concatenate([y for _, y in parts(split)])
    np.testing.assert_array_equal(X[1:, -1], y[:-1])  # each target is the next window's last value
    np.testing.assert_array_equal(X[1:, :-1], X[:-1, 1:])
    prices = split.meta["prices"]
    np.testing.assert_allclose(y * split.meta["std"] + split.meta["mean"], prices[10:])
    train_prices = prices[: idx["train"].max() + 1]  # normalised with training-period stats only
    assert split.meta["mean"] == pytest.approx(train_prices.mean())
    assert np.all(prices > 0)


def test_price_series_determinism_and_errors():
    np.testing.assert_array_equal(price_series(100, 1).y_test, price_series(100, 1).y_test)
    assert not np.array_equal(price_series(100, 1).y_test, price_series(100, 2).y_test)
    with pytest.raises(ValueError, match="n_steps must be at least 30, got n_steps=25"):
        price_series(25, window=20)
    with pytest.raises(ValueError, match="window=0"):
        price_series(100, window=0)


# ---------------------------------------------------------------- sentiment


def test_sentiment_bag_of_words_is_learnable_but_noisy():
    split = sentiment(1000, seed=2)
    X = np.concatenate([X for X, _ in parts(split)])
    y = np.concatenate([y for _, y in parts(split)])
    assert X.shape == (1000, 500) and set(np.unique(X)) == {0.0, 1.0}
    assert abs(y.mean() - 0.5) < 0.05
    vocab = split.meta["vocabulary"]
    pos = [vocab.index(w) for w in split.meta["positive_words"]]
    neg = [vocab.index(w) for w in split.meta["negative_words"]]
    rule_of_thumb = (X[:, pos].sum(1) > X[:, neg].sum(1)).astype(int)
    accuracy = np.mean(rule_of_thumb == y)
    assert 0.75 < accuracy < 0.97  # sentiment words carry the label; label noise caps it
    assert split.feature_names == tuple(vocab)


def test_sentiment_sequences_and_errors():
    split = sentiment(200, seed=0, vocab_size=100, seq_len=30)
    assert split.X_train.shape[1] == 30 and split.X_train.dtype == np.int64
    assert split.X_train.min() >= 0 and split.X_train.max() < 100
    np.testing.assert_array_equal(split.X_test, sentiment(200, 0, vocab_size=100, seq_len=30).X_test)
    with pytest.raises(ValueError, match="vocab_size=10"):
        sentiment(200, vocab_size=10)
    with pytest.raises(ValueError, match="label_noise=1.5"):
        sentiment(200, label_noise=1.5)
    with pytest.raises(ValueError, match="seq_len=0"):
        sentiment(200, seq_len=0)


# ---------------------------------------------------------------- next token


def test_next_token_set():
    split = next_token(300, seed=0, vocab_size=12, context=5)
    assert split.X_train.shape[1] == 5 and sum(len(y) for _, y in parts(split)) == 300
    P = split.meta["transition"]
    np.testing.assert_allclose(P.sum(axis=1), 1)
    assert 1 / 12 < split.meta["bayes_accuracy"] < 1
    X = np.concatenate([X for X, _ in parts(split)])
    y = np.concatenate([y for _, y in parts(split)])
    best_guess = P.argmax(axis=1)[X[:, -1]]  # the Bayes rule reaches about its accuracy
    assert abs(np.mean(best_guess == y) - split.meta["bayes_accuracy"]) < 0.1
    with pytest.raises(ValueError, match="concentration=0"):
        next_token(100, concentration=0)


def test_split_helpers():
    split = house_prices(50)
    assert split.train[0] is split.X_train and split.test[1] is split.y_test
    assert "train=" in repr(split)


def test_a_failed_download_is_explained_and_leaves_nothing(tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(OSError, match="could not download .*train-images"):
        load_mnist(cache_dir=cache, download=True, url=(tmp_path / "empty").as_uri())
    assert list(cache.iterdir()) == []


def test_gdlib_data_states_every_loader_and_split():
    """gdlib.data's API holds the public names of all its modules, each defined once."""
    from gdlib.data import datasets, mnist, sequences, splits

    names = [name for module in (splits, datasets, mnist, sequences) for name in module.__all__]
    assert sorted(names) == sorted(data.__all__)
