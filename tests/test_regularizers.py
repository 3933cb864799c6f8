"""Regularizers: the penalties and their gradients, alone and inside a model, against Keras and finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from tests._tf_helpers import import_tf, rel_err
from tinynet import Sequential, gradcheck, load_model, regularizers
from tinynet.layers import Dense
from tinynet.losses import BinaryCrossentropy, SparseCategoricalCrossentropy
from tinynet.optimizers import Adam


@pytest.mark.parametrize("make, keras_name, kwargs", [
    (lambda: regularizers.L1(0.03), "L1", {"l1": 0.03}),
    (lambda: regularizers.L2(0.02), "L2", {"l2": 0.02}),
    (lambda: regularizers.L1L2(0.01, 0.05), "L1L2", {"l1": 0.01, "l2": 0.05}),
    (lambda: regularizers.l1_l2(l2=0.1), "L1L2", {"l2": 0.1}),
    (lambda: regularizers.get("l2"), "L2", {}),
    (lambda: regularizers.get("l1"), "L1", {}),
])
def test_penalty_and_gradient_match_keras(make, keras_name, kwargs):
    tf, keras = import_tf()
    x = np.random.default_rng(0).standard_normal((6, 5)).astype(np.float32)
    x[0, 0] = 0.0                                            # |x| at 0: TensorFlow's slope there is 0
    ours, ref = make(), getattr(keras.regularizers, keras_name)(**kwargs)
    var = tf.Variable(x)
    with tf.GradientTape() as tape:
        value = ref(var)
    assert ours(x) == pytest.approx(float(value), rel=1e-6)
    np.testing.assert_allclose(ours.gradient(x), tape.gradient(value, var).numpy(), rtol=1e-6, atol=1e-9)
    assert ours.get_config() == {k: pytest.approx(v) for k, v in ref.get_config().items()}


def test_gradient_matches_finite_differences():
    x = np.random.default_rng(1).standard_normal((4, 3))
    reg = regularizers.L1L2(0.3, 0.7)
    numeric = gradcheck.numerical_gradient(lambda: reg(x), x, 1e-6)
    assert gradcheck.relative_error(reg.gradient(x), numeric) < 1e-8


def _regularized_model(seed=0, dtype="float32", final="linear"):
    return Sequential([
        Dense(6, activation="relu", input_shape=(5,), kernel_regularizer=regularizers.L2(0.01),
              bias_regularizer=regularizers.L1(0.02), activity_regularizer=regularizers.L2(0.003)),
        Dense(4, activation=final, kernel_regularizer=regularizers.L1L2(0.001, 0.004),
              activity_regularizer=regularizers.L1L2(0.01, 0.02)),    # L1 alone is constant on softmax rows
    ], seed=seed, dtype=dtype)


def _keras_twin(keras, model, final="linear"):
    k = keras.regularizers
    twin = keras.Sequential([
        keras.Input((5,)),
        keras.layers.Dense(6, activation="relu", kernel_regularizer=k.L2(0.01), bias_regularizer=k.L1(0.02),
                           activity_regularizer=k.L2(0.003)),
        keras.layers.Dense(4, activation=final, kernel_regularizer=k.L1L2(0.001, 0.004),
                           activity_regularizer=k.L1L2(0.01, 0.02)),
    ])
    twin.set_weights(model.get_weights())
    return twin


@pytest.mark.parametrize("final, from_logits", [("linear", True), ("softmax", False)])
def test_model_loss_and_gradients_include_the_penalties_as_keras(final, from_logits):
    tf, keras = import_tf()
    rng = np.random.default_rng(2)
    x = rng.standard_normal((9, 5)).astype(np.float32)
    y = rng.integers(0, 4, 9)
    sw = rng.random(9).astype(np.float32)
    model = _regularized_model(final=final)
    model.compile(loss=SparseCategoricalCrossentropy(from_logits=from_logits), optimizer=Adam())
    loss, grads = model.loss_and_gradients(x, y, sample_weight=sw)
    twin = _keras_twin(keras, model, final)
    twin.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits))
    with tf.GradientTape() as tape:
        y_pred = twin(x, training=True)
        ref = twin.compute_loss(x, y, y_pred, sample_weight=sw)
    ref_grads = tape.gradient(ref, twin.trainable_variables)
    assert loss == pytest.approx(float(ref), rel=1e-6)
    plain = model.loss.reduce(model.loss.call(y, model.predict(x)), sw)
    assert loss > plain + 1e-3                                # the penalty is really there
    for ours, theirs in zip(grads, ref_grads, strict=True):
        assert rel_err(ours, theirs.numpy()) < 1e-5


def test_regularized_gradients_match_finite_differences():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((8, 5)), rng.integers(0, 4, 8)
    for final, loss in (("linear", SparseCategoricalCrossentropy(from_logits=True)),
                        ("softmax", SparseCategoricalCrossentropy())):
        model = _regularized_model(seed=4, dtype="float64", final=final)
        model.compile(loss=loss, optimizer=Adam())
        report = gradcheck.check_model(model, x, y)
        assert report.ok, report


@pytest.mark.parametrize("final, loss", [("linear", SparseCategoricalCrossentropy(from_logits=True)),
                                         ("softmax", SparseCategoricalCrossentropy())])
def test_the_training_loss_is_the_data_loss_plus_each_penalty(final, loss):
    rng = np.random.default_rng(8)
    x, y = rng.standard_normal((8, 5)), rng.integers(0, 4, 8)
    model = _regularized_model(seed=9, dtype="float64", final=final)
    model.compile(loss=loss, optimizer=Adam())
    total, _ = model.loss_and_gradients(x, y)
    first, second = model.layers
    (w1, b1), (w2, _) = first.get_weights(), second.get_weights()
    hidden, out = first(x), model.predict(x)
    penalties = (0.01 * np.sum(w1 ** 2) + 0.02 * np.sum(np.abs(b1)) + 0.003 * np.sum(hidden ** 2) / 8
                 + 0.001 * np.sum(np.abs(w2)) + 0.004 * np.sum(w2 ** 2)
                 + np.sum(0.01 * np.abs(out) + 0.02 * out ** 2) / 8)
    data = loss(y, out)
    assert total == pytest.approx(data + penalties, rel=1e-12)
    assert total == pytest.approx(model.evaluate(x, y, batch_size=8, verbose=0), rel=1e-12)


def test_three_epochs_of_training_match_keras():
    tf, keras = import_tf()
    rng = np.random.default_rng(5)
    x = rng.standard_normal((64, 5)).astype(np.float32)
    y = (rng.random((64, 4)) > 0.5).astype(np.float32)
    model = _regularized_model(seed=6, final="sigmoid")
    twin = _keras_twin(keras, model, "sigmoid")
    model.compile(loss=BinaryCrossentropy(), optimizer=Adam(0.01))
    twin.compile(loss=keras.losses.BinaryCrossentropy(), optimizer=keras.optimizers.Adam(0.01))
    ours = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0).history["loss"]
    ref = twin.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(ours, ref, rtol=1e-5)
    for a, b in zip(model.get_weights(), twin.get_weights(), strict=True):
        assert rel_err(a, b) < 1e-5


def test_regularizers_save_and_load(tmp_path):
    model = _regularized_model(seed=7)
    model.compile(loss=SparseCategoricalCrossentropy(from_logits=True), optimizer=Adam())
    path = tmp_path / "m.npz"
    model.save(path)
    again = load_model(path)
    for a, b in zip(model.layers, again.layers, strict=True):
        assert [type(r) for r in a.param_regularizers] == [type(r) for r in b.param_regularizers]
        assert repr(a.activity_regularizer) == repr(b.activity_regularizer)
    x, y = np.ones((3, 5), np.float32), np.array([0, 1, 2])
    assert model.loss_and_gradients(x, y)[0] == again.loss_and_gradients(x, y)[0]


@pytest.mark.parametrize("call, error, match", [
    (lambda: regularizers.L2(-0.1), ValueError, "l2: expected a number in"),
    (lambda: regularizers.L1(float("nan")), ValueError, "l1: expected a number in"),
    (lambda: regularizers.L1L2(l1="0.1"), TypeError, "l1: expected a real number"),
    (lambda: regularizers.get("l1_l2"), ValueError, "regularizer: expected one of"),
    (lambda: Dense(3, kernel_regularizer="l3"), ValueError, "kernel_regularizer: expected one of"),
    (lambda: Dense(3, activity_regularizer=0.1), TypeError, "activity_regularizer: expected None"),
    (lambda: regularizers.deserialize({"class_name": "Orthogonal", "config": {}}), ValueError, "unknown"),
])
def test_bad_arguments_are_refused_by_name(call, error, match):
    with pytest.raises(error, match=match):
        call()
