"""Optimizers: update parameters in place from parallel lists of parameters and gradients.

``optimizer.apply(params, grads)`` takes two lists of arrays of matching shapes and updates each ``params[i]`` in
place. State (Adam's moments, SGD's velocity) is kept per *position* in those lists and created on the first
call, so an optimizer serves one model. A ``Sequential`` passes its whole model as one flat array (every layer's
parameters are views into it); since every update is elementwise, that is the same as updating each tensor alone.
Only ``clipnorm`` (and ``global_clipnorm``'s sum) needs to know where one tensor ends and the next begins: the
model says so with ``segments``.

Each step follows Keras 3's ``apply``: clip the gradients, decay the weights (``var -= var * wd * lr``), then
``update_step``, Keras's formula operation for operation, in the parameters' dtype. So float32 updates are
bit-identical to ``keras.optimizers``: NumPy 2 casts a Python float to the array's dtype when the two meet
(NEP 50), so ``(g - m) * (1 - self.beta_1)`` forms ``1 - beta_1`` in double and then casts it, as Keras does.
float64 parameters are updated in float64 throughout; Keras rounds some constants through float32 there, so
float64 updates agree with Keras's to float32 rounding of the hyperparameters, not bit for bit.
"""

from __future__ import annotations

import sys

import numpy as np

from . import schedules
from ._validation import constructor_arguments, describe, real_number, snake_case, spec_parts
from .schedules import LearningRateSchedule

# ``from tinynet.optimizers.schedules import ExponentialDecay`` works as in Keras.
sys.modules.setdefault(__name__ + ".schedules", schedules)


