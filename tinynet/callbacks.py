"""Training records and hooks: ``History``, ``Callback`` and Keras 3's callbacks.

``History`` is what ``fit`` returns. ``Callback`` is the base class for objects passed as
``fit(..., callbacks=[...])``: ``fit`` calls their hooks at the start and end of training, of each epoch and
around each optimizer step. After a step, a callback sees the weights through public read-only views:
``model.flat_weights`` (after the step), ``logs["weights_before"]`` (before it) and ``model.flat_gradients`` (the
gradient the step used).

The callbacks follow Keras 3.15 (``keras/src/callbacks/*.py``, ``keras/src/utils/progbar.py``): the same names,
defaults, argument order, decisions and printed lines. Where tinynet differs (arguments refused instead of warned
about, ``.npz`` checkpoints under any file name) the docstring says so; docs/keras-semantics.md lists it all.
"""

from __future__ import annotations

import collections.abc
import csv
import inspect as pyinspect
import math
import numbers
import operator
import os
import re
import string
import sys
import time
import warnings

import numpy as np

from ._validation import describe, one_of, positive_int, real_number

# Keys ``fit`` adds to the batch logs beyond Keras's running means; the progress bar leaves them out.
FIT_BATCH_EXTRAS = ("batch_loss", "weights_before")

# Which way a metric improves, for ``mode="auto"`` (Keras reads a metric object's ``_direction``).
METRIC_DIRECTIONS = {
    **dict.fromkeys(("accuracy", "acc", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
                     "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "auc", "precision",
                     "recall", "f1_score", "fbeta_score", "r2_score"), "up"),
    **dict.fromkeys(("mean_squared_error", "mse", "mean_absolute_error", "mae", "mean_absolute_percentage_error",
                     "mape", "mean_squared_logarithmic_error", "msle", "root_mean_squared_error",
                     "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
                     "hinge", "squared_hinge", "categorical_hinge", "kl_divergence", "poisson"), "down"),
}

BAR = "\u2501"          # "━", Keras 3's bar; "=" (Keras 2's) where the stream cannot encode it


# -- small shared pieces -------------------------------------------------------------------------------------
def pythonify_logs(logs) -> dict:
    """Keras's ``pythonify_logs``: keys sorted, nested dicts flattened, numbers (and 0-d arrays) as Python floats.

    Anything else, such as the array ``logs["weights_before"]``, is passed on as it is.
    """
    result = {}
    for key, value in sorted((logs or {}).items()):
        if isinstance(value, dict):
            result.update(pythonify_logs(value))
        elif isinstance(value, numbers.Real) or (isinstance(value, np.ndarray) and value.ndim == 0
                                                 and value.dtype.kind in "biuf"):
            result[key] = float(value)
        else:
            result[key] = value
    return result


def dynamic_display(stream) -> bool:
    """Keras's rule for redrawing the progress bar in place (``\\b`` and ``\\r``) rather than on a new line.

    True when ``stream`` is a terminal, in Jupyter (``ipykernel``), under PyCharm, or on any POSIX system: Keras
    tests ``"posix" in sys.modules``, which holds on Linux and macOS even when the output goes to a file.
    """
    isatty = getattr(stream, "isatty", None)
    return bool((isatty is not None and isatty()) or "ipykernel" in sys.modules or "posix" in sys.modules
                or "PYCHARM_HOSTED" in os.environ)


def _write(stream, message: str) -> None:
    """Write and flush to ``stream`` (``None``: the current ``sys.stdout``), as Keras's ``print_msg``; a stream
    that cannot encode ``━`` gets ``=`` instead."""
    out = sys.stdout if stream is None else stream
    try:
        out.write(message)
    except UnicodeEncodeError:
        encoding = getattr(out, "encoding", None) or "utf-8"
        out.write(message.replace(BAR, "=").encode(encoding, errors="ignore").decode(encoding))
    out.flush()


def _say(message: str) -> None:
    """A callback's ``verbose`` message, on its own line of ``sys.stdout``."""
    _write(None, message + "\n")


def _check_stream(stream) -> None:
    if stream is not None and not callable(getattr(stream, "write", None)):
        raise TypeError(f"stream: expected None or a text stream with write(), received {describe(stream)}")


