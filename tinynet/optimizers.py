"""Optimizers: update parameters in place from parallel lists of parameters and gradients.

``optimizer.apply(params, grads)`` takes two lists of arrays of matching shapes and updates each ``params[i]`` in
place. State (Adam's moments, SGD's velocity) is kept per *position* in those lists and created on the first
call, so an optimizer serves one model. A ``Sequential`` passes its whole model as one flat array (every layer's
parameters are views into it); since every update is elementwise, that is the same as updating each tensor alone.

Each ``update_step`` is Keras 3's formula, operation for operation, in the parameters' dtype, so float32 updates
are bit-identical to ``keras.optimizers``: NumPy 2 casts a Python float to the array's dtype when the two meet
(NEP 50), so ``(g - m) * (1 - self.beta_1)`` forms ``1 - beta_1`` in double and then casts it, as Keras does.
float64 parameters are updated in float64 throughout; Keras rounds some constants through float32 there, so
float64 updates agree with Keras's to float32 rounding of the hyperparameters, not bit for bit.
"""

from __future__ import annotations

import numpy as np

from ._validation import describe, real_number


class Optimizer:
    """Base class: checks the lists, creates per-position state, counts ``iterations``."""

    slot_names: tuple[str, ...] = ()

    def __init__(self, learning_rate=0.001, name=None):
        self.learning_rate = real_number(learning_rate, "learning_rate", low=0.0, low_open=True)
        self.name = name or type(self).__name__.lower()
        self.iterations = 0
        self._state: dict[str, list[np.ndarray]] | None = None
        self._shapes: list[tuple[int, ...]] = []
        self._owner: list[np.ndarray] = []

    def apply(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """Update every ``params[i]`` in place using ``grads[i]``; then ``iterations += 1``."""
        self._check(params, grads)
        self.update(params, grads)

    def apply_gradients(self, grads_and_vars) -> None:
        """Keras-style: an iterable of ``(gradient, variable)`` pairs."""
        pairs = list(grads_and_vars)
        self.apply([v for _, v in pairs], [g for g, _ in pairs])

    def update(self, params, grads) -> None:
        """``apply`` without its checks, for a caller that checked its arrays once (``Sequential.train_step``)."""
        if self._state is None:
            self.build(params)
        for i, (var, g) in enumerate(zip(params, grads, strict=True)):
            g = np.asarray(g, dtype=var.dtype)            # as Keras: the gradient in the variable's dtype
            self.update_step(g, var, *(self._state[slot][i] for slot in self.slot_names))
        self.iterations += 1

    def update_step(self, g: np.ndarray, var: np.ndarray, *slots: np.ndarray) -> None:
        """Update ``var`` in place from its gradient ``g``; ``slots`` are this position's state arrays."""
        raise NotImplementedError

    # -- state --------------------------------------------------------------------------------------------
    def build(self, params) -> None:
        """Create zeroed state for each position of ``params``."""
        self._state = {slot: [np.zeros_like(p) for p in params] for slot in self.slot_names}
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

    def get_config(self) -> dict:
        return {"learning_rate": self.learning_rate}


def _same_memory(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether ``a`` and ``b`` are the same elements of the same memory (an array and a full view of it, such as a
    model's read-only ``flat_weights``)."""
    owner_a, owner_b = (x if x.base is None else x.base for x in (a, b))
    return (owner_a is owner_b and a.shape == b.shape and a.strides == b.strides
            and a.__array_interface__["data"][0] == b.__array_interface__["data"][0])


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum, as Keras computes it."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name=None):
        super().__init__(learning_rate, name)
        self.momentum = real_number(momentum, "momentum", low=0.0, high=1.0, high_open=True)
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

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, name=None):
        super().__init__(learning_rate, name)
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


_BY_NAME = {"adam": Adam, "sgd": SGD}


def get(identifier) -> Optimizer:
    """Resolve an optimizer given as an instance or by Keras name (``"adam"``, ``"sgd"``)."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in _BY_NAME:
            raise ValueError(f"optimizer: expected one of {sorted(_BY_NAME)} or an Optimizer, "
                             f"received {identifier!r}")
        return _BY_NAME[key]()
    raise TypeError(f"optimizer: expected an optimizer name or a tinynet.optimizers.Optimizer, "
                    f"received {describe(identifier)}")


__all__ = ["Optimizer", "SGD", "Adam", "get"]
