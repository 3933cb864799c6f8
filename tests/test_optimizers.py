"""Optimizer updates re-derived step by step in the test and compared bit for bit (float32)."""

from __future__ import annotations

import numpy as np
import pytest

from tinynet.optimizers import SGD, Adagrad, Adam, AdamW, RMSprop, get

f32 = np.float32


def _problem(seed=0, shapes=((5, 3), (3,), (4, 2))):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(f32) for s in shapes]
    grad_steps = [[rng.standard_normal(s).astype(f32) for s in shapes] for _ in range(25)]
    return params, grad_steps


def _reference_adam(params, grad_steps, lr, b1, b2, eps, amsgrad):
    """Keras's Adam written out naively, one tensor and one operation at a time, in float32."""
    params = [p.copy() for p in params]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    vhat = [np.zeros_like(p) for p in params]
    for step, grads in enumerate(grad_steps):
        t = f32(step + 1)
        alpha = f32(lr) * np.sqrt(f32(1) - f32(b2) ** t) / (f32(1) - f32(b1) ** t)
        for i, g in enumerate(grads):
            m[i] = m[i] + (g - m[i]) * f32(1 - b1)       # (1 - beta) formed in double, then cast
            v[i] = v[i] + (g * g - v[i]) * f32(1 - b2)
            denom_v = v[i]
            if amsgrad:
                vhat[i] = np.maximum(vhat[i], v[i])
                denom_v = vhat[i]
            params[i] = params[i] - (m[i] * alpha) / (np.sqrt(denom_v) + f32(eps))
    return params


def _reference_sgd(params, grad_steps, lr, momentum, nesterov):
    params = [p.copy() for p in params]
    vel = [np.zeros_like(p) for p in params]
    for grads in grad_steps:
        for i, g in enumerate(grads):
            if momentum == 0:
                params[i] = params[i] - g * f32(lr)
                continue
            vel[i] = vel[i] * f32(momentum) - g * f32(lr)
            params[i] = params[i] + (vel[i] * f32(momentum) - g * f32(lr) if nesterov else vel[i])
    return params


@pytest.mark.parametrize("kwargs", [
    {},
    {"learning_rate": 0.01, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-5},
    {"amsgrad": True},
    {"learning_rate": 0.003, "amsgrad": True, "beta_2": 0.9},
])
def test_adam_matches_the_formula_bit_for_bit(kwargs):
    params, grad_steps = _problem()
    full = {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False, **kwargs}
    expected = _reference_adam(params, grad_steps, full["learning_rate"], full["beta_1"], full["beta_2"],
                               full["epsilon"], full["amsgrad"])
    opt = Adam(**kwargs)
    for k, grads in enumerate(grad_steps):
        opt.apply(params, grads)
        assert opt.iterations == k + 1
    for ours, ref in zip(params, expected, strict=True):
        np.testing.assert_array_equal(ours, ref, err_msg="tinynet Adam (ours) vs the re-derived formula (ref)")


@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True), (0.5, True)])
def test_sgd_matches_the_formula_bit_for_bit(momentum, nesterov):
    params, grad_steps = _problem(1)
    expected = _reference_sgd(params, grad_steps, 0.05, momentum, nesterov)
    opt = SGD(learning_rate=0.05, momentum=momentum, nesterov=nesterov)
    for grads in grad_steps:
        opt.apply(params, grads)
    for ours, ref in zip(params, expected, strict=True):
        np.testing.assert_array_equal(ours, ref, err_msg="tinynet SGD (ours) vs the re-derived formula (ref)")


@pytest.mark.parametrize("make", [lambda: Adam(), lambda: Adam(amsgrad=True), lambda: SGD(0.1, momentum=0.9)])
def test_one_flat_buffer_updates_exactly_like_separate_tensors(make):
    """A Sequential hands the optimizer its whole model as one flat array; that must change nothing."""
    params, grad_steps = _problem(2)
    flat = np.concatenate([p.ravel() for p in params])
    separate, joint = make(), make()
    for grads in grad_steps:
        separate.apply(params, grads)
        joint.apply([flat], [np.concatenate([g.ravel() for g in grads])])
    np.testing.assert_array_equal(flat, np.concatenate([p.ravel() for p in params]))


