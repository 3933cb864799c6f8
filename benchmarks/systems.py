"""One adapter per system, all with the same four calls, so the worker times every library the same way.

``build(sizes, seed)``; ``fit(X, y, batch_size, epochs)`` (the timed call: each library's own training entry
point, with its per-call overhead); ``predict(X, batch_size)`` (``batch_size=None`` is the library's default);
``versions()``. ``sizes`` are layer widths including input and output, e.g. ``(400, 25, 15, 10)``: hidden
layers ReLU, output linear (logits), loss softmax cross-entropy, Adam(lr=1e-3, beta 0.9/0.999, epsilon 1e-7).
Libraries are imported lazily, so a worker loads only the one it measures (and its memory is that library's).
"""

from __future__ import annotations

import os
import warnings

import numpy as np

LEARNING_RATE, EPSILON = 1e-3, 1e-7


def thread_cap() -> int | None:
    """``BENCH_THREADS`` (set by ``run.py --threads``) as an int, or None for the library's default."""
    value = os.environ.get("BENCH_THREADS", "")
    return int(value) if value else None


class TinynetSystem:
    name = "tinynet"
    default_predict = "Sequential.predict default (batches of up to 8192)"

    def build(self, sizes, seed):
        from tinynet import Sequential
        from tinynet.layers import Dense
        from tinynet.losses import SparseCategoricalCrossentropy
        from tinynet.optimizers import Adam

        layers = [Dense(sizes[1], activation="relu", input_shape=(sizes[0],))]
        layers += [Dense(w, activation="relu") for w in sizes[2:-1]]
        layers.append(Dense(sizes[-1], activation="linear"))
        self.model = Sequential(layers, seed=seed)
        self.model.compile(optimizer=Adam(learning_rate=LEARNING_RATE, epsilon=EPSILON),
                           loss=SparseCategoricalCrossentropy(from_logits=True))

    def fit(self, X, y, batch_size, epochs):
        self.model.fit(X, y, batch_size=batch_size, epochs=epochs, verbose=0, shuffle=True)

    def predict(self, X, batch_size=None):
        return self.model.predict(X, batch_size=batch_size)

    def versions(self):
        import tinynet

        return {"tinynet": tinynet.__version__, "numpy": np.__version__}


class NumpyRefSystem:
    name = "numpy-ref"
    default_predict = "one pass over all rows"

    def build(self, sizes, seed):
        from numpy_ref import NumpyMLP

        self.rng = np.random.default_rng(seed)
        self.model = NumpyMLP(sizes, self.rng, learning_rate=LEARNING_RATE, epsilon=EPSILON)

    def fit(self, X, y, batch_size, epochs):
        self.model.fit(X, y, batch_size, epochs, self.rng)

    def predict(self, X, batch_size=None):
        return self.model.predict(X, batch_size)

    def versions(self):
        return {"numpy": np.__version__}


