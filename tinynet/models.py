"""``Sequential``: a stack of layers, trained with a loss and an optimizer, Keras-style.

The path of one batch: ``fit`` cuts batches and calls ``train_step``, which calls ``compute_gradients`` (forward
through the layers, the loss at the output head, backward through the layers) and then the optimizer.
``loss_and_gradients``, ``tinynet.gradcheck`` and ``tinynet.inspect`` call ``compute_gradients`` too: there is
one copy of the passes.

Storage: once built, all parameters live in one contiguous array and all gradients in another; each layer's
``kernel``/``bias`` are views into them, backward passes write straight into the gradient array, and an optimizer
step is one update of the whole model.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from . import backend, saving
from . import losses as losses_mod
from . import metrics as metrics_mod
from . import optimizers as optimizers_mod
from ._validation import all_finite, checked_weights, describe, float_array, float_dtype, positive_int, real_number
from .callbacks import Callback, CallbackList, History
from .layers import InputLayer, Layer, shape_tuple
from .training import DeferredInterrupt, DivergenceError, EpochMean, batches, epoch_line, split_validation

_PREDICT_BATCH = 8192    # predict's default batch: whole arrays per layer call; 8192 x 1024 float32 = 32 MiB


@dataclass
class Trace:
    """What ``compute_gradients(..., trace=Trace())`` saw: each layer's output, and ``dL/d`` each output.

    ``outputs[i]`` is layer ``i``'s output; ``output_grads[i]`` is the gradient its backward pass received.
    ``loss_input`` is what the loss read: the outputs, or for an output head whose loss reads the last
    activation's input (see :class:`OutputHead`) that input ``z``; ``output_grads[-1]`` is ``dL/d loss_input``.
    """

    outputs: list[np.ndarray] = field(default_factory=list)
    output_grads: list[np.ndarray] = field(default_factory=list)
    loss_input: np.ndarray | None = None


class OutputHead:
    """Where the loss meets the last layer, decided once at ``compile`` by Keras's rule.

    Usually the loss reads the model's outputs and backprop starts from ``dL/d out``. When the last layer ends in
    an activation whose input Keras's loss reads instead (``Loss.from_logits_form``: a softmax under
    ``SparseCategoricalCrossentropy(from_logits=False)``), the loss is taken from that input ``z`` and its
    gradient ``dL/dz`` goes straight to the layer's ``backward_pre_activation``: no clipped probabilities, no
    softmax Jacobian.
    """

    def __init__(self, layer: Layer, loss: losses_mod.Loss | None):
        along_classes = getattr(layer, "options", {}).get("axis", -1) in (-1, 1)     # a softmax over the classes
        name = getattr(layer, "activation_name", None) if along_classes else None
        fused = None if loss is None else loss.from_logits_form(name)
        self.layer, self.fused = layer, fused is not None
        self.loss = fused if self.fused else loss

    def forward(self, h: np.ndarray, training: bool) -> tuple[np.ndarray, np.ndarray]:
        """``(what the loss reads, the model's outputs)`` from the last layer's input ``h``."""
        if not self.fused:
            out = self.layer.forward(h, training)
            return out, out
        z = self.layer.pre_activation(h, training)
        return z, self.layer.activation(z)

    def backward(self, grad: np.ndarray, need_input_grad: bool) -> np.ndarray | None:
        if not self.fused:
            return self.layer.backward(grad, need_input_grad)
        return self.layer.backward_pre_activation(grad, need_input_grad)


def _check_new_layer(layer, existing, name: str) -> None:
    if isinstance(layer, Sequential):
        if not layer.built:
            raise ValueError(f"{name}: a Sequential inside another must be built first (give it an Input)")
        return
    if not isinstance(layer, Layer):
        raise TypeError(f"{name}: expected a tinynet.layers.Layer, received {describe(layer)}")
    if any(layer is other for other in existing):
        raise ValueError(f"{name}: {layer.name!r} is already in this model")
    if layer.built and layer.params:            # its parameters could not move into the model's flat buffer
        raise ValueError(f"{name}: {layer.name!r} is already built; give Sequential unbuilt layers (a built layer "
                         "without parameters, such as an adapted Normalization, is accepted)")


def _resolve_seed(seed) -> np.random.Generator:
    if seed is None or isinstance(seed, np.random.Generator):
        return seed if seed is not None else backend.new_generator()
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed: expected None, a non-negative integer or a numpy.random.Generator, "
                        f"received {describe(seed)}")
    if seed < 0:
        raise ValueError(f"seed: expected None, a non-negative integer or a numpy.random.Generator, received {seed}")
    return np.random.default_rng(int(seed))


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


class Sequential:
    """A linear stack of layers.

    Parameters
    ----------
    layers : list of Layer, optional
        If the first has ``input_shape``, the model is built (weights created) at once, as in Keras; otherwise on
        the first ``fit``, ``loss_and_gradients`` or ``build``.
    seed : int, numpy.random.Generator or None
        Source of all randomness (``model.rng``): weight initialisation, then the per-epoch shuffles. The same
        seed gives bit-identical weights before and after training.
    dtype : "float32", "float64" or None
        Precision of weights, activations and gradients (None: ``tinynet.backend.floatx()``, float32 unless set).
        Inputs are converted to it.

    A first element ``tinynet.Input(shape=...)`` declares the shape of the samples (it is not kept in ``layers``,
    as in Keras).
    """

    def __init__(self, layers=None, seed=None, dtype=None, name: str = "sequential"):
        self.dtype = float_dtype(backend.floatx() if dtype is None else dtype)
        self.rng = _resolve_seed(seed)
        if not isinstance(name, str):
            raise TypeError(f"name: expected a string, received {describe(name)}")
        self.name = name
        if layers is None:
            layers = []
        if not isinstance(layers, (list, tuple)):
            raise TypeError(f"layers: expected a list of tinynet layers, received {describe(layers)}")
        for i, layer in enumerate(layers):
            _check_new_layer(layer, layers[:i], f"layers[{i}]")
        self.layers: list[Layer] = []
        self.built = self.compiled = False
        self._loss = self.optimizer = self.head = None
        self.metrics: list[tuple[str, object]] = []
        self.history: History | None = None
        self.stop_training = False
        self.declared_input_shape: tuple[int, ...] | None = None
        for layer in layers:
            self.add(layer)
        if self.layers and self.declared_input_shape is not None:
            self.build(self.declared_input_shape)

    # -- structure -----------------------------------------------------------------------------------------
    def add(self, layer: Layer) -> None:
        """Append a layer (before the model is built)."""
        if self.built:
            raise ValueError("layer: this model is already built; add layers before it is built")
        if isinstance(layer, InputLayer):
            if self.layers or self.declared_input_shape is not None:
                raise ValueError("layer: an Input declares the model's input and must come first; received it after "
                                 f"{len(self.layers)} layer(s)")
            self.declared_input_shape = layer.input_shape
            return
        _check_new_layer(layer, self.layers, "layer")
        if not self.layers and self.declared_input_shape is None:
            self.declared_input_shape = layer.input_shape
        taken = {other.name for other in self.layers}
        base, k = layer.name, 0
        while layer.name in taken:
            k += 1
            layer.name = f"{base}_{k}"
        self.layers.append(layer)
        self.head = OutputHead(layer, self._loss)       # the last layer meets the loss (see OutputHead)

    def compute_output_shape(self, input_shape) -> tuple[int, ...]:
        """The output shape for samples of ``input_shape``, checking that every layer accepts its input.

        Builds nothing, so a model whose layers don't fit the data is refused before any layer changes.
        """
        shape = shape_tuple(input_shape, "input_shape")
        for layer in self.layers:
            layer.param_specs(shape)                  # raises if the layer can't take this input
            shape = layer.compute_output_shape(shape)
        return shape

    def build(self, input_shape) -> None:
        """Create every layer's weights for inputs of shape ``(batch, *input_shape)``, then pack them."""
        if self.built:
            return
        if not self.layers:
            raise ValueError("layers: expected at least one layer before building, received none")
        shape = shape_tuple(input_shape, "input_shape")
        self.output_shape = self.compute_output_shape(shape)      # all checks before any layer is built
        for layer in self.layers:
            if not layer.built:
                layer.build(shape, rng=self.rng, dtype=self.dtype)
            elif layer.input_shape != shape or layer.dtype != self.dtype:
                raise ValueError(f"layers: {layer.name!r} was built for samples of shape {layer.input_shape} in "
                                 f"{layer.dtype}; this model gives it {shape} in {self.dtype}")
            shape = layer.output_shape
        self.input_shape = shape_tuple(input_shape, "input_shape")
        # One flat buffer for all parameters and one for all gradients; layers keep views into them.
        size = sum(p.size for layer in self.layers for p in layer.params)
        self._flat_params = np.empty(size, dtype=self.dtype)
        self._flat_grads = np.zeros(size, dtype=self.dtype)
        self._previous = np.empty(size, dtype=self.dtype)        # the weights before the latest update
        offset = 0
        for layer in self.layers:
            pviews, gviews = [], []
            for p in layer.params:
                pviews.append(self._flat_params[offset:offset + p.size].reshape(p.shape))
                gviews.append(self._flat_grads[offset:offset + p.size].reshape(p.shape))
                offset += p.size
            layer.bind(pviews, gviews)
        self._previous[...] = self._flat_params
        self.flat_weights = _read_only(self._flat_params)
        self.flat_gradients = _read_only(self._flat_grads)
        self.weights_before_step = _read_only(self._previous)
        self.built = True

    def get_layer(self, name=None, index=None) -> Layer:
        """The layer called ``name``, or at position ``index`` in ``layers`` (one of the two)."""
        if (name is None) == (index is None):
            raise ValueError(f"get_layer: expected exactly one of name and index, received name={name!r}, "
                             f"index={index!r}")
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
                raise TypeError(f"index: expected an integer, received {describe(index)}")
            if not -len(self.layers) <= index < len(self.layers):
                raise ValueError(f"index: expected a layer index in [0, {len(self.layers)}), received {index}")
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"name: no layer named {name!r}; the layers are {[layer.name for layer in self.layers]}")

    @property
    def loss(self) -> losses_mod.Loss | None:
        """The compiled loss (set by ``compile``, which also chooses the output head from it)."""
        return self._loss

    @property
    def weights(self) -> list[np.ndarray]:
        """The live arrays of every layer (``layer.weights``: its parameters, then its state), ``get_weights`` order."""
        return [w for layer in self.layers for w in layer.weights]

    @property
    def weight_names(self) -> list[str]:
        """``"<layer>/<name>"`` for each array of ``weights``."""
        return [f"{layer.name}/{n}" for layer in self.layers for n in [*layer.param_names, *layer.state_names]]

    @property
    def trainable_weights(self) -> list[np.ndarray]:
        """The parameters the optimizer trains (views into ``flat_weights``, in its order)."""
        return [p for layer in self.layers for p in layer.params]

    @property
    def trainable_weight_names(self) -> list[str]:
        return [f"{layer.name}/{n}" for layer in self.layers for n in layer.param_names]

    def count_params(self) -> int:
        """Every value of every weight, trainable or not (Keras's total)."""
        self.require_built("count_params")
        return sum(w.size for w in self.weights)

    def get_weights(self) -> list[np.ndarray]:
        """Copies of all weights, Keras order: ``[kernel_0, bias_0, kernel_1, bias_1, ...]`` (a layer's state,
        such as a Normalization's statistics, after its parameters)."""
        self.require_built("get_weights")
        return [p.copy() for p in self.weights]

    def set_weights(self, weights) -> None:
        """Replace all parameters (checked in full before anything is written)."""
        self.require_built("set_weights")
        current = self.weights
        for p, arr in zip(current, checked_weights(weights, current), strict=True):
            p[...] = arr
        self._previous[...] = self._flat_params          # no step has been taken from these weights

    # -- training configuration ----------------------------------------------------------------------------
    def compile(self, optimizer="adam", loss=None, metrics=None) -> None:
        """Choose the loss, the optimizer (default ``"adam"``) and metrics (e.g. ``["accuracy"]``)."""
        if loss is None:
            raise ValueError("loss: expected a loss (e.g. SparseCategoricalCrossentropy(from_logits=True) or "
                             "'sparse_categorical_crossentropy'), received None")
        loss_obj = losses_mod.get(loss)
        opt = optimizers_mod.get(optimizer)
        if metrics is None:
            metrics = []
        if isinstance(metrics, str) or not isinstance(metrics, (list, tuple)):
            raise TypeError(f"metrics: expected a list of metric names, received {describe(metrics)}")
        resolved = [metrics_mod.get(m) for m in metrics]
        if loss_obj.reduction == "none":
            raise ValueError("loss: expected a loss that reduces to one number for training, received "
                             f"{type(loss_obj).__name__} with reduction='none'")
        if resolved and not isinstance(loss_obj, losses_mod.SparseCategoricalCrossentropy):
            raise ValueError("metrics: accuracy needs a classification loss (SparseCategoricalCrossentropy), "
                             f"received loss {type(loss_obj).__name__}")
        self._loss, self.optimizer, self.metrics = loss_obj, opt, resolved
        self.head = OutputHead(self.layers[-1], loss_obj) if self.layers else None
        self.compiled = True

    def require_built(self, what: str) -> None:
        """Raise unless the model has weights; a model whose input shape is declared is built here first."""
        if not self.built and self.layers and self.declared_input_shape is not None:
            self.build(self.declared_input_shape)
        if not self.built:
            raise ValueError(f"{what}: the model has no weights yet; give the first layer an input_shape or "
                             "call build(input_shape) / fit(x, y) first")

    def require_compiled(self, what: str) -> None:
        if not self.compiled:
            raise ValueError(f"{what}: expected a compiled model; call model.compile(loss=..., optimizer=...) "
                             "first")

    # -- data, checked once per call -------------------------------------------------------------------------
    def prepare_inputs(self, x, name: str = "x") -> np.ndarray:
        """``x`` checked (finite, samples of the model's input shape) as a row-major array of the model's dtype."""
        x = float_array(x, name, dtype=self.dtype)
        if x.ndim < 2:
            raise ValueError(f"{name}: expected an array of shape (samples, features...), received shape {x.shape}")
        expected = self.input_shape if self.built else self.declared_input_shape
        if expected is not None and x.shape[1:] != tuple(expected):
            raise ValueError(f"{name}: expected samples of shape {tuple(expected)} "
                             f"(e.g. ({x.shape[0]}, {', '.join(map(str, expected))})), received shape {x.shape}")
        if not self.layers:
            raise ValueError("layers: expected at least one layer, received none")
        # Row-major, once: scipy.io.loadmat returns column-major (Fortran) arrays, and slicing rows of those for
        # every batch costs more than the whole training step.
        return np.ascontiguousarray(x)

    def prepare_data(self, x, y, xname: str = "x", yname: str = "y") -> tuple[np.ndarray, np.ndarray]:
        """``(x, targets)`` checked and converted once: what ``train_step`` and ``compute_gradients`` take.

        ``targets`` are ``y`` in the form the loss reads (``Loss.encode``; one-hot rows for a sparse
        categorical loss).
        """
        self.require_compiled("prepare_data")
        x = self.prepare_inputs(x, xname)
        width = self.compute_output_shape(x.shape[1:])
        if len(width) != 1:
            raise ValueError(f"{xname}: the model's output must be (samples, outputs), it is {('samples',) + width}")
        return x, self.loss.encode(y, x.shape[0], width[0], self.dtype, yname)

    def _check_batch(self, x, targets) -> None:
        """Constant-time checks that ``(x, targets)`` came from ``prepare_data`` for this model."""
        self.require_compiled("compute_gradients")
        self.require_built("compute_gradients")
        ok_x = isinstance(x, np.ndarray) and x.dtype == self.dtype and x.shape[1:] == self.input_shape
        if not ok_x or x.shape[0] == 0:
            raise ValueError(f"x: expected a batch from prepare_data: dtype {self.dtype.name}, samples of shape "
                             f"{self.input_shape}; received {describe(x)}")
        expected = (x.shape[0], *self.output_shape)
        if not (isinstance(targets, np.ndarray) and targets.dtype == self.dtype and targets.shape == expected):
            raise ValueError(f"y: expected targets from prepare_data: dtype {self.dtype.name}, shape {expected}; "
                             f"received {describe(targets)}")

    # -- the passes ------------------------------------------------------------------------------------------
    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Every layer's forward pass on a prepared ``x``: the model's outputs."""
        return self._forward_to_head(x, training)[1]

    def _forward_to_head(self, x, training, trace=None) -> tuple[np.ndarray, np.ndarray]:
        """``(what the loss reads, outputs)``: the layers below the head, then the head (see OutputHead)."""
        for layer in self.layers[:-1]:
            x = layer.forward(x, training)
            if trace is not None:
                trace.outputs.append(x)
        loss_input, out = self.head.forward(x, training)
        if trace is not None:
            trace.outputs.append(out)
        return loss_input, out

    def compute_loss(self, x, targets) -> tuple[float, np.ndarray]:
        """The loss on a prepared batch and the outputs, by an inference forward pass (no caches, no gradients)."""
        self._check_batch(x, targets)
        loss_input, out = self._forward_to_head(x, False)
        return self.head.loss.reduce(self.head.loss.per_sample(targets, loss_input, False)[0]), out

    def compute_gradients(self, x, targets, trace: Trace | None = None) -> tuple[float, np.ndarray]:
        """Forward, loss and backward on a prepared batch: the one copy of the passes.

        Fills the gradient buffer (``flat_gradients``; each layer's ``grads``) and returns ``(loss, outputs)``.
        Changes no weight. With a ``Trace``, records every layer's output and incoming gradient.
        """
        self._check_batch(x, targets)
        self._check_trainable()
        loss_input, out = self._forward_to_head(x, True, trace)
        loss, grad = self.head.loss.compute(targets, loss_input)
        if trace is not None:
            trace.loss_input = loss_input
        below = self.layers[:-1]
        grads_seen = [grad]
        grad = self.head.backward(grad, need_input_grad=bool(below))
        for i in range(len(below) - 1, -1, -1):
            grads_seen.append(grad)
            grad = below[i].backward(grad, i > 0)          # the first layer needs no dL/dx
        if trace is not None:
            trace.output_grads = grads_seen[::-1]
        return loss, out

    def train_step(self, x, targets) -> dict[str, float]:
        """One step on a prepared batch: ``compute_gradients``, then the optimizer; returns the batch's logs.

        Raises ``DivergenceError`` (before updating) if the loss is not finite.
        """
        self._check_optimizer()
        loss, out = self.compute_gradients(x, targets)
        if not math.isfinite(loss):
            raise DivergenceError(f"the loss became {loss}")
        self._previous[...] = self._flat_params
        self.optimizer.update([self._flat_params], [self._flat_grads])
        return self._batch_logs(loss, targets, out)

    def _batch_logs(self, loss: float, targets, out) -> dict[str, float]:
        """``{"loss": loss, <metric>: its value on the batch, ...}``."""
        logs = {"loss": loss}
        for key, count in self.metrics:
            logs[key] = count(targets, out) / out.shape[0]
        return logs

    def _check_trainable(self) -> None:
        for layer in self.layers:
            if isinstance(layer, Sequential):
                layer.backward(None)                     # says why a nested model is not trained through

    def _check_optimizer(self) -> None:
        if not self.optimizer.built_for([self._flat_params] if self.built else None):
            raise ValueError(f"optimizer: this {type(self.optimizer).__name__} already holds state (moments, step "
                             "count) for another model's parameters; give each model its own optimizer instance")

    def loss_and_gradients(self, x, y) -> tuple[float, list[np.ndarray]]:
        """The loss on ``(x, y)`` and its gradient for every parameter (copies, in ``trainable_weights`` order).

        No weights change; use it to check backprop from outside (see :mod:`tinynet.gradcheck`).
        """
        self.require_compiled("loss_and_gradients")
        x, targets = self.prepare_data(x, y)
        self.build(x.shape[1:])
        loss, _ = self.compute_gradients(x, targets)
        return loss, [g.copy() for layer in self.layers for g in layer.grads]

    # -- fit / evaluate / predict ----------------------------------------------------------------------------
    def fit(self, x, y, batch_size=None, epochs=1, verbose="auto", validation_split=0.0, validation_data=None,
            shuffle=True, callbacks=None) -> History:
        """Train for ``epochs`` passes over ``(x, y)`` in mini-batches; return a :class:`History`.

        x : array of shape (n_samples, features...); y : targets for the loss, e.g. labels of shape (n,) or (n, 1).
        Batches are consecutive slices of a fresh permutation each epoch (``shuffle=True``) or of the data as given;
        the last, smaller batch is included. ``history["loss"][e]`` is the sample-weighted mean of the batch losses
        of epoch ``e``, each computed before that batch's update (Keras's definition). ``validation_split=f``
        holds out the *last* ``n - floor(n * (1 - f))`` samples, before any shuffling, as Keras does.
        ``callbacks``: a list of :class:`tinynet.callbacks.Callback`.
        """
        batch_size, epochs, verbose, callbacks, (x, y), val = self._fit_arguments(
            x, y, batch_size, epochs, verbose, validation_split, validation_data, shuffle, callbacks)
        self.build(x.shape[1:])
        history = History({"verbose": verbose, "epochs": epochs, "steps": math.ceil(len(x) / batch_size)}, self)
        self.history, self.stop_training = history, False
        callbacks.on_train_begin()
        with DeferredInterrupt() as interrupt:
            for epoch in range(epochs):
                callbacks.on_epoch_begin(epoch)
                started, mean = time.perf_counter(), EpochMean()
                for step, (xb, yb) in enumerate(batches(x, y, batch_size, self.rng if shuffle else None)):
                    try:
                        logs = self.train_step(xb, yb)
                    except DivergenceError as exc:
                        self._diverged(str(exc), epoch, step)
                    mean.add(logs, len(xb))
                    callbacks.on_train_batch_end(step, {**mean.result(), "batch_loss": logs["loss"],
                                                        "weights_before": self.weights_before_step})
                    if interrupt.requested or self.stop_training:
                        break
                if interrupt.requested and mean.samples < len(x):   # stopped inside the epoch: not recorded
                    break
                if not np.isfinite(self._flat_params).all():
                    self._diverged("the weights became non-finite", epoch, step)
                logs = mean.result()                   # over the samples seen, if a callback stopped early
                if val is not None:
                    logs.update({"val_" + k: v for k, v in self._evaluate_prepared(*val, batch_size).items()})
                history.record(epoch, logs)
                callbacks.on_epoch_end(epoch, dict(logs))
                if verbose:
                    print(epoch_line(epoch, epochs, time.perf_counter() - started, logs), flush=True)
                if self.stop_training or interrupt.requested:
                    break
        callbacks.on_train_end()
        if interrupt.requested:
            raise KeyboardInterrupt(
                f"fit interrupted in epoch {epoch + 1}/{epochs}: the model keeps the weights after step "
                f"{step + 1} of that epoch, and model.history the {len(history.epoch)} completed epochs")
        return history

    def _fit_arguments(self, x, y, batch_size, epochs, verbose, validation_split, validation_data, shuffle,
                       callbacks):
        """Every check of ``fit``'s arguments, before any state changes; the data prepared and split."""
        self.require_compiled("fit")
        batch_size = 32 if batch_size is None else positive_int(batch_size, "batch_size")
        epochs = positive_int(epochs, "epochs")
        verbose = _verbosity(verbose)
        split = real_number(validation_split, "validation_split", low=0.0, high=1.0, high_open=True)
        if not isinstance(shuffle, bool):
            raise TypeError(f"shuffle: expected True or False, received {describe(shuffle)}")
        callbacks = [] if callbacks is None else callbacks
        if not isinstance(callbacks, (list, tuple)) or not all(isinstance(c, Callback) for c in callbacks):
            raise TypeError(f"callbacks: expected a list of tinynet.callbacks.Callback, received {describe(callbacks)}")
        data, val = self.prepare_data(x, y), None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError("validation_data: expected a tuple (x_val, y_val), "
                                f"received {describe(validation_data)}")
            val = self.prepare_data(*validation_data, xname="validation_data[0]", yname="validation_data[1]")
            if val[0].shape[1:] != data[0].shape[1:]:
                raise ValueError(f"validation_data[0]: expected samples of shape {data[0].shape[1:]}, "
                                 f"received shape {val[0].shape}")
        elif split > 0:
            data, val = split_validation(*data, split)
            self._warn_if_class_sorted(data[1], val[1])
        self._check_optimizer()
        self._check_trainable()
        return batch_size, epochs, verbose, CallbackList(callbacks, self), data, val

    def _diverged(self, what: str, epoch: int, step: int):
        """Stop training: keep finite weights (restoring those before the last update if needed) and raise."""
        if not np.isfinite(self._flat_params).all():
            self._flat_params[...] = self._previous
        raise DivergenceError(
            f"fit: {what} at epoch {epoch + 1}, step {step + 1}; training stopped and the model keeps its last "
            "finite weights (model.history has the completed epochs). Lower the learning rate or check the data "
            "scale.")

    def _warn_if_class_sorted(self, y_train, y_val) -> None:
        if not isinstance(self.loss, losses_mod.SparseCategoricalCrossentropy):
            return
        n_train, n_val = int(y_train.any(axis=0).sum()), int(y_val.any(axis=0).sum())   # classes present
        if n_val < n_train:
            warnings.warn(
                f"validation_split holds out the last {len(y_val)} samples (as Keras does), and they contain only "
                f"{n_val} of the {n_train} classes in the training part: the data looks sorted by class. "
                "Shuffle it first or pass validation_data (see tinynet.datasets.train_test_split).",
                UserWarning, stacklevel=4)

    def _evaluate_prepared(self, x, targets, batch_size) -> dict[str, float]:
        """Loss and metrics over prepared data, in batches, weighted by batch size (Keras's evaluate)."""
        mean = EpochMean()
        with np.errstate(over="ignore", invalid="ignore"):      # overflow is reported by name instead
            for xb, tb in batches(x, targets, batch_size):
                loss, out = self.compute_loss(xb, tb)
                mean.add(self._batch_logs(loss, tb, out), xb.shape[0])
            if not math.isfinite(mean.totals["loss"]):
                _check_outputs_finite(self.forward(x), x)
        return mean.result()

    def evaluate(self, x, y, batch_size=None, verbose=0, return_dict=False):
        """Loss (and metrics) on ``(x, y)``: a float if there are no metrics, else ``[loss, *metrics]``."""
        self.require_compiled("evaluate")
        self.require_built("evaluate")
        batch_size = 32 if batch_size is None else positive_int(batch_size, "batch_size")
        verbose = _verbosity(verbose)
        logs = self._evaluate_prepared(*self.prepare_data(x, y), batch_size)
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()), flush=True)
        if return_dict:
            return logs
        return logs["loss"] if len(logs) == 1 else list(logs.values())

    def predict(self, x, batch_size=None, verbose=0) -> np.ndarray:
        """Outputs for ``x`` of shape (n, features...), computed in batches; shape (n, outputs).

        ``batch_size=None`` runs up to 8192 samples per forward pass (Keras defaults to 32): each sample's output
        does not depend on the batching beyond float rounding, and large batches are several times faster.
        """
        self.require_built("predict")
        batch_size = _PREDICT_BATCH if batch_size is None else positive_int(batch_size, "batch_size")
        _verbosity(verbose)
        x = self.prepare_inputs(x)
        out = np.empty((x.shape[0], *self.output_shape), dtype=self.dtype)
        with np.errstate(over="ignore", invalid="ignore"):      # overflow is reported below, by name
            for start in range(0, x.shape[0], batch_size):
                out[start:start + batch_size] = self.forward(x[start:start + batch_size])
        _check_outputs_finite(out, x)
        return out

    def __call__(self, x, training: bool = False) -> np.ndarray:
        """Forward pass on all of ``x`` at once."""
        self.require_built("__call__")
        return self.forward(self.prepare_inputs(x), training)

    # -- configuration and files (the formats are in saving.py) ----------------------------------------------
    def get_config(self) -> dict:
        """Everything needed to rebuild this model (not its weights) as JSON-ready data."""
        return saving.model_config(self)

    def save_weights(self, path) -> None:
        """Write all parameters to an ``.npz`` file, atomically (temporary file, then rename)."""
        self.require_built("save_weights")
        saving.save_weights(self, path)

    def load_weights(self, path) -> None:
        """Read parameters written by ``save_weights``; checked in full, loaded all-or-nothing, never unpickled."""
        self.require_built("load_weights")
        saving.load_weights(self, path)

    def save(self, path) -> None:
        """Save the whole training state to one ``.npz`` file, atomically and without pickle.

        It holds the architecture (JSON), the weights, the optimizer's state and the state of the generator used
        for shuffling, so ``tinynet.load_model(path)`` continues training exactly where this model stopped.
        """
        self.require_built("save")
        saving.save_model(self, path)

    # -- as a layer of another model: Sequential([model, Softmax()]) -----------------------------------------
    # Its weights stay in its own flat buffer, shared with the outer model, which sees them as its non-trainable
    # state (in its get_weights, not in its optimizer): Keras's probability model of the classification tutorial.
    params = grads = param_names = ()

    @property
    def state(self) -> list[np.ndarray]:
        return self.weights

    @property
    def state_names(self) -> list[str]:
        return self.weight_names

    @property
    def cache(self) -> dict:
        return {}

    def param_specs(self, input_shape) -> list:
        if tuple(input_shape) != self.input_shape:
            raise ValueError(f"input_shape: model {self.name!r} takes samples of shape {self.input_shape}, "
                             f"received {tuple(input_shape)}")
        return []

    def bind(self, params, grads) -> None:
        """Nothing to move: the outer model holds none of this model's parameters."""

    def backward(self, grad, need_input_grad=True):
        raise ValueError(f"model {self.name!r}: a Sequential inside another is used for inference (predict, "
                         "evaluate); train it on its own")

    # -- display ---------------------------------------------------------------------------------------------
    def summary(self, print_fn=print) -> None:
        """Print a Keras-like table of layers, output shapes and parameter counts."""
        rows = []
        shape = getattr(self, "input_shape", None) or self.declared_input_shape
        for layer in self.layers:
            if shape is not None:
                shape = layer.compute_output_shape(shape)
            kind = type(layer).__name__
            act = getattr(layer, "activation_name", None)
            label = f"{layer.name} ({kind}{', ' + act if act and kind == 'Dense' else ''})"
            nparams = str(layer.count_params()) if layer.built else "?"
            rows.append((label, "?" if shape is None else str((None, *shape)), nparams))
        header = ("Layer (type)", "Output Shape", "Param #")
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
        line = "-" * (sum(widths) + 6)
        print_fn(f'Model: "{self.name}"')
        print_fn(line)
        print_fn("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
        print_fn("=" * len(line))
        for r in rows:
            print_fn("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
        print_fn("=" * len(line))
        print_fn(f"Total params: {self.count_params() if self.built else '?'}")
        if self.built:
            print_fn(f"Trainable params: {self._flat_params.size}")
            print_fn(f"Non-trainable params: {self.count_params() - self._flat_params.size}")
        print_fn(line)


def _check_outputs_finite(out: np.ndarray, x: np.ndarray) -> None:
    """Refuse to hand back NaN/inf computed from finite inputs (overflow): say so instead of failing silently."""
    if not all_finite(out):
        raise ValueError(f"x: expected inputs the model can process in {out.dtype}; its outputs overflowed to "
                         f"inf/NaN (largest |x| is {np.abs(x).max():.3g}). Scale the inputs.")


def _verbosity(verbose) -> int:
    if verbose == "auto":
        return 1
    if isinstance(verbose, bool) or not isinstance(verbose, (int, np.integer)) or verbose not in (0, 1, 2):
        raise ValueError(f"verbose: expected 0, 1, 2 or 'auto', received {describe(verbose)}")
    return int(verbose)


def load_model(path) -> Sequential:
    """``tinynet.saving.load_model``, under Keras's name ``keras.models.load_model``."""
    return saving.load_model(path)


__all__ = ["Sequential", "DivergenceError", "OutputHead", "Trace", "load_model"]
