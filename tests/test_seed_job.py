"""The seed program on the real digits: the README's code runs as written and learns the digits."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from tests.conftest import digits_path
from tinynet import Sequential
from tinynet.layers import Dense
from tinynet.losses import SparseCategoricalCrossentropy
from tinynet.optimizers import Adam

README = Path(__file__).resolve().parents[1] / "README.md"


def test_seed_job_reaches_98_percent_training_accuracy(digits):
    X, y = digits
    model = Sequential([Dense(25, activation="relu", input_shape=(400,)),
                        Dense(15, activation="relu"),
                        Dense(10, activation="linear")], seed=0)
    model.compile(loss=SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=Adam(learning_rate=0.001), metrics=["accuracy"])
    history = model.fit(X, y, epochs=40, verbose=0)
    losses = history.history["loss"]
    assert len(losses) == 40 and losses[-1] < losses[0] / 10
    train_accuracy = float((model.predict(X).argmax(axis=1) == y).mean())
    assert train_accuracy >= 0.98, f"training accuracy {train_accuracy:.4f}"
    assert history.history["accuracy"][-1] >= 0.97


def test_readme_seed_program_runs_as_written(tmp_path, monkeypatch):
    """The first python block of the README, run from a folder whose Data/ex3data1.mat is the shared digits."""
    source = digits_path()
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    (tmp_path / "Data").mkdir()
    (tmp_path / "Data" / "ex3data1.mat").symlink_to(source)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, str(README), "exec"), namespace)
    assert namespace["logits"].shape == (5000, 10)
    assert len(namespace["history"].history["loss"]) == 40
    assert namespace["acc"] >= 0.98 and np.isfinite(namespace["loss"])


def test_readme_gradcheck_example_runs_and_passes(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    example = next(b for b in blocks if "gradcheck.check_model" in b)
    exec(compile(example, str(README), "exec"), {})
    out = capsys.readouterr().out
    assert "dense/kernel" in out and out.rstrip().endswith("OK")
