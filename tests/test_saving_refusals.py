"""What ``load_model`` says when it refuses a file (docs/errors.md, "Files from elsewhere"): each edit of a real
saved file below is refused with a ``ValueError`` that names the file, the place in it and what was expected, in
exactly these words; the values at the limits still load. NumPy only, and fast: `make mutate` runs this file for
every mutant of saving.py.
"""

from __future__ import annotations

import copy
import json
import re

import numpy as np
import pytest

import tinynet
from tinynet import Sequential, layers, losses, metrics, optimizers, regularizers
from tinynet.optimizers import schedules


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """``(arrays, config)`` of a trained model with statistics, dropout, an activation layer, a schedule, metrics
    and Adam's moments."""
    x = np.random.default_rng(0).standard_normal((16, 4)).astype(np.float32)
    norm = layers.Normalization(input_shape=(4,))
    norm.adapt(x)
    model = Sequential([norm, layers.Dense(3, activation="relu"), layers.Dropout(0.5), layers.Activation("tanh"),
                        layers.Dense(2)], seed=1)
    model.compile(loss=losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=optimizers.Adam(schedules.ExponentialDecay(0.01, 3, 0.5)),
                  metrics=["accuracy", metrics.SparseCategoricalAccuracy()])
    model.fit(x, np.arange(16) % 2, epochs=1, batch_size=8, verbose=0)
    return saved_file(model, tmp_path_factory.mktemp("refusals") / "model.npz")


def arrays_of(path) -> dict:
    """Every array of an ``.npz`` file, by name."""
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def saved_file(model, path) -> tuple[dict, dict]:
    """``(arrays, config)`` of ``model.save(path)``."""
    model.save(path)
    arrays = arrays_of(path)
    return arrays, json.loads(str(arrays["config.json"]))


def refusal(tmp_path, arrays) -> str | None:
    """Why ``load_model`` refuses a file of ``arrays`` (the reason in its message), or None if it loads."""
    path = tmp_path / "edited.npz"
    np.savez(path, **arrays)
    try:
        tinynet.load_model(path)
    except ValueError as exc:
        match = re.fullmatch(rf"path: {re.escape(repr(str(path)))} is not a valid tinynet model file \((.*)\)",
                             str(exc), flags=re.DOTALL)
        assert match, f"not the refusal's form: {exc}"
        return match.group(1)
    return None


def with_config(arrays, config) -> dict:
    return {**arrays, "config.json": np.array(config if isinstance(config, str) else json.dumps(config))}


def _parent(config, path):
    for key in path[:-1]:
        config = config[key]
    return config


def setk(path, value):
    def edit(config):
        _parent(config, path)[path[-1]] = value
        return config
    return edit


def delk(path):
    def edit(config):
        del _parent(config, path)[path[-1]]
        return config
    return edit


def whole(value):
    return lambda config: value


def nested(depth):
    value = "x"
    for _ in range(depth):
        value = [value]
    return value


