"""Loss values at the edges of float32, and the Keras call conventions."""

from __future__ import annotations

import numpy as np
import pytest

from tinynet.losses import MeanSquaredError, SparseCategoricalCrossentropy, get


@pytest.mark.parametrize("scale", [1e4, 1e30, 1e38])
def test_loss_and_gradient_stay_finite_near_float32_limits(scale):
    logits = np.array([[scale, -scale, 0.0]] * 40, dtype=np.float32)
    labels = np.array([1, 0] * 20)          # half the rows: true class lowest (loss 2 * scale), half: highest (0)
    loss = SparseCategoricalCrossentropy(from_logits=True)
    value, grad = loss.value_and_grad(labels, logits)
    assert np.isfinite(value) and value == pytest.approx(scale, rel=1e-6)
    assert np.isfinite(grad).all() and np.abs(grad).max() <= 1 / 40 + 1e-9


def test_labels_as_column_and_reductions():
    z = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0]], dtype=np.float32)
    flat, column = np.array([0, 2]), np.array([[0], [2]])
    mean = SparseCategoricalCrossentropy(from_logits=True)
    assert mean(flat, z) == mean(column, z)
    per_sample = SparseCategoricalCrossentropy(from_logits=True, reduction="none")(flat, z)
    expected = np.log(np.exp(z).sum(axis=1)) - z[[0, 1], [0, 2]]
    np.testing.assert_allclose(per_sample, expected, rtol=1e-6)
    assert mean(flat, z) == pytest.approx(expected.mean(), rel=1e-6)
    assert SparseCategoricalCrossentropy(from_logits=True, reduction="sum")(flat, z) == pytest.approx(expected.sum())
    with pytest.raises(ValueError, match="reduction"):
        SparseCategoricalCrossentropy(reduction="none").value_and_grad(flat, z)


def test_probabilities_are_clipped_like_keras():
    p = np.array([[1.0, 0.0]], dtype=np.float32)
    value = SparseCategoricalCrossentropy()(np.array([1]), p)
    # log(1 - 1e-7 + 1e-7) - log(1e-7): the clipped row renormalised by the log-sum-exp
    assert value == pytest.approx(-np.log(1e-7), rel=1e-5)


def test_mse_and_names():
    assert MeanSquaredError()(np.array([[1.0, 2.0]]), np.array([[2.0, 4.0]])) == pytest.approx(2.5)
    assert isinstance(get("mse"), MeanSquaredError)
    with pytest.raises(TypeError, match="from_logits"):
        SparseCategoricalCrossentropy(from_logits="yes")


def test_the_mean_error_functions_give_one_value_per_sample():
    """Keras's functions: the mean over the last axis, per sample, no reduction over the batch."""
    from tinynet.losses import mae, mean_absolute_error, mean_squared_error, mse
    y_true = np.array([[1.0, 2.0], [0.0, -1.0], [3.0, 3.0]])
    y_pred = np.array([[1.5, 1.0], [2.0, -1.0], [3.0, 0.0]])
    np.testing.assert_allclose(mean_squared_error(y_true, y_pred), [(0.25 + 1.0) / 2, 4.0 / 2, 9.0 / 2])
    np.testing.assert_allclose(mean_absolute_error(y_true, y_pred), [(0.5 + 1.0) / 2, 2.0 / 2, 3.0 / 2])
    assert mse is mean_squared_error and mae is mean_absolute_error
