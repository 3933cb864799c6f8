"""Keras 3 callbacks: each driven through the same scripted logs as the real Keras callback on a tiny Keras model.

tinynet's callbacks run on ``FakeModel`` (the model surface they use: ``stop_training``, ``get/set_weights``,
``save``/``save_weights``, ``optimizer.learning_rate``, ``metrics``); Keras's run on a ``keras.Sequential`` given
the same weights at each epoch. Decisions (stop epoch, best epoch, saved files, learning rates), CSV text,
printed lines and warnings are compared. Only the last test trains a real ``tinynet.Sequential``.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import warnings

import numpy as np
import pytest

import tinynet
import tinynet.callbacks as tc
from tests._tf_helpers import import_tf

SHAPES = [(2, 1), (1,)]                     # the weights of Dense(1) on 2 inputs: kernel, bias


# -- the two models ------------------------------------------------------------------------------------------
class FakeOptimizer:
    def __init__(self, learning_rate=0.5):
        self.learning_rate = learning_rate
        self.iterations = 0


class FakeModel:
    """What tinynet's callbacks may use of a model, recording what they did to it."""

    def __init__(self, learning_rate=0.5, metrics=(("accuracy", None),)):
        self.stop_training = False
        self.weights = [np.zeros(s, dtype=np.float32) for s in SHAPES]
        self.optimizer = FakeOptimizer(learning_rate)
        self.metrics = list(metrics)
        self.history = None
        self.saved = []

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w, dtype=np.float32) for w in weights]

    def save(self, path):
        self._write(path, "model")

    def save_weights(self, path):
        self._write(path, "weights")

    def _write(self, path, kind):
        with open(path, "wb") as fh:                    # exactly the path given, whatever its extension
            np.savez(fh, *self.weights)
        self.saved.append((kind, os.path.basename(path)))


@pytest.fixture(scope="module")
def keras():
    _, keras = import_tf()
    return keras


def keras_model(keras, learning_rate=0.5, metrics=None):
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate), loss="mse", metrics=metrics)
    if metrics:                                         # Keras finds a metric's direction once it is built
        model.evaluate(np.zeros((2, 2), np.float32), np.zeros((2, 1), np.float32), verbose=0)
    return model


def epoch_weights(epoch):
    """The weights "training" reaches at the end of ``epoch``: recognisable when restored."""
    return [np.full(s, epoch + 1, dtype=np.float32) for s in SHAPES]


def run_epochs(callback, model, script, batches=None):
    """Drive ``callback`` on ``model`` through one epoch per entry of ``script`` (the epoch's logs), as fit does;
    stop when the callback sets ``model.stop_training``. Returns the number of epochs run."""
    callback.set_model(model)
    model.stop_training = False
    callback.on_train_begin()
    epochs = 0
    for epoch, logs in enumerate(script):
        callback.on_epoch_begin(epoch)
        for batch, batch_logs in enumerate(batches[epoch] if batches else []):
            callback.on_train_batch_end(batch, dict(batch_logs))
        model.set_weights(epoch_weights(epoch))
        callback.on_epoch_end(epoch, dict(logs))
        epochs += 1
        if model.stop_training:
            break
    callback.on_train_end(dict(script[epochs - 1]) if epochs else None)
    return epochs


def both(keras, name, script, kmodel=None, fmodel=None, batches=None, **kwargs):
    """Run tinynet's and Keras's callback ``name`` with ``kwargs`` on the same script; return both, the epochs
    each ran and what each printed."""
    ours, theirs = getattr(tc, name)(**kwargs), getattr(keras.callbacks, name)(**kwargs)
    fmodel = fmodel or FakeModel()
    kmodel = kmodel or keras_model(keras)
    out = []
    for cb, model in ((ours, fmodel), (theirs, kmodel)):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            out.append(run_epochs(cb, model, script, batches))
        out.append(buf.getvalue())
    return ours, theirs, fmodel, kmodel, out


def val(values, key="val_loss", **extra):
    return [{"loss": 1.0 / (i + 1), key: v, **extra} for i, v in enumerate(values)]


# -- EarlyStopping -------------------------------------------------------------------------------------------
PLATEAU = [1.0, 0.8, 0.81, 0.79, 0.795, 0.9, 0.7, 0.71, 0.72, 0.73, 0.74, 0.75]
RISING = [0.5, 0.6, 0.55, 0.62, 0.61, 0.61, 0.63, 0.60, 0.59, 0.58]


