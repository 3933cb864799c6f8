"""Keras 3's model-building surface: Input, input_dim, per-layer weights, get_layer, Dropout, seeds, floatx."""

from __future__ import annotations

import numpy as np
import pytest

import tinynet
from tests._tf_helpers import import_tf
from tinynet import Input, Sequential, backend, utils
from tinynet.layers import Dense, Dropout, InputLayer
from tinynet.losses import SparseCategoricalCrossentropy


def _data(n=40, d=4, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.integers(0, classes, n)


# -- Input and input_dim ----------------------------------------------------------------------------------
def test_input_first_declares_the_shape_and_is_not_a_layer():
    model = Sequential([Input(shape=(4,)), Dense(5, activation="relu"), Dense(3)], seed=0)
    assert model.built and model.input_shape == (4,)
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "Dense"]
    assert model.count_params() == 4 * 5 + 5 + 5 * 3 + 3
    assert isinstance(tinynet.layers.Input((4,)), InputLayer) and tinynet.Input is tinynet.layers.Input


def test_input_added_one_layer_at_a_time_builds_when_first_needed():
    model = Sequential(seed=0)
    model.add(Input(shape=(4,)))
    model.add(Dense(3))
    assert not model.built
    assert [w.shape for w in model.get_weights()] == [(4, 3), (3,)]       # built on first need, as Keras
    assert model.built


def test_dense_input_dim_is_input_shape():
    a = Sequential([Dense(3, input_dim=4)], seed=0)
    b = Sequential([Dense(3, input_shape=(4,))], seed=0)
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)
    with pytest.raises(ValueError, match="input_dim"):
        Dense(3, input_dim=4, input_shape=(4,))
    with pytest.raises(ValueError, match="input_dim"):
        Dense(3, input_dim=0)


@pytest.mark.parametrize("shape,match", [((0,), r"shape\[0\]"), ((-3,), r"shape\[0\]"), (None, "shape"),
                                         ("400", "shape")])
def test_input_refuses_bad_shapes_by_name(shape, match):
    with pytest.raises((ValueError, TypeError), match=match):
        Input(shape=shape)


def test_data_that_does_not_match_the_input_is_refused_before_anything_changes():
    model = Sequential([Input(shape=(4,)), Dense(3)], seed=0)
    model.compile(loss=SparseCategoricalCrossentropy(from_logits=True), optimizer="adam")
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"x: expected samples of shape \(4,\)"):
        model.fit(np.zeros((5, 6)), np.zeros(5, dtype=int), verbose=0)
    assert model.optimizer.iterations == 0
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="must come first"):
        Sequential([Dense(3, input_shape=(4,)), Input(shape=(3,))])


# -- per-layer weights ------------------------------------------------------------------------------------
def test_layer_weights_as_in_the_course_labs():
    x, y = _data()
    model = Sequential([Input(shape=(4,)), Dense(5, activation="sigmoid", name="L1"), Dense(3, name="L2")], seed=0)
    [l1, l2] = model.layers
    w1, b1 = l1.get_weights()
    assert w1.shape == (4, 5) and b1.shape == (5,)
    assert l1.weights[0] is l1.kernel and len(l1.trainable_weights) == 2 and l1.non_trainable_weights == []
    l1.set_weights([np.ones((4, 5)), np.full(5, 0.5)])
    np.testing.assert_array_equal(model.get_weights()[0], np.ones((4, 5)))       # the model sees the layer's write
    np.testing.assert_array_equal(model.flat_weights[:20], 1.0)
    model.compile(loss=SparseCategoricalCrossentropy(from_logits=True), optimizer="adam")
    model.fit(x, y, epochs=2, verbose=0)
    assert not np.array_equal(l1.get_weights()[0], np.ones((4, 5)))                # and training moves them
    assert model.get_layer(name="L2") is l2 and model.get_layer(index=0) is l1 and model.get_layer(index=-1) is l2


