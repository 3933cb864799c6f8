"""``Sequential``: a stack of layers, trained with a loss and an optimizer, Keras-style.

Storage: once built, all parameters of the model live in one contiguous array and all gradients in another; each
layer's ``kernel``/``bias`` are views into them. Backward passes write straight into the gradient array, and an
optimizer step is a few NumPy calls over the whole model. Nothing is copied per step.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import threading
import time
import warnings

import numpy as np

from . import losses as losses_mod
from . import metrics as metrics_mod
from . import optimizers as optimizers_mod
from ._io import atomic_savez, read_npz
from ._validation import all_finite, describe, float_array, float_dtype, positive_int, real_number
from .callbacks import Callback, History
from .layers import Activation, Dense, Layer, Softmax, _shape_tuple

_PREDICT_BATCH = 8192    # predict's default batch: per-layer calls on whole arrays; 8192 x 1024 float32 = 32 MiB


class DivergenceError(FloatingPointError):
    """Training produced a non-finite loss or non-finite weights."""


class _DeferredInterrupt:
    """While active, Ctrl-C (SIGINT) sets ``requested`` instead of raising, so ``fit`` stops between two steps.

    A second Ctrl-C raises at once. Outside the main thread (where signals can't be caught) it does nothing.
    """

    def __enter__(self):
        self.requested = False
        self._previous = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc_info):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


def _check_new_layer(layer, existing, name: str) -> None:
    if not isinstance(layer, Layer):
        raise TypeError(f"{name}: expected a tinynet.layers.Layer, received {describe(layer)}")
    if any(layer is other for other in existing):
        raise ValueError(f"{name}: {layer.name!r} is already in this model")
    if layer.built:
        raise ValueError(f"{name}: {layer.name!r} is already built; give Sequential unbuilt layers")


def _resolve_seed(seed) -> np.random.Generator:
    if seed is None or isinstance(seed, np.random.Generator):
        return seed if seed is not None else np.random.default_rng()
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed: expected None, a non-negative integer or a numpy.random.Generator, "
                        f"received {describe(seed)}")
    if seed < 0:
        raise ValueError(f"seed: expected None, a non-negative integer or a numpy.random.Generator, received {seed}")
    return np.random.default_rng(int(seed))


class Sequential:
    """A linear stack of layers.

    Parameters
    ----------
    layers : list of Layer, optional
        If the first has ``input_shape``, the model is built (weights created) at once, as in Keras; otherwise on
        the first ``fit``, ``loss_and_gradients`` or ``build``.
    seed : int, numpy.random.Generator or None
        Source of all randomness: weight initialisation, then the per-epoch shuffles. The same seed gives
        bit-identical weights before and after training.
    dtype : "float32" (default) or "float64"
        Precision of weights, activations and gradients. Inputs are converted to it.
    """

    def __init__(self, layers=None, seed=None, dtype="float32", name: str = "sequential"):
        self.dtype = float_dtype(dtype)
        self._rng = _resolve_seed(seed)
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
        self.built = False
        self.loss = self.optimizer = None
        self._logits_loss = None
        self.compiled = False
        self._metrics: list[tuple[str, object]] = []
        self.history: History | None = None
        self.stop_training = False
        for layer in layers:
            self.add(layer)
        if self.layers and self.layers[0].input_shape is not None:
            self.build(self.layers[0].input_shape)

    # -- structure -----------------------------------------------------------------------------------------
    def add(self, layer: Layer) -> None:
        """Append a layer (before the model is built)."""
        if self.built:
            raise ValueError("layer: this model is already built; add layers before it is built")
        _check_new_layer(layer, self.layers, "layer")
        taken = {other.name for other in self.layers}
        base, k = layer.name, 0
        while layer.name in taken:
            k += 1
            layer.name = f"{base}_{k}"
        self.layers.append(layer)

    def _shapes_through(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The output shape for inputs of ``input_shape``, checking that every layer accepts its input.

        Builds nothing, so a model whose layers don't fit the data is refused before any layer changes.
        """
        shape = input_shape
        for layer in self.layers:
            layer._param_specs(shape)                  # raises if the layer can't take this input
            shape = layer.compute_output_shape(shape)
        return shape

    def build(self, input_shape) -> None:
        """Create every layer's weights for inputs of shape ``(batch, *input_shape)``, then pack them."""
        if self.built:
            return
        if not self.layers:
            raise ValueError("layers: expected at least one layer before building, received none")
        shape = _shape_tuple(input_shape, "input_shape")
        self._shapes_through(shape)                    # all checks first: no layer is built if one would fail
        for layer in self.layers:
            layer.build(shape, rng=self._rng, dtype=self.dtype)
            shape = layer.output_shape
        self.input_shape = _shape_tuple(input_shape, "input_shape")
        self.output_shape = shape
        # One flat buffer for all parameters and one for all gradients; layers keep views into them.
        sizes = [p.size for layer in self.layers for p in layer.params]
        self._flat_params = np.empty(sum(sizes), dtype=self.dtype)
        self._flat_grads = np.zeros(sum(sizes), dtype=self.dtype)
        offset = 0
        for layer in self.layers:
            pviews, gviews = [], []
            for p in layer.params:
                pviews.append(self._flat_params[offset:offset + p.size].reshape(p.shape))
                gviews.append(self._flat_grads[offset:offset + p.size].reshape(p.shape))
                offset += p.size
            layer._bind(pviews, gviews)
        self.built = True

    @property
    def weights(self) -> list[np.ndarray]:
        """The live parameter arrays (views), in ``get_weights`` order."""
        return [p for layer in self.layers for p in layer.params]

    def count_params(self) -> int:
        self._require_built("count_params")
        return int(self._flat_params.size)

    def get_weights(self) -> list[np.ndarray]:
        """Copies of all parameters, Keras order: ``[kernel_0, bias_0, kernel_1, bias_1, ...]``."""
        self._require_built("get_weights")
        return [p.copy() for p in self.weights]

    def set_weights(self, weights) -> None:
        """Replace all parameters (checked in full before anything is written)."""
        self._require_built("set_weights")
        current = self.weights
        if not isinstance(weights, (list, tuple)):
            raise TypeError(f"weights: expected a list of {len(current)} arrays, received {describe(weights)}")
        if len(weights) != len(current):
            raise ValueError(f"weights: expected {len(current)} arrays, received {len(weights)}")
        checked = []
        for i, (w, p) in enumerate(zip(weights, current, strict=True)):
            arr = float_array(w, f"weights[{i}]", dtype=self.dtype, allow_empty=True)
            if arr.shape != p.shape:
                raise ValueError(f"weights[{i}]: expected shape {p.shape}, received {arr.shape}")
            checked.append(arr)
        for p, arr in zip(current, checked, strict=True):
            p[...] = arr

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
        self.loss, self.optimizer, self._metrics = loss_obj, opt, resolved
        # For a softmax output, Keras takes this loss from the softmax's logits (see _loss_head).
        scce = losses_mod.SparseCategoricalCrossentropy
        self._logits_loss = (scce(from_logits=True, reduction=loss_obj.reduction)
                             if isinstance(loss_obj, scce) and not loss_obj.from_logits else None)
        self.compiled = True

    # -- data checks ---------------------------------------------------------------------------------------
    def _require_built(self, what: str) -> None:
        if not self.built:
            raise ValueError(f"{what}: the model has no weights yet; give the first layer an input_shape or "
                             "call build(input_shape) / fit(x, y) first")

    def _require_compiled(self, what: str) -> None:
        if not self.compiled:
            raise ValueError(f"{what}: expected a compiled model; call model.compile(loss=..., optimizer=...) "
                             "first")

    def _inputs(self, x, name: str = "x", check_finite: bool = True) -> np.ndarray:
        x = float_array(x, name, dtype=self.dtype, check_finite=check_finite)
        if x.ndim < 2:
            raise ValueError(f"{name}: expected an array of shape (samples, features...), received shape {x.shape}")
        expected = self.input_shape if self.built else (
            self.layers[0].input_shape if self.layers and self.layers[0].input_shape else None)
        if expected is not None and x.shape[1:] != tuple(expected):
            raise ValueError(f"{name}: expected samples of shape {tuple(expected)} "
                             f"(e.g. ({x.shape[0]}, {', '.join(map(str, expected))})), received shape {x.shape}")
        if not self.layers:
            raise ValueError("layers: expected at least one layer, received none")
        # Row-major, once: scipy.io.loadmat returns column-major (Fortran) arrays, and gathering or slicing rows
        # of those for every batch is several times slower than the whole training step.
        return np.ascontiguousarray(x)

    def _xy(self, x, y, xname="x", yname="y"):
        x = self._inputs(x, xname)
        width = self._shapes_through(x.shape[1:])
        if len(width) != 1:
            raise ValueError(f"{xname}: the model's output must be (samples, outputs), it is {('samples',) + width}")
        y = self.loss._targets(y, x.shape[0], width[0], self.dtype, yname)
        return x, y

    # -- the training step ---------------------------------------------------------------------------------
    def _forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    def _backward(self, grad: np.ndarray, top: int | None = None) -> None:
        """Backpropagate from layer ``top`` (default: the last) down; fills the flat gradient buffer.

        ``grad`` is ``dL/d output`` of layer ``top``. The first layer skips its ``dx``.
        """
        layers = self.layers
        for i in range(len(layers) - 1 if top is None else top, -1, -1):
            grad = layers[i].backward(grad, i > 0)

    def _softmax_head(self) -> Softmax | None:
        """The output softmax whose logits the loss reads instead of its probabilities, or None.

        Keras computes ``SparseCategoricalCrossentropy(from_logits=False)`` on a softmax output from the
        softmax's input: no clipping of the probabilities, and the gradient ``(softmax - onehot) / N`` with
        respect to the logits. So does tinynet, for a model ending in ``Dense(activation="softmax")``,
        ``Activation("softmax")`` or ``Softmax()``.
        """
        if self._logits_loss is None:
            return None
        last = self.layers[-1]
        act = last._fn if isinstance(last, Activation) else last
        act = act.activation if isinstance(act, Dense) else act
        return act if isinstance(act, Softmax) else None

    def _loss_functions(self):
        """``(value_and_grad, per_sample, backward)`` for the batch just forwarded; resolved once per fit/evaluate.

        The first two take ``(y, out)``; ``backward`` takes the loss's gradient. With a softmax head they read the
        softmax's logits instead of ``out``, and backward starts below the softmax (the gradient is already with
        respect to the logits).
        """
        head = self._softmax_head()
        if head is None:
            loss = self.loss
            return (loss._value_and_grad, lambda y, out: loss._per_sample(y, out, want_grad=False)[0],
                    self._backward)
        loss, last = self._logits_loss, len(self.layers) - 1

        def backward_from_logits(grad):
            if isinstance(self.layers[last], Dense):          # Dense(activation="softmax"): skip its softmax
                grad = self.layers[last]._backward_linear(grad, last > 0)
            self._backward(grad, top=last - 1)

        return (lambda y, out: loss._value_and_grad(y, head.logits),
                lambda y, out: loss._per_sample(y, head.logits, want_grad=False)[0],
                backward_from_logits)

    def loss_and_gradients(self, x, y) -> tuple[float, list[np.ndarray]]:
        """The loss on ``(x, y)`` and its gradient for every parameter (copies, in ``get_weights`` order).

        No weights change; use it to check backprop from outside (see :mod:`tinynet.gradcheck`).
        """
        self._require_compiled("loss_and_gradients")
        x, y = self._xy(x, y)
        self.build(x.shape[1:])
        value_and_grad, _, backward = self._loss_functions()
        loss, grad = value_and_grad(y, self._forward(x, training=True))
        backward(grad)
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
        # Every check happens before any state changes.
        self._require_compiled("fit")
        batch_size = 32 if batch_size is None else positive_int(batch_size, "batch_size")
        epochs = positive_int(epochs, "epochs")
        verbose = _verbosity(verbose)
        split = real_number(validation_split, "validation_split", low=0.0, high=1.0, high_open=True)
        if not isinstance(shuffle, bool):
            raise TypeError(f"shuffle: expected True or False, received {describe(shuffle)}")
        if callbacks is None:
            callbacks = []
        if not isinstance(callbacks, (list, tuple)) or not all(isinstance(c, Callback) for c in callbacks):
            raise TypeError(f"callbacks: expected a list of tinynet.callbacks.Callback, received {describe(callbacks)}")
        x, y = self._xy(x, y)
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError("validation_data: expected a tuple (x_val, y_val), "
                                f"received {describe(validation_data)}")
            val = self._xy(*validation_data, xname="validation_data[0]", yname="validation_data[1]")
            if val[0].shape[1:] != x.shape[1:]:
                raise ValueError(f"validation_data[0]: expected samples of shape {x.shape[1:]}, "
                                 f"received shape {val[0].shape}")
        elif split > 0:
            split_at = int(x.shape[0] * (1.0 - split))
            if split_at == 0 or split_at == x.shape[0]:
                raise ValueError(f"validation_split: {split} of {x.shape[0]} samples leaves "
                                 f"{split_at} for training and {x.shape[0] - split_at} for validation; "
                                 "expected both to be non-empty")
            x, y, val = x[:split_at], y[:split_at], (x[split_at:], y[split_at:])
            self._warn_if_class_sorted(y, val[1])
        if not self.optimizer._fits([self._flat_params] if self.built else None):
            raise ValueError(f"optimizer: this {type(self.optimizer).__name__} already holds state (moments, step "
                             "count) for another model's parameters; give each model its own optimizer instance")

        self.build(x.shape[1:])
        n = x.shape[0]
        steps = math.ceil(n / batch_size)
        history = History({"verbose": verbose, "epochs": epochs, "steps": steps}, model=self)
        self.history = history
        self.stop_training = False
        params, grads = [self._flat_params], [self._flat_grads]
        loss_vg, _, backward = self._loss_functions()
        forward, apply = self._forward, self.optimizer._apply
        metrics = self._metrics
        previous = self._flat_params.copy()      # weights before the latest update, for the divergence guard
        self._previous_params = previous
        for callback in callbacks:
            callback.set_model(self)
            callback.on_train_begin()
        with _DeferredInterrupt() as interrupt:
            for epoch in range(epochs):
                for callback in callbacks:
                    callback.on_epoch_begin(epoch)
                start_time = time.perf_counter()
                order = self._rng.permutation(n) if shuffle else None
                total, seen = 0.0, 0
                correct = [0] * len(metrics)
                for step, start in enumerate(range(0, n, batch_size)):
                    if shuffle:
                        # Gathering each batch's rows (a few kB that stay in cache for the matmul) measured faster
                        # than gathering the whole epoch at once; mode="clip" skips a bounds-checking copy.
                        rows = order[start:start + batch_size]
                        xb, yb = x.take(rows, axis=0, mode="clip"), y.take(rows, axis=0, mode="clip")
                    else:
                        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
                    out = forward(xb, True)
                    loss, grad = loss_vg(yb, out)
                    if not math.isfinite(loss):
                        self._diverged(previous, f"the loss became {loss}", epoch, step)
                    for k, (_, count) in enumerate(metrics):
                        correct[k] += count(yb, out)
                    backward(grad)
                    np.copyto(previous, params[0])
                    apply(params, grads)
                    total += loss * xb.shape[0]
                    seen += xb.shape[0]
                    for callback in callbacks:          # Keras passes the epoch's running mean as "loss"
                        callback.on_train_batch_end(step, {"loss": total / seen, "batch_loss": loss})
                    if interrupt.requested or self.stop_training:
                        break
                if interrupt.requested and seen < n:    # stopped inside the epoch: don't record it
                    break
                if not np.isfinite(params[0]).all():
                    self._diverged(previous, "the weights became non-finite", epoch, step)
                logs = {"loss": total / seen}           # seen < n only when a callback stopped training
                for (key, _), c in zip(metrics, correct, strict=True):
                    logs[key] = c / seen
                if val is not None:
                    for key, value in self._evaluate_arrays(val[0], val[1], batch_size).items():
                        logs["val_" + key] = value
                history.record(epoch, logs)
                for callback in callbacks:
                    callback.on_epoch_end(epoch, dict(logs))
                if verbose:
                    seconds = time.perf_counter() - start_time
                    parts = " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())
                    print(f"Epoch {epoch + 1}/{epochs} - {seconds:.2f}s - {parts}", file=sys.stdout, flush=True)
                if self.stop_training or interrupt.requested:
                    break
        for callback in callbacks:
            callback.on_train_end()
        if interrupt.requested:
            raise KeyboardInterrupt(
                f"fit interrupted in epoch {epoch + 1}/{epochs}: the model keeps the weights after step "
                f"{step + 1} of that epoch, and model.history the {len(history.epoch)} completed epochs")
        return history

    def _diverged(self, previous: np.ndarray, what: str, epoch: int, step: int):
        """Stop training: keep finite weights (restoring those before the last update if needed) and raise."""
        if not np.isfinite(self._flat_params).all():
            self._flat_params[...] = previous
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
                UserWarning, stacklevel=3)

    def _evaluate_arrays(self, x, y, batch_size) -> dict[str, float]:
        _, per_sample, _ = self._loss_functions()
        total = 0.0
        correct = [0] * len(self._metrics)
        with np.errstate(over="ignore", invalid="ignore"):      # overflow is reported by name instead
            for start in range(0, x.shape[0], batch_size):
                xb, yb = x[start:start + batch_size], y[start:start + batch_size]
                out = self._forward(xb, False)
                total += float(self.loss._reduce(per_sample(yb, out))) * xb.shape[0]
                for k, (_, count) in enumerate(self._metrics):
                    correct[k] += count(yb, out)
            if not math.isfinite(total):
                _check_outputs_finite(self._forward(x, False), x)
        logs = {"loss": total / x.shape[0]}
        for (key, _), c in zip(self._metrics, correct, strict=True):
            logs[key] = c / x.shape[0]
        return logs

    def evaluate(self, x, y, batch_size=None, verbose=0, return_dict=False):
        """Loss (and metrics) on ``(x, y)``: a float if there are no metrics, else ``[loss, *metrics]``."""
        self._require_compiled("evaluate")
        self._require_built("evaluate")
        batch_size = 32 if batch_size is None else positive_int(batch_size, "batch_size")
        verbose = _verbosity(verbose)
        x, y = self._xy(x, y)
        logs = self._evaluate_arrays(x, y, batch_size)
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()), flush=True)
        if return_dict:
            return logs
        return logs["loss"] if len(logs) == 1 else list(logs.values())

    def predict(self, x, batch_size=None, verbose=0) -> np.ndarray:
        """Outputs for ``x`` of shape (n, features...), computed in batches; shape (n, outputs).

        ``batch_size=None`` runs up to 8192 samples per forward pass (Keras defaults to 32). Each sample's output
        does not depend on the batching beyond float rounding, and large batches are several times faster.
        """
        self._require_built("predict")
        batch_size = _PREDICT_BATCH if batch_size is None else positive_int(batch_size, "batch_size")
        _verbosity(verbose)
        source = x
        # A first layer that is a plain Dense lets the forward pass prove x finite (see _proving_forward).
        proving = bool(self.layers) and type(self.layers[0]).forward is Dense.forward
        x = self._inputs(source, check_finite=not proving)
        out = np.empty((x.shape[0],) + tuple(self.output_shape), dtype=self.dtype)
        all_proven = True
        with np.errstate(over="ignore", invalid="ignore"):      # overflow is reported below, by name
            for start in range(0, x.shape[0], batch_size):
                if proving:
                    out[start:start + batch_size], proven = self._proving_forward(x[start:start + batch_size])
                    all_proven &= proven
                else:
                    out[start:start + batch_size] = self._forward(x[start:start + batch_size], False)
        if not all_proven:
            self._inputs(source)        # the full input check: names x if NaN or inf came in with it
        _check_outputs_finite(out, x)
        return out

    def _proving_forward(self, x: np.ndarray) -> tuple[np.ndarray, bool]:
        """The forward pass of a model whose first layer is a Dense, and whether it proves ``x`` finite.

        NaN or inf anywhere in a row of ``x`` makes every entry of that row of ``x @ kernel`` NaN or inf
        (``inf * 0`` is NaN). So a finite pre-activation proves the input finite, and ``predict`` checks the
        (n, units) product instead of scanning the (n, features) input, the largest array it reads (for the seed
        model: 25 instead of 400 values per sample). A non-finite pre-activation proves nothing either way (it
        may be overflow), and ``predict`` then scans the input.
        """
        first = self.layers[0]
        z = first.pre_activation(x)
        proven = bool(np.isfinite(z).all())
        x = z if first.activation is None else first.activation.forward(z, False)
        for layer in self.layers[1:]:
            x = layer.forward(x, False)
        return x, proven

    def __call__(self, x, training: bool = False) -> np.ndarray:
        """Forward pass on all of ``x`` at once."""
        self._require_built("__call__")
        return self._forward(self._inputs(x), training)

    # -- weights on disk -------------------------------------------------------------------------------------
    def _weight_names(self) -> list[str]:
        """Names of the parameters in ``get_weights`` order, unique within the model."""
        return [f"{i:03d}/{layer.name}/{pname}" for i, (layer, pname) in enumerate(
            (layer, pname) for layer in self.layers for pname in layer.param_names)]

    def save_weights(self, path) -> None:
        """Write all parameters to an ``.npz`` file, atomically (temporary file, then rename)."""
        self._require_built("save_weights")
        atomic_savez(path, dict(zip(self._weight_names(), self.weights, strict=True)))

    def load_weights(self, path) -> None:
        """Read parameters written by ``save_weights``; checked in full, loaded all-or-nothing, never unpickled."""
        self._require_built("load_weights")
        names = self._weight_names()
        arrays = read_npz(path)
        if sorted(arrays) != sorted(names):
            raise ValueError(f"path: {os.fspath(path)!r} holds weights {sorted(arrays)}; this model expects "
                             f"{names}")
        self.set_weights([arrays[name] for name in names])

    def get_config(self) -> dict:
        """Everything needed to rebuild this model (not its weights) as JSON-ready data."""
        config = {
            "format": "tinynet.Sequential", "version": 1, "name": self.name, "dtype": self.dtype.name,
            "input_shape": list(self.input_shape) if self.built else None,
            "layers": [{"class_name": type(layer).__name__, "config": layer.get_config()} for layer in self.layers],
            "compile": None,
        }
        if self.compiled:
            config["compile"] = {
                "loss": {"class_name": type(self.loss).__name__, "config": self.loss.get_config()},
                "optimizer": {"class_name": type(self.optimizer).__name__, "config": self.optimizer.get_config()},
                "metrics": [key for key, _ in self._metrics],
            }
        return config

    def save(self, path) -> None:
        """Save the whole training state to one ``.npz`` file, atomically and without pickle.

        It holds the architecture (JSON), the weights, the optimizer's state (e.g. Adam's ``m``, ``v`` and step
        count) and the state of the generator used for shuffling, so ``tinynet.load_model(path)`` continues
        training exactly where this model stopped: 2 epochs + save + load + 2 epochs gives bit-identical weights
        to 4 epochs straight.
        """
        self._require_built("save")
        config = self.get_config()
        config["rng_state"] = _jsonable(self._rng.bit_generator.state)
        arrays = {"config.json": np.array(json.dumps(config))}
        arrays.update({"weights/" + k: w for k, w in zip(self._weight_names(), self.weights, strict=True)})
        if self.compiled:
            arrays.update({"optimizer/" + k: v for k, v in self.optimizer.get_state().items()})
        atomic_savez(path, arrays)

    # -- display ---------------------------------------------------------------------------------------------
    def summary(self, print_fn=print) -> None:
        """Print a Keras-like table of layers, output shapes and parameter counts."""
        rows = []
        shape = getattr(self, "input_shape", None) or (self.layers[0].input_shape if self.layers else None)
        for layer in self.layers:
            if shape is not None:
                shape = layer.compute_output_shape(shape)
            kind = type(layer).__name__
            act = getattr(layer, "activation_name", None)
            label = f"{layer.name} ({kind}{', ' + act if act and kind == 'Dense' else ''})"
            nparams = str(layer.count_params()) if layer.built else "?"
            rows.append((label, "?" if shape is None else str((None, *shape)), nparams))
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
                  for i, h in enumerate(("Layer (type)", "Output Shape", "Param #"))]
        line = "-" * (sum(widths) + 6)
        print_fn(f'Model: "{self.name}"')
        print_fn(line)
        print_fn("  ".join(h.ljust(w) for h, w in zip(("Layer (type)", "Output Shape", "Param #"), widths,
                                                      strict=True)))
        print_fn("=" * len(line))
        for r in rows:
            print_fn("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
        print_fn("=" * len(line))
        total = self.count_params() if self.built else "?"
        print_fn(f"Total params: {total}")
        print_fn(line)


def _check_outputs_finite(out: np.ndarray, x: np.ndarray) -> None:
    """Refuse to hand back NaN/inf computed from finite inputs (overflow): say so instead of failing silently."""
    if not all_finite(out):
        raise ValueError(f"x: expected inputs the model can process in {out.dtype}; its outputs overflowed to "
                         f"inf/NaN (largest |x| is {np.abs(x).max():.3g}). Scale the inputs.")


def _jsonable(value):
    """A bit generator's state as JSON data: arrays become ``{"array": [...], "dtype": ...}`` (see saving.py)."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return {"array": value.tolist(), "dtype": value.dtype.str}
    return value.item() if isinstance(value, np.generic) else value


def _verbosity(verbose) -> int:
    if verbose == "auto":
        return 1
    if isinstance(verbose, bool) or not isinstance(verbose, (int, np.integer)) or verbose not in (0, 1, 2):
        raise ValueError(f"verbose: expected 0, 1, 2 or 'auto', received {describe(verbose)}")
    return int(verbose)


__all__ = ["Sequential", "DivergenceError"]
