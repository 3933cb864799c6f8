"""Global configuration, as in Keras 3: the default float type (``floatx``) and the global random seed.

``tinynet.config`` is the same module. Models and layers read these when they are created without a ``dtype``
or a ``seed`` of their own.
"""

from __future__ import annotations

import numpy as np

from ._validation import describe, float_dtype

_FLOATX = "float32"
_SEED: np.random.SeedSequence | None = None


def floatx() -> str:
    """The default float type of new models and layers: ``"float32"`` (Keras's default) or ``"float64"``."""
    return _FLOATX


def set_floatx(value) -> None:
    """Set the default float type: ``"float32"`` or ``"float64"`` (``"float16"`` is not supported)."""
    global _FLOATX
    _FLOATX = float_dtype(value, "value").name


def set_random_seed(seed) -> None:
    """Seed every model, layer and shuffle created afterwards without a seed of its own: the same seed and the
    same program give bit-identical weights and results (Keras's ``keras.utils.set_random_seed``)."""
    global _SEED
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed: expected an integer, received {describe(seed)}")
    if seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, received {seed}")
    _SEED = np.random.SeedSequence(int(seed))


def new_generator() -> np.random.Generator:
    """A generator for something created without a seed: the next one of the global seed's stream after
    ``set_random_seed``, else a fresh unseeded one."""
    if _SEED is None:
        return np.random.default_rng()
    return np.random.default_rng(_SEED.spawn(1)[0])


__all__ = ["floatx", "set_floatx", "set_random_seed", "new_generator"]
