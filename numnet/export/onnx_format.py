"""The "onnx" export format: one `.onnx` file built with the `onnx` package.

Opset 17 with IR version 8 by default: ONNX Runtime has run it since 1.12
(2022), and TensorRT 8.6+, OpenVINO and onnx2tf read it; every op numnet
needs exists there (exact GELU is written with `Erf`, swish as
`x * Sigmoid(x)`, mish as `x * Tanh(Softplus(x))`). `opset_version=` picks a
newer opset (the reductions then take their axes as inputs, as opset 18
requires). The batch dimension is the symbolic `batch`; sizes that follow it
(a Flatten's reshape) are computed from the input's shape in the graph.
Weights are initializers, named by their numnet paths (`dense/kernel`).

Vocabulary lookups (StringLookup, IntegerLookup) are one `LabelEncoder` each,
from the ai.onnx.ml domain (version 3, imported only by models that use it;
ONNX Runtime runs it, some accelerators' runtimes do not). String hashing has
no ONNX form: see `registry.NOT_EXPORTED_TO`. ONNX cannot raise an error, so
inputs that numnet refuses behave as follows: negative category codes in
multi-hot or count encodings count for nothing, tokens outside a vocabulary
without OOV index look up -1; Embedding ids outside the table make the
runtime's `Gather` fail, as numnet does.
"""

import itertools

import numpy as np

from numnet.export import files, lookups
from numnet.export.errors import ExportError
from numnet.export.graph import BatchDim, Literal
from numnet.export.registry import NOT_EXPORTED_TO, OpTable, refuse
from numnet.kernels.activations import SELU_ALPHA, SELU_SCALE

ONNX_OPS = OpTable("ONNX")
DEFAULT_OPSET = 17
MIN_OPSET = 17
# Vocabulary lookups use `LabelEncoder` of the ai.onnx.ml domain (version 3 goes with opset 17).
ML_DOMAIN = "ai.onnx.ml"
ML_OPSET = 3
BATCH = "batch"
_INT64_MAX = np.iinfo(np.int64).max
_INT64_MIN = np.iinfo(np.int64).min


def import_onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("Exporting to ONNX needs the `onnx` package: "
                          "pip install numnet[export]  (or: pip install onnx)") from None
    return onnx


class OnnxWriter:
    """Writes an `InferenceGraph` as an `.onnx` file (checked by `onnx.checker`)."""

    kind, title = "file", "ONNX"

    def __init__(self, opset_version=None):
        onnx = import_onnx()
        newest = onnx.defs.onnx_opset_version()
        opset = DEFAULT_OPSET if opset_version is None else opset_version
        if not isinstance(opset, int) or isinstance(opset, bool) or \
                not MIN_OPSET <= opset <= newest:
            raise ValueError(f"opset_version must be an integer from {MIN_OPSET} to {newest} "
                             f"(the onnx package's newest); received {opset_version!r}.")
        self.opset = opset
        self.details = f", opset {opset}"

    @staticmethod
    def replaceable(path):
        """Only a previous ONNX model may be replaced."""
        from numnet.export.loading import _looks_like_onnx
        return _looks_like_onnx(path)

    def write(self, graph, filepath):
        onnx = import_onnx()
        model = build_model(graph, self.opset)
        onnx.checker.check_model(model, full_check=True)
        files.write_file(filepath, model.SerializeToString())


def build_model(graph, opset=DEFAULT_OPSET):
    """The `onnx.ModelProto` of an `InferenceGraph`."""
    import_onnx()
    from onnx import helper
    builder = _Builder(graph, opset)
    for spec, value in zip(graph.inputs, graph.input_values):
        builder.names[value] = spec.name
    for node in graph.nodes:
        builder.scope = node.scope[0]
        builder.names[node.output] = ONNX_OPS.rule(node, graph.name)(builder, node)
    for spec, value in zip(graph.outputs, graph.output_values):
        builder.make("Identity", [builder.names[value]], outputs=[spec.name])
    inputs = [_value_info(spec) for spec in graph.inputs]
    outputs = [_value_info(spec) for spec in graph.outputs]
    onnx_graph = helper.make_graph(builder.nodes, graph.name, inputs, outputs,
                                   initializer=builder.initializers)
    opsets = [helper.make_opsetid("", opset)]
    if builder.uses_ml:
        opsets.append(helper.make_opsetid(ML_DOMAIN, ML_OPSET))
    model = helper.make_model(onnx_graph, opset_imports=opsets, producer_name="numnet",
                              ir_version=helper.find_min_ir_version_for(opsets))
    from numnet import __version__
    model.producer_version = __version__
    model.doc_string = f"The model '{graph.name}' (inference), exported by numnet."
    return model


def _value_info(spec):
    from onnx import helper
    shape = [BATCH if d is None else d for d in spec.shape]
    return helper.make_tensor_value_info(spec.name, _onnx_type(spec.dtype), shape)


def _onnx_type(dtype):
    from onnx import helper
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


