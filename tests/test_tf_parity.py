"""tinynet against real TensorFlow/Keras (tensorflow-cpu 2.21, Keras 3): same weights in, same numbers out.

Every Keras model here is a twin built from a tinynet model's ``get_weights()`` with ``set_weights``; Keras
never draws weights of its own except in the initialiser test, which compares distributions. All arithmetic is
float32, with ``TF_ENABLE_ONEDNN_OPTS=0`` set before TensorFlow is imported (see ``_tf_helpers``). Tolerances
and the differences measured with them are in docs/parity.md; run ``pytest -s tests/test_tf_parity.py`` to
print the measured differences (lines starting ``[parity]``).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from tests._tf_helpers import import_tf, keras_twin, max_abs, record, rel_err
from tinynet import Sequential, optimizers
from tinynet.layers import Dense
from tinynet.losses import SparseCategoricalCrossentropy


@pytest.fixture(scope="module")
def tfk():
    """``(tensorflow, keras)``, imported once per module (fails under CI if missing)."""
    return import_tf()


def build(input_dim: int, layers, seed: int) -> Sequential:
    """A tinynet ``Sequential`` of Dense layers ``[(units, activation), ...]``, built at construction."""
    dense = [Dense(units, activation=act) for units, act in layers]
    dense[0].input_shape = (input_dim,)
    return Sequential(dense, seed=seed)


def seed_model(seed: int) -> Sequential:
    """The reference job's network: Dense(25, relu, input_shape=(400,)), Dense(15, relu), Dense(10)."""
    return Sequential([Dense(25, activation="relu", input_shape=(400,)), Dense(15, activation="relu"),
                       Dense(10, activation="linear")], seed=seed)


def shuffled_digits(digits, n: int, seed: int = 0):
    """The first ``n`` rows of a fixed-seed shuffle of the real digits, as float32 / int64."""
    X, y = digits
    order = np.random.default_rng(seed).permutation(X.shape[0])[:n]
    return X[order].astype(np.float32), y[order]


# -- 1. initialisation ---------------------------------------------------------------------------------------
def test_glorot_uniform_matches_keras_distribution(tfk, record_property):
    """Kernels lie in +-sqrt(6/(fan_in+fan_out)), fill that range, and match Keras's draws in distribution."""
    _, keras = tfk
    fan_in, fan_out = 400, 300
    limit = np.float32(np.sqrt(6.0 / (fan_in + fan_out)))
    model = Sequential([Dense(fan_out, activation="relu", input_shape=(fan_in,)), Dense(10)], seed=2024)
    kernel, bias = model.get_weights()[:2]
    ref = np.asarray(keras.initializers.GlorotUniform(seed=2024)(shape=(fan_in, fan_out), dtype="float32"))

    assert kernel.shape == ref.shape == (fan_in, fan_out) and kernel.dtype == np.float32
    assert np.abs(kernel).max() <= limit, f"tinynet kernel exceeds the Glorot limit {limit}"
    assert np.abs(ref).max() <= limit, "Keras's own draw exceeds the limit: the formula here is wrong"
    # The whole range is used (a smaller limit, e.g. from fan_in alone, would fail this).
    assert kernel.min() < -0.995 * limit and kernel.max() > 0.995 * limit
    # Same distribution as Keras's draw, and uniform on [-limit, limit]. With 120,000 values per sample the KS
    # test detects a CDF difference of ~0.008; the seeds are fixed, so the p-values are deterministic.
    ks_keras = scipy.stats.ks_2samp(kernel.ravel(), ref.ravel())
    ks_uniform = scipy.stats.kstest(kernel.ravel(), scipy.stats.uniform(loc=-limit, scale=2 * limit).cdf)
    assert ks_keras.pvalue > 1e-3, \
        f"tinynet vs Keras Glorot draws: KS D={ks_keras.statistic}, p={ks_keras.pvalue}"
    assert ks_uniform.pvalue > 1e-3, f"tinynet vs U(-limit, limit): KS p={ks_uniform.pvalue}"

    # Biases start at zero in both, and every kernel of the seed model respects its own limit.
    keras_bias = keras.layers.Dense(fan_out)
    keras_bias.build((None, fan_in))
    assert not np.any(bias) and not np.any(np.asarray(keras_bias.bias))
    for layer in seed_model(5).layers:
        k, b = layer.params
        assert np.abs(k).max() <= np.sqrt(6.0 / sum(k.shape)) and not np.any(b)
    record(record_property, "init", ks_D=float(ks_keras.statistic), ks_p=float(ks_keras.pvalue),
           uniform_p=float(ks_uniform.pvalue), std_ours=float(kernel.std()), std_keras=float(ref.std()),
           std_theory=float(limit / np.sqrt(3)))


