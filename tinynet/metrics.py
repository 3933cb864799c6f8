"""Metrics as Keras 3's metric objects: running, sample-weighted means over every batch seen.

A metric keeps two numbers over all the samples it has been given since ``reset_state()``:

    total = sum_i w_i * value_i        count = sum_i w_i          (w_i = 1 without sample_weight)
    result() = total / count           (0 when count is 0, Keras's divide_no_nan)

``value_i`` is the metric's per-sample value: 1.0 or 0.0 for the accuracies, the mean squared or absolute error
over the sample's outputs for the regression metrics. The per-sample functions (``sparse_categorical_accuracy``,
...) are public, as in Keras, and each class is ``MeanMetricWrapper`` around one of them.

Two ways in: ``update_state(y_true, y_pred, sample_weight=None)`` checks its arguments (shapes, finite values,
label range, non-negative weights) and changes nothing when it refuses them; ``update`` takes arrays a model has
already checked, in Keras's form (``y_true`` labels (n,) for the sparse accuracy, else an array like ``y_pred``;
``y_pred`` (n, outputs); ``sample_weight`` ``None`` or (n,)), and checks nothing.

``total`` and ``count`` are float64 (Keras keeps float32 variables); ``result()`` is rounded to the metric's
``dtype`` (float32 by default), so it reads as Keras's does. See docs/keras-semantics.md, "Metrics".
"""

from __future__ import annotations

import inspect
import numbers

import numpy as np

from . import backend
from . import losses as losses_mod
from ._validation import as_array, class_labels, describe, float_array, float_dtype, real_number, snake_case


# -- the per-sample formulas, on arrays already in Keras's form (no checks) ----------------------------------
def _same_rank(y_true: np.ndarray, y_pred: np.ndarray):
    """Keras's ``squeeze_or_expand_to_same_rank``: when the ranks differ by one and the longer array ends in an
    axis of 1, that axis is dropped (or, when the other array is 1-D, added to it)."""
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        if y_pred.ndim == 1:
            y_pred = y_pred[:, np.newaxis]
        else:
            y_true = y_true[..., 0]
    if y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
        if y_true.ndim == 1:
            y_true = y_true[:, np.newaxis]                   # labels (n,) beside outputs (n, 1)
        else:
            y_pred = y_pred[..., 0]
    return y_true, y_pred


def _sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the largest score of ``y_pred`` (n, classes) is at the label ``y_true`` (n,) or (n, 1), else 0.0.
    Shape (n,). A tie goes to the first of the tied classes (argmax)."""
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]                              # labels (n, 1) -> (n,)
    return np.equal(y_true, np.argmax(y_pred, axis=-1)).astype(backend.floatx())


def _categorical_accuracy(y_true, y_pred):
    """1.0 where ``y_pred`` (n, classes) and the one-hot ``y_true`` (n, classes) have their largest value at the
    same class, else 0.0. Shape (n,). Ties go to the first class, in both."""
    return np.equal(np.argmax(y_true, axis=-1), np.argmax(y_pred, axis=-1)).astype(backend.floatx())


def _binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where ``y_pred > threshold`` equals ``y_true`` (0 or 1), element by element; the shape of ``y_pred``.
    ``y_true`` is compared as it is: a soft label such as 0.7 never matches."""
    y_true, y_pred = _same_rank(y_true, y_pred)
    predicted = np.greater(y_pred, np.float32(threshold))    # Keras makes the threshold a float32 tensor
    return np.equal(y_true, predicted).astype(backend.floatx())


def _mean_squared_error(y_true, y_pred):
    """``mean_j (y_true_ij - y_pred_ij)**2`` over each sample's outputs; shape (n,)."""
    y_true, y_pred = _same_rank(np.asarray(y_true, dtype=y_pred.dtype), y_pred)
    return np.mean(np.square(y_true - y_pred), axis=-1)


def _mean_absolute_error(y_true, y_pred):
    """``mean_j |y_true_ij - y_pred_ij|`` over each sample's outputs; shape (n,)."""
    y_true, y_pred = _same_rank(np.asarray(y_true, dtype=y_pred.dtype), y_pred)
    return np.mean(np.abs(y_true - y_pred), axis=-1)


