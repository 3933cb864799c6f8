"""Sequential: training loop semantics, History, determinism, weights I/O and argument checks."""

from __future__ import annotations

import os
import pickle
import signal
import warnings

import numpy as np
import pytest

import tinynet
from tinynet import DivergenceError, Sequential
from tinynet.layers import Dense, Flatten
from tinynet.losses import SparseCategoricalCrossentropy
from tinynet.optimizers import SGD, Adam


def seed_model(seed=0, dtype="float32"):
    return Sequential([Dense(25, activation="relu", input_shape=(400,)),
                       Dense(15, activation="relu"),
                       Dense(10, activation="linear")], seed=seed, dtype=dtype)


def small_model(seed=0, dtype="float32", d_in=6, classes=3, **compile_kw):
    model = Sequential([Dense(5, activation="relu", input_shape=(d_in,)), Dense(classes)], seed=seed, dtype=dtype)
    model.compile(loss=compile_kw.pop("loss", SparseCategoricalCrossentropy(from_logits=True)),
                  optimizer=compile_kw.pop("optimizer", Adam()), **compile_kw)
    return model


def toy_data(n=50, d=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)).astype(np.float32), rng.integers(0, classes, n)


# -- History aggregation, computed by hand -------------------------------------------------------------------
def _softmax_xent(z, labels):
    shifted = z - z.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    p = np.exp(logp)
    n = len(labels)
    loss = -logp[np.arange(n), labels].mean()
    dz = (p - np.eye(z.shape[1])[labels]) / n
    return loss, dz


