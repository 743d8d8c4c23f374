"""Models that exercise every exportable primitive, shared by the ONNX/NumPy and SavedModel tests.

Each case is a subclassed model whose `call` runs a few numnet ops after a
Dense layer (so each op reads computed values, not only inputs), plus the
input it is called on. `OP_CASES` maps a case name to a builder returning
`(model, x)`.
"""

import numpy as np

import numnet as keras
from numnet import ops
from numnet.autodiff.ops._core import sum_to

L = keras.layers


class Forward(keras.Model):
    """`fn(dense(inputs))`: a subclassed model around one op expression."""

    def __init__(self, fn, units=4, **kwargs):
        super().__init__(**kwargs)
        self.fn = fn
        self.dense = L.Dense(units, kernel_initializer="glorot_normal",
                             bias_initializer="random_normal")

    def call(self, inputs):
        return self.fn(self.dense(inputs))


class Lookup(L.Layer):
    """An embedding-like table read with integer inputs (`take`)."""

    def __init__(self, how, **kwargs):
        super().__init__(**kwargs)
        self.how = how

    def build(self, input_shape):
        self.table = self.add_weight(shape=(5, 3), initializer="random_normal", name="table")

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1] * (3 if self.how == "take" else 1))

    def call(self, inputs):
        if self.how == "take":
            return ops.reshape(ops.take(self.table, inputs, axis=0), (inputs.shape[0], -1))
        return ops.take(self.table, inputs)  # axis=None: indices into the flattened table


def activation_for(name):
    """The activation `name`, callable on a tensor (threshold's arguments are required)."""
    if name == "threshold":
        return lambda t: keras.activations.threshold(t, 0.3, -1.0)
    return name


_CONST = np.linspace(-1, 1, 12, dtype="float32").reshape(4, 3)
_MASK = np.array([True, False, True, True])


def _forward(fn, units=4):
    def build():
        rng = np.random.default_rng(3)
        model = Forward(fn, units=units)
        x = rng.standard_normal((6, 3)).astype("float32")
        model(x)
        return model, x
    return build


def _lookup(how):
    def build():
        inputs = keras.Input(shape=(2,), dtype="int32", name="ids")
        model = keras.Model(inputs, L.Dense(2)(Lookup(how)(inputs)))
        x = np.array([[0, 4], [3, 1], [2, 2], [4, 0], [1, 3], [0, 0]], dtype="int32")
        return model, x
    return build