def _count(value, name: str) -> int:
    """An integer >= 0 (``bool`` refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an integer >= 0, received {describe(value)}")
    if value < 0:
        raise ValueError(f"{name}: expected an integer >= 0, received {value}")
    return int(value)


def _flag(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, received {describe(value)}")
    return bool(value)


def _name(value, name: str) -> str:
    if not isinstance(value, str) or not value:
        error = TypeError if not isinstance(value, str) else ValueError
        raise error(f"{name}: expected the name of a logged quantity such as 'val_loss', received {describe(value)}")
    return value


def _optional_number(value, name: str) -> float | None:
    return None if value is None else real_number(value, name)


def _path(value, name: str) -> str:
    """``str`` or ``os.PathLike`` to ``str`` (Keras's ``path_to_string``); bytes are refused."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value:
        error = TypeError if not isinstance(value, str) else ValueError
        raise error(f"{name}: expected a file path (str or os.PathLike), received {describe(value)}")
    return value


def _check_folder(path: str, name: str, *, create: bool) -> None:
    """Fail now, naming ``name``, if the file ``path`` could not be written later: it is a folder, or its folder
    (created at save time when ``create``, as Keras's ``ModelCheckpoint`` does) cannot be made or written."""
    fixed = path.split("{", 1)[0]                   # the part no ``{epoch}``-style field can change
    if fixed == path and (os.path.isdir(path) or path.endswith(("/", os.sep))):
        raise ValueError(f"{name}: expected a file path, received {path!r}, which is a folder")
    folder = os.path.abspath(os.path.dirname(fixed) or ".")
    probe = folder
    while create and not os.path.exists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)              # the nearest existing folder, where creation would start
    if not os.path.isdir(probe):
        what = "does not exist" if not os.path.exists(probe) else "is not a folder"
        raise ValueError(f"{name}: expected a path in a folder that {'can be created' if create else 'exists'}, "
                         f"received {path!r}: {probe!r} {what}")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ValueError(f"{name}: expected a path in a writable folder, received {path!r}: {probe!r} is not "
                         "writable")


def _learning_rate(optimizer) -> float:
    """The optimizer's learning rate now: the number, or a schedule's value at ``optimizer.iterations`` (Keras's
    ``optimizer.learning_rate`` evaluates a schedule the same way)."""
    if not hasattr(optimizer, "learning_rate"):
        raise ValueError('Optimizer must have a "learning_rate" attribute.')
    lr = optimizer.learning_rate
    if isinstance(lr, numbers.Real) and not isinstance(lr, bool):
        return float(lr)
    return float(lr(optimizer.iterations))


def _require_constant_learning_rate(optimizer, who: str) -> None:
    """A schedule cannot be overridden by a callback (Keras raises ``TypeError`` too).

    A scheduled optimizer shows its schedule as ``learning_rate_schedule`` (tinynet's optimizers; its
    ``learning_rate`` then reads the schedule's value) or as a ``learning_rate`` that is not a number.
    """
    if not hasattr(optimizer, "learning_rate"):
        raise ValueError('Optimizer must have a "learning_rate" attribute.')
    schedule = getattr(optimizer, "learning_rate_schedule", None)
    lr = optimizer.learning_rate
    if schedule is not None or not isinstance(lr, numbers.Real) or isinstance(lr, bool):
        raise TypeError(f"{who}: the optimizer's learning rate is the schedule {describe(schedule or lr)}, which a "
                        "callback cannot set (as in Keras); give the optimizer a float learning_rate to use this "
                        "callback")


# -- the base classes ----------------------------------------------------------------------------------------
class Callback:
    """Base class for ``fit`` hooks (Keras's names); every hook does nothing unless overridden.

    ``logs`` after a step: the epoch's running means so far (``loss``, metrics, as Keras), ``batch_loss`` (this
    batch's loss) and ``weights_before`` (a read-only view of the flat weights before the step); at an epoch's
    end: the epoch's ``loss``, metrics and ``val_*``; at the end of training: the last epoch's logs; ``None``
    elsewhere. Setting ``model.stop_training = True`` ends ``fit`` after the current batch. ``params`` is
    ``{"verbose", "epochs", "steps"}`` once ``fit`` calls ``set_params``. ``handles_nan = True`` (as
    ``TerminateOnNaN``) asks ``fit`` to report a batch whose loss is not finite to the callbacks (``loss`` NaN) and
    stop, instead of raising ``DivergenceError``.
    """

    model = None
    params = None
    handles_nan = False

    def set_params(self, params) -> None:
        self.params = params

    def set_model(self, model) -> None:
        self.model = model

    def on_train_begin(self, logs=None) -> None: ...

    def on_epoch_begin(self, epoch: int, logs=None) -> None: ...

    def on_train_batch_begin(self, batch: int, logs=None) -> None:
        self.on_batch_begin(batch, logs)            # Keras's backwards-compatible alias

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        self.on_batch_end(batch, logs)

    def on_batch_begin(self, batch: int, logs=None) -> None: ...

    def on_batch_end(self, batch: int, logs=None) -> None: ...

    def on_epoch_end(self, epoch: int, logs=None) -> None: ...

    def on_train_end(self, logs=None) -> None: ...


class History(Callback):
    """What ``fit`` returns, as in Keras; also a callback that records each epoch's logs.

    Attributes
    ----------
    history : dict[str, list[float]]
        One Python float per epoch for ``loss``, each metric, then ``val_loss`` and ``val_<metric>``.
    epoch : list[int]
        ``[0, 1, ..., epochs_run - 1]``.
    params : dict
        ``{"verbose", "epochs", "steps"}`` (steps per epoch).
    model : the model that was trained.
    """

    def __init__(self, params: dict | None = None, model=None):
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.params = dict(params or {})
        self.model = model

    def set_params(self, params) -> None:
        self.params = dict(params or {})

    def record(self, epoch: int, logs: dict[str, float]) -> None:
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

    def on_train_begin(self, logs=None) -> None:
        self.epoch = []

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        self.record(epoch, logs or {})
        if self.model is not None:
            self.model.history = self

    def __repr__(self) -> str:
        return f"<History epochs={len(self.epoch)} keys={list(self.history)}>"


