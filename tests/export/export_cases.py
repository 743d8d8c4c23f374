"""Models that exercise every exportable primitive, shared by the ONNX/NumPy and SavedModel tests.

Each case is a subclassed model whose `call` runs a few numnet ops after a
Dense layer (so each op reads computed values, not only inputs), plus the
input it is called on. `OP_CASES` maps a case name to a builder returning
`(model, x)`.
"""

import numpy as np

import numnet as keras
from numnet import ops
from numnet.autodiff.ops import sum_to

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
_CONV_KERNEL = np.linspace(-1, 1, 8, dtype="float32").reshape(2, 2, 1, 2)


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


def _softplus_with_its_own_gradient(x):
    """A `custom_gradient` function: its forward (all an export needs) is what it returns."""
    @ops.custom_gradient
    def softplus(t):
        e = ops.exp(t)
        return ops.log1p(e), lambda upstream: upstream * (1.0 - 1.0 / (1.0 + e))
    return softplus(x)


def _image_ops(gray):
    """The colour conversions, padding, cropping, resizing, patches, blur, edges and SSIM of a
    2 x 2 RGB image made of `gray`."""
    rgb = ops.sigmoid(ops.concatenate([gray, gray * 0.5, -gray], axis=-1))
    parts = [ops.image.rgb_to_grayscale(rgb), ops.image.rgb_to_hsv(rgb),
             ops.image.hsv_to_rgb(rgb), ops.image.pad_images(rgb, 1, 0, 0, 1),
             ops.image.crop_images(rgb, 1, 0, target_height=1, target_width=2),
             ops.image.resize(rgb, (3, 5)), ops.image.resize(rgb, (4, 1), "nearest"),
             ops.image.resize(rgb, (3, 3), "bicubic"), ops.image.extract_patches(rgb, (1, 2)),
             ops.image.gaussian_blur(rgb), ops.image.sobel_edges(rgb),
             ops.expand_dims(ops.image.ssim(rgb, rgb * 0.5, filter_size=2), -1),
             ops.image.affine_transform(rgb, np.array([0.9, -0.3, 0.4, 0.3, 0.9, -0.2, 0, 0],
                                                      "float32"))]
    return ops.concatenate([ops.reshape(p, (-1, int(np.prod(p.shape[1:])))) for p in parts],
                           axis=-1)


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
    "custom_gradient": _forward(_softplus_with_its_own_gradient),
    # a convolution and the pools: windows gathered (take), products and reductions
    "convolution_and_pools": _forward(lambda x: ops.concatenate([
        ops.reshape(ops.conv(ops.reshape(x, (-1, 2, 2, 1)), _CONV_KERNEL, padding="same"),
                    (-1, 8)),
        ops.reshape(ops.max_pool(ops.reshape(x, (-1, 2, 2, 1)), 2, 1, "same"), (-1, 4)),
        ops.reshape(ops.average_pool(ops.reshape(x, (-1, 2, 2, 1)), 2, 1, "same"), (-1, 4))],
        axis=-1)),
    "image_ops": _forward(lambda x: _image_ops(ops.reshape(x, (-1, 2, 2, 1)))),
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
    # the NumPy-style ops (their primitives; the others are compositions of these)
    "trig_hyperbolic": _forward(lambda x: ops.tan(ops.clip(x, -1, 1)) + ops.sinh(x) - ops.cosh(x)
                                + ops.arcsin(ops.tanh(x) * 0.9) + ops.arccos(ops.tanh(x) * 0.9)
                                + ops.arctan(x) + ops.arcsinh(x) + ops.arccosh(ops.abs(x) + 1.5)
                                + ops.arctanh(ops.tanh(x) * 0.9)),
    "logs_exps": _forward(lambda x: ops.log2(ops.abs(x) + 0.5) + ops.log10(ops.abs(x) + 0.5)
                          + ops.exp2(x) + ops.expm1(x) + ops.expm1(x * 1e-6) * 1e6
                          + ops.cbrt(x) + ops.reciprocal(ops.abs(x) + 0.5) + ops.erf(x)),
    "rounding": _forward(lambda x: ops.floor(x * 3) + ops.ceil(x * 3) + ops.trunc(x * 3)
                         + ops.round(x * 3) + ops.round(x, decimals=1) + ops.copy(x)),
    "float_tests": _forward(lambda x: ops.sum(ops.cast(ops.stack([
        ops.isnan(ops.log(x)), ops.isinf(ops.log(ops.abs(x) * 0)), ops.isfinite(ops.log(x)),
        ops.signbit(x), ops.signbit(x * 0)], axis=-1), "float32") * [1, 2, 4, 8, 16], axis=-1)
        + ops.nan_to_num(ops.log(x), nan=-1.0, posinf=5.0)
        + ops.nan_to_num(ops.log(ops.abs(x) * 0) * ops.sign(x), neginf=-3.0)),
    "two_argument_math": _forward(lambda x: ops.arctan2(x, ops.flip(x, axis=1))
                                  + ops.arctan2(x, x * 0) + ops.arctan2(x * 0, -ops.abs(x))
                                  + ops.hypot(x, x * 2) + ops.logaddexp(x, -x)
                                  + ops.mod(x * 3, 0.7) + ops.mod(x, -0.6)
                                  + ops.floor_divide(x * 3, 0.7)),
    "integer_division": _forward(lambda x: ops.cast(
        ops.mod(ops.cast(x * 10, "int32"), 3) + ops.floor_divide(ops.cast(x * 10, "int32"), -4)
        + ops.count_nonzero(ops.cast(x * 2, "int32"), axis=1)[:, None], "float32")
        + ops.cast(ops.logical_xor(x > 0, x < 0.5), "float32")),
    "products_running": _forward(lambda x: ops.prod(x, axis=1, keepdims=True)
                                 + ops.cumsum(x, axis=1) + ops.cumprod(x, axis=1)
                                 + ops.reshape(ops.cumsum(ops.reshape(x, (-1, 2, 2)), axis=2),
                                               (-1, 4))),
    "pad_take_along_sort": _forward(lambda x: ops.pad(x, ((0, 0), (1, 2)), constant_values=0.5)
                                    [:, 1:5] + ops.sort(x) + ops.top_k(x, 4)[0]
                                    + ops.take_along_axis(x, ops.argsort(x, axis=1), axis=1)),
    "einsum_one_hot": _forward(lambda x: ops.einsum("bi,bj->bi", x, x) + ops.einsum(
        "bi,ij->bj", x, np.linspace(-1, 1, 16, dtype="float32").reshape(4, 4))
        + ops.one_hot(ops.argmax(x, axis=1), 4) + ops.one_hot(ops.argmax(x, axis=1) - 2, 4)),
    "composites": _forward(lambda x: ops.median(x, axis=1)[:, None]
                           + ops.quantile(x, 0.3, axis=1, keepdims=True)
                           + ops.nanmean(ops.log(x), axis=1)[:, None]
                           + ops.rms_normalization(x) + ops.ptp(x, axis=1, keepdims=True)
                           + ops.cast(ops.isclose(x, x * 1.0000001), "float32")
                           + ops.fmax(x, ops.log(x)) + ops.sinc(x) + ops.deg2rad(x)),
    "softmax_axis": _forward(lambda x: ops.reshape(ops.softmax(ops.reshape(x, (-1, 2, 2)), axis=1),
                                                   (-1, 4)) + ops.log_softmax(x, axis=1)),
}