@pytest.mark.parametrize("weights,match", [
    ([np.ones((4, 5))], "expected 2 arrays"), ([np.ones((5, 4)), np.ones(5)], r"weights\[0\]: expected shape"),
    ([np.ones((4, 5)), np.array([1, 2, 3, 4, np.nan])], r"weights\[1\]: expected only finite"),
    ("w", "expected a list"),
])
def test_layer_set_weights_is_checked_in_full_and_all_or_nothing(weights, match):
    model = Sequential([Dense(5, input_shape=(4,))], seed=0)
    layer = model.layers[0]
    before = layer.get_weights()
    with pytest.raises((ValueError, TypeError), match=match):
        layer.set_weights(weights)
    for a, b in zip(before, layer.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_get_layer_refuses_bad_requests():
    model = Sequential([Dense(2, input_shape=(3,))])
    for kwargs, match in (({}, "exactly one"), ({"name": "dense", "index": 0}, "exactly one"),
                          ({"name": "nope"}, "no layer named"), ({"index": 5}, "index"), ({"index": 1.0}, "index")):
        with pytest.raises((ValueError, TypeError), match=match):
            model.get_layer(**kwargs)


def test_layer_weights_survive_save_and_load(tmp_path):
    model = Sequential([Input(shape=(4,)), Dense(3, name="out")], seed=0)
    model.compile(loss=SparseCategoricalCrossentropy(from_logits=True), optimizer="adam")
    model.save(tmp_path / "m.npz")
    loaded = tinynet.models.load_model(tmp_path / "m.npz")
    for a, b in zip(model.get_layer(name="out").get_weights(), loaded.get_layer(name="out").get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


# -- Dropout ----------------------------------------------------------------------------------------------
def test_dropout_is_the_identity_outside_training_and_scales_what_it_keeps():
    x = np.random.default_rng(0).uniform(1, 2, size=(2000, 50))
    layer = Dropout(0.25, seed=1)
    np.testing.assert_array_equal(layer(x), x)
    out = layer.forward(x, training=True)
    kept = out != 0
    assert abs(kept.mean() - 0.75) < 0.01                                      # kept with probability 1 - rate
    np.testing.assert_allclose(out[kept], x[kept] / 0.75, rtol=1e-15)
    g = np.random.default_rng(2).standard_normal(x.shape)
    np.testing.assert_array_equal(layer.backward(g), g * np.where(kept, 1 / 0.75, 0.0))   # the same mask


def test_dropout_in_a_model_is_deterministic_under_a_seed_and_off_in_predict():
    x, y = _data(n=64)
    results = []
    for _ in range(2):
        model = Sequential([Input(shape=(4,)), Dense(8, activation="relu"), Dropout(0.5), Dense(3)], seed=7)
        model.compile(loss=SparseCategoricalCrossentropy(from_logits=True), optimizer="adam")
        model.fit(x, y, epochs=2, batch_size=16, verbose=0)
        results.append((model.get_weights(), model.predict(x)))
    for a, b in zip(results[0][0], results[1][0], strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(results[0][1], results[1][1])
    np.testing.assert_array_equal(model.predict(x), model.predict(x))        # no mask at inference
    assert model.evaluate(x, y) == model.evaluate(x, y)


def test_dropout_gradient_matches_finite_differences_with_the_mask_fixed():
    from tinynet import gradcheck

    layer = Dropout(0.4, seed=3)
    x = np.random.default_rng(0).standard_normal((6, 5))
    layer.build((5,), dtype="float64")
    layer.forward(x, training=True)
    mask = layer.cache["mask"]
    r = np.random.default_rng(1).standard_normal(x.shape)
    analytic = layer.backward(r)
    numeric = gradcheck.numerical_gradient(lambda: float(np.sum(x * mask * r)), x)
    assert gradcheck.relative_error(analytic, numeric) < 1e-9


def test_dropout_matches_keras_with_the_mask_read_from_keras():
    tf, keras = import_tf()
    x = np.random.default_rng(0).uniform(1, 2, size=(64, 30)).astype(np.float32)
    ref = keras.layers.Dropout(0.3, seed=5)(x, training=True).numpy()
    kept = ref != 0
    assert 0.6 < kept.mean() < 0.8
    ours = np.where(kept, x / np.float32(1 - 0.3), 0)                           # tinynet's formula on Keras's mask
    np.testing.assert_allclose(ours, ref, rtol=1e-6)
    np.testing.assert_array_equal(keras.layers.Dropout(0.3)(x, training=False).numpy(), Dropout(0.3)(x))


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, float("nan")])
def test_dropout_rate_outside_0_1_is_refused(rate):
    with pytest.raises(ValueError, match="rate"):
        Dropout(rate)


# -- global seed and float type -------------------------------------------------------------------------------
def _unseeded_program():
    x, y = _data(n=48)
    model = Sequential([Input(shape=(4,)), Dense(6, activation="relu"), Dropout(0.2), Dense(3)])
    model.compile(loss=SparseCategoricalCrossentropy(from_logits=True), optimizer="adam")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    return model.get_weights()


def test_set_random_seed_makes_an_unseeded_program_bit_identical():
    try:
        utils.set_random_seed(42)
        first = _unseeded_program()
        utils.set_random_seed(42)
        second = _unseeded_program()
        utils.set_random_seed(43)
        other = _unseeded_program()
    finally:
        backend._SEED = None                       # later tests get unseeded models again
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])
    with pytest.raises(TypeError, match="seed"):
        utils.set_random_seed(1.5)
    with pytest.raises(ValueError, match="seed"):
        utils.set_random_seed(-1)


