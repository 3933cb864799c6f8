"""Metrics computed per batch and aggregated over an epoch like Keras: a sample-weighted mean.

A metric here is a function ``(targets, y_pred) -> number of correct samples`` (a sum, not a mean), so the epoch
value is ``sum over batches / total samples`` exactly. ``targets`` are as the loss encodes them: for
``SparseCategoricalCrossentropy``, one-hot rows of shape (n, classes).
"""

from __future__ import annotations

import numpy as np

from ._validation import describe


def sparse_categorical_accuracy_count(onehot: np.ndarray, y_pred: np.ndarray) -> int:
    """How many rows of ``y_pred`` (n, classes) have their largest score at the class ``onehot`` (n, classes) marks."""
    return int(np.count_nonzero(y_pred.argmax(axis=1) == onehot.argmax(axis=1)))


# Keras resolves "accuracy"/"acc" against a sparse categorical loss to sparse_categorical_accuracy.
_BY_NAME = {
    "accuracy": ("accuracy", sparse_categorical_accuracy_count),
    "acc": ("acc", sparse_categorical_accuracy_count),
    "sparse_categorical_accuracy": ("sparse_categorical_accuracy", sparse_categorical_accuracy_count),
}


def get(identifier) -> tuple[str, object]:
    """Resolve a metric name to ``(history key, count function)``."""
    if not isinstance(identifier, str):
        raise TypeError(f"metrics: expected metric names such as 'accuracy', received {describe(identifier)}")
    if identifier not in _BY_NAME:
        raise ValueError(f"metrics: expected names from {sorted(_BY_NAME)}, received {identifier!r}")
    return _BY_NAME[identifier]


__all__ = ["sparse_categorical_accuracy_count", "get"]