@pytest.mark.parametrize("kwargs, values, key", [
    ({}, PLATEAU, "val_loss"),
    ({"patience": 2}, PLATEAU, "val_loss"),
    ({"patience": 2, "min_delta": 0.02}, PLATEAU, "val_loss"),
    ({"patience": 2, "min_delta": -0.02}, PLATEAU, "val_loss"),           # Keras takes |min_delta|
    ({"patience": 3, "baseline": 0.75}, PLATEAU, "val_loss"),
    ({"patience": 3, "baseline": 0.6}, PLATEAU, "val_loss"),              # never beats the baseline
    ({"patience": 2, "restore_best_weights": True}, PLATEAU, "val_loss"),
    ({"patience": 1, "restore_best_weights": True, "baseline": 0.5}, PLATEAU, "val_loss"),
    ({"patience": 100, "restore_best_weights": True}, PLATEAU, "val_loss"),   # ends without stopping
    ({"patience": 1, "start_from_epoch": 4, "restore_best_weights": True}, PLATEAU, "val_loss"),
    ({"patience": 1, "mode": "max", "monitor": "val_acc"}, RISING, "val_acc"),
    ({"patience": 2, "mode": "min", "monitor": "val_acc", "verbose": 1}, RISING, "val_acc"),
    ({"patience": 2, "verbose": 1, "restore_best_weights": True}, PLATEAU, "val_loss"),
])
def test_early_stopping_matches_keras(keras, kwargs, values, key):
    ours, theirs, fmodel, kmodel, (ran, printed, k_ran, k_printed) = both(
        keras, "EarlyStopping", val(values, key), **kwargs)
    assert ran == k_ran
    for attribute in ("stopped_epoch", "best", "wait", "best_epoch"):
        assert getattr(ours, attribute) == getattr(theirs, attribute), attribute
    assert fmodel.stop_training == kmodel.stop_training
    for w, k in zip(fmodel.get_weights(), kmodel.get_weights(), strict=True):   # restored (or last) weights
        np.testing.assert_array_equal(w, k)
    assert printed == k_printed
    if kwargs.get("verbose"):
        assert printed                                     # the comparison saw a message


def test_early_stopping_auto_mode_follows_the_metric_and_refuses_an_unknown_one(keras):
    # val_accuracy is maximised because the model's metric "accuracy" goes up (Keras reads it off the model)
    ours, theirs, *_ = both(keras, "EarlyStopping", val(RISING, "val_accuracy"),
                            kmodel=keras_model(keras, metrics=["accuracy"]), monitor="val_accuracy", patience=1)
    assert ours.monitor_op(2, 1) and bool(theirs.monitor_op(2, 1))
    assert ours.stopped_epoch == theirs.stopped_epoch > 0
    for name in ("val_loss", "loss"):                      # loss is minimised without asking the model
        cb = tc.EarlyStopping(monitor=name)
        run_epochs(cb, FakeModel(metrics=()), val([1.0, 0.5]))
        assert cb.monitor_op(1, 2)
    cb = tc.EarlyStopping(monitor="val_score")
    with pytest.raises(ValueError, match="monitor=val_score.*mode='max'"):
        run_epochs(cb, FakeModel(), val([1.0], "val_score"))
    with pytest.raises(ValueError, match="monitor=val_score.*mode='max'"):
        run_epochs(keras.callbacks.EarlyStopping(monitor="val_score"), keras_model(keras), val([1.0], "val_score"))


def test_early_stopping_warns_like_keras_when_the_monitor_is_missing(keras):
    script = [{"loss": 0.5, "accuracy": 0.25}] * 3
    messages = []
    for cb, model in ((tc.EarlyStopping(), FakeModel()), (keras.callbacks.EarlyStopping(), keras_model(keras))):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert run_epochs(cb, model, script) == 3 and not model.stop_training
        messages.append([str(w.message) for w in caught if "Early stopping" in str(w.message)])
    assert messages[0] == messages[1] and len(messages[0]) == 3
    assert "`val_loss` which is not available. Available metrics are: loss,accuracy" in messages[0][0]


def test_early_stopping_can_be_reused_across_fits():
    cb, model = tc.EarlyStopping(patience=1, restore_best_weights=True), FakeModel()
    run_epochs(cb, model, val([1.0, 2.0, 3.0]))
    first = (cb.stopped_epoch, cb.best, cb.best_epoch)
    run_epochs(cb, model, val([5.0, 4.0, 4.5, 4.6]))
    assert first == (1, 1.0, 0) and (cb.stopped_epoch, cb.best, cb.best_epoch) == (2, 4.0, 1)
    np.testing.assert_array_equal(model.weights[1], epoch_weights(1)[1])


