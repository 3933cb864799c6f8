"""The layers' contract as a user reads it in docs/api.md and docs/errors.md: argument checks and their messages,
names and input shapes, the cache left by ``forward``, dtypes, configs, and closed-form values and gradients."""

from __future__ import annotations

import functools
import re

import numpy as np
import pytest

from tinynet import activations, initializers
from tinynet.gradcheck import check_layer
from tinynet.layers import (
    ELU,
    Activation,
    Dense,
    Dropout,
    Flatten,
    Input,
    InputLayer,
    LeakyReLU,
    Linear,
    Normalization,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
    from_config,
)


def _x(shape=(4, 3), seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# -- names, input shapes, repr ------------------------------------------------------------------------------
LAYER_FACTORIES = {
    "Activation": lambda **kw: Activation("relu", **kw),
    "ReLU": lambda **kw: ReLU(max_value=6.0, **kw),
    "LeakyReLU": lambda **kw: LeakyReLU(**kw),
    "ELU": lambda **kw: ELU(**kw),
    "Sigmoid": lambda **kw: Sigmoid(**kw),
    "Tanh": lambda **kw: Tanh(**kw),
    "Softmax": lambda **kw: Softmax(**kw),
    "Softmax_axis0": lambda **kw: Softmax(axis=0, **kw),
    "Linear": lambda **kw: Linear(**kw),
    "Dropout": lambda **kw: Dropout(0.25, seed=1, **kw),
    "Normalization": lambda **kw: Normalization(mean=[0.0, 1.0, 2.0], variance=[1.0, 4.0, 9.0], **kw),
}


@pytest.mark.parametrize("kind", sorted(LAYER_FACTORIES))
def test_every_layer_keeps_the_name_and_input_shape_it_is_given(kind):
    layer = LAYER_FACTORIES[kind](name="mine", input_shape=(3,))
    assert layer.name == "mine"
    assert layer.input_shape == (3,)
    config = layer.get_config()
    assert config["name"] == "mine" and config["input_shape"] == [3]


@pytest.mark.parametrize("kind", sorted(LAYER_FACTORIES))
def test_every_layer_rebuilt_from_its_config_computes_the_same(kind):
    layer = LAYER_FACTORIES[kind](input_shape=(3,))
    twin = from_config(type(layer).__name__, layer.get_config())
    assert type(twin) is type(layer) and twin.get_config() == layer.get_config()
    x = _x((4, 3))
    layer.build((3,), dtype="float64")
    twin.build((3,), dtype="float64")
    twin.set_weights(layer.get_weights())           # Normalization's statistics are weights, not config
    np.testing.assert_array_equal(twin.forward(x, training=True), layer.forward(x, training=True))


def test_activation_config_names_the_function_and_the_named_classes_do_not():
    assert Activation("tanh").get_config() == {"name": "activation", "activation": "tanh"}
    assert "activation" not in ReLU().get_config()
    assert "activation" not in Softmax(axis=0).get_config()


def test_repr_shows_the_class_and_the_name():
    assert repr(Dense(2, name="d1")) == "<Dense name='d1'>"
    assert repr(Softmax()) == "<Softmax name='softmax'>"


def test_from_config_refuses_an_unknown_class_by_name():
    names = ['Activation', 'Dense', 'Dropout', 'ELU', 'Flatten', 'LeakyReLU', 'Linear', 'Normalization', 'ReLU',
             'Sigmoid', 'Softmax', 'Tanh']
    with pytest.raises(ValueError, match="^" + re.escape(f"layer class: expected one of {names}, received 'Conv2D'")
                       + "$"):
        from_config("Conv2D", {})


# -- calling a layer: dtype of the weights and the training flag ------------------------------------------
@pytest.mark.parametrize(("x_dtype", "weights_dtype"), [(np.float64, np.float64), (np.float32, np.float32),
                                                        (np.int64, np.float32)])
def test_calling_an_unbuilt_layer_builds_it_in_the_input_float_dtype_else_float32(x_dtype, weights_dtype):
    layer = Dense(2)
    out = layer(np.ones((1, 3), dtype=x_dtype))
    assert out.shape == (1, 2)
    assert layer.kernel.dtype == weights_dtype and layer.bias.dtype == weights_dtype


def test_calling_a_layer_passes_the_training_flag_to_forward():
    layer = Dense(2)
    x = _x((5, 3))
    layer(x, training=True)
    assert sorted(layer.cache) == ["out", "x", "z"]
    assert layer.backward(np.ones((5, 2))).shape == (5, 3)
    layer(x)
    assert layer.cache == {}


# -- the cache: kept by training=True only, the default is inference -------------------------------------
CACHE_CASES = {
    "Activation": (lambda: Activation("sigmoid"), (4, 3)),
    "ReLU": (lambda: ReLU(), (4, 3)),
    "Softmax": (lambda: Softmax(), (4, 3)),
    "Normalization": (lambda: Normalization(mean=0.5, variance=4.0), (4, 3)),
    "Normalization_invert": (lambda: Normalization(mean=0.5, variance=4.0, invert=True), (4, 3)),
    "Flatten": (lambda: Flatten(), (4, 2, 3)),
    "Dropout": (lambda: Dropout(0.5, seed=0), (4, 3)),
    "Dropout_rate0": (lambda: Dropout(0.0), (4, 3)),
}


@pytest.mark.parametrize("kind", sorted(CACHE_CASES))
@pytest.mark.parametrize("call", ["default", "training_false"])
def test_backward_after_an_inference_forward_is_refused(kind, call):
    make, shape = CACHE_CASES[kind]
    layer = make()
    x = _x(shape)
    layer.build(shape[1:], rng=np.random.default_rng(0), dtype="float64")
    out = layer.forward(x, training=True)
    assert layer.backward(np.ones_like(out)).shape == x.shape     # a training pass leaves what backward needs
    if call == "default":
        layer.forward(x)
    else:
        layer.forward(x, training=False)
    assert layer.cache == {}
    with pytest.raises(RuntimeError, match=rf"^{layer.name}\.backward: needs what a forward pass with training=True "
                                           r"keeps; call forward\(x, training=True\) first \(the last forward pass "
                                           r"kept \[\]\)$"):
        layer.backward(np.ones_like(out))


# -- gradients against finite differences ------------------------------------------------------------------
@pytest.mark.parametrize("layer", [Normalization(mean=[0.5, -1.0, 2.0], variance=[4.0, 0.25, 9.0]),
                                   Normalization(mean=[0.5, -1.0, 2.0], variance=[4.0, 0.25, 9.0], invert=True),
                                   Flatten(), Sigmoid(), Tanh(), ELU(alpha=0.7), Softmax(axis=0)],
                         ids=["normalization", "normalization_invert", "flatten", "sigmoid", "tanh", "elu",
                              "softmax_axis0"])
def test_layer_gradients_match_finite_differences(layer):
    x = _x((4, 2, 3)) if isinstance(layer, Flatten) else _x((4, 3))
    report = check_layer(layer, x)
    assert report.ok, str(report)


# -- activation layers: options, defaults, messages --------------------------------------------------------
def test_activation_layers_compute_their_functions_with_keras_defaults():
    x = np.array([[-1.0, 0.0, 0.5, 8.0]])
    np.testing.assert_allclose(Sigmoid()(x), 1 / (1 + np.exp(-x)), rtol=1e-12)
    np.testing.assert_allclose(Tanh()(x), np.tanh(x), rtol=1e-12)
    np.testing.assert_allclose(ELU()(x), np.where(x > 0, x, np.exp(x) - 1), rtol=1e-12)     # alpha=1.0
    np.testing.assert_allclose(LeakyReLU()(x), np.where(x >= 0, x, 0.3 * x), rtol=1e-12)
    np.testing.assert_allclose(ReLU(max_value=0.5)(x), [[0.0, 0.0, 0.5, 0.5]])      # a cap below 1 is valid


@pytest.mark.parametrize(("make", "message", "error"), [
    (lambda: ReLU(max_value=-1), r"max_value: expected a number in [0.0, inf), received -1.0", ValueError),
    (lambda: ReLU(negative_slope=-0.1), r"negative_slope: expected a number in [0.0, inf), received -0.1",
     ValueError),
    (lambda: ReLU(threshold="a"), "threshold: expected a real number, received 'a'", TypeError),
    (lambda: ReLU(threshold=float("nan")), "threshold: expected a number in (-inf, inf), received nan", ValueError),
    (lambda: LeakyReLU(negative_slope=-0.1), r"negative_slope: expected a number in [0.0, inf), received -0.1",
     ValueError),
    (lambda: ELU(alpha="a"), "alpha: expected a real number, received 'a'", TypeError),
    (lambda: Softmax(axis=1.5), "axis: expected an integer, received 1.5", TypeError),
    (lambda: Softmax(axis=True), "axis: expected an integer, received True", TypeError),
], ids=["relu_max_value", "relu_negative_slope", "relu_threshold_type", "relu_threshold_nan", "leaky_relu",
        "elu_alpha", "softmax_axis_float", "softmax_axis_bool"])
def test_activation_options_are_checked_by_name(make, message, error):
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        make()


@pytest.mark.parametrize("axis", [0, np.int64(0)])
def test_softmax_axis_normalises_along_that_axis(axis):
    x = np.array([[1.0, 2.0], [3.0, 1.0], [0.0, -1.0]])
    out = Softmax(axis=axis)(x)
    expected = np.exp(x) / np.exp(x).sum(axis=0, keepdims=True)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    assert Softmax(axis=axis).get_config()["axis"] == 0


@pytest.mark.parametrize("layer", [Softmax(), Softmax(axis=-1), ReLU(), ReLU(negative_slope=0.0), Sigmoid()],
                         ids=["softmax", "softmax_axis_-1", "relu", "relu_default_slope", "sigmoid"])
def test_activation_layers_with_default_options_can_be_lent_to_a_dense(layer):
    dense = Dense(2, activation=layer)
    assert dense.activation_name == layer.activation_name


# -- Dense config: initializers by name only when they are tinynet's --------------------------------------
def test_dense_config_names_tinynet_initializers():
    config = Dense(2, kernel_initializer="he_normal", bias_initializer="ones").get_config()
    assert config["kernel_initializer"] == "he_normal" and config["bias_initializer"] == "ones"
    assert Dense(2, kernel_initializer=initializers.glorot_normal).get_config()["kernel_initializer"] == \
        "glorot_normal"


def _my_init(shape, rng, dtype):
    return np.full(shape, 0.5, dtype=dtype)


def ones(shape, rng, dtype):      # a custom callable that shares a tinynet initializer's name
    return np.full(shape, 2.0, dtype=dtype)


@pytest.mark.parametrize("init", [_my_init, ones, functools.partial(initializers.glorot_uniform)],
                         ids=["custom_function", "custom_named_like_tinynet", "partial"])
def test_dense_config_leaves_out_custom_initializers(init):
    config = Dense(2, kernel_initializer=init, bias_initializer=init).get_config()
    assert "kernel_initializer" not in config and "bias_initializer" not in config


# -- Input / InputLayer ------------------------------------------------------------------------------------
INPUTS = {"Input": Input, "InputLayer": InputLayer}


@pytest.mark.parametrize("kind", sorted(INPUTS))
def test_input_keeps_its_shape_and_name_and_accepts_keras_options(kind):
    layer = INPUTS[kind](shape=(3,), batch_size=8, dtype="float64", name="pixels")
    assert isinstance(layer, InputLayer)
    assert layer.name == "pixels" and layer.shape == (3,) and layer.input_shape == (3,)
    x = _x((2, 3))
    assert layer.forward(x) is x and layer.backward(x) is x


@pytest.mark.parametrize("kind", sorted(INPUTS))
@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({}, ValueError, "shape: expected the shape of one sample, e.g. (400,), received None"),
    ({"shape": (0,)}, ValueError, "shape[0]: expected a positive integer, received 0"),
    ({"shape": (3,), "batch_size": 0}, ValueError, "batch_size: expected a positive integer, received 0"),
    ({"shape": (3,), "batch_size": 1.5}, TypeError, "batch_size: expected a positive integer, received 1.5"),
    ({"shape": (3,), "dtype": "float16"}, ValueError, "dtype: expected 'float32' or 'float64', received 'float16'"),
], ids=["no_shape", "zero_shape", "batch_size_0", "batch_size_float", "dtype_float16"])
def test_input_arguments_are_checked_by_name(kind, kwargs, error, message):
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        INPUTS[kind](**kwargs)