class Optimizer:
    """Base class: checks the lists, creates per-position state, counts ``iterations``.

    The keyword arguments every optimizer takes after its own are Keras's: ``weight_decay`` (decoupled, applied
    before the update), ``clipnorm`` (each tensor's gradient clipped to this L2 norm), ``clipvalue`` (each
    gradient element clipped to ``[-clipvalue, clipvalue]``), ``global_clipnorm`` (all gradients scaled together
    so that their joint L2 norm is at most this) and ``name``. At most one of the three clip options may be set.
    """

    slot_names: tuple[str, ...] = ()

    def __init__(self, learning_rate=0.001, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name=None):
        if not isinstance(learning_rate, LearningRateSchedule):
            if callable(learning_rate):
                raise TypeError("learning_rate: expected a number >= 0 or a "
                                f"tinynet.schedules.LearningRateSchedule, received {describe(learning_rate)}")
            learning_rate = real_number(learning_rate, "learning_rate", low=0.0)
        if weight_decay is not None:
            weight_decay = real_number(weight_decay, "weight_decay", low=0.0)
        clips = {"clipnorm": clipnorm, "clipvalue": clipvalue, "global_clipnorm": global_clipnorm}
        clips = {k: None if v is None else real_number(v, k, low=0.0, low_open=True) for k, v in clips.items()}
        chosen = {k: v for k, v in clips.items() if v is not None}
        if len(chosen) > 1:
            raise ValueError("clipnorm, clipvalue, global_clipnorm: expected at most one of them to be set (as in "
                             f"Keras), received {', '.join(f'{k}={v!r}' for k, v in chosen.items())}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name: expected a string or None, received {describe(name)}")
        self._learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.clipnorm, self.clipvalue, self.global_clipnorm = (clips[k] for k in clips)
        self.name = name or snake_case(type(self).__name__)      # Keras's default: "adam", "rm_sprop", "adam_w"
        self.iterations = 0
        self._state: dict[str, list[np.ndarray]] | None = None
        self._shapes: list[tuple[int, ...]] = []
        self._owner: list[np.ndarray] = []

    # -- the learning rate ------------------------------------------------------------------------------------
    @property
    def learning_rate(self) -> float:
        """The rate the next step uses, as Keras's getter: the number given, or the schedule at ``iterations``.

        Assign a number to change it (``>= 0``), or a ``LearningRateSchedule`` to replace it; an optimizer built
        with a schedule refuses a number (``TypeError``), as Keras does.
        """
        if isinstance(self._learning_rate, LearningRateSchedule):
            return float(self._learning_rate(self.iterations))
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        if isinstance(value, LearningRateSchedule):
            self._learning_rate = value
            return
        if isinstance(self._learning_rate, LearningRateSchedule):
            raise TypeError("learning_rate: this optimizer was created with a LearningRateSchedule, so its learning "
                            f"rate is not settable (as in Keras); received {describe(value)}. Create the optimizer "
                            "with a number to set it, or assign another schedule")
        if callable(value):
            raise TypeError("learning_rate: expected a number >= 0 or a tinynet.schedules.LearningRateSchedule, "
                            f"received {describe(value)}")
        self._learning_rate = real_number(value, "learning_rate", low=0.0)

    @property
    def learning_rate_schedule(self) -> LearningRateSchedule | None:
        """The schedule the optimizer was given as ``learning_rate``, or ``None`` for a number."""
        return self._learning_rate if isinstance(self._learning_rate, LearningRateSchedule) else None

    # -- a step ---------------------------------------------------------------------------------------------
    def apply(self, params: list[np.ndarray], grads: list[np.ndarray], segments=None) -> None:
        """Update every ``params[i]`` in place using ``grads[i]``; then ``iterations += 1``.

        ``segments[i]``, if given, lists the sizes of the tensors packed one after another in ``params[i]`` (a
        model's flat buffer); ``clipnorm`` then clips each of them by its own norm. Without it (or with
        ``segments[i] = None``) each position is one tensor.
        """
        self._check(params, grads)
        self.update(params, grads, _segment_sizes(params, segments))

    def apply_gradients(self, grads_and_vars) -> None:
        """Keras-style: an iterable of ``(gradient, variable)`` pairs."""
        try:
            pairs = list(grads_and_vars) if not isinstance(grads_and_vars, (str, bytes, np.ndarray)) else None
        except TypeError:                                   # not iterable
            pairs = None
        if pairs is None or not all(isinstance(p, (tuple, list)) and len(p) == 2 for p in pairs):
            raise TypeError(f"grads_and_vars: expected (gradient, variable) pairs, e.g. zip(grads, params), received "
                            f"{describe(grads_and_vars)}")
        self.apply([v for _, v in pairs], [g for g, _ in pairs])

    def update(self, params, grads, segments=None) -> None:
        """``apply`` without its checks, for a caller that checked its arrays and ``segments`` once
        (``Sequential.train_step``)."""
        sizes = segments or [[np.size(p)] for p in params]
        if self._state is None:
            self.build(params)
        grads = [np.asarray(g, dtype=var.dtype) for var, g in zip(params, grads, strict=True)]   # as Keras casts
        grads = self.clip_gradients(grads, sizes)                # Keras's order: clip, decay, then the step
        for var in params:
            self.apply_weight_decay(var)
        for i, (var, g) in enumerate(zip(params, grads, strict=True)):
            self.update_step(g, var, *(self._state[slot][i] for slot in self.slot_names))
        self.iterations += 1

    def clip_gradients(self, grads: list[np.ndarray], sizes: list[list[int]] | None = None) -> list[np.ndarray]:
        """The gradients after ``clipnorm``, ``global_clipnorm`` or ``clipvalue`` (new arrays; the inputs are
        left alone). ``sizes[i]`` lists the tensors packed in ``grads[i]`` (default: one)."""
        sizes = sizes or [[g.size] for g in grads]
        if self.clipnorm is not None:
            return [_per_tensor(g, s, self.clipnorm) for g, s in zip(grads, sizes, strict=True)]
        if self.global_clipnorm is not None:
            return _clip_by_global_norm(grads, sizes, self.global_clipnorm)
        if self.clipvalue is not None:
            return [np.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        return grads

    def apply_weight_decay(self, var: np.ndarray) -> None:
        """Decoupled weight decay, Keras's expression in ``var``'s dtype: ``var -= var * wd * lr``."""
        if self.weight_decay is None:
            return
        lr, wd = var.dtype.type(self.learning_rate), var.dtype.type(self.weight_decay)
        var -= var * wd * lr                              # w = w - w wd lr   (not through the gradient)

    def update_step(self, g: np.ndarray, var: np.ndarray, *slots: np.ndarray) -> None:
        """Update ``var`` in place from its gradient ``g``; ``slots`` are this position's state arrays."""
        raise NotImplementedError

    # -- state --------------------------------------------------------------------------------------------
    def slot_initial_value(self, slot: str) -> float:
        """The value each element of state ``slot`` starts at (0; Adagrad's accumulator starts higher)."""
        return 0.0

    def build(self, params) -> None:
        """Create the state for each position of ``params`` (each slot filled with its initial value)."""
        self._state = {slot: [np.full_like(p, self.slot_initial_value(slot)) for p in params]
                       for slot in self.slot_names}
        self._shapes = [p.shape for p in params]
        self._owner = list(params)

    def built_for(self, params) -> bool:
        """Whether this optimizer may update ``params`` (arrays, or None for a model not yet built).

        True when it has no state yet, or its state was built for arrays with this storage: one optimizer
        instance serves one model, as in Keras.
        """
        if self._state is None:
            return True
        if params is None or len(params) != len(self._owner):
            return False
        return all(a is b or _same_memory(a, b) for a, b in zip(params, self._owner, strict=True))

    def get_state(self) -> dict[str, np.ndarray]:
        """Optimizer state as named arrays (``iterations`` and each slot per position), e.g. for saving."""
        state = {"iterations": np.asarray(self.iterations, dtype=np.int64)}
        for slot, arrays in (self._state or {}).items():
            for i, arr in enumerate(arrays):
                state[f"{slot}_{i}"] = arr.copy()
        return state

    def set_state(self, state: dict, params: list[np.ndarray]) -> None:
        """Restore what ``get_state`` returned, for the given parameter list (checked before anything changes)."""
        if set(state) == {"iterations"} and int(state["iterations"]) == 0:     # saved before the first step
            self.iterations, self._state = 0, None
            return
        expected = {"iterations"} | {f"{s}_{i}" for s in self.slot_names for i in range(len(params))}
        if set(state) != expected:
            raise ValueError(f"state: expected keys {sorted(expected)}, received {sorted(state)}")
        for slot in self.slot_names:
            for i, p in enumerate(params):
                arr = np.asarray(state[f"{slot}_{i}"])
                if arr.shape != p.shape:
                    raise ValueError(f"state[{slot}_{i}]: expected shape {p.shape}, received {arr.shape}")
        self.iterations = int(state["iterations"])
        self.build(params)
        for slot in self.slot_names:
            for i, p in enumerate(params):
                self._state[slot][i][...] = np.asarray(state[f"{slot}_{i}"], dtype=p.dtype)

    def _check(self, params, grads) -> None:
        if not isinstance(params, (list, tuple)) or not isinstance(grads, (list, tuple)):
            raise TypeError(f"params, grads: expected two lists of arrays, received {describe(params)}, "
                            f"{describe(grads)}")
        if len(params) != len(grads):
            raise ValueError(f"grads: expected one array per parameter ({len(params)}), received {len(grads)}")
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            if not isinstance(p, np.ndarray) or p.dtype.kind != "f":
                raise TypeError(f"params[{i}]: expected a float NumPy array, received {describe(p)}")
            if np.shape(g) != p.shape:
                raise ValueError(f"grads[{i}]: expected shape {p.shape}, received {np.shape(g)}")
            if not p.flags.writeable:
                raise ValueError(f"params[{i}]: expected a writeable array (it is updated in place), received a "
                                 "read-only one")
        if self._state is not None and self._shapes != [p.shape for p in params]:
            raise ValueError("params: this optimizer's state was built for parameters of shapes "
                             f"{self._shapes}, received {[p.shape for p in params]}")

    # -- configuration ----------------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """The constructor's arguments as JSON-ready data (a schedule as ``{"class_name", "config"}``)."""
        lr = self._learning_rate
        return {"name": self.name,
                "learning_rate": schedules.serialize(lr) if isinstance(lr, LearningRateSchedule) else lr,
                "weight_decay": self.weight_decay, "clipnorm": self.clipnorm,
                "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue}

    @classmethod
    def from_config(cls, config: dict) -> Optimizer:
        """Rebuild an optimizer from ``get_config()``: a key the constructor does not take is a ``ValueError``;
        a ``learning_rate`` given as a dict is a schedule (``tinynet.schedules.deserialize``)."""
        return cls._from_config(config, "config")

    @classmethod
    def _from_config(cls, config, name: str) -> Optimizer:
        config = constructor_arguments(cls, config, name)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"], f"{name}['learning_rate']")
        return cls(**config)


def _same_memory(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether ``a`` and ``b`` are the same elements of the same memory (an array and a full view of it, such as a
    model's read-only ``flat_weights``)."""
    owner_a, owner_b = (x if x.base is None else x.base for x in (a, b))
    return (owner_a is owner_b and a.shape == b.shape and a.strides == b.strides
            and a.__array_interface__["data"][0] == b.__array_interface__["data"][0])


# -- gradient clipping, as Keras (``tf.clip_by_norm`` and ``clip_by_global_norm`` in base_optimizer.py) ---------
def _clip_by_norm(values: np.ndarray, clip_norm: float) -> np.ndarray:
    """``values * c / max(||values||, c)``: scaled down to L2 norm ``c`` if longer, else (nearly) unchanged."""
    clip_norm = values.dtype.type(clip_norm)
    l2sum = np.sum(values * values)
    l2norm = np.sqrt(l2sum) if l2sum > 0 else l2sum   # as TensorFlow: sqrt only of a positive sum
    return values * clip_norm / np.maximum(l2norm, clip_norm)


def _global_norm(tensors: list[np.ndarray]) -> np.floating:
    """``sqrt(sum of every tensor's sum of squares)``, one sum per tensor as Keras."""
    squared_norms = [np.sum(np.square(t)) for t in tensors]
    return np.sqrt(np.sum(np.stack(squared_norms)))


def _clip_by_global_norm(grads, sizes, clip_norm: float) -> list[np.ndarray]:
    """Every gradient times ``c * min(1 / norm, 1 / c)``, ``norm`` over all of them; NaN if the norm is not
    finite, as Keras."""
    use_norm = _global_norm([t for g, s in zip(grads, sizes, strict=True) for t in _pieces(g, s)])
    with np.errstate(divide="ignore", invalid="ignore"):     # a zero or infinite norm is handled by the formula
        scale_for_finite = clip_norm * np.minimum(1.0 / use_norm, 1.0 / clip_norm)
        scale = scale_for_finite + (use_norm - use_norm)     # NaN unless the norm is finite
    return [g * g.dtype.type(scale) for g in grads]


def _pieces(g: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    """Views of the consecutive tensors of ``sizes`` packed in ``g``."""
    if len(sizes) == 1:
        return [g]
    ends = np.cumsum(sizes)
    flat = g.reshape(-1)
    return [flat[end - size:end] for size, end in zip(sizes, ends, strict=True)]


def _per_tensor(g: np.ndarray, sizes: list[int], clip_norm: float) -> np.ndarray:
    """Each tensor packed in ``g`` clipped by its own norm, as one new array of ``g``'s shape."""
    if len(sizes) == 1:
        return _clip_by_norm(g, clip_norm)
    return np.concatenate([_clip_by_norm(piece, clip_norm) for piece in _pieces(g, sizes)]).reshape(g.shape)


def _segment_sizes(params, segments) -> list[list[int]]:
    """``segments`` checked against ``params``: for each position, the sizes of the tensors packed in it."""
    if segments is None:
        return [[np.size(p)] for p in params]
    if not isinstance(segments, (list, tuple)) or len(segments) != len(params):
        raise ValueError(f"segments: expected a list with one entry (a list of tensor sizes, or None) per parameter "
                         f"array ({len(params)}), received {describe(segments)}")
    sizes = []
    for i, (p, seg) in enumerate(zip(params, segments, strict=True)):
        if seg is None:
            sizes.append([np.size(p)])
            continue
        if not isinstance(seg, (list, tuple)) or not seg or any(
                isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0 for n in seg):
            raise ValueError(f"segments[{i}]: expected a non-empty list of tensor sizes (integers >= 0), received "
                             f"{describe(seg)}")
        if sum(seg) != np.size(p):
            raise ValueError(f"segments[{i}]: expected sizes adding up to {np.size(p)} (the size of params[{i}]), "
                             f"received {list(seg)} (sum {sum(seg)})")
        sizes.append([int(n) for n in seg])
    return sizes


# -- the optimizers -----------------------------------------------------------------------------------------
class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum, as Keras computes it."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, name=None):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name)
        self.momentum = real_number(momentum, "momentum", low=0.0, high=1.0)
        if not isinstance(nesterov, bool):
            raise TypeError(f"nesterov: expected True or False, received {describe(nesterov)}")
        self.nesterov = nesterov
        self.slot_names = ("momentum",) if self.momentum != 0 else ()

    def update_step(self, g, var, m=None):
        lr = var.dtype.type(self.learning_rate)
        if m is None:
            var -= g * lr                                 # w -= lr g
            return
        m[...] = m * self.momentum - g * lr               # m = mu m - lr g
        if self.nesterov:
            var += m * self.momentum - g * lr             # w += mu m - lr g   (the look-ahead)
        else:
            var += m                                      # w += m

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam in Keras's form: bias correction folded into the step size, epsilon added to ``sqrt(v)``.

    ``amsgrad=True`` divides by ``sqrt(v_hat) + epsilon`` with ``v_hat = max(v_hat, v)``.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, name=None):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name)
        self.beta_1 = real_number(beta_1, "beta_1", low=0.0, high=1.0, high_open=True)
        self.beta_2 = real_number(beta_2, "beta_2", low=0.0, high=1.0, high_open=True)
        self.epsilon = real_number(epsilon, "epsilon", low=0.0)
        if not isinstance(amsgrad, bool):
            raise TypeError(f"amsgrad: expected True or False, received {describe(amsgrad)}")
        self.amsgrad = amsgrad
        self.slot_names = ("m", "v", "v_hat") if amsgrad else ("m", "v")

    def update_step(self, g, var, m, v, v_hat=None):
        dtype = var.dtype.type                            # lr and the betas in the dtype, then their powers
        t = dtype(self.iterations + 1)
        lr, beta_1, beta_2 = dtype(self.learning_rate), dtype(self.beta_1), dtype(self.beta_2)
        alpha = lr * np.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
        m += (g - m) * (1 - self.beta_1)                  # m = beta_1 m + (1 - beta_1) g
        v += (g * g - v) * (1 - self.beta_2)              # v = beta_2 v + (1 - beta_2) g**2
        if self.amsgrad:
            v = np.maximum(v_hat, v, out=v_hat)           # v_hat = max(v_hat, v)
        var -= (m * alpha) / (np.sqrt(v) + self.epsilon)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter): Keras's ``Adam`` with ``weight_decay`` required.

    Each step first shrinks the weights, ``w -= w * weight_decay * lr``, then takes Adam's step; the decay never
    passes through Adam's moments, unlike an L2 penalty in the loss.
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, clipnorm=None, clipvalue=None, global_clipnorm=None, name=None):
        if weight_decay is None:
            raise ValueError("weight_decay: expected a number >= 0 (AdamW decays the weights; Adam is AdamW "
                             "without decay), received None")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay, clipnorm, clipvalue,
                         global_clipnorm, name)