# ------------------------------------------------------------------ the builder
class _Builder:
    """Makes ONNX nodes and initializers; rules call it to write one graph node each."""

    def __init__(self, graph, opset):
        self.graph = graph
        self.opset = opset
        self.nodes, self.initializers = [], []
        self.names = {}          # graph value name -> ONNX value name
        self.scope = graph.name
        self._counter = itertools.count()
        self._constants = {}
        self._batch = None
        self._weights_added = set()
        self.uses_ml = False  # whether a node of the ai.onnx.ml domain was made

    def fresh(self, hint):
        return f"{self.scope}/{hint}_{next(self._counter)}"

    def make(self, op_type, inputs, outputs=None, n_outputs=1, **attrs):
        """Adds one ONNX node; returns its output name (a list when `n_outputs` > 1)."""
        from onnx import helper
        outputs = outputs or [self.fresh(op_type) for _ in range(n_outputs)]
        if attrs.get("domain") == ML_DOMAIN:
            self.uses_ml = True
        self.nodes.append(helper.make_node(op_type, list(inputs), outputs,
                                           name=self.fresh(op_type), **attrs))
        return outputs[0] if n_outputs == 1 else outputs

    def const(self, value, dtype, hint="const"):
        """An initializer holding `value` as `dtype` (equal scalars are shared)."""
        from onnx import numpy_helper
        array = np.asarray(value, dtype=dtype)
        key = (array.dtype.str, array.shape, array.tobytes())
        if key not in self._constants:
            name = f"const/{hint}_{next(self._counter)}"
            self.initializers.append(numpy_helper.from_array(array, name))
            self._constants[key] = name
        return self._constants[key]

    def weight(self, name):
        """The initializer of weight `name` (added when first read, so none is unused)."""
        from onnx import numpy_helper
        if name not in self._weights_added:
            self._weights_added.add(name)
            self.initializers.append(numpy_helper.from_array(
                np.asarray(self.graph.weights[name]), name))
        return name

    def ints(self, values):
        return self.const(np.asarray(values, dtype=np.int64).reshape(-1), np.int64, "ints")

    # --------------------------------------------------------- node inputs
    def info(self, node, index):
        return self.graph.input_info(node, index)

    def dtype(self, node):
        return self.graph.values[node.output].dtype

    def ndim(self, node, index=None):
        info = self.graph.values[node.output] if index is None else self.info(node, index)
        return info.ndim

    def input(self, node, index, dtype=None):
        """Input `index` as an ONNX name, cast to `dtype` if given (literals become constants)."""
        ref = node.inputs[index]
        if isinstance(ref, Literal):
            return self.const(ref.value, dtype if dtype is not None else
                              np.result_type(ref.value), "literal")
        name = self.names[ref] if ref in self.names else self.weight(ref)
        if dtype is not None and self.graph.values[ref].dtype != np.dtype(dtype):
            name = self.make("Cast", [name], to=_onnx_type(dtype))
        return name

    def inputs(self, node, dtype=None):
        """All inputs, cast to one dtype (by default the one NumPy computes the node in)."""
        dtype = self.graph.compute_dtype(node) if dtype is None else dtype
        return [self.input(node, i, dtype) for i in range(len(node.inputs))]

    # --------------------------------------------------------- shapes
    def batch_size(self):
        """An int64 [1] tensor holding the batch size (read from the first input's shape)."""
        if self._batch is None:
            scope, self.scope = self.scope, "batch"
            self._batch = self.make("Shape", [self.graph.inputs[0].name], start=0, end=1)
            self.scope = scope
        return self._batch

    def shape(self, dims):
        """An int64 1-D tensor for a shape whose entries may be `BatchDim`s."""
        if not any(isinstance(d, BatchDim) for d in dims):
            return self.ints(list(dims))
        pieces = []
        for d in dims:
            if isinstance(d, BatchDim):
                batch = self.batch_size()
                pieces.append(batch if d.factor == 1 else
                              self.make("Mul", [batch, self.ints([d.factor])]))
            else:
                pieces.append(self.ints([d]))
        return self.make("Concat", pieces, axis=0)

    def reduce(self, op_type, x, axes, keepdims):
        """ReduceX over `axes` (None: all) in this opset's form (axes attribute or input)."""
        keep = int(bool(keepdims))
        if axes is None:
            return self.make(op_type, [x], keepdims=keep)
        axes = [int(a) for a in ((axes,) if isinstance(axes, (int, np.integer)) else axes)]
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.make(op_type, [x, self.ints(axes)], keepdims=keep)
        return self.make(op_type, [x], axes=axes, keepdims=keep)


# ------------------------------------------------------------------- rules
_ELEMENTWISE = {"add": "Add", "subtract": "Sub", "multiply": "Mul", "divide": "Div",
                "power": "Pow", "matmul": "MatMul", "negative": "Neg", "exp": "Exp",
                "log": "Log", "sqrt": "Sqrt", "abs": "Abs", "sin": "Sin", "cos": "Cos",
                "sign": "Sign", "exponential": "Exp", "tanh": "Tanh", "relu": "Relu",
                "sigmoid": "Sigmoid", "softsign": "Softsign", "softplus": "Softplus",
                "tan": "Tan", "sinh": "Sinh", "cosh": "Cosh", "arcsin": "Asin",
                "arccos": "Acos", "arctan": "Atan", "arcsinh": "Asinh", "arccosh": "Acosh",
                "arctanh": "Atanh", "reciprocal": "Reciprocal", "erf": "Erf", "floor": "Floor",
                "ceil": "Ceil", "copy": "Identity"}
_COMPARISONS = {"equal": "Equal", "less": "Less", "less_equal": "LessOrEqual",
                "greater": "Greater", "greater_equal": "GreaterOrEqual"}


@ONNX_OPS.register(*_ELEMENTWISE)
def _elementwise(b, node):
    return b.make(_ELEMENTWISE[node.op], b.inputs(node, b.dtype(node)))


@ONNX_OPS.register("identity")
def _identity(b, node):
    return b.make("Identity", [b.input(node, 0)])


@ONNX_OPS.register("square")
def _square(b, node):
    x = b.input(node, 0)
    return b.make("Mul", [x, x])


@ONNX_OPS.register("log1p")
def _log1p(b, node):
    x = b.input(node, 0)
    return b.make("Log", [b.make("Add", [x, b.const(1, b.dtype(node))])])


@ONNX_OPS.register(*_COMPARISONS, "not_equal")
def _comparison(b, node):
    if node.op == "not_equal":
        return b.make("Not", [b.make("Equal", b.inputs(node))])
    return b.make(_COMPARISONS[node.op], b.inputs(node))


@ONNX_OPS.register("logical_and", "logical_or", "logical_not")
def _logical(b, node):
    op_type = {"logical_and": "And", "logical_or": "Or", "logical_not": "Not"}[node.op]
    return b.make(op_type, b.inputs(node, np.bool_))


@ONNX_OPS.register("where")
def _where(b, node):
    dtype = b.dtype(node)
    return b.make("Where", [b.input(node, 0, np.bool_), b.input(node, 1, dtype),
                            b.input(node, 2, dtype)])


@ONNX_OPS.register("clip")
def _clip(b, node):
    dtype = b.dtype(node)
    bounds = [("" if node.attrs[k] is None else b.const(node.attrs[k], dtype))
              for k in ("min_value", "max_value")]
    return b.make("Clip", [b.input(node, 0, dtype)] + bounds)


