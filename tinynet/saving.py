"""Model files: the config round trip, ``save``/``load_model`` and weight files, all ``.npz`` without pickle.

``Sequential.save``, ``save_weights``, ``load_weights`` and ``get_config`` call the functions here;
``load_model`` rebuilds a model saved with ``Sequential.save``, ready to continue training exactly.

A file may come from elsewhere, so reading one is reading untrusted input (docs/errors.md, "Files from
elsewhere"). ``load_model`` takes four steps and builds nothing from the file before the last one:

1. the archive (:class:`tinynet._io.NpzReader`): the zip directory and every member's ``.npy`` header, checked
   against each other; no array data is read;
2. ``config.json`` (``read_config``): at most 4 Mi characters of plain JSON nested at most 32 deep, a format
   version this tinynet reads, then every key and value against the schema below;
3. the arrays (``expected_arrays``): the names, shapes and dtypes the config implies, worked out with the layers'
   ``param_specs`` and ``compute_output_shape`` (which create nothing), compared with the headers;
4. the arrays are read, each exactly its declared bytes, checked, and the model is built and filled.

Every refusal is a ``ValueError`` naming the file and what is wrong.
"""

from __future__ import annotations

import inspect
import json
import math
from types import SimpleNamespace

import numpy as np

from . import activations, initializers
from . import layers as layers_mod
from . import losses as losses_mod
from . import metrics as metrics_mod
from . import optimizers as optimizers_mod
from ._io import NpzError, NpzReader, atomic_savez
from ._validation import describe, real_number

FORMAT = "tinynet.Sequential"
FORMAT_VERSION = 1                  # what save_model writes, and the newest version load_model reads


def weight_file_names(model) -> list[str]:
    """The entry names of a weights file, in ``get_weights`` order: ``"000/dense/kernel"``, ... (unique)."""
    return [f"{i:03d}/{name}" for i, name in enumerate(model.weight_names)]


def model_config(model) -> dict:
    """Everything needed to rebuild ``model`` (not its weights) as JSON-ready data."""
    config = {
        "format": FORMAT, "version": FORMAT_VERSION, "name": model.name, "dtype": model.dtype.name,
        "input_shape": list(model.input_shape) if model.built else None,
        "layers": [{"class_name": type(layer).__name__, "config": layer.get_config()} for layer in model.layers],
        "compile": None,
    }
    if model.compiled:
        config["compile"] = {
            "loss": losses_mod.serialize(model.loss),
            "optimizer": {"class_name": type(model.optimizer).__name__, "config": model.optimizer.get_config()},
            "metrics": [_metric_spec(m) for m in model.metric_identifiers],
            "weighted_metrics": [_metric_spec(m) for m in model.weighted_metric_identifiers],
        }
    return config


def _metric_spec(identifier):
    """A metric as compile received it: a name stays a name (resolved again from the data), an object is
    serialized."""
    return identifier if isinstance(identifier, str) else metrics_mod.serialize(identifier)


def _metric_from_spec(spec):
    return spec if isinstance(spec, str) else metrics_mod.deserialize(spec)


def save_weights(model, path) -> None:
    """All parameters of a built ``model`` to an ``.npz`` file, atomically (temporary file, then rename)."""
    atomic_savez(path, dict(zip(weight_file_names(model), model.weights, strict=True)))


def save_model(model, path) -> None:
    """The whole training state of a built ``model`` in one ``.npz``: config (JSON), weights, optimizer state,
    and the state of the generator that shuffles, so that ``load_model`` resumes bit for bit."""
    config = model_config(model)
    config["rng_state"] = _jsonable(model.rng.bit_generator.state)
    arrays = {"config.json": np.array(json.dumps(config))}
    arrays.update({"weights/" + k: w for k, w in zip(weight_file_names(model), model.weights, strict=True)})
    if model.compiled:
        arrays.update({"optimizer/" + k: v for k, v in model.optimizer.get_state().items()})
    atomic_savez(path, arrays)


