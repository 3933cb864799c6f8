"""Look inside a model: activations, gradients, dead ReLUs, gradient norms and update/weight ratios.

Two ways in:

* :func:`inspect_batch` runs one forward and one backward pass of a compiled, built ``Sequential`` on a
  batch and returns an :class:`Inspection`: every layer's output and ``dL/d output``, every parameter's
  gradient and its norm, the fraction of dead units in each ReLU layer, and the update/weight ratio the
  *next* optimizer step would make (measured by running that step on copies of the weights with a copy of
  the optimizer). The passes are the model's own (``Sequential.compute_gradients`` with a ``Trace``); the
  weights and the optimizer's state are unchanged, and the gradient buffer holds this batch's gradient, as after
  ``loss_and_gradients``.
* :class:`TrainingMonitor` is a ``fit`` callback (:func:`fit_with_monitor` is the shortcut) that records, for
  every step, the batch loss, each parameter tensor's gradient norm, its update/weight ratio
  ``||w_after - w_before|| / ||w_before||`` and the fraction of zero activations in each ReLU layer. It only
  reads, so training is bit-identical with or without it.

Plots (PNG, written atomically with matplotlib's Agg canvas, whatever the pyplot backend):
:func:`plot_activations`, :func:`plot_gradient_norms`, :func:`plot_update_ratios` take an output path and return
it; :func:`plot_gradient_images` and :func:`plot_histograms` take an output path and return the arrays they drew.

Parameter tensors are named ``"<layer name>/<parameter name>"`` (e.g. ``"dense/kernel"``) in
``get_weights`` order.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np

from ._io import atomic_write, output_path
from ._validation import describe, positive_int, real_number
from .callbacks import Callback
from .models import Sequential, Trace


# -- what an inspection returns ------------------------------------------------------------------------
@dataclass
class ReLUStats:
    """How much of a ReLU layer is switched off on a batch.

    Attributes
    ----------
    units : int
        Output units of the layer (features per sample).
    dead_units : ndarray of int, shape (n_dead,)
        Indices of the units whose output is 0 for every sample of the batch (no gradient reaches their
        weights).
    dead_fraction : float
        ``n_dead / units``.
    zero_fraction : float
        Fraction of all activations (samples x units) that are exactly 0.
    """

    units: int
    dead_units: np.ndarray
    dead_fraction: float
    zero_fraction: float


@dataclass
class Inspection:
    """One forward and backward pass on a batch, seen layer by layer (see :func:`inspect_batch`).

    Attributes
    ----------
    loss : float
        The loss on the batch (same value as ``model.loss_and_gradients``).
    layer_names : list of str
    activations : dict str -> ndarray of shape (n, *layer output shape)
        Each layer's output (for ``Dense(..., activation="relu")`` that is after the ReLU).
    output_grads : dict str -> ndarray, same shapes as ``activations``
        ``dL/d output`` of each layer: what its ``backward`` received. For a softmax output whose loss is taken
        from its input (``SparseCategoricalCrossentropy(from_logits=False)``), the last entry is ``dL/dz`` with
        respect to that input, where backprop starts.
    param_names : list of str
        ``"<layer>/<param>"`` in ``get_weights`` order.
    param_grads : dict str -> ndarray
        ``dL/d parameter``, same shapes as the parameters.
    grad_norms : dict str -> float
        L2 (Frobenius) norm of each parameter gradient.
    update_ratios : dict str -> float
        ``||update|| / ||weights||`` for the optimizer's next step on this batch; ``nan`` where the weights
        are all zero (e.g. a zero-initialised bias) and the ratio is undefined.
    dead_relu : dict str -> ReLUStats
        One entry per ReLU layer: a ``ReLU``, an ``Activation("relu")`` or a ``Dense`` with
        ``activation="relu"``.
    layer_kinds : dict str -> str
        ``"Dense(relu)"``, ``"ReLU"``, ... for labels.
    pre_activations : dict str -> ndarray
        For each layer with an activation function (a ``Dense`` or an activation layer), the input of that
        function: ``z = x @ kernel + bias`` for a ``Dense`` (the course's ``Z``), the layer's input for a ``ReLU``.
    pre_activation_grads : dict str -> ndarray, same shapes as ``pre_activations``
        ``dL/dz`` for those layers (the course's ``dZ``): what reaches a ``Dense`` layer's kernel and bias,
        ``dW = x.T @ dz``, ``db = dz.sum(axis=0)``.
    """

    loss: float
    layer_names: list[str]
    activations: dict[str, np.ndarray]
    output_grads: dict[str, np.ndarray]
    param_names: list[str]
    param_grads: dict[str, np.ndarray]
    grad_norms: dict[str, float]
    update_ratios: dict[str, float]
    dead_relu: dict[str, ReLUStats]
    layer_kinds: dict[str, str] = field(default_factory=dict)
    pre_activations: dict[str, np.ndarray] = field(default_factory=dict)
    pre_activation_grads: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def gradients(self) -> list[np.ndarray]:
        """Parameter gradients as a list in ``get_weights`` order (as ``loss_and_gradients`` returns them)."""
        return [self.param_grads[name] for name in self.param_names]


# -- helpers -------------------------------------------------------------------------------------------
def _require_model(model, what: str) -> None:
    if not isinstance(model, Sequential):
        raise TypeError(f"model: expected a tinynet.Sequential, received {describe(model)}")
    model.require_compiled(what)
    model.require_built(what)


def _param_slices(model) -> list[tuple[str, slice]]:
    """``("<layer>/<param>", slice into the flat parameter/gradient buffers)`` in ``get_weights`` order."""
    out, offset = [], 0
    for name, p in zip(model.trainable_weight_names, model.trainable_weights, strict=True):
        out.append((name, slice(offset, offset + p.size)))
        offset += p.size
    return out


def _norm(a: np.ndarray) -> float:
    return float(np.linalg.norm(a))


def _ratio(update_norm: float, weight_norm: float) -> float:
    return update_norm / weight_norm if weight_norm > 0 else math.nan


def _is_relu(layer) -> bool:
    """A ``ReLU`` layer, an ``Activation("relu")`` or a ``Dense(activation="relu")``."""
    return getattr(layer, "activation_name", None) == "relu"


def _kind(layer) -> str:
    act = getattr(layer, "activation_name", None)
    name = type(layer).__name__
    return f"{name}({act})" if act is not None else name


def _pre_activations(model, trace: Trace) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``({layer: z}, {layer: dL/dz})`` for the layers with an activation function, from what the passes kept.

    ``z`` is what the layer's backward pass read (its ``cached("z")``, an activation layer's ``cached("x")``),
    or for a fused output head the logits the loss read; ``dL/dz`` is the layer's own ``activation_backward`` of
    the gradient it received, the same call its ``backward`` made.
    """
    zs, dzs = {}, {}
    layers = model.layers
    for i, layer in enumerate(layers):
        if not hasattr(layer, "activation_backward"):
            continue
        if i == len(layers) - 1 and model.head.fused:
            # The loss read z itself and backprop started from dL/dz.
            zs[layer.name], dzs[layer.name] = np.array(trace.loss_input), np.array(trace.output_grads[i])
            continue
        z = layer.cached("z") if "z" in layer.cache else layer.cached("x")
        dz = layer.activation_backward(z, trace.outputs[i], trace.output_grads[i])
        zs[layer.name], dzs[layer.name] = np.array(z), np.array(dz)
    return zs, dzs


def relu_stats(activations: np.ndarray) -> ReLUStats:
    """Dead units and zero fraction of a ReLU layer's outputs, shape (n, units...) (units are flattened)."""
    a = np.asarray(activations)
    if a.ndim < 2 or a.shape[0] == 0:
        raise ValueError(f"activations: expected an array of shape (samples, units...) with samples >= 1, "
                         f"received shape {a.shape}")
    zero = a.reshape(a.shape[0], -1) == 0
    dead = np.flatnonzero(zero.all(axis=0))
    units = zero.shape[1]
    return ReLUStats(units=units, dead_units=dead, dead_fraction=dead.size / units,
                     zero_fraction=float(zero.mean()))


# -- one batch -----------------------------------------------------------------------------------------
def inspect_batch(model, x, y) -> Inspection:
    """Activations, gradients, dead ReLUs, gradient norms and update ratios of ``model`` on ``(x, y)``.

    Parameters
    ----------
    model : Sequential
        Compiled and built (give the first layer ``input_shape`` or train it first).
    x : array of shape (n, features...)
    y : targets for the model's loss, e.g. labels of shape (n,) or (n, 1)

    The passes are the model's own: ``model.compute_gradients`` with a ``Trace`` that keeps each layer's output
    and incoming gradient. The update ratio comes from one step of ``copy.deepcopy(model.optimizer)`` applied to
    a copy of the weights: the model's weights and its optimizer's state and ``iterations`` are unchanged.
    """
    _require_model(model, "inspect_batch")
    x, targets = model.prepare_data(x, y)
    layers = model.layers
    trace = Trace()
    loss, _ = model.compute_gradients(x, targets, trace=trace)
    flat_grad = np.array(model.flat_gradients)

    # The optimizer's next step, taken by a copy on a copy of the weights.
    weights_before = model.flat_weights
    weights_after = weights_before.copy()
    copy.deepcopy(model.optimizer).apply([weights_after], [flat_grad.copy()])
    update = weights_after - weights_before

    slices = _param_slices(model)
    names = [layer.name for layer in layers]
    param_grads, grad_norms, ratios = {}, {}, {}
    for (pname, s), w in zip(slices, model.trainable_weights, strict=True):
        param_grads[pname] = flat_grad[s].reshape(w.shape)
        grad_norms[pname] = _norm(flat_grad[s])
        ratios[pname] = _ratio(_norm(update[s]), _norm(weights_before[s]))
    activations = trace.outputs
    zs, dzs = _pre_activations(model, trace)
    return Inspection(
        loss=float(loss),
        layer_names=names,
        activations={n: np.array(a) for n, a in zip(names, activations, strict=True)},
        output_grads={n: np.array(g) for n, g in zip(names, trace.output_grads, strict=True)},
        param_names=[pname for pname, _ in slices],
        param_grads=param_grads,
        grad_norms=grad_norms,
        update_ratios=ratios,
        dead_relu={n: relu_stats(a) for n, a, layer in zip(names, activations, layers, strict=True)
                   if _is_relu(layer)},
        layer_kinds={layer.name: _kind(layer) for layer in layers},
        pre_activations=zs,
        pre_activation_grads=dzs,
    )


# -- over training -------------------------------------------------------------------------------------
class TrainingMonitor(Callback):
    """A ``fit`` callback that records, for every optimizer step, what training is doing inside the model.

    ``model.fit(x, y, callbacks=[monitor])`` (or :func:`fit_with_monitor`). It only reads arrays, so training is
    bit-identical with or without it. After training:

    Attributes
    ----------
    param_names : list of str
        ``"<layer>/<param>"`` in ``get_weights`` order: the columns of ``grad_norms`` and ``update_ratios``.
    steps_per_epoch : int
    losses : ndarray of shape (steps,)
        Each batch's loss, computed before its update.
    grad_norms : ndarray of shape (steps, n_params)
        L2 norm of each parameter gradient at each step.
    update_ratios : ndarray of shape (steps, n_params)
        ``||w_after - w_before|| / ||w_before||`` per parameter tensor and step (``nan`` where
        ``w_before`` is all zero, as a zero-initialised bias is before its first step).
    zero_fractions : dict str -> ndarray of shape (steps,)
        For each ReLU layer, the fraction of its activations that were exactly 0 on each batch.
    """

    def __init__(self):
        self.param_names: list[str] = []
        self.steps_per_epoch = 0
        self._losses: list[float] = []
        self._grad_norms: list[list[float]] = []
        self._ratios: list[list[float]] = []
        self._zeros: dict[str, list[float]] = {}

    def on_train_begin(self, logs=None):
        model = self.model
        self._slices = _param_slices(model)
        self.param_names = [name for name, _ in self._slices]
        self.steps_per_epoch = model.history.params["steps"]
        self._relus = [layer for layer in model.layers if _is_relu(layer)]
        for name in (layer.name for layer in self._relus):
            self._zeros.setdefault(name, [])

    def on_train_batch_end(self, batch, logs=None):
        model = self.model
        after, before, grads = model.flat_weights, logs["weights_before"], model.flat_gradients
        self._losses.append(float(logs["batch_loss"]))
        self._grad_norms.append([_norm(grads[s]) for _, s in self._slices])
        self._ratios.append([_ratio(_norm(after[s] - before[s]), _norm(before[s])) for _, s in self._slices])
        for layer in self._relus:
            # What the layer kept for its backward pass on this batch includes its output.
            self._zeros[layer.name].append(float(np.mean(layer.cached("out") == 0)))

    @property
    def losses(self) -> np.ndarray:
        return np.asarray(self._losses, dtype=np.float64)

    @property
    def grad_norms(self) -> np.ndarray:
        return np.asarray(self._grad_norms, dtype=np.float64).reshape(-1, len(self.param_names))

    @property
    def update_ratios(self) -> np.ndarray:
        return np.asarray(self._ratios, dtype=np.float64).reshape(-1, len(self.param_names))

    @property
    def zero_fractions(self) -> dict[str, np.ndarray]:
        return {name: np.asarray(v, dtype=np.float64) for name, v in self._zeros.items()}

    @property
    def steps(self) -> int:
        return len(self._losses)


def fit_with_monitor(model, x, y, **fit_kwargs):
    """``model.fit(x, y, callbacks=[monitor], **fit_kwargs)`` with a fresh :class:`TrainingMonitor`.

    Returns ``(history, monitor)``. Any ``fit`` argument can be passed (``epochs``, ``batch_size``,
    ``shuffle``, ``validation_data``, ...); the weights come out exactly as plain ``fit``'s would.
    """
    _require_model(model, "fit_with_monitor")
    monitor = TrainingMonitor()
    callbacks = list(fit_kwargs.pop("callbacks", None) or []) + [monitor]
    fit_kwargs.setdefault("verbose", 0)
    history = model.fit(x, y, callbacks=callbacks, **fit_kwargs)
    return history, monitor


# -- plots ---------------------------------------------------------------------------------------------
def _check_type(value, cls, name: str) -> None:
    if not isinstance(value, cls):
        raise TypeError(f"{name}: expected a tinynet.inspect.{cls.__name__}, received {describe(value)}")


def _new_figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str) -> str:
    """Write ``fig`` as PNG atomically (temporary file beside ``path``, then rename)."""
    return atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=100))


