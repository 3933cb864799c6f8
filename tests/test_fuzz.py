"""Malformed input, drawn by hypothesis: only documented errors escape, and a rejected call changes nothing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinynet import DivergenceError, Sequential
from tinynet.layers import Dense
from tinynet.losses import SparseCategoricalCrossentropy
from tinynet.optimizers import Adam

DOCUMENTED = (ValueError, TypeError, DivergenceError)

dtypes = st.sampled_from([np.float16, np.float32, np.float64, np.int8, np.int64, np.uint8, np.bool_,
                          np.complex64, "U3", "M8[s]"])
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5)


@st.composite
def arrays(draw):
    dtype = np.dtype(draw(dtypes))
    return draw(hnp.arrays(dtype, draw(shapes)))


anything = st.one_of(arrays(), st.none(), st.text(max_size=3), st.lists(st.integers(-3, 12), max_size=6),
                     st.lists(st.lists(st.floats(allow_nan=True), max_size=3), max_size=3))


def fresh_model():
    model = Sequential([Dense(4, activation="relu", input_shape=(3,)), Dense(4)], seed=0)
    model.compile(loss=SparseCategoricalCrossentropy(from_logits=True), optimizer=Adam())
    return model


def _state(model):
    return [w.copy() for w in model.get_weights()], model.optimizer.iterations


def _same(a, b):
    return a[1] == b[1] and all(np.array_equal(x, y) for x, y in zip(a[0], b[0], strict=True))


@pytest.mark.mutants_of("tinynet.models")
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(x=anything, y=anything, batch=st.sampled_from([None, 0, 2, -1, 2.5, "8"]))
def test_fit_rejects_or_trains_finitely(x, y, batch):
    model = fresh_model()
    before = _state(model)
    try:
        history = model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)
    except DOCUMENTED as exc:
        assert str(exc)
        if not isinstance(exc, DivergenceError):
            assert _same(before, _state(model)), "a rejected call changed the model"
        assert all(np.isfinite(w).all() for w in model.get_weights())
        return
    assert all(np.isfinite(v) for v in history.history["loss"])
    assert all(np.isfinite(w).all() for w in model.get_weights())


# Huge finite inputs can overflow Adam's g*g to inf, as they do in Keras's float32 update; NumPy warns about it
# and the fit then either ends in DivergenceError or keeps finite weights. Both are checked below.
@pytest.mark.mutants_of("tinynet.models")
@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 6), data=st.data())
def test_fit_on_almost_valid_data(n, data):
    """Mostly right shapes, awkward values: huge, tiny, NaN or inf entries; labels out of range or fractional."""
    finite = st.floats(-1e6, 1e6)
    x = data.draw(hnp.arrays(np.float64, (n, 3), elements=finite | st.floats(allow_nan=True, allow_infinity=True)))
    size = data.draw(st.sampled_from([n, n, n, n + 1]))
    y = data.draw(st.lists(st.integers(0, 3), min_size=size, max_size=size)
                  | st.lists(st.integers(-2, 6) | st.floats(-1, 5), min_size=size, max_size=size))
    model = fresh_model()
    before = _state(model)
    try:
        history = model.fit(x, y, batch_size=2, epochs=2, verbose=0)
    except DOCUMENTED as exc:
        event(f"rejected: {type(exc).__name__}")
        assert str(exc)
        if not isinstance(exc, DivergenceError):
            assert _same(before, _state(model))
        assert all(np.isfinite(w).all() for w in model.get_weights())
        return
    event("trained")
    assert len(y) == n and np.isfinite(x).all()
    assert all(np.isfinite(v) for v in history.history["loss"])


@pytest.mark.mutants_of("tinynet.models")
@settings(max_examples=200, deadline=None)
@given(x=anything)
def test_predict_rejects_or_returns_finite_outputs(x):
    model = fresh_model()
    try:
        out = model.predict(x)
    except DOCUMENTED as exc:
        assert str(exc)
        return
    assert out.shape[1:] == (4,) and np.isfinite(out).all()


@pytest.mark.mutants_of("tinynet.losses")
@settings(max_examples=200, deadline=None)
@given(y_true=anything, y_pred=anything)
def test_loss_rejects_or_returns_finite_values(y_true, y_pred):
    for loss in (SparseCategoricalCrossentropy(from_logits=True), SparseCategoricalCrossentropy()):
        try:
            value, grad = loss.value_and_grad(y_true, y_pred)
        except DOCUMENTED as exc:
            assert str(exc)
            continue
        assert np.isfinite(value) and np.isfinite(grad).all()


@pytest.mark.mutants_of("tinynet.models")
@settings(max_examples=100, deadline=None)
@given(weights=st.lists(arrays(), min_size=0, max_size=5))
def test_set_weights_rejects_or_accepts_atomically(weights):
    model = fresh_model()
    before = _state(model)
    try:
        model.set_weights(weights)
    except DOCUMENTED:
        assert _same(before, _state(model))
        return
    assert all(np.isfinite(w).all() for w in model.get_weights())
