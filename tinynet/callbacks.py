"""Training records and hooks.

``History`` is what ``fit`` returns. ``Callback`` is the base class for objects passed as
``fit(..., callbacks=[...])``: ``fit`` calls their hooks at the start and end of training, of each epoch and after
each optimizer step. During ``on_train_batch_end`` a callback may read (never write) the model's flat buffers:
``model._flat_params`` (weights after the step), ``model._previous_params`` (weights before it) and
``model._flat_grads`` (the gradient the step used), and the layers' cached activations.
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

    ``logs`` is ``{"loss": batch loss}`` after a step, the epoch's logs (``loss``, metrics, ``val_*``) at an
    epoch's end, and ``None`` elsewhere. Setting ``model.stop_training = True`` ends ``fit`` after the epoch.
    """

    model = None

    def set_model(self, model) -> None:
        self.model = model

    def on_train_begin(self, logs=None) -> None: ...

    def on_epoch_begin(self, epoch: int, logs=None) -> None: ...

    def on_train_batch_end(self, batch: int, logs=None) -> None: ...

    def on_epoch_end(self, epoch: int, logs=None) -> None: ...

    def on_train_end(self, logs=None) -> None: ...


__all__ = ["History", "Callback"]