def test_history_is_the_batch_size_weighted_mean_of_pre_update_batch_losses():
    """5 samples, batch_size=2 -> batches of 2, 2 and 1; softmax regression with plain SGD, in float64."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((5, 4))
    y = np.array([0, 2, 1, 2, 0])
    model = Sequential([Dense(3, input_shape=(4,))], seed=3, dtype="float64")
    model.compile(loss=SparseCategoricalCrossentropy(from_logits=True), optimizer=SGD(learning_rate=0.5),
                  metrics=["accuracy"])
    W, b = (w.copy() for w in model.get_weights())

    expected_loss, expected_acc = [], []
    for _ in range(2):
        weighted, correct = 0.0, 0
        for start in range(0, 5, 2):
            xb, yb = x[start:start + 2], y[start:start + 2]
            z = xb @ W + b
            loss, dz = _softmax_xent(z, yb)
            weighted += loss * len(yb)             # the loss *before* this batch's update
            correct += int((z.argmax(axis=1) == yb).sum())
            W -= 0.5 * (xb.T @ dz)
            b -= 0.5 * dz.sum(axis=0)
        expected_loss.append(weighted / 5)
        expected_acc.append(correct / 5)

    history = model.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["loss"], expected_loss, rtol=1e-12)
    # Keras accumulates metrics in float32 variables: 2/5 is reported as float32(0.4), as tf.keras reports it
    assert history.history["accuracy"] == [float(np.float32(a)) for a in expected_acc]
    np.testing.assert_allclose(model.get_weights()[0], W, rtol=1e-12)
    np.testing.assert_allclose(model.get_weights()[1], b, rtol=1e-12, atol=1e-15)
    assert history.epoch == [0, 1]
    assert history.params == {"verbose": 0, "epochs": 2, "steps": 3}
    assert all(type(v) is float for v in history.history["loss"])
    assert model.history is history


def test_validation_split_takes_the_last_rows_and_val_loss_is_after_the_epoch():
    x, y = toy_data(20)
    model = small_model(seed=1, metrics=["accuracy"])
    twin = small_model(seed=1, metrics=["accuracy"])
    hist = model.fit(x, y, batch_size=4, epochs=2, validation_split=0.25, shuffle=False, verbose=0)
    assert list(hist.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]     # sorted, as Keras 3
    twin_hist = twin.fit(x[:15], y[:15], batch_size=4, epochs=2, shuffle=False, verbose=0,
                         validation_data=(x[15:], y[15:]))
    assert hist.history == twin_hist.history
    val_loss, val_acc = twin.evaluate(x[15:], y[15:], batch_size=4)
    assert hist.history["val_loss"][-1] == pytest.approx(val_loss, rel=1e-12)
    assert hist.history["val_accuracy"][-1] == val_acc


def test_validation_split_warns_on_class_sorted_data():
    x = np.random.default_rng(0).standard_normal((30, 6)).astype(np.float32)
    y = np.repeat([0, 1, 2], 10)                                   # sorted by class, like ex3data1.mat
    model = small_model()
    with pytest.warns(UserWarning, match="sorted by class"):
        model.fit(x, y, epochs=1, validation_split=0.2, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        small_model().fit(x, np.tile([0, 1, 2], 10), epochs=1, validation_split=0.2, verbose=0)


def test_verbose_2_prints_one_line_per_epoch_as_keras(capsys):
    x, y = toy_data()
    small_model(metrics=["accuracy"]).fit(x, y, epochs=3, verbose=2)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0::2] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    steps = -(-len(x) // 32)
    for line in lines[1::2]:
        assert line.startswith(f"{steps}/{steps} - ") and "/step - accuracy: " in line and " - loss: " in line


def test_verbose_1_draws_the_progress_bar(capsys):
    x, y = toy_data()
    small_model().fit(x, y, epochs=2, verbose="auto")
    out = capsys.readouterr().out
    steps = -(-len(x) // 32)
    assert out.startswith("Epoch 1/2\n") and "Epoch 2/2\n" in out
    assert f"{steps}/{steps}" in out and "━" in out and "loss: " in out


# -- determinism -------------------------------------------------------------------------------------------------
def test_same_seed_gives_bit_identical_weights_after_training():
    x, y = toy_data(100)
    runs = []
    for _ in range(2):
        model = small_model(seed=42)
        model.fit(x, y, epochs=3, batch_size=8, verbose=0)          # shuffled
        runs.append(model.get_weights())
    for a, b in zip(*runs, strict=True):
        np.testing.assert_array_equal(a, b)
    other = small_model(seed=43)
    other.fit(x, y, epochs=3, batch_size=8, verbose=0)
    assert not np.array_equal(other.get_weights()[0], runs[0][0])


def test_shuffling_changes_the_trajectory_but_not_the_start():
    x, y = toy_data(64)
    a, b = small_model(seed=5), small_model(seed=5)
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)
    a.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=True)
    b.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    assert not np.array_equal(a.get_weights()[0], b.get_weights()[0])


# -- the model's pieces ------------------------------------------------------------------------------------------
def test_weights_order_shapes_and_glorot_range():
    model = seed_model()
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [(400, 25), (25,), (25, 15), (15,), (15, 10), (10,)]
    assert model.count_params() == 10575
    for kernel in model.get_weights()[0::2]:
        limit = np.sqrt(6 / sum(kernel.shape))
        assert np.abs(kernel).max() <= limit and kernel.std() > limit / 3
    for bias in model.get_weights()[1::2]:
        assert not bias.any()
    assert all(w.dtype == np.float32 for w in model.get_weights())


def test_parameters_are_views_into_one_buffer_and_get_weights_returns_copies():
    model = seed_model()
    flat = model._flat_params
    assert all(np.shares_memory(w, flat) for w in model.weights)
    copies = model.get_weights()
    copies[0][...] = 123.0
    assert not (model.weights[0] == 123.0).any()


def test_set_weights_round_trip_and_predict_shape():
    model, other = seed_model(0), seed_model(1)
    other.set_weights(model.get_weights())
    x = np.random.default_rng(0).random((70, 400))
    out = model.predict(x)
    assert out.shape == (70, 10) and out.dtype == np.float32
    np.testing.assert_array_equal(out, other.predict(x))
    np.testing.assert_allclose(model.predict(x, batch_size=7), out, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(model(x), out, rtol=1e-6, atol=1e-6)


def _forward_by_hand(model, x):
    """The seed model's forward pass in float64, one matmul per layer, no blocking or batching."""
    h = np.asarray(x, dtype=np.float64)
    for i, (kernel, bias) in enumerate(zip(model.get_weights()[::2], model.get_weights()[1::2], strict=True)):
        h = h @ kernel.astype(np.float64) + bias
        if i < 2:
            h = np.maximum(h, 0)
    return h


