"""Argument checks shared by the public entry points.

Every check raises ``TypeError`` (wrong kind of thing) or ``ValueError`` (right kind, wrong value) with a message
of the form ``"<name>: expected <what>, received <what was given>"``, and none of them changes any state, so a
caller can run all its checks first and only then touch the model.
"""

from __future__ import annotations

import inspect
import numbers
import re

import numpy as np


def describe(value) -> str:
    """A short description of ``value`` for error messages (arrays by shape and dtype, not by content)."""
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, (tuple, list)) and any(isinstance(v, np.ndarray) for v in value):
        return f"{type(value).__name__} of {len(value)}: ({', '.join(describe(v) for v in value)})"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def positive_int(value, name: str) -> int:
    """Return ``value`` as an ``int`` if it is an integer >= 1 (``bool`` is rejected)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected a positive integer, received {describe(value)}")
    if value < 1:
        raise ValueError(f"{name}: expected a positive integer, received {value}")
    return int(value)


def real_number(value, name: str, *, low=None, high=None, low_open=False, high_open=False) -> float:
    """Return ``value`` as a finite ``float`` inside the given bounds (closed unless ``*_open``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number, received {describe(value)}")
    value = float(value)
    lo = "(" if low_open else "["
    hi = ")" if high_open else "]"
    lo = "(" if low is None else lo                      # infinities themselves are never accepted
    hi = ")" if high is None else hi
    interval = f"{lo}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi}"
    bad = not np.isfinite(value)
    if low is not None:
        bad |= value <= low if low_open else value < low
    if high is not None:
        bad |= value >= high if high_open else value > high
    if bad:
        raise ValueError(f"{name}: expected a number in {interval}, received {value!r}")
    return value


def as_array(value, name: str) -> np.ndarray:
    """``np.asarray(value)``, turning NumPy's own conversion errors (ragged lists, ...) into a named error."""
    try:
        return np.asarray(value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise ValueError(f"{name}: expected an array-like of numbers, received {type(value).__name__} that NumPy "
                         f"cannot convert ({exc})") from None


def all_finite(arr: np.ndarray) -> bool:
    """Whether a float array holds no NaN or inf."""
    return bool(np.isfinite(arr).all())


def float_array(value, name: str, *, dtype, ndim: int | None = None, allow_empty: bool = False) -> np.ndarray:
    """Convert ``value`` to a finite floating array of ``dtype``; copies only when a conversion is needed."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name}: expected a numeric array, received {describe(value)}")
    arr = as_array(value, name)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"{name}: expected a numeric array, received an array of dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name}: expected a real-valued array, received an array of dtype {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array, received shape {arr.shape}")
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"{name}: expected a non-empty array, received shape {arr.shape}")
    source = arr
    with np.errstate(over="ignore"):                # overflow is reported below, by name
        arr = np.asarray(arr, dtype=dtype)
    if not all_finite(arr):        # NaN and inf survive the cast, overflow becomes inf
        if source.dtype.kind == "f" and not np.isfinite(source).all():
            raise ValueError(f"{name}: expected only finite values, received an array containing NaN or inf")
        with np.errstate(over="ignore"):           # a longdouble beyond float64 shows as inf
            largest = np.abs(source.astype(np.float64)).max()
        raise ValueError(f"{name}: expected values within the range of {np.dtype(dtype).name}, received values "
                         f"up to {largest:.3g}")
    return arr


def checked_weights(weights, current: list, name: str = "weights") -> list:
    """``weights`` as finite arrays of the dtypes and shapes of the arrays ``current``, checked in full (so that a
    caller can write them all or none)."""
    if not isinstance(weights, (list, tuple)):
        raise TypeError(f"{name}: expected a list of {len(current)} arrays, received {describe(weights)}")
    if len(weights) != len(current):
        raise ValueError(f"{name}: expected {len(current)} arrays, received {len(weights)}")
    checked = []
    for i, (w, p) in enumerate(zip(weights, current, strict=True)):
        arr = float_array(w, f"{name}[{i}]", dtype=p.dtype, allow_empty=True)
        if arr.shape != p.shape:
            raise ValueError(f"{name}[{i}]: expected shape {p.shape}, received {arr.shape}")
        checked.append(arr)
    return checked


def class_labels(value, name: str, *, n: int | None = None, num_classes: int | None = None) -> np.ndarray:
    """Return sparse integer labels of shape (n,) from an array of shape (n,) or (n, 1).

    Float labels are accepted when they hold whole numbers (Keras accepts ``1.0``); anything else is an error.
    """
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name}: expected an array of integer class labels, received {describe(value)}")
    arr = as_array(value, name)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"{name}: expected an array of integer class labels, received dtype {arr.dtype}")
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        hint = " (one-hot labels? this loss takes sparse class indices)" if arr.ndim == 2 else ""
        raise ValueError(
            f"{name}: expected class labels of shape (n,) or (n, 1), received shape {np.shape(value)}{hint}"
        )
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name}: expected {n} labels (one per sample), received {arr.shape[0]}")
    if arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
        raise ValueError(f"{name}: expected class labels in [0, {num_classes or 'classes'}), received a label value "
                         f"of {arr.max()}")
    if not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.complexfloating):
            raise TypeError(f"{name}: expected integer class labels, received dtype {arr.dtype}")
        as_float = arr.astype(np.float64)
        if not np.isfinite(as_float).all() or not np.array_equal(as_float, np.round(as_float)):
            raise ValueError(f"{name}: expected integer class labels, received non-integer values")
        if as_float.size and np.abs(as_float).max() >= 2.0**53:
            raise ValueError(f"{name}: expected class labels in [0, {num_classes or 'classes'}), received a label "
                             f"value of {as_float.flat[np.abs(as_float).argmax()]:g}")
        arr = as_float
    labels = arr.astype(np.int64)
    if labels.size and labels.min() < 0:
        raise ValueError(f"{name}: expected class labels >= 0, received a label value of {labels.min()}")
    if num_classes is not None and labels.size and labels.max() >= num_classes:
        raise ValueError(
            f"{name}: received a label value of {labels.max()} which is outside the valid range of "
            f"[0, {num_classes})"
        )
    return labels


def one_of(value, name: str, choices) -> str:
    """Return ``value`` if it is one of the string ``choices``."""
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected one of {sorted(choices)}, received {describe(value)}")
    if value not in choices:
        raise ValueError(f"{name}: expected one of {sorted(choices)}, received {value!r}")
    return value


def float_dtype(value, name: str = "dtype") -> np.dtype:
    """Resolve a dtype policy: ``"float32"`` or ``"float64"`` (``None`` is refused: NumPy would read it as float64;
    callers with a default resolve ``None`` first)."""
    if value is None:
        raise TypeError(f"{name}: expected 'float32' or 'float64', received None")
    try:
        dt = np.dtype(value)
    except TypeError as exc:
        raise TypeError(f"{name}: expected 'float32' or 'float64', received {describe(value)}") from exc
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"{name}: expected 'float32' or 'float64', received {value!r}")
    return dt


def spec_parts(spec, name: str) -> tuple[str, dict]:
    """``(class_name, config)`` of a ``{"class_name": str, "config": dict}`` spec, checked."""
    if not isinstance(spec, dict):
        raise TypeError(f"{name}: expected a dict {{'class_name': ..., 'config': {{...}}}}, received {describe(spec)}")
    if set(spec) != {"class_name", "config"}:
        raise ValueError(f"{name}: expected the keys ['class_name', 'config'], received {sorted(map(str, spec))}")
    if not isinstance(spec["class_name"], str):
        raise TypeError(f"{name}['class_name']: expected a string, received {describe(spec['class_name'])}")
    if not isinstance(spec["config"], dict):
        raise TypeError(f"{name}['config']: expected a dict, received {describe(spec['config'])}")
    return spec["class_name"], spec["config"]


def constructor_arguments(cls, config, name: str) -> dict:
    """``config`` if every key is an argument of ``cls``'s constructor; else a ``ValueError`` naming the others."""
    if not isinstance(config, dict):
        raise TypeError(f"{name}: expected a dict of constructor arguments, received {describe(config)}")
    parameters = inspect.signature(cls).parameters
    unknown = sorted(str(k) for k in config if k not in parameters)
    if unknown:
        raise ValueError(f"{name}: expected arguments of {cls.__name__} ({', '.join(parameters)}), received unknown "
                         f"key(s) {unknown}")
    missing = [k for k, p in parameters.items() if p.default is inspect.Parameter.empty and k not in config]
    if missing:
        raise ValueError(f"{name}: expected a value for each argument {cls.__name__} requires, missing {missing}")
    return dict(config)


def snake_case(name: str) -> str:
    """Keras's default names from class names (its ``to_snake_case``): ``"MeanSquaredError"`` ->
    ``"mean_squared_error"``, ``"ReLU"`` -> ``"re_lu"``, ``"ELU"`` -> ``"elu"``, ``"RMSprop"`` -> ``"rm_sprop"``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
