"""Weight initialisers. Each takes a shape, a ``numpy.random.Generator`` and a dtype, and returns a new array.

The formulas are Keras's (``fan_in`` = rows of a Dense kernel, ``fan_out`` = its columns). Keras draws from
TensorFlow's random stream, which NumPy cannot reproduce, so the *distribution* matches, not the numbers.
"""

from __future__ import annotations

import numpy as np

from ._validation import describe


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) == 1:
        return shape[0], shape[0]
    return int(np.prod(shape[:-1])), shape[-1]


def _truncated_normal(shape, rng: np.random.Generator, stddev: float) -> np.ndarray:
    """Normal(0, stddev) redrawn until every value lies within two standard deviations (as Keras does)."""
    out = rng.normal(0.0, stddev, size=shape)
    bad = np.abs(out) > 2.0 * stddev
    while bad.any():
        out[bad] = rng.normal(0.0, stddev, size=int(bad.sum()))
        bad = np.abs(out) > 2.0 * stddev
    return out


# Standard deviation of a unit normal truncated to [-2, 2]; Keras divides by it so the variance is as intended.
_TRUNCATED_STD = 0.87962566103423978


def glorot_uniform(shape, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """U(-limit, limit) with ``limit = sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = _fans(shape)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def glorot_normal(shape, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """Truncated normal with variance ``2 / (fan_in + fan_out)``."""
    fan_in, fan_out = _fans(shape)
    return _truncated_normal(shape, rng, np.sqrt(2.0 / (fan_in + fan_out)) / _TRUNCATED_STD).astype(dtype)


def he_uniform(shape, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """U(-limit, limit) with ``limit = sqrt(6 / fan_in)``, suited to ReLU layers."""
    fan_in, _ = _fans(shape)
    limit = np.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def he_normal(shape, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """Truncated normal with variance ``2 / fan_in``."""
    fan_in, _ = _fans(shape)
    return _truncated_normal(shape, rng, np.sqrt(2.0 / fan_in) / _TRUNCATED_STD).astype(dtype)


def zeros(shape, rng: np.random.Generator | None = None, dtype=np.float32) -> np.ndarray:
    return np.zeros(shape, dtype=dtype)


def ones(shape, rng: np.random.Generator | None = None, dtype=np.float32) -> np.ndarray:
    return np.ones(shape, dtype=dtype)


_BY_NAME = {f.__name__: f for f in (glorot_uniform, glorot_normal, he_uniform, he_normal, zeros, ones)}
NAMES = tuple(_BY_NAME)


def get(identifier, name: str = "initializer"):
    """Resolve an initialiser given by name (``"glorot_uniform"``) or as a callable ``(shape, rng, dtype)``."""
    if callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]
    if isinstance(identifier, str):
        raise ValueError(f"{name}: expected one of {sorted(_BY_NAME)} or a callable, received {identifier!r}")
    raise TypeError(f"{name}: expected an initializer name or a callable, received {describe(identifier)}")


__all__ = ["glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "zeros", "ones", "get"]
