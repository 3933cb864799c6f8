"""fit/evaluate with sample_weight, class_weight and compiled metrics, against tf.keras from the same weights:
3-epoch trajectories (losses, metrics, weights), and the bad inputs fit refuses before anything changes."""

from __future__ import annotations

import numpy as np
import pytest

from tests._tf_helpers import import_tf, keras_twin, rel_err
from tinynet import Sequential
from tinynet import losses as L
from tinynet.layers import Dense
from tinynet.optimizers import Adam

N, D, C = 96, 6, 4


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, D)).astype(np.float32)
    labels = rng.integers(0, C, N)
    onehot = np.eye(C, dtype=np.float32)[labels]
    binary = (rng.random((N, 1)) > 0.4).astype(np.float32)
    weights = rng.uniform(0.1, 3.0, N).astype(np.float32)
    return x, labels, onehot, binary, weights


def _pair(keras, out_units, activation, seed=1):
    model = Sequential([Dense(8, activation="relu", input_shape=(D,)), Dense(out_units, activation=activation)],
                       seed=seed)
    return model, keras_twin(keras, model)


# (id, tinynet loss, keras loss name + kwargs, target key, output units, output activation)
SETUPS = [
    ("scce-logits", lambda: L.SparseCategoricalCrossentropy(from_logits=True),
     ("SparseCategoricalCrossentropy", {"from_logits": True}), "labels", C, "linear"),
    ("cce-softmax", lambda: L.CategoricalCrossentropy(), ("CategoricalCrossentropy", {}), "onehot", C, "softmax"),
    ("cce-logits-smoothing", lambda: L.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
     ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.1}), "onehot", C, "linear"),
    ("bce-sigmoid", lambda: L.BinaryCrossentropy(), ("BinaryCrossentropy", {}), "binary", 1, "sigmoid"),
    ("mse", lambda: L.MeanSquaredError(), ("MeanSquaredError", {}), "onehot", C, "linear"),
    ("mae", lambda: L.MeanAbsoluteError(), ("MeanAbsoluteError", {}), "onehot", C, "linear"),
]


@pytest.mark.parametrize("weighting", ["none", "sample_weight", "class_weight", "sample_weight+validation_split",
                                       "class_weight+validation_split"])
@pytest.mark.parametrize("setup", SETUPS, ids=lambda s: s[0])
def test_three_epochs_match_keras(setup, weighting):
    tf, keras = import_tf()
    _, loss, (kname, kkw), ykey, units, activation = setup
    x, labels, onehot, binary, weights = _data()
    y = {"labels": labels, "onehot": onehot, "binary": binary}[ykey]
    model, twin = _pair(keras, units, activation)
    metrics = ["accuracy"] if ykey != "onehot" or kname == "CategoricalCrossentropy" else ["mae"]
    model.compile(optimizer=Adam(0.01), loss=loss(), metrics=metrics, weighted_metrics=metrics)
    twin.compile(optimizer=keras.optimizers.Adam(0.01), loss=getattr(keras.losses, kname)(**kkw),
                 metrics=metrics, weighted_metrics=metrics)
    kwargs = {"validation_data": (x[:32], y[:32], weights[:32])}
    if weighting.startswith("sample_weight"):
        kwargs["sample_weight"] = weights
    elif weighting.startswith("class_weight"):
        kwargs["class_weight"] = {0: 0.5, 1: 2.0} if units == 1 else {0: 0.5, 2: 3.0, 3: 1.5}
    if weighting.endswith("validation_split"):              # the held-out part keeps its sample weights only
        kwargs["validation_split"] = 0.25
        del kwargs["validation_data"]
    ours = model.fit(x, y, batch_size=20, epochs=3, shuffle=False, verbose=0, **kwargs)
    ref = twin.fit(x, y, batch_size=20, epochs=3, shuffle=False, verbose=0, **kwargs)
    assert set(ours.history) == set(ref.history)
    for key, values in ref.history.items():
        np.testing.assert_allclose(ours.history[key], values, rtol=2e-5, atol=1e-6, err_msg=key)
    for a, b in zip(model.get_weights(), twin.get_weights(), strict=True):
        assert rel_err(a, b) < 1e-5
    ev = model.evaluate(x, y, sample_weight=weights, verbose=0, return_dict=True)
    ev_ref = twin.evaluate(x, y, sample_weight=weights, verbose=0, return_dict=True)
    assert set(ev) == set(ev_ref)
    for key in ev:
        assert ev[key] == pytest.approx(ev_ref[key], rel=2e-5, abs=1e-6), key


