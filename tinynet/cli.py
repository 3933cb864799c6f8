"""The ``tinynet`` command (also ``python -m tinynet``): the seed blog's digit recogniser from one command.

    tinynet train [--data PATH] [--epochs 40] [--batch-size 32] [--learning-rate 0.001] [--validation 0.2]
                  [--seed 0] [--out DIR]
    tinynet evaluate --weights W --data D [--out DIR]

``train`` loads the digits (``--data``, else ``./Data/ex3data1.mat``, else scikit-learn's built-in 8x8 digits),
holds out a stratified validation part, trains the seed model (Dense 25 relu, 15 relu, classes linear; Adam;
sparse cross-entropy from logits), and writes ``weights.npz``, ``metrics.json`` and PNG figures into ``--out``
(default ``runs/<timestamp>/``). Ctrl-C stops training early; the model as it is still gets evaluated and
reported, and the exit code is then 130. Errors print one ``error: ...`` line and exit with 1 (2 for usage).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
from dataclasses import dataclass

import numpy as np

from . import __version__, datasets, report
from ._io import NpzReader, atomic_write
from .keras_interop import to_keras
from .layers import Dense
from .losses import SparseCategoricalCrossentropy
from .models import DivergenceError, Sequential
from .optimizers import Adam

__all__ = ["main", "load_data", "find_labels_file", "seed_model"]

DEFAULT_MAT = os.path.join("Data", "ex3data1.mat")
EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


@dataclass
class Data:
    """Loaded digits plus what the report needs to know about them."""

    X: np.ndarray            # (n, features) float32
    y: np.ndarray            # (n,) int64
    name: str                # "ex3data1", "mnist-idx" or "sklearn-digits"
    path: str | None         # file read, None for the built-in set
    origin: str              # one phrase for the first output line
    image_shape: tuple[int, int] | None
    order: str               # "F" (column-major, ex3data1) or "C" (row-major)

    def images(self, X: np.ndarray) -> np.ndarray | None:
        """Upright images (n, h, w) for rows of ``X``, or None when the rows are not square images."""
        return None if self.image_shape is None else datasets.to_images(X, self.image_shape, self.order)

    @property
    def title(self) -> str:
        """A short name for figure titles: the file name, or "scikit-learn 8x8 digits"."""
        return os.path.basename(self.path) if self.path else "scikit-learn 8x8 digits"

    def summary(self) -> str:
        n, d = self.X.shape
        pixels = f"{self.image_shape[0]}x{self.image_shape[1]} images" if self.image_shape else f"{d} features"
        return f"data: {self.origin}: {n} samples of {pixels}, {len(np.unique(self.y))} classes"


# -- data --------------------------------------------------------------------------------------------------
def find_labels_file(images_path: str) -> str:
    """The labels file beside an MNIST images file: ``*-images-idx3-ubyte[.gz]`` -> ``*-labels-idx1-ubyte[.gz]``.

    Also handles the ``images.idx3-ubyte`` spelling; a compressed and an uncompressed labels file are both
    accepted. Raises ValueError listing the names tried.
    """
    folder, base = os.path.split(images_path)
    labels = base.replace("images", "labels").replace("idx3", "idx1")
    stem = labels[:-3] if labels.endswith(".gz") else labels
    candidates = [labels] + [c for c in (stem, stem + ".gz") if c != labels]
    if labels == base:
        raise ValueError(f"{images_path!r}: cannot derive a labels file name; expected an MNIST images file named "
                         "like train-images-idx3-ubyte[.gz]")
    for name in candidates:
        if os.path.isfile(os.path.join(folder, name)):
            return os.path.join(folder, name)
    raise ValueError(f"{images_path!r}: no labels file beside it; looked for "
                     f"{', '.join(repr(os.path.join(folder, c)) for c in candidates)}")


def _square(d: int) -> tuple[int, int] | None:
    side = int(round(d ** 0.5))
    return (side, side) if side * side == d else None


def load_data(path: str | None = None) -> Data:
    """Find and load the digits: ``path`` (a .mat file in ex3data1 layout or an MNIST images IDX file), else
    ``./Data/ex3data1.mat`` if it exists, else scikit-learn's built-in 8x8 digits."""
    if path is None:
        if os.path.isfile(DEFAULT_MAT):
            X, y = datasets.load_ex3data1(DEFAULT_MAT)
            return Data(X, y, "ex3data1", DEFAULT_MAT, f"{DEFAULT_MAT} (found in the current folder)",
                        _square(X.shape[1]), "F")
        X, y = datasets.load_digits()
        return Data(X, y, "sklearn-digits", None,
                    f"scikit-learn's built-in 8x8 digits (no --data given and no ./{DEFAULT_MAT})", (8, 8), "C")
    if not os.path.exists(path):
        raise ValueError(f"--data {path!r}: no such file")
    if os.path.isdir(path):
        raise ValueError(f"--data {path!r} is a folder; expected a .mat file in ex3data1 layout or an MNIST "
                         "images IDX file")
    base = os.path.basename(path).lower()
    if "idx1-ubyte" in base:
        raise ValueError(f"--data {path!r} looks like an MNIST labels file; pass the images file "
                         "(*-images-idx3-ubyte[.gz]) and keep the labels file beside it")
    if "idx3-ubyte" in base:
        labels = find_labels_file(path)
        X, y = datasets.load_mnist_idx(path, labels)
        return Data(X, y, "mnist-idx", path, f"{path} (MNIST IDX, labels from {os.path.basename(labels)})",
                    _square(X.shape[1]), "C")
    try:
        X, y = datasets.load_ex3data1(path)
    except ValueError as exc:
        if base.endswith(".mat"):
            raise
        raise ValueError(f"{exc}; --data expects a .mat file in ex3data1 layout or an MNIST images IDX file "
                         "(*-images-idx3-ubyte[.gz])") from exc
    return Data(X, y, "ex3data1", path, f"{path} (ex3data1 layout)", _square(X.shape[1]), "F")


