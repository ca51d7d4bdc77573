r"""Data sets for the course, all available offline, each split into train / validation / test.

Every loader returns a :class:`Split`. Splits are deterministic given ``seed``, and the three
parts are disjoint. The synthetic sets (:func:`house_prices`, :func:`price_series`,
:func:`sentiment`, :func:`next_token`) stand in for the data the source article used (house
prices, a stock series, IMDB reviews, a language-model corpus); each records the truth it was
generated from in ``meta`` so a chapter can check what a network learned against it.

- :func:`load_digits`: scikit-learn's bundled 8x8 digits, our offline MNIST stand-in.
- :func:`load_mnist`: the real MNIST from its four IDX files (optionally downloaded once and
  verified by SHA-256); :func:`read_idx` and :func:`write_idx` read and write the format.

Introduced in the chapter *Training a network: mini-batches, epochs and data*.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import importlib.util
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gdlib._validate import _show, check_fraction, check_positive_int, check_positive_number

__all__ = [
    "Split", "load_digits", "load_mnist", "read_idx", "write_idx", "house_prices",
    "price_series", "sentiment", "next_token", "MNIST_URL", "MNIST_SHA256", "MNIST_FILES",
]


@dataclass
class Split:
    """A data set split into training, validation and test parts.

    ``X_*`` have one example per row (``(n, d)``, or ``(n, T, 1)`` / ``(n, T)`` for sequences),
    ``y_*`` have shape ``(n,)``. ``feature_names`` names the columns of ``X`` where that means
    something, ``description`` says in a sentence what the data are, and ``meta`` holds what
    each loader documents (true effects, vocabulary, normalisation constants, ...).
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    feature_names: tuple[str, ...] | None = None
    description: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def train(self) -> tuple[np.ndarray, np.ndarray]:
        return self.X_train, self.y_train

    @property
    def val(self) -> tuple[np.ndarray, np.ndarray]:
        return self.X_val, self.y_val

    @property
    def test(self) -> tuple[np.ndarray, np.ndarray]:
        return self.X_test, self.y_test

    def __repr__(self) -> str:
        sizes = ", ".join(f"{part}={len(getattr(self, 'y_' + part))}"
                          for part in ("train", "val", "test"))
        return f"Split({sizes}, X shape {self.X_train.shape[1:]}: {self.description[:60]!r})"


# ---------------------------------------------------------------------------------------------
# Splitting helpers


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer >= 0, got seed={_show(seed)}")
    if seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got seed={seed!r}")
    return int(seed)


def _check_fracs(val_frac, test_frac) -> tuple[float, float]:
    """Fractions lie in [0, 1) and leave something to train on."""
    val_frac = check_fraction(val_frac, "val_frac")
    test_frac = check_fraction(test_frac, "test_frac")
    if val_frac + test_frac >= 1:
        raise ValueError(
            f"val_frac + test_frac must be < 1 to leave training data, "
            f"got val_frac={val_frac!r} and test_frac={test_frac!r}"
        )
    return val_frac, test_frac


def _check_n(n, minimum: int, name: str = "n") -> int:
    n = check_positive_int(n, name)
    if n < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {name}={n}")
    return n


def _part_sizes(n: int, val_frac: float, test_frac: float, what: str = "n") -> tuple[int, int]:
    """Sizes of the validation and test parts; each non-zero fraction gets at least one row."""
    n_val = max(1, round(val_frac * n)) if val_frac > 0 else 0
    n_test = max(1, round(test_frac * n)) if test_frac > 0 else 0
    if n - n_val - n_test < 1:
        raise ValueError(f"{what}={n} is too small to split with val_frac={val_frac!r} "
                         f"and test_frac={test_frac!r}")
    return n_val, n_test


def _random_split(n: int, val_frac: float, test_frac: float, rng: np.random.Generator):
    """Index arrays (train, val, test): a random partition of range(n), each part sorted."""
    n_val, n_test = _part_sizes(n, val_frac, test_frac)
    perm = rng.permutation(n)
    test, val, train = perm[:n_test], perm[n_test:n_test + n_val], perm[n_test + n_val:]
    return np.sort(train), np.sort(val), np.sort(test)


