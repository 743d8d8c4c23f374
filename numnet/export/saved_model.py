"""The "tf_saved_model" export format: a TensorFlow SavedModel folder (needs TensorFlow).

The graph's nodes are rewritten as TensorFlow ops inside a `tf.function`
whose weights are `tf.Variable`s, saved with `tf.saved_model.save`: the
folder holds `saved_model.pb`, `variables/` and `numnet_export.json`. As
Keras does, the function is the `serve` endpoint (it takes the model's input
structure: one tensor, a list or a dict) and also the `serving_default`
signature (named inputs; outputs `output_0`, ... or the model's dict keys),
so `tf.saved_model.load(path).serve(x)`, Keras' `TFSMLayer`, numnet's
`TFSMLayer` and TensorFlow Serving all run it.

Vocabulary lookups are `tf.lookup.StaticHashTable`s (saved with the
variables) and hashing uses TensorFlow's own `to_hash_bucket_fast` (FarmHash64)
and `to_hash_bucket_strong` (SipHash), as Keras does.

Writing SavedModels without TensorFlow is impractical, so this format needs
it; ONNX (`format="onnx"`) and NumPy (`format="numpy"`) exports do not.
"""

import os
import re

import numpy as np

from numnet.export import files, lookups
from numnet.export.errors import ExportError
from numnet.export.graph import BatchDim, Literal
from numnet.export.registry import OpTable, refuse

TF_OPS = OpTable("TensorFlow SavedModel")
ENDPOINT = "serve"
_TF_NAME = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.\\/>-]*$")


def import_tensorflow(what):
    """TensorFlow, or an ImportError saying how to install it and what to use instead."""
    try:
        import tensorflow as tf
    except ImportError:
        raise ImportError(
            f"{what} needs TensorFlow, which is not installed here: pip install tensorflow "
            "(a large download). To deploy without TensorFlow, export to ONNX instead, "
            "model.export(path, format='onnx') with pip install numnet[export], or to plain "
            "NumPy with format='numpy'.") from None
    return tf


class SavedModelWriter:
    """Writes an `InferenceGraph` as a SavedModel folder."""

    kind, title = "folder", "TensorFlow SavedModel"

    def __init__(self):
        self.tf = import_tensorflow("Exporting with format='tf_saved_model'")
        self.details = f", endpoint '{ENDPOINT}'"

    @staticmethod
    def replaceable(folder):
        """An empty folder, a previous numnet SavedModel export, or any SavedModel."""
        return files.is_export_folder("tf_saved_model")(folder) or \
            os.path.isfile(os.path.join(folder, "saved_model.pb"))

    def write(self, graph, filepath):
        for spec in graph.inputs:
            if not _TF_NAME.match(spec.name):
                raise ExportError(
                    f"Cannot export model '{graph.name}' as a SavedModel: the input name "
                    f"{spec.name!r} is not a valid TensorFlow tensor name (letters, digits, "
                    "'_', '.', '-', '/'); rename the Input.")

        def fill(folder):
            module = build_module(self.tf, graph)
            concrete = module.serve.get_concrete_function()
            self.tf.saved_model.save(module, folder, signatures={
                ENDPOINT: concrete, "serving_default": concrete})
            from numnet.export.exporting import manifest
            files.write_manifest(folder, manifest(graph, "tf_saved_model", endpoint=ENDPOINT))
        files.write_folder(filepath, fill)


def build_module(tf, graph):
    """A `tf.Module` with the weights as variables and `serve`, the forward pass."""
    module = tf.Module()
    module.weights = {name: tf.Variable(array, trainable=False, name=_variable_name(name))
                      for name, array in graph.weights.items()}
    # vocabulary lookups: hash tables, resources the SavedModel keeps with the variables
    module.tables = {node.output: _lookup_table(tf, node) for node in graph.nodes
                     if node.op == "index_lookup"}
    specs = [tf.TensorSpec((None,) + tuple(s.shape[1:]), tf_dtype(tf, s.dtype), name=s.name)
             for s in graph.inputs]
    if graph.input_structure == "dict":
        signature = [{s.name: spec for s, spec in zip(graph.inputs, specs)}]
    elif graph.input_structure == "list":
        signature = [specs]
    else:
        signature = specs

    def serve(inputs):
        return run(tf, graph, module.weights, inputs, module.tables)
    module.serve = tf.function(serve, input_signature=signature, autograph=False)
    return module


