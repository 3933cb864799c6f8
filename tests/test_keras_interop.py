"""tinynet.keras_interop against real Keras 3: round trips of every supported layer, activation, regularizer, loss,
metric, optimizer and schedule; training continued in Keras from tinynet's optimizer state; Keras files; refusals;
and that TensorFlow is only imported when asked for."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tests._tf_helpers import import_tf, max_abs, record, rel_err
from tinynet import Input, Sequential, activations, keras_interop
from tinynet import layers as L
from tinynet import losses as LS
from tinynet import metrics as M
from tinynet import optimizers as O
from tinynet import regularizers as R
from tinynet import schedules as S
from tinynet.keras_interop import from_keras, load_keras_weights, to_keras


@pytest.fixture(scope="module")
def keras():
    return import_tf()[1]


def _x(n=48, d=6, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def _check_round_trip(keras, model, x, record_property=None, name="layers"):
    """tinynet -> Keras -> tinynet: same names, classes, weights; predictions within 1e-6 on both sides."""
    kmodel = to_keras(model)
    assert isinstance(kmodel, keras.Sequential) and kmodel.name == model.name
    assert [k.name for k in kmodel.layers] == [t.name for t in model.layers]
    for ours, theirs in zip(model.trainable_weights, kmodel.trainable_variables, strict=True):
        np.testing.assert_array_equal(ours, theirs.numpy())
    for ours, theirs in zip(model.layers, kmodel.layers, strict=True):
        if isinstance(ours, L.Normalization):           # Keras keeps given statistics as constants in its config
            config = theirs.get_config()
            np.testing.assert_array_equal(np.float32(config["mean"]).reshape(-1), ours.mean)
            np.testing.assert_array_equal(np.float32(config["variance"]).reshape(-1), ours.variance)
    k_out = np.asarray(kmodel.predict(x, verbose=0))
    t_out = model.predict(x)
    assert max_abs(k_out, t_out) <= 1e-6 * max(1.0, np.abs(t_out).max())
    back = from_keras(kmodel)
    assert [t.name for t in back.layers] == [t.name for t in model.layers]
    assert back.input_shape == model.input_shape and back.dtype == model.dtype
    for ours, theirs in zip(model.get_weights(), back.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(back.predict(x), t_out)
    if record_property is not None:
        record(record_property, name, keras_vs_tinynet=max_abs(k_out, t_out))
    return kmodel, back


# -- layers and activations ------------------------------------------------------------------------------------
@pytest.mark.parametrize("activation", sorted(activations.NAMES))
def test_dense_activation_round_trip(keras, activation):
    model = Sequential([Dense_(5, activation=activation, input_shape=(6,)), Dense_(3, activation=activation)],
                       seed=1)
    kmodel, back = _check_round_trip(keras, model, _x())
    assert kmodel.layers[0].get_config()["activation"] == (activation if activation != "swish" else "silu")
    assert back.layers[0].activation_name == model.layers[0].activation_name


def Dense_(*args, **kwargs):  # noqa: N802 (a Dense)
    return L.Dense(*args, **kwargs)


def test_every_layer_and_option_round_trips(keras, record_property):
    x = _x()
    norm = L.Normalization(invert=False)
    norm.adapt(x)
    model = Sequential([
        Input((6,)), norm,
        L.Dense(8, activation="relu", kernel_initializer="he_normal", bias_initializer="ones",
                kernel_regularizer=R.L2(0.01), bias_regularizer=R.L1(0.02), activity_regularizer=R.L1L2(0.001, 0.002),
                name="hidden"),
        L.Dropout(0.25, seed=7), L.ReLU(max_value=6.0, negative_slope=0.1, threshold=0.05), L.LeakyReLU(0.2),
        L.ELU(0.7), L.Normalization(mean=np.arange(8.0), variance=np.full(8, 2.0), invert=True),
        L.Dense(4, use_bias=False, kernel_initializer="glorot_normal"), L.Activation("tanh"), L.Sigmoid(), L.Tanh(),
        L.Linear(), L.Activation("relu", max_value=3.0), L.Softmax(axis=-1),
    ], seed=2, name="all_layers")
    kmodel, back = _check_round_trip(keras, model, x, record_property, "all_layers")
    classes = [type(k).__name__ for k in kmodel.layers]
    assert classes == ["Normalization", "Dense", "Dropout", "ReLU", "LeakyReLU", "ELU", "Normalization", "Dense",
                       "Activation", "Activation", "Activation", "Activation", "ReLU", "Softmax"]
    dense = kmodel.get_layer("hidden").get_config()
    assert dense["kernel_initializer"]["class_name"] == "HeNormal"
    assert dense["bias_initializer"]["class_name"] == "Ones"
    assert dense["kernel_regularizer"]["class_name"] == "L2"     # Keras keeps the factors in float32
    assert np.float32(dense["kernel_regularizer"]["config"]["l2"]) == np.float32(0.01)
    assert np.float32(dense["bias_regularizer"]["config"]["l1"]) == np.float32(0.02)
    assert np.float32(list(dense["activity_regularizer"]["config"].values())).tolist() == \
        np.float32([0.001, 0.002]).tolist()
    assert kmodel.layers[2].get_config()["rate"] == 0.25 and kmodel.layers[2].get_config()["seed"] == 7
    relu = kmodel.layers[3].get_config()
    assert (relu["max_value"], relu["negative_slope"], relu["threshold"]) == (6.0, 0.1, 0.05)
    assert kmodel.layers[4].get_config()["negative_slope"] == 0.2 and kmodel.layers[5].get_config()["alpha"] == 0.7
    assert kmodel.layers[6].get_config()["invert"] is True
    assert [k.get_config()["activation"] for k in kmodel.layers[8:12]] == ["tanh", "sigmoid", "tanh", "linear"]
    # Back in tinynet every layer's configuration is the original's (activation classes become Activation).
    for ours, theirs in zip(model.layers, back.layers, strict=True):
        config = ours.get_config()
        if type(ours) in (L.Sigmoid, L.Tanh, L.Linear):
            config["activation"] = ours.activation_name
        if type(ours) is L.Activation and ours.options:     # relu with options: Keras's ReLU, back as ReLU
            del config["activation"]
        assert theirs.get_config() == config, ours.name
    np.testing.assert_array_equal(back.layers[0].mean, norm.mean)
    np.testing.assert_array_equal(back.layers[0].variance, norm.variance)
    assert back.layers[2].seed == 7 and back.layers[2].rate == 0.25


def test_flatten_and_float64_round_trip(keras):
    x = np.random.default_rng(3).standard_normal((10, 4, 5))
    model = Sequential([L.Flatten(input_shape=(4, 5)), L.Dense(3, activation="elu")], seed=0, dtype="float64")
    kmodel, back = _check_round_trip(keras, model, x)
    assert kmodel.input_shape == (None, 4, 5) and kmodel.layers[1].dtype == "float64"
    assert back.dtype == np.float64
    y = np.random.default_rng(3).standard_normal((10, 3))
    model.compile(optimizer=O.SGD(0.1), loss="mse")
    model.fit(x, y, epochs=1, verbose=0)
    kmodel = to_keras(model)                            # the loss in float64 too, as tinynet computes it
    assert rel_err(kmodel.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0)) < 1e-6   # a float32 mean
    kmodel.fit(x, y, epochs=1, shuffle=False, verbose=0)
    model.fit(x, y, epochs=1, shuffle=False, verbose=0)
    # float64 throughout; Keras rounds the learning rate to float32 (a relative 1.5e-9 for 0.1)
    assert max(max_abs(a, b) for a, b in zip(model.get_weights(), kmodel.get_weights(), strict=True)) < 1e-7


def test_activity_regularized_loss_matches_keras(keras):
    """The penalties arrive in Keras: its evaluate (loss + model.losses) equals tinynet's."""
    x, y = _x(32, 6, 4), np.random.default_rng(4).integers(0, 3, 32)
    model = Sequential([L.Dense(5, activation="relu", input_shape=(6,), kernel_regularizer="l2",
                                bias_regularizer=R.L1(0.1), activity_regularizer=R.L1L2(0.01, 0.02)),
                        L.Dense(3, kernel_regularizer=R.L1L2(0.03, 0.04))], seed=3)
    model.compile(optimizer="sgd", loss=LS.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=1, verbose=0)                  # non-zero biases, so bias_regularizer counts
    kmodel = to_keras(model)
    assert rel_err(kmodel.evaluate(x, y, batch_size=32, verbose=0), model.evaluate(x, y, verbose=0)) < 1e-6