def test_set_floatx_is_the_default_dtype():
    try:
        tinynet.config.set_floatx("float64")
        assert backend.floatx() == "float64"
        model = Sequential([Dense(2, input_shape=(3,))])
        assert model.dtype == np.float64 and model.get_weights()[0].dtype == np.float64
        with pytest.raises(ValueError, match="value"):
            backend.set_floatx("float16")
        with pytest.raises(TypeError, match=r"^value: expected 'float32' or 'float64', received None"):
            backend.set_floatx(None)                     # NumPy would read None as float64; Keras refuses it
        assert backend.floatx() == "float64"
    finally:
        backend.set_floatx("float32")
    assert Sequential([Dense(2, input_shape=(3,))]).dtype == np.float32


def test_to_categorical_matches_keras():
    _, keras = import_tf()
    for labels, n in (([0, 2, 1, 2], None), (np.array([[1], [0], [3]]), 5), (np.array([[0, 1], [2, 1]]), None)):
        np.testing.assert_array_equal(utils.to_categorical(labels, n), keras.utils.to_categorical(labels, n))
    with pytest.raises(ValueError, match="outside the valid range"):
        utils.to_categorical([0, 3], num_classes=3)
    with pytest.raises(ValueError, match=">= 0"):
        utils.to_categorical([-1, 0])


# -- Normalization ------------------------------------------------------------------------------------------
def _coffee(n=200, seed=0):
    """The course's coffee-roasting data, generated: temperature (C) and duration (min); good roasts in a band."""
    rng = np.random.default_rng(seed)
    temperature = rng.uniform(150, 285, n)
    duration = rng.uniform(11.5, 15.5, n)
    good = (temperature > 175) & (temperature < 260) & (duration > 12) & (duration < 15) & \
        (duration < -3 / 140 * (temperature - 175) + 15)
    return np.column_stack([temperature, duration]).astype(np.float32), good.astype(np.int64)