def tf_dtype(tf, dtype):
    """TensorFlow's dtype for a NumPy one (strings: `tf.string`)."""
    return tf.string if np.dtype(dtype).kind in "OSU" else tf.as_dtype(np.dtype(dtype))


def run(tf, graph, weights, inputs, tables=None):
    """Computes `graph` with TensorFlow ops (inside the `serve` function's trace).

    `tables` holds the lookup tables of the graph's `index_lookup` nodes, by output name.
    """
    if graph.input_structure == "dict":
        flat = [inputs[name] for name in (s.name for s in graph.inputs)]
    elif graph.input_structure == "list":
        flat = list(inputs)
    else:
        flat = [inputs]
    builder = _Builder(tf, graph, weights, flat)
    builder.tables = tables or {}
    for node in graph.nodes:
        builder.values[node.output] = TF_OPS.rule(node, graph.name)(builder, node)
    outputs = [builder.values[name] for name in graph.output_values]
    if graph.output_structure == "dict":
        return {spec.name: out for spec, out in zip(graph.outputs, outputs)}
    if graph.output_structure == "list":
        return outputs
    return outputs[0]


def _variable_name(name):
    return re.sub(r"[^A-Za-z0-9_.\-/]", "_", name)


class _Builder:
    """What rules call: inputs as TensorFlow tensors, dtypes, batch-dependent shapes."""

    def __init__(self, tf, graph, weights, inputs):
        self.tf, self.graph = tf, graph
        self.values = dict(weights)
        self.values.update(zip(graph.input_values, inputs))
        self._batch = None

    def dtype(self, node):
        return self.graph.values[node.output].dtype

    def info(self, node, index):
        return self.graph.input_info(node, index)

    def input(self, node, index, dtype=None):
        ref = node.inputs[index]
        if isinstance(ref, Literal):
            return self.tf.constant(ref.value, dtype=tf_dtype(
                self.tf, dtype if dtype is not None else np.result_type(ref.value)))
        value = self.values[ref]
        if dtype is not None and self.graph.values[ref].dtype != np.dtype(dtype):
            value = self.tf.cast(value, tf_dtype(self.tf, dtype))
        return value

    def inputs(self, node, dtype=None):
        dtype = self.graph.compute_dtype(node) if dtype is None else dtype
        return [self.input(node, i, dtype) for i in range(len(node.inputs))]

    def shape(self, dims):
        dims = (dims,) if isinstance(dims, (int, BatchDim)) else tuple(dims)
        if not any(isinstance(d, BatchDim) for d in dims):
            return [int(d) for d in dims]
        if self._batch is None:
            self._batch = self.tf.shape(self.values[self.graph.input_values[0]],
                                        out_type=self.tf.int64)[0]
        return self.tf.stack([self._batch * d.factor if isinstance(d, BatchDim)
                              else self.tf.constant(d, self.tf.int64) for d in dims])


# ------------------------------------------------------------------- rules
def _math(tf):
    return {"add": tf.add, "subtract": tf.subtract, "multiply": tf.multiply,
            "divide": tf.math.truediv, "power": tf.pow, "matmul": tf.linalg.matmul,
            "negative": tf.negative, "exp": tf.exp, "log": tf.math.log,
            "log1p": tf.math.log1p, "sqrt": tf.sqrt, "square": tf.square, "abs": tf.abs,
            "sin": tf.sin, "cos": tf.cos, "sign": tf.sign, "exponential": tf.exp,
            "tanh": tf.tanh, "relu": tf.nn.relu, "sigmoid": tf.sigmoid,
            "softsign": tf.nn.softsign, "softplus": tf.nn.softplus, "identity": tf.identity}


@TF_OPS.register("add", "subtract", "multiply", "divide", "power", "matmul", "negative", "exp",
                 "log", "log1p", "sqrt", "square", "abs", "sin", "cos", "sign", "exponential",
                 "tanh", "relu", "sigmoid", "softsign", "softplus", "identity")
def _elementwise(t, node):
    return _math(t.tf)[node.op](*t.inputs(node, t.dtype(node)))


@TF_OPS.register("equal", "not_equal", "less", "less_equal", "greater", "greater_equal")
def _comparison(t, node):
    return getattr(t.tf.math, node.op)(*t.inputs(node))


@TF_OPS.register("logical_and", "logical_or", "logical_not")
def _logical(t, node):
    return getattr(t.tf.math, node.op)(*t.inputs(node, np.bool_))


@TF_OPS.register("where")
def _where(t, node):
    dtype = t.dtype(node)
    return t.tf.where(t.input(node, 0, np.bool_), t.input(node, 1, dtype),
                      t.input(node, 2, dtype))