def test_predict_on_many_samples_matches_the_forward_pass_by_hand():
    # 5,000 samples: one default batch, a first layer computed in row blocks (layers._matmul), a partial last
    # block; and batch sizes that cut through those blocks.
    model = seed_model(3)
    x = np.random.default_rng(1).random((5000, 400)).astype(np.float32)
    expected = _forward_by_hand(model, x)
    for batch_size in (None, 1500, 4999):
        np.testing.assert_allclose(model.predict(x, batch_size=batch_size), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kernel_initializer,use_bias,shape", [
    ("zeros", True, (30, 6)),                  # inf * 0: NaN
    ("glorot_uniform", True, (30, 6)),
    ("ones", True, (30, 6)),                   # -inf comes out of the ReLU as a finite 0 for every unit
    ("ones", False, (30, 6)),
    ("ones", True, (1500, 300)),               # the first product in 1024-row blocks
])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("batch_size", [None, 7])
def test_predict_refuses_nan_or_inf_anywhere_in_x(bad, kernel_initializer, use_bias, shape, batch_size):
    # predict proves x finite from the first layer's product instead of scanning x. The refusal must not depend
    # on what the network would make of a bad value: with all-positive weights, -inf comes out of the ReLU as 0.
    model = Sequential([Dense(5, activation="relu", kernel_initializer=kernel_initializer, use_bias=use_bias,
                              input_shape=(shape[1],)), Dense(3)], seed=0)
    x = np.random.default_rng(0).standard_normal(shape)
    n, d = shape
    for row, col in [(0, 0), (n // 2 + 2, d - 1), (n - 1, 3)]:
        bad_x = x.copy()
        bad_x[row, col] = bad
        with pytest.raises(ValueError, match="x: expected only finite values, received an array containing NaN"):
            model.predict(bad_x, batch_size=batch_size)
    assert np.isfinite(model.predict(x, batch_size=batch_size)).all()


def test_predict_runs_a_dense_subclass_own_forward():
    class Doubled(Dense):
        def forward(self, x, training=False):
            return super().forward(2 * x, training)

    model = Sequential([Doubled(4, activation="relu", input_shape=(3,)), Dense(2)], seed=0)
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_array_equal(model.predict(x), model(x))
    with pytest.raises(ValueError, match="x: expected only finite values"):
        model.predict(np.where(x > 1, -np.inf, x))


def test_predict_names_x_for_values_beyond_float32_and_for_overflow():
    model = Sequential([Dense(5, activation="relu", input_shape=(6,)), Dense(3)], seed=0)
    x = np.ones((4, 6))
    x[2, 1] = 1e39                                  # finite in float64, inf once cast to the model's float32
    with pytest.raises(ValueError, match="x: expected values within the range of float32"):
        model.predict(x)
    with pytest.raises(ValueError, match="x: expected inputs the model can process in float32; its outputs overflowed"):
        model.predict(np.full((4, 6), 3e38))
    flat_first = Sequential([Flatten(input_shape=(2, 3)), Dense(3)], seed=0)   # not a Dense first: input scanned
    with pytest.raises(ValueError, match="x: expected only finite values"):
        flat_first.predict(np.where(np.arange(6).reshape(1, 2, 3) == 4, -np.inf, 1.0))


def test_loss_and_gradients_match_a_manual_backward_and_change_nothing():
    x, y = toy_data(9)
    model = small_model(dtype="float64")
    before = model.get_weights()
    loss, grads = model.loss_and_gradients(x, y)
    assert [g.shape for g in grads] == [w.shape for w in before]
    W1, b1, W2, b2 = before
    z1 = x @ W1 + b1
    h = np.maximum(z1, 0)
    expected_loss, dz2 = _softmax_xent(h @ W2 + b2, y)
    dh = dz2 @ W2.T * (z1 > 0)
    expected = [x.T @ dh, dh.sum(0), h.T @ dz2, dz2.sum(0)]
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    for g, e in zip(grads, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-14)
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert model.optimizer.iterations == 0


def test_evaluate_returns_loss_or_loss_and_metrics():
    x, y = toy_data()
    plain = small_model()
    assert isinstance(plain.evaluate(x, y), float)
    with_acc = small_model(metrics=["accuracy"])
    loss, acc = with_acc.evaluate(x, y)
    assert 0.0 <= acc <= 1.0
    assert acc == pytest.approx((with_acc.predict(x).argmax(1) == y).mean())
    assert with_acc.evaluate(x, y, return_dict=True) == {"loss": loss, "accuracy": acc}


def test_unbuilt_model_builds_on_first_fit_and_flatten_works():
    model = Sequential([Flatten(), Dense(4, activation="relu"), Dense(3)], seed=0)
    assert not model.built
    model.compile(loss=SparseCategoricalCrossentropy(from_logits=True), optimizer="sgd")
    with pytest.raises(AttributeError):
        model.loss = SparseCategoricalCrossentropy()        # compile chooses the loss (and the output head)
    x = np.random.default_rng(0).random((12, 2, 3))
    model.fit(x, np.arange(12) % 3, epochs=1, verbose=0)
    assert model.built and model.get_weights()[0].shape == (6, 4)


def test_string_identifiers_resolve_like_keras():
    model = Sequential([Dense(3, input_shape=(2,))])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    assert isinstance(model.optimizer, Adam)
    assert isinstance(model.loss, SparseCategoricalCrossentropy) and model.loss.from_logits is False


def test_summary_lists_layers_shapes_and_total(capsys):
    seed_model().summary()
    out = capsys.readouterr().out
    for text in ("dense", "dense_1", "dense_2", "(None, 25)", "(None, 10)", "10025", "390", "160", "10575"):
        assert text in out


# -- weights on disk --------------------------------------------------------------------------------------------
def test_save_and_load_weights_round_trip(tmp_path):
    model, other = seed_model(0), seed_model(1)
    path = tmp_path / "w.npz"
    model.save_weights(path)
    other.load_weights(path)
    for a, b in zip(model.get_weights(), other.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert [p.name for p in tmp_path.iterdir()] == ["w.npz"]       # no temporary file left behind


def test_load_weights_rejects_foreign_truncated_and_pickled_files(tmp_path):
    model = seed_model()
    before = model.get_weights()
    good = tmp_path / "good.npz"
    model.save_weights(good)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:500])
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, a=np.zeros(3))
    wrong_shape = tmp_path / "wrong.npz"
    small_model().save_weights(wrong_shape)
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, **{"000/dense/kernel": np.array([Exploit()], dtype=object)})
    for path in (truncated, foreign, wrong_shape, pickled, tmp_path / "missing.npz"):
        with pytest.raises(ValueError, match="path"):
            model.load_weights(path)
    assert not marker.exists()
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="does not exist"):
        model.save_weights(tmp_path / "no" / "such" / "dir.npz")
    assert pickle  # the exploit above is what a pickle would run