def _jsonable(value):
    """A bit generator's state as JSON data: arrays become ``{"array": [...], "dtype": ...}``."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return {"array": value.tolist(), "dtype": value.dtype.str}
    return value.item() if isinstance(value, np.generic) else value


def _from_jsonable(value):
    """Undo ``_jsonable`` (on a state ``rng_state`` has checked: its dtypes are unsigned integers)."""
    if isinstance(value, dict):
        if set(value) == {"array", "dtype"}:
            return np.asarray(value["array"], dtype=np.dtype(value["dtype"]))
        return {k: _from_jsonable(v) for k, v in value.items()}
    return value


def _restore_generator(model, bit_generator: str, state: dict) -> None:
    """Put the saved state into the model's generator, which its layers (Dropout) share."""
    old = model.rng
    if type(old.bit_generator).__name__ == bit_generator:
        old.bit_generator.state = state
        return
    model.rng = np.random.Generator(getattr(np.random, bit_generator)())
    model.rng.bit_generator.state = state
    for layer in model.layers:
        if getattr(layer, "rng", None) is old:
            layer.rng = model.rng


# -- reading: the limits on what a file may declare ---------------------------------------------------------------
_MAX_CONFIG_CHARS = 4 << 20         # config.json's characters; a real config is a few KiB
_MAX_NESTING = 32                   # JSON objects and lists inside each other; a real config nests 7 deep
_MAX_SIZE = 1 << 40                 # any one size, a sample's values, a layer's width: beyond any real model
_MAX_RANK = 32                      # the dimensions of one sample
_MAX_LAYERS = 10_000
_MAX_ITEMS = 100_000                # entries of any other list (metrics, schedule boundaries)
_FLOAT32_MAX = float(np.finfo(np.float32).max)


# -- the schema: each check takes (value, where) and raises ValueError "<where>: expected ..., received ..." ------
def _fail(at: str, expected: str, value):
    raise ValueError(f"{at}: expected {expected}, received {describe(value)}")


def _child(at: str, key) -> str:
    return f"{at}[{key!r}]"


def integer(low: int, high: int):
    """An integer (never a bool or a float) in ``[low, high]``."""
    def check(value, at):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            _fail(at, f"an integer in [{low}, {high}]", value)
    return check


def number(low=None, high=None, *, low_open=False, high_open=False):
    """A finite number (an integer or a float, never a bool) within the bounds (closed unless ``*_open``)."""
    def check(value, at):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            _fail(at, "a number", value)
        try:
            float(value)
        except OverflowError:
            _fail(at, "a number within float64's range", value)
        real_number(value, at, low=low, high=high, low_open=low_open, high_open=high_open)
    return check


def boolean(value, at):
    if not isinstance(value, bool):
        _fail(at, "true or false", value)


def text(value, at):
    if not isinstance(value, str):
        _fail(at, "a string", value)


def name(value, at):
    """A layer's name: its weights are stored under it."""
    if not isinstance(value, str) or not value:
        _fail(at, "a non-empty string", value)


def one_of(*choices):
    """Exactly one of ``choices`` (``true`` is not ``1`` here)."""
    def check(value, at):
        if not any(type(value) is type(c) and value == c for c in choices):
            _fail(at, f"one of {list(choices)}", value)
    return check


def nullable(check_value):
    """``null``, or what ``check_value`` accepts."""
    def check(value, at):
        if value is not None:
            check_value(value, at)
    return check


def list_of(check_item, *, min_len: int = 0, max_len: int = _MAX_ITEMS):
    """A list of ``min_len`` to ``max_len`` items, each accepted by ``check_item``."""
    def check(value, at):
        if not isinstance(value, list) or not min_len <= len(value) <= max_len:
            _fail(at, f"a list of {min_len} to {max_len} items", value)
        for i, item in enumerate(value):
            check_item(item, f"{at}[{i}]")
    return check


def fields(required: dict, optional: dict | None = None):
    """A JSON object with every key of ``required``, any of ``optional`` and nothing else, each value checked."""
    optional = optional or {}
    checks = {**required, **optional}

    def check(value, at):
        if not isinstance(value, dict):
            _fail(at, "a JSON object", value)
        unknown = [k for k in value if k not in checks]
        if unknown:
            raise ValueError(f"{at}: unknown key(s) {unknown[:5]}; expected keys among {sorted(checks)}")
        missing = [k for k in required if k not in value]
        if missing:
            raise ValueError(f"{at}: missing key(s) {missing}")
        for key, item in value.items():
            checks[key](item, _child(at, key))
    return check


