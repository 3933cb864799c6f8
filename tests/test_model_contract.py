"""Sequential's public contract: summary text, argument validation of evaluate/predict, weighting, errors."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

import tinynet
from tinynet.layers import Dense, Dropout, Softmax


def _model(**kw):
    return tinynet.Sequential([tinynet.Input((4,)), Dense(3, activation="relu"), Dense(3), Softmax()], seed=0, **kw)


def _compiled():
    m = _model()
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
              weighted_metrics=["accuracy"])
    return m


X = np.random.default_rng(1).normal(size=(10, 4)).astype("float32")
Y = np.arange(10) % 3


@pytest.mark.parametrize("call", [lambda m: m.count_params(), lambda m: m.set_weights([]),
                                  lambda m: m.predict(X), lambda m: m(X), lambda m: m.save_weights("w.npz"),
                                  lambda m: m.load_weights("w.npz"), lambda m: m.save("m.npz")])
def test_unbuilt_model_refuses_with_the_method_name(call):
    with pytest.raises(ValueError, match=r"^(count_params|set_weights|predict|__call__|save_weights|load_weights|save)"
                                         r": the model has no weights yet"):
        call(tinynet.Sequential([Dense(2)]))


def test_unbuilt_messages_name_exactly_the_method():
    m = tinynet.Sequential([Dense(2)])
    for what, call in [("count_params", m.count_params), ("predict", lambda: m.predict(X)),
                       ("__call__", lambda: m(X)), ("save", lambda: m.save("m.npz")),
                       ("save_weights", lambda: m.save_weights("w.npz")),
                       ("load_weights", lambda: m.load_weights("w.npz")), ("set_weights", lambda: m.set_weights([]))]:
        with pytest.raises(ValueError, match=rf"^{what}: the model has no weights yet"):
            call()
    with pytest.raises(ValueError, match=r"^evaluate: expected a compiled model"):
        m.evaluate(X, Y)
    with pytest.raises(ValueError, match=r"^loss_and_gradients: expected a compiled model"):
        m.loss_and_gradients(X, Y)
    m.compile(loss="mse")
    with pytest.raises(ValueError, match=r"^evaluate: the model has no weights yet"):
        m.evaluate(X, np.zeros((10, 2)))


def test_loss_and_gradients_builds_an_unbuilt_model():
    m = tinynet.Sequential([Dense(2)], seed=0)
    m.compile(loss="mse")
    m.loss_and_gradients(X, np.zeros((10, 2)))
    assert m.built and m.input_shape == (4,)


def test_get_layer_index_bounds_and_types():
    m = _model()
    assert m.get_layer(index=-3) is m.layers[0]
    with pytest.raises(ValueError, match=r"^index: expected a layer index in \[0, 3\), received 3$"):
        m.get_layer(index=3)
    with pytest.raises(TypeError, match=r"^index: expected an integer, received True$"):
        m.get_layer(index=True)
    with pytest.raises(TypeError, match=r"^index: expected an integer, received '1'$"):
        m.get_layer(index="1")


@pytest.mark.parametrize("method", ["evaluate", "predict"])
def test_batch_size_and_verbose_validation(method):
    m = _compiled()
    call = (lambda **kw: m.evaluate(X, Y, **kw)) if method == "evaluate" else (lambda **kw: m.predict(X, **kw))
    with pytest.raises(ValueError, match=r"^batch_size: expected a positive integer, received 0$"):
        call(batch_size=0)
    with pytest.raises(TypeError, match=r"^batch_size: expected a positive integer, received 2.0$"):
        call(batch_size=2.0)
    with pytest.raises(ValueError, match=r"^verbose: expected 0, 1, 2 or 'auto', received 3$"):
        call(verbose=3)


def test_evaluate_return_dict_validation_and_printed_line(capsys):
    m = _compiled()
    with pytest.raises(TypeError, match=r"^return_dict: expected True or False, received 'yes'$"):
        m.evaluate(X, Y, return_dict="yes")
    logs = m.evaluate(X, Y, verbose=1, return_dict=True)
    assert capsys.readouterr().out == " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()) + "\n"


def test_evaluate_weights_samples_and_batches():
    m = _compiled()
    w = np.linspace(0.0, 2.0, 10).astype("float32")
    probs = m.predict(X).astype("float64")
    per = -np.log(probs[np.arange(10), Y])
    logs = m.evaluate(X, Y, sample_weight=w, batch_size=4, return_dict=True, verbose=0)
    assert logs["loss"] == pytest.approx(np.sum(w * per) / 10, rel=1e-4)
    hit = (probs.argmax(1) == Y).astype(float)
    assert logs["accuracy"] == pytest.approx(hit.mean())
    assert logs["weighted_accuracy"] == pytest.approx(np.sum(w * hit) / np.sum(w))


def test_predict_in_batches_equals_one_pass_and_compute_loss_outputs():
    m = _compiled()
    np.testing.assert_allclose(m.predict(X, batch_size=3), m.predict(X), rtol=1e-6)
    x, t = m.prepare_data(X, Y)
    _, out = m.compute_loss(x, t)
    np.testing.assert_allclose(out, m.predict(X), rtol=1e-6)
    with pytest.raises(ValueError, match=r"^sample_weight: expected weights from prepare_sample_weight"):
        m.compute_loss(x, t, np.ones(3, dtype="float32"))


def test_call_training_flag_applies_dropout():
    m = tinynet.Sequential([tinynet.Input((200,)), Dropout(0.5)], seed=0)
    x = np.ones((2, 200), dtype="float32")
    np.testing.assert_array_equal(m(x), x)
    assert (m(x, training=True) == 0).any()


def test_overflow_is_reported_by_name_without_numpy_warnings():
    m = _compiled()
    big = np.full((4, 4), 3e38, dtype="float32")
    with np.errstate(all="raise"):
        with pytest.raises(ValueError, match=r"^x: expected inputs the model can process in float32"):
            m.evaluate(big, Y[:4], verbose=0)
        with pytest.raises(ValueError, match=r"^x: expected inputs the model can process in float32"):
            m.predict(big)


def test_set_weights_resets_weights_before_step():
    m = _compiled()
    m.fit(X, Y, epochs=1, verbose=0)
    m.set_weights(m.get_weights())
    np.testing.assert_array_equal(m.weights_before_step, m.flat_weights)


def test_nested_model_errors_and_config():
    inner = tinynet.Sequential([tinynet.Input((4,)), Dense(2)], name="inner")
    with pytest.raises(ValueError, match=r"^input_shape: model 'inner' takes samples of shape "
                                         r"\(4,\), received \(5,\)$"):
        tinynet.Sequential([tinynet.Input((5,)), inner])
    outer = tinynet.Sequential([tinynet.Input((4,)), inner, Dense(2)])
    outer.compile(loss="mse")
    with pytest.raises(ValueError, match=r"is used for inference \(predict, evaluate\); train it on its own$"):
        outer.fit(X, np.zeros((10, 2)), verbose=0)
    assert isinstance(inner.get_config(), dict) and inner.get_config() == inner.get_config()


def test_divergence_message():
    m = tinynet.Sequential([tinynet.Input((4,)), Dense(2)], seed=0)
    m.compile(optimizer="sgd", loss="mse")
    with pytest.raises(tinynet.DivergenceError, match=r"^fit: the loss became inf at epoch 1, step 1; training stopped"
                                                      r" .*Lower the learning rate or check the data scale\.$") as e:
        m.fit(np.full((4, 4), 1e30, dtype="float32"), np.zeros((4, 2)), verbose=0)
    assert "keeps its last finite weights (model.history has the completed epochs)." in str(e.value)


def test_class_sorted_warning_points_at_the_caller():
    m = _compiled()
    with pytest.warns(UserWarning, match=r"Shuffle it first or pass validation_data \(see tinynet\.datasets\."
                                         r"train_test_split\)\.$") as rec:
        m.fit(X, np.sort(Y), validation_split=0.2, verbose=0)
    # mutmut's trampolines add call frames, so under `make mutate` the fixed stacklevel lands inside tinynet
    if os.path.basename(os.path.dirname(os.path.dirname(tinynet.__file__))) != "mutants":
        assert rec[0].filename == __file__


def _lines(m):
    out = []
    m.summary(print_fn=out.append)
    return out


def test_summary_table_text():
    inner = tinynet.Sequential([tinynet.Input((4,)), Dense(2)], name="inner")
    m = tinynet.Sequential([tinynet.Input((4,)), inner, Dense(3, activation="relu", name="d"), Softmax(name="s")],
                           name="m")
    assert _lines(m) == [
        'Model: "m"', "-" * 43,
        "Layer (type)        Output Shape  Param #", "=" * 43,
        "inner (Sequential)  (None, 2)     10     ",
        "d (Dense, relu)     (None, 3)     9      ",
        "s (Softmax)         (None, 3)     0      ", "=" * 43,
        "Total params: 19", "Trainable params: 9", "Non-trainable params: 10", "-" * 43]


def test_summary_of_unbuilt_built_and_empty_models():
    assert _lines(tinynet.Sequential([Dense(2, name="d")], name="u"))[4:7] == [
        "d (Dense, linear)  ?             ?      ", "=" * 42, "Total params: ?"]
    b = tinynet.Sequential([Dense(2, name="d")], name="b")
    b.build((4,))
    assert _lines(b)[4] == "d (Dense, linear)  (None, 2)     10     "
    assert _lines(tinynet.Sequential(name="e"))[2] == "Layer (type)  Output Shape  Param #"


def test_get_weights_of_an_unbuilt_model_names_get_weights():
    with pytest.raises(ValueError, match=r"^get_weights: the model has no weights yet; give the first layer an "
                                         r"input_shape or call build\(input_shape\) / fit\(x, y\) first$"):
        tinynet.Sequential([Dense(2)]).get_weights()


def test_a_metric_that_cannot_read_the_targets_names_the_loss_that_made_them():
    m = _model()
    m.compile(optimizer="adam", loss=tinynet.losses.CategoricalCrossentropy(), metrics=["sparse_categorical_accuracy"])
    with pytest.raises(ValueError, match=r"^metrics: 'sparse_categorical_accuracy' cannot read the targets of "
                                         r"CategoricalCrossentropy \(.+\)$"):
        m.fit(X, np.eye(3)[Y], verbose=0)


def test_sharing_an_optimizer_says_why_and_what_to_do():
    shared = tinynet.optimizers.Adam()
    first, second = _model(), _model()
    first.compile(optimizer=shared, loss="sparse_categorical_crossentropy")
    second.compile(optimizer=shared, loss="sparse_categorical_crossentropy")
    first.fit(X, Y, verbose=0)
    with pytest.raises(ValueError, match=r"^optimizer: this Adam already holds state \(moments, step count\) for "
                                         r"another model's parameters; give each model its own optimizer instance$"):
        second.fit(X, Y, verbose=0)


def test_metrics_result_before_any_batch_is_a_zero_loss_as_keras():
    m = _compiled()
    assert m.metrics_result()["loss"] == 0.0
    m.fit(X, Y, verbose=0)
    m.reset_metrics()
    assert m.metrics_result()["loss"] == 0.0


def test_sample_weights_scale_the_loss_and_the_sgd_step():
    # loss = sum(w l) / n: weights of 2 double the reported loss and the gradient, so SGD(lr) with them takes the
    # step SGD(2 lr) takes without
    def trained(lr, sample_weight):
        m = tinynet.Sequential([tinynet.Input((4,)), Dense(3)], seed=0)
        m.compile(optimizer=tinynet.optimizers.SGD(lr), loss="mse")
        history = m.fit(X, np.eye(3)[Y], sample_weight=sample_weight, batch_size=10, epochs=1, shuffle=False,
                        verbose=0)
        return history.history["loss"][0], m.get_weights()

    weighted_loss, weighted = trained(0.05, np.full(10, 2.0))
    loss, plain = trained(0.1, None)
    assert weighted_loss == pytest.approx(2 * loss, rel=1e-6)
    for a, b in zip(weighted, plain, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_weighted_metrics_in_fit_use_the_sample_weights():
    # a learning rate of 0 keeps the weights, so the epoch's metrics are those of the first predictions
    m = tinynet.Sequential([tinynet.Input((4,)), Dense(3)], seed=0)
    m.compile(optimizer=tinynet.optimizers.SGD(0.0), loss="mse", metrics=["mae"], weighted_metrics=["mae"])
    w = np.r_[np.ones(5), np.zeros(5)]
    logs = m.fit(X, np.eye(3)[Y], sample_weight=w, batch_size=4, epochs=1, verbose=0).history
    error = np.abs(m.predict(X, verbose=0) - np.eye(3)[Y]).mean(axis=1)
    assert logs["mae"][0] == pytest.approx(error.mean(), rel=1e-5)
    assert logs["weighted_mae"][0] == pytest.approx(error[:5].mean(), rel=1e-5)


def test_clipnorm_in_fit_clips_each_weight_by_its_own_norm():
    # Keras's clipnorm is per variable: after one SGD(1) step every kernel and bias moved by exactly clipnorm
    m = tinynet.Sequential([tinynet.Input((4,)), Dense(3, activation="tanh"), Dense(3)], seed=0)
    m.compile(optimizer=tinynet.optimizers.SGD(1.0, clipnorm=1e-3), loss="sparse_categorical_crossentropy")
    before = m.get_weights()
    m.fit(X, Y, batch_size=10, epochs=1, verbose=0)
    for a, b in zip(before, m.get_weights(), strict=True):
        assert np.linalg.norm(b.astype(np.float64) - a) == pytest.approx(1e-3, rel=1e-3)


# -- class_weight (Keras: each sample weighs class_weight.get(its class, 1)) and the prepared-batch checks --------
def _sparse_model():
    m = tinynet.Sequential([tinynet.Input((4,)), Dense(3)], seed=0)
    m.compile(optimizer="sgd", loss=tinynet.losses.SparseCategoricalCrossentropy(from_logits=True))
    return m


@pytest.mark.parametrize("loss, y", [
    (tinynet.losses.SparseCategoricalCrossentropy(from_logits=True), Y),
    (tinynet.losses.CategoricalCrossentropy(from_logits=True), np.eye(3)[Y]),
])
def test_class_weight_gives_each_sample_its_class_weight_or_one(loss, y):
    m = tinynet.Sequential([tinynet.Input((4,)), Dense(3)], seed=0)
    m.compile(optimizer="sgd", loss=loss)
    _, targets = m.prepare_data(X, y)
    weights = m.prepare_sample_weight(None, {0: 2.0, 2: 0.5}, targets)
    np.testing.assert_array_equal(weights, np.array([2.0, 1.0, 0.5])[Y].astype(np.float32))
    assert weights.dtype == np.float32


def test_class_weight_of_a_binary_output_reads_the_zero_one_labels():
    m = tinynet.Sequential([tinynet.Input((4,)), Dense(1, activation="sigmoid")], seed=0)
    m.compile(optimizer="sgd", loss="binary_crossentropy")
    labels = (Y == 1).astype(np.float32)
    _, targets = m.prepare_data(X, labels)
    np.testing.assert_array_equal(m.prepare_sample_weight(None, {1: 3.0}, targets), np.where(labels == 1, 3.0, 1.0))
    with pytest.raises(ValueError, match=r"^class_weight: expected keys that are classes 0 to 1, received key 2$"):
        m.prepare_sample_weight(None, {2: 1.0}, targets)


@pytest.mark.parametrize("sample_weight, class_weight, error, message", [
    (np.ones(10), {0: 1.0}, ValueError,
     "class_weight: expected either class_weight or sample_weight, received both (Keras refuses them together)"),
    (None, [1.0, 2.0, 3.0], TypeError, "class_weight: expected a dict {class: weight}, received [1.0, 2.0, 3.0]"),
    (None, {3: 1.0}, ValueError, "class_weight: expected keys that are classes 0 to 2, received key 3"),
    (None, {-1: 1.0}, ValueError, "class_weight: expected keys that are classes 0 to 2, received key -1"),
    (None, {True: 1.0}, ValueError, "class_weight: expected keys that are classes 0 to 2, received key True"),
    (None, {"0": 1.0}, ValueError, "class_weight: expected keys that are classes 0 to 2, received key '0'"),
])
def test_class_weight_is_refused_by_name(sample_weight, class_weight, error, message):
    m = _sparse_model()
    _, targets = m.prepare_data(X, Y)
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        m.prepare_sample_weight(sample_weight, class_weight, targets)


def test_class_weight_in_fit_equals_the_same_weights_given_per_sample():
    a, b = _sparse_model(), _sparse_model()
    ha = a.fit(X, Y, class_weight={0: 2.0, 1: 0.5}, batch_size=4, shuffle=False, verbose=0).history["loss"]
    hb = b.fit(X, Y, sample_weight=np.array([2.0, 0.5, 1.0])[Y], batch_size=4, shuffle=False, verbose=0).history["loss"]
    assert ha == hb
    for u, v in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(u, v)


def test_compute_gradients_refuses_what_did_not_come_from_prepare_data():
    m = _sparse_model()
    x, targets = m.prepare_data(X, Y)
    cases = [
        (lambda: _model().compute_gradients(x, targets),
         "compute_gradients: expected a compiled model; call model.compile(loss=..., optimizer=...) first"),
        (lambda: m.compute_gradients(x.astype(np.float64), targets),
         "x: expected a batch from prepare_data: dtype float32, samples of shape (4,); received array of shape "
         "(10, 4) and dtype float64"),
        (lambda: m.compute_gradients(x[:0], targets[:0]),
         "x: expected a batch from prepare_data: dtype float32, samples of shape (4,); received array of shape "
         "(0, 4) and dtype float32"),
        (lambda: m.compute_gradients(x, targets[:5]),
         "y: expected targets from prepare_data: dtype float32, shape (10, 3); received array of shape (5, 3) and "
         "dtype float32"),
        (lambda: m.compute_gradients(x, targets, sample_weight=np.ones(10)),
         "sample_weight: expected weights from prepare_sample_weight: dtype float32, shape (10,); received array "
         "of shape (10,) and dtype float64"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            call()


def test_compute_gradients_of_a_compiled_but_unbuilt_model_names_itself():
    m = tinynet.Sequential([Dense(3)])
    m.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r"^compute_gradients: the model has no weights yet"):
        m.compute_gradients(X, np.zeros((10, 3), np.float32))


def _sgd():
    m = _model()
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return m


def _unbuilt():
    m = tinynet.Sequential([Dense(3)], seed=0)
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return m


@pytest.mark.parametrize("call, error, message", [
    (lambda: tinynet.Sequential([Dense(2)]).fit(X, Y),
     ValueError, "fit: expected a compiled model; call model.compile(loss=..., optimizer=...) first"),
    (lambda: _sgd().fit(X, Y, batch_size=0),
     ValueError, "batch_size: expected a positive integer, received 0"),
    (lambda: _sgd().fit(X, Y, batch_size="8"),
     TypeError, "batch_size: expected a positive integer, received '8'"),
    (lambda: _sgd().fit(X, Y, epochs=0),
     ValueError, "epochs: expected a positive integer, received 0"),
    (lambda: _sgd().fit(X, Y, initial_epoch=-1),
     ValueError, "initial_epoch: expected an integer >= 0, received -1"),
    (lambda: _sgd().fit(X, Y, initial_epoch=1.0),
     ValueError, "initial_epoch: expected an integer >= 0, received 1.0"),
    (lambda: _sgd().fit(X, Y, initial_epoch=True),
     ValueError, "initial_epoch: expected an integer >= 0, received True"),
    (lambda: _sgd().fit(X, Y, validation_split=1.0),
     ValueError, "validation_split: expected a number in [0.0, 1.0), received 1.0"),
    (lambda: _sgd().fit(X, Y, validation_split=-0.1),
     ValueError, "validation_split: expected a number in [0.0, 1.0), received -0.1"),
    (lambda: _sgd().fit(X, Y, shuffle="yes"),
     TypeError, "shuffle: expected True or False, received 'yes'"),
    (lambda: _sgd().fit(X, Y, callbacks=[1]),
     TypeError, "callbacks: expected a list of tinynet.callbacks.Callback, received [1]"),
    (lambda: _sgd().fit(X, Y, callbacks=tinynet.callbacks.History()),
     TypeError, "callbacks: expected a list of tinynet.callbacks.Callback, received <History epochs=0 keys=[]>"),
    (lambda: _sgd().fit(None, Y),
     ValueError, "x, y: expected arrays of samples and targets, received None"),
    (lambda: _sgd().fit(X),
     ValueError, "x, y: expected arrays of samples and targets, received None"),
    (lambda: _sgd().fit(X, Y, validation_data=(X,)),
     TypeError, ("validation_data: expected a tuple (x_val, y_val) or (x_val, y_val, sample_weight), received tuple "
                 "of 1: (array of shape (10, 4) and dtype float32)")),
    (lambda: _sgd().fit(X, Y, validation_data=(X[:, :3], Y)),
     ValueError, "validation_data[0]: expected samples of shape (4,) (e.g. (10, 4)), received shape (10, 3)"),
    (lambda: _sgd().fit(X, Y, validation_data=(X[:0], Y[:0])),
     ValueError, "validation_data[0]: expected a non-empty array, received shape (0, 4)"),
    (lambda: _sgd().fit(X, Y, validation_data=(X, Y[:-1])),
     ValueError, "validation_data[1]: expected 10 labels (one per sample), received 9"),
    (lambda: _sgd().fit(X, Y, validation_data=(X, Y, np.ones(3))),
     ValueError, "validation_data[2]: expected 10 weights (one per sample), received 3"),
    (lambda: _sgd().fit(X, Y, verbose=5),
     ValueError, "verbose: expected 0, 1, 2 or 'auto', received 5"),
    (lambda: _sgd().fit(X, Y, verbose=True),
     ValueError, "verbose: expected 0, 1, 2 or 'auto', received True"),
    (lambda: _sgd().fit(X, Y, verbose=1.0),
     ValueError, "verbose: expected 0, 1, 2 or 'auto', received 1.0"),
    (lambda: _sgd().fit(X[:, 0], Y),
     ValueError, "x: expected an array of shape (samples, features...), received shape (10,)"),
    (lambda: _sgd().fit(X[:, :3], Y),
     ValueError, "x: expected samples of shape (4,) (e.g. (10, 4)), received shape (10, 3)"),
    (lambda: _unbuilt().fit(X, Y, validation_data=(X[:, :3], Y)),
     ValueError, "validation_data[0]: expected samples of shape (4,), received shape (10, 3)"),
    (lambda: tinynet.Sequential(name=3),
     TypeError, "name: expected a string, received 3"),
    (lambda: tinynet.Sequential(layers=Dense(3)),
     TypeError, "layers: expected a list of tinynet layers, received <Dense name='dense'>"),
    (lambda: tinynet.Sequential([Dense(3), "relu"]),
     TypeError, "layers[1]: expected a tinynet.layers.Layer, received 'relu'"),
    (lambda: (lambda d: tinynet.Sequential([d, d]))(Dense(3)),
     ValueError, "layers[1]: 'dense' is already in this model"),
    (lambda: (lambda d: (d.build((4,)), tinynet.Sequential([d])))(Dense(3)),
     ValueError, ("layers[0]: 'dense' is already built; give Sequential unbuilt layers (a built layer without "
                  "parameters, such as an adapted Normalization, is accepted)")),
    (lambda: tinynet.Sequential(seed=-1),
     ValueError, "seed: expected None, a non-negative integer or a numpy.random.Generator, received -1"),
    (lambda: tinynet.Sequential(seed="1"),
     TypeError, "seed: expected None, a non-negative integer or a numpy.random.Generator, received '1'"),
    (lambda: _sgd().add(Dense(2)),
     ValueError, "layer: this model is already built; add layers before it is built"),
    (lambda: tinynet.Sequential().add("relu"),
     TypeError, "layer: expected a tinynet.layers.Layer, received 'relu'"),
    (lambda: (lambda m: (m.add(Dense(2)), m.add(tinynet.Input((3,)))))(tinynet.Sequential()),
     ValueError, "layer: an Input declares the model's input and must come first; received it after 1 layer(s)"),
    (lambda: tinynet.Sequential().build((3,)),
     ValueError, "layers: expected at least one layer before building, received none"),
    (lambda: tinynet.Sequential([Dense(2)]).build((0,)),
     ValueError, "input_shape[0]: expected a positive integer, received 0"),
    (lambda: tinynet.Sequential([Dense(2)]).build("3"),
     TypeError, "input_shape: expected a non-empty tuple of positive integers, received '3'"),
    (lambda: tinynet.Sequential([Dense(2)]).compute_output_shape((-1,)),
     ValueError, "input_shape[0]: expected a positive integer, received -1"),
    (lambda: tinynet.Sequential([Dense(2)]).compile(),
     ValueError, ("loss: expected a loss (e.g. SparseCategoricalCrossentropy(from_logits=True) or "
                  "'sparse_categorical_crossentropy'), received None")),
    (lambda: tinynet.Sequential([Dense(2)]).compile(loss="mse", loss_weights=[1.0]),
     ValueError, ("loss_weights: weights between several outputs' losses; a Sequential has one output (expected None, "
                  "received [1.0])")),
    (lambda: tinynet.Sequential([Dense(2)]).compile(loss=tinynet.losses.MeanSquaredError(reduction=None)),
     ValueError, ("loss: expected a loss that reduces to one number for training, received MeanSquaredError with "
                  "reduction=None")),
    (lambda: tinynet.Sequential([Dense(2)]).compile(loss="mse", metrics="accuracy"),
     TypeError, "metrics: expected a list of metric names or tinynet.metrics.Metric objects, received 'accuracy'"),
    (lambda: tinynet.Sequential([Dense(2)]).compile(loss="mse", weighted_metrics=3),
     TypeError, "weighted_metrics: expected a list of metric names or tinynet.metrics.Metric objects, received 3"),
    (lambda: tinynet.Sequential([Dense(2)]).compile(loss="mse", metrics=["bogus"]),
     ValueError, ("metrics: expected one of ['BinaryAccuracy', 'BinaryCrossentropy', 'CategoricalAccuracy', "
                  "'CategoricalCrossentropy', 'MAE', 'MSE', 'MeanAbsoluteError', 'MeanSquaredError', "
                  "'SparseCategoricalAccuracy', 'SparseCategoricalCrossentropy', 'acc', 'accuracy', 'binary_accuracy', "
                  "'binary_crossentropy', 'categorical_accuracy', 'categorical_crossentropy', 'mae', "
                  "'mean_absolute_error', 'mean_squared_error', 'mse', 'sparse_categorical_accuracy', "
                  "'sparse_categorical_crossentropy'] or a Metric, received 'bogus'")),
    (lambda: tinynet.Sequential().predict(X),
     ValueError, ("predict: the model has no weights yet; give the first layer an input_shape or call "
                  "build(input_shape) / fit(x, y) first")),
    (lambda: tinynet.Sequential([Dense(2)]).prepare_data(X, Y),
     ValueError, "prepare_data: expected a compiled model; call model.compile(loss=..., optimizer=...) first"),
])
def test_every_refusal_of_the_model_names_the_argument_in_full(call, error, message):
    """Each message in full: the argument, what was expected, what was received (a substring would pass a message
    naming the wrong argument, or a check that fails later for another reason)."""
    with pytest.raises(error) as info:
        call()
    assert str(info.value) == message


class _Recorder(tinynet.callbacks.Callback):
    def __init__(self):
        self.calls = []

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("epoch_begin", epoch))

    def on_train_batch_begin(self, batch, logs=None):
        self.calls.append(("batch_begin", batch))

    def on_train_batch_end(self, batch, logs=None):
        self.calls.append(("batch_end", batch, sorted(logs)))

    def on_train_end(self, logs=None):
        self.calls.append(("train_end", logs))


def test_fit_from_an_initial_epoch_calls_back_each_epoch_and_batch_by_number():
    """Keras: epochs ``initial_epoch .. epochs - 1``, batches numbered from 0 in each, and ``on_train_end`` given
    the last epoch's logs."""
    model, recorder = _sgd(), _Recorder()
    history = model.fit(X, Y, batch_size=4, epochs=4, initial_epoch=2, verbose=0, callbacks=[recorder])
    assert history.epoch == [2, 3] and model.optimizer.iterations == 6
    keys = ["batch_loss", "loss", "weights_before"]
    per_epoch = [[("batch_begin", b), ("batch_end", b, keys)] for b in range(3)]
    assert recorder.calls == [("epoch_begin", 2), *per_epoch[0], *per_epoch[1], *per_epoch[2],
                              ("epoch_begin", 3), *per_epoch[0], *per_epoch[1], *per_epoch[2],
                              ("train_end", {"loss": history.history["loss"][-1]})]


