"""The model file's schema agrees with the constructors: a config value is refused by ``load_model`` exactly when
the class it configures refuses it (docs/errors.md, "Files from elsewhere").

Each option of each layer, loss, optimizer, schedule and metric in a real saved file is replaced in turn by values
at and around its bounds and of the wrong types; the file must load when the constructor (``from_config`` /
``deserialize``) takes the value and the model can be built, and must raise ``ValueError`` naming the file and the
option's place otherwise. Where the file format is stricter than the constructor on purpose, the test says so.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

import tinynet
from tinynet import Sequential, layers, losses, metrics, optimizers, regularizers
from tinynet.optimizers import schedules

CANDIDATES = [-1, -1e-300, 0, 0.0, -0.0, 1e-300, 0.5, 1, 1.0, 1.5, 2, 624, 625, 2**40, 2**40 + 1, 1e300, True, False,
              None, "", "x", "relu", "float64", [1], {"a": 1}]


def _models():
    """Compiled, trained models between them holding every layer, loss, optimizer, schedule and metric class."""
    x = np.random.default_rng(0).standard_normal((24, 6)).astype(np.float32)
    labels = np.arange(24) % 3
    norm = layers.Normalization(input_shape=(6,))
    norm.adapt(x)
    first = Sequential([norm, layers.Dense(5, activation="relu", kernel_regularizer=regularizers.L1L2(0.01, 0.02),
                                           bias_regularizer=regularizers.L1(0.01),
                                           activity_regularizer=regularizers.L2(0.001)),
                        layers.Dropout(0.25, seed=3), layers.ReLU(max_value=6.0, negative_slope=0.1, threshold=0.2),
                        layers.LeakyReLU(0.2), layers.ELU(0.9), layers.Activation("tanh"), layers.Dense(3),
                        layers.Softmax()], seed=1)
    first.compile(loss=losses.SparseCategoricalCrossentropy(), optimizer=optimizers.RMSprop(
        0.01, rho=0.8, momentum=0.5, centered=True, clipnorm=1.0), metrics=["accuracy",
                                                                             metrics.SparseCategoricalCrossentropy()])
    first.fit(x, labels, epochs=1, batch_size=8, verbose=0)
    onehot = np.eye(3, dtype=np.float32)[labels]
    second = Sequential([layers.Flatten(input_shape=(2, 3)), layers.Dense(3, activation="sigmoid"),
                         layers.Sigmoid(), layers.Tanh(), layers.Linear(), layers.Activation("softmax", axis=-1)],
                        seed=2)
    second.compile(loss=losses.CategoricalCrossentropy(label_smoothing=0.1), optimizer=optimizers.AdamW(
        schedules.ExponentialDecay(0.01, decay_steps=3, decay_rate=0.5), weight_decay=0.01, amsgrad=True,
        clipvalue=0.5), metrics=[metrics.CategoricalAccuracy(), metrics.CategoricalCrossentropy(axis=-1)],
        weighted_metrics=["mse"])
    second.fit(x.reshape(24, 2, 3), onehot, epochs=1, batch_size=8, verbose=0)
    third = Sequential([layers.Dense(1, activation="sigmoid", input_shape=(6,))], seed=3)
    third.compile(loss=losses.BinaryCrossentropy(from_logits=False, label_smoothing=0.05),
                  optimizer=optimizers.SGD(schedules.PiecewiseConstantDecay([2, 5], [0.1, 0.05, 0.01]),
                                           momentum=0.9, nesterov=True, global_clipnorm=2.0),
                  metrics=[metrics.BinaryAccuracy(threshold=0.4), metrics.BinaryCrossentropy(label_smoothing=0.1)])
    third.fit(x, (labels == 1).astype(np.float32), epochs=1, batch_size=8, verbose=0)
    fourth = Sequential([layers.Dense(2, input_shape=(6,))], seed=4)
    fourth.compile(loss=losses.MeanSquaredError(reduction="sum"), optimizer=optimizers.Adagrad(
        schedules.InverseTimeDecay(0.1, decay_steps=2, decay_rate=0.5, staircase=True),
        initial_accumulator_value=0.2, epsilon=1e-6), metrics=[metrics.MeanAbsoluteError(), "mae"])
    fourth.fit(x, onehot[:, :2], epochs=1, batch_size=8, verbose=0)
    fifth = Sequential([layers.Dense(2, input_shape=(6,), use_bias=False, kernel_initializer="he_normal")], seed=5)
    fifth.compile(loss=losses.MeanAbsoluteError(), optimizer=optimizers.Adam(0.01, beta_1=0.8, beta_2=0.99,
                                                                              epsilon=1e-6, weight_decay=0.001),
                  metrics=[metrics.MeanSquaredError()])
    return [first, second, third, fourth, fifth]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("schema")
    files = []
    for i, model in enumerate(_models()):
        path = folder / f"model{i}.npz"
        model.save(path)
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        files.append((path, arrays))
    return files


def option_places(config):
    """``(path, what builds it)`` for every option of every layer, the loss, the optimizer (and its schedule) and
    each serialized metric: the places whose values the constructors judge."""
    for i, layer in enumerate(config["layers"]):
        for key in layer["config"]:
            if key not in ("name", "input_shape"):
                yield ("layers", i, "config", key), ("layer", i)
    compiled = config["compile"]
    for part in ("loss", "optimizer"):
        for key, value in compiled[part]["config"].items():
            if key == "name":
                continue
            if isinstance(value, dict):
                for inner in value["config"]:
                    yield ("compile", part, "config", key, "config", inner), (part, None)
            else:
                yield ("compile", part, "config", key), (part, None)
    for group in ("metrics", "weighted_metrics"):
        for j, spec in enumerate(compiled.get(group, [])):
            if isinstance(spec, dict):
                for key in spec["config"]:
                    if key != "name":
                        yield ("compile", group, j, "config", key), ("metric", (group, j))


def replaced(config, path, value):
    config = copy.deepcopy(config)
    target = config
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return config


def weight_shapes(config) -> list[tuple]:
    """The shapes of the weights the layers of ``config`` create, in the file's order, worked out without
    building anything (a layer's parameters, then its state)."""
    shape, dtype, shapes = tuple(config["input_shape"]), np.dtype(config["dtype"]), []
    for spec in config["layers"]:
        layer = layers.from_config(spec["class_name"], spec["config"])
        shapes += [tuple(s) for _, s, _ in layer.param_specs(shape)]
        shapes += [tuple(s) for _, s, _ in tinynet.saving.state_specs(layer, shape, dtype)]
        shape = tuple(layer.compute_output_shape(shape))
    return shapes


def constructor_takes(config, what, arrays) -> bool:
    """Whether the class accepts the (edited) config, and (for a layer) the model's weights keep the shapes of the
    arrays the file holds."""
    kind, where = what
    try:
        if kind == "layer":
            stored = [arrays[k].shape for k in sorted(arrays) if k.startswith("weights/")]
            if weight_shapes(config) != stored:
                return False
        else:                                       # the model compiles with them, as load_model compiles it
            compiled = config["compile"]
            model = Sequential([layers.from_config(spec["class_name"], spec["config"]) for spec in config["layers"]],
                               dtype=config["dtype"])
            optimizer = optimizers.deserialize(compiled["optimizer"])
            model.compile(loss=losses.deserialize(compiled["loss"]), optimizer=optimizer,
                          metrics=[m if isinstance(m, str) else metrics.deserialize(m) for m in compiled["metrics"]],
                          weighted_metrics=[m if isinstance(m, str) else metrics.deserialize(m)
                                            for m in compiled.get("weighted_metrics", [])])
            slots = sorted(k for k in arrays if k.startswith("optimizer/") and k != "optimizer/iterations")
            if slots and slots != sorted(f"optimizer/{slot}_0" for slot in optimizer.slot_names):
                return False                        # the file holds another optimizer's state
    except (ValueError, TypeError, OverflowError):
        return False
    return True


def stricter_on_purpose(place, value) -> bool:
    """Where the file is stricter than the constructor, on purpose: values no saved model can hold."""
    # A softmax axis beyond the 33 axes of (batch, *sample) (a sample has at most 32 dimensions) never applies.
    return place[-1] == "axis" and place[0] == "layers" and isinstance(value, int) and not -33 <= value <= 32


@pytest.mark.mutants_of("tinynet.saving")
def test_a_config_value_loads_exactly_when_its_constructor_takes_it(saved, tmp_path):
    disagreements = []
    tried = 0
    for path, arrays in saved:
        config = json.loads(str(arrays["config.json"]))
        for place, what in option_places(config):
            for value in CANDIDATES:
                edited = replaced(config, place, value)
                takes = constructor_takes(edited, what, arrays)
                mutated = tmp_path / "edited.npz"
                np.savez(mutated, **{**arrays, "config.json": np.array(json.dumps(edited))})
                try:
                    tinynet.load_model(mutated)
                    loads, message = True, ""
                except ValueError as exc:
                    loads, message = False, str(exc)
                tried += 1
                if loads != takes and not stricter_on_purpose(place, value):
                    disagreements.append(f"{path.name} {place} = {value!r}: constructor "
                                         f"{'takes' if takes else 'refuses'}, load_model "
                                         f"{'loads' if loads else 'refuses: ' + message[-150:]}")
                elif not loads:
                    assert "edited.npz" in message and "is not a valid tinynet model file" in message
    assert tried > 2000
    assert not disagreements, "\n".join(disagreements[:40]) + f"\n({len(disagreements)} in all)"