def _stratified_split(y: np.ndarray, val_frac: float, test_frac: float, rng: np.random.Generator):
    """Like :func:`_random_split`, but each class is split in the same proportions."""
    _part_sizes(len(y), val_frac, test_frac)
    parts: list[list[np.ndarray]] = [[], [], []]
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        n_test = round(test_frac * len(idx))
        n_val = round(val_frac * len(idx))
        parts[2].append(idx[:n_test])
        parts[1].append(idx[n_test:n_test + n_val])
        parts[0].append(idx[n_test + n_val:])
    return tuple(np.sort(np.concatenate(p)).astype(np.intp) for p in parts)


def _take(X, y, parts, **extra) -> Split:
    train, val, test = parts
    return Split(X[train], y[train], X[val], y[val], X[test], y[test], **extra)


# ---------------------------------------------------------------------------------------------
# Digits (offline MNIST stand-in)


@functools.lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The 1797 digits as (pixels float64 (1797, 64), labels int64), read once per process.

    Reads the CSV that scikit-learn ships without importing scikit-learn (which takes seconds);
    falls back to ``sklearn.datasets.load_digits`` if the file has moved.
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is None:
        raise ImportError("load_digits needs scikit-learn installed (it ships the digits data)")
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz"
    if path.is_file():
        table = np.loadtxt(path, delimiter=",")
        pixels, labels = table[:, :-1], table[:, -1].astype(np.int64)
    else:  # pragma: no cover - depends on scikit-learn's layout
        from sklearn.datasets import load_digits as sklearn_digits

        bunch = sklearn_digits()
        pixels, labels = bunch.data.astype(np.float64), bunch.target.astype(np.int64)
    pixels.flags.writeable = False
    labels.flags.writeable = False
    return pixels, labels


def load_digits(seed: int = 0, *, val_frac: float = 0.15, test_frac: float = 0.15,
                scale: bool = True) -> Split:
    r"""scikit-learn's bundled 8x8 handwritten digits (1797 images), split by class.

    The UCI optical digits, shipped inside scikit-learn, so no download is needed: the course's
    stand-in for MNIST. Each image is 8x8 pixels with 17 grey levels (0..16), flattened to 64
    features; with ``scale=True`` pixels are divided by 16 to lie in [0, 1]. The split is
    stratified (each digit appears in each part in the same proportion) and deterministic
    given ``seed``; the defaults give about 1257 / 270 / 270 examples.

    Parameters
    ----------
    seed : int
        Seed of the split.
    val_frac, test_frac : float
        Fractions in [0, 1) of each class held out for validation and test.
    scale : bool
        Divide pixels by 16 (to [0, 1]); otherwise keep the raw 0..16 counts as floats.

    Returns
    -------
    Split
        ``X_*`` of shape (n, 64), ``y_*`` integer labels 0..9; ``meta`` has ``n_classes`` and
        ``image_shape``.
    """
    seed = _check_seed(seed)
    val_frac, test_frac = _check_fracs(val_frac, test_frac)
    pixels, labels = _digits_arrays()
    X = pixels / (16.0 if scale else 1.0)
    y = labels.copy()
    parts = _stratified_split(y, val_frac, test_frac, np.random.default_rng(seed))
    return _take(
        X, y, parts,
        feature_names=tuple(f"pixel_{r}_{c}" for r in range(8) for c in range(8)),
        description="8x8 handwritten digits (UCI, bundled with scikit-learn), pixels "
                    + ("in [0, 1]" if scale else "0..16"),
        meta={"n_classes": 10, "image_shape": (8, 8), "seed": seed},
    )


# ---------------------------------------------------------------------------------------------
# MNIST from IDX files

#: A public mirror of the MNIST archives (the one torchvision uses); yann.lecun.com often
#: refuses downloads. Any base URL (including ``file://``) that serves the four files works.
MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"