def _num_classes(y: np.ndarray) -> int:
    # Digits: always 10 outputs, so weights from one data set load for any other of the same image size.
    return max(10, int(y.max()) + 1)


def seed_model(n_features: int, n_classes: int = 10, seed=0, learning_rate: float = 0.001) -> Sequential:
    """The seed blog's model: Dense 25 relu, Dense 15 relu, Dense ``n_classes`` linear; compiled with
    SparseCategoricalCrossentropy(from_logits=True), Adam(learning_rate) and accuracy."""
    model = Sequential([Dense(25, activation="relu", input_shape=(n_features,)),
                        Dense(15, activation="relu"),
                        Dense(n_classes, activation="linear")], seed=seed)
    model.compile(loss=SparseCategoricalCrossentropy(from_logits=True), optimizer=Adam(learning_rate=learning_rate),
                  metrics=["accuracy"])
    return model


# -- output ------------------------------------------------------------------------------------------------
def _make_out_dir(out: str | None) -> str:
    if out is not None:
        if os.path.exists(out) and not os.path.isdir(out):
            raise ValueError(f"--out {out!r} exists and is not a folder")
        os.makedirs(out, exist_ok=True)
        return out
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    for k in range(1, 1000):
        candidate = os.path.join("runs", stamp if k == 1 else f"{stamp}-{k}")
        try:
            os.makedirs(candidate)
            return candidate
        except FileExistsError:
            continue
    raise ValueError(f"could not create a fresh folder runs/{stamp}*; pass --out")


def _write_json(path: str, payload: dict) -> None:
    """JSON to a temporary file in the same folder, then ``os.replace`` onto ``path``."""
    text = json.dumps(payload, indent=2) + "\n"
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))


