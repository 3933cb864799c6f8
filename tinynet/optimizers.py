"""Optimizers: update parameters in place from parallel lists of parameters and gradients.

``optimizer.apply(params, grads)`` takes two lists of arrays of matching shapes and updates each ``params[i]`` in
place. State (Adam's moments, SGD's velocity) is kept per *position* in those lists and created on the first
call, so an optimizer serves one model. A ``Sequential`` passes its whole model as a single flat array (all
parameters are views into it), which makes a step a dozen NumPy calls for a small model (a dozen per cache block
for a large one, see ``_BLOCK``); since every update is elementwise, that is bit-for-bit the same as updating each
tensor on its own.

The formulas are Keras 3's, operation for operation, in the parameters' dtype (see each class), so float32
updates are bit-identical to ``keras.optimizers``.
"""

from __future__ import annotations

import numpy as np

from ._validation import describe, real_number

# Elements per block of an elementwise update. Adam reads and writes five arrays in about a dozen NumPy calls; on
# a flat buffer much larger than the CPU cache, running all of them on one 64Ki-element block (256 KiB of float32
# per array) before the next keeps the data in cache. Measured per Adam step: 1.47M parameters (400-1024-1024-10)
# 11.8 -> 6.3 ms, 670k (784-512-512-10) 4.0 -> 2.8 ms, 300k 1.28 -> 1.11 ms; up to about 200k parameters one
# pass over the whole buffer is as fast or faster, so only buffers of more than _BLOCKED_ABOVE values are blocked.
_BLOCK = 1 << 16
_BLOCKED_ABOVE = 4 * _BLOCK


def _blocked(param: np.ndarray) -> bool:
    """Whether ``param``'s update runs block by block (a long 1-D array, such as a model's flat buffer)."""
    return param.ndim == 1 and param.size > _BLOCKED_ABOVE