# -- training that stops ------------------------------------------------------------------------------------
class _InterruptAt(SparseCategoricalCrossentropy):
    """Sends this process a SIGINT (Ctrl-C) while computing the loss of the given step."""

    def __init__(self, step):
        super().__init__(from_logits=True)
        self.calls, self.step = 0, step

    def compute(self, targets, y_pred, sample_weight=None):
        self.calls += 1
        if self.calls == self.step:
            os.kill(os.getpid(), signal.SIGINT)
        return super().compute(targets, y_pred, sample_weight)


def test_ctrl_c_stops_after_a_whole_step_and_keeps_history():
    x, y = toy_data(40)                                           # 5 steps per epoch at batch 8
    model = small_model(seed=2, loss=_InterruptAt(step=8))       # epoch 2, step 3
    with pytest.raises(KeyboardInterrupt) as info:
        model.fit(x, y, batch_size=8, epochs=4, shuffle=False, verbose=0)
    assert str(info.value) == ("fit interrupted in epoch 2/4: the model keeps the weights after step 3 of that epoch, "
                               "and model.history the 1 completed epochs")
    assert model.history.epoch == [0]
    assert model.optimizer.iterations == 8
    twin = small_model(seed=2)
    twin.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    twin.fit(x[:24], y[:24], batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), twin.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_on_the_last_step_of_an_epoch_keeps_that_epoch():
    x, y = toy_data(40)
    model = small_model(seed=2, loss=_InterruptAt(step=10))      # last step of epoch 2
    with pytest.raises(KeyboardInterrupt, match="2 completed epochs"):
        model.fit(x, y, batch_size=8, epochs=4, shuffle=False, verbose=0)
    assert model.history.epoch == [0, 1]


