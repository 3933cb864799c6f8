"""Model files: the config round trip, ``save``/``load_model`` and weight files, all ``.npz`` without pickle.

``Sequential.save``, ``save_weights``, ``load_weights`` and ``get_config`` call the functions here;
``load_model`` rebuilds a model saved with ``Sequential.save``, ready to continue training exactly.
"""

from __future__ import annotations

import json
import os

import numpy as np

from . import layers as layers_mod
from . import losses as losses_mod
from . import metrics as metrics_mod
from . import optimizers as optimizers_mod
from ._io import atomic_savez, read_npz

_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")


def weight_file_names(model) -> list[str]:
    """The entry names of a weights file, in ``get_weights`` order: ``"000/dense/kernel"``, ... (unique)."""
    return [f"{i:03d}/{name}" for i, name in enumerate(model.weight_names)]


def model_config(model) -> dict:
    """Everything needed to rebuild ``model`` (not its weights) as JSON-ready data."""
    config = {
        "format": "tinynet.Sequential", "version": 1, "name": model.name, "dtype": model.dtype.name,
        "input_shape": list(model.input_shape) if model.built else None,
        "layers": [{"class_name": type(layer).__name__, "config": layer.get_config()} for layer in model.layers],
        "compile": None,
    }
    if model.compiled:
        config["compile"] = {
            "loss": losses_mod.serialize(model.loss),
            "optimizer": {"class_name": type(model.optimizer).__name__, "config": model.optimizer.get_config()},
            "metrics": [_metric_spec(m) for m in model.metric_identifiers],
            "weighted_metrics": [_metric_spec(m) for m in model.weighted_metric_identifiers],
        }
    return config


def _metric_spec(identifier):
    """A metric as compile received it: a name stays a name (resolved again from the data), an object is
    serialized."""
    return identifier if isinstance(identifier, str) else metrics_mod.serialize(identifier)


def _metric_from_spec(spec):
    return spec if isinstance(spec, str) else metrics_mod.deserialize(spec)


def save_weights(model, path) -> None:
    """All parameters of a built ``model`` to an ``.npz`` file, atomically (temporary file, then rename)."""
    atomic_savez(path, dict(zip(weight_file_names(model), model.weights, strict=True)))


def load_weights(model, path) -> None:
    """Parameters written by ``save_weights`` into ``model``: checked in full, all-or-nothing, never unpickled."""
    names = weight_file_names(model)
    arrays = read_npz(path)
    if sorted(arrays) != sorted(names):
        raise ValueError(f"path: {os.fspath(path)!r} holds weights {sorted(arrays)}; this model expects {names}")
    model.set_weights([arrays[name] for name in names])


def save_model(model, path) -> None:
    """The whole training state of a built ``model`` in one ``.npz``: config (JSON), weights, optimizer state,
    and the state of the generator that shuffles, so that ``load_model`` resumes bit for bit."""
    config = model_config(model)
    config["rng_state"] = _jsonable(model.rng.bit_generator.state)
    arrays = {"config.json": np.array(json.dumps(config))}
    arrays.update({"weights/" + k: w for k, w in zip(weight_file_names(model), model.weights, strict=True)})
    if model.compiled:
        arrays.update({"optimizer/" + k: v for k, v in model.optimizer.get_state().items()})
    atomic_savez(path, arrays)


def _jsonable(value):
    """A bit generator's state as JSON data: arrays become ``{"array": [...], "dtype": ...}``."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return {"array": value.tolist(), "dtype": value.dtype.str}
    return value.item() if isinstance(value, np.generic) else value


def _from_jsonable(value):
    """Undo ``_jsonable``."""
    if isinstance(value, dict):
        if set(value) == {"array", "dtype"}:
            return np.asarray(value["array"], dtype=np.dtype(value["dtype"]))
        return {k: _from_jsonable(v) for k, v in value.items()}
    return value


def _restore_generator(model, bit_generator: str, state: dict) -> None:
    """Put the saved state into the model's generator, which its layers (Dropout) share."""
    old = model.rng
    if type(old.bit_generator).__name__ == bit_generator:
        old.bit_generator.state = state
        return
    model.rng = np.random.Generator(getattr(np.random, bit_generator)())
    model.rng.bit_generator.state = state
    for layer in model.layers:
        if getattr(layer, "rng", None) is old:
            layer.rng = model.rng


def load_model(path):
    """Read a file written by ``model.save(path)``: architecture, weights, optimizer state and shuffling state.

    The file is read with ``allow_pickle=False``. Anything missing, malformed or inconsistent raises a
    ``ValueError`` naming the file; nothing is half-loaded.
    """
    from .models import Sequential  # models calls this module to save; it is imported when first loaded

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
        names = weight_file_names(model)
        weights = [arrays["weights/" + name] for name in names]
        extra = {k for k in arrays if k.startswith("weights/")} - {"weights/" + n for n in names}
        if extra:
            raise ValueError(f"unexpected weights {sorted(extra)}")
        model.set_weights(weights)
        compiled = config.get("compile")
        if compiled:
            loss = losses_mod.deserialize(compiled["loss"])
            optimizer = optimizers_mod.deserialize(compiled["optimizer"])
            model.compile(optimizer=optimizer, loss=loss,
                          metrics=[_metric_from_spec(m) for m in compiled["metrics"]],
                          weighted_metrics=[_metric_from_spec(m) for m in compiled.get("weighted_metrics", [])])
            state = {k[len("optimizer/"):]: v for k, v in arrays.items() if k.startswith("optimizer/")}
            optimizer.set_state(state, [model.flat_weights])
        rng_state = config.get("rng_state")
        if rng_state is not None:
            if rng_state["bit_generator"] not in _BIT_GENERATORS:
                raise ValueError(f"unknown bit generator {rng_state['bit_generator']!r}")
            _restore_generator(model, rng_state["bit_generator"], _from_jsonable(rng_state))
    except (KeyError, TypeError, ValueError, AttributeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{where} is not a valid tinynet model file ({type(exc).__name__}: {exc})") from exc
    return model


__all__ = ["load_model", "model_config", "save_model", "save_weights", "load_weights", "weight_file_names"]