class RMSprop(Optimizer):
    """RMSprop as Keras writes it: divide the gradient by the root of a running mean of its square.

    ``centered=True`` subtracts the square of a running mean of the gradient (a variance estimate);
    ``momentum > 0`` accumulates the steps in a velocity (plain momentum, not Nesterov).
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, name=None):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name)
        self.rho = real_number(rho, "rho", low=0.0, high=1.0, high_open=True)
        self.momentum = real_number(momentum, "momentum", low=0.0, high=1.0)
        self.epsilon = real_number(epsilon, "epsilon", low=0.0)
        if not isinstance(centered, bool):
            raise TypeError(f"centered: expected True or False, received {describe(centered)}")
        self.centered = centered
        self.slot_names = (("velocity",) + (("momentum",) if self.momentum > 0 else ())
                           + (("average_gradient",) if centered else ()))

    def update_step(self, g, var, velocity, *slots):
        momentum = slots[0] if self.momentum > 0 else None           # the slots after velocity, in slot_names
        average_grad = slots[-1] if self.centered else None
        lr, rho = var.dtype.type(self.learning_rate), self.rho
        velocity[...] = rho * velocity + (1 - rho) * (g * g)         # E[g^2] = rho E[g^2] + (1 - rho) g^2
        if self.centered:
            average_grad[...] = rho * average_grad + (1 - rho) * g   # E[g] = rho E[g] + (1 - rho) g
            denominator = velocity - average_grad * average_grad + self.epsilon   # E[g^2] - E[g]^2 + eps
        else:
            denominator = velocity + self.epsilon
        increment = lr * g / np.sqrt(denominator)                    # lr g / sqrt(E[g^2] + eps)
        if momentum is not None:
            momentum[...] = self.momentum * momentum + increment     # m = mu m + lr g / sqrt(...)
            var -= momentum
        else:
            var -= increment

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}


class Adagrad(Optimizer):
    """Adagrad: each parameter's step is ``lr g`` over the root of the sum of all its squared gradients so far."""

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name=None):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name)
        self.initial_accumulator_value = real_number(initial_accumulator_value, "initial_accumulator_value",
                                                     low=0.0)
        self.epsilon = real_number(epsilon, "epsilon", low=0.0)
        self.slot_names = ("accumulator",)

    def slot_initial_value(self, slot):
        return self.initial_accumulator_value                        # the accumulator starts here, not at 0

    def update_step(self, g, var, accumulator):
        lr = var.dtype.type(self.learning_rate)
        accumulator += g * g                                         # G = G + g^2
        var -= lr * g / np.sqrt(accumulator + self.epsilon)          # w -= lr g / sqrt(G + eps)

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


