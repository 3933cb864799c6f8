"""tinynet.datasets: the ex3data1.mat loader, image orientation, MNIST IDX files, scikit-learn's digits, the split."""

from __future__ import annotations

import gzip
import os
import struct
import sys

import numpy as np
import pytest
import scipy.io
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tinynet import datasets


# -- helpers -----------------------------------------------------------------------------------------------
def write_ex3(path, X, y, **extra):
    """A .mat file in the exact ex3data1 layout: X float64 (n, 400), y uint8 (n, 1) with labels 1..10."""
    scipy.io.savemat(path, {"X": np.asarray(X, dtype=np.float64), "y": np.asarray(y, dtype=np.uint8).reshape(-1, 1),
                            **extra})
    return str(path)


def l_shape(h=20, w=20):
    """An asymmetric upright 'L': a vertical stroke in column 3 (rows 2..16) and a foot on row 16 (columns 3..12)."""
    img = np.zeros((h, w))
    img[2:17, 3] = 1.0
    img[16, 3:13] = 1.0
    return img


def write_idx(path, array, magic, compress=False, cut=0, pad=b""):
    array = np.asarray(array, dtype=np.uint8)
    raw = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape) + array.tobytes() + pad
    if cut:
        raw = raw[:-cut]
    with open(path, "wb") as fh:
        fh.write(gzip.compress(raw) if compress else raw)
    return str(path)


def mnist_pair(folder, n=7, rows=4, cols=5, compress=False, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, rows, cols), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    suffix = ".gz" if compress else ""
    ip = write_idx(os.path.join(folder, f"t-images-idx3-ubyte{suffix}"), images, 2051, compress)
    lp = write_idx(os.path.join(folder, f"t-labels-idx1-ubyte{suffix}"), labels, 2049, compress)
    return ip, lp, images, labels


# -- ex3data1.mat ------------------------------------------------------------------------------------------
def test_load_ex3data1_layout_and_label_mapping(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 400))
    labels = np.tile(np.arange(1, 11), 3)           # 1..10, 10 meaning the digit 0
    path = write_ex3(tmp_path / "ex3.mat", X, labels)
    Xl, yl = datasets.load_ex3data1(path)
    assert Xl.dtype == np.float32 and Xl.shape == (30, 400)
    np.testing.assert_array_equal(Xl, X.astype(np.float32))        # as stored, not rescaled
    assert yl.dtype == np.int64 and yl.shape == (30,)
    np.testing.assert_array_equal(yl, labels % 10)


def test_to_images_shows_column_major_rows_upright(tmp_path):
    img = l_shape()
    X = np.stack([img.ravel(order="F"), img.T.ravel(order="F")])  # how MATLAB stores them
    path = write_ex3(tmp_path / "l.mat", X, [1, 2])
    Xl, _ = datasets.load_ex3data1(path)
    images = datasets.to_images(Xl)
    assert images.shape == (2, 20, 20)
    np.testing.assert_array_equal(images[0], img)
    np.testing.assert_array_equal(images[1], img.T)
    assert images[0][10, 3] == 1 and images[0][3, 10] == 0          # vertical stroke, not a horizontal one
    assert not np.array_equal(Xl[0].reshape(20, 20), img)           # a C-order reshape would be transposed


def test_to_images_non_square_and_row_major():
    img = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(datasets.to_images(img.ravel(order="F"), (3, 4))[0], img)
    np.testing.assert_array_equal(datasets.to_images(img.ravel(), (3, 4), order="C")[0], img)
    with pytest.raises(ValueError, match="12"):
        datasets.to_images(np.zeros((2, 13)), (3, 4))
    with pytest.raises(ValueError, match="order"):
        datasets.to_images(np.zeros((2, 12)), (3, 4), order="A")
    with pytest.raises(TypeError, match="shape"):
        datasets.to_images(np.zeros((2, 12)), (3, 4.0))


def test_shared_digits_load_upright(digits):
    X_ref, y_ref = digits
    X, y = datasets.load_ex3data1(os.environ["TINYNET_DIGITS"])
    assert X.shape == (5000, 400) and X.dtype == np.float32
    np.testing.assert_array_equal(X, X_ref.astype(np.float32))
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(np.bincount(y), [500] * 10)
    # Upright ones are tall strokes: their ink varies much more across columns than down the rows.
    ones = datasets.to_images(X[y == 1]).mean(axis=0)
    assert ones.sum(axis=0).std() > 2 * ones.sum(axis=1).std()
    transposed = X[y == 1].reshape(-1, 20, 20).mean(axis=0)      # the C-order mistake shows them lying down
    assert transposed.sum(axis=1).std() > 2 * transposed.sum(axis=0).std()