def test_a_new_model_holds_nothing_yet():
    model = tinynet.Sequential([Dense(2)])
    assert (model.built, model.compiled, model.stop_training, model.history) == (False, False, False, None)
    assert (model.metrics, model.weighted_metrics, model.metrics_resolved) == ([], [], False)
    assert (model.metric_identifiers, model.weighted_metric_identifiers) == ([], [])


def _fit_a_model_of_only_an_input():
    m = tinynet.Sequential([tinynet.Input((4,))])
    m.compile(loss="mse", optimizer="sgd")
    m.fit(X, np.ones((10, 4)), verbose=0)


def _fit_a_model_with_3d_outputs():
    m = tinynet.Sequential([tinynet.Input((2, 3)), tinynet.layers.Activation("relu")])
    m.compile(loss="mse", optimizer="sgd")
    m.fit(np.ones((4, 2, 3)), np.ones((4, 6)), verbose=0)


def _predict_wrong_shape_after_fit_built_the_model():
    m = tinynet.Sequential([Dense(3)])
    m.compile(loss="mse", optimizer="sgd")
    m.fit(X, np.ones((10, 3)), verbose=0)
    m.predict(X[:, :3])


def _adapted_normalization_of_another_width():
    norm = tinynet.layers.Normalization()
    norm.adapt(np.ones((5, 3)))
    tinynet.Sequential([tinynet.Input((4,)), norm, Dense(2)])