_BY_NAME = {"adam": Adam, "sgd": SGD, "rmsprop": RMSprop, "adagrad": Adagrad, "adamw": AdamW}
_BY_CLASS_NAME = {cls.__name__: cls for cls in _BY_NAME.values()}


def get(identifier) -> Optimizer:
    """Resolve an optimizer given as an instance, by Keras name (``"adam"``, ``"rmsprop"``, ...) or as a
    ``{"class_name", "config"}`` dict (``deserialize``)."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in _BY_NAME:
            raise ValueError(f"optimizer: expected one of {sorted(_BY_NAME)} or an Optimizer, "
                             f"received {identifier!r}")
        return _BY_NAME[key]()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise TypeError(f"optimizer: expected an optimizer name or a tinynet.optimizers.Optimizer, "
                    f"received {describe(identifier)}")


def serialize(optimizer: Optimizer) -> dict:
    """``{"class_name": ..., "config": optimizer.get_config()}``, JSON-ready."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer: expected a tinynet.optimizers.Optimizer, received {describe(optimizer)}")
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(spec: dict) -> Optimizer:
    """Rebuild an optimizer (and its schedule) from ``serialize``'s ``{"class_name", "config"}``; an unknown class
    name or configuration key raises ``ValueError``."""
    class_name, config = spec_parts(spec, "spec")
    if class_name not in _BY_CLASS_NAME:
        raise ValueError(f"spec['class_name']: expected one of {sorted(_BY_CLASS_NAME)}, received {class_name!r}")
    return _BY_CLASS_NAME[class_name]._from_config(config, "spec['config']")


__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "get", "serialize", "deserialize"]
