"""``load_model``: rebuild a model saved with ``Sequential.save``, ready to continue training exactly."""

from __future__ import annotations

import json
import os

import numpy as np

from . import layers as layers_mod
from . import losses as losses_mod
from . import optimizers as optimizers_mod
from ._io import read_npz
from .models import Sequential

_LOSSES = {"SparseCategoricalCrossentropy": losses_mod.SparseCategoricalCrossentropy,
           "MeanSquaredError": losses_mod.MeanSquaredError}
_OPTIMIZERS = {"Adam": optimizers_mod.Adam, "SGD": optimizers_mod.SGD}
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")


def _from_jsonable(value):
    """Undo ``models._jsonable``: ``{"array": [...], "dtype": ...}`` back to arrays."""
    if isinstance(value, dict):
        if set(value) == {"array", "dtype"}:
            return np.asarray(value["array"], dtype=np.dtype(value["dtype"]))
        return {k: _from_jsonable(v) for k, v in value.items()}
    return value


def load_model(path) -> Sequential:
    """Read a file written by ``model.save(path)``: architecture, weights, optimizer state and shuffling state.

    The file is read with ``allow_pickle=False``. Anything missing, malformed or inconsistent raises a
    ``ValueError`` naming the file; nothing is half-loaded.
    """
    where = f"path: {os.fspath(path)!r}"
    arrays = read_npz(path)
    if "config.json" not in arrays:
        raise ValueError(f"{where} is not a tinynet model file (no config.json entry; weights-only files are read "
                         "with model.load_weights)")
    try:
        config = json.loads(str(arrays["config.json"][()]))
        if config.get("format") != "tinynet.Sequential":
            raise ValueError(f"unknown format {config.get('format')!r}")
        layers = [layers_mod.from_config(spec["class_name"], spec["config"]) for spec in config["layers"]]
        model = Sequential(layers, dtype=config["dtype"], name=config["name"])
        if config["input_shape"] is not None and not model.built:
            model.build(tuple(config["input_shape"]))
        names = model._weight_names()
        weights = [arrays["weights/" + name] for name in names]
        extra = {k for k in arrays if k.startswith("weights/")} - {"weights/" + n for n in names}
        if extra:
            raise ValueError(f"unexpected weights {sorted(extra)}")
        model.set_weights(weights)
        compiled = config.get("compile")
        if compiled:
            loss = _LOSSES[compiled["loss"]["class_name"]](**compiled["loss"]["config"])
            optimizer = _OPTIMIZERS[compiled["optimizer"]["class_name"]](**compiled["optimizer"]["config"])
            model.compile(optimizer=optimizer, loss=loss, metrics=compiled["metrics"])
            state = {k[len("optimizer/"):]: v for k, v in arrays.items() if k.startswith("optimizer/")}
            optimizer.set_state(state, [model._flat_params])
        rng_state = config.get("rng_state")
        if rng_state is not None:
            if rng_state["bit_generator"] not in _BIT_GENERATORS:
                raise ValueError(f"unknown bit generator {rng_state['bit_generator']!r}")
            model._rng = np.random.Generator(getattr(np.random, rng_state["bit_generator"])())
            model._rng.bit_generator.state = _from_jsonable(rng_state)
    except (KeyError, TypeError, ValueError, AttributeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{where} is not a valid tinynet model file ({type(exc).__name__}: {exc})") from exc
    return model


__all__ = ["load_model"]