# -- 2. forward pass -----------------------------------------------------------------------------------------
def test_forward_seed_architecture_matches_keras(tfk, digits, record_property):
    """Same weights, same real digits -> the same logits (max abs diff <= 1e-5)."""
    _, keras = tfk
    model = seed_model(11)
    twin = keras_twin(keras, model)
    x, _ = shuffled_digits(digits, 500, seed=1)
    ours = model.predict(x)
    ref = np.asarray(twin(x, training=False))
    diff = max_abs(ours, ref)
    record(record_property, "forward_seed", max_abs=diff, max_logit=float(np.abs(ref).max()))
    assert diff <= 1e-5, f"logits differ by {diff} (tinynet vs Keras)"


def test_forward_drawn_architectures_match_keras(tfk, record_property):
    """Hypothesis-drawn layer sizes and activations: logits agree with Keras to 1e-5 absolute."""
    _, keras = tfk
    worst = []

    @settings(max_examples=15, deadline=None, derandomize=True)
    @given(sizes=st.lists(st.integers(1, 64), min_size=2, max_size=5),
           acts=st.lists(st.sampled_from(["relu", "linear", "tanh", "sigmoid"]), min_size=4, max_size=4),
           out_act=st.sampled_from(["linear", "softmax"]),
           batch=st.integers(1, 40), seed=st.integers(0, 2**31 - 1))
    def check(sizes, acts, out_act, batch, seed):
        layers = [(units, acts[i]) for i, units in enumerate(sizes[1:-1])] + [(sizes[-1], out_act)]
        model = build(sizes[0], layers, seed=seed)
        twin = keras_twin(keras, model)
        x = np.random.default_rng(seed).normal(size=(batch, sizes[0])).astype(np.float32)
        ours, ref = model.predict(x), np.asarray(twin(x, training=False))
        worst.append(max_abs(ours, ref))
        assert worst[-1] <= 1e-5, f"layers {layers}: outputs differ by {worst[-1]} (tinynet vs Keras)"

    check()
    record(record_property, "forward_drawn", examples=len(worst), max_abs=max(worst))


# -- 3. loss -------------------------------------------------------------------------------------------------
def _loss_inputs(rng, n: int, classes: int):
    """Named (predictions, from_logits) cases: ordinary and extreme (+-1e4) logits, and probabilities."""
    logits = (rng.normal(size=(n, classes)) * 3).astype(np.float32)
    extreme = rng.choice(np.array([-1e4, 1e4], dtype=np.float32), size=(n, classes))
    mixed = np.where(rng.random((n, classes)) < 0.3, extreme, logits).astype(np.float32)

    def softmax(z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)

    return [
        ("logits", logits, True), ("extreme logits", extreme, True), ("mixed logits", mixed, True),
        ("probabilities", softmax(logits), False),
        ("saturated probabilities (exact 0 and 1)", softmax(mixed), False),
        ("extreme raw scores, clipped", extreme, False),
    ]


