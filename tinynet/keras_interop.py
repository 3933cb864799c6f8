"""Convert between tinynet's ``Sequential`` and Keras 3's ``keras.Sequential``, compiled state included.

    keras_model = to_keras(model)                # same layers, names, weights; compiled alike, with Adam's moments
    model = from_keras(keras_model)              # or from_keras("model.keras")
    load_keras_weights(model, "model.weights.h5")

TensorFlow and Keras are imported inside these functions, never when tinynet is imported: install them with
``pip install 'tinynet[keras]'``. Everything is read through public configuration (``get_config``,
``get_weights``, an optimizer's ``get_state``), and Keras files are read by Keras itself.
"""

from __future__ import annotations

import inspect

import numpy as np

from . import activations as activations_mod
from . import layers as layers_mod
from . import losses as losses_mod
from . import metrics as metrics_mod
from . import optimizers as optimizers_mod
from . import regularizers as regularizers_mod
from . import schedules as schedules_mod
from ._validation import describe

SUPPORTED_LAYERS = ("InputLayer", "Dense", "Dropout", "Normalization", "Flatten", "Activation", "ReLU", "LeakyReLU",
                    "ELU", "Softmax")
SUPPORTED_LOSSES = ("SparseCategoricalCrossentropy", "CategoricalCrossentropy", "BinaryCrossentropy",
                    "MeanSquaredError", "MeanAbsoluteError")
SUPPORTED_OPTIMIZERS = ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad")
SUPPORTED_SCHEDULES = ("ExponentialDecay", "InverseTimeDecay", "PiecewiseConstantDecay")
SUPPORTED_REGULARIZERS = ("L1", "L2", "L1L2")
SUPPORTED_METRICS = ("SparseCategoricalAccuracy", "CategoricalAccuracy", "BinaryAccuracy", "MeanSquaredError",
                     "MeanAbsoluteError", "BinaryCrossentropy", "CategoricalCrossentropy",
                     "SparseCategoricalCrossentropy")

# tinynet's optimizer slot -> Keras's name for the same variable (keras/src/optimizers/*.py ``build``).
_KERAS_SLOT = {"m": "momentum", "v": "velocity", "v_hat": "velocity_hat", "momentum": "momentum",
               "velocity": "velocity", "average_gradient": "average_gradient", "accumulator": "accumulator"}
# Keras initializer classes with a tinynet equivalent (tinynet draws its own numbers; only the name carries over).
_INITIALIZERS = {"GlorotUniform": "glorot_uniform", "GlorotNormal": "glorot_normal", "HeUniform": "he_uniform",
                 "HeNormal": "he_normal", "Zeros": "zeros", "Ones": "ones"}
# Options Keras's optimizers take that tinynet's do not, with the only value tinynet can honour.
_KERAS_ONLY_OPTIMIZER_OPTIONS = {"use_ema": False, "ema_momentum": None, "ema_overwrite_frequency": None,
                                 "loss_scale_factor": None, "gradient_accumulation_steps": None}
_IGNORED_WITHOUT_EMA = ("ema_momentum", "ema_overwrite_frequency")
# Options of Keras's metrics that tinynet's lack, at the one value tinynet computes.
_KERAS_ONLY_METRIC_OPTIONS = {"ignore_class": None, "axis": -1}


def _keras():
    """``keras`` (Keras 3 with TensorFlow), imported on first use; ImportError with the install line if missing."""
    try:
        import keras
        import tensorflow  # noqa: F401 (Keras's backend here: its absence must fail now, not at the first fit)
    except ImportError as exc:
        raise ImportError("tinynet.keras_interop requires TensorFlow: pip install 'tinynet[keras]' "
                          f"({exc})") from None
    return keras


def _supported(kind: str, names) -> str:
    return f"tinynet supports the {kind} {', '.join(names)}"