# -- Dropout -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"rate": 1.0}, ValueError, "rate: expected a number in [0.0, 1.0), received 1.0"),
    ({"rate": -0.1}, ValueError, "rate: expected a number in [0.0, 1.0), received -0.1"),
    ({"rate": 0.5, "noise_shape": (1, 4)}, ValueError,
     "noise_shape: tinynet draws one mask value per input; expected None, received (1, 4)"),
    ({"rate": 0.5, "seed": 1.5}, TypeError, "seed: expected None or a non-negative integer, received 1.5"),
    ({"rate": 0.5, "seed": "a"}, TypeError, "seed: expected None or a non-negative integer, received 'a'"),
    ({"rate": 0.5, "seed": True}, TypeError, "seed: expected None or a non-negative integer, received True"),
    ({"rate": 0.5, "seed": np.float64(2.0)}, TypeError,
     "seed: expected None or a non-negative integer, received np.float64(2.0)"),
], ids=["rate_1", "rate_negative", "noise_shape", "seed_float", "seed_str", "seed_bool", "seed_np_float"])
def test_dropout_arguments_are_checked_by_name(kwargs, error, message):
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        Dropout(**kwargs)


def test_dropout_refuses_a_negative_seed():
    with pytest.raises(ValueError, match=r"^seed: expected None or a non-negative integer, received -1$"):
        Dropout(0.5, seed=-1)
    with pytest.raises(TypeError, match=r"^seed: expected None or a non-negative integer, received 1.5$"):
        Dropout(0.5, seed=1.5)