# -- losses and metrics ----------------------------------------------------------------------------------------
LOSSES = [
    (LS.SparseCategoricalCrossentropy(from_logits=True), "labels", 3),
    (LS.SparseCategoricalCrossentropy(reduction="sum", name="scce"), "labels", 3),
    (LS.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1), "onehot", 3),
    (LS.CategoricalCrossentropy(reduction="mean_with_sample_weight"), "onehot", 3),
    (LS.BinaryCrossentropy(from_logits=True, label_smoothing=0.2), "binary", 1),
    (LS.BinaryCrossentropy(reduction="sum"), "binary", 1),
    (LS.MeanSquaredError(), "onehot", 3),
    (LS.MeanAbsoluteError(reduction="sum", name="l1_loss"), "onehot", 3),
]


@pytest.mark.parametrize(("loss", "target", "units"), LOSSES,
                         ids=["scce-logits", "scce-sum", "cce-logits-smoothing", "cce-mean_with_sample_weight",
                              "bce-logits-smoothing", "bce-sum", "mse", "mae-sum-named"])
def test_loss_round_trip(keras, loss, target, units):
    rng = np.random.default_rng(5)
    x, labels = _x(40, 6, 5), rng.integers(0, 3, 40)
    y = {"labels": labels, "onehot": np.eye(3, dtype=np.float32)[labels],
         "binary": (rng.random((40, 1)) > 0.5).astype(np.float32)}[target]
    if getattr(loss, "from_logits", True):               # logits, or a regression loss
        out = "linear"
    else:
        out = "sigmoid" if units == 1 else "softmax"
    model = Sequential([L.Dense(4, activation="tanh", input_shape=(6,)), L.Dense(units, activation=out)], seed=4)
    model.compile(optimizer="adam", loss=loss)
    kmodel = to_keras(model)
    kconfig = kmodel.get_compile_config()["loss"]
    assert kconfig["class_name"] == type(loss).__name__
    assert {k: v for k, v in kconfig["config"].items() if k in loss.get_config()} == \
        {k: v for k, v in loss.get_config().items() if k in kconfig["config"]}
    assert rel_err(kmodel.evaluate(x, y, batch_size=40, verbose=0), model.evaluate(x, y, batch_size=40,
                                                                                   verbose=0)) < 1e-6
    back = from_keras(kmodel)
    assert type(back.loss) is type(loss) and back.loss.get_config() == loss.get_config()