class CallbackList(Callback):
    """The callbacks of one ``fit`` call: each hook calls that hook of every callback, in order.

    As Keras's: the ``logs`` of each call are first made plain (:func:`pythonify_logs`: sorted keys, Python
    floats) into one new dict that every callback of that call shares, so a key one callback adds (such as
    ``learning_rate``) is seen by those after it, never by the caller. ``add_history`` appends a
    :class:`History` and ``add_progbar`` a :class:`ProgbarLogger` unless ``callbacks`` has one; ``params``
    (``verbose=``, ``epochs=``, ``steps=``) go to every callback's ``set_params``.
    """

    def __init__(self, callbacks=None, model=None, *, add_history=False, add_progbar=False, **params):
        callbacks = [] if callbacks is None else callbacks
        if not isinstance(callbacks, (list, tuple)) or not all(isinstance(c, Callback) for c in callbacks):
            raise TypeError(f"callbacks: expected a list of tinynet.callbacks.Callback, received {describe(callbacks)}")
        self.callbacks = list(callbacks)
        self.history = next((c for c in self.callbacks if isinstance(c, History)), None)
        self.progbar = next((c for c in self.callbacks if isinstance(c, ProgbarLogger)), None)
        if self.history is None and _flag(add_history, "add_history"):
            self.history = History()
            self.callbacks.append(self.history)
        if self.progbar is None and _flag(add_progbar, "add_progbar"):
            self.progbar = ProgbarLogger()
            self.callbacks.append(self.progbar)
        self.set_model(model)
        self.set_params(params)

    def set_params(self, params) -> None:
        self.params = params
        if params:
            for callback in self.callbacks:
                callback.set_params(params)

    def overrides(self, hook: str) -> bool:
        """Whether any callback overrides ``hook`` (or, for a train-batch hook, the Keras alias it falls back to):
        ``fit`` skips a per-batch hook nobody overrides, and the batch logs it would build."""
        names = (hook, hook.replace("on_train_batch", "on_batch"))
        return any(getattr(type(c), n) is not getattr(Callback, n) for c in self.callbacks for n in names)

    def set_model(self, model) -> None:
        if model is None:
            return
        self.model = model
        if self.history is not None:
            model.history = self.history
        for callback in self.callbacks:
            callback.set_model(model)

    def on_train_begin(self, logs=None):
        logs = pythonify_logs(logs)
        for callback in self.callbacks:
            callback.on_train_begin(logs)

    def on_epoch_begin(self, epoch, logs=None):
        logs = pythonify_logs(logs)
        for callback in self.callbacks:
            callback.on_epoch_begin(epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        logs = pythonify_logs(logs)
        for callback in self.callbacks:
            callback.on_train_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        logs = pythonify_logs(logs)
        for callback in self.callbacks:
            callback.on_train_batch_end(batch, logs)

    def on_batch_begin(self, batch, logs=None):
        logs = pythonify_logs(logs)
        for callback in self.callbacks:
            callback.on_batch_begin(batch, logs)

    def on_batch_end(self, batch, logs=None):
        logs = pythonify_logs(logs)
        for callback in self.callbacks:
            callback.on_batch_end(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        logs = pythonify_logs(logs)
        for callback in self.callbacks:
            callback.on_epoch_end(epoch, logs)

    def on_train_end(self, logs=None):
        logs = pythonify_logs(logs)
        for callback in self.callbacks:
            callback.on_train_end(logs)


class _MonitorCallback(Callback):
    """Keras's ``MonitorCallback``: a monitored quantity, a direction (``mode``) and what counts as better.

    ``mode="auto"``: ``loss`` and ``val_loss`` are minimised; another ``val_<name>``/``<name>`` follows the
    direction of the model's compiled metric ``<name>`` (accuracy up, errors down); anything else is an error at
    ``on_train_begin``, before any step (Keras: when the first epoch ends). An improvement is
    ``current - min_delta < best`` (minimising) or ``current - min_delta > best`` (maximising), with ``min_delta``
    made ``-|min_delta|`` when minimising.
    """

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op = None

    def on_train_begin(self, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()      # an unknown direction is refused before any step (Keras: at the first epoch)

    def _set_monitor_op(self) -> None:
        if self.mode == "min":
            self.monitor_op = operator.lt
        elif self.mode == "max":
            self.monitor_op = operator.gt
        else:
            name = self.monitor.removeprefix("val_")
            if name == "loss":
                self.monitor_op = operator.lt
            direction = _metric_direction(self.model, name)
            if direction is not None:
                self.monitor_op = operator.gt if direction == "up" else operator.lt
            if self.monitor_op is None:
                raise ValueError(
                    f"{type(self).__name__} callback received monitor={self.monitor}, but tinynet isn't able to "
                    "automatically determine whether that metric should be maximized or minimized. Pass "
                    "`mode='max'` in order to monitor based on the highest metric value, or pass `mode='min'` "
                    "in order to use the lowest value.")
        if self.monitor_op is operator.lt:
            self.min_delta *= -1                    # minimising: better means below best by |min_delta|

    def _is_improvement(self, current, reference) -> bool:
        if reference is None:
            return True
        return bool(self.monitor_op(current - self.min_delta, reference))


def _metric_direction(model, name: str) -> str | None:
    """``"up"``/``"down"`` for the model's compiled metric called ``name``; ``None`` if it has none by that name or
    its direction is unknown.

    A metric is an object with a ``name`` (a ``(name, function)`` pair also works). Its direction is its own
    ``direction`` attribute if it has one, else :data:`METRIC_DIRECTIONS` of its name, of its class name in snake
    case (``SparseCategoricalAccuracy`` -> ``sparse_categorical_accuracy``) or of its function's name (``fn``).
    """
    for metric in [*(getattr(model, "metrics", None) or []), *(getattr(model, "weighted_metrics", None) or [])]:
        metric_name = getattr(metric, "name", None)
        if metric_name is None and isinstance(metric, tuple) and metric:
            metric_name = metric[0]
        if metric_name != name:
            continue
        class_name = re.sub(r"(?<!^)(?=[A-Z])", "_", type(metric).__name__).lower()
        function_name = getattr(getattr(metric, "fn", None), "__name__", None)
        return getattr(metric, "direction", None) or next(
            (METRIC_DIRECTIONS[n] for n in (name, class_name, function_name) if n in METRIC_DIRECTIONS), None)
    return None


def _monitor_args(monitor, mode, min_delta, verbose):
    """The checks every monitoring callback shares; returns them converted."""
    monitor = _name(monitor, "monitor")
    mode = one_of(mode, "mode", ("auto", "min", "max"))
    min_delta = real_number(min_delta, "min_delta")
    return monitor, mode, min_delta, _count(verbose, "verbose")


# -- Keras's callbacks ---------------------------------------------------------------------------------------
class EarlyStopping(_MonitorCallback):
    """Stop training when ``monitor`` has stopped improving (``keras.callbacks.EarlyStopping``).

    At each epoch's end from ``start_from_epoch`` on (epochs whose logs lack ``monitor`` are skipped, with a
    warning): ``wait += 1``; an improvement on ``best`` (see ``min_delta``, ``mode``) sets ``best`` and
    ``best_epoch`` and puts ``wait`` back to 0 only if it also improves on ``baseline`` (when given); otherwise,
    once ``wait >= patience`` (and not in epoch 0), ``stopped_epoch = epoch`` and ``model.stop_training = True``.
    ``restore_best_weights``: the weights of the best epoch (the first monitored one counts as best) are put back
    when training ends, whether or not it stopped early. ``mode`` outside auto/min/max is an error here (Keras
    warns and uses auto).
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        monitor, mode, min_delta, verbose = _monitor_args(monitor, mode, min_delta, verbose)
        patience = _count(patience, "patience")
        baseline = _optional_number(baseline, "baseline")
        restore_best_weights = _flag(restore_best_weights, "restore_best_weights")
        start_from_epoch = _count(start_from_epoch, "start_from_epoch")
        super().__init__(monitor, mode, min_delta=min_delta)
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.wait = 0
        self.stopped_epoch = 0
        self.restore_best_weights = restore_best_weights
        self.best_weights = None
        self.best_epoch = 0
        self.start_from_epoch = start_from_epoch

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        # The same instance may serve several fit calls.
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()    # the first monitored epoch is the best so far
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0                       # patience restarts only past both best and baseline
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            _say(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                _say(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)

    def get_monitor_value(self, logs):
        """``logs[monitor]``, or ``None`` with a ``UserWarning`` listing the keys there are."""
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(f"Early stopping conditioned on metric `{self.monitor}` which is not available. "
                          f"Available metrics are: {','.join(list(logs.keys()))}", stacklevel=2)
        return value


class ModelCheckpoint(_MonitorCallback):
    """Save the model or its weights during training (``keras.callbacks.ModelCheckpoint``).

    ``filepath`` may hold ``{epoch}`` (1-based) and any key of the logs, with a format spec:
    ``"ckpt/{epoch:02d}-{val_loss:.2f}.npz"``; with ``save_freq`` an integer, ``{batch}`` (1-based) too. The file
    is written by ``model.save(path)`` or, with ``save_weights_only``, ``model.save_weights(path)``: tinynet's
    ``.npz`` content under whatever name is given (Keras requires ``.keras``/``.weights.h5``). A missing folder is
    created at save time, as in Keras; one that could not be (a file in the way, no write permission), or a path
    that is a folder, is refused here. ``save_best_only``: save only when ``monitor`` improves on ``best``
    (starting from ``initial_value_threshold``; saved anyway, with a warning, when ``monitor`` is absent).
    ``save_freq``: ``"epoch"``, or every that many batches. A field no log provides raises Keras's ``KeyError``
    at save time.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        filepath = _path(filepath, "filepath")
        _check_format(filepath)
        _check_folder(filepath, "filepath", create=True)
        monitor, mode, _, verbose = _monitor_args(monitor, mode, 0, verbose)
        save_best_only = _flag(save_best_only, "save_best_only")
        save_weights_only = _flag(save_weights_only, "save_weights_only")
        if save_freq != "epoch":
            if isinstance(save_freq, str):
                raise ValueError(f"save_freq: expected 'epoch' or a positive integer (batches), "
                                 f"received {save_freq!r}")
            save_freq = positive_int(save_freq, "save_freq")
        initial_value_threshold = _optional_number(initial_value_threshold, "initial_value_threshold")
        super().__init__(monitor, mode, initial_value_threshold)
        self.verbose = verbose
        self.filepath = filepath
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = None
        self._current_epoch = 0

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save_model(epoch=self._current_epoch, batch=batch, logs=logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        if self.save_freq == "epoch":
            self._save_model(epoch=epoch, batch=None, logs=logs)

    def _should_save_on_batch(self, batch: int) -> bool:
        if self.save_freq == "epoch":
            return False
        if self._last_batch_seen is None or batch <= self._last_batch_seen:
            seen = batch + 1                        # a new epoch: batches count from 0
        else:
            seen = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += seen
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _should_save_model(self, epoch, logs, filepath) -> bool:
        logs = logs or {}
        if not self.save_best_only:
            if self.verbose > 0:
                _say(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.", stacklevel=3)
            return True
        if self.monitor_op is None:
            self._set_monitor_op()                  # a batch-level save before the first epoch ended
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                _say(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to {current:.5f}, "
                     f"saving model to {filepath}")
            self.best = current
            return True
        if self.verbose > 0:
            _say(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
        return False

    def _save_model(self, epoch, batch, logs) -> None:
        logs = logs or {}
        filepath = self._get_file_path(epoch, batch, logs)
        if not self._should_save_model(epoch, logs, filepath):
            return
        if os.path.isdir(filepath):
            raise ValueError(f"filepath: expected a file path, received {self.filepath!r}, which gives "
                             f"{filepath!r}, a folder")
        folder = os.path.dirname(filepath)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(filepath)
        else:
            self.model.save(filepath)
        if self.verbose > 0:
            _say(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")

    def _get_file_path(self, epoch, batch, logs) -> str:
        fields = dict(logs)
        if batch is not None and "batch" not in logs:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**{**fields, "epoch": epoch + 1})
        except KeyError as e:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". Reason: {e}') from None
        except (ValueError, TypeError, IndexError) as e:
            raise ValueError(f"filepath: {self.filepath!r} cannot be formatted with the epoch and logs "
                             f"({', '.join(sorted({'epoch', *fields}))}): {e}") from None


def _check_format(filepath: str) -> None:
    """Refuse now a ``filepath`` that no logs could format: bad braces or positional ``{}`` fields."""
    try:
        fields = [field for _, field, _, _ in string.Formatter().parse(filepath) if field is not None]
    except ValueError as e:
        raise ValueError(f"filepath: expected a path with {{name}} fields such as {{epoch:02d}}, received "
                         f"{filepath!r} ({e})") from None
    for field in fields:
        if not field or field[0].isdigit():
            raise ValueError(f"filepath: expected named fields such as {{epoch}} or {{val_loss:.2f}}, received "
                             f"{filepath!r} with the positional field {{{field}}}")


class LearningRateScheduler(Callback):
    """At each epoch's start, ``optimizer.learning_rate = schedule(epoch, lr)`` (``keras.callbacks``'s).

    ``schedule(epoch, lr)`` takes the 0-based epoch and the current learning rate (a schedule of one argument,
    ``schedule(epoch)``, is called that way, as Keras's older API) and returns a float: ``float`` or a NumPy
    float, finite and >= 0 (what tinynet's optimizers take; Keras refuses non-floats too). Each epoch's logs
    get ``learning_rate``. An optimizer whose ``learning_rate`` is a schedule cannot be set: ``TypeError``.
    """

    def __init__(self, schedule, verbose=0):
        if not callable(schedule):
            raise TypeError(f"schedule: expected a function (epoch, lr) -> new lr, received {describe(schedule)}")
        self._takes_lr = _positional_arity(schedule) >= 2
        self.schedule = schedule
        self.verbose = _count(verbose, "verbose")

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        _require_constant_learning_rate(optimizer, "LearningRateScheduler")
        lr = _learning_rate(optimizer)
        learning_rate = self.schedule(epoch, lr) if self._takes_lr else self.schedule(epoch)
        if not isinstance(learning_rate, (float, np.floating)):
            raise ValueError(f"The output of the `schedule` function should be a float. Got: {learning_rate}")
        if not (math.isfinite(learning_rate) and learning_rate >= 0):
            raise ValueError(f"schedule: expected a finite learning rate >= 0 for epoch {epoch}, "
                             f"received {learning_rate!r}")
        optimizer.learning_rate = float(learning_rate)
        if self.verbose > 0:
            _say(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {learning_rate}.")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["learning_rate"] = _learning_rate(self.model.optimizer)


def _positional_arity(function) -> int:
    """How many positional arguments ``function`` takes (``2`` if it takes ``*args`` or hides its signature);
    ``TypeError`` naming ``schedule`` if it takes none."""
    try:
        parameters = pyinspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return 2
    kinds = [p.kind for p in parameters]
    if pyinspect.Parameter.VAR_POSITIONAL in kinds:
        return 2
    arity = sum(k in (pyinspect.Parameter.POSITIONAL_ONLY, pyinspect.Parameter.POSITIONAL_OR_KEYWORD) for k in kinds)
    if arity == 0:
        raise TypeError(f"schedule: expected a function (epoch, lr) -> new lr, received {describe(function)}, "
                        "which takes no positional argument")
    return arity


class ReduceLROnPlateau(_MonitorCallback):
    """Multiply the learning rate by ``factor`` when ``monitor`` stops improving (``keras.callbacks``'s).

    At each epoch's end the logs get ``learning_rate`` (the rate used in that epoch). Then, if ``monitor`` is
    there: during a cooldown, ``cooldown_counter -= 1`` and ``wait = 0``; an improvement (by more than
    ``min_delta``) sets ``best`` and ``wait = 0``; otherwise, outside a cooldown, ``wait += 1`` and once
    ``wait >= patience`` the rate becomes ``max(lr * factor, min_lr)`` if it is above ``min_lr``, starting a
    cooldown of ``cooldown`` epochs. ``factor`` must be in [0, 1) (Keras refuses ``factor >= 1`` too).
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0):
        monitor, mode, min_delta, verbose = _monitor_args(monitor, mode, min_delta, verbose)
        if isinstance(factor, numbers.Real) and not isinstance(factor, bool) and factor >= 1.0:
            raise ValueError("factor: expected a number in [0, 1): ReduceLROnPlateau does not support a factor "
                             f">= 1.0. Received factor={factor}")
        factor = real_number(factor, "factor", low=0.0, high=1.0, high_open=True)
        patience = _count(patience, "patience")
        cooldown = _count(cooldown, "cooldown")
        min_lr = real_number(min_lr, "min_lr", low=0.0)
        super().__init__(monitor, mode, min_delta=min_delta)
        self.factor = factor
        self.min_lr = min_lr
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.cooldown_counter = 0
        self.wait = 0

    def _reset(self) -> None:
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        logs = logs if logs is not None else {}
        logs["learning_rate"] = _learning_rate(self.model.optimizer)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Learning rate reduction is conditioned on metric `{self.monitor}` which is not "
                          f"available. Available metrics are: {','.join(list(logs.keys()))}.", stacklevel=2)
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience and self._reduce_lr(epoch):
                self.cooldown_counter = self.cooldown
                self.wait = 0

    def _reduce_lr(self, epoch: int) -> bool:
        """``lr = max(lr * factor, min_lr)`` if ``lr > min_lr``; whether it changed."""
        optimizer = self.model.optimizer
        old_lr = _learning_rate(optimizer)
        if not np.float32(old_lr) > np.float32(self.min_lr):    # Keras holds the rate in float32: compare so
            return False
        _require_constant_learning_rate(optimizer, "ReduceLROnPlateau")
        new_lr = max(old_lr * self.factor, self.min_lr)
        optimizer.learning_rate = new_lr
        if self.verbose > 0:
            _say(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.")
        return True

    def in_cooldown(self) -> bool:
        """Whether a cooldown is running (``cooldown_counter > 0``)."""
        return self.cooldown_counter > 0


class CSVLogger(Callback):
    """Write each epoch's logs as a row of a CSV file (``keras.callbacks.CSVLogger``).

    Columns: ``epoch`` (0-based) then the first epoch's keys sorted, plus ``val_<key>`` for each when that epoch
    had no ``val_`` key (filled with ``NA``, as Keras). Values are written as Python's ``str`` writes them
    (``0.12345678901234568``), rows end in ``\\r\\n`` (the csv module's excel dialect) and each row is flushed, so
    a crash keeps the completed epochs. ``append=True`` continues an existing file (a header only if it is
    empty). The file is opened when training begins and closed when it ends; its folder must exist.
    """

    def __init__(self, filename, separator=",", append=False):
        filename = _path(filename, "filename")
        _check_folder(filename, "filename", create=False)
        if not isinstance(separator, str) or len(separator) != 1:
            raise TypeError(f"separator: expected a 1-character string, received {describe(separator)}")
        if separator in '"\r\n':
            raise ValueError(f"separator: expected a character other than a quote or a line break, "
                             f"received {separator!r}")
        self.sep = separator
        self.filename = filename
        self.append = _flag(append, "append")
        self.writer = None
        self.keys = None
        self.append_header = True
        self.csv_file = None

    def on_train_begin(self, logs=None):
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename, encoding="utf-8") as f:
                    self.append_header = not bool(len(f.readline()))
            mode = "a"
        else:
            mode = "w"
        if self.csv_file and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, mode, encoding="utf-8")     # closed when training ends
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs.keys())
            if self.keys and not any(key.startswith("val_") for key in self.keys):
                self.keys.extend([f"val_{key}" for key in self.keys])
        if not self.writer:
            dialect = type("CSVLoggerDialect", (csv.excel,), {"delimiter": self.sep})
            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch", *self.keys], dialect=dialect)
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, _csv_value(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


def _csv_value(value):
    """A 1-D iterable as ``"[a, b]"`` (quotes included, as Keras writes it); anything else as it is."""
    if isinstance(value, str):
        return value
    if isinstance(value, collections.abc.Iterable) and not (isinstance(value, np.ndarray) and value.ndim == 0):
        return f'"[{", ".join(map(str, value))}]"'
    return value


class TerminateOnNaN(Callback):
    """Stop training when a batch's ``logs["loss"]`` is NaN or infinite (``keras.callbacks.TerminateOnNaN``).

    Prints ``Batch 3: Invalid loss, terminating training`` and sets ``model.stop_training``; with
    ``raise_error=True`` it raises ``RuntimeError`` at once instead (then ``on_train_end`` is not called).
    """

    handles_nan = True

    def __init__(self, raise_error=False):
        self.raise_error = _flag(raise_error, "raise_error")

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or not (np.isnan(loss) or np.isinf(loss)):
            return
        if self.raise_error:
            raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. Terminating "
                               "training immediately.")
        _say(f"Batch {batch}: Invalid loss, terminating training")
        self.model.stop_training = True


# -- the progress bar ----------------------------------------------------------------------------------------
class Progbar:
    """Keras's progress bar (``keras.utils.Progbar``) as ``ProgbarLogger`` drives it: values shown as given.

    ``verbose=1`` draws ``12/157 ━━━━━━━━━━━━━━━━━━━━ 0s 2ms/step - loss: 0.1234`` (bold count, green done part,
    grey rest: Keras's ANSI codes), redrawn at most every ``interval`` seconds, with the time left (ETA) until the
    final update, which shows the time elapsed and ends the line. Redrawing is ``\\b``s and ``\\r`` over the
    previous line when :func:`dynamic_display` holds, else a new line per update. ``verbose=2`` prints only the
    final update: ``157/157 - 0s - 2ms/step - loss: 0.1234``. ``verbose=0`` prints nothing. Values print as
    ``%.4f``, or ``%.4e`` when at most 1e-3. ``stream``: where to write (``None``: ``sys.stdout`` at each write);
    times come from ``time.time()``.
    """

    def __init__(self, target, width=20, verbose=1, interval=0.05, unit_name="step", stream=None):
        if target is not None:
            target = _count(target, "target")
        width = positive_int(width, "width")
        if isinstance(verbose, bool) or verbose not in (0, 1, 2):
            raise ValueError(f"verbose: expected 0, 1 or 2, received {describe(verbose)}")
        interval = real_number(interval, "interval", low=0.0)
        if not isinstance(unit_name, str):
            raise TypeError(f"unit_name: expected a string, received {describe(unit_name)}")
        _check_stream(stream)
        self.target, self.width, self.verbose, self.interval = target, width, int(verbose), interval
        self.unit_name, self.stream = unit_name, stream
        self.dynamic_display = dynamic_display(sys.stdout if stream is None else stream)
        self.values: dict = {}                      # name -> latest value, in the order names first came
        self._start = time.time()
        self._last_update = 0.0
        self._time_after_first_step = None
        self._prev_total_width = 0

    def update(self, current: int, values=None, finalize=None) -> None:
        """Show step ``current`` (1-based) with ``values``, pairs ``(name, value)``; ``finalize`` (the last update
        of the bar) defaults to ``current >= target``."""
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for name, value in values or []:
            self.values[name] = value
        now = time.time()
        time_per_unit = self._step_duration(current, now)
        known = self.target is not None and self.target > 0
        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return                              # too soon: a later update redraws
            message = "\b" * self._prev_total_width + "\r" if self.dynamic_display else "\n"
            invisible = 0                           # characters of ANSI codes, which take no room on screen
            if known:
                digits = int(math.log10(self.target)) + 1
                bar = f"\x1b[1m{current:{digits}d}/{self.target}\x1b[0m "
                done = int(self.width * (current / self.target))
                if done > 0:
                    bar += f"\x1b[32m{BAR * done}\x1b[0m"
                    invisible += 9
                bar += f"\x1b[37m{BAR * (self.width - done)}\x1b[0m"
                invisible += 8 + 9
            else:
                bar = f"{current:7d}/Unknown"
            if known and not finalize:
                info = f" \x1b[1m{_format_eta(time_per_unit * (self.target - current))}\x1b[0m"
            else:
                info = f" \x1b[1m{now - self._start:.0f}s\x1b[0m"
            invisible += 8
            info += _format_time(time_per_unit, self.unit_name) + self._values_text(by_magnitude=True)
            total_width = len(bar) + len(info) - invisible
            message += bar + info + " " * max(self._prev_total_width - total_width, 0)   # blank a longer line
            _write(self.stream, message + ("\n" if finalize else ""))
            self._prev_total_width = total_width
        elif self.verbose == 2 and finalize and known:
            digits = int(math.log10(self.target)) + 1
            info = f"{current:{digits}d}/{self.target} - {now - self._start:.0f}s -"
            info += _format_time(time_per_unit, self.unit_name) + self._values_text(by_magnitude=False)
            _write(self.stream, info + "\n")
        self._last_update = now

    def _values_text(self, by_magnitude: bool) -> str:
        # Keras tests |value| > 1e-3 on the live bar but value > 1e-3 on the verbose=2 line (so -0.5 is -5.0000e-01)
        text = ""
        for name, value in self.values.items():
            value = float(np.mean(value))
            large = abs(value) > 1e-3 if by_magnitude else value > 1e-3
            text += f" - {name}: {value:.4f}" if large else f" - {name}: {value:.4e}"
        return text

    def _step_duration(self, current: int, now: float) -> float:
        """Seconds per step, leaving out step 1 (often slow) once past it; 0 before any step."""
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            seconds = (now - self._time_after_first_step) / (current - 1)
        else:
            seconds = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return seconds


def _format_time(seconds_per_unit: float, unit_name: str) -> str:
    """``" 2ms/step"``: whole seconds from 1 s (and for 0), else whole milliseconds, else microseconds."""
    if seconds_per_unit >= 1 or seconds_per_unit == 0:
        return f" {seconds_per_unit:.0f}s/{unit_name}"
    if seconds_per_unit >= 1e-3:
        return f" {seconds_per_unit * 1e3:.0f}ms/{unit_name}"
    return f" {seconds_per_unit * 1e6:.0f}us/{unit_name}"


def _format_eta(seconds: float) -> str:
    """``"7s"``; ``"2:05"`` past a minute; ``"1:02:05"`` past an hour (truncated, as Keras's ``%d``)."""
    if seconds > 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds > 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(seconds)}s"


class ProgbarLogger(Callback):
    """The progress display of ``fit`` (``keras.callbacks.ProgbarLogger``), which ``fit`` adds when ``verbose``
    is 1 or 2.

    Each epoch starts a :class:`Progbar` over ``params["steps"]`` steps and, when there are several epochs, prints
    ``Epoch 3/40`` first. ``verbose=1`` (``"auto"`` too) updates the bar after each batch with the running means
    and finishes it with the epoch's logs (``val_*`` included); ``verbose=2`` prints only that final line. The
    batch keys ``batch_loss`` and ``weights_before`` (tinynet's additions) are not shown. ``stream``: where to
    write (``None``: ``sys.stdout`` at each write).
    """

    def __init__(self, stream=None):
        _check_stream(stream)
        self.stream = stream
        self.seen = 0
        self.progbar = None
        self.target = None
        self.verbose = 1
        self.epochs = 1

    def set_params(self, params) -> None:
        self.params = params
        verbose = params["verbose"]
        self.verbose = 1 if verbose == "auto" else verbose
        self.epochs = params["epochs"]
        self.target = params["steps"]

    def on_epoch_begin(self, epoch, logs=None):
        self.seen, self.progbar = 0, None
        self._maybe_init_progbar()
        if self.verbose and self.epochs > 1:
            _write(self.stream, f"Epoch {epoch + 1}/{self.epochs}\n")

    def on_train_batch_end(self, batch, logs=None):
        self._maybe_init_progbar()
        self.seen = batch + 1                       # 1-based
        if self.verbose == 1:
            self.progbar.update(self.seen, _shown(logs), finalize=False)

    def on_epoch_end(self, epoch, logs=None):
        self._maybe_init_progbar()
        if self.target is None:
            self.target = self.progbar.target = self.seen
        self.progbar.update(self.target, _shown(logs), finalize=True)

    def _maybe_init_progbar(self) -> None:
        if self.progbar is None:
            self.progbar = Progbar(target=self.target, verbose=self.verbose, unit_name="step", stream=self.stream)


def _shown(logs) -> list:
    return [(key, value) for key, value in (logs or {}).items() if key not in FIT_BATCH_EXTRAS]


__all__ = ["History", "Callback", "CallbackList", "EarlyStopping", "ModelCheckpoint", "LearningRateScheduler",
           "ReduceLROnPlateau", "CSVLogger", "TerminateOnNaN", "ProgbarLogger", "Progbar", "pythonify_logs",
           "dynamic_display", "FIT_BATCH_EXTRAS", "METRIC_DIRECTIONS"]
