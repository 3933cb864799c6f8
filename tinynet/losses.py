"""Losses, called Keras-style as ``loss(y_true, y_pred, sample_weight=None)``.

Each loss keeps the per-sample values (``per_sample``) apart from the weighting and the reduction (``reduce``),
and computes its value and its gradient with respect to ``y_pred`` in one code path, so a finite-difference check
of one checks both. ``__call__``, ``call`` and ``value_and_grad`` check their arguments; ``encode`` checks a
model's targets once, and ``compute`` then works on them unchecked, batch after batch.

Reductions, as Keras 3 (``w_i`` the sample weights, 1 without; ``N`` the number of samples):

    "sum_over_batch_size", "mean"   sum_i w_i loss_i / N          (Keras's default)
    "mean_with_sample_weight"       sum_i w_i loss_i / sum_i w_i  (/ N without weights; 0 when sum_i w_i = 0)
    "sum"                           sum_i w_i loss_i
    "none" or None                  the vector w_i loss_i (not differentiable as a scalar: value_and_grad refuses it)
"""

from __future__ import annotations

import numpy as np

from . import activations
from ._validation import as_array, class_labels, describe, float_array, float_dtype, real_number, snake_case

EPSILON = 1e-7  # Keras's backend.epsilon(): the clip applied to probabilities before their log
REDUCTIONS = ("sum_over_batch_size", "mean", "mean_with_sample_weight", "sum", "none", None)