#: The four archives, in the order (train images, train labels, test images, test labels).
MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

#: The published SHA-256 of each archive (as listed by TensorFlow Datasets and others); they are
#: not checked by the test suite, which never downloads.
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

# IDX type codes (third byte of the magic number) and their big-endian numpy dtypes.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _open_maybe_gzip(path: Path, mode: str):
    with open(path, "rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
    return gzip.open(path, mode) if gzipped else open(path, mode)


def read_idx(path) -> np.ndarray:
    r"""Read an IDX file (the format of MNIST), gzip-compressed or not.

    The format: two zero bytes, a type byte (0x08 unsigned byte, 0x09 signed byte, 0x0B int16,
    0x0C int32, 0x0D float32, 0x0E float64), a byte with the number of dimensions :math:`k`,
    then :math:`k` big-endian uint32 sizes, then the data in C order, big-endian.

    Parameters
    ----------
    path : str or Path
        The file; gzip is detected from its first two bytes, not its name.

    Returns
    -------
    ndarray
        With the stored shape and the stored dtype in native byte order.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path does not name an IDX file: path={str(path)!r}")
    with _open_maybe_gzip(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{str(path)!r} is not an IDX file (bad magic number {raw[:4]!r})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(s) for s in np.frombuffer(raw[4:header], dtype=">u4"))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"{str(path)!r} is truncated or padded: header says shape {shape} "
                         f"({expected} bytes), file has {len(raw)} bytes")
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def write_idx(path, array) -> Path:
    """Write ``array`` as an IDX file (gzip-compressed if ``path`` ends in ``.gz``).

    The inverse of :func:`read_idx`; the dtype must be one IDX can store (uint8, int8, int16,
    int32, float32, float64). Used by the tests to make small MNIST-like files.
    """
    array = np.asarray(array)
    codes = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_DTYPES.items()}
    dtype = array.dtype.newbyteorder("=")
    if dtype not in codes:
        raise TypeError(f"array dtype must be one of uint8, int8, int16, int32, float32, float64 "
                        f"to be stored as IDX, got array of dtype {array.dtype}")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"array must have 1 to 255 dimensions, got array of shape {array.shape}")
    code = codes[dtype]
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    body = np.ascontiguousarray(array, dtype=_IDX_DTYPES[code]).tobytes()
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as fh:
        fh.write(header + body)
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _find_mnist_file(name: str, folders) -> Path | None:
    """``name`` (the .gz archive) or its uncompressed twin in the first folder that has one."""
    for folder in folders:
        for candidate in (name, name.removesuffix(".gz")):
            if (folder / candidate).is_file():
                return folder / candidate
    return None


def _download(url: str, target: Path, sha256: str | None) -> None:
    """Fetch ``url`` into ``target``; keep it only if it arrived whole and its SHA-256 matches."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = None
    try:
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".part") as tmp:
            tmp_path = Path(tmp.name)
            try:
                with urllib.request.urlopen(url, timeout=60) as response:
                    shutil.copyfileobj(response, tmp)
            except OSError as exc:  # URLError, timeouts, refused connections
                raise OSError(f"could not download {url}: {exc}. Check the network, or fetch "
                              "the files another way and pass path=their folder") from exc
        got = _sha256(tmp_path)
        if sha256 is not None and got != sha256.lower():
            raise ValueError(
                f"SHA-256 mismatch for {url}: expected {sha256}, got {got}; the download is "
                "corrupt or the mirror serves a different file, so it was not kept. "
                "Retry, or pass another url= (or checksums= if you trust the new file)."
            )
        tmp_path.replace(target)
    finally:
        if tmp_path is not None and tmp_path.exists():
            tmp_path.unlink()


