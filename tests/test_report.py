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


# -- the computational graph ---------------------------------------------------------------------------
def _seed_net(dtype="float64", seed=0, last="linear", from_logits=True):
    from tinynet import Sequential
    from tinynet.layers import Dense
    from tinynet.losses import SparseCategoricalCrossentropy
    from tinynet.optimizers import Adam

    model = Sequential([Dense(25, activation="relu", input_shape=(400,)), Dense(15, activation="relu"),
                        Dense(10, activation=last)], seed=seed, dtype=dtype)
    model.compile(loss=SparseCategoricalCrossentropy(from_logits=from_logits), optimizer=Adam(learning_rate=0.001))
    return model


def _graph_batch(n=32, seed=20):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, size=(n, 400)), rng.integers(0, 10, size=n)


def test_computational_graph_draws_the_traces_values(tmp_path):
    from tinynet.models import Trace

    model = _seed_net()
    x, y = _graph_batch()
    weights = model.get_weights()
    drawn = report.plot_computational_graph(model, x, y, tmp_path / "graph.png")
    width, height = png_size(tmp_path / "graph.png")
    assert width >= 1500 and height >= 500 and os.path.getsize(tmp_path / "graph.png") > 20000
    assert set(drawn) == {"X", "L", *(f"{p}{k}" for p in ("W", "b", "Z") for k in (1, 2, 3)), "A1", "A2",
                          *(f"dL/d{p}{k}" for p in ("W", "b", "Z") for k in (1, 2, 3)), "dL/dA1", "dL/dA2"}
    for before, after in zip(weights, model.get_weights(), strict=True):
        np.testing.assert_array_equal(after, before)                 # drawing trains nothing
    # The same pass, traced directly: every drawn value is the trace's (or the layer's weights and gradients).
    trace = Trace()
    loss, _ = model.compute_gradients(*model.prepare_data(x, y), trace=trace)
    assert drawn["L"] == loss
    np.testing.assert_array_equal(drawn["X"], x)
    for k, name in enumerate(["A1", "A2", "Z3"]):
        np.testing.assert_array_equal(drawn[name], trace.outputs[k], err_msg=name)
    for k, name in enumerate(["dL/dA1", "dL/dA2", "dL/dZ3"]):
        np.testing.assert_array_equal(drawn[name], trace.output_grads[k], err_msg=name)
    grads = [np.array(g) for layer in model.layers for g in layer.grads]
    names = ["W1", "b1", "W2", "b2", "W3", "b3"]
    for name, w, g in zip(names, model.get_weights(), grads, strict=True):
        np.testing.assert_array_equal(drawn[name], w, err_msg=name)
        np.testing.assert_array_equal(drawn[f"dL/d{name}"], g, err_msg=name)
    for k, layer in enumerate(model.layers[:2], start=1):
        np.testing.assert_array_equal(drawn[f"Z{k}"], layer.cached("z"))
        np.testing.assert_array_equal(drawn[f"dL/dZ{k}"], drawn[f"dL/dA{k}"] * (drawn[f"Z{k}"] > 0))
    np.testing.assert_allclose(drawn["dL/dW1"], x.T @ drawn["dL/dZ1"], rtol=1e-12, atol=1e-15)


def test_computational_graph_of_a_fused_softmax_output(tmp_path):
    model = _seed_net(last="softmax", from_logits=False)
    x, y = _graph_batch(n=8)
    drawn = report.plot_computational_graph(model, x, y, tmp_path / "graph.png")
    assert "A3" not in drawn and "dL/dA3" not in drawn               # the loss reads the logits Z3
    z = drawn["Z3"]
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(drawn["dL/dZ3"], (p - np.eye(10)[y]) / len(y), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(model.predict(x), p, rtol=1e-10)


def test_computational_graph_argument_checks(tmp_path):
    from tinynet import Sequential
    from tinynet.layers import Dense, ReLU
    from tinynet.losses import SparseCategoricalCrossentropy

    x, y = _graph_batch(n=4)
    with pytest.raises(TypeError, match="model"):
        report.plot_computational_graph("a model", x, y, tmp_path / "g.png")
    mixed = Sequential([Dense(5, input_shape=(400,)), ReLU(), Dense(10)])
    mixed.compile(loss=SparseCategoricalCrossentropy(from_logits=True), optimizer="adam")
    with pytest.raises(ValueError, match="model: expected a stack of Dense layers.*ReLU"):
        report.plot_computational_graph(mixed, x, y, tmp_path / "g.png")
    model = _seed_net()
    before = np.array(model.flat_gradients)
    with pytest.raises(ValueError, match="path"):
        report.plot_computational_graph(model, x, y, tmp_path / "missing" / "g.png")
    with pytest.raises(ValueError, match="y"):
        report.plot_computational_graph(model, x, y[:3], tmp_path / "g.png")
    uncompiled = Sequential([Dense(10, input_shape=(400,))])
    with pytest.raises(ValueError, match="compile"):
        report.plot_computational_graph(uncompiled, x, y, tmp_path / "g.png")
    np.testing.assert_array_equal(model.flat_gradients, before)       # refused before any pass ran
    assert list(tmp_path.iterdir()) == []


def test_docs_graph_png_is_the_figure_backprop_md_draws(tmp_path):
    """docs/graph.png is there, a PNG of the size the function draws for the seed network (7 nodes)."""
    docs_png = os.path.join(os.path.dirname(__file__), os.pardir, "docs", "graph.png")
    model = _seed_net(dtype="float32")
    x, y = _graph_batch()
    report.plot_computational_graph(model, x, y, tmp_path / "graph.png")
    assert png_size(docs_png) == png_size(tmp_path / "graph.png")
    assert os.path.getsize(docs_png) > 20000