@TF_OPS.register("clip")
def _clip(t, node):
    tf, dtype = t.tf, t.tf.as_dtype(t.dtype(node))
    x = t.input(node, 0, t.dtype(node))
    if node.attrs["min_value"] is not None:
        x = tf.maximum(x, tf.constant(node.attrs["min_value"], dtype))
    if node.attrs["max_value"] is not None:
        x = tf.minimum(x, tf.constant(node.attrs["max_value"], dtype))
    return x


@TF_OPS.register("cast")
def _cast(t, node):
    return t.tf.cast(t.input(node, 0), t.tf.as_dtype(node.attrs["dtype"]))


@TF_OPS.register("sum", "mean", "extreme", "all", "any")
def _reduce(t, node):
    tf = t.tf
    if node.op == "extreme":
        function = tf.reduce_max if node.attrs["kind"] == "max" else tf.reduce_min
    else:
        function = {"sum": tf.reduce_sum, "mean": tf.reduce_mean, "all": tf.reduce_all,
                    "any": tf.reduce_any}[node.op]
    x = t.input(node, 0, np.bool_ if node.op in ("all", "any") else None)
    axis = node.attrs["axis"]
    axis = list(axis) if isinstance(axis, (list, tuple)) else axis
    return function(x, axis=axis, keepdims=bool(node.attrs["keepdims"]))


@TF_OPS.register("sum_to")
def _sum_to(t, node):
    from numnet.export.onnx_format import _sum_to_axes
    axes = _sum_to_axes(t.info(node, 0).shape, node.attrs["shape"])
    total = t.tf.reduce_sum(t.input(node, 0), axis=axes, keepdims=True)
    return t.tf.reshape(total, t.shape(node.attrs["shape"]))


@TF_OPS.register("reshape")
def _reshape(t, node):
    return t.tf.reshape(t.input(node, 0), t.shape(node.attrs["shape"]))


@TF_OPS.register("broadcast_to")
def _broadcast_to(t, node):
    return t.tf.broadcast_to(t.input(node, 0), t.shape(node.attrs["shape"]))


@TF_OPS.register("transpose")
def _transpose(t, node):
    axes = node.attrs["axes"]
    return t.tf.transpose(t.input(node, 0), None if axes is None else list(axes))


@TF_OPS.register("concatenate", "stack")
def _join(t, node):
    function = t.tf.concat if node.op == "concatenate" else t.tf.stack
    return function(t.inputs(node, t.dtype(node)), axis=int(node.attrs["axis"]))


@TF_OPS.register("take")
def _take(t, node):
    table, indices = t.input(node, 0), t.input(node, 1)
    if t.info(node, 1).dtype.kind not in "iu":
        indices = t.tf.cast(indices, t.tf.int64)
    axis = node.attrs["axis"]
    if axis is None:
        table, axis = t.tf.reshape(table, [-1]), 0
    return t.tf.gather(table, indices, axis=int(axis))


@TF_OPS.register("getitem")
def _getitem(t, node):
    x = t.input(node, 0)
    key = node.attrs["key"]
    parts = list(key) if isinstance(key, tuple) else [key]
    arrays = [i for i, k in enumerate(parts) if not (
        k is None or k is Ellipsis or isinstance(k, (int, np.integer, slice)))]
    if any(isinstance(v, BatchDim) for k in parts if isinstance(k, slice)
           for v in (k.start, k.stop, k.step)) or len(arrays) > 1:
        raise ExportError(f"Cannot export model '{t.graph.name}' as a SavedModel: layer "
                          f"'{node.scope[0]}' indexes a tensor with {key!r}, which this "
                          "exporter does not support.")
    if not arrays:
        return x[tuple(parts)]
    position = arrays[0]
    if any(isinstance(k, (int, np.integer)) for k in parts) or Ellipsis in parts or \
            any(k is None for k in parts):
        raise ExportError(f"Cannot export model '{t.graph.name}' as a SavedModel: layer "
                          f"'{node.scope[0]}' mixes an index array with other indices "
                          f"({key!r}), which this exporter does not support.")
    info = t.info(node, 1)
    indices = t.input(node, 1)
    if info.dtype == np.bool_:
        indices = t.tf.constant(np.nonzero(t.graph.weights[info.name])[0])
    sliced = x[tuple(k if i != position else slice(None) for i, k in enumerate(parts))]
    return t.tf.gather(sliced, indices, axis=position)


