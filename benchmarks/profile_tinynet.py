"""Where a tinynet training step spends its time on the seed job (400-25-15-10, batch 32, Adam).

    python benchmarks/profile_tinynet.py            # human-readable
    python benchmarks/profile_tinynet.py --json     # one JSON line (run.py puts it in docs/benchmarks.md)

Four views:

1. ``instrumented``: a real ``model.fit`` with ``time.perf_counter`` wrapped around each part it calls (shuffle,
   forward per layer, loss, backward per layer, optimizer); what is left of the wall time is the loop, batching,
   checks and timers. Microseconds per step; compared with a plain ``model.fit`` of the same length.
2. ``ops``: the NumPy calls those parts are made of, timed alone at the seed shapes (the floor for each part).
3. ``cprofile``: the functions with the most own time in ``cProfile`` of ``model.fit``.
4. ``threads``: fit time with ``threadpoolctl.threadpool_limits(1)`` against 2, tinynet and numpy-ref,
   alternated.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import time
import timeit

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import common  # noqa: E402
import numpy as np  # noqa: E402
from numpy_ref import NumpyMLP  # noqa: E402
from systems import TinynetSystem  # noqa: E402


def new_model(seed=0):
    system = TinynetSystem()
    system.build(common.SEED_SIZES, seed)
    return system.model


def instrumented(X, y, epochs, batch=32):
    """A real ``model.fit`` with a timer wrapped around each part it calls (each layer's forward and backward,
    the loss, the optimizer update, the per-epoch permutation); the rest is batching, checks, logs, timers."""
    model = new_model()
    pc = time.perf_counter
    acc: dict[str, float] = {}

    def timed(name, fn):
        acc[name] = 0.0

        def wrapper(*args, **kwargs):
            t0 = pc()
            result = fn(*args, **kwargs)
            acc[name] += pc() - t0
            return result
        return wrapper

    class TimedRng:                 # batches() draws each epoch's permutation from model.rng
        permutation = staticmethod(timed("shuffle (per epoch)", model.rng.permutation))

    model.fit(X[:batch], y[:batch], batch_size=batch, epochs=1, verbose=0)   # optimizer state, head
    for layer in model.layers:
        layer.forward = timed(f"forward {layer.name}", layer.forward)
    model.head.loss.compute = timed("loss", model.head.loss.compute)
    for layer in reversed(model.layers):
        layer.backward = timed(f"backward {layer.name}", layer.backward)
    model.optimizer.update = timed("optimizer", model.optimizer.update)
    model.rng = TimedRng()
    steps = epochs * -(-X.shape[0] // batch)
    t0 = pc()
    model.fit(X, y, batch_size=batch, epochs=epochs, verbose=0)
    wall = pc() - t0
    parts = {k: v / steps * 1e6 for k, v in acc.items()}
    fit_model = new_model()
    t0 = pc()
    fit_model.fit(X, y, batch_size=batch, epochs=epochs, verbose=0)
    plain = (pc() - t0) / steps * 1e6
    return {"steps": steps, "us_per_step": parts, "rest_us": wall / steps * 1e6 - sum(parts.values()),
            "instrumented_total_us": wall / steps * 1e6, "plain_fit_us_per_step": plain}


def ops(number):
    """Each NumPy call of a seed-model step, alone, at the seed shapes (µs per call, best of 5)."""
    rng = np.random.default_rng(0)
    f32 = np.float32
    x = rng.random((32, 400), dtype=f32)
    W1, W2, W3 = (rng.random(s, dtype=f32) for s in ((400, 25), (25, 15), (15, 10)))
    b1 = rng.random(25, dtype=f32)
    z1, z2, z3 = (rng.random((32, w), dtype=f32) for w in (25, 15, 10))
    g1 = rng.random((32, 25), dtype=f32)
    gW1 = np.empty((400, 25), f32)
    gb1 = np.empty(25, f32)
    mask = z1 > 0.5
    ones = np.ones(32, f32)
    labels = rng.integers(0, 10, 32)
    model = new_model()
    model.fit(x, labels, epochs=1, verbose=0)
    targets = model.prepare_data(x, labels)[1]
    flat, fgrad = [model.flat_weights.copy()], [model.flat_gradients.copy()]
    opt = model.optimizer
    flat_a = np.empty_like(flat[0])
    cases = {
        "x@W1 (32x400 @ 400x25)": lambda: x @ W1,
        "h@W2 (32x25 @ 25x15)": lambda: z1 @ W2,
        "h@W3 (32x15 @ 15x10)": lambda: z2 @ W3,
        "z += b (32x25)": lambda: np.add(z1, b1, out=z1),
        "relu fwd np.maximum(z, 0)": lambda: np.maximum(z1, 0),
        "relu mask (z > 0)": lambda: z1 > 0,
        "relu bwd grad * mask": lambda: g1 * mask,
        "relu bwd grad * (z > 0) (tinynet's)": lambda: g1 * (z1 > 0),
        "dW1[...] = x.T @ g (tinynet's)": lambda: gW1.__setitem__(Ellipsis, x.T @ g1),
        "np.matmul(x.T, g, out=dW1)": lambda: np.matmul(x.T, g1, out=gW1),
        "db1[...] = g.sum(axis=0) (tinynet's)": lambda: gb1.__setitem__(Ellipsis, g1.sum(axis=0)),
        "ones@g (db1 alternative)": lambda: np.matmul(ones, g1, out=gb1),
        "g@W2.T (dx)": lambda: g1[:, :15] @ W2.T,
        "loss value+grad (32x10)": lambda: model.head.loss.compute(targets, z3),
        "Adam.update (11,935 params)": lambda: opt.update(flat, fgrad),
        "one ufunc on 11,935 floats": lambda: np.multiply(flat[0], 0.5, out=flat_a),
    }
    return {name: min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6
            for name, fn in cases.items()}


def profile_fit(X, y, epochs, top=15):
    model = new_model()
    prof = cProfile.Profile()
    prof.enable()
    model.fit(X, y, batch_size=32, epochs=epochs, verbose=0)
    prof.disable()
    stats = pstats.Stats(prof, stream=io.StringIO())
    steps = epochs * -(-X.shape[0] // 32)
    rows = []
    for (file, line, func), (_cc, nc, tt, ct, _) in stats.stats.items():
        rows.append({"function": f"{os.path.basename(file)}:{line}({func})", "calls_per_step": nc / steps,
                     "own_us_per_step": tt / steps * 1e6, "cumulative_us_per_step": ct / steps * 1e6})
    rows.sort(key=lambda r: -r["own_us_per_step"])
    return {"epochs": epochs, "top": rows[:top]}


def threads(X, y, epochs, repeats):
    from threadpoolctl import threadpool_limits

    out = {}
    for name in ("tinynet", "numpy-ref"):
        times = {1: [], 2: []}
        for _ in range(repeats):
            for n_threads in (1, 2):
                with threadpool_limits(limits=n_threads, user_api="blas"):
                    if name == "tinynet":
                        model = new_model()
                        t0 = time.perf_counter()
                        model.fit(X, y, batch_size=32, epochs=epochs, verbose=0)
                    else:
                        rng = np.random.default_rng(0)
                        ref = NumpyMLP(common.SEED_SIZES, rng)
                        t0 = time.perf_counter()
                        ref.fit(X, y, 32, epochs, rng)
                    times[n_threads].append(time.perf_counter() - t0)
        out[name] = {f"{k}_thread": statistics.median(v) for k, v in times.items()}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    X, y, source = common.load_data()
    if args.quick:
        X, y = X[:256], y[:256]
        epochs, number, reps = 1, 50, 1
    else:
        epochs, number, reps = 10, 2000, 3
    result = {"data": source, "samples": int(X.shape[0]), "machine": common.machine(),
              "instrumented": instrumented(X, y, epochs), "ops_us": ops(number),
              "cprofile": profile_fit(X, y, max(1, epochs // 2)),
              "threads_fit_seconds": threads(X, y, epochs * 4 if not args.quick else 1, reps),
              "threads_epochs": epochs * 4 if not args.quick else 1}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"data: {source}, {X.shape[0]} samples")
    ins = result["instrumented"]
    print(f"\ninstrumented fit loop, µs per step ({ins['steps']} steps):")
    for k, v in ins["us_per_step"].items():
        print(f"  {k:34s} {v:8.1f}")
    print(f"  {'loop, batching, checks (rest)':34s} {ins['rest_us']:8.1f}")
    print(f"  {'total (instrumented fit)':34s} {ins['instrumented_total_us']:8.1f}")
    print(f"  {'plain model.fit':34s} {ins['plain_fit_us_per_step']:8.1f}")
    print("\nNumPy calls alone, µs per call:")
    for k, v in result["ops_us"].items():
        print(f"  {k:34s} {v:8.2f}")
    print("\ncProfile of model.fit, top own time (µs per step):")
    for r in result["cprofile"]["top"]:
        print(f"  {r['own_us_per_step']:7.1f} own {r['cumulative_us_per_step']:7.1f} cum "
              f"{r['calls_per_step']:5.1f}/step  {r['function']}")
    print(f"\nBLAS threads, fit seconds ({result['threads_epochs']} epochs):")
    for k, v in result["threads_fit_seconds"].items():
        print(f"  {k:10s} " + "  ".join(f"{t}: {s:.3f}s" for t, s in v.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