# -- ModelCheckpoint -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [
    {},
    {"save_best_only": True},
    {"save_best_only": True, "initial_value_threshold": 0.805},
    {"save_best_only": True, "monitor": "val_acc", "mode": "max", "verbose": 1},
    {"save_best_only": True, "monitor": "loss", "verbose": 1},
    {"verbose": 1},
])
def test_model_checkpoint_saves_the_same_epochs_as_keras(keras, tmp_path, kwargs):
    script = val(PLATEAU[:6])
    for logs, acc in zip(script, RISING, strict=False):
        logs["val_acc"] = acc
    names = "w-{epoch:02d}-{val_loss:.2f}.weights.h5"        # Keras needs this suffix; tinynet takes any
    ours = tc.ModelCheckpoint(str(tmp_path / "o" / names), save_weights_only=True, **kwargs)
    theirs = keras.callbacks.ModelCheckpoint(str(tmp_path / "k" / names), save_weights_only=True, **kwargs)
    fmodel, printed = FakeModel(), []
    for cb, model in ((ours, fmodel), (theirs, keras_model(keras))):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            run_epochs(cb, model, script)
        printed.append(buf.getvalue())
    files = sorted(os.listdir(tmp_path / "o"))
    assert files == sorted(os.listdir(tmp_path / "k")) and files
    assert {kind for kind, _ in fmodel.saved} == {"weights"}            # save_weights, as .npz content
    assert ours.best == theirs.best
    assert printed[0].replace(str(tmp_path / "o"), "DIR") == printed[1].replace(str(tmp_path / "k"), "DIR")
    for name in files:                                  # each file holds the weights of the epoch it names
        assert np.load(tmp_path / "o" / name)["arr_1"][0] == int(name[2:4])


def test_model_checkpoint_batch_frequency_and_batch_field(keras, tmp_path):
    script = val([0.5, 0.4, 0.3])
    batches = [[{"loss": 0.9 - 0.1 * b} for b in range(4)] for _ in script]     # 4 batches per epoch
    (tmp_path / "k").mkdir()
    ours = tc.ModelCheckpoint(str(tmp_path / "o" / "m-{epoch}-{batch}.keras"), save_freq=3)
    theirs = keras.callbacks.ModelCheckpoint(str(tmp_path / "k" / "m-{epoch}-{batch}.keras"), save_freq=3)
    fmodel = FakeModel()
    run_epochs(ours, fmodel, script, batches)
    run_epochs(theirs, keras_model(keras), script, batches)
    assert [name for _, name in fmodel.saved] == ["m-1-3.keras", "m-2-2.keras", "m-3-1.keras", "m-3-4.keras"]
    assert sorted(os.listdir(tmp_path / "o")) == sorted(os.listdir(tmp_path / "k"))
    assert {kind for kind, _ in fmodel.saved} == {"model"}                    # model.save unless weights only


def test_model_checkpoint_unknown_field_is_keras_key_error_at_save_time(keras, tmp_path):
    messages = []
    for cb, model in ((tc.ModelCheckpoint(str(tmp_path / "m-{val_acc:.2f}.weights.h5"), save_weights_only=True),
                       FakeModel()),
                      (keras.callbacks.ModelCheckpoint(str(tmp_path / "m-{val_acc:.2f}.weights.h5"),
                                                       save_weights_only=True), keras_model(keras))):
        with pytest.raises(KeyError) as info:
            run_epochs(cb, model, val([0.5]))
        messages.append(info.value.args[0])
    assert messages[0] == messages[1] and messages[0].endswith("Reason: 'val_acc'")


def test_model_checkpoint_creates_a_missing_folder_only_when_saving(tmp_path):
    path = tmp_path / "a" / "b" / "ckpt-{epoch}.npz"
    cb = tc.ModelCheckpoint(path)                           # os.PathLike is accepted
    assert not (tmp_path / "a").exists()
    model = FakeModel()
    run_epochs(cb, model, val([0.3, 0.2]))
    assert sorted(os.listdir(tmp_path / "a" / "b")) == ["ckpt-1.npz", "ckpt-2.npz"]


# -- LearningRateScheduler and ReduceLROnPlateau -------------------------------------------------------------
def halve_on_odd(epoch, lr):
    return lr * 0.5 if epoch % 2 else lr