# -- argument checks ---------------------------------------------------------------------------------------
def _checked_outputs(y_pred) -> np.ndarray:
    """``y_pred`` as a finite 2-D float array (n, outputs): float32/float64 kept as given, anything else float64
    (the metric reads the outputs at their own precision, as Keras does for a NumPy array)."""
    dtype = getattr(y_pred, "dtype", None)
    dtype = dtype if dtype in (np.float32, np.float64) else np.float64
    y_pred = float_array(y_pred, "y_pred", dtype=dtype)
    if y_pred.ndim != 2:
        hint = "; reshape one output per sample to (n, 1)" if y_pred.ndim == 1 else ""
        raise ValueError(f"y_pred: expected predictions of shape (n, outputs), received shape {y_pred.shape}{hint}")
    return y_pred


def _checked_sparse(y_true, y_pred):
    """Labels (n,) or (n, 1) in [0, classes), and outputs (n, classes)."""
    y_pred = _checked_outputs(y_pred)
    if as_array(y_true, "y_true").shape == y_pred.shape and y_pred.shape[1] > 1:
        raise ValueError(f"y_true: expected class labels of shape ({y_pred.shape[0]},) or ({y_pred.shape[0]}, 1), "
                         f"received shape {y_pred.shape} (one-hot rows? use CategoricalAccuracy)")
    return class_labels(y_true, "y_true", n=y_pred.shape[0], num_classes=y_pred.shape[1]), y_pred


def _checked_categorical(y_true, y_pred):
    """One-hot (or any score) rows of the shape of the outputs (n, classes)."""
    y_pred = _checked_outputs(y_pred)
    y_true = float_array(y_true, "y_true", dtype=y_pred.dtype)
    if y_true.shape != y_pred.shape:
        labels = y_true.ndim == 1 or (y_true.ndim == 2 and y_true.shape[1] == 1)
        hint = " (integer labels? use SparseCategoricalAccuracy)" if labels else ""
        raise ValueError(f"y_true: expected one-hot targets of the shape of y_pred {y_pred.shape}, received shape "
                         f"{y_true.shape}{hint}")
    return y_true, y_pred


def _checked_elementwise(y_true, y_pred):
    """Targets of the shape of the outputs (n, outputs), or (n,) beside outputs (n, 1)."""
    y_pred = _checked_outputs(y_pred)
    y_true = float_array(y_true, "y_true", dtype=y_pred.dtype)
    n, width = y_pred.shape
    if not (y_true.shape == y_pred.shape or (width == 1 and y_true.shape == (n,))):
        also = f" or ({n},)" if width == 1 else ""
        raise ValueError(f"y_true: expected targets of shape {y_pred.shape}{also}, like y_pred, received shape "
                         f"{y_true.shape}")
    return y_true, y_pred


def _checked_any(y_true, y_pred):
    """For a function of the user's: finite arrays with one row per sample."""
    y_pred = _checked_outputs(y_pred)
    y_true = float_array(y_true, "y_true", dtype=y_pred.dtype)
    if y_true.ndim == 0 or y_true.shape[0] != y_pred.shape[0]:
        raise ValueError(f"y_true: expected {y_pred.shape[0]} rows (one per sample of y_pred), received shape "
                         f"{y_true.shape}")
    return y_true, y_pred


