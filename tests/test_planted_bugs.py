"""Tests aimed at the bugs a developer plants by mistake (issue 17's survivors), NumPy only: each fails on the bug
named in its docstring (checked by planting it)."""

from __future__ import annotations

import numpy as np
import pytest

from tinynet import Sequential, gradcheck
from tinynet import layers as L
from tinynet.losses import BinaryCrossentropy, SparseCategoricalCrossentropy
from tinynet.models import DivergenceError
from tinynet.optimizers import SGD, Adam


# -- numerical stability of outputs ----------------------------------------------------------------------------
@pytest.mark.parametrize("big", [1000.0, 1e30])
def test_softmax_of_huge_logits_is_finite_and_sums_to_one(big):
    """Bug: a softmax without the max shift returns NaN rows for logits like [[1000, 0]]."""
    z = np.array([[big, 0.0, -big], [0.0, big, big]], dtype=np.float32)
    for out in (L.Softmax()(z), L.Activation("softmax")(z)):
        assert np.isfinite(out).all()
        np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-6)
        np.testing.assert_allclose(out[0], [1, 0, 0], atol=1e-6)
    model = Sequential([L.Dense(3, activation="softmax", input_shape=(2,))], seed=0)
    model.set_weights([np.array([[1e4, 0, -1e4], [0, 1e4, 0]], np.float32), np.zeros(3, np.float32)])
    p = model.predict(np.array([[1.0, 0.0], [0.0, 1.0]], np.float32))
    assert np.isfinite(p).all() and np.allclose(p.sum(axis=1), 1.0)


# -- the divergence guard ----------------------------------------------------------------------------------------
def test_an_update_that_overflows_the_weights_is_undone():
    """Bug: not restoring the last finite weights after a step sends them to inf (the loss of that step was
    finite; the next one is not)."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((16, 3)) * 1e18).astype(np.float32)       # finite inputs, huge gradients
    y = rng.integers(0, 2, 16)
    model = Sequential([L.Dense(2, input_shape=(3,))], seed=0)
    model.compile(optimizer=SGD(learning_rate=1e30), loss=SparseCategoricalCrossentropy(from_logits=True))
    before = model.get_weights()
    with pytest.raises(DivergenceError, match="step 2"):
        model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for w, b in zip(model.get_weights(), before, strict=True):
        assert np.isfinite(w).all()
        np.testing.assert_array_equal(w, b)                # the weights before the update that overflowed


def _overflowing():
    """A model and data whose first SGD update sends the weights to inf while that step's loss is finite."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((16, 3)) * 1e18).astype(np.float32)
    model = Sequential([L.Dense(2, input_shape=(3,))], seed=0)
    model.compile(optimizer=SGD(learning_rate=1e30), loss=SparseCategoricalCrossentropy(from_logits=True))
    return model, x, rng.integers(0, 2, 16)


def test_an_epoch_that_ends_with_non_finite_weights_stops_with_the_weights_before_its_last_update():
    """Bug: the end-of-epoch check of the weights missing, or naming the wrong epoch and step."""
    model, x, y = _overflowing()
    before = model.get_weights()
    with pytest.raises(DivergenceError) as info:
        model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)     # one step per epoch
    assert str(info.value) == (
        "fit: the weights became non-finite at epoch 1, step 1; training stopped and the model keeps its last "
        "finite weights (model.history has the completed epochs). Lower the learning rate or check the data scale.")
    for w, b in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(w, b)


def test_terminate_on_nan_also_undoes_an_update_that_overflowed_the_weights():
    """Bug: TerminateOnNaN's quiet stop keeping the infinite weights (or restoring when they are finite)."""
    from tinynet.callbacks import TerminateOnNaN

    model, x, y = _overflowing()
    before = model.get_weights()
    history = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, callbacks=[TerminateOnNaN()])
    assert history.epoch == [0] and np.isnan(history.history["loss"][0])
    for w, b in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(w, b)