def test_metrics_round_trip(keras):
    x, y = _x(40, 6, 6), np.random.default_rng(6).integers(0, 3, 40)
    model = Sequential([L.Dense(3, input_shape=(6,))], seed=5)
    metrics = ["accuracy", M.SparseCategoricalCrossentropy(from_logits=True), M.SparseCategoricalAccuracy(name="sa"),
               M.sparse_categorical_accuracy]
    model.compile(optimizer="adam", loss=LS.SparseCategoricalCrossentropy(from_logits=True), metrics=metrics,
                  weighted_metrics=["acc"])
    kmodel = to_keras(model)
    back = from_keras(kmodel)
    assert back.metric_identifiers[0] == "accuracy" and back.weighted_metric_identifiers == ["acc"]
    assert type(back.metric_identifiers[1]) is M.SparseCategoricalCrossentropy
    assert back.metric_identifiers[1].get_config() == metrics[1].get_config()
    assert type(back.metric_identifiers[2]) is M.SparseCategoricalAccuracy and back.metric_identifiers[2].name == "sa"
    assert back.metric_identifiers[3] == "sparse_categorical_accuracy"   # a function comes back by its name
    ours = model.evaluate(x, y, verbose=0, return_dict=True)
    theirs = kmodel.evaluate(x, y, batch_size=32, verbose=0, return_dict=True)
    assert sorted(theirs) == sorted(ours)
    for key in ours:
        assert rel_err(theirs[key], ours[key]) < 1e-6, key
    model.compile(optimizer="adam", loss="mse", metrics=[M.MeanAbsoluteError, "mse"])     # a class: an instance
    back = from_keras(to_keras(model))
    assert type(back.metric_identifiers[0]) is M.MeanAbsoluteError and back.metric_identifiers[1] == "mse"


