"""backprop.md's learning material checked on the real digits: the hand-written seed network equals tinynet bit
for bit, the sanity checks hold, and each "predict the error" exercise shows in training what the doc says.

The exercises' planted bugs are the classes defined in backprop.md's own blocks (run here once, as
tests/test_docs.py runs them); the library is never changed.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tests.test_docs import DOCS, python_blocks
from tinynet import Sequential, layers
from tinynet.layers import Dense
from tinynet.losses import SparseCategoricalCrossentropy
from tinynet.optimizers import SGD, Adam


@pytest.fixture(scope="module")
def doc():
    """The namespace backprop.md's python blocks leave behind, run top to bottom."""
    namespace: dict = {"__name__": "backprop_md"}
    for i, block in enumerate(python_blocks((DOCS / "backprop.md").read_text(encoding="utf-8"))):
        exec(compile(block, f"backprop.md block {i}", "exec"), namespace)
    return namespace


def seed_model(dtype="float32", first=Dense, second=Dense, loss=None, optimizer=None):
    model = Sequential([first(25, activation="relu", input_shape=(400,)), second(15, activation="relu"),
                        Dense(10, activation="linear")], seed=0, dtype=dtype)
    model.compile(loss=loss or SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=optimizer or Adam(learning_rate=0.001), metrics=["accuracy"])
    return model


def accuracy_after(digits, epochs=10, **kwargs) -> float:
    X, y = digits
    model = seed_model(**kwargs)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        model.fit(X, y, epochs=epochs, verbose=0)
        return model.evaluate(X, y, verbose=0)[1]


# -- item 1: the network by hand --------------------------------------------------------------------------
@pytest.mark.parametrize("n", [5000, 32, 7])
def test_hand_written_seed_network_equals_tinynet_bit_for_bit(doc, digits, n):
    X, y = digits
    X = np.ascontiguousarray(X[:n])        # tinynet computes on row-major rows; BLAS rounds by memory layout
    model = seed_model("float64")
    J, by_hand = doc["seed_network_by_hand"](X, y[:n], *model.get_weights())
    loss, by_tinynet = model.loss_and_gradients(X, y[:n])
    assert J == loss
    assert len(by_hand) == len(by_tinynet) == 6
    for mine, theirs in zip(by_hand, by_tinynet, strict=True):
        assert mine.shape == theirs.shape and mine.dtype == theirs.dtype == np.float64
        assert np.array_equal(mine, theirs)


def test_hand_written_network_is_about_twenty_lines():
    block = next(b for b in python_blocks((DOCS / "backprop.md").read_text(encoding="utf-8"))
                 if b.startswith("def seed_network_by_hand("))
    body = block.split("\n\n\n")[0].splitlines()[3:]                       # after the signature and docstring
    code = [line for line in body if line.strip() and not line.strip().startswith("#")]
    assert 15 <= len(code) <= 25


# -- item 7: sanity checks --------------------------------------------------------------------------------
def test_loss_at_initialisation_is_about_ln_10(digits):
    X, y = digits
    loss, _ = seed_model("float64").loss_and_gradients(X, y)
    assert abs(loss - math.log(10)) < 0.05


def test_seed_network_overfits_20_real_digits_to_100_percent(digits):
    X, y = digits
    pick = np.concatenate([np.flatnonzero(y == c)[:2] for c in range(10)])         # two of each digit
    model = seed_model(optimizer=Adam(learning_rate=0.01))
    model.fit(X[pick], y[pick], epochs=100, batch_size=20, verbose=0)
    loss, accuracy = model.evaluate(X[pick], y[pick], verbose=0)
    assert accuracy == 1.0 and loss < 0.05
    assert model.evaluate(X, y, verbose=0)[1] < 0.9             # memorised, not learned


# -- item 4: the exercises, in training on the digits -----------------------------------------------------
def test_exercise_1_no_mean_barely_changes_adam_but_wrecks_sgd(doc, digits):
    buggy = doc["SumGradientCrossentropy"]
    right_adam = accuracy_after(digits)
    bug_adam = accuracy_after(digits, loss=buggy(from_logits=True))
    assert right_adam > 0.9 and abs(bug_adam - right_adam) < 0.01
    right_sgd = accuracy_after(digits, optimizer=SGD(learning_rate=0.1))
    bug_sgd = accuracy_after(digits, optimizer=SGD(learning_rate=0.1), loss=buggy(from_logits=True))
    assert right_sgd > 0.9 and bug_sgd < 0.2


def test_exercise_2_extra_mean_in_dense_slows_sgd_only(doc, digits):
    first = doc["AveragingDense"]
    assert abs(accuracy_after(digits, first=first) - accuracy_after(digits)) < 0.01
    right = accuracy_after(digits, optimizer=SGD(learning_rate=0.1))
    assert accuracy_after(digits, first=first, optimizer=SGD(learning_rate=0.1)) < right - 0.05