def test_sparse_categorical_crossentropy_matches_keras(tfk, record_property):
    """Loss values (and their gradients w.r.t. y_pred) agree with keras.losses for labels (n,) and (n, 1).

    Value tolerance: |ours - ref| <= 1e-6 * max(1, |ref|); gradient: norm(diff) / norm(ref) <= 1e-5.
    """
    tf, keras = tfk
    rng = np.random.default_rng(3)
    n, classes = 37, 10
    labels = rng.integers(0, classes, size=n)
    worst_value = worst_grad = 0.0
    for name, y_pred, from_logits in _loss_inputs(rng, n, classes):
        ours_fn = SparseCategoricalCrossentropy(from_logits=from_logits)
        ref_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
        for y in (labels, labels.reshape(n, 1)):
            ours = ours_fn(y, y_pred)
            z = tf.constant(y_pred)
            with tf.GradientTape() as tape:
                tape.watch(z)
                ref_t = ref_fn(y, z)
            ref, ref_grad = float(ref_t), np.asarray(tape.gradient(ref_t, z))
            value, grad = ours_fn.value_and_grad(y, y_pred)
            err = abs(ours - ref) / max(1.0, abs(ref))
            gerr = rel_err(grad, ref_grad)
            worst_value, worst_grad = max(worst_value, err), max(worst_grad, gerr)
            case = f"{name}, from_logits={from_logits}, labels {y.shape}"
            assert np.isfinite(ours) and value == ours, f"{case}: loss {ours} vs value_and_grad {value}"
            assert err <= 1e-6, f"{case}: tinynet {ours!r} vs Keras {ref!r}"
            assert gerr <= 1e-5, f"{case}: gradient relative error {gerr}"
    record(record_property, "loss", max_rel_value=worst_value, max_rel_grad=worst_grad)


@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("bad_label", [10, -1])
def test_out_of_range_labels_raise_in_both(tfk, from_logits, bad_label):
    """A label outside [0, classes) is an error in tinynet (ValueError) and in Keras (some exception)."""
    _, keras = tfk
    y_pred = np.full((4, 10), 0.1, dtype=np.float32)
    y = np.array([0, 3, bad_label, 9])
    with pytest.raises(ValueError, match="y_true"):
        SparseCategoricalCrossentropy(from_logits=from_logits)(y, y_pred)
    with pytest.raises(Exception):  # noqa: B017 - TF raises InvalidArgumentError; the point is that it raises
        float(keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)(y, y_pred))


# -- 4. gradients --------------------------------------------------------------------------------------------
GRADIENT_CASES = [
    # (id, (input_dim,), layers, from_logits, weight scale)
    ("seed-400-25-15-10", (400,), [(25, "relu"), (15, "relu"), (10, "linear")], True, 1.0),
    ("tanh-sigmoid-30-20-12-7", (30,), [(20, "tanh"), (12, "sigmoid"), (7, "linear")], True, 1.0),
    # A softmax output with from_logits=False: Keras takes the loss from the softmax's logits. Weights scaled
    # by 30 saturate the softmax (true-class probabilities of exactly 0), where clipping would change all.
    ("softmax-head-30-20-7", (30,), [(20, "relu"), (7, "softmax")], False, 1.0),
    ("softmax-head-saturated", (30,), [(20, "relu"), (7, "softmax")], False, 30.0),
]


@pytest.mark.parametrize(("case", "input_shape", "layers", "from_logits", "scale"), GRADIENT_CASES,
                         ids=[c[0] for c in GRADIENT_CASES])
def test_gradients_match_gradient_tape(tfk, case, input_shape, layers, from_logits, scale, record_property):
    """``loss_and_gradients`` vs ``tf.GradientTape`` on the Keras twin: every parameter within 1e-5 relative.

    Relative error = norm(ours - ref) / norm(ref), per parameter tensor. The loss and ``evaluate`` must agree
    to 1e-6 relative.
    """
    tf, keras = tfk
    (input_dim,) = input_shape
    model = build(input_dim, layers, seed=21)
    model.set_weights([w * np.float32(scale) for w in model.get_weights()])
    model.compile(optimizer="adam", loss=SparseCategoricalCrossentropy(from_logits=from_logits))
    twin = keras_twin(keras, model)
    rng = np.random.default_rng(4)
    x = rng.random((45, input_dim), dtype=np.float32)   # 45: not a power of two, so 1/N is inexact
    y = rng.integers(0, layers[-1][0], size=45)

    loss, grads = model.loss_and_gradients(x, y)
    ref_loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
    with tf.GradientTape() as tape:
        ref_loss = ref_loss_fn(y, twin(x, training=True))
    ref_grads = tape.gradient(ref_loss, twin.trainable_variables)
    errs = []
    for i, (g, ref) in enumerate(zip(grads, ref_grads, strict=True)):
        ref = np.asarray(ref)
        assert g.shape == ref.shape and g.dtype == np.float32
        errs.append(rel_err(g, ref))
        assert errs[-1] <= 1e-5, f"parameter {i} {g.shape}: gradient relative error {errs[-1]}"
    ref_loss = float(ref_loss)
    loss_err = abs(loss - ref_loss) / abs(ref_loss)
    twin.compile(loss=ref_loss_fn, jit_compile=False)
    ours_eval, ref_eval = model.evaluate(x, y), twin.evaluate(x, y, batch_size=32, verbose=0)
    eval_err = abs(ours_eval - ref_eval) / abs(ref_eval)
    record(record_property, f"gradients[{case}]", loss=ref_loss, loss_rel=loss_err,
           evaluate_rel=eval_err, max_rel=max(errs), per_param=" ".join(f"{e:.2g}" for e in errs))
    assert loss_err <= 1e-6, f"loss: tinynet {loss!r} vs Keras {ref_loss!r}"
    assert eval_err <= 1e-6, f"evaluate: tinynet {ours_eval!r} vs Keras {ref_eval!r}"


