"""tinynet.metrics against Keras 3's metric objects: the same update_state sequence gives the same result, names
resolve as compile does, configs round-trip, and bad input is refused by name without touching the state."""

from __future__ import annotations

import json
import zlib

import numpy as np
import pytest

from tests._tf_helpers import import_tf
from tinynet import metrics as tm


@pytest.fixture(scope="module")
def keras():
    return import_tf()[1]


def close(ours: float, ref: float, tol: float = 1e-6) -> bool:
    """Within ``tol`` relative to the reference (absolute near 0): Keras accumulates in float32."""
    return abs(ours - ref) <= tol * max(1.0, abs(ref))


def logits(rng, n, c):
    return rng.normal(size=(n, c)).astype(np.float32)


# Each case: (Keras class, tinynet class, constructor kwargs, a batch maker rng, n -> (y_true, y_pred)).
CASES = {
    "sparse labels (n,)": ("SparseCategoricalAccuracy", tm.SparseCategoricalAccuracy, {},
                           lambda rng, n: (rng.integers(0, 4, n), logits(rng, n, 4))),
    "sparse labels (n, 1) float": ("SparseCategoricalAccuracy", tm.SparseCategoricalAccuracy, {},
                                   lambda rng, n: (rng.integers(0, 3, (n, 1)).astype(np.float64), logits(rng, n, 3))),
    "categorical one-hot": ("CategoricalAccuracy", tm.CategoricalAccuracy, {},
                            lambda rng, n: (np.eye(5)[rng.integers(0, 5, n)], logits(rng, n, 5))),
    "categorical soft targets": ("CategoricalAccuracy", tm.CategoricalAccuracy, {},
                                 lambda rng, n: (rng.dirichlet(np.ones(3), n), logits(rng, n, 3))),
    "binary (n, 1)": ("BinaryAccuracy", tm.BinaryAccuracy, {},
                      lambda rng, n: (rng.integers(0, 2, (n, 1)), rng.random((n, 1)).astype(np.float32))),
    "binary labels (n,) beside (n, 1)": ("BinaryAccuracy", tm.BinaryAccuracy, {},
                                         lambda rng, n: (rng.integers(0, 2, n).astype(np.float32),
                                                         rng.random((n, 1)).astype(np.float32))),
    "binary multi-label, threshold 0.3": ("BinaryAccuracy", tm.BinaryAccuracy, {"threshold": 0.3},
                                          lambda rng, n: (rng.integers(0, 2, (n, 4)),
                                                          rng.random((n, 4)).astype(np.float32))),
    "mse (n, 3)": ("MeanSquaredError", tm.MeanSquaredError, {},
                   lambda rng, n: (rng.normal(size=(n, 3)), logits(rng, n, 3))),
    "mse (n,) beside (n, 1)": ("MeanSquaredError", tm.MeanSquaredError, {},
                               lambda rng, n: (rng.normal(size=n), logits(rng, n, 1))),
    "mae (n, 2)": ("MeanAbsoluteError", tm.MeanAbsoluteError, {},
                   lambda rng, n: (rng.normal(size=(n, 2)), logits(rng, n, 2))),
    "mae (n,) beside (n, 1)": ("MeanAbsoluteError", tm.MeanAbsoluteError, {},
                               lambda rng, n: (rng.normal(size=n).astype(np.float32), logits(rng, n, 1))),
    "binary crossentropy, logits, smoothing": (
        "BinaryCrossentropy", tm.BinaryCrossentropy, {"from_logits": True, "label_smoothing": 0.1},
        lambda rng, n: ((rng.random((n, 2)) > 0.5).astype(np.float32), logits(rng, n, 2))),
    "binary crossentropy, probabilities": (
        "BinaryCrossentropy", tm.BinaryCrossentropy, {},
        lambda rng, n: ((rng.random((n, 1)) > 0.5).astype(np.float32), rng.uniform(0.01, 0.99, (n, 1)))),
    "categorical crossentropy, logits": (
        "CategoricalCrossentropy", tm.CategoricalCrossentropy, {"from_logits": True},
        lambda rng, n: (rng.dirichlet(np.ones(3), n), logits(rng, n, 3))),
    "sparse categorical crossentropy, probabilities": (
        "SparseCategoricalCrossentropy", tm.SparseCategoricalCrossentropy, {},
        lambda rng, n: (rng.integers(0, 4, n), rng.dirichlet(np.ones(4), n).astype(np.float32))),
}