# ====================================================================================================
# tinynet -> Keras
# ====================================================================================================
def to_keras(model, include_optimizer_state: bool = True):
    """A ``keras.Sequential`` equal to the built tinynet ``model``: layers, names, options and weights; if
    ``model`` is compiled, compiled with the same loss, metrics and optimizer, and (``include_optimizer_state``)
    that optimizer's moments and step count, so Keras's ``fit`` continues where tinynet's stopped.

    Call it inside ``strategy.scope()`` to create the variables under a ``tf.distribute`` strategy.
    """
    from .models import Sequential

    if not isinstance(model, Sequential):
        raise TypeError(f"model: expected a tinynet.Sequential, received {describe(model)}")
    if not isinstance(include_optimizer_state, bool):
        raise TypeError(f"include_optimizer_state: expected True or False, received "
                        f"{describe(include_optimizer_state)}")
    _require_built(model)
    keras = _keras()
    specs = [_keras_layer_spec(layer, i) for i, layer in enumerate(model.layers)]     # every check first
    compile_args = _keras_compile_args(model) if model.compiled else None
    kmodel = _keras_model(keras, model, specs)
    if compile_args is not None:
        optimizer = _make_keras_optimizer(keras, model.optimizer)
        kmodel.compile(optimizer=optimizer, loss=_make_keras_loss(keras, model.loss, model.dtype.name),
                       metrics=[_make_keras_metric(keras, m) for m in compile_args["metrics"]] or None,
                       weighted_metrics=[_make_keras_metric(keras, m) for m in compile_args["weighted"]] or None)
        if include_optimizer_state:
            _copy_state_to_keras(model, kmodel, optimizer)
    return kmodel


def _require_built(model) -> None:
    """Build a model whose input shape is declared (as ``predict`` would); ValueError if it has no shape."""
    if not model.built and model.layers and model.declared_input_shape is not None:
        model.build(model.declared_input_shape)
    if not model.built:
        raise ValueError("model: expected a built model (give the first layer an input_shape, or call "
                         "build(input_shape) / fit first); received an unbuilt one")


def _keras_model(keras, model, specs):
    """The uncompiled ``keras.Sequential`` of ``specs`` (from ``_keras_layer_spec``) holding ``model``'s weights."""
    dtype = model.dtype.name
    layers = [keras.Input(shape=tuple(model.input_shape), dtype=dtype)]
    layers += [_make_keras_layer(keras, spec, dtype) for spec in specs]
    kmodel = keras.Sequential(layers, name=model.name)
    # A Normalization's statistics are constants of its Keras config, not weights: only parameters are set.
    kmodel.set_weights([w for layer in model.layers for w in
                        (layer.params if isinstance(layer, layers_mod.Normalization) else layer.get_weights())])
    return kmodel


def _keras_layer_spec(layer, index: int) -> tuple[str, dict]:
    """``(Keras class name, constructor arguments)`` for one tinynet layer; ValueError if Keras's has no match."""
    from .models import Sequential

    where = f"model.layers[{index}] ({layer.name!r})"
    if isinstance(layer, Sequential):
        raise ValueError(f"{where}: a Sequential inside another has no keras.Sequential form here; "
                         f"{_supported('layers', SUPPORTED_LAYERS)}")
    name = layer.name
    if isinstance(layer, layers_mod.Dense):
        config = layer.get_config()
        args = {"units": layer.units, "activation": layer.activation_name, "use_bias": layer.use_bias, "name": name}
        for key in ("kernel_initializer", "bias_initializer"):
            if key in config:                           # a custom callable has no Keras name: Keras's default
                args[key] = config[key]
        for key in ("kernel_regularizer", "bias_regularizer", "activity_regularizer"):
            if getattr(layer, key) is not None:
                args[key] = _regularizer_spec(getattr(layer, key), f"{where}.{key}")
        return "Dense", args
    if isinstance(layer, layers_mod.Dropout):
        return "Dropout", {"rate": layer.rate, "seed": layer.seed, "name": name}
    if isinstance(layer, layers_mod.Normalization):
        return "Normalization", {"axis": -1, "mean": layer.mean.astype(np.float64).tolist(),
                                 "variance": layer.variance.astype(np.float64).tolist(), "invert": layer.invert,
                                 "name": name}
    if isinstance(layer, layers_mod.Flatten):
        return "Flatten", {"name": name}
    if isinstance(layer, layers_mod.Activation):
        return _keras_activation_spec(layer, where)
    raise ValueError(f"{where}: {type(layer).__name__} has no Keras conversion; "
                     f"{_supported('layers', SUPPORTED_LAYERS)}")


