"""Weight penalties, Keras-style: ``Dense(kernel_regularizer=L2(0.01))`` adds ``0.01 * sum(W**2)`` to the loss.

A regularizer is a function of one array: ``penalty(x)`` is the number added to the training loss and
``gradient(x)`` its derivative with respect to ``x``, added to that array's gradient. The model adds both in
``Sequential.compute_gradients``, so ``fit``, ``tinynet.gradcheck`` and ``tinynet.inspect`` see the same
regularized loss. An ``activity_regularizer`` is applied to a layer's outputs and divided by the batch size, as
Keras 3 does.

    L1(l1)        l1 * sum |x|                 gradient  l1 * sign(x)     (0 at x = 0, as TensorFlow's abs)
    L2(l2)        l2 * sum x**2                gradient  2 l2 x
    L1L2(l1, l2)  the sum of the two
"""

from __future__ import annotations

import numpy as np

from ._validation import describe, real_number


def _factor(value, name: str) -> float:
    """A penalty factor: a finite number >= 0 (Keras: "expected a non-negative float")."""
    return real_number(value, name, low=0.0)


class Regularizer:
    """Base class: ``penalty(x) -> float`` and ``gradient(x) -> array like x``; calling it is ``penalty``."""

    def __call__(self, x) -> float:
        return self.penalty(np.asarray(x))

    def penalty(self, x: np.ndarray) -> float:
        raise NotImplementedError

    def gradient(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class L1L2(Regularizer):
    """``l1 * sum|x| + l2 * sum(x**2)``; both factors default to 0 (Keras's ``L1L2``)."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor(0.0 if l1 is None else l1, "l1")
        self.l2 = _factor(0.0 if l2 is None else l2, "l2")

    def penalty(self, x):
        total = 0.0
        if self.l1:
            total += self.l1 * float(np.abs(x).sum(dtype=np.float64))       # l1 * sum |x|
        if self.l2:
            total += self.l2 * float(np.square(x).sum(dtype=np.float64))    # l2 * sum x**2
        return total

    def gradient(self, x):
        grad = np.zeros_like(x)
        if self.l1:
            grad += np.sign(x) * x.dtype.type(self.l1)                      # d/dx l1 |x| = l1 sign(x)
        if self.l2:
            grad += x * x.dtype.type(2 * self.l2)                           # d/dx l2 x**2 = 2 l2 x
        return grad

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """``l1 * sum|x|`` (default ``l1=0.01``, as Keras)."""

    def __init__(self, l1=0.01):
        super().__init__(l1=0.01 if l1 is None else l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    """``l2 * sum(x**2)`` (default ``l2=0.01``, as Keras)."""

    def __init__(self, l2=0.01):
        super().__init__(l2=0.01 if l2 is None else l2)

    def get_config(self):
        return {"l2": self.l2}


l1, l2, l1_l2 = L1, L2, L1L2          # Keras's lowercase aliases of the classes

_CLASSES = {"L1": L1, "L2": L2, "L1L2": L1L2}
_BY_NAME = {"l1": L1, "l2": L2, "l1l2": L1L2, **_CLASSES}       # Keras's names (it has no "l1_l2" string)


def get(identifier, name: str = "regularizer") -> Regularizer | None:
    """``None``, a ``Regularizer``, a name (``"l1"``, ``"l2"``, ``"l1l2"`` or the class names, with their
    defaults) or a serialized dict."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str):
        if identifier not in _BY_NAME:
            raise ValueError(f"{name}: expected one of {sorted(_BY_NAME)} or a tinynet.regularizers.Regularizer, "
                             f"received {identifier!r}")
        return _BY_NAME[identifier]()
    if isinstance(identifier, dict):
        return deserialize(identifier, name)
    raise TypeError(f"{name}: expected None, a regularizer name or a tinynet.regularizers.Regularizer, "
                    f"received {describe(identifier)}")


def serialize(regularizer: Regularizer | None) -> dict | None:
    """``{"class_name": ..., "config": ...}`` (``None`` for no regularizer)."""
    if regularizer is None:
        return None
    return {"class_name": type(regularizer).__name__, "config": regularizer.get_config()}


def deserialize(spec, name: str = "regularizer") -> Regularizer | None:
    """Undo ``serialize``; unknown classes or arguments are a ``ValueError``."""
    if spec is None:
        return None
    if not isinstance(spec, dict) or set(spec) != {"class_name", "config"} or not isinstance(spec["config"], dict):
        raise ValueError(f"{name}: expected {{'class_name': ..., 'config': {{...}}}}, received {describe(spec)}")
    cls = _CLASSES.get(spec["class_name"])
    if cls is None:
        raise ValueError(f"{name}: unknown regularizer class {spec['class_name']!r}; expected one of "
                         f"{sorted(_CLASSES)}")
    try:
        return cls.from_config(spec["config"])
    except TypeError as exc:
        raise ValueError(f"{name}: invalid config for {cls.__name__} ({exc})") from None


__all__ = ["Regularizer", "L1", "L2", "L1L2", "l1", "l2", "l1_l2", "get", "serialize", "deserialize"]