def weights_for(kind: str, rng, n):
    if kind == "none":
        return None
    w = rng.random(n) * 3
    w[rng.random(n) < 0.2] = 0.0                              # some samples masked out
    return w if kind == "(n,)" else w[:, None]


@pytest.mark.parametrize("weighting", ["none", "(n,)", "(n, 1)"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_keras_over_several_batches_and_a_reset(keras, case, weighting):
    keras_name, ours_cls, kwargs, make = CASES[case]
    rng = np.random.default_rng(zlib.crc32(f"{case}/{weighting}".encode()))
    ref, ours = getattr(keras.metrics, keras_name)(**kwargs), ours_cls(**kwargs)
    assert ours.name == ref.name
    for n in (7, 16, 1, 5):
        y_true, y_pred = make(rng, n)
        w = weights_for(weighting, rng, n)
        ref.update_state(y_true, y_pred, sample_weight=w)
        ours.update_state(y_true, y_pred, sample_weight=w)
        expected = float(ref.result())
        assert close(ours.result(), expected), f"{case}: ours {ours.result()!r} vs Keras {expected!r}"
    ref.reset_state()
    ours.reset_state()
    assert ours.result() == float(ref.result()) == 0.0
    assert ours.total == ours.count == 0.0
    y_true, y_pred = make(rng, 9)
    ref.update_state(y_true, y_pred)
    ours.update_state(y_true, y_pred)
    assert close(ours.result(), float(ref.result()))


@pytest.mark.parametrize("case", sorted(CASES))
def test_float64_metrics_match_keras_float64(keras, case):
    """With dtype="float64" Keras also sums in float64: agreement is then far tighter than float32's."""
    keras_name, ours_cls, kwargs, make = CASES[case]
    rng = np.random.default_rng(7)
    ref = getattr(keras.metrics, keras_name)(dtype="float64", **kwargs)
    ours = ours_cls(dtype="float64", **kwargs)
    for n in (6, 11):
        y_true, y_pred = make(rng, n)
        y_pred = y_pred.astype(np.float64)                    # per-sample values in y_pred's dtype, in both
        w = rng.random(n)
        ref.update_state(y_true, y_pred, sample_weight=w)
        ours.update_state(y_true, y_pred, sample_weight=w)
    assert close(ours.result(), float(ref.result()), 1e-12)


def test_result_is_rounded_to_the_metric_dtype(keras):
    """Accumulating in float64 and rounding the result to float32 reads exactly as Keras's float32 result."""
    y_pred = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7]], dtype=np.float32)
    y_true = np.array([0, 0, 1])
    ref, ours = keras.metrics.SparseCategoricalAccuracy(), tm.SparseCategoricalAccuracy()
    ref.update_state(y_true, y_pred)
    ours.update_state(y_true, y_pred)
    assert ours.result() == float(ref.result()) == float(np.float32(2 / 3))
    assert ours.total == 2.0 and ours.count == 3.0
    precise = tm.SparseCategoricalAccuracy(dtype="float64")
    precise.update_state(y_true, y_pred)
    assert precise.result() == 2 / 3 != ours.result()


def test_zero_total_weight_gives_zero_as_keras(keras):
    y_true, y_pred = np.array([1, 0]), np.array([[0.0, 1.0], [1.0, 0.0]], dtype=np.float32)
    for keras_name, ours_cls in [("SparseCategoricalAccuracy", tm.SparseCategoricalAccuracy),
                                 ("MeanSquaredError", tm.MeanSquaredError)]:
        ref, ours = getattr(keras.metrics, keras_name)(), ours_cls()
        assert ours.result() == float(ref.result()) == 0.0            # nothing seen yet
        yt = y_true if keras_name.startswith("Sparse") else np.eye(2)[y_true]
        ref.update_state(yt, y_pred, sample_weight=[0.0, 0.0])
        ours.update_state(yt, y_pred, sample_weight=[0.0, 0.0])
        assert ours.result() == float(ref.result()) == 0.0
        assert ours.count == 0.0