def test_ctrl_c_before_a_last_batch_of_one_sample_drops_that_epoch():
    x, y = toy_data(33)                                           # batches of 8, 8, 8, 8 and 1
    model = small_model(seed=2, loss=_InterruptAt(step=4))
    with pytest.raises(KeyboardInterrupt, match="0 completed epochs"):
        model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    assert model.history.epoch == [] and model.optimizer.iterations == 4


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_divergence_stops_with_an_error_and_finite_weights():
    x, y = toy_data(64)
    x *= 1e3
    model = small_model(optimizer=SGD(learning_rate=1e30))
    with pytest.raises(DivergenceError, match=r"epoch 1, step \d+"):
        model.fit(x, y, batch_size=8, epochs=3, verbose=0)
    assert all(np.isfinite(w).all() for w in model.get_weights())


# -- bad arguments: clear errors, nothing changed ----------------------------------------------------------
def _snapshot(model):
    return [w.copy() for w in model.get_weights()], model.optimizer.iterations


@pytest.mark.parametrize("call,error,match", [
    (lambda m, x, y: m.fit(x[:, :5], y), ValueError, r"x: expected samples of shape \(6,\).*received shape \(50, 5\)"),
    (lambda m, x, y: m.fit(x, y[:-1]), ValueError, "y: expected 50 labels"),
    (lambda m, x, y: m.fit(x[:0], y[:0]), ValueError, "x: expected a non-empty array"),
    (lambda m, x, y: m.fit(x.astype(str), y), TypeError, "x: expected a numeric array"),
    (lambda m, x, y: m.fit(np.where(x > 1, np.nan, x), y), ValueError, "x: expected only finite values"),
    (lambda m, x, y: m.fit(x, y - 1), ValueError, "y: expected class labels >= 0"),
    (lambda m, x, y: m.fit(x, y + 3), ValueError, r"outside the valid range of \[0, 3\)"),
    (lambda m, x, y: m.fit(x, y + 0.5), ValueError, "non-integer"),
    (lambda m, x, y: m.fit(x, np.eye(3)[y]), ValueError, "one-hot"),
    (lambda m, x, y: m.fit(x, y, batch_size=0), ValueError, "batch_size"),
    (lambda m, x, y: m.fit(x, y, batch_size=2.5), TypeError, "batch_size"),
    (lambda m, x, y: m.fit(x, y, epochs=-1), ValueError, "epochs"),
    (lambda m, x, y: m.fit(x, y, validation_split=1.0), ValueError, "validation_split"),
    (lambda m, x, y: m.fit(x, y, validation_data=(x,)), TypeError, "validation_data"),
    (lambda m, x, y: m.fit(x, y, shuffle="yes"), TypeError, "shuffle"),
    (lambda m, x, y: m.fit(x, y, verbose=5), ValueError, "verbose"),
    (lambda m, x, y: m.predict(x[:, :2]), ValueError, r"expected samples of shape \(6,\)"),
    (lambda m, x, y: m.set_weights(m.get_weights()[:-1]), ValueError, "expected 4 arrays"),
    (lambda m, x, y: m.set_weights([w.T for w in m.get_weights()]), ValueError, r"weights\[0\]: expected shape"),
    (lambda m, x, y: m.set_weights([w * np.inf for w in m.get_weights()]), ValueError, "finite"),
])
def test_bad_input_raises_a_named_error_and_changes_nothing(call, error, match):
    x, y = toy_data()
    model = small_model()
    model.fit(x, y, epochs=1, verbose=0)
    before, iterations = _snapshot(model)
    with pytest.raises(error, match=match):
        call(model, x, y)
    after, iterations_after = _snapshot(model)
    assert iterations_after == iterations
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)


