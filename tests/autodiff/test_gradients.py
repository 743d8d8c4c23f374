"""Finite-difference checks of every op's backward rule (float64, central differences)."""

import numpy as np
import pytest

from numnet.autodiff import GradientTape, Tensor, Variable, ops
from numnet import losses

RNG = np.random.default_rng(0)


def numeric_grad(f, arrays, index, eps=1e-6):
    """d sum(f(*arrays) * w) / d arrays[index] by central differences."""
    x = arrays[index]
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        plus = f(*arrays)
        x[i] = old - eps
        minus = f(*arrays)
        x[i] = old
        grad[i] = (plus - minus) / (2 * eps)
    return grad


def check(op, *arrays, wrt=None, rtol=1e-5, atol=1e-7):
    """Compares the tape's gradient of sum(op(...) * w) with finite differences."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    out_shape = np.shape(np.asarray(op(*[Tensor(a, dtype="float64") for a in arrays]).data))
    weight = RNG.normal(size=out_shape)

    def scalar(*values):
        return float(np.sum(np.asarray(op(*[Tensor(v, dtype="float64") for v in values]).data) * weight))

    for index in (range(len(arrays)) if wrt is None else wrt):
        tensors = [Tensor(a, dtype="float64") for a in arrays]
        with GradientTape() as tape:
            tape.watch(tensors[index])
            out = op(*tensors)
            total = ops.sum(ops.multiply(out, weight))
        analytic = tape.gradient(total, tensors[index])
        expected = numeric_grad(scalar, arrays, index)
        assert analytic is not None, "no gradient reached the input"
        np.testing.assert_allclose(np.asarray(analytic), expected, rtol=rtol, atol=atol,
                                   err_msg=f"gradient of {getattr(op, '__name__', op)} "
                                           f"w.r.t. argument {index}")


def rand(*shape, low=-2.0, high=2.0):
    return RNG.uniform(low, high, size=shape)


def away_from_zero(*shape):
    x = rand(*shape)
    return np.where(np.abs(x) < 0.1, 0.5, x)


BINARY = [
    ("add", ops.add), ("subtract", ops.subtract), ("multiply", ops.multiply),
    ("maximum", ops.maximum), ("minimum", ops.minimum),
]


@pytest.mark.parametrize("name,op", BINARY)
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)),
                                    ((2, 3, 4), (3, 1)), ((3, 4), ())])
def test_binary_broadcasting(name, op, shapes):
    check(op, rand(*shapes[0]), rand(*shapes[1]) + 0.05)


@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1), (1, 3))])
def test_divide(shapes):
    check(ops.divide, rand(*shapes[0]), away_from_zero(*shapes[1]))


def test_power_and_negative():
    check(lambda a: ops.power(a, 3), rand(3, 4))
    check(ops.power, rand(3, 2, low=0.5, high=2), rand(3, 2))
    check(ops.negative, rand(4))
    check(lambda a: a ** 2 - 3 * a / 2, rand(2, 3))


@pytest.mark.parametrize("a_shape,b_shape", [((3, 4), (4, 5)), ((2, 3, 4), (4, 2)),
                                             ((4,), (4, 3)), ((3, 4), (4,)), ((2, 3, 4), (2, 4, 5))])
def test_matmul(a_shape, b_shape):
    check(ops.matmul, rand(*a_shape), rand(*b_shape))


@pytest.mark.parametrize("reduce", [ops.sum, ops.mean, ops.max, ops.min])
@pytest.mark.parametrize("axis,keepdims", [(None, False), (0, False), (1, True), ((0, 2), False),
                                           (-1, True)])
def test_reductions(reduce, axis, keepdims):
    check(lambda x: reduce(x, axis=axis, keepdims=keepdims), rand(2, 3, 4))


@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 4)])
def test_sum_of_squares(shape):
    from numnet.autodiff.ops.reductions import sum_of_squares
    x = rand(*shape)
    check(sum_of_squares, x)
    check(lambda t: sum_of_squares(ops.transpose(t)), rand(3, 5))  # not contiguous
    np.testing.assert_allclose(sum_of_squares(x).numpy(), np.sum(x * x), rtol=1e-7)  # float32


@pytest.mark.parametrize("axis,keepdims", [(None, False), (0, False), (1, True), ((0, 2), False),
                                           (-1, True)])
def test_logsumexp(axis, keepdims):
    check(lambda x: ops.logsumexp(x, axis=axis, keepdims=keepdims), rand(2, 3, 4, low=-30, high=30))


def test_logsumexp_of_minus_infinity_rows_has_zero_gradient():
    x = Tensor(np.array([[-np.inf, -np.inf], [0.0, 1.0]]), dtype="float64")
    with GradientTape() as tape:
        tape.watch(x)
        total = ops.sum(ops.logsumexp(x, axis=1))
    grad = tape.gradient(total, x).numpy()
    np.testing.assert_array_equal(grad[0], [0.0, 0.0])
    np.testing.assert_allclose(grad[1], np.exp([0.0, 1.0]) / np.exp([0.0, 1.0]).sum(), rtol=1e-12)


@pytest.mark.parametrize("activation", ["linear", "relu", "sigmoid", "tanh"])
def test_stacked_dense(activation):
    """The Dense op on a kernel stored right above its bias (one `[x, 1] @ block` product)."""
    from numnet.autodiff.ops import nn as nn_ops
    from numnet.autodiff.parameters import ParameterStore, kernel_block, stacked_block
    from numnet.engine import Capture

    kernel = Variable(rand(3, 5), dtype="float64")
    bias = Variable(rand(5), dtype="float64")
    assert kernel_block(kernel.data) is None  # not placed yet
    ParameterStore.of([kernel, bias])  # places the kernel directly above the bias
    block = stacked_block(kernel.data, bias.data)
    assert block is not None and kernel_block(kernel.data) is block
    np.testing.assert_array_equal(block, np.vstack([kernel.data, bias.data]))
    assert kernel_block(kernel.data.copy()) is None and kernel_block(bias.data) is None
    x = Tensor(away_from_zero(4, 3), dtype="float64")
    weight = RNG.normal(size=(4, 5))

    def scalar():
        return float(np.sum(ops.dense(x, kernel, bias, activation).numpy() * weight))

    with Capture([]) as capture:  # which op ran
        ops.dense(x, kernel, bias, activation)
    assert capture.steps[0].prim is nn_ops.DENSE_STACKED
    with GradientTape() as tape:
        tape.watch(x)
        out = ops.dense(x, kernel, bias, activation)
        total = ops.sum(ops.multiply(out, weight))
    analytic = tape.gradient(total, [x, kernel, bias])
    for tensor, grad in zip((x, kernel, bias), analytic):
        expected = numeric_grad(lambda _: scalar(), [tensor.data], 0)
        np.testing.assert_allclose(grad.numpy(), expected, rtol=1e-5, atol=1e-7)


def test_shape_ops():
    check(lambda x: ops.reshape(x, (4, 6)), rand(2, 3, 4))
    check(ops.transpose, rand(2, 3))
    check(lambda x: ops.transpose(x, (1, 2, 0)), rand(2, 3, 4))
    check(lambda x: ops.expand_dims(x, 1), rand(2, 3))
    check(lambda x: ops.squeeze(x, 1), rand(2, 1, 3))
    check(lambda a, b: ops.concatenate([a, b], axis=1), rand(2, 3), rand(2, 2))
    check(lambda a, b: ops.concatenate([a, b], axis=0), rand(2, 3), rand(1, 3))
    check(lambda a, b: ops.stack([a, b], axis=1), rand(2, 3), rand(2, 3))


def test_slicing_and_gather():
    check(lambda x: x[1:, ::2], rand(3, 4))
    check(lambda x: x[:, 1], rand(3, 4))
    check(lambda x: x[np.array([0, 2, 0])], rand(3, 4))  # repeated index accumulates
    check(lambda x: ops.take(x, np.array([[1, 0], [2, 2]]), axis=1), rand(3, 4))
    check(lambda x: ops.take(x, np.array([5, 1, 5])), rand(3, 4))


UNARY = [
    ("exp", ops.exp, rand(3, 4)), ("log", ops.log, rand(3, 4, low=0.2, high=3)),
    ("log1p", ops.log1p, rand(3, 4, low=-0.5, high=3)),
    ("sqrt", ops.sqrt, rand(3, 4, low=0.2, high=3)), ("abs", ops.abs, away_from_zero(3, 4)),
    ("square", ops.square, rand(3, 4)), ("sin", ops.sin, rand(3)), ("cos", ops.cos, rand(3)),
    ("clip", lambda x: ops.clip(x, -0.5, 0.7), away_from_zero(4, 4)),
    ("where", lambda x: ops.where(x > 0, x * 2, ops.exp(x)), away_from_zero(3, 4)),
    ("cast", lambda x: ops.cast(x, "float64"), rand(3)),
    ("affine", lambda x: ops.affine(x, np.array([0.5, -1.0, 2.0, 0.0]),
                                    np.array([2.0, 0.5, -1.0, 3.0])), rand(3, 4)),
]


@pytest.mark.parametrize("name,op,x", UNARY, ids=[u[0] for u in UNARY])
def test_unary(name, op, x):
    check(op, x)


ACTIVATIONS = ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "softplus", "softsign",
               "silu", "gelu", "exponential", "softmax", "log_softmax", "mish", "hard_sigmoid",
               "relu6", "linear"]


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activations(name):
    from numnet import activations
    fn = activations.get(name)
    x = away_from_zero(4, 5) * 2
    if name in ("hard_sigmoid", "relu6"):
        x = np.where(np.abs(np.abs(x) - 3) < 0.1, 1.0, x)
        x = np.where(np.abs(x - 6) < 0.1, 5.0, x)
    check(fn, x)


def test_relu_options_and_gelu_approximate():
    from numnet import activations
    x = away_from_zero(3, 5)
    check(lambda v: activations.relu(v, negative_slope=0.1, max_value=1.5, threshold=0.3),
          np.where(np.abs(x - 0.3) < 0.05, 0.8, np.where(np.abs(x - 1.5) < 0.05, 1.0, x)))
    check(lambda v: activations.gelu(v, approximate=True), x)
    check(lambda v: activations.softmax(v, axis=0), x)


@pytest.mark.parametrize("activation", ["linear", "relu", "sigmoid", "tanh"])
def test_fused_dense(activation):
    x = away_from_zero(4, 3)
    check(lambda a, k, b: ops.dense(a, k, b, activation), x, rand(3, 5), rand(5))
    check(lambda a, k: ops.dense(a, k, None, activation), rand(2, 4, 3), rand(3, 2))


def _probabilities(n, k):
    p = RNG.uniform(0.1, 1.0, size=(n, k))
    return p / p.sum(axis=1, keepdims=True)


LOSS_CASES = [
    ("mse", lambda p: losses.mean_squared_error(TARGET_REG, p), rand(4, 3)),
    ("mae", lambda p: losses.mean_absolute_error(TARGET_REG, p), rand(4, 3) + 3),
    ("huber", lambda p: losses.huber(TARGET_REG, p, delta=0.8), rand(4, 3) * 2),
    ("bce", lambda p: losses.binary_crossentropy(TARGET_BIN, p),
     RNG.uniform(0.05, 0.95, size=(4, 3))),
    ("bce_logits", lambda p: losses.binary_crossentropy(TARGET_BIN, p, from_logits=True),
     rand(4, 3)),
    ("cce", lambda p: losses.categorical_crossentropy(TARGET_ONEHOT, p), _probabilities(4, 3)),
    ("cce_logits", lambda p: losses.categorical_crossentropy(TARGET_ONEHOT, p, from_logits=True),
     rand(4, 3)),
    ("cce_smoothing", lambda p: losses.categorical_crossentropy(TARGET_ONEHOT, p,
                                                               label_smoothing=0.1),
     _probabilities(4, 3)),
    ("scce", lambda p: losses.sparse_categorical_crossentropy(TARGET_SPARSE, p),
     _probabilities(4, 3)),
    ("scce_logits", lambda p: losses.sparse_categorical_crossentropy(TARGET_SPARSE, p,
                                                                    from_logits=True), rand(4, 3)),
    ("scce_through_softmax", lambda z: losses.sparse_categorical_crossentropy(
        TARGET_SPARSE, ops.softmax(z)), rand(4, 3)),
    ("bce_through_sigmoid", lambda z: losses.binary_crossentropy(TARGET_BIN, ops.sigmoid(z)),
     rand(4, 3)),
    ("mape", lambda p: losses.mean_absolute_percentage_error(TARGET_REG + 5, p), rand(4, 3)),
    ("msle", lambda p: losses.mean_squared_logarithmic_error(np.abs(TARGET_REG), p),
     rand(4, 3, low=0.1, high=2)),
]
TARGET_REG = rand(4, 3)
TARGET_BIN = (RNG.uniform(size=(4, 3)) > 0.5).astype(np.float64)
TARGET_SPARSE = np.array([0, 2, 1, 2])
TARGET_ONEHOT = np.eye(3)[TARGET_SPARSE]


@pytest.mark.parametrize("name,fn,x", LOSS_CASES, ids=[c[0] for c in LOSS_CASES])
def test_loss_functions(name, fn, x):
    check(fn, x)


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean_with_sample_weight",
                                       "none"])
def test_loss_reductions_with_sample_weight(reduction):
    weights = np.array([0.5, 1.0, 2.0, 0.0])
    # float64, as the check computes: a loss converts its inputs to its dtype (as Keras does)
    loss = losses.MeanSquaredError(reduction=reduction, dtype="float64")
    check(lambda p: loss(TARGET_REG, p, sample_weight=weights), rand(4, 3))


def test_gradient_accumulates_over_fan_out_and_variables():
    w = Variable(np.array([[1.0, -2.0], [0.5, 3.0]]))
    x = np.array([[1.0, 2.0]])
    with GradientTape() as tape:
        h = ops.matmul(x, w)
        y = ops.sum(h * h + h)
    grad = np.asarray(tape.gradient(y, w))
    h_val = x @ w.data
    np.testing.assert_allclose(grad, x.T @ (2 * h_val + 1), rtol=1e-6)


def test_unconnected_and_persistent_tape():
    a, b = Variable(np.ones(3)), Variable(np.ones(3))
    with GradientTape(persistent=True) as tape:
        y = ops.sum(a * 3.0)
    assert tape.gradient(y, b) is None
    np.testing.assert_allclose(np.asarray(tape.gradient(y, b, unconnected_gradients="zero")), 0)
    np.testing.assert_allclose(np.asarray(tape.gradient(y, a)), 3.0)
    with GradientTape() as tape2:
        y = ops.sum(a * 2.0)
    tape2.gradient(y, a)
    with pytest.raises(RuntimeError, match="persistent"):
        tape2.gradient(y, a)


def test_non_trainable_variables_and_stop_gradient_get_no_gradient():
    frozen = Variable(np.ones(2), trainable=False)
    free = Variable(np.ones(2))
    with GradientTape() as tape:
        y = ops.sum(frozen * free + ops.stop_gradient(free) * 5.0)
    grads = tape.gradient(y, [frozen, free])
    assert grads[0] is None
    np.testing.assert_allclose(np.asarray(grads[1]), 1.0)


def test_nothing_is_recorded_without_a_tape():
    from numnet.autodiff import tape as tape_module
    assert not tape_module.is_recording()
    out = ops.add(Variable(np.ones(2)), 1.0)
    assert isinstance(out, Tensor)


def test_float32_stays_float32_with_python_scalars():
    x = Tensor(np.ones(3, dtype=np.float32))
    assert (x * 2.0 + 1).dtype == "float32"
    assert ops.exp(x / 3).dtype == "float32"


def test_softmax_and_sigmoid_keep_their_logits_for_cross_entropy():
    from numnet.autodiff.ops.nn import keep_logits, kept_logits
    logits = Tensor(np.array([[2.0, -1.0, 0.5]], "float32"))
    assert kept_logits(ops.softmax(logits)) is logits
    assert kept_logits(ops.sigmoid(logits)) is logits
    assert kept_logits(ops.relu(logits)) is None
    probabilities = Tensor(ops.softmax(logits).data.copy())  # a copy forgets them...
    assert kept_logits(probabilities) is None
    assert keep_logits(probabilities, logits) is probabilities  # ...until told again
    expected = ops.sparse_categorical_crossentropy(np.array([0]), logits, from_logits=True)
    np.testing.assert_array_equal(
        ops.sparse_categorical_crossentropy(np.array([0]), probabilities).data, expected.data)