def test_argmax_ties_go_to_the_first_class_as_in_keras(keras):
    y_pred = np.array([[1, 1, 0], [0, 2, 2], [3, 3, 3], [0, 5, 5]], dtype=np.float32)
    labels = np.array([0, 1, 2, 2])
    expected = np.array([1.0, 1.0, 0.0, 0.0])                   # argmax picks 0, 1, 0, 1
    ours = tm.sparse_categorical_accuracy(labels, y_pred)
    np.testing.assert_array_equal(ours, expected)
    np.testing.assert_array_equal(ours, np.asarray(keras.metrics.sparse_categorical_accuracy(labels, y_pred)))
    onehot = np.eye(3)[labels]
    np.testing.assert_array_equal(tm.categorical_accuracy(onehot, y_pred), expected)
    # ties in y_true too: argmax of [0.5, 0.5, 0] is class 0
    soft = np.array([[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]])
    y_pred2 = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]], dtype=np.float32)
    np.testing.assert_array_equal(tm.categorical_accuracy(soft, y_pred2), [0.0, 1.0])
    np.testing.assert_array_equal(tm.categorical_accuracy(soft, y_pred2),
                                  np.asarray(keras.metrics.categorical_accuracy(soft, y_pred2)))


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.7, 1.0, -2.0])
def test_binary_threshold_is_strict_and_matches_keras(keras, threshold):
    y_pred = np.array([[threshold], [threshold + 0.25], [threshold - 0.25], [0.5], [0.3]], dtype=np.float32)
    y_true = np.array([[0], [1], [0], [1], [1]])
    ours = tm.binary_accuracy(y_true, y_pred, threshold=threshold)
    ref = np.asarray(keras.metrics.binary_accuracy(y_true, y_pred, threshold=threshold))
    np.testing.assert_array_equal(ours, ref)
    assert ours.shape == ref.shape == (5, 1)
    assert ours[0, 0] == 1.0                                   # y_pred == threshold predicts 0
    m, k = tm.BinaryAccuracy(threshold=threshold), keras.metrics.BinaryAccuracy(threshold=threshold)
    m.update_state(y_true, y_pred)
    k.update_state(y_true, y_pred)
    assert m.result() == float(k.result())


def test_binary_threshold_is_a_float32_as_in_keras(keras):
    """Keras turns the threshold into a float32 tensor: a float64 output between 0.3 and float32(0.3) is not
    above it."""
    between = np.nextafter(np.float64(np.float32(0.3)), 0.0)
    assert 0.3 < between < np.float32(0.3)
    y_pred = np.array([[between], [np.float32(0.3)]], dtype=np.float64)
    y_true = np.array([[0.0], [0.0]])
    ours = tm.binary_accuracy(y_true, y_pred, threshold=0.3)
    np.testing.assert_array_equal(ours, np.asarray(keras.metrics.binary_accuracy(y_true, y_pred, threshold=0.3)))
    np.testing.assert_array_equal(ours, [[1.0], [1.0]])


def test_binary_soft_labels_never_match_as_in_keras(keras):
    y_true, y_pred = np.array([[0.7], [1.0]]), np.array([[0.9], [0.9]], dtype=np.float32)
    ours = tm.BinaryAccuracy()
    ours.update_state(y_true, y_pred)
    ref = keras.metrics.BinaryAccuracy()
    ref.update_state(y_true, y_pred)
    assert ours.result() == float(ref.result()) == 0.5


@pytest.mark.parametrize("threshold, exc", [("0.5", TypeError), (None, TypeError), (True, TypeError),
                                            (float("nan"), ValueError), (float("inf"), ValueError),
                                            (1e39, ValueError)])
def test_bad_threshold_is_refused(threshold, exc):
    with pytest.raises(exc, match=r"^threshold: expected"):
        tm.BinaryAccuracy(threshold=threshold)
    with pytest.raises(exc, match=r"^threshold: expected"):
        tm.binary_accuracy([[1]], [[0.5]], threshold=threshold)


@pytest.mark.parametrize("shape", ["(n,)", "(n, 1)"])
def test_sparse_accuracy_count_takes_labels_of_either_shape(shape):
    """The old count read one-hot rows: labels (n,) raised AxisError and labels (n, 1) counted class-0 guesses."""
    rng = np.random.default_rng(3)
    y_pred = rng.normal(size=(50, 4)).astype(np.float32)
    labels = rng.integers(0, 4, 50)
    labels[:10] = y_pred[:10].argmax(axis=1)                  # some right answers
    expected = int(np.sum(y_pred.argmax(axis=1) == labels))
    assert expected != int(np.sum(y_pred.argmax(axis=1) == 0))  # so a class-0 count would be caught
    y_true = labels if shape == "(n,)" else labels[:, None]
    assert tm.sparse_categorical_accuracy_count(y_true, y_pred) == expected
    assert tm.sparse_categorical_accuracy_count(y_true.astype(np.float32), y_pred) == expected