# ---------------------------------------------------------------- nn ops
def activation(t, name, x, dtype, params):
    """Activation `name` of numnet's kernel table on the TensorFlow tensor `x`."""
    tf = t.tf
    c = lambda value: tf.constant(value, tf.as_dtype(dtype))  # noqa: E731
    if name == "linear":
        return x
    simple = {"relu": tf.nn.relu, "sigmoid": tf.sigmoid, "tanh": tf.tanh, "exponential": tf.exp,
              "softsign": tf.nn.softsign, "softplus": tf.nn.softplus, "sign": tf.sign,
              "selu": tf.nn.selu}  # tf.nn.selu's constants are numnet's (and Keras')
    if name in simple:
        return simple[name](x)
    if name == "leaky_relu":
        return tf.where(x >= 0, x, x * c(params.get("negative_slope", 0.2)))
    if name == "relu_with_options":
        return _relu_with_options(tf, x, c, **params)
    if name == "elu":
        return tf.where(x > 0, x, c(params.get("alpha", 1.0)) * tf.math.expm1(
            tf.minimum(x, c(0))))
    if name == "silu":
        return x * tf.sigmoid(x)
    if name == "gelu":
        if params.get("approximate"):
            return c(0.5) * x * (c(1) + tf.tanh(c(np.sqrt(2 / np.pi)) *
                                                (x + c(0.044715) * x * x * x)))
        return c(0.5) * x * (c(1) + tf.math.erf(x / c(np.sqrt(2.0))))
    if name == "mish":
        return x * tf.tanh(tf.nn.softplus(x))
    if name == "hard_sigmoid":
        return tf.clip_by_value(x / c(6) + c(0.5), c(0), c(1))
    if name == "softmax":
        return tf.nn.softmax(x, axis=int(params.get("axis", -1)))
    if name == "log_softmax":
        return tf.nn.log_softmax(x, axis=int(params.get("axis", -1)))
    if name == "heaviside":
        return tf.cast(x >= 0, tf.as_dtype(dtype))
    newer = _NEWER_ACTIVATIONS.get(name)
    if newer is None:
        raise ExportError(f"numnet cannot write the activation {name!r} as TensorFlow yet.")
    return newer(tf, x, c, **params)


def _celu(tf, x, c, alpha=1.0):
    return tf.nn.relu(x) + tf.math.expm1(tf.minimum(x, c(0)) / c(alpha)) * c(alpha)


def _shrink(tf, x, c, threshold=0.5, soft=False):
    if not soft:
        return x * tf.cast(tf.abs(x) > c(threshold), x.dtype)
    return tf.where(x > c(threshold), x - c(threshold),
                    tf.where(x < c(-threshold), x + c(threshold), c(0)))


def _sparse_plus(tf, x, c):
    middle = tf.square(x + c(1)) * c(0.25)
    return tf.where(x <= c(-1), c(0), tf.where(x < c(1), middle, x))


def _sparse_sigmoid(tf, x, c):
    return tf.where(x <= c(-1), c(0), tf.where(x >= c(1), c(1), (x + c(1)) * c(0.5)))


def _squareplus(tf, x, c, b=4):
    return (tf.sqrt(x * x + c(b)) + x) * c(0.5)


_NEWER_ACTIVATIONS = {
    "relu6": lambda tf, x, c: tf.clip_by_value(x, c(0), c(6)),
    "hard_tanh": lambda tf, x, c: tf.clip_by_value(x, c(-1), c(1)),
    "hard_silu": lambda tf, x, c: x * tf.clip_by_value(x / c(6) + c(0.5), c(0), c(1)),
    "hard_shrink": _shrink,
    "soft_shrink": lambda tf, x, c, threshold=0.5: _shrink(tf, x, c, threshold, soft=True),
    "threshold": lambda tf, x, c, threshold=0.0, default_value=0.0: tf.where(
        x > c(threshold), x, c(default_value)),
    "log_sigmoid": lambda tf, x, c: tf.math.log_sigmoid(x),
    "tanh_shrink": lambda tf, x, c: x - tf.tanh(x),
    "celu": _celu, "sparse_plus": _sparse_plus, "sparse_sigmoid": _sparse_sigmoid,
    "squareplus": _squareplus,
}


