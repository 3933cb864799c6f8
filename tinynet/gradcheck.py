"""Finite-difference gradient checking: is the hand-written backprop right?

For a scalar function ``f`` of an array ``w``, the central difference

    df/dw_k  ~  (f(w + h e_k) - f(w - h e_k)) / (2 h)

has error ``O(h**2)`` from truncation plus ``O(eps_machine / h)`` from rounding, so it only means something in
float64 (``h`` around 1e-6 gives about 1e-10 absolute accuracy). Every element is poked, and restored afterwards.
Each parameter tensor gets one relative error ``||analytic - numeric|| / (||analytic|| + ||numeric||)``: about
1e-9 when backprop is right, about 1 when a term is missing. ReLU has a kink at 0: a poke that crosses it makes the
difference quotient meaningless, so check at points whose pre-activations are not within ``h`` of 0.

Three entry points: :func:`check_model` (every parameter of a compiled ``Sequential``), :func:`check_layer`
(a layer's parameters and its input) and :func:`check_loss` (a loss with respect to its predictions).
Each returns a :class:`Report`, whose ``str()`` is a table and whose ``ok`` says whether all errors are below
``tol``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._validation import describe, real_number


def numerical_gradient(f, w: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of the scalar ``f()`` with respect to ``w``, poking ``w`` in place.

    ``w`` must be a float64 array that ``f`` reads; each element is restored after its two evaluations.
    """
    if not isinstance(w, np.ndarray) or w.dtype != np.float64:
        raise TypeError(f"w: expected a float64 array (finite differences are meaningless in float32), "
                        f"received {describe(w)}")
    grad = np.zeros_like(w)
    flat_w, flat_g = w.reshape(-1), grad.reshape(-1)
    if flat_w.base is not w and not np.shares_memory(flat_w, w):
        raise ValueError("w: expected a contiguous array that can be poked in place")
    for k in range(flat_w.size):
        original = flat_w[k]
        flat_w[k] = original + h
        f_plus = f()
        flat_w[k] = original - h
        f_minus = f()
        flat_w[k] = original
        flat_g[k] = (f_plus - f_minus) / (2 * h)
    return grad


@dataclass
class Entry:
    """One checked tensor: its name, shape, the relative error and the largest absolute difference."""

    name: str
    shape: tuple
    rel_error: float
    max_abs_diff: float
    analytic_norm: float
    numeric_norm: float


@dataclass
class Report:
    entries: list[Entry] = field(default_factory=list)
    tol: float = 1e-6

    @property
    def max_rel_error(self) -> float:
        return max((e.rel_error for e in self.entries), default=0.0)

    @property
    def ok(self) -> bool:
        return self.max_rel_error < self.tol

    def __str__(self) -> str:
        head = f"{'tensor':<28}{'shape':<14}{'|analytic|':>12}{'|numeric|':>12}{'max |diff|':>12}{'rel error':>12}"
        lines = [head, "-" * len(head)]
        for e in self.entries:
            flag = "" if e.rel_error < self.tol else "   <-- FAIL"
            lines.append(f"{e.name:<28}{str(e.shape):<14}{e.analytic_norm:>12.4e}{e.numeric_norm:>12.4e}"
                         f"{e.max_abs_diff:>12.2e}{e.rel_error:>12.2e}{flag}")
        lines.append(f"max relative error {self.max_rel_error:.2e} (tolerance {self.tol:g}): "
                     f"{'OK' if self.ok else 'FAILED'}")
        return "\n".join(lines)


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """``||a - n|| / (||a|| + ||n||)``, and 0 when both are exactly zero."""
    denom = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    return 0.0 if denom == 0 else float(np.linalg.norm(analytic - numeric) / denom)


def _entry(name, analytic, numeric) -> Entry:
    return Entry(name, tuple(analytic.shape), relative_error(analytic, numeric),
                 float(np.max(np.abs(analytic - numeric), initial=0.0)),
                 float(np.linalg.norm(analytic)), float(np.linalg.norm(numeric)))


