"""Training records and hooks.

``History`` is what ``fit`` returns. ``Callback`` is the base class for objects passed as
``fit(..., callbacks=[...])``: ``fit`` calls their hooks at the start and end of training, of each epoch and after
each optimizer step. After a step, a callback sees the weights through public read-only views:
``model.flat_weights`` (after the step), ``logs["weights_before"]`` (before it) and ``model.flat_gradients`` (the
gradient the step used).
"""

from __future__ import annotations


class History:
    """What ``fit`` returns, as in Keras.

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

    def record(self, epoch: int, logs: dict[str, float]) -> None:
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

    def __repr__(self) -> str:
        return f"<History epochs={len(self.epoch)} keys={list(self.history)}>"


class Callback:
    """Base class for ``fit`` hooks (Keras's names); every hook does nothing unless overridden.

    ``logs`` after a step: the epoch's running means so far (``loss``, metrics, as Keras), ``batch_loss`` (this
    batch's loss) and ``weights_before`` (a read-only view of the flat weights before the step); at an epoch's
    end: the epoch's ``loss``, metrics and ``val_*``; ``None`` elsewhere. Setting ``model.stop_training = True``
    ends ``fit`` after the current batch.
    """

    model = None

    def set_model(self, model) -> None:
        self.model = model

    def on_train_begin(self, logs=None) -> None: ...

    def on_epoch_begin(self, epoch: int, logs=None) -> None: ...

    def on_train_batch_end(self, batch: int, logs=None) -> None: ...

    def on_epoch_end(self, epoch: int, logs=None) -> None: ...

    def on_train_end(self, logs=None) -> None: ...


class CallbackList:
    """The callbacks of one ``fit`` call: each hook calls that hook of every callback, in order."""

    def __init__(self, callbacks, model):
        self.callbacks = list(callbacks)
        for callback in self.callbacks:
            callback.set_model(model)

    def on_train_begin(self, logs=None):
        for callback in self.callbacks:
            callback.on_train_begin(logs)

    def on_epoch_begin(self, epoch, logs=None):
        for callback in self.callbacks:
            callback.on_epoch_begin(epoch, logs)

    def on_train_batch_end(self, batch, logs=None):
        for callback in self.callbacks:
            callback.on_train_batch_end(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        for callback in self.callbacks:
            callback.on_epoch_end(epoch, logs)

    def on_train_end(self, logs=None):
        for callback in self.callbacks:
            callback.on_train_end(logs)


__all__ = ["History", "Callback", "CallbackList"]
