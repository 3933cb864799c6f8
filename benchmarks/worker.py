"""Run one system on benchmark jobs in this process; print a ``BENCH_RESULT {json}`` line per job.

    python benchmarks/worker.py --system tinynet --job seed [--seed 0] [--quick]

Jobs (sizes in ``JOBS`` and ``QUICK_JOBS``):

- ``seed``: the issue's job: 400-25-15-10, batch 32, 40 epochs on all 5,000 samples (6,280 steps); fit time,
  time per step, training accuracy, peak RSS of this process.
- ``heldout``: the same model fitted on a stratified 80% (fixed split), accuracy on the other 20%.
- ``wide``: 784-512-512-10 on synthetic data, batch 128; warm-up steps, then timed steps through each
  library's fit.
- ``predict``: 5,000 samples through an initialised seed model: the library's default predict and one batch of
  5,000; after warm-up calls, the median of several calls.
- ``scaling``: short timed fits of the seed model at several batch sizes and of 400-H-H-10 at several widths.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import common  # noqa: E402
import numpy as np  # noqa: E402
from systems import SYSTEMS  # noqa: E402

JOBS = {
    "seed": {"n": None, "batch": 32, "epochs": 40},
    "heldout": {"n": None, "batch": 32, "epochs": 40},
    "wide": {"sizes": list(common.WIDE_SIZES), "batch": 128, "warmup_steps": 5, "steps": 50},
    "predict": {"n": 5000, "calls": 21, "warmup_calls": 3},
    "scaling": {"batches": [8, 32, 128, 512, 1024], "batch_samples": 8192, "widths": [25, 128, 512, 1024],
                "width_batch": 32, "width_samples": 3200},
}
QUICK_JOBS = {
    "seed": {"n": 256, "batch": 32, "epochs": 1},
    "heldout": {"n": 256, "batch": 32, "epochs": 1},
    "wide": {"sizes": [64, 32, 32, 10], "batch": 16, "warmup_steps": 1, "steps": 3},
    "predict": {"n": 256, "calls": 1, "warmup_calls": 1},
    "scaling": {"batches": [8, 64], "batch_samples": 128, "widths": [16, 64], "width_batch": 32,
                "width_samples": 128},
}


def accuracy(scores: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.asarray(scores).argmax(axis=1) == y))


def timed_fit(system, X, y, batch, epochs) -> float:
    t0 = time.perf_counter()
    system.fit(X, y, batch, epochs)
    return time.perf_counter() - t0


def train_steps(system, X, y, batch) -> float:
    """Seconds for one pass over ``(X, y)`` in batches of ``batch`` (sklearn: partial_fit)."""
    t0 = time.perf_counter()
    if system.name == "sklearn":
        system.partial_fit(X, y, batch)
    else:
        system.fit(X, y, batch, 1)
    return time.perf_counter() - t0


def job_seed(system, p, seed):
    X, y, source = common.load_data()
    if p["n"]:
        X, y = common.subset(X, y, p["n"])
    system.build(common.SEED_SIZES, seed)
    rss_before = common.current_rss_mb()
    seconds = timed_fit(system, X, y, p["batch"], p["epochs"])
    steps = math.ceil(X.shape[0] / p["batch"]) * p["epochs"]
    return {"data": source, "samples": int(X.shape[0]), "epochs": p["epochs"], "batch": p["batch"],
            "steps": steps, "fit_seconds": seconds, "step_us": seconds / steps * 1e6,
            "train_accuracy": accuracy(system.predict(X), y), "rss_before_fit_mb": rss_before,
            "peak_rss_mb": common.peak_rss_mb()}


def job_heldout(system, p, seed):
    X, y, source = common.load_data()
    if p["n"]:
        X, y = common.subset(X, y, p["n"])
    train, held = common.stratified_split(y)
    system.build(common.SEED_SIZES, seed)
    seconds = timed_fit(system, X[train], y[train], p["batch"], p["epochs"])
    return {"data": source, "train_samples": int(train.size), "heldout_samples": int(held.size),
            "fit_seconds": seconds, "train_accuracy": accuracy(system.predict(X[train]), y[train]),
            "heldout_accuracy": accuracy(system.predict(X[held]), y[held])}


def job_wide(system, p, seed):
    sizes, batch = tuple(p["sizes"]), p["batch"]
    rng = np.random.default_rng(seed)
    X, y = common.synthetic_classification((p["warmup_steps"] + p["steps"]) * batch, sizes[0], sizes[-1], rng)
    system.build(sizes, seed)
    cut = p["warmup_steps"] * batch
    train_steps(system, X[:cut], y[:cut], batch)
    seconds = train_steps(system, X[cut:], y[cut:], batch)
    return {"data": "synthetic", "sizes": list(sizes), "batch": batch, "steps": p["steps"],
            "seconds": seconds, "step_ms": seconds / p["steps"] * 1e3, "peak_rss_mb": common.peak_rss_mb()}


def _median_seconds(fn, calls, warmup_calls):
    for _ in range(warmup_calls):                   # Keras builds its predict function in the first call
        fn()
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def job_predict(system, p, seed):
    X, y, source = common.load_data()
    X = X[:p["n"]]
    system.build(common.SEED_SIZES, seed)
    default = _median_seconds(lambda: system.predict(X), p["calls"], p["warmup_calls"])
    one_batch = _median_seconds(lambda: system.predict(X, X.shape[0]), p["calls"], p["warmup_calls"])
    n = X.shape[0]
    return {"data": source, "samples": n, "default_predict": system.default_predict,
            "predict_default_seconds": default, "predict_one_batch_seconds": one_batch,
            "predict_default_per_s": n / default, "predict_one_batch_per_s": n / one_batch}


def _scaling_point(system, sizes, batch, samples, seed):
    rng = np.random.default_rng(seed)
    samples = max(batch, samples // batch * batch)
    X, y = common.synthetic_classification(samples + 2 * batch, sizes[0], sizes[-1], rng)
    system.build(sizes, seed)
    train_steps(system, X[:2 * batch], y[:2 * batch], batch)           # warm-up: 2 steps
    seconds = train_steps(system, X[2 * batch:], y[2 * batch:], batch)
    return {"sizes": list(sizes), "batch": batch, "samples": samples, "seconds": seconds,
            "us_per_sample": seconds / samples * 1e6, "us_per_step": seconds / (samples // batch) * 1e6}


def job_scaling(system, p, seed):
    by_batch = [_scaling_point(system, common.SEED_SIZES, b, p["batch_samples"], seed) for b in p["batches"]]
    by_width = [_scaling_point(system, (common.N_FEATURES, w, w, common.N_CLASSES), p["width_batch"],
                               p["width_samples"], seed) for w in p["widths"]]
    return {"data": "synthetic", "by_batch": by_batch, "by_width": by_width}


RUNNERS = {"seed": job_seed, "heldout": job_heldout, "wide": job_wide, "predict": job_predict,
           "scaling": job_scaling}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", required=True, choices=sorted(SYSTEMS))
    parser.add_argument("--job", required=True, help=f"comma-separated, from {sorted(RUNNERS)}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (for CI)")
    args = parser.parse_args(argv)
    jobs = args.job.split(",")
    for job in jobs:
        if job not in RUNNERS:
            parser.error(f"--job: expected names from {sorted(RUNNERS)}, received {job!r}")
    table = QUICK_JOBS if args.quick else JOBS
    for job in jobs:
        system = SYSTEMS[args.system]()
        result = {"system": args.system, "job": job, "seed": args.seed, "quick": args.quick,
                  "params": table[job]}
        result.update(RUNNERS[job](system, table[job], args.seed))
        result["versions"] = system.versions()
        print("BENCH_RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