def _scores(model: Sequential, X: np.ndarray, y: np.ndarray, n_classes: int) -> dict:
    """Loss, accuracy, per-class accuracy (None for absent classes), probabilities and confusion matrix."""
    loss, accuracy = model.evaluate(X, y)
    probs = report.softmax(model.predict(X))
    pred = probs.argmax(axis=1)
    per_class = {str(c): (float(np.mean(pred[y == c] == c)) if np.any(y == c) else None) for c in range(n_classes)}
    return {"loss": float(loss), "accuracy": float(accuracy), "per_class": per_class, "probs": probs,
            "confusion": report.confusion_matrix(y, pred, n_classes).tolist()}


def _per_class_line(per_class: dict) -> str:
    return "  ".join(f"{c}: {'-' if a is None else f'{a:.1%}'}" for c, a in per_class.items())


def _dataset_info(data: Data) -> dict:
    return {"name": data.name, "path": None if data.path is None else os.path.abspath(data.path),
            "samples": int(data.X.shape[0]), "features": int(data.X.shape[1]),
            "classes": int(len(np.unique(data.y))),
            "image_shape": None if data.image_shape is None else list(data.image_shape)}


# -- commands ----------------------------------------------------------------------------------------------
def _train(args) -> int:
    data = load_data(args.data)
    print(data.summary(), flush=True)
    X_train, X_val, y_train, y_val = datasets.train_test_split(data.X, data.y, test_size=args.validation,
                                                               stratify=True, seed=args.seed)
    out = _make_out_dir(args.out)
    n_classes = _num_classes(data.y)
    model = seed_model(data.X.shape[1], n_classes, seed=args.seed, learning_rate=args.learning_rate)
    print(f"model: Dense {data.X.shape[1]}->25 relu, 25->15 relu, 15->{n_classes} linear "
          f"({model.count_params()} parameters); Adam(learning_rate={args.learning_rate}), batch size "
          f"{args.batch_size}; training on {len(y_train)}, validating on {len(y_val)} (stratified)", flush=True)
    interrupted = False
    try:
        # Overflow on the way to divergence would print NumPy warnings; fit's divergence guard reports it instead.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            model.fit(X_train, y_train, batch_size=args.batch_size, epochs=args.epochs, verbose=2,
                      validation_data=(X_val, y_val))
    except KeyboardInterrupt:
        interrupted = True
    except DivergenceError as exc:
        raise ValueError(f"{exc} (--learning-rate was {args.learning_rate:g})") from exc
    history = model.history.history if model.history is not None else {}
    done = len(model.history.epoch) if model.history is not None else 0
    if interrupted:
        print(f"training interrupted after {done} of {args.epochs} epochs; evaluating and reporting the model "
              "as it is", flush=True)

    train, val = _scores(model, X_train, y_train, n_classes), _scores(model, X_val, y_val, n_classes)
    print(f"train accuracy: {train['accuracy']:.2%} ({len(y_train)} samples, loss {train['loss']:.4f})")
    print(f"validation accuracy: {val['accuracy']:.2%} ({len(y_val)} samples, loss {val['loss']:.4f})")
    print(f"per-class validation accuracy: {_per_class_line(val['per_class'])}", flush=True)

    model.save_weights(os.path.join(out, "weights.npz"))
    figures = report.write_figures(out, data.images(X_val), y_val, val["probs"], history=history,
                                   rng=np.random.default_rng(args.seed), dataset=data.title)
    if data.image_shape is not None:
        first = model.layers[0]
        dead = np.flatnonzero((first(X_train) == 0).all(axis=0))     # off for every training digit
        figures["weights"] = report.plot_weights(first.kernel, os.path.join(out, "weights.png"), data.image_shape,
                                                 data.order, dead=dead, title=f"First-layer weights ({data.title})")
    metrics = {
        "command": "train", "tinynet_version": __version__,
        "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "dataset": _dataset_info(data),
        "model": {"units": [int(data.X.shape[1]), 25, 15, n_classes],
                  "activations": ["relu", "relu", "linear"], "parameters": model.count_params()},
        "epochs": args.epochs, "epochs_completed": done, "interrupted": interrupted,
        "batch_size": args.batch_size, "learning_rate": args.learning_rate, "validation": args.validation,
        "seed": args.seed, "train_samples": len(y_train), "val_samples": len(y_val),
        "train_loss": train["loss"], "train_accuracy": train["accuracy"],
        "val_loss": val["loss"], "val_accuracy": val["accuracy"],
        "per_class_accuracy": val["per_class"], "train_per_class_accuracy": train["per_class"],
        "confusion_matrix": val["confusion"],
        "history": history,
        "files": {"weights": "weights.npz", **{k: os.path.basename(v) for k, v in figures.items()}},
    }
    _write_json(os.path.join(out, "metrics.json"), metrics)
    print(f"wrote {out}{os.sep}: weights.npz, metrics.json, "
          f"{', '.join(os.path.basename(p) for p in figures.values())}", flush=True)
    return EXIT_INTERRUPTED if interrupted else 0