def spec(classes: dict, kind: str):
    """``{"class_name": ..., "config": {...}}`` for one of ``classes``, its config checked by that class's schema."""
    article = "an" if kind[0] in "aeiou" else "a"

    def check(value, at):
        if not isinstance(value, dict) or set(value) != {"class_name", "config"}:
            _fail(at, f"{article} {kind} as {{'class_name': ..., 'config': {{...}}}}", value)
        class_name = value["class_name"]
        if not isinstance(class_name, str) or class_name not in classes:
            _fail(_child(at, "class_name"), f"{article} {kind} class of tinynet, one of {sorted(classes)}", class_name)
        classes[class_name](value["config"], _child(at, "config"))
    return check


def sample_shape(value, at):
    """The shape of one sample: 1 to 32 sizes, each >= 1, at most 2**40 values in all (so no product overflows)."""
    list_of(integer(1, _MAX_SIZE), min_len=1, max_len=_MAX_RANK)(value, at)
    if math.prod(value) > _MAX_SIZE:
        _fail(at, f"a shape of at most {_MAX_SIZE} values", value)


def model_schema():
    """The check of a whole ``config.json``, built from the checks above each time a file is read rather than once
    at import: what runs is then the code of these lines as it stands when it runs (mutation testing switches code
    at call time, docs/testing.md). Building it takes microseconds."""
    _POSITIVE = number(0.0, low_open=True)
    _NON_NEGATIVE = number(0.0)
    _FRACTION = number(0.0, 1.0, high_open=True)          # [0, 1): rates, betas, rho
    _MOMENTUM = number(0.0, 1.0)                          # [0, 1], as Keras's SGD
    _PROBABILITY = number(0.0, 1.0)                       # label smoothing
    _FLOAT_DTYPE = one_of("float32", "float64")
    _AXIS = integer(-_MAX_RANK - 1, _MAX_RANK)            # an axis of (batch, *sample)
    _CLASS_AXIS = one_of(-1, 1)                           # the classes of (n, classes)

    # -- regularizers, layers -----------------------------------------------------------------------------------
    _REGULARIZER = nullable(spec({"L1": fields({}, {"l1": _NON_NEGATIVE}), "L2": fields({}, {"l2": _NON_NEGATIVE}),
                                  "L1L2": fields({}, {"l1": _NON_NEGATIVE, "l2": _NON_NEGATIVE})}, "regularizer"))
    _ACTIVATION = nullable(one_of(*activations.NAMES))    # None: linear, as the constructors take it
    _INITIALIZER = one_of(*initializers.NAMES)
    # The keyword options of the activation functions, for an Activation layer (each allowed only for a function that
    # takes it).
    _ACTIVATION_OPTIONS = {"negative_slope": _NON_NEGATIVE, "max_value": nullable(_NON_NEGATIVE), "threshold": number(),
                           "alpha": number(), "approximate": boolean, "axis": _AXIS}

    def _layer(required: dict | None = None, optional: dict | None = None):
        """A layer's config: its ``name`` and, once built, ``input_shape``, then its own keys."""
        return fields({"name": name, **(required or {})}, {"input_shape": sample_shape, **(optional or {})})

    def activation_layer(value, at):
        """An ``Activation`` layer: a function's name and only the keyword options that function takes."""
        options = {}
        if isinstance(value, dict) and isinstance(value.get("activation"), str) and value["activation"] in \
                activations.NAMES:
            takes = list(inspect.signature(activations.get(value["activation"])).parameters)[1:]
            options = {k: _ACTIVATION_OPTIONS[k] for k in takes if k in _ACTIVATION_OPTIONS}
        _layer({"activation": _ACTIVATION}, options)(value, at)

    _LAYERS = {
        "Dense": _layer({"units": integer(1, _MAX_SIZE)},
                        {"activation": _ACTIVATION, "use_bias": boolean, "kernel_initializer": _INITIALIZER,
                         "bias_initializer": _INITIALIZER, "kernel_regularizer": _REGULARIZER,
                         "bias_regularizer": _REGULARIZER, "activity_regularizer": _REGULARIZER}),
        "Dropout": _layer({"rate": _FRACTION}, {"seed": nullable(integer(0, 2**128 - 1))}),
        "Normalization": _layer({}, {"axis": _CLASS_AXIS, "invert": boolean}),
        "Flatten": _layer(),
        "Activation": activation_layer,
        "Linear": _layer(), "Sigmoid": _layer(), "Tanh": _layer(),
        "ReLU": _layer({}, {"max_value": nullable(_NON_NEGATIVE), "negative_slope": _NON_NEGATIVE,
                            "threshold": number()}),
        "LeakyReLU": _layer({}, {"negative_slope": _NON_NEGATIVE}),
        "ELU": _layer({}, {"alpha": number()}),
        "Softmax": _layer({}, {"axis": _AXIS}),
    }

    # -- losses, schedules, optimizers, metrics -------------------------------------------------------------------
    def _loss(**own):
        return fields({}, {"name": text, "reduction": one_of("sum_over_batch_size", "mean", "mean_with_sample_weight",
                                                              "sum"), "dtype": nullable(_FLOAT_DTYPE), **own})

    _CROSSENTROPY = {"from_logits": boolean, "label_smoothing": _PROBABILITY, "axis": _CLASS_AXIS}
    _LOSSES = {
        "SparseCategoricalCrossentropy": _loss(from_logits=boolean, ignore_class=one_of(None)),
        "CategoricalCrossentropy": _loss(**_CROSSENTROPY),
        "BinaryCrossentropy": _loss(**_CROSSENTROPY),
        "MeanSquaredError": _loss(),
        "MeanAbsoluteError": _loss(),
    }

    _SCHEDULE_RATE = number(0.0, _FLOAT32_MAX)          # schedules compute in float32, as Keras's
    _SCHEDULES = {
        "ExponentialDecay": fields({"initial_learning_rate": _SCHEDULE_RATE, "decay_steps": _POSITIVE,
                                    "decay_rate": _POSITIVE}, {"staircase": boolean, "name": text}),
        "InverseTimeDecay": fields({"initial_learning_rate": _SCHEDULE_RATE, "decay_steps": _POSITIVE,
                                    "decay_rate": _NON_NEGATIVE}, {"staircase": boolean, "name": text}),
        "PiecewiseConstantDecay": fields({"boundaries": list_of(integer(-2**63, 2**63 - 1), min_len=1),
                                          "values": list_of(_SCHEDULE_RATE, min_len=2, max_len=_MAX_ITEMS + 1)},
                                         {"name": text}),
    }

    def learning_rate(value, at):
        """A number >= 0, or a serialized schedule."""
        if isinstance(value, dict):
            spec(_SCHEDULES, "learning-rate schedule")(value, at)
        else:
            _NON_NEGATIVE(value, at)                        # 0 is allowed, as by the optimizers (and Keras)

    def _optimizer(**own):
        return fields({}, {"name": nullable(text), "learning_rate": learning_rate,
                           "weight_decay": nullable(_NON_NEGATIVE), "clipnorm": nullable(_POSITIVE),
                           "global_clipnorm": nullable(_POSITIVE), "clipvalue": nullable(_POSITIVE), **own})

    _ADAM = {"beta_1": _FRACTION, "beta_2": _FRACTION, "epsilon": _NON_NEGATIVE, "amsgrad": boolean}
    _OPTIMIZERS = {
        "SGD": _optimizer(momentum=_MOMENTUM, nesterov=boolean),
        "Adam": _optimizer(**_ADAM),
        "AdamW": _optimizer(**_ADAM),
        "RMSprop": _optimizer(rho=_FRACTION, momentum=_MOMENTUM, epsilon=_NON_NEGATIVE, centered=boolean),
        "Adagrad": _optimizer(initial_accumulator_value=_NON_NEGATIVE, epsilon=_NON_NEGATIVE),
    }

    _METRIC_FUNCTIONS = tuple(f.__name__ for f in (
        metrics_mod.sparse_categorical_accuracy, metrics_mod.categorical_accuracy, metrics_mod.binary_accuracy,
        metrics_mod.mean_squared_error, metrics_mod.mean_absolute_error))
    _THRESHOLD = number(-_FLOAT32_MAX, _FLOAT32_MAX)

    def _metric(required: dict | None = None, **own):
        return fields(required or {}, {"name": name, "dtype": nullable(_FLOAT_DTYPE), **own})

    _METRICS = {
        "Mean": _metric(), "SparseCategoricalAccuracy": _metric(), "CategoricalAccuracy": _metric(),
        "BinaryAccuracy": _metric(threshold=_THRESHOLD),
        "MeanSquaredError": _metric(), "MeanAbsoluteError": _metric(),
        "MeanMetricWrapper": _metric({"fn": one_of(*_METRIC_FUNCTIONS)}, threshold=_THRESHOLD),
        "BinaryCrossentropy": _metric(from_logits=boolean, label_smoothing=_PROBABILITY),
        "CategoricalCrossentropy": _metric(from_logits=boolean, label_smoothing=_PROBABILITY, axis=_CLASS_AXIS),
        "SparseCategoricalCrossentropy": _metric(from_logits=boolean),
    }

    def metric(value, at):
        """A metric as ``compile`` took it: a name ``tinynet.metrics.get`` knows, or a serialized metric."""
        if not isinstance(value, str):
            spec(_METRICS, "metric")(value, at)
            return
        try:
            metrics_mod.get(value, (1,), (1, 2))                  # the check compile makes of a name
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{at}: {exc}") from None

    # -- the state of the shuffling generator ---------------------------------------------------------------------
    def _unsigned_array(bits: int, length: int):
        """``{"array": [length integers of `bits` bits], "dtype": "<u4"/"<u8" (or big-endian)}``."""
        code = {32: "u4", 64: "u8"}[bits]
        return fields({"array": list_of(integer(0, 2**bits - 1), min_len=length, max_len=length),
                       "dtype": one_of("<" + code, ">" + code)})

    _BUFFERED = {"has_uint32": one_of(0, 1), "uinteger": integer(0, 2**32 - 1)}     # a half-used 64-bit draw
    _PCG_STATE = fields({"bit_generator": text, "state": fields({"state": integer(0, 2**128 - 1),
                                                                  "inc": integer(0, 2**128 - 1)}), **_BUFFERED})
    # NumPy takes MT19937's ``pos`` and Philox's ``buffer_pos`` as given and indexes its state arrays with them: a
    # position out of range would read outside them.
    _RNG_STATES = {
        "PCG64": _PCG_STATE,
        "PCG64DXSM": _PCG_STATE,
        "MT19937": fields({"bit_generator": text, "state": fields({"key": _unsigned_array(32, 624),
                                                                   "pos": integer(0, 624)})}),
        "Philox": fields({"bit_generator": text, "state": fields({"counter": _unsigned_array(64, 4),
                                                                  "key": _unsigned_array(64, 2)}),
                          "buffer": _unsigned_array(64, 4), "buffer_pos": integer(0, 4), **_BUFFERED}),
        "SFC64": fields({"bit_generator": text, "state": fields({"state": _unsigned_array(64, 4)}), **_BUFFERED}),
    }

    def rng_state(value, at):
        """A NumPy bit generator's state exactly as ``bit_generator.state`` gives it, for one of NumPy's generators."""
        kind = value.get("bit_generator") if isinstance(value, dict) else None
        if not isinstance(kind, str) or kind not in _RNG_STATES:
            _fail(_child(at, "bit_generator"), f"one of NumPy's bit generators {sorted(_RNG_STATES)}", kind)
        _RNG_STATES[kind](value, at)

    # -- the whole config ---------------------------------------------------------------------------------------
    _COMPILE = fields({"loss": spec(_LOSSES, "loss"), "optimizer": spec(_OPTIMIZERS, "optimizer")},
                      {"metrics": list_of(metric), "weighted_metrics": list_of(metric)})
    return fields({"format": one_of(FORMAT), "version": integer(1, FORMAT_VERSION), "name": text,
                   "dtype": _FLOAT_DTYPE, "input_shape": sample_shape,
                   "layers": list_of(spec(_LAYERS, "layer"), min_len=1, max_len=_MAX_LAYERS),
                   "compile": nullable(_COMPILE)},
                  {"rng_state": rng_state})