def _relu_with_options(tf, x, c, negative_slope=0.0, max_value=None, threshold=0.0):
    if negative_slope != 0.0 and max_value is None and threshold == 0.0:
        return tf.where(x >= 0, x, x * c(negative_slope))
    y = x * tf.cast(x > c(threshold), x.dtype) if threshold != 0.0 else tf.nn.relu(x)
    if max_value is not None:
        y = tf.clip_by_value(y, c(0), c(max_value))
    if negative_slope != 0.0:
        y = y - c(negative_slope) * tf.nn.relu(c(threshold) - x)
    return y


@TF_OPS.register("leaky_relu", "relu_with_options", "silu", "gelu", "mish", "elu", "selu",
                 "hard_sigmoid", "softmax", "log_softmax", "heaviside", "relu6", "celu",
                 "hard_tanh", "hard_silu", "hard_shrink", "soft_shrink", "threshold",
                 "log_sigmoid", "tanh_shrink", "sparse_plus", "sparse_sigmoid", "squareplus")
def _activation(t, node):
    return activation(t, node.op, t.input(node, 0), t.dtype(node), node.attrs)


@TF_OPS.register("glu")
def _glu(t, node):
    first, second = t.tf.split(t.input(node, 0), 2, axis=int(node.attrs.get("axis", -1)))
    return first * t.tf.sigmoid(second)


@TF_OPS.register("sparsemax")
def _sparsemax(t, node):
    tf, dtype = t.tf, t.tf.as_dtype(t.dtype(node))
    x = t.input(node, 0)
    ndim = t.info(node, 0).ndim
    axis = int(node.attrs.get("axis", -1)) % ndim
    perm = [a for a in range(ndim) if a != axis] + [axis]
    moved = tf.transpose(x, perm)
    n = t.info(node, 0).shape[axis]
    ranked = tf.sort(moved, axis=-1, direction="DESCENDING")
    cumulative = tf.cumsum(ranked, axis=-1)
    positions = tf.constant(np.arange(1, n + 1), dtype)
    support = tf.cast(1 + positions * ranked > cumulative, dtype)
    k = tf.reduce_sum(support, axis=-1, keepdims=True)
    tau = (tf.reduce_sum(ranked * support, axis=-1, keepdims=True) - 1) / k
    return tf.transpose(tf.nn.relu(moved - tau), [perm.index(a) for a in range(ndim)])


# ------------------------------------------------------ NumPy-style ops
def _numpy_style(tf):
    m = tf.math
    return {"tan": m.tan, "sinh": m.sinh, "cosh": m.cosh, "arcsin": m.asin, "arccos": m.acos,
            "arctan": m.atan, "arcsinh": m.asinh, "arccosh": m.acosh, "arctanh": m.atanh,
            "expm1": m.expm1, "reciprocal": m.reciprocal, "erf": m.erf, "floor": m.floor,
            "ceil": m.ceil, "isnan": m.is_nan, "isinf": m.is_inf, "isfinite": m.is_finite,
            "arctan2": m.atan2, "logaddexp": lambda a, b: m.maximum(a, b) + m.log1p(
                m.exp(-m.abs(a - b))), "hypot": lambda a, b: m.sqrt(a * a + b * b),
            "mod": m.floormod, "floor_divide": m.floordiv, "copy": tf.identity,
            "log2": lambda x: m.log(x) / np.log(2.0).astype(x.dtype.as_numpy_dtype),
            "log10": lambda x: m.log(x) / np.log(10.0).astype(x.dtype.as_numpy_dtype),
            "exp2": lambda x: m.pow(tf.constant(2, x.dtype), x),
            "cbrt": lambda x: m.sign(x) * m.pow(m.abs(x), tf.constant(1 / 3, x.dtype)),
            "trunc": lambda x: m.sign(x) * m.floor(m.abs(x)),
            "signbit": lambda x: m.logical_or(x < 0, m.logical_and(
                m.equal(x, 0), m.reciprocal(x) < 0))}


@TF_OPS.register("tan", "sinh", "cosh", "arcsin", "arccos", "arctan", "arcsinh", "arccosh",
                 "arctanh", "expm1", "reciprocal", "erf", "floor", "ceil", "isnan", "isinf",
                 "isfinite", "arctan2", "logaddexp", "hypot", "mod", "floor_divide", "copy",
                 "log2", "log10", "exp2", "cbrt", "trunc", "signbit")
def _numpy_style_rule(t, node):
    return _numpy_style(t.tf)[node.op](*t.inputs(node))


@TF_OPS.register("logical_xor")
def _logical_xor(t, node):
    return t.tf.math.logical_xor(*t.inputs(node, np.bool_))


