"""What every benchmark process shares: the data, the split, the machine description and memory readings.

Data: the real digits named by ``TINYNET_DIGITS`` (ex3data1.mat layout, labels 10 -> 0) when that names a
file; otherwise a synthetic set of the same shape (5,000 x 400, 10 balanced classes: a fixed random centre per
class plus noise), so the harness runs anywhere. Every result records which one it used.
"""

from __future__ import annotations

import os
import platform
import resource

import numpy as np

N_SAMPLES, N_FEATURES, N_CLASSES = 5000, 400, 10
SEED_SIZES = (400, 25, 15, 10)
WIDE_SIZES = (784, 512, 512, 10)
SPLIT_SEED = 0          # the fixed shuffle and the fixed stratified hold-out
HELDOUT_FRACTION = 0.2


def load_data() -> tuple[np.ndarray, np.ndarray, str]:
    """``(X float32 (5000, 400), y int64 (5000,), source)``, shuffled once with a fixed seed.

    ``source`` is ``"digits"`` (the file in ``TINYNET_DIGITS``) or ``"synthetic"``.
    """
    path = os.environ.get("TINYNET_DIGITS", "")
    rng = np.random.default_rng(SPLIT_SEED)
    if path and os.path.isfile(path):
        import scipy.io

        data = scipy.io.loadmat(path)
        X = np.asarray(data["X"], dtype=np.float32)
        y = np.asarray(data["y"]).ravel().astype(np.int64)
        y[y == 10] = 0
        source = "digits"
    else:
        X, y = synthetic_classification(N_SAMPLES, N_FEATURES, N_CLASSES, rng)
        source = "synthetic"
    order = rng.permutation(X.shape[0])
    return np.ascontiguousarray(X[order]), np.ascontiguousarray(y[order]), source


def synthetic_classification(n: int, features: int, classes: int, rng: np.random.Generator):
    """A learnable but not trivial set: ``(X float32 (n, features), y int64 (n,))``, classes balanced."""
    centres = rng.normal(0.0, 1.0, size=(classes, features)).astype(np.float32)
    y = np.arange(n, dtype=np.int64) % classes
    X = centres[y] * np.float32(0.05) + rng.normal(0.0, 1.0, size=(n, features)).astype(np.float32)
    return X, y


def stratified_split(y: np.ndarray, fraction: float = HELDOUT_FRACTION, seed: int = SPLIT_SEED):
    """Indices ``(train, heldout)``: ``fraction`` of every class held out, drawn with a fixed seed."""
    rng = np.random.default_rng(seed)
    train, held = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = int(round(len(idx) * fraction))
        held.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(held))


def subset(X: np.ndarray, y: np.ndarray, n: int):
    """The first ``n`` samples (the data is already shuffled, so every class is present for n >= ~100)."""
    return X[:n], y[:n]


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MiB (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mb() -> float:
    """Resident memory now, MiB (from /proc/self/status; NaN where that is unavailable)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def machine() -> dict:
    """CPU model, core count, Python, NumPy and its BLAS (via threadpoolctl when installed)."""
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "numpy": np.__version__}
    try:
        import threadpoolctl

        keys = ("user_api", "internal_api", "version", "num_threads", "architecture", "prefix")

        info["threadpools"] = [
            {k: p.get(k) for k in keys} for p in threadpoolctl.threadpool_info()]
    except ImportError:
        info["threadpools"] = []
    try:
        with open("/proc/loadavg") as fh:
            info["loadavg"] = fh.read().split()[:3]
    except OSError:
        pass
    return info