@pytest.mark.parametrize("contents, problem", [
    ({"y": np.ones((3, 1), np.uint8)}, "no variable 'X'"),
    ({"X": np.zeros((3, 400))}, "no variable 'y'"),
    ({"X": np.zeros((3, 20, 20)), "y": np.ones((3, 1), np.uint8)}, "2-D"),
    ({"X": np.zeros((3, 400)), "y": np.ones((4, 1), np.uint8)}, "3 rows but y has 4"),
    ({"X": np.zeros((3, 400)), "y": np.ones((3, 2), np.uint8)}, "vector"),
    ({"X": np.zeros((3, 400)), "y": np.array([[1], [0], [2]], np.uint8)}, "1..10"),
    ({"X": np.zeros((3, 400)), "y": np.array([[1], [11], [2]], np.uint8)}, "1..10"),
    ({"X": np.zeros((3, 400)), "y": np.array([[1.5], [1], [2]])}, "1..10"),
    ({"X": np.full((3, 400), np.nan), "y": np.ones((3, 1), np.uint8)}, "finite"),
    ({"X": np.array(["abc"]), "y": np.ones((1, 1), np.uint8)}, "numeric"),
])
def test_load_ex3data1_rejects_malformed_contents(tmp_path, contents, problem):
    path = str(tmp_path / "bad.mat")
    scipy.io.savemat(path, contents)
    with pytest.raises(ValueError, match=problem) as info:
        datasets.load_ex3data1(path)
    assert "bad.mat" in str(info.value)


@pytest.mark.parametrize("keep", [5, 100, 300, 0.5, 0.97])
def test_load_ex3data1_truncated_file_gives_our_error(tmp_path, keep):
    rng = np.random.default_rng(0)
    full = write_ex3(tmp_path / "full.mat", rng.normal(size=(50, 400)), rng.integers(1, 11, size=50))
    raw = open(full, "rb").read()
    cut = tmp_path / "cut.mat"
    cut.write_bytes(raw[:int(len(raw) * keep) if isinstance(keep, float) else keep])
    with pytest.raises(ValueError, match="cut.mat") as info:
        datasets.load_ex3data1(cut)
    assert type(info.value) is ValueError


def test_load_ex3data1_text_file_missing_file_and_folder(tmp_path):
    text = tmp_path / "notes.mat"
    text.write_text("this is not a MAT file\n" * 20)
    with pytest.raises(ValueError, match="notes.mat' is not a readable MAT file"):
        datasets.load_ex3data1(text)
    with pytest.raises(ValueError, match="no such file"):
        datasets.load_ex3data1(tmp_path / "missing.mat")
    with pytest.raises(ValueError, match="not a file"):
        datasets.load_ex3data1(tmp_path)
    with pytest.raises(TypeError, match="path"):
        datasets.load_ex3data1(3)