def plot_activations(inspection: Inspection, path, bins: int = 40) -> str:
    """Histogram of each layer's activations on the inspected batch, one panel per layer; returns ``path``.

    ReLU layers show their zero fraction and dead units in the panel title; counts are on a log scale so
    the spike of zeros does not hide the rest.
    """
    _check_type(inspection, Inspection, "inspection")
    path = output_path(path)
    bins = positive_int(bins, "bins")
    names = inspection.layer_names
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig = _new_figure(4.2 * cols, 3.2 * rows)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    n = next(iter(inspection.activations.values())).shape[0] if names else 0
    for ax, name in zip(axes, names, strict=False):
        values = inspection.activations[name].ravel()
        ax.hist(values, bins=bins, color="tab:blue", edgecolor="white", linewidth=0.3)
        ax.set_yscale("log")
        title = f"{name}: {inspection.layer_kinds.get(name, '')}"
        stats = inspection.dead_relu.get(name)
        if stats is not None:
            title += f"\nzeros {stats.zero_fraction:.0%}, dead units {stats.dead_units.size}/{stats.units}"
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("activation value (layer output)")
        ax.set_ylabel("count (log scale)")
    for ax in axes[len(names):]:
        ax.set_visible(False)
    fig.suptitle(f"Activations per layer on a batch of {n} samples (loss {inspection.loss:.4f})")
    return _save(fig, path)


