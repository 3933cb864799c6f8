"""Losses, called Keras-style as ``loss(y_true, y_pred) -> float``.

Each loss keeps the per-sample values (``call``) apart from the reduction, and computes its value and its gradient
with respect to ``y_pred`` in one code path (``value_and_grad``), so a finite-difference check of one checks both.

Reductions: ``"sum_over_batch_size"`` (Keras's default: ``sum(loss_i) / N``), ``"sum"``, and ``"none"`` (the
per-sample vector; not differentiable as a scalar, so ``value_and_grad`` refuses it).
"""

from __future__ import annotations

import numpy as np

from ._validation import class_labels, describe, float_array, one_of

EPSILON = 1e-7  # Keras's backend.epsilon(): the clip applied to probabilities before their log
REDUCTIONS = ("sum_over_batch_size", "sum", "none")


class Loss:
    """Base class. Subclasses implement ``_check(y_true, y_pred)`` and ``_per_sample(y_true, y_pred, grad)``."""

    def __init__(self, reduction: str = "sum_over_batch_size", name: str | None = None):
        self.reduction = one_of(reduction, "reduction", REDUCTIONS)
        self.name = name or _snake(type(self).__name__)

    # -- public API ---------------------------------------------------------------------------------------
    def call(self, y_true, y_pred) -> np.ndarray:
        """Per-sample losses, shape (n,)."""
        y_true, y_pred = self._check(y_true, y_pred)
        return self._per_sample(y_true, y_pred, want_grad=False)[0]

    def __call__(self, y_true, y_pred):
        values = self.call(y_true, y_pred)
        if self.reduction == "none":
            return values
        return float(self._reduce(values))

    def value_and_grad(self, y_true, y_pred) -> tuple[float, np.ndarray]:
        """The reduced loss and its gradient with respect to ``y_pred`` (same shape as ``y_pred``)."""
        if self.reduction == "none":
            raise ValueError("reduction: value_and_grad needs a scalar loss; received reduction='none'")
        y_true, y_pred = self._check(y_true, y_pred)
        return self._value_and_grad(y_true, y_pred)

    def get_config(self) -> dict:
        return {"reduction": self.reduction, "name": self.name}

    # -- internals (the model calls these after validating its data once) ---------------------------------
    def _value_and_grad(self, y_true, y_pred) -> tuple[float, np.ndarray]:
        values, grad = self._per_sample(y_true, y_pred, want_grad=True)
        if self.reduction == "sum_over_batch_size":
            # d(sum/N)/d(loss_i) = 1/N; like TensorFlow, multiply by the float reciprocal rather than divide.
            grad *= y_pred.dtype.type(1) / y_pred.dtype.type(values.shape[0])
        return float(self._reduce(values)), grad

    def _reduce(self, values: np.ndarray) -> float:
        # Accumulated in float64: a float32 sum of per-sample losses near float32's limit (logits of ~1e38) would
        # overflow although their mean does not.
        total = float(np.add.reduce(values, dtype=np.float64))
        return total / values.shape[0] if self.reduction == "sum_over_batch_size" else total

    def _check(self, y_true, y_pred):
        y_pred = _pred_array(y_pred)
        return self._targets(y_true, y_pred.shape[0], y_pred.shape[1], y_pred.dtype, "y_true"), y_pred

    def _targets(self, y_true, n: int, width: int, dtype, name: str):
        """Validate and convert targets for ``n`` predictions of ``width`` columns (a model calls this once)."""
        raise NotImplementedError

    def _per_sample(self, y_true, y_pred, want_grad: bool):
        """Return ``(loss_i of shape (n,), d sum(loss_i) / d y_pred or None)``."""
        raise NotImplementedError


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

    def _targets(self, y_true, n, width, dtype, name):
        """Labels (n,) or (n, 1), checked, as one-hot rows of shape (n, classes) in ``dtype``.

        A model encodes its labels once per ``fit``; each step then works on plain slices (no fancy indexing).
        """
        labels = class_labels(y_true, name, n=n, num_classes=width)
        onehot = np.zeros((n, width), dtype=dtype)
        onehot[np.arange(n), labels] = 1
        return onehot

    def _per_sample(self, onehot, y_pred, want_grad):
        if self.from_logits:
            z = y_pred
        else:
            clipped = np.clip(y_pred, EPSILON, 1 - EPSILON)
            z = np.log(clipped)
        # (ufunc.reduce rather than .max()/.sum(): same result, without their Python wrappers on small arrays)
        shifted = z - np.maximum.reduce(z, axis=1, keepdims=True)
        e = np.exp(shifted)
        s = np.add.reduce(e, axis=1, keepdims=True)
        values = np.log(s[:, 0])
        values -= np.add.reduce(shifted * onehot, axis=1)           # log-sum-exp minus the true class's score
        if not want_grad:
            return values, None
        grad = np.divide(e, s, out=e)     # softmax(z)
        grad -= onehot                    # - onehot(y)
        if not self.from_logits:          # chain through z = log(clip(p)): dz/dp = 1/p inside the clip range
            grad /= clipped
            grad *= (y_pred >= EPSILON) & (y_pred <= 1 - EPSILON)
        return values, grad


class MeanSquaredError(Loss):
    """``loss_i = mean_j (y_pred_ij - y_true_ij)**2``; gradient ``2 (y_pred - y_true) / d`` per sample."""

    def _targets(self, y_true, n, width, dtype, name):
        y_true = float_array(y_true, name, dtype=dtype)
        if y_true.ndim == 1 and width == 1:
            y_true = y_true[:, None]
        if y_true.shape != (n, width):
            raise ValueError(f"{name}: expected shape {(n, width)} (as the predictions), received {y_true.shape}")
        return y_true

    def _per_sample(self, y_true, y_pred, want_grad):
        diff = y_pred - y_true
        d = y_pred.dtype.type(y_pred.shape[1])
        values = (diff * diff).sum(axis=1) / d
        return values, (diff * (2 / d) if want_grad else None)


_BY_NAME = {
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
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


__all__ = ["Loss", "SparseCategoricalCrossentropy", "MeanSquaredError", "get"]
