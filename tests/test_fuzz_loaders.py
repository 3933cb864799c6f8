"""Malformed data files, drawn by hypothesis: the loaders return valid arrays or raise ValueError naming the file."""

from __future__ import annotations

import io
import os
import struct
import tempfile

import numpy as np
import scipy.io
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinynet import datasets

# derandomize: the same examples every run, so CI is reproducible (a crash in SciPy's C reader would kill the run).
SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


def _valid_mat_bytes(n=6, d=4, compress=False) -> bytes:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    scipy.io.savemat(buf, {"X": rng.random((n, d)), "y": (np.arange(n) % 10 + 1).astype(np.uint8).reshape(-1, 1)},
                     do_compression=compress)
    return buf.getvalue()


VALID_MAT = _valid_mat_bytes()
VALID_MAT_COMPRESSED = _valid_mat_bytes(compress=True)


def _load(loader, contents: dict[str, bytes]):
    """Write each file into a fresh folder, call the loader on the paths; return its result or the ValueError."""
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for name, data in contents.items():
            path = os.path.join(folder, name)
            with open(path, "wb") as fh:
                fh.write(data)
            paths.append(path)
        try:
            return loader(*paths)
        except ValueError as exc:
            assert any(os.path.basename(p) in str(exc) for p in paths), f"the message names no file: {exc}"
            return exc


def _assert_valid_ex3(result):
    if isinstance(result, ValueError):
        return
    X, y = result
    assert X.dtype == np.float32 and X.ndim == 2 and np.isfinite(X).all()
    assert y.dtype == np.int64 and y.shape == (X.shape[0],) and y.min() >= 0 and y.max() <= 9


@SETTINGS
@given(data=st.binary(max_size=600))
def test_random_bytes_as_mat(data):
    _assert_valid_ex3(_load(datasets.load_ex3data1, {"ex3.mat": data}))


def test_unknown_element_type_is_an_error_not_a_crash(tmp_path):
    """SciPy's v5 reader crashes the process (segfault) on an unknown data type code; the loader refuses it first."""
    data = bytearray(VALID_MAT)
    tag = struct.pack("<II", 9, 6 * 4 * 8)         # miDOUBLE, 192 bytes: the tag of X's values
    at = data.index(tag)
    data[at] = 118
    result = _load(datasets.load_ex3data1, {"ex3.mat": bytes(data)})
    assert isinstance(result, ValueError) and "unknown data type 118" in str(result)


@SETTINGS
@given(compressed=st.booleans(), data=st.data())
def test_corrupted_valid_mat(compressed, data):
    valid = VALID_MAT_COMPRESSED if compressed else VALID_MAT
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(valid) - 1), st.integers(0, 255)), min_size=1,
                               max_size=8))
    cut = data.draw(st.integers(0, len(valid)))
    data = bytearray(valid)
    for position, value in flips:
        data[position] = value
    _assert_valid_ex3(_load(datasets.load_ex3data1, {"ex3.mat": bytes(data[:len(data) - cut])}))


numeric = st.sampled_from([np.float64, np.float32, np.int16, np.uint8, np.complex128, np.bool_])


@SETTINGS
@given(X=numeric.flatmap(lambda dt: hnp.arrays(dt, hnp.array_shapes(max_dims=3, max_side=4))),
       y=numeric.flatmap(lambda dt: hnp.arrays(dt, hnp.array_shapes(max_dims=2, max_side=5))),
       keys=st.sampled_from([("X", "y"), ("X",), ("y",), ("x", "y")]))
def test_mat_with_arbitrary_variables(X, y, keys):
    buf = io.BytesIO()
    scipy.io.savemat(buf, dict(zip(keys, (X, y), strict=False)))
    _assert_valid_ex3(_load(datasets.load_ex3data1, {"ex3.mat": buf.getvalue()}))


def _idx(magic: int, dims: tuple[int, ...], payload: bytes) -> bytes:
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + payload


@SETTINGS
@given(image_magic=st.sampled_from([2051, 2049, 2052, 0]), label_magic=st.sampled_from([2049, 2051, 7]),
       n=st.integers(0, 4), m=st.integers(0, 4), rows=st.integers(0, 3), cols=st.integers(0, 3),
       image_extra=st.integers(-3, 3), label_extra=st.integers(-2, 2), data=st.data())
def test_idx_files_with_arbitrary_headers(image_magic, label_magic, n, m, rows, cols, image_extra, label_extra,
                                          data):
    image_bytes = max(n * rows * cols + image_extra, 0)
    label_bytes = max(m + label_extra, 0)
    images = _idx(image_magic, (n, rows, cols), data.draw(st.binary(min_size=image_bytes, max_size=image_bytes)))
    labels = _idx(label_magic, (m,), data.draw(st.binary(min_size=label_bytes, max_size=label_bytes)))
    result = _load(datasets.load_mnist_idx, {"t-images-idx3-ubyte": images, "t-labels-idx1-ubyte": labels})
    if isinstance(result, ValueError):
        return
    X, y = result
    assert X.dtype == np.float32 and X.shape == (n, rows * cols) and y.shape == (n,)
    assert ((0 <= X) & (X <= 1)).all() and y.dtype == np.int64


@SETTINGS
@given(data=st.binary(max_size=200))
def test_random_bytes_as_idx(data):
    result = _load(datasets.load_mnist_idx, {"a-images-idx3-ubyte": data, "a-labels-idx1-ubyte": data[::-1]})
    assert isinstance(result, ValueError) or result[0].shape[0] == result[1].shape[0]


def test_gzip_idx_that_claims_past_the_cap_or_is_cut_short(monkeypatch):
    import gzip
    images = _idx(2051, (3, 4, 4), bytes(48))
    labels = _idx(2049, (3,), bytes(3))
    monkeypatch.setattr(datasets, "_MAX_IDX_BYTES", 40)
    result = _load(datasets.load_mnist_idx, {"a-images-idx3-ubyte.gz": gzip.compress(images),
                                             "a-labels-idx1-ubyte": labels})
    assert isinstance(result, ValueError) and "refusing to read more than" in str(result)
    monkeypatch.undo()
    cut = gzip.compress(images)[:-12]
    result = _load(datasets.load_mnist_idx, {"a-images-idx3-ubyte.gz": cut, "a-labels-idx1-ubyte": labels})
    assert isinstance(result, ValueError) and "truncated" in str(result)