def step_decay(epoch):                                  # Keras's older one-argument form
    return 0.5 ** (epoch // 2 + 1)


@pytest.mark.parametrize("schedule", [halve_on_odd, step_decay])
def test_learning_rate_scheduler_matches_keras(keras, schedule):
    script = val([0.5] * 6)
    ours, theirs, fmodel, kmodel, (_, printed, _, k_printed) = both(
        keras, "LearningRateScheduler", script, schedule=schedule, verbose=1)
    assert fmodel.optimizer.learning_rate == float(kmodel.optimizer.learning_rate)
    assert printed == k_printed and printed.count("LearningRateScheduler setting") == 6
    logs = [{"loss": 1.0}, {"loss": 1.0}]
    for cb, epoch_logs in ((ours, logs[0]), (theirs, logs[1])):
        cb.on_epoch_begin(7)
        cb.on_epoch_end(7, epoch_logs)
    assert logs[0]["learning_rate"] == logs[1]["learning_rate"] == fmodel.optimizer.learning_rate


@pytest.mark.parametrize("kwargs, lr", [
    ({"patience": 2, "factor": 0.5, "min_lr": 0.125, "verbose": 1}, 1.0),     # exact in float32: equal
    ({"patience": 1, "factor": 0.5, "cooldown": 2, "verbose": 1}, 1.0),
    ({"patience": 1, "factor": 0.5, "min_delta": 0.05, "mode": "max", "monitor": "val_acc"}, 1.0),
    ({"patience": 1, "factor": 0.1, "min_lr": 1e-4}, 0.01),                   # float32 rounding in Keras
])
def test_reduce_lr_on_plateau_matches_keras(keras, kwargs, lr):
    values = PLATEAU if kwargs.get("monitor") != "val_acc" else RISING
    script = val(values, kwargs.get("monitor", "val_loss"))
    fmodel, kmodel = FakeModel(learning_rate=lr), keras_model(keras, learning_rate=lr)
    ours, theirs = tc.ReduceLROnPlateau(**kwargs), keras.callbacks.ReduceLROnPlateau(**kwargs)
    rates, printed = [[], []], []
    for i, (cb, model) in enumerate(((ours, fmodel), (theirs, kmodel))):
        cb.set_model(model)
        cb.on_train_begin()
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            for epoch, logs in enumerate(script):
                logs = dict(logs)
                cb.on_epoch_end(epoch, logs)
                rates[i].append((logs["learning_rate"], cb.wait, cb.cooldown_counter, cb.best))
        rates[i].append((float(model.optimizer.learning_rate), 0, 0, 0))
        printed.append(buf.getvalue())
    assert len(rates[0]) == len(rates[1])
    for (a, *state_a), (b, *state_b) in zip(*rates, strict=True):
        assert a == pytest.approx(b, rel=1e-6) and state_a == state_b
    assert len({r[0] for r in rates[0]}) > 1                                   # the rate did change
    if kwargs.get("verbose"):
        assert printed[0] == printed[1] and "ReduceLROnPlateau reducing learning rate" in printed[0]


class Schedule:
    """A learning-rate schedule: ``schedule(step) -> float``, as tinynet.schedules and Keras's."""

    def __call__(self, step):
        return 0.1 / (1 + step)


class ScheduledOptimizer:
    """tinynet's optimizer surface with a schedule: ``learning_rate`` reads its value, assigning raises."""

    def __init__(self):
        self.learning_rate_schedule, self.iterations = Schedule(), 4

    @property
    def learning_rate(self):
        return self.learning_rate_schedule(self.iterations)

    @learning_rate.setter
    def learning_rate(self, value):
        raise TypeError("learning_rate: this optimizer was created with a LearningRateSchedule")


@pytest.mark.parametrize("optimizer", [ScheduledOptimizer(), FakeOptimizer(Schedule())],
                         ids=["schedule-property", "schedule-object"])
def test_a_scheduled_learning_rate_is_reported_but_not_set(optimizer):
    optimizer.iterations = 4
    model = FakeModel()
    model.optimizer = optimizer
    logs = {"val_loss": 1.0}
    cb = tc.ReduceLROnPlateau(patience=0)
    cb.set_model(model)
    cb.on_train_begin()
    cb.on_epoch_end(0, logs)
    assert logs["learning_rate"] == pytest.approx(0.02)                     # the schedule at iterations 4
    with pytest.raises(TypeError, match="ReduceLROnPlateau: the optimizer's learning rate is the schedule"):
        cb.on_epoch_end(1, {"val_loss": 2.0})
    scheduler = tc.LearningRateScheduler(halve_on_odd)
    scheduler.set_model(model)
    with pytest.raises(TypeError, match="LearningRateScheduler: the optimizer's learning rate is the schedule"):
        scheduler.on_epoch_begin(0)


def test_learning_rate_scheduler_refuses_what_keras_refuses_and_bad_rates():
    model = FakeModel()
    for schedule, error, match in [(lambda epoch, lr: 1, ValueError, "should be a float. Got: 1"),
                                   (lambda epoch, lr: -0.1, ValueError, "schedule: expected a finite"),
                                   (lambda epoch, lr: float("nan"), ValueError, "schedule: expected a finite")]:
        cb = tc.LearningRateScheduler(schedule)
        cb.set_model(model)
        with pytest.raises(error, match=match):
            cb.on_epoch_begin(0)
        assert model.optimizer.learning_rate == 0.5                            # unchanged


# -- CSVLogger -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, with_val", [({}, True), ({}, False), ({"separator": ";"}, True)])
def test_csv_logger_writes_keras_text(keras, tmp_path, kwargs, with_val):
    script = [{"loss": 1 / 3 + i, "accuracy": 0.1 * i, **({"val_loss": 0.7 / (i + 1)} if with_val else {})}
              for i in range(3)]
    texts = []
    for name, cls, model in (("ours", tc.CSVLogger, FakeModel()), ("keras", keras.callbacks.CSVLogger,
                                                                    keras_model(keras))):
        path = tmp_path / f"{name}.csv"
        run_epochs(cls(str(path), **kwargs), model, script)
        texts.append(path.read_bytes())
    assert texts[0] == texts[1]
    assert texts[0].startswith(b"epoch") and texts[0].count(b"\r\n") == 4
    if not with_val:
        assert b"val_accuracy" in texts[0] and b"NA" in texts[0]                # Keras's empty val_ columns


def test_csv_logger_append_and_learning_rate_column_like_keras(keras, tmp_path):
    script = val(PLATEAU[:5])
    texts = []
    for name, mod, model in (("ours", tc, FakeModel()), ("keras", keras.callbacks, keras_model(keras))):
        path = str(tmp_path / f"{name}.csv")
        for _ in range(2):                                  # a second fit appends rows, not a second header
            callbacks = mod.CallbackList([mod.ReduceLROnPlateau(patience=1, factor=0.5),
                                          mod.CSVLogger(path, append=True)], model=model)
            run_epochs(callbacks, model, script)
        texts.append(open(path, "rb").read())
    assert texts[0] == texts[1] and texts[0].count(b"epoch") == 1 and b"learning_rate" in texts[0]


def test_csv_logger_keeps_completed_epochs_after_a_crash(tmp_path):
    path = tmp_path / "log.csv"
    cb = tc.CSVLogger(path)
    cb.set_model(FakeModel())
    cb.on_train_begin()
    for epoch, logs in enumerate(val([0.5, 0.4])):
        cb.on_epoch_end(epoch, logs)
    lines = path.read_text(encoding="utf-8").splitlines()        # read while the file is still open
    assert len(lines) == 3 and lines[2].startswith("1,")
    cb.on_train_end()


# -- TerminateOnNaN ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_terminate_on_nan_matches_keras(keras, bad):
    batches = [[{"loss": 0.5}, {"loss": 0.4}, {"loss": bad}, {"loss": 0.3}]] * 2
    ours, theirs, fmodel, kmodel, (_, printed, _, k_printed) = both(
        keras, "TerminateOnNaN", val([0.5, 0.4]), batches=batches)
    assert fmodel.stop_training and kmodel.stop_training
    assert printed == k_printed and "Batch 2: Invalid loss, terminating training" in printed
    messages = []
    for cb, model in ((tc.TerminateOnNaN(raise_error=True), FakeModel()),
                      (keras.callbacks.TerminateOnNaN(raise_error=True), kmodel)):
        cb.set_model(model)
        with pytest.raises(RuntimeError) as info:
            cb.on_train_batch_end(5, {"loss": bad})
        messages.append(str(info.value))
    assert messages[0] == messages[1] and "at batch 5" in messages[0]


# -- ProgbarLogger and Progbar -------------------------------------------------------------------------------
class Clock:
    """A ``time`` stand-in for both progress bars: each call moves on by the next of ``steps`` seconds."""

    def __init__(self, steps):
        self.now, self.steps, self.calls = 1000.0, list(steps), 0

    def time(self):
        self.now += self.steps[self.calls % len(self.steps)]
        self.calls += 1
        return self.now


def with_clock(monkeypatch, module, steps):
    monkeypatch.setattr(module, "time", Clock(steps))


def progbar_outputs(keras, monkeypatch, verbose, epochs, steps, clock, extras=True, declared_steps=True):
    import keras.src.utils.progbar as keras_progbar

    outputs = []
    for module, cb in ((tc, tc.ProgbarLogger()), (keras_progbar, keras.callbacks.ProgbarLogger())):
        with_clock(monkeypatch, module, clock)
        cb.set_params({"verbose": verbose, "epochs": epochs, "steps": steps if declared_steps else None})
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            cb.on_train_begin()
            for epoch in range(epochs):
                cb.on_epoch_begin(epoch)
                for step in range(steps):
                    logs = {"accuracy": 0.5 + step / 50, "loss": 0.75 / (step + 1) - 0.25}
                    if extras and module is tc:                 # tinynet's fit adds these; never shown
                        logs.update(batch_loss=0.1, weights_before=np.zeros(3))
                    cb.on_train_batch_end(step, tc.pythonify_logs(logs))
                cb.on_epoch_end(epoch, {"accuracy": 0.61, "loss": 4e-4 * (epoch + 1), "val_accuracy": -0.5,
                                        "val_loss": 0.2512345, "learning_rate": 1e-3})
            cb.on_train_end()
        outputs.append(buf.getvalue())
    return outputs


@pytest.mark.parametrize("verbose, epochs, steps, clock", [
    (1, 3, 12, [0.013]),
    (1, 1, 7, [0.0004, 0.02]),                     # one epoch: no "Epoch 1/1" line; us and ms per step
    (1, 2, 150, [0.001]),                          # throttled redraws (interval 0.05 s), 3-digit counts
    (1, 2, 5, [7.0, 95.0]),                        # seconds per step; ETA as m:ss
    (1, 1, 4, [2000.0]),                           # ETA as h:mm:ss
    (2, 3, 12, [0.013]),
    (2, 2, 5, [7.0]),
    ("auto", 2, 3, [0.01]),
])
def test_progbar_logger_prints_what_keras_prints(keras, monkeypatch, verbose, epochs, steps, clock):
    ours, theirs = progbar_outputs(keras, monkeypatch, verbose, epochs, steps, clock)
    assert ours == theirs
    lines = ours.split("\n")
    assert ("Epoch 2/" in ours) == (epochs > 1)
    assert ("\r" in ours) == (verbose != 2)                 # redrawn in place (on POSIX, as Keras)
    assert "batch_loss" not in ours and "weights_before" not in ours
    assert "val_loss: 0.2512" in ours and "learning_rate: 1.0000e-03" in ours
    if verbose == 2:
        assert lines[1].startswith(f"{steps}/{steps} - ")


def test_progbar_logger_with_unknown_steps_and_verbose_zero(keras, monkeypatch):
    ours, theirs = progbar_outputs(keras, monkeypatch, 1, 2, 4, [0.01], declared_steps=False)
    assert ours == theirs and "/Unknown" in ours
    ours, theirs = progbar_outputs(keras, monkeypatch, 0, 2, 4, [0.01])
    assert ours == theirs == ""


def test_progbar_writes_to_its_stream_and_falls_back_to_ascii(monkeypatch):
    with_clock(monkeypatch, tc, [0.01])
    stream, stdout = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout):
        cb = tc.ProgbarLogger(stream=stream)
        cb.set_params({"verbose": 2, "epochs": 2, "steps": 3})
        run_epochs(cb, FakeModel(), val([0.5, 0.4]))
    assert stdout.getvalue() == "" and stream.getvalue().count("3/3 - ") == 2
    ascii_stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    bar = tc.Progbar(4, verbose=1, stream=ascii_stream)
    bar.update(4, [("loss", 0.5)])
    ascii_stream.seek(0)
    text = ascii_stream.read()
    assert "====================" in text and "loss: 0.5000" in text