@pytest.mark.parametrize("call, message", [
    (_fit_a_model_with_3d_outputs, "x: the model's output must be (samples, outputs), it is ('samples', 2, 3)"),
    (_predict_wrong_shape_after_fit_built_the_model,
     "x: expected samples of shape (4,) (e.g. (10, 4)), received shape (10, 3)"),
    (_adapted_normalization_of_another_width,
     "layers: 'normalization' was built for samples of shape (3,) in float32; this model gives it (4,) in float32"),
    (lambda: Dropout(0.5, input_shape=(0,)), "input_shape[0]: expected a positive integer, received 0"),
    (lambda: Dropout(0.5, input_shape="4"),
     "input_shape: expected a non-empty tuple of positive integers, received '4'"),
    (_fit_a_model_of_only_an_input, "layers: expected at least one layer, received none"),
    (lambda: tinynet.Sequential([tinynet.Input((2, 3)), tinynet.layers.Flatten(), Dense(2)]).predict(
        np.ones((5, 3, 2))),
     "x: expected samples of shape (2, 3) (e.g. (5, 2, 3)), received shape (5, 3, 2)"),
])
def test_shapes_that_do_not_fit_the_model_are_refused_in_full(call, message):
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert str(info.value) == message


def test_compile_defaults_to_rmsprop_and_an_empty_model_compiles_before_its_layers_come():
    model = tinynet.Sequential([Dense(1)])
    model.compile(loss="mse")
    assert type(model.optimizer) is tinynet.optimizers.RMSprop
    empty = tinynet.Sequential()
    empty.compile(loss=tinynet.losses.SparseCategoricalCrossentropy(), optimizer="sgd")
    empty.add(Dense(3, activation="softmax"))                  # the head is decided again with the loss compiled
    assert empty.head.fused
    empty.fit(X, Y, verbose=0)


