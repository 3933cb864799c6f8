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

import math

import numpy as np
from scipy import special

from ._validation import describe


def linear(x):
    """The identity, ``x`` (``None`` or ``"linear"`` as an activation)."""
    return x


def linear_backward(x, out, grad):
    return grad


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """``max(x, 0)``. Keras's options: ``x`` only above ``threshold``, at most ``max_value``, and
    ``negative_slope * (x - threshold)`` below the threshold instead of 0."""
    if negative_slope == 0 and max_value is None and threshold == 0:
        return np.maximum(x, 0)
    if max_value is None and threshold == 0:
        return leaky_relu(x, negative_slope)
    out = np.where(x > threshold, x, 0) if threshold != 0 else np.maximum(x, 0)
    if max_value is not None:
        out = np.clip(out, 0, max_value)
    return out - negative_slope * np.maximum(threshold - x, 0) if negative_slope != 0 else out


def relu_backward(x, out, grad, negative_slope=0.0, max_value=None, threshold=0.0):
    """Slope 1 where ``x > 0``, else 0 (0 at the kink ``x = 0``, as in TensorFlow); with Keras's options, 1 above
    the threshold (and below ``max_value``) and ``negative_slope`` below the threshold."""
    if negative_slope == 0 and max_value is None and threshold == 0:
        return grad * (x > 0)
    if max_value is None and threshold == 0:
        return leaky_relu_backward(x, out, grad, negative_slope)
    passed = x > threshold
    if max_value is not None:
        passed &= (x > 0) & (x < max_value)
    return grad * (passed + negative_slope * (x < threshold))


def leaky_relu(x, negative_slope=0.2):
    """``x`` for ``x >= 0``, ``negative_slope * x`` below."""
    return np.where(x >= 0, x, x * negative_slope)


def leaky_relu_backward(x, out, grad, negative_slope=0.2):
    return np.where(x > 0, grad, grad * negative_slope)


def relu6(x):
    """``min(max(x, 0), 6)``."""
    return np.clip(x, 0, 6)


def relu6_backward(x, out, grad):
    return grad * ((x > 0) & (x < 6))


def elu(x, alpha=1.0):
    """``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` below."""
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))      # (the minimum: no overflow warning)


def elu_backward(x, out, grad, alpha=1.0):
    """1 for ``x > 0``, ``alpha * exp(x) = out + alpha`` below."""
    return np.where(x > 0, grad, grad * (out + alpha))


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def selu(x):
    """``scale * elu(x, alpha)`` with the self-normalising constants of Klambauer et al. (2017)."""
    return SELU_SCALE * elu(x, SELU_ALPHA)


def selu_backward(x, out, grad):
    return np.where(x > 0, grad * SELU_SCALE, grad * (out + SELU_SCALE * SELU_ALPHA))


def gelu(x, approximate=False):
    """``x * Phi(x)``, ``Phi`` the standard normal CDF: ``0.5 x (1 + erf(x / sqrt(2)))``; ``approximate=True``:
    ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x**3)))``."""
    if approximate:
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    return 0.5 * x * (1 + special.erf(x / math.sqrt(2)))


def gelu_backward(x, out, grad, approximate=False):
    """``Phi(x) + x phi(x)``, ``phi`` the normal density (for the tanh form, that form's own derivative)."""
    if approximate:
        t = np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))
        dt = math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * x**2) * (1 - t * t)
        return grad * (0.5 * (1 + t) + 0.5 * x * dt)
    cdf = 0.5 * (1 + special.erf(x / math.sqrt(2)))
    pdf = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    return grad * (cdf + x * pdf)


def silu(x):
    """``x * sigmoid(x)`` (also called swish)."""
    return x * sigmoid(x)


def silu_backward(x, out, grad):
    """``s + x s (1 - s)`` with ``s = sigmoid(x)``."""
    s = sigmoid(x)
    return grad * (s + x * s * (1 - s))


swish = silu


def softplus(x):
    """``log(1 + exp(x))``, as ``logaddexp(0, x)`` so that it never overflows."""
    return np.logaddexp(0, x)


def softplus_backward(x, out, grad):
    """``softplus'(x) = sigmoid(x)``."""
    return grad * sigmoid(x)


def softsign(x):
    """``x / (1 + |x|)``."""
    return x / (1 + np.abs(x))


def softsign_backward(x, out, grad):
    return grad / (1 + np.abs(x)) ** 2


def hard_sigmoid(x):
    """``clip(x / 6 + 1/2, 0, 1)``: 0 below -3, 1 above 3, linear between."""
    return np.clip(x / 6 + 0.5, 0, 1)


def hard_sigmoid_backward(x, out, grad):
    return grad * ((x > -3) & (x < 3)) / 6


def exponential(x):
    """``exp(x)``."""
    return np.exp(x)


def exponential_backward(x, out, grad):
    return grad * out


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


def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` along ``axis``, with the maximum subtracted first (no overflow)."""
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_backward(x, out, grad, axis=-1):
    """With ``s = out`` and Jacobian ``ds_i/dx_j = s_i (δ_ij - s_j)`` along ``axis``: ``s * (grad - sum(grad * s))``."""
    return out * (grad - (grad * out).sum(axis=axis, keepdims=True))


def log_softmax(x, axis=-1):
    """``x - logsumexp(x)`` along ``axis`` (max-shifted): the log of ``softmax``, without its rounding."""
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def log_softmax_backward(x, out, grad, axis=-1):
    """``grad - softmax(x) * sum(grad)`` along ``axis``, with ``softmax(x) = exp(out)``."""
    return grad - np.exp(out) * grad.sum(axis=axis, keepdims=True)


_BACKWARD = {linear: linear_backward, relu: relu_backward, leaky_relu: leaky_relu_backward, relu6: relu6_backward,
             elu: elu_backward, selu: selu_backward, gelu: gelu_backward, silu: silu_backward,
             softplus: softplus_backward, softsign: softsign_backward, hard_sigmoid: hard_sigmoid_backward,
             exponential: exponential_backward, sigmoid: sigmoid_backward, tanh: tanh_backward,
             softmax: softmax_backward, log_softmax: log_softmax_backward}
_BY_NAME = {f.__name__: f for f in _BACKWARD} | {"swish": silu}
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


__all__ = [*_BY_NAME, *(f.__name__ for f in _BACKWARD.values()), "get", "backward_of", "serialize", "SELU_ALPHA",
           "SELU_SCALE"]