def _evaluate(args) -> int:
    data = load_data(args.data)
    print(data.summary(), flush=True)
    n_classes = _num_classes(data.y)
    model = seed_model(data.X.shape[1], n_classes)
    if not os.path.isfile(args.weights):
        raise ValueError(f"--weights {args.weights!r}: no such file")
    try:
        model.load_weights(args.weights)
    except ValueError as exc:
        raise ValueError(f"--weights {args.weights!r}: cannot be loaded into the seed model for this data "
                         f"({data.X.shape[1]} inputs, {n_classes} classes): {exc}") from exc
    out = _make_out_dir(args.out)
    scores = _scores(model, data.X, data.y, n_classes)
    print(f"accuracy: {scores['accuracy']:.2%} ({len(data.y)} samples, loss {scores['loss']:.4f})")
    print(f"per-class accuracy: {_per_class_line(scores['per_class'])}", flush=True)
    figures = report.write_figures(out, data.images(data.X), data.y, scores["probs"],
                                   rng=np.random.default_rng(0), label="evaluation", dataset=data.title)
    metrics = {
        "command": "evaluate", "tinynet_version": __version__,
        "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "dataset": _dataset_info(data), "weights": os.path.abspath(args.weights),
        "samples": len(data.y), "loss": scores["loss"], "accuracy": scores["accuracy"],
        "per_class_accuracy": scores["per_class"], "confusion_matrix": scores["confusion"],
        "files": {k: os.path.basename(v) for k, v in figures.items()},
    }
    _write_json(os.path.join(out, "metrics.json"), metrics)
    print(f"wrote {out}{os.sep}: metrics.json, {', '.join(os.path.basename(p) for p in figures.values())}",
          flush=True)
    return 0


def _model_for_export(path: str) -> Sequential:
    """The model a file holds: a whole model (``model.save``) as it was saved, or the seed model around a
    ``weights.npz`` of ``tinynet train``, its input and output sizes read from the file's headers."""
    from .saving import load_model

    if not os.path.isfile(path):
        raise ValueError(f"--weights {path!r}: no such file")
    with NpzReader(path) as npz:
        shapes = [m.shape for m in npz.members.values()]
        whole = "config.json" in npz.members
    if whole:
        return load_model(path)
    if len(shapes) != 6 or any(len(s) != 2 for s in shapes[0::2]):
        raise ValueError(f"--weights {path!r}: expected the seed model's six arrays (three kernels and biases) as "
                         f"tinynet train writes them, or a file written by model.save; the file holds shapes {shapes}")
    model = seed_model(shapes[0][0], shapes[-2][1])
    try:
        model.load_weights(path)
    except ValueError as exc:
        raise ValueError(f"--weights {path!r}: cannot be loaded into the seed model: {exc}") from exc
    return model


