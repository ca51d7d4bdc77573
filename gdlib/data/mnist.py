r"""MNIST from its IDX files: a reader, a writer, and a checksum-verified download and cache.

- :func:`load_mnist`: the real MNIST from its four IDX files (optionally downloaded once and
  verified by SHA-256) as a :class:`~gdlib.data.Split`;
- :func:`read_idx` and :func:`write_idx` read and write the format.

:mod:`gdlib.data` gathers every public name here with the course's other data sets (its
offline MNIST stand-in is :func:`gdlib.data.load_digits`). Introduced in the lab chapter
(``ch-lab``).
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

from gdlib._validate import check_fraction
from gdlib.data.splits import Split

__all__ = ["load_mnist", "read_idx", "write_idx", "MNIST_URL", "MNIST_SHA256", "MNIST_FILES"]


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
                "For offline work use gdlib.data.load_digits()."
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

