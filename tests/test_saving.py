"""model.save / tinynet.load_model: the whole training state, pickle-free, resumable bit for bit."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tinynet
from tinynet import Sequential
from tinynet.layers import Activation, Dense, Dropout
from tinynet.losses import SparseCategoricalCrossentropy
from tinynet.optimizers import SGD, Adam


def make_model(optimizer=None):
    model = Sequential([Dense(8, activation="relu", input_shape=(5,)), Dense(6, activation="tanh"),
                        Activation("relu"), Dense(3)], seed=11)
    model.compile(loss=SparseCategoricalCrossentropy(from_logits=True), optimizer=optimizer or Adam(amsgrad=True),
                  metrics=["accuracy"])
    return model


def data(n=90):
    rng = np.random.default_rng(4)
    return rng.standard_normal((n, 5)).astype(np.float32), rng.integers(0, 3, n)


@pytest.mark.parametrize("make_optimizer", [lambda: None, lambda: SGD(0.05, momentum=0.9, nesterov=True)],
                         ids=["adam-amsgrad", "sgd-nesterov"])
def test_save_load_then_train_equals_training_straight_through(tmp_path, make_optimizer):
    x, y = data()
    straight = make_model(make_optimizer())        # a fresh optimizer per model (and per run of the test)
    straight.fit(x, y, epochs=4, batch_size=16, verbose=0)

    first = make_model(make_optimizer())
    first.fit(x, y, epochs=2, batch_size=16, verbose=0)
    path = tmp_path / "model.npz"
    first.save(path)
    resumed = tinynet.load_model(path)
    assert resumed.optimizer.iterations == first.optimizer.iterations
    resumed.fit(x, y, epochs=2, batch_size=16, verbose=0)
    for a, b in zip(straight.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.mutants_of("tinynet.saving")
def test_resume_in_a_fresh_process_is_bit_identical(tmp_path):
    x, y = data()
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    straight = make_model()
    straight.fit(x, y, epochs=4, batch_size=16, verbose=0)
    first = make_model()
    first.fit(x, y, epochs=2, batch_size=16, verbose=0)
    first.save(tmp_path / "model.npz")
    script = textwrap.dedent(f"""
        import numpy as np, tinynet
        x = np.load({str(tmp_path / 'x.npy')!r}); y = np.load({str(tmp_path / 'y.npy')!r})
        model = tinynet.load_model({str(tmp_path / 'model.npz')!r})
        model.fit(x, y, epochs=2, batch_size=16, verbose=0)
        model.save_weights({str(tmp_path / 'after.npz')!r})
    """)
    subprocess.run([sys.executable, "-c", script], check=True)
    resumed = make_model()
    resumed.load_weights(tmp_path / "after.npz")
    for a, b in zip(straight.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_loaded_model_has_the_same_architecture_and_predictions(tmp_path):
    model = make_model()
    model.save(tmp_path / "m.npz")
    loaded = tinynet.load_model(tmp_path / "m.npz")
    assert loaded.get_config()["layers"] == model.get_config()["layers"]
    assert loaded.loss.from_logits and loaded.optimizer.amsgrad
    x, _ = data(10)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_load_model_rejects_bad_files(tmp_path):
    model = make_model()
    good = tmp_path / "good.npz"
    model.save(good)
    weights_only = tmp_path / "weights.npz"
    model.save_weights(weights_only)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:300])
    text = tmp_path / "text.npz"
    text.write_text("hello")
    bad_json = tmp_path / "bad_json.npz"
    np.savez(bad_json, **{"config.json": np.array("{not json")})
    folder = tmp_path / "folder.npz"
    folder.mkdir()
    npy = tmp_path / "array.npy"
    np.save(npy, np.zeros(3))
    cases = [(folder, "is a folder"), (npy, "not an .npz archive"), (weights_only, "config.json"),
             (truncated, "not a readable"), (text, "not an .npz archive"), (bad_json, "not a valid"),
             (tmp_path / "missing.npz", "no such file")]
    for path, match in cases:
        with pytest.raises(ValueError, match=match):
            tinynet.load_model(path)


@pytest.mark.parametrize("bit_generator", [np.random.PCG64, np.random.PCG64DXSM, np.random.MT19937,
                                           np.random.Philox, np.random.SFC64])
def test_every_numpy_bit_generator_saves_and_resumes(tmp_path, bit_generator):
    x, y = data()

    def model():
        # Dropout draws from the model's generator: the loaded model's layers must share the restored one
        m = Sequential([Dense(4, activation="relu", input_shape=(5,)), Dropout(0.3), Dense(3)],
                       seed=np.random.Generator(bit_generator(7)))
        m.compile(loss=SparseCategoricalCrossentropy(from_logits=True), optimizer=Adam())
        return m

    straight, first = model(), model()
    straight.fit(x, y, epochs=2, batch_size=16, verbose=0)
    first.fit(x, y, epochs=1, batch_size=16, verbose=0)
    first.save(tmp_path / "m.npz")
    resumed = tinynet.load_model(tmp_path / "m.npz")
    resumed.fit(x, y, epochs=1, batch_size=16, verbose=0)
    for a, b in zip(straight.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def _everything_model(optimizer_factory, loss, metrics, units):
    """Regularizers (kernel, bias, activity), Dropout, an adapted Normalization, any optimizer and schedule."""
    from tinynet import regularizers
    from tinynet.layers import Dropout, Normalization

    norm = Normalization(input_shape=(5,))
    norm.adapt(np.random.default_rng(9).standard_normal((40, 5)) * 3 + 1)
    model = Sequential([norm,
                        Dense(8, activation="relu", kernel_regularizer=regularizers.L2(0.01),
                              bias_regularizer="l1", activity_regularizer=regularizers.L1L2(1e-3, 1e-3)),
                        Dropout(0.3),
                        Dense(units, activation="sigmoid" if units == 1 else "softmax",
                              kernel_regularizer=regularizers.L1(1e-3))], seed=21)
    model.compile(loss=loss(), optimizer=optimizer_factory(), metrics=metrics, weighted_metrics=["accuracy"])
    return model


def _optimizers():
    from tinynet import optimizers as O
    from tinynet.optimizers import schedules as S
    return [
        ("rmsprop-centered-momentum", lambda: O.RMSprop(0.01, momentum=0.5, centered=True, clipnorm=1.0)),
        ("adagrad-clipvalue", lambda: O.Adagrad(0.05, clipvalue=0.1)),
        ("adamw-exponential", lambda: O.AdamW(S.ExponentialDecay(0.01, decay_steps=3, decay_rate=0.5,
                                                                  staircase=True), weight_decay=0.01)),
        ("sgd-piecewise-global-clip", lambda: O.SGD(S.PiecewiseConstantDecay([4, 9], [0.1, 0.05, 0.01]),
                                                    momentum=0.9, global_clipnorm=0.5, weight_decay=1e-3)),
        ("adam-amsgrad", lambda: O.Adam(amsgrad=True)),
    ]


@pytest.mark.parametrize("opt", _optimizers(), ids=lambda o: o[0])
@pytest.mark.parametrize("head", ["categorical", "binary"])
def test_everything_saves_loads_and_resumes_bit_for_bit(tmp_path, opt, head):
    from tinynet.losses import BinaryCrossentropy, CategoricalCrossentropy

    _, factory = opt
    x, labels = data(70)
    if head == "binary":
        y, loss, units = (labels == 1).astype(np.float32)[:, None], BinaryCrossentropy, 1
    else:
        y, loss, units = np.eye(3, dtype=np.float32)[labels], CategoricalCrossentropy, 3
    weights = np.random.default_rng(3).uniform(0.5, 2.0, len(x)).astype(np.float32)
    fit = dict(batch_size=16, verbose=0, sample_weight=weights)
    straight = _everything_model(factory, loss, ["accuracy"], units)
    full = straight.fit(x, y, epochs=4, **fit).history
    first = _everything_model(factory, loss, ["accuracy"], units)
    first.fit(x, y, epochs=2, **fit)
    first.save(tmp_path / "m.npz")
    resumed = tinynet.load_model(tmp_path / "m.npz")
    assert type(resumed.optimizer) is type(first.optimizer)
    assert resumed.optimizer.get_config() == first.optimizer.get_config()
    assert [type(layer).__name__ for layer in resumed.layers] == [type(layer).__name__ for layer in first.layers]
    rest = resumed.fit(x, y, epochs=2, **fit).history
    for a, b in zip(straight.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert full["loss"][2:] == rest["loss"] and full["accuracy"][2:] == rest["accuracy"]
    assert full["weighted_accuracy"][2:] == rest["weighted_accuracy"]
