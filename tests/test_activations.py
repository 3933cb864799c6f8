"""tinynet.activations: every function and its backward pass, against finite differences and against Keras."""

from __future__ import annotations

import numpy as np
import pytest

from tests._tf_helpers import import_tf, max_abs
from tinynet import activations, gradcheck
from tinynet.layers import ELU, Activation, Dense, LeakyReLU, ReLU, Softmax

# name -> keyword options to try (Keras's parameters), each checked as a function and as a layer
CASES = [
    ("linear", {}), ("relu", {}), ("relu", {"negative_slope": 0.1}), ("relu", {"max_value": 1.5}),
    ("relu", {"threshold": 0.5}), ("relu", {"negative_slope": 0.2, "max_value": 2.0, "threshold": -0.3}),
    ("leaky_relu", {}), ("leaky_relu", {"negative_slope": 0.05}), ("relu6", {}), ("elu", {}), ("elu", {"alpha": 0.5}),
    ("selu", {}), ("gelu", {}), ("gelu", {"approximate": True}), ("silu", {}), ("swish", {}), ("softplus", {}),
    ("softsign", {}), ("hard_sigmoid", {}), ("exponential", {}), ("sigmoid", {}), ("tanh", {}), ("softmax", {}),
    ("softmax", {"axis": 0}), ("log_softmax", {}), ("log_softmax", {"axis": 0}),
]
IDS = [f"{name}{options or ''}" for name, options in CASES]
KINKS = {"relu": [0.0], "leaky_relu": [0.0], "relu6": [0.0, 6.0], "elu": [0.0], "selu": [0.0],
         "hard_sigmoid": [-3.0, 3.0]}


def _points(name, options, rng, shape=(7, 5), scale=3.0):
    """Inputs away from every kink by more than the finite-difference step (there the derivative jumps)."""
    x = rng.uniform(-scale, scale, size=shape) * (8 / 3 if name in ("relu6", "hard_sigmoid") else 1)
    kinks = list(KINKS.get(activations.serialize(activations.get(name)), []))
    kinks += [options.get("threshold", 0.0), options.get("max_value") or 0.0]
    for k in kinks:
        near = np.abs(x - k) < 1e-3
        x[near] += 0.01
    return x


@pytest.mark.parametrize("name,options", CASES, ids=IDS)
def test_backward_matches_finite_differences(name, options):
    layer = Activation(name, **options)
    report = gradcheck.check_layer(layer, _points(name, options, np.random.default_rng(0)))
    assert report.ok, report


@pytest.mark.parametrize("name,options", CASES, ids=IDS)
def test_values_and_gradients_match_keras(name, options):
    tf, keras = import_tf()
    rng = np.random.default_rng(1)
    x = _points(name, options, rng).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    fn = activations.get(name)
    ours = fn(x, **options)
    assert ours.dtype == np.float32
    backward = activations.backward_of(fn)(x, ours, g, **options)
    xt = tf.Variable(x)
    with tf.GradientTape() as tape:
        ref = getattr(keras.activations, name)(xt, **options)
    ref_grad = tape.gradient(ref, xt, output_gradients=tf.constant(g))
    assert max_abs(ours, ref.numpy()) <= 2e-6 * max(1.0, float(np.abs(ref.numpy()).max())), name
    assert max_abs(backward, ref_grad.numpy()) <= 2e-6 * max(1.0, float(np.abs(ref_grad.numpy()).max())), name


def test_named_layers_are_the_functions_with_keras_defaults():
    x = np.linspace(-4, 4, 17).reshape(1, -1)
    np.testing.assert_array_equal(ReLU(max_value=6)(x), activations.relu6(x))
    np.testing.assert_array_equal(LeakyReLU()(x), activations.leaky_relu(x, negative_slope=0.3))   # layer: 0.3
    np.testing.assert_array_equal(activations.leaky_relu(x), np.where(x >= 0, x, 0.2 * x))         # function: 0.2
    np.testing.assert_array_equal(ELU(alpha=0.5)(x), activations.elu(x, alpha=0.5))
    np.testing.assert_allclose(Softmax()(x).sum(axis=-1), 1.0)
    assert ReLU(max_value=2.0).get_config()["max_value"] == 2.0 and "max_value" not in ReLU().get_config()


def test_softmax_is_finite_for_huge_logits_and_works_on_any_rank():
    big = np.array([[1000.0, 0.0], [-1000.0, 1000.0]], dtype=np.float32)
    p = activations.softmax(big)
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(activations.softmax(np.array([1.0, 2.0, 3.0])),
                               np.exp([1.0, 2.0, 3.0]) / np.exp([1.0, 2.0, 3.0]).sum())
    cube = np.random.default_rng(0).standard_normal((2, 3, 4))
    np.testing.assert_allclose(activations.softmax(cube, axis=1).sum(axis=1), 1.0)
    np.testing.assert_allclose(np.exp(activations.log_softmax(cube)), activations.softmax(cube), rtol=1e-12)