# -- optimizers, schedules and their state ---------------------------------------------------------------------
OPTIMIZERS = [
    lambda: O.SGD(0.05),
    lambda: O.SGD(0.05, momentum=0.9, nesterov=True, clipvalue=0.5),
    lambda: O.Adam(0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-6, clipnorm=1.0),
    lambda: O.Adam(0.01, amsgrad=True, global_clipnorm=0.5),
    lambda: O.AdamW(0.01, weight_decay=0.01),
    lambda: O.RMSprop(0.01, rho=0.8, momentum=0.5, centered=True, weight_decay=0.001),
    lambda: O.RMSprop(0.01),
    lambda: O.Adagrad(0.05, initial_accumulator_value=0.2, epsilon=1e-6),
    lambda: O.Adam(S.ExponentialDecay(0.01, 3, 0.5, staircase=True)),
    lambda: O.SGD(S.InverseTimeDecay(0.1, 2, 0.5), momentum=0.5),
    lambda: O.RMSprop(S.PiecewiseConstantDecay([3, 6], [0.02, 0.01, 0.005])),
]


OPTIMIZER_IDS = ["sgd", "sgd-nesterov-clipvalue", "adam-clipnorm", "adam-amsgrad-global_clipnorm", "adamw",
                 "rmsprop-centered-momentum-decay", "rmsprop", "adagrad", "adam-exponential_decay",
                 "sgd-inverse_time_decay", "rmsprop-piecewise_constant"]