@pytest.mark.parametrize("seed", [0, 1, np.int64(3)])
def test_dropout_seed_fixes_the_masks_whatever_generator_builds_the_layer(seed):
    x = np.ones((6, 40))
    a, b = Dropout(0.5, seed=seed), Dropout(0.5, seed=seed)
    a.build((40,), rng=np.random.default_rng(1))
    b.build((40,), rng=np.random.default_rng(2))
    out_a, out_b = a.forward(x, training=True), b.forward(x, training=True)
    np.testing.assert_array_equal(out_a, out_b)
    # documented: the mask comes from numpy.random.default_rng(seed), kept inputs scaled by 1 / (1 - rate)
    expected = (np.random.default_rng(int(seed)).random(x.shape) >= 0.5) * 2.0
    np.testing.assert_array_equal(out_a, expected)


def test_dropout_without_seed_draws_from_the_generator_it_is_built_with():
    x = np.ones((6, 40))
    outs = []
    for _ in range(2):
        layer = Dropout(0.5)
        layer.build((40,), rng=np.random.default_rng(5))
        outs.append(layer.forward(x, training=True))
    np.testing.assert_array_equal(outs[0], outs[1])
    alone = Dropout(0.5)
    alone.build((40,))                                          # no generator given: one of its own
    out = alone.forward(x, training=True)
    assert set(np.unique(out)) <= {0.0, 2.0} and alone.dtype == np.float32