@pytest.mark.parametrize("y_true, message", [
    ([0.5, 1], "non-integer"), ([0, 4], "outside the valid range"), ([0, -1], ">= 0"),
    ([[1, 0, 0, 0], [0, 1, 0, 0]], "one-hot"), ([0, 1, 2], "expected 2 labels"),
])
def test_sparse_accuracy_count_checks_labels(y_true, message):
    y_pred = np.zeros((2, 4), dtype=np.float32)
    with pytest.raises(ValueError, match=rf"^y_true: .*{message}"):
        tm.sparse_categorical_accuracy_count(y_true, y_pred)


def test_per_sample_functions_match_keras(keras):
    rng = np.random.default_rng(11)
    y_pred = logits(rng, 8, 3)
    labels = rng.integers(0, 3, 8)
    targets = rng.normal(size=(8, 3))
    pairs = [
        (tm.sparse_categorical_accuracy, keras.metrics.sparse_categorical_accuracy, labels),
        (tm.sparse_categorical_accuracy, keras.metrics.sparse_categorical_accuracy, labels[:, None]),
        (tm.categorical_accuracy, keras.metrics.categorical_accuracy, np.eye(3)[labels]),
        (tm.binary_accuracy, keras.metrics.binary_accuracy, (targets > 0).astype(np.float64)),
        (tm.mean_squared_error, keras.metrics.mean_squared_error, targets),
        (tm.mean_absolute_error, keras.metrics.mean_absolute_error, targets),
    ]
    for ours_fn, keras_fn, y_true in pairs:
        ours, ref = ours_fn(y_true, y_pred), np.asarray(keras_fn(y_true, y_pred))
        assert ours.shape == ref.shape, ours_fn.__name__
        np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-7, err_msg=ours_fn.__name__)


@pytest.mark.parametrize("case", sorted(CASES))
def test_unchecked_update_equals_update_state(case):
    """``update`` (the model's per-batch path, arrays in Keras's form) adds exactly what ``update_state`` adds."""
    _, ours_cls, kwargs, make = CASES[case]
    rng = np.random.default_rng(5)
    checked, fast = ours_cls(**kwargs), ours_cls(**kwargs)
    for n in (4, 9):
        y_true, y_pred = make(rng, n)
        w = rng.random(n)
        checked.update_state(y_true, y_pred, sample_weight=w)
        y_true = np.asarray(y_true, dtype=y_pred.dtype)        # the model's form: floats, labels (n,) or (n, 1)
        fast.update(y_true, y_pred, w)
    assert (fast.total, fast.count, fast.result()) == (checked.total, checked.count, checked.result())


def test_mean_matches_keras(keras):
    calls = [(5.0, None), ([1.0, 3.0, 5.0, 7.0], None), ([1.0, 3.0, 5.0, 7.0], [1.0, 1.0, 0.0, 0.0]),
             ([[1.0, 2.0], [3.0, 4.0], [6.0, 8.0]], [0.5, 2.0, 1.0]), ([[1.0, 2.0], [3.0, 5.0]], [[1.0], [3.0]]),
             (2.5, 4.0)]
    ref, ours = keras.metrics.Mean(), tm.Mean()
    for values, w in calls:
        ref.update_state(values, sample_weight=w)
        ours.update_state(values, sample_weight=w)
        assert close(ours.result(), float(ref.result()))
        assert close(ours.count, float(ref.count))
    assert ours(10.0) == ours.result()                          # __call__: update_state then result