L = "layers"
C = "compile"
OPT = ("compile", "optimizer", "config")
CONFIG_EDITS = [
    ('not-an-object', whole([1, 2]),
     'config.json: expected a JSON object, received [1, 2]'),
    ('format', setk(["format"], "keras"),
     "config.json['format']: expected 'tinynet.Sequential', received 'keras'"),
    ('version-0', setk(["version"], 0),
     "config.json['version']: expected an integer in [1, 9223372036854775808], received 0"),
    ('version-true', setk(["version"], True),
     "config.json['version']: expected an integer in [1, 9223372036854775808], received True"),
    ('version-newer', setk(["version"], 2),
     "config.json['version']: the file is format version 2, written by a newer tinynet; this one "
     'reads versions up to 1 (upgrade tinynet to read it)'),
    ('version-huge', setk(["version"], 2**63 + 1),
     "config.json['version']: expected an integer in [1, 9223372036854775808], received "
     '9223372036854775809'),
    ('model-name-not-text', setk(["name"], 5),
     "config.json['name']: expected a string, received 5"),
    ('layer-name-empty', setk([L, 1, "config", "name"], ""),
     "config.json['layers'][1]['config']['name']: expected a non-empty string, received ''"),
    ('layer-name-not-text', setk([L, 1, "config", "name"], 3),
     "config.json['layers'][1]['config']['name']: expected a non-empty string, received 3"),
    ('use-bias-not-bool', setk([L, 1, "config", "use_bias"], "yes"),
     "config.json['layers'][1]['config']['use_bias']: expected true or false, received 'yes'"),
    ('units-zero', setk([L, 1, "config", "units"], 0),
     "config.json['layers'][1]['config']['units']: expected an integer in [1, 1099511627776], "
     'received 0'),
    ('units-float', setk([L, 1, "config", "units"], 3.0),
     "config.json['layers'][1]['config']['units']: expected an integer in [1, 1099511627776], "
     'received 3.0'),
    ('units-bool', setk([L, 1, "config", "units"], True),
     "config.json['layers'][1]['config']['units']: expected an integer in [1, 1099511627776], "
     'received True'),
    ('rate-one', setk([L, 2, "config", "rate"], 1.0),
     "config.json['layers'][2]['config']['rate']: expected a number in [0.0, 1.0), received 1.0"),
    ('rate-text', setk([L, 2, "config", "rate"], "0.5"),
     "config.json['layers'][2]['config']['rate']: expected a number, received '0.5'"),
    ('rate-bool', setk([L, 2, "config", "rate"], True),
     "config.json['layers'][2]['config']['rate']: expected a number, received True"),
    ('rate-overflow', setk([L, 2, "config", "rate"], 10**400),
     "config.json['layers'][2]['config']['rate']: expected a number within float64's range, received "
     '10000000000000000000000000000000000000000000000000000000000000000000000000000...'),
    ('seed-negative', setk([L, 2, "config", "seed"], -1),
     "config.json['layers'][2]['config']['seed']: expected an integer in [0, "
     '340282366920938463463374607431768211455], received -1'),
    ('axis-2', setk([L, 0, "config", "axis"], 2),
     "config.json['layers'][0]['config']['axis']: expected one of [-1, 1], received 2"),
    ('axis-true', setk([L, 0, "config", "axis"], True),
     "config.json['layers'][0]['config']['axis']: expected one of [-1, 1], received True"),
    ('activation-unknown', setk([L, 1, "config", "activation"], "swishy"),
     "config.json['layers'][1]['config']['activation']: expected one of ['linear', 'relu', "
     "'leaky_relu', 'relu6', 'elu', 'selu', 'gelu', 'silu', 'softplus', 'softsign', 'hard_sigmoid', "
     "'exponential', 'sigmoid', 'tanh', 'softmax', 'log_softmax', 'swish'], received 'swishy'"),
    ('activation-layer-option-of-another', setk([L, 3, "config", "axis"], -1),
     "config.json['layers'][3]['config']: unknown key(s) ['axis']; expected keys among ['activation', "
     "'input_shape', 'name']"),
    ('activation-layer-not-object', setk([L, 3, "config"], [1]),
     "config.json['layers'][3]['config']: expected a JSON object, received [1]"),
    ('layer-unknown-key', setk([L, 1, "config", "colour"], "red"),
     "config.json['layers'][1]['config']: unknown key(s) ['colour']; expected keys among "
     "['activation', 'activity_regularizer', 'bias_initializer', 'bias_regularizer', 'input_shape', "
     "'kernel_initializer', 'kernel_regularizer', 'name', 'units', 'use_bias']"),
    ('layer-missing-units', delk([L, 1, "config", "units"]),
     "config.json['layers'][1]['config']: missing key(s) ['units']"),
    ('layer-unknown-class', setk([L, 1, "class_name"], "Conv2D"),
     "config.json['layers'][1]['class_name']: expected a layer class of tinynet, one of "
     "['Activation', 'Dense', 'Dropout', 'ELU', 'Flatten', 'LeakyReLU', 'Linear', 'Normalization', "
     "'ReLU', 'Sigmoid', 'Softmax', 'Tanh'], received 'Conv2D'"),
    ('layer-class-not-text', setk([L, 1, "class_name"], 7),
     "config.json['layers'][1]['class_name']: expected a layer class of tinynet, one of "
     "['Activation', 'Dense', 'Dropout', 'ELU', 'Flatten', 'LeakyReLU', 'Linear', 'Normalization', "
     "'ReLU', 'Sigmoid', 'Softmax', 'Tanh'], received 7"),
    ('layer-not-a-spec', setk([L, 1], {"class_name": "Dense"}),
     "config.json['layers'][1]: expected a layer as {'class_name': ..., 'config': {...}}, received "
     "{'class_name': 'Dense'}"),
    ('layers-empty', setk([L], []),
     "config.json['layers']: expected a list of 1 to 10000 items, received []"),
    ('layers-not-list', setk([L], {"a": 1}),
     "config.json['layers']: expected a list of 1 to 10000 items, received {'a': 1}"),
    ('input-shape-empty', setk(["input_shape"], []),
     "config.json['input_shape']: expected a list of 1 to 32 items, received []"),
    ('input-shape-zero', setk(["input_shape"], [0]),
     "config.json['input_shape'][0]: expected an integer in [1, 1099511627776], received 0"),
    ('input-shape-33-dims', setk(["input_shape"], [1] * 33),
     "config.json['input_shape']: expected a list of 1 to 32 items, received [1, 1, 1, 1, 1, 1, 1, 1, "
     '1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1...'),
    ('input-shape-too-many-values', setk(["input_shape"], [2**20, 2**20, 2]),
     "config.json['input_shape']: expected a shape of at most 1099511627776 values, received "
     '[1048576, 1048576, 2]'),
    ('layer-input-shape-disagrees', setk([L, 1, "config", "input_shape"], [5]),
     "config.json['layers'][1]['config']['input_shape']: expected [4], the shape that reaches the "
     'layer, received [5]'),
    ('dtype-float16', setk(["dtype"], "float16"),
     "config.json['dtype']: expected one of ['float32', 'float64'], received 'float16'"),
    ('loss-unknown', setk([C, "loss", "class_name"], "Huber"),
     "config.json['compile']['loss']['class_name']: expected a loss class of tinynet, one of "
     "['BinaryCrossentropy', 'CategoricalCrossentropy', 'MeanAbsoluteError', 'MeanSquaredError', "
     "'SparseCategoricalCrossentropy'], received 'Huber'"),
    ('reduction-unknown', setk([C, "loss", "config", "reduction"], "max"),
     "config.json['compile']['loss']['config']['reduction']: expected one of ['sum_over_batch_size', "
     "'mean', 'mean_with_sample_weight', 'sum'], received 'max'"),
    ('loss-dtype', setk([C, "loss", "config", "dtype"], "int8"),
     "config.json['compile']['loss']['config']['dtype']: expected one of ['float32', 'float64'], "
     "received 'int8'"),
    ('ignore-class', setk([C, "loss", "config", "ignore_class"], 0),
     "config.json['compile']['loss']['config']['ignore_class']: expected one of [None], received 0"),
    ('optimizer-unknown', setk([C, "optimizer", "class_name"], "Nadam"),
     "config.json['compile']['optimizer']['class_name']: expected an optimizer class of tinynet, one "
     "of ['Adagrad', 'Adam', 'AdamW', 'RMSprop', 'SGD'], received 'Nadam'"),
    ('optimizer-name-number', setk([*OPT, "name"], 1),
     "config.json['compile']['optimizer']['config']['name']: expected a string, received 1"),
    ('learning-rate-negative', setk([*OPT, "learning_rate"], -0.1),
     "config.json['compile']['optimizer']['config']['learning_rate']: expected a number in [0.0, "
     'inf), received -0.1'),
    ('schedule-unknown', setk([*OPT, "learning_rate", "class_name"], "CosineDecay"),
     "config.json['compile']['optimizer']['config']['learning_rate']['class_name']: expected a "
     "learning-rate schedule class of tinynet, one of ['ExponentialDecay', 'InverseTimeDecay', "
     "'PiecewiseConstantDecay'], received 'CosineDecay'"),
    ('schedule-decay-steps-zero', setk([*OPT, "learning_rate", "config", "decay_steps"], 0),
     "config.json['compile']['optimizer']['config']['learning_rate']['config']['decay_steps']: "
     'expected a number in (0.0, inf), received 0.0'),
    ('beta-1-one', setk([*OPT, "beta_1"], 1.0),
     "config.json['compile']['optimizer']['config']['beta_1']: expected a number in [0.0, 1.0), "
     'received 1.0'),
    ('clipnorm-zero', setk([*OPT, "clipnorm"], 0.0),
     "config.json['compile']['optimizer']['config']['clipnorm']: expected a number in (0.0, inf), "
     'received 0.0'),
    ('amsgrad-number', setk([*OPT, "amsgrad"], 0),
     "config.json['compile']['optimizer']['config']['amsgrad']: expected true or false, received 0"),
    ('metric-name-unknown', setk([C, "metrics", 0], "f1"),
     "config.json['compile']['metrics'][0]: metrics: expected one of ['BinaryAccuracy', "
     "'BinaryCrossentropy', 'CategoricalAccuracy', 'CategoricalCrossentropy', 'MAE', 'MSE', "
     "'MeanAbsoluteError', 'MeanSquaredError', 'SparseCategoricalAccuracy', "
     "'SparseCategoricalCrossentropy', 'acc', 'accuracy', 'binary_accuracy', 'binary_crossentropy', "
     "'categorical_accuracy', 'categorical_crossentropy', 'mae', 'mean_absolute_error', "
     "'mean_squared_error', 'mse', 'sparse_categorical_accuracy', 'sparse_categorical_crossentropy'] "
     "or a Metric, received 'f1'"),
    ('metric-unknown-class', setk([C, "metrics", 1, "class_name"], "AUC"),
     "config.json['compile']['metrics'][1]['class_name']: expected a metric class of tinynet, one of "
     "['BinaryAccuracy', 'BinaryCrossentropy', 'CategoricalAccuracy', 'CategoricalCrossentropy', "
     "'Mean', 'MeanAbsoluteError', 'MeanMetricWrapper', 'MeanSquaredError', "
     "'SparseCategoricalAccuracy', 'SparseCategoricalCrossentropy'], received 'AUC'"),
    ('metric-not-a-spec', setk([C, "metrics", 1], 5),
     "config.json['compile']['metrics'][1]: expected a metric as {'class_name': ..., 'config': "
     '{...}}, received 5'),
    ('metrics-not-list', setk([C, "metrics"], "accuracy"),
     "config.json['compile']['metrics']: expected a list of 0 to 100000 items, received 'accuracy'"),
    ('compile-missing-loss', delk([C, "loss"]),
     "config.json['compile']: missing key(s) ['loss']"),
    ('rng-unknown', setk(["rng_state", "bit_generator"], "Xoshiro"),
     "config.json['rng_state']['bit_generator']: expected one of NumPy's bit generators ['MT19937', "
     "'PCG64', 'PCG64DXSM', 'Philox', 'SFC64'], received 'Xoshiro'"),
    ('rng-not-object', setk(["rng_state"], [1]),
     "config.json['rng_state']['bit_generator']: expected one of NumPy's bit generators ['MT19937', "
     "'PCG64', 'PCG64DXSM', 'Philox', 'SFC64'], received None"),
    ('rng-inc-negative', setk(["rng_state", "state", "inc"], -1),
     "config.json['rng_state']['state']['inc']: expected an integer in [0, "
     '340282366920938463463374607431768211455], received -1'),
    ('rng-has-uint32-true', setk(["rng_state", "has_uint32"], True),
     "config.json['rng_state']['has_uint32']: expected one of [0, 1], received True"),
    ('duplicate-layer-names', setk([L, 4, "config", "name"], "dense"),
     "config.json['layers'][4]['config']['name']: 'dense' is also the name of layers[1]; expected a "
     'name of its own'),
    ('nested-33', setk(["name"], nested(31)),
     "config.json['name']: expected a string, received "
     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[['x']]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"),]


@pytest.mark.parametrize("edit, reason", [case[1:] for case in CONFIG_EDITS], ids=[case[0] for case in CONFIG_EDITS])
def test_a_config_edit_is_refused_naming_the_place_and_what_was_expected(saved, tmp_path, edit, reason):
    arrays, config = saved
    assert refusal(tmp_path, with_config(arrays, edit(copy.deepcopy(config)))) == reason


def test_the_saved_file_itself_loads(saved, tmp_path):
    assert refusal(tmp_path, saved[0]) is None


@pytest.mark.parametrize("change, reason", [
    (lambda text, c: json.dumps({**c, "name": nested(32)}), "config.json: nested more than 32 deep"),
    (lambda text, c: text.replace('"rate": 0.5', '"rate": NaN'),
     "config.json: not valid JSON (NaN is not a JSON number)"),
    (lambda text, c: text.replace('"rate": 0.5', '"rate": 0.5, "rate": 0.25'),
     "config.json: not valid JSON (an object repeats a key (['input_shape', 'name', 'rate', 'rate', 'seed']...))"),
    (lambda text, c: text + " " * ((4 << 20) + 1 - len(text)),
     "config.json: holds 4194305 characters; a model's config has at most 4194304"),
], ids=["nested-33", "nan", "repeated-key", "one-character-too-long"])
def test_config_text_that_is_not_plain_json_of_a_sane_size_is_refused(saved, tmp_path, change, reason):
    arrays, config = saved
    text = json.dumps(config)
    assert refusal(tmp_path, with_config(arrays, change(text, config))) == reason


def test_config_text_at_the_limits_loads(saved, tmp_path):
    arrays, config = saved
    text = json.dumps(config)
    assert refusal(tmp_path, with_config(arrays, text + " " * ((4 << 20) - len(text)))) is None   # 4 Mi characters
    # 32 deep passes the JSON reader and reaches the schema (the model's name must be a string)
    assert refusal(tmp_path, with_config(arrays, {**config, "name": nested(31)})).startswith(
        "config.json['name']: expected a string, received [[[")
    assert refusal(tmp_path, with_config(arrays, text[:-1])).startswith("config.json: not valid JSON (Expecting")


def test_config_json_that_is_missing_or_not_a_text_scalar_is_refused(saved, tmp_path):
    arrays, config = saved
    text = json.dumps(config)
    assert refusal(tmp_path, {k: v for k, v in arrays.items() if k != "config.json"}) == \
        "no config.json entry; weights-only files are read with model.load_weights"
    assert refusal(tmp_path, {**arrays, "config.json": np.array([text, text])}) == (
        f"config.json: expected a text scalar (a 0-d unicode array), the file holds an array of shape (2,) and "
        f"dtype <U{len(text)}")


def test_input_shapes_at_the_size_limit_pass_the_schema(saved, tmp_path):
    arrays, config = saved
    # 2**40 values in a sample is the limit the schema allows; the arrays, saved for 4 inputs, then disagree
    reason = refusal(tmp_path, with_config(arrays, {**config, "input_shape": [2**20, 2**20]}))
    assert reason == ("config.json['layers'][0]['config']['input_shape']: expected [1048576, 1048576], the shape "
                      "that reaches the layer, received [4]")


def _edit_array(arrays, key, values):
    return {**arrays, key: np.asarray(values, dtype=arrays[key].dtype).reshape(arrays[key].shape)}


def test_array_values_that_no_saved_model_holds_are_refused(saved, tmp_path):
    arrays, _ = saved
    kernel = arrays["weights/003/dense/kernel"].copy()
    kernel[0, 0] = np.nan
    assert refusal(tmp_path, {**arrays, "weights/003/dense/kernel": kernel}) == \
        "weights/003/dense/kernel: expected finite values, the array holds NaN or inf"
    assert refusal(tmp_path, {**arrays, "optimizer/m_0": np.full_like(arrays["optimizer/m_0"], np.inf)}) == \
        "optimizer/m_0: expected finite values, the array holds NaN or inf"
    assert refusal(tmp_path, _edit_array(arrays, "weights/001/normalization/variance", [1.0, -0.5, 2.0, 3.0])) == \
        "weights/001/normalization/variance: expected variances >= 0, the array holds -0.5"
    assert refusal(tmp_path, {**arrays, "optimizer/iterations": np.array(-1)}) == \
        "optimizer/iterations: expected a step count >= 0, received -1"
    without_moments = {k: v for k, v in arrays.items() if k not in ("optimizer/m_0", "optimizer/v_0")}
    assert refusal(tmp_path, without_moments) == \
        "optimizer/iterations: 2 steps taken, but the optimizer's state ['m', 'v'] is not in the file"


def test_a_zero_variance_loads_as_adapt_gives_it_for_a_constant_feature(saved, tmp_path):
    arrays, _ = saved
    assert refusal(tmp_path, _edit_array(arrays, "weights/001/normalization/variance", [1.0, 0.0, 2.0, 3.0])) is None


def test_missing_arrays_are_listed_six_at_most_with_the_count(saved, tmp_path):
    arrays, _ = saved
    expected = ("['weights/000/normalization/mean', 'weights/001/normalization/variance', "
                "'weights/002/normalization/count', 'weights/003/dense/kernel', 'weights/004/dense/bias', "
                "'weights/005/dense_1/kernel'")
    assert refusal(tmp_path, {k: v for k, v in arrays.items() if not k.startswith("weights/")}) == (
        f"expected the arrays {expected}, ... (10 in all)]; the file lacks {expected}, ... (7 in all)] and has "
        f"unexpected []")
    assert refusal(tmp_path, {k: v for k, v in arrays.items() if k != "weights/006/dense_1/bias"}) == (
        f"expected the arrays {expected}, ... (10 in all)]; the file lacks ['weights/006/dense_1/bias'] and has "
        f"unexpected []")
    six = {k: v for k, v in arrays.items() if k not in ("weights/000/normalization/mean",)}
    assert refusal(tmp_path, {**six, "extra": np.zeros(1)}) == (
        f"expected the arrays {expected}, ... (10 in all)]; the file lacks ['weights/000/normalization/mean'] and "
        f"has unexpected ['extra']")
    lacking_six = {k: v for k, v in arrays.items() if not k.startswith(tuple(f"weights/00{i}" for i in range(6)))}
    assert refusal(tmp_path, lacking_six) == (
        f"expected the arrays {expected}, ... (10 in all)]; the file lacks {expected}] and has unexpected []")


def test_a_float64_model_loads_as_float64_under_its_name(tmp_path):
    model = Sequential([layers.Dense(2, input_shape=(3,))], dtype="float64", name="digits", seed=0)
    model.save(tmp_path / "m.npz")
    loaded = tinynet.load_model(tmp_path / "m.npz")
    assert (loaded.dtype, loaded.name) == (np.dtype(np.float64), "digits")
    assert all(w.dtype == np.float64 for w in loaded.get_weights())
    x = np.random.default_rng(1).standard_normal((4, 3))
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_weights_saved_in_the_other_float_dtype_load_converted(tmp_path):
    # as set_weights converts (and Keras's load_weights casts): float64 weights into a float32 model and back
    wide = Sequential([layers.Dense(2, input_shape=(3,))], dtype="float64", seed=0)
    narrow = Sequential([layers.Dense(2, input_shape=(3,))], dtype="float32", seed=1)
    wide.save_weights(tmp_path / "wide.weights.npz")
    narrow.load_weights(tmp_path / "wide.weights.npz")
    for a, b in zip(narrow.get_weights(), wide.get_weights(), strict=True):
        assert a.dtype == np.float32
        np.testing.assert_array_equal(a, b.astype(np.float32))
    narrow.save_weights(tmp_path / "narrow.weights.npz")
    wide.load_weights(tmp_path / "narrow.weights.npz")
    assert all(w.dtype == np.float64 for w in wide.get_weights())


def test_load_weights_takes_either_float_dtype_for_a_parameter_but_only_int64_for_a_count(tmp_path):
    norm = layers.Normalization(input_shape=(3,))
    norm.adapt(np.arange(12.0).reshape(4, 3))
    model = Sequential([norm, layers.Dense(2)], seed=0)
    path = tmp_path / "w.weights.npz"
    model.save_weights(path)
    arrays = arrays_of(path)
    np.savez(path, **{**arrays, "003/dense/kernel": arrays["003/dense/kernel"].astype(np.float64)})
    model.load_weights(path)                                  # converted, as set_weights converts
    np.savez(path, **{**arrays, "002/normalization/count": arrays["002/normalization/count"].astype(np.float64)})
    message = (f"path: {str(path)!r} does not hold this model's weights (002/normalization/count: expected an "
               f"array of shape () and dtype int64, the file holds an array of shape () and dtype float64)")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        model.load_weights(path)


@pytest.fixture(scope="module")
def binary(tmp_path_factory):
    """``(arrays, config)`` of a model with every regularizer, Activation layers with each function option, a
    label-smoothed binary loss and metric, SGD with momentum and a weighted metric."""
    x = np.random.default_rng(0).standard_normal((16, 4)).astype(np.float32)
    model = Sequential([
        layers.Dense(3, activation="relu", input_shape=(4,), kernel_regularizer=regularizers.L1L2(0.01, 0.02),
                     bias_regularizer=regularizers.L1(0.01), activity_regularizer=regularizers.L2(0.001)),
        layers.Activation("leaky_relu", negative_slope=0.3), layers.Activation("relu", max_value=6.0, threshold=0.1),
        layers.Activation("elu", alpha=0.5), layers.Activation("gelu", approximate=True),
        layers.Activation("softmax", axis=-1), layers.Dense(1, activation="sigmoid")], seed=2)
    model.compile(loss=losses.BinaryCrossentropy(label_smoothing=0.1), optimizer=optimizers.SGD(0.1, momentum=0.5),
                  metrics=[metrics.BinaryCrossentropy(label_smoothing=0.1)], weighted_metrics=["mse"])
    model.fit(x, (np.arange(16) % 2).astype(np.float32), epochs=1, batch_size=8, verbose=0)
    return saved_file(model, tmp_path_factory.mktemp("binary") / "model.npz")


def _drop_layer_input_shapes(config):
    for layer in config["layers"]:
        layer["config"].pop("input_shape", None)
    return config


def _regularizers_with_default_arguments(config):
    for kind in ("kernel_regularizer", "bias_regularizer", "activity_regularizer"):
        config["layers"][0]["config"][kind]["config"] = {}
    return config


def _drop_metric_keys(config):
    del config["compile"]["metrics"], config["compile"]["weighted_metrics"]
    return config


SGD_CONFIG = ("compile", "optimizer", "config")
BINARY_EDITS = [
    ("momentum-negative", setk([*SGD_CONFIG, "momentum"], -0.1),
     "config.json['compile']['optimizer']['config']['momentum']: expected a number in [0.0, 1.0], received -0.1"),
    ("momentum-above-1", setk([*SGD_CONFIG, "momentum"], 1.5),
     "config.json['compile']['optimizer']['config']['momentum']: expected a number in [0.0, 1.0], received 1.5"),
    ("momentum-1", setk([*SGD_CONFIG, "momentum"], 1.0), None),
    ("smoothing-negative", setk([C, "loss", "config", "label_smoothing"], -0.1),
     "config.json['compile']['loss']['config']['label_smoothing']: expected a number in [0.0, 1.0], received -0.1"),
    ("smoothing-above-1", setk([C, "metrics", 0, "config", "label_smoothing"], 1.5),
     "config.json['compile']['metrics'][0]['config']['label_smoothing']: expected a number in [0.0, 1.0], received "
     "1.5"),
    ("smoothing-1", setk([C, "loss", "config", "label_smoothing"], 1.0), None),
    ("axis-below", setk([L, 5, "config", "axis"], -34),
     "config.json['layers'][5]['config']['axis']: expected an integer in [-33, 32], received -34"),
    ("axis-above", setk([L, 5, "config", "axis"], 33),
     "config.json['layers'][5]['config']['axis']: expected an integer in [-33, 32], received 33"),
    ("axis-lowest", setk([L, 5, "config", "axis"], -33), None),
    ("axis-highest", setk([L, 5, "config", "axis"], 32), None),
    ("regularizer-arguments-default", _regularizers_with_default_arguments, None),
    ("regularizer-unknown", setk([L, 0, "config", "kernel_regularizer", "class_name"], "OrthogonalRegularizer"),
     "config.json['layers'][0]['config']['kernel_regularizer']['class_name']: expected a regularizer class of "
     "tinynet, one of ['L1', 'L1L2', 'L2'], received 'OrthogonalRegularizer'"),
    ("five-unknown-keys-of-six-shown", lambda c: c[L][6]["config"].update({f"k{i}": 1 for i in range(6)}) or c,
     "config.json['layers'][6]['config']: unknown key(s) ['k0', 'k1', 'k2', 'k3', 'k4']; expected keys among "
     "['activation', 'activity_regularizer', 'bias_initializer', 'bias_regularizer', 'input_shape', "
     "'kernel_initializer', 'kernel_regularizer', 'name', 'units', 'use_bias']"),
    ("no-metric-keys", _drop_metric_keys, None),
    ("no-layer-input-shapes", _drop_layer_input_shapes, None),
    ("two-clips", lambda c: c[C]["optimizer"]["config"].update(clipnorm=1.0, clipvalue=0.5) or c,
     "config.json['compile']: clipnorm, clipvalue, global_clipnorm: expected at most one of them to be set (as in "
     "Keras), received clipnorm=1.0, clipvalue=0.5"),
]


@pytest.mark.parametrize("edit, reason", [case[1:] for case in BINARY_EDITS], ids=[case[0] for case in BINARY_EDITS])
def test_bounds_optional_keys_and_constructor_refusals_of_the_second_model(binary, tmp_path, edit, reason):
    arrays, config = binary
    assert refusal(tmp_path, with_config(arrays, edit(copy.deepcopy(config)))) == reason


def test_each_activation_option_round_trips_and_a_loaded_model_saves_the_same_config(binary, tmp_path):
    arrays, config = binary
    path = tmp_path / "again.npz"
    np.savez(tmp_path / "model.npz", **arrays)
    tinynet.load_model(tmp_path / "model.npz").save(path)
    assert json.loads(str(arrays_of(path)["config.json"])) == config


def test_a_layer_that_cannot_take_the_input_shape_is_named(saved, tmp_path):
    arrays, config = saved
    config = {**copy.deepcopy(config), "input_shape": [2, 2]}
    del config["layers"][0]["config"]["input_shape"]
    assert refusal(tmp_path, with_config(arrays, config)) == (
        "config.json['layers'][0]: input_shape: expected (features,) for Normalization 'normalization', received "
        "(2, 2)")


def test_layer_options_may_be_left_out_and_then_take_their_defaults(tmp_path):
    norm = layers.Normalization(input_shape=(3,), invert=False)
    norm.adapt(np.arange(12.0).reshape(4, 3))
    model = Sequential([norm, layers.ReLU(max_value=6.0, negative_slope=0.1, threshold=0.2), layers.LeakyReLU(0.2),
                        layers.ELU(0.9), layers.Softmax(axis=1)], seed=0)
    arrays, config = saved_file(model, tmp_path / "model.npz")
    assert refusal(tmp_path, arrays) is None
    defaults = copy.deepcopy(config)
    for layer in defaults["layers"]:
        for key in ("axis", "invert", "max_value", "negative_slope", "threshold", "alpha"):
            layer["config"].pop(key, None)
    assert refusal(tmp_path, with_config(arrays, defaults)) is None
    loaded = tinynet.load_model(tmp_path / "edited.npz")
    assert [type(layer).__name__ for layer in loaded.layers] == ["Normalization", "ReLU", "LeakyReLU", "ELU", "Softmax"]
    assert loaded.layers[1].get_config() == {"name": "re_lu", "input_shape": [3]}      # the defaults, not 0.1


# -- the schema's bounds, checked on configs directly (no file): at each limit and one past it ------------------
F32 = float(np.finfo(np.float32).max)


def _learning_rate(spec):
    def edit(config):
        config["compile"]["optimizer"]["config"]["learning_rate"] = spec
        return config
    return edit


def _piecewise(boundaries, values):
    return _learning_rate({"class_name": "PiecewiseConstantDecay",
                           "config": {"boundaries": boundaries, "values": values}})


def _exponential(rate):
    return _learning_rate({"class_name": "ExponentialDecay",
                           "config": {"initial_learning_rate": rate, "decay_steps": 3, "decay_rate": 0.5}})


def _empty_config(part):
    def edit(config):
        config["compile"][part]["config"] = {}
        return config
    return edit


def _metric_added(class_name, **options):
    def edit(config):
        config["compile"]["metrics"].append({"class_name": class_name, "config": options})
        return config
    return edit


def _without_metric_name(config):
    del config["compile"]["metrics"][1]["config"]["name"]
    return config


def _rng(state):
    def edit(config):
        config["rng_state"] = state
        return config
    return edit


def _pcg(state=0, inc=1, uinteger=0):
    return _rng({"bit_generator": "PCG64", "state": {"state": state, "inc": inc}, "has_uint32": 0,
                 "uinteger": uinteger})


def _mt(key=None, pos=0, dtype="<u4"):
    return _rng({"bit_generator": "MT19937",
                 "state": {"key": {"array": [0] * 624 if key is None else key, "dtype": dtype}, "pos": pos}})


def _philox(buffer_pos=0, counter=0, dtype="<u8"):
    def array(values):
        return {"array": values, "dtype": dtype}
    return _rng({"bit_generator": "Philox", "state": {"counter": array([counter, 0, 0, 0]), "key": array([0, 0])},
                 "buffer": array([0] * 4), "buffer_pos": buffer_pos, "has_uint32": 0, "uinteger": 0})


SCHEMA_EDITS = {
    "exp-neg": _exponential(-0.1), "exp-max": _exponential(F32), "exp-over": _exponential(3.5e38),
    "pw-empty": _piecewise([], [0.1]), "pw-one": _piecewise([5], [0.1, 0.2]),
    "pw-low": _piecewise([-2**63], [0.1, 0.2]), "pw-below": _piecewise([-2**63 - 1], [0.1, 0.2]),
    "pw-high": _piecewise([2**63 - 1], [0.1, 0.2]), "pw-above": _piecewise([2**63], [0.1, 0.2]),
    "pw-one-value": _piecewise([5], [0.1]),
    "pw-most-values": _piecewise([5], [0.1] * 100001), "pw-too-many-values": _piecewise([5], [0.1] * 100002),
    "loss-empty": _empty_config("loss"), "optimizer-empty": _empty_config("optimizer"),
    "metric-no-name": _without_metric_name,
    "wrapper": _metric_added("MeanMetricWrapper", fn="mean_squared_error", threshold=-F32),
    "wrapper-no-fn": _metric_added("MeanMetricWrapper", threshold=F32),
    "wrapper-over": _metric_added("MeanMetricWrapper", fn="mean_squared_error", threshold=-3.5e38),
    "binacc-over": _metric_added("BinaryAccuracy", threshold=3.5e38),
    "pcg-max": _pcg(state=2**128 - 1, inc=2**128 - 1, uinteger=2**32 - 1), "pcg-zero": _pcg(state=0, inc=0),
    "pcg-state-over": _pcg(state=2**128), "pcg-u-over": _pcg(uinteger=2**32),
    "mt-pos-624": _mt(pos=624), "mt-pos-625": _mt(pos=625),
    "mt-key-max": _mt(key=[2**32 - 1] * 624, dtype=">u4"), "mt-key-over": _mt(key=[2**32] * 624),
    "mt-key-short": _mt(key=[0] * 623), "mt-key-long": _mt(key=[0] * 625), "mt-dtype": _mt(dtype="=u4"),
    "philox-pos-4": _philox(buffer_pos=4, counter=2**64 - 1, dtype=">u8"), "philox-pos-5": _philox(buffer_pos=5),
    "philox-counter-over": _philox(counter=2**64),
}

SCHEMA_BOUNDS = {
    'exp-neg':
        "config.json['compile']['optimizer']['config']['learning_rate']['config']['initial_learning_rate']: "
        'expected a number in [0.0, 3.4028234663852886e+38], received -0.1',
    'exp-max': None,
    'exp-over':
        "config.json['compile']['optimizer']['config']['learning_rate']['config']['initial_learning_rate']: "
        'expected a number in [0.0, 3.4028234663852886e+38], received 3.5e+38',
    'pw-empty':
        "config.json['compile']['optimizer']['config']['learning_rate']['config']['boundaries']: "
        'expected a list of 1 to 100000 items, received []',
    'pw-one': None,
    'pw-low': None,
    'pw-below':
        "config.json['compile']['optimizer']['config']['learning_rate']['config']['boundaries'][0]: "
        'expected an integer in [-9223372036854775808, 9223372036854775807], received '
        '-9223372036854775809',
    'pw-high': None,
    'pw-above':
        "config.json['compile']['optimizer']['config']['learning_rate']['config']['boundaries'][0]: "
        'expected an integer in [-9223372036854775808, 9223372036854775807], received '
        '9223372036854775808',
    'pw-one-value':
        "config.json['compile']['optimizer']['config']['learning_rate']['config']['values']: "
        'expected a list of 2 to 100001 items, received [0.1]',
    'pw-most-values': None,
    'pw-too-many-values':
        "config.json['compile']['optimizer']['config']['learning_rate']['config']['values']: "
        'expected a list of 2 to 100001 items, received [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, '
        '0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0...',
    'loss-empty': None,
    'optimizer-empty': None,
    'metric-no-name': None,
    'wrapper': None,
    'wrapper-no-fn':
        "config.json['compile']['metrics'][2]['config']: missing key(s) ['fn']",
    'wrapper-over':
        "config.json['compile']['metrics'][2]['config']['threshold']: expected a number in "
        '[-3.4028234663852886e+38, 3.4028234663852886e+38], received -3.5e+38',
    'binacc-over':
        "config.json['compile']['metrics'][2]['config']['threshold']: expected a number in "
        '[-3.4028234663852886e+38, 3.4028234663852886e+38], received 3.5e+38',
    'pcg-max': None,
    'pcg-zero': None,
    'pcg-state-over':
        "config.json['rng_state']['state']['state']: expected an integer in [0, "
        '340282366920938463463374607431768211455], received 340282366920938463463374607431768211456',
    'pcg-u-over':
        "config.json['rng_state']['uinteger']: expected an integer in [0, 4294967295], received "
        '4294967296',
    'mt-pos-624': None,
    'mt-pos-625':
        "config.json['rng_state']['state']['pos']: expected an integer in [0, 624], received 625",
    'mt-key-max': None,
    'mt-key-over':
        "config.json['rng_state']['state']['key']['array'][0]: expected an integer in [0, "
        '4294967295], received 4294967296',
    'mt-key-short':
        "config.json['rng_state']['state']['key']['array']: expected a list of 624 to 624 items, "
        'received [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0...',
    'mt-key-long':
        "config.json['rng_state']['state']['key']['array']: expected a list of 624 to 624 items, "
        'received [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0...',
    'mt-dtype':
        "config.json['rng_state']['state']['key']['dtype']: expected one of ['<u4', '>u4'], received "
        "'=u4'",
    'philox-pos-4': None,
    'philox-pos-5':
        "config.json['rng_state']['buffer_pos']: expected an integer in [0, 4], received 5",
    'philox-counter-over':
        "config.json['rng_state']['state']['counter']['array'][0]: expected an integer in [0, "
        '18446744073709551615], received 18446744073709551616',
}


@pytest.mark.parametrize("case", list(SCHEMA_BOUNDS))
def test_the_schema_takes_each_limit_and_refuses_one_past_it(saved, case):
    edited = SCHEMA_EDITS[case](copy.deepcopy(saved[1]))
    try:
        tinynet.saving.model_schema()(edited, "config.json")
        reason = None
    except ValueError as exc:
        reason = str(exc)
    expected = SCHEMA_BOUNDS[case]
    if expected is not None and expected.endswith("..."):       # a long value is shown cut short
        assert reason is not None and reason.startswith(expected[:-3]), reason
    else:
        assert reason == expected


def test_json_limits_reported_for_large_objects_and_for_nesting_past_the_recursion_limit(saved, tmp_path):
    arrays, config = saved
    text = json.dumps(config)
    assert refusal(tmp_path, with_config(arrays, text.replace('"units": 3,', '"units": 3, "units": 3,'))) == (
        "config.json: not valid JSON (an object repeats a key (['activation', 'bias_initializer', 'input_shape', "
        "'kernel_initializer', 'name']...))")                     # the first five of the object's sorted keys
    # deep enough that Python's JSON reader itself gives up (RecursionError): the same refusal as 33 deep
    assert refusal(tmp_path, with_config(arrays, "[" * 100_000 + "]" * 100_000)) == \
        "config.json: nested more than 32 deep"


def test_an_unbuilt_model_config_has_no_input_shape():
    assert Sequential([layers.Dense(2)]).get_config()["input_shape"] is None
    assert Sequential([layers.Dense(2, input_shape=(3,))]).get_config()["input_shape"] == [3]


def test_arrays_declaring_more_bytes_than_the_model_needs_and_weights_of_the_wrong_shape_are_refused(saved, tmp_path):
    arrays, _ = saved
    wide = {**arrays, "weights/003/dense/kernel": arrays["weights/003/dense/kernel"].astype(np.float64)}
    assert refusal(tmp_path, wide) == "the arrays declare 372 bytes in all; what the file describes needs 324"
    model = Sequential([layers.Dense(2, input_shape=(3,))], seed=0)
    path = tmp_path / "w.weights.npz"
    model.save_weights(path)
    np.savez(path, **{"000/dense/kernel": np.zeros((2, 2), np.float32), "001/dense/bias": np.zeros(2, np.float32)})
    message = (f"path: {str(path)!r} does not hold this model's weights (000/dense/kernel: expected an array of "
               f"shape (3, 2) and dtype float32 or float64, the file holds an array of shape (2, 2) and dtype float32)")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        model.load_weights(path)


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("where", [0, -1])
def test_config_text_with_a_code_point_beyond_unicode_is_refused(saved, tmp_path, order, where):
    """NumPy turns such a character into a corrupt str, or raises SystemError for a one-character text."""
    arrays, config = saved
    codes = np.array(json.dumps(config)).reshape(1).view("<u4").copy()
    codes[where] = 0x110000
    text = codes.astype(order + "u4").view(order + f"U{codes.size}").reshape(())
    assert refusal(tmp_path, {**arrays, "config.json": text}) == (
        f"config.json: not text (character {codes.size - 1 if where else 0} is 0x110000, beyond Unicode's last "
        f"code point 0x10ffff)")
    last = json.dumps({**config, "name": "\U0010ffff"}, ensure_ascii=False)     # the last code point, unescaped
    assert refusal(tmp_path, with_config(arrays, last)) is None
    one = np.array([0xFFFFFFFF], dtype=order + "u4").view(order + "U1").reshape(())
    assert refusal(tmp_path, {**arrays, "config.json": one}) == \
        "config.json: not text (character 0 is 0xffffffff, beyond Unicode's last code point 0x10ffff)"