def test_progbar_matches_keras_progbar_directly(keras, monkeypatch):
    import keras.src.utils.progbar as keras_progbar

    outputs = []
    for module, make in ((tc, tc.Progbar), (keras_progbar, keras.utils.Progbar)):
        with_clock(monkeypatch, module, [0.03, 0.2])
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            kwargs = {} if module is tc else {"stateless_metrics": set()}
            bar = make(1000, width=30, **kwargs)
            for step in (1, 2, 10, 500, 999):
                bar.update(step, [("loss", 10.0 ** -step)])
            bar.update(1000, [("loss", -0.5), ("mae", 2.0)])
        outputs.append(buf.getvalue())
    assert outputs[0] == outputs[1]


# -- CallbackList --------------------------------------------------------------------------------------------
class Recorder(tc.Callback):
    def __init__(self):
        self.calls = []

    def on_train_batch_begin(self, batch, logs=None):
        self.calls.append(("batch_begin", batch, logs))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, logs))
        logs["seen_by"] = float(len(self.calls))       # a key for the callbacks after this one


def test_callback_list_shares_plain_sorted_logs_and_adds_history_and_progbar():
    model, first, second = FakeModel(), Recorder(), Recorder()
    callbacks = tc.CallbackList([first, second], model, add_history=True, add_progbar=True,
                                verbose=0, epochs=2, steps=3)
    assert isinstance(callbacks.history, tc.History) and isinstance(callbacks.progbar, tc.ProgbarLogger)
    assert callbacks.callbacks[-2:] == [callbacks.history, callbacks.progbar]
    assert model.history is callbacks.history and first.model is model
    assert first.params == callbacks.history.params == {"verbose": 0, "epochs": 2, "steps": 3}
    callbacks.on_train_begin()
    callbacks.on_epoch_begin(0)
    callbacks.on_train_batch_begin(0)
    logs = {"val_loss": np.float32(0.5), "loss": np.float64(0.25), "accuracy": 1}
    callbacks.on_epoch_end(0, logs)
    callbacks.on_train_end(logs)
    seen = first.calls[-1][2]
    assert list(seen) == ["accuracy", "loss", "val_loss", "seen_by"] and type(seen["val_loss"]) is float
    assert second.calls[-1][2] is seen                    # one dict per call, shared
    assert "seen_by" not in logs                          # never the caller's
    assert first.calls[0] == ("batch_begin", 0, {})
    assert callbacks.history.history == {"accuracy": [1.0], "loss": [0.25], "val_loss": [0.5], "seen_by": [2.0]}
    assert callbacks.history.epoch == [0]


