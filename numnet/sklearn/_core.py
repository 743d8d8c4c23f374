"""The NumPy compute core shared by numnet's scikit-learn MLP estimators.

Forward and backward passes run in preallocated buffers, updated in place,
with scikit-learn's exact algorithm (Glorot-uniform init, half squared error
or log loss, L2 penalty divided by the batch weight, its SGD and Adam
updates), so that the same `random_state` gives the same network.
"""

import numpy as np

from numnet.kernels import ACTIVATIONS as KERNELS
from numnet.kernels.losses import scikit_learn_loss as loss_value


# scikit-learn's activation names in numnet's kernel table, which holds the formulas.
_KERNEL_NAMES = {"identity": "linear", "relu": "relu", "logistic": "sigmoid", "tanh": "tanh",
                 "softmax": "softmax", "exp": "exponential"}


def activate(name, z):
    """Applies scikit-learn's activation `name` to `z` in place (the kernel table's formula)."""
    kernel = KERNELS[_KERNEL_NAMES[name]]
    if name == "softmax":
        kernel.forward(z, out=z, axis=1)
    else:
        kernel.forward(z, out=z)


def multiply_by_derivative(name, a, delta):
    """`delta *= f'(z)` in place, from the activation's output `a` (scikit-learn's DERIVATIVES)."""
    if name != "identity":
        KERNELS[_KERNEL_NAMES[name]].backward(delta, None, a, out=delta)


def _matmul(a, b, out):
    """`out[...] = a @ b` in place; `a` may be a SciPy sparse matrix (an input batch)."""
    if isinstance(a, np.ndarray):
        np.dot(a, b, out=out)
    else:
        out[...] = a @ b


def forward(X, coefs, intercepts, activation, out_activation):
    """Predicts with one matrix product per layer, activations applied in place.

    `X` may be a SciPy sparse matrix: its product with the first kernel is dense.
    """
    a = X
    last = len(coefs) - 1
    for i, (w, b) in enumerate(zip(coefs, intercepts)):
        a = a @ w
        a += b
        activate(out_activation if i == last else activation, a)
    return a


def flat_views(shapes, dtype, flat=None):
    """One contiguous buffer and its views of `shapes` (one optimizer op updates all)."""
    sizes = [int(np.prod(shape)) for shape in shapes]
    if flat is None:
        flat = np.empty(sum(sizes), dtype)
    views, start = [], 0
    for shape, size in zip(shapes, sizes):
        views.append(flat[start:start + size].reshape(shape))
        start += size
    return flat, views


