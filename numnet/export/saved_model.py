"""The "tf_saved_model" export format: a TensorFlow SavedModel folder (needs TensorFlow).

The graph's nodes are rewritten as TensorFlow ops inside a `tf.function`
whose weights are `tf.Variable`s, saved with `tf.saved_model.save`: the
folder holds `saved_model.pb`, `variables/` and `numnet_export.json`. As
Keras does, the function is the `serve` endpoint (it takes the model's input
structure: one tensor, a list or a dict) and also the `serving_default`
signature (named inputs; outputs `output_0`, ... or the model's dict keys),
so `tf.saved_model.load(path).serve(x)`, Keras' `TFSMLayer`, numnet's
`TFSMLayer` and TensorFlow Serving all run it.

Writing SavedModels without TensorFlow is impractical, so this format needs
it; ONNX (`format="onnx"`) and NumPy (`format="numpy"`) exports do not.
"""

import os
import re

import numpy as np

from numnet.export import files
from numnet.export.errors import ExportError
from numnet.export.graph import BatchDim, Literal
from numnet.export.registry import OpTable

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
    specs = [tf.TensorSpec((None,) + tuple(s.shape[1:]), tf.as_dtype(s.dtype), name=s.name)
             for s in graph.inputs]
    if graph.input_structure == "dict":
        signature = [{s.name: spec for s, spec in zip(graph.inputs, specs)}]
    elif graph.input_structure == "list":
        signature = [specs]
    else:
        signature = specs

    def serve(inputs):
        return run(tf, graph, module.weights, inputs)
    module.serve = tf.function(serve, input_signature=signature, autograph=False)
    return module


def run(tf, graph, weights, inputs):
    """Computes `graph` with TensorFlow ops (inside the `serve` function's trace)."""
    if graph.input_structure == "dict":
        flat = [inputs[name] for name in (s.name for s in graph.inputs)]
    elif graph.input_structure == "list":
        flat = list(inputs)
    else:
        flat = [inputs]
    builder = _Builder(tf, graph, weights, flat)
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
            return self.tf.constant(ref.value, dtype=self.tf.as_dtype(
                np.dtype(dtype) if dtype is not None else np.result_type(ref.value)))
        value = self.values[ref]
        if dtype is not None and self.graph.values[ref].dtype != np.dtype(dtype):
            value = self.tf.cast(value, self.tf.as_dtype(np.dtype(dtype)))
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