def test_exercise_3_half_slope_relu_still_trains_slower_with_sgd(doc, digits):
    half = doc["HalfSlopeDense"]
    right = accuracy_after(digits, optimizer=SGD(learning_rate=0.1))
    buggy = accuracy_after(digits, first=half, second=half, optimizer=SGD(learning_rate=0.1))
    assert 0.8 < buggy < right - 0.02


def test_exercise_4_forgotten_mask_hurts_even_adam(doc, digits):
    no_mask = doc["NoMaskDense"]
    assert accuracy_after(digits, first=no_mask, second=no_mask) < accuracy_after(digits) - 0.03


def test_exercise_5_adam_without_bias_correction_steps_larger_at_first(doc, digits):
    X, y = digits
    runs = {}
    for name, cls in (("right", Adam), ("bug", doc["AdamWithoutBiasCorrection"])):
        model = seed_model(optimizer=cls(learning_rate=0.001))
        before = model.get_weights()
        model.fit(X[:32], y[:32], epochs=1, batch_size=32, shuffle=False, verbose=0)     # one step
        first_step = np.linalg.norm(model.get_weights()[0] - before[0])
        runs[name] = (first_step, accuracy_after(digits, epochs=1, optimizer=cls(learning_rate=0.001)))
    ratio = runs["bug"][0] / runs["right"][0]
    assert abs(ratio - 0.1 / math.sqrt(0.001)) < 0.05               # (1 - beta_1) / sqrt(1 - beta_2)
    assert runs["bug"][1] > runs["right"][1]                        # which is why the bug goes unnoticed
    model = seed_model("float64", optimizer=doc["AdamWithoutBiasCorrection"](learning_rate=0.001))
    assert doc["gradcheck"].check_model(model, X[:4], y[:4]).ok       # gradcheck cannot see it


# -- item 9: backward without a training forward --------------------------------------------------------
@pytest.mark.parametrize("name", sorted(layers.LAYERS))
def test_backward_without_a_training_forward_says_so(name):
    cls = layers.LAYERS[name]
    layer = {"Dense": lambda: Dense(3), "Dropout": lambda: cls(0.5), "Activation": lambda: cls("tanh")}.get(
        name, cls)()
    x = np.random.default_rng(0).standard_normal((4, 3))
    out = layer(x)                                                   # training=False: nothing kept
    with pytest.raises(RuntimeError, match="training=True"):
        layer.backward(np.ones_like(out))
    layer(x, training=True)
    layer(x)                                                         # an inference pass drops the cache again
    with pytest.raises(RuntimeError, match="training=True"):
        layer.backward(np.ones_like(out))
    layer(x, training=True)
    assert layer.backward(np.ones_like(out)).shape == x.shape


# -- item 6: pictures of learning -------------------------------------------------------------------------
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_plot_weights_draws_every_unit_and_marks_the_dead(tmp_path):
    from tinynet import report
    kernel = np.random.default_rng(0).standard_normal((400, 25))
    path = report.plot_weights(kernel, tmp_path / "weights.png", (20, 20), "F", dead=[3, 7])
    data = (tmp_path / "weights.png").read_bytes()
    assert str(path).endswith("weights.png") and data[:8] == PNG_MAGIC and len(data) > 10000
    with pytest.raises(ValueError, match="image_shape"):
        report.plot_weights(kernel, tmp_path / "w.png", (20, 21))
    with pytest.raises(ValueError, match="order"):
        report.plot_weights(kernel, tmp_path / "w.png", (20, 20), order="X")
    with pytest.raises(ValueError, match="kernel"):
        report.plot_weights(kernel[:, 0], tmp_path / "w.png", (20, 20))


def test_tinynet_train_writes_weights_png(tmp_path, digits):
    import json

    import scipy.io

    from tinynet import cli
    X, y = digits
    data = tmp_path / "small.mat"
    scipy.io.savemat(data, {"X": X[::25], "y": np.where(y[::25] == 0, 10, y[::25]).reshape(-1, 1)})
    code = cli.main(["train", "--data", str(data), "--epochs", "2", "--out", str(tmp_path / "run")])
    assert code == 0
    png = (tmp_path / "run" / "weights.png").read_bytes()
    assert png[:8] == PNG_MAGIC and len(png) > 10000
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["files"]["weights"] == "weights.png"


def test_gradient_norms_figure_has_one_panel_per_layer(tmp_path, digits):
    from tinynet import inspect
    X, y = digits
    heights = {}
    for depth in (1, 3):
        model = seed_model() if depth == 3 else Sequential([Dense(10, input_shape=(400,))], seed=0)
        if depth == 1:
            model.compile(loss=SparseCategoricalCrossentropy(from_logits=True), optimizer="adam")
        _, monitor = inspect.fit_with_monitor(model, X[:256], y[:256], epochs=1)
        png = Path(inspect.plot_gradient_norms(monitor, tmp_path / f"g{depth}.png", smooth=2)).read_bytes()
        assert png[:8] == PNG_MAGIC
        heights[depth] = int.from_bytes(png[20:24], "big")           # the PNG header's image height
    assert heights[3] > 2 * heights[1]                                # a panel per layer, stacked