def _keras_activation_spec(layer, where: str) -> tuple[str, dict]:
    """The Keras activation layer for a tinynet one: ReLU, LeakyReLU, ELU and Softmax keep their classes and
    options; any other activation without options is ``Activation(name)``."""
    fn_name, options, name = layer.activation_name, dict(layer.options), layer.name
    if fn_name == "relu" and (isinstance(layer, layers_mod.ReLU) or options):
        return "ReLU", {"max_value": options.get("max_value"), "negative_slope": options.get("negative_slope", 0.0),
                        "threshold": options.get("threshold", 0.0), "name": name}
    if fn_name == "leaky_relu" and (isinstance(layer, layers_mod.LeakyReLU) or options):
        return "LeakyReLU", {"negative_slope": options.get("negative_slope", 0.2), "name": name}
    if fn_name == "elu" and (isinstance(layer, layers_mod.ELU) or options):
        return "ELU", {"alpha": options.get("alpha", 1.0), "name": name}
    if fn_name == "softmax" and (isinstance(layer, layers_mod.Softmax) or options):
        return "Softmax", {"axis": options.get("axis", -1), "name": name}
    if options:
        raise ValueError(f"{where}: keras.layers.Activation takes no options for {fn_name!r}, received {options}; "
                         "only relu, leaky_relu, elu and softmax have Keras layers with options")
    return "Activation", {"activation": fn_name, "name": name}


def _regularizer_spec(reg, where: str) -> tuple[str, dict]:
    class_name = type(reg).__name__
    if class_name not in SUPPORTED_REGULARIZERS or type(reg) is not getattr(regularizers_mod, class_name):
        raise ValueError(f"{where}: {class_name} has no Keras conversion; "
                         f"{_supported('regularizers', SUPPORTED_REGULARIZERS)}")
    return class_name, reg.get_config()


def _make_keras_layer(keras, spec, dtype: str):
    class_name, args = spec
    args = dict(args)
    for key in ("kernel_regularizer", "bias_regularizer", "activity_regularizer"):
        if key in args:
            reg_class, reg_config = args[key]
            args[key] = getattr(keras.regularizers, reg_class)(**reg_config)
    return getattr(keras.layers, class_name)(dtype=dtype, **args)


def _keras_compile_args(model) -> dict:
    """Checks that the loss, optimizer and metrics convert (before anything Keras is created)."""
    loss = model.loss
    if type(loss).__name__ not in SUPPORTED_LOSSES or type(loss) is not getattr(losses_mod, type(loss).__name__):
        raise ValueError(f"model.loss: {type(loss).__name__} has no Keras conversion; "
                         f"{_supported('losses', SUPPORTED_LOSSES)}")
    _optimizer_spec(model.optimizer)
    args = {"metrics": list(model.metric_identifiers), "weighted": list(model.weighted_metric_identifiers)}
    for kind, given in (("metrics", args["metrics"]), ("weighted_metrics", args["weighted"])):
        for i, m in enumerate(given):
            _keras_metric_spec(m, f"model.compile({kind}[{i}])")
    return args


def _make_keras_loss(keras, loss, model_dtype: str):
    config = loss.get_config()
    if config.get("dtype") is None:
        # tinynet computes in the outputs' dtype, Keras in floatx unless told: a float64 model says so
        config["dtype"] = model_dtype if model_dtype != "float32" else None
        if config["dtype"] is None:
            del config["dtype"]
    return getattr(keras.losses, type(loss).__name__)(**config)


def _optimizer_spec(opt) -> tuple[str, dict]:
    class_name = type(opt).__name__
    if class_name not in SUPPORTED_OPTIMIZERS or type(opt) is not getattr(optimizers_mod, class_name):
        raise ValueError(f"model.optimizer: {class_name} has no Keras conversion; "
                         f"{_supported('optimizers', SUPPORTED_OPTIMIZERS)}")
    schedule = opt.learning_rate_schedule
    if schedule is not None:
        sname = type(schedule).__name__
        if sname not in SUPPORTED_SCHEDULES or type(schedule) is not getattr(schedules_mod, sname):
            raise ValueError(f"model.optimizer.learning_rate: {sname} has no Keras conversion; "
                             f"{_supported('learning-rate schedules', SUPPORTED_SCHEDULES)}")
    config = opt.get_config()
    if schedule is not None:
        config["learning_rate"] = (type(schedule).__name__, schedule.get_config())
    return class_name, config