@pytest.mark.parametrize("make,reference", [
    (lambda: Adam(), lambda p, g: _reference_adam(p, g, 0.001, 0.9, 0.999, 1e-7, False)),
    (lambda: Adam(amsgrad=True), lambda p, g: _reference_adam(p, g, 0.001, 0.9, 0.999, 1e-7, True)),
    (lambda: SGD(0.05, momentum=0.9, nesterov=True), lambda p, g: _reference_sgd(p, g, 0.05, 0.9, True)),
])
def test_long_flat_buffers_match_the_formula_bit_for_bit(make, reference):
    """A model hands its optimizer one long flat buffer; beside it, positions of other shapes and sizes."""
    params, grad_steps = _problem(3, shapes=((300_123,), (700, 3), (262_144,)))
    grad_steps = grad_steps[:6]
    expected = reference(params, grad_steps)
    opt = make()
    for grads in grad_steps:
        opt.apply(params, grads)
    for ours, ref in zip(params, expected, strict=True):
        np.testing.assert_array_equal(ours, ref)


def test_float64_parameters_update_in_float64():
    p = [np.array([1.0, -2.0])]
    Adam(learning_rate=0.1).apply(p, [np.array([0.5, 0.5])])
    assert p[0].dtype == np.float64
    # First Adam step moves each weight by about lr * sign(g).
    np.testing.assert_allclose(p[0], [0.9, -2.1], rtol=1e-6)


def test_state_is_per_position_and_shape_checked():
    opt = Adam()
    params = [np.zeros(3, f32), np.zeros(2, f32)]
    opt.apply(params, [np.ones(3, f32), np.ones(2, f32)])
    with pytest.raises(ValueError, match="state was built for parameters of shapes"):
        opt.apply([np.zeros(4, f32)], [np.ones(4, f32)])
    with pytest.raises(ValueError, match=r"grads\[1\]: expected shape \(2,\)"):
        opt.apply(params, [np.ones(3, f32), np.ones(5, f32)])
    with pytest.raises(ValueError, match=r"expected one array per parameter \(2\)"):
        opt.apply(params, [np.ones(3, f32)])
    moments = {k: v.copy() for k, v in opt.get_state().items()}
    params[1].flags.writeable = False
    with pytest.raises(ValueError, match=r"params\[1\]: expected a writeable array"):
        opt.apply(params, [np.ones(3, f32), np.ones(2, f32)])
    assert opt.iterations == 1
    for key, value in opt.get_state().items():
        np.testing.assert_array_equal(value, moments[key], err_msg=f"{key} changed by a refused step")