def test_every_named_activation_works_in_dense_and_trains():
    from tinynet import Sequential
    from tinynet.losses import MeanSquaredError

    x = np.random.default_rng(0).standard_normal((16, 3))
    for name in activations.NAMES:
        model = Sequential([Dense(4, activation=name, input_shape=(3,)), Dense(1)], seed=0, dtype="float64")
        model.compile(loss=MeanSquaredError(), optimizer="sgd")
        assert model.layers[0].activation_name == activations.serialize(activations.get(name))
        assert gradcheck.check_model(model, _points(name, {}, np.random.default_rng(2), (16, 3), 1.0), x[:, :1]).ok


@pytest.mark.parametrize("bad,error", [("nope", ValueError), (3, TypeError), (Dense(2), TypeError)])
def test_unknown_activations_are_refused_by_name(bad, error):
    with pytest.raises(error, match="activation"):
        Dense(3, activation=bad)


@pytest.mark.parametrize("make,match", [(lambda: ReLU(max_value=-1), "max_value"),
                                        (lambda: ReLU(negative_slope=-0.1), "negative_slope"),
                                        (lambda: LeakyReLU(negative_slope="a"), "negative_slope"),
                                        (lambda: ELU(alpha=float("nan")), "alpha"),
                                        (lambda: Softmax(axis=1.5), "axis"),
                                        (lambda: Dense(2, activation=ReLU(max_value=6)), "activation")])
def test_bad_activation_options_are_refused_by_name(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


@pytest.mark.parametrize("activation, options, error, match", [
    ("relu", {"axis": -1}, TypeError, r"^axis: the activation 'relu' takes the options \['negative_slope', "),
    ("tanh", {"alpha": 1.0}, TypeError, r"^alpha: the activation 'tanh' takes no options, received alpha=1.0"),
    ("softmax", {"axis": "x"}, TypeError, r"^axis: expected an integer, received 'x'"),
    ("softmax", {"axis": 1.0}, TypeError, r"^axis: expected an integer, received 1.0"),
    ("relu", {"max_value": -1}, ValueError, r"^max_value: expected a number in \[0.0, inf\), received -1"),
    ("leaky_relu", {"negative_slope": -0.1}, ValueError, r"^negative_slope: expected a number in \[0.0, inf\)"),
    ("gelu", {"approximate": 1}, TypeError, r"^approximate: expected True or False, received 1"),
    ("elu", {"alpha": float("nan")}, ValueError, r"^alpha: "),
])
def test_activation_options_are_checked_when_the_layer_is_made(activation, options, error, match):
    """Keras refuses an option its activation does not take when the layer is made, not at the first call."""
    with pytest.raises(error, match=match):
        Activation(activation, **options)


def test_activation_options_of_the_right_kind_are_kept():
    layer = Activation("relu", max_value=6, negative_slope=0.1, threshold=0.5)
    assert layer.get_config() == {"name": layer.name, "max_value": 6.0, "negative_slope": 0.1, "threshold": 0.5,
                                  "activation": "relu"}
    np.testing.assert_allclose(layer(np.array([[-1.0, 0.6, 9.0]])), [[-0.15, 0.6, 6.0]])


def test_get_activation_makes_a_fresh_layer_or_none_for_the_identity():
    from tinynet.layers import get_activation
    assert get_activation(None) is None and get_activation("linear") is None
    from tinynet.activations import linear
    assert get_activation(linear) is None
    relu = get_activation("relu")
    assert isinstance(relu, Activation) and relu.activation_name == "relu" and relu.options == {}
    capped = ReLU(max_value=6.0)
    copy = get_activation(capped)
    assert copy is not capped and copy.activation_name == "relu" and copy.options == {"max_value": 6.0}
    np.testing.assert_array_equal(copy(np.array([[-1.0, 3.0, 9.0]])), [[0.0, 3.0, 6.0]])
    with_options = get_activation(Activation("linear", name="x"))
    assert with_options is None                          # the identity, whatever layer it came in
    with pytest.raises(TypeError, match=r"^activation: expected an activation name, function or activation layer, "
                                        r"received <Dense name="):
        get_activation(Dense(2))


def test_every_option_of_every_activation_is_checked():
    import inspect
    for name in activations.NAMES:
        for option in list(inspect.signature(activations.get(name)).parameters)[1:]:
            with pytest.raises((TypeError, ValueError), match=rf"^{option}: "):
                Activation(name, **{option: "x"})


def test_layer_configs_hold_only_the_options_that_differ_from_the_defaults():
    from tinynet.layers import Linear
    assert Softmax().get_config() == {"name": "softmax"}
    assert Softmax(axis=1).get_config() == {"name": "softmax", "axis": 1}
    assert Softmax(axis=-2).get_config() == {"name": "softmax", "axis": -2}
    assert ReLU().get_config() == {"name": "re_lu"} and ReLU(threshold=0.5).get_config()["threshold"] == 0.5
    assert Activation("gelu", approximate=True).get_config()["approximate"] is True
    assert Linear().activation_name == "linear" and Linear().get_config() == {"name": "linear"}