def _dense_no_bias():
    model = keras.Sequential([L.Input(shape=(3,)), L.Dense(4, use_bias=False, activation="tanh"),
                              L.Dense(2, use_bias=False)])
    return model, np.random.default_rng(4).standard_normal((6, 3)).astype("float32")


# ------------------------------------------------------------------ layers
# Models around the layers of issue 14 in the uses the Keras reference cases
# (test_layers_keras.py) do not cover: trained statistics, weighted and rank-3
# encodings, NaN buckets, float ids, computed indices. `LAYER_CASES` maps a name to
# a builder returning `(model, x)`; inputs that are not floats are compared with a
# direct call (`predict` converts inputs to floats).


class PickRows(L.Layer):
    """Rows of a learned table at each sample's largest feature (a computed index)."""

    def build(self, input_shape):
        self.table = self.add_weight(shape=(input_shape[-1], 3), initializer="random_normal",
                                     name="table")

    def call(self, inputs):
        return self.table[ops.argmax(inputs, axis=-1)]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 3)


def _trained_batch_normalization():
    rng = np.random.default_rng(5)
    model = keras.Sequential([L.Input(shape=(4,)), L.Dense(6, use_bias=False),
                              L.BatchNormalization(momentum=0.5), L.Activation("relu"),
                              L.Reshape((2, 3)), L.BatchNormalization(axis=1, momentum=0.5),
                              L.LayerNormalization(axis=[1, 2]), L.Flatten(), L.Dense(2)])
    x = (rng.standard_normal((64, 4)) * 3 + 1).astype("float32")
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, rng.standard_normal((64, 2)).astype("float32"), epochs=2, verbose=0)
    return model, x[:8]