def test_normalization_adapt_matches_keras_and_is_saved(tmp_path):
    _, keras = import_tf()
    from tinynet.layers import Normalization

    X, _ = _coffee()
    ours, theirs = Normalization(axis=-1), keras.layers.Normalization(axis=-1)
    ours.adapt(X)
    theirs.adapt(X)
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    # float32 rounding of x - mean, with x near 200: a few ulps of the inputs over the standard deviation
    np.testing.assert_allclose(ours(X), theirs(X).numpy(), rtol=1e-5, atol=5e-5)
    assert ours.trainable_weights == [] and len(ours.non_trainable_weights) == 3
    model = Sequential([Input(shape=(2,)), ours, Dense(3, activation="sigmoid"), Dense(2)], seed=0)
    assert model.count_params() == 5 + 9 + 8 and model.flat_weights.size == 17     # 5 non-trainable values
    model.compile(loss=SparseCategoricalCrossentropy(from_logits=True), optimizer="adam")
    before = ours.get_weights()
    model.fit(X, _coffee()[1], epochs=2, verbose=0)
    for a, b in zip(before, ours.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)                                           # training leaves them alone
    model.save(tmp_path / "m.npz")
    loaded = tinynet.load_model(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_array_equal(loaded.layers[0].mean, ours.mean)


def test_normalization_backward_and_given_statistics():
    from tinynet import gradcheck
    from tinynet.layers import Normalization

    layer = Normalization(mean=[1.0, -2.0], variance=[4.0, 0.25])
    x = np.random.default_rng(0).standard_normal((5, 2))
    assert gradcheck.check_layer(layer, x).ok
    np.testing.assert_allclose(layer.forward(x), (x - [1.0, -2.0]) / [2.0, 0.5])
    inverse = Normalization(mean=[1.0, -2.0], variance=[4.0, 0.25], invert=True)
    np.testing.assert_allclose(inverse(layer(x)), x, rtol=1e-12)


@pytest.mark.parametrize("make,match", [
    (lambda N: N().adapt(np.zeros((0, 2))), "data"), (lambda N: N().adapt(np.array([[1.0, np.nan]])), "data"),
    (lambda N: N().adapt(np.zeros(4)), "data"), (lambda N: N(mean=[0.0]), "mean, variance"),
    (lambda N: N(mean=[0.0], variance=[-1.0]), "variance"), (lambda N: N(axis=0), "axis"),
])
def test_normalization_refuses_bad_data_by_name(make, match):
    from tinynet.layers import Normalization

    with pytest.raises((ValueError, TypeError), match=match):
        make(Normalization)


# -- a model inside a model ---------------------------------------------------------------------------------
def test_probability_model_shares_the_weights_of_the_model_inside():
    """The TensorFlow classification tutorial's ``Sequential([model, Softmax()])``."""
    from tinynet.layers import Softmax

    x, y = _data(n=60)
    model = Sequential([Input(shape=(4,)), Dense(8, activation="relu"), Dense(3)], seed=0)
    model.compile(loss=SparseCategoricalCrossentropy(from_logits=True), optimizer="adam")
    model.fit(x, y, epochs=2, verbose=0)
    probability_model = Sequential([model, Softmax()])
    logits = model.predict(x)
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(probability_model.predict(x), expected / expected.sum(axis=1, keepdims=True),
                               rtol=1e-6)
    model.fit(x, y, epochs=1, verbose=0)                          # training the inner model moves both
    np.testing.assert_array_equal(probability_model.predict(x).argmax(axis=1), model.predict(x).argmax(axis=1))
    assert [w.shape for w in probability_model.get_weights()] == [w.shape for w in model.get_weights()]
    assert probability_model.count_params() == model.count_params() and probability_model.flat_weights.size == 0
    probability_model.compile(loss=SparseCategoricalCrossentropy(), optimizer="adam")
    assert np.isfinite(probability_model.evaluate(x, y))
    with pytest.raises(ValueError, match="used for inference"):
        probability_model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match="must be built"):
        Sequential([Sequential([Dense(2)]), Softmax()])


def test_default_names_are_keras_names():
    """A layer, optimizer or metric made without a name gets Keras's: its ``to_snake_case`` of the class name
    (Keras then adds ``_1``, ``_2`` to repeats process-wide; a ``Sequential`` numbers repeats within itself)."""
    import_tf()
    from keras.src.utils.naming import to_snake_case

    from tinynet import layers, metrics, optimizers
    made = [layers.Dense(2), layers.ReLU(), layers.LeakyReLU(), layers.ELU(), layers.Softmax(), layers.Dropout(0.5),
            layers.Normalization(), layers.Flatten(), optimizers.SGD(), optimizers.Adam(), optimizers.AdamW(),
            optimizers.RMSprop(), optimizers.Adagrad(), metrics.SparseCategoricalAccuracy(), metrics.BinaryAccuracy(),
            metrics.MeanSquaredError(), metrics.CategoricalCrossentropy()]
    assert [m.name for m in made] == [to_snake_case(type(m).__name__) for m in made]
    assert [m.name for m in made[1:4]] == ["re_lu", "leaky_re_lu", "elu"]