def _checked_sample_weight(sample_weight, n: int, *, single: bool = False):
    """``None``, or ``n`` finite, non-negative weights of shape (n,) or (n, 1), returned as float64 (n,).
    ``single``: the values are one number, and so may the weight be."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, (str, bytes, bool)):
        raise TypeError(f"sample_weight: expected an array of per-sample weights, received {describe(sample_weight)}")
    weights = float_array(sample_weight, "sample_weight", dtype=np.float64)
    if weights.ndim == 0 and single:
        weights = weights.reshape(1)
    if weights.ndim == 2 and weights.shape[1] == 1:
        weights = weights[:, 0]                              # (n, 1) -> (n,), as Keras treats it
    if weights.ndim != 1:
        raise ValueError(f"sample_weight: expected one weight per sample, shape ({n},) or ({n}, 1), received shape "
                         f"{weights.shape}")
    if weights.shape[0] != n:
        raise ValueError(f"sample_weight: expected {n} weights (one per sample), received {weights.shape[0]}")
    if (weights < 0).any():
        # Keras adds a negative weight to the count; tinynet refuses it, as its losses do
        raise ValueError(f"sample_weight: expected non-negative weights, received a weight of {weights.min():g}")
    return weights


def _checked_name(name, default: str) -> str:
    if name is None:
        return default
    if not isinstance(name, str):
        raise TypeError(f"name: expected a string, received {describe(name)}")
    if not name:
        raise ValueError("name: expected a non-empty string, received ''")
    return name


def _checked_threshold(threshold) -> float:
    threshold = real_number(threshold, "threshold")
    if abs(threshold) > float(np.finfo(np.float32).max):   # the threshold becomes a float32, as in Keras
        raise ValueError(f"threshold: expected a number within the range of float32, received {threshold:g}")
    return threshold


# -- the public per-sample functions (checked) -----------------------------------------------------------------
def sparse_categorical_accuracy(y_true, y_pred) -> np.ndarray:
    """Per-sample matches, shape (n,): 1.0 where ``argmax(y_pred)`` (n, classes) is the label ``y_true`` (n,) or
    (n, 1), else 0.0. Ties in ``y_pred`` go to the first tied class."""
    return _sparse_categorical_accuracy(*_checked_sparse(y_true, y_pred))


def categorical_accuracy(y_true, y_pred) -> np.ndarray:
    """Per-sample matches, shape (n,): 1.0 where ``argmax(y_pred)`` equals ``argmax(y_true)`` (both (n, classes)),
    else 0.0. Ties go to the first tied class, in both."""
    return _categorical_accuracy(*_checked_categorical(y_true, y_pred))


def binary_accuracy(y_true, y_pred, threshold=0.5) -> np.ndarray:
    """Per-element matches of ``y_pred > threshold`` with ``y_true``, in the shape of ``y_pred`` (n, outputs);
    ``y_true`` (n, outputs), or (n,) when there is one output."""
    threshold = _checked_threshold(threshold)
    return _binary_accuracy(*_checked_elementwise(y_true, y_pred), threshold=threshold)


def mean_squared_error(y_true, y_pred) -> np.ndarray:
    """Per-sample ``mean((y_true - y_pred)**2)`` over the outputs, shape (n,)."""
    return _mean_squared_error(*_checked_elementwise(y_true, y_pred))


def mean_absolute_error(y_true, y_pred) -> np.ndarray:
    """Per-sample ``mean(|y_true - y_pred|)`` over the outputs, shape (n,)."""
    return _mean_absolute_error(*_checked_elementwise(y_true, y_pred))


def sparse_categorical_accuracy_count(y_true, y_pred) -> int:
    """How many samples of ``y_pred`` (n, classes) have their largest score at the label ``y_true`` (n,) or (n, 1)
    (integers, or floats holding whole numbers, in [0, classes))."""
    return int(np.count_nonzero(sparse_categorical_accuracy(y_true, y_pred)))


# For each public function: the unchecked formula a metric runs per batch, its check, and its options' checks.
_FUNCTIONS = {
    sparse_categorical_accuracy: (_sparse_categorical_accuracy, _checked_sparse, {}),
    categorical_accuracy: (_categorical_accuracy, _checked_categorical, {}),
    binary_accuracy: (_binary_accuracy, _checked_elementwise, {"threshold": _checked_threshold}),
    mean_squared_error: (_mean_squared_error, _checked_elementwise, {}),
    mean_absolute_error: (_mean_absolute_error, _checked_elementwise, {}),
}
_FUNCTIONS_BY_NAME = {fn.__name__: fn for fn in _FUNCTIONS}


# -- the metric objects --------------------------------------------------------------------------------------
class Metric:
    """Base class: state that ``update_state`` accumulates batch after batch and ``result`` reads.

    Subclasses implement ``update`` (unchecked), ``update_state`` (checked, then ``update``), ``result`` and
    ``reset_state``. ``name`` is the key Keras logs the metric under; ``dtype`` (``None``: ``backend.floatx()``)
    is the precision ``result`` is rounded to.
    """

    def __init__(self, name=None, dtype=None):
        self.name = _checked_name(name, snake_case(type(self).__name__))
        self.dtype = float_dtype(backend.floatx() if dtype is None else dtype).name

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        """Check a batch, then add it to the state (nothing changes when the batch is refused)."""
        raise NotImplementedError

    def update(self, y_true, y_pred, sample_weight=None) -> None:
        """Add a batch that is already in Keras's form (see the module docstring), without checks."""
        raise NotImplementedError

    def result(self) -> float:
        """The metric's value over everything seen since the last ``reset_state``."""
        raise NotImplementedError

    def reset_state(self) -> None:
        """Forget every batch seen (Keras calls it at the start of each epoch and of ``evaluate``)."""
        raise NotImplementedError

    def get_config(self) -> dict:
        """The constructor's arguments, JSON-ready: ``{"name": ..., "dtype": ...}`` plus the metric's own."""
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict):
        """A new metric from ``get_config()``'s dict (the state is not part of it)."""
        if not isinstance(config, dict):
            raise TypeError(f"config: expected a dict of constructor arguments, received {describe(config)}")
        params = inspect.signature(cls.__init__).parameters
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            known = sorted(set(params) - {"self"})
            unknown = sorted(set(config) - set(known))
            if unknown:
                raise ValueError(f"config: {cls.__name__} takes {known}, received the unknown keys {unknown}")
        return cls(**config)

    def __call__(self, *args, **kwargs) -> float:
        """``update_state(*args, **kwargs)`` then ``result()``, as Keras's ``Metric.__call__``."""
        self.update_state(*args, **kwargs)
        return self.result()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