def test_get_and_set_state_round_trip():
    params, grad_steps = _problem(3)
    a, b = Adam(amsgrad=True), Adam(amsgrad=True)
    pa = [p.copy() for p in params]
    for grads in grad_steps[:5]:
        a.apply(pa, grads)
    pb = [p.copy() for p in pa]
    b.set_state(a.get_state(), pb)
    for grads in grad_steps[5:]:
        a.apply(pa, grads)
        b.apply(pb, grads)
    for x, y in zip(pa, pb, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("make,error,match", [
    (lambda: Adam(learning_rate=-0.001), ValueError, "learning_rate"),
    (lambda: Adam(learning_rate=-1e-3), ValueError, "learning_rate"),
    (lambda: Adam(learning_rate="fast"), TypeError, "learning_rate"),
    (lambda: Adam(beta_1=1.0), ValueError, "beta_1"),
    (lambda: Adam(beta_2=-0.1), ValueError, "beta_2"),
    (lambda: Adam(epsilon=float("nan")), ValueError, "epsilon"),
    (lambda: Adam(amsgrad="yes"), TypeError, "amsgrad"),
    (lambda: SGD(momentum=1.5), ValueError, "momentum"),
    (lambda: SGD(nesterov=1), TypeError, "nesterov"),
    (lambda: get("nadam"), ValueError, "optimizer"),
    (lambda: get(3), TypeError, "optimizer"),
])
def test_bad_hyperparameters_are_named(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_names_resolve_like_keras():
    assert isinstance(get("adam"), Adam) and isinstance(get("SGD"), SGD)
    opt = Adam()
    assert get(opt) is opt


def test_changing_the_learning_rate_between_steps_takes_effect():
    params, grad_steps = _problem(5)
    expected = _reference_adam(params, grad_steps[:1], 0.001, 0.9, 0.999, 1e-7, False)
    opt = Adam()
    opt.apply(params, grad_steps[0])
    for ours, ref in zip(params, expected, strict=True):
        np.testing.assert_array_equal(ours, ref)
    before = [p.copy() for p in params]
    opt.learning_rate = 0.0
    opt.apply(params, grad_steps[1])
    for ours, ref in zip(params, before, strict=True):
        np.testing.assert_array_equal(ours, ref)


def test_gradients_as_lists_and_in_another_dtype_are_taken_in_the_parameters_dtype():
    p, q = [np.array([1.0, -2.0], dtype=f32)], [np.array([1.0, -2.0], dtype=f32)]
    Adam(0.1).apply(p, [[0.5, -0.25]])                      # a list, as apply_gradients may pass
    Adam(0.1).apply(q, [np.array([0.5, -0.25], dtype=np.float64)])
    r = [np.array([1.0, -2.0], dtype=f32)]
    Adam(0.1).apply(r, [np.array([0.5, -0.25], dtype=f32)])
    np.testing.assert_array_equal(p[0], r[0])
    np.testing.assert_array_equal(q[0], r[0])
    assert p[0].dtype == q[0].dtype == f32


# -- RMSprop, Adagrad, weight decay and clipping, re-derived -------------------------------------------------
def _reference_rmsprop(params, grad_steps, lr, rho, momentum, eps, centered):
    """Keras's RMSprop written out naively in float32, one tensor at a time."""
    params = [p.copy() for p in params]
    vel = [np.zeros_like(p) for p in params]
    mom = [np.zeros_like(p) for p in params]
    avg = [np.zeros_like(p) for p in params]
    for grads in grad_steps:
        for i, g in enumerate(grads):
            vel[i] = f32(rho) * vel[i] + f32(1 - rho) * (g * g)
            if centered:
                avg[i] = f32(rho) * avg[i] + f32(1 - rho) * g
                denominator = (vel[i] - avg[i] * avg[i]) + f32(eps)
            else:
                denominator = vel[i] + f32(eps)
            increment = (f32(lr) * g) / np.sqrt(denominator)
            if momentum > 0:
                mom[i] = f32(momentum) * mom[i] + increment
                params[i] = params[i] - mom[i]
            else:
                params[i] = params[i] - increment
    return params


@pytest.mark.parametrize("rho,momentum,eps,centered", [(0.9, 0.0, 1e-7, False), (0.8, 0.9, 1e-7, False),
                                                       (0.9, 0.0, 1e-5, True), (0.95, 0.5, 1e-7, True)])
def test_rmsprop_matches_the_formula_bit_for_bit(rho, momentum, eps, centered):
    params, grad_steps = _problem(6)
    expected = _reference_rmsprop(params, grad_steps, 0.01, rho, momentum, eps, centered)
    opt = RMSprop(0.01, rho, momentum, eps, centered)
    assert opt.slot_names == ("velocity",) + (("momentum",) if momentum else ()) + \
        (("average_gradient",) if centered else ())
    for grads in grad_steps:
        opt.apply(params, grads)
    for ours, ref in zip(params, expected, strict=True):
        np.testing.assert_array_equal(ours, ref, err_msg="tinynet RMSprop (ours) vs the re-derived formula (ref)")


@pytest.mark.parametrize("initial,eps", [(0.1, 1e-7), (0.0, 1e-6), (2.5, 0.0)])
def test_adagrad_matches_the_formula_bit_for_bit(initial, eps):
    params, grad_steps = _problem(7)
    acc = [np.full_like(p, f32(initial)) for p in params]
    expected = [p.copy() for p in params]
    for grads in grad_steps:
        for i, g in enumerate(grads):
            acc[i] = acc[i] + g * g
            expected[i] = expected[i] - (f32(0.05) * g) / np.sqrt(acc[i] + f32(eps))
    opt = Adagrad(learning_rate=0.05, initial_accumulator_value=initial, epsilon=eps)
    for grads in grad_steps:
        opt.apply(params, grads)
    for ours, ref in zip(params, expected, strict=True):
        np.testing.assert_array_equal(ours, ref, err_msg="tinynet Adagrad (ours) vs the re-derived formula (ref)")


def test_weight_decay_comes_before_the_step_and_adamw_is_adam_with_it():
    params, grad_steps = _problem(8)
    expected = [p.copy() for p in params]
    plain = SGD(learning_rate=0.05)
    for grads in grad_steps:
        for i in range(len(grads)):
            expected[i] = expected[i] - expected[i] * f32(0.1) * f32(0.05)     # decay with the current weights
        plain.apply(expected, grads)
    opt = SGD(learning_rate=0.05, weight_decay=0.1)
    ours = [p.copy() for p in params]
    for grads in grad_steps:
        opt.apply(ours, grads)
    for a, b in zip(ours, expected, strict=True):
        np.testing.assert_array_equal(a, b, err_msg="SGD(weight_decay) (ours) vs decay, then SGD (ref)")
    adamw, adam = [p.copy() for p in params], [p.copy() for p in params]
    opt_w, opt_a = AdamW(weight_decay=0.02), Adam(weight_decay=0.02)
    for grads in grad_steps:
        opt_w.apply(adamw, grads)
        opt_a.apply(adam, grads)
    for a, b in zip(adamw, adam, strict=True):
        np.testing.assert_array_equal(a, b)


def test_clip_formulas_bit_for_bit():
    rng = np.random.default_rng(9)
    grads = [(rng.standard_normal(s) * k).astype(f32) for s, k in (((5, 3), 2.0), ((3,), 0.01), ((4, 2), 1.0))]

    def one_sgd_step(**kwargs):
        params = [np.zeros_like(g) for g in grads]
        SGD(learning_rate=1.0, **kwargs).apply(params, grads)
        return [-p for p in params]                        # the gradient actually used

    for used, g in zip(one_sgd_step(clipnorm=0.5), grads, strict=True):
        norm = np.sqrt(np.sum(g * g))
        np.testing.assert_array_equal(used, g * f32(0.5) / np.maximum(norm, f32(0.5)))
    total = np.sqrt(np.sum(np.stack([np.sum(g * g) for g in grads])))
    scale = 0.7 * np.minimum(1.0 / total, 1.0 / 0.7) + (total - total)
    for used, g in zip(one_sgd_step(global_clipnorm=0.7), grads, strict=True):
        np.testing.assert_array_equal(used, g * scale)
    for used, g in zip(one_sgd_step(clipvalue=0.3), grads, strict=True):
        np.testing.assert_array_equal(used, np.minimum(np.maximum(g, f32(-0.3)), f32(0.3)))
    zero = [np.zeros(3, f32)]
    for kwargs in ({"clipnorm": 1.0}, {"global_clipnorm": 1.0}):   # a zero gradient stays zero, without warnings
        p = [np.ones(3, f32)]
        SGD(**kwargs).apply(p, zero)
        np.testing.assert_array_equal(p[0], np.ones(3, f32))