def test_mean_metric_wrapper_takes_a_function():
    def squared_gap(y_true, y_pred):
        return (y_true[:, 0] - y_pred[:, 0]) ** 2

    m = tm.MeanMetricWrapper(squared_gap, name="gap")
    m.update_state([[1.0], [2.0]], [[0.0], [0.0]], sample_weight=[1.0, 3.0])
    assert m.result() == float(np.float32((1 + 3 * 4) / 4))
    assert m.get_config()["fn"] is squared_gap
    with pytest.raises(ValueError, match="^metric: a MeanMetricWrapper can be serialized only"):
        tm.serialize(m)
    bad = tm.MeanMetricWrapper(lambda y_true, y_pred: np.ones(3))
    with pytest.raises(ValueError, match=r"^fn: expected 2 per-sample values"):
        bad.update_state([[1.0], [2.0]], [[0.0], [0.0]])
    assert bad.count == 0.0
    with pytest.raises(TypeError, match="^fn: expected a function"):
        tm.MeanMetricWrapper("mse")
    with pytest.raises(TypeError, match="^kwargs: sparse_categorical_accuracy takes no options"):
        tm.MeanMetricWrapper(tm.sparse_categorical_accuracy, threshold=0.5)
    same = tm.MeanMetricWrapper(tm.binary_accuracy, threshold=0.7)
    direct = tm.BinaryAccuracy(threshold=0.7)
    y_true, y_pred = np.array([[1], [0], [1]]), np.array([[0.8], [0.75], [0.6]], dtype=np.float32)
    assert same(y_true, y_pred) == direct(y_true, y_pred) == float(np.float32(1 / 3))


# -- resolution ---------------------------------------------------------------------------------------------
# (y_true shape, y_pred shape, whether tinynet's metric takes such a batch)
SHAPES = [((8,), (8, 4), True), ((8, 1), (8, 4), True), ((8, 4), (8, 4), True), ((8,), (8, 1), True),
          ((8, 1), (8, 1), True), ((8, 4), (8, 1), False), ((8, 3), (8, 4), False), ((8, 1), (8, 2), True),
          ((8, 2), (8, 2), True)]


def batch_of_shapes(rng, y_true_shape, y_pred_shape):
    y_pred = rng.random(y_pred_shape).astype(np.float32)
    c = y_pred_shape[-1]
    if len(y_true_shape) < len(y_pred_shape) or (y_true_shape[-1] == 1 and c > 1):
        return rng.integers(0, c, y_true_shape).astype(np.float32), y_pred
    if y_true_shape == y_pred_shape and c > 1:
        return np.eye(c, dtype=np.float32)[rng.integers(0, c, y_true_shape[0])], y_pred
    return rng.integers(0, 2, y_true_shape).astype(np.float32), y_pred


@pytest.mark.parametrize("identifier", ["accuracy", "acc", "Accuracy", "ACC"])
@pytest.mark.parametrize("y_true_shape, y_pred_shape, usable", SHAPES)
def test_accuracy_resolves_by_shapes_as_keras_compile(keras, identifier, y_true_shape, y_pred_shape, usable):
    from keras.src.trainers.compile_utils import get_metric

    rng = np.random.default_rng(1)
    y_true, y_pred = batch_of_shapes(rng, y_true_shape, y_pred_shape)
    ref = get_metric(identifier, y_true, y_pred)
    ours = tm.get(identifier, y_true_shape, y_pred_shape)
    assert type(ours).__name__ == type(ref).__name__
    assert ours.name == ref.name == identifier                # the history key, as written
    assert tm.accuracy_class(y_true_shape, y_pred_shape) is type(ours)
    if usable:
        ref.update_state(y_true, y_pred)
        ours.update_state(y_true, y_pred)
        assert ours.result() == float(ref.result())


NAMES = ["sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy", "mse", "MSE",
         "mean_squared_error", "MeanSquaredError", "mae", "MAE", "mean_absolute_error", "MeanAbsoluteError",
         "SparseCategoricalAccuracy", "CategoricalAccuracy", "BinaryAccuracy"]


@pytest.mark.parametrize("identifier", NAMES)
def test_names_resolve_as_keras_compile(keras, identifier):
    from keras.src.trainers.compile_utils import get_metric

    ref = get_metric(identifier, np.zeros((4, 3)), np.zeros((4, 3)))
    ours = tm.get(identifier)
    assert type(ours).__name__ == type(ref).__name__
    assert ours.name == ref.name == identifier                # "mse" logs as "mse"


def test_get_returns_metrics_as_they_are_and_wraps_functions():
    m = tm.BinaryAccuracy(name="bin", threshold=0.2)
    assert tm.get(m) is m
    assert tm.get(m, (4, 1), (4, 1)) is m
    assert type(tm.get(tm.MeanAbsoluteError)) is tm.MeanAbsoluteError
    wrapped = tm.get(tm.sparse_categorical_accuracy)
    assert type(wrapped) is tm.MeanMetricWrapper and wrapped.name == "sparse_categorical_accuracy"
    assert wrapped([1, 2], [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]) == 0.5
    restored = tm.get({"class_name": "BinaryAccuracy", "config": {"name": "b", "threshold": 0.4}})
    assert type(restored) is tm.BinaryAccuracy and restored.threshold == 0.4 and restored.name == "b"


