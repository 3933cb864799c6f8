"""Programs a learner writes after the seed blog, run twice: with ``import keras`` and with ``import tinynet``.

Each program is one function of the framework module it is given (``keras`` or ``tinynet``): the imports are the
only difference. tf.keras's accuracy on the same data is measured in the same test, and tinynet must reach it.
The data are scikit-learn's 8x8 digits (no download) or generated here.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinynet
from tests._tf_helpers import import_tf


def _digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    X, y = (X[order] / 16.0).astype(np.float32), y[order]
    return X[:1400], y[:1400], X[1400:], y[1400:]


def dropout_mlp(tf):
    """The Keras beginner tutorial's MLP with Dropout, on the 8x8 digits; returns held-out accuracy."""
    X, y, X_test, y_test = _digits()
    tf.utils.set_random_seed(1)
    model = tf.Sequential([tf.Input(shape=(64,)),
                           tf.layers.Dense(128, activation="relu"),
                           tf.layers.Dropout(0.2),
                           tf.layers.Dense(10)])
    model.compile(optimizer=tf.optimizers.Adam(learning_rate=0.001),
                  loss=tf.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(X, y, epochs=15, batch_size=32, verbose=0)
    probabilities = tf.activations.softmax(model.predict(X_test, verbose=0))
    first, second = model.layers[0].get_weights(), model.get_layer(index=-1).get_weights()
    assert first[0].shape == (64, 128) and second[1].shape == (10,)
    return float(np.mean(np.argmax(np.asarray(probabilities), axis=1) == y_test))


def softmax_lab(tf, preferred: bool):
    """The course's softmax lab: the "obvious" softmax output against the "preferred" linear output + logits."""
    rng = np.random.default_rng(0)
    centers = np.array([[-5, 2], [-2, -2], [1, 2], [5, -2]], dtype=np.float32)
    y = rng.integers(0, 4, 2000)
    X = (centers[y] + rng.normal(0, 1.0, (2000, 2))).astype(np.float32)
    tf.utils.set_random_seed(2)
    model = tf.Sequential([tf.layers.Dense(25, activation="relu", input_shape=(2,)),
                           tf.layers.Dense(15, activation="relu"),
                           tf.layers.Dense(4, activation="linear" if preferred else "softmax")])
    model.compile(loss=tf.losses.SparseCategoricalCrossentropy(from_logits=preferred),
                  optimizer=tf.optimizers.Adam(0.001))
    model.fit(X, y, epochs=10, verbose=0)
    out = np.asarray(model.predict(X, verbose=0))
    probabilities = np.asarray(tf.activations.softmax(out)) if preferred else out
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    return float(np.mean(probabilities.argmax(axis=1) == y))


@pytest.mark.parametrize("program", [dropout_mlp, lambda tf: softmax_lab(tf, False), lambda tf: softmax_lab(tf, True)],
                         ids=["dropout-mlp", "softmax-lab-obvious", "softmax-lab-preferred"])
def test_program_runs_and_reaches_keras_accuracy(program):
    _, keras = import_tf()
    ours, theirs = program(tinynet), program(keras)
    print(f"\n[programs] tinynet {ours:.4f}  tf.keras {theirs:.4f}")
    assert ours >= theirs - 0.03, f"tinynet {ours:.4f} vs tf.keras {theirs:.4f}"
    assert ours > 0.9
