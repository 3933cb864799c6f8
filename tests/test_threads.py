"""predict and evaluate on one shared model from several threads give exactly the serial results."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from tinynet import Sequential
from tinynet.layers import Dense, Dropout, Normalization
from tinynet.losses import SparseCategoricalCrossentropy


def _model():
    norm = Normalization(input_shape=(6,))
    norm.adapt(np.random.default_rng(0).standard_normal((50, 6)))
    model = Sequential([norm, Dense(16, activation="relu"), Dropout(0.3), Dense(4, activation="softmax")], seed=1)
    model.compile(optimizer="adam", loss=SparseCategoricalCrossentropy(), metrics=["accuracy"],
                  weighted_metrics=["accuracy"])
    return model


def _run_in_threads(jobs, n_threads=8, repeats=6):
    """Run every job ``repeats`` times over ``n_threads`` threads started together; results by job index."""
    results = {i: [] for i in range(len(jobs))}
    errors = []
    barrier = threading.Barrier(n_threads)

    def worker(k):
        barrier.wait()
        try:
            for r in range(repeats):
                i = (k + r) % len(jobs)
                results[i].append(jobs[i]())
        except Exception as exc:  # a thread's failure must fail the test, not vanish with the thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return results


@pytest.mark.parametrize("batch_size", [None, 7])
def test_concurrent_predict_and_evaluate_equal_the_serial_results(batch_size):
    model = _model()
    rng = np.random.default_rng(2)
    data = [(rng.standard_normal((n, 6)).astype(np.float32), rng.integers(0, 4, n), rng.random(n))
            for n in (31, 64, 5, 120)]
    model.fit(data[0][0], data[0][1], epochs=2, verbose=0)
    jobs, serial = [], []
    for x, y, w in data:
        jobs.append(lambda x=x: model.predict(x, batch_size=batch_size))
        jobs.append(lambda x=x, y=y, w=w: model.evaluate(x, y, batch_size=batch_size or 32, sample_weight=w,
                                                         verbose=0, return_dict=True))
    serial = [job() for job in jobs]
    results = _run_in_threads(jobs)
    for i, expected in enumerate(serial):
        assert results[i], "every job ran at least once"
        for got in results[i]:
            if isinstance(expected, dict):
                assert got == expected
            else:
                np.testing.assert_array_equal(got, expected)


def test_evaluate_leaves_the_models_own_metric_state_alone():
    model = _model()
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((40, 6)).astype(np.float32), rng.integers(0, 4, 40)
    model.fit(x, y, epochs=1, verbose=0)
    before = model.metrics_result()
    model.evaluate(x[:9], y[:9], verbose=0)
    assert model.metrics_result() == before            # fit's last epoch, as it left them
