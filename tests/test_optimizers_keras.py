"""Optimizers, clipping, weight decay and schedules against real Keras 3 (``keras.optimizers``), plus their
configuration round trips, state resumption and refused arguments.

Each parity case runs 100 steps from the same float32 starting values and the same gradient sequence in Keras
(``opt.apply_gradients(zip(grads, vars))`` on ``keras.Variable``s) and in tinynet (the tensors one by one, and
packed into one flat buffer with ``segments`` as a ``Sequential`` passes them). Elementwise updates are compared
bit for bit; the norm clips sum squares, and TensorFlow's float32 reduction adds in another order than NumPy's, so
those are compared to a relative error of 1e-6 (``pytest -s`` prints what was measured).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests._tf_helpers import import_tf, record, rel_err
from tinynet import optimizers, schedules
from tinynet.optimizers import SGD, Adagrad, Adam, AdamW, RMSprop, deserialize, get, serialize
from tinynet.schedules import ExponentialDecay, PiecewiseConstantDecay

f32 = np.float32
SHAPES = ((6, 4), (4,), (4, 3))
SIZES = [int(np.prod(s)) for s in SHAPES]
STEPS = 100


@pytest.fixture(scope="module")
def keras():
    return import_tf()[1]


def _problem(seed: int, steps: int = STEPS):
    """Starting values and a gradient sequence whose scale varies (so the clips are sometimes active)."""
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(f32) for s in SHAPES]
    grads = [[(rng.standard_normal(s) * rng.uniform(0.05, 3.0)).astype(f32) for s in SHAPES]
             for _ in range(steps)]
    return params, grads


def _schedule(module, spec):
    """The same schedule from ``keras.optimizers.schedules`` or ``tinynet.schedules``."""
    if spec is None:
        return None
    name, kwargs = spec
    return getattr(module, name)(**kwargs)


def _make(library, name, kwargs, schedule):
    """``library.optimizers.<name>(**kwargs)``, with ``learning_rate`` a schedule when one is given."""
    kwargs = dict(kwargs)
    if library == "tinynet":
        if schedule is not None:
            kwargs["learning_rate"] = _schedule(schedules, schedule)
        return getattr(optimizers, name)(**kwargs)
    if schedule is not None:
        kwargs["learning_rate"] = _schedule(library.optimizers.schedules, schedule)
    return getattr(library.optimizers, name)(**kwargs)


def _run_keras(keras, name, kwargs, schedule, params, grads):
    opt = _make(keras, name, kwargs, schedule)
    variables = [keras.Variable(p) for p in params]
    for step in grads:
        opt.apply_gradients(zip(step, variables, strict=True))
    return [np.asarray(v.numpy()) for v in variables]


def _run_tinynet(name, kwargs, schedule, params, grads, packed=False):
    opt = _make("tinynet", name, kwargs, schedule)
    if packed:
        flat = np.concatenate([p.ravel() for p in params])
        for step in grads:
            opt.apply([flat], [np.concatenate([g.ravel() for g in step])], segments=[SIZES])
        return np.split(flat, np.cumsum(SIZES)[:-1])
    params = [p.copy() for p in params]
    for step in grads:
        opt.apply(params, step)
    return params


EXPON = ("ExponentialDecay", {"initial_learning_rate": 0.01, "decay_steps": 10, "decay_rate": 0.9})
STAIR = ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 7, "decay_rate": 0.5, "staircase": True})
PIECE = ("PiecewiseConstantDecay", {"boundaries": [20, 50], "values": [0.01, 0.005, 0.001]})

# (optimizer, keyword arguments, schedule, bit-equal expected)
CASES = [
    ("RMSprop", {}, None, True),
    ("RMSprop", {"learning_rate": 0.01, "rho": 0.8, "momentum": 0.9}, None, True),
    ("RMSprop", {"centered": True, "momentum": 0.5, "epsilon": 1e-5, "learning_rate": 0.003}, None, True),
    ("Adagrad", {}, None, True),
    ("Adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 0.0, "epsilon": 1e-6, "weight_decay": 0.1},
     None, True),
    ("AdamW", {}, None, True),
    ("AdamW", {"learning_rate": 0.01, "weight_decay": 0.1, "amsgrad": True}, None, True),
    ("Adam", {"weight_decay": 0.05}, None, True),
    ("SGD", {"learning_rate": 0.05, "momentum": 0.9, "weight_decay": 0.01}, None, True),
    ("SGD", {"learning_rate": 0.02, "momentum": 0.5, "nesterov": True, "weight_decay": 0.2}, None, True),
    ("SGD", {"clipvalue": 0.1, "learning_rate": 0.1}, None, True),
    ("Adam", {"clipnorm": 1.0}, None, False),
    ("SGD", {"clipnorm": 0.5, "momentum": 0.9}, None, False),
    ("RMSprop", {"clipnorm": 2.0, "centered": True}, None, False),
    ("Adam", {"global_clipnorm": 1.0}, None, False),
    ("SGD", {"global_clipnorm": 2.0}, None, False),
    ("Adam", {}, EXPON, True),
    ("SGD", {"momentum": 0.9}, STAIR, True),
    ("RMSprop", {}, PIECE, True),
    ("AdamW", {"weight_decay": 0.05}, STAIR, True),
    ("Adagrad", {"clipvalue": 1.0, "weight_decay": 0.01}, EXPON, True),
]


def _case_id(case):
    name, kwargs, schedule, _ = case
    parts = [f"{k}={v}" for k, v in kwargs.items()] + ([schedule[0]] if schedule else [])
    return f"{name}({', '.join(parts)})"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_100_steps_match_keras(keras, case, record_property):
    name, kwargs, schedule, bit_equal = case
    params, grads = _problem(seed=len(_case_id(case)))
    ref = _run_keras(keras, name, kwargs, schedule, params, grads)
    ours = _run_tinynet(name, kwargs, schedule, params, grads)
    packed = _run_tinynet(name, kwargs, schedule, params, grads, packed=True)
    worst = max(rel_err(a, b) for a, b in zip(ours, ref, strict=True))
    record(record_property, _case_id(case), max_rel_err=worst,
           bit_equal=all(np.array_equal(a, b) for a, b in zip(ours, ref, strict=True)))
    moved = max(rel_err(b, p) for b, p in zip(ref, params, strict=True))
    assert moved > 1e-3, "the case should move the parameters"
    for i, (a, b, c) in enumerate(zip(ours, packed, ref, strict=True)):
        # One flat buffer with segments is the same computation as the tensors one by one.
        np.testing.assert_array_equal(b.reshape(a.shape), a, err_msg=f"tensor {i}: packed (ours) vs separate")
        if bit_equal:
            np.testing.assert_array_equal(a, c, err_msg=f"tensor {i}: tinynet (ours) vs Keras (ref)")
        else:
            assert rel_err(a, c) <= 1e-6, f"tensor {i}: tinynet vs Keras relative error {rel_err(a, c):.3g}"


def test_clipnorm_clips_each_tensor_of_a_flat_buffer_by_its_own_norm(keras):
    """One step where only some tensors are longer than clipnorm: Keras clips those alone, and so do segments."""
    rng = np.random.default_rng(7)
    params = [np.zeros(s, f32) for s in SHAPES]
    grads = [(rng.standard_normal(s) * scale).astype(f32) for s, scale in zip(SHAPES, (3.0, 0.01, 2.0),
                                                                            strict=True)]
    ref = _run_keras(keras, "SGD", {"learning_rate": 1.0, "clipnorm": 0.5}, None, params, [grads])
    packed = _run_tinynet("SGD", {"learning_rate": 1.0, "clipnorm": 0.5}, None, params, [grads], packed=True)
    unsegmented = np.zeros(sum(SIZES), f32)
    SGD(learning_rate=1.0, clipnorm=0.5).apply([unsegmented], [np.concatenate([g.ravel() for g in grads])])
    norms = [np.linalg.norm(r) for r in ref]
    assert norms[0] == pytest.approx(0.5, rel=1e-6) and norms[1] < 0.5        # clipped; left alone
    for a, b in zip(packed, ref, strict=True):
        assert rel_err(a, b.ravel()) <= 1e-6
    assert np.linalg.norm(unsegmented) == pytest.approx(0.5, rel=1e-6)       # one tensor: one norm
    assert rel_err(unsegmented, np.concatenate([r.ravel() for r in ref])) > 0.1


SCHEDULES = [
    EXPON, STAIR, PIECE,
    ("ExponentialDecay", {"initial_learning_rate": 0.001, "decay_steps": 1000, "decay_rate": 0.96}),
    ("ExponentialDecay", {"initial_learning_rate": 0.5, "decay_steps": 3, "decay_rate": 0.99, "staircase": True}),
    ("ExponentialDecay", {"initial_learning_rate": 1e-3, "decay_steps": 2.5, "decay_rate": 1.0001}),
    ("PiecewiseConstantDecay", {"boundaries": [0, 1, 100, 101], "values": [1.0, 0.3, 0.1, 0.05, 1e-4]}),
    ("InverseTimeDecay", {"initial_learning_rate": 0.001, "decay_steps": 20 * 1000, "decay_rate": 1}),
    ("InverseTimeDecay", {"initial_learning_rate": 0.1, "decay_steps": 3, "decay_rate": 0.5, "staircase": True}),
]
STEPS_TO_CHECK = list(range(0, 120)) + list(range(120, 1200, 7)) + [12345, 100_000]


@pytest.mark.parametrize("spec", SCHEDULES, ids=[f"{n}{sorted(k.items())}" for n, k in SCHEDULES])
def test_schedule_values_equal_keras(keras, spec):
    theirs, ours = _schedule(keras.optimizers.schedules, spec), _schedule(schedules, spec)
    tiny = float(np.finfo(f32).tiny)
    for step in STEPS_TO_CHECK:
        ref = np.asarray(theirs(step))
        assert ref.dtype == np.float32
        if abs(float(ref)) < tiny:                  # TensorFlow flushes subnormal results to zero; NumPy keeps them
            assert abs(ours(step)) < tiny, f"step {step}: tinynet {ours(step)!r} vs Keras {float(ref)!r}"
            continue
        assert ours(step) == float(ref), f"step {step}: tinynet {ours(step)!r} vs Keras {float(ref)!r}"
    assert ours.get_config() == theirs.get_config()


def test_optimizer_learning_rate_follows_its_schedule_like_keras(keras):
    ours = Adam(learning_rate=_schedule(schedules, STAIR))
    theirs = keras.optimizers.Adam(learning_rate=_schedule(keras.optimizers.schedules, STAIR))
    params, grads = _problem(3, steps=20)
    variables = [keras.Variable(p) for p in params]
    for step in grads:
        assert ours.learning_rate == float(theirs.learning_rate)
        ours.apply(params, step)
        theirs.apply_gradients(zip(step, variables, strict=True))
    assert ours.iterations == int(theirs.iterations) == 20
    assert ours.learning_rate == pytest.approx(0.1 * 0.5 ** (20 // 7), rel=1e-7)


def test_a_scheduled_learning_rate_is_not_settable_as_in_keras(keras):
    theirs = keras.optimizers.SGD(learning_rate=_schedule(keras.optimizers.schedules, EXPON))
    with pytest.raises(TypeError):
        theirs.learning_rate = 0.1
    schedule = _schedule(schedules, EXPON)
    ours = SGD(learning_rate=schedule)
    with pytest.raises(TypeError, match="learning_rate: .*LearningRateSchedule"):
        ours.learning_rate = 0.1
    assert ours.learning_rate_schedule is schedule and ours.get_config()["learning_rate"]["class_name"] == \
        "ExponentialDecay"
    other = _schedule(schedules, PIECE)
    ours.learning_rate = other                                   # another schedule replaces it, as in Keras
    assert ours.learning_rate_schedule is other and ours.learning_rate == pytest.approx(0.01)
    plain = SGD(learning_rate=0.1)
    plain.learning_rate = 0.05
    assert plain.learning_rate == 0.05 and plain.learning_rate_schedule is None


def test_optimizer_configs_have_keras_keys(keras):
    for name in ("RMSprop", "Adagrad", "AdamW", "Adam", "SGD"):
        ours = getattr(optimizers, name)().get_config()
        theirs = getattr(keras.optimizers, name)().get_config()
        unsupported = {"use_ema", "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
                       "gradient_accumulation_steps"}
        assert set(ours) == set(theirs) - unsupported, name
        for key in set(ours) - {"name", "learning_rate"}:
            assert ours[key] == theirs[key], f"{name}.{key}: tinynet {ours[key]!r} vs Keras {theirs[key]!r}"
        assert ours["learning_rate"] == pytest.approx(theirs["learning_rate"], rel=1e-7)   # Keras: float32


# -- configuration round trips ----------------------------------------------------------------------------
ROUND_TRIP = [
    lambda: RMSprop(0.01, 0.8, 0.5, 1e-6, True, weight_decay=0.1, clipnorm=1.5, name="rms"),
    lambda: Adagrad(learning_rate=ExponentialDecay(0.1, 5, 0.9, staircase=True), initial_accumulator_value=0.2),
    lambda: AdamW(learning_rate=PiecewiseConstantDecay([10, 20], [0.1, 0.01, 0.001]), weight_decay=0.01,
                  amsgrad=True, global_clipnorm=3.0),
    lambda: Adam(0.002, 0.8, 0.9, 1e-5, clipvalue=0.25),
    lambda: SGD(0.1, 0.9, True, weight_decay=0.001),
]


@pytest.mark.parametrize("make", ROUND_TRIP)
def test_get_config_deserialize_round_trip(make):
    opt = make()
    spec = json.loads(json.dumps(serialize(opt)))                 # JSON-ready
    again = deserialize(spec)
    assert type(again) is type(opt) and again.get_config() == opt.get_config()
    assert get(spec).get_config() == opt.get_config()
    assert type(opt).from_config(opt.get_config()).get_config() == opt.get_config()
    schedule = opt.learning_rate_schedule
    if schedule is not None:
        rebuilt = again.learning_rate_schedule
        assert type(rebuilt) is type(schedule) and rebuilt is not schedule
        assert [rebuilt(s) for s in range(40)] == [schedule(s) for s in range(40)]
        assert schedules.deserialize(schedules.serialize(schedule)).get_config() == schedule.get_config()


def test_names_resolve_like_keras():
    for name, cls in [("rmsprop", RMSprop), ("adagrad", Adagrad), ("adamw", AdamW), ("adam", Adam), ("sgd", SGD),
                      ("RMSprop", RMSprop), ("AdamW", AdamW)]:
        assert type(get(name)) is cls
    assert RMSprop().get_config()["rho"] == 0.9 and AdamW().weight_decay == 0.004
    assert Adagrad().initial_accumulator_value == 0.1


def test_schedules_import_as_tinynet_optimizers_schedules():
    import tinynet.optimizers.schedules as by_path
    from tinynet.optimizers.schedules import ExponentialDecay as FromPath

    assert optimizers.schedules is schedules and by_path is schedules and FromPath is ExponentialDecay


# -- state: stop, save, restore, go on ------------------------------------------------------------------
RESUME = ROUND_TRIP + [lambda: RMSprop(momentum=0.9, centered=True), lambda: Adagrad(),
                       lambda: SGD(learning_rate=ExponentialDecay(0.1, 3, 0.7), clipnorm=0.5)]


@pytest.mark.parametrize("make", RESUME)
def test_state_resumes_bit_exact(make):
    params, grads = _problem(11)
    flat = np.concatenate([p.ravel() for p in params])
    straight, first = make(), make()
    p_straight = flat.copy()
    for step in grads:
        straight.apply([p_straight], [np.concatenate([g.ravel() for g in step])], segments=[SIZES])
    p = flat.copy()
    for step in grads[:50]:
        first.apply([p], [np.concatenate([g.ravel() for g in step])], segments=[SIZES])
    saved = first.get_state()
    resumed = deserialize(json.loads(json.dumps(serialize(first))))        # a fresh optimizer, as load_model
    p_resumed = p.copy()
    resumed.set_state(saved, [p_resumed])
    assert resumed.iterations == 50 and resumed.learning_rate == first.learning_rate
    for step in grads[50:]:
        resumed.apply([p_resumed], [np.concatenate([g.ravel() for g in step])], segments=[SIZES])
    np.testing.assert_array_equal(p_resumed, p_straight)
    for key, value in straight.get_state().items():
        np.testing.assert_array_equal(resumed.get_state()[key], value, err_msg=key)


def test_adagrad_accumulator_starts_at_its_initial_value_and_restores_exactly():
    opt = Adagrad(initial_accumulator_value=0.3)
    p = [np.zeros(4, f32)]
    opt.apply(p, [np.zeros(4, f32)])
    np.testing.assert_array_equal(opt.get_state()["accumulator_0"], np.full(4, f32(0.3)))
    other = Adagrad(initial_accumulator_value=0.3)
    state = {"iterations": np.int64(1), "accumulator_0": np.array([0.5, 1e-30, 7.0, 0.3], f32)}
    other.set_state(state, p)
    np.testing.assert_array_equal(other.get_state()["accumulator_0"], state["accumulator_0"])


# -- refused arguments --------------------------------------------------------------------------------
@pytest.mark.parametrize("make,error,match", [
    (lambda: SGD(clipnorm=-1.0), ValueError, "clipnorm"),                       # a negative clipnorm
    (lambda: SGD(clipnorm=0.0), ValueError, "clipnorm"),
    (lambda: Adam(clipnorm=float("inf")), ValueError, "clipnorm"),
    (lambda: Adam(clipvalue=float("nan")), ValueError, "clipvalue"),
    (lambda: RMSprop(clipvalue=-0.5), ValueError, "clipvalue"),
    (lambda: Adagrad(global_clipnorm=0), ValueError, "global_clipnorm"),
    (lambda: Adam(clipnorm="1"), TypeError, "clipnorm"),
    (lambda: Adam(clipnorm=1.0, clipvalue=0.5), ValueError, "clipnorm, clipvalue, global_clipnorm"),
    (lambda: SGD(clipvalue=1.0, global_clipnorm=1.0), ValueError, "at most one"),
    (lambda: Adam(weight_decay=-0.1), ValueError, "weight_decay"),
    (lambda: SGD(weight_decay=float("inf")), ValueError, "weight_decay"),
    (lambda: AdamW(weight_decay=None), ValueError, "weight_decay"),
    (lambda: AdamW(weight_decay=-1e-3), ValueError, "weight_decay"),
    (lambda: RMSprop(rho=1.0), ValueError, "rho"),
    (lambda: RMSprop(rho=-0.1), ValueError, "rho"),
    (lambda: RMSprop(momentum=1.5), ValueError, "momentum"),
    (lambda: RMSprop(epsilon=-1e-7), ValueError, "epsilon"),
    (lambda: RMSprop(centered=1), TypeError, "centered"),
    (lambda: Adagrad(initial_accumulator_value=-0.1), ValueError, "initial_accumulator_value"),
    (lambda: Adagrad(epsilon=float("inf")), ValueError, "epsilon"),
    (lambda: AdamW(beta_1=1.0), ValueError, "beta_1"),
    (lambda: Adam(name=3), TypeError, "name"),
    (lambda: Adam(learning_rate=lambda: 0.1), TypeError, "learning_rate"),
    (lambda: RMSprop(learning_rate=-0.1), ValueError, "learning_rate"),
    (lambda: ExponentialDecay(0.1, 0, 0.9), ValueError, "decay_steps"),
    (lambda: ExponentialDecay(0.1, -10, 0.9), ValueError, "decay_steps"),
    (lambda: ExponentialDecay(0.1, 10, 0.0), ValueError, "decay_rate"),
    (lambda: ExponentialDecay(-0.1, 10, 0.9), ValueError, "initial_learning_rate"),
    (lambda: ExponentialDecay(1e39, 10, 0.9), ValueError, "initial_learning_rate"),
    (lambda: ExponentialDecay("0.1", 10, 0.9), TypeError, "initial_learning_rate"),
    (lambda: ExponentialDecay(0.1, 10, 0.9, staircase="yes"), TypeError, "staircase"),
    (lambda: ExponentialDecay(0.1, 10, 0.9, name=None), TypeError, "name"),
    (lambda: PiecewiseConstantDecay([10], [0.1]), ValueError, "values"),
    (lambda: PiecewiseConstantDecay([10, 5], [0.1, 0.01, 0.001]), ValueError, "boundaries"),
    (lambda: PiecewiseConstantDecay([10, 10], [0.1, 0.01, 0.001]), ValueError, "boundaries"),
    (lambda: PiecewiseConstantDecay([], [0.1]), TypeError, "boundaries"),
    (lambda: PiecewiseConstantDecay([1.5], [0.1, 0.01]), TypeError, r"boundaries\[0\]"),
    (lambda: PiecewiseConstantDecay([10], [0.1, -0.01]), ValueError, r"values\[1\]"),
    (lambda: PiecewiseConstantDecay([10], 0.1), TypeError, "values"),
    (lambda: ExponentialDecay(0.1, 10, 0.9)(-1), ValueError, "step"),
    (lambda: ExponentialDecay(0.1, 10, 0.9)(1.5), TypeError, "step"),
    (lambda: get("nadam"), ValueError, "optimizer"),
    (lambda: deserialize({"class_name": "Nadam", "config": {}}), ValueError, r"spec\['class_name'\]"),
    (lambda: deserialize({"class_name": "Adam", "config": {"beta3": 0.5}}), ValueError, "beta3"),
    (lambda: deserialize({"class_name": "Adam", "config": {}, "module": "keras"}), ValueError, "spec"),
    (lambda: deserialize(["Adam", {}]), TypeError, "spec"),
    (lambda: deserialize({"class_name": "SGD", "config": {"learning_rate": {"class_name": "CosineDecay",
                                                                            "config": {}}}}),
     ValueError, r"spec\['config'\]\['learning_rate'\]\['class_name'\]"),
    (lambda: schedules.deserialize({"class_name": "ExponentialDecay", "config": {"decay_steps": 10}}),
     ValueError, "initial_learning_rate"),
    (lambda: schedules.deserialize({"class_name": "ExponentialDecay",
                                    "config": {"initial_learning_rate": 0.1, "decay_steps": 1, "decay_rate": 0.5,
                                               "warmup": 3}}), ValueError, "warmup"),
    (lambda: ExponentialDecay.from_config({"initial_learning_rate": 0.1}), ValueError, "decay_steps"),
    (lambda: schedules.serialize(0.1), TypeError, "schedule"),
])
def test_bad_arguments_are_named(make, error, match):
    with pytest.raises(error, match=match):
        make()


def _snapshot(opt, params):
    return ({k: v.copy() for k, v in opt.get_state().items()}, opt.get_config(), [p.copy() for p in params])


def _assert_unchanged(opt, params, before):
    state, config, values = before
    after = opt.get_state()
    assert sorted(after) == sorted(state) and opt.get_config() == config
    for key, value in state.items():
        np.testing.assert_array_equal(after[key], value, err_msg=f"{key} changed by a refused call")
    for p, v in zip(params, values, strict=True):
        np.testing.assert_array_equal(p, v, err_msg="a parameter changed by a refused call")


@pytest.mark.parametrize("segments,match", [
    ([[24, 4]], r"segments\[0\]: expected sizes adding up to 40"),
    ([[24, 4, 12], [1]], "segments: expected a list with one entry"),
    ([[24, 4, 12.0]], r"segments\[0\]: expected a non-empty list of tensor sizes"),
    ([[24, -4, 20]], r"segments\[0\]"),
    ([[]], r"segments\[0\]"),
    ([24, 4, 12], "segments"),
    ("24,4,12", "segments"),
])
def test_bad_segments_are_named_and_change_nothing(segments, match):
    params, grads = _problem(5, steps=2)
    flat = [np.concatenate([p.ravel() for p in params])]
    opt = RMSprop(momentum=0.9, clipnorm=1.0)
    opt.apply(flat, [np.concatenate([g.ravel() for g in grads[0]])], segments=[SIZES])
    before = _snapshot(opt, flat)
    with pytest.raises(ValueError, match=match):
        opt.apply(flat, [np.concatenate([g.ravel() for g in grads[1]])], segments=segments)
    _assert_unchanged(opt, flat, before)
    assert opt.iterations == 1


def test_bad_learning_rate_assignments_change_nothing():
    params, grads = _problem(6, steps=1)
    for opt in (Adam(0.01, weight_decay=0.1), SGD(learning_rate=ExponentialDecay(0.1, 10, 0.5), momentum=0.9)):
        opt.apply(params, grads[0])
        before = _snapshot(opt, params)
        for value, error in [(-0.1, ValueError), (float("nan"), ValueError), ("0.1", TypeError),
                             (lambda: 0.1, TypeError)]:
            if opt.learning_rate_schedule is not None:
                error = TypeError                          # no number at all is accepted over a schedule
            with pytest.raises(error, match="learning_rate"):
                opt.learning_rate = value
            _assert_unchanged(opt, params, before)


def test_clipping_and_decay_leave_the_callers_gradients_alone():
    params, grads = _problem(8, steps=1)
    for kwargs in ({"clipnorm": 0.1}, {"global_clipnorm": 0.1}, {"clipvalue": 0.01}, {"weight_decay": 0.5}):
        copies = [g.copy() for g in grads[0]]
        SGD(**kwargs).apply([p.copy() for p in params], grads[0])
        for g, c in zip(grads[0], copies, strict=True):
            np.testing.assert_array_equal(g, c, err_msg=str(kwargs))