@ONNX_OPS.register("cast")
def _cast(b, node):
    return b.make("Cast", [b.input(node, 0)], to=_onnx_type(node.attrs["dtype"]))


@ONNX_OPS.register("sum", "mean", "extreme")
def _reduce(b, node):
    if node.op == "extreme":
        op_type = "ReduceMax" if node.attrs["kind"] == "max" else "ReduceMin"
    else:
        op_type = "ReduceSum" if node.op == "sum" else "ReduceMean"
    return b.reduce(op_type, b.input(node, 0), node.attrs["axis"], node.attrs["keepdims"])


@ONNX_OPS.register("all", "any")
def _all_any(b, node):
    as_int = b.input(node, 0, np.int32)
    op_type = "ReduceMin" if node.op == "all" else "ReduceMax"
    reduced = b.reduce(op_type, as_int, node.attrs["axis"], node.attrs["keepdims"])
    return b.make("Cast", [reduced], to=_onnx_type(np.bool_))


@ONNX_OPS.register("sum_to")
def _sum_to(b, node):
    total = b.reduce("ReduceSum", b.input(node, 0),
                     _sum_to_axes(b.info(node, 0).shape, node.attrs["shape"]), True)
    return b.make("Reshape", [total, b.shape(node.attrs["shape"])])


def _sum_to_axes(source, target):
    extra = len(source) - len(target)
    return list(range(extra)) + [i + extra for i, n in enumerate(target)
                                 if n == 1 and source[i + extra] != 1]


@ONNX_OPS.register("reshape")
def _reshape(b, node):
    shape = node.attrs["shape"]
    shape = (shape,) if isinstance(shape, (int, BatchDim)) else tuple(shape)
    zero = any(d == 0 for d in shape if not isinstance(d, BatchDim))
    return b.make("Reshape", [b.input(node, 0), b.shape(shape)], **({"allowzero": 1}
                                                                   if zero else {}))


@ONNX_OPS.register("broadcast_to")
def _broadcast_to(b, node):
    return b.make("Expand", [b.input(node, 0), b.shape(node.attrs["shape"])])


@ONNX_OPS.register("transpose")
def _transpose(b, node):
    axes = node.attrs["axes"]
    perm = list(range(b.ndim(node, 0)))[::-1] if axes is None else [int(a) for a in axes]
    return b.make("Transpose", [b.input(node, 0)], perm=perm)


@ONNX_OPS.register("concatenate")
def _concatenate(b, node):
    return b.make("Concat", b.inputs(node, b.dtype(node)), axis=int(node.attrs["axis"]))


@ONNX_OPS.register("stack")
def _stack(b, node):
    axis = int(node.attrs["axis"]) % b.ndim(node)
    pieces = [b.make("Unsqueeze", [x, b.ints([axis])]) for x in b.inputs(node, b.dtype(node))]
    return b.make("Concat", pieces, axis=axis)


@ONNX_OPS.register("take")
def _take(b, node):
    table, indices = b.input(node, 0), b.input(node, 1)
    if b.info(node, 1).dtype.kind not in "iu":
        indices = b.make("Cast", [indices], to=_onnx_type(np.int64))
    axis = node.attrs["axis"]
    if axis is None:
        table = b.make("Reshape", [table, b.ints([-1])])
        axis = 0
    return b.make("Gather", [table, indices], axis=int(axis))


@ONNX_OPS.register("getitem")
def _getitem(b, node):
    return _Indexing(b, node).write()


class _Indexing:
    """`x[key]` for ints, slices, None, Ellipsis and one 1-D index array, as ONNX ops."""

    def __init__(self, b, node):
        self.b, self.node = b, node
        self.shape = b.info(node, 0).shape
        key = node.attrs["key"]
        self.key = list(key) if isinstance(key, tuple) else [key]
        self.arrays = list(range(1, len(node.inputs)))

    def _fail(self):
        path, class_name = self.node.scope
        raise ExportError(
            f"Cannot export model '{self.b.graph.name}' to ONNX: layer '{path}' ({class_name}) "
            f"indexes a tensor with {self.node.attrs['key']!r}; ONNX export supports ints, "
            "slices, None, Ellipsis and one 1-D index array (without ints).")

    def _expanded(self):
        consuming = sum(1 for k in self.key if k is not None and k is not Ellipsis)
        if self.key.count(Ellipsis) > 1:
            self._fail()
        entries = []
        for k in self.key:
            if k is Ellipsis:
                entries.extend([slice(None)] * (len(self.shape) - consuming))
            else:
                entries.append(k)
        if Ellipsis not in self.key:
            entries.extend([slice(None)] * (len(self.shape) - consuming))
        return entries

    def write(self):
        b, node = self.b, self.node
        entries = self._expanded()
        starts, ends, axes, steps, squeeze, gathers, new_axes = [], [], [], [], [], [], []
        axis = position = 0
        for k in entries:
            if k is None:
                new_axes.append(position)
                position += 1
                continue
            if isinstance(k, (int, np.integer)):
                k = int(k)
                starts.append(k)
                ends.append(k + 1 if k != -1 else _INT64_MAX)
                axes.append(axis)
                steps.append(1)
                squeeze.append(axis)
            elif isinstance(k, slice):
                if _has_batch_bound(k):
                    self._fail()
                if k != slice(None):
                    step = 1 if k.step is None else int(k.step)
                    default_start, default_end = (0, _INT64_MAX) if step > 0 else \
                        (_INT64_MAX, _INT64_MIN)
                    starts.append(default_start if k.start is None else int(k.start))
                    ends.append(default_end if k.stop is None else int(k.stop))
                    axes.append(axis)
                    steps.append(step)
                position += 1
            else:
                gathers.append(axis)
                position += 1
            axis += 1
        if len(gathers) > 1 or (gathers and squeeze):
            self._fail()
        x = b.input(node, 0)
        if axes:
            x = b.make("Slice", [x, b.ints(starts), b.ints(ends), b.ints(axes), b.ints(steps)])
        if gathers:
            x = b.make("Gather", [x, self._index_array()], axis=gathers[0])
        if squeeze:
            x = b.make("Squeeze", [x, b.ints(squeeze)])
        if new_axes:
            x = b.make("Unsqueeze", [x, b.ints(new_axes)])
        if x == b.names.get(node.inputs[0]):
            x = b.make("Identity", [x])
        return x

    def _index_array(self):
        b, node = self.b, self.node
        info = b.info(node, self.arrays[0])
        if info.ndim != 1:
            self._fail()
        if info.dtype == np.bool_:
            if info.kind != "weight":
                self._fail()
            return b.ints(np.nonzero(b.graph.weights[info.name])[0])
        return b.input(node, self.arrays[0], np.int64)