def _make_keras_optimizer(keras, opt):
    class_name, config = _optimizer_spec(opt)
    if isinstance(config["learning_rate"], tuple):
        sname, sconfig = config["learning_rate"]
        config["learning_rate"] = getattr(keras.optimizers.schedules, sname)(**sconfig)
    else:
        config["learning_rate"] = float(config["learning_rate"])    # Keras refuses an int
    return getattr(keras.optimizers, class_name)(**config)


def _keras_metric_spec(metric, where: str):
    """A tinynet metric identifier as Keras's: a name as it is, ``(class name, config)`` for an instance or a
    class, ``("function", name)`` for one of tinynet's metric functions."""
    if isinstance(metric, str):
        if metric.lower() not in metrics_mod.ACCURACY_NAMES:
            metrics_mod.get(metric)                     # the same names in both: refuse what tinynet refuses
        return metric
    if isinstance(metric, type) and metric.__name__ in SUPPORTED_METRICS \
            and getattr(metrics_mod, metric.__name__) is metric:
        return (metric.__name__, {})
    if isinstance(metric, metrics_mod.Metric) and type(metric).__name__ in SUPPORTED_METRICS \
            and type(metric) is getattr(metrics_mod, type(metric).__name__):
        return (type(metric).__name__, metric.get_config())
    fn_name = getattr(metric, "__name__", None)
    if callable(metric) and fn_name in metrics_mod.__all__ and getattr(metrics_mod, fn_name) is metric \
            and fn_name[0].islower() and fn_name != "sparse_categorical_accuracy_count":
        return ("function", fn_name)
    raise ValueError(f"{where}: {describe(metric)} has no Keras conversion; tinynet supports metric names, the "
                     f"metric classes {', '.join(SUPPORTED_METRICS)} and tinynet.metrics' functions")


def _make_keras_metric(keras, metric):
    spec = _keras_metric_spec(metric, "metrics")
    if isinstance(spec, str):
        return spec
    kind, config = spec
    if kind == "function":
        return getattr(keras.metrics, config)
    return getattr(keras.metrics, kind)(**config)     # an instance even for a class: Keras saves only those


def _copy_state_to_keras(model, kmodel, optimizer) -> None:
    """tinynet's optimizer state (one flat array per slot for the whole model) into Keras's per-variable slots."""
    state = model.optimizer.get_state()
    variables = kmodel.trainable_variables
    optimizer.build(variables)
    optimizer.iterations.assign(int(state["iterations"]))
    slots = [slot for slot in model.optimizer.slot_names if f"{slot}_0" in state]
    if not slots:                                      # no step taken yet: Keras's fresh slots are tinynet's
        return
    by_name = {v.name: v for v in optimizer.variables}
    for slot in slots:
        flat = state[f"{slot}_0"]
        offset = 0
        for var in variables:
            size = int(np.prod(var.shape))
            by_name[_slot_variable_name(var, _KERAS_SLOT[slot])].assign(
                flat[offset:offset + size].reshape(tuple(var.shape)))
            offset += size


def _slot_variable_name(var, slot: str) -> str:
    """The name Keras gives an optimizer slot for model variable ``var`` (``add_variable_from_reference``)."""
    return f"{var.path.replace('/', '_')}_{slot}"


# ====================================================================================================
# Keras -> tinynet
# ====================================================================================================
def from_keras(keras_model_or_path):
    """A tinynet ``Sequential`` equal to a built ``keras.Sequential`` (or the ``.keras`` file at a path, loaded
    by ``keras.saving.load_model``): layers, names, options, weights and, for a compiled model, the loss,
    metrics, optimizer and its state (moments and step count). ValueError names anything tinynet lacks."""
    keras = _keras()
    kmodel = keras_model_or_path
    if isinstance(kmodel, (str, bytes)) or hasattr(kmodel, "__fspath__"):
        import os

        path = os.fsdecode(kmodel)
        if not path.endswith(".keras"):
            raise ValueError(f"keras_model_or_path: expected a path to a .keras file, received {path!r}")
        if not os.path.isfile(path):
            raise ValueError(f"keras_model_or_path: no such file {path!r}")
        kmodel = keras.saving.load_model(path)
    if not isinstance(kmodel, keras.Model):
        raise TypeError(f"keras_model_or_path: expected a keras.Sequential or a path to a .keras file, received "
                        f"{describe(kmodel)}")
    if not isinstance(kmodel, keras.Sequential):
        raise ValueError(f"keras_model_or_path: expected a keras.Sequential, received a {type(kmodel).__name__} "
                         f"(functional and subclassed models have no tinynet form); "
                         f"{_supported('layers', SUPPORTED_LAYERS)} in a Sequential")
    if not kmodel.built:
        raise ValueError("keras_model_or_path: expected a built keras.Sequential (give it a keras.Input), "
                         "received an unbuilt one")
    model = _tinynet_model(keras, kmodel)
    if getattr(kmodel, "compiled", False) and kmodel.optimizer is not None:
        _compile_like(keras, kmodel, model)
    return model


