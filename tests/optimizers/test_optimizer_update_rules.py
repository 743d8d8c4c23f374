"""Each optimizer's update rule against an independent float64 reference loop."""

import math

import numpy as np
import pytest

from numnet import optimizers
from numnet.autodiff.tensor import Tensor, Variable

SHAPES = [(4, 3), (3,)]
STEPS = 6


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    w0 = [rng.normal(size=s).astype(np.float32) for s in SHAPES]
    grads = [[(rng.normal(size=s) * 2).astype(np.float32) for s in SHAPES]
             for _ in range(STEPS)]
    return w0, grads


def _run(opt, w0, grads, as_tensor=False):
    ws = [Variable(w.copy(), name=f"w{i}") for i, w in enumerate(w0)]
    for step_grads in grads:
        gs = [Tensor(g) if as_tensor else g for g in step_grads]
        opt.apply_gradients(zip(gs, ws))
    return [w.data for w in ws]


def _f64(arrays):
    return [a.astype(np.float64) for a in arrays]


def ref_sgd(w0, grads, lr, momentum=0.0, nesterov=False):
    ws, ms = _f64(w0), [np.zeros(w.shape) for w in w0]
    for gs in grads:
        for i, g in enumerate(_f64(gs)):
            if momentum == 0:
                ws[i] = ws[i] - lr * g
                continue
            ms[i] = momentum * ms[i] - lr * g
            ws[i] = ws[i] + (momentum * ms[i] - lr * g if nesterov else ms[i])
    return ws


def ref_adam(w0, grads, lr, b1=0.9, b2=0.999, eps=1e-7, amsgrad=False, wd=None):
    ws = _f64(w0)
    ms = [np.zeros(w.shape) for w in w0]
    vs = [np.zeros(w.shape) for w in w0]
    vhats = [np.zeros(w.shape) for w in w0]
    for t, gs in enumerate(grads, start=1):
        for i, g in enumerate(_f64(gs)):
            if wd is not None:
                ws[i] = ws[i] - ws[i] * wd * lr
            ms[i] = b1 * ms[i] + (1 - b1) * g
            vs[i] = b2 * vs[i] + (1 - b2) * g * g
            v = vs[i]
            if amsgrad:
                vhats[i] = np.maximum(vhats[i], vs[i])
                v = vhats[i]
            alpha = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
            ws[i] = ws[i] - alpha * ms[i] / (np.sqrt(v) + eps)
    return ws


def ref_rmsprop(w0, grads, lr, rho=0.9, momentum=0.0, eps=1e-7, centered=False):
    ws = _f64(w0)
    vs = [np.zeros(w.shape) for w in w0]
    avg = [np.zeros(w.shape) for w in w0]
    mom = [np.zeros(w.shape) for w in w0]
    for gs in grads:
        for i, g in enumerate(_f64(gs)):
            vs[i] = rho * vs[i] + (1 - rho) * g ** 2
            if centered:
                avg[i] = rho * avg[i] + (1 - rho) * g
                denominator = vs[i] - avg[i] ** 2 + eps
            else:
                denominator = vs[i] + eps
            increment = lr * g / np.sqrt(denominator)
            if momentum > 0:
                mom[i] = momentum * mom[i] + increment
                ws[i] = ws[i] - mom[i]
            else:
                ws[i] = ws[i] - increment
    return ws


def ref_adagrad(w0, grads, lr, initial=0.1, eps=1e-7):
    ws = _f64(w0)
    acc = [np.full(w.shape, initial) for w in w0]
    for gs in grads:
        for i, g in enumerate(_f64(gs)):
            acc[i] = acc[i] + g ** 2
            ws[i] = ws[i] - lr * g / np.sqrt(acc[i] + eps)
    return ws


