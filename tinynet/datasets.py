"""Digit data sets: the course file ``ex3data1.mat``, MNIST IDX files, scikit-learn's 8x8 digits; a stratified split.

Every loader returns ``(X, y)`` with ``X`` float32 of shape (n_samples, n_features), one flattened image per row,
and ``y`` int64 of shape (n_samples,) holding the digit 0..9. Every failure to read a file is a ``ValueError``
naming the file and the problem.

Image layout differs between sources: ``ex3data1.mat`` stores each image column-major (MATLAB order), MNIST and
scikit-learn row-major. :func:`to_images` turns rows back into upright images for either.
"""

from __future__ import annotations

import io
import math
import numbers
import os
import zlib

import numpy as np

from ._validation import class_labels, describe, real_number

__all__ = ["load_ex3data1", "load_mnist_idx", "load_digits", "to_images", "train_test_split"]


# -- ex3data1.mat ------------------------------------------------------------------------------------------
def load_ex3data1(path="Data/ex3data1.mat") -> tuple[np.ndarray, np.ndarray]:
    """Read a MAT file in the layout of the course file ``ex3data1.mat``.

    Parameters
    ----------
    path : str or os.PathLike
        A MATLAB (v4-v7.2) MAT file holding ``X`` of shape (n, d), each row an image flattened column-major, and
        ``y`` of shape (n, 1) or (n,) with labels 1..10, where 10 stands for the digit 0.

    Returns
    -------
    X : ndarray of shape (n, d), float32, the values as stored (not rescaled).
    y : ndarray of shape (n,), int64, digits 0..9 (label 10 becomes 0).

    Raises
    ------
    ValueError
        If the file is missing, is not a readable MAT file, lacks ``X`` or ``y``, or they have the wrong shape,
        kind or label range. The message names the file.
    """
    import scipy.io  # scipy is a runtime dependency; imported here to keep `import tinynet` light

    path = _existing_file(path)
    with open(path, "rb") as fh:
        raw = fh.read()
    _check_mat5_elements(raw, path)
    try:   # SciPy reads the very bytes that were checked (a file changed in between can't slip through)
        data = scipy.io.loadmat(io.BytesIO(raw), variable_names=("X", "y"))
    except Exception as exc:  # scipy raises ValueError, MatReadError, OSError, zlib.error, EOFError, ...
        raise ValueError(f"{path!r} is not a readable MAT file ({_reason(exc)})") from exc
    missing = [key for key in ("X", "y") if key not in data]
    if missing:
        raise ValueError(f"{path!r} has no variable {' or '.join(map(repr, missing))}; expected X (samples x "
                         "pixels) and y (labels 1..10) as in ex3data1.mat")
    X, y = data["X"], data["y"]
    if not _is_real(X) or X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{path!r}: expected X to be a non-empty 2-D numeric array (samples x pixels), "
                         f"received {describe(X)}")
    if not np.isfinite(X).all():
        raise ValueError(f"{path!r}: expected X to hold only finite values, found NaN or inf")
    if not _is_real(y) or y.size != max(y.shape, default=0) or y.ndim > 2:
        raise ValueError(f"{path!r}: expected y to be a numeric vector of labels (n x 1), received {describe(y)}")
    y = y.ravel()
    if y.size != X.shape[0]:
        raise ValueError(f"{path!r}: X has {X.shape[0]} rows but y has {y.size} labels; expected one label per "
                         "row")
    labels = y.astype(np.float64)
    if not np.array_equal(labels, np.round(labels)) or labels.min() < 1 or labels.max() > 10:
        bad = y[(labels != np.round(labels)) | (labels < 1) | (labels > 10)][0]
        raise ValueError(f"{path!r}: expected labels 1..10 in y (10 stands for the digit 0), found {bad.item()!r}")
    y = labels.astype(np.int64)
    y[y == 10] = 0
    with np.errstate(over="ignore"):
        X32 = np.asarray(X, dtype=np.float32)
    if not np.isfinite(X32).all():
        raise ValueError(f"{path!r}: expected X within float32's range, found values up to "
                         f"{np.abs(X.astype(np.float64)).max():.3g}")
    return X32, y