OP_CASES = {
    # arithmetic, with Python literals on either side
    "arithmetic": _forward(lambda x: (x + 1.5) * (2 - x) / 3 - x * x),
    "power_negative": _forward(lambda x: -ops.power(ops.abs(x) + 1, 1.5) + ops.power(2.0, x)),
    "matmul_constant": _forward(lambda x: ops.matmul(x, _CONST)),
    "matmul_batched": _forward(lambda x: ops.matmul(ops.reshape(x, (-1, 2, 2)),
                                                    ops.reshape(x, (-1, 2, 2)))),
    # elementwise math
    "exp_log": _forward(lambda x: ops.exp(ops.clip(x, -3, 3)) + ops.log(ops.abs(x) + 1)
                        + ops.log1p(ops.abs(x))),
    "sqrt_square_abs": _forward(lambda x: ops.sqrt(ops.abs(x)) + ops.square(x) - ops.abs(x)),
    "trig_sign": _forward(lambda x: ops.sin(x) * ops.cos(x) + ops.sign(x)),
    # comparisons, logic and selection
    "comparisons": _forward(lambda x: ops.cast(ops.greater(x, 0.1), "float32")
                            + ops.cast(ops.less_equal(x, -0.2), "float32") * 2
                            + ops.cast(ops.equal(ops.sign(x), 1.0), "float32") * 4
                            + ops.cast(ops.not_equal(ops.sign(x), 1.0), "float32") * 8
                            + ops.cast(ops.less(x, 0), "float32") * 16
                            + ops.cast(ops.greater_equal(x, 0), "float32") * 32),
    "logic": _forward(lambda x: ops.cast(ops.logical_or(
        ops.logical_and(x > 0, x < 1), ops.logical_not(x > -1)), "float32")),
    "where_max_min": _forward(lambda x: ops.where(x > 0, x, 0.1 * x) + ops.maximum(x, 0.25)
                              - ops.minimum(x, -0.25)),
    "clip": _forward(lambda x: ops.clip(x, -0.5, 0.5) + ops.clip(x, None, 0.2)
                     + ops.clip(x, -0.1, None)),
    "cast_int": _forward(lambda x: ops.cast(ops.cast(x * 10, "int32"), "float32")),
    # reductions
    "reductions": _forward(lambda x: ops.concatenate([
        ops.sum(x, axis=-1, keepdims=True), ops.mean(x, axis=1, keepdims=True),
        ops.max(x, axis=1, keepdims=True), ops.min(x, axis=-1, keepdims=True),
        ops.expand_dims(ops.sum(x, axis=1), -1),
        ops.cast(ops.all(x > -1, axis=1, keepdims=True), "float32"),
        ops.cast(ops.any(x > 1, axis=1, keepdims=True), "float32")], axis=1)),
    "reduce_3d_axes": _forward(lambda x: ops.mean(ops.reshape(x, (-1, 2, 2)), axis=(1, 2))
                               + ops.sum(ops.reshape(x, (-1, 2, 2)), axis=[1, 2])),
    "argmax_argmin": _forward(lambda x: ops.cast(ops.stack([
        ops.argmax(x, axis=-1), ops.argmin(x, axis=1), ops.argmax(x, axis=1, keepdims=True)[:, 0],
        ops.argmin(ops.reshape(x, (-1, 2, 2)), axis=1)[:, 0]], axis=1), "float32")),
    "mean_square": _forward(lambda x: ops.concatenate([
        ops.expand_dims(keras.losses.mean_squared_error(x, x * 0.5), -1),
        ops.expand_dims(keras.losses.mean_squared_error(x[:, :1], x[:, 1:2]), -1)], axis=1)),
    "weighted_sum": _forward(lambda x: x * ops.weighted_sum(ops.square(x), scale=0.01)),
    "weighted_sum_weights": _forward(lambda x: x - ops.weighted_sum(x, np.float32(0.5) * x,
                                                                    scale=0.1)),
    # shapes
    "reshape_transpose": _forward(lambda x: ops.reshape(
        ops.transpose(ops.reshape(x, (-1, 2, 2)), (0, 2, 1)), (-1, 4))),
    "expand_squeeze_stack": _forward(lambda x: ops.squeeze(ops.stack([x, x * 2], axis=1)[:, :1],
                                                           axis=1) + ops.stack([x, x], -1)[..., 0]),
    "concatenate": _forward(lambda x: ops.concatenate([x, -x, x * x], axis=-1)),
    "broadcast_to": _forward(lambda x: x + ops.broadcast_to(_CONST[0, :1] * 0 + 1.0,
                                                            tuple(x.shape))),
    "sum_to": _forward(lambda x: x * sum_to(x, (1, 4))),
    "transpose_default": _forward(lambda x: ops.transpose(ops.transpose(x))),
    # indexing
    "slices": _forward(lambda x: ops.concatenate([x[:, 1:3], x[:, ::-1], x[:, -1:],
                                                  x[:, ::2]], axis=1)),
    "int_newaxis_ellipsis": _forward(
        lambda x: x[:, 0][:, None] + x[..., 1:2] + x[:, None, 2][:, 0:1, None][:, 0]),
    "index_array": _forward(lambda x: x[:, [0, 2, 3]]),
    "index_mask": _forward(lambda x: x[:, _MASK]),
    "take": _lookup("take"),
    "take_flat": _lookup("take_flat"),
    # nn ops
    "affine": _forward(lambda x: ops.affine(x, np.float32([0.5, -1, 0, 2]),
                                            np.float32([2, 1, 0.5, -1]))),
    "dense_no_bias": lambda: _dense_no_bias(),
    "logsumexp": _forward(lambda x: ops.concatenate([
        ops.logsumexp(x, axis=-1, keepdims=True), ops.expand_dims(ops.logsumexp(x * 30, axis=1), 1),
        x - ops.logsumexp(ops.reshape(x, (-1, 2, 2)), axis=(1, 2), keepdims=False)[:, None]],
        axis=1)),
    "softmax_several_axes": _forward(lambda x: ops.reshape(
        ops.softmax(ops.reshape(x, (-1, 2, 2)), axis=(1, 2)), (-1, 4))
        + ops.reshape(ops.log_softmax(ops.reshape(x, (-1, 2, 2)), axis=None), (-1, 4)) * 0),
    "glu_sparsemax_axes": _forward(lambda x: ops.concatenate([
        ops.reshape(ops.glu(ops.reshape(x, (-1, 2, 2)), axis=1), (-1, 2)),
        ops.reshape(ops.sparsemax(ops.reshape(x * 3, (-1, 2, 2)), axis=1), (-1, 4))], axis=1)),
    "softmax_axis": _forward(lambda x: ops.reshape(ops.softmax(ops.reshape(x, (-1, 2, 2)), axis=1),
                                                   (-1, 4)) + ops.log_softmax(x, axis=1)),
}


def _dense_no_bias():
    model = keras.Sequential([L.Input(shape=(3,)), L.Dense(4, use_bias=False, activation="tanh"),
                              L.Dense(2, use_bias=False)])
    return model, np.random.default_rng(4).standard_normal((6, 3)).astype("float32")
