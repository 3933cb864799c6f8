"""BinaryCrossentropy and the course's binary-digits lab (sigmoid outputs), against finite differences and Keras."""

from __future__ import annotations

import numpy as np
import pytest

from tests._tf_helpers import import_tf
from tinynet import Sequential, gradcheck
from tinynet.layers import Dense
from tinynet.losses import BinaryCrossentropy


@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_value_and_gradient_match_keras(from_logits, smoothing):
    tf, keras = import_tf()
    rng = np.random.default_rng(0)
    z = (rng.standard_normal((8, 3)) * 3).astype(np.float32)
    y_pred = z if from_logits else (1 / (1 + np.exp(-z))).astype(np.float32)
    y = rng.integers(0, 2, (8, 3)).astype(np.float32)
    ours = BinaryCrossentropy(from_logits=from_logits, label_smoothing=smoothing)
    value, grad = ours.value_and_grad(y, y_pred)
    pred = tf.Variable(y_pred)
    with tf.GradientTape() as tape:
        ref = keras.losses.BinaryCrossentropy(from_logits=from_logits, label_smoothing=smoothing)(y, pred)
    np.testing.assert_allclose(value, float(ref), rtol=2e-6)
    np.testing.assert_allclose(grad, tape.gradient(ref, pred).numpy(), rtol=2e-5, atol=1e-8)


@pytest.mark.parametrize("from_logits", [True, False])
def test_gradient_matches_finite_differences(from_logits):
    rng = np.random.default_rng(1)
    z = rng.standard_normal((6, 2)) * 2
    y_pred = z if from_logits else 1 / (1 + np.exp(-z))
    y = rng.uniform(0, 1, (6, 2))
    assert gradcheck.check_loss(BinaryCrossentropy(from_logits=from_logits), y, y_pred).ok


def test_logits_path_is_stable_for_huge_logits():
    z = np.array([[1e4], [-1e4], [0.0]], dtype=np.float32)
    value, grad = BinaryCrossentropy(from_logits=True).value_and_grad(np.array([0.0, 1.0, 1.0]), z)
    np.testing.assert_allclose(value, (1e4 + 1e4 + np.log(2)) / 3, rtol=1e-6)
    assert np.isfinite(grad).all()


def test_a_sigmoid_output_takes_the_loss_from_its_logits_as_keras():
    tf, keras = import_tf()
    x = np.random.default_rng(2).standard_normal((10, 3)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    model = Sequential([Dense(1, activation="sigmoid", input_shape=(3,))], seed=0)
    model.compile(loss=BinaryCrossentropy(), optimizer="sgd")
    assert model.head.fused
    model.set_weights([np.full((3, 1), 30.0, np.float32), np.array([-40.0], np.float32)])   # saturated sigmoid
    twin = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(1, activation="sigmoid")])
    twin.set_weights(model.get_weights())
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        ref = keras.losses.BinaryCrossentropy()(y, twin(xt))
    ref_grads = tape.gradient(ref, twin.trainable_variables)
    loss, grads = model.loss_and_gradients(x, y)
    np.testing.assert_allclose(loss, float(ref), rtol=1e-5)
    for ours, theirs in zip(grads, ref_grads, strict=True):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bad,match", [(np.array([0.0, 1.5]), r"in \[0, 1\]"), (np.array([0.0, np.nan]), "finite"),
                                       (np.array([0.0, -0.1]), r"in \[0, 1\]")])
def test_targets_outside_0_1_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        BinaryCrossentropy()(bad, np.array([[0.3], [0.4]]))
    with pytest.raises(ValueError, match="label_smoothing"):
        BinaryCrossentropy(label_smoothing=1.5)
