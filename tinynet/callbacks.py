"""Training records."""

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