def _weighted_counts():
    codes = keras.Input(shape=(3,), dtype="int64", name="codes")
    weights = keras.Input(shape=(3,), name="weights")
    encoded = L.CategoryEncoding(5, output_mode="count")(codes, count_weights=weights)
    model = keras.Model([codes, weights], L.Dense(2)(encoded))
    rng = np.random.default_rng(6)
    return model, [rng.integers(0, 7, (6, 3)), rng.random((6, 3)).astype("float32")]


def _rank3_encodings():
    codes = keras.Input(shape=(2, 3), dtype="int32", name="codes")
    parts = [L.Flatten()(L.CategoryEncoding(4, output_mode=mode)(codes))
             for mode in ("multi_hot", "count", "one_hot")]
    model = keras.Model(codes, L.Concatenate()(parts))
    return model, np.random.default_rng(7).integers(0, 6, (5, 2, 3)).astype("int32")


def _buckets_with_nan():
    model = keras.Sequential([L.Input(shape=(3,)), L.Discretization(
        bin_boundaries=[-1.0, 0.0, 0.25, 2.0], output_mode="count")])
    x = np.float32([[np.nan, -np.inf, np.inf], [-1, 0, 0.25], [2, 2.5, -3], [0.1, np.nan, 1]])
    return model, x


def _float_ids():
    model = keras.Sequential([L.Input(shape=(3,)), L.Embedding(6, 2), L.Flatten()])
    return model, np.float32([[0, 1.7, 5], [2.2, 3, 4.9], [5, 0.5, 1], [3, 3, 3]])


def _int32_lookups():
    ids = keras.Input(shape=(2,), dtype="int32", name="ids")
    lookup = L.IntegerLookup(vocabulary=[4, 8, 15, 16], num_oov_indices=2, mask_token=0)
    inverse = L.IntegerLookup(vocabulary=[4, 8, 15, 16], invert=True, mask_token=0)
    model = keras.Model(ids, [lookup(ids), inverse(ids)])
    return model, np.int32([[4, 0], [-3, 16], [15, 7], [8, 8], [5, 6]])


def _empty_vocabulary():
    words = keras.Input(shape=(2,), dtype="string", name="words")
    model = keras.Model(words, [L.StringLookup()(words), L.StringLookup(mask_token="")(words)])
    return model, np.array([["a", ""], ["b", "c"], ["", ""]])


def _computed_index():
    x = keras.Input(shape=(4,))
    model = keras.Model(x, L.Dense(2)(PickRows()(L.Dense(4)(x))))
    return model, np.random.default_rng(8).standard_normal((6, 4)).astype("float32")


def _lambda_and_noise():
    model = keras.Sequential([
        L.Input(shape=(4,)), L.GaussianNoise(0.5), L.Lambda(lambda t: ops.square(t) - 1.0),
        L.GaussianDropout(0.3), L.Identity(), L.AlphaDropout(0.2), L.ActivityRegularization(0.1),
        L.Dense(3), L.Softmax(axis=[1])])
    return model, np.random.default_rng(9).standard_normal((6, 4)).astype("float32")


LAYER_CASES = {
    "batch_normalization_after_fit": _trained_batch_normalization,
    "category_count_weights": _weighted_counts,
    "category_rank3": _rank3_encodings,
    "discretization_nan_inf": _buckets_with_nan,
    "embedding_float_ids": _float_ids,
    "integer_lookup_int32": _int32_lookups,
    "string_lookup_empty_vocabulary": _empty_vocabulary,
    "computed_index": _computed_index,
    "lambda_and_noise": _lambda_and_noise,
}
# The cases whose inputs are not floats (compared with a direct call, not `predict`).
INTEGER_INPUT_CASES = ("category_count_weights", "category_rank3", "integer_lookup_int32",
                       "string_lookup_empty_vocabulary")