def _layers_of(monitor: TrainingMonitor) -> list[str]:
    return list(dict.fromkeys(name.split("/")[0] for name in monitor.param_names))


def _per_layer_lines(ax, monitor: TrainingMonitor, values: np.ndarray, smooth: int, only: str | None = None
                     ) -> None:
    """One colour per layer, solid for kernels and dashed for biases; a running mean over ``smooth`` steps.
    ``only``: draw that layer's tensors alone."""
    colours = {layer: f"C{i % 10}" for i, layer in enumerate(_layers_of(monitor))}
    steps = np.arange(1, values.shape[0] + 1)
    for j, name in enumerate(monitor.param_names):
        layer, pname = name.split("/", 1)
        if only is not None and layer != only:
            continue
        series = values[:, j]
        if smooth > 1 and series.size >= smooth:
            finite = np.where(np.isfinite(series), series, 0.0)
            counts = np.convolve(np.isfinite(series), np.ones(smooth), mode="valid")
            with np.errstate(invalid="ignore", divide="ignore"):
                series = np.convolve(finite, np.ones(smooth), mode="valid") / counts
            x = steps[smooth - 1:]
        else:
            x = steps
        ax.plot(x, series, color=colours[layer], linestyle="-" if pname == "kernel" else "--", linewidth=1.2,
                label=name)
    ax.set_yscale("log")
    ax.set_xlabel("training step (one batch)")
    if monitor.steps_per_epoch and values.shape[0] > monitor.steps_per_epoch:
        top = ax.secondary_xaxis("top", functions=(lambda s: s / monitor.steps_per_epoch,
                                                   lambda e: e * monitor.steps_per_epoch))
        top.set_xlabel("epoch")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, ncol=2)


