"""Layers: each one's forward pass and its backward pass (the chain rule) side by side.

A layer caches, during a training forward pass, exactly what its backward pass needs and nothing else
(``Dense`` its input, ``ReLU`` its mask). ``backward(grad)`` never modifies ``grad``; it writes the layer's
parameter gradients into ``layer.grads`` (arrays the layer owns, overwritten on every call, not accumulated) and
returns the gradient with respect to the layer's input.

Shapes: inputs are ``(batch, features)`` for ``Dense`` and the activations; ``Flatten`` turns
``(batch, d1, d2, ...)`` into ``(batch, d1*d2*...)``.
"""

from __future__ import annotations

import re

import numpy as np

from . import initializers
from ._validation import describe, float_dtype, positive_int


def _snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _shape_tuple(value, name: str) -> tuple[int, ...]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, (tuple, list)) or not value:
        raise TypeError(f"{name}: expected a non-empty tuple of positive integers, received {describe(value)}")
    return tuple(positive_int(v, f"{name}[{i}]") for i, v in enumerate(value))


_ZEROS: dict[np.dtype, np.ndarray] = {}


def _zeros_like(x: np.ndarray) -> np.ndarray:
    """Read-only zeros shaped like ``x``: a view into one shared buffer per dtype, grown when needed.

    ``np.maximum(x, 0)`` broadcasts its scalar, and NumPy 2.4 runs that loop unvectorised: against an array of
    zeros the same maximum is several times faster (float32 5000x25: 144 vs 26 us; 128x512: 77 vs 18 us).
    The buffer is as long as the largest activation seen; it is never written, so its pages stay the kernel's
    shared zero page and cost no resident memory on Linux.
    """
    zeros = _ZEROS.get(x.dtype)
    if zeros is None or zeros.size < x.size:
        zeros = np.zeros(x.size, dtype=x.dtype)
        zeros.flags.writeable = False
        _ZEROS[x.dtype] = zeros
    return zeros[:x.size].reshape(x.shape)


_ROW_BLOCK = 1024