def test_fit_before_compile_and_bad_construction():
    model = Sequential([Dense(3, input_shape=(2,))])
    with pytest.raises(ValueError, match="compile"):
        model.fit(np.ones((2, 2)), [0, 1])
    with pytest.raises(TypeError, match=r"layers\[1\]"):
        Sequential([Dense(3), "relu"])
    with pytest.raises(ValueError, match="activation"):
        Dense(3, activation="relux")
    with pytest.raises(TypeError, match="units"):
        Dense(2.0)
    with pytest.raises(ValueError, match="units"):
        Dense(0)
    with pytest.raises(ValueError, match="loss"):
        model.compile(optimizer="adam", loss="hinge")
    with pytest.raises(ValueError, match="loss"):
        model.compile(optimizer="adam")
    with pytest.raises(TypeError, match="seed"):
        Sequential([Dense(1)], seed="abc")
    with pytest.raises(ValueError, match="dtype"):
        Sequential([Dense(1)], dtype="float16")


def test_public_names():
    assert tinynet.Sequential is Sequential
    for name in ("Dense", "ReLU", "Flatten"):
        assert hasattr(tinynet.layers, name)
    assert hasattr(tinynet.losses, "SparseCategoricalCrossentropy")
    assert hasattr(tinynet.optimizers, "Adam") and hasattr(tinynet.optimizers, "SGD")
    assert callable(tinynet.gradcheck.check_model)


# -- found in review: state leaks, shared objects, callbacks --------------------------------------------------
def test_a_fit_refused_for_shape_changes_no_layer():
    from tinynet.layers import ReLU
    model = Sequential([ReLU(), Dense(3)], seed=0)
    model.compile(loss=SparseCategoricalCrossentropy(from_logits=True), optimizer="adam")
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="Flatten"):
        model.fit(rng.random((8, 4, 5)), np.zeros(8, int), verbose=0)
    assert not model.built and not any(layer.built for layer in model.layers)
    model.fit(rng.random((8, 20)), np.zeros(8, int), verbose=0)          # the right data still trains
    assert model.get_weights()[0].shape == (20, 3)


def test_one_optimizer_instance_cannot_drive_two_models():
    x, y = toy_data(16)
    shared = Adam()
    a, b = small_model(seed=1, optimizer=shared), small_model(seed=2, optimizer=shared)
    a.fit(x, y, epochs=1, verbose=0)
    before = b.get_weights()
    with pytest.raises(ValueError, match="optimizer: this Adam already holds state"):
        b.fit(x, y, epochs=1, verbose=0)
    for w, v in zip(before, b.get_weights(), strict=True):
        np.testing.assert_array_equal(w, v)
    assert shared.iterations == 1                                       # a's one step (16 samples) only