def test_dropout_rate_zero_is_the_identity_and_draws_no_random_numbers():
    x = _x((5, 8))
    shared = np.random.default_rng(0)
    zero, half = Dropout(0.0), Dropout(0.5)
    zero.build((8,), rng=shared)
    half.build((8,), rng=shared)
    np.testing.assert_array_equal(zero.forward(x, training=True), x)
    g = _x((5, 8), seed=1)
    np.testing.assert_array_equal(zero.backward(g), g)
    reference = Dropout(0.5)
    reference.build((8,), rng=np.random.default_rng(0))
    # the rate-0 layer must not have advanced the shared stream the next dropout draws from
    np.testing.assert_array_equal(half.forward(x, training=True), reference.forward(x, training=True))


def test_dropout_forward_defaults_to_inference():
    layer = Dropout(0.9, seed=0)
    layer.build((50,))
    x = _x((4, 50))
    np.testing.assert_array_equal(layer.forward(x), x)
    dropped = layer.forward(x, training=True)
    g = np.ones_like(x)
    np.testing.assert_allclose(layer.backward(g), np.where(dropped == 0, 0.0, 10.0), rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dropout_and_normalization_build_in_the_dtype_asked(dtype):
    drop, norm = Dropout(0.5), Normalization()
    drop.build((3,), dtype=dtype)
    norm.build((3,), dtype=dtype)
    assert drop.dtype == np.dtype(dtype) and norm.dtype == np.dtype(dtype)
    assert norm.mean.dtype == np.dtype(dtype) and norm.variance.dtype == np.dtype(dtype)


@pytest.mark.parametrize("make", [lambda: Dropout(0.5), lambda: Dropout(0.5, seed=1), lambda: Normalization()],
                         ids=["dropout", "dropout_seed", "normalization"])
@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"rng": 1}, TypeError, "rng: expected a numpy.random.Generator, received 1"),
    ({"dtype": "int32"}, ValueError, "dtype: expected 'float32' or 'float64', received 'int32'"),
], ids=["rng", "dtype"])
def test_build_arguments_are_checked(make, kwargs, error, message):
    layer = make()
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        layer.build((3,), **kwargs)
    assert not layer.built


