"""tinynet.inspect (activations, gradients, dead ReLUs, update ratios, monitor, plots); Sequential.summary."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinynet import Sequential, inspect
from tinynet.layers import Activation, Dense
from tinynet.losses import SparseCategoricalCrossentropy
from tinynet.optimizers import SGD, Adam

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _data(n=64, features=5, classes=3, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features))
    y = rng.integers(0, classes, size=n)
    return x, y


def _model(dtype="float32", optimizer=None, seed=0):
    layers = [Dense(6, activation="relu", input_shape=(5,)), Dense(4), Activation("relu"), Dense(3)]
    model = Sequential(layers, seed=seed, dtype=dtype)
    model.compile(loss=SparseCategoricalCrossentropy(from_logits=True), optimizer=optimizer or Adam(0.01),
                  metrics=["accuracy"])
    return model


def _twin(model, seed=0):
    """A separate model with the same weights and optimizer state (restored the way load_model restores it)."""
    twin = _model(dtype=model.dtype, optimizer=type(model.optimizer)(model.optimizer.learning_rate), seed=seed)
    twin.set_weights(model.get_weights())
    twin.optimizer.set_state(model.optimizer.get_state(), [twin.flat_weights])
    return twin


def _seed_model(seed=0):
    model = Sequential([Dense(25, activation="relu", input_shape=(400,)), Dense(15, activation="relu"),
                        Dense(10, activation="linear")], seed=seed)
    model.compile(loss=SparseCategoricalCrossentropy(from_logits=True), optimizer=Adam(learning_rate=0.001))
    return model


# -- inspect_batch -------------------------------------------------------------------------------------
def test_inspection_keys_and_shapes():
    x, y = _data()
    model = _model()
    info = inspect.inspect_batch(model, x, y)
    names = [layer.name for layer in model.layers]
    assert info.layer_names == names
    assert list(info.activations) == names and list(info.output_grads) == names
    widths = {"dense": 6, "dense_1": 4, "activation": 4, "dense_2": 3}
    for name in names:
        assert info.activations[name].shape == (x.shape[0], widths[name]), name
        assert info.output_grads[name].shape == info.activations[name].shape, name
    expected_params = [f"{layer.name}/{p}" for layer in model.layers for p in layer.param_names]
    assert info.param_names == expected_params
    for name, w in zip(info.param_names, model.weights, strict=True):
        assert info.param_grads[name].shape == w.shape
        assert math.isfinite(info.grad_norms[name]) and info.grad_norms[name] >= 0
        assert name in info.update_ratios
    assert set(info.dead_relu) == {"dense", "activation"}       # Dense(relu) and Activation("relu")
    assert info.dead_relu["dense"].units == 6 and info.dead_relu["activation"].units == 4


def test_gradients_equal_loss_and_gradients():
    x, y = _data()
    model = _model(dtype="float64")
    info = inspect.inspect_batch(model, x, y)
    loss, grads = model.loss_and_gradients(x, y)
    assert info.loss == loss
    for name, ours, ref in zip(info.param_names, info.gradients, grads, strict=True):
        np.testing.assert_array_equal(ours, ref, err_msg=f"inspect vs loss_and_gradients: {name}")
        assert info.grad_norms[name] == pytest.approx(np.linalg.norm(ref), rel=1e-12)


def test_output_grads_follow_the_chain_rule():
    x, y = _data()
    model = _model(dtype="float64")
    info = inspect.inspect_batch(model, x, y)
    logits = info.activations["dense_2"]
    _, dlogits = model.loss.value_and_grad(y, logits)
    np.testing.assert_allclose(info.output_grads["dense_2"], dlogits, rtol=1e-12, atol=0)
    # dense_2 is linear: dL/d(its input) = dL/d(its output) @ kernel.T; its input is the activation's output.
    np.testing.assert_allclose(info.output_grads["activation"],
                               info.output_grads["dense_2"] @ model.layers[3].kernel.T,
                               rtol=1e-12, atol=1e-15)
    # dense_2's kernel gradient is (its input).T @ (dL/d its output).
    np.testing.assert_allclose(info.param_grads["dense_2/kernel"],
                               info.activations["activation"].T @ info.output_grads["dense_2"], rtol=1e-12,
                               atol=1e-15)


def test_dead_relu_on_a_constructed_layer():
    rng = np.random.default_rng(3)
    n = 40
    x = rng.uniform(0.0, 1.0, size=(n, 4))         # all inputs positive
    model = Sequential([Dense(8, activation="relu", input_shape=(4,)), Dense(2)], seed=0, dtype="float64")
    model.compile(loss=SparseCategoricalCrossentropy(from_logits=True), optimizer=SGD(0.1))
    kernel = np.ones((4, 8))
    bias = np.zeros(8)
    bias[[0, 2, 5]] = -1e3                          # units 0, 2, 5 never fire on positive inputs
    kernel[:, 7] = [1, 0, 0, 0]
    bias[7] = -0.5                                  # unit 7 fires only where x[:, 0] > 0.5
    w = model.get_weights()
    model.set_weights([kernel, bias, w[2], w[3]])
    info = inspect.inspect_batch(model, x, rng.integers(0, 2, size=n))
    stats = info.dead_relu["dense"]
    np.testing.assert_array_equal(stats.dead_units, [0, 2, 5])
    assert stats.dead_fraction == 3 / 8
    off_7 = np.count_nonzero(x[:, 0] <= 0.5)
    assert 0 < off_7 < n                            # the construction really has a partly active unit
    assert stats.zero_fraction == pytest.approx((3 * n + off_7) / (8 * n), abs=1e-15)
    # No gradient reaches the dead units' weights.
    assert not info.param_grads["dense/kernel"][:, [0, 2, 5]].any()
    assert not info.param_grads["dense/bias"][[0, 2, 5]].any()


def test_relu_stats_rejects_bad_input():
    with pytest.raises(ValueError, match="activations"):
        inspect.relu_stats(np.zeros(5))


def test_inspection_changes_no_weight_nor_optimizer_state_and_leaves_this_batchs_gradient():
    x, y = _data()
    model = _model()
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)     # optimizer state is non-trivial now
    weights = model.get_weights()
    state = model.optimizer.get_state()
    rng_state = model.rng.bit_generator.state
    info = inspect.inspect_batch(model, x, y)
    for before, after in zip(weights, model.get_weights(), strict=True):
        np.testing.assert_array_equal(after, before)
    after_state = model.optimizer.get_state()
    assert after_state.keys() == state.keys()
    for key in state:
        np.testing.assert_array_equal(after_state[key], state[key], err_msg=key)
    np.testing.assert_array_equal(model.flat_gradients, np.concatenate([g.ravel() for g in info.gradients]))
    assert model.rng.bit_generator.state == rng_state


def test_update_ratio_is_the_next_real_steps_ratio():
    x, y = _data()
    model = _model()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    info = inspect.inspect_batch(model, x, y)
    twin = _twin(model)
    before = twin.get_weights()
    twin.train_step(*twin.prepare_data(x, y))
    for name, w0, w1 in zip(info.param_names, before, twin.get_weights(), strict=True):
        expected = np.linalg.norm(w1 - w0) / np.linalg.norm(w0)
        assert info.update_ratios[name] == pytest.approx(expected, rel=1e-5), name


def test_update_ratio_is_nan_for_all_zero_weights():
    x, y = _data()
    info = inspect.inspect_batch(_model(), x, y)           # biases start at zero
    assert math.isnan(info.update_ratios["dense/bias"])
    assert info.update_ratios["dense/kernel"] > 0


def test_inspect_rejects_bad_models():
    x, y = _data()
    with pytest.raises(TypeError, match="model"):
        inspect.inspect_batch("not a model", x, y)
    uncompiled = Sequential([Dense(3, input_shape=(5,))])
    with pytest.raises(ValueError, match="compile"):
        inspect.inspect_batch(uncompiled, x, y)
    unbuilt = Sequential([Dense(3)])
    unbuilt.compile(loss=SparseCategoricalCrossentropy(from_logits=True), optimizer="adam")
    with pytest.raises(ValueError, match="no weights"):
        inspect.inspect_batch(unbuilt, x, y)
    assert not unbuilt.built


# -- fit_with_monitor ----------------------------------------------------------------------------------
@pytest.mark.parametrize("shuffle", [True, False])
def test_fit_with_monitor_trains_exactly_like_fit(shuffle):
    x, y = _data(n=70)
    plain, watched = _model(seed=5), _model(seed=5)
    h1 = plain.fit(x, y, epochs=3, batch_size=16, shuffle=shuffle, verbose=0)
    h2, monitor = inspect.fit_with_monitor(watched, x, y, epochs=3, batch_size=16, shuffle=shuffle)
    for a, b in zip(plain.get_weights(), watched.get_weights(), strict=True):
        np.testing.assert_array_equal(b, a)
    assert h2.history == h1.history and h2.epoch == h1.epoch and h2.params == h1.params
    steps = 3 * math.ceil(70 / 16)
    assert monitor.steps == steps and monitor.steps_per_epoch == math.ceil(70 / 16)
    assert monitor.grad_norms.shape == monitor.update_ratios.shape == (steps, 6)
    assert monitor.param_names == [f"{layer.name}/{p}" for layer in watched.layers for p in layer.param_names]
    assert set(monitor.zero_fractions) == {"dense", "activation"}
    for series in monitor.zero_fractions.values():
        assert series.shape == (steps,) and np.all((series >= 0) & (series <= 1))


def test_monitor_first_step_matches_loss_and_gradients():
    x, y = _data(n=48)
    model = _model(seed=2)
    reference = _twin(model)
    loss, grads = reference.loss_and_gradients(x[:16], y[:16])
    before = reference.get_weights()
    reference.train_step(*reference.prepare_data(x[:16], y[:16]))
    _, monitor = inspect.fit_with_monitor(model, x, y, epochs=1, batch_size=16, shuffle=False)
    assert monitor.losses[0] == loss
    np.testing.assert_allclose(monitor.grad_norms[0], [np.linalg.norm(g) for g in grads], rtol=1e-6)
    for j, (w0, w1) in enumerate(zip(before, reference.get_weights(), strict=True)):
        if np.any(w0):
            assert monitor.update_ratios[0, j] == pytest.approx(np.linalg.norm(w1 - w0) / np.linalg.norm(w0),
                                                                rel=1e-5)
        else:
            assert math.isnan(monitor.update_ratios[0, j])     # zero-initialised bias


def test_fit_with_monitor_rejects_bad_arguments_before_training():
    x, y = _data()
    model = _model()
    weights = model.get_weights()
    with pytest.raises(ValueError, match="epochs"):
        inspect.fit_with_monitor(model, x, y, epochs=0)
    with pytest.raises(TypeError, match="shuffle"):
        inspect.fit_with_monitor(model, x, y, shuffle="yes")
    with pytest.raises(ValueError, match="y"):
        inspect.fit_with_monitor(model, x, y[:-1])
    for a, b in zip(weights, model.get_weights(), strict=True):
        np.testing.assert_array_equal(b, a)


# -- plots ---------------------------------------------------------------------------------------------
def _assert_png(path):
    with open(path, "rb") as fh:
        head = fh.read(8)
        rest = fh.read()
    assert head == PNG_MAGIC and len(rest) > 1000


def test_plots_are_written_as_png(tmp_path):
    x, y = _data()
    model = _model()
    info = inspect.inspect_batch(model, x, y)
    _, monitor = inspect.fit_with_monitor(model, x, y, epochs=2, batch_size=16)
    paths = {
        "act": inspect.plot_activations(info, tmp_path / "act.png"),
        "grad": inspect.plot_gradient_norms(monitor, str(tmp_path / "grad.png"), smooth=2),
        "ratio": inspect.plot_update_ratios(monitor, tmp_path / "ratio.png", smooth=1),
    }
    assert paths["act"] == str(tmp_path / "act.png")
    for path in paths.values():
        _assert_png(path)
    # No temporary files left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["act.png", "grad.png", "ratio.png"]


def test_plots_reject_bad_arguments(tmp_path):
    x, y = _data()
    info = inspect.inspect_batch(_model(), x, y)
    with pytest.raises(ValueError, match="path"):
        inspect.plot_activations(info, tmp_path / "missing" / "a.png")
    with pytest.raises(TypeError, match="path"):
        inspect.plot_activations(info, 3)
    with pytest.raises(TypeError, match="inspection"):
        inspect.plot_activations({"not": "an inspection"}, tmp_path / "a.png")
    with pytest.raises(TypeError, match="monitor"):
        inspect.plot_gradient_norms(info, tmp_path / "g.png")
    assert list(tmp_path.iterdir()) == []


def test_pre_activations_and_their_gradients():
    x, y = _data()
    model = _model(dtype="float64")
    info = inspect.inspect_batch(model, x, y)
    assert list(info.pre_activations) == list(info.pre_activation_grads) == ["dense", "dense_1", "activation",
                                                                             "dense_2"]
    dense, dense_1, _, dense_2 = model.layers
    np.testing.assert_allclose(info.pre_activations["dense"], x @ dense.kernel + dense.bias, rtol=1e-12)
    np.testing.assert_allclose(info.pre_activations["dense_1"], info.activations["dense"] @ dense_1.kernel
                               + dense_1.bias, rtol=1e-12)
    # An activation layer's pre-activation is its input, the output of the layer below.
    np.testing.assert_array_equal(info.pre_activations["activation"], info.activations["dense_1"])
    for name in ("dense", "activation"):                   # ReLU: dL/dz = dL/d output where z > 0, else 0
        z = info.pre_activations[name]
        np.testing.assert_array_equal(info.pre_activation_grads[name], info.output_grads[name] * (z > 0))
        assert np.any(z <= 0) and np.any(z > 0)
    for name in ("dense_1", "dense_2"):                    # linear: dL/dz = dL/d output
        np.testing.assert_array_equal(info.pre_activation_grads[name], info.output_grads[name])
    np.testing.assert_allclose(info.param_grads["dense/kernel"], x.T @ info.pre_activation_grads["dense"],
                               rtol=1e-12, atol=1e-15)


def test_pre_activation_of_a_fused_softmax_output_is_the_logits():
    x, y = _data()
    model = Sequential([Dense(6, activation="relu", input_shape=(5,)), Dense(3, activation="softmax")], seed=0,
                       dtype="float64")
    model.compile(loss=SparseCategoricalCrossentropy(from_logits=False), optimizer=Adam(0.01))
    info = inspect.inspect_batch(model, x, y)
    out = model.layers[1]
    z = info.pre_activations["dense_1"]
    np.testing.assert_allclose(z, info.activations["dense"] @ out.kernel + out.bias, rtol=1e-12)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(info.activations["dense_1"], p, rtol=1e-12)
    np.testing.assert_allclose(info.pre_activation_grads["dense_1"], (p - np.eye(3)[y]) / len(y), rtol=1e-10,
                               atol=1e-15)


def test_gradient_images_are_the_first_kernels_columns(tmp_path):
    model = _seed_model()
    rng = np.random.default_rng(4)
    x, y = rng.uniform(0, 1, size=(50, 400)), rng.integers(0, 10, size=50)
    info = inspect.inspect_batch(model, x, y)
    grad = info.param_grads["dense/kernel"]
    images = inspect.plot_gradient_images(info, tmp_path / "grad_images.png")
    _assert_png(tmp_path / "grad_images.png")
    assert images.shape == (25, 20, 20)
    for j in (0, 7, 24):
        np.testing.assert_array_equal(images[j], grad[:, j].reshape(20, 20, order="F"))
        np.testing.assert_array_equal(images[j].ravel(order="F"), grad[:, j])
    c_order = inspect.plot_gradient_images(info, tmp_path / "c.png", image_shape=(20, 20), order="C", columns=8)
    np.testing.assert_array_equal(c_order, images.transpose(0, 2, 1))
    assert np.any(images != c_order)                       # the order really changes the picture
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.png", "grad_images.png"]


def test_gradient_images_reject_bad_arguments(tmp_path):
    info = inspect.inspect_batch(_seed_model(), np.ones((4, 400)), np.arange(4))
    with pytest.raises(ValueError, match="image_shape"):
        inspect.plot_gradient_images(info, tmp_path / "g.png", image_shape=(20, 21))
    with pytest.raises(ValueError, match="image_shape"):
        inspect.plot_gradient_images(info, tmp_path / "g.png", image_shape=400)
    with pytest.raises(ValueError, match="order"):
        inspect.plot_gradient_images(info, tmp_path / "g.png", order="K")
    with pytest.raises(ValueError, match="columns"):
        inspect.plot_gradient_images(info, tmp_path / "g.png", columns=0)
    with pytest.raises(TypeError, match="inspection"):
        inspect.plot_gradient_images(object(), tmp_path / "g.png")
    with pytest.raises(ValueError, match="path"):
        inspect.plot_gradient_images(info, tmp_path / "missing" / "g.png")
    assert list(tmp_path.iterdir()) == []


def test_histograms_draw_the_inspections_arrays(tmp_path):
    x, y = _data()
    info = inspect.inspect_batch(_model(), x, y)
    drawn = inspect.plot_histograms(info, tmp_path / "hist.png", bins=20)
    _assert_png(tmp_path / "hist.png")
    assert list(drawn) == list(info.pre_activations)
    for name, arrays in drawn.items():
        assert set(arrays) == {"pre_activation", "backward"}
        np.testing.assert_array_equal(arrays["pre_activation"], info.pre_activations[name].ravel())
        np.testing.assert_array_equal(arrays["backward"], info.pre_activation_grads[name].ravel())
    with pytest.raises(ValueError, match="bins"):
        inspect.plot_histograms(info, tmp_path / "h.png", bins=0)
    with pytest.raises(TypeError, match="inspection"):
        inspect.plot_histograms({"not": "an inspection"}, tmp_path / "h.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hist.png"]


# -- Sequential.summary --------------------------------------------------------------------------------
def test_summary_of_the_seed_model():
    lines = []
    model = _seed_model()
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert lines[0] == 'Model: "sequential"'
    expected = [("dense", "relu", 25, 400 * 25 + 25), ("dense_1", "relu", 15, 25 * 15 + 15),
                ("dense_2", "linear", 10, 15 * 10 + 10)]
    rows = [line.split() for line in lines if line.startswith("dense")]
    assert len(rows) == 3
    for row, (name, act, units, count) in zip(rows, expected, strict=True):
        assert row[0] == name and row[1] == "(Dense," and row[2] == f"{act})"
        assert " ".join(row[3:5]) == f"(None, {units})"
        assert row[5] == str(count)
    total = sum(count for *_, count in expected)
    assert total == 10575 == model.count_params()
    assert f"Total params: {total}" in text
    assert text.index("Layer (type)") < text.index("Output Shape") < text.index("Param #")


def test_summary_of_an_unbuilt_model_shows_unknowns():
    lines = []
    Sequential([Dense(4), Dense(2)]).summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Total params: ?" in text
    assert sum(line.startswith("dense") for line in lines) == 2
