"""Activation functions and their backward passes, Keras-style: ``activations.relu(x)``.

Each activation ``f`` is a plain function of an array, and ``f_backward(x, out, grad)`` returns ``dL/dx`` from
``grad = dL/d out``, the input ``x`` and the output ``out = f(x)`` (each uses whichever of the two its formula
needs). Elementwise activations have a diagonal Jacobian, so their backward pass is ``grad`` times ``f'(x)``;
softmax mixes a row's entries and multiplies ``grad`` by its Jacobian instead.

``get(identifier)`` resolves a name (``"relu"``), ``None`` (the identity) or one of these functions;
``backward_of(f)`` gives the matching backward function. Layers (``tinynet.layers``) and
``Dense(activation=...)`` use both.
"""

from __future__ import annotations

import numpy as np

from ._validation import describe


def linear(x):
    """The identity, ``x`` (``None`` or ``"linear"`` as an activation)."""
    return x


def linear_backward(x, out, grad):
    return grad


def relu(x):
    """``max(x, 0)``, elementwise."""
    return np.maximum(x, 0)


def relu_backward(x, out, grad):
    """Slope 1 where ``x > 0`` and 0 elsewhere; 0 at the kink ``x = 0``, as in TensorFlow."""
    return grad * (x > 0)


def sigmoid(x):
    """``1 / (1 + exp(-x))``, computed from ``exp(-|x|)`` so that it never overflows (both branches are equal)."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_backward(x, out, grad):
    """``sigmoid'(x) = s (1 - s)`` with ``s = out``."""
    return grad * out * (1 - out)


def tanh(x):
    """``tanh(x)``, elementwise."""
    return np.tanh(x)


def tanh_backward(x, out, grad):
    """``tanh'(x) = 1 - t**2`` with ``t = out``."""
    return grad * (1 - out * out)


def softmax(x):
    """``exp(x) / sum(exp(x))`` over the last axis, with the row maximum subtracted first (no overflow)."""
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_backward(x, out, grad):
    """Per row, with ``s = out`` and Jacobian ``ds_i/dx_j = s_i (δ_ij - s_j)``: ``s * (grad - sum(grad * s))``."""
    return out * (grad - (grad * out).sum(axis=-1, keepdims=True))


_BACKWARD = {linear: linear_backward, relu: relu_backward, sigmoid: sigmoid_backward, tanh: tanh_backward,
             softmax: softmax_backward}
_BY_NAME = {f.__name__: f for f in _BACKWARD}
NAMES = tuple(_BY_NAME)


def get(identifier):
    """The activation function for a name (``"relu"``), ``None`` (``linear``) or one of this module's functions."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        if identifier not in _BY_NAME:
            raise ValueError(f"activation: expected one of {sorted(_BY_NAME)} or None, received {identifier!r}")
        return _BY_NAME[identifier]
    if callable(identifier) and identifier in _BACKWARD:
        return identifier
    raise TypeError(f"activation: expected an activation name, a tinynet.activations function, an activation "
                    f"layer such as ReLU(), or None; received {describe(identifier)}")


def backward_of(fn):
    """The backward function ``(x, out, grad) -> dL/dx`` of an activation function from this module."""
    return _BACKWARD[fn]


def serialize(fn) -> str:
    """The Keras name of an activation function (``relu`` -> ``"relu"``)."""
    return fn.__name__


__all__ = ["linear", "relu", "sigmoid", "tanh", "softmax", "linear_backward", "relu_backward", "sigmoid_backward",
           "tanh_backward", "softmax_backward", "get", "backward_of", "serialize"]
