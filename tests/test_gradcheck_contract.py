"""The documented contract of tinynet.gradcheck: the Report table, argument handling and what each check compares."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tinynet import Sequential, gradcheck
from tinynet.layers import Dense, Dropout, Layer
from tinynet.losses import CategoricalCrossentropy, MeanSquaredError

HEADER = re.compile(r"^tensor\s+shape\s+\|analytic\|\s+\|numeric\|\s+max \|diff\|\s+rel error$")


def _report(*errors, tol=1e-6):
    entries = [gradcheck.Entry(f"t{i}", (3, 4), err, 0.5, 1.0, 2.0) for i, err in enumerate(errors)]
    return gradcheck.Report(entries, tol=tol)


# -- the Report table -------------------------------------------------------------------------------------------
def test_table_has_a_header_a_rule_one_row_per_entry_and_a_summary():
    lines = str(_report(1e-9, 2e-9)).split("\n")
    assert len(lines) == 5
    assert HEADER.match(lines[0]), lines[0]
    assert lines[1] == "-" * len(lines[0])
    assert [line.split()[0] for line in lines[2:4]] == ["t0", "t1"]
    assert lines[4].startswith("max relative error ")


@pytest.mark.parametrize("rel_error, flagged", [(0.0, False), (9.9e-7, False), (1e-6, True), (0.5, True)])
def test_rows_are_flagged_from_the_tolerance_on(rel_error, flagged):
    row = str(_report(rel_error)).split("\n")[2]
    values = rf"^t0\s+\(3, 4\)\s+1\.0000e\+00\s+2\.0000e\+00\s+5\.00e-01\s+{re.escape(f'{rel_error:.2e}')}"
    assert re.match(values + ("   <-- FAIL$" if flagged else "$"), row), row


@pytest.mark.parametrize("errors, summary", [
    ((), "max relative error 0.00e+00 (tolerance 1e-06): OK"),
    ((1e-9, 9.9e-7), "max relative error 9.90e-07 (tolerance 1e-06): OK"),
    ((1e-9, 1e-6), "max relative error 1.00e-06 (tolerance 1e-06): FAILED"),
    ((0.3,), "max relative error 3.00e-01 (tolerance 1e-06): FAILED"),
])
def test_summary_line_says_ok_only_below_the_tolerance(errors, summary):
    report = _report(*errors)
    assert str(report).split("\n")[-1] == summary
    assert report.ok == summary.endswith(": OK")


# -- check_model ------------------------------------------------------------------------------------------------
def _tanh_model(dtype="float64"):
    model = Sequential([Dense(4, activation="tanh", input_shape=(3,), bias_initializer="glorot_uniform"),
                        Dense(2)], seed=3, dtype=dtype)
    model.compile(loss=MeanSquaredError(), optimizer="sgd")
    return model


def _batch():
    rng = np.random.default_rng(7)
    return rng.standard_normal((5, 3)), rng.standard_normal((5, 2))


@pytest.mark.parametrize("make_model, received", [(lambda: _tanh_model("float32"), "float32"), (object, "None")],
                         ids=["float32-model", "not-a-model"])
def test_check_model_refuses_a_model_not_in_float64(make_model, received):
    x, y = _batch()
    with pytest.raises(ValueError, match=rf"^model: expected a model built with dtype='float64', received dtype "
                                         rf"{received}$"):
        gradcheck.check_model(make_model(), x, y)


def test_check_model_names_every_parameter_with_its_shape():
    model = _tanh_model()
    report = gradcheck.check_model(model, *_batch())
    assert [e.name for e in report.entries] == model.trainable_weight_names
    assert [e.shape for e in report.entries] == [w.shape for w in model.trainable_weights]
    assert report.ok, f"\n{report}"


def test_check_model_weighs_both_sides_by_the_sample_weights():
    model, (x, y) = _tanh_model(), _batch()
    weighted = gradcheck.check_model(model, x, y, sample_weight=[0.0, 1.0, 3.0, 0.5, 2.0])
    plain = gradcheck.check_model(model, x, y)
    assert weighted.ok, f"\n{weighted}"
    assert weighted.entries[0].analytic_norm != pytest.approx(plain.entries[0].analytic_norm, rel=1e-3)


def test_default_tolerance_is_1e_6():
    x, y = _batch()
    assert gradcheck.check_model(_tanh_model(), x, y).tol == 1e-6
    assert gradcheck.check_layer(Dense(2), x).tol == 1e-6
    assert gradcheck.check_loss(MeanSquaredError(), y, y + 0.5).tol == 1e-6


# A large step makes the central difference's O(h**2) truncation error visible: proof that h reaches every poke.
def test_h_is_the_step_of_every_difference_quotient():
    x, y = _batch()
    coarse = gradcheck.check_model(_tanh_model(), x, y, h=0.1)
    assert coarse.max_rel_error > 1e-5
    assert gradcheck.check_model(_tanh_model(), x, y).ok
    layer_report = gradcheck.check_layer(Dense(3, activation="tanh"), x, h=0.1)
    assert [e.name for e in layer_report.entries] == ["dense/kernel", "dense/bias", "dense/input"]
    assert all(e.rel_error > 1e-6 for e in layer_report.entries), f"\n{layer_report}"
    loss = CategoricalCrossentropy(from_logits=True)
    assert gradcheck.check_loss(loss, [[0.0, 1.0]] * 5, 3 * y, h=0.1).max_rel_error > 1e-6
    assert gradcheck.check_loss(loss, [[0.0, 1.0]] * 5, 3 * y).ok


# -- check_layer ------------------------------------------------------------------------------------------------
def test_check_layer_builds_an_unbuilt_layer_in_float64_from_its_seed():
    x, _ = _batch()
    layers = [Dense(3, activation="tanh", bias_initializer="glorot_uniform") for _ in range(3)]
    default, seed0, seed1 = (gradcheck.check_layer(layers[0], x), gradcheck.check_layer(layers[1], x, seed=0),
                             gradcheck.check_layer(layers[2], x, seed=1))
    assert all(p.dtype == np.float64 for p in layers[0].params)
    assert default.ok and seed1.ok, f"\n{default}\n{seed1}"
    assert default.entries == seed0.entries                 # seed=0 is the default, and it fixes the check
    np.testing.assert_array_equal(layers[0].params[0], layers[1].params[0])
    assert default.entries != seed1.entries


def test_check_layer_refuses_a_layer_built_in_float32():
    layer = Dense(2)
    layer.build((3,), rng=np.random.default_rng(0), dtype="float32")
    with pytest.raises(ValueError, match=r"^layer: expected float64 parameters; build it with dtype='float64'$"):
        gradcheck.check_layer(layer, np.ones((2, 3)))


_X = np.random.default_rng(5).standard_normal((4, 3))


@pytest.mark.parametrize("x", [_X.tolist(), [[1, -2, 3], [0, 2, -1]], _X.astype(np.float32), np.asfortranarray(_X),
                               np.array([[1, -2, 3], [0, 2, -1]])], ids=["list", "int-list", "float32", "fortran",
                                                                         "int-array"])
def test_check_layer_accepts_any_real_array_like_input(x):
    report = gradcheck.check_layer(Dense(2, activation="tanh"), x)
    assert [e.name for e in report.entries] == ["dense/kernel", "dense/bias", "dense/input"]
    assert report.entries[-1].shape == np.shape(x)
    assert report.ok, f"\n{report}"


def test_check_layer_takes_finite_differences_in_inference_mode():
    # Dropout's inference function is the identity, so the numeric d/dx is the fixed random r, of norm ~sqrt(20);
    # differences of training-mode calls would compare two different random masks.
    report = gradcheck.check_layer(Dropout(0.5, seed=0), np.ones((4, 5)))
    assert 1.0 < report.entries[0].numeric_norm < 10.0


class _InputGradOnRequest(Layer):
    """Scales by 3; like a first layer, it skips the input gradient unless asked for it."""

    def forward(self, x, training=False):
        return 3 * x

    def backward(self, grad, need_input_grad=False):
        return 3 * grad if need_input_grad else None


def test_check_layer_asks_backward_for_the_input_gradient():
    report = gradcheck.check_layer(_InputGradOnRequest(), np.ones((2, 3)))
    assert report.ok, f"\n{report}"


# -- check_loss -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("y_pred", [np.array([[0.5, -1.0], [2.0, 0.25]], dtype=np.float32), [[1, -1], [2, 0]]],
                         ids=["float32", "int-list"])
def test_check_loss_checks_any_real_predictions_in_float64(y_pred):
    report = gradcheck.check_loss(MeanSquaredError(name="sq"), [[0.0, 1.0], [1.0, 0.0]], y_pred)
    assert [(e.name, e.shape) for e in report.entries] == [("sq/y_pred", (2, 2))]
    assert report.ok, f"\n{report}"


def test_numerical_gradient_refuses_what_it_cannot_poke_in_place():
    with pytest.raises(TypeError, match=r"^w: expected a float64 array \(finite differences are meaningless in "
                                        r"float32\), received \[1\.0, 2\.0\]$"):
        gradcheck.numerical_gradient(lambda: 0.0, [1.0, 2.0])
    strided = np.zeros((3, 4)).T                         # a view whose flattening is a copy: pokes would be lost
    with pytest.raises(ValueError, match=r"^w: expected a contiguous array that can be poked in place$"):
        gradcheck.numerical_gradient(lambda: float(strided.sum()), strided)
    w = np.array([[1.0, 2.0], [3.0, 4.0]])
    grad = gradcheck.numerical_gradient(lambda: float(np.sum(w ** 2)), w)
    np.testing.assert_allclose(grad, 2 * w, rtol=1e-8)
    np.testing.assert_array_equal(w, [[1.0, 2.0], [3.0, 4.0]])          # every element restored


@pytest.mark.parametrize("kwargs, match", [
    ({"h": 0.0}, r"^h: expected a number in \(0\.0, inf\), received 0\.0$"),
    ({"h": -1e-6}, r"^h: expected a number in \(0\.0, inf\), received -1e-06$"),
    ({"tol": 0.0}, r"^tol: expected a number in \(0\.0, inf\), received 0\.0$"),
    ({"tol": -1.0}, r"^tol: expected a number in \(0\.0, inf\), received -1\.0$"),
])
def test_step_and_tolerance_must_be_positive(kwargs, match):
    from tinynet.losses import MeanSquaredError
    with pytest.raises(ValueError, match=match):
        gradcheck.check_loss(MeanSquaredError(), [[1.0]], [[0.5]], **kwargs)


def test_each_entry_reports_the_largest_absolute_difference():
    from tinynet.losses import MeanSquaredError
    report = gradcheck.check_loss(MeanSquaredError(), [[1.0, 0.0]], [[0.5, 0.25]])
    (entry,) = report.entries
    assert 0 < entry.max_abs_diff < 1e-8                 # central differences of a quadratic are exact to rounding
    loss = MeanSquaredError()
    _, analytic = loss.value_and_grad(np.array([[1.0, 0.0]]), np.array([[0.5, 0.25]]))
    assert entry.analytic_norm == pytest.approx(float(np.linalg.norm(analytic)), rel=1e-12)