def _smooth_arg(smooth) -> int:
    return positive_int(smooth, "smooth")


def plot_gradient_norms(monitor: TrainingMonitor, path, smooth: int = 20) -> str:
    """Gradient norm of every parameter tensor over training (running mean over ``smooth`` steps); returns
    ``path``."""
    _check_type(monitor, TrainingMonitor, "monitor")
    path = output_path(path)
    smooth = _smooth_arg(smooth)
    # One panel per layer: the layers' kernel norms are often of one size and would hide one another.
    layers = _layers_of(monitor)
    fig = _new_figure(8, 1.2 + 2.4 * max(1, len(layers)))
    axes = fig.subplots(max(1, len(layers)), 1, sharex=True, squeeze=False).ravel()
    for ax, layer in zip(axes, layers, strict=False):
        _per_layer_lines(ax, monitor, monitor.grad_norms, smooth, only=layer)
        ax.set_ylabel("||dL/dW|| (L2 norm)")
        ax.set_title(f"{layer}", fontsize=10)
    fig.suptitle(f"Gradient norm per parameter tensor, one panel per layer (running mean over {smooth} steps)")
    return _save(fig, path)


def plot_update_ratios(monitor: TrainingMonitor, path, smooth: int = 20,
                       reference: float | None = 1e-3) -> str:
    """``||update|| / ||weights||`` of every parameter tensor over training; returns ``path``.

    ``reference`` draws a horizontal line (default 1e-3, a common rule of thumb for a healthy step); ``None``
    leaves it out.
    """
    _check_type(monitor, TrainingMonitor, "monitor")
    path = output_path(path)
    smooth = _smooth_arg(smooth)
    if reference is not None:
        reference = real_number(reference, "reference", low=0.0, low_open=True)
    fig = _new_figure(8, 4.5)
    ax = fig.subplots()
    if reference is not None:
        ax.axhline(reference, color="grey", linestyle=":", linewidth=1.5, label=f"reference {reference:g}")
    _per_layer_lines(ax, monitor, monitor.update_ratios, smooth)
    ax.set_ylabel("||update|| / ||weights||")
    ax.set_title(f"Update/weight ratio per parameter tensor (running mean over {smooth} steps)")
    return _save(fig, path)