@pytest.mark.parametrize("axis, fused", [(-1, True), (1, True), (0, False)])
def test_only_a_softmax_over_the_classes_is_fused_with_the_loss(axis, fused):
    model = tinynet.Sequential([tinynet.Input((4,)), Dense(3), Softmax(axis=axis)])
    model.compile(loss=tinynet.losses.SparseCategoricalCrossentropy(), optimizer="sgd")
    assert model.head.fused is fused


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_weights_before_a_step_are_the_weights_until_the_first_step(dtype):
    model = _model(dtype=dtype)
    assert model.weights_before_step.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(model.weights_before_step, np.concatenate([w.ravel() for w in model.get_weights()]))
    with pytest.raises(ValueError, match="read-only"):
        model.weights_before_step[0] = 1.0                   # a view of the model's own buffer, for callbacks to read


def test_keras_defaults_of_sequential_and_fit():
    """The model is named "sequential"; fit's batches are 32 samples (33 samples: two steps)."""
    assert tinynet.Sequential().name == "sequential"
    model = _sgd()
    model.fit(np.ones((33, 4)), np.arange(33) % 3, verbose=0)
    assert model.optimizer.iterations == 2


def test_class_weights_weigh_the_training_part_only():
    """As Keras: with validation_split, val_loss is the held-out part's unweighted loss."""
    x, y = np.random.default_rng(4).normal(size=(20, 4)), np.arange(20) % 3
    model = _sgd()
    history = model.fit(x, y, epochs=1, validation_split=0.5, class_weight={0: 5.0, 1: 0.5}, shuffle=False,
                        verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(model.evaluate(x[10:], y[10:], verbose=0), rel=1e-6)


def test_a_float64_model_asks_its_initializers_for_float64():
    asked = []

    def zeros(shape, rng, dtype):
        asked.append(np.dtype(dtype))
        return np.zeros(shape, dtype=dtype)

    tinynet.Sequential([tinynet.Input((3,)), Dense(2, kernel_initializer=zeros, bias_initializer=zeros)],
                       dtype="float64")
    assert asked == [np.dtype("float64")] * 2
