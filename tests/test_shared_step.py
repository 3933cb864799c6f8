"""One training step: fit, loss_and_gradients, gradcheck and inspect run the same passes, for every output head.

Each head is checked three ways in float64: the four entry points agree bit for bit, they agree with central
finite differences of the model's own loss (``gradcheck``), and they agree with finite differences of a loss
written here by hand from the weights (so a head that computed the wrong *loss* would fail too).
"""

from __future__ import annotations

import numpy as np
import pytest

from tinynet import Sequential, gradcheck, inspect
from tinynet.layers import Activation, Dense, Softmax
from tinynet.losses import BinaryCrossentropy, MeanSquaredError, SparseCategoricalCrossentropy
from tinynet.optimizers import SGD

N, D, C = 12, 5, 4


def _logsumexp_ce(z, labels):
    m = z.max(axis=1, keepdims=True)
    return np.mean(np.log(np.exp(z - m).sum(axis=1)) + m[:, 0] - z[np.arange(len(z)), labels])


def _clipped_ce(p, labels):
    q = np.clip(p, 1e-7, 1 - 1e-7)
    return np.mean(np.log(q.sum(axis=1)) - np.log(q[np.arange(len(q)), labels]))


def _bce_from_logits(z, targets):
    return np.mean((np.maximum(z, 0) - z * targets + np.log1p(np.exp(-np.abs(z)))).mean(axis=1))


def _mse(out, targets):
    return np.mean(((out - targets) ** 2).mean(axis=1))


def _hidden(x, w):
    return np.tanh(x @ w[0] + w[1])


# name -> (layers, loss, the loss by hand from (weights, x, y))
HEADS = {
    "linear + from_logits=True": (
        lambda: [Dense(6, activation="tanh", input_shape=(D,)), Dense(C)],
        lambda: SparseCategoricalCrossentropy(from_logits=True),
        lambda w, x, y: _logsumexp_ce(_hidden(x, w) @ w[2] + w[3], y)),
    # Keras takes the loss of a softmax output from its logits: the unclipped log-sum-exp of the pre-activation.
    "Dense(softmax) + from_logits=False": (
        lambda: [Dense(6, activation="tanh", input_shape=(D,)), Dense(C, activation="softmax")],
        lambda: SparseCategoricalCrossentropy(from_logits=False),
        lambda w, x, y: _logsumexp_ce(_hidden(x, w) @ w[2] + w[3], y)),
    "Softmax() layer + from_logits=False": (
        lambda: [Dense(6, activation="tanh", input_shape=(D,)), Dense(C), Softmax()],
        lambda: SparseCategoricalCrossentropy(from_logits=False),
        lambda w, x, y: _logsumexp_ce(_hidden(x, w) @ w[2] + w[3], y)),
    "Activation('softmax') + from_logits=False": (
        lambda: [Dense(6, activation="tanh", input_shape=(D,)), Dense(C), Activation("softmax")],
        lambda: SparseCategoricalCrossentropy(from_logits=False),
        lambda w, x, y: _logsumexp_ce(_hidden(x, w) @ w[2] + w[3], y)),
    # A sigmoid output is not a softmax: the loss reads the (clipped) outputs, and backprop runs through it.
    "Dense(sigmoid) + from_logits=False": (
        lambda: [Dense(6, activation="tanh", input_shape=(D,)), Dense(C, activation="sigmoid")],
        lambda: SparseCategoricalCrossentropy(from_logits=False),
        lambda w, x, y: _clipped_ce(1 / (1 + np.exp(-(_hidden(x, w) @ w[2] + w[3]))), y)),
    # Keras takes BinaryCrossentropy of a sigmoid output from the sigmoid's input, too.
    "Dense(sigmoid) + BinaryCrossentropy": (
        lambda: [Dense(6, activation="tanh", input_shape=(D,)), Dense(C, activation="sigmoid")],
        lambda: BinaryCrossentropy(),
        lambda w, x, y: _bce_from_logits(_hidden(x, w) @ w[2] + w[3], y)),
    "linear + MSE": (
        lambda: [Dense(6, activation="tanh", input_shape=(D,)), Dense(C)],
        lambda: MeanSquaredError(),
        lambda w, x, y: _mse(_hidden(x, w) @ w[2] + w[3], y)),
}


def _case(name, seed=0):
    layers, loss, by_hand = HEADS[name]
    model = Sequential(layers(), seed=seed, dtype="float64")
    model.compile(loss=loss(), optimizer=SGD(learning_rate=0.1))
    rng = np.random.default_rng(seed + 1)
    x = rng.standard_normal((N, D))
    if isinstance(model.loss, MeanSquaredError):
        y = rng.standard_normal((N, C))
    elif isinstance(model.loss, BinaryCrossentropy):
        y = rng.integers(0, 2, (N, C)).astype(float)
    else:
        y = rng.integers(0, C, N)
    # Large logits, so that some probabilities fall below the 1e-7 clip: only then does a head that took the loss
    # from the clipped probabilities instead of the logits give other values and gradients.
    weights = model.get_weights()
    weights[2] *= 30.0
    model.set_weights(weights)
    return model, x, y, by_hand