@TF_OPS.register("round")
def _round(t, node):
    x, decimals = t.input(node, 0), int(node.attrs["decimals"])
    if decimals == 0:
        return t.tf.round(x)  # half to even, as NumPy
    scale = t.tf.constant(10.0 ** decimals, x.dtype)
    return t.tf.round(x * scale) / scale


@TF_OPS.register("nan_to_num")
def _nan_to_num(t, node):
    tf, x, a = t.tf, t.input(node, 0), node.attrs
    finfo = np.finfo(t.dtype(node))
    high = finfo.max if a["posinf"] is None else a["posinf"]
    low = finfo.min if a["neginf"] is None else a["neginf"]
    fixed = tf.where(tf.math.is_inf(x), tf.where(x > 0, tf.constant(high, x.dtype),
                                                 tf.constant(low, x.dtype)), x)
    return tf.where(tf.math.is_nan(x), tf.constant(a["nan"], x.dtype), fixed)


def _axis_arg(axis):
    return list(axis) if isinstance(axis, (list, tuple)) else axis


@TF_OPS.register("prod")
def _prod(t, node):
    return t.tf.reduce_prod(t.input(node, 0), axis=_axis_arg(node.attrs["axis"]),
                            keepdims=bool(node.attrs["keepdims"]))


@TF_OPS.register("cumsum", "cumprod")
def _running(t, node):
    x, axis = t.input(node, 0), node.attrs["axis"]
    if axis is None:
        x, axis = t.tf.reshape(x, [-1]), 0
    return getattr(t.tf.math, node.op)(x, axis=int(axis))


@TF_OPS.register("count_nonzero")
def _count_nonzero(t, node):
    tf = t.tf
    return tf.math.count_nonzero(t.input(node, 0), axis=_axis_arg(node.attrs["axis"]),
                                 dtype=tf_dtype(tf, t.dtype(node)))


@TF_OPS.register("pad")
def _pad(t, node):
    widths = [[int(before), int(after)] for before, after in node.attrs["widths"]]
    x = t.input(node, 0, t.dtype(node))
    return t.tf.pad(x, widths, constant_values=t.tf.constant(node.attrs["value"], x.dtype))


@TF_OPS.register("take_along_axis")
def _take_along_axis(t, node):
    return t.tf.experimental.numpy.take_along_axis(t.input(node, 0), t.input(node, 1),
                                                   axis=int(node.attrs["axis"]))


@TF_OPS.register("einsum")
def _einsum(t, node):
    return t.tf.einsum(node.attrs["subscripts"], *t.inputs(node, t.dtype(node)))


@TF_OPS.register("argsort")
def _argsort(t, node):
    tf, x, axis = t.tf, t.input(node, 0), node.attrs["axis"]
    if axis is None:
        x, axis = tf.reshape(x, [-1]), 0
    direction = "DESCENDING" if node.attrs["descending"] else "ASCENDING"
    return tf.cast(tf.argsort(x, axis=int(axis), direction=direction, stable=True),
                   tf_dtype(tf, t.dtype(node)))


@TF_OPS.register("one_hot")
def _one_hot(t, node):
    tf, a = t.tf, node.attrs
    labels = tf.cast(t.input(node, 0), tf.int64)  # out-of-range labels encode as zeros
    return tf.one_hot(labels, int(a["num_classes"]), axis=int(a["axis"]),
                      dtype=tf_dtype(tf, a["dtype"]))


@TF_OPS.register("argmax", "argmin")
def _argmax(t, node):
    tf = t.tf
    function = tf.math.argmax if node.op == "argmax" else tf.math.argmin
    axis, x = node.attrs["axis"], t.input(node, 0)
    ndim = t.info(node, 0).ndim
    if axis is None:
        index = function(tf.reshape(x, [-1]), axis=0, output_type=tf.int64)
        return tf.reshape(index, [1] * ndim) if node.attrs["keepdims"] else index
    index = function(x, axis=int(axis), output_type=tf.int64)
    return tf.expand_dims(index, int(axis) % ndim) if node.attrs["keepdims"] else index


@TF_OPS.register("mean_square")
def _mean_square(t, node):
    diff = t.input(node, 0)
    if t.info(node, 0).ndim == 0:
        return diff * diff
    total = t.tf.reduce_sum(diff * diff, axis=-1)
    n = t.info(node, 0).shape[-1]
    return total if n == 1 else total * t.tf.constant(1.0 / n, t.tf.as_dtype(t.dtype(node)))