def _matmul(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``x @ w``, with a tall and narrow product (many rows, many inputs, few outputs) done in row blocks.

    Measured with NumPy's OpenBLAS on this project's 2-core machines: such a product is about 20% faster as
    1024-row blocks than as one call (the seed model's first layer on 5,000 samples: 2.0 vs 2.5 ms), because
    each block is split evenly over the two BLAS threads; on one thread the two are equal. Blocks gained for
    outputs of up to 64 units with 400 or 784 inputs and lost for 128 units and up or under 256 inputs (5,000 rows,
    a grid of 4 input and 5 output widths), so only products of at most 64 outputs from at least 256 inputs are
    blocked.
    """
    n = x.shape[0]
    if x.ndim != 2 or n <= _ROW_BLOCK or w.shape[1] > 64 or w.shape[0] < 256:
        return x @ w
    out = np.empty((n, w.shape[1]), dtype=np.result_type(x, w))
    for start in range(0, n, _ROW_BLOCK):
        np.matmul(x[start:start + _ROW_BLOCK], w, out=out[start:start + _ROW_BLOCK])
    return out


class Layer:
    """Base class.

    Subclasses define ``_param_specs(input_shape)`` (a list of ``(name, shape, initializer)``), ``forward``,
    ``backward`` and ``compute_output_shape``. After ``build`` the layer holds ``params`` (arrays, in Keras's
    ``get_weights`` order), ``grads`` (same shapes) and ``param_names``.
    """

    def __init__(self, name: str | None = None, input_shape=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name: expected a string or None, received {describe(name)}")
        self.name = name or _snake_case(type(self).__name__)
        self.input_shape = None if input_shape is None else _shape_tuple(input_shape, "input_shape")
        self.built = False
        self.params: list[np.ndarray] = []
        self.grads: list[np.ndarray] = []
        self.param_names: list[str] = []
        self.output_shape: tuple[int, ...] | None = None

    # -- construction -------------------------------------------------------------------------------------
    def _param_specs(self, input_shape: tuple[int, ...]) -> list[tuple[str, tuple[int, ...], object]]:
        return []

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return input_shape

    def build(self, input_shape, rng: np.random.Generator | None = None, dtype="float32") -> None:
        """Create the parameters for inputs of shape ``(batch, *input_shape)``.

        ``rng`` is the generator the initialisers draw from (a fresh unseeded one if omitted).
        """
        input_shape = _shape_tuple(input_shape, "input_shape")
        dtype = float_dtype(dtype)
        rng = np.random.default_rng() if rng is None else rng
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng: expected a numpy.random.Generator, received {describe(rng)}")
        specs = self._param_specs(input_shape)
        self.output_shape = self.compute_output_shape(input_shape)
        self.input_shape = input_shape
        self.param_names = [name for name, _, _ in specs]
        self.params = [np.asarray(init(shape, rng, dtype), dtype=dtype) for _, shape, init in specs]
        self.grads = [np.zeros_like(p) for p in self.params]
        self.dtype = dtype
        self.built = True

    def _bind(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """Move this layer's parameters into caller-owned storage (views into a model's flat buffers)."""
        for new, old in zip(params, self.params, strict=True):
            new[...] = old
        self.params, self.grads = params, grads

    def count_params(self) -> int:
        return sum(p.size for p in self.params)

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

    def __call__(self, x, training: bool = False) -> np.ndarray:
        x = np.asarray(x)
        if not self.built:
            self.build(x.shape[1:], dtype=x.dtype if x.dtype == np.float64 else np.float32)
        return self.forward(x, training=training)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


# -- activations --------------------------------------------------------------------------------------------
class Linear(Layer):
    """The identity: ``"linear"`` or ``None`` as an activation."""

    def forward(self, x, training=False):
        return x

    def backward(self, grad, need_input_grad=True):
        return grad


class ReLU(Layer):
    """``max(x, 0)``. The gradient is ``grad * (out > 0)``: zero at exactly 0, as in Keras and TensorFlow.

    The mask is kept as ``sign(out)``: since ``out >= 0`` it is exactly 1.0 where ``out > 0`` and 0.0 elsewhere,
    and multiplying by a float mask is about twice as fast in NumPy as multiplying by a boolean one.
    """

    in_place = False    # set by a Dense on its own ReLU, which only ever sees arrays that Dense just created

    def forward(self, x, training=False):
        out = np.maximum(x, _zeros_like(x), out=x if self.in_place else None)
        if training:
            self._mask = np.sign(out)
        return out

    def backward(self, grad, need_input_grad=True):
        return grad * self._mask


class Sigmoid(Layer):
    """``1 / (1 + exp(-x))``; gradient ``grad * s * (1 - s)``."""

    def forward(self, x, training=False):
        # exp(-|x|) never overflows; the two branches are the same function.
        e = np.exp(-np.abs(x))
        out = np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
        if training:
            self._out = out
        return out

    def backward(self, grad, need_input_grad=True):
        s = self._out
        return grad * s * (1 - s)


class Tanh(Layer):
    """``tanh(x)``; gradient ``grad * (1 - t**2)``."""

    def forward(self, x, training=False):
        out = np.tanh(x)
        if training:
            self._out = out
        return out

    def backward(self, grad, need_input_grad=True):
        return grad * (1 - self._out * self._out)


class Softmax(Layer):
    """Softmax over the last axis; gradient ``s * (grad - sum(grad * s))`` per row.

    For classification prefer a linear output with ``from_logits=True`` in the loss: it is fused, exact and
    cheaper. As a model's output under ``SparseCategoricalCrossentropy(from_logits=False)``, Keras computes the
    loss from this softmax's *input* (the logits), not from the clipped probabilities; ``Sequential`` does the
    same, reading ``logits`` (the last input, kept by reference) and starting backpropagation below this layer.
    """

    def forward(self, x, training=False):
        self.logits = x
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        out = e / e.sum(axis=-1, keepdims=True)
        if training:
            self._out = out
        return out

    def backward(self, grad, need_input_grad=True):
        s = self._out
        return s * (grad - (grad * s).sum(axis=-1, keepdims=True))


ACTIVATIONS = {"linear": Linear, "relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh, "softmax": Softmax}


def get_activation(identifier) -> Layer | None:
    """Resolve an activation name or layer. Returns ``None`` for the identity (so it costs nothing)."""
    if identifier is None or identifier == "linear":
        return None
    if isinstance(identifier, str):
        if identifier not in ACTIVATIONS:
            raise ValueError(f"activation: expected one of {sorted(ACTIVATIONS)} or None, received {identifier!r}")
        return ACTIVATIONS[identifier]()
    if type(identifier) in ACTIVATIONS.values():
        return None if type(identifier) is Linear else type(identifier)()   # a fresh one: masks are per layer
    raise TypeError(f"activation: expected an activation name, an activation layer such as ReLU(), or None; "
                    f"received {describe(identifier)}")


def _activation_name(fn: Layer | None) -> str:
    return "linear" if fn is None else next(key for key, cls in ACTIVATIONS.items() if type(fn) is cls)


class Activation(Layer):
    """Applies an activation given by name, as a layer of its own: ``Activation("relu")``."""

    def __init__(self, activation, name=None, input_shape=None):
        fn = get_activation(activation) or Linear()
        super().__init__(name=name, input_shape=input_shape)
        self._fn = fn
        self.activation_name = _activation_name(fn)

    def forward(self, x, training=False):
        return self._fn.forward(x, training)

    def backward(self, grad, need_input_grad=True):
        return self._fn.backward(grad)

    def get_config(self):
        return {**super().get_config(), "activation": self.activation_name}


# -- parameterised layers -----------------------------------------------------------------------------------
class Dense(Layer):
    """Fully connected layer: ``out = activation(x @ kernel + bias)``.

    Parameters
    ----------
    units : int
        Output features.
    activation : str or None
        ``"relu"``, ``"linear"``/``None``, ``"sigmoid"``, ``"tanh"`` or ``"softmax"``.
    use_bias : bool
    kernel_initializer, bias_initializer : str or callable
        Names from :mod:`tinynet.initializers` or callables ``(shape, rng, dtype) -> array``.
    input_shape : tuple of int, optional
        ``(features,)``; lets a ``Sequential`` build its weights at construction, as in Keras.

    Shapes: x ``(batch, in)``, kernel ``(in, units)``, bias ``(units,)``, out ``(batch, units)``.

    Backward, with ``g = dL/dz`` (after the activation's own backward):
    ``dL/dkernel = x.T @ g`` ``(in, units)``; ``dL/dbias = g.sum(axis=0)`` ``(units,)``;
    ``dL/dx = g @ kernel.T`` ``(batch, in)``.
    """

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", input_shape=None, name=None):
        units = positive_int(units, "units")
        if not isinstance(use_bias, bool):
            raise TypeError(f"use_bias: expected True or False, received {describe(use_bias)}")
        act = get_activation(activation)
        kinit = initializers.get(kernel_initializer, "kernel_initializer")
        binit = initializers.get(bias_initializer, "bias_initializer")
        if input_shape is not None and len(_shape_tuple(input_shape, "input_shape")) != 1:
            raise ValueError(f"input_shape: expected (features,) for Dense, received {input_shape!r}")
        super().__init__(name=name, input_shape=input_shape)
        self.units = units
        if isinstance(act, ReLU):
            act.in_place = True                     # Dense's own ReLU may overwrite the pre-activation it gets
        self.activation = act
        self.activation_name = _activation_name(act)
        self.use_bias = use_bias
        self.kernel_initializer = kinit
        self.bias_initializer = binit
        self._ones = np.ones(0, dtype=np.float32)

    def _param_specs(self, input_shape):
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

    def pre_activation(self, x) -> np.ndarray:
        """``x @ kernel + bias``: the layer's output before its activation, in a new array."""
        z = _matmul(x, self.params[0])
        if self.use_bias:
            z += self.params[1]
        return z

    def forward(self, x, training=False):
        z = self.pre_activation(x)
        if training:
            self._x = x
        return z if self.activation is None else self.activation.forward(z, training)

    def backward(self, grad, need_input_grad=True):
        if self.activation is not None:
            grad = self.activation.backward(grad)
        return self._backward_linear(grad, need_input_grad)

    def _backward_linear(self, grad, need_input_grad=True):
        """Backward from ``grad = dL/dz``, the gradient with respect to the pre-activation ``z``."""
        np.matmul(self._x.T, grad, out=self.grads[0])
        if self.use_bias:
            # grad.sum(axis=0), as a matrix-vector product: one BLAS call, several times faster on small batches.
            n = grad.shape[0]
            if self._ones.shape[0] < n or self._ones.dtype != grad.dtype:
                self._ones = np.ones(n, dtype=grad.dtype)
            np.dot(self._ones[:n], grad, out=self.grads[1])
        return grad @ self.params[0].T if need_input_grad else None

    def get_config(self):
        config = {**super().get_config(), "units": self.units, "activation": self.activation_name,
                  "use_bias": self.use_bias}
        for key, fn in (("kernel_initializer", self.kernel_initializer),
                        ("bias_initializer", self.bias_initializer)):
            name = getattr(fn, "__name__", None)
            if name in initializers.NAMES and initializers.get(name) is fn:
                config[key] = name                      # custom callables are not saved (the weights are)
        return config


class Flatten(Layer):
    """``(batch, d1, d2, ...) -> (batch, d1*d2*...)`` in C order (for ex3data1 images see ``to_images``)."""

    def compute_output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

    def forward(self, x, training=False):
        if training:
            self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad, need_input_grad=True):
        return grad.reshape(self._shape)


LAYERS = {cls.__name__: cls for cls in (Dense, Flatten, Activation, ReLU, Sigmoid, Tanh, Softmax, Linear)}


def from_config(class_name: str, config: dict) -> Layer:
    """Rebuild a layer from ``get_config()`` output (used by ``tinynet.load_model``)."""
    if class_name not in LAYERS:
        raise ValueError(f"layer class: expected one of {sorted(LAYERS)}, received {class_name!r}")
    return LAYERS[class_name](**config)


__all__ = ["Layer", "Dense", "Flatten", "Activation", "ReLU", "Sigmoid", "Tanh", "Softmax", "Linear",
           "get_activation"]