def _export(args) -> int:
    if not args.out.endswith(".keras"):
        raise ValueError(f"--out: expected a path ending in .keras (Keras's model file), received {args.out!r}")
    folder = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(folder):
        raise ValueError(f"--out {args.out!r}: the folder {folder!r} does not exist")
    model = _model_for_export(args.weights)
    keras_model = to_keras(model)                   # TensorFlow is imported here, for this command only
    with tempfile.TemporaryDirectory(dir=folder, prefix=".tinynet-export-") as scratch:
        saved = os.path.join(scratch, "model.keras")           # Keras writes it; we move it into place atomically
        keras_model.save(saved)
        with open(saved, "rb") as fh:
            contents = fh.read()
    atomic_write(args.out, lambda fh: fh.write(contents))
    print(f"wrote {args.out}: a keras.Sequential of {len(keras_model.layers)} layers, "
          f"{keras_model.count_params()} parameters" + (", compiled" if model.compiled else ""), flush=True)
    return 0


# -- argument parsing --------------------------------------------------------------------------------------
def _number(convert, what: str, accept):
    """An argparse ``type``: ``convert(text)``, refused with a one-line message unless ``accept(value)``."""
    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"expected {what}, received {text!r}")
        return value
    return parse


_positive_int = _number(int, "a positive integer", lambda v: v >= 1)
_non_negative_int = _number(int, "a non-negative integer", lambda v: v >= 0)
_positive_float = _number(float, "a positive number", lambda v: bool(np.isfinite(v)) and v > 0)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, received {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1 (exclusive), received {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tinynet", description="Train and evaluate the seed digit recogniser "
                                     "(400-25-15-10 Dense) with tinynet.")
    parser.add_argument("--version", action="version", version=f"tinynet {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{train,evaluate,export}")

    train = commands.add_parser("train", help="train the seed model and write weights, metrics and figures",
                                description="Train the seed model on the digits and write weights.npz, "
                                "metrics.json and PNG figures.")
    train.add_argument("--data", metavar="PATH", help="a .mat file in ex3data1 layout, or an MNIST images IDX file "
                       "with its labels file beside it (default: ./Data/ex3data1.mat if present, else "
                       "scikit-learn's built-in 8x8 digits)")
    train.add_argument("--epochs", type=_positive_int, default=40, help="passes over the training part (40)")
    train.add_argument("--batch-size", type=_positive_int, default=32, help="samples per step (32)")
    train.add_argument("--learning-rate", type=_positive_float, default=0.001, help="Adam's step size (0.001)")
    train.add_argument("--validation", type=_fraction, default=0.2,
                       help="fraction held out for validation, stratified by class (0.2)")
    train.add_argument("--seed", type=_non_negative_int, default=0,
                       help="seed for the split, the initial weights and the shuffles (0)")
    train.add_argument("--out", metavar="DIR", help="output folder (default: runs/<timestamp>/)")

    evaluate = commands.add_parser("evaluate", help="evaluate saved weights on a data set and write figures",
                                   description="Rebuild the seed model for the data, load weights, report "
                                   "accuracy and write metrics.json and PNG figures.")
    evaluate.add_argument("--weights", metavar="W", required=True, help="a weights.npz written by tinynet train")
    evaluate.add_argument("--data", metavar="D", required=True,
                          help="a .mat file in ex3data1 layout or an MNIST images IDX file")
    evaluate.add_argument("--out", metavar="DIR", help="output folder (default: runs/<timestamp>/)")

    export = commands.add_parser("export", help="write saved weights or a saved model as a Keras .keras file",
                                 description="Convert a weights.npz of tinynet train (the seed model) or a file "
                                 "of model.save into a Keras model file. Needs TensorFlow: pip install "
                                 "'tinynet[keras]'.")
    export.add_argument("--weights", metavar="W", required=True,
                        help="a weights.npz written by tinynet train, or a model file written by model.save")
    export.add_argument("--out", metavar="PATH", required=True, help="the .keras file to write")
    return parser


def main(argv=None) -> int:
    """Run the ``tinynet`` command with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed usage and its message (or --help)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return {"train": _train, "evaluate": _evaluate, "export": _export}[args.command](args)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ValueError, TypeError, OSError, ImportError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_ERROR
