"""The optimizers' public contract, NumPy only: every constructor argument's bounds and types with the exact
message, configuration and serialization round trips, state save/restore and its checks, ``apply`` and
``apply_gradients`` argument checks, ``built_for`` on views, and single steps of the clips and RMSprop's state
computed here from the documented formulas (docs/api.md, docs/keras-semantics.md, docs/errors.md)."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest

from tinynet.optimizers import SGD, Adagrad, Adam, AdamW, RMSprop, deserialize, get, serialize
from tinynet.schedules import ExponentialDecay

f32 = np.float32
CLASSES = [SGD, Adam, AdamW, RMSprop, Adagrad]


def _exact(message: str) -> str:
    """A pattern matching ``message`` as the whole text of the error."""
    return "^" + re.escape(message) + "$"


# -- constructor arguments: both bounds and the type, every argument ----------------------------------------------
# (class, argument, interval as the message writes it, values outside it)
BOUNDS = [
    (cls, "learning_rate", "[0.0, inf)", [-0.1, float("inf"), float("nan")]) for cls in CLASSES
] + [
    (cls, "weight_decay", "[0.0, inf)", [-0.1, float("inf")]) for cls in CLASSES
] + [
    (cls, clip, "(0.0, inf)", [0.0, -1.0, float("inf")])
    for cls in CLASSES for clip in ("clipnorm", "clipvalue", "global_clipnorm")
] + [
    (SGD, "momentum", "[0.0, 1.0]", [-0.1, 1.5]),
    (RMSprop, "momentum", "[0.0, 1.0]", [-0.1, 1.5]),
    (RMSprop, "rho", "[0.0, 1.0)", [-0.1, 1.0]),
    (RMSprop, "epsilon", "[0.0, inf)", [-1e-07, float("inf")]),
    (Adagrad, "epsilon", "[0.0, inf)", [-1e-07, float("inf")]),
    (Adagrad, "initial_accumulator_value", "[0.0, inf)", [-0.1, float("inf")]),
] + [
    (cls, beta, "[0.0, 1.0)", [-0.1, 1.0]) for cls in (Adam, AdamW) for beta in ("beta_1", "beta_2")
] + [
    (cls, "epsilon", "[0.0, inf)", [-1e-07, float("inf")]) for cls in (Adam, AdamW)
]


@pytest.mark.parametrize("cls,arg,interval,values", BOUNDS,
                         ids=[f"{c.__name__}-{a}" for c, a, _, _ in BOUNDS])
def test_a_number_out_of_range_is_refused_by_name_with_its_interval(cls, arg, interval, values):
    for value in values:
        with pytest.raises(ValueError, match=_exact(f"{arg}: expected a number in {interval}, received {value!r}")):
            cls(**{arg: value})


@pytest.mark.parametrize("cls,arg,interval,values", BOUNDS,
                         ids=[f"{c.__name__}-{a}" for c, a, _, _ in BOUNDS])
def test_a_number_of_the_wrong_type_is_refused_by_name(cls, arg, interval, values):
    for value in ("0.1", True, None) if arg not in ("weight_decay", "clipnorm", "clipvalue",
                                                     "global_clipnorm") else ("0.1", True):
        if cls is AdamW and arg == "weight_decay":
            continue                                  # AdamW's own message for a missing decay, tested below
        with pytest.raises(TypeError, match=_exact(f"{arg}: expected a real number, received {value!r}")):
            cls(**{arg: value})


@pytest.mark.parametrize("cls,arg,interval,values", BOUNDS,
                         ids=[f"{c.__name__}-{a}" for c, a, _, _ in BOUNDS])
def test_the_bounds_themselves_are_accepted_where_the_interval_is_closed(cls, arg, interval, values):
    low, high = interval[1:-1].split(", ")
    if interval[0] == "[":
        assert getattr(cls(**{arg: float(low)}), arg) == float(low)
    if interval[-1] == "]":
        assert getattr(cls(**{arg: float(high)}), arg) == float(high)


@pytest.mark.parametrize("cls,arg", [(SGD, "nesterov"), (Adam, "amsgrad"), (AdamW, "amsgrad"),
                                     (RMSprop, "centered")])
@pytest.mark.parametrize("value", [1, "yes", None])
def test_a_flag_that_is_not_a_bool_is_refused_by_name(cls, arg, value):
    with pytest.raises(TypeError, match=_exact(f"{arg}: expected True or False, received {value!r}")):
        cls(**{arg: value})


@pytest.mark.parametrize("cls", CLASSES)
def test_names_default_to_keras_snake_case_and_are_kept_or_refused(cls):
    default = {"SGD": "sgd", "Adam": "adam", "AdamW": "adam_w", "RMSprop": "rm_sprop", "Adagrad": "adagrad"}
    assert cls().name == default[cls.__name__]
    assert cls(name="mine").name == "mine"
    with pytest.raises(TypeError, match=_exact("name: expected a string or None, received 3")):
        cls(name=3)


@pytest.mark.parametrize("cls", CLASSES)
def test_a_function_as_learning_rate_is_refused(cls):
    def rate():
        return 0.1
    with pytest.raises(TypeError, match=r"^learning_rate: expected a number >= 0 or a "
                                        r"tinynet\.schedules\.LearningRateSchedule, received <function "):
        cls(learning_rate=rate)


def test_adamw_requires_a_weight_decay_as_keras():
    message = ("weight_decay: expected a number >= 0 (AdamW decays the weights; Adam is AdamW without decay), "
               "received None")
    with pytest.raises(ValueError, match=_exact(message)):
        AdamW(weight_decay=None)


@pytest.mark.parametrize("cls", CLASSES)
def test_more_than_one_clip_option_is_refused(cls):
    message = ("clipnorm, clipvalue, global_clipnorm: expected at most one of them to be set (as in Keras), "
               "received clipnorm=1.0, clipvalue=0.5")
    with pytest.raises(ValueError, match=_exact(message)):
        cls(clipnorm=1.0, clipvalue=0.5)


# -- configuration ------------------------------------------------------------------------------------------------
def _own_arguments(cls):
    return {SGD: {"momentum": 0.5, "nesterov": True},
            Adam: {"beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-5, "amsgrad": True},
            AdamW: {"beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-5, "amsgrad": True},
            RMSprop: {"rho": 0.8, "momentum": 0.5, "epsilon": 1e-5, "centered": True},
            Adagrad: {"initial_accumulator_value": 0.5, "epsilon": 1e-5}}[cls]


@pytest.mark.parametrize("clip", ["clipnorm", "clipvalue", "global_clipnorm"])
@pytest.mark.parametrize("cls", CLASSES)
def test_every_argument_is_kept_in_the_config_and_survives_a_round_trip(cls, clip):
    config = {"name": "custom", "learning_rate": 0.05, "weight_decay": 0.01, "clipnorm": None,
              "global_clipnorm": None, "clipvalue": None, **_own_arguments(cls), clip: 2.5}
    opt = cls(**config)
    assert opt.get_config() == config
    assert (opt.clipnorm, opt.clipvalue, opt.global_clipnorm, opt.weight_decay) == (
        config["clipnorm"], config["clipvalue"], config["global_clipnorm"], 0.01)
    again = cls.from_config(json.loads(json.dumps(opt.get_config())))
    assert type(again) is cls and again.get_config() == config
    spec = serialize(opt)
    assert spec == {"class_name": cls.__name__, "config": config}
    rebuilt = deserialize(json.loads(json.dumps(spec)))
    assert type(rebuilt) is cls and rebuilt.get_config() == config


@pytest.mark.parametrize("cls", CLASSES)
def test_an_unknown_config_key_is_named_with_where_it_was_found(cls):
    with pytest.raises(ValueError, match=rf"^config: expected arguments of {cls.__name__} \(learning_rate, .*\), "
                                         r"received unknown key\(s\) \['beta3'\]$"):
        cls.from_config({"beta3": 1})
    with pytest.raises(ValueError, match=rf"^spec\['config'\]: expected arguments of {cls.__name__} "
                                         r"\(learning_rate, .*\), received unknown key\(s\) \['beta3'\]$"):
        deserialize({"class_name": cls.__name__, "config": {"beta3": 1}})
    with pytest.raises(TypeError, match=r"^config: expected a dict of constructor arguments, received \[\]$"):
        cls.from_config([])


def test_serialize_and_deserialize_refuse_other_things_by_name():
    with pytest.raises(TypeError, match=_exact("optimizer: expected a tinynet.optimizers.Optimizer, received 3")):
        serialize(3)
    with pytest.raises(TypeError, match=_exact("spec: expected a dict {'class_name': ..., 'config': {...}}, "
                                               "received ['Adam', {}]")):
        deserialize(["Adam", {}])
    with pytest.raises(ValueError, match=_exact("spec: expected the keys ['class_name', 'config'], received "
                                                "['class_name', 'config', 'module']")):
        deserialize({"class_name": "Adam", "config": {}, "module": "keras"})
    with pytest.raises(ValueError, match=_exact("spec['class_name']: expected one of ['Adagrad', 'Adam', 'AdamW', "
                                                "'RMSprop', 'SGD'], received 'Nadam'")):
        deserialize({"class_name": "Nadam", "config": {}})


# -- slots and state ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make,slots", [
    (lambda: SGD(), ()), (lambda: SGD(momentum=0.9), ("momentum",)), (lambda: SGD(momentum=1.0), ("momentum",)),
    (lambda: Adam(), ("m", "v")), (lambda: Adam(amsgrad=True), ("m", "v", "v_hat")),
    (lambda: RMSprop(), ("velocity",)), (lambda: RMSprop(momentum=0.5, centered=True),
                                         ("velocity", "momentum", "average_gradient")),
    (lambda: Adagrad(), ("accumulator",)),
])
def test_slot_names_and_state_keys_are_the_documented_ones(make, slots):
    opt = make()
    assert opt.slot_names == slots
    params = [np.ones((2, 3), f32), np.ones(4, f32)]
    assert set(opt.get_state()) == {"iterations"}
    opt.apply(params, [np.full((2, 3), 0.5, f32), np.full(4, 0.5, f32)])
    state = opt.get_state()
    assert set(state) == {"iterations"} | {f"{s}_{i}" for s in slots for i in range(2)}
    assert state["iterations"].dtype == np.int64 and int(state["iterations"]) == 1


def test_set_state_refuses_other_keys_and_shapes_with_the_exact_message():
    opt, params = Adam(), [np.zeros((2, 3), f32)]
    with pytest.raises(ValueError, match=_exact("state: expected keys ['iterations', 'm_0', 'v_0'], received "
                                                "['iterations']")):
        opt.set_state({"iterations": np.int64(3)}, params)
    with pytest.raises(ValueError, match=_exact("state: expected keys ['iterations', 'm_0', 'v_0'], received "
                                                "['iterations', 'm_0', 'x_0']")):
        opt.set_state({"iterations": 3, "m_0": np.zeros((2, 3)), "x_0": np.zeros((2, 3))}, params)
    with pytest.raises(ValueError, match=_exact("state[m_0]: expected shape (2, 3), received (5,)")):
        opt.set_state({"iterations": 3, "m_0": np.zeros(5), "v_0": np.zeros((2, 3))}, params)
    assert opt.iterations == 0 and opt.get_state().keys() == {"iterations"}


def test_set_state_takes_values_in_the_parameters_dtype_and_a_fresh_state_resets():
    opt, params = RMSprop(momentum=0.5), [np.zeros(3, f32)]
    velocity, momentum = np.array([0.1, 0.2, 0.3]), np.array([1.0, 2.0, 3.0])
    opt.set_state({"iterations": 7, "velocity_0": velocity, "momentum_0": momentum}, params)
    state = opt.get_state()
    assert int(state["iterations"]) == 7 and opt.iterations == 7
    assert state["velocity_0"].dtype == f32
    np.testing.assert_array_equal(state["velocity_0"], velocity.astype(f32))
    np.testing.assert_array_equal(state["momentum_0"], momentum.astype(f32))
    opt.set_state({"iterations": np.int64(0)}, params)
    assert opt.iterations == 0 and set(opt.get_state()) == {"iterations"}


# -- apply and apply_gradients ----------------------------------------------------------------------------------
def test_apply_refuses_anything_but_two_lists():
    p = np.zeros((2, 3), f32)
    array, one = "array of shape (2, 3) and dtype float32", "list of 1: (array of shape (2, 3) and dtype float32)"
    for params, grads, received in (([p], p, f"{one}, {array}"), (p, [p], f"{array}, {one}"),
                                    (p, p, f"{array}, {array}")):
        with pytest.raises(TypeError, match=_exact(f"params, grads: expected two lists of arrays, received "
                                                   f"{received}")):
            SGD().apply(params, grads)


def test_apply_gradients_takes_pairs_like_apply():
    rng = np.random.default_rng(0)
    params = [rng.standard_normal((2, 3)).astype(f32), rng.standard_normal(4).astype(f32)]
    grads = [rng.standard_normal((2, 3)).astype(f32), rng.standard_normal(4).astype(f32)]
    a, b = Adam(), Adam()
    pa, pb = [p.copy() for p in params], [p.copy() for p in params]
    for _ in range(3):
        a.apply_gradients(zip(grads, pa, strict=True))
        b.apply(pb, grads)
    assert a.iterations == 3
    for x, y, p in zip(pa, pb, params, strict=True):
        np.testing.assert_array_equal(x, y)
        assert not np.array_equal(x, p)
    c, d = Adam(), Adam()
    pc, pd = [p.copy() for p in params], [p.copy() for p in params]
    c.apply_gradients([[g, v] for g, v in zip(grads, pc, strict=True)])   # pairs given as lists are pairs too
    d.apply(pd, grads)
    assert c.iterations == 1
    for x, y in zip(pc, pd, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("value,received", [
    ("", "''"), ("ab", "'ab'"), (b"", "b''"), (np.zeros(0, f32), "array of shape (0,) and dtype float32"),
    (np.zeros((2, 2), f32), "array of shape (2, 2) and dtype float32"),
    ([np.zeros(2, f32)], "list of 1: (array of shape (2,) and dtype float32)"),
    ([(np.zeros(2, f32), np.zeros(2, f32), np.zeros(2, f32))], None),    # a triple, not a pair
])
def test_apply_gradients_refuses_what_is_not_pairs(value, received):
    opt = SGD()
    start = "grads_and_vars: expected (gradient, variable) pairs, e.g. zip(grads, params), received "
    pattern = _exact(start + received) if received else "^" + re.escape(start + "[(array([0., 0.]")
    with pytest.raises(TypeError, match=pattern):
        opt.apply_gradients(value)
    assert opt.iterations == 0


# -- built_for: the same storage, not merely the same values or the same buffer --------------------------------------
def test_built_for_accepts_the_same_storage_and_refuses_other_views():
    base = np.arange(6, dtype=f32).reshape(2, 3)
    opt = SGD(momentum=0.9)
    assert opt.built_for(None) and opt.built_for([np.zeros(2, f32)])   # no state yet: anything goes
    opt.apply([base], [np.ones((2, 3), f32)])
    assert opt.built_for([base])
    full_view = base[...]
    full_view.flags.writeable = False
    assert opt.built_for([full_view])
    for other in (base.reshape(-1), base.reshape(3, 2), base[::-1], base.T[::1].T[::-1], base.copy(),
                  base[:, ::-1]):
        assert not opt.built_for([other])
    assert not opt.built_for(None) and not opt.built_for([base, base])


# -- clips: closed-form single steps ------------------------------------------------------------------------------
def _clipped_by_norm(t, c):
    """``t * c / max(||t||, c)`` in ``t``'s dtype (TensorFlow's ``clip_by_norm``)."""
    c = t.dtype.type(c)
    s = np.sum(t * t)
    return t * c / np.maximum(np.sqrt(s) if s > 0 else s, c)


def test_clipnorm_clips_each_segment_of_a_two_d_parameter_by_its_own_norm():
    g = np.array([[3.0, 4.0, 0.1], [0.2, 0.0, 0.1]], f32)          # pieces [3, 4] (norm 5) and [0.1, .2, 0, .1]
    flat, before = g.reshape(-1), g.copy()
    expected = np.concatenate([_clipped_by_norm(flat[:2], 1.0), _clipped_by_norm(flat[2:], 1.0)]).reshape(2, 3)
    opt = SGD(learning_rate=1.0, clipnorm=1.0)
    out = opt.clip_gradients([g], [[2, 4]])
    assert out[0].shape == (2, 3)
    np.testing.assert_array_equal(out[0], expected)
    np.testing.assert_array_equal(g, before)                          # the caller's gradient is left alone
    var = np.zeros((2, 3), f32)
    opt.apply([var], [g], segments=[[2, 4]])
    np.testing.assert_array_equal(var, -expected)
    whole = SGD(learning_rate=1.0, clipnorm=1.0).clip_gradients([g])[0]
    assert not np.array_equal(whole, expected)                        # one tensor: one norm


@pytest.mark.parametrize("segments", [[[3, 3]], [[1, 2, 3]], [[6]], None])
def test_global_clipnorm_sums_squares_one_tensor_at_a_time(segments):
    # 1 followed by tiny squares: summed all at once in float32 they vanish, summed per tensor they do not
    g = np.array([[1.0, 2 ** -12, 2 ** -12], [2 ** -12, 2 ** -12, 2 ** -12]], f32)
    flat = g.reshape(-1)
    sizes = segments[0] if segments else [6]
    ends = np.cumsum(sizes)
    norm = np.sqrt(np.sum(np.stack([np.sum(np.square(flat[e - s:e])) for s, e in zip(sizes, ends, strict=True)])))
    scale = 0.5 * np.minimum(1.0 / norm, 1.0 / 0.5)
    var = np.zeros((2, 3), f32)
    SGD(learning_rate=1.0, global_clipnorm=0.5).apply([var], [g], segments=segments)
    np.testing.assert_array_equal(var, -(g * f32(scale)))


def test_global_clipnorm_per_tensor_sum_differs_from_one_sum():
    # the check above is only meaningful if the two ways of summing differ for that gradient
    g = np.array([1.0] + [2 ** -12] * 5, f32)
    one = np.sqrt(np.sum(np.square(g)))
    per = np.sqrt(np.sum(np.stack([np.sum(np.square(g[:3])), np.sum(np.square(g[3:]))])))
    assert one != per


@pytest.mark.parametrize("g,expected", [
    (np.zeros(3, f32), np.zeros(3, f32)),                                # zero norm: unchanged, no division warning
    (np.array([np.inf, 1.0, 0.0], f32), np.full(3, np.nan, f32)),      # infinite norm: NaN, as Keras
])
def test_global_clipnorm_handles_a_zero_or_infinite_norm_silently(g, expected):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = SGD(global_clipnorm=1.0).clip_gradients([g, np.zeros(2, f32)])
    np.testing.assert_array_equal(out[0], expected)


def test_clip_gradients_refuses_sizes_that_do_not_match_the_gradients():
    grads = [np.ones(3, f32), np.ones(2, f32)]
    for opt in (SGD(global_clipnorm=1.0), SGD(clipnorm=1.0)):
        with pytest.raises(ValueError):
            opt.clip_gradients(grads, [[3]])


# -- RMSprop's state, one step from the formula ---------------------------------------------------------------------
def test_centered_rmsprop_with_momentum_keeps_the_documented_state():
    g = np.array([0.5, -2.0, 1.0], f32)
    var = np.array([1.0, 2.0, 3.0], f32)
    rho, mu, eps, lr = 0.8, 0.5, 1e-7, 0.01
    opt = RMSprop(learning_rate=lr, rho=rho, momentum=mu, epsilon=eps, centered=True)
    start = var.copy()
    opt.apply([var], [g])
    velocity = rho * np.zeros(3, f32) + (1 - rho) * (g * g)
    average = rho * np.zeros(3, f32) + (1 - rho) * g
    increment = f32(lr) * g / np.sqrt(velocity - average * average + eps)
    momentum = mu * np.zeros(3, f32) + increment
    state = opt.get_state()
    np.testing.assert_array_equal(state["velocity_0"], velocity)
    np.testing.assert_array_equal(state["average_gradient_0"], average)
    np.testing.assert_array_equal(state["momentum_0"], momentum)
    np.testing.assert_array_equal(var, start - momentum)


# -- the learning-rate property, get, and the rest of apply's checks ------------------------------------------------
def test_learning_rate_assignment_is_checked_and_a_schedule_is_not_overwritten():
    opt = SGD(learning_rate=0.1)
    opt.learning_rate = 0.0                                           # 0 is allowed, as in Keras
    assert opt.learning_rate == 0.0 and opt.learning_rate_schedule is None
    with pytest.raises(ValueError, match=_exact("learning_rate: expected a number in [0.0, inf), received -0.1")):
        opt.learning_rate = -0.1
    with pytest.raises(TypeError, match=r"^learning_rate: expected a number >= 0 or a tinynet\.schedules\."
                                        r"LearningRateSchedule, received <function "):
        opt.learning_rate = lambda: 0.1
    schedule = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    opt.learning_rate = schedule
    assert opt.learning_rate_schedule is schedule and opt.learning_rate == pytest.approx(0.1)
    message = ("learning_rate: this optimizer was created with a LearningRateSchedule, so its learning rate is not "
               "settable (as in Keras); received 0.05. Create the optimizer with a number to set it, or assign "
               "another schedule")
    with pytest.raises(TypeError, match=_exact(message)):
        opt.learning_rate = 0.05
    assert opt.learning_rate_schedule is schedule


def test_get_refuses_unknown_names_and_other_things():
    with pytest.raises(ValueError, match=_exact("optimizer: expected one of ['adagrad', 'adam', 'adamw', 'rmsprop', "
                                                "'sgd'] or an Optimizer, received 'nadam'")):
        get("nadam")
    with pytest.raises(TypeError, match=_exact("optimizer: expected an optimizer name or a "
                                               "tinynet.optimizers.Optimizer, received 3")):
        get(3)
    assert type(get("RMSprop")) is RMSprop and type(get({"class_name": "SGD", "config": {}})) is SGD


def test_apply_checks_every_array_before_changing_anything():
    opt, params = Adam(), [np.zeros((2, 3), f32), np.zeros(4, f32)]
    grads = [np.ones((2, 3), f32), np.ones(4, f32)]
    cases = [
        (([params[0]], []), ValueError, "grads: expected one array per parameter (1), received 0"),
        (([np.zeros(3, np.int64)], [np.ones(3)]), TypeError,
         "params[0]: expected a float NumPy array, received array of shape (3,) and dtype int64"),
        (([params[0]], [np.ones((3, 2), f32)]), ValueError, "grads[0]: expected shape (2, 3), received (3, 2)"),
    ]
    for args, error, message in cases:
        with pytest.raises(error, match=_exact(message)):
            opt.apply(*args)
    frozen = np.zeros(4, f32)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match=_exact("params[1]: expected a writeable array (it is updated in place), "
                                                "received a read-only one")):
        opt.apply([params[0], frozen], grads)
    assert opt.iterations == 0 and set(opt.get_state()) == {"iterations"}
    opt.apply(params, grads)
    with pytest.raises(ValueError, match=_exact("params: this optimizer's state was built for parameters of shapes "
                                                "[(2, 3), (4,)], received [(4,)]")):
        opt.apply([np.zeros(4, f32)], [np.ones(4, f32)])


@pytest.mark.parametrize("segments,message", [
    ([[24, 4, 12], [1]], "segments: expected a list with one entry (a list of tensor sizes, or None) per parameter "
                         "array (1), received [[24, 4, 12], [1]]"),
    ("ab", "segments: expected a list with one entry (a list of tensor sizes, or None) per parameter array (1), "
           "received 'ab'"),
    ([[24, 4, 12.0]], "segments[0]: expected a non-empty list of tensor sizes (integers >= 0), received "
                      "[24, 4, 12.0]"),
    ([[]], "segments[0]: expected a non-empty list of tensor sizes (integers >= 0), received []"),
    ([[40, -1, 1]], "segments[0]: expected a non-empty list of tensor sizes (integers >= 0), received [40, -1, 1]"),
    ([[True, 39]], "segments[0]: expected a non-empty list of tensor sizes (integers >= 0), received [True, 39]"),
    ([40], "segments[0]: expected a non-empty list of tensor sizes (integers >= 0), received 40"),
    ([[24, 4]], "segments[0]: expected sizes adding up to 40 (the size of params[0]), received [24, 4] (sum 28)"),
])
def test_bad_segments_are_refused_with_the_exact_message(segments, message):
    opt, var = SGD(clipnorm=1.0), np.zeros(40, f32)
    with pytest.raises(ValueError, match=_exact(message)):
        opt.apply([var], [np.ones(40, f32)], segments=segments)
    assert opt.iterations == 0 and not var.any()


def test_segments_of_numpy_integers_and_none_are_accepted():
    g = np.arange(1, 7, dtype=f32)
    a, b = [np.zeros(6, f32)], [np.zeros(6, f32)]
    SGD(learning_rate=1.0, clipnorm=1.0).apply(a, [g], segments=[[np.int64(2), np.int32(4)]])
    SGD(learning_rate=1.0, clipnorm=1.0).apply(b, [g], segments=[None])
    np.testing.assert_array_equal(a[0], -np.concatenate([_clipped_by_norm(g[:2], 1.0), _clipped_by_norm(g[2:], 1.0)]))
    np.testing.assert_array_equal(b[0], -_clipped_by_norm(g, 1.0))


def test_a_parameter_that_is_not_an_array_is_refused_by_position():
    with pytest.raises(TypeError, match=_exact("params[1]: expected a float NumPy array, received [0.0, 0.0]")):
        SGD().apply([np.zeros(2, f32), [0.0, 0.0]], [np.ones(2, f32), np.ones(2, f32)])


def test_empty_tensors_in_segments_are_allowed_and_later_segments_still_count_after_a_none():
    g = np.arange(1, 7, dtype=f32)
    var = np.zeros(6, f32)
    SGD(learning_rate=1.0, clipnorm=1.0).apply([var], [g], segments=[[0, 2, 0, 4]])   # sizes >= 0, zeros allowed
    np.testing.assert_array_equal(var, -np.concatenate([_clipped_by_norm(g[:2], 1.0), _clipped_by_norm(g[2:], 1.0)]))
    params = [np.zeros(3, f32), np.zeros(6, f32)]
    SGD(learning_rate=1.0, clipnorm=1.0).apply(params, [g[:3], g], segments=[None, [2, 4]])
    np.testing.assert_array_equal(params[0], -_clipped_by_norm(g[:3], 1.0))
    np.testing.assert_array_equal(params[1], var)
    with pytest.raises(ValueError, match=_exact("segments[1]: expected sizes adding up to 6 (the size of params[1]), "
                                                "received [2, 3] (sum 5)")):
        SGD(clipnorm=1.0).apply(params, [g[:3], g], segments=[None, [2, 3]])


def test_apply_gradients_of_something_not_iterable_names_the_argument():
    from tinynet.optimizers import SGD
    with pytest.raises(TypeError, match=r"^grads_and_vars: expected \(gradient, variable\) pairs, e\.g\. zip"):
        SGD().apply_gradients(3)


# -- Keras 3's defaults, and single steps at the edges of the clips -----------------------------------------------
KERAS_DEFAULTS = {
    SGD: {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False},
    Adam: {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False},
    AdamW: {"learning_rate": 0.001, "weight_decay": 0.004, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7,
            "amsgrad": False},
    RMSprop: {"learning_rate": 0.001, "rho": 0.9, "momentum": 0.0, "epsilon": 1e-7, "centered": False},
    Adagrad: {"learning_rate": 0.001, "initial_accumulator_value": 0.1, "epsilon": 1e-7},
}


@pytest.mark.parametrize("cls", CLASSES)
def test_defaults_are_keras_3s(cls):
    config = cls().get_config()
    for key, value in KERAS_DEFAULTS[cls].items():
        assert config[key] == value and type(config[key]) is type(value), key
    unset = ["clipnorm", "clipvalue", "global_clipnorm"] + ([] if cls is AdamW else ["weight_decay"])
    assert all(config[key] is None for key in unset)


@pytest.mark.parametrize("initial", [None, 0.5])
def test_adagrad_first_step_starts_the_accumulator_at_its_initial_value(initial):
    # Keras: accumulator = initial + g**2; var -= lr g / sqrt(accumulator + epsilon)
    opt = Adagrad(0.1) if initial is None else Adagrad(0.1, initial_accumulator_value=initial)
    p, g = np.array([1.0, -2.0]), np.array([0.5, -1.0])
    expected = p - 0.1 * g / np.sqrt((0.1 if initial is None else initial) + g**2 + 1e-7)
    opt.apply([p], [g])
    np.testing.assert_allclose(p, expected, rtol=1e-12)


def test_clipnorm_below_one_scales_by_the_norm_not_its_square():
    p, g = np.zeros(2), np.array([0.3, 0.4])                 # |g| = 0.5, |g|**2 = 0.25
    SGD(1.0, clipnorm=0.1).apply([p], [g])
    np.testing.assert_allclose(p, -g * 0.1 / 0.5, rtol=1e-12)


def test_global_clipnorm_above_the_norm_leaves_the_gradients_as_they_are():
    p, q = np.zeros(2), np.zeros(1)
    SGD(1.0, global_clipnorm=2.0).apply([p, q], [np.array([0.3, 0.0]), np.array([0.4])])    # global norm 0.5
    np.testing.assert_allclose(np.r_[p, q], [-0.3, 0.0, -0.4], rtol=1e-12)


def test_a_gradient_of_another_dtype_is_cast_to_the_variables_before_the_step():
    # as Keras: a float64 gradient for a float32 variable is rounded to float32 first, then the step is taken
    rng = np.random.default_rng(0)
    p, g = rng.standard_normal(1000).astype(f32), rng.standard_normal(1000)
    given, cast = p.copy(), p.copy()
    SGD(0.1).apply([given], [g])
    SGD(0.1).apply([cast], [g.astype(f32)])
    np.testing.assert_array_equal(given, cast)
