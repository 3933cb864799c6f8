"""Helpers for the TensorFlow parity suite: CI-safe TF import, Keras twins of tinynet models, error measures.

TensorFlow is a dev dependency, always installed in CI. If it cannot be imported, a parity test FAILS when env
``CI`` is set and is skipped only on a developer machine without it (never ``pytest.importorskip``).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

# Must be set before TensorFlow is first imported: oneDNN's fused kernels change float32 summation order.
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def import_tf():
    """Return ``(tensorflow, keras)``; fail under CI and skip elsewhere if they cannot be imported.

    ``TINYNET_TESTS_WITHOUT_TF=1`` skips these tests on purpose, to measure what the suite catches for a
    contributor without TensorFlow (``make mutate-without-tf``, docs/testing.md)."""
    if os.environ.get("TINYNET_TESTS_WITHOUT_TF") == "1":
        pytest.skip("TINYNET_TESTS_WITHOUT_TF=1: running the suite as without TensorFlow")
    try:
        import keras
        import tensorflow as tf
    except Exception as exc:  # ImportError, or a broken native library
        reason = f"TensorFlow/Keras could not be imported ({type(exc).__name__}: {exc})"
        if os.environ.get("CI"):
            pytest.fail(reason + "; it is a dev dependency and must be installed in CI")
        pytest.skip(reason)
    return tf, keras


def keras_twin(keras, model):
    """A Keras ``Sequential`` with the layers (Dense only) and the weights of tinynet's ``model``.

    The weights are copied with ``set_weights(model.get_weights())``, never drawn by Keras.
    """
    layers = [keras.Input(shape=tuple(model.input_shape), dtype="float32")]
    for layer in model.layers:
        if type(layer).__name__ != "Dense":
            raise TypeError(f"model: keras_twin handles Dense layers only, received {layer!r}")
        layers.append(keras.layers.Dense(layer.units, activation=layer.activation_name,
                                         use_bias=layer.use_bias))
    twin = keras.Sequential(layers)
    twin.set_weights(model.get_weights())
    return twin


def rel_err(ours, ref) -> float:
    """``norm(ours - ref) / norm(ref)`` in float64; 0 if both are all zeros, inf if only ``ref`` is."""
    ours, ref = np.asarray(ours, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    diff, scale = np.linalg.norm(ours - ref), np.linalg.norm(ref)
    if scale == 0:
        return 0.0 if diff == 0 else float("inf")
    return float(diff / scale)


def max_abs(ours, ref) -> float:
    ours, ref = np.asarray(ours, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    return float(np.max(np.abs(ours - ref))) if ours.size else 0.0


def record(record_property, name: str, **numbers) -> None:
    """Print measured differences (visible with ``pytest -s``) and attach them to the JUnit report."""
    text = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in numbers.items())
    print(f"\n[parity] {name}: {text}")
    for key, value in numbers.items():
        record_property(f"{name}.{key}", value)