def _has_batch_bound(k):
    return any(isinstance(v, BatchDim) for v in (k.start, k.stop, k.step))


# ---------------------------------------------------------------- nn ops
def activation(b, name, x, dtype, params):
    """Writes activation `name` of numnet's kernel table on ONNX value `x`."""
    if name == "linear":
        return x
    simple = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "exponential": "Exp",
              "softsign": "Softsign", "softplus": "Softplus", "sign": "Sign"}
    if name in simple:
        return b.make(simple[name], [x])
    rule = _ACTIVATIONS.get(name)
    if rule is None:
        raise ExportError(f"numnet cannot write the activation {name!r} as ONNX yet.")
    return rule(b, x, dtype, **params)


def _c(b, value, dtype):
    return b.const(value, dtype)


def _leaky_relu(b, x, dtype, negative_slope=0.2):
    return b.make("LeakyRelu", [x], alpha=float(negative_slope))


def _relu_with_options(b, x, dtype, negative_slope=0.0, max_value=None, threshold=0.0):
    if negative_slope != 0.0 and max_value is None and threshold == 0.0:
        return _leaky_relu(b, x, dtype, negative_slope)
    if threshold != 0.0:
        passing = b.make("Cast", [b.make("Greater", [x, _c(b, threshold, dtype)])],
                         to=_onnx_type(dtype))
        y = b.make("Mul", [x, passing])
    else:
        y = b.make("Relu", [x])
    if max_value is not None:
        y = b.make("Clip", [y, _c(b, 0, dtype), _c(b, max_value, dtype)])
    if negative_slope != 0.0:
        below = b.make("Relu", [b.make("Sub", [_c(b, threshold, dtype), x])])
        y = b.make("Sub", [y, b.make("Mul", [_c(b, negative_slope, dtype), below])])
    return y


def _silu(b, x, dtype):
    return b.make("Mul", [x, b.make("Sigmoid", [x])])


def _gelu(b, x, dtype, approximate=False):
    half_x = b.make("Mul", [x, _c(b, 0.5, dtype)])
    if approximate:
        cube = b.make("Mul", [b.make("Mul", [x, x]), x])
        inner = b.make("Add", [x, b.make("Mul", [cube, _c(b, 0.044715, dtype)])])
        t = b.make("Tanh", [b.make("Mul", [inner, _c(b, np.sqrt(2 / np.pi), dtype)])])
    else:
        t = b.make("Erf", [b.make("Div", [x, _c(b, np.sqrt(2.0), dtype)])])
    return b.make("Mul", [half_x, b.make("Add", [t, _c(b, 1, dtype)])])


def _mish(b, x, dtype):
    return b.make("Mul", [x, b.make("Tanh", [b.make("Softplus", [x])])])


# ---------------------------------------------- Keras 3's newer activations
def _celu(b, x, dtype, alpha=1.0):
    # max(x, 0) + alpha * expm1(min(x, 0) / alpha); ONNX's Celu takes float32 only.
    negative = b.make("Div", [b.make("Min", [x, _c(b, 0, dtype)]), _c(b, alpha, dtype)])
    negative = b.make("Sub", [b.make("Exp", [negative]), _c(b, 1, dtype)])
    return b.make("Add", [b.make("Relu", [x]), b.make("Mul", [negative, _c(b, alpha, dtype)])])


def _threshold(b, x, dtype, threshold=0.0, default_value=0.0):
    return b.make("Where", [b.make("Greater", [x, _c(b, threshold, dtype)]), x,
                            _c(b, default_value, dtype)])


def _sparse_plus(b, x, dtype):
    middle = b.make("Add", [x, _c(b, 1, dtype)])
    middle = b.make("Mul", [b.make("Mul", [middle, middle]), _c(b, 0.25, dtype)])
    upper = b.make("Where", [b.make("Less", [x, _c(b, 1, dtype)]), middle, x])
    return b.make("Where", [b.make("LessOrEqual", [x, _c(b, -1, dtype)]), _c(b, 0, dtype), upper])


def _sparse_sigmoid(b, x, dtype):
    middle = b.make("Mul", [b.make("Add", [x, _c(b, 1, dtype)]), _c(b, 0.5, dtype)])
    upper = b.make("Where", [b.make("GreaterOrEqual", [x, _c(b, 1, dtype)]), _c(b, 1, dtype),
                             middle])
    return b.make("Where", [b.make("LessOrEqual", [x, _c(b, -1, dtype)]), _c(b, 0, dtype), upper])


def _squareplus(builder, x, dtype, b=4):  # `b` is squareplus' own parameter here
    square = builder.make("Mul", [x, x])
    root = builder.make("Sqrt", [builder.make("Add", [square, _c(builder, b, dtype)])])
    return builder.make("Mul", [builder.make("Add", [root, x]), _c(builder, 0.5, dtype)])