@pytest.mark.parametrize("loss, y_key, units, activation, expected", [
    (lambda: L.SparseCategoricalCrossentropy(from_logits=True), "labels", C, "linear", "SparseCategoricalAccuracy"),
    (lambda: L.CategoricalCrossentropy(from_logits=True), "onehot", C, "linear", "CategoricalAccuracy"),
    (lambda: L.BinaryCrossentropy(from_logits=True), "binary", 1, "linear", "BinaryAccuracy"),
])
def test_accuracy_is_resolved_from_the_targets_as_keras_does(loss, y_key, units, activation, expected):
    x, labels, onehot, binary, _ = _data(2)
    y = {"labels": labels, "onehot": onehot, "binary": binary}[y_key]
    model = Sequential([Dense(units, activation=activation, input_shape=(D,))], seed=0)
    model.compile(optimizer="adam", loss=loss(), metrics=["acc"])
    history = model.fit(x, y, epochs=1, verbose=0)
    assert type(model.metrics[0]).__name__ == expected and "acc" in history.history


def test_unweighted_metrics_ignore_sample_weight_and_weighted_ones_use_it():
    x, labels, *_, weights = _data(3)
    model = Sequential([Dense(C, input_shape=(D,))], seed=0)
    model.compile(optimizer=Adam(), loss=L.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], weighted_metrics=["accuracy"])
    logs = model.evaluate(x, labels, sample_weight=weights, return_dict=True, verbose=0)
    hit = (model.predict(x).argmax(axis=1) == labels).astype(np.float64)
    assert logs["accuracy"] == pytest.approx(hit.mean(), rel=1e-6)
    assert logs["weighted_accuracy"] == pytest.approx(np.dot(hit, weights) / weights.sum(), rel=1e-6)


def _model():
    model = Sequential([Dense(C, input_shape=(D,))], seed=0)
    model.compile(optimizer=Adam(), loss=L.SparseCategoricalCrossentropy(from_logits=True))
    return model


