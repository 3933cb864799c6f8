"""Every loss, reduction and sample weighting against real Keras (value and gradient from the same inputs), finite
differences for the float64 gradients, and the bad inputs each loss refuses."""

from __future__ import annotations

import numpy as np
import pytest

from tests._tf_helpers import import_tf
from tinynet import gradcheck
from tinynet import losses as L

REDUCTIONS = ["sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", None]
N, C = 7, 4


def _data(seed=0):
    rng = np.random.default_rng(seed)
    z = (rng.standard_normal((N, C)) * 3).astype(np.float32)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p = (p / p.sum(axis=1, keepdims=True)).astype(np.float32)
    labels = rng.integers(0, C, N)
    soft = rng.random((N, C)).astype(np.float32)
    soft /= soft.sum(axis=1, keepdims=True)
    binary = rng.integers(0, 2, (N, C)).astype(np.float32)
    sigmoid = (1 / (1 + np.exp(-z))).astype(np.float32)
    weights = rng.random(N).astype(np.float32)
    return dict(z=z, p=p, labels=labels, soft=soft, binary=binary, sigmoid=sigmoid, weights=weights)


def _cases():
    """(id, tinynet loss factory, keras loss name, kwargs, y_true key, y_pred key)."""
    out = []
    for fl in (True, False):
        pred = "z" if fl else "p"
        out.append((f"scce-logits={fl}", "SparseCategoricalCrossentropy", {"from_logits": fl}, "labels", pred))
        for ls in (0.0, 0.1):
            out.append((f"cce-logits={fl}-ls={ls}", "CategoricalCrossentropy",
                        {"from_logits": fl, "label_smoothing": ls}, "soft", pred))
            out.append((f"bce-logits={fl}-ls={ls}", "BinaryCrossentropy",
                        {"from_logits": fl, "label_smoothing": ls}, "binary", "z" if fl else "sigmoid"))
    out.append(("mse", "MeanSquaredError", {}, "soft", "z"))
    out.append(("mse-broadcast-(N,1)", "MeanSquaredError", {}, "soft1", "z"))
    out.append(("mae", "MeanAbsoluteError", {}, "soft", "z"))
    return out


def _keras_value_and_grad(tf, keras_loss, y_true, y_pred, sample_weight):
    var = tf.Variable(y_pred)
    with tf.GradientTape() as tape:
        value = keras_loss(y_true, var, sample_weight=sample_weight)
        total = tf.reduce_sum(value)
    return value.numpy(), tape.gradient(total, var).numpy()


@pytest.mark.parametrize("reduction", REDUCTIONS, ids=str)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
@pytest.mark.parametrize("case", _cases(), ids=lambda c: c[0])
def test_value_and_gradient_match_keras(case, weighted, reduction):
    tf, keras = import_tf()
    _, cls, kwargs, ykey, pkey = case
    data = _data()
    data["soft1"] = data["soft"][:, :1]
    y_true, y_pred = data[ykey], data[pkey]
    sw = data["weights"] if weighted else None
    ours = getattr(L, cls)(reduction=reduction, **kwargs)
    ref_loss = getattr(keras.losses, cls)(reduction=reduction, **kwargs)
    ref_value, ref_grad = _keras_value_and_grad(tf, ref_loss, y_true, y_pred, sw)
    value = ours(y_true, y_pred, sample_weight=sw)
    np.testing.assert_allclose(value, ref_value, rtol=1e-6, atol=1e-7)
    if reduction is None:
        return
    value2, grad = ours.value_and_grad(y_true, y_pred, sample_weight=sw)
    assert value2 == value
    assert grad.dtype == np.float32 and grad.shape == y_pred.shape
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-5, atol=1e-7 * np.abs(ref_grad).max())


def test_scalar_sample_weight_and_zero_weights_follow_keras():
    tf, keras = import_tf()
    d = _data(1)
    for reduction in REDUCTIONS:
        ours = L.MeanSquaredError(reduction=reduction)
        ref = keras.losses.MeanSquaredError(reduction=reduction)
        for sw in (2.3, 0.0, np.zeros(N, np.float32)):
            np.testing.assert_allclose(ours(d["soft"], d["z"], sample_weight=sw),
                                       ref(d["soft"], d["z"], sample_weight=sw).numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_argument_sets_the_precision_of_the_computation(dtype):
    d = _data(2)
    loss = L.CategoricalCrossentropy(from_logits=True, dtype=dtype)
    assert loss.get_config()["dtype"] == dtype
    value, grad = loss.value_and_grad(d["soft"], d["z"])
    exact = L.CategoricalCrossentropy(from_logits=True).value_and_grad(d["soft"].astype(np.float64),
                                                                      d["z"].astype(np.float64))
    # computed in float64 the value agrees with the float64 computation exactly; in float32 only to rounding
    if dtype == "float64":
        assert value == exact[0]
    else:
        assert value != exact[0] and value == pytest.approx(exact[0], rel=1e-6)
    assert grad.dtype == np.float32                    # handed back in the predictions' dtype


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c[0])
def test_weighted_gradients_match_finite_differences(case):
    _, cls, kwargs, ykey, pkey = case
    d = {k: (v.astype(np.float64) if v.dtype.kind == "f" else v) for k, v in _data(3).items()}
    d["soft1"] = d["soft"][:, :1]
    for reduction in ("sum_over_batch_size", "mean_with_sample_weight", "sum"):
        loss = getattr(L, cls)(reduction=reduction, **kwargs)
        y_pred = d[pkey]
        if pkey in ("p", "sigmoid"):                 # away from 0 and 1, where the slope is steep or clipped
            y_pred = np.clip(y_pred, 0.02, 0.98)
        analytic = loss.value_and_grad(d[ykey], y_pred, sample_weight=d["weights"])[1]

        def f(loss=loss, y_pred=y_pred):
            return loss(d[ykey], y_pred, sample_weight=d["weights"])

        numeric = gradcheck.numerical_gradient(f, y_pred, 1e-6)
        assert gradcheck.relative_error(analytic, numeric) < 1e-6, (reduction, cls)