def check_format(config) -> None:
    """A ``tinynet.Sequential`` config of a format version this tinynet reads; a newer one is refused, not guessed."""
    if not isinstance(config, dict):
        _fail("config.json", "a JSON object", config)
    if config.get("format") != FORMAT:
        _fail("config.json['format']", repr(FORMAT), config.get("format"))
    version = config.get("version")
    integer(1, 2**63)(version, "config.json['version']")
    if version > FORMAT_VERSION:
        raise ValueError(f"config.json['version']: the file is format version {version}, written by a newer tinynet; "
                         f"this one reads versions up to {FORMAT_VERSION} (upgrade tinynet to read it)")


def check_layer_names(config) -> None:
    """No two layers share a name: the weights are stored under the names."""
    seen = {}
    for i, layer in enumerate(config["layers"]):
        layer_name = layer["config"]["name"]
        if layer_name in seen:
            raise ValueError(f"config.json['layers'][{i}]['config']['name']: {layer_name!r} is also the name of "
                             f"layers[{seen[layer_name]}]; expected a name of its own")
        seen[layer_name] = i


def parse_json(text_: str, what: str):
    """Plain JSON: no NaN or Infinity, no key repeated in an object, nested at most 32 deep."""
    def no_constant(constant):
        raise ValueError(f"{constant} is not a JSON number")

    def without_repeats(pairs):
        obj = dict(pairs)
        if len(obj) != len(pairs):
            raise ValueError(f"an object repeats a key ({sorted(k for k, _ in pairs)[:5]}...)")
        return obj

    try:
        value = json.loads(text_, parse_constant=no_constant, object_pairs_hook=without_repeats)
    except RecursionError:
        raise ValueError(f"{what}: nested more than {_MAX_NESTING} deep") from None
    except ValueError as exc:          # json.JSONDecodeError, and ours above
        raise ValueError(f"{what}: not valid JSON ({exc})") from None
    if _nested_deeper_than(value, _MAX_NESTING):
        raise ValueError(f"{what}: nested more than {_MAX_NESTING} deep")
    return value