def _check_h_tol(h, tol):
    return (real_number(h, "h", low=0.0, low_open=True), real_number(tol, "tol", low=0.0, low_open=True))


def check_model(model, x, y, h: float = 1e-6, tol: float = 1e-6, sample_weight=None) -> Report:
    """Compare ``model.loss_and_gradients(x, y, sample_weight)`` with finite differences of ``model``'s loss
    (with its regularization penalty), per parameter.

    ``model`` must be a compiled ``Sequential`` with ``dtype="float64"``.
    """
    h, tol = _check_h_tol(h, tol)
    if getattr(model, "dtype", None) != np.float64:
        raise ValueError(f"model: expected a model built with dtype='float64', received dtype "
                         f"{getattr(model, 'dtype', None)}")
    _, analytic = model.loss_and_gradients(x, y, sample_weight)
    x, targets = model.prepare_data(x, y)
    weights = model.prepare_sample_weight(sample_weight, None, targets)

    def f():
        return model.compute_loss(x, targets, weights)[0]

    report = Report(tol=tol)
    for name, w, a in zip(model.trainable_weight_names, model.trainable_weights, analytic, strict=True):
        report.entries.append(_entry(name, a, numerical_gradient(f, w, h)))
    return report


def check_layer(layer, x, h: float = 1e-6, tol: float = 1e-6, seed: int = 0) -> Report:
    """Check a layer's parameter gradients and input gradient against finite differences.

    The scalar checked is ``sum(layer.forward(x) * r)`` for a fixed random ``r``, whose gradient with respect to
    the output is ``r``: so ``layer.backward(r)`` must return ``d/dx`` and fill ``layer.grads``.
    ``x`` must be float64; an unbuilt layer is built in float64.
    """
    h, tol = _check_h_tol(h, tol)
    x = np.array(x, dtype=np.float64, order="C")                   # a fresh row-major copy, poked in place below
    rng = np.random.default_rng(seed)
    if not layer.built:
        layer.build(x.shape[1:], rng=rng, dtype="float64")
    if any(p.dtype != np.float64 for p in layer.params):
        raise ValueError("layer: expected float64 parameters; build it with dtype='float64'")
    r = rng.standard_normal((x.shape[0], *layer.compute_output_shape(x.shape[1:])))
    layer.forward(x, training=True)
    r_before = r.copy()
    dx = layer.backward(r, need_input_grad=True)
    if not np.array_equal(r, r_before):
        raise AssertionError(f"{layer.name}.backward modified the gradient it was given")
    analytic = [g.copy() for g in layer.grads]

    def f():
        return float(np.sum(layer.forward(x, training=False) * r))

    report = Report(tol=tol)
    for pname, w, a in zip(layer.param_names, layer.params, analytic, strict=True):
        report.entries.append(_entry(f"{layer.name}/{pname}", a, numerical_gradient(f, w, h)))
    report.entries.append(_entry(f"{layer.name}/input", dx, numerical_gradient(f, x, h)))
    return report


def check_loss(loss, y_true, y_pred, h: float = 1e-6, tol: float = 1e-6) -> Report:
    """Check ``loss.value_and_grad(y_true, y_pred)`` against finite differences of ``loss(y_true, y_pred)``."""
    h, tol = _check_h_tol(h, tol)
    y_pred = np.array(y_pred, dtype=np.float64, order="C")        # row-major: poked in place below
    _, analytic = loss.value_and_grad(y_true, y_pred)
    report = Report(tol=tol)
    report.entries.append(_entry(f"{loss.name}/y_pred", analytic,
                                 numerical_gradient(lambda: loss(y_true, y_pred), y_pred, h)))
    return report


__all__ = ["numerical_gradient", "relative_error", "check_model", "check_layer", "check_loss", "Report", "Entry"]