_ACTIVATIONS = {
    "relu6": lambda b, x, dtype: b.make("Clip", [x, _c(b, 0, dtype), _c(b, 6, dtype)]),
    "hard_tanh": lambda b, x, dtype: b.make("Clip", [x, _c(b, -1, dtype), _c(b, 1, dtype)]),
    "hard_silu": lambda b, x, dtype: b.make("HardSwish", [x]),
    "hard_shrink": lambda b, x, dtype, threshold=0.5: b.make(
        "Shrink", [x], bias=0.0, lambd=float(threshold)),
    "soft_shrink": lambda b, x, dtype, threshold=0.5: b.make(
        "Shrink", [x], bias=float(threshold), lambd=float(threshold)),
    "log_sigmoid": lambda b, x, dtype: b.make(
        "Neg", [b.make("Softplus", [b.make("Neg", [x])])]),
    "tanh_shrink": lambda b, x, dtype: b.make("Sub", [x, b.make("Tanh", [x])]),
    "squareplus": _squareplus, "celu": _celu, "threshold": _threshold, "sparse_plus": _sparse_plus,
    "sparse_sigmoid": _sparse_sigmoid,
    "leaky_relu": _leaky_relu, "relu_with_options": _relu_with_options, "silu": _silu,
    "gelu": _gelu, "mish": _mish,
    "elu": lambda b, x, dtype, alpha=1.0: b.make("Elu", [x], alpha=float(alpha)),
    "selu": lambda b, x, dtype: b.make("Selu", [x], alpha=SELU_ALPHA, gamma=SELU_SCALE),
    "hard_sigmoid": lambda b, x, dtype: b.make("HardSigmoid", [x], alpha=1 / 6, beta=0.5),
    "softmax": lambda b, x, dtype, axis=-1: b.make("Softmax", [x], axis=int(axis)),
    "log_softmax": lambda b, x, dtype, axis=-1: b.make("LogSoftmax", [x], axis=int(axis)),
    "heaviside": lambda b, x, dtype: b.make(
        "Cast", [b.make("GreaterOrEqual", [x, _c(b, 0, dtype)])], to=_onnx_type(dtype)),
}


@ONNX_OPS.register("leaky_relu", "relu_with_options", "silu", "gelu", "mish", "elu", "selu",
                   "hard_sigmoid", "softmax", "log_softmax", "heaviside", "relu6", "celu",
                   "hard_tanh", "hard_silu", "hard_shrink", "soft_shrink", "threshold",
                   "log_sigmoid", "tanh_shrink", "sparse_plus", "sparse_sigmoid", "squareplus")
def _activation(b, node):
    return activation(b, node.op, b.input(node, 0), b.dtype(node), node.attrs)


@ONNX_OPS.register("glu")
def _glu(b, node):
    axis = int(node.attrs.get("axis", -1)) % b.ndim(node, 0)
    half = _static_size(b, node, axis) // 2
    first, second = b.make("Split", [b.input(node, 0), b.ints([half, half])], n_outputs=2,
                           axis=axis)
    return b.make("Mul", [first, b.make("Sigmoid", [second])])


def _static_size(b, node, axis):
    size = b.info(node, 0).shape[axis]
    if isinstance(size, BatchDim):
        raise ExportError(f"Cannot export model '{b.graph.name}': layer '{node.scope[0]}' "
                          f"applies {node.op} along the batch axis.")
    return size


@ONNX_OPS.register("sparsemax")
def _sparsemax(b, node):
    """Martins & Astudillo's sparsemax, as numnet's kernel computes it, along one axis."""
    dtype, ndim = b.dtype(node), b.ndim(node, 0)
    axis = int(node.attrs.get("axis", -1)) % ndim
    n = _static_size(b, node, axis)
    x = b.input(node, 0)
    perm = [a for a in range(ndim) if a != axis] + [axis]
    moved = x if axis == ndim - 1 else b.make("Transpose", [x], perm=perm)
    ranked = b.make("TopK", [moved, b.ints([n])], n_outputs=2, axis=-1, largest=1, sorted=1)[0]
    cumulative = b.make("CumSum", [ranked, b.const(-1, np.int64)])
    positions = b.const(np.arange(1, n + 1), dtype)
    support = b.make("Greater", [b.make("Add", [_c(b, 1, dtype),
                                                b.make("Mul", [positions, ranked])]), cumulative])
    support = b.make("Cast", [support], to=_onnx_type(dtype))
    k = b.reduce("ReduceSum", support, [-1], True)
    total = b.reduce("ReduceSum", b.make("Mul", [ranked, support]), [-1], True)
    tau = b.make("Div", [b.make("Sub", [total, _c(b, 1, dtype)]), k])
    y = b.make("Relu", [b.make("Sub", [moved, tau])])
    if axis == ndim - 1:
        return y
    return b.make("Transpose", [y], perm=[perm.index(a) for a in range(ndim)])


@ONNX_OPS.register("argmax", "argmin")
def _argmax(b, node):
    op_type = "ArgMax" if node.op == "argmax" else "ArgMin"
    axis, keepdims = node.attrs["axis"], bool(node.attrs["keepdims"])
    x = b.input(node, 0)
    if axis is not None:
        return b.make(op_type, [x], axis=int(axis), keepdims=int(keepdims))
    index = b.make(op_type, [b.make("Reshape", [x, b.ints([-1])])], axis=0, keepdims=0)
    return b.make("Reshape", [index, b.ints([1] * b.ndim(node, 0))]) if keepdims else index


# ------------------------------------------------------ NumPy-style ops
def _pi(b, dtype, factor=1.0):
    return b.const(np.pi * factor, dtype)


@ONNX_OPS.register("log2", "log10", "exp2", "expm1", "cbrt", "trunc")
def _unary_math(b, node):
    dtype = b.dtype(node)
    x = b.input(node, 0, dtype)
    if node.op in ("log2", "log10"):
        base = 2.0 if node.op == "log2" else 10.0
        return b.make("Div", [b.make("Log", [x]), b.const(np.log(base), dtype)])
    if node.op == "exp2":
        return b.make("Pow", [b.const(2.0, dtype), x])
    if node.op == "expm1":  # exp(x) - 1 in float64, and its first terms very near 0
        wide = b.make("Cast", [x], to=_onnx_type(np.float64))
        small = b.make("Less", [b.make("Abs", [wide]), b.const(1e-8, np.float64)])
        series = b.make("Add", [wide, b.make("Mul", [b.make("Mul", [wide, wide]),
                                                     b.const(0.5, np.float64)])])
        exact = b.make("Sub", [b.make("Exp", [wide]), b.const(1.0, np.float64)])
        return b.make("Cast", [b.make("Where", [small, series, exact])], to=_onnx_type(dtype))
    magnitude = b.make("Abs", [x])
    part = b.make("Pow", [magnitude, b.const(1.0 / 3.0, dtype)]) if node.op == "cbrt" \
        else b.make("Floor", [magnitude])
    return b.make("Mul", [b.make("Sign", [x]), part])