def _nested_deeper_than(value, limit: int) -> bool:
    if not isinstance(value, (dict, list)):
        return False
    if limit == 0:
        return True
    return any(_nested_deeper_than(v, limit - 1) for v in (value.values() if isinstance(value, dict) else value))


def read_config(npz: NpzReader) -> dict:
    """``config.json``: a text scalar of at most 4 Mi characters (known from its header before it is read), plain
    JSON, a format version this tinynet reads, then the schema and unique layer names."""
    member = npz.members.get("config.json")
    if member is None:
        raise ValueError("no config.json entry; weights-only files are read with model.load_weights")
    if member.dtype.kind != "U" or member.shape != ():
        raise ValueError(f"config.json: expected a text scalar (a 0-d unicode array), the file holds "
                         f"{member.describe()}")
    if member.dtype.itemsize // 4 > _MAX_CONFIG_CHARS:
        raise ValueError(f"config.json: holds {member.dtype.itemsize // 4} characters; a model's config has at most "
                         f"{_MAX_CONFIG_CHARS}")
    text = npz.read("config.json")
    codes = text.reshape(1).view(text.dtype.str[0] + "u4")        # UCS-4 code points, in the file's byte order
    beyond = np.flatnonzero(codes > 0x10FFFF)
    if beyond.size:                                  # NumPy would make a corrupt str of it, or raise SystemError
        raise ValueError(f"config.json: not text (character {beyond[0]} is {int(codes[beyond[0]]):#x}, beyond "
                         "Unicode's last code point 0x10ffff)")
    config_text = str(text[()])
    config = parse_json(config_text, "config.json")
    check_format(config)
    model_schema()(config, "config.json")
    check_layer_names(config)
    return config