def load_mnist(path=None, *, cache_dir=None, download: bool = False, url: str = MNIST_URL,
               checksums: dict | None = None, val_frac: float = 1 / 6,
               scale: bool = True) -> Split:
    r"""MNIST (60000 training and 10000 test images of 28x28 digits) from its IDX files.

    Looks for the four files of :data:`MNIST_FILES` (``.gz`` or uncompressed) in ``path``, then
    in ``cache_dir``. If they are missing and ``download=True``, fetches each archive once from
    ``url`` into ``cache_dir``, verifies its SHA-256 against ``checksums`` (by default the
    published :data:`MNIST_SHA256`) and raises ``ValueError`` on a mismatch, keeping nothing.

    The validation set is the last ``val_frac`` of the official training file (the usual
    50000 / 10000 split for the default 1/6), the test set is the official test file.

    Parameters
    ----------
    path : str or Path, optional
        A folder holding the four files.
    cache_dir : str or Path, optional
        Where downloads go and are looked for; default ``~/.cache/gdlib/mnist``.
    download : bool
        Fetch missing files (needs network access).
    url : str
        Base URL the file names are appended to.
    checksums : dict, optional
        File name -> SHA-256 hex digest for downloaded archives.
    val_frac : float
        Fraction in [0, 1) of the training file held out (from its end) for validation.
    scale : bool
        Divide pixels by 255 (to [0, 1]).

    Returns
    -------
    Split
        ``X_*`` of shape (n, 784) float64, ``y_*`` int64 labels; ``meta`` has ``image_shape``
        and ``files`` (the paths read).
    """
    val_frac = check_fraction(val_frac, "val_frac")
    cache = Path(cache_dir) if cache_dir is not None else Path.home() / ".cache" / "gdlib" / "mnist"
    folders = ([Path(path)] if path is not None else []) + [cache]
    if path is not None and not Path(path).is_dir():
        raise FileNotFoundError(f"path must be a folder holding the MNIST IDX files, "
                                f"got path={str(path)!r}, which is not a folder")
    checksums = MNIST_SHA256 if checksums is None else checksums
    files = {}
    for name in MNIST_FILES:
        found = _find_mnist_file(name, folders)
        if found is None and download:
            found = cache / name
            _download(url.rstrip("/") + "/" + name, found, checksums.get(name))
        if found is None:
            where = " or ".join(repr(str(f)) for f in folders)
            raise FileNotFoundError(
                f"MNIST file {name!r} not found in {where}. Either download the four files "
                f"{', '.join(MNIST_FILES)} from {url} into one folder and pass path=that folder, "
                "or call load_mnist(download=True) once (needs network access). "
                "For offline work use gdlib.datasets.load_digits()."
            )
        files[name] = found
    arrays = [read_idx(files[name]) for name in MNIST_FILES]
    train_images, train_labels, test_images, test_labels = arrays
    for images, labels, which in ((train_images, train_labels, "train"),
                                  (test_images, test_labels, "t10k")):
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(f"MNIST {which} files disagree: images of shape {images.shape}, "
                             f"labels of shape {labels.shape}")
    factor = 255.0 if scale else 1.0
    X_all = train_images.reshape(len(train_images), -1).astype(np.float64) / factor
    y_all = train_labels.astype(np.int64)
    n_val = round(val_frac * len(y_all))
    if n_val >= len(y_all):
        raise ValueError(f"val_frac={val_frac!r} leaves no training examples")
    cut = len(y_all) - n_val
    return Split(
        X_all[:cut], y_all[:cut], X_all[cut:], y_all[cut:],
        test_images.reshape(len(test_images), -1).astype(np.float64) / factor,
        test_labels.astype(np.int64),
        description="MNIST handwritten digits, 28x28, pixels " + ("in [0, 1]" if scale else "0..255"),
        meta={"n_classes": 10, "image_shape": tuple(train_images.shape[1:]),
              "files": {k: str(v) for k, v in files.items()}},
    )


# ---------------------------------------------------------------------------------------------
# Synthetic house prices

HOUSE_FEATURES = ("bedrooms", "living_area_sqft", "crime_rate", "school_proximity", "property_age")

