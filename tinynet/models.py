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

import copy
import math
import threading
import warnings
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

from . import backend, saving
from . import losses as losses_mod
from . import metrics as metrics_mod
from . import optimizers as optimizers_mod
from ._validation import all_finite, checked_weights, describe, float_array, float_dtype, positive_int, real_number
from .callbacks import Callback, CallbackList, History
from .layers import InputLayer, Layer, shape_tuple
from .training import DeferredInterrupt, DivergenceError, EpochMean, batches, split_validation

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
        out = self.layer.activation(z)
        if training:
            self.z, self.out = z, out                     # for a penalty on the outputs (activity_regularizer)
        return z, out

    def backward(self, grad: np.ndarray, need_input_grad: bool, out_grad: np.ndarray | None = None
                 ) -> np.ndarray | None:
        """Backward from ``grad = dL/d(what the loss read)``; ``out_grad`` is a further ``dL/d outputs`` (an
        activity penalty's), which a fused head takes back through the activation."""
        if not self.fused:
            return self.layer.backward(grad if out_grad is None else grad + out_grad, need_input_grad)
        if out_grad is not None:
            grad = grad + self.layer.activation_backward(self.z, self.out, out_grad)
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
        self.metric_identifiers: list = []
        self.weighted_metric_identifiers: list = []
        self.metrics: list[metrics_mod.Metric] = []            # resolved at the first data after compile
        self.weighted_metrics: list[metrics_mod.Metric] = []
        self.loss_tracker = EpochMean()
        self.metrics_resolved = False
        self._resolving = threading.Lock()
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
        self.param_sizes = [p.size for p in self.trainable_weights]   # an optimizer's clipnorm is per tensor
        # The regularized parameters (with their gradients) and layers, found once: each step adds their terms.
        self.weight_regularizers = [(p, g, reg) for layer in self.layers
                                    for p, g, reg in zip(layer.params, layer.grads, layer.param_regularizers,
                                                         strict=True) if reg is not None]
        self.activity_regularizers = {i: layer.activity_regularizer for i, layer in enumerate(self.layers)
                                      if layer.activity_regularizer is not None}
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
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None
                ) -> None:
        """Choose the optimizer (Keras's default ``"rmsprop"``), the loss and metrics (e.g. ``["accuracy"]``).

        ``metrics`` ignore sample weights; ``weighted_metrics`` use them (Keras's split). ``"accuracy"`` is
        resolved from the shapes of the first targets and outputs, as Keras does (binary, sparse categorical or
        categorical).
        """
        if loss is None:
            raise ValueError("loss: expected a loss (e.g. SparseCategoricalCrossentropy(from_logits=True) or "
                             "'sparse_categorical_crossentropy'), received None")
        if loss_weights is not None:
            raise ValueError(f"loss_weights: weights between several outputs' losses; a Sequential has one output "
                             f"(expected None, received {describe(loss_weights)})")
        loss_obj = losses_mod.get(loss)
        opt = optimizers_mod.get(optimizer)
        if not loss_obj.reduces:
            raise ValueError("loss: expected a loss that reduces to one number for training, received "
                             f"{type(loss_obj).__name__} with reduction={loss_obj.reduction!r}")
        identifiers = {}
        for name, given in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            given = [] if given is None else given
            if isinstance(given, (str, metrics_mod.Metric)) or not isinstance(given, (list, tuple)):
                raise TypeError(f"{name}: expected a list of metric names or tinynet.metrics.Metric objects, "
                                f"received {describe(given)}")
            for m in given:
                metrics_mod.get(m, (1,), (1, 2))           # an unknown name or a wrong type fails here
            identifiers[name] = list(given)
        self._loss, self.optimizer = loss_obj, opt
        self.metric_identifiers = identifiers["metrics"]
        self.weighted_metric_identifiers = identifiers["weighted_metrics"]
        self.metrics, self.weighted_metrics = [], []      # resolved from the first data (Keras's rule)
        self.metrics_resolved = False
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
        categorical loss). The first call after ``compile`` resolves the metrics from the shapes of ``y`` and of
        the outputs, as Keras does, and checks that they can read these targets.
        """
        self.require_compiled("prepare_data")
        x = self.prepare_inputs(x, xname)
        width = self.compute_output_shape(x.shape[1:])
        if len(width) != 1:
            raise ValueError(f"{xname}: the model's output must be (samples, outputs), it is {('samples',) + width}")
        return x, self.loss.encode(y, x.shape[0], width[0], self.dtype, yname)

    def resolve_metrics(self, y_shape, targets) -> None:
        """Turn the compiled metric identifiers into metric objects, once after ``compile``, by Keras's
        ``get_metric`` rule from the shapes of the targets as given (``y_shape``) and of the outputs; then check
        each on one sample of the prepared ``targets`` (``ValueError`` naming it if it cannot read them).

        ``fit`` and ``evaluate`` call it after every other check; ``train_step`` on a model not yet resolved, from
        the targets' decoded shape. Under a lock: two threads' first calls resolve the metrics once.
        """
        with self._resolving:
            if not self.metrics_resolved:
                self._resolve_metrics(tuple(y_shape), targets.shape, targets)    # targets: the outputs' shape
                self.metrics_resolved = True

    def _resolve_metrics(self, y_shape, out_shape, targets) -> None:
        """Keras's ``get_metric`` for each identifier, then one checked update on a sample (reset after)."""
        resolved = {}
        for kind, identifiers in (("metrics", self.metric_identifiers),
                                  ("weighted_metrics", self.weighted_metric_identifiers)):
            resolved[kind] = [metrics_mod.get(m, y_shape, out_shape) for m in identifiers]
            # A probe output valid as logits and as probabilities: uniform over the classes (0.5 for one output).
            probe = np.full((1, out_shape[1]), 1 / out_shape[1] if out_shape[1] > 1 else 0.5, dtype=self.dtype)
            for m in resolved[kind]:
                try:
                    m.update_state(self.loss.decode(targets[:1]), probe)
                except (ValueError, TypeError) as exc:
                    raise ValueError(f"{kind}: {m.name!r} cannot read the targets of {type(self.loss).__name__} "
                                     f"({exc})") from None
                m.reset_state()
        taken = {m.name for m in resolved["metrics"]}
        for m in resolved["weighted_metrics"]:
            if m.name in taken:
                m.name = "weighted_" + m.name                  # Keras's name when a metric is in both lists
        self.metrics, self.weighted_metrics = resolved["metrics"], resolved["weighted_metrics"]

    def prepare_sample_weight(self, sample_weight, class_weight, targets, name: str = "sample_weight"):
        """Per-sample weights ``(N,)`` in the model's dtype, or ``None``: ``sample_weight`` checked (finite,
        non-negative, one per sample), or ``class_weight`` (a dict class -> weight) turned into weights the way
        Keras does (the class of a one-hot row is its argmax; classes missing from the dict weigh 1)."""
        n = targets.shape[0]
        if class_weight is None:
            return losses_mod.sample_weights(sample_weight, n, self.dtype, name)
        if sample_weight is not None:
            raise ValueError("class_weight: expected either class_weight or sample_weight, received both "
                             "(Keras refuses them together)")
        if not isinstance(class_weight, dict):
            raise TypeError(f"class_weight: expected a dict {{class: weight}}, received {describe(class_weight)}")
        classes = targets.shape[1] if targets.shape[1] > 1 else 2
        weights = {}
        for key, value in class_weight.items():
            if isinstance(key, bool) or not isinstance(key, (int, np.integer)) or not 0 <= key < classes:
                raise ValueError(f"class_weight: expected keys that are classes 0 to {classes - 1}, received key "
                                 f"{describe(key)}")
            weights[int(key)] = real_number(value, f"class_weight[{key}]", low=0.0)
        y = self.loss.decode(targets)
        labels = y.argmax(axis=1) if y.ndim > 1 and y.shape[1] != 1 else np.round(y.reshape(n))
        sample_weight = np.ones(n, dtype=self.dtype)
        for key, value in weights.items():
            sample_weight[labels == key] = value                # Keras: class_weight.get(label, 1.0)
        return sample_weight

    def _check_batch(self, x, targets, sample_weight=None) -> None:
        """Constant-time checks that ``(x, targets, sample_weight)`` came from ``prepare_data`` (and
        ``prepare_sample_weight``) for this model."""
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
        if sample_weight is not None and not (isinstance(sample_weight, np.ndarray)
                                              and sample_weight.dtype == self.dtype
                                              and sample_weight.shape == (x.shape[0],)):
            raise ValueError(f"sample_weight: expected weights from prepare_sample_weight: dtype {self.dtype.name}, "
                             f"shape {(x.shape[0],)}; received {describe(sample_weight)}")

    # -- the passes ------------------------------------------------------------------------------------------
    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Every layer's forward pass on a prepared ``x``: the model's outputs."""
        return self._forward_to_head(x, training)[1][-1]

    def _forward_to_head(self, x, training) -> tuple[np.ndarray, list[np.ndarray]]:
        """``(what the loss reads, every layer's output)``: the layers below the head, then the head."""
        outputs = []
        for layer in self.layers[:-1]:
            x = layer.forward(x, training)
            outputs.append(x)
        loss_input, out = self.head.forward(x, training)
        outputs.append(out)
        return loss_input, outputs

    def regularization_penalty(self, outputs: list[np.ndarray]) -> float:
        """What the layers' regularizers add to the loss (Keras's ``model.losses``, summed): each regularized
        weight's penalty, plus each activity regularizer's penalty on that layer's output divided by the batch
        size."""
        penalty = 0.0
        for p, _, reg in self.weight_regularizers:
            penalty += reg.penalty(p)
        for i, reg in self.activity_regularizers.items():
            penalty += reg.penalty(outputs[i]) / outputs[i].shape[0]
        return penalty

    def _activity_gradient(self, i: int, out) -> np.ndarray | None:
        """``d/d out`` of layer ``i``'s activity penalty ``reg(out) / N``, or None."""
        reg = self.activity_regularizers.get(i)
        return None if reg is None else reg.gradient(out) / out.dtype.type(out.shape[0])

    def compute_loss(self, x, targets, sample_weight=None) -> tuple[float, np.ndarray]:
        """The loss on a prepared batch (plus the regularization penalty) and the outputs, by an inference
        forward pass (no caches, no gradients)."""
        self._check_batch(x, targets, sample_weight)
        loss_input, outputs = self._forward_to_head(x, False)
        loss = self.head.loss.value(targets, loss_input, sample_weight) + self.regularization_penalty(outputs)
        return loss, outputs[-1]

    def compute_gradients(self, x, targets, trace: Trace | None = None, sample_weight=None
                          ) -> tuple[float, np.ndarray]:
        """Forward, loss and backward on a prepared batch: the one copy of the passes.

        Fills the gradient buffer (``flat_gradients``; each layer's ``grads``) and returns ``(loss, outputs)``;
        the loss includes the regularizers' penalty and the gradient its derivative. Changes no weight. With a
        ``Trace``, records every layer's output and incoming gradient.
        """
        self._check_batch(x, targets, sample_weight)
        self._check_trainable()
        loss_input, outputs = self._forward_to_head(x, True)
        loss, grad = self.head.loss.compute(targets, loss_input, sample_weight)
        loss += self.regularization_penalty(outputs)
        if trace is not None:
            trace.outputs, trace.loss_input = outputs, loss_input
        below = self.layers[:-1]
        grads_seen = [grad]
        grad = self.head.backward(grad, bool(below), self._activity_gradient(len(below), outputs[-1]))
        for i in range(len(below) - 1, -1, -1):
            extra = self._activity_gradient(i, outputs[i])
            grad = grad if extra is None else grad + extra
            grads_seen.append(grad)
            grad = below[i].backward(grad, i > 0)          # the first layer needs no dL/dx
        for p, g, reg in self.weight_regularizers:
            g += reg.gradient(p)                          # d/dW of the weight penalty
        if trace is not None:
            trace.output_grads = grads_seen[::-1]
        return loss, outputs[-1]

    def train_step(self, x, targets, sample_weight=None) -> dict[str, float]:
        """One step on a prepared batch: ``compute_gradients``, then the optimizer, then the metrics.

        Returns the running logs since the last ``reset_metrics`` (Keras's ``train_step``): ``loss`` (the mean
        of the batch losses, weighted by batch size) and each metric. Raises ``DivergenceError`` (before
        updating) if the loss is not finite.
        """
        self._check_optimizer()
        loss, out = self.compute_gradients(x, targets, sample_weight=sample_weight)
        if not math.isfinite(loss):
            raise DivergenceError(f"the loss became {loss}")
        self._previous[...] = self._flat_params
        self.optimizer.update([self._flat_params], [self._flat_grads], segments=[self.param_sizes])
        self.update_metrics(loss, targets, out, sample_weight)
        return self.metrics_result()

    def update_metrics(self, loss: float, targets, out, sample_weight=None) -> None:
        """Add one batch to the loss tracker (weighted by batch size, as Keras) and to every metric."""
        if not self.metrics_resolved:
            self.resolve_metrics(self.loss.decode(targets[:1]).shape, targets)
        _track_batch(self.loss, (self.loss_tracker, self.metrics, self.weighted_metrics), loss, targets, out,
                     sample_weight)

    def metrics_result(self) -> dict[str, float]:
        """``{"loss": ..., <metric>: ...}`` since the last ``reset_metrics``."""
        return _tracked_logs((self.loss_tracker, self.metrics, self.weighted_metrics))

    def reset_metrics(self) -> None:
        """Start the loss tracker and every metric afresh (``fit`` does at each epoch, ``evaluate`` at its start)."""
        self.loss_tracker = EpochMean()
        for m in [*self.metrics, *self.weighted_metrics]:
            m.reset_state()

    def _check_trainable(self) -> None:
        for layer in self.layers:
            if isinstance(layer, Sequential):
                layer.backward(None)                     # says why a nested model is not trained through

    def _check_optimizer(self) -> None:
        if not self.optimizer.built_for([self._flat_params] if self.built else None):
            raise ValueError(f"optimizer: this {type(self.optimizer).__name__} already holds state (moments, step "
                             "count) for another model's parameters; give each model its own optimizer instance")

    def loss_and_gradients(self, x, y, sample_weight=None) -> tuple[float, list[np.ndarray]]:
        """The loss on ``(x, y)`` and its gradient for every parameter (copies, in ``trainable_weights`` order).

        No weights change; use it to check backprop from outside (see :mod:`tinynet.gradcheck`).
        """
        self.require_compiled("loss_and_gradients")
        x, targets = self.prepare_data(x, y)
        weights = self.prepare_sample_weight(sample_weight, None, targets)
        self.build(x.shape[1:])
        loss, _ = self.compute_gradients(x, targets, sample_weight=weights)
        return loss, [g.copy() for layer in self.layers for g in layer.grads]

    # -- fit / evaluate / predict ----------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0) -> History:
        """Train for ``epochs`` passes over ``(x, y)`` in mini-batches; return a :class:`History`.

        x : array of shape (n_samples, features...); y : targets for the loss, e.g. labels of shape (n,) or (n, 1).
        Batches are consecutive slices of a fresh permutation each epoch (``shuffle=True``) or of the data as given;
        the last, smaller batch is included. ``history["loss"][e]`` is the mean of the batch losses of epoch ``e``
        weighted by batch size, each computed before that batch's update (Keras's definition).
        ``validation_split=f`` holds out the *last* ``n - floor(n * (1 - f))`` samples (and their weights), before
        any shuffling, as Keras does. ``sample_weight`` (one per sample) or ``class_weight`` (class -> weight)
        weight each sample's loss. ``callbacks``: a list of :class:`tinynet.callbacks.Callback`.
        """
        run = self._fit_arguments(x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data,
                                  shuffle, class_weight, sample_weight, initial_epoch)
        x, targets, weights = run.data
        self.build(x.shape[1:])
        steps = math.ceil(len(x) / run.batch_size)
        # Keras's order: the user's callbacks, then a History, then the progress display (verbose 1 or 2)
        callbacks = CallbackList(run.callbacks, self, add_history=True, add_progbar=run.verbose != 0,
                                 verbose=run.verbose, epochs=run.epochs, steps=steps)
        history, self.stop_training = callbacks.history, False
        callbacks.on_train_begin()
        epoch, step, logs = run.initial_epoch, 0, None
        stop_on_nan = any(c.handles_nan for c in run.callbacks)    # e.g. TerminateOnNaN: it stops fit itself
        batch_begin, batch_end = callbacks.overrides("on_train_batch_begin"), callbacks.overrides("on_train_batch_end")
        with DeferredInterrupt() as interrupt:
            for epoch in range(run.initial_epoch, run.epochs):
                self.reset_metrics()
                callbacks.on_epoch_begin(epoch)
                seen = 0
                rng = self.rng if run.shuffle else None
                for step, (xb, tb, wb) in enumerate(batches((x, targets, weights), run.batch_size, rng)):
                    if batch_begin:
                        callbacks.on_train_batch_begin(step)
                    try:
                        logs = self.train_step(xb, tb, wb)
                    except DivergenceError as exc:
                        if not stop_on_nan:
                            self._diverged(str(exc), epoch, step)
                        if not np.isfinite(self._flat_params).all():
                            self._flat_params[...] = self._previous       # keep the last finite weights
                        self.loss_tracker.add({"loss": math.nan}, len(xb))   # TerminateOnNaN stops fit
                        logs = self.metrics_result()
                    seen += len(xb)
                    if batch_end:
                        callbacks.on_train_batch_end(step, {**logs, "batch_loss": self.loss_tracker.last["loss"],
                                                            "weights_before": self.weights_before_step})
                    if interrupt.requested or self.stop_training:
                        break
                if interrupt.requested and seen < len(x):    # stopped inside the epoch: not recorded
                    break
                if not np.isfinite(self._flat_params).all():
                    self._diverged("the weights became non-finite", epoch, step)
                logs = self.metrics_result()              # over the samples seen, if a callback stopped early
                if run.validation is not None:
                    val_logs = self._evaluate_prepared(*run.validation, run.batch_size)
                    logs.update({"val_" + k: v for k, v in val_logs.items()})
                callbacks.on_epoch_end(epoch, logs)       # History records them (after callbacks add, e.g., the lr)
                if self.stop_training or interrupt.requested:
                    break
        callbacks.on_train_end(logs)
        if interrupt.requested:
            raise KeyboardInterrupt(
                f"fit interrupted in epoch {epoch + 1}/{run.epochs}: the model keeps the weights after step "
                f"{step + 1} of that epoch, and model.history the {len(history.epoch)} completed epochs")
        return history

    def _fit_arguments(self, x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data,
                       shuffle, class_weight, sample_weight, initial_epoch) -> SimpleNamespace:
        """Every check of ``fit``'s arguments, before any state changes; the data prepared and split."""
        self.require_compiled("fit")
        batch_size = 32 if batch_size is None else positive_int(batch_size, "batch_size")
        epochs = positive_int(epochs, "epochs")
        if isinstance(initial_epoch, bool) or not isinstance(initial_epoch, (int, np.integer)) or initial_epoch < 0:
            raise ValueError(f"initial_epoch: expected an integer >= 0, received {describe(initial_epoch)}")
        verbose = _verbosity(verbose)
        split = real_number(validation_split, "validation_split", low=0.0, high=1.0, high_open=True)
        if not isinstance(shuffle, bool):
            raise TypeError(f"shuffle: expected True or False, received {describe(shuffle)}")
        callbacks = [] if callbacks is None else callbacks
        if not isinstance(callbacks, (list, tuple)) or not all(isinstance(c, Callback) for c in callbacks):
            raise TypeError(f"callbacks: expected a list of tinynet.callbacks.Callback, received {describe(callbacks)}")
        if x is None or y is None:
            raise ValueError("x, y: expected arrays of samples and targets, received None")
        xs, targets = self.prepare_data(x, y)
        weights = self.prepare_sample_weight(sample_weight, class_weight, targets)   # checks class_weight too
        data, val = (xs, targets, None if class_weight is not None else weights), None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise TypeError("validation_data: expected a tuple (x_val, y_val) or (x_val, y_val, sample_weight), "
                                f"received {describe(validation_data)}")
            xv, tv = self.prepare_data(*validation_data[:2], xname="validation_data[0]", yname="validation_data[1]")
            wv = None
            if len(validation_data) == 3:
                wv = self.prepare_sample_weight(validation_data[2], None, tv, name="validation_data[2]")
            if xv.shape[1:] != data[0].shape[1:]:
                raise ValueError(f"validation_data[0]: expected samples of shape {data[0].shape[1:]}, "
                                 f"received shape {xv.shape}")
            val = (xv, tv, wv)
        elif split > 0:
            data, val = split_validation(data, split)
            self._warn_if_class_sorted(data[1], val[1])
        if class_weight is not None:             # as Keras: class weights for the training part only
            data = (data[0], data[1], self.prepare_sample_weight(None, class_weight, data[1]))
        self._check_optimizer()
        self._check_trainable()
        self.resolve_metrics(np.shape(y), targets)              # the one change of state, after every check
        return SimpleNamespace(batch_size=batch_size, epochs=epochs, verbose=verbose, callbacks=list(callbacks),
                               data=data, validation=val, shuffle=shuffle, initial_epoch=int(initial_epoch))

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

    def _evaluate_prepared(self, x, targets, sample_weight, batch_size) -> dict[str, float]:
        """Loss and metrics over prepared data, in batches; the loss weighted by batch size (Keras's evaluate).

        Tracked in fresh copies of the metrics, not in the model's own: threads may evaluate one model at once.
        """
        fresh = [copy.deepcopy(m) for m in [*self.metrics, *self.weighted_metrics]]
        for m in fresh:
            m.reset_state()
        tracking = (EpochMean(), fresh[:len(self.metrics)], fresh[len(self.metrics):])
        with np.errstate(over="ignore", invalid="ignore"):      # overflow is reported by name instead
            for xb, tb, wb in batches((x, targets, sample_weight), batch_size):
                loss, out = self.compute_loss(xb, tb, wb)
                _track_batch(self.loss, tracking, loss, tb, out, wb)
            logs = _tracked_logs(tracking)
            if not math.isfinite(logs["loss"]):
                _check_outputs_finite(self.forward(x), x)
        return logs

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, return_dict=False):
        """Loss (and metrics) on ``(x, y)``: a float if there are no metrics, else ``[loss, *metrics]``."""
        self.require_compiled("evaluate")
        self.require_built("evaluate")
        batch_size = 32 if batch_size is None else positive_int(batch_size, "batch_size")
        verbose = _verbosity(verbose)
        if not isinstance(return_dict, bool):
            raise TypeError(f"return_dict: expected True or False, received {describe(return_dict)}")
        x, targets = self.prepare_data(x, y)
        weights = self.prepare_sample_weight(sample_weight, None, targets)
        self.resolve_metrics(np.shape(y), targets)
        logs = self._evaluate_prepared(x, targets, weights, batch_size)
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

    def to_keras(self, include_optimizer_state: bool = True):
        """This model as a ``keras.Sequential`` (``tinynet.keras_interop.to_keras``; needs TensorFlow)."""
        # keras_interop builds Sequentials itself; TensorFlow is imported there, only when called
        from .keras_interop import to_keras

        return to_keras(self, include_optimizer_state=include_optimizer_state)

    # -- as a layer of another model: Sequential([model, Softmax()]) -----------------------------------------
    # Its weights stay in its own flat buffer, shared with the outer model, which sees them as its non-trainable
    # state (in its get_weights, not in its optimizer): Keras's probability model of the classification tutorial.
    params = grads = param_names = param_regularizers = ()
    activity_regularizer = None

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


def _track_batch(loss_obj, tracking, loss: float, targets, out, sample_weight) -> None:
    """Add one batch to ``tracking = (loss tracker, metrics, weighted metrics)``: the loss weighted by the batch
    size (as Keras), the metrics on ``loss_obj.decode(targets)``, the weighted ones with ``sample_weight``."""
    tracker, metrics, weighted = tracking
    tracker.add({"loss": loss}, out.shape[0])
    if metrics or weighted:
        y_true = loss_obj.decode(targets)
        for m in metrics:
            m.update(y_true, out)
        for m in weighted:
            m.update(y_true, out, sample_weight)


def _tracked_logs(tracking) -> dict[str, float]:
    tracker, metrics, weighted = tracking
    logs = {"loss": tracker.result().get("loss", 0.0)}
    logs.update({m.name: m.result() for m in [*metrics, *weighted]})
    return logs


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