# -- argument bounds: both ends of every numeric argument ------------------------------------------------------
def _fit(**kwargs):
    model = Sequential([L.Dense(2, input_shape=(3,))], seed=0)
    model.compile(optimizer="sgd", loss=SparseCategoricalCrossentropy(from_logits=True))
    model.fit(np.ones((10, 3)), np.zeros(10), verbose=0, **kwargs)


@pytest.mark.parametrize("call, name", [
    (lambda: _fit(validation_split=-0.1), "validation_split"),
    (lambda: _fit(validation_split=1.0), "validation_split"),
    (lambda: _fit(batch_size=0), "batch_size"),
    (lambda: _fit(epochs=0), "epochs"),
    (lambda: _fit(initial_epoch=-1), "initial_epoch"),
    (lambda: L.Dropout(-0.1), "rate"),
    (lambda: L.Dropout(1.0), "rate"),
    (lambda: L.Dense(0), "units"),
    (lambda: Adam(beta_1=-0.1), "beta_1"),
    (lambda: Adam(beta_1=1.0), "beta_1"),
    (lambda: Adam(beta_2=-0.1), "beta_2"),
    (lambda: Adam(beta_2=1.0), "beta_2"),
    (lambda: Adam(epsilon=-1e-7), "epsilon"),
    (lambda: Adam(learning_rate=-0.1), "learning_rate"),
    (lambda: Adam(learning_rate=float("inf")), "learning_rate"),
    (lambda: SGD(momentum=-0.1), "momentum"),
    (lambda: SGD(momentum=1.1), "momentum"),
    (lambda: BinaryCrossentropy(label_smoothing=-0.1), "label_smoothing"),
    (lambda: BinaryCrossentropy(label_smoothing=1.1), "label_smoothing"),
    (lambda: gradcheck.check_loss(BinaryCrossentropy(), [[1.0]], [[0.5]], h=0), "h"),
    (lambda: gradcheck.check_loss(BinaryCrossentropy(), [[1.0]], [[0.5]], tol=-1), "tol"),
])
def test_numeric_arguments_are_bounded_at_both_ends(call, name):
    """Bug: a bound checked at one end only (validation_split=-0.1 accepted)."""
    with pytest.raises(ValueError, match=name):
        call()