def test_activation_layers_given_to_dense_lend_their_function_and_odd_ones_are_refused():
    from tinynet import activations
    from tinynet.layers import ReLU
    relu = ReLU()
    model = Sequential([Dense(4, activation=relu, input_shape=(3,)), Dense(2, activation=relu), Dense(2)], seed=0)
    assert model.layers[0].activation is activations.relu and model.layers[1].activation is activations.relu
    model.compile(loss=SparseCategoricalCrossentropy(from_logits=True), optimizer="adam")
    model.fit(np.random.default_rng(0).random((10, 3)), np.arange(10) % 2, verbose=0)
    for bad in (Dense(5), Flatten()):
        with pytest.raises(TypeError, match="activation"):
            Dense(3, activation=bad)


def test_softmax_layer_stays_a_softmax_after_training_a_softmax_head():
    from tinynet import gradcheck
    from tinynet.layers import Softmax
    head = Softmax()
    model = Sequential([Dense(4, input_shape=(3,)), head], seed=0)
    model.compile(loss=SparseCategoricalCrossentropy(from_logits=False), optimizer="sgd")
    model.fit(np.random.default_rng(0).random((10, 3)), np.arange(10) % 4, verbose=0)
    report = gradcheck.check_layer(head, np.random.default_rng(1).standard_normal((5, 4)))
    assert report.ok, report


def test_compile_refuses_a_loss_without_reduction():
    model = Sequential([Dense(2, input_shape=(3,))])
    with pytest.raises(ValueError, match="reduction='none'"):
        model.compile(loss=SparseCategoricalCrossentropy(from_logits=True, reduction="none"), optimizer="adam")
    assert not model.compiled


def test_stop_training_from_a_batch_callback_stops_after_that_batch():
    from tinynet.callbacks import Callback

    class StopAtThirdBatch(Callback):
        def __init__(self):
            self.logs = []

        def on_train_batch_end(self, batch, logs=None):
            self.logs.append(dict(logs))
            if batch == 2:
                self.model.stop_training = True

    x, y = toy_data(80)                                   # 10 steps per epoch at batch 8
    model = small_model(seed=3)
    cb = StopAtThirdBatch()
    history = model.fit(x, y, batch_size=8, epochs=5, shuffle=False, verbose=0, callbacks=[cb])
    assert model.optimizer.iterations == 3 and history.epoch == [0]
    batch_losses = [entry["batch_loss"] for entry in cb.logs]
    assert history.history["loss"] == [pytest.approx(np.mean(batch_losses))]     # mean over the 24 samples seen
    assert cb.logs[1]["loss"] == pytest.approx(np.mean(batch_losses[:2]))        # running mean, as in Keras


def test_save_to_a_folder_path_is_a_named_error(tmp_path):
    model = small_model()
    for call in (model.save, model.save_weights):
        with pytest.raises(ValueError, match="which is a folder"):
            call(tmp_path)


def test_huge_unsigned_labels_are_refused_by_name():
    x, _ = toy_data(2)
    with pytest.raises(ValueError, match="label value of 18446744073709551615"):
        small_model().fit(x, np.array([0, 2**64 - 1], dtype=np.uint64), verbose=0)


def test_column_major_inputs_are_made_row_major_once():
    """scipy.io.loadmat hands back Fortran-ordered arrays; batches are rows, so the model works on a C-order copy."""
    x, y = toy_data(12)
    fortran = np.asfortranarray(x)
    model = small_model()
    assert model.prepare_inputs(fortran).flags.c_contiguous
    a, b = small_model(seed=4), small_model(seed=4)
    a.fit(x, y, batch_size=4, epochs=2, verbose=0)
    b.fit(fortran, y, batch_size=4, epochs=2, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)