@ONNX_OPS.register("isnan", "isinf", "isfinite", "signbit")
def _float_tests(b, node):
    x = b.input(node, 0)
    if node.op == "isnan":
        return b.make("IsNaN", [x])
    if node.op == "isinf":
        return b.make("IsInf", [x])
    if node.op == "isfinite":
        return b.make("Not", [b.make("Or", [b.make("IsNaN", [x]), b.make("IsInf", [x])])])
    return _signbit(b, x, b.info(node, 0).dtype)


def _signbit(b, x, dtype):
    """Whether `x`'s sign bit is set: below zero, or -0.0 (whose reciprocal is -inf)."""
    zero = b.const(0, dtype)
    negative_zero = b.make("And", [b.make("Equal", [x, zero]), b.make(
        "Less", [b.make("Div", [b.const(1, dtype), x]), zero])])
    return b.make("Or", [b.make("Less", [x, zero]), negative_zero])


@ONNX_OPS.register("round")
def _round(b, node):
    dtype = b.dtype(node)
    x = b.input(node, 0, dtype)
    decimals = int(node.attrs["decimals"])
    if decimals == 0:
        return b.make("Round", [x])
    scale = b.const(10.0 ** decimals, dtype)
    return b.make("Div", [b.make("Round", [b.make("Mul", [x, scale])]), scale])


@ONNX_OPS.register("nan_to_num")
def _nan_to_num(b, node):
    dtype = b.dtype(node)
    x, a = b.input(node, 0, dtype), node.attrs
    finfo = np.finfo(dtype)
    high = finfo.max if a["posinf"] is None else a["posinf"]
    low = finfo.min if a["neginf"] is None else a["neginf"]
    infinite = b.make("IsInf", [x])
    positive = b.make("Greater", [x, b.const(0, dtype)])
    fixed = b.make("Where", [infinite, b.make("Where", [positive, b.const(high, dtype),
                                                        b.const(low, dtype)]), x])
    return b.make("Where", [b.make("IsNaN", [x]), b.const(a["nan"], dtype), fixed])


@ONNX_OPS.register("arctan2")
def _arctan2(b, node):
    dtype = b.dtype(node)
    y, x = b.inputs(node, dtype)
    zero = b.const(0, dtype)
    # atan(y / x), turned by pi into the left half plane (x < 0 or x = -0.0), as NumPy
    # (y / 0 is an infinity: the angle is then +-pi/2 before the turn).
    half_turn = b.make("Where", [_signbit(b, y, dtype), _pi(b, dtype, -1.0), _pi(b, dtype)])
    left = _signbit(b, x, dtype)
    angle = b.make("Add", [b.make("Atan", [b.make("Div", [y, x])]),
                           b.make("Where", [left, half_turn, zero])])
    both_zero = b.make("And", [b.make("Equal", [x, zero]), b.make("Equal", [y, zero])])
    return b.make("Where", [both_zero, b.make("Where", [left, half_turn, y]), angle])


@ONNX_OPS.register("hypot", "logaddexp")
def _two_argument_math(b, node):
    dtype = b.dtype(node)
    x1, x2 = b.inputs(node, dtype)
    if node.op == "hypot":
        return b.make("Sqrt", [b.make("Add", [b.make("Mul", [x1, x1]),
                                              b.make("Mul", [x2, x2])])])
    gap = b.make("Neg", [b.make("Abs", [b.make("Sub", [x1, x2])])])
    tail = b.make("Log", [b.make("Add", [b.const(1.0, dtype), b.make("Exp", [gap])])])
    return b.make("Add", [b.make("Max", [x1, x2]), tail])


@ONNX_OPS.register("mod", "floor_divide")
def _floor_division(b, node):
    dtype = b.dtype(node)
    x1, x2 = b.inputs(node, dtype)
    if np.dtype(dtype).kind in "iu":  # ONNX's Mod with fmod=0 is Python's % for integers
        remainder = b.make("Mod", [x1, x2], fmod=0)
        if node.op == "mod":
            return remainder
        return b.make("Div", [b.make("Sub", [x1, remainder]), x2])
    quotient = b.make("Floor", [b.make("Div", [x1, x2])])
    if node.op == "floor_divide":
        return quotient
    return b.make("Sub", [x1, b.make("Mul", [x2, quotient])])


@ONNX_OPS.register("logical_xor")
def _logical_xor(b, node):
    return b.make("Xor", b.inputs(node, np.bool_))


@ONNX_OPS.register("prod")
def _prod(b, node):
    return b.reduce("ReduceProd", b.input(node, 0), node.attrs["axis"], node.attrs["keepdims"])


def _flat_or_axis(b, node):
    x, axis = b.input(node, 0), node.attrs["axis"]
    if axis is None:
        return b.make("Reshape", [x, b.ints([-1])]), 0
    return x, int(axis) % b.ndim(node, 0)


@ONNX_OPS.register("cumsum")
def _cumsum(b, node):
    x, axis = _flat_or_axis(b, node)
    return b.make("CumSum", [x, b.const(axis, np.int64)])


@ONNX_OPS.register("cumprod")
def _cumprod(b, node):
    """ONNX has no running product: the slices along the axis, multiplied one by one."""
    x, axis = _flat_or_axis(b, node)
    size = b.info(node, 0).shape
    length = int(np.prod([int(d) for d in size])) if node.attrs["axis"] is None else size[axis]
    if isinstance(length, BatchDim):
        refuse(node, b.graph.name, "ONNX", "a running product along the batch axis")
    products, running = [], None
    for i in range(int(length)):
        piece = b.make("Slice", [x, b.ints([i]), b.ints([i + 1]), b.ints([axis])])
        running = piece if running is None else b.make("Mul", [running, piece])
        products.append(running)
    return b.make("Concat", products, axis=axis)


@ONNX_OPS.register("count_nonzero")
def _count_nonzero(b, node):
    x = b.input(node, 0)
    nonzero = b.make("Cast", [b.make("Not", [b.make("Equal", [x, b.const(0, b.info(
        node, 0).dtype)])])], to=_onnx_type(b.dtype(node)))
    return b.reduce("ReduceSum", nonzero, node.attrs["axis"], False)