# -- the gradient checker itself -------------------------------------------------------------------------------
def _checked_model():
    model = Sequential([L.Dense(4, activation="tanh", input_shape=(3,)), L.Dense(3)], seed=1, dtype="float64")
    model.compile(optimizer="sgd", loss=SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(2)
    return model, rng.standard_normal((6, 3)), rng.integers(0, 3, 6)


@pytest.mark.parametrize("damage", ["negate the kernel gradient", "bias gradient 1% off"])
def test_gradcheck_flags_a_wrong_gradient_with_its_default_arguments(monkeypatch, damage):
    """Bugs: comparing only the norms of the two gradients (blind to a sign flip), or a default tolerance loosened
    from 1e-6 to 1e-2 (blind to a 1% error)."""
    model, x, y = _checked_model()
    assert gradcheck.check_model(model, x, y).ok
    original = L.Dense.backward_pre_activation

    def damaged(self, grad, need_input_grad=True):
        out = original(self, grad, need_input_grad)
        if damage.startswith("negate"):
            self.grads[0] *= -1
        else:
            self.grads[1] *= 1.01
        return out

    monkeypatch.setattr(L.Dense, "backward_pre_activation", damaged)
    report = gradcheck.check_model(model, x, y)
    assert not report.ok and report.max_rel_error > 1e-3


# -- what only the TensorFlow parity tests used to catch -------------------------------------------------------
def test_a_softmax_head_with_probabilities_matches_finite_differences():
    """Bug: a softmax-output Dense backpropagating through its softmax a second time."""
    model = Sequential([L.Dense(5, activation="relu", input_shape=(3,)), L.Dense(4, activation="softmax")],
                       seed=3, dtype="float64")
    model.compile(optimizer="sgd", loss=SparseCategoricalCrossentropy(from_logits=False))
    rng = np.random.default_rng(4)
    assert gradcheck.check_model(model, rng.standard_normal((7, 3)), rng.integers(0, 4, 7)).ok


def test_evaluate_weights_a_partial_last_batch_by_its_size():
    """Bug: evaluate weighting the last, smaller batch as a full one."""
    model, x, y = _checked_model()
    x, y = np.tile(x, (5, 1)), np.tile(y, 5)                # 30 samples: batches of 7, 7, 7, 7, 2
    full = model.compute_loss(*model.prepare_data(x, y))[0]
    assert model.evaluate(x, y, batch_size=7, verbose=0) == pytest.approx(full, rel=1e-12)


def test_the_gradient_is_zero_where_probabilities_are_clipped():
    """Bug: a missing clip mask on saturated probabilities (0 and 1 given to a probability loss)."""
    p = np.array([[1e-9, 0.3], [1 - 1e-9, 0.8], [0.0, 1.0]])
    y = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    _, grad = BinaryCrossentropy().value_and_grad(y, p)
    clipped = (p < 1e-7) | (p > 1 - 1e-7)
    assert (grad[clipped] == 0).all() and (grad[~clipped] != 0).all()
    inside = np.clip(p, 0.05, 0.95)                         # where the loss is smooth, finite differences agree
    assert gradcheck.check_loss(BinaryCrossentropy(), y, inside).ok


# -- weak kills, now direct -------------------------------------------------------------------------------------
def test_a_float32_model_computes_in_float32_whatever_the_input_dtype():
    """Bug: float64 input making a float32 model compute in float64."""
    model = Sequential([L.Dense(4, activation="relu", input_shape=(3,)), L.Dense(2)], seed=5)
    model.compile(optimizer="sgd", loss=SparseCategoricalCrossentropy(from_logits=True))
    x64 = np.random.default_rng(6).standard_normal((8, 3))
    out = model.predict(x64)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, model.predict(x64.astype(np.float32)))
    loss64, grads64 = model.loss_and_gradients(x64, np.zeros(8))
    loss32, grads32 = model.loss_and_gradients(x64.astype(np.float32), np.zeros(8))
    assert loss64 == loss32 and all(g.dtype == np.float32 for g in grads64)
    for a, b in zip(grads64, grads32, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_weights_file_missing_exactly_one_array_is_refused(tmp_path):
    """Bug: loading whatever arrays a weights file has (one missing goes unnoticed)."""
    model = Sequential([L.Dense(4, input_shape=(3,)), L.Dense(2)], seed=7)
    model.save_weights(tmp_path / "w.npz")
    with np.load(tmp_path / "w.npz") as data:
        arrays = {k: data[k] for k in data.files}
    missing = sorted(arrays)[-1]
    del arrays[missing]
    np.savez(tmp_path / "short.npz", **arrays)
    before = model.get_weights()
    other = Sequential([L.Dense(4, input_shape=(3,)), L.Dense(2)], seed=8)
    with pytest.raises(ValueError, match="short.npz"):
        other.load_weights(tmp_path / "short.npz")
    model.load_weights(tmp_path / "w.npz")
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_each_epoch_draws_a_fresh_permutation(monkeypatch):
    """Bug: shuffling once and reusing that order for every epoch (or not shuffling at all)."""
    seen = []
    original = Sequential.compute_gradients

    def spy(self, x, targets, trace=None, sample_weight=None):
        seen.append(x[:, 0].copy())
        return original(self, x, targets, trace, sample_weight)

    monkeypatch.setattr(Sequential, "compute_gradients", spy)
    model = Sequential([L.Dense(2, input_shape=(1,))], seed=9)
    model.compile(optimizer="sgd", loss=SparseCategoricalCrossentropy(from_logits=True))
    x = np.arange(20, dtype=np.float32)[:, None]
    model.fit(x, np.zeros(20), batch_size=5, epochs=3, verbose=0)
    epochs = [np.concatenate(seen[i:i + 4]) for i in range(0, 12, 4)]
    for order in epochs:
        np.testing.assert_array_equal(np.sort(order), x[:, 0])      # every sample once per epoch
    assert not np.array_equal(epochs[0], x[:, 0])                     # shuffled
    assert not np.array_equal(epochs[0], epochs[1]) and not np.array_equal(epochs[1], epochs[2])