def test_binary_logits_are_stable_up_to_1e4():
    z = np.array([[1e4], [-1e4], [0.0]], dtype=np.float32)
    y = np.array([[0.0], [1.0], [1.0]], dtype=np.float32)
    value, grad = L.BinaryCrossentropy(from_logits=True).value_and_grad(y, z)
    assert value == pytest.approx((1e4 + 1e4 + np.log(2)) / 3, rel=1e-6)
    np.testing.assert_allclose(grad[:, 0], np.array([1, -1, -0.5]) / 3, rtol=1e-6)


def test_categorical_probabilities_are_renormalised_as_keras_does():
    p = np.array([[2.0, 1.0, 1.0]])                   # rows need not sum to 1: divided by their sum first
    y = np.array([[1.0, 0.0, 0.0]])
    assert L.CategoricalCrossentropy()(y, p) == pytest.approx(-np.log(0.5))


def test_names_functions_and_serialization():
    assert isinstance(L.get("mse"), L.MeanSquaredError) and isinstance(L.get("MAE"), L.MeanAbsoluteError)
    assert isinstance(L.get("categorical_crossentropy"), L.CategoricalCrossentropy)
    assert isinstance(L.get(L.binary_crossentropy), L.BinaryCrossentropy)
    assert isinstance(L.get("BinaryCrossentropy"), L.BinaryCrossentropy)
    d = _data(4)
    np.testing.assert_allclose(L.categorical_crossentropy(d["soft"], d["z"], from_logits=True),
                               L.CategoricalCrossentropy(from_logits=True, reduction=None)(d["soft"], d["z"]))
    for loss in (L.CategoricalCrossentropy(True, 0.2, reduction="sum", name="cce"), L.MeanAbsoluteError(),
                 L.BinaryCrossentropy(dtype="float64"), L.SparseCategoricalCrossentropy(reduction=None)):
        again = L.deserialize(L.serialize(loss))
        assert type(again) is type(loss) and again.get_config() == loss.get_config()
    assert L.CategoricalCrossentropy().name == "categorical_crossentropy"
    with pytest.raises(ValueError, match="unknown class"):
        L.deserialize({"class_name": "Hinge", "config": {}})


@pytest.mark.parametrize("call, match", [
    (lambda d: L.BinaryCrossentropy()(np.full((N, 1), 1.5), d["sigmoid"][:, :1]), "y_true: expected binary targets"),
    (lambda d: L.BinaryCrossentropy()(np.full((N, 1), np.nan), d["sigmoid"][:, :1]), "y_true: expected only finite"),
    (lambda d: L.CategoricalCrossentropy()(d["soft"][:, :3], d["p"]), r"y_true: expected targets of shape \(7, 4\)"),
    (lambda d: L.CategoricalCrossentropy()(-d["soft"], d["p"]), "y_true: expected non-negative"),
    (lambda d: L.CategoricalCrossentropy()(d["labels"], d["p"]), "SparseCategoricalCrossentropy"),
    (lambda d: L.MeanSquaredError()(d["soft"], d["z"], sample_weight=np.ones(3)), "sample_weight: expected 7"),
    (lambda d: L.MeanSquaredError()(d["soft"], d["z"], sample_weight=-d["weights"]), "sample_weight: expected non-neg"),
    (lambda d: L.MeanSquaredError()(d["soft"], d["z"], sample_weight=np.full(N, np.inf)),
     "sample_weight: expected only"),
    (lambda d: L.MeanSquaredError()(d["soft"], d["z"], sample_weight=np.ones((N, 2))), "sample_weight: .*2-D"),
    (lambda d: L.MeanSquaredError()(d["soft"][:, :2], d["z"]), "y_true: expected shape"),
    (lambda d: L.MeanSquaredError(reduction="avg"), "reduction: expected one of"),
    (lambda d: L.CategoricalCrossentropy(label_smoothing=-0.1), "label_smoothing"),
    (lambda d: L.CategoricalCrossentropy(axis=0), "axis"),
    (lambda d: L.MeanSquaredError(dtype="int32"), "dtype"),
    (lambda d: L.MeanSquaredError(reduction=None).value_and_grad(d["soft"], d["z"]), "value_and_grad needs a scalar"),
])
def test_bad_inputs_are_refused_by_name(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call(_data())
