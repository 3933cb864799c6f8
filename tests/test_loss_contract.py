"""The documented contract of tinynet.losses, in NumPy only: names, configs, encode/decode, per_sample, value,
the clip of the probability losses, the stable logits path, the lowercase functions and deserialize's errors."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tinynet import gradcheck, losses
from tinynet.losses import (
    EPSILON,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Loss,
    MeanAbsoluteError,
    MeanSquaredError,
    SparseCategoricalCrossentropy,
)

CLASSES = [SparseCategoricalCrossentropy, CategoricalCrossentropy, BinaryCrossentropy, MeanSquaredError,
           MeanAbsoluteError]
DEFAULT_NAMES = ["sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy",
                 "mean_squared_error", "mean_absolute_error"]


def _targets_and_predictions(loss):
    """Raw targets and float64 predictions (3 samples, 2 columns) that ``loss`` accepts."""
    p = np.array([[0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    if isinstance(loss, SparseCategoricalCrossentropy):
        return [1, 0, 1], p
    return np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]]), p


# -- names, configs ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls, name", list(zip(CLASSES, DEFAULT_NAMES, strict=True)))
def test_default_names_are_snake_case_and_get_resolves_them(cls, name):
    assert cls().name == name
    assert type(losses.get(name)) is cls
    assert type(losses.get(cls.__name__)) is cls


@pytest.mark.parametrize("cls", CLASSES)
def test_name_and_dtype_arguments_are_kept(cls):
    loss = cls(name="custom", dtype="float64")
    assert (loss.name, loss.dtype) == ("custom", "float64")
    config = loss.get_config()
    assert (config["name"], config["dtype"]) == ("custom", "float64")
    assert losses.deserialize(losses.serialize(loss)).get_config() == config


class MyHuberLikeLoss(Loss):
    pass


class Squared(Loss):
    pass


@pytest.mark.parametrize("cls, name", [(MyHuberLikeLoss, "my_huber_like_loss"), (Squared, "squared")])
def test_a_subclass_without_a_name_is_named_after_its_class_in_snake_case(cls, name):
    assert cls().name == name
    assert cls(name="given").name == "given"


@pytest.mark.parametrize("cls, activation", [(SparseCategoricalCrossentropy, "softmax"),
                                             (CategoricalCrossentropy, "softmax"), (BinaryCrossentropy, "sigmoid")])
def test_fused_form_keeps_reduction_name_and_dtype(cls, activation):
    loss = cls(reduction="sum", name="xent", dtype="float64")
    fused = loss.from_logits_form(activation)
    assert type(fused) is cls
    assert fused.get_config() == {**loss.get_config(), "from_logits": True}
    assert loss.from_logits_form("relu") is None
    assert fused.from_logits_form(activation) is None


# -- encode / decode --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_decode_gives_the_labels_back_in_the_targets_dtype(dtype):
    loss = SparseCategoricalCrossentropy()
    onehot = loss.encode([2, 0, 1], 3, 3, dtype)
    assert onehot.dtype == dtype
    decoded = loss.decode(onehot)
    assert decoded.dtype == dtype
    np.testing.assert_array_equal(decoded, [2.0, 0.0, 1.0])


@pytest.mark.parametrize("cls", [CategoricalCrossentropy, BinaryCrossentropy, MeanSquaredError, MeanAbsoluteError])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("y", [[[0, 1], [1, 0]], np.array([[0.0, 1.0], [1.0, 0.0]]),
                               np.array([[0.0, 1.0], [1.0, 0.0]], dtype=np.float32)], ids=["ints", "f64", "f32"])
def test_encode_converts_targets_to_the_requested_dtype(cls, dtype, y):
    encoded = cls().encode(y, 2, 2, dtype)
    assert encoded.dtype == dtype
    np.testing.assert_array_equal(encoded, [[0.0, 1.0], [1.0, 0.0]])


@pytest.mark.parametrize("cls", [CategoricalCrossentropy, BinaryCrossentropy, MeanSquaredError, MeanAbsoluteError])
def test_encode_names_its_errors_y_true_unless_told_otherwise(cls):
    with pytest.raises(ValueError, match=r"^y_true: expected "):
        cls().encode(np.zeros((2, 3)), 2, 2, np.float64)
    with pytest.raises(ValueError, match=r"^y: expected "):
        cls().encode(np.zeros((2, 3)), 2, 2, np.float64, name="y")
    with pytest.raises(ValueError, match=r"^y_true: expected only finite values"):
        cls()([[np.nan, 1.0]], [[0.5, 0.5]])
    with pytest.raises(ValueError, match=r"^y: expected only finite values"):
        cls().encode([[np.nan, 1.0]], 1, 2, np.float64, name="y")


_HINT = " (integer labels? use SparseCategoricalCrossentropy)"


@pytest.mark.parametrize("shape, hint", [((3,), _HINT), ((3, 1), _HINT), ((3, 2), ""), ((2, 4), "")])
def test_categorical_targets_of_the_wrong_shape_hint_at_sparse_labels_only_for_label_shapes(shape, hint):
    message = (f"y_true: expected targets of shape (3, 4), one row of 4 class probabilities per sample, received "
               f"shape {shape}{hint}")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        CategoricalCrossentropy()(np.zeros(shape), np.full((3, 4), 0.25))


@pytest.mark.parametrize("loss, y_shape, width, message", [
    (MeanSquaredError(), (4, 2), 3, "y_true: expected shape (4, 3) or (4, 1) (as the predictions), received (4, 2)"),
    (MeanSquaredError(), (4, 2), 1, "y_true: expected shape (4, 1) (as the predictions), received (4, 2)"),
    (MeanAbsoluteError(), (3,), 2, "y_true: expected shape (4, 2) or (4, 1) (as the predictions), received (3,)"),
    # Keras's binary_crossentropy refuses targets whose shape differs from the predictions'; it does not broadcast
    (BinaryCrossentropy(), (4, 1), 3, "y_true: expected shape (4, 3) (as the predictions), received (4, 1)"),
    (BinaryCrossentropy(), (4, 2), 1, "y_true: expected shape (4, 1) (as the predictions), received (4, 2)"),
])
def test_targets_of_the_wrong_shape_name_the_shapes_accepted(loss, y_shape, width, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        loss(np.zeros(y_shape), np.full((4, width), 0.5))


@pytest.mark.parametrize("cls", [MeanSquaredError, MeanAbsoluteError])
@pytest.mark.parametrize("width", [2, 3])
def test_one_target_column_is_broadcast_over_the_outputs(cls, width):
    y, p = np.array([[0.0], [1.0], [2.0]]), np.arange(3.0 * width).reshape(3, width) / 4
    assert cls()(y, p) == cls()(np.repeat(y, width, axis=1), p)


# -- label smoothing --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("cls, uniform", [(CategoricalCrossentropy, 1 / 3), (BinaryCrossentropy, 1 / 2)],
                         ids=["categorical", "binary"])
def test_label_smoothing_mixes_the_targets_with_the_uniform_distribution(cls, uniform, from_logits):
    # Keras: y <- y (1 - s) + s / classes, where a binary output has the two classes {0, 1}
    y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    p = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]]) if not from_logits else np.array([[1.0, -2.0, 0.5],
                                                                                        [0.3, 2.0, -1.0]])
    s = 0.3
    smoothed = cls(from_logits=from_logits, label_smoothing=s)
    by_hand = cls(from_logits=from_logits)(y * (1 - s) + s * uniform, p)
    assert smoothed(y, p) == pytest.approx(by_hand, rel=1e-12)
    assert smoothed(y, p) != pytest.approx(cls(from_logits=from_logits)(y, p), rel=1e-3)


def test_binary_probabilities_on_the_clip_boundary_keep_their_gradient():
    # p = 1e-7 and 1 - 1e-7 exactly: TF's clip passes the gradient at equality, so it is the unclipped
    # d/dp of the mean over the outputs of -(y log p + (1 - y) log(1 - p)) = (p - y) / (p (1 - p)) / outputs.
    p, y = np.array([[EPSILON, 1 - EPSILON]]), np.array([[0.5, 0.5]])
    _, grad = BinaryCrossentropy().value_and_grad(y, p)
    np.testing.assert_allclose(grad, (p - y) / (p * (1 - p)) / 2, rtol=1e-9)


# -- per_sample, value ------------------------------------------------------------------------------------------
EVERY_PATH = [SparseCategoricalCrossentropy(), SparseCategoricalCrossentropy(from_logits=True),
              CategoricalCrossentropy(), CategoricalCrossentropy(from_logits=True), BinaryCrossentropy(),
              BinaryCrossentropy(from_logits=True), MeanSquaredError(), MeanAbsoluteError()]


@pytest.mark.parametrize("loss", EVERY_PATH, ids=lambda loss: f"{loss.name}-{getattr(loss, 'from_logits', '')}")
def test_per_sample_returns_no_gradient_unless_asked_and_the_same_values_either_way(loss):
    y, p = _targets_and_predictions(loss)
    targets = loss.encode(y, 3, 2, np.float64)
    values, grad = loss.per_sample(targets, p, want_grad=False)
    assert grad is None
    with_grad, grad = loss.per_sample(targets, p, want_grad=True)
    assert grad.shape == p.shape
    np.testing.assert_array_equal(values, with_grad)
    np.testing.assert_array_equal(loss.call(y, p), values)


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "mean_with_sample_weight", "sum"])
def test_value_weighs_and_reduces_like_call(reduction):
    loss = MeanSquaredError(reduction=reduction)
    y, p = np.array([[0.0], [1.0], [3.0]]), np.array([[1.0], [1.0], [1.0]])
    w = np.array([2.0, 5.0, 0.5])
    targets = loss.encode(y, 3, 1, np.float64)
    total = 2.0 * 1.0 + 5.0 * 0.0 + 0.5 * 4.0                         # sum_i w_i (p_i - y_i)**2
    expected = {"sum_over_batch_size": total / 3, "mean_with_sample_weight": total / 7.5, "sum": total}[reduction]
    assert loss.value(targets, p, losses.sample_weights(w, 3, np.float64)) == pytest.approx(expected, rel=1e-12)
    assert loss(y, p, sample_weight=w) == pytest.approx(expected, rel=1e-12)
    unweighted = 1.0 + 0.0 + 4.0
    assert loss.value(targets, p) == pytest.approx(unweighted if reduction == "sum" else unweighted / 3, rel=1e-12)


# -- categorical cross-entropy: the logits path and the clip of the probabilities ----------------------------------
def test_categorical_from_logits_is_stable_for_large_logits_in_each_row():
    logits = np.array([[1000.0, 0.0, -1000.0], [0.0, 1.0, 2.0], [-1000.0, -999.0, -1001.0]])
    y = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    lse = np.log(np.exp([0.0, 1.0, 2.0]).sum())
    expected = [1000.0, lse - 2.0, lse - 1.0]                              # logsumexp(z_i) - z_i,y_i per row
    np.testing.assert_allclose(CategoricalCrossentropy(from_logits=True).call(y, logits), expected, rtol=1e-12)
    _, grad = CategoricalCrossentropy(from_logits=True).value_and_grad(y, logits)
    assert np.isfinite(grad).all()


def test_categorical_from_logits_gradient_for_rows_that_do_not_sum_to_one():
    rng = np.random.default_rng(4)
    y = np.array([[2.0, 0.0, 1.0], [0.0, 0.5, 0.0], [0.3, 0.3, 0.3]])
    logits = rng.standard_normal((3, 3))
    report = gradcheck.check_loss(CategoricalCrossentropy(from_logits=True), y, logits)
    assert report.ok, f"\n{report}"
    _, grad = CategoricalCrossentropy(from_logits=True).value_and_grad(y, logits)
    softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(grad, (softmax * y.sum(axis=1, keepdims=True) - y) / 3, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("y, p, value", [
    ([0.0, 1.0], [1.0, 0.0], -np.log(EPSILON)),              # a 0 probability is clipped up to 1e-7
    ([1.0, 0.0], [1.0, 0.0], -np.log(1 - EPSILON)),          # a 1 is clipped down to 1 - 1e-7
    ([1.0, 0.0], [4.0, 0.0], -np.log(1 - EPSILON)),          # after the division by the row's sum
])
def test_categorical_probabilities_are_clipped_and_flat_outside_the_clip(y, p, value):
    loss_value, grad = CategoricalCrossentropy().value_and_grad(np.array([y]), np.array([p]))
    assert loss_value == pytest.approx(value, rel=1e-9)
    np.testing.assert_array_equal(grad, [[0.0, 0.0]])       # clipped entries pass no gradient (as TF's clip)


def test_categorical_probabilities_on_the_clip_boundary_keep_their_gradient():
    # q = (1e-7, 1 - 1e-7) exactly: TF's clip passes the gradient at equality, so it is the unclipped
    # d/dp_j of -sum_k y_k log(p_k / sum p) = -y_j / p_j + sum(y) / sum(p).
    p, y = np.array([[EPSILON, 1 - EPSILON]]), np.array([[0.5, 0.5]])
    _, grad = CategoricalCrossentropy().value_and_grad(y, p)
    np.testing.assert_allclose(grad, -y / p + y.sum() / p.sum(), rtol=1e-9)


def test_categorical_probabilities_gradient_inside_the_clip_matches_finite_differences():
    p = np.array([[0.2, 0.5, 0.3], [0.1, 0.1, 0.8]])
    report = gradcheck.check_loss(CategoricalCrossentropy(), [[0.0, 1.0, 0.0], [0.2, 0.3, 0.5]], p)
    assert report.ok, f"\n{report}"


# -- the lowercase functions ------------------------------------------------------------------------------------
def test_lowercase_functions_default_to_probabilities_and_check_axis():
    np.testing.assert_allclose(losses.categorical_crossentropy(np.array([[0.0, 1.0]]), np.array([[0.2, 0.8]])),
                               [-np.log(0.8)], rtol=1e-12)
    np.testing.assert_allclose(losses.binary_crossentropy(np.array([[1.0]]), np.array([[0.8]])), [-np.log(0.8)],
                               rtol=1e-12)
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy([1], np.array([[0.2, 0.8]])), [-np.log(0.8)],
                               rtol=1e-12)
    axis_error = r"^axis: expected -1 \(the classes of predictions of shape \(n, classes\)\), received 0$"
    for fn, y in [(losses.categorical_crossentropy, [[0.0, 1.0]]), (losses.binary_crossentropy, [[0.0, 1.0]]),
                  (losses.sparse_categorical_crossentropy, [1])]:
        with pytest.raises(ValueError, match=axis_error):
            fn(y, [[0.2, 0.8]], axis=0)


# -- deserialize ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("spec", [None, 3, "mse", [], {"class_name": "MeanSquaredError"},
                                  {"class_name": "MeanSquaredError", "config": {}, "extra": 1},
                                  {"class_name": "MeanSquaredError", "config": []}])
def test_deserialize_refuses_a_malformed_spec(spec):
    message = f"loss: expected {{'class_name': ..., 'config': {{...}}}}, received {spec!r}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        losses.deserialize(spec)


def test_deserialize_names_unknown_classes_and_bad_configs():
    message = ("loss: unknown class 'Hinge'; expected one of ['BinaryCrossentropy', 'CategoricalCrossentropy', "
               "'MeanAbsoluteError', 'MeanSquaredError', 'SparseCategoricalCrossentropy']")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        losses.deserialize({"class_name": "Hinge", "config": {}})
    with pytest.raises(ValueError, match=r"^loss: invalid config for MeanSquaredError \(.*bogus.*\)$"):
        losses.deserialize({"class_name": "MeanSquaredError", "config": {"bogus": 1}})


def test_sample_weights_are_cast_to_the_predictions_dtype_as_keras_casts_them():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(3), size=7).astype(np.float32)
    y, w = rng.integers(0, 3, 7), rng.uniform(0, 1, 7)              # float64 weights for float32 predictions
    loss = SparseCategoricalCrossentropy()
    values = loss.call(y, p)
    assert values.dtype == np.float32
    assert loss(y, p, sample_weight=w) == loss.reduce(values, w.astype(np.float32))
    value, grad = loss.value_and_grad(y, p, sample_weight=w)
    assert grad.dtype == np.float32 and value == loss(y, p, sample_weight=w)


def test_value_and_grad_takes_a_scalar_sample_weight_as_the_call_does():
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(3), size=5)
    y = rng.integers(0, 3, 5)
    loss = SparseCategoricalCrossentropy()
    v1, g1 = loss.value_and_grad(y, p)
    v2, g2 = loss.value_and_grad(y, p, sample_weight=2.0)
    assert v2 == pytest.approx(2 * v1, rel=1e-12) and v2 == pytest.approx(loss(y, p, sample_weight=2.0), rel=1e-12)
    np.testing.assert_allclose(g2, 2 * g1, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float16, np.int64])
def test_predictions_of_another_dtype_are_computed_in_float32(dtype):
    y = np.array([0, 1])
    p = np.array([[0.75, 0.25], [0.5, 0.5]]).astype(dtype) if dtype is np.float16 else np.array([[1, 0], [0, 1]])
    values = SparseCategoricalCrossentropy().call(y, p)
    assert values.dtype == np.float32
    assert MeanSquaredError().call(np.zeros((2, 2)), p).dtype == np.float32


@pytest.mark.parametrize("y_pred, match", [
    (np.array([[np.nan, 1.0], [0.5, 0.5]]), r"^y_pred: expected only finite values, received an array containing"),
    (np.zeros((2, 2, 2)), r"^y_pred: expected predictions of shape \(n, outputs\) or \(n,\), received shape "
                          r"\(2, 2, 2\)$"),
])
def test_bad_predictions_are_named_y_pred(y_pred, match):
    with pytest.raises(ValueError, match=match):
        SparseCategoricalCrossentropy()(np.array([0, 1]), y_pred)


def test_the_sparse_function_passes_ignore_class_on():
    from tinynet.losses import sparse_categorical_crossentropy
    with pytest.raises(ValueError, match=r"^ignore_class: tinynet supports only None, received 1$"):
        sparse_categorical_crossentropy(np.array([0, 1]), np.array([[0.5, 0.5], [0.5, 0.5]]), ignore_class=1)


@pytest.mark.parametrize("make, error, message", [
    (lambda: CategoricalCrossentropy(from_logits=1), TypeError, "from_logits: expected True or False, received 1"),
    (lambda: BinaryCrossentropy(from_logits="yes"), TypeError, "from_logits: expected True or False, received 'yes'"),
    (lambda: SparseCategoricalCrossentropy(from_logits=None), TypeError,
     "from_logits: expected True or False, received None"),
    (lambda: BinaryCrossentropy(label_smoothing=1.5), ValueError,
     "label_smoothing: expected a number in [0.0, 1.0], received 1.5"),
    (lambda: CategoricalCrossentropy(label_smoothing=-0.1), ValueError,
     "label_smoothing: expected a number in [0.0, 1.0], received -0.1"),
    (lambda: CategoricalCrossentropy(axis=1.0), TypeError, "axis: expected an integer, received 1.0"),
    (lambda: BinaryCrossentropy(axis=-1.0), TypeError, "axis: expected an integer, received -1.0"),
])
def test_constructor_arguments_are_refused_in_exact_words(make, error, message):
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        make()


def test_sparse_probabilities_on_the_clip_boundary_keep_their_gradient_and_outside_it_have_none():
    # d/dp_j of -log(clip(p)_y / sum(clip(p))) at p = (1e-7, 1 - 1e-7): TF's clip passes the gradient at equality
    p = np.array([[EPSILON, 1 - EPSILON]])
    _, grad = SparseCategoricalCrossentropy().value_and_grad([1], p)
    np.testing.assert_allclose(grad, (p / p.sum() - [[0.0, 1.0]]) / p, rtol=1e-6)
    _, grad = SparseCategoricalCrossentropy().value_and_grad([1, 0], np.array([[0.0, 1.0], [1.0, 0.0]]))
    np.testing.assert_array_equal(grad, np.zeros((2, 2)))     # both entries clipped in each row


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum"])
def test_sample_weights_scale_each_row_of_the_gradient(reduction):
    loss = MeanSquaredError(reduction=reduction)
    y, p = np.array([[0.0], [1.0]]), np.array([[0.5], [0.25]])
    _, grad = loss.value_and_grad(y, p)
    np.testing.assert_allclose(loss.value_and_grad(y, p, sample_weight=2.0)[1], 2 * grad, rtol=1e-12)
    np.testing.assert_allclose(loss.value_and_grad(y, p, sample_weight=[1.0, 3.0])[1], grad * [[1.0], [3.0]],
                               rtol=1e-12)


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "mean_with_sample_weight", "sum"])
def test_all_zero_sample_weights_give_a_zero_loss_and_gradient(reduction):
    value, grad = MeanSquaredError(reduction=reduction).value_and_grad([[0.0], [1.0]], [[0.5], [0.25]],
                                                                       sample_weight=[0.0, 0.0])
    assert value == 0.0                                        # Keras's divide_no_nan
    np.testing.assert_array_equal(grad, np.zeros((2, 1)))


def test_the_weighted_mean_divides_by_the_float64_sum_of_the_weights():
    w = np.array([2.0**24, 1.0, 1.0], dtype=np.float32)        # a float32 sum would drop both ones
    y, p = np.zeros((3, 1), np.float32), np.array([[1.0], [2.0], [3.0]], np.float32)
    value = MeanSquaredError(reduction="mean_with_sample_weight")(y, p, sample_weight=w)
    assert value == pytest.approx((2.0**24 + 4 + 9) / (2.0**24 + 2), rel=1e-12)


@pytest.mark.parametrize("weights, error, message", [
    ("abc", TypeError, "sample_weight: expected an array of per-sample weights, received 'abc'"),
    (True, TypeError, "sample_weight: expected an array of per-sample weights, received True"),
    ([object(), 1], TypeError, "sample_weight: expected a numeric array, received an array of dtype object"),
])
def test_sample_weights_of_the_wrong_kind_are_refused_by_name(weights, error, message):
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        MeanSquaredError()([[0.0], [1.0]], [[0.5], [0.5]], sample_weight=weights)


def test_a_loss_with_its_own_dtype_weights_the_gradient_in_that_dtype():
    """Keras casts the weights to the dtype the loss computes in before multiplying: a float32 loss on float64
    predictions multiplies by float32 weights, bit for bit (the gradient comes back in the predictions' dtype)."""
    rng = np.random.default_rng(2)
    p = rng.dirichlet(np.ones(3), size=50)
    y, w = rng.integers(0, 3, 50), rng.uniform(0, 1, 50)
    loss = SparseCategoricalCrossentropy(reduction="sum", dtype="float32")
    _, plain = loss.value_and_grad(y, p)
    _, weighted = loss.value_and_grad(y, p, sample_weight=w)
    assert plain.dtype == weighted.dtype == np.float64
    np.testing.assert_array_equal(weighted, plain.astype(np.float32) * w.astype(np.float32)[:, None])


@pytest.mark.parametrize("call", [lambda loss, y, p, w: loss(y, p, sample_weight=w),
                                  lambda loss, y, p, w: loss.value_and_grad(y, p, sample_weight=w)])
def test_sample_weights_numpy_cannot_convert_are_refused_by_name(call):
    with pytest.raises(ValueError, match=r"^sample_weight: expected an array-like of numbers, received list that "
                                         r"NumPy cannot convert \(setting an array element with a sequence"):
        call(MeanSquaredError(), np.zeros((2, 1)), np.zeros((2, 1)), [[1, 2], [3]])


@pytest.mark.parametrize("call, error, message", [
    (lambda: losses.get(3),
     TypeError, "loss: expected a loss name or a tinynet.losses.Loss, received 3"),
    (lambda: losses.get("bogus"),
     ValueError, ("loss: expected one of ['BCE', 'BinaryCrossentropy', 'CategoricalCrossentropy', 'MAE', 'MSE', "
                  "'MeanAbsoluteError', 'MeanSquaredError', 'SparseCategoricalCrossentropy', 'bce', "
                  "'binary_crossentropy', 'categorical_crossentropy', 'mae', 'mean_absolute_error', "
                  "'mean_squared_error', 'mse', 'sparse_categorical_crossentropy'] or a Loss, received 'bogus'")),
    (lambda: losses.MeanSquaredError(name=3),
     TypeError, "name: expected a string, received 3"),
    (lambda: losses.MeanSquaredError(reduction="bogus"),
     ValueError, ("reduction: expected one of ['sum_over_batch_size', 'mean', 'mean_with_sample_weight', 'sum', "
                  "'none', None], received 'bogus'")),
    (lambda: losses.MeanAbsoluteError(reduction="bogus"),
     ValueError, ("reduction: expected one of ['sum_over_batch_size', 'mean', 'mean_with_sample_weight', 'sum', "
                  "'none', None], received 'bogus'")),
    (lambda: losses.SparseCategoricalCrossentropy()(np.array([0, 3]), np.full((2, 3), 1/3)),
     ValueError, "y_true: received a label value of 3 which is outside the valid range of [0, 3)"),
    (lambda: losses.CategoricalCrossentropy(axis=2),
     ValueError, "axis: expected -1 (the classes of predictions of shape (n, classes)), received 2"),
])
def test_every_refusal_of_a_loss_names_the_argument_in_full(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert str(info.value) == message


def test_categorical_crossentropy_takes_the_class_axis_by_either_name():
    p, y = np.full((2, 3), 1 / 3), np.eye(3)[[0, 2]]
    assert losses.CategoricalCrossentropy(axis=1)(y, p) == losses.CategoricalCrossentropy(axis=-1)(y, p)


def test_one_prediction_per_sample_may_come_as_a_vector_and_weights_as_a_column():
    y, p = np.array([0.0, 1.0, 2.0]), np.array([0.5, 1.0, 1.0])
    loss = MeanSquaredError()
    assert loss(y, p) == loss(y[:, None], p[:, None]) == pytest.approx(0.25 / 3 + 1 / 3)
    w = np.array([1.0, 2.0, 0.5])
    assert loss(y, p, sample_weight=w[:, None]) == loss(y, p, sample_weight=w) == pytest.approx((0.25 + 0.5) / 3)


@pytest.mark.parametrize("weights, message", [
    ([], "sample_weight: expected 2 weights (one per sample), received 0"),
    ([1.0], "sample_weight: expected 2 weights (one per sample), received 1"),
    (np.ones((2, 2)), "sample_weight: expected one weight per sample, shape (2,) or (2, 1), received a 2-D array of "
                      "shape (2, 2)"),
])
def test_sample_weights_of_the_wrong_length_are_refused_in_full(weights, message):
    with pytest.raises(ValueError) as info:
        MeanSquaredError()(np.zeros((2, 1)), np.zeros((2, 1)), sample_weight=weights)
    assert str(info.value) == message


def test_get_refuses_a_callable_that_is_not_a_loss():
    with pytest.raises(TypeError) as info:
        losses.get(len)
    assert str(info.value) == "loss: expected a loss name or a tinynet.losses.Loss, received <built-in function len>"
