"""PNG figures that show what a digit model learned: training curves, sample predictions, confusion matrix, the
most confidently wrong digits, first-layer weights, and the computational graph of one forward and backward pass.

Figures are drawn with Matplotlib's Agg canvas directly (no ``pyplot``, no global backend switch, nothing kept
alive after saving) and written atomically: a temporary file in the target folder, then ``os.replace``.
"""

from __future__ import annotations

import os

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ._io import atomic_write, output_path
from ._validation import class_labels, describe
from .inspect import inspect_batch
from .layers import Dense
from .models import Sequential

__all__ = ["plot_history", "plot_predictions", "plot_confusion", "plot_confident_mistakes", "plot_weights",
           "plot_computational_graph", "softmax", "write_figures"]

_RED = "#d62728"
_BLUE = "#1f4e99"
_DPI = 100


def softmax(logits) -> np.ndarray:
    """Row-wise probabilities from logits of shape (n, classes), with the max shift; float64."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def plot_history(history, path, title: str = "Training") -> str:
    """Loss and accuracy per epoch, training and validation, side by side.

    history : dict of lists (``History.history``) with ``loss`` and optionally ``accuracy``, ``val_loss``,
        ``val_accuracy``; one value per epoch.
    """
    if not isinstance(history, dict) or not history.get("loss"):
        raise ValueError(f"history: expected a dict with a non-empty 'loss' list, received {describe(history)}")
    epochs = np.arange(1, len(history["loss"]) + 1)
    marker = "o" if len(epochs) <= 15 else None
    fig = _figure(11, 4.2)
    panels = [("loss", "Loss (cross-entropy)", "loss"), ("accuracy", "Accuracy", "accuracy")]
    for i, (key, ylabel, name) in enumerate(panels):
        ax = fig.add_subplot(1, 2, i + 1)
        for prefix, label, style in (("", "training", "-"), ("val_", "validation", "--")):
            values = history.get(prefix + key)
            if values:
                ax.plot(epochs[:len(values)], values, style, marker=marker, label=f"{label} {name}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{ylabel} per epoch")
        ax.grid(True, alpha=0.3)
        if ax.lines:
            ax.legend()
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.suptitle(title)
    return _save(fig, path)


def plot_predictions(images, y_true, y_pred, path, *, rng, count: int = 40, columns: int = 8,
                     title: str = "Random validation digits") -> str:
    """A grid of randomly chosen digits titled with predicted and true labels; mistakes in red with a red frame.

    images : array of shape (n, h, w), upright (see :func:`tinynet.datasets.to_images`).
    y_true, y_pred : int arrays of shape (n,).
    rng : numpy.random.Generator choosing which ``min(count, n)`` digits to show.
    """
    images, y_true = _images_and_labels(images, y_true)
    y_pred = class_labels(y_pred, "y_pred", n=len(y_true))
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: expected a numpy.random.Generator, received {describe(rng)}")
    pick = np.sort(rng.choice(len(y_true), size=min(count, len(y_true)), replace=False))
    wrong = int(np.count_nonzero(y_pred[pick] != y_true[pick]))
    labels = []
    for i in pick:
        ok = y_pred[i] == y_true[i]
        labels.append((f"pred {y_pred[i]}, true {y_true[i]}", None if ok else _RED))
    header = (f"{title}: {len(pick)} of {len(y_true)}, {wrong} wrong "
              f"({'red' if wrong else 'none'})")
    fig = _digit_grid(images[pick], labels, columns, header)
    return _save(fig, path)


def plot_confusion(y_true, y_pred, path, num_classes: int | None = None, title: str = "Confusion matrix") -> str:
    """Counts of (true, predicted) label pairs as an annotated heat map; the diagonal holds the correct ones."""
    y_true = class_labels(y_true, "y_true")
    y_pred = class_labels(y_pred, "y_pred", n=len(y_true))
    k = int(max(y_true.max(), y_pred.max())) + 1 if num_classes is None else int(num_classes)
    matrix = confusion_matrix(y_true, y_pred, k)
    accuracy = np.trace(matrix) / max(1, matrix.sum())
    fig = _figure(max(5.5, 0.6 * k + 1.5), max(5.0, 0.6 * k + 1.0))
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(matrix, cmap="Blues", vmin=0)
    fig.colorbar(image, ax=ax, label="samples")
    threshold = matrix.max() / 2 if matrix.max() else 1
    for t in range(k):
        for p in range(k):
            count = matrix[t, p]
            color = "white" if count > threshold else (_RED if t != p and count else "black")
            ax.text(p, t, str(count), ha="center", va="center", fontsize=9, color=color)
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(f"{title}\naccuracy {accuracy:.1%} of {matrix.sum()} digits")
    return _save(fig, path)


def plot_confident_mistakes(images, y_true, probs, path, count: int = 24, columns: int = 8,
                            title: str = "Most confidently wrong digits") -> str:
    """The wrongly classified digits the model was surest about, by predicted-class probability, highest first.

    images : (n, h, w) upright images; y_true : (n,) labels; probs : (n, classes) predicted probabilities.
    """
    images, y_true = _images_and_labels(images, y_true)
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] != len(y_true):
        raise ValueError(f"probs: expected shape ({len(y_true)}, classes), received {describe(probs)}")
    y_pred = probs.argmax(axis=1)
    confidence = probs[np.arange(len(y_pred)), y_pred]
    wrong = np.flatnonzero(y_pred != y_true)
    worst = wrong[np.argsort(-confidence[wrong], kind="stable")][:count]
    if worst.size == 0:
        fig = _figure(6, 2)
        fig.text(0.5, 0.5, f"{title}:\nno mistakes on these {len(y_true)} digits", ha="center", va="center",
                 fontsize=12)
        return _save(fig, path)
    labels = [(f"pred {y_pred[i]} (p={confidence[i]:.3f})\ntrue {y_true[i]}", _RED) for i in worst]
    header = f"{title}: {worst.size} of {wrong.size} mistakes (out of {len(y_true)} digits)"
    return _save(_digit_grid(images[worst], labels, columns, header, two_lines=True), path)


def plot_weights(kernel, path, image_shape, order: str = "F", dead=None, columns: int = 5,
                 title: str = "First-layer weights") -> str:
    """Each first-layer unit's incoming weights (a column of ``kernel``) drawn as an image of the input.

    kernel : (pixels, units) array, ``model.layers[0].kernel``; pixels must equal ``h * w``.
    image_shape : ``(h, w)``; order : ``"F"`` for ex3data1 (column-major pixels), ``"C"`` for MNIST.
    dead : indices of units to mark as dead (a red frame and "dead" in the title), e.g.
        ``inspect_batch(...).dead_relu[name].dead_units``. Colours: red positive, blue negative, one symmetric
        scale for all units, so their sizes compare.
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.ndim != 2:
        raise ValueError(f"kernel: expected a (pixels, units) array, received {describe(kernel)}")
    if (not isinstance(image_shape, (tuple, list)) or len(image_shape) != 2
            or int(image_shape[0]) * int(image_shape[1]) != kernel.shape[0]):
        raise ValueError(f"image_shape: expected (h, w) with h * w = {kernel.shape[0]} pixels, received "
                         f"{image_shape!r}")
    if order not in ("F", "C"):
        raise ValueError(f"order: expected 'F' or 'C', received {order!r}")
    dead_set = {int(i) for i in (() if dead is None else np.asarray(dead).ravel())}
    units = kernel.shape[1]
    columns = max(1, min(int(columns), units))
    rows = -(-units // columns)
    fig = _figure(1.6 * columns + 1.0, 1.75 * rows + 0.6)
    limit = float(np.abs(kernel).max()) or 1.0
    image = None
    for j in range(units):
        ax = fig.add_subplot(rows, columns, j + 1)
        image = ax.imshow(kernel[:, j].reshape(image_shape, order=order), cmap="RdBu_r", vmin=-limit, vmax=limit,
                          interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        is_dead = j in dead_set
        ax.set_title(f"unit {j}" + (" (dead)" if is_dead else ""), fontsize=9, color=_RED if is_dead else "black")
        if is_dead:
            for spine in ax.spines.values():
                spine.set_edgecolor(_RED)
                spine.set_linewidth(2.5)
    fig.colorbar(image, ax=fig.axes, shrink=0.6, label="weight")
    marked = f", {len(dead_set)} dead (red)" if dead_set else ""
    fig.suptitle(f"{title}: {units} units{marked}")
    return _save(fig, path)


def plot_computational_graph(model, x, y, path) -> dict:
    """The computational graph of a stack of ``Dense`` layers on the batch ``(x, y)``, forward and backward.

    Nodes, left to right: ``X``; for each layer ``l``, ``Zl = A(l-1) Wl + bl`` and, unless the activation is
    linear, ``Al = g(Zl)``; then the loss ``L``. Above each ``Zl`` its parameters ``Wl`` and ``bl``. Under each
    node its forward value (shape, L2 norm, the first sample's first entry); on each edge, in red, the gradient
    flowing back along it (``dL/dZl``, ``dL/dAl``, ``dL/dWl``, ``dL/dbl``), summarised the same way.

    Every value comes from one forward and backward pass of the model itself
    (:func:`tinynet.inspect.inspect_batch`: ``compute_gradients`` with a ``Trace``); the weights and the
    optimizer are unchanged. ``model``: a compiled, built ``Sequential`` of ``Dense`` layers; ``x`` ``(N,
    features)``, ``y`` targets for its loss; ``path`` a PNG file in an existing folder.

    Returns the values drawn: ``{"X": x, "W1": ..., "b1": ..., "Z1": ..., "A1": ..., ..., "L": loss (float),
    "dL/dZ1": ..., "dL/dA1": ..., "dL/dW1": ..., "dL/db1": ..., ...}`` (arrays, copies).
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"model: expected a tinynet.Sequential, received {describe(model)}")
    others = [f"{layer.name!r} ({type(layer).__name__})" for layer in model.layers if not isinstance(layer, Dense)]
    if others or not model.layers:
        raise ValueError(f"model: expected a stack of Dense layers only, received a model with "
                         f"{', '.join(others) or 'no layers'}")
    path = output_path(path)
    model.require_compiled("plot_computational_graph")
    model.require_built("plot_computational_graph")
    xp, _ = model.prepare_data(x, y)
    info = inspect_batch(model, x, y)
    values, nodes, params = _graph_values(model, xp, info)
    fig = Figure(figsize=(2.6 * len(nodes) + 0.6, 6.4), dpi=_DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.0, 0.0, 1.0, 0.9))
    ax.set_axis_off()
    ax.set_xlim(-0.62, len(nodes) - 0.38)
    ax.set_ylim(-1.75, 1.95)
    for i, (key, formula) in enumerate(nodes):
        _graph_node(ax, i, 0.0, key, formula, values.get(key))
        if i + 1 < len(nodes):
            back = nodes[i][0]
            grad = values.get(f"dL/d{back}")
            text = f"dL/d{back}\n{_summary(grad)}" if grad is not None else f"dL/d{back}: not needed\n(the data)"
            _graph_edge(ax, i + 0.35, i + 0.65, 0.0, text)
    for i, weight, bias in params:
        for dx, key in ((-0.23, weight), (0.23, bias)) if bias is not None else ((0.0, weight),):
            _graph_node(ax, i + dx, 1.35, key, None, values[key], small=True)
            ax.annotate("", xy=(i + dx * 0.3, 0.2), xytext=(i + dx, 1.13),
                        arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.0})
            ax.text(i + dx * 1.9, 0.62, f"dL/d{key}\n{_summary(values['dL/d' + key])}", ha="center",
                    va="center", fontsize=7.5, color=_RED)
    n = xp.shape[0]
    fig.suptitle(f"Computational graph of {model.name} on a batch of {n}: forward values (black, under each "
                 f"node) and backward gradients (red, on the edges); loss {values['L']:.4f}", fontsize=12)
    _save(fig, path)
    return values


def _graph_values(model, x, info) -> tuple[dict, list[tuple[str, str]], list[tuple[int, str, str]]]:
    """``(values, [(node, formula)], [(node index, W name, b name)])`` of the graph from an ``Inspection``."""
    values = {"X": np.array(x)}
    nodes, params = [("X", "the input")], []
    below = "X"
    last = len(model.layers)
    for k, layer in enumerate(model.layers, start=1):
        name = layer.name
        weight, bias = f"W{k}", f"b{k}"
        values[weight] = np.array(layer.kernel)
        values[f"dL/d{weight}"] = np.array(info.param_grads[f"{name}/kernel"])
        if layer.use_bias:
            values[bias] = np.array(layer.bias)
            values[f"dL/d{bias}"] = np.array(info.param_grads[f"{name}/bias"])
        plus = f" + {bias}" if layer.use_bias else ""
        values[f"Z{k}"] = np.array(info.pre_activations[name])
        values[f"dL/dZ{k}"] = np.array(info.pre_activation_grads[name])
        nodes.append((f"Z{k}", f"{below} {weight}{plus}"))
        params.append((len(nodes) - 1, weight, bias if layer.use_bias else None))
        below = f"Z{k}"
        if layer.activation_name != "linear" and not (k == last and model.head.fused):
            values[f"A{k}"] = np.array(info.activations[name])
            values[f"dL/dA{k}"] = np.array(info.output_grads[name])
            nodes.append((f"A{k}", f"{layer.activation_name}(Z{k})"))
            below = f"A{k}"
    values["L"] = float(info.loss)
    loss = type(model.head.loss).__name__
    if below.startswith("Z") and "CategoricalCrossentropy" in loss:
        loss = "mean softmax\ncross-entropy"
    elif below.startswith("Z") and loss == "BinaryCrossentropy":
        loss = "mean sigmoid\ncross-entropy"
    nodes.append(("L", f"{loss}({below}, y)"))
    return values, nodes, params


def _summary(a) -> str:
    """Shape, L2 norm and the first entry of an array, in two short lines."""
    a = np.asarray(a)
    first = a.flat[0] + 0.0 if a.size else float("nan")      # + 0.0 turns -0.0 into 0.0
    return f"{a.shape}, norm {np.linalg.norm(a):.3g}\nfirst entry {first:.3g}"


def _graph_node(ax, x: float, y: float, key: str, formula, value, small: bool = False) -> None:
    label = key if formula is None else f"{key} = {formula}" if key != "X" else "X"
    ax.text(x, y, label, ha="center", va="center", fontsize=9 if small else 10.5, fontweight="bold",
            bbox={"boxstyle": "round,pad=0.45", "facecolor": "#eef3fb", "edgecolor": _BLUE, "linewidth": 1.3})
    if value is None:
        return
    text = f"{value:.4f}" if isinstance(value, float) else _summary(value)
    ax.text(x, y + (0.36 if small else -0.42), text, ha="center", va="center", fontsize=7.5 if small else 8.5)


def _graph_edge(ax, x0: float, x1: float, y: float, back_text: str) -> None:
    """A forward arrow (black) from ``x0`` to ``x1`` and, under it, the gradient flowing back (red)."""
    ax.annotate("", xy=(x1, y + 0.05), xytext=(x0, y + 0.05),
                arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.2})
    ax.annotate("", xy=(x0, y - 0.9), xytext=(x1, y - 0.9),
                arrowprops={"arrowstyle": "-|>", "color": _RED, "lw": 1.2})
    ax.text((x0 + x1) / 2, y - 1.25, back_text, ha="center", va="center", fontsize=8, color=_RED)


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """(num_classes, num_classes) int64 counts: row = true label, column = predicted label."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return matrix


def write_figures(out_dir, images, y_true, probs, *, history=None, rng, prefix: str = "",
                  label: str = "validation", dataset: str | None = None) -> dict[str, str]:
    """Write the standard set of figures into ``out_dir``; return ``{name: path}``.

    ``curves.png`` (only with ``history``), ``predictions.png``, ``confusion.png``, ``mistakes.png``; ``prefix``
    is put in front of each name. ``images`` may be None when the rows are not images: then only the curves and
    the confusion matrix are drawn. ``label`` names the digits shown ("validation"), ``dataset`` goes into the
    titles.
    """
    on = f" ({dataset})" if dataset else ""
    probs = np.asarray(probs)
    y_pred = probs.argmax(axis=1)
    written = {}
    if history is not None and history.get("loss"):
        written["curves"] = plot_history(history, os.path.join(out_dir, f"{prefix}curves.png"),
                                         title=f"Training{on}")
    if images is not None:
        written["predictions"] = plot_predictions(images, y_true, y_pred,
                                                  os.path.join(out_dir, f"{prefix}predictions.png"), rng=rng,
                                                  title=f"Random {label} digits{on}")
    written["confusion"] = plot_confusion(y_true, y_pred, os.path.join(out_dir, f"{prefix}confusion.png"),
                                          num_classes=probs.shape[1], title=f"Confusion matrix, {label}{on}")
    if images is not None:
        written["mistakes"] = plot_confident_mistakes(images, y_true, probs,
                                                      os.path.join(out_dir, f"{prefix}mistakes.png"),
                                                      title=f"Most confidently wrong {label} digits{on}")
    return written


# -- helpers -----------------------------------------------------------------------------------------------
def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _images_and_labels(images, y_true):
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images: expected shape (n, height, width), received {describe(images)}")
    return images, class_labels(y_true, "y_true", n=images.shape[0])


def _digit_grid(images, labels, columns: int, header: str, two_lines: bool = False) -> Figure:
    """Digits in a grid, each titled by ``labels[k] = (text, colour or None)``; coloured ones get a frame.

    All digits go into one mosaic image on one axes (blank margins hold the titles), which renders several times
    faster than a subplot per digit.
    """
    n = len(images)
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    h, w = images.shape[1:]
    cell, header_in = 1.05, 0.5                          # inches per digit height, for the figure title
    unit = h / cell                                     # image pixels per inch
    gap = max(1, round(0.3 * unit))                     # blank pixels between columns
    top = max(2, round((0.5 if two_lines else 0.3) * unit))   # blank pixels above each digit, for its title
    pitch_x, pitch_y = w + gap, h + top
    mosaic = np.full((rows * pitch_y + max(1, round(0.1 * unit)), columns * pitch_x), np.nan)  # + bottom margin
    for k in range(n):
        y0, x0 = (k // columns) * pitch_y + top, (k % columns) * pitch_x + gap // 2
        mosaic[y0:y0 + h, x0:x0 + w] = images[k]
    width_in, height_in = mosaic.shape[1] / unit, mosaic.shape[0] / unit + header_in
    fig = Figure(figsize=(width_in, height_in), dpi=_DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1 - header_in / height_in))
    ax.set_axis_off()
    # Digits scaled to about [0, 1] (ex3data1 overshoots a little) share one ink scale: 0 is white paper.
    lo, hi = float(np.min(images)), float(np.max(images))
    scale = (0.0, 1.0) if lo >= -0.5 and hi <= 1.5 else (lo, hi)
    ax.imshow(mosaic, cmap="gray_r", interpolation="nearest", vmin=scale[0], vmax=scale[1], aspect="equal",
              extent=(0, mosaic.shape[1], mosaic.shape[0], 0))
    for k in range(n):
        y0, x0 = (k // columns) * pitch_y + top, (k % columns) * pitch_x + gap // 2
        text, color = labels[k]
        ax.text(x0 + w / 2, y0 - 0.05 * unit, text, ha="center", va="bottom", fontsize=9, color=color or "black")
        ax.add_patch(Rectangle((x0, y0), w, h, fill=False, edgecolor=color or "#bbbbbb",
                               linewidth=2.5 if color else 0.8))
    fig.suptitle(header, fontsize=12, y=1 - 0.12 / height_in, va="top")
    return fig


def _save(fig: Figure, path) -> str:
    """Write ``fig`` as PNG to ``path`` atomically; return the path."""
    return atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=_DPI))