def to_images(X, shape=(20, 20), order="F") -> np.ndarray:
    """Turn rows of flattened images back into upright images.

    Parameters
    ----------
    X : array_like of shape (n, h*w) or (h*w,)
    shape : (h, w)
        Image height and width.
    order : "F" (default) or "C"
        How each row was flattened: "F" column-major, as in ``ex3data1.mat`` (a C-order reshape would show those
        digits transposed); "C" row-major, as in MNIST and scikit-learn's digits.

    Returns
    -------
    ndarray of shape (n, h, w) (a view when possible).
    """
    X = np.asarray(X)
    if X.ndim == 1:
        X = X[None, :]
    if (not isinstance(shape, (tuple, list)) or len(shape) != 2
            or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in shape)):
        raise TypeError(f"shape: expected (height, width) as two positive integers, received {describe(shape)}")
    if order not in ("F", "C"):
        raise ValueError(f"order: expected 'F' (column-major, ex3data1.mat) or 'C' (row-major), "
                         f"received {describe(order)}")
    h, w = int(shape[0]), int(shape[1])
    if X.ndim != 2 or X.shape[1] != h * w:
        raise ValueError(f"X: expected rows of {h}*{w}={h * w} pixels, shape (n, {h * w}), received shape "
                         f"{X.shape}")
    if order == "C":
        return X.reshape(X.shape[0], h, w)
    # Column-major: pixel (r, c) sits at r + c*h, so the row reads as (w, h) and is transposed back.
    return X.reshape(X.shape[0], w, h).transpose(0, 2, 1)


# -- MNIST IDX ---------------------------------------------------------------------------------------------
_IDX_IMAGES, _IDX_LABELS = 2051, 2049  # magic numbers: 0x0803 (ubyte, 3 dims), 0x0801 (ubyte, 1 dim)


def load_mnist_idx(images_path, labels_path) -> tuple[np.ndarray, np.ndarray]:
    """Read an MNIST pair of IDX files (raw or gzip-compressed; detected from the content, not the name).

    Parameters
    ----------
    images_path : path of an ``*-images-idx3-ubyte[.gz]`` file (magic 2051, dims n x rows x cols, uint8 pixels).
    labels_path : path of the matching ``*-labels-idx1-ubyte[.gz]`` file (magic 2049, n labels 0..9).

    Returns
    -------
    X : ndarray of shape (n, rows*cols), float32 in [0, 1], each image flattened row-major.
    y : ndarray of shape (n,), int64.

    Raises
    ------
    ValueError
        On a missing or unreadable file, a wrong magic number, zero dimensions, a size that does not match the
        header (truncated or padded file), or image and label counts that differ.
    """
    images_path, labels_path = _existing_file(images_path, "images_path"), _existing_file(labels_path,
                                                                                          "labels_path")
    images, dims = _read_idx(images_path, _IDX_IMAGES, 3)
    labels, (n_labels,) = _read_idx(labels_path, _IDX_LABELS, 1)
    if dims[0] != n_labels:
        raise ValueError(f"{images_path!r} holds {dims[0]} images but {labels_path!r} holds {n_labels} labels; "
                         "expected the same count")
    X = images.reshape(dims[0], dims[1] * dims[2]).astype(np.float32) / np.float32(255.0)
    return X, labels.astype(np.int64)


