"""Shared fixtures. `digits` gives the real 20x20 digits named by TINYNET_DIGITS (ex3data1.mat layout)."""

from __future__ import annotations

import gc
import json
import os
import signal

import numpy as np
import pytest
import scipy.io

_mutmut_seconds: dict[str, float] | None = None


def mutmut_seconds(rootpath) -> dict[str, float]:
    """Each test's duration on the clean code, as mutmut measured it; read once per process, so the fork server's
    warm-up reads it and every mutant's worker inherits it instead of parsing the file again."""
    global _mutmut_seconds
    stats = rootpath / "mutmut-stats.json"
    if _mutmut_seconds is None and stats.is_file():
        _mutmut_seconds = json.loads(stats.read_text()).get("duration_by_test", {})
    return _mutmut_seconds or {}


def _mutant_under_test() -> str:
    """The mutant a mutmut worker runs (``tinynet.layers.xǁDenseǁforward__mutmut_3``), or "": mutmut also sets
    MUTANT_UNDER_TEST for its own runs ("stats", "fail", ...), which must see every test."""
    name = os.environ.get("MUTANT_UNDER_TEST", "")
    return name if "__mutmut_" in name else ""


def pytest_configure(config):
    """Under `make mutate`, stop the garbage collector scanning the heap the fork server built (every test module,
    NumPy, SciPy, Hypothesis): a mutant's worker then scans only what its own tests allocate."""
    if _mutant_under_test():
        gc.freeze()


def pytest_collection_modifyitems(config, items):
    """Under `make mutate`, run a mutant's tests fastest first, by the durations mutmut measured on the clean code:
    a killed mutant then stops (-x) at its cheapest failing test instead of wherever the test set's order puts it.
    A slow test marked ``mutants_of(module, ...)`` runs only for the mutants of those modules: a mutant of
    ``Dense`` that every fast test leaves alive would otherwise also pay for the schema's 3,000 file loads."""
    seconds = mutmut_seconds(config.rootpath)
    mutant = _mutant_under_test()
    if not mutant:
        return
    aimed, elsewhere = [], []
    for item in items:
        marker = item.get_closest_marker("mutants_of")
        (aimed if marker is None or mutant.startswith(tuple(m + "." for m in marker.args)) else elsewhere).append(item)
    if elsewhere:
        config.hook.pytest_deselected(items=elsewhere)
    items[:] = sorted(aimed, key=lambda item: seconds.get(item.nodeid, 0.0))


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
