"""The `tinynet` command: train/evaluate in a temporary folder, files and metrics written, exit codes, errors."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import signal
import struct
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.io

from tinynet import cli
from tinynet.optimizers import Adam

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FIGURES = ("curves.png", "predictions.png", "confusion.png", "mistakes.png")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def toy_digits(per_class=20, side=20, seed=0):
    """Easy 'digits': class c has a bright horizontal bar at row 2 + c (upright), plus noise. Column-major rows."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10), per_class)
    images = rng.random((len(labels), side, side)) * 0.3
    for i, c in enumerate(labels):
        images[i, 2 + c, 3:side - 3] = 1.0
    X = images.transpose(0, 2, 1).reshape(len(labels), side * side)      # MATLAB (column-major) order
    return X, labels


def write_toy_mat(path, per_class=20, seed=0):
    X, labels = toy_digits(per_class, seed=seed)
    y = np.where(labels == 0, 10, labels).astype(np.uint8).reshape(-1, 1)
    scipy.io.savemat(path, {"X": X, "y": y})
    return str(path)


def run(argv):
    """main(argv) with stdout and stderr captured: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


def assert_png(path):
    with open(path, "rb") as fh:
        assert fh.read(8) == PNG_SIGNATURE, f"{path} is not a PNG"
    assert os.path.getsize(path) > 2000


def assert_one_error_line(err, *fragments):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    """One short training run on a small written .mat, shared by the tests that only read its results."""
    folder = tmp_path_factory.mktemp("toy")
    data = write_toy_mat(folder / "toy.mat")
    out = folder / "out"
    code, stdout, stderr = run(["train", "--data", data, "--epochs", "3", "--out", str(out), "--seed", "1"])
    return {"code": code, "stdout": stdout, "stderr": stderr, "data": data, "out": out,
            "metrics": json.loads((out / "metrics.json").read_text()) if code == 0 else None}


def test_train_writes_weights_metrics_and_figures(toy_run):
    assert toy_run["code"] == 0, toy_run["stderr"]
    out = toy_run["out"]
    for name in ("weights.npz", "metrics.json", *FIGURES):
        assert (out / name).is_file(), name
    for name in FIGURES:
        assert_png(out / name)
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")]


def test_train_output_lines(toy_run):
    lines = toy_run["stdout"].splitlines()
    assert lines[0].startswith("data: ") and toy_run["data"] in lines[0] and "200 samples" in lines[0]
    assert "20x20" in lines[0]
    assert sum(line.startswith("Epoch ") for line in lines) == 3            # one progress line per epoch
    assert any(line.startswith("train accuracy: ") for line in lines)
    assert any(line.startswith("validation accuracy: ") for line in lines)
    assert any(line.startswith("per-class validation accuracy: 0: ") for line in lines)


def test_train_metrics_json(toy_run):
    m = toy_run["metrics"]
    assert m["dataset"]["path"] == os.path.abspath(toy_run["data"]) and m["dataset"]["samples"] == 200
    assert m["epochs"] == 3 and m["epochs_completed"] == 3 and m["interrupted"] is False
    assert m["train_samples"] == 160 and m["val_samples"] == 40               # stratified 20%
    assert m["model"]["units"] == [400, 25, 15, 10]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert len(m["history"][key]) == 3
    assert 0.0 <= m["train_accuracy"] <= 1.0 and 0.0 <= m["val_accuracy"] <= 1.0
    assert m["val_accuracy"] == pytest.approx(m["history"]["val_accuracy"][-1])   # the final model's score
    per_class = m["per_class_accuracy"]
    assert sorted(per_class) == [str(c) for c in range(10)]
    # 4 validation digits per class: the mean of the per-class accuracies is the overall accuracy.
    assert np.mean(list(per_class.values())) == pytest.approx(m["val_accuracy"])
    assert np.sum(m["confusion_matrix"]) == 40
    assert np.trace(m["confusion_matrix"]) == round(m["val_accuracy"] * 40)


def test_evaluate_agrees_with_training_scores(toy_run, tmp_path):
    m = toy_run["metrics"]
    out = tmp_path / "eval"
    code, stdout, stderr = run(["evaluate", "--weights", str(toy_run["out"] / "weights.npz"),
                                "--data", toy_run["data"], "--out", str(out)])
    assert code == 0, stderr
    e = json.loads((out / "metrics.json").read_text())
    expected = (m["train_accuracy"] * 160 + m["val_accuracy"] * 40) / 200      # same weights, all 200 samples
    assert e["accuracy"] == pytest.approx(expected)
    assert "accuracy: " in stdout
    for name in FIGURES[1:]:
        assert_png(out / name)
    assert not (out / "curves.png").exists()


def test_evaluate_rejects_weights_of_another_shape(toy_run, tmp_path):
    cli.seed_model(64, 10).save_weights(tmp_path / "w64.npz")                  # e.g. trained on 8x8 digits
    code, _, stderr = run(["evaluate", "--weights", str(tmp_path / "w64.npz"), "--data", toy_run["data"],
                           "--out", str(tmp_path / "e")])
    assert code == 1
    assert_one_error_line(stderr, "cannot be loaded into the seed model", "(400, 25)")
    code, _, stderr = run(["evaluate", "--weights", str(tmp_path / "none.npz"), "--data", toy_run["data"],
                           "--out", str(tmp_path / "e")])
    assert code == 1
    assert_one_error_line(stderr, "none.npz")


def test_train_without_arguments_uses_builtin_digits(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, stdout, stderr = run(["train", "--epochs", "2"])
    assert code == 0, stderr
    assert stdout.splitlines()[0].startswith("data: scikit-learn's built-in 8x8 digits")
    assert "1797 samples" in stdout.splitlines()[0]
    runs = os.listdir(tmp_path / "runs")
    assert len(runs) == 1                                                     # runs/<timestamp>/
    m = json.loads((tmp_path / "runs" / runs[0] / "metrics.json").read_text())
    assert m["dataset"]["name"] == "sklearn-digits" and m["dataset"]["image_shape"] == [8, 8]
    assert m["train_samples"] + m["val_samples"] == 1797
    for name in FIGURES:
        assert_png(tmp_path / "runs" / runs[0] / name)


def test_train_finds_data_ex3data1_in_current_folder(tmp_path, monkeypatch):
    (tmp_path / "Data").mkdir()
    write_toy_mat(tmp_path / "Data" / "ex3data1.mat", per_class=5)
    monkeypatch.chdir(tmp_path)
    code, stdout, stderr = run(["train", "--epochs", "1", "--out", "o"])
    assert code == 0, stderr
    assert stdout.splitlines()[0].startswith(f"data: {os.path.join('Data', 'ex3data1.mat')}")
    assert "50 samples" in stdout.splitlines()[0]


def write_idx(path, array, magic):
    array = np.asarray(array, dtype=np.uint8)
    raw = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape) + array.tobytes()
    with open(path, "wb") as fh:
        fh.write(gzip.compress(raw) if str(path).endswith(".gz") else raw)


def test_train_on_mnist_idx_finds_labels_beside_images(tmp_path):
    X, labels = toy_digits(per_class=6, side=12)
    images = (X.reshape(-1, 12, 12).transpose(0, 2, 1) * 255).astype(np.uint8)   # upright, row-major
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", images, 2051)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels, 2049)               # uncompressed beside .gz
    code, stdout, stderr = run(["train", "--data", str(tmp_path / "train-images-idx3-ubyte.gz"), "--epochs", "1",
                                "--out", str(tmp_path / "o")])
    assert code == 0, stderr
    assert "MNIST IDX" in stdout.splitlines()[0] and "60 samples of 12x12 images" in stdout.splitlines()[0]
    assert cli.find_labels_file(str(tmp_path / "train-images-idx3-ubyte.gz")) == str(
        tmp_path / "train-labels-idx1-ubyte")
    (tmp_path / "train-labels-idx1-ubyte").unlink()
    code, _, stderr = run(["train", "--data", str(tmp_path / "train-images-idx3-ubyte.gz"), "--epochs", "1",
                           "--out", str(tmp_path / "o2")])
    assert code == 1
    assert_one_error_line(stderr, "no labels file", "train-labels-idx1-ubyte")


@pytest.mark.parametrize("make, fragment", [
    (lambda d: str(d / "missing.mat"), "no such file"),
    (lambda d: (d / "notes.txt").write_text("hello\n" * 50) and str(d / "notes.txt"), "not a readable MAT file"),
    (lambda d: str(d), "is a folder"),
    (lambda d: scipy.io.savemat(d / "nox.mat", {"y": np.ones((3, 1))}) or str(d / "nox.mat"), "no variable 'X'"),
])
def test_bad_data_gives_one_error_line(tmp_path, make, fragment):
    path = make(tmp_path)
    code, stdout, stderr = run(["train", "--data", path, "--epochs", "1", "--out", str(tmp_path / "o")])
    assert code == 1
    assert_one_error_line(stderr, fragment)
    assert stdout == ""
    assert not (tmp_path / "o").exists()                                        # nothing written


@pytest.mark.parametrize("argv", [
    [], ["fly"], ["train", "--epochs", "0"], ["train", "--epochs", "x"], ["train", "--validation", "1.5"],
    ["train", "--validation", "0"], ["train", "--learning-rate", "-1"], ["train", "--batch-size", "0"],
    ["train", "--seed", "-3"], ["evaluate", "--data", "d.mat"], ["evaluate", "--weights", "w.npz"],
])
def test_usage_errors_exit_2(argv):
    code, stdout, stderr = run(argv)
    assert code == 2
    assert "error:" in stderr and "Traceback" not in stderr


def test_out_that_is_a_file_is_an_error(tmp_path):
    (tmp_path / "taken").write_text("x")
    code, _, stderr = run(["train", "--epochs", "1", "--out", str(tmp_path / "taken")])
    assert code == 1
    assert_one_error_line(stderr, "is not a folder")


def _on_optimizer_step(monkeypatch, step: int, action) -> dict:
    """Make Adam call ``action()`` at the start of its ``step``-th update; returns the live step counter."""
    steps = {"n": 0}
    original = Adam.update

    def update(self, params, grads, segments=None):
        steps["n"] += 1
        if steps["n"] == step:
            action()
        original(self, params, grads, segments)

    monkeypatch.setattr(Adam, "update", update)
    return steps


def test_ctrl_c_during_training_still_reports(tmp_path, monkeypatch):
    data = write_toy_mat(tmp_path / "toy.mat")
    def interrupt():
        raise KeyboardInterrupt

    _on_optimizer_step(monkeypatch, 8, interrupt)  # 160 training samples / batch 32 = 5 steps per epoch: epoch 2
    out = tmp_path / "out"
    code, stdout, stderr = run(["train", "--data", data, "--epochs", "3", "--out", str(out)])
    assert code == 130, stderr
    assert "training interrupted after 1 of 3 epochs" in stdout
    assert "validation accuracy: " in stdout                                   # still evaluated
    m = json.loads((out / "metrics.json").read_text())
    assert m["interrupted"] is True and m["epochs_completed"] == 1 and len(m["history"]["loss"]) == 1
    for name in FIGURES:
        assert_png(out / name)
    assert (out / "weights.npz").is_file()


def test_real_sigint_stops_after_the_step_and_reports(tmp_path, monkeypatch):
    """The same through fit's own Ctrl-C handling: SIGINT mid-epoch, fit finishes the step, then raises."""
    data = write_toy_mat(tmp_path / "toy.mat", per_class=5)       # 40 training samples: 2 steps per epoch
    steps = _on_optimizer_step(monkeypatch, 3, lambda: signal.raise_signal(signal.SIGINT))
    out = tmp_path / "out"
    code, stdout, stderr = run(["train", "--data", data, "--epochs", "4", "--out", str(out)])
    assert code == 130, stderr
    assert "training interrupted after 1 of 4 epochs" in stdout
    assert steps["n"] == 3                                          # no step after the interrupted one
    m = json.loads((out / "metrics.json").read_text())
    assert m["epochs_completed"] == 1 and m["interrupted"] is True
    assert (out / "weights.npz").is_file()


