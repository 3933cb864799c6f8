"""Backprop checked against central finite differences in float64 (relative error per tensor < 1e-6)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tinynet import Sequential, gradcheck
from tinynet.layers import Dense, Flatten, Layer, ReLU, Sigmoid, Softmax, Tanh
from tinynet.losses import MeanSquaredError, SparseCategoricalCrossentropy

TOL = 1e-6
KINK = 1e-4  # points whose ReLU pre-activations are this close to 0 are skipped: a poke could cross the kink

sizes = st.integers(min_value=1, max_value=7)
seeds = st.integers(min_value=0, max_value=2**32 - 1)
scales = st.sampled_from([0.1, 1.0, 3.0])


def _assert_ok(report: gradcheck.Report):
    assert report.entries, "nothing was checked"
    assert report.ok, f"\n{report}"


@settings(max_examples=40, deadline=None)
@given(n=sizes, d_in=sizes, units=sizes, seed=seeds, scale=scales,
       activation=st.sampled_from([None, "relu", "tanh", "sigmoid", "softmax"]), use_bias=st.booleans())
def test_dense_weights_bias_and_input(n, d_in, units, seed, scale, activation, use_bias):
    rng = np.random.default_rng(seed)
    layer = Dense(units, activation=activation, use_bias=use_bias, bias_initializer="glorot_uniform"
                  if use_bias else "zeros")
    layer.build((d_in,), rng=rng, dtype="float64")
    x = scale * rng.standard_normal((n, d_in))
    z = x @ layer.kernel + (layer.bias if use_bias else 0)
    if activation == "relu":
        assume(np.all(np.abs(z) > KINK))
    if activation in ("tanh", "sigmoid"):
        # Saturated units: gradients near 1e-5, where the difference quotient's rounding (about 1e-10 at h=1e-6)
        # alone is a relative error of 1e-5. Keep every unit where the slope is at least about 1e-3.
        assume(np.all(np.abs(z) < (4.0 if activation == "tanh" else 7.0)))
    report = gradcheck.check_layer(layer, x, tol=TOL, seed=seed)
    assert [e.name.split("/")[1] for e in report.entries] == (["kernel", "bias"] if use_bias else ["kernel"]) + [
        "input"]
    _assert_ok(report)


@settings(max_examples=30, deadline=None)
@given(n=sizes, d=sizes, seed=seeds, cls=st.sampled_from([ReLU, Tanh, Sigmoid, Softmax]))
def test_activation_layers(n, d, seed, cls):
    rng = np.random.default_rng(seed)
    x = 2 * rng.standard_normal((n, d))
    assume(np.all(np.abs(x) > KINK))
    assume(cls is not Tanh or np.all(np.abs(x) < 4.0))     # saturated tanh: see test_dense_weights_bias_and_input
    _assert_ok(gradcheck.check_layer(cls(), x, tol=TOL, seed=seed))


def test_flatten_layer():
    x = np.random.default_rng(0).standard_normal((3, 4, 5))
    _assert_ok(gradcheck.check_layer(Flatten(), x, tol=TOL))


@settings(max_examples=40, deadline=None)
@given(n=sizes, classes=st.integers(2, 8), seed=seeds, scale=st.sampled_from([0.1, 1.0, 5.0]),
       column=st.booleans())
def test_sparse_categorical_crossentropy_from_logits(n, classes, seed, scale, column):
    rng = np.random.default_rng(seed)
    logits = scale * rng.standard_normal((n, classes))
    labels = rng.integers(0, classes, size=(n, 1) if column else n)
    _assert_ok(gradcheck.check_loss(SparseCategoricalCrossentropy(from_logits=True), labels, logits, tol=TOL))


# With saturated logits (gaps of ~50) the loss is log(1 + tiny) and its finite differences drown in rounding, so
# that regime is checked against the closed form instead of against finite differences.
@pytest.mark.parametrize("scale", [50.0, 1e4])
def test_saturated_logits_gradient_is_softmax_minus_onehot(scale):
    rng = np.random.default_rng(3)
    logits = scale * rng.standard_normal((6, 4))
    labels = rng.integers(0, 4, 6)
    loss, grad = SparseCategoricalCrossentropy(from_logits=True).value_and_grad(labels, logits)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    expected = (p - np.eye(4)[labels]) / 6
    assert np.isfinite(loss) and np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad, expected, rtol=1e-12, atol=1e-15)


@settings(max_examples=30, deadline=None)
@given(n=sizes, classes=st.integers(2, 8), seed=seeds)
def test_sparse_categorical_crossentropy_from_probabilities(n, classes, seed):
    rng = np.random.default_rng(seed)
    probs = rng.uniform(0.05, 1.0, (n, classes))
    probs /= probs.sum(axis=1, keepdims=True)
    labels = rng.integers(0, classes, n)
    _assert_ok(gradcheck.check_loss(SparseCategoricalCrossentropy(), labels, probs, tol=TOL))


@settings(max_examples=20, deadline=None)
@given(n=sizes, d=sizes, seed=seeds)
def test_mean_squared_error(n, d, seed):
    rng = np.random.default_rng(seed)
    _assert_ok(gradcheck.check_loss(MeanSquaredError(), rng.standard_normal((n, d)), rng.standard_normal((n, d)),
                                    tol=TOL))


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 9), d_in=sizes, h1=sizes, h2=sizes, classes=st.integers(2, 6), seed=seeds)
def test_whole_three_layer_model(n, d_in, h1, h2, classes, seed):
    rng = np.random.default_rng(seed)
    model = Sequential([Dense(h1, activation="relu", input_shape=(d_in,), bias_initializer="glorot_uniform"),
                        Dense(h2, activation="relu", bias_initializer="glorot_uniform"),
                        Dense(classes)], seed=seed, dtype="float64")
    model.compile(loss=SparseCategoricalCrossentropy(from_logits=True), optimizer="adam")
    x = rng.standard_normal((n, d_in))
    y = rng.integers(0, classes, n)
    z1 = x @ model.layers[0].kernel + model.layers[0].bias
    z2 = np.maximum(z1, 0) @ model.layers[1].kernel + model.layers[1].bias
    assume(np.all(np.abs(z1) > KINK) and np.all(np.abs(z2) > KINK))
    # With every second-layer unit dead the logits are the zero bias for all samples, and with balanced labels the
    # true bias gradient is exactly 0: finite differences then see only rounding noise (relative error 1).
    assume(np.any(z2 > 0))
    report = gradcheck.check_model(model, x, y, tol=TOL)
    assert len(report.entries) == 6
    _assert_ok(report)


def test_model_check_leaves_weights_unchanged():
    model = Sequential([Dense(4, activation="tanh", input_shape=(3,)), Dense(3)], seed=1, dtype="float64")
    model.compile(loss=SparseCategoricalCrossentropy(from_logits=True), optimizer="adam")
    before = model.get_weights()
    gradcheck.check_model(model, np.ones((2, 3)), [0, 2])
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


class _ForgetsBiasGradient(Dense):
    """A deliberately wrong layer: its bias gradient misses a factor of 2."""

    def backward(self, grad, need_input_grad=True):
        dx = super().backward(grad, need_input_grad)
        self.grads[1] *= 0.5
        return dx


def test_gradcheck_catches_a_wrong_backward():
    layer = _ForgetsBiasGradient(3)
    report = gradcheck.check_layer(layer, np.random.default_rng(0).standard_normal((4, 2)))
    by_name = {e.name.split("/")[1]: e for e in report.entries}
    assert not report.ok
    assert by_name["bias"].rel_error > 0.1
    assert by_name["kernel"].rel_error < TOL
    assert "FAIL" in str(report)


class _MutatesItsGradient(Layer):
    def forward(self, x, training=False):
        return 2 * x

    def backward(self, grad, need_input_grad=True):
        grad *= 2
        return grad


def test_gradcheck_catches_a_backward_that_mutates_its_input():
    with pytest.raises(AssertionError, match="modified the gradient"):
        gradcheck.check_layer(_MutatesItsGradient(), np.ones((2, 2)))


def test_relu_gradient_is_zero_at_zero():
    relu = ReLU()
    relu.forward(np.array([[-1.0, 0.0, 2.0]]), training=True)
    np.testing.assert_array_equal(relu.backward(np.array([[5.0, 5.0, 5.0]])), [[0.0, 0.0, 5.0]])


def test_float32_is_refused():
    model = Sequential([Dense(2, input_shape=(2,))], seed=0)
    model.compile(loss=SparseCategoricalCrossentropy(from_logits=True), optimizer="adam")
    with pytest.raises(ValueError, match="float64"):
        gradcheck.check_model(model, np.ones((1, 2)), [0])
    with pytest.raises(TypeError, match="float64"):
        gradcheck.numerical_gradient(lambda: 0.0, np.ones(3, dtype=np.float32))


def test_column_major_inputs_are_checked_like_row_major_ones():
    """A transposed (column-major) float32 input or a column-major y_pred is copied row-major before poking."""
    rng = np.random.default_rng(3)
    layer = Dense(3, activation="tanh")
    x = np.asfortranarray(rng.standard_normal((5, 4)).astype(np.float32))
    assert x.flags.f_contiguous and not x.flags.c_contiguous
    assert gradcheck.check_layer(layer, x).ok
    p = np.asfortranarray(rng.dirichlet(np.ones(3), size=6))
    assert not p.flags.c_contiguous
    assert gradcheck.check_loss(SparseCategoricalCrossentropy(), rng.integers(0, 3, 6), p).ok