class Network:
    """Buffers for the forward and backward passes of one batch size.

    `acts[0]` is a buffer the caller may gather input batches into; with
    `input_buffer=False` (full-batch or sparse input) it is None.
    """

    def __init__(self, coefs, intercepts, batch_size, activation, out_activation, alpha, loss,
                 input_buffer=True):
        self.coefs = coefs
        self.intercepts = intercepts
        self.activation = activation
        self.out_activation = out_activation
        self.alpha = alpha
        self.loss = loss
        dtype = coefs[0].dtype
        units = [coefs[0].shape[0]] + [w.shape[1] for w in coefs]
        self.acts = [np.empty((batch_size, u), dtype) for u in units[1:]]
        self.acts.insert(0, np.empty((batch_size, units[0]), dtype) if input_buffer else None)
        self.deltas = [np.empty((batch_size, u), dtype) for u in units[1:]]
        self.flat_grad, grads = flat_views([w.shape for w in coefs]
                                           + [b.shape for b in intercepts], dtype)
        self.coef_grads, self.intercept_grads = grads[:len(coefs)], grads[len(coefs):]

    def backprop(self, X, y, sample_weight, compute_loss=True):
        """Gradients of the batch `X` (already in `acts[0]` when it is a view of it).

        `X` may be a SciPy sparse matrix (CSR or CSC): only the two products
        with the input change, to sparse-times-dense ones.
        """
        m = X.shape[0]
        n = len(self.coefs)
        acts = [X] + [a[:m] for a in self.acts[1:]]
        for i in range(n):
            _matmul(acts[i], self.coefs[i], acts[i + 1])
            acts[i + 1] += self.intercepts[i]
            activate(self.out_activation if i == n - 1 else self.activation, acts[i + 1])
        out = acts[-1]
        delta = self.deltas[-1][:m]
        np.subtract(out, y, out=delta)
        sw_sum = m if sample_weight is None else float(sample_weight.sum())
        loss = 0.0
        if compute_loss:
            if self.loss == "squared_error" and sample_weight is None:
                loss = 0.5 * float(np.vdot(delta, delta)) / delta.size
            else:
                loss = loss_value(y, out, sample_weight, self.loss)
            if self.alpha:
                loss += 0.5 * self.alpha * sum(float(np.vdot(w, w)) for w in self.coefs) / sw_sum
        if sample_weight is not None:
            delta *= sample_weight[:, None]
        for i in range(n - 1, -1, -1):
            g = self.coef_grads[i]
            _matmul(acts[i].T, delta, g)
            if self.alpha:
                g += self.alpha * self.coefs[i]
            g /= sw_sum
            np.sum(delta, axis=0, out=self.intercept_grads[i])
            self.intercept_grads[i] /= sw_sum
            if i:
                prev = self.deltas[i - 1][:m]
                np.dot(delta, self.coefs[i].T, out=prev)
                multiply_by_derivative(self.activation, acts[i], prev)
                delta = prev
        return loss


class SGD:
    """scikit-learn's `SGDOptimizer`, in place."""

    def __init__(self, params, learning_rate_init, lr_schedule, momentum, nesterov, power_t):
        self.params = params
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)
        self.lr_schedule = lr_schedule
        self.momentum = momentum
        self.nesterov = nesterov
        self.power_t = power_t
        self.velocity = np.zeros_like(params)
        self._tmp = np.empty_like(params)

    def update(self, grad):
        """One step on the flat parameter vector from the flat gradient."""
        lr, mu = self.learning_rate, self.momentum
        p, v, tmp = self.params, self.velocity, self._tmp
        np.multiply(grad, lr, out=tmp)
        v *= mu
        v -= tmp
        if self.nesterov:
            p -= tmp
            np.multiply(v, mu, out=tmp)
            p += tmp
        else:
            p += v

    def iteration_ends(self, time_step):
        if self.lr_schedule == "invscaling":
            self.learning_rate = float(self.learning_rate_init) / (time_step + 1) ** self.power_t

    def trigger_stopping(self, msg, verbose):
        if self.lr_schedule != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + " Setting learning rate to %f" % self.learning_rate)
        return False


class Adam:
    """scikit-learn's `AdamOptimizer`, in place."""

    def __init__(self, params, learning_rate_init, beta_1, beta_2, epsilon):
        self.params = params
        self.learning_rate_init = learning_rate_init
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.t = 0
        self.m = np.zeros_like(params)
        self.v = np.zeros_like(params)
        self._tmp = np.empty_like(params)

    def update(self, grad):
        """One step on the flat parameter vector from the flat gradient."""
        self.t += 1
        b1, b2 = self.beta_1, self.beta_2
        lr = self.learning_rate_init * np.sqrt(1 - b2 ** self.t) / (1 - b1 ** self.t)
        p, m, v, tmp = self.params, self.m, self.v, self._tmp
        m *= b1
        np.multiply(grad, 1 - b1, out=tmp)
        m += tmp
        v *= b2
        np.multiply(grad, grad, out=tmp)
        tmp *= 1 - b2
        v += tmp
        np.sqrt(v, out=tmp)
        tmp += self.epsilon
        np.divide(m, tmp, out=tmp)
        tmp *= lr
        p -= tmp

    def iteration_ends(self, time_step):
        pass

    def trigger_stopping(self, msg, verbose):
        if verbose:
            print(msg + " Stopping.")
        return True