def test_get_refuses_unknown_names_and_wrong_types():
    with pytest.raises(ValueError, match=r"^metrics: expected one of \[") as info:
        tm.get("auc")
    for name in ["accuracy", "acc", *NAMES]:
        assert repr(name) in str(info.value)
    assert "received 'auc'" in str(info.value)
    with pytest.raises(ValueError, match="^metrics: "):
        tm.get("mean")                                         # Mean takes values, not (y_true, y_pred)
    with pytest.raises(ValueError, match=r"^y_true_shape, y_pred_shape: 'accuracy' is resolved from the shapes"):
        tm.get("accuracy")
    with pytest.raises(ValueError, match=r"^y_true_shape, y_pred_shape: "):
        tm.get("acc", y_pred_shape=(4, 2))
    for bad in [None, 3, 1.5, ["accuracy"]]:
        with pytest.raises(TypeError, match="^metrics: expected a metric name"):
            tm.get(bad)
    with pytest.raises(TypeError, match="^metrics: expected a metric class"):
        tm.get(tm.Mean)
    with pytest.raises(TypeError, match="^y_pred_shape: expected a shape"):
        tm.get("accuracy", (4,), "4, 2")
    with pytest.raises(ValueError, match="^y_true_shape: expected a shape of one or more sizes"):
        tm.get("accuracy", (), (4, 2))
    with pytest.raises(ValueError, match="^y_true_shape: expected a shape of one or more sizes"):
        tm.get("accuracy", (4, -1), (4, 2))


# -- configs -------------------------------------------------------------------------------------------------
CONFIG_CASES = [("SparseCategoricalAccuracy", {}), ("CategoricalAccuracy", {"name": "cat"}),
                ("BinaryAccuracy", {"threshold": 0.3}), ("MeanSquaredError", {"dtype": "float64"}),
                ("MeanAbsoluteError", {"name": "mae"}), ("Mean", {"name": "avg"})]


@pytest.mark.parametrize("class_name, kwargs", CONFIG_CASES)
def test_config_matches_keras_and_round_trips(keras, class_name, kwargs):
    ours = getattr(tm, class_name)(**kwargs)
    ref = getattr(keras.metrics, class_name)(**kwargs)
    assert ours.get_config() == ref.get_config()
    spec = json.loads(json.dumps(tm.serialize(ours)))
    assert spec == {"class_name": class_name, "config": ref.get_config()}
    back = tm.deserialize(spec)
    assert type(back) is type(ours) and back.get_config() == ours.get_config() and back is not ours
    assert type(tm.deserialize(keras.metrics.serialize(ref))) is type(ours)   # Keras's own dict reads too


def test_wrapper_round_trips_with_its_function_and_options():
    m = tm.MeanMetricWrapper(tm.binary_accuracy, name="b7", threshold=0.7)
    spec = json.loads(json.dumps(tm.serialize(m)))
    assert spec["config"] == {"name": "b7", "dtype": "float32", "fn": "binary_accuracy", "threshold": 0.7}
    back = tm.deserialize(spec)
    y_true, y_pred = np.array([[1], [0], [1]]), np.array([[0.8], [0.75], [0.6]], dtype=np.float32)
    assert back(y_true, y_pred) == m(y_true, y_pred)


def test_serialize_keeps_no_state():
    m = tm.MeanSquaredError()
    m.update_state([[1.0]], [[3.0]])
    back = tm.deserialize(tm.serialize(m))
    assert m.result() == 4.0 and back.result() == 0.0