class Mean(Metric):
    """The (weighted) mean of the values given: ``total / count`` with ``total = sum(w * value)`` and
    ``count = sum(w)``, both in float64.

    ``update_state(values, sample_weight=None)``: ``values`` a number, shape (n,), or (n, ...) (each sample's
    values are averaged first, as Keras does); ``sample_weight`` (n,) or (n, 1).
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    @property
    def total(self) -> float:
        """``sum(w * value)`` over every sample seen."""
        return self._total

    @property
    def count(self) -> float:
        """``sum(w)`` over every sample seen (the number of samples without weights)."""
        return self._count

    def update_state(self, values, sample_weight=None) -> None:
        """Add finite ``values`` (a number, (n,) or (n, ...)) with optional non-negative ``sample_weight``."""
        values = float_array(values, "values", dtype=np.float64)
        single = values.ndim == 0
        weights = _checked_sample_weight(sample_weight, 1 if single else values.shape[0], single=single)
        self.update(values, weights)

    def update(self, values, sample_weight=None) -> None:
        """Add ``values`` and weights (``None`` or (n,)) without checks."""
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 0:
            values = values.reshape(1)                       # one number counts as one sample
        if values.ndim > 1:
            values = values.reshape(values.shape[0], -1).mean(axis=1)   # one value per sample
        if sample_weight is None:
            self._total += float(values.sum())
            self._count += float(values.shape[0])
        else:
            weights = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
            self._total += float(weights @ values)                    # sum_i w_i * value_i
            self._count += float(weights.sum())

    def result(self) -> float:
        """``total / count`` rounded to ``dtype``; 0.0 when ``count`` is 0 (Keras's ``divide_no_nan``)."""
        if self._count == 0:
            return 0.0
        return float(np.asarray(self._total / self._count, dtype=self.dtype))

    def reset_state(self) -> None:
        """``total = count = 0``."""
        self._total = 0.0
        self._count = 0.0


class MeanMetricWrapper(Mean):
    """The weighted mean of ``fn(y_true, y_pred, **kwargs)``, a function returning per-sample values (n,) (or
    (n, ...), averaged per sample).

    ``fn`` is one of this module's functions (then ``update_state`` checks the batch as that function does and
    ``update`` runs its unchecked formula) or any callable of the user's (then ``update_state`` checks only that
    the arrays are finite with one row per sample, and that ``fn`` returns finite values, one per sample).
    """

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        if not callable(fn):
            raise TypeError(f"fn: expected a function fn(y_true, y_pred), received {describe(fn)}")
        if fn in _FUNCTIONS:
            formula, check, option_checks = _FUNCTIONS[fn]
            unknown = sorted(set(kwargs) - set(option_checks))
            if unknown:
                raise TypeError(f"kwargs: {fn.__name__} takes {sorted(option_checks) or 'no options'}, received "
                                f"{unknown}")
            kwargs = {key: option_checks[key](value) for key, value in kwargs.items()}
        else:
            formula, check = fn, _checked_any
        super().__init__(name=_checked_name(name, "mean_metric_wrapper"), dtype=dtype)
        self.fn = fn
        self._formula, self._check = formula, check
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        """Check the batch (``y_true``, ``y_pred`` (n, outputs), ``sample_weight`` (n,) or (n, 1)), then add it."""
        y_true, y_pred = self._check(y_true, y_pred)
        weights = _checked_sample_weight(sample_weight, y_pred.shape[0])
        with np.errstate(over="ignore", invalid="ignore"):           # overflow is reported below, by name
            values = np.asarray(self._formula(y_true, y_pred, **self._fn_kwargs))
        if values.dtype.kind not in "biuf":
            raise TypeError(f"fn: expected numbers from {self.fn.__name__}, received an array of dtype {values.dtype}")
        if values.ndim == 0 or values.shape[0] != y_pred.shape[0]:
            raise ValueError(f"fn: expected {y_pred.shape[0]} per-sample values from {self.fn.__name__}, received "
                             f"shape {values.shape}")
        if not np.isfinite(values).all():
            raise ValueError(f"y_true, y_pred: expected finite values of {self.fn.__name__}, received values that "
                             f"overflowed {y_pred.dtype}")
        super().update(values, weights)

    def update(self, y_true, y_pred, sample_weight=None) -> None:
        """Add a batch in Keras's form without checks: ``mean over samples of fn(y_true, y_pred)``, weighted."""
        super().update(self._formula(y_true, y_pred, **self._fn_kwargs), sample_weight)

    def get_config(self) -> dict:
        """``name``, ``dtype``, ``fn`` (its name, for this module's functions) and ``fn``'s options."""
        fn = self.fn.__name__ if self.fn in _FUNCTIONS else self.fn
        return {**super().get_config(), "fn": fn, **self._fn_kwargs}

    @classmethod
    def from_config(cls, config: dict):
        takes_fn = "fn" in inspect.signature(cls.__init__).parameters      # not the subclasses, which fix fn
        if takes_fn and isinstance(config, dict) and "fn" not in config:
            raise ValueError(f"config: expected an 'fn' (the function to average), received the keys {sorted(config)}")
        if takes_fn and isinstance(config, dict) and isinstance(config.get("fn"), str):
            if config["fn"] not in _FUNCTIONS_BY_NAME:
                raise ValueError(f"config: expected fn to be one of {sorted(_FUNCTIONS_BY_NAME)}, received "
                                 f"{config['fn']!r}")
            config = {**config, "fn": _FUNCTIONS_BY_NAME[config["fn"]]}
        return super().from_config(config)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often ``argmax(y_pred)`` is the integer label: ``y_true`` (n,) or (n, 1), ``y_pred`` (n, classes)
    (logits or probabilities)."""

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)

    def get_config(self) -> dict:
        return Metric.get_config(self)


class CategoricalAccuracy(MeanMetricWrapper):
    """How often ``argmax(y_pred)`` is ``argmax(y_true)``: both (n, classes), ``y_true`` one-hot."""

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)

    def get_config(self) -> dict:
        return Metric.get_config(self)


class BinaryAccuracy(MeanMetricWrapper):
    """How often ``y_pred > threshold`` matches the 0/1 targets: ``y_pred`` (n, outputs), ``y_true`` of the same
    shape or (n,) for one output. Several outputs: each sample counts the fraction of its outputs that match."""

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        threshold = _checked_threshold(threshold)
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold

    def get_config(self) -> dict:
        return {**Metric.get_config(self), "threshold": self.threshold}


class MeanSquaredError(MeanMetricWrapper):
    """The weighted mean over samples of ``mean_j (y_true_ij - y_pred_ij)**2``."""

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, dtype=dtype)

    def get_config(self) -> dict:
        return Metric.get_config(self)


class MeanAbsoluteError(MeanMetricWrapper):
    """The weighted mean over samples of ``mean_j |y_true_ij - y_pred_ij|``."""

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, dtype=dtype)

    def get_config(self) -> dict:
        return Metric.get_config(self)


class _CrossentropyMetric(MeanMetricWrapper):
    """The weighted mean over samples of a ``tinynet.losses`` cross-entropy's per-sample values (its ``call``,
    which checks the batch): Keras's cross-entropy metrics, e.g. to watch the loss without its regularization."""

    loss_class: type = losses_mod.Loss

    def __init__(self, name, dtype, **options):
        self.options = options
        self.loss = self.loss_class(reduction=None, **options)     # in y_pred's dtype, as Keras's fn
        super().__init__(self.loss.call, name=name, dtype=dtype)

    def get_config(self) -> dict:
        return {**Metric.get_config(self), **self.options}