class Loss:
    """Base class. Subclasses implement ``encode(y_true, n, width, dtype, name)`` and
    ``per_sample(targets, y_pred, want_grad)``.

    ``dtype``: ``None`` computes in the predictions' dtype (float32 or float64; Keras would use ``floatx()``, so
    a float64 model or gradient check keeps its precision); ``"float32"``/``"float64"`` converts to it first.
    """

    def __init__(self, name: str | None = None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction: expected one of {list(REDUCTIONS)}, received {describe(reduction)}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name: expected a string, received {describe(name)}")
        self.name = name or snake_case(type(self).__name__)
        self.reduction = reduction
        self.dtype = None if dtype is None else float_dtype(dtype).name

    @property
    def reduces(self) -> bool:
        """Whether the reduction gives one number (anything but ``"none"``/``None``)."""
        return self.reduction not in ("none", None)

    # -- checked entry points ---------------------------------------------------------------------------
    def call(self, y_true, y_pred) -> np.ndarray:
        """Per-sample losses, shape (n,), unweighted (Keras's ``Loss.call``)."""
        targets, y_pred = self.in_dtype(*self._check(y_true, y_pred))
        return self.per_sample(targets, y_pred, want_grad=False)[0]

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The reduced loss (a float), or with reduction ``"none"`` the weighted per-sample vector."""
        targets, y_pred = self.in_dtype(*self._check(y_true, y_pred))
        weights = sample_weights(sample_weight, y_pred.shape[0], y_pred.dtype, allow_scalar=True)
        return self.reduce(self.per_sample(targets, y_pred, want_grad=False)[0], weights)

    def value_and_grad(self, y_true, y_pred, sample_weight=None) -> tuple[float, np.ndarray]:
        """The reduced loss and its gradient with respect to ``y_pred`` (same shape as ``y_pred``)."""
        if not self.reduces:
            raise ValueError(f"reduction: value_and_grad needs a scalar loss; received reduction={self.reduction!r}")
        targets, y_pred = self._check(y_true, y_pred)
        weights = sample_weights(sample_weight, y_pred.shape[0], y_pred.dtype, allow_scalar=True)
        return self.compute(targets, y_pred, weights)

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    # -- on targets already encoded (a model checks and encodes its data once per fit) -----------------------
    def encode(self, y_true, n: int, width: int, dtype, name: str = "y_true") -> np.ndarray:
        """Check targets for ``n`` predictions of ``width`` columns and convert them to the form ``per_sample``
        reads, an array ``(n, width)`` of ``dtype``."""
        raise NotImplementedError

    def decode(self, targets: np.ndarray) -> np.ndarray:
        """Encoded targets back in the form Keras's metrics read ``y_true`` (the identity unless overridden)."""
        return targets

    def per_sample(self, targets, y_pred, want_grad: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """``(loss_i of shape (n,), d sum_i(loss_i) / d y_pred or None)``, from one code path."""
        raise NotImplementedError

    def compute(self, targets, y_pred, sample_weight=None) -> tuple[float, np.ndarray]:
        """The reduced loss and its gradient, for encoded targets (and weights from ``sample_weights``).

        The loss is ``sum_i w_i loss_i / d`` (``d`` from ``divisor``), so row ``i`` of the gradient is
        ``w_i / d`` times ``d loss_i / d y_pred``.
        """
        dtype = y_pred.dtype
        targets, y_pred = self.in_dtype(targets, y_pred)
        values, grad = self.per_sample(targets, y_pred, want_grad=True)
        if sample_weight is not None:
            grad *= sample_weight.astype(grad.dtype).reshape(-1, 1) if sample_weight.ndim else sample_weight
        d = self.divisor(values.shape[0], sample_weight)
        if d != 1:
            grad *= grad.dtype.type(1 / d if d else 0)            # d(sum/d)/d(loss_i) = 1/d (TF multiplies by it)
        return self.reduce(values, sample_weight), grad.astype(dtype, copy=False)

    def value(self, targets, y_pred, sample_weight=None) -> float:
        """The reduced loss alone, for encoded targets: what ``compute`` returns first, without the gradient."""
        targets, y_pred = self.in_dtype(targets, y_pred)
        return self.reduce(self.per_sample(targets, y_pred, want_grad=False)[0], sample_weight)

    def in_dtype(self, targets, y_pred):
        """Both in the loss's ``dtype`` when it has one (Keras converts them before computing)."""
        if self.dtype is None or self.dtype == y_pred.dtype.name:
            return targets, y_pred
        return targets.astype(self.dtype), y_pred.astype(self.dtype)

    def reduce(self, values: np.ndarray, sample_weight=None):
        """``values`` weighted, then reduced (see the module docstring); sums accumulate in float64 (a float32
        sum can overflow where the mean does not)."""
        if sample_weight is not None:
            values = values * sample_weight
        if not self.reduces:
            return values
        total = float(values.sum(dtype=np.float64))
        divisor = self.divisor(values.shape[0], sample_weight)
        return total / divisor if divisor else 0.0           # Keras's divide_no_nan: 0 when nothing is weighted

    def divisor(self, n: int, sample_weight=None) -> float:
        """What the weighted sum is divided by: ``N``, ``sum(w)`` or 1 (a 0 makes the loss and gradient 0)."""
        if self.reduction == "sum":
            return 1.0
        if self.reduction == "mean_with_sample_weight" and sample_weight is not None:
            return float(np.sum(sample_weight, dtype=np.float64))
        return float(n)

    def from_logits_form(self, activation_name: str):
        """The loss Keras computes instead when ``y_pred`` comes out of ``activation_name``: it reads that
        activation's input. ``None`` when Keras uses this loss as it is."""
        return None

    def _check(self, y_true, y_pred):
        y_pred = _pred_array(y_pred)
        return self.encode(y_true, y_pred.shape[0], y_pred.shape[1], y_pred.dtype, "y_true"), y_pred


def sample_weights(sample_weight, n: int, dtype, name: str = "sample_weight", allow_scalar: bool = False):
    """``None``, or weights of shape ``(n,)`` (``(n, 1)`` accepted, as Keras squeezes it) in ``dtype``: finite and
    non-negative. ``allow_scalar``: one number for every sample, kept 0-d as Keras keeps it."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, (str, bytes)) or isinstance(sample_weight, bool):
        raise TypeError(f"{name}: expected an array of per-sample weights, received {describe(sample_weight)}")
    arr = as_array(sample_weight, name)
    if arr.ndim == 0 and not allow_scalar:
        raise ValueError(f"{name}: expected one weight per sample, shape ({n},), received a single number")
    arr = float_array(arr, name, dtype=dtype, allow_empty=True)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim > 1:
        raise ValueError(f"{name}: expected one weight per sample, shape ({n},) or ({n}, 1), received a "
                         f"{arr.ndim}-D array of shape {arr.shape}")
    if arr.ndim == 1 and arr.shape[0] != n:
        raise ValueError(f"{name}: expected {n} weights (one per sample), received {arr.shape[0]}")
    if (arr < 0).any():
        raise ValueError(f"{name}: expected non-negative weights, received a weight of {arr.min():g}")
    return arr


def _pred_array(y_pred) -> np.ndarray:
    """Predictions as a finite 2-D float array, float32/float64 kept as given (anything else -> float32). A 1-D
    ``y_pred`` is one output per sample, ``(n, 1)``."""
    dtype = getattr(y_pred, "dtype", None)
    dtype = dtype if dtype in (np.float32, np.float64) else np.float32
    y_pred = float_array(y_pred, "y_pred", dtype=dtype)
    if y_pred.ndim == 1:
        y_pred = y_pred[:, None]
    if y_pred.ndim != 2:
        raise ValueError(f"y_pred: expected predictions of shape (n, outputs) or (n,), received shape "
                         f"{y_pred.shape}")
    return y_pred


def _bool_arg(value, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name}: expected True or False, received {describe(value)}")
    return value


def _class_axis(axis) -> int:
    """Keras's ``axis`` argument; tinynet's predictions are (n, classes), so only the last axis exists."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"axis: expected an integer, received {describe(axis)}")
    if axis not in (-1, 1):
        raise ValueError(f"axis: expected -1 (the classes of predictions of shape (n, classes)), "
                         f"received {describe(axis)}")
    return int(axis)


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
    reduction, name, dtype : see :class:`Loss`.

    ``y_true``: labels of shape (n,) or (n, 1) with values in ``[0, classes)``.
    """

    def __init__(self, from_logits: bool = False, ignore_class=None, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy", dtype=None):
        self.from_logits = _bool_arg(from_logits, "from_logits")
        if ignore_class is not None:             # Keras's masking of one label value is not implemented
            raise ValueError(f"ignore_class: tinynet supports only None, received {describe(ignore_class)}")
        self.ignore_class = None
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "ignore_class": self.ignore_class}

    def from_logits_form(self, activation_name):
        if activation_name == "softmax" and not self.from_logits:
            return SparseCategoricalCrossentropy(True, reduction=self.reduction, name=self.name, dtype=self.dtype)
        return None

    def encode(self, y_true, n, width, dtype, name="y_true"):
        """Labels (n,) or (n, 1), checked, as one-hot rows of shape (n, classes) in ``dtype``."""
        labels = class_labels(y_true, name, n=n, num_classes=width)
        onehot = np.zeros((n, width), dtype=dtype)
        onehot[np.arange(n), labels] = 1
        return onehot

    def decode(self, onehot):
        """The labels again, shape (n,), as floats (Keras's metrics cast labels to the predictions' dtype)."""
        return onehot.argmax(axis=1).astype(onehot.dtype)

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


class _SmoothedCrossentropy(Loss):
    """Keras's arguments shared by the binary and categorical cross-entropies, and their fused output head: with
    ``from_logits=False`` after an ``output_activation`` (sigmoid / softmax), Keras reads that activation's input."""

    output_activation = ""

    def __init__(self, from_logits, label_smoothing, axis, reduction, name, dtype):
        self.from_logits = _bool_arg(from_logits, "from_logits")
        self.label_smoothing = real_number(label_smoothing, "label_smoothing", low=0.0, high=1.0)
        self.axis = _class_axis(axis)
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing,
                "axis": self.axis}

    def from_logits_form(self, activation_name):
        if activation_name == self.output_activation and not self.from_logits:
            return type(self)(True, self.label_smoothing, self.axis, self.reduction, self.name, self.dtype)
        return None


class CategoricalCrossentropy(_SmoothedCrossentropy):
    """Cross-entropy between target distributions (one-hot or soft rows) and predicted scores.

    ``loss_i = -sum_j y_ij log p_ij``. ``from_logits=True``: ``p = softmax(z)``, computed as
    ``sum_j y_ij (logsumexp(z_i) - z_ij)`` with the max shift, gradient ``softmax(z) sum_j y_ij - y``.
    ``False`` (Keras's default): each row of ``y_pred`` is divided by its sum, then clipped to
    ``[1e-7, 1 - 1e-7]``, as Keras does. A model ending in a softmax computes it from the softmax's input instead,
    as Keras does (``from_logits_form``). ``label_smoothing`` ``s`` in ``[0, 1]`` replaces ``y`` by
    ``y (1 - s) + s / classes``. ``y_true``: shape (n, classes), non-negative.
    """

    output_activation = "softmax"

    def __init__(self, from_logits: bool = False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="categorical_crossentropy", dtype=None):
        super().__init__(from_logits, label_smoothing, axis, reduction, name, dtype)

    def encode(self, y_true, n, width, dtype, name="y_true"):
        y = float_array(y_true, name, dtype=dtype)
        if y.shape != (n, width):
            hint = " (integer labels? use SparseCategoricalCrossentropy)" if y.ndim == 1 or y.shape[1:] == (1,) else ""
            raise ValueError(f"{name}: expected targets of shape {(n, width)}, one row of {width} class "
                             f"probabilities per sample, received shape {y.shape}{hint}")
        if (y < 0).any():
            raise ValueError(f"{name}: expected non-negative class probabilities, received a value of {y.min():g}")
        return y

    def per_sample(self, y, y_pred, want_grad):
        if self.label_smoothing:
            y = y * (1 - self.label_smoothing) + self.label_smoothing / y_pred.shape[1]
        if self.from_logits:
            shifted = y_pred - y_pred.max(axis=1, keepdims=True)     # the max shift: exp never overflows
            e = np.exp(shifted)
            s = e.sum(axis=1, keepdims=True)
            mass = y.sum(axis=1, keepdims=True)                      # 1 for one-hot or probability rows
            values = (y * (np.log(s) - shifted)).sum(axis=1)         # sum_j y_j (logsumexp(z) - z_j)
            grad = e / s * mass - y if want_grad else None           # softmax(z) sum_j y_j - y
            return values, grad
        total = y_pred.sum(axis=1, keepdims=True)
        q = y_pred / total                                           # rows renormalised, as Keras
        clipped = np.clip(q, EPSILON, 1 - EPSILON)
        values = -(y * np.log(clipped)).sum(axis=1)
        if not want_grad:
            return values, None
        dq = -y / clipped * ((q >= EPSILON) & (q <= 1 - EPSILON))    # through the log and the clip
        grad = (dq - (dq * q).sum(axis=1, keepdims=True)) / total    # through q = p / sum(p)
        return values, grad


class MeanSquaredError(Loss):
    """``loss_i = mean_j (y_pred_ij - y_true_ij)**2``; gradient ``2 (y_pred - y_true) / d`` per sample.

    ``y_true`` of shape (n, outputs), (n, 1) (broadcast over the outputs) or (n,) for one output, as Keras
    broadcasts it.
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def encode(self, y_true, n, width, dtype, name="y_true"):
        return _float_targets(y_true, n, width, dtype, name)

    def per_sample(self, y_true, y_pred, want_grad):
        diff = y_pred - y_true
        d = y_pred.dtype.type(y_pred.shape[1])
        values = (diff * diff).sum(axis=1) / d
        return values, (diff * (2 / d) if want_grad else None)


class MeanAbsoluteError(Loss):
    """``loss_i = mean_j |y_pred_ij - y_true_ij|``; gradient ``sign(y_pred - y_true) / d`` (0 where they are
    equal, as TensorFlow differentiates ``abs``). Targets as :class:`MeanSquaredError`."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def encode(self, y_true, n, width, dtype, name="y_true"):
        return _float_targets(y_true, n, width, dtype, name)

    def per_sample(self, y_true, y_pred, want_grad):
        diff = y_pred - y_true
        d = y_pred.dtype.type(y_pred.shape[1])
        values = np.abs(diff).sum(axis=1) / d
        return values, (np.sign(diff) / d if want_grad else None)


class BinaryCrossentropy(_SmoothedCrossentropy):
    """Cross-entropy between targets in [0, 1] and predicted probabilities (or logits), per output, then the mean
    over a sample's outputs (Keras's ``axis=-1``).

    ``from_logits=True``: the stable form ``max(z, 0) - z y + log(1 + exp(-|z|))``, gradient ``sigmoid(z) - y``.
    ``False`` (Keras's default): ``p`` clipped to ``[1e-7, 1 - 1e-7]``, ``-(y log p + (1 - y) log(1 - p))``,
    gradient ``(p - y) / (p (1 - p))`` inside the clip range. A model ending in a sigmoid computes it from the
    sigmoid's input instead, as Keras does (``from_logits_form``). ``label_smoothing`` ``s`` in ``[0, 1]`` replaces
    ``y`` by ``y (1 - s) + s / 2``. ``y_true``: the shape of ``y_pred`` (``(n,)`` accepted for one output).
    """

    output_activation = "sigmoid"

    def __init__(self, from_logits: bool = False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_crossentropy", dtype=None):
        super().__init__(from_logits, label_smoothing, axis, reduction, name, dtype)

    def encode(self, y_true, n, width, dtype, name="y_true"):
        y = _float_targets(y_true, n, width, dtype, name, broadcast=False)
        if ((y < 0) | (y > 1)).any():
            raise ValueError(f"{name}: expected binary targets in [0, 1], received values from {y.min():g} to "
                             f"{y.max():g}")
        return y

    def per_sample(self, y, y_pred, want_grad):
        width = y_pred.shape[1]
        if self.label_smoothing:
            y = y * (1 - self.label_smoothing) + 0.5 * self.label_smoothing
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


def _float_targets(y_true, n, width, dtype, name, broadcast=True):
    """Targets for predictions ``(n, width)``, finite, in ``dtype``, as an ``(n, width)`` array: ``(n,)`` is
    accepted for one output and, with ``broadcast``, ``(n, 1)`` is repeated over the outputs (Keras's
    broadcasting in ``y_true - y_pred``)."""
    y_true = float_array(y_true, name, dtype=dtype)
    if y_true.ndim == 1 and width == 1:
        y_true = y_true[:, None]
    if broadcast and y_true.shape == (n, 1) and width > 1:
        y_true = np.ascontiguousarray(np.broadcast_to(y_true, (n, width)))
    if y_true.shape != (n, width):
        also = f" or {(n, 1)}" if broadcast and width > 1 else ""
        raise ValueError(f"{name}: expected shape {(n, width)}{also} (as the predictions), received {y_true.shape}")
    return y_true


# -- Keras's lowercase functions: per-sample values, shape (n,) ---------------------------------------------------
def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    _class_axis(axis)
    return SparseCategoricalCrossentropy(from_logits, ignore_class).call(y_true, y_pred)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    return CategoricalCrossentropy(from_logits, label_smoothing, axis).call(y_true, y_pred)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    return BinaryCrossentropy(from_logits, label_smoothing, axis).call(y_true, y_pred)


def mean_squared_error(y_true, y_pred):
    return MeanSquaredError().call(y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    return MeanAbsoluteError().call(y_true, y_pred)


mse, mae, bce = mean_squared_error, mean_absolute_error, binary_crossentropy

_CLASSES = (SparseCategoricalCrossentropy, CategoricalCrossentropy, BinaryCrossentropy, MeanSquaredError,
            MeanAbsoluteError)
_BY_NAME = {cls.__name__: cls for cls in _CLASSES}
_BY_NAME.update({snake_case(cls.__name__): cls for cls in _CLASSES})
_BY_NAME.update({"mse": MeanSquaredError, "MSE": MeanSquaredError, "mae": MeanAbsoluteError,
                 "MAE": MeanAbsoluteError, "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy})
_BY_FUNCTION = {sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
                categorical_crossentropy: CategoricalCrossentropy, binary_crossentropy: BinaryCrossentropy,
                mean_squared_error: MeanSquaredError, mean_absolute_error: MeanAbsoluteError}


def get(identifier) -> Loss:
    """Resolve a loss given as an instance, one of the functions above, or by Keras name (``"mse"``,
    ``"sparse_categorical_crossentropy"``, ``"BinaryCrossentropy"``, ...)."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        if identifier not in _BY_NAME:
            raise ValueError(f"loss: expected one of {sorted(_BY_NAME)} or a Loss, received {identifier!r}")
        return _BY_NAME[identifier]()
    if callable(identifier) and identifier in _BY_FUNCTION:
        return _BY_FUNCTION[identifier]()
    raise TypeError(f"loss: expected a loss name or a tinynet.losses.Loss, received {describe(identifier)}")


def serialize(loss: Loss) -> dict:
    """``{"class_name": ..., "config": ...}``, JSON-ready."""
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def deserialize(spec) -> Loss:
    """Undo ``serialize``; an unknown class or argument is a ``ValueError``."""
    if not isinstance(spec, dict) or set(spec) != {"class_name", "config"} or not isinstance(spec["config"], dict):
        raise ValueError(f"loss: expected {{'class_name': ..., 'config': {{...}}}}, received {describe(spec)}")
    cls = {c.__name__: c for c in _CLASSES}.get(spec["class_name"])
    if cls is None:
        known = sorted(c.__name__ for c in _CLASSES)
        raise ValueError(f"loss: unknown class {spec['class_name']!r}; expected one of {known}")
    try:
        return cls.from_config(spec["config"])
    except TypeError as exc:
        raise ValueError(f"loss: invalid config for {cls.__name__} ({exc})") from None


__all__ = ["Loss", "SparseCategoricalCrossentropy", "CategoricalCrossentropy", "BinaryCrossentropy",
           "MeanSquaredError", "MeanAbsoluteError", "sparse_categorical_crossentropy", "categorical_crossentropy",
           "binary_crossentropy", "mean_squared_error", "mean_absolute_error", "mse", "mae", "bce",
           "sample_weights", "get", "serialize", "deserialize"]