@ONNX_OPS.register("pad")
def _pad(b, node):
    dtype = b.dtype(node)
    widths = [(int(before), int(after)) for before, after in node.attrs["widths"]]
    pads = [before for before, _ in widths] + [after for _, after in widths]
    return b.make("Pad", [b.input(node, 0, dtype), b.ints(pads),
                          b.const(node.attrs["value"], dtype)], mode="constant")


def _int64(b, node, index):
    indices = b.input(node, index)
    if b.info(node, index).dtype != np.int64:
        indices = b.make("Cast", [indices], to=_onnx_type(np.int64))
    return indices


@ONNX_OPS.register("take_along_axis")
def _take_along_axis(b, node):
    return b.make("GatherElements", [b.input(node, 0), _int64(b, node, 1)],
                  axis=int(node.attrs["axis"]))


@ONNX_OPS.register("einsum")
def _einsum(b, node):
    return b.make("Einsum", b.inputs(node, b.dtype(node)), equation=node.attrs["subscripts"])


@ONNX_OPS.register("argsort")
def _argsort(b, node):
    """A full TopK (ascending, or descending): its indices; equal values keep their order."""
    axis = int(node.attrs["axis"] if node.attrs["axis"] is not None else -1)
    x = b.input(node, 0)
    if node.attrs["axis"] is None:
        x = b.make("Reshape", [x, b.ints([-1])])
        axis = 0
    length = b.make("Gather", [b.make("Shape", [x]), b.ints([axis])], axis=0)
    _, indices = b.make("TopK", [x, length], n_outputs=2, axis=axis,
                        largest=int(bool(node.attrs["descending"])), sorted=1)
    return indices


@ONNX_OPS.register("one_hot")
def _one_hot(b, node):
    a = node.attrs
    depth = int(a["num_classes"])
    labels = _int64(b, node, 0)
    # ONNX counts negative labels from the end; Keras encodes them as zeros.
    labels = b.make("Where", [b.make("Less", [labels, b.const(0, np.int64)]),
                              b.const(depth, np.int64), labels])
    return b.make("OneHot", [labels, b.const(depth, np.int64),
                             b.const([0, 1], a["dtype"])], axis=int(a["axis"]))


@ONNX_OPS.register("mean_square")
def _mean_square(b, node):
    """mean(diff ** 2) over the last axis, in numnet's order: a sum, then times 1 / n."""
    diff, dtype = b.input(node, 0), b.dtype(node)
    square = b.make("Mul", [diff, diff])
    if b.ndim(node, 0) == 0:
        return square
    total = b.reduce("ReduceSum", square, [-1], False)
    n = b.info(node, 0).shape[-1]
    return total if n == 1 else b.make("Mul", [total, _c(b, 1.0 / n, dtype)])


@ONNX_OPS.register("logsumexp")
def _logsumexp(b, node):
    return b.reduce("ReduceLogSumExp", b.input(node, 0), node.attrs["axis"],
                    node.attrs["keepdims"])


@ONNX_OPS.register("dense", "dense_stacked")
def _dense(b, node):
    dtype = b.dtype(node)
    x, kernel = b.input(node, 0, dtype), b.input(node, 1, dtype)
    bias = [b.input(node, 2, dtype)] if len(node.inputs) > 2 else []
    if b.ndim(node, 0) == 2:
        z = b.make("Gemm", [x, kernel] + bias)
    else:
        z = b.make("MatMul", [x, kernel])
        if bias:
            z = b.make("Add", [z] + bias)
    return activation(b, node.attrs["activation"], z, dtype, {})


@ONNX_OPS.register("affine")
def _affine(b, node):
    x, shift, scale = b.inputs(node, b.dtype(node))
    return b.make("Mul", [b.make("Add", [x, shift]), scale])


@ONNX_OPS.register("weighted_sum")
def _weighted_sum(b, node):
    dtype = b.dtype(node)
    values = b.inputs(node, dtype)
    product = values[0] if len(values) == 1 else b.make("Mul", values)
    total = b.reduce("ReduceSum", product, None, False)
    return b.make("Mul", [total, _c(b, node.attrs["scale"], dtype)])


# ------------------------------------------------------ normalization
@ONNX_OPS.register("rsqrt")
def _rsqrt(b, node):
    return b.make("Reciprocal", [b.make("Sqrt", [b.input(node, 0)])])


@ONNX_OPS.register("stop_gradient", "custom_gradient")  # both forward their first input
def _stop_gradient(b, node):
    return b.make("Identity", [b.input(node, 0)])


@ONNX_OPS.register("variance_around")
def _variance_around(b, node):
    x, mean = b.inputs(node, b.dtype(node))
    deviation = b.make("Sub", [x, mean])
    return b.reduce("ReduceMean", b.make("Mul", [deviation, deviation]), node.attrs["axis"],
                    node.attrs["keepdims"])


@ONNX_OPS.register("batch_normalization")
def _batch_normalization(b, node):
    """numnet's formula: `x * inv + (offset - mean * inv)`, `inv = scale / sqrt(var + eps)`.

    Written with elementwise ops rather than ONNX's `BatchNormalization`, which
    takes channels on axis 1 and rounds in another order.
    """
    dtype, attrs = b.dtype(node), node.attrs
    x, mean, variance = (b.input(node, i, dtype) for i in range(3))
    inv = b.make("Reciprocal", [b.make("Sqrt", [b.make("Add", [
        variance, b.const(attrs["epsilon"], dtype)])])])
    if attrs["has_scale"]:
        inv = b.make("Mul", [inv, b.input(node, len(node.inputs) - 1, dtype)])
    shift = b.make("Neg", [b.make("Mul", [mean, inv])])
    if attrs["has_offset"]:
        shift = b.make("Add", [b.input(node, 3, dtype), shift])
    return b.make("Add", [b.make("Mul", [x, inv]), shift])


# ------------------------------------------------------------ lookups
def _int64_codes(b, node, index=0):
    """Input `index` as int64 (floats truncated toward zero, as numnet's cast does)."""
    return b.input(node, index, np.int64)


@ONNX_OPS.register("embedding_lookup")
def _embedding_lookup(b, node):
    """`Gather` of table rows. Negative ids, which numnet refuses and `Gather` would count
    from the end, are sent past the table so that the runtime refuses them too."""
    ids = _int64_codes(b, node, 1)
    rows = b.info(node, 0).shape[0]
    ids = b.make("Where", [b.make("Less", [ids, b.const(0, np.int64)]),
                           b.const(rows, np.int64), ids])
    return b.make("Gather", [b.input(node, 0), ids], axis=0)