class BinaryCrossentropy(_CrossentropyMetric):
    """``tinynet.losses.BinaryCrossentropy`` per sample, averaged with the sample weights."""

    loss_class = losses_mod.BinaryCrossentropy

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False, label_smoothing=0.0):
        super().__init__(name, dtype, from_logits=from_logits, label_smoothing=label_smoothing)


class CategoricalCrossentropy(_CrossentropyMetric):
    """``tinynet.losses.CategoricalCrossentropy`` per sample, averaged with the sample weights."""

    loss_class = losses_mod.CategoricalCrossentropy

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False, label_smoothing=0.0, axis=-1):
        super().__init__(name, dtype, from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(_CrossentropyMetric):
    """``tinynet.losses.SparseCategoricalCrossentropy`` per sample, averaged with the sample weights."""

    loss_class = losses_mod.SparseCategoricalCrossentropy

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False):
        super().__init__(name, dtype, from_logits=from_logits)


# -- resolution and serialization ------------------------------------------------------------------------------
_Y_CLASSES = (SparseCategoricalAccuracy, CategoricalAccuracy, BinaryAccuracy, MeanSquaredError, MeanAbsoluteError,
              BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy)
_CLASSES = {cls.__name__: cls for cls in (Mean, MeanMetricWrapper, *_Y_CLASSES)}
# The strings Keras's metrics.get takes for these (case-sensitive): class names, their snake case, and aliases.
_BY_NAME = {
    **{cls.__name__: cls for cls in _Y_CLASSES},
    **{snake_case(cls.__name__): cls for cls in _Y_CLASSES},
    "mse": MeanSquaredError, "MSE": MeanSquaredError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
}
ACCURACY_NAMES = ("accuracy", "acc")   # any case; resolved by the shapes of y_true and y_pred (compile_utils)