@pytest.mark.parametrize("kwargs, error, match", [
    ({"sample_weight": np.ones(N - 1)}, ValueError, f"sample_weight: expected {N} weights"),
    ({"sample_weight": -np.ones(N)}, ValueError, "sample_weight: expected non-negative"),
    ({"sample_weight": np.full(N, np.nan)}, ValueError, "sample_weight: expected only finite"),
    ({"sample_weight": np.ones((N, 2))}, ValueError, "sample_weight: .*2-D"),
    ({"sample_weight": 2.0}, ValueError, "sample_weight: expected one weight per sample"),
    ({"class_weight": {0: 1.0, 7: 2.0}}, ValueError, "class_weight: expected keys that are classes 0 to 3"),
    ({"class_weight": {0: -1.0}}, ValueError, r"class_weight\[0\]"),
    ({"class_weight": {0: float("nan")}}, ValueError, r"class_weight\[0\]"),
    ({"class_weight": [1.0, 2.0]}, TypeError, "class_weight: expected a dict"),
    ({"class_weight": {0: 1.0}, "sample_weight": np.ones(N)}, ValueError, "either class_weight or sample_weight"),
    ({"initial_epoch": -1}, ValueError, "initial_epoch"),
    ({"validation_data": (np.ones((3, D)), np.zeros(3), np.ones(2))}, ValueError, "validation_data\\[2\\]"),
])
def test_bad_weights_are_refused_before_training(kwargs, error, match):
    x, labels, *_ = _data(4)
    model = _model()
    before = model.get_weights()
    model.compile(optimizer=Adam(), loss=L.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    with pytest.raises(error, match=match):
        model.fit(x, labels, verbose=0, **kwargs)
    assert model.optimizer.iterations == 0 and set(model.optimizer.get_state()) == {"iterations"}
    assert model.metrics == [] and not model.metrics_resolved        # nothing resolved before the checks end
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_metrics_that_cannot_read_the_targets_are_refused():
    x, labels, onehot, *_ = _data(5)
    model = Sequential([Dense(C, input_shape=(D,))], seed=0)
    model.compile(optimizer="adam", loss=L.CategoricalCrossentropy(from_logits=True),
                  metrics=["sparse_categorical_accuracy"])
    with pytest.raises(ValueError, match="metrics: 'sparse_categorical_accuracy' cannot read the targets"):
        model.fit(x, onehot, verbose=0)
    with pytest.raises(ValueError, match="metrics: expected one of|metric"):
        model.compile(optimizer="adam", loss="mse", metrics=["accuracyy"])


def test_terminate_on_nan_stops_fit_quietly_where_fit_would_raise():
    from tinynet.callbacks import TerminateOnNaN
    from tinynet.models import DivergenceError
    from tinynet.optimizers import SGD

    x, labels, *_ = _data(6)
    x = np.sign(x) * np.float32(3e38)                     # finite inputs whose logits overflow: the loss is not
    for callbacks in ([], [TerminateOnNaN()]):
        model = Sequential([Dense(C, input_shape=(D,))], seed=0)
        model.compile(optimizer=SGD(1.0), loss=L.SparseCategoricalCrossentropy(from_logits=True))
        before = model.get_weights()
        if not callbacks:
            with pytest.raises(DivergenceError, match="epoch 1, step 1"):
                model.fit(x, labels, epochs=3, verbose=0, callbacks=callbacks)
            continue
        history = model.fit(x, labels, epochs=3, verbose=0, callbacks=callbacks)
        assert history.epoch == [0] and np.isnan(history.history["loss"][0])     # stopped after that batch
        for a, b in zip(before, model.get_weights(), strict=True):              # the bad step was not taken
            np.testing.assert_array_equal(a, b)


def test_class_weight_uses_keras_formula_for_any_targets():
    """Keras rounds a (N,)/(N, 1) target to a class and weighs classes missing from the dict by 1, whatever the
    values (negative ones included); one-hot rows go by their argmax."""
    _, keras = import_tf()
    from keras.src.trainers.data_adapters.data_adapter_utils import class_weight_to_sample_weights

    model = Sequential([Dense(1, input_shape=(D,))], seed=0)
    model.compile(optimizer="sgd", loss="mse")
    y = np.array([-2.0, 0.0, 1.0, 2.0, -1.0, 0.6, 1.4])
    _, targets = model.prepare_data(np.zeros((7, D)), y)
    ours = model.prepare_sample_weight(None, {1: 5.0, 0: 0.5}, targets)
    np.testing.assert_array_equal(ours, class_weight_to_sample_weights(y[:, None], {1: 5.0, 0: 0.5}))
    wide = Sequential([Dense(C, input_shape=(D,))], seed=0)
    wide.compile(optimizer="sgd", loss=L.CategoricalCrossentropy(from_logits=True))
    onehot = np.eye(C)[[3, 0, 2, 2]]
    _, targets = wide.prepare_data(np.zeros((4, D)), onehot)
    np.testing.assert_array_equal(wide.prepare_sample_weight(None, {2: 3.0}, targets),
                                  class_weight_to_sample_weights(onehot, {2: 3.0}))


def test_a_loss_dtype_other_than_the_models_is_one_function_in_fit_evaluate_and_gradcheck():
    from tinynet import gradcheck

    x, labels, *_ = _data(7)
    model = Sequential([Dense(C, input_shape=(D,))], seed=0, dtype="float64")
    model.compile(optimizer="sgd", loss=L.SparseCategoricalCrossentropy(from_logits=True, dtype="float32"))
    loss, _ = model.loss_and_gradients(x, labels)
    assert model.evaluate(x, labels, batch_size=N, verbose=0) == loss
    exact = Sequential([Dense(C, input_shape=(D,))], seed=0, dtype="float64")
    exact.compile(optimizer="sgd", loss=L.SparseCategoricalCrossentropy(from_logits=True))
    assert exact.loss_and_gradients(x, labels)[0] != loss                 # float32 arithmetic really happened
    assert gradcheck.check_model(exact, x, labels).ok


def test_sparse_loss_arguments_are_in_keras_order():
    assert L.SparseCategoricalCrossentropy(True, None).reduction == "sum_over_batch_size"
    assert L.SparseCategoricalCrossentropy(True, None, "sum").reduction == "sum"
    with pytest.raises(ValueError, match="ignore_class: tinynet supports only None"):
        L.SparseCategoricalCrossentropy(False, "sum")
