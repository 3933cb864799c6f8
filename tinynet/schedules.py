"""Learning-rate schedules: the learning rate as a function of the optimizer's step, as Keras 3 computes it.

An optimizer given a schedule as its ``learning_rate`` uses ``schedule(optimizer.iterations)`` for its next step
(for the weight decay and the update alike), as Keras does. Keras evaluates its built-in schedules in float32 (a
Python float becomes a float32 tensor), so these do too and return that float32 value as a Python float: fed to a
float32 update, it is exactly Keras's learning rate. Also importable as ``tinynet.optimizers.schedules``.
"""

from __future__ import annotations

import bisect
import numbers

import numpy as np

from ._validation import constructor_arguments, describe, real_number, spec_parts

f32 = np.float32


class LearningRateSchedule:
    """Base class: ``schedule(step) -> float``. A subclass defines ``__call__`` and ``get_config``."""

    def __call__(self, step) -> float:
        raise NotImplementedError(f"{type(self).__name__} must define __call__(self, step)")

    def get_config(self) -> dict:
        raise NotImplementedError(f"{type(self).__name__} must define get_config() to be serializable")

    @classmethod
    def from_config(cls, config: dict) -> LearningRateSchedule:
        """Rebuild a schedule from ``get_config()``; a key the constructor does not take is a ``ValueError``."""
        return cls(**constructor_arguments(cls, config, "config"))

    def __repr__(self) -> str:
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except NotImplementedError:                   # a custom schedule need not be serializable
            return super().__repr__()
        return f"{type(self).__name__}({args})"


class _StepDecay(LearningRateSchedule):
    """The arguments ExponentialDecay and InverseTimeDecay share (each checks its own ``decay_rate`` first)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase, name):
        _learning_rate(initial_learning_rate, "initial_learning_rate")
        real_number(decay_steps, "decay_steps", low=0.0, low_open=True)        # Keras: decay_steps must be > 0
        _bool(staircase, "staircase")
        _name(name)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}

    def progress(self, step) -> np.float32:
        """``step / decay_steps`` in float32 (as Keras casts everything), floored with ``staircase``."""
        p = f32(_step(step)) / f32(self.decay_steps)
        return np.floor(p) if self.staircase else p


class ExponentialDecay(_StepDecay):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``; ``staircase=True`` floors the exponent."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        real_number(decay_rate, "decay_rate", low=0.0, low_open=True)
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step) -> float:
        p = self.progress(step)
        return float(f32(self.initial_learning_rate) * f32(self.decay_rate) ** p)


class InverseTimeDecay(_StepDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)``; ``staircase=True`` floors
    ``step / decay_steps`` (the schedule of Keras's "Overfit and underfit" tutorial)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="InverseTimeDecay"):
        real_number(decay_rate, "decay_rate", low=0.0)
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step) -> float:
        p = self.progress(step)
        return float(f32(self.initial_learning_rate) / (f32(1) + f32(self.decay_rate) * p))


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while ``boundaries[i-1] < step <=
    boundaries[i]``, and ``values[-1]`` once ``step > boundaries[-1]``."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if not isinstance(boundaries, (list, tuple)) or not boundaries:
            raise TypeError(f"boundaries: expected a non-empty list of integer steps, received {describe(boundaries)}")
        for i, b in enumerate(boundaries):
            if isinstance(b, bool) or not isinstance(b, numbers.Integral):
                raise TypeError(f"boundaries[{i}]: expected an integer step, received {describe(b)}")
        if any(a >= b for a, b in zip(boundaries[:-1], boundaries[1:], strict=True)):
            raise ValueError(f"boundaries: expected strictly increasing steps, received {list(boundaries)}")
        if not isinstance(values, (list, tuple)):
            raise TypeError(f"values: expected a list of learning rates, received {describe(values)}")
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"values: expected one more value than boundaries ({len(boundaries) + 1}), received "
                             f"{len(values)}")
        for i, v in enumerate(values):
            _learning_rate(v, f"values[{i}]")
        _name(name)
        self.boundaries = [int(b) for b in boundaries]
        self.values = list(values)
        self.name = name

    def __call__(self, step) -> float:
        step = _step(step)
        interval = bisect.bisect_left(self.boundaries, step)      # how many boundaries lie below step
        return float(f32(self.values[interval]))

    def get_config(self) -> dict:
        return {"boundaries": list(self.boundaries), "values": list(self.values), "name": self.name}


_BY_NAME = {"ExponentialDecay": ExponentialDecay, "InverseTimeDecay": InverseTimeDecay,
            "PiecewiseConstantDecay": PiecewiseConstantDecay}


def serialize(schedule: LearningRateSchedule) -> dict:
    """``{"class_name": ..., "config": schedule.get_config()}``, JSON-ready."""
    if not isinstance(schedule, LearningRateSchedule):
        raise TypeError(f"schedule: expected a LearningRateSchedule, received {describe(schedule)}")
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(spec: dict, name: str = "spec") -> LearningRateSchedule:
    """Undo ``serialize``: a built-in schedule from ``{"class_name": ..., "config": {...}}``; an unknown class
    name or configuration key raises ``ValueError``. Errors name the spec ``name`` (an optimizer's
    ``learning_rate``)."""
    class_name, config = spec_parts(spec, name)
    if class_name not in _BY_NAME:
        raise ValueError(f"{name}['class_name']: expected one of {sorted(_BY_NAME)}, received {class_name!r}")
    cls = _BY_NAME[class_name]
    return cls(**constructor_arguments(cls, config, f"{name}['config']"))


def _learning_rate(value, name: str) -> float:
    """A learning rate of a schedule: a finite number >= 0 that float32 can hold."""
    value = real_number(value, name, low=0.0)
    if value > float(np.finfo(f32).max):
        raise ValueError(f"{name}: expected a number within float32's range (Keras computes schedules in "
                         f"float32), received {value!r}")
    return value


def _step(step) -> int:
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise TypeError(f"step: expected an integer step count, received {describe(step)}")
    if step < 0:
        raise ValueError(f"step: expected an integer >= 0, received {step}")
    return int(step)


def _bool(value, name: str) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name}: expected True or False, received {describe(value)}")


def _name(value) -> None:
    if not isinstance(value, str):
        raise TypeError(f"name: expected a string, received {describe(value)}")


__all__ = ["LearningRateSchedule", "ExponentialDecay", "InverseTimeDecay", "PiecewiseConstantDecay", "serialize",
           "deserialize"]