def _read_idx(path: str, magic: int, ndim: int) -> tuple[np.ndarray, tuple[int, ...]]:
    """The IDX file's pixels or labels and its dimensions. The header is read first and fixes how many bytes the
    file must hold, so a gzip file is inflated no further than that (a bomb is refused at its declared end)."""
    kind = "images" if magic == _IDX_IMAGES else "labels"
    header = 4 + 4 * ndim
    with _IdxStream(path) as stream:
        head = stream.read(header)
        found = int.from_bytes(head[:4], "big") if len(head) >= 4 else None
        if found is not None and found != magic:
            raise ValueError(f"{path!r} is not an MNIST {kind} IDX file: magic number {found}, expected {magic}")
        if len(head) < header:
            raise ValueError(f"{path!r} is not an MNIST {kind} IDX file: {len(head)} bytes, shorter than its "
                             f"{header}-byte header")
        dims = tuple(int.from_bytes(head[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
        if 0 in dims:
            raise ValueError(f"{path!r}: the IDX header gives dimensions {dims}; expected all to be positive")
        expected = header + math.prod(dims)
        if expected > _MAX_IDX_BYTES:
            raise ValueError(f"{path!r}: the IDX header gives dimensions {dims}, {expected} bytes; refusing to read "
                             f"more than {_MAX_IDX_BYTES >> 20} MiB (MNIST's largest file is 45 MiB)")
        body = stream.read(expected - header)
        extra = stream.read(1)
    if len(body) < expected - header or extra:
        size = f"{header + len(body)}" if not extra else "more"
        what = "truncated" if not extra else "longer than its header says"
        raise ValueError(f"{path!r} is {what}: the header {dims} needs {expected} bytes, the file has {size}")
    return np.frombuffer(body, dtype=np.uint8), dims


_MAX_IDX_BYTES = 1 << 30      # what one IDX file may hold once inflated, whatever its header claims


class _IdxStream:
    """An IDX file's bytes, raw or gzip (told by the content, not the name), read in pieces: ``read(n)`` returns at
    most ``n`` bytes, so nothing past what the caller asks for is ever inflated. Read errors are ``ValueError``."""

    def __init__(self, path: str):
        self.path = path
        try:
            self._file = open(path, "rb")
            self._gzip = self._file.read(2) == b"\x1f\x8b"
            self._file.seek(0)
        except OSError as exc:
            raise ValueError(f"{path!r} could not be read ({_reason(exc)})") from exc
        self._inflater = zlib.decompressobj(wbits=31) if self._gzip else None     # wbits=31: gzip framing

    def __enter__(self) -> _IdxStream:
        return self

    def __exit__(self, *exc) -> None:
        self._file.close()

    def read(self, n: int) -> bytes:
        pieces, left = [], n
        try:
            while left > 0:
                piece = self._next(min(left, 1 << 20))
                if not piece:
                    break
                pieces.append(piece)
                left -= len(piece)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"{self.path!r} could not be read ({_reason(exc)})") from exc
        return b"".join(pieces)

    def _next(self, n: int) -> bytes:
        if not self._gzip:
            return self._file.read(n)
        while True:
            if self._inflater.eof:
                return b""
            data = self._inflater.unconsumed_tail or self._file.read(1 << 16)
            if not data:
                raise ValueError(f"{self.path!r} could not be read (the gzip stream is truncated)")
            piece = self._inflater.decompress(data, n)
            if piece:
                return piece


# -- scikit-learn's 8x8 digits -----------------------------------------------------------------------------
def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 8x8 digits that ship inside scikit-learn (no download): tinynet's built-in default.

    Returns
    -------
    X : ndarray of shape (1797, 64), float32 in [0, 1] (the stored 0..16 divided by 16), row-major 8x8 images.
    y : ndarray of shape (1797,), int64 digits 0..9.

    Raises
    ------
    ImportError
        If scikit-learn is not installed (``pip install 'tinynet[datasets]'``).
    """
    try:
        from sklearn.datasets import load_digits as sklearn_load_digits
    except ImportError as exc:
        raise ImportError("the built-in digits come from scikit-learn, which is not installed; install it "
                          "with: pip install 'tinynet[datasets]'") from exc
    bunch = sklearn_load_digits()
    X = np.asarray(bunch.data, dtype=np.float32) / np.float32(16.0)
    return X, np.asarray(bunch.target, dtype=np.int64)


# -- splitting ---------------------------------------------------------------------------------------------
def _stratified_test_rows(y, test_size, n_test, rng):
    """Rows for the test part: ``floor(test_size * n_c)`` per class, the rest by largest fractional share."""
    classes, counts = np.unique(y, return_counts=True)
    if counts.min() < 2:
        raise ValueError(f"y: class {classes[counts.argmin()]} has only {counts.min()} sample; a stratified "
                         "split needs at least 2 per class (or pass stratify=False)")
    share = test_size * counts
    per_class = np.floor(share).astype(np.int64)
    # Hand out the remaining test samples by largest fractional share (random among ties), never taking a
    # class's last training sample.
    room = per_class < counts - 1
    frac = np.where(room, share - per_class, -1.0)
    order = rng.permutation(len(classes))
    order = order[np.argsort(-frac[order], kind="stable")]
    for k in order[:max(0, n_test - int(per_class.sum()))]:
        if room[k]:
            per_class[k] += 1
    return np.concatenate([rng.permutation(np.flatnonzero(y == c))[:m]
                           for c, m in zip(classes, per_class, strict=True)])


def train_test_split(X, y, test_size=0.2, stratify=True, seed=0):
    """Split samples into a training and a test part, by default keeping each class's share in both.

    Parameters
    ----------
    X : array_like of shape (n, ...)
    y : array_like of shape (n,) or (n, 1), integer class labels >= 0
    test_size : float in (0, 1)
        Fraction of samples for the test part: ``ceil(test_size * n)`` of them (scikit-learn's rule).
    stratify : bool
        If True, each class gives ``floor(test_size * n_c)`` samples to the test part, and the remaining few go to
        the classes with the largest fractional shares, so class proportions match to within one sample. Every
        class needs at least 2 samples.
    seed : int or numpy.random.Generator
        Source of the random choice and of the order of both parts (each part is shuffled).

    Returns
    -------
    X_train, X_test, y_train, y_test : arrays; y as int64 of shape (n_train,) / (n_test,).
    """
    if isinstance(X, (str, bytes)) or X is None:
        raise TypeError(f"X: expected an array of samples, received {describe(X)}")
    X = np.asarray(X)
    if X.ndim < 1 or X.shape[0] < 2:
        raise ValueError(f"X: expected an array of at least 2 samples, shape (n, ...), received shape {X.shape}")
    n = X.shape[0]
    y = class_labels(y, "y", n=n)
    test_size = real_number(test_size, "test_size", low=0.0, high=1.0, low_open=True, high_open=True)
    if not isinstance(stratify, bool):
        raise TypeError(f"stratify: expected True or False, received {describe(stratify)}")
    if isinstance(seed, np.random.Generator):
        rng = seed
    elif isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        if seed < 0:
            raise ValueError(f"seed: expected a non-negative integer or a numpy.random.Generator, received {seed}")
        rng = np.random.default_rng(int(seed))
    else:
        raise TypeError(f"seed: expected a non-negative integer or a numpy.random.Generator, "
                        f"received {describe(seed)}")
    n_test = math.ceil(test_size * n)
    if n_test >= n:
        raise ValueError(f"test_size: {test_size} of {n} samples leaves {n - n_test} for training; expected "
                         "both parts to be non-empty")

    test_idx = _stratified_test_rows(y, test_size, n_test, rng) if stratify else rng.permutation(n)[:n_test]
    is_test = np.zeros(n, dtype=bool)
    is_test[test_idx] = True
    train_idx = rng.permutation(np.flatnonzero(~is_test))
    test_idx = rng.permutation(np.flatnonzero(is_test))
    return X[train_idx], X[test_idx], y[train_idx], y[test_idx]


# -- helpers -----------------------------------------------------------------------------------------------
# MAT v5 element data types a reader may meet inside an array (miMATRIX = 14 nests; 15 = miCOMPRESSED).
_MAT5_DATA_TYPES = frozenset({1, 2, 3, 4, 5, 6, 7, 9, 12, 13, 16, 17, 18})
_MAT5_MATRIX, _MAT5_COMPRESSED = 14, 15
_MAX_MAT_INFLATED = 1 << 30   # what a MAT file's compressed elements may inflate to in all (MNIST in float64: 0.4 GiB)


def _check_mat5_elements(data: bytes, path: str) -> None:
    """Walk a MAT v5 file's element tags and refuse unknown data types or sizes that overrun their container.

    SciPy's v5 reader indexes a table with the data type code read from the file without checking it, so a
    corrupted or crafted code crashes the whole process (a segmentation fault, not an exception). This walk finds
    such codes first and turns them into a ``ValueError``. Files that are not MAT v5 are left to SciPy.
    """
    if len(data) < 128 or data[126:128] not in (b"IM", b"MI"):
        return                                      # not v5 (v4, HDF5-based v7.3, or not a MAT file at all)
    order = "<" if data[126:128] == b"IM" else ">"
    budget = _MAX_MAT_INFLATED

    def walk(buf: bytes, inside_matrix: bool, depth: int) -> None:
        nonlocal budget
        pos = 0
        while pos < len(buf):
            if len(buf) - pos < 8:
                raise ValueError("a truncated element tag")
            first, count = np.frombuffer(buf, dtype=order + "u4", count=2, offset=pos).tolist()
            if first >> 16:                         # "small data element": type and size packed in 4 bytes
                mdtype, count, start, end = first & 0xFFFF, first >> 16, pos + 4, pos + 8
                if count > 4:
                    raise ValueError(f"a small data element of {count} bytes")
            else:
                mdtype, start = first, pos + 8
                end = start + count + (-count % 8 if mdtype != _MAT5_COMPRESSED else 0)
            if start + count > len(buf):
                raise ValueError(f"an element of {count} bytes at offset {pos} that runs past its container")
            payload = buf[start:start + count]
            if mdtype == _MAT5_COMPRESSED and not inside_matrix and depth == 0:
                inflated = _inflate_mat5_element(payload, order, budget)
                budget -= len(inflated)
                walk(memoryview(inflated), False, depth + 1)
            elif mdtype == _MAT5_MATRIX:
                if depth > 32:
                    raise ValueError("arrays nested more than 32 deep")
                walk(payload, True, depth + 1)
            elif not inside_matrix or mdtype not in _MAT5_DATA_TYPES:
                raise ValueError(f"an element of unknown data type {mdtype} at offset {pos}")
            pos = end

    try:
        walk(memoryview(data)[128:], False, 0)             # memoryview: slices without copying
    except ValueError as exc:
        raise ValueError(f"{path!r} is not a readable MAT file ({exc})") from None


def _inflate_mat5_element(payload, order: str, budget: int) -> bytes:
    """A compressed element's contents, inflated no further than the element inside declares: its 8-byte tag
    first, then exactly the bytes the tag counts (refused beyond ``budget``), and then the zlib stream must end. A
    bomb is refused after 8 bytes (it declares too much) or at its declared end (it holds more), never inflated."""
    try:
        tag = zlib.decompressobj().decompress(payload, 8)
        if len(tag) < 8:
            raise ValueError("a compressed element shorter than an element tag")
        first, count = np.frombuffer(tag, dtype=order + "u4", count=2).tolist()
        size = 8 if first >> 16 else 8 + count          # a small element packs its 4 bytes into the tag
        if size > budget:
            raise ValueError(f"a compressed element that inflates to {size} bytes, beyond the "
                             f"{_MAX_MAT_INFLATED >> 20} MiB tinynet inflates from one MAT file")
        inflater = zlib.decompressobj()
        contents = inflater.decompress(payload, size)
        if len(contents) < size:
            raise ValueError(f"a compressed element that ends before the {size} bytes it declares")
        if inflater.decompress(inflater.unconsumed_tail, 1) or not inflater.eof:
            raise ValueError(f"a compressed element that does not end after the {size} bytes it declares")
    except zlib.error as exc:
        raise ValueError(f"a compressed element that does not decompress ({exc})") from None
    return contents


def _existing_file(path, name: str = "path") -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name}: expected a file path, received {describe(path)}")
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"{path!r}: no such file")
    if not os.path.isfile(path):
        raise ValueError(f"{path!r} is not a file")
    return path


def _is_real(a) -> bool:
    return isinstance(a, np.ndarray) and (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating))


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "no details"
    return f"{type(exc).__name__}: {text}"