# -- what the config implies: the parts, then the arrays --------------------------------------------------------
def model_parts(config) -> SimpleNamespace:
    """The layers (constructed, not built: no weights yet), loss, optimizer and metrics a checked config names."""
    parts = SimpleNamespace(layers=[], loss=None, optimizer=None, metrics=[], weighted_metrics=[])
    for i, layer in enumerate(config["layers"]):
        try:
            parts.layers.append(layers_mod.from_config(layer["class_name"], layer["config"]))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"config.json['layers'][{i}]: {exc}") from None
    compiled = config["compile"]
    if compiled is not None:
        try:
            parts.loss = losses_mod.deserialize(compiled["loss"])
            parts.optimizer = optimizers_mod.deserialize(compiled["optimizer"])
            parts.metrics = [_metric_from_spec(m) for m in compiled.get("metrics", [])]
            parts.weighted_metrics = [_metric_from_spec(m) for m in compiled.get("weighted_metrics", [])]
        except (ValueError, TypeError) as exc:
            raise ValueError(f"config.json['compile']: {exc}") from None
    return parts


def state_specs(layer, input_shape: tuple, dtype: np.dtype) -> list:
    """A layer's non-trainable weights, ``(name, shape, dtype)``, as its ``build`` creates them for ``input_shape``:
    Normalization's ``mean`` and ``variance`` (the sample's shape) and ``count`` (an int64 scalar, as Keras's)."""
    if isinstance(layer, layers_mod.Normalization):
        return [("mean", input_shape, dtype), ("variance", input_shape, dtype), ("count", (), np.dtype(np.int64))]
    return []