def test_callback_list_keeps_given_history_and_progbar_and_refuses_non_callbacks():
    history, progbar = tc.History(), tc.ProgbarLogger()
    callbacks = tc.CallbackList([history, progbar], add_history=True, add_progbar=True)
    assert callbacks.callbacks == [history, progbar]
    with pytest.raises(TypeError, match="callbacks: expected a list of tinynet.callbacks.Callback"):
        tc.CallbackList([lambda: None])


def test_base_callback_batch_hooks_fall_back_to_keras_aliases():
    class Old(tc.Callback):
        def __init__(self):
            self.seen = []

        def on_batch_begin(self, batch, logs=None):
            self.seen.append(("begin", batch))

        def on_batch_end(self, batch, logs=None):
            self.seen.append(("end", batch))

    cb = Old()
    tc.CallbackList([cb]).on_train_batch_begin(3)
    cb.on_train_batch_end(3, {})
    assert cb.seen == [("begin", 3), ("end", 3)]


# -- bad arguments -------------------------------------------------------------------------------------------
BAD = [
    (lambda p: tc.EarlyStopping(patience=-1), ValueError, "patience: expected an integer >= 0, received -1"),
    (lambda p: tc.EarlyStopping(patience=1.5), TypeError, "patience"),
    (lambda p: tc.EarlyStopping(mode="best"), ValueError, "mode: expected one of"),
    (lambda p: tc.EarlyStopping(monitor=None), TypeError, "monitor"),
    (lambda p: tc.EarlyStopping(monitor=""), ValueError, "monitor"),
    (lambda p: tc.CSVLogger(""), ValueError, "filename"),
    (lambda p: tc.EarlyStopping(min_delta="0.1"), TypeError, "min_delta"),
    (lambda p: tc.EarlyStopping(baseline=float("nan")), ValueError, "baseline"),
    (lambda p: tc.EarlyStopping(restore_best_weights=1), TypeError, "restore_best_weights"),
    (lambda p: tc.EarlyStopping(start_from_epoch=-2), ValueError, "start_from_epoch"),
    (lambda p: tc.EarlyStopping(verbose=-1), ValueError, "verbose"),
    (lambda p: tc.ReduceLROnPlateau(factor=1.0), ValueError, "factor: .*does not support a factor >= 1.0"),
    (lambda p: tc.ReduceLROnPlateau(factor=-0.5), ValueError, "factor: expected a number in \\[0.0, 1.0\\)"),
    (lambda p: tc.ReduceLROnPlateau(patience=-1), ValueError, "patience"),
    (lambda p: tc.ReduceLROnPlateau(cooldown=-1), ValueError, "cooldown"),
    (lambda p: tc.ReduceLROnPlateau(min_lr=-1e-3), ValueError, "min_lr"),
    (lambda p: tc.ReduceLROnPlateau(mode="up"), ValueError, "mode"),
    (lambda p: tc.LearningRateScheduler(0.1), TypeError, "schedule: expected a function"),
    (lambda p: tc.LearningRateScheduler(lambda: 0.1), TypeError, "schedule: .*no positional argument"),
    (lambda p: tc.ModelCheckpoint(p / "file.txt" / "m.npz"), ValueError, "filepath: .*is not a folder"),
    (lambda p: tc.ModelCheckpoint(p / "file.txt" / "{epoch}" / "m.npz"), ValueError, "filepath"),
    (lambda p: tc.ModelCheckpoint(p), ValueError, "filepath: expected a file path.*which is a folder"),
    (lambda p: tc.ModelCheckpoint(str(p) + "/"), ValueError, "filepath: expected a file path"),
    (lambda p: tc.ModelCheckpoint(p / "m-{}.npz"), ValueError, "filepath: .*positional field"),
    (lambda p: tc.ModelCheckpoint(p / "m-{epoch.npz"), ValueError, "filepath: expected a path with"),
    (lambda p: tc.ModelCheckpoint(b"m.npz"), TypeError, "filepath"),
    (lambda p: tc.ModelCheckpoint(p / "m.npz", save_freq="batch"), ValueError, "save_freq: expected 'epoch'"),
    (lambda p: tc.ModelCheckpoint(p / "m.npz", save_freq=0), ValueError, "save_freq"),
    (lambda p: tc.ModelCheckpoint(p / "m.npz", save_best_only="yes"), TypeError, "save_best_only"),
    (lambda p: tc.ModelCheckpoint(p / "m.npz", initial_value_threshold="1"), TypeError, "initial_value"),
    (lambda p: tc.CSVLogger(p / "missing" / "log.csv"), ValueError, "filename: .*does not exist"),
    (lambda p: tc.CSVLogger(p), ValueError, "filename: expected a file path"),
    (lambda p: tc.CSVLogger(p / "log.csv", separator=",,"), TypeError, "separator"),
    (lambda p: tc.CSVLogger(p / "log.csv", separator="\n"), ValueError, "separator"),
    (lambda p: tc.CSVLogger(p / "log.csv", append="no"), TypeError, "append"),
    (lambda p: tc.TerminateOnNaN(raise_error=None), TypeError, "raise_error"),
    (lambda p: tc.ProgbarLogger(stream="out.txt"), TypeError, "stream"),
    (lambda p: tc.Progbar(-1), ValueError, "target"),
    (lambda p: tc.Progbar(10, verbose=3), ValueError, "verbose"),
    (lambda p: tc.Progbar(10, width=0), ValueError, "width"),
]


