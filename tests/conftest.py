"""Shared fixtures. `digits` gives the real 20x20 digits named by TINYNET_DIGITS (ex3data1.mat layout)."""

from __future__ import annotations

import json
import os
import signal

import numpy as np
import pytest
import scipy.io


def pytest_collection_modifyitems(config, items):
    """Under `make mutate`, run a mutant's tests fastest first, by the durations mutmut measured on the clean code:
    a killed mutant then stops (-x) at its cheapest failing test instead of wherever the test set's order puts it."""
    stats = config.rootpath / "mutmut-stats.json"
    if not os.environ.get("MUTANT_UNDER_TEST") or not stats.is_file():
        return
    seconds = json.loads(stats.read_text()).get("duration_by_test", {})
    items.sort(key=lambda item: seconds.get(item.nodeid, 0.0))


@pytest.fixture(autouse=True, scope="session")
def ctrl_c_raises():
    """Ctrl-C as in an interactive Python (KeyboardInterrupt), even where the suite was started with SIGINT ignored
    (a background job, mutmut's workers), so the Ctrl-C tests see what a user's terminal gives them."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield


def digits_path() -> str | None:
    """The path in TINYNET_DIGITS if it names an existing file. Under CI a missing file is a test failure."""
    path = os.environ.get("TINYNET_DIGITS", "")
    if path and os.path.isfile(path):
        return path
    reason = (f"TINYNET_DIGITS={path!r} does not name a file" if path else "TINYNET_DIGITS is not set") + \
        " (expected ../shared/Data/digits20x20.mat; `make test` sets it)"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)``: X (5000, 400) float64 as stored, y (5000,) int64 in 0..9 (label 10 -> 0)."""
    data = scipy.io.loadmat(digits_path())
    X = data["X"]
    y = data["y"].ravel().astype(np.int64)
    y[y == 10] = 0
    return X, y