@TF_OPS.register("logsumexp")
def _logsumexp(t, node):
    axis = node.attrs["axis"]
    return t.tf.reduce_logsumexp(t.input(node, 0), axis=list(axis) if isinstance(
        axis, (list, tuple)) else axis, keepdims=bool(node.attrs["keepdims"]))


@TF_OPS.register("dense", "dense_stacked")
def _dense(t, node):
    dtype = t.dtype(node)
    x, kernel = t.input(node, 0, dtype), t.input(node, 1, dtype)
    if t.info(node, 0).ndim == 2:
        z = t.tf.linalg.matmul(x, kernel)
    else:
        z = t.tf.tensordot(x, kernel, axes=[[t.info(node, 0).ndim - 1], [0]])
    if len(node.inputs) > 2:
        z = z + t.input(node, 2, dtype)
    return activation(t, node.attrs["activation"], z, dtype, {})


@TF_OPS.register("affine")
def _affine(t, node):
    x, shift, scale = t.inputs(node, t.dtype(node))
    return (x + shift) * scale


@TF_OPS.register("weighted_sum")
def _weighted_sum(t, node):
    values = t.inputs(node, t.dtype(node))
    product = values[0] if len(values) == 1 else values[0] * values[1]
    return t.tf.reduce_sum(product) * t.tf.constant(node.attrs["scale"],
                                                    t.tf.as_dtype(t.dtype(node)))


# ------------------------------------------------------ normalization
@TF_OPS.register("rsqrt")
def _rsqrt(t, node):
    return t.tf.math.reciprocal(t.tf.sqrt(t.input(node, 0)))


@TF_OPS.register("stop_gradient", "custom_gradient")  # both forward their first input
def _stop_gradient(t, node):
    return t.tf.identity(t.input(node, 0))


@TF_OPS.register("variance_around")
def _variance_around(t, node):
    x, mean = t.inputs(node, t.dtype(node))
    deviation = x - mean
    return t.tf.reduce_mean(deviation * deviation, axis=list(node.attrs["axis"]),
                            keepdims=bool(node.attrs["keepdims"]))


@TF_OPS.register("batch_normalization")
def _batch_normalization(t, node):
    """numnet's formula: `x * inv + (offset - mean * inv)`, `inv = scale / sqrt(var + eps)`."""
    tf, dtype, attrs = t.tf, t.dtype(node), node.attrs
    x, mean, variance = (t.input(node, i, dtype) for i in range(3))
    inv = tf.math.reciprocal(tf.sqrt(variance + tf.constant(attrs["epsilon"], x.dtype)))
    if attrs["has_scale"]:
        inv = inv * t.input(node, len(node.inputs) - 1, dtype)
    shift = -(mean * inv)
    if attrs["has_offset"]:
        shift = t.input(node, 3, dtype) + shift
    return x * inv + shift


# ------------------------------------------------------------ lookups
def _int64_codes(t, node, index=0):
    return t.input(node, index, np.int64)


@TF_OPS.register("embedding_lookup")
def _embedding_lookup(t, node):
    """`tf.gather` of table rows (it refuses ids outside the table, as numnet does)."""
    return t.tf.gather(t.input(node, 0), _int64_codes(t, node, 1), axis=0)


@TF_OPS.register("encode_categorical")
def _encode_categorical(t, node):
    """One-hot, multi-hot or count vectors, as numnet's kernel (see the ONNX rule)."""
    tf, attrs, info = t.tf, node.attrs, t.info(node, 0)
    depth, mode, dtype = attrs["depth"], attrs["output_mode"], tf_dtype(tf, attrs["dtype"])
    codes, ndim = _int64_codes(t, node), info.ndim
    if ndim == 0:
        codes, ndim = tf.reshape(codes, [1]), 1
    if mode == "one_hot" and ndim > 1 and info.shape[-1] == 1:
        codes, ndim = tf.squeeze(codes, -1), ndim - 1
    hot = tf.equal(codes[..., None], tf.range(depth, dtype=tf.int64))
    if mode == "one_hot":
        return tf.cast(hot, dtype)
    weights = t.input(node, 1) if len(node.inputs) > 1 else None
    if ndim > 2:  # one-hot, then reduced over axis 1
        values = tf.cast(hot, dtype if weights is None else tf_dtype(tf, np.result_type(
            attrs["dtype"], t.info(node, 1).dtype)))
        if weights is not None:
            values = values * tf.cast(weights, values.dtype)[..., None]
        reduce = tf.reduce_max if mode == "multi_hot" else tf.reduce_sum
        return tf.cast(reduce(values, axis=1), dtype)
    check = tf.debugging.assert_non_negative(
        codes, message="Multi-hot and count encodings need non-negative category codes")
    with tf.control_dependencies([check]):
        if weights is None:
            counts = tf.reduce_sum(tf.cast(hot, tf.int64), axis=-2)
        else:
            dtype = weights.dtype  # weighted counts take the weights' dtype
            counts = tf.reduce_sum(tf.cast(hot, tf.float64) *
                                   tf.cast(weights, tf.float64)[..., None], axis=-2)
    if mode == "multi_hot":
        counts = tf.minimum(counts, tf.ones([], counts.dtype))
    return tf.cast(counts, dtype)