# -- 5. optimizer steps --------------------------------------------------------------------------------------
OPTIMIZER_CASES = [
    ("Adam", {}),
    ("Adam", {"amsgrad": True}),
    ("Adam", {"learning_rate": 0.02, "beta_1": 0.8, "beta_2": 0.95, "epsilon": 1e-5}),
    ("Adam", {"learning_rate": 3e-4, "beta_1": 0.5, "beta_2": 0.9, "amsgrad": True}),
    ("SGD", {}),
    ("SGD", {"learning_rate": 0.05, "momentum": 0.9}),
    ("SGD", {"learning_rate": 0.03, "momentum": 0.7, "nesterov": True}),
]


@pytest.mark.parametrize(("kind", "kwargs"), OPTIMIZER_CASES,
                         ids=[f"{k}-{'-'.join(f'{a}={b}' for a, b in kw.items()) or 'default'}"
                              for k, kw in OPTIMIZER_CASES])
def test_optimizer_steps_bit_identical_to_keras(tfk, kind, kwargs):
    """Same gradients and state: after each of 50 steps (the first too) all variables equal Keras exactly."""
    _, keras = tfk
    rng = np.random.default_rng(5)
    shapes = [(400, 25), (25,), (25, 15), (15,), (3,)]
    init = [(rng.normal(size=s) * 0.1).astype(np.float32) for s in shapes]
    ours = getattr(optimizers, kind)(**kwargs)
    ref = getattr(keras.optimizers, kind)(**kwargs)
    params = [p.copy() for p in init]                  # separate arrays, one per variable
    variables = [keras.Variable(p.copy(), dtype="float32") for p in init]
    for step in range(1, 51):
        scale = np.float32(10.0 ** rng.uniform(-4, 1))  # gradients from 1e-4 to 10 in size, some exactly zero
        grads = [(rng.normal(size=s) * scale * (rng.random(s) > 0.1)).astype(np.float32) for s in shapes]
        ours.apply(params, grads)
        ref.apply_gradients(zip(grads, variables, strict=True))
        for i, (p, v) in enumerate(zip(params, variables, strict=True)):
            v = np.asarray(v)
            assert np.array_equal(p, v), (f"step {step}, variable {i} {p.shape}: {np.sum(p != v)} elements "
                                          f"differ, max abs {np.abs(p - v).max()} (tinynet vs Keras)")
    assert ours.iterations == int(ref.iterations) == 50
    assert not np.array_equal(params[0], init[0])    # the comparison was not vacuous


# -- 6. training trajectory ----------------------------------------------------------------------------------
def _fit_both(keras, model, x, y, **fit_kwargs):
    """Compile tinynet ``model`` and its Keras twin alike, fit both; return both histories and the twin."""
    twin = keras_twin(keras, model)                   # weights copied before either model trains
    model.compile(optimizer=optimizers.Adam(1e-3), loss=SparseCategoricalCrossentropy(from_logits=True))
    twin.compile(optimizer=keras.optimizers.Adam(1e-3),
                 loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=False)
    ours = model.fit(x, y, batch_size=32, shuffle=False, verbose=0, **fit_kwargs)
    ref = twin.fit(x, y, batch_size=32, shuffle=False, verbose=0, **fit_kwargs)
    return ours.history, ref.history, twin