class Optimizer:
    """Base class: checks the lists, creates per-position state, counts ``iterations``."""

    def __init__(self, learning_rate=0.001, name=None):
        self.learning_rate = real_number(learning_rate, "learning_rate", low=0.0, low_open=True)
        self.name = name or type(self).__name__.lower()
        self.iterations = 0
        self._state: dict[str, list[np.ndarray]] | None = None

    def apply(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """Update every ``params[i]`` in place using ``grads[i]``; then ``iterations += 1``."""
        self._check(params, grads)
        self._apply(params, grads)

    def apply_gradients(self, grads_and_vars) -> None:
        """Keras-style: an iterable of ``(gradient, variable)`` pairs."""
        pairs = list(grads_and_vars)
        self.apply([v for _, v in pairs], [g for g, _ in pairs])

    # -- state --------------------------------------------------------------------------------------------
    _slots: tuple[str, ...] = ()

    def _build(self, params) -> None:
        self._owner = list(params)          # the arrays this state belongs to (see _fits)
        self._state = {slot: [np.zeros_like(p) for p in params] for slot in self._slots}
        # Two scratch buffers per position, so a step allocates nothing; one block long for a blocked position.
        self._scratch = [(np.empty(_BLOCK, p.dtype), np.empty(_BLOCK, p.dtype)) if _blocked(p) else
                         (np.empty_like(p), np.empty_like(p)) for p in params]

    def _fits(self, params) -> bool:
        """Whether this optimizer may update ``params`` (a list of arrays, or None for a model not yet built).

        True when it has no state yet or its state was built for exactly these arrays: one optimizer instance
        serves one model, as in Keras.
        """
        if self._state is None:
            return True
        return params is not None and len(params) == len(self._owner) and all(
            a is b for a, b in zip(params, self._owner, strict=True))

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
        expected = {"iterations"} | {f"{s}_{i}" for s in self._slots for i in range(len(params))}
        if set(state) != expected:
            raise ValueError(f"state: expected keys {sorted(expected)}, received {sorted(state)}")
        for slot in self._slots:
            for i, p in enumerate(params):
                arr = np.asarray(state[f"{slot}_{i}"])
                if arr.shape != p.shape:
                    raise ValueError(f"state[{slot}_{i}]: expected shape {p.shape}, received {arr.shape}")
        self.iterations = int(state["iterations"])
        self._build(params)
        for slot in self._slots:
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
        if self._state is not None:
            known = self._owner
            if [a.shape for a in known] != [p.shape for p in params]:
                raise ValueError("params: this optimizer's state was built for parameters of shapes "
                                 f"{[a.shape for a in known]}, received {[p.shape for p in params]}")

    def _apply(self, params, grads) -> None:
        if self._state is None:
            self._build(params)
        self._update_all(params, grads)
        self.iterations += 1

    def _update_all(self, params, grads) -> None:
        """Run ``_update`` on each position: on the whole array, or block by block for a long 1-D one."""
        for i, (var, g) in enumerate(zip(params, grads, strict=True)):
            constants = self._step_constants(var.dtype.type)
            slots = [self._state[slot][i] for slot in self._slots]
            scratch = self._scratch[i]
            if not _blocked(var):
                self._update(var, g, slots, scratch, constants)
                continue
            g = np.asarray(g)
            for lo in range(0, var.size, _BLOCK):
                hi = min(lo + _BLOCK, var.size)
                self._update(var[lo:hi], g[lo:hi], [s[lo:hi] for s in slots],
                             [t[:hi - lo] for t in scratch], constants)

    def _step_constants(self, dtype) -> tuple:
        """This step's scalars in the parameters' dtype."""
        raise NotImplementedError

    def _update(self, var, g, slots, scratch, constants) -> None:
        """Update ``var`` in place from ``g``; ``slots`` are the state arrays, ``scratch`` two work arrays."""
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"learning_rate": self.learning_rate}


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum, as Keras computes it::

        no momentum:  var -= g * lr
        momentum:     m = m * momentum - g * lr;   var += m
        nesterov:     m = m * momentum - g * lr;   var += m * momentum - g * lr
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name=None):
        super().__init__(learning_rate, name)
        self.momentum = real_number(momentum, "momentum", low=0.0, high=1.0, high_open=True)
        if not isinstance(nesterov, bool):
            raise TypeError(f"nesterov: expected True or False, received {describe(nesterov)}")
        self.nesterov = nesterov
        self._slots = ("momentum",) if self.momentum != 0 else ()

    def _step_constants(self, dtype):
        return dtype(self.learning_rate), dtype(self.momentum)

    def _update(self, var, g, slots, scratch, constants):
        lr, momentum = constants
        step, tmp = scratch
        np.multiply(g, lr, out=step)                      # g * lr
        if not slots:
            var -= step
            return
        (m,) = slots
        m *= momentum
        m -= step                                         # m = m * momentum - g * lr
        if self.nesterov:
            np.multiply(m, momentum, out=tmp)
            tmp -= step
            var += tmp
        else:
            var += m

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam in Keras's form (epsilon added to ``sqrt(v)``, bias correction folded into the step size)::

        t     = iterations + 1
        alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)
        m    += (g - m) * (1 - beta_1)
        v    += (g*g - v) * (1 - beta_2)
        var  -= (m * alpha) / (sqrt(v) + epsilon)

    with ``amsgrad=True`` dividing by ``sqrt(v_hat) + epsilon``, ``v_hat = max(v_hat, v)``.
    Every operation runs in the parameter's dtype; ``1 - beta`` is formed in double precision and then cast,
    exactly as Keras does.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, name=None):
        super().__init__(learning_rate, name)
        self.beta_1 = real_number(beta_1, "beta_1", low=0.0, high=1.0, high_open=True)
        self.beta_2 = real_number(beta_2, "beta_2", low=0.0, high=1.0, high_open=True)
        self.epsilon = real_number(epsilon, "epsilon", low=0.0)
        if not isinstance(amsgrad, bool):
            raise TypeError(f"amsgrad: expected True or False, received {describe(amsgrad)}")
        self.amsgrad = amsgrad
        self._slots = ("m", "v", "v_hat") if amsgrad else ("m", "v")
        self._cast: dict = {}

    def _step_constants(self, dtype):
        lr, beta_1, beta_2, one_minus_b1, one_minus_b2, epsilon = self._constants(dtype)
        t = dtype(self.iterations + 1)
        alpha = lr * np.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
        return alpha, one_minus_b1, one_minus_b2, epsilon

    def _update(self, var, g, slots, scratch, constants):
        alpha, one_minus_b1, one_minus_b2, epsilon = constants
        m, v = slots[0], slots[1]
        a, b = scratch
        np.subtract(g, m, out=a)
        a *= one_minus_b1
        m += a                                            # m += (g - m) * (1 - beta_1)
        np.multiply(g, g, out=a)
        a -= v
        a *= one_minus_b2
        v += a                                            # v += (g*g - v) * (1 - beta_2)
        if self.amsgrad:
            v = np.maximum(slots[2], v, out=slots[2])     # v_hat = max(v_hat, v)
        np.sqrt(v, out=b)
        b += epsilon
        np.multiply(m, alpha, out=a)
        a /= b
        var -= a                                          # var -= (m * alpha) / (sqrt(v) + epsilon)

    def _constants(self, dtype):
        """The hyperparameters cast to ``dtype`` once (``1 - beta`` formed in double first, as Keras does)."""
        key = (dtype, self.learning_rate, self.beta_1, self.beta_2, self.epsilon)   # follows later changes
        cached = self._cast.get(key)
        if cached is None:
            self._cast = {key: tuple(dtype(c) for c in (
                self.learning_rate, self.beta_1, self.beta_2, 1 - self.beta_1, 1 - self.beta_2, self.epsilon))}
            cached = self._cast[key]
        return cached

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
