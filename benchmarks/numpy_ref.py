"""The yardstick issue 6 names: a minimal hand-written NumPy training loop for a ReLU MLP.

Written for speed and nothing else: one flat float32 buffer for all parameters and one for all gradients
(weights and biases are views into them), Adam as a handful of in-place ufuncs over the whole flat buffer,
every activation and gradient buffer preallocated for the batch size, one gather per epoch for the shuffle.
The update is Keras's Adam (epsilon added to sqrt(v), bias correction folded into the step size);
initialisation is Glorot-uniform with zero biases. The loss is the softmax cross-entropy from logits, averaged
over the batch; labels are one-hot encoded once per fit and gathered with the inputs.
"""

from __future__ import annotations

import math

import numpy as np


class NumpyMLP:
    """ReLU MLP ``sizes[0] -> ... -> sizes[-1]`` (last layer linear) trained with Adam.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths including input and output, e.g. ``(400, 25, 15, 10)``.
    rng : numpy.random.Generator
        Source of the initial weights.
    """

    def __init__(self, sizes, rng: np.random.Generator, learning_rate=1e-3, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, dtype=np.float32):
        self.sizes = tuple(int(s) for s in sizes)
        self.dtype = np.dtype(dtype)
        self.lr, self.b1, self.b2, self.eps = learning_rate, beta_1, beta_2, epsilon
        shapes = []
        for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:], strict=True):
            shapes += [(fan_in, fan_out), (fan_out,)]
        total = sum(math.prod(s) for s in shapes)
        self.params = np.zeros(total, dtype=self.dtype)
        self.grads = np.zeros(total, dtype=self.dtype)
        self.m = np.zeros(total, dtype=self.dtype)
        self.v = np.zeros(total, dtype=self.dtype)
        self.tmp = np.empty(total, dtype=self.dtype)
        self.tmp2 = np.empty(total, dtype=self.dtype)
        self.W, self.b, self.gW, self.gb = [], [], [], []
        offset = 0
        for shape in shapes:
            size = math.prod(shape)
            view = self.params[offset:offset + size].reshape(shape)
            gview = self.grads[offset:offset + size].reshape(shape)
            (self.W if len(shape) == 2 else self.b).append(view)
            (self.gW if len(shape) == 2 else self.gb).append(gview)
            offset += size
        for W in self.W:
            limit = math.sqrt(6.0 / (W.shape[0] + W.shape[1]))
            W[...] = rng.uniform(-limit, limit, size=W.shape)
        self.t = 0
        self._batch = 0

    def _allocate(self, batch: int) -> None:
        """Activation (``A``), backward (``D``) and ReLU-mask buffers for batches of up to ``batch`` rows."""
        widths = self.sizes[1:]
        self.A = [np.empty((batch, w), dtype=self.dtype) for w in widths]
        self.D = [np.empty((batch, w), dtype=self.dtype) for w in widths]
        self.mask = [np.empty((batch, w), dtype=self.dtype) for w in widths]
        self.ones = np.ones(batch, dtype=self.dtype)
        self.col = np.empty(batch, dtype=self.dtype)
        self.logs = np.empty(batch, dtype=self.dtype)
        self._batch = batch

    def forward(self, x: np.ndarray, k: int) -> np.ndarray:
        """Logits for ``x (k, sizes[0])``, computed in the preallocated buffers; a ``(k, out)`` view."""
        a = x
        last = len(self.W) - 1
        for i, (W, b) in enumerate(zip(self.W, self.b, strict=True)):
            z = self.A[i][:k]
            np.matmul(a, W, out=z)
            z += b
            if i < last:
                np.maximum(z, 0, out=z)
            a = z
        return a

    def train_step(self, x: np.ndarray, onehot: np.ndarray) -> float:
        """One Adam step on the batch ``x (k, in)`` and one-hot targets ``(k, out)``; the mean loss."""
        loss = self.gradients(x, onehot)
        self._adam()
        return loss

    def gradients(self, x: np.ndarray, onehot: np.ndarray) -> float:
        """Mean loss on the batch; fills ``self.grads`` (views ``gW``, ``gb``) with its gradient. No update.

        Reductions use ``ufunc.reduce`` and a ``ones @ g`` product rather than ``np.sum``/``np.max``, whose
        Python wrappers cost more than the arithmetic at these sizes.
        """
        k = x.shape[0]
        if k > self._batch:
            self._allocate(k)
        z = self.forward(x, k)
        # softmax cross-entropy, in place on the logits buffer: g = (softmax - onehot) / k
        col, logs = self.col[:k], self.logs[:k]
        np.maximum.reduce(z, axis=1, out=col)
        z -= col[:, None]
        picked = float(np.vdot(z, onehot))            # sum of the shifted logits at the labels
        np.exp(z, out=z)
        np.add.reduce(z, axis=1, out=col)
        np.log(col, out=logs)
        loss = (float(np.add.reduce(logs)) - picked) / k
        z /= col[:, None]
        z -= onehot
        z *= self.dtype.type(1.0 / k)
        g = z
        # backward
        ones = self.ones[:k]
        for i in range(len(self.W) - 1, -1, -1):
            a_prev = x if i == 0 else self.A[i - 1][:k]
            np.matmul(a_prev.T, g, out=self.gW[i])
            np.matmul(ones, g, out=self.gb[i])
            if i > 0:
                d = self.D[i - 1][:k]
                np.matmul(g, self.W[i].T, out=d)
                mask = self.mask[i - 1][:k]
                np.sign(a_prev, out=mask)           # 1 where the ReLU was active, else 0 (a_prev >= 0)
                d *= mask
                g = d
        return loss

    def _adam(self) -> None:
        self.t += 1
        t = self.t
        alpha = self.lr * math.sqrt(1 - self.b2 ** t) / (1 - self.b1 ** t)
        g, m, v, tmp, tmp2 = self.grads, self.m, self.v, self.tmp, self.tmp2
        np.subtract(g, m, out=tmp)
        tmp *= self.dtype.type(1 - self.b1)
        m += tmp                                    # m += (g - m)(1 - b1)
        np.multiply(g, g, out=tmp)
        tmp -= v
        tmp *= self.dtype.type(1 - self.b2)
        v += tmp                                    # v += (g^2 - v)(1 - b2)
        np.sqrt(v, out=tmp2)
        tmp2 += self.dtype.type(self.eps)
        np.multiply(m, self.dtype.type(alpha), out=tmp)
        tmp /= tmp2
        self.params -= tmp

    def fit(self, X: np.ndarray, y: np.ndarray, batch_size: int, epochs: int,
            rng: np.random.Generator) -> float:
        """Mini-batch Adam with a fresh shuffle each epoch; returns the last epoch's mean loss."""
        n = X.shape[0]
        X = np.ascontiguousarray(X, dtype=self.dtype)
        onehot = np.zeros((n, self.sizes[-1]), dtype=self.dtype)
        onehot[np.arange(n), y] = 1
        Xs, Ts = np.empty_like(X), np.empty_like(onehot)
        if self._batch < min(batch_size, n):
            self._allocate(min(batch_size, n))
        total = 0.0
        for _ in range(epochs):
            perm = rng.permutation(n)
            np.take(X, perm, axis=0, out=Xs)         # one gather per epoch, then cheap slices
            np.take(onehot, perm, axis=0, out=Ts)
            total = 0.0
            for start in range(0, n, batch_size):
                xb = Xs[start:start + batch_size]
                total += self.train_step(xb, Ts[start:start + batch_size]) * xb.shape[0]
        return total / n

    def predict(self, X: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """Logits ``(n, out)``; in one pass (``batch_size=None``) or in batches."""
        X = np.asarray(X, dtype=self.dtype)
        if batch_size is None:
            batch_size = X.shape[0]
        out = np.empty((X.shape[0], self.sizes[-1]), dtype=self.dtype)
        last = len(self.W) - 1
        for start in range(0, X.shape[0], batch_size):
            a = X[start:start + batch_size]
            for i, (W, b) in enumerate(zip(self.W, self.b, strict=True)):
                a = a @ W
                a += b
                if i < last:
                    np.maximum(a, 0, out=a)
            out[start:start + batch_size] = a
        return out
