"""The benchmark harness (benchmarks/): its quick mode end to end, and its hand-written NumPy yardstick.

No timing is asserted: only that the harness runs, produces every field with sane values, and that the NumPy
loop it compares against computes the same gradients and updates as tinynet.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "benchmarks")
sys.path.insert(0, BENCH)

import common  # noqa: E402
from numpy_ref import NumpyMLP  # noqa: E402

SYSTEMS = ["tinynet", "numpy-ref", "keras", "sklearn"] + (
    ["torch"] if importlib.util.find_spec("torch") is not None else [])


def _positive_finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    cmd = [sys.executable, os.path.join(BENCH, "run.py"), "--quick", "--out", str(out), "--systems",
           ",".join(SYSTEMS)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, \
        f"run.py --quick failed:\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-4000:]}"
    with open(out / "results.json") as fh:
        return out, json.load(fh)


def test_quick_run_writes_report_and_charts(quick_run):
    out, doc = quick_run
    assert doc["quick"] is True and doc["repeats"] == 1
    assert sorted(doc["systems"]) == sorted(SYSTEMS)
    text = (out / "benchmarks.md").read_text()
    assert "QUICK MODE" in text and "## Seed job" in text and "## Profile" in text
    for name in ("bench_seed.png", "bench_scaling.png"):
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, name


def test_quick_run_seed_and_heldout_fields(quick_run):
    _, doc = quick_run
    seed = {r["system"]: r for r in doc["raw"] if r["job"] == "seed"}
    held = {r["system"]: r for r in doc["raw"] if r["job"] == "heldout"}
    assert sorted(seed) == sorted(SYSTEMS) and sorted(held) == sorted(SYSTEMS)
    for system, r in seed.items():
        assert r["data"] in ("digits", "synthetic"), system
        assert r["steps"] == math.ceil(r["samples"] / r["batch"]) * r["epochs"], system
        for key in ("fit_seconds", "step_us", "peak_rss_mb"):
            assert _positive_finite(r[key]), (system, key, r[key])
        assert 0.0 <= r["train_accuracy"] <= 1.0, system
        h = held[system]
        assert 0.0 <= h["heldout_accuracy"] <= 1.0 and 0.0 <= h["train_accuracy"] <= 1.0, system
        assert h["train_samples"] + h["heldout_samples"] == r["samples"], system
        assert doc["summary"]["seed"][system]["fit_seconds"]["median"] == r["fit_seconds"], system


def test_quick_run_wide_predict_scaling_fields(quick_run):
    _, doc = quick_run
    for r in (r for r in doc["raw"] if r["job"] == "wide"):
        assert _positive_finite(r["step_ms"]), r["system"]
    predict = [r for r in doc["raw"] if r["job"] == "predict"]
    assert sorted(r["system"] for r in predict) == sorted(SYSTEMS)
    for r in predict:
        for key in ("predict_default_seconds", "predict_one_batch_seconds", "predict_default_per_s"):
            assert _positive_finite(r[key]), (r["system"], key)
        assert isinstance(r["default_predict"], str) and r["default_predict"]
    scaling = {r["system"]: r for r in doc["raw"] if r["job"] == "scaling"}
    assert {"tinynet", "numpy-ref"} <= set(scaling) and "keras" not in scaling
    for system, r in scaling.items():
        assert r["by_batch"] and r["by_width"], system
        for pt in r["by_batch"] + r["by_width"]:
            assert _positive_finite(pt["us_per_sample"]), (system, pt)


def test_quick_run_profile_fields(quick_run):
    _, doc = quick_run
    prof = doc["profile"]
    parts = prof["instrumented"]["us_per_step"]
    assert {"loss", "optimizer", "shuffle (per epoch)"} <= set(parts)
    assert any(k.startswith("forward") for k in parts) and any(k.startswith("backward") for k in parts)
    assert all(_positive_finite(v) for k, v in parts.items() if not k.startswith("rest of"))
    assert all(_positive_finite(v) for v in prof["ops_us"].values())
    assert set(prof["threads_fit_seconds"]) == {"tinynet", "numpy-ref"}


def test_quick_mode_refuses_to_write_docs():
    cmd = [sys.executable, os.path.join(BENCH, "run.py"), "--quick", "--out", os.path.join(ROOT, "docs"),
           "--systems", "tinynet"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "quick mode never writes docs/" in proc.stderr


def test_numpy_ref_gradients_match_tinynet():
    """The yardstick computes the same loss and gradients as tinynet from the same weights (float64)."""
    from tinynet import Sequential
    from tinynet.layers import Dense
    from tinynet.losses import SparseCategoricalCrossentropy

    rng = np.random.default_rng(3)
    sizes = (12, 7, 5, 4)
    x = rng.normal(size=(9, sizes[0]))
    y = rng.integers(0, sizes[-1], size=9)
    ref = NumpyMLP(sizes, rng, dtype=np.float64)
    for b in ref.b:
        b[...] = rng.normal(size=b.shape) * 0.1
    model = Sequential([Dense(7, "relu", input_shape=(12,)), Dense(5, "relu"), Dense(4)], seed=0,
                       dtype="float64")
    model.compile(optimizer="adam", loss=SparseCategoricalCrossentropy(from_logits=True))
    model.set_weights([a for pair in zip(ref.W, ref.b, strict=True) for a in pair])
    ours_loss, ours_grads = model.loss_and_gradients(x, y)
    onehot = np.eye(sizes[-1])[y]
    ref_loss = ref.gradients(x, onehot)
    np.testing.assert_allclose(ref_loss, ours_loss, rtol=1e-12, err_msg="numpy-ref loss vs tinynet")
    ref_grads = [a for pair in zip(ref.gW, ref.gb, strict=True) for a in pair]
    for i, (r, o) in enumerate(zip(ref_grads, ours_grads, strict=True)):
        np.testing.assert_allclose(r, o, rtol=1e-10, atol=1e-14,
                                   err_msg=f"gradient {i}: numpy-ref vs tinynet")


def test_numpy_ref_adam_matches_tinynet_after_fit():
    """Same initial weights, same (unshuffled) batches: the weights after 3 Adam steps agree (float64)."""
    from tinynet import Sequential
    from tinynet.layers import Dense
    from tinynet.losses import SparseCategoricalCrossentropy
    from tinynet.optimizers import Adam

    rng = np.random.default_rng(5)
    sizes = (6, 5, 3)
    x = rng.normal(size=(24, 6))
    y = rng.integers(0, 3, size=24)
    ref = NumpyMLP(sizes, rng, dtype=np.float64)
    model = Sequential([Dense(5, "relu", input_shape=(6,)), Dense(3)], seed=0, dtype="float64")
    model.compile(optimizer=Adam(1e-3, epsilon=1e-7), loss=SparseCategoricalCrossentropy(from_logits=True))
    model.set_weights([a for pair in zip(ref.W, ref.b, strict=True) for a in pair])
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    onehot = np.eye(3)[y]
    for start in range(0, 24, 8):
        ref.train_step(x[start:start + 8], onehot[start:start + 8])
    ours = model.get_weights()
    theirs = [a for pair in zip(ref.W, ref.b, strict=True) for a in pair]
    for i, (o, t) in enumerate(zip(ours, theirs, strict=True)):
        np.testing.assert_allclose(t, o, rtol=1e-9, atol=1e-12, err_msg=f"weights {i}: numpy-ref vs tinynet")


def test_stratified_split_holds_out_a_fifth_of_every_class():
    y = np.repeat(np.arange(10), 50)
    train, held = common.stratified_split(y)
    assert np.intersect1d(train, held).size == 0 and train.size + held.size == y.size
    assert np.array_equal(np.bincount(y[held]), np.full(10, 10))
    again = common.stratified_split(y)
    assert np.array_equal(again[1], held)