def test_divergence_is_a_one_line_error(tmp_path):
    data = write_toy_mat(tmp_path / "toy.mat", per_class=5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, _, stderr = run(["train", "--data", data, "--epochs", "3", "--learning-rate", "1e30",
                               "--out", str(tmp_path / "o")])
    assert code == 1
    assert_one_error_line(stderr, "--learning-rate was 1e+30")
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]   # no NumPy overflow noise


def test_python_dash_m_tinynet(tmp_path):
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-m", "tinynet", "train", "--data", str(tmp_path / "nope.mat")],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 1
    assert_one_error_line(proc.stderr, "nope.mat", "no such file")
    proc = subprocess.run([sys.executable, "-m", "tinynet", "--help"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0 and "train" in proc.stdout and "evaluate" in proc.stdout


def test_real_digits_reach_88_percent_validation_accuracy(digits, tmp_path):
    """The issue's acceptance run: 40 epochs, stratified 20% validation, on the shared 20x20 digits."""
    out = tmp_path / "real"
    code, stdout, stderr = run(["train", "--data", os.environ["TINYNET_DIGITS"], "--epochs", "40",
                                "--validation", "0.2", "--out", str(out)])
    assert code == 0, stderr
    m = json.loads((out / "metrics.json").read_text())
    assert m["val_samples"] == 1000 and m["dataset"]["samples"] == len(digits[1])
    assert m["val_accuracy"] >= 0.88, f"validation accuracy {m['val_accuracy']:.4f} < 0.88"


# -- export: to a Keras .keras file ------------------------------------------------------------------------
def test_export_writes_a_keras_file_that_predicts_as_the_weights_do(toy_run, tmp_path):
    from tests._tf_helpers import import_tf
    _, keras = import_tf()
    from tinynet import load_model

    out = tmp_path / "model.keras"
    code, stdout, err = run(["export", "--weights", str(toy_run["out"] / "weights.npz"), "--out", str(out)])
    assert code == 0, err
    assert "wrote" in stdout and "3 layers" in stdout and "compiled" in stdout
    exported = keras.saving.load_model(out)
    model = cli.seed_model(400, 10)
    model.load_weights(toy_run["out"] / "weights.npz")
    X, _ = toy_digits(per_class=3)
    np.testing.assert_allclose(exported.predict(X, verbose=0), model.predict(X), rtol=1e-5, atol=1e-6)
    assert [w.shape for w in exported.get_weights()] == [w.shape for w in model.get_weights()]

    saved = tmp_path / "whole.npz"                  # a file of model.save exports as it was saved
    model.save(saved)
    code, _, err = run(["export", "--weights", str(saved), "--out", str(tmp_path / "whole.keras")])
    assert code == 0, err
    again = keras.saving.load_model(tmp_path / "whole.keras")
    np.testing.assert_allclose(again.predict(X, verbose=0), load_model(saved).predict(X), rtol=1e-5, atol=1e-6)
    assert sorted(os.listdir(tmp_path)) == ["model.keras", "whole.keras", "whole.npz"]     # no scratch left


@pytest.mark.parametrize("argv, fragments", [
    (["--out", "model.h5"], ["--out", "ending in .keras", "model.h5"]),
    (["--out", "nope/model.keras"], ["--out", "does not exist"]),
    (["--weights", "missing.npz", "--out", "m.keras"], ["--weights", "no such file"]),
])
def test_export_refuses_bad_arguments_in_one_line(toy_run, tmp_path, monkeypatch, argv, fragments):
    monkeypatch.chdir(tmp_path)
    args = {"--weights": str(toy_run["out"] / "weights.npz"), **dict(zip(argv[::2], argv[1::2], strict=True))}
    code, _, err = run(["export", *[x for kv in args.items() for x in kv]])
    assert code == 1
    assert_one_error_line(err, *fragments)
    assert os.listdir(tmp_path) == []


def test_export_of_a_file_that_is_not_the_seed_model_names_the_shapes(tmp_path):
    weights = tmp_path / "w.npz"
    np.savez(weights, **{"000/dense/kernel": np.zeros((3, 2), np.float32)})
    code, _, err = run(["export", "--weights", str(weights), "--out", str(tmp_path / "m.keras")])
    assert code == 1
    assert_one_error_line(err, "--weights", "seed model's six arrays", "(3, 2)")