def test_bad_specs_are_refused():
    class Custom(tm.SparseCategoricalAccuracy):
        pass

    with pytest.raises(TypeError, match="^metric: expected a tinynet.metrics.Metric"):
        tm.serialize("accuracy")
    with pytest.raises(ValueError, match="^metric: only tinynet's metric classes"):
        tm.serialize(Custom())
    with pytest.raises(TypeError, match="^spec: expected a dict"):
        tm.deserialize("BinaryAccuracy")
    with pytest.raises(ValueError, match="^spec: expected the keys 'class_name' and 'config'"):
        tm.deserialize({"class_name": "BinaryAccuracy"})
    with pytest.raises(ValueError, match="^spec: expected class_name to be one of"):
        tm.deserialize({"class_name": "AUC", "config": {}})
    with pytest.raises(TypeError, match="^spec: expected config to be a dict"):
        tm.deserialize({"class_name": "BinaryAccuracy", "config": [0.5]})
    with pytest.raises(ValueError, match=r"^config: BinaryAccuracy takes \['dtype', 'name', 'threshold'\], "
                                         r"received the unknown keys \['k'\]"):
        tm.deserialize({"class_name": "BinaryAccuracy", "config": {"k": 5}})
    with pytest.raises(ValueError, match="^config: expected fn to be one of"):
        tm.deserialize({"class_name": "MeanMetricWrapper", "config": {"fn": "os.system"}})
    with pytest.raises(ValueError, match="^config: expected an 'fn'"):
        tm.deserialize({"class_name": "MeanMetricWrapper", "config": {"name": "x"}})
    with pytest.raises(TypeError, match="^name: expected a string"):
        tm.deserialize({"class_name": "MeanSquaredError", "config": {"name": 3}})
    with pytest.raises(ValueError, match="^dtype: expected 'float32' or 'float64'"):
        tm.deserialize({"class_name": "MeanSquaredError", "config": {"dtype": "float16"}})


def test_constructor_arguments_are_checked():
    with pytest.raises(ValueError, match="^name: expected a non-empty string"):
        tm.Mean(name="")
    with pytest.raises(TypeError, match="^name: expected a string"):
        tm.CategoricalAccuracy(name=1)
    with pytest.raises(ValueError, match="^dtype: expected 'float32' or 'float64'"):
        tm.SparseCategoricalAccuracy(dtype="int32")
    assert tm.Mean().dtype == "float32" and tm.Mean(dtype="float64").dtype == "float64"
    assert repr(tm.get("acc", (4,), (4, 3))) == "<SparseCategoricalAccuracy name=acc>"


# -- bad batches: a named error, and the state as it was ---------------------------------------------------
Y3 = np.array([[0.1, 0.8, 0.1], [0.6, 0.3, 0.1]], dtype=np.float32)
Y1 = np.array([[0.2], [0.9]], dtype=np.float32)
BAD_BATCHES = [
    # (metric, y_true, y_pred, sample_weight, exception, argument named)
    ("sparse", [1.5, 0], Y3, None, ValueError, "y_true"),
    ("sparse", [3, 0], Y3, None, ValueError, "y_true"),
    ("sparse", [-1, 0], Y3, None, ValueError, "y_true"),
    ("sparse", [[0, 1, 0], [1, 0, 0]], Y3, None, ValueError, "y_true"),
    ("sparse", [1, 0, 2], Y3, None, ValueError, "y_true"),
    ("sparse", None, Y3, None, TypeError, "y_true"),
    ("sparse", ["a", "b"], Y3, None, TypeError, "y_true"),
    ("sparse", [1, np.nan], Y3, None, ValueError, "y_true"),
    ("sparse", [[1], [2, 0]], Y3, None, ValueError, "y_true"),
    ("sparse", [1, 0], Y3, [[1.0], [2.0, 3.0]], ValueError, "sample_weight"),
    ("mse", [[1.0], [2.0, 3.0]], Y1, None, ValueError, "y_true"),
    ("sparse", [1, 0], np.array([[0.1, np.nan, 0.0], [1.0, 0.0, 0.0]]), None, ValueError, "y_pred"),
    ("sparse", [1, 0], np.array([[0.1, np.inf, 0.0], [1.0, 0.0, 0.0]]), None, ValueError, "y_pred"),
    ("sparse", [1, 0], [0.1, 0.9], None, ValueError, "y_pred"),
    ("sparse", [1, 0], np.zeros((2, 3, 1)), None, ValueError, "y_pred"),
    ("sparse", [1, 0], "scores", None, TypeError, "y_pred"),
    ("sparse", [1, 0], [[1.0, 2.0], [3.0]], None, ValueError, "y_pred"),
    ("sparse", [1, 0], Y3, [1.0], ValueError, "sample_weight"),
    ("sparse", [1, 0], Y3, [1.0, -0.5], ValueError, "sample_weight"),
    ("sparse", [1, 0], Y3, [1.0, np.nan], ValueError, "sample_weight"),
    ("sparse", [1, 0], Y3, [[1.0, 2.0], [3.0, 4.0]], ValueError, "sample_weight"),
    ("sparse", [1, 0], Y3, 2.0, ValueError, "sample_weight"),
    ("sparse", [1, 0], Y3, "heavy", TypeError, "sample_weight"),
    ("sparse", [1, 0], Y3, True, TypeError, "sample_weight"),
    ("categorical", [1, 0], Y3, None, ValueError, "y_true"),
    ("categorical", [[0, 1], [1, 0]], Y3, None, ValueError, "y_true"),
    ("categorical", [[0, 1, 0], [1, 0, np.inf]], Y3, None, ValueError, "y_true"),
    ("binary", [[1, 0, 1], [0, 0, 1]], Y1, None, ValueError, "y_true"),
    ("binary", [1, 0], Y3, None, ValueError, "y_true"),
    ("binary", [1, 0, 1], Y1, None, ValueError, "y_true"),
    ("binary", [[1], [0]], Y1, [[1.0], [2.0], [3.0]], ValueError, "sample_weight"),
    ("mse", [[1.0], [2.0]], Y3, None, ValueError, "y_true"),
    ("mse", [1.0, 2.0], Y3, None, ValueError, "y_true"),
    ("mse", [[1e300], [0.0]], Y1, None, ValueError, "y_true"),          # beyond float32, y_pred's dtype
    ("mse", [[3e38], [0.0]], -Y1 * 1e38, None, ValueError, "y_true, y_pred"),   # the square overflows
    ("mae", [[1.0, 2.0]], Y1, None, ValueError, "y_true"),
]
MAKERS = {"sparse": tm.SparseCategoricalAccuracy, "categorical": tm.CategoricalAccuracy,
          "binary": tm.BinaryAccuracy, "mse": tm.MeanSquaredError, "mae": tm.MeanAbsoluteError}