def _tinynet_model(keras, kmodel):
    """The uncompiled tinynet model with ``kmodel``'s layers and weights."""
    from .models import Sequential

    input_shape = tuple(kmodel.input_shape[1:])
    if not input_shape or any(d is None for d in input_shape):
        raise ValueError(f"keras_model_or_path: expected a fixed sample shape, received {kmodel.input_shape}")
    dtypes = {_layer_dtype(layer) for layer in kmodel.layers} | {kmodel.inputs[0].dtype}
    if len(dtypes) != 1 or not dtypes <= {"float32", "float64"}:
        raise ValueError(f"keras_model_or_path: tinynet computes in one dtype, float32 or float64; the model's "
                         f"layers and input use {sorted(dtypes)}")
    dtype = dtypes.pop()
    built = [_tinynet_layer(layer, i) for i, layer in enumerate(kmodel.layers)]
    model = Sequential([layer for layer, _ in built], dtype=dtype, name=kmodel.name)
    model.build(input_shape)
    for layer, klayer in built:
        _copy_layer_weights(klayer, layer)
    return model


def _layer_dtype(layer) -> str:
    policy = layer.dtype_policy
    if policy.compute_dtype != policy.variable_dtype:
        return f"{policy.name} (mixed precision)"
    return policy.compute_dtype


def _copy_layer_weights(klayer, layer) -> None:
    weights = [np.asarray(w) for w in klayer.get_weights()]
    if isinstance(layer, layers_mod.Normalization):
        if weights:                                     # adapted in Keras: [mean, variance, count]
            state = layer.get_weights()
            state[0][...] = weights[0].reshape(state[0].shape)
            state[1][...] = weights[1].reshape(state[1].shape)
            layer.set_weights(state)
        return
    layer.set_weights(weights)


_COMMON_KERAS_KEYS = {"name", "trainable", "dtype"}


def _options(klayer, where: str, known: dict) -> dict:
    """The layer's config with ``known`` keys (and their allowed defaults for keys tinynet ignores) checked:
    any other key, or an ignored key away from its default, is a ValueError naming it."""
    config = klayer.get_config()
    if not config.get("trainable", True) or not klayer.trainable:
        raise ValueError(f"{where}: trainable=False (a frozen layer) is not supported; tinynet trains every layer")
    out = {}
    for key, value in config.items():
        if key in _COMMON_KERAS_KEYS:
            continue
        if key not in known:
            if value is None or value is False:
                continue                                # an option Keras added but left unset
            raise ValueError(f"{where}: option {key}={value!r} is not supported by tinynet's "
                             f"{type(klayer).__name__}")
        rule = known[key]
        if rule is _KEEP:
            out[key] = value
        elif value != rule and not (value is None and rule is None):
            raise ValueError(f"{where}: option {key}={value!r} is not supported by tinynet's "
                             f"{type(klayer).__name__} (expected {rule!r})")
    return out


_KEEP = object()