@pytest.mark.parametrize("make, error, match", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_arguments_are_named_errors_and_create_nothing(tmp_path, make, error, match):
    (tmp_path / "file.txt").write_text("not a folder")
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(error, match=match):
        make(tmp_path)
    assert sorted(os.listdir(tmp_path)) == before


def test_model_checkpoint_refuses_a_folder_it_cannot_write(tmp_path, monkeypatch):
    # As root every folder is writable, so the permission answer is simulated.
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(ValueError, match="filepath: expected a path in a writable folder.*is not writable"):
        tc.ModelCheckpoint(tmp_path / "new" / "m.npz")
    with pytest.raises(ValueError, match="filename: expected a path in a writable folder"):
        tc.CSVLogger(tmp_path / "log.csv")
    assert os.listdir(tmp_path) == []


# -- end to end: a real tinynet.Sequential, through today's fit(callbacks=[...]) -----------------------------
def test_end_to_end_with_a_real_sequential(tmp_path):
    """Uses only what fit does today (no set_params, so no ProgbarLogger): the callbacks steer real training."""
    from tinynet.layers import Dense
    from tinynet.losses import SparseCategoricalCrossentropy

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = tinynet.Sequential([Dense(8, activation="relu", input_shape=(4,)), Dense(2)], seed=1)
    model.compile(optimizer="sgd", loss=SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    stopper = tc.EarlyStopping(monitor="loss", min_delta=10.0, patience=2, restore_best_weights=True)
    checkpoint = tc.ModelCheckpoint(tmp_path / "ckpt" / "e{epoch:02d}-{loss:.3f}.npz", monitor="loss",
                                    save_best_only=True)
    csv_logger = tc.CSVLogger(tmp_path / "log.csv")
    schedule = tc.LearningRateScheduler(lambda epoch, lr: 0.05 * 0.5 ** epoch)
    history = model.fit(x, y, batch_size=16, epochs=10, verbose=0,
                        callbacks=[schedule, stopper, checkpoint, csv_logger, tc.TerminateOnNaN()])
    assert history.epoch == [0, 1, 2] and stopper.stopped_epoch == 2 and stopper.best_epoch == 0
    assert model.optimizer.learning_rate == pytest.approx(0.0125)
    np.testing.assert_allclose(history.history["learning_rate"], [0.05, 0.025, 0.0125])   # as Keras records it
    losses = history.history["loss"]
    saved = sorted(os.listdir(tmp_path / "ckpt"))          # one file per epoch that lowered the loss
    assert saved == [f"e{e + 1:02d}-{losses[e]:.3f}.npz" for e in range(3) if losses[e] < min(losses[:e], default=9)]
    restored = tinynet.load_model(tmp_path / "ckpt" / saved[0])
    for w, r in zip(model.get_weights(), restored.get_weights(), strict=True):  # best epoch's weights, both
        np.testing.assert_array_equal(w, r)
    rows = (tmp_path / "log.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0].split(",")[:3] == ["epoch", "accuracy", "learning_rate"] and len(rows) == 4
    assert math.isclose(float(rows[3].split(",")[2]), 0.0125)


def test_fit_calls_batch_hooks_only_when_a_callback_overrides_them(monkeypatch):
    from tinynet.layers import Dense
    from tinynet.losses import SparseCategoricalCrossentropy

    calls = []
    original = tc.CallbackList.on_train_batch_end
    monkeypatch.setattr(tc.CallbackList, "on_train_batch_end",
                        lambda self, batch, logs=None: (calls.append(batch), original(self, batch, logs)))

    class OldStyle(tc.Callback):                       # Keras 2's name for the hook still counts
        def __init__(self):
            self.seen = []

        def on_batch_end(self, batch, logs=None):
            self.seen.append(round(logs["loss"], 6))

    x, y = np.ones((40, 3), np.float32), np.arange(40) % 2
    model = tinynet.Sequential([Dense(2, input_shape=(3,))], seed=0)
    model.compile(optimizer="sgd", loss=SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=10, verbose=0)
    assert calls == []                                 # only History: no per-batch work
    old = OldStyle()
    model.fit(x, y, batch_size=10, verbose=0, callbacks=[old])
    assert calls == [0, 1, 2, 3] and len(old.seen) == 4
