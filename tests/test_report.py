"""tinynet.report: the PNG figures exist, are real PNGs of a readable size, and mark mistakes in red."""

from __future__ import annotations

import os
import struct

import numpy as np
import pytest
from matplotlib.image import imread

from tinynet import report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path) -> tuple[int, int]:
    """(width, height) from the IHDR chunk, after checking the PNG signature."""
    with open(path, "rb") as fh:
        head = fh.read(24)
    assert head[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def red_pixels(path) -> int:
    rgb = imread(path)[..., :3]
    return int(np.count_nonzero((rgb[..., 0] > 0.7) & (rgb[..., 1] < 0.35) & (rgb[..., 2] < 0.35)))


def digits_like(n=60, seed=0):
    """n upright 8x8 'digits' (a bar whose row is the class) with labels and confident probabilities."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 10
    images = rng.random((n, 8, 8)) * 0.2
    for i, c in enumerate(y):
        images[i, c % 8, :] = 1.0
    probs = np.full((n, 10), 0.01)
    probs[np.arange(n), y] = 0.91
    return images, y, probs


def test_plot_history_writes_png(tmp_path):
    history = {"loss": [1.0, 0.5, 0.3], "accuracy": [0.5, 0.8, 0.9], "val_loss": [1.1, 0.7, 0.6],
               "val_accuracy": [0.4, 0.7, 0.8]}
    path = report.plot_history(history, tmp_path / "curves.png")
    width, height = png_size(path)
    assert width >= 600 and height >= 300
    assert os.path.getsize(path) > 5000
    with pytest.raises(ValueError, match="history"):
        report.plot_history({"loss": []}, tmp_path / "x.png")


def test_predictions_grid_marks_mistakes_in_red(tmp_path):
    images, y, probs = digits_like()
    pred = y.copy()
    clean = report.plot_predictions(images, y, pred, tmp_path / "clean.png", rng=np.random.default_rng(0))
    pred[::3] = (y[::3] + 1) % 10                       # every third one wrong
    marked = report.plot_predictions(images, y, pred, tmp_path / "marked.png", rng=np.random.default_rng(0))
    width, height = png_size(marked)
    assert width >= 800 and height >= 500                # 40 digits, large enough to read the labels
    assert red_pixels(clean) == 0
    assert red_pixels(marked) > 500                      # red titles and frames


def test_predictions_argument_checks(tmp_path):
    images, y, _ = digits_like(10)
    with pytest.raises(ValueError, match="images"):
        report.plot_predictions(images.reshape(10, 64), y, y, tmp_path / "p.png", rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng"):
        report.plot_predictions(images, y, y, tmp_path / "p.png", rng=0)
    with pytest.raises(ValueError, match="y_pred"):
        report.plot_predictions(images, y, y[:5], tmp_path / "p.png", rng=np.random.default_rng(0))
    assert not list(tmp_path.iterdir())                  # nothing written, not even a temporary file


def test_confusion_matrix_counts_and_figure(tmp_path):
    y_true = np.array([0, 0, 1, 1, 2, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 0, 2])
    expected = np.zeros((3, 3), int)
    for t, p in zip(y_true, y_pred, strict=True):
        expected[t, p] += 1
    np.testing.assert_array_equal(report.confusion_matrix(y_true, y_pred, 3), expected)
    path = report.plot_confusion(y_true, y_pred, tmp_path / "confusion.png", num_classes=10)
    width, height = png_size(path)
    assert width >= 500 and height >= 450


def test_confident_mistakes_sorted_and_no_mistakes_case(tmp_path):
    images, y, probs = digits_like()
    none = report.plot_confident_mistakes(images, y, probs, tmp_path / "none.png")
    assert png_size(none)[0] > 0 and red_pixels(none) == 0
    probs[:5] = np.roll(probs[:5], 1, axis=1)            # five confident mistakes
    some = report.plot_confident_mistakes(images, y, probs, tmp_path / "some.png")
    assert png_size(some)[0] >= 600 and red_pixels(some) > 200
    with pytest.raises(ValueError, match="probs"):
        report.plot_confident_mistakes(images, y, probs[:, :1].ravel(), tmp_path / "bad.png")


def test_softmax_is_stable_and_normalised():
    p = report.softmax(np.array([[1000.0, 1000.0, -1000.0], [0.0, np.log(3.0), 0.0]]))
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_allclose(p[0], [0.5, 0.5, 0.0], atol=1e-12)
    np.testing.assert_allclose(p[1], [0.2, 0.6, 0.2])


def test_write_figures_full_set_and_without_images(tmp_path):
    images, y, probs = digits_like()
    history = {"loss": [1.0, 0.5], "accuracy": [0.5, 0.9], "val_loss": [1.2, 0.8], "val_accuracy": [0.4, 0.8]}
    written = report.write_figures(tmp_path, images, y, probs, history=history, rng=np.random.default_rng(0),
                                   dataset="test set")
    assert set(written) == {"curves", "predictions", "confusion", "mistakes"}
    for path in written.values():
        assert os.path.dirname(path) == str(tmp_path)
        png_size(path)
        assert os.path.getsize(path) > 2000
    assert sorted(os.listdir(tmp_path)) == sorted(os.path.basename(p) for p in written.values())  # no temp files
    mask = os.umask(0o022)
    os.umask(mask)
    assert {os.stat(p).st_mode & 0o777 for p in written.values()} == {0o666 & ~mask}   # not mkstemp's 0o600
    other = tmp_path / "other"
    other.mkdir()
    assert set(report.write_figures(other, None, y, probs, rng=np.random.default_rng(0))) == {"confusion"}