# -- Normalization -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [-1, 1, np.int64(-1)])
def test_normalization_takes_the_last_axis_of_samples_features(axis):
    layer = Normalization(axis=axis, mean=[1.0, 2.0], variance=[4.0, 16.0])
    assert layer.get_config()["axis"] == -1
    np.testing.assert_allclose(layer(np.array([[3.0, 6.0]])), [[1.0, 1.0]])


@pytest.mark.parametrize("axis", [0, 2, -2, np.int64(0)])
def test_normalization_refuses_other_axes(axis):
    with pytest.raises(ValueError, match="^" + re.escape("axis: tinynet normalises the last axis of (samples, "
                                                         f"features); expected -1, received {axis!r}") + "$"):
        Normalization(axis=axis)


@pytest.mark.parametrize("axis", [True, None])
def test_normalization_refuses_an_axis_that_is_not_an_integer(axis):
    with pytest.raises((TypeError, ValueError), match=rf"^axis: .*received {re.escape(repr(axis))}$"):
        Normalization(axis=axis)


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"mean": [0.0]}, ValueError, "mean, variance: expected both or neither, received only mean"),
    ({"variance": [1.0]}, ValueError, "mean, variance: expected both or neither, received only variance"),
    ({"invert": 1}, TypeError, "invert: expected True or False, received 1"),
    ({"mean": [0.0], "variance": [-1.0]}, ValueError, "variance: expected values >= 0, received a negative variance"),
    ({"mean": "a", "variance": [1.0]}, TypeError, "mean: expected a numeric array, received 'a'"),
    ({"mean": [0.0], "variance": "a"}, TypeError, "variance: expected a numeric array, received 'a'"),
    ({"mean": [np.nan], "variance": [1.0]}, ValueError,
     "mean: expected only finite values, received an array containing NaN or inf"),
    ({"mean": [0.0], "variance": [np.inf]}, ValueError,
     "variance: expected only finite values, received an array containing NaN or inf"),
], ids=["mean_only", "variance_only", "invert", "negative_variance", "mean_str", "variance_str", "mean_nan",
        "variance_inf"])
def test_normalization_arguments_are_checked_by_name(kwargs, error, message):
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        Normalization(**kwargs)


@pytest.mark.parametrize("which", ["mean", "variance"])
def test_normalization_statistics_must_fit_in_float64(which):
    # an extended-precision value beyond float64's range must be refused, not stored as inf
    big = np.array([np.longdouble("1e400")])
    kwargs = {"mean": [0.0], "variance": [1.0], which: big}
    with pytest.raises(ValueError, match=rf"^{which}: expected (only finite values|values within the range of "
                                         r"float64)"):
        Normalization(**kwargs)


def test_normalization_accepts_a_zero_variance_and_divides_by_epsilon():
    layer = Normalization(mean=[1.0, 0.0], variance=[0.0, 1.0])
    out = layer(np.array([[1.5, 2.0]]))
    np.testing.assert_allclose(out, [[0.5 / 1e-7, 2.0]], rtol=1e-6)