def _checked_shape(shape, name: str) -> tuple:
    if isinstance(shape, (str, bytes)) or not isinstance(shape, (tuple, list)):
        raise TypeError(f"{name}: expected a shape such as (32, 10), received {describe(shape)}")
    if not shape or any(d is not None and (isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 0)
                        for d in shape):
        raise ValueError(f"{name}: expected a shape of one or more sizes >= 0, received {shape!r}")
    if shape[-1] is None:
        raise ValueError(f"{name}: expected the last size to be known, received {shape!r}")
    return tuple(shape)


def accuracy_class(y_true_shape, y_pred_shape) -> type:
    """The accuracy Keras's ``compile`` picks for ``"accuracy"``/``"acc"`` from the shapes of the targets and the
    outputs: ``BinaryAccuracy`` if the outputs have one column; else ``SparseCategoricalAccuracy`` if the targets
    have fewer axes, or one column beside several; else ``CategoricalAccuracy``."""
    y_true_shape = _checked_shape(y_true_shape, "y_true_shape")
    y_pred_shape = _checked_shape(y_pred_shape, "y_pred_shape")
    if y_pred_shape[-1] == 1:
        return BinaryAccuracy
    if len(y_true_shape) < len(y_pred_shape) or (y_true_shape[-1] == 1 and y_pred_shape[-1] > 1):
        return SparseCategoricalAccuracy
    return CategoricalAccuracy