def _tinynet_layer(klayer, index: int):
    """``(tinynet layer, Keras layer)`` for one Keras layer of a Sequential; ValueError if tinynet has none."""
    where = f"layer {klayer.name!r} ({type(klayer).__name__}, layers[{index}])"
    class_name = type(klayer).__name__
    module = type(klayer).__module__
    if class_name not in SUPPORTED_LAYERS or not module.startswith("keras."):
        raise ValueError(f"{where}: not supported; {_supported('layers', SUPPORTED_LAYERS)}")
    name = klayer.name
    if class_name == "Dense":
        opts = _options(klayer, where, {"units": _KEEP, "activation": _KEEP, "use_bias": _KEEP,
                                        "kernel_initializer": _KEEP, "bias_initializer": _KEEP,
                                        "kernel_regularizer": _KEEP, "bias_regularizer": _KEEP,
                                        "activity_regularizer": _KEEP, "kernel_constraint": None,
                                        "bias_constraint": None, "quantization_config": None, "lora_rank": None})
        opts["activation"] = _activation_name(opts["activation"], where)
        for key in ("kernel_initializer", "bias_initializer"):
            init = _initializer_name(opts.pop(key, None))
            if init is not None:
                opts[key] = init
        for key in ("kernel_regularizer", "bias_regularizer", "activity_regularizer"):
            opts[key] = _tinynet_regularizer(opts.get(key), f"{where}: option {key}")
        return layers_mod.Dense(name=name, **opts), klayer
    if class_name == "Dropout":
        opts = _options(klayer, where, {"rate": _KEEP, "seed": _KEEP, "noise_shape": None})
        return layers_mod.Dropout(float(opts["rate"]), seed=opts.get("seed"), name=name), klayer
    if class_name == "Normalization":
        opts = _options(klayer, where, {"axis": _KEEP, "mean": _KEEP, "variance": _KEEP, "invert": _KEEP})
        axis = opts["axis"]
        if tuple(np.atleast_1d(axis)) not in ((-1,), (1,)):
            raise ValueError(f"{where}: option axis={axis!r} is not supported; tinynet normalises the last axis")
        mean, variance = opts.get("mean"), opts.get("variance")
        return layers_mod.Normalization(mean=mean, variance=variance, invert=bool(opts["invert"]), name=name), klayer
    if class_name == "Flatten":
        _options(klayer, where, {"data_format": "channels_last"})
        return layers_mod.Flatten(name=name), klayer
    if class_name == "ReLU":
        opts = _options(klayer, where, {"max_value": _KEEP, "negative_slope": _KEEP, "threshold": _KEEP})
        max_value = opts.get("max_value")
        return layers_mod.ReLU(max_value=None if max_value is None else float(max_value),
                               negative_slope=float(opts["negative_slope"]), threshold=float(opts["threshold"]),
                               name=name), klayer
    if class_name == "LeakyReLU":
        opts = _options(klayer, where, {"negative_slope": _KEEP})
        return layers_mod.LeakyReLU(float(opts["negative_slope"]), name=name), klayer
    if class_name == "ELU":
        opts = _options(klayer, where, {"alpha": _KEEP})
        return layers_mod.ELU(float(opts["alpha"]), name=name), klayer
    if class_name == "Softmax":
        opts = _options(klayer, where, {"axis": _KEEP})
        axis = opts["axis"]
        if isinstance(axis, (list, tuple)):
            if len(axis) != 1:
                raise ValueError(f"{where}: option axis={axis!r} is not supported; tinynet takes one axis")
            axis = axis[0]
        return layers_mod.Softmax(int(axis), name=name), klayer
    if class_name == "Activation":
        opts = _options(klayer, where, {"activation": _KEEP})
        return layers_mod.Activation(_activation_name(opts["activation"], where), name=name), klayer
    raise ValueError(f"{where}: not supported; {_supported('layers', SUPPORTED_LAYERS)}")   # InputLayer inside


def _activation_name(value, where: str) -> str:
    if not isinstance(value, str) or value not in activations_mod.NAMES:
        raise ValueError(f"{where}: activation {value!r} is not supported; tinynet supports the activations "
                         f"{', '.join(sorted(activations_mod.NAMES))}")
    return value


def _initializer_name(spec) -> str | None:
    """tinynet's name for a serialized Keras initializer, or None (Keras's own numbers are copied anyway, so an
    initializer tinynet lacks, or a seeded one, falls back to tinynet's default for later re-initialisation)."""
    if isinstance(spec, str):
        return spec if spec in _INITIALIZERS.values() else None
    if isinstance(spec, dict) and spec.get("class_name") in _INITIALIZERS:
        return _INITIALIZERS[spec["class_name"]]
    return None


def _tinynet_regularizer(spec, where: str):
    if spec is None:
        return None
    class_name = spec.get("class_name") if isinstance(spec, dict) else None
    if class_name not in SUPPORTED_REGULARIZERS:
        raise ValueError(f"{where}: {class_name or spec!r} is not supported; "
                         f"{_supported('regularizers', SUPPORTED_REGULARIZERS)}")
    config = {k: _from_float32(v) for k, v in spec["config"].items()}
    return regularizers_mod.deserialize({"class_name": class_name, "config": config}, where)