@pytest.mark.parametrize("kind, y_true, y_pred, sample_weight, exc, argument", BAD_BATCHES)
def test_bad_batches_are_refused_by_name_and_change_nothing(kind, y_true, y_pred, sample_weight, exc, argument):
    m = MAKERS[kind]()
    good = (np.array([1, 0]), Y3) if kind in ("sparse", "categorical") else (np.array([[1.0], [0.0]]), Y1)
    if kind == "categorical":
        good = (np.eye(3)[good[0]], Y3)
    m.update_state(*good, sample_weight=[2.0, 1.0])
    before = (m.total, m.count, m.result())
    with pytest.raises(exc, match=rf"^{argument}: .*(expected|received)") as info:
        m.update_state(y_true, y_pred, sample_weight=sample_weight)
    assert "received" in str(info.value) or "non-finite" in str(info.value)
    assert (m.total, m.count, m.result()) == before


def test_mean_refuses_bad_values_and_weights():
    m = tm.Mean()
    m.update_state([1.0, 2.0])
    before = (m.total, m.count)
    for values, w, exc, argument in [([1.0, np.nan], None, ValueError, "values"), ("x", None, TypeError, "values"),
                                     ([], None, ValueError, "values"), ([1.0, 2.0], [1.0], ValueError, "sample_weight"),
                                     ([1.0, 2.0], [1.0, -1.0], ValueError, "sample_weight"),
                                     ([1.0, 2.0], 3.0, ValueError, "sample_weight")]:
        with pytest.raises(exc, match=rf"^{argument}: expected"):
            m.update_state(values, sample_weight=w)
        assert (m.total, m.count) == before


def test_a_probability_metric_on_a_softmax_layer_model_resolves_and_equals_the_loss():
    """compile's probe of each metric uses an output valid as probabilities (a uniform row), so a
    CategoricalCrossentropy metric on a model ending in an Activation("softmax") layer is accepted."""
    from tinynet import Sequential, layers, losses
    rng = np.random.default_rng(0)
    x = rng.standard_normal((24, 6)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[np.arange(24) % 3]
    model = Sequential([layers.Dense(3, input_shape=(6,)), layers.Activation("softmax")], seed=0)
    model.compile(loss=losses.CategoricalCrossentropy(), optimizer="sgd",
                  metrics=[tm.CategoricalCrossentropy(), tm.BinaryCrossentropy()])
    history = model.fit(x, y, epochs=1, batch_size=24, shuffle=False, verbose=0).history
    assert history["categorical_crossentropy"][0] == pytest.approx(history["loss"][0], rel=1e-6)