def _weight_errs(model, twin) -> list[float]:
    return [rel_err(a, b) for a, b in zip(model.get_weights(), twin.get_weights(), strict=True)]


def test_training_trajectory_matches_keras(tfk, digits, record_property):
    """Seed model, 3 epochs on 1,000 shuffled digits (31 batches of 32, 1 of 8): losses, weights to 1e-5."""
    _, keras = tfk
    x, y = shuffled_digits(digits, 1000)
    model = seed_model(42)
    ours, ref, twin = _fit_both(keras, model, x, y, epochs=3)
    loss_errs = [abs(a - b) / abs(b) for a, b in zip(ours["loss"], ref["loss"], strict=True)]
    w_errs = _weight_errs(model, twin)
    record(record_property, "trajectory_3_epochs", max_loss_rel=max(loss_errs), max_weight_rel=max(w_errs),
           losses=" ".join(f"{v:.6f}" for v in ours["loss"]))
    assert len(ours["loss"]) == len(ref["loss"]) == 3
    assert max(loss_errs) <= 1e-5, f"epoch losses: tinynet {ours['loss']} vs Keras {ref['loss']}"
    assert max(w_errs) <= 1e-5, f"final weights, relative error per tensor: {w_errs}"


def test_validation_split_matches_keras(tfk, digits, record_property):
    """validation_split holds out the same last rows as Keras (floor(n * (1 - f))); loss, val_loss agree."""
    _, keras = tfk
    x, y = shuffled_digits(digits, 1000)
    split = 0.1234                                    # 876.6 -> floor 876 (round or ceil would give 877)
    model = seed_model(43)
    ours, ref, twin = _fit_both(keras, model, x, y, epochs=3, validation_split=split)
    errs = {key: max(abs(a - b) / abs(b) for a, b in zip(ours[key], ref[key], strict=True))
            for key in ("loss", "val_loss")}
    w_errs = _weight_errs(model, twin)
    # Which rows: after training, each model's loss on x[876:] is its own last val_loss.
    split_at = 876
    own_val = model.evaluate(x[split_at:], y[split_at:])
    record(record_property, "validation_split", max_loss_rel=errs["loss"], max_val_loss_rel=errs["val_loss"],
           max_weight_rel=max(w_errs))
    assert own_val == pytest.approx(ours["val_loss"][-1], rel=1e-6)
    assert errs["loss"] <= 1e-5, f"loss: tinynet {ours['loss']} vs Keras {ref['loss']}"
    assert errs["val_loss"] <= 1e-5, f"val_loss: tinynet {ours['val_loss']} vs Keras {ref['val_loss']}"
    assert max(w_errs) <= 1e-5, f"final weights, relative error per tensor: {w_errs}"


# -- 7. the full seed job ------------------------------------------------------------------------------------
def test_full_seed_job_matches_keras(tfk, digits, record_property):
    """40 epochs on all 5,000 digits (unshuffled, batch 32): losses within 1e-2 rel, >= 99% same classes."""
    _, keras = tfk
    X, y = digits
    x = X.astype(np.float32)
    model = seed_model(7)
    ours, ref, twin = _fit_both(keras, model, x, y, epochs=40)
    loss_errs = [abs(a - b) / abs(b) for a, b in zip(ours["loss"], ref["loss"], strict=True)]
    ours_cls = model.predict(x).argmax(axis=1)
    ref_cls = np.asarray(twin.predict(x, batch_size=32, verbose=0)).argmax(axis=1)
    agree = float(np.mean(ours_cls == ref_cls))
    w_errs = _weight_errs(model, twin)
    record(record_property, "full_seed_job", max_loss_rel=max(loss_errs), first_loss_rel=loss_errs[0],
           last_loss_rel=loss_errs[-1], max_weight_rel=max(w_errs), class_agreement=agree,
           acc_ours=float(np.mean(ours_cls == y)), acc_keras=float(np.mean(ref_cls == y)))
    assert len(ours["loss"]) == len(ref["loss"]) == 40
    assert max(loss_errs) <= 1e-2, f"epoch losses: tinynet {ours['loss']} vs Keras {ref['loss']}"
    assert agree >= 0.99, f"predicted classes agree on only {agree:.2%} of samples"