def ref_nadam(w0, grads, lr, b1=0.9, b2=0.999, eps=1e-7):
    # Keras' Nadam works with the betas and 0.96 rounded to the variables' float32.
    b1, b2, decay = (float(np.float32(x)) for x in (b1, b2, 0.96))
    ws = _f64(w0)
    ms = [np.zeros(w.shape) for w in w0]
    vs = [np.zeros(w.shape) for w in w0]
    product = 1.0
    for t, gs in enumerate(grads, start=1):
        u_t = b1 * (1 - 0.5 * decay ** t)
        u_next = b1 * (1 - 0.5 * decay ** (t + 1))
        product *= u_t
        for i, g in enumerate(_f64(gs)):
            ms[i] = b1 * ms[i] + (1 - b1) * g
            vs[i] = b2 * vs[i] + (1 - b2) * g ** 2
            m_hat = u_next * ms[i] / (1 - product * u_next) + (1 - u_t) * g / (1 - product)
            v_hat = vs[i] / (1 - b2 ** t)
            ws[i] = ws[i] - lr * m_hat / (np.sqrt(v_hat) + eps)
    return ws


CASES = [
    ("SGD", dict(learning_rate=0.1), lambda w, g: ref_sgd(w, g, 0.1)),
    ("SGD", dict(learning_rate=0.05, momentum=0.9),
     lambda w, g: ref_sgd(w, g, 0.05, momentum=0.9)),
    ("SGD", dict(learning_rate=0.05, momentum=0.9, nesterov=True),
     lambda w, g: ref_sgd(w, g, 0.05, momentum=0.9, nesterov=True)),
    ("Adam", dict(learning_rate=0.01), lambda w, g: ref_adam(w, g, 0.01)),
    ("Adam", dict(learning_rate=0.01, amsgrad=True, beta_1=0.8),
     lambda w, g: ref_adam(w, g, 0.01, b1=0.8, amsgrad=True)),
    ("AdamW", dict(learning_rate=0.01, weight_decay=0.1),
     lambda w, g: ref_adam(w, g, 0.01, wd=0.1)),
    ("RMSprop", dict(learning_rate=0.01), lambda w, g: ref_rmsprop(w, g, 0.01)),
    ("RMSprop", dict(learning_rate=0.01, momentum=0.5, centered=True, rho=0.8),
     lambda w, g: ref_rmsprop(w, g, 0.01, rho=0.8, momentum=0.5, centered=True)),
    ("Adagrad", dict(learning_rate=0.1), lambda w, g: ref_adagrad(w, g, 0.1)),
    ("Adagrad", dict(learning_rate=0.1, initial_accumulator_value=1.0),
     lambda w, g: ref_adagrad(w, g, 0.1, initial=1.0)),
    ("Nadam", dict(learning_rate=0.01), lambda w, g: ref_nadam(w, g, 0.01)),
]


@pytest.mark.parametrize("cls, kwargs, reference", CASES,
                         ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(CASES)])
def test_update_rule_matches_reference(cls, kwargs, reference):
    w0, grads = _problem()
    got = _run(getattr(optimizers, cls)(**kwargs), w0, grads)
    expected = reference(w0, grads)
    for g, e in zip(got, expected):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, e, rtol=2e-5, atol=2e-6)


def test_tensor_gradients_give_the_same_result():
    w0, grads = _problem(1)
    a = _run(optimizers.Adam(learning_rate=0.01), w0, grads)
    b = _run(optimizers.Adam(learning_rate=0.01), w0, grads, as_tensor=True)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_adam_first_step_is_lr_times_sign():
    # After one step m/sqrt(v) = g/|g| (bias-corrected), so w moves by ~lr.
    w = Variable(np.zeros(3, np.float32))
    optimizers.Adam(learning_rate=0.1).apply_gradients([(np.array([2.0, -3.0, 0.5],
                                                                  np.float32), w)])
    np.testing.assert_allclose(w.data, [-0.1, 0.1, -0.1], rtol=5e-5)


def test_sgd_defaults_single_step():
    w = Variable(np.array([1.0, 2.0], np.float32))
    opt = optimizers.SGD()
    it = opt.apply_gradients([(np.array([1.0, -1.0], np.float32), w)])
    np.testing.assert_allclose(w.data, [0.99, 2.01], rtol=1e-6)
    assert int(it) == 1 and int(opt.iterations) == 1