@pytest.mark.parametrize("make", OPTIMIZERS, ids=OPTIMIZER_IDS)
def test_optimizer_state_continues_in_keras(keras, make, record_property):
    """Two epochs in tinynet, then one more in Keras from the exported state equals one more in tinynet."""
    x, y = _x(40, 6, 7), np.random.default_rng(7).integers(0, 3, 40)
    model = Sequential([L.Dense(5, activation="relu", input_shape=(6,)), L.Dense(3)], seed=6)
    model.compile(optimizer=make(), loss=LS.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    kmodel = to_keras(model)
    kopt = kmodel.optimizer
    assert type(kopt).__name__ == type(model.optimizer).__name__ and int(kopt.iterations) == 6
    config, kconfig = model.optimizer.get_config(), kopt.get_config()
    for key, value in config.items():
        if key == "learning_rate" and isinstance(value, dict):
            assert kconfig[key]["class_name"] == value["class_name"] and kconfig[key]["config"] == value["config"]
        elif key == "learning_rate":
            assert np.float32(kconfig[key]) == np.float32(value)
        else:
            assert kconfig[key] == value, key
    back = from_keras(kmodel)                             # before Keras trains: the state comes back unchanged
    assert back.optimizer.get_config() == config and back.optimizer.iterations == 6
    for key, value in model.optimizer.get_state().items():
        np.testing.assert_array_equal(back.optimizer.get_state()[key], value)
    kh = kmodel.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    th = model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    w_err = max(max_abs(a, b) for a, b in zip(kmodel.get_weights(), model.get_weights(), strict=True))
    record(record_property, f"optimizer_{type(model.optimizer).__name__}", weights=w_err,
           loss=rel_err(kh.history["loss"], th.history["loss"]))
    assert w_err < 1e-6 and rel_err(kh.history["loss"], th.history["loss"]) < 1e-6
    assert int(kmodel.optimizer.iterations) == model.optimizer.iterations == 9


def test_export_without_optimizer_state(keras):
    x, y = _x(32, 6, 8), np.random.default_rng(8).integers(0, 3, 32)
    model = Sequential([L.Dense(3, input_shape=(6,))], seed=7)
    model.compile(optimizer=O.Adam(0.01), loss=LS.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=1, verbose=0)
    kmodel = to_keras(model, include_optimizer_state=False)
    assert int(kmodel.optimizer.iterations) == 0 and not kmodel.optimizer.built
    back = from_keras(kmodel)
    assert back.optimizer.iterations == 0 and set(back.optimizer.get_state()) == {"iterations"}


def test_the_model_method_is_the_module_function(keras):
    """``model.to_keras()`` is ``to_keras(model)``: with the optimizer's state unless told otherwise."""
    x, y = _x(32, 6, 8), np.random.default_rng(8).integers(0, 3, 32)
    model = Sequential([L.Dense(3, input_shape=(6,))], seed=7)
    model.compile(optimizer=O.Adam(0.01), loss=LS.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=1, verbose=0)
    kmodel = model.to_keras()
    assert isinstance(kmodel, keras.Sequential) and int(kmodel.optimizer.iterations) == 1
    for ours, theirs in zip(model.get_weights(), kmodel.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    assert int(model.to_keras(include_optimizer_state=False).optimizer.iterations) == 0


def test_seed_model_continues_in_keras(keras, record_property):
    """The seed model: 2 epochs in tinynet, exported with Adam's state, 3 more in Keras == 3 more in tinynet."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x, y = (data.data[:640] / 16.0).astype(np.float32), data.target[:640]
    model = Sequential([L.Dense(25, activation="relu", input_shape=(64,)), L.Dense(15, activation="relu"),
                        L.Dense(10, activation="linear")], seed=0)
    model.compile(loss=LS.SparseCategoricalCrossentropy(from_logits=True), optimizer=O.Adam(learning_rate=0.001),
                  metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=32, shuffle=False, verbose=0)
    kmodel = to_keras(model)
    kh = kmodel.fit(x, y, epochs=3, batch_size=32, shuffle=False, verbose=0)
    th = model.fit(x, y, epochs=3, batch_size=32, shuffle=False, verbose=0)
    loss_err = max(abs(a - b) / abs(b) for a, b in zip(kh.history["loss"], th.history["loss"], strict=True))
    w_err = max(max_abs(a, b) for a, b in zip(kmodel.get_weights(), model.get_weights(), strict=True))
    record(record_property, "seed_continue", loss_rel=loss_err, weights_abs=w_err)
    assert loss_err < 2e-5 and w_err < 1e-5
    assert kh.history["accuracy"] == pytest.approx(th.history["accuracy"], abs=1e-6)
    assert int(kmodel.optimizer.iterations) == model.optimizer.iterations == 100
    # ... and back: the Keras-trained state continues in tinynet as it would have in Keras.
    back = from_keras(kmodel)
    kh2 = kmodel.fit(x, y, epochs=1, batch_size=32, shuffle=False, verbose=0)
    bh = back.fit(x, y, epochs=1, batch_size=32, shuffle=False, verbose=0)
    assert rel_err(bh.history["loss"], kh2.history["loss"]) < 2e-5
    assert max(max_abs(a, b) for a, b in zip(back.get_weights(), kmodel.get_weights(), strict=True)) < 1e-5


def test_continues_under_mirrored_strategy(keras):
    """Variables created in a tf.distribute scope take the state, and from_keras reads distributed variables."""
    tf = import_tf()[0]
    x, y = _x(64, 6, 11), np.random.default_rng(11).integers(0, 3, 64)
    model = Sequential([L.Dense(5, activation="relu", input_shape=(6,)), L.Dense(3)], seed=10)
    model.compile(optimizer=O.Adam(0.01), loss=LS.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    strategy = tf.distribute.MirroredStrategy()
    with strategy.scope():
        kmodel = to_keras(model)
    assert int(kmodel.optimizer.iterations.numpy()) == 4
    kh = kmodel.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    th = model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    assert rel_err(kh.history["loss"], th.history["loss"]) < 1e-6
    back = from_keras(kmodel)
    assert back.optimizer.iterations == 12
    for key, value in model.optimizer.get_state().items():
        assert max_abs(back.optimizer.get_state()[key], value) < 1e-6, key


def test_keras_native_model_continues_in_tinynet(keras):
    """A model built and trained in Keras (adapted Normalization, Keras's own names) continues in tinynet."""
    x, y = _x(64, 6, 12) * 3 + 1, np.random.default_rng(12).integers(0, 3, 64)
    norm = keras.layers.Normalization()
    norm.adapt(x)
    kmodel = keras.Sequential([keras.Input((6,)), norm, keras.layers.Dense(8), keras.layers.LeakyReLU(),
                               keras.layers.Dropout(0.0), keras.layers.Dense(3, activation="softmax")])
    kmodel.compile(optimizer=keras.optimizers.RMSprop(0.01, centered=True), loss="sparse_categorical_crossentropy",
                   metrics=["accuracy"])
    kmodel.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    model = from_keras(kmodel)
    assert [type(t).__name__ for t in model.layers] == ["Normalization", "Dense", "LeakyReLU", "Dropout", "Dense"]
    np.testing.assert_allclose(model.layers[0].mean, x.mean(axis=0), rtol=1e-6)
    assert max_abs(model.predict(x), kmodel.predict(x, verbose=0)) < 1e-6
    assert isinstance(model.loss, LS.SparseCategoricalCrossentropy) and model.metric_identifiers == ["accuracy"]
    th = model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    kh = kmodel.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    assert rel_err(th.history["loss"], kh.history["loss"]) < 1e-5
    assert max(max_abs(a, b.numpy()) for a, b in zip(model.trainable_weights, kmodel.trainable_variables,
                                                     strict=True)) < 1e-5


# -- Keras files -----------------------------------------------------------------------------------------------
def test_keras_file_round_trip(keras, tmp_path):
    x, y = _x(32, 6, 9), np.random.default_rng(9).integers(0, 3, 32)
    model = Sequential([Input((6,)), L.Dense(5, activation="relu", kernel_regularizer=R.L2(0.01)), L.Dropout(0.1),
                        L.Dense(3), L.Softmax()], seed=8, name="saved")
    model.compile(optimizer=O.RMSprop(0.01, momentum=0.5), loss=LS.SparseCategoricalCrossentropy(),
                  metrics=["accuracy"])
    model.fit(x, y, epochs=2, verbose=0)
    path = tmp_path / "model.keras"
    to_keras(model).save(path)
    back = from_keras(path)
    assert back.name == "saved" and [t.name for t in back.layers] == [t.name for t in model.layers]
    for a, b in zip(model.get_weights(), back.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert back.optimizer.get_config() == model.optimizer.get_config()
    assert back.optimizer.iterations == model.optimizer.iterations
    for key, value in model.optimizer.get_state().items():
        np.testing.assert_array_equal(back.optimizer.get_state()[key], value)
    assert back.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)
    assert from_keras(str(path)).get_config() == back.get_config()


def test_keras_weights_file(keras, tmp_path):
    x = _x(16, 6, 10)
    kmodel = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(2)])
    path = tmp_path / "twin.weights.h5"
    kmodel.save_weights(path)
    model = Sequential([L.Dense(4, activation="relu", input_shape=(6,)), L.Dense(2)], seed=9)
    load_keras_weights(model, path)
    for a, b in zip(model.get_weights(), kmodel.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert max_abs(model.predict(x), kmodel.predict(x, verbose=0)) < 1e-6
    wrong = Sequential([L.Dense(5, input_shape=(6,)), L.Dense(2)], seed=9)
    before = wrong.get_weights()
    with pytest.raises(ValueError, match="does not hold this model's weights"):
        load_keras_weights(wrong, path)
    for a, b in zip(before, wrong.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        load_keras_weights(model, tmp_path / "weights.npz")
    with pytest.raises(ValueError, match="no such file"):
        load_keras_weights(model, tmp_path / "missing.weights.h5")
    with pytest.raises(TypeError, match="model"):
        load_keras_weights(kmodel, path)
    with pytest.raises(TypeError, match="filepath"):
        load_keras_weights(model, 3)


# -- refusals --------------------------------------------------------------------------------------------------
def _keras_refusals(keras):
    k = keras
    inp = k.Input((6,))
    return [
        (k.Sequential([k.Input((4, 4, 1)), k.layers.Conv2D(2, 3)]), r"'conv2d'.*Conv2D.*not supported.*Dense"),
        (k.Sequential([inp, k.layers.Dense(3, kernel_constraint=k.constraints.MaxNorm(2.0))]), "kernel_constraint"),
        (k.Sequential([k.Input((6,)), k.layers.BatchNormalization()]), "BatchNormalization"),
        (k.Model(inp, k.layers.Dense(2)(inp)), "keras.Sequential, received a Functional"),
        (k.Sequential([k.layers.Dense(2)]), "built"),
        (k.Sequential([k.Input((6,)), k.layers.Dense(2, activation="mish")]), "activation 'mish'"),
        (k.Sequential([k.Input((6,)), k.layers.Dropout(0.2, noise_shape=(None, 1))]), "noise_shape"),
        (k.Sequential([k.Input((6,)), k.layers.Dense(2, kernel_regularizer=k.regularizers.OrthogonalRegularizer())]),
         "OrthogonalRegularizer"),
        (k.Sequential([k.Input((6,)), k.layers.Normalization(axis=None)]), "axis"),
        (k.Sequential([k.Input((6,), dtype="float16"), k.layers.Dense(2, dtype="float16")]), "float16"),
    ]


def test_unsupported_keras_models_are_refused(keras):
    for kmodel, message in _keras_refusals(keras):
        with pytest.raises(ValueError, match=message):
            from_keras(kmodel)
    frozen = keras.Sequential([keras.Input((6,)), keras.layers.Dense(2, name="frozen")])
    frozen.layers[0].trainable = False
    with pytest.raises(ValueError, match="'frozen'.*trainable=False"):
        from_keras(frozen)
    with pytest.raises(TypeError, match="keras_model_or_path"):
        from_keras(42)
    with pytest.raises(ValueError, match=r"\.keras file"):
        from_keras("model.h5")


def test_unsupported_keras_compile_options_are_refused(keras):
    def compiled(**kwargs):
        m = keras.Sequential([keras.Input((6,)), keras.layers.Dense(2)])
        m.compile(**{"optimizer": "adam", "loss": "mse", **kwargs})
        return m

    cases = [({"optimizer": keras.optimizers.Nadam()}, "optimizer Nadam.*SGD, Adam"),
             ({"loss": keras.losses.Huber()}, "loss Huber.*SparseCategoricalCrossentropy"),
             ({"optimizer": keras.optimizers.Adam(use_ema=True)}, "use_ema"),
             ({"optimizer": keras.optimizers.SGD(gradient_accumulation_steps=2)}, "gradient_accumulation_steps"),
             ({"optimizer": keras.optimizers.SGD(keras.optimizers.schedules.CosineDecay(0.1, 10))}, "CosineDecay"),
             ({"metrics": [keras.metrics.AUC()]}, "AUC")]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            from_keras(compiled(**kwargs))


def test_to_keras_validates_its_arguments(keras):
    with pytest.raises(TypeError, match="model: expected a tinynet.Sequential"):
        to_keras(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]))
    with pytest.raises(ValueError, match="model: expected a built model"):
        to_keras(Sequential([L.Dense(2)]))
    model = Sequential([L.Dense(2, input_shape=(3,))])
    with pytest.raises(TypeError, match="include_optimizer_state"):
        to_keras(model, include_optimizer_state="yes")
    gelu = Sequential([L.Dense(2, input_shape=(3,)), L.Activation("gelu", approximate=True, name="g")])
    with pytest.raises(ValueError, match=r"'g'.*takes no options"):
        to_keras(gelu)
    inner = Sequential([L.Dense(2, input_shape=(3,))])
    with pytest.raises(ValueError, match="inside another"):
        to_keras(Sequential([inner, L.Softmax()]))

    class Halve(S.LearningRateSchedule):
        def __call__(self, step):
            return 0.5

    custom = Sequential([L.Dense(2, input_shape=(3,))])
    custom.compile(optimizer=O.SGD(Halve()), loss="mse")
    with pytest.raises(ValueError, match="Halve has no Keras conversion"):
        to_keras(custom)
    custom.compile(optimizer="sgd", loss="mse", metrics=[lambda yt, yp: yp])
    with pytest.raises(ValueError, match=r"metrics\[0\].*no Keras conversion"):
        to_keras(custom)


# -- TensorFlow only when asked for ----------------------------------------------------------------------------
def test_import_does_not_load_tensorflow():
    code = ("import sys, tinynet, tinynet.keras_interop\n"
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))\n"
            "print(loaded)\nsys.exit(1 if loaded else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("missing", ["tensorflow", "keras"])
def test_missing_tensorflow_says_how_to_install(monkeypatch, missing):
    monkeypatch.setitem(sys.modules, missing, None)        # import of a None entry raises ImportError
    model = Sequential([L.Dense(2, input_shape=(3,))])
    for call in (lambda: to_keras(model), lambda: from_keras("m.keras"),
                 lambda: load_keras_weights(model, "m.weights.h5")):
        with pytest.raises(ImportError, match=r"requires TensorFlow: pip install 'tinynet\[keras\]'"):
            call()


def test_public_names():
    assert set(keras_interop.__all__) >= {"to_keras", "from_keras", "load_keras_weights"}