@TF_OPS.register("bucketize")
def _bucketize(t, node):
    """The number of boundaries `<= x`, NaN past the last, in float64, as the ONNX rule."""
    tf = t.tf
    x = t.input(node, 0, np.float64)[..., None]
    boundaries = tf.constant(node.attrs["buckets"].boundaries, tf.float64)
    below = tf.logical_or(x >= boundaries, tf.math.is_nan(x))
    return tf.reduce_sum(tf.cast(below, tf.int32), axis=-1)


def _lookup_table(tf, node):
    """The `StaticHashTable` of an `index_lookup` node (None for an empty vocabulary)."""
    found = lookups.entries(node)
    if not found:
        return None
    keys, values = list(found), list(found.values())
    key_dtype = tf.string if isinstance(keys[0], str) else tf.int64
    value_dtype = tf.string if isinstance(values[0], str) else tf.int64
    initializer = tf.lookup.KeyValueTensorInitializer(
        tf.constant(keys, key_dtype), tf.constant(values, value_dtype))
    return tf.lookup.StaticHashTable(initializer, lookups.options_of(node)["default"])


@TF_OPS.register("index_lookup")
def _index_lookup(t, node):
    """A `StaticHashTable` lookup; several OOV indices: `id mod n`, or TensorFlow's own
    FarmHash / SipHash of the tokens (`tf.strings.to_hash_bucket_fast` / `_strong`)."""
    tf, options, info = t.tf, lookups.options_of(node), t.info(node, 0)
    if options["key_kind"] == "string" and info.dtype.kind != "U":
        refuse(node, t.graph.name, TF_OPS.format_name,
               f"because its input is {info.dtype.name}, not strings")
    keys = t.input(node, 0) if info.dtype.kind == "U" else _int64_codes(t, node)
    table = t.tables.get(node.output)
    default = options["default"]
    result = table.lookup(keys) if table is not None else tf.fill(
        tf.shape(keys), tf.constant(default, tf.string if isinstance(default, str) else tf.int64))
    if options["invert"]:
        return result
    n = options["num_oov_indices"]
    if n == 0:
        check = tf.debugging.assert_none_equal(
            result, tf.constant(-1, tf.int64),
            message="When `num_oov_indices=0` all inputs should be in vocabulary")
        with tf.control_dependencies([check]):
            return tf.identity(result)
    if n > 1:
        buckets = _hash(tf, keys, n, options.get("salt")) if lookups.hashes_tokens(options) \
            else tf.math.floormod(keys, tf.constant(n, tf.int64))
        result = tf.where(tf.equal(result, tf.constant(default, tf.int64)),
                          buckets + tf.constant(options["oov_start"], tf.int64), result)
    return result


def _hash(tf, values, num_buckets, salt):
    """TensorFlow's string hash of each value's text (integers in decimal) modulo `num_buckets`."""
    if values.dtype != tf.string:
        if values.dtype.is_floating:
            values = tf.cast(values, tf.int64)
        values = tf.strings.as_string(values)
    if salt is None:
        return tf.strings.to_hash_bucket_fast(values, num_buckets)
    return tf.strings.to_hash_bucket_strong(values, num_buckets, list(salt))


@TF_OPS.register("hash_bins")
def _hash_bins(t, node):
    """Keras' Hashing, exactly as Keras computes it on TensorFlow."""
    tf, attrs = t.tf, node.attrs
    x, bins, mask_value = t.input(node, 0), attrs["num_bins"], attrs["mask_value"]
    if mask_value is None or bins == 1:
        return _hash(tf, x, bins, attrs["salt"])
    codes = _hash(tf, x, bins - 1, attrs["salt"]) + 1
    return tf.where(tf.equal(x, tf.constant(mask_value, x.dtype)), tf.zeros_like(codes), codes)