def _from_float32(value):
    """A number Keras rounded to float32 as the shortest decimal of that float32 (``0.02``, not
    ``0.019999999552965164``): the same float32, so the same computation, and the value as it was typed."""
    if isinstance(value, float) and np.isfinite(value) and float(np.float32(value)) == value:
        return float(str(np.float32(value)))
    return value


# -- the compiled state ---------------------------------------------------------------------------------------
def _strip(spec):
    """A Keras serialized object as tinynet's ``{"class_name", "config"}`` (strings pass through)."""
    if isinstance(spec, dict) and spec.get("class_name") == "function":
        return spec.get("config")                       # a function, e.g. keras.metrics.binary_accuracy: its name
    if isinstance(spec, dict) and "class_name" in spec:
        return {"class_name": spec["class_name"], "config": dict(spec.get("config") or {})}
    return spec


def _compile_like(keras, kmodel, model) -> None:
    compiled = kmodel.get_compile_config()
    if compiled.get("loss_weights") is not None:
        raise ValueError(f"compile: option loss_weights={compiled['loss_weights']!r} is not supported")
    loss = _tinynet_loss(compiled.get("loss"))
    metrics = [_tinynet_metric(m, f"compile: metrics[{i}]") for i, m in enumerate(compiled.get("metrics") or [])]
    weighted = [_tinynet_metric(m, f"compile: weighted_metrics[{i}]")
                for i, m in enumerate(compiled.get("weighted_metrics") or [])]
    optimizer = _tinynet_optimizer(kmodel.optimizer)
    state = _state_from_keras(kmodel, model, optimizer)
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics, weighted_metrics=weighted)
    optimizer.set_state(state, [model.flat_weights])


def _numpy(variable) -> np.ndarray:
    """A Keras variable's value (a distributed one's too) as a NumPy array."""
    return np.asarray(variable.numpy())


def _tinynet_loss(spec):
    spec = _strip(spec)
    if isinstance(spec, str):
        try:
            return losses_mod.get(spec)
        except ValueError:
            raise ValueError(f"compile: loss {spec!r} is not supported; {_supported('losses', SUPPORTED_LOSSES)}"
                             ) from None
    if not isinstance(spec, dict) or spec["class_name"] not in SUPPORTED_LOSSES:
        name = spec["class_name"] if isinstance(spec, dict) else describe(spec)
        raise ValueError(f"compile: loss {name} is not supported; {_supported('losses', SUPPORTED_LOSSES)}")
    try:
        return losses_mod.deserialize(spec)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"compile: loss {spec['class_name']} with {spec['config']} is not supported ({exc})"
                         ) from None


def _tinynet_metric(spec, where: str):
    spec = _strip(spec)
    try:
        if isinstance(spec, str):
            if spec.lower() not in metrics_mod.ACCURACY_NAMES:
                metrics_mod.get(spec)
            return spec
        if isinstance(spec, dict) and spec["class_name"] in SUPPORTED_METRICS:
            takes = inspect.signature(getattr(metrics_mod, spec["class_name"])).parameters
            for key, default in _KERAS_ONLY_METRIC_OPTIONS.items():
                if key not in takes and spec["config"].get(key, default) == default:
                    spec["config"].pop(key, None)      # Keras's default, which is what tinynet computes
            return metrics_mod.deserialize(spec)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{where}: {spec!r} is not supported ({exc})") from None
    raise ValueError(f"{where}: {spec.get('class_name') if isinstance(spec, dict) else spec!r} is not supported; "
                     f"tinynet supports metric names and the metric classes {', '.join(SUPPORTED_METRICS)}")