# -- MNIST IDX ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("compress", [False, True])
def test_load_mnist_idx_raw_and_gzip(tmp_path, compress):
    ip, lp, images, labels = mnist_pair(str(tmp_path), compress=compress)
    X, y = datasets.load_mnist_idx(ip, lp)
    assert X.dtype == np.float32 and X.shape == (7, 20)
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, labels)
    np.testing.assert_allclose(X, images.reshape(7, 20) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(datasets.to_images(X, (4, 5), order="C"), images / np.float32(255.0))
    assert X.min() >= 0 and X.max() <= 1


def test_load_mnist_idx_rejects_bad_files(tmp_path):
    d = str(tmp_path)
    ip, lp, images, labels = mnist_pair(d)
    with pytest.raises(ValueError, match="magic number 2049, expected 2051"):
        datasets.load_mnist_idx(lp, lp)
    with pytest.raises(ValueError, match="magic number 2051, expected 2049"):
        datasets.load_mnist_idx(ip, ip)
    short = write_idx(os.path.join(d, "short-images-idx3-ubyte"), images, 2051, cut=3)
    with pytest.raises(ValueError, match="short-images-idx3-ubyte' is truncated"):
        datasets.load_mnist_idx(short, lp)
    long = write_idx(os.path.join(d, "long-labels-idx1-ubyte"), labels, 2049, pad=b"\0")
    with pytest.raises(ValueError, match="longer than its header"):
        datasets.load_mnist_idx(ip, long)
    few = write_idx(os.path.join(d, "few-labels-idx1-ubyte"), labels[:5], 2049)
    with pytest.raises(ValueError, match="7 images but .* 5 labels"):
        datasets.load_mnist_idx(ip, few)
    empty = write_idx(os.path.join(d, "empty-images-idx3-ubyte"), np.zeros((0, 4, 5)), 2051)
    with pytest.raises(ValueError, match="positive"):
        datasets.load_mnist_idx(empty, lp)
    tiny = os.path.join(d, "tiny")
    open(tiny, "wb").write(b"\0\0\x08")
    with pytest.raises(ValueError, match="header"):
        datasets.load_mnist_idx(tiny, lp)
    gz = write_idx(os.path.join(d, "cut-images-idx3-ubyte.gz"), images, 2051, compress=True)
    raw = open(gz, "rb").read()
    open(gz, "wb").write(raw[:len(raw) // 2])
    with pytest.raises(ValueError, match="cut-images-idx3-ubyte.gz' could not be read"):
        datasets.load_mnist_idx(gz, lp)
    with pytest.raises(ValueError, match="no such file"):
        datasets.load_mnist_idx(os.path.join(d, "nope"), lp)


# -- scikit-learn's digits ---------------------------------------------------------------------------------
def test_load_digits_builtin():
    X, y = datasets.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert X.min() == 0.0 and X.max() == 1.0
    assert y.dtype == np.int64 and set(np.unique(y)) == set(range(10))


def test_load_digits_without_scikit_learn_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)   # makes the import fail
    with pytest.raises(ImportError, match=r"tinynet\[datasets\]"):
        datasets.load_digits()


# -- train_test_split --------------------------------------------------------------------------------------
def test_stratified_split_keeps_class_shares_and_partitions():
    y = np.repeat(np.arange(10), 500)                    # sorted by class, like ex3data1.mat
    X = np.arange(5000)
    X_tr, X_te, y_tr, y_te = datasets.train_test_split(X, y, test_size=0.2, seed=0)
    np.testing.assert_array_equal(np.bincount(y_te), [100] * 10)
    np.testing.assert_array_equal(np.bincount(y_tr), [400] * 10)
    np.testing.assert_array_equal(np.sort(np.concatenate([X_tr, X_te])), X)     # disjoint, nothing lost
    np.testing.assert_array_equal(y[X_tr], y_tr)
    np.testing.assert_array_equal(y[X_te], y_te)
    assert np.any(np.diff(y_te) < 0) and np.any(np.diff(y_tr) < 0)            # shuffled, not class-sorted


def test_split_is_reproducible_and_seeded():
    y = np.repeat(np.arange(3), 20)
    X = np.arange(60)
    a = datasets.train_test_split(X, y, seed=5)
    b = datasets.train_test_split(X, y, seed=5)
    c = datasets.train_test_split(X, y, seed=6)
    d = datasets.train_test_split(X, y, seed=np.random.default_rng(5))
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[1], c[1])
    np.testing.assert_array_equal(a[1], d[1])


def test_unstratified_split_sizes():
    X = np.arange(101).reshape(101, 1)
    X_tr, X_te, y_tr, y_te = datasets.train_test_split(X, np.zeros(101, int), test_size=0.25, stratify=False)
    assert X_te.shape == (26, 1) and X_tr.shape == (75, 1)   # ceil(0.25 * 101) test samples
    assert len(np.intersect1d(X_tr, X_te)) == 0


@settings(max_examples=60, deadline=None)
@given(counts=st.lists(st.integers(2, 40), min_size=1, max_size=8), test_size=st.floats(0.05, 0.6),
       seed=st.integers(0, 2**31))
def test_stratified_split_proportions_property(counts, test_size, seed):
    y = np.repeat(np.arange(len(counts)), counts)
    n = len(y)
    assume(np.ceil(test_size * n) < n)        # otherwise nothing is left for training: an error, tested below
    X_tr, X_te, y_tr, y_te = datasets.train_test_split(np.arange(n), y, test_size=test_size, seed=seed)
    assert len(X_tr) + len(X_te) == n and len(np.intersect1d(X_tr, X_te)) == 0
    assert len(X_te) <= int(np.ceil(test_size * n))
    per_class = np.bincount(y_te, minlength=len(counts))
    assert np.all(np.abs(per_class - test_size * np.array(counts)) < 1.0 + 1e-9)
    assert np.all(np.bincount(y_tr, minlength=len(counts)) >= 1)      # every class keeps a training sample


@pytest.mark.parametrize("kwargs, error, match", [
    ({"test_size": 0.0}, ValueError, "test_size"),
    ({"test_size": 1.0}, ValueError, "test_size"),
    ({"test_size": "0.2"}, TypeError, "test_size"),
    ({"stratify": 1}, TypeError, "stratify"),
    ({"seed": -1}, ValueError, "seed"),
    ({"seed": 1.5}, TypeError, "seed"),
])
def test_split_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        datasets.train_test_split(np.arange(20), np.repeat([0, 1], 10), **kwargs)


def test_split_rejects_bad_data():
    with pytest.raises(ValueError, match="y: expected 10 labels"):
        datasets.train_test_split(np.arange(10), np.zeros(9, int))
    with pytest.raises(ValueError, match="class 2 has only 1 sample"):
        datasets.train_test_split(np.arange(7), [0, 0, 0, 1, 1, 1, 2])
    with pytest.raises(ValueError, match="leaves 0 for training"):
        datasets.train_test_split(np.arange(3), [0, 0, 0], test_size=0.9, stratify=False)
    with pytest.raises(TypeError, match="X"):
        datasets.train_test_split("abc", [0, 1, 0])
