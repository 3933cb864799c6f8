"""Helpers with Keras's names: ``set_random_seed`` and ``to_categorical``."""

from __future__ import annotations

import numpy as np

from ._validation import as_array, class_labels, positive_int
from .backend import set_random_seed


def to_categorical(x, num_classes=None) -> np.ndarray:
    """One-hot rows for integer class labels: shape ``x.shape + (num_classes,)`` (a trailing axis of 1 is
    dropped), float64 as Keras returns them. ``num_classes`` defaults to the largest label + 1."""
    arr = as_array(x, "x")
    shape = arr.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    if num_classes is not None:
        num_classes = positive_int(num_classes, "num_classes")
    labels = class_labels(arr.reshape(-1), "x", num_classes=num_classes)     # (str, object, ... refused there)
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    onehot = np.zeros((labels.size, num_classes))
    onehot[np.arange(labels.size), labels] = 1
    return onehot.reshape(tuple(shape) + (num_classes,))


__all__ = ["set_random_seed", "to_categorical"]