@ONNX_OPS.register("encode_categorical")
def _encode_categorical(b, node):
    """One-hot, multi-hot or count vectors, as numnet's kernel: codes compared with
    `arange(depth)` (codes outside [0, depth) match no slot), then summed over the codes.

    `Equal` rather than `OneHot`, which counts negative codes from the end.
    """
    attrs, info = node.attrs, b.info(node, 0)
    depth, mode, dtype = attrs["depth"], attrs["output_mode"], np.dtype(attrs["dtype"])
    codes, shape = _int64_codes(b, node), list(info.shape)
    if not shape:
        codes, shape = b.make("Reshape", [codes, b.ints([1])]), [1]
    if mode == "one_hot" and len(shape) > 1 and shape[-1] == 1:
        codes, shape = b.make("Squeeze", [codes, b.ints([-1])]), shape[:-1]
    hot = b.make("Equal", [b.make("Unsqueeze", [codes, b.ints([-1])]),
                           b.const(np.arange(depth), np.int64, "slots")])
    if mode == "one_hot":
        return b.make("Cast", [hot], to=_onnx_type(dtype))
    weights = b.input(node, 1) if len(node.inputs) > 1 else None
    if len(shape) <= 2:  # per row (a 1-D input is one row), as a bincount
        return _counts(b, hot, weights, b.info(node, 1) if weights else None, mode, dtype)
    # rank 3 and more: one-hot, then reduced over axis 1 (Keras' generic path)
    compute = dtype if weights is None else np.result_type(dtype, b.info(node, 1).dtype)
    values = b.make("Cast", [hot], to=_onnx_type(compute))
    if weights is not None:
        values = b.make("Mul", [values, b.make("Unsqueeze", [b.input(node, 1, compute),
                                                            b.ints([-1])])])
    op_type = "ReduceMax" if mode == "multi_hot" else "ReduceSum"
    return b.make("Cast", [b.reduce(op_type, values, [1], False)], to=_onnx_type(dtype))


def _counts(b, hot, weights, weights_info, mode, dtype):
    """How often each slot is hit along the codes axis (-2): int64 counts, or float64 sums
    of the weights (as NumPy's bincount), at most 1 for multi-hot, cast to the output dtype."""
    if weights is None:
        values = b.make("Cast", [hot], to=_onnx_type(np.int64))
    else:
        dtype = weights_info.dtype  # weighted counts take the weights' dtype
        weights = b.make("Cast", [weights], to=_onnx_type(np.float64))
        values = b.make("Mul", [b.make("Cast", [hot], to=_onnx_type(np.float64)),
                                b.make("Unsqueeze", [weights, b.ints([-1])])])
    counts = b.reduce("ReduceSum", values, [-2], False)
    if mode == "multi_hot":
        one = b.const(1, np.int64 if weights is None else np.float64)
        counts = b.make("Min", [counts, one])
    return b.make("Cast", [counts], to=_onnx_type(dtype))


@ONNX_OPS.register("bucketize")
def _bucketize(b, node):
    """The number of boundaries `<= x`, NaN past the last (as NumPy's `searchsorted` puts it),
    compared in float64 as numnet's kernel does. The NaN test is explicit: `not x < b`
    would say the same, but optimizers rewrite it as `x >= b` (TensorFlow's Grappler does)."""
    boundaries = node.attrs["buckets"].boundaries
    x = b.make("Unsqueeze", [b.input(node, 0, np.float64), b.ints([-1])])
    below = b.make("Or", [b.make("GreaterOrEqual", [
        x, b.const(boundaries, np.float64, "boundaries")]), b.make("IsNaN", [x])])
    return b.reduce("ReduceSum", b.make("Cast", [below], to=_onnx_type(np.int32)), [-1], False)


@ONNX_OPS.register("index_lookup")
def _index_lookup(b, node):
    """A vocabulary lookup as one `LabelEncoder` (ai.onnx.ml): a hash table from the tokens
    (strings or int64) to their indices, or back with `invert=True`.

    The mask token is an entry of the table (numnet replaces its lookup by the mask index).
    Several OOV indices for integers are `id mod num_oov_indices`; for strings they are a
    FarmHash or SipHash of the token, which ONNX cannot compute (the export is refused).
    """
    options, info = lookups.options_of(node), b.info(node, 0)
    if options["key_kind"] == "string" and info.dtype.kind != "U":
        refuse(node, b.graph.name, "ONNX", f"because its input is {info.dtype.name}, not "
               "strings (ONNX cannot format numbers as Python does)")
    if lookups.hashes_tokens(options):
        refuse(node, b.graph.name, "ONNX", "with num_oov_indices > 1 on hashed tokens, because "
               f"{NOT_EXPORTED_TO['ONNX']['hash_bins']}")
    keys = b.input(node, 0) if info.dtype.kind == "U" else _int64_codes(b, node)
    result = _label_encoder(b, keys, lookups.entries(node), options["default"])
    if options.get("num_oov_indices", 1) > 1 and not options["invert"]:
        buckets = b.make("Add", [b.make("Mod", [keys, b.const(options["num_oov_indices"],
                                                              np.int64)]),
                                 b.const(options["oov_start"], np.int64)])
        missing = b.make("Equal", [result, b.const(options["default"], np.int64)])
        result = b.make("Where", [missing, buckets, result])
    return result


def _label_encoder(b, keys, entries, default):
    """`entries[key]` for each key (`default` when absent), with the keys' and values' types."""
    key_type, value_type = ("strings" if isinstance(k, str) else "int64s"
                            for k in (next(iter(entries), 0), default))
    if not entries:  # LabelEncoder needs at least one key
        fill = b.const([default], str if value_type == "strings" else np.int64, "default")
        return b.make("Expand", [fill, b.make("Shape", [keys])])
    attrs = {f"keys_{key_type}": list(entries), f"values_{value_type}": list(entries.values()),
             f"default_{value_type[:-1]}": default}
    return b.make("LabelEncoder", [keys], domain=ML_DOMAIN, **attrs)