def expected_weights(config, layers) -> tuple[dict, int]:
    """``"000/dense/kernel" -> (shape, dtype)`` for every weight ``save`` wrote, in order (each layer's
    ``param_specs``, then its state, for the shape that reaches it), and how many values the parameters hold.
    Nothing is built, and each layer's output shape is checked to be sane before the next layer computes with it."""
    dtype = np.dtype(config["dtype"])
    shape = tuple(config["input_shape"])
    weights, parameter_count = [], 0
    for i, (layer, layer_spec) in enumerate(zip(layers, config["layers"], strict=True)):
        at = f"config.json['layers'][{i}]"
        declared = layer_spec["config"].get("input_shape")
        if declared is not None and tuple(declared) != shape:
            raise ValueError(f"{at}['config']['input_shape']: expected {list(shape)}, the shape that reaches the "
                             f"layer, received {declared}")
        try:
            params = layer.param_specs(shape)
            output = layer.compute_output_shape(shape)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{at}: {exc}") from None
        weights += [(f"{layer.name}/{n}", tuple(s), dtype) for n, s, _ in params]
        weights += [(f"{layer.name}/{n}", s, d) for n, s, d in state_specs(layer, shape, dtype)]
        parameter_count += sum(math.prod(s) for _, s, _ in params)
        sample_shape(list(output), f"{at}: its output shape")
        shape = tuple(output)
    return {f"{k:03d}/{weight}": (s, d) for k, (weight, s, d) in enumerate(weights)}, parameter_count


def expected_arrays(config, parts, present) -> dict:
    """Every array the file must hold besides config.json, ``name -> (shape, dtypes allowed)``: the weights and,
    for a compiled model, the optimizer's ``iterations`` (an int64 scalar) and one array per slot of its class
    (``Adam``: ``m``, ``v``) holding one value per parameter, unless it never took a step (then it saved only
    ``iterations``)."""
    weights, parameter_count = expected_weights(config, parts.layers)
    arrays = {"weights/" + k: (shape, (dtype,)) for k, (shape, dtype) in weights.items()}
    if parts.optimizer is not None:
        dtype = np.dtype(config["dtype"])
        arrays["optimizer/iterations"] = ((), (np.dtype(np.int64),))
        if any(k.startswith("optimizer/") and k != "optimizer/iterations" for k in present):
            arrays.update({f"optimizer/{slot}_0": ((parameter_count,), (dtype,))
                           for slot in parts.optimizer.slot_names})
    return arrays


# -- the arrays against what was expected, from their headers; then their values ----------------------------------
def check_total_size(members: dict, expected: dict) -> None:
    """All the arrays together declare no more bytes than the expected arrays need (config.json apart)."""
    declared = sum(m.data_bytes for k, m in members.items() if k != "config.json")
    needed = sum(math.prod(shape) * max(d.itemsize for d in dtypes) for shape, dtypes in expected.values())
    if declared > needed:
        raise ValueError(f"the arrays declare {declared} bytes in all; what the file describes needs {needed}")


def check_arrays(members: dict, expected: dict) -> None:
    """Exactly the expected arrays (config.json apart), each of its expected shape and one of its dtypes, judged
    from the headers alone: nothing has been read yet."""
    missing = [k for k in expected if k not in members]
    unexpected = [k for k in members if k not in expected and k != "config.json"]
    if missing or unexpected:
        raise ValueError(f"expected the arrays {_first(list(expected))}; the file lacks {_first(missing)} and has "
                         f"unexpected {_first(unexpected)}")
    for key, (shape, dtypes) in expected.items():
        member = members[key]
        if member.shape != shape or member.dtype.newbyteorder("=") not in dtypes:
            allowed = " or ".join(d.name for d in dtypes)
            raise ValueError(f"{key}: expected an array of shape {shape} and dtype {allowed}, the file holds "
                             f"{member.describe()}")