def get(identifier, y_true_shape=None, y_pred_shape=None) -> Metric:
    """Resolve a metric as Keras's ``compile(metrics=[...])`` does (``compile_utils.get_metric``).

    - a ``Metric``: returned as it is;
    - ``"accuracy"``/``"acc"`` (any case): ``accuracy_class(y_true_shape, y_pred_shape)`` named as written, so
      the history key is ``"accuracy"`` or ``"acc"`` (both shapes are needed);
    - another name: ``"sparse_categorical_accuracy"``, ``"categorical_accuracy"``, ``"binary_accuracy"``,
      ``"mean_squared_error"``/``"mse"``/``"MSE"``, ``"mean_absolute_error"``/``"mae"``/``"MAE"`` or a class
      name (``"MeanSquaredError"``), named as written (``"mse"`` logs as ``"mse"``);
    - a ``{"class_name": ..., "config": ...}`` dict: ``deserialize``;
    - one of this module's metric classes: a new instance with its defaults;
    - another callable ``fn(y_true, y_pred)``: ``MeanMetricWrapper(fn)`` named after ``fn``.
    """
    if y_true_shape is not None:
        _checked_shape(y_true_shape, "y_true_shape")
    if y_pred_shape is not None:
        _checked_shape(y_pred_shape, "y_pred_shape")
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier.lower() in ACCURACY_NAMES:
            if y_true_shape is None or y_pred_shape is None:
                raise ValueError(f"y_true_shape, y_pred_shape: {identifier!r} is resolved from the shapes of the "
                                 "targets and the outputs (binary, sparse categorical or categorical accuracy); "
                                 f"expected both, received {y_true_shape!r} and {y_pred_shape!r}")
            return accuracy_class(y_true_shape, y_pred_shape)(name=identifier)
        if identifier not in _BY_NAME:
            raise ValueError(f"metrics: expected one of {sorted([*ACCURACY_NAMES, *_BY_NAME])} or a Metric, "
                             f"received {identifier!r}")
        return _BY_NAME[identifier](name=identifier)
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type):
        if identifier not in _Y_CLASSES:
            raise TypeError(f"metrics: expected a metric class of tinynet.metrics such as SparseCategoricalAccuracy, "
                            f"received {describe(identifier)}")
        return identifier()
    if callable(identifier):
        name = getattr(identifier, "__name__", type(identifier).__name__)
        return MeanMetricWrapper(identifier, name=snake_case(name))
    raise TypeError(f"metrics: expected a metric name such as 'accuracy', a Metric or a function, received "
                    f"{describe(identifier)}")


def serialize(metric) -> dict:
    """``{"class_name": ..., "config": metric.get_config()}``, JSON-ready (Keras's ``metrics.serialize``, without
    its ``module`` and ``registered_name``). The state (``total``, ``count``) is not included."""
    if not isinstance(metric, Metric):
        raise TypeError(f"metric: expected a tinynet.metrics.Metric, received {describe(metric)}")
    class_name = type(metric).__name__
    if _CLASSES.get(class_name) is not type(metric):
        raise ValueError(f"metric: only tinynet's metric classes {sorted(_CLASSES)} can be serialized, received "
                         f"{class_name}")
    config = metric.get_config()
    if callable(config.get("fn")):
        name = getattr(config["fn"], "__qualname__", type(config["fn"]).__name__)
        raise ValueError(f"metric: a MeanMetricWrapper can be serialized only around a function of "
                         f"{sorted(_FUNCTIONS_BY_NAME)}, received {name!r}")
    return {"class_name": class_name, "config": config}


def deserialize(spec) -> Metric:
    """A new metric from ``serialize``'s dict (Keras's own, with ``module`` and ``registered_name``, reads too)."""
    if not isinstance(spec, dict):
        raise TypeError(f"spec: expected a dict {{'class_name': ..., 'config': ...}}, received {describe(spec)}")
    missing = sorted({"class_name", "config"} - set(spec))
    extra = sorted(set(spec) - {"class_name", "config", "module", "registered_name"})
    if missing or extra:
        raise ValueError(f"spec: expected the keys 'class_name' and 'config', received {sorted(spec)}")
    class_name, config = spec["class_name"], spec["config"]
    if not isinstance(class_name, str) or class_name not in _CLASSES:
        raise ValueError(f"spec: expected class_name to be one of {sorted(_CLASSES)}, received {class_name!r}")
    if not isinstance(config, dict):
        raise TypeError(f"spec: expected config to be a dict, received {describe(config)}")
    return _CLASSES[class_name].from_config(config)


__all__ = [
    "Metric", "Mean", "MeanMetricWrapper", "SparseCategoricalAccuracy", "CategoricalAccuracy", "BinaryAccuracy",
    "MeanSquaredError", "MeanAbsoluteError", "BinaryCrossentropy", "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
    "sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy", "mean_squared_error",
    "mean_absolute_error", "sparse_categorical_accuracy_count",
    "ACCURACY_NAMES", "accuracy_class", "get", "serialize", "deserialize",
]
