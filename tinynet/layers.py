"""Layers: each one's forward pass and its backward pass (the chain rule) side by side.

``forward(x, training=True)`` keeps in ``layer.cache`` exactly what the backward pass needs (``Dense`` its input,
an activation its input and output) and nothing else; ``training=False`` keeps nothing. ``backward(grad)`` takes
``grad = dL/d out``, never modifies it, writes the layer's parameter gradients into ``layer.grads`` (overwritten,
not accumulated) and returns ``dL/dx``.

Shapes: ``(batch, features)`` for ``Dense`` and the activations; ``Flatten`` turns ``(batch, d1, d2, ...)`` into
``(batch, d1*d2*...)``.
"""

from __future__ import annotations

import inspect
from functools import partial

import numpy as np

from . import activations, backend, initializers, regularizers
from ._validation import checked_weights, describe, float_array, float_dtype, positive_int, real_number, snake_case


def shape_tuple(value, name: str) -> tuple[int, ...]:
    """``value`` (an int or a sequence of ints) as a non-empty tuple of positive ints."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, (tuple, list)) or not value:
        raise TypeError(f"{name}: expected a non-empty tuple of positive integers, received {describe(value)}")
    return tuple(positive_int(v, f"{name}[{i}]") for i, v in enumerate(value))


class Layer:
    """Base class.

    Subclasses define ``param_specs(input_shape)`` (a list of ``(name, shape, initializer)``), ``forward``,
    ``backward`` and ``compute_output_shape``. After ``build`` the layer holds ``params`` (arrays, in Keras's
    ``get_weights`` order), ``grads`` (same shapes) and ``param_names``.
    """

    def __init__(self, name: str | None = None, input_shape=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name: expected a string or None, received {describe(name)}")
        self.name = name or snake_case(type(self).__name__)
        self.input_shape = None if input_shape is None else shape_tuple(input_shape, "input_shape")
        self.built = False
        self.params: list[np.ndarray] = []
        self.grads: list[np.ndarray] = []
        self.param_names: list[str] = []
        self.state: list[np.ndarray] = []               # non-trainable weights (Normalization's statistics)
        self.state_names: list[str] = []
        self.output_shape: tuple[int, ...] | None = None
        self.cache: dict[str, np.ndarray] = {}
        self.activity_regularizer = None                # a penalty on the outputs (Dense takes one, as Keras)

    @property
    def param_regularizers(self) -> list:
        """One entry per parameter: the regularizer whose penalty the model adds for it, or None."""
        return [None] * len(self.params)

    # -- construction -------------------------------------------------------------------------------------
    def param_specs(self, input_shape: tuple[int, ...]) -> list[tuple[str, tuple[int, ...], object]]:
        """``(name, shape, initializer)`` of each parameter for inputs of ``input_shape``; raises if it can't
        take them. Creates nothing."""
        return []

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return input_shape

    def build(self, input_shape, rng: np.random.Generator | None = None, dtype="float32") -> None:
        """Create the parameters for inputs of shape ``(batch, *input_shape)``.

        ``rng`` is the generator the initialisers draw from (a fresh unseeded one if omitted).
        """
        input_shape = shape_tuple(input_shape, "input_shape")
        dtype = float_dtype(dtype)
        rng = backend.new_generator() if rng is None else rng       # a model passes its own
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng: expected a numpy.random.Generator, received {describe(rng)}")
        specs = self.param_specs(input_shape)
        self.output_shape = self.compute_output_shape(input_shape)
        self.input_shape = input_shape
        self.param_names = [name for name, _, _ in specs]
        self.params = [np.asarray(init(shape, rng, dtype), dtype=dtype) for _, shape, init in specs]
        self.grads = [np.zeros_like(p) for p in self.params]
        self.dtype = dtype
        self.built = True

    def bind(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """Move the parameters into caller-owned arrays of the same shapes (a model's flat buffers)."""
        for new, old in zip(params, self.params, strict=True):
            new[...] = old
        self.params, self.grads = params, grads

    def count_params(self) -> int:
        return sum(w.size for w in self.weights)

    # -- weights, as Keras names them ------------------------------------------------------------------------
    @property
    def weights(self) -> list[np.ndarray]:
        """The live arrays: the parameters (views into the model's buffer once in a model), then the state."""
        return self.params + self.state

    @property
    def trainable_weights(self) -> list[np.ndarray]:
        return list(self.params)

    @property
    def non_trainable_weights(self) -> list[np.ndarray]:
        return list(self.state)

    def get_weights(self) -> list[np.ndarray]:
        """Copies of ``weights``: ``[kernel, bias]`` for a Dense, ``[]`` before the layer is built."""
        return [w.copy() for w in self.weights]

    def set_weights(self, weights) -> None:
        """Replace ``weights`` (count, shapes and finiteness checked in full before anything is written)."""
        current = self.weights
        for w, arr in zip(current, checked_weights(weights, current), strict=True):
            w[...] = arr

    def get_config(self) -> dict:
        config = {"name": self.name}
        if self.input_shape is not None:
            config["input_shape"] = list(self.input_shape)
        return config

    # -- computation --------------------------------------------------------------------------------------
    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        raise NotImplementedError

    def cached(self, key: str) -> np.ndarray:
        """What the last ``forward(x, training=True)`` kept for the backward pass."""
        if key not in self.cache:
            raise RuntimeError(f"{self.name}.backward: needs what a forward pass with training=True keeps; call "
                               f"forward(x, training=True) first (the last forward pass kept {sorted(self.cache)})")
        return self.cache[key]

    def __call__(self, x, training: bool = False) -> np.ndarray:
        x = np.asarray(x)
        if not self.built:
            self.build(x.shape[1:], dtype=x.dtype if x.dtype in (np.float32, np.float64) else backend.floatx())
        return self.forward(x, training=training)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


# -- activations --------------------------------------------------------------------------------------------
class Activation(Layer):
    """An activation function as a layer: ``Activation("relu")``. The formulas are in :mod:`tinynet.activations`.

    ``pre_activation`` and ``backward_pre_activation`` are the identity here; they let a model treat this layer
    and a ``Dense`` alike when its loss reads the input of the output activation (see ``Sequential``).
    """

    def __init__(self, activation, name=None, input_shape=None, **options):
        fn, given = _activation_function(activation)
        options = _checked_options(fn, options)
        super().__init__(name=name, input_shape=input_shape)
        self.options = {**given, **options}             # keyword arguments of the function, e.g. max_value
        _use_activation(self, fn, self.options)

    def pre_activation(self, x, training=False):
        return x

    def forward(self, x, training=False):
        out = self.activation(x)
        self.cache = {"x": x, "out": out} if training else {}
        return out

    def backward(self, grad, need_input_grad=True):
        return self.activation_backward(self.cached("x"), self.cached("out"), grad)

    def backward_pre_activation(self, grad, need_input_grad=True):
        return grad

    def get_config(self):
        config = {**super().get_config(), **self.options}
        if type(self) is Activation:                    # ReLU(), Softmax(), ... are named by their class
            config["activation"] = self.activation_name
        return config


class Linear(Activation):
    """The identity: ``"linear"`` or ``None`` as an activation."""

    def __init__(self, name=None, input_shape=None):
        super().__init__("linear", name=name, input_shape=input_shape)


class ReLU(Activation):
    """``max(x, 0)``; gradient ``grad * (x > 0)`` (0 at exactly 0, as in Keras and TensorFlow).

    Keras's options: ``max_value`` caps the output, ``threshold`` passes ``x`` only above it, and
    ``negative_slope`` gives ``negative_slope * (x - threshold)`` below the threshold (see ``activations.relu``).
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, name=None, input_shape=None):
        options = _checked_options(activations.relu, {"max_value": max_value, "negative_slope": negative_slope,
                                                      "threshold": threshold})
        defaults = {"max_value": None, "negative_slope": 0.0, "threshold": 0.0}     # kept out of the config
        super().__init__("relu", name=name, input_shape=input_shape,
                         **{k: v for k, v in options.items() if v != defaults[k]})


class LeakyReLU(Activation):
    """``x`` for ``x >= 0``, ``negative_slope * x`` below (Keras's layer default 0.3; the function's is 0.2)."""

    def __init__(self, negative_slope=0.3, name=None, input_shape=None):
        super().__init__("leaky_relu", name=name, input_shape=input_shape, negative_slope=negative_slope)


class ELU(Activation):
    """``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` below."""

    def __init__(self, alpha=1.0, name=None, input_shape=None):
        super().__init__("elu", name=name, input_shape=input_shape, alpha=alpha)


class Sigmoid(Activation):
    """``1 / (1 + exp(-x))``; gradient ``grad * s * (1 - s)``."""

    def __init__(self, name=None, input_shape=None):
        super().__init__("sigmoid", name=name, input_shape=input_shape)


class Tanh(Activation):
    """``tanh(x)``; gradient ``grad * (1 - t**2)``."""

    def __init__(self, name=None, input_shape=None):
        super().__init__("tanh", name=name, input_shape=input_shape)


class Softmax(Activation):
    """Softmax along ``axis`` (the last by default); gradient ``s * (grad - sum(grad * s))``.

    For classification prefer a linear output with ``from_logits=True`` in the loss. As a model's output under
    ``SparseCategoricalCrossentropy(from_logits=False)``, Keras computes the loss from this softmax's input (the
    logits); ``Sequential`` does the same.
    """

    def __init__(self, axis=-1, name=None, input_shape=None):
        axis = _axis_option(axis, "axis")
        super().__init__("softmax", name=name, input_shape=input_shape, **({} if axis == -1 else {"axis": axis}))


ACTIVATIONS = {"linear": Linear, "relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh, "softmax": Softmax}


def _activation_function(identifier) -> tuple:
    """``(function, options)`` from a name, ``None``, a function of :mod:`tinynet.activations` or an activation
    layer such as ``ReLU(max_value=6)`` (its function and options; the layer itself, with its cache, is not
    shared)."""
    if isinstance(identifier, Activation):
        return activations.get(identifier.activation_name), dict(identifier.options)
    if isinstance(identifier, Layer):
        raise TypeError(f"activation: expected an activation name, function or activation layer, received "
                        f"{describe(identifier)}")
    return activations.get(identifier), {}


def _bool_option(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, received {describe(value)}")
    return bool(value)


def _axis_option(value, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an integer, received {describe(value)}")
    return int(value)


# The keyword options of the activation functions (Keras's names and ranges), checked when a layer is made.
_OPTION_CHECKS = {
    "max_value": lambda v, n: None if v is None else real_number(v, n, low=0.0),
    "negative_slope": lambda v, n: real_number(v, n, low=0.0),
    "threshold": real_number,
    "alpha": real_number,
    "approximate": _bool_option,
    "axis": _axis_option,
}


def _checked_options(fn, options: dict) -> dict:
    """``options`` for the activation function ``fn``: only keywords it takes, each of the type and range Keras
    allows (``TypeError`` for an unknown keyword or a wrong type, ``ValueError`` out of range)."""
    takes = list(inspect.signature(fn).parameters)[1:]
    unknown = [k for k in options if k not in takes]
    if unknown:
        raise TypeError(f"{unknown[0]}: the activation {activations.serialize(fn)!r} takes "
                        f"{'the options ' + str(takes) if takes else 'no options'}, received {unknown[0]}="
                        f"{describe(options[unknown[0]])}")
    return {k: _OPTION_CHECKS[k](v, k) for k, v in options.items()}


def _use_activation(layer, fn, options: dict) -> None:
    """Give ``layer`` the activation ``fn`` with ``options``: ``activation``, ``activation_backward`` and
    ``activation_name``."""
    backward = activations.backward_of(fn)
    layer.activation = partial(fn, **options) if options else fn
    layer.activation_backward = partial(backward, **options) if options else backward
    layer.activation_name = activations.serialize(fn)


def get_activation(identifier) -> Layer | None:
    """A new activation layer for a name, function or layer; ``None`` for the identity (``None``/``"linear"``)."""
    fn, options = _activation_function(identifier)
    return None if fn is activations.linear and not options else Activation(fn, **options)


# -- parameterised layers -----------------------------------------------------------------------------------
class Dense(Layer):
    """Fully connected layer: ``out = activation(x @ kernel + bias)``.

    Parameters
    ----------
    units : int
        Output features.
    activation : str, function, activation layer or None
        ``"relu"``, ``"linear"``/``None``, ``"sigmoid"``, ``"tanh"``, ``"softmax"`` (see :mod:`tinynet.activations`).
    use_bias : bool
    kernel_initializer, bias_initializer : str or callable
        Names from :mod:`tinynet.initializers` or callables ``(shape, rng, dtype) -> array``.
    kernel_regularizer, bias_regularizer, activity_regularizer : regularizer, name or None
        Penalties (:mod:`tinynet.regularizers`) the model adds to the training loss: on the kernel, on the bias,
        and on the layer's outputs (divided by the batch size, as Keras 3).
    input_shape : tuple of int, optional
        ``(features,)``; lets a ``Sequential`` build its weights at construction, as in Keras.

    Shapes: x ``(N, in)``, kernel ``(in, units)``, bias ``(units,)``, z and out ``(N, units)``.
    """

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, input_shape=None, name=None, input_dim=None):
        units = positive_int(units, "units")
        if input_dim is not None:
            if input_shape is not None:
                raise ValueError("input_dim: expected input_dim or input_shape, received both")
            input_shape = (positive_int(input_dim, "input_dim"),)
        if not isinstance(use_bias, bool):
            raise TypeError(f"use_bias: expected True or False, received {describe(use_bias)}")
        fn, options = _activation_function(activation)
        if options:
            raise ValueError(f"activation: Dense takes an activation without options; received "
                             f"{type(activation).__name__} with {options} (add the layer after the Dense instead)")
        kinit = initializers.get(kernel_initializer, "kernel_initializer")
        binit = initializers.get(bias_initializer, "bias_initializer")
        kreg = regularizers.get(kernel_regularizer, "kernel_regularizer")
        breg = regularizers.get(bias_regularizer, "bias_regularizer")
        areg = regularizers.get(activity_regularizer, "activity_regularizer")
        if input_shape is not None and len(shape_tuple(input_shape, "input_shape")) != 1:
            raise ValueError(f"input_shape: expected (features,) for Dense, received {input_shape!r}")
        super().__init__(name=name, input_shape=input_shape)
        self.units = units
        _use_activation(self, fn, {})
        self.use_bias = use_bias
        self.kernel_initializer = kinit
        self.bias_initializer = binit
        self.kernel_regularizer, self.bias_regularizer, self.activity_regularizer = kreg, breg, areg

    @property
    def param_regularizers(self):
        return [self.kernel_regularizer, self.bias_regularizer][:len(self.params)]

    def param_specs(self, input_shape):
        if len(input_shape) != 1:
            raise ValueError(f"input_shape: expected (features,) for Dense layer {self.name!r}, received "
                             f"{input_shape}; add a Flatten layer before it")
        specs = [("kernel", (input_shape[0], self.units), self.kernel_initializer)]
        if self.use_bias:
            specs.append(("bias", (self.units,), self.bias_initializer))
        return specs

    def compute_output_shape(self, input_shape):
        return (self.units,)

    @property
    def kernel(self) -> np.ndarray:
        return self.params[0]

    @property
    def bias(self) -> np.ndarray | None:
        return self.params[1] if self.use_bias else None

    def pre_activation(self, x, training=False) -> np.ndarray:
        """``z = x @ kernel + bias``, the output before the activation (with ``training=True`` keeps ``x``)."""
        self.cache = {"x": x} if training else {}
        z = x @ self.kernel                              # (N, in) @ (in, units) -> (N, units)
        if self.use_bias:
            z += self.bias                               # (units,) broadcast over the batch
        return z

    def forward(self, x, training=False):
        z = self.pre_activation(x, training)
        out = self.activation(z)
        if training:
            self.cache.update(z=z, out=out)
        return out

    def backward(self, grad, need_input_grad=True):
        dz = self.activation_backward(self.cached("z"), self.cached("out"), grad)     # dL/dz, (N, units)
        return self.backward_pre_activation(dz, need_input_grad)

    def backward_pre_activation(self, grad, need_input_grad=True):
        """Backward from ``grad = dL/dz``; fills ``grads`` and returns ``dL/dx`` (or None)."""
        x = self.cached("x")
        np.matmul(x.T, grad, out=self.grads[0])          # dW = x.T @ g    (in, N) @ (N, units) -> (in, units)
        if self.use_bias:
            grad.sum(axis=0, out=self.grads[1])          # db = g.sum(axis=0)                       -> (units,)
        if need_input_grad:
            return grad @ self.kernel.T                  # dx = g @ W.T    (N, units) @ (units, in) -> (N, in)
        return None

    def get_config(self):
        config = {**super().get_config(), "units": self.units, "activation": self.activation_name,
                  "use_bias": self.use_bias}
        for key, fn in (("kernel_initializer", self.kernel_initializer),
                        ("bias_initializer", self.bias_initializer)):
            name = getattr(fn, "__name__", None)
            if name in initializers.NAMES and initializers.get(name) is fn:
                config[key] = name                      # custom callables are not saved (the weights are)
        for key in ("kernel_regularizer", "bias_regularizer", "activity_regularizer"):
            if getattr(self, key) is not None:
                config[key] = regularizers.serialize(getattr(self, key))
        return config


class InputLayer(Layer):
    """The shape of one sample, declared first in a ``Sequential``: ``Sequential([Input(shape=(400,)), ...])``.

    It has no parameters and computes nothing; the model takes its shape and does not keep it in ``layers``.
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None):
        if shape is None:
            raise ValueError("shape: expected the shape of one sample, e.g. (400,), received None")
        if batch_size is not None:
            positive_int(batch_size, "batch_size")
        if dtype is not None:
            float_dtype(dtype)
        super().__init__(name=name, input_shape=shape_tuple(shape, "shape"))
        self.shape = self.input_shape

    def forward(self, x, training=False):
        return x

    def backward(self, grad, need_input_grad=True):
        return grad


def Input(shape=None, batch_size=None, dtype=None, name=None) -> InputLayer:  # noqa: N802 (Keras's name)
    """``InputLayer(shape)``: Keras's ``keras.Input`` for a ``Sequential``."""
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name)


class Dropout(Layer):
    """Inverted dropout: in training each input is kept with probability ``1 - rate`` and scaled by
    ``1 / (1 - rate)``, else set to 0; outside training (``predict``, ``evaluate``) the identity.

    The mask is drawn from ``numpy.random.default_rng(seed)`` when ``seed`` is given, else from the model's
    generator (the layer's own when used alone); the backward pass multiplies by the same mask.
    """

    def __init__(self, rate, noise_shape=None, seed=None, name=None, input_shape=None):
        rate = real_number(rate, "rate", low=0.0, high=1.0, high_open=True)
        if noise_shape is not None:
            raise ValueError("noise_shape: tinynet draws one mask value per input; expected None, received "
                             f"{noise_shape!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise TypeError(f"seed: expected None or a non-negative integer, received {describe(seed)}")
        if seed is not None and seed < 0:
            raise ValueError(f"seed: expected None or a non-negative integer, received {describe(seed)}")
        super().__init__(name=name, input_shape=input_shape)
        self.rate, self.seed = rate, seed
        self.own_rng = None if seed is None else np.random.default_rng(int(seed))

    def build(self, input_shape, rng=None, dtype="float32"):
        rng = backend.new_generator() if rng is None else rng
        super().build(input_shape, rng=rng, dtype=dtype)
        self.rng = self.own_rng if self.own_rng is not None else rng          # where the masks come from

    def forward(self, x, training=False):
        if not training or self.rate == 0:
            self.cache = {"mask": None} if training else {}
            return x
        keep = self.rng.random(x.shape) >= self.rate            # each input kept with probability 1 - rate
        mask = keep / x.dtype.type(1 - self.rate)               # kept inputs scaled by 1 / (1 - rate)
        self.cache = {"mask": mask}
        return x * mask

    def backward(self, grad, need_input_grad=True):
        mask = self.cached("mask")
        return grad if mask is None else grad * mask

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class Normalization(Layer):
    """Standardises each feature: ``(x - mean) / max(sqrt(variance), 1e-7)`` (``invert=True``: the inverse).

    ``mean`` and ``variance`` are given, or computed from data by ``adapt(data)`` (NumPy's mean and population
    variance over the samples, in float64, then stored in the layer's dtype, as Keras does). They are the layer's
    non-trainable weights ``[mean, variance, count]`` (``count`` is 0, as in Keras), so they are in
    ``get_weights`` and saved and loaded with the model; no optimizer changes them. Only the last axis is
    normalised (``axis=-1``), samples of shape ``(features,)``.
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, name=None, input_shape=None):
        _axis_option(axis, "axis")
        if axis not in (-1, 1):
            raise ValueError(f"axis: tinynet normalises the last axis of (samples, features); expected -1, "
                             f"received {axis!r}")
        if (mean is None) != (variance is None):
            raise ValueError("mean, variance: expected both or neither, received only "
                             f"{'mean' if variance is None else 'variance'}")
        if not isinstance(invert, bool):
            raise TypeError(f"invert: expected True or False, received {describe(invert)}")
        given = None
        if mean is not None:
            mean = float_array(mean, "mean", dtype=np.float64)
            variance = float_array(variance, "variance", dtype=np.float64)
            if (variance < 0).any():
                raise ValueError("variance: expected values >= 0, received a negative variance")
            given = np.broadcast_arrays(mean.reshape(-1), variance.reshape(-1))
        super().__init__(name=name, input_shape=input_shape)
        self.axis, self.invert, self.given = -1, invert, given

    def param_specs(self, input_shape):
        if len(input_shape) != 1:
            raise ValueError(f"input_shape: expected (features,) for Normalization {self.name!r}, received "
                             f"{input_shape}")
        if self.given is not None and self.given[0].size not in (1, input_shape[0]):
            raise ValueError(f"mean: expected 1 or {input_shape[0]} values (one per feature), received "
                             f"{self.given[0].size}")
        return []

    def build(self, input_shape, rng=None, dtype="float32"):
        shape = shape_tuple(input_shape, "input_shape")
        super().build(shape, rng=rng, dtype=dtype)
        self.state_names = ["mean", "variance", "count"]
        self.state = [np.zeros(shape, self.dtype), np.ones(shape, self.dtype), np.zeros((), np.int64)]
        if self.given is not None:
            self.state[0][...], self.state[1][...] = self.given

    def adapt(self, data) -> None:
        """Set ``mean`` and ``variance`` from ``data`` of shape (samples, features): finite, at least one sample."""
        data = float_array(data, "data", dtype=np.float64, ndim=2)
        if self.built and data.shape[1:] != self.input_shape:
            raise ValueError(f"data: expected samples of shape {self.input_shape}, received shape {data.shape}")
        if not self.built:
            self.build(data.shape[1:])
        self.state[0][...] = data.mean(axis=0)
        self.state[1][...] = data.var(axis=0)

    @property
    def mean(self) -> np.ndarray:
        return self.state[0]

    @property
    def variance(self) -> np.ndarray:
        return self.state[1]

    def scale(self) -> np.ndarray:
        """``max(sqrt(variance), 1e-7)``: Keras's epsilon keeps a constant feature from dividing by 0."""
        return np.maximum(np.sqrt(self.variance), self.dtype.type(1e-7))

    def forward(self, x, training=False):
        self.cache = {"x": x} if training else {}
        if self.invert:
            return self.mean + x * self.scale()
        return (x - self.mean) / self.scale()

    def backward(self, grad, need_input_grad=True):
        self.cached("x")
        return grad * self.scale() if self.invert else grad / self.scale()

    def get_config(self):
        config = {**super().get_config(), "axis": self.axis, "invert": self.invert}
        return config


class Flatten(Layer):
    """``(batch, d1, d2, ...) -> (batch, d1*d2*...)`` in C order (for ex3data1 images see ``to_images``)."""

    def compute_output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

    def forward(self, x, training=False):
        self.cache = {"x": x} if training else {}
        return x.reshape(x.shape[0], -1)

    def backward(self, grad, need_input_grad=True):
        return grad.reshape(self.cached("x").shape)


LAYERS = {cls.__name__: cls for cls in (Dense, Flatten, Dropout, Normalization, Activation, ReLU, LeakyReLU, ELU,
                                        Sigmoid, Tanh, Softmax, Linear)}


def from_config(class_name: str, config: dict) -> Layer:
    """Rebuild a layer from ``get_config()`` output (used by ``tinynet.load_model``)."""
    if class_name not in LAYERS:
        raise ValueError(f"layer class: expected one of {sorted(LAYERS)}, received {class_name!r}")
    return LAYERS[class_name](**config)


__all__ = ["Layer", "Input", "InputLayer", "Dense", "Dropout", "Normalization", "Flatten", "Activation", "ReLU",
           "LeakyReLU", "ELU", "Sigmoid", "Tanh", "Softmax", "Linear", "get_activation"]