class KerasSystem:
    name = "keras"
    default_predict = "batch 32 (Model.predict default)"

    def build(self, sizes, seed):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import keras
        import tensorflow as tf

        if thread_cap() is not None and not getattr(KerasSystem, "_threads_set", False):
            tf.config.threading.set_intra_op_parallelism_threads(thread_cap())
            tf.config.threading.set_inter_op_parallelism_threads(thread_cap())
            KerasSystem._threads_set = True
        tf.keras.utils.set_random_seed(seed)
        layers = [keras.Input(shape=(sizes[0],))]
        layers += [keras.layers.Dense(w, activation="relu") for w in sizes[1:-1]]
        layers.append(keras.layers.Dense(sizes[-1], activation="linear"))
        self.model = keras.Sequential(layers)
        self.model.compile(optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE, epsilon=EPSILON),
                           loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    def fit(self, X, y, batch_size, epochs):
        self.model.fit(X, y, batch_size=batch_size, epochs=epochs, verbose=0, shuffle=True)

    def predict(self, X, batch_size=None):
        return self.model.predict(X, batch_size=batch_size, verbose=0)

    def versions(self):
        import keras
        import tensorflow as tf

        return {"tensorflow": tf.__version__, "keras": keras.__version__,
                "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "(unset: TF default)"),
                "tf_intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
                "tf_inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads()}


class TorchSystem:
    """A plain PyTorch loop: nn.Sequential, CrossEntropyLoss, torch.optim.Adam, a randperm each epoch."""

    name = "torch"
    default_predict = "one forward call over all rows (torch.inference_mode)"

    def build(self, sizes, seed):
        import torch
        from torch import nn

        if thread_cap() is not None:
            torch.set_num_threads(thread_cap())
        torch.manual_seed(seed)
        self.torch = torch
        modules = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            modules.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                modules.append(nn.ReLU())
        self.model = nn.Sequential(*modules)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=LEARNING_RATE, eps=EPSILON)
        self.loss = nn.CrossEntropyLoss()
        self.gen = torch.Generator().manual_seed(seed)

    def fit(self, X, y, batch_size, epochs):
        torch = self.torch
        Xt = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
        yt = torch.from_numpy(np.ascontiguousarray(y, dtype=np.int64))
        n = Xt.shape[0]
        model, opt, loss_fn = self.model, self.opt, self.loss
        model.train()
        for _ in range(epochs):
            perm = torch.randperm(n, generator=self.gen)
            total = 0.0
            for start in range(0, n, batch_size):
                idx = perm[start:start + batch_size]
                xb, yb = Xt[idx], yt[idx]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(xb), yb)
                loss.backward()
                opt.step()
                total += loss.item() * xb.shape[0]     # the epoch loss, as Keras and tinynet report it

    def predict(self, X, batch_size=None):
        torch = self.torch
        Xt = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
        self.model.eval()
        with torch.inference_mode():
            if batch_size is None:
                return self.model(Xt).numpy()
            parts = [self.model(Xt[s:s + batch_size]) for s in range(0, Xt.shape[0], batch_size)]
            return torch.cat(parts).numpy()

    def versions(self):
        return {"torch": self.torch.__version__, "torch_threads": self.torch.get_num_threads()}


class SklearnSystem:
    """MLPClassifier with Adam, batch 32, no L2 (alpha=0), no early stop (tol=0, n_iter_no_change > max_iter).

    sklearn ends such a fit with a ConvergenceWarning ("max_iter reached"); the adapter silences exactly that
    warning. Its ``predict`` has no batch size: ``predict_proba`` runs one pass over all rows.
    """

    name = "sklearn"
    default_predict = "predict_proba, one pass over all rows"

    def build(self, sizes, seed):
        self.sizes, self.seed = tuple(sizes), seed
        self.model = None

    def _new(self, batch_size, epochs):
        from sklearn.neural_network import MLPClassifier

        return MLPClassifier(hidden_layer_sizes=self.sizes[1:-1], activation="relu", solver="adam",
                             batch_size=batch_size, learning_rate_init=LEARNING_RATE, max_iter=epochs,
                             epsilon=EPSILON, alpha=0.0, tol=0.0, n_iter_no_change=epochs + 1, shuffle=True,
                             random_state=self.seed)

    def fit(self, X, y, batch_size, epochs):
        from sklearn.exceptions import ConvergenceWarning

        self.model = self._new(batch_size, epochs)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=ConvergenceWarning)
            self.model.fit(X, y)

    def partial_fit(self, X, y, batch_size):
        """One epoch over ``(X, y)`` continuing from the current weights (used for timed steps)."""
        if self.model is None:
            self.model = self._new(batch_size, 1)
            self.model.partial_fit(X, y, classes=np.arange(self.sizes[-1]))
        else:
            self.model.partial_fit(X, y)

    def predict(self, X, batch_size=None):
        if self.model is None:   # predict-only job: weights from one partial_fit pass over a few rows
            self.partial_fit(X[:64], np.arange(64) % self.sizes[-1], 32)
        return self.model.predict_proba(X)

    def versions(self):
        import sklearn

        return {"sklearn": sklearn.__version__, "numpy": np.__version__}


SYSTEMS = {cls.name: cls for cls in (TinynetSystem, NumpyRefSystem, KerasSystem, TorchSystem, SklearnSystem)}