@pytest.mark.parametrize(("mean", "variance"), [(1.0, 4.0), ([1.0], [4.0]), (np.float32(1.0), [[4.0]])],
                         ids=["scalars", "one_value", "one_value_2d"])
def test_normalization_one_value_applies_to_every_feature(mean, variance):
    layer = Normalization(mean=mean, variance=variance)
    layer.build((3,), dtype="float64")
    np.testing.assert_array_equal(layer.mean, [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(layer.variance, [4.0, 4.0, 4.0])
    np.testing.assert_allclose(layer.forward(np.array([[3.0, 5.0, -1.0]])), [[1.0, 2.0, -1.0]])


@pytest.mark.parametrize(("mean", "variance"), [([[1.0], [2.0]], [4.0, 9.0]), ([1.0, 2.0], [[4.0], [9.0]]),
                                                ([[1.0, 2.0]], [[4.0, 9.0]])],
                         ids=["mean_column", "variance_column", "rows"])
def test_normalization_per_feature_values_in_any_shape_are_taken_in_order(mean, variance):
    layer = Normalization(mean=mean, variance=variance)
    layer.build((2,), dtype="float64")
    np.testing.assert_array_equal(layer.mean, [1.0, 2.0])
    np.testing.assert_array_equal(layer.variance, [4.0, 9.0])
    assert [w.shape for w in layer.get_weights()] == [(2,), (2,), ()]


def test_normalization_refuses_a_wrong_number_of_values_or_samples_of_more_than_one_dimension():
    layer = Normalization(mean=[1.0, 2.0], variance=[1.0, 1.0])
    with pytest.raises(ValueError, match=r"^mean: expected 1 or 3 values \(one per feature\), received 2$"):
        layer.build((3,))
    assert not layer.built
    with pytest.raises(ValueError, match=r"^input_shape: expected \(features,\) for Normalization 'norm', "
                                         r"received \(2, 2\)$"):
        Normalization(name="norm").build((2, 2))


@pytest.mark.parametrize(("shape", "error", "message"), [
    (0, ValueError, "input_shape[0]: expected a positive integer, received 0"),
    ("a", TypeError, "input_shape: expected a non-empty tuple of positive integers, received 'a'"),
    ((), TypeError, "input_shape: expected a non-empty tuple of positive integers, received ()"),
])
def test_normalization_build_checks_the_input_shape_by_name(shape, error, message):
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        Normalization().build(shape)


def test_normalization_adapt_computes_the_statistics_in_float64():
    # in float32 arithmetic 1e8 + 1 is 1e8: a float32 accumulation would lose the 1 entirely
    data = np.array([[1e8], [1.0], [-1e8]], dtype=np.float32)
    layer = Normalization()
    layer.adapt(data)
    as64 = data.astype(np.float64)
    assert layer.mean.dtype == np.float32
    np.testing.assert_array_equal(layer.mean, as64.mean(axis=0).astype(np.float32))
    np.testing.assert_array_equal(layer.variance, as64.var(axis=0).astype(np.float32))
    assert layer.mean[0] != 0.0


def test_normalization_adapt_again_replaces_the_statistics_and_checks_the_shape():
    layer = Normalization()
    layer.adapt(np.array([[0.0, 1.0], [2.0, 3.0]]))
    layer.adapt(np.array([[10.0, 20.0], [14.0, 20.0], [12.0, 20.0]]))
    np.testing.assert_allclose(layer.mean, [12.0, 20.0])
    np.testing.assert_allclose(layer.variance, [8.0 / 3.0, 0.0], rtol=1e-6)
    with pytest.raises(ValueError, match=r"^data: expected samples of shape \(2,\), received shape \(4, 3\)$"):
        layer.adapt(np.zeros((4, 3)))
    np.testing.assert_allclose(layer.mean, [12.0, 20.0])


@pytest.mark.parametrize(("data", "message"), [
    (np.zeros((0, 2)), "data: expected a non-empty array, received shape (0, 2)"),
    (np.array([[1.0, np.nan]]), "data: expected only finite values, received an array containing NaN or inf"),
    (np.zeros(3), "data: expected a 2-D array, received shape (3,)"),
])
def test_normalization_adapt_checks_the_data_by_name(data, message):
    layer = Normalization()
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        layer.adapt(data)
    assert not layer.built


def test_normalization_invert_undoes_the_standardisation():
    data = _x((20, 3), seed=4) * [1.0, 5.0, 0.1] + [3.0, -2.0, 0.0]
    forward, inverse = Normalization(), Normalization(invert=True)
    forward.adapt(data)
    inverse.build((3,), dtype="float32")
    inverse.set_weights(forward.get_weights())
    np.testing.assert_allclose(inverse(forward(data)), data, rtol=1e-5, atol=1e-5)


# -- Flatten -----------------------------------------------------------------------------------------------
def test_flatten_is_c_order_and_backward_restores_the_shape():
    x = np.arange(24.0).reshape(2, 3, 4)
    layer = Flatten()
    out = layer.forward(x, training=True)
    np.testing.assert_array_equal(out, x.reshape(2, 12))
    assert layer.compute_output_shape((3, 4)) == (12,)
    np.testing.assert_array_equal(layer.backward(out), x)


# -- activation layers: every class is what it says ---------------------------------------------------------
@pytest.mark.parametrize(("layer", "fn"), [(Sigmoid(), activations.sigmoid), (Tanh(), activations.tanh),
                                           (ELU(), activations.elu), (LeakyReLU(), activations.leaky_relu)],
                         ids=["sigmoid", "tanh", "elu", "leaky_relu"])
def test_named_activation_layers_use_their_function(layer, fn):
    assert layer.activation_name == activations.serialize(fn)


@pytest.mark.parametrize("dtype, built", [(np.float16, "float32"), (np.float64, "float64"), (np.float32, "float32"),
                                          (np.int64, "float32")])
def test_an_unbuilt_layer_called_on_data_builds_in_float64_for_float64_else_in_floatx(dtype, built):
    from tinynet.layers import Dense
    layer = Dense(2)
    out = layer(np.ones((3, 4), dtype=dtype))
    assert layer.kernel.dtype == np.dtype(built) and out.shape == (3, 2)


def test_a_layer_or_loss_that_does_not_write_its_passes_says_so():
    from tinynet.layers import Layer
    from tinynet.losses import Loss

    class Half(Layer):
        pass

    layer = Half()
    with pytest.raises(NotImplementedError):
        layer.forward(np.zeros((1, 2)))
    with pytest.raises(NotImplementedError):
        layer.backward(np.zeros((1, 2)))
    with pytest.raises(NotImplementedError):
        Loss().encode(np.zeros(2), 2, 1, np.float32)


@pytest.mark.parametrize("call, error, message", [
    (lambda: Dense(0),
     ValueError, "units: expected a positive integer, received 0"),
    (lambda: Dense(2.5),
     TypeError, "units: expected a positive integer, received 2.5"),
    (lambda: Dense(2, input_dim=3, input_shape=(3,)),
     ValueError, "input_dim: expected input_dim or input_shape, received both"),
    (lambda: Dense(2, input_dim=0),
     ValueError, "input_dim: expected a positive integer, received 0"),
    (lambda: Dense(2, use_bias="yes"),
     TypeError, "use_bias: expected True or False, received 'yes'"),
    (lambda: Dense(2, activation=Activation("softmax", axis=0)),
     ValueError, ("activation: Dense takes an activation without options; received Activation with {'axis': 0} (add "
                  "the layer after the Dense instead)")),
    (lambda: Dense(2, kernel_initializer="bogus"),
     ValueError, ("kernel_initializer: expected one of ['glorot_normal', 'glorot_uniform', 'he_normal', 'he_uniform', "
                  "'ones', 'zeros'] or a callable, received 'bogus'")),
    (lambda: Dense(2, kernel_initializer=3),
     TypeError, "kernel_initializer: expected an initializer name or a callable, received 3"),
    (lambda: Dense(2, bias_initializer="bogus"),
     ValueError, ("bias_initializer: expected one of ['glorot_normal', 'glorot_uniform', 'he_normal', 'he_uniform', "
                  "'ones', 'zeros'] or a callable, received 'bogus'")),
    (lambda: Dense(2, bias_initializer=3),
     TypeError, "bias_initializer: expected an initializer name or a callable, received 3"),
    (lambda: Dense(2, kernel_regularizer="bogus"),
     ValueError, ("kernel_regularizer: expected one of ['L1', 'L1L2', 'L2', 'l1', 'l1l2', 'l2'] or a "
                  "tinynet.regularizers.Regularizer, received 'bogus'")),
    (lambda: Dense(2, bias_regularizer="bogus"),
     ValueError, ("bias_regularizer: expected one of ['L1', 'L1L2', 'L2', 'l1', 'l1l2', 'l2'] or a "
                  "tinynet.regularizers.Regularizer, received 'bogus'")),
    (lambda: Dense(2, bias_regularizer=3),
     TypeError, ("bias_regularizer: expected None, a regularizer name or a tinynet.regularizers.Regularizer, received "
                 "3")),
    (lambda: Dense(2, input_shape=(3, 4)),
     ValueError, "input_shape: expected (features,) for Dense, received (3, 4)"),
    (lambda: Dense(2, input_shape=(0,)),
     ValueError, "input_shape[0]: expected a positive integer, received 0"),
    (lambda: Dense(2, input_shape="3"),
     TypeError, "input_shape: expected a non-empty tuple of positive integers, received '3'"),
    (lambda: Dense(2, name=3),
     TypeError, "name: expected a string or None, received 3"),
    (lambda: Dense(2).build((0,)),
     ValueError, "input_shape[0]: expected a positive integer, received 0"),
    (lambda: Dense(2).build("3"),
     TypeError, "input_shape: expected a non-empty tuple of positive integers, received '3'"),
])
def test_every_refusal_of_dense_names_the_argument_in_full(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert str(info.value) == message


@pytest.mark.parametrize("dtype", [None, "float64"])
def test_build_asks_a_callable_initializer_for_the_layers_dtype_and_casts_what_it_returns(dtype):
    """A callable initializer is called as ``(shape, rng, dtype)``; whatever it returns is cast to the layer's
    dtype (float32 unless given)."""
    asked = []

    def ones_in_float64(shape, rng, dtype):
        asked.append((shape, dtype))
        return np.ones(shape, dtype=np.float64)

    layer = Dense(2, kernel_initializer=ones_in_float64, bias_initializer=ones_in_float64)
    layer.build((3,)) if dtype is None else layer.build((3,), dtype=dtype)
    expected = np.dtype(dtype or "float32")
    assert [np.dtype(d) for _, d in asked] == [expected, expected] and [s for s, _ in asked] == [(3, 2), (2,)]
    assert [p.dtype for p in layer.params] == [expected, expected]


def test_a_new_layer_holds_nothing_until_it_is_built():
    layer = Dense(2)
    assert (layer.built, layer.params, layer.grads, layer.param_names, layer.output_shape) == (False, [], [], [], None)


@pytest.mark.parametrize("activation", ["linear", "relu", "softmax"])
def test_dense_computes_its_input_gradient_only_when_asked(activation):
    """``need_input_grad=False`` (the first layer's dL/dx, never used) returns None; the default computes it."""
    layer = Dense(3, activation=activation)
    x = np.random.default_rng(0).standard_normal((4, 2)).astype(np.float32)
    grad = np.ones((4, 3), dtype=np.float32)
    layer(x, training=True)
    assert layer.backward(grad, False) is None
    layer(x, training=True)
    assert layer.backward(grad).shape == (4, 2)
    layer(x, training=True)
    assert layer.backward_pre_activation(grad).shape == (4, 2)


def test_bind_takes_one_array_per_parameter():
    layer = Dense(2)
    layer.build((3,))
    kernel, bias = (np.zeros_like(p) for p in layer.params)
    with pytest.raises(ValueError, match="zip"):
        layer.bind([kernel], [np.zeros_like(kernel)])
    layer.bind([kernel, bias], [np.zeros_like(kernel), np.zeros_like(bias)])
    assert layer.params[0] is kernel and not np.all(kernel == 0)         # the values moved into the given arrays
