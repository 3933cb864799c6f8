"""What ``fit`` needs around its training step: batches, epoch means, Ctrl-C, the validation split, progress lines.

``Sequential.fit`` is a short driver over these and ``Sequential.train_step``; nothing here touches a model.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator

import numpy as np


class DivergenceError(FloatingPointError):
    """Training produced a non-finite loss or non-finite weights."""


def batches(arrays: tuple, batch_size: int, rng: np.random.Generator | None = None) -> Iterator[tuple]:
    """Consecutive slices of ``batch_size`` rows of each array of ``arrays`` (e.g. ``(x, targets,
    sample_weight)``; a ``None`` stays ``None``), the last one smaller if need be (Keras's order).

    With ``rng`` the rows are those of a fresh permutation ``rng.permutation(n)`` (one draw per call: per epoch).
    """
    n = arrays[0].shape[0]
    order = None if rng is None else rng.permutation(n)
    for start in range(0, n, batch_size):
        if order is None:
            yield tuple(None if a is None else a[start:start + batch_size] for a in arrays)
        else:
            rows = order[start:start + batch_size]
            yield tuple(None if a is None else a.take(rows, axis=0) for a in arrays)


class EpochMean:
    """Means of batch logs over an epoch, each batch weighted by its samples: ``sum_b n_b L_b / sum_b n_b``."""

    def __init__(self):
        self.totals: dict[str, float] = {}
        self.samples = 0
        self.last: dict[str, float] = {}

    def add(self, logs: dict[str, float], n: int) -> None:
        """Add one batch's ``logs`` (each a mean over its ``n`` samples)."""
        self.last = logs
        for key, value in logs.items():
            self.totals[key] = self.totals.get(key, 0.0) + value * n
        self.samples += n

    def result(self) -> dict[str, float]:
        return {key: total / self.samples for key, total in self.totals.items()}


def split_validation(arrays: tuple, fraction: float) -> tuple[tuple, tuple]:
    """Keras's ``validation_split`` of each array of ``arrays`` (``None`` stays ``None``): the *last*
    ``n - floor(n * (1 - fraction))`` samples, before any shuffling."""
    n = arrays[0].shape[0]
    split_at = int(n * (1.0 - fraction))
    if split_at == 0 or split_at == n:
        raise ValueError(f"validation_split: {fraction} of {n} samples leaves {split_at} for training "
                         f"and {n - split_at} for validation; expected both to be non-empty")
    return (tuple(None if a is None else a[:split_at] for a in arrays),
            tuple(None if a is None else a[split_at:] for a in arrays))


def epoch_line(epoch: int, epochs: int, seconds: float, logs: dict[str, float]) -> str:
    """``Epoch 3/40 - 0.05s - loss: 0.1234 - accuracy: 0.9600``."""
    parts = " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())
    return f"Epoch {epoch + 1}/{epochs} - {seconds:.2f}s - {parts}"


class DeferredInterrupt:
    """While active, Ctrl-C (SIGINT) sets ``requested`` instead of raising, so ``fit`` stops between two steps.

    A second Ctrl-C raises at once. Outside the main thread (where signals can't be caught) it does nothing.
    """

    def __enter__(self):
        self.requested = False
        self._previous = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc_info):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


__all__ = ["DivergenceError", "batches", "EpochMean", "split_validation", "epoch_line", "DeferredInterrupt"]