@pytest.mark.parametrize("name", list(HEADS))
def test_every_entry_point_gives_the_same_gradients(name):
    model, x, y, _ = _case(name)
    loss, grads = model.loss_and_gradients(x, y)
    info = inspect.inspect_batch(model, x, y)
    assert info.loss == loss
    for ours, ref, pname in zip(info.gradients, grads, model.weight_names, strict=True):
        np.testing.assert_array_equal(ours, ref, err_msg=f"inspect_batch vs loss_and_gradients: {pname}")
    # The step fit takes: one full batch of plain SGD moves every weight by exactly -lr * gradient.
    before = model.get_weights()
    history = model.fit(x, y, batch_size=N, epochs=1, shuffle=False, verbose=0)
    assert history.history["loss"] == [loss]
    for w0, w1, g, pname in zip(before, model.get_weights(), grads, model.weight_names, strict=True):
        np.testing.assert_array_equal(w1, w0 - g * 0.1, err_msg=f"fit's step vs loss_and_gradients: {pname}")


def test_the_cases_reach_the_clip():
    model, x, _, _ = _case("Dense(softmax) + from_logits=False")
    assert (model.predict(x) < 1e-7).any()


@pytest.mark.parametrize("name", list(HEADS))
def test_gradients_match_finite_differences_of_the_models_loss(name):
    model, x, y, _ = _case(name)
    report = gradcheck.check_model(model, x, y)
    assert report.ok, f"{name}\n{report}"


@pytest.mark.parametrize("name", list(HEADS))
def test_gradients_match_finite_differences_of_the_loss_written_by_hand(name):
    model, x, y, by_hand = _case(name)
    value, grads = model.loss_and_gradients(x, y)
    weights = model.get_weights()
    assert value == pytest.approx(by_hand(weights, x, y), rel=1e-12, abs=1e-12)
    for k, analytic in enumerate(grads):
        numeric = gradcheck.numerical_gradient(lambda: by_hand(weights, x, y), weights[k])
        err = gradcheck.relative_error(analytic, numeric)
        assert err < 1e-7, f"{name}, {model.weight_names[k]}: relative error {err:.2e} against the loss by hand"


def test_a_softmax_head_is_fused_and_a_sigmoid_head_is_not():
    for name, fused in (("Dense(softmax) + from_logits=False", True), ("Softmax() layer + from_logits=False", True),
                        ("Dense(sigmoid) + from_logits=False", False), ("linear + from_logits=True", False),
                        ("Dense(sigmoid) + BinaryCrossentropy", True)):
        model, *_ = _case(name)
        assert model.head.fused is fused, name
        assert model.head.loss.from_logits is (fused or name.startswith("linear")), name
        assert model.head.loss is not model.loss if fused else model.head.loss is model.loss


def test_trace_records_each_layers_output_and_incoming_gradient():
    model, x, y, _ = _case("Softmax() layer + from_logits=False")
    info = inspect.inspect_batch(model, x, y)
    names = [layer.name for layer in model.layers]
    logits = info.activations[names[1]]
    probs = info.activations[names[2]]
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)
    onehot = np.eye(C)[y]
    # The fused head starts backprop from dL/dz = (softmax(z) - onehot) / N at the softmax's input ...
    np.testing.assert_allclose(info.output_grads[names[2]], (probs - onehot) / N, rtol=1e-12, atol=1e-15)
    # ... and the Dense below it gets its kernel gradient from there: (its input).T @ dL/dz.
    np.testing.assert_allclose(info.param_grads[f"{names[1]}/kernel"],
                               info.activations[names[0]].T @ info.output_grads[names[1]], rtol=1e-12)
    assert logits.shape == probs.shape == (N, C)


def test_backward_without_a_training_forward_pass_says_so():
    layer = Dense(3, activation="relu")
    x = np.ones((2, 4))
    layer(x)                                              # builds; an inference pass keeps nothing
    with pytest.raises(RuntimeError, match=r"forward\(x, training=True\) first"):
        layer.backward(np.ones((2, 3)))
    layer.forward(x, training=True)
    layer.forward(x)                                      # a later inference pass drops the training cache
    with pytest.raises(RuntimeError, match="training=True"):
        layer.backward(np.ones((2, 3)))


def test_predict_leaves_no_state_in_the_layers_and_a_softmax_head_none_after_fit():
    model, x, y, _ = _case("Softmax() layer + from_logits=False")
    model.fit(x, y, epochs=1, batch_size=5, verbose=0)
    assert model.layers[-1].cache == {}                   # the fused head never ran the softmax in training
    model.predict(x)
    assert all(layer.cache == {} for layer in model.layers)
    assert not any(hasattr(layer, "logits") for layer in model.layers)


