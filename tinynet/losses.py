"""Losses, called Keras-style as ``loss(y_true, y_pred) -> float``.

Each loss keeps the per-sample values (``per_sample``) apart from the reduction (``reduce``), and computes its value
and its gradient with respect to ``y_pred`` in one code path, so a finite-difference check of one checks both.
``call``, ``__call__`` and ``value_and_grad`` check their arguments; ``encode`` checks a model's targets once, and
``compute`` then works on them unchecked, batch after batch.

Reductions: ``"sum_over_batch_size"`` (Keras's default: ``sum(loss_i) / N``), ``"sum"``, and ``"none"`` (the
per-sample vector; not differentiable as a scalar, so ``value_and_grad`` refuses it).
"""

from __future__ import annotations

import numpy as np

from . import activations
from ._validation import class_labels, describe, float_array, one_of, real_number

EPSILON = 1e-7  # Keras's backend.epsilon(): the clip applied to probabilities before their log
REDUCTIONS = ("sum_over_batch_size", "sum", "none")


class Loss:
    """Base class. Subclasses implement ``encode(y_true, n, width, dtype, name)`` and
    ``per_sample(targets, y_pred, want_grad)``."""

    def __init__(self, reduction: str = "sum_over_batch_size", name: str | None = None):
        self.reduction = one_of(reduction, "reduction", REDUCTIONS)
        self.name = name or _snake(type(self).__name__)

    # -- checked entry points ---------------------------------------------------------------------------
    def call(self, y_true, y_pred) -> np.ndarray:
        """Per-sample losses, shape (n,)."""
        targets, y_pred = self._check(y_true, y_pred)
        return self.per_sample(targets, y_pred, want_grad=False)[0]

    def __call__(self, y_true, y_pred):
        values = self.call(y_true, y_pred)
        if self.reduction == "none":
            return values
        return self.reduce(values)

    def value_and_grad(self, y_true, y_pred) -> tuple[float, np.ndarray]:
        """The reduced loss and its gradient with respect to ``y_pred`` (same shape as ``y_pred``)."""
        if self.reduction == "none":
            raise ValueError("reduction: value_and_grad needs a scalar loss; received reduction='none'")
        targets, y_pred = self._check(y_true, y_pred)
        return self.compute(targets, y_pred)

    def get_config(self) -> dict:
        return {"reduction": self.reduction, "name": self.name}

    # -- on targets already encoded (a model checks and encodes its data once per fit) -----------------------
    def encode(self, y_true, n: int, width: int, dtype, name: str = "y_true"):
        """Check targets for ``n`` predictions of ``width`` columns and convert them to the form ``per_sample``
        reads."""
        raise NotImplementedError

    def per_sample(self, targets, y_pred, want_grad: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """``(loss_i of shape (n,), d sum_i(loss_i) / d y_pred or None)``, from one code path."""
        raise NotImplementedError

    def compute(self, targets, y_pred) -> tuple[float, np.ndarray]:
        """The reduced loss and its gradient, for encoded targets; no checks."""
        values, grad = self.per_sample(targets, y_pred, want_grad=True)
        if self.reduction == "sum_over_batch_size":
            grad *= y_pred.dtype.type(1) / values.shape[0]    # d(sum/N)/d(loss_i) = 1/N (TF multiplies by it)
        return self.reduce(values), grad

    def reduce(self, values: np.ndarray) -> float:
        """``sum(values) / N`` or ``sum(values)``, accumulated in float64 (a float32 sum can overflow where the
        mean does not)."""
        total = float(values.sum(dtype=np.float64))
        return total / values.shape[0] if self.reduction == "sum_over_batch_size" else total

    def from_logits_form(self, activation_name: str):
        """The loss Keras computes instead when ``y_pred`` comes out of ``activation_name``: it reads that
        activation's input. ``None`` when Keras uses this loss as it is."""
        return None

    def _check(self, y_true, y_pred):
        y_pred = _pred_array(y_pred)
        return self.encode(y_true, y_pred.shape[0], y_pred.shape[1], y_pred.dtype, "y_true"), y_pred


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def _pred_array(y_pred) -> np.ndarray:
    """Predictions as a finite 2-D float array, keeping float32/float64 as given (anything else -> float32)."""
    dtype = getattr(y_pred, "dtype", None)
    return float_array(y_pred, "y_pred", dtype=dtype if dtype in (np.float32, np.float64) else np.float32, ndim=2)


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy between integer class labels and predicted scores.

    Parameters
    ----------
    from_logits : bool
        ``True``: ``y_pred`` are raw scores (logits), of shape (n, classes). The loss is the fused, stable
        softmax cross-entropy ``loss_i = log(sum_j exp(z_ij - m_i)) - (z_i,y_i - m_i)`` with ``m_i = max_j z_ij``,
        and its gradient is ``softmax(z) - onehot(y)`` per sample.
        ``False`` (Keras's default): ``y_pred`` are probabilities. As in Keras they are clipped to
        ``[1e-7, 1 - 1e-7]``, their log is taken and fed to the same fused path (so rows are renormalised).
    reduction : str

    ``y_true``: labels of shape (n,) or (n, 1) with values in ``[0, classes)``.
    """

    def __init__(self, from_logits: bool = False, reduction="sum_over_batch_size", name=None):
        if not isinstance(from_logits, bool):
            raise TypeError(f"from_logits: expected True or False, received {describe(from_logits)}")
        super().__init__(reduction=reduction, name=name)
        self.from_logits = from_logits

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}

    def from_logits_form(self, activation_name):
        if activation_name == "softmax" and not self.from_logits:
            return SparseCategoricalCrossentropy(from_logits=True, reduction=self.reduction, name=self.name)
        return None

    def encode(self, y_true, n, width, dtype, name="y_true"):
        """Labels (n,) or (n, 1), checked, as one-hot rows of shape (n, classes) in ``dtype``."""
        labels = class_labels(y_true, name, n=n, num_classes=width)
        onehot = np.zeros((n, width), dtype=dtype)
        onehot[np.arange(n), labels] = 1
        return onehot

    def per_sample(self, onehot, y_pred, want_grad):
        if self.from_logits:
            z = y_pred                                               # (n, classes) logits
        else:
            clipped = np.clip(y_pred, EPSILON, 1 - EPSILON)
            z = np.log(clipped)
        shifted = z - z.max(axis=1, keepdims=True)                   # the max shift: exp never overflows
        e = np.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        values = np.log(s[:, 0]) - (shifted * onehot).sum(axis=1)    # logsumexp(z) - z_y
        if not want_grad:
            return values, None
        grad = e / s - onehot                                        # softmax(z) - onehot(y)
        if not self.from_logits:
            inside = (y_pred >= EPSILON) & (y_pred <= 1 - EPSILON)
            grad = grad / clipped * inside                           # chain rule through z = log(clip(p))
        return values, grad


class MeanSquaredError(Loss):
    """``loss_i = mean_j (y_pred_ij - y_true_ij)**2``; gradient ``2 (y_pred - y_true) / d`` per sample."""

    def encode(self, y_true, n, width, dtype, name="y_true"):
        return _float_targets(y_true, n, width, dtype, name)

    def per_sample(self, y_true, y_pred, want_grad):
        diff = y_pred - y_true
        d = y_pred.dtype.type(y_pred.shape[1])
        values = (diff * diff).sum(axis=1) / d
        return values, (diff * (2 / d) if want_grad else None)


class BinaryCrossentropy(Loss):
    """Cross-entropy between targets in [0, 1] and predicted probabilities (or logits), per output, then the mean
    over a sample's outputs (Keras's ``axis=-1``).

    ``from_logits=True``: the stable form ``max(z, 0) - z y + log(1 + exp(-|z|))``, gradient ``sigmoid(z) - y``.
    ``False`` (Keras's default): ``p`` clipped to ``[1e-7, 1 - 1e-7]``, ``-(y log p + (1 - y) log(1 - p))``,
    gradient ``(p - y) / (p (1 - p))`` inside the clip range. A model ending in a sigmoid computes it from the
    sigmoid's input instead, as Keras does (``from_logits_form``). ``label_smoothing`` ``s`` in ``[0, 1]`` replaces
    ``y`` by ``y (1 - s) + s / 2``. ``y_true``: the shape of ``y_pred`` (``(n,)`` accepted for one output).
    """

    def __init__(self, from_logits: bool = False, label_smoothing=0.0, reduction="sum_over_batch_size", name=None):
        if not isinstance(from_logits, bool):
            raise TypeError(f"from_logits: expected True or False, received {describe(from_logits)}")
        label_smoothing = real_number(label_smoothing, "label_smoothing", low=0.0, high=1.0)
        super().__init__(reduction=reduction, name=name)
        self.from_logits, self.label_smoothing = from_logits, label_smoothing

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing}

    def from_logits_form(self, activation_name):
        if activation_name == "sigmoid" and not self.from_logits:
            return BinaryCrossentropy(from_logits=True, label_smoothing=self.label_smoothing,
                                      reduction=self.reduction, name=self.name)
        return None

    def encode(self, y_true, n, width, dtype, name="y_true"):
        y = _float_targets(y_true, n, width, dtype, name)
        if ((y < 0) | (y > 1)).any():
            raise ValueError(f"{name}: expected binary targets in [0, 1], received values from {y.min():g} to "
                             f"{y.max():g}")
        return y * (1 - self.label_smoothing) + 0.5 * self.label_smoothing if self.label_smoothing else y

    def per_sample(self, y, y_pred, want_grad):
        width = y_pred.shape[1]
        if self.from_logits:
            z = y_pred
            values = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))   # stable for any |z|
            grad = (activations.sigmoid(z) - y) if want_grad else None             # sigmoid(z) - y
        else:
            p = np.clip(y_pred, EPSILON, 1 - EPSILON)
            values = -(y * np.log(p) + (1 - y) * np.log(1 - p))
            inside = (y_pred >= EPSILON) & (y_pred <= 1 - EPSILON)
            grad = (p - y) / (p * (1 - p)) * inside if want_grad else None         # chain rule through the clip
        if grad is not None:
            grad /= y_pred.dtype.type(width)                                       # the mean over the outputs
        return values.mean(axis=1), grad


def _float_targets(y_true, n, width, dtype, name):
    """Targets of the predictions' shape ``(n, width)`` (``(n,)`` accepted for one output), finite, in ``dtype``."""
    y_true = float_array(y_true, name, dtype=dtype)
    if y_true.ndim == 1 and width == 1:
        y_true = y_true[:, None]
    if y_true.shape != (n, width):
        raise ValueError(f"{name}: expected shape {(n, width)} (as the predictions), received {y_true.shape}")
    return y_true


_BY_NAME = {
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
}


def get(identifier) -> Loss:
    """Resolve a loss given as an instance or by Keras name (``"sparse_categorical_crossentropy"``)."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        if identifier not in _BY_NAME:
            raise ValueError(f"loss: expected one of {sorted(_BY_NAME)} or a Loss, received {identifier!r}")
        return _BY_NAME[identifier]()
    raise TypeError(f"loss: expected a loss name or a tinynet.losses.Loss, received {describe(identifier)}")


__all__ = ["Loss", "SparseCategoricalCrossentropy", "BinaryCrossentropy", "MeanSquaredError", "get"]