def _first_kernel(inspection: Inspection) -> str:
    """Name of the first ``"<layer>/kernel"`` parameter: the first ``Dense`` layer's weights."""
    for name in inspection.param_names:
        if name.endswith("/kernel") and inspection.param_grads[name].ndim == 2:
            return name
    raise ValueError(f"inspection: expected a model whose parameters include a Dense kernel, received parameters "
                     f"{inspection.param_names}")


def plot_gradient_images(inspection: Inspection, path, image_shape=(20, 20), order: str = "F",
                         columns: int = 5) -> np.ndarray:
    """Each first-layer unit's column of ``dL/dW1`` drawn as an image of the input, one panel per unit.

    The gradient of unit ``j``'s incoming weights, ``dW1[:, j] = X.T @ dZ1[:, j]``, has one value per pixel: it
    shows which pixels the batch pushes that unit's weights towards (a descent step moves them by ``-dW1``).
    Same layout as :func:`tinynet.report.plot_weights`: ``image_shape = (h, w)`` with ``h * w`` pixels,
    ``order`` ``"F"`` for ex3data1's column-major rows, ``"C"`` for MNIST; red positive, blue negative, one
    symmetric scale. Dead ReLU units (no gradient at all) are titled "dead".

    Returns the images drawn, shape ``(units, h, w)``: ``dL/dW1[:, j].reshape(image_shape, order=order)``.
    """
    _check_type(inspection, Inspection, "inspection")
    path = output_path(path)
    name = _first_kernel(inspection)
    grad = inspection.param_grads[name]
    if (not isinstance(image_shape, (tuple, list)) or len(image_shape) != 2
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in image_shape)
            or int(image_shape[0]) * int(image_shape[1]) != grad.shape[0]):
        raise ValueError(f"image_shape: expected (h, w) with h * w = {grad.shape[0]} inputs of {name}, received "
                         f"{image_shape!r}")
    if order not in ("F", "C"):
        raise ValueError(f"order: expected 'F' or 'C', received {order!r}")
    columns = positive_int(columns, "columns")
    h, w = int(image_shape[0]), int(image_shape[1])
    units = grad.shape[1]
    images = np.stack([grad[:, j].reshape((h, w), order=order) for j in range(units)])
    layer = name.split("/")[0]
    stats = inspection.dead_relu.get(layer)
    dead = set() if stats is None else {int(j) for j in stats.dead_units}
    columns = min(columns, units)
    rows = math.ceil(units / columns)
    fig = _new_figure(1.6 * columns + 1.0, 1.75 * rows + 0.7)
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    limit = float(np.abs(images).max()) or 1.0
    shown = None
    for j, ax in enumerate(axes):
        ax.set_xticks([])
        ax.set_yticks([])
        if j >= units:
            ax.set_visible(False)
            continue
        shown = ax.imshow(images[j], cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        ax.set_title(f"unit {j}" + (" (dead)" if j in dead else ""), fontsize=9)
    fig.colorbar(shown, ax=list(axes[:units]), shrink=0.6, label="dL/dW (per pixel)")
    n = inspection.activations[inspection.layer_names[0]].shape[0]
    fig.suptitle(f"dL/dW of {name}, one column per unit as a {h}x{w} image (batch of {n}, loss "
                 f"{inspection.loss:.4f})")
    _save(fig, path)
    return images


def plot_histograms(inspection: Inspection, path, bins: int = 40) -> dict[str, dict[str, np.ndarray]]:
    """Histograms of each layer's pre-activations ``z`` (top row) and backward signals ``dL/dz`` (bottom row).

    One column per layer with an activation function (``Inspection.pre_activations``), counts on a log scale.
    The top row shows where the units sit on their activation (for ReLU: the mass below 0 is switched off); the
    bottom row what backprop sends into each layer's weights, with ReLU's exact zeros counted in the title.

    Returns what was drawn: ``{layer: {"pre_activation": z.ravel(), "backward": dz.ravel()}}``.
    """
    _check_type(inspection, Inspection, "inspection")
    path = output_path(path)
    bins = positive_int(bins, "bins")
    names = list(inspection.pre_activations)
    if not names:
        raise ValueError("inspection: expected at least one layer with an activation function (pre_activations), "
                         "received none")
    drawn = {name: {"pre_activation": inspection.pre_activations[name].ravel(),
                    "backward": inspection.pre_activation_grads[name].ravel()} for name in names}
    fig = _new_figure(4.2 * len(names), 6.4)
    axes = fig.subplots(2, len(names), squeeze=False)
    for col, name in enumerate(names):
        kind = inspection.layer_kinds.get(name, "")
        z, dz = drawn[name]["pre_activation"], drawn[name]["backward"]
        top, bottom = axes[0, col], axes[1, col]
        top.hist(z, bins=bins, color="tab:blue", edgecolor="white", linewidth=0.3)
        off = f", {np.mean(z <= 0):.0%} <= 0 (off)" if name in inspection.dead_relu else ""
        top.set_title(f"{name}: {kind}\npre-activation z{off}", fontsize=10)
        top.set_xlabel("z")
        bottom.hist(dz, bins=bins, color="tab:red", edgecolor="white", linewidth=0.3)
        bottom.set_title(f"backward signal dL/dz, {np.mean(dz == 0):.0%} exactly 0", fontsize=10)
        bottom.set_xlabel("dL/dz")
        for ax in (top, bottom):
            ax.set_yscale("log")
            ax.set_ylabel("count (log scale)")
    n = inspection.activations[inspection.layer_names[0]].shape[0]
    fig.suptitle(f"Pre-activations and backward signals per layer on a batch of {n} (loss {inspection.loss:.4f})")
    _save(fig, path)
    return drawn


__all__ = ["inspect_batch", "relu_stats", "fit_with_monitor", "plot_activations", "plot_gradient_norms",
           "plot_update_ratios", "plot_gradient_images", "plot_histograms", "Inspection", "ReLUStats",
           "TrainingMonitor"]