def test_fit_loss_and_gradients_gradcheck_and_inspect_all_call_compute_gradients(monkeypatch):
    calls = []
    original = Sequential.compute_gradients

    def spy(self, x, targets, trace=None, sample_weight=None):
        calls.append(x.shape[0])
        return original(self, x, targets, trace, sample_weight)

    monkeypatch.setattr(Sequential, "compute_gradients", spy)
    model, x, y, _ = _case("Dense(softmax) + from_logits=False")
    model.fit(x, y, epochs=2, batch_size=5, verbose=0)
    assert calls == [5, 5, 2] * 2                          # one call per step, the last batch partial
    for use in (lambda: model.loss_and_gradients(x, y), lambda: gradcheck.check_model(model, x, y),
                lambda: inspect.inspect_batch(model, x, y)):
        calls.clear()
        use()
        assert calls == [N]


@pytest.mark.parametrize("name", ["linear + from_logits=True", "Dense(softmax) + from_logits=False"])
def test_fit_is_train_step_over_batches_and_history_is_their_weighted_mean(name):
    """float32, Adam, batch 5 of 12 (a partial last batch), shuffled: fit is exactly train_step on its batches."""
    from tinynet.optimizers import Adam

    layers, loss, _ = HEADS[name]
    models = []
    for _ in range(2):
        model = Sequential(layers(), seed=3)
        model.compile(loss=loss(), optimizer=Adam(0.01), metrics=["accuracy"])
        models.append(model)
    fitted, stepped = models
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((N, D)), rng.integers(0, C, N)
    history = fitted.fit(x, y, batch_size=5, epochs=2, verbose=0)
    xp, targets = stepped.prepare_data(x, y)
    for epoch in range(2):
        order = stepped.rng.permutation(N)                 # the same draws fit made from its generator
        stepped.reset_metrics()                            # as fit does at each epoch's start
        losses, sizes = [], []
        for s in range(0, N, 5):
            rows = order[s:s + 5]
            loss, _ = stepped.compute_loss(xp[rows], targets[rows])   # the loss before this step's update
            logs = stepped.train_step(xp[rows], targets[rows])        # the running logs since the reset
            losses.append(loss)
            sizes.append(len(rows))
            assert logs["loss"] == pytest.approx(np.dot(losses, sizes) / sum(sizes), rel=1e-6)
        for key in ("loss", "accuracy"):
            assert history.history[key][epoch] == logs[key], (key, epoch)
    for a, b in zip(fitted.get_weights(), stepped.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert fitted.flat_weights.dtype == np.float32


def test_train_step_refuses_another_models_optimizer():
    model, x, y, _ = _case("linear + from_logits=True")
    other, *_ = _case("linear + from_logits=True", seed=1)
    model.train_step(*model.prepare_data(x, y))
    other.compile(loss=SparseCategoricalCrossentropy(from_logits=True), optimizer=model.optimizer)
    before = other.get_weights()
    with pytest.raises(ValueError, match="another model's parameters"):
        other.train_step(*other.prepare_data(x, y))
    assert model.optimizer.iterations == 1
    for a, b in zip(before, other.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_train_step_refuses_a_batch_that_was_not_prepared():
    model, x, y, _ = _case("linear + from_logits=True")
    xp, targets = model.prepare_data(x, y)
    with pytest.raises(ValueError, match="y: expected targets from prepare_data"):
        model.train_step(xp, y)                           # raw labels instead of the encoded targets
    with pytest.raises(ValueError, match="x: expected a batch from prepare_data"):
        model.train_step(xp.astype(np.float32), targets)
    assert model.optimizer.iterations == 0
    logs = model.train_step(xp, targets)
    assert model.optimizer.iterations == 1 and set(logs) == {"loss"}


@pytest.mark.parametrize("make_layers, fused", [
    (lambda: [Dense(3, activation="relu"), Dense(4), Dense(C)], False),
    (lambda: [Dense(C)], False),
    (lambda: [Dense(3, activation="relu"), Dense(C, activation="softmax")], True),
    (lambda: [Dense(C, activation="softmax")], True),
])
def test_backward_asks_every_layer_but_the_first_for_its_input_gradient(make_layers, fused):
    """The first layer's dL/dx is never used, so it is never computed (one of a Dense layer's two matrix
    products in backward)."""
    layers = make_layers()                                 # fresh layers: a built layer cannot join another model
    model = Sequential(layers, seed=0)
    model.compile(loss=SparseCategoricalCrossentropy(from_logits=not fused), optimizer=SGD())
    model.build((D,))
    asked = []

    def spy(i, plain):
        def recorded(grad, *args):
            asked.append((i, *args))
            return plain(grad, *args)
        return recorded

    for i, layer in enumerate(model.layers):
        method = "backward_pre_activation" if fused and i == len(layers) - 1 else "backward"
        setattr(layer, method, spy(i, getattr(layer, method)))
    x, y = np.random.default_rng(0).standard_normal((N, D)), np.arange(N) % C
    model.loss_and_gradients(x, y)
    assert model.head.fused is fused
    assert asked == [(i, i > 0) for i in range(len(layers) - 1, -1, -1)]