def _tinynet_optimizer(kopt):
    class_name = type(kopt).__name__
    if class_name not in SUPPORTED_OPTIMIZERS or not type(kopt).__module__.startswith("keras."):
        raise ValueError(f"compile: optimizer {class_name} is not supported; "
                         f"{_supported('optimizers', SUPPORTED_OPTIMIZERS)}")
    config = kopt.get_config()
    for key, allowed in _KERAS_ONLY_OPTIMIZER_OPTIONS.items():
        value = config.pop(key, allowed)
        if key in _IGNORED_WITHOUT_EMA:
            continue                                    # these tune the EMA, which use_ema=False leaves off
        if value != allowed:
            raise ValueError(f"compile: optimizer option {key}={value!r} is not supported (expected {allowed!r})")
    lr = config["learning_rate"]
    if isinstance(lr, dict):
        spec = _strip(lr)
        if spec["class_name"] not in SUPPORTED_SCHEDULES:
            raise ValueError(f"compile: learning-rate schedule {spec['class_name']} is not supported; "
                             f"{_supported('learning-rate schedules', SUPPORTED_SCHEDULES)}")
        config["learning_rate"] = spec
    else:
        config["learning_rate"] = _from_float32(float(lr))     # Keras keeps the rate in a float32 variable
    try:
        return optimizers_mod.deserialize({"class_name": class_name, "config": config})
    except (ValueError, TypeError) as exc:
        raise ValueError(f"compile: optimizer {class_name} with {config} is not supported ({exc})") from None


def _state_from_keras(kmodel, model, optimizer) -> dict:
    """Keras's optimizer variables as tinynet's ``get_state`` dict for ``model`` (one flat array per slot)."""
    kopt = kmodel.optimizer
    iterations = int(_numpy(kopt.iterations))
    state = {"iterations": np.asarray(iterations, dtype=np.int64)}
    if not kopt.built or not optimizer.slot_names:     # no slots to carry (SGD without momentum, or unbuilt)
        return state
    by_name = {v.name: v for v in kopt.variables}
    for slot in optimizer.slot_names:
        pieces = []
        for var in kmodel.trainable_variables:
            key = _slot_variable_name(var, _KERAS_SLOT[slot])
            if key not in by_name:
                raise ValueError(f"compile: the Keras optimizer has no variable {key!r} for slot {slot!r}")
            pieces.append(_numpy(by_name[key]).reshape(-1))
        state[f"{slot}_0"] = np.concatenate(pieces).astype(model.dtype) if pieces else np.zeros(0, model.dtype)
    return state


# ====================================================================================================
# Keras weight files
# ====================================================================================================
def load_keras_weights(model, filepath) -> None:
    """Load a Keras ``.weights.h5`` file (``keras_model.save_weights``) into the built tinynet ``model``: Keras
    reads it into the equivalent uncompiled ``keras.Sequential`` (``to_keras``'s layers), whose weights are then
    copied back, checked in full, all-or-nothing. The file must come from a model with the same layers (names
    need not match)."""
    from .models import Sequential

    if not isinstance(model, Sequential):
        raise TypeError(f"model: expected a tinynet.Sequential, received {describe(model)}")
    if not isinstance(filepath, (str, bytes)) and not hasattr(filepath, "__fspath__"):
        raise TypeError(f"filepath: expected a path to a .weights.h5 file, received {describe(filepath)}")
    import os

    keras = _keras()
    path = os.fsdecode(filepath)
    if not path.endswith(".weights.h5"):
        raise ValueError(f"filepath: expected a path ending in .weights.h5 (Keras's weights format), received "
                         f"{path!r}")
    if not os.path.isfile(path):
        raise ValueError(f"filepath: no such file {path!r}")
    _require_built(model)
    specs = [_keras_layer_spec(layer, i) for i, layer in enumerate(model.layers)]
    kmodel = _keras_model(keras, model, specs)          # uncompiled: the file holds no optimizer state
    try:
        kmodel.load_weights(path)
    except (ValueError, KeyError, OSError) as exc:
        raise ValueError(f"filepath: {path!r} does not hold this model's weights ({exc})") from None
    weights = []
    for layer, klayer in zip(model.layers, kmodel.layers, strict=True):
        kw = [np.asarray(w) for w in klayer.get_weights()]
        if isinstance(layer, layers_mod.Normalization):
            kw = layer.get_weights()                    # its statistics are Keras constants, not in the file
        weights.extend(kw)
    model.set_weights(weights)


__all__ = ["to_keras", "from_keras", "load_keras_weights", "SUPPORTED_LAYERS", "SUPPORTED_LOSSES",
           "SUPPORTED_OPTIMIZERS", "SUPPORTED_SCHEDULES", "SUPPORTED_REGULARIZERS", "SUPPORTED_METRICS"]