#: Effect on the price (in $100k) of one standard deviation of each feature.
HOUSE_EFFECTS = {"bedrooms": 0.15, "living_area_sqft": 0.9, "crime_rate": -0.35,
                 "school_proximity": 0.3, "property_age": -0.2}


def house_prices(n: int = 1000, seed: int = 0, *, noise: float = 0.3, val_frac: float = 0.15,
                 test_frac: float = 0.15) -> Split:
    r"""Synthetic house prices with a known linear effect per (standardised) feature.

    The raw features are drawn to look like a real market: living area is log-normal (median
    1800 sq.ft), bedrooms follow living area (1 to 7), the crime rate (incidents per 1000
    residents) is log-normal, school proximity is :math:`1/(1 + d)` for a gamma-distributed
    distance :math:`d` in km (1 = next door), property age is gamma-distributed in years. Each
    column is standardised, :math:`z_j = (x_j - \bar x_j) / s_j` over all ``n`` rows, and the
    price in units of $100k is

    .. math::

        y = 3.5 + \sum_j \beta_j z_j + \varepsilon, \qquad \varepsilon \sim N(0, \sigma^2),

    with :math:`\beta` = :data:`HOUSE_EFFECTS` stored in ``meta["true_effects"]`` and
    :math:`\sigma` = ``noise``. Bedrooms and living area are correlated (about 0.8), so a model
    can trade one effect for the other: that is the honest caveat for the article's "gradient
    magnitude per feature" table. Standardising with all rows (not only the training part)
    keeps the effects exact on ``X``; for a synthetic set it leaks nothing that matters.

    Parameters
    ----------
    n : int
        Number of houses, at least 20.
    seed : int
        Seed of the draw and of the (random) split.
    noise : float
        Standard deviation :math:`\sigma \ge 0` of the price noise, in $100k.
    val_frac, test_frac : float
        Fractions in [0, 1) held out.

    Returns
    -------
    Split
        ``X_*`` (n, 5) standardised, ``y_*`` (n,) prices in $100k; ``meta`` has
        ``true_effects``, ``intercept``, ``noise``, ``feature_mean`` and ``feature_std`` (raw
        units, to undo the standardisation) and ``raw_units``.
    """
    n = _check_n(n, 20)
    seed = _check_seed(seed)
    noise = check_positive_number(noise, "noise", allow_zero=True)
    val_frac, test_frac = _check_fracs(val_frac, test_frac)
    rng = np.random.default_rng(seed)
    living_area = np.clip(rng.lognormal(np.log(1800), 0.35, n), 350, 8000)
    bedrooms = np.clip(np.round(living_area / 650 + rng.normal(0, 0.6, n)), 1, 7)
    crime_rate = rng.lognormal(np.log(3.0), 0.6, n)
    school_proximity = 1 / (1 + rng.gamma(2.0, 0.8, n))
    property_age = rng.gamma(2.0, 15.0, n)
    raw = np.column_stack([bedrooms, living_area, crime_rate, school_proximity, property_age])
    mean, std = raw.mean(axis=0), raw.std(axis=0)
    X = (raw - mean) / std
    beta = np.array([HOUSE_EFFECTS[f] for f in HOUSE_FEATURES])
    intercept = 3.5
    y = intercept + X @ beta + noise * rng.standard_normal(n)
    parts = _random_split(n, val_frac, test_frac, rng)
    return _take(
        X, y, parts,
        feature_names=HOUSE_FEATURES,
        description="synthetic house prices ($100k) from 5 standardised features, known effects",
        meta={"true_effects": dict(HOUSE_EFFECTS), "intercept": intercept, "noise": noise,
              "feature_mean": dict(zip(HOUSE_FEATURES, mean.tolist())),
              "feature_std": dict(zip(HOUSE_FEATURES, std.tolist())),
              "raw_units": {"bedrooms": "count", "living_area_sqft": "sq.ft",
                            "crime_rate": "incidents per 1000 residents per year",
                            "school_proximity": "1 / (1 + distance in km)",
                            "property_age": "years"},
              "seed": seed},
    )


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