def _first(names: list, n: int = 6) -> str:
    return str(names[:n])[:-1] + f", ... ({len(names)} in all)]" if len(names) > n else str(names)


def check_values(arrays: dict, optimizer) -> None:
    """Finite weights and optimizer state; ``iterations >= 0``, and 0 when the optimizer saved no slots."""
    for key, array in arrays.items():
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise ValueError(f"{key}: expected finite values, the array holds NaN or inf")
        if key.endswith("/variance") and (array < 0).any():        # Normalization's statistics, as adapt gives them
            raise ValueError(f"{key}: expected variances >= 0, the array holds {float(array.min())}")
    if optimizer is None:
        return
    iterations = int(arrays["optimizer/iterations"])
    if iterations < 0:
        raise ValueError(f"optimizer/iterations: expected a step count >= 0, received {iterations}")
    stepped = any(k.startswith("optimizer/") and k != "optimizer/iterations" for k in arrays)
    if iterations and optimizer.slot_names and not stepped:
        raise ValueError(f"optimizer/iterations: {iterations} steps taken, but the optimizer's state "
                         f"{list(optimizer.slot_names)} is not in the file")


def assemble_model(config, parts, arrays: dict):
    """The model from checked parts and arrays: built (the only allocation the file decides), filled, compiled,
    its optimizer and shuffling generator restored."""
    from .models import Sequential  # models calls this module to save; it is imported when first loaded

    model = Sequential(parts.layers, dtype=config["dtype"], name=config["name"])
    model.build(tuple(config["input_shape"]))
    names = weight_file_names(model)
    if ["weights/" + n for n in names] != [k for k in arrays if k.startswith("weights/")]:  # expected_weights' rule
        raise ValueError(f"the model built from config.json names its weights {_first(names)}, not as expected")
    model.set_weights([arrays["weights/" + n] for n in names])
    if parts.optimizer is not None:
        model.compile(optimizer=parts.optimizer, loss=parts.loss, metrics=parts.metrics,
                      weighted_metrics=parts.weighted_metrics)
        state = {k[len("optimizer/"):]: v for k, v in arrays.items() if k.startswith("optimizer/")}
        parts.optimizer.set_state(state, [model.flat_weights])
    if "rng_state" in config:
        _restore_generator(model, config["rng_state"]["bit_generator"], _from_jsonable(config["rng_state"]))
    return model


# -- the two readers ------------------------------------------------------------------------------------------------
def load_weights(model, path) -> None:
    """Parameters written by ``save_weights`` into ``model``: names, shapes and dtypes (float32 or float64 for a
    parameter, converted as ``set_weights`` does) checked against the model from the headers before any array is
    read, each then read through a bounded stream; all-or-nothing, never unpickled."""
    floats = (np.dtype(np.float32), np.dtype(np.float64))
    expected = {name: (w.shape, floats if w.dtype.kind == "f" else (w.dtype,))
                for name, w in zip(weight_file_names(model), model.weights, strict=True)}
    with NpzReader(path) as npz:
        try:
            check_total_size(npz.members, expected)
            check_arrays(npz.members, expected)
            arrays = [npz.read(name) for name in expected]
            model.set_weights(arrays)
        except NpzError:
            raise
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{npz.where} does not hold this model's weights ({exc})") from None


def load_model(path):
    """Read a file written by ``model.save(path)``: architecture, weights, optimizer state and shuffling state.

    The file is untrusted input: everything it declares is checked (see the module docstring) before a layer is
    built or an array is read, arrays are read through bounded streams and never unpickled. Anything missing,
    malformed or inconsistent raises a ``ValueError`` naming the file; nothing is half-loaded.
    """
    with NpzReader(path) as npz:
        try:
            config = read_config(npz)
            parts = model_parts(config)
            expected = expected_arrays(config, parts, npz.members)
            check_total_size(npz.members, expected)
            check_arrays(npz.members, expected)
            arrays = {name: npz.read(name) for name in expected}
            check_values(arrays, parts.optimizer)
            return assemble_model(config, parts, arrays)
        except NpzError:
            raise
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{npz.where} is not a valid tinynet model file ({exc})") from None


__all__ = ["load_model", "model_config", "save_model", "save_weights", "load_weights", "weight_file_names",
           "FORMAT", "FORMAT_VERSION"]
