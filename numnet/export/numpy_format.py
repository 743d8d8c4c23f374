"""The "numpy" export format: the forward pass written out as a plain NumPy module.

`export(graph, folder)` writes three files:

- `model.py`: `forward(inputs, weights)`, one line per op with a comment naming
  the layer, plus `load_weights()`; it imports only NumPy (and `math` when an
  exact GELU needs `erf`, `struct` when a Hashing layer needs TensorFlow's
  string hashes, which are then written out in Python);
- `weights.npz`: every weight the forward pass reads, by name (`dense/kernel`),
  and the constants of preprocessing layers (bucket boundaries, vocabularies);
- `numnet_export.json`: the format, input and output specs.

The module computes each op with the NumPy calls numnet's own kernels make,
so its outputs equal numnet's `predict` to float32 rounding. Loading the
folder (`numnet.export.load`) imports `model.py`: it is code, to be loaded
only from a folder you exported yourself or otherwise trust.
"""

import keyword
import math

import numpy as np

from numnet.export.graph import BatchDim, Literal
from numnet.export.registry import OpTable

NUMPY_OPS = OpTable("numpy")
MODULE_FILE = "model.py"
WEIGHTS_FILE = "weights.npz"


def write(graph, folder, manifest):
    """Writes the module and the weights of `graph` into the (new, empty) `folder`."""
    import os
    source, constants = _module(graph)
    with open(os.path.join(folder, MODULE_FILE), "w", encoding="utf-8") as f:
        f.write(source)
    with open(os.path.join(folder, WEIGHTS_FILE), "wb") as f:
        np.savez(f, **graph.weights, **constants)
    manifest.update(module=MODULE_FILE, weights=WEIGHTS_FILE)


def module_source(graph):
    """The Python source of the module computing `graph`'s forward pass."""
    return _module(graph)[0]


def _module(graph):
    """(the module's source, the constants its rules added to the weights file)."""
    writer = _Writer(graph)
    body = writer.body()
    parts = [_header(graph, writer), *[_helper_source(name) for name in sorted(writer.helpers)],
             body]
    return "\n\n".join(part.strip("\n") + "\n" for part in parts), writer.constants


# ---------------------------------------------------------------- the writer
class _Writer:
    """Writes one line per node; rules turn a node into a NumPy expression."""

    def __init__(self, graph):
        self.graph = graph
        self.helpers = set()
        self.imports_math = False
        self.imports_struct = False
        self.locals = {}
        self.constants = {}  # name -> array: stored beside the weights

    # --------------------------------------------- what rules call
    def arg(self, node, index):
        """The expression of a node's input `index` (a local, a weight or a literal)."""
        ref = node.inputs[index]
        if isinstance(ref, Literal):
            text = _literal(ref.value)
            return f"({text})" if text.startswith("-") else text
        if ref in self.locals:
            return self.locals[ref]
        return f"weights[{ref!r}]"

    def args(self, node):
        return [self.arg(node, i) for i in range(len(node.inputs))]

    def attr(self, value):
        """Python source for an attribute value (batch-dependent sizes read `batch`)."""
        return _source(value)

    def helper(self, name):
        """Includes the helper function `name` (and those it calls) in the module."""
        self.helpers.add(name)
        for other in _NEEDS.get(name, ()):
            self.helper(other)
        if name == "_erf":
            self.imports_math = True
        if name == "_hashing":
            self.imports_struct = True
        return name

    def constant(self, node, role, array):
        """An expression reading `array` from the weights file, stored as `layer/role`."""
        base = name = f"{node.scope[0]}/{role}"
        n = 1
        while name in self.constants or name in self.graph.weights:
            name, n = f"{base}_{n}", n + 1
        self.constants[name] = np.asarray(array)
        return f"weights[{name!r}]"

    # --------------------------------------------- the body
    def body(self):
        graph = self.graph
        lines = ['def forward(inputs, weights):',
                 '    """The outputs (a dict of arrays) for `inputs`, a dict of arrays by input',
                 '    name, with `weights` from `load_weights()`."""']
        for i, name in enumerate(graph.input_values):
            local = self._local_name(name, f"x{i}")
            self.locals[name] = local
            lines.append(f"    {local} = np.asarray(inputs[{name!r}])")
        if _reads_batch(graph):
            lines.append(f"    batch = {self.locals[graph.input_values[0]]}.shape[0]")
        scope = None
        for i, node in enumerate(graph.nodes):
            if node.scope != scope:
                scope = node.scope
                lines.append(f"    # {scope[0]} ({scope[1]})")
            expression = NUMPY_OPS.rule(node, graph.name)(self, node)
            local = f"h{i}"
            self.locals[node.output] = local
            lines.append(f"    {local} = {expression}")
        outputs = ", ".join(f"{spec.name!r}: {self.locals[value]}"
                            for spec, value in zip(graph.outputs, graph.output_values))
        lines.append(f"    return {{{outputs}}}")
        return "\n".join(lines)

    def _local_name(self, name, fallback):
        ok = name.isidentifier() and not keyword.iskeyword(name) and name not in \
            ("np", "math", "inputs", "weights", "batch", "forward", "load_weights") and \
            not name.startswith("_") and not (name[0] == "h" and name[1:].isdigit())
        return name if ok else fallback


def _header(graph, writer):
    def describe(specs):
        return "\n".join(f"    {s.name}: {s.dtype.name} "
                         f"({', '.join('batch' if d is None else str(d) for d in s.shape)})"
                         for s in specs)
    modules = ["math"] * writer.imports_math + ["os"] + ["struct"] * writer.imports_struct
    imports = "".join(f"import {m}\n" for m in modules) + "\nimport numpy as np"
    specs = lambda items: "{" + ", ".join(  # noqa: E731
        f"{s.name!r}: ({s.dtype.name!r}, {tuple(s.shape)!r})" for s in items) + "}"
    return f'''"""The forward pass of the model {graph.name!r}, exported by numnet as plain NumPy.

Inputs:
{describe(graph.inputs)}
Outputs:
{describe(graph.outputs)}

    weights = load_weights()          # the arrays in weights.npz beside this file
    outputs = forward({{{", ".join(f"{s.name!r}: ..." for s in graph.inputs)}}}, weights)
"""

{imports}

INPUTS = {specs(graph.inputs)}
OUTPUTS = {specs(graph.outputs)}


def load_weights(path=None):
    """The weights (name -> array) from `path`, by default weights.npz beside this file."""
    if path is None:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights.npz")
    with np.load(path, allow_pickle=False) as data:
        return {{name: data[name] for name in data.files}}
'''


def _reads_batch(graph):
    from numnet.export.tracing import _has_batch
    return any(_has_batch(node.attrs) for node in graph.nodes)


def _literal(value):
    if isinstance(value, (bool, np.bool_)):
        return repr(bool(value))
    if isinstance(value, float) and not math.isfinite(value):
        return f'float("{value}")'
    return repr(value.item() if isinstance(value, np.generic) else value)


def _source(value):
    """Python source recreating an attribute value."""
    if isinstance(value, BatchDim):
        return "batch" if value.factor == 1 else f"{value.factor} * batch"
    if isinstance(value, tuple):
        inner = ", ".join(_source(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(_source(v) for v in value) + "]"
    if isinstance(value, slice):
        return f"slice({_source(value.start)}, {_source(value.stop)}, {_source(value.step)})"
    if value is Ellipsis:
        return "Ellipsis"
    if isinstance(value, np.dtype):
        return f"np.dtype({value.name!r})"
    if isinstance(value, (int, float, bool, np.generic)) or value is None:
        return _literal(value) if value is not None else "None"
    raise ValueError(f"cannot write the attribute {value!r} as Python")


# ------------------------------------------------------------------- rules
_BINARY = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/", "power": "**",
           "matmul": "@"}
_UFUNCS = {"exp": "np.exp", "log": "np.log", "log1p": "np.log1p", "sqrt": "np.sqrt",
           "square": "np.square", "abs": "np.abs", "sin": "np.sin", "cos": "np.cos",
           "sign": "np.sign", "negative": "np.negative", "logical_not": "np.logical_not",
           "equal": "np.equal", "not_equal": "np.not_equal", "less": "np.less",
           "less_equal": "np.less_equal", "greater": "np.greater",
           "greater_equal": "np.greater_equal", "logical_and": "np.logical_and",
           "logical_or": "np.logical_or", "tanh": "np.tanh", "exponential": "np.exp",
           "logical_xor": "np.logical_xor"}
# The NumPy-style ops (`ops.tan`, `ops.mod`, ...) are the NumPy functions of their names.
_UFUNCS.update({name: f"np.{name}" for name in (
    "tan", "sinh", "cosh", "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh",
    "log2", "log10", "expm1", "exp2", "reciprocal", "cbrt", "floor", "ceil", "trunc", "isnan",
    "isinf", "isfinite", "signbit", "arctan2", "hypot", "logaddexp", "mod", "floor_divide")})


@NUMPY_OPS.register(*_BINARY)
def _binary(w, node):
    a, b = w.args(node)
    return f"{a} {_BINARY[node.op]} {b}"


@NUMPY_OPS.register(*_UFUNCS)
def _ufunc(w, node):
    return f"{_UFUNCS[node.op]}({', '.join(w.args(node))})"


@NUMPY_OPS.register("identity", "copy")
def _identity(w, node):
    return f"np.array({w.arg(node, 0)}, copy=True)"


@NUMPY_OPS.register("where")
def _where(w, node):
    return f"np.where({', '.join(w.args(node))})"


@NUMPY_OPS.register("clip")
def _clip(w, node):
    return (f"np.clip({w.arg(node, 0)}, {w.attr(node.attrs['min_value'])}, "
            f"{w.attr(node.attrs['max_value'])})")


@NUMPY_OPS.register("cast")
def _cast(w, node):
    return f"{w.arg(node, 0)}.astype({node.attrs['dtype'].name!r})"


_REDUCE = {"sum": "np.add.reduce", "mean": "np.mean", "prod": "np.multiply.reduce"}


def _axis(w, axis):
    """An `axis` attribute as source (a list of axes becomes the tuple NumPy takes)."""
    return w.attr(tuple(axis) if isinstance(axis, list) else axis)


@NUMPY_OPS.register("sum", "mean", "extreme", "all", "any", "prod")
def _reduce(w, node):
    x = w.arg(node, 0)
    if node.op == "extreme":
        function = "np.maximum.reduce" if node.attrs["kind"] == "max" else "np.minimum.reduce"
    elif node.op in ("all", "any"):
        function = "np.logical_and.reduce" if node.op == "all" else "np.logical_or.reduce"
        x = f"{x}.astype(bool)"
    else:
        function = _REDUCE[node.op]
    return f"{function}({x}, axis={_axis(w, node.attrs['axis'])}, " \
        f"keepdims={bool(node.attrs['keepdims'])!r})"


@NUMPY_OPS.register("sum_to")
def _sum_to(w, node):
    return f"{w.helper('_sum_to')}({w.arg(node, 0)}, {w.attr(node.attrs['shape'])})"


@NUMPY_OPS.register("reshape")
def _reshape(w, node):
    return f"{w.arg(node, 0)}.reshape({w.attr(node.attrs['shape'])})"


@NUMPY_OPS.register("broadcast_to")
def _broadcast_to(w, node):
    return f"np.broadcast_to({w.arg(node, 0)}, {w.attr(node.attrs['shape'])})"


@NUMPY_OPS.register("transpose")
def _transpose(w, node):
    return f"np.transpose({w.arg(node, 0)}, {w.attr(node.attrs['axes'])})"


@NUMPY_OPS.register("concatenate", "stack")
def _join(w, node):
    function = "np.concatenate" if node.op == "concatenate" else "np.stack"
    return f"{function}([{', '.join(w.args(node))}], axis={node.attrs['axis']!r})"


@NUMPY_OPS.register("take")
def _take(w, node):
    return f"np.take({w.arg(node, 0)}, {w.arg(node, 1)}, axis={w.attr(node.attrs['axis'])})"


@NUMPY_OPS.register("getitem")
def _getitem(w, node):
    arrays = iter(w.args(node)[1:])
    key = node.attrs["key"]
    parts = key if isinstance(key, tuple) else (key,)
    written = [next(arrays) if _is_array_slot(k) else _index_source(k) for k in parts]
    inside = ", ".join(written) + ("," if isinstance(key, tuple) and len(parts) == 1 else "")
    return f"{w.arg(node, 0)}[{inside}]"


def _is_array_slot(k):
    """A key entry standing for an index array (an op input), not a static index."""
    return not (k is None or k is Ellipsis or isinstance(k, (int, np.integer, slice, BatchDim)))


def _index_source(k):
    if isinstance(k, slice):
        parts = ["" if v is None else _source(v) for v in (k.start, k.stop, k.step)]
        return ":".join(parts[:2]) + (f":{parts[2]}" if parts[2] else "")
    return _source(k)


# ---------------------------------------------------------------- nn ops
_ACTIVATION_HELPERS = {"sigmoid": "_sigmoid", "softmax": "_softmax",
                       "log_softmax": "_log_softmax", "leaky_relu": "_leaky_relu",
                       "relu_with_options": "_relu_with_options", "elu": "_elu",
                       "selu": "_selu", "softplus": "_softplus", "softsign": "_softsign",
                       "silu": "_silu", "gelu": "_gelu", "mish": "_mish",
                       "hard_sigmoid": "_hard_sigmoid", "heaviside": "_heaviside",
                       "celu": "_celu", "glu": "_glu", "hard_shrink": "_hard_shrink",
                       "soft_shrink": "_soft_shrink", "hard_silu": "_hard_silu",
                       "log_sigmoid": "_log_sigmoid", "sparse_plus": "_sparse_plus",
                       "sparse_sigmoid": "_sparse_sigmoid", "sparsemax": "_sparsemax",
                       "squareplus": "_squareplus", "threshold": "_threshold"}
_SIMPLE_ACTIVATIONS = {"relu": "np.maximum({x}, 0)", "relu6": "np.clip({x}, 0, 6)",
                       "hard_tanh": "np.clip({x}, -1, 1)", "tanh": "np.tanh({x})",
                       "exponential": "np.exp({x})", "sign": "np.sign({x})",
                       "tanh_shrink": "{x} - np.tanh({x})"}


def _activation_call(w, name, x, params):
    if name == "linear":
        return x
    if name in _SIMPLE_ACTIVATIONS:
        return _SIMPLE_ACTIVATIONS[name].format(x=x)
    helper = w.helper(_ACTIVATION_HELPERS[name])
    extra = "".join(f", {key}={_source(value)}" for key, value in params.items())
    return f"{helper}({x}{extra})"


@NUMPY_OPS.register("relu", "sigmoid", "softmax", "log_softmax", "leaky_relu",
                    "relu_with_options", "elu", "selu", "softplus", "softsign", "silu", "gelu",
                    "mish", "hard_sigmoid", "heaviside", "relu6", "celu", "glu", "hard_shrink",
                    "soft_shrink", "hard_silu", "hard_tanh", "log_sigmoid", "sparse_plus",
                    "sparse_sigmoid", "sparsemax", "squareplus", "tanh_shrink", "threshold")
def _activation(w, node):
    return _activation_call(w, node.op, w.arg(node, 0), node.attrs)


@NUMPY_OPS.register("argmax", "argmin")
def _argmax(w, node):
    return (f"np.{node.op}({w.arg(node, 0)}, axis={w.attr(node.attrs['axis'])}, "
            f"keepdims={bool(node.attrs['keepdims'])!r})")


@NUMPY_OPS.register("erf")
def _erf_rule(w, node):
    return f"{w.helper('_erf')}({w.arg(node, 0)})"


@NUMPY_OPS.register("round")
def _round(w, node):
    return f"np.round({w.arg(node, 0)}, {w.attr(node.attrs['decimals'])})"


@NUMPY_OPS.register("nan_to_num")
def _nan_to_num(w, node):
    a = node.attrs
    return (f"np.nan_to_num({w.arg(node, 0)}, nan={w.attr(a['nan'])}, "
            f"posinf={w.attr(a['posinf'])}, neginf={w.attr(a['neginf'])})")


@NUMPY_OPS.register("cumsum", "cumprod")
def _running(w, node):
    return f"np.{node.op}({w.arg(node, 0)}, axis={w.attr(node.attrs['axis'])})"


@NUMPY_OPS.register("count_nonzero")
def _count_nonzero(w, node):
    return f"np.asarray(np.count_nonzero({w.arg(node, 0)}, axis={_axis(w, node.attrs['axis'])}))"


@NUMPY_OPS.register("pad")
def _pad(w, node):
    widths = [tuple(int(v) for v in pair) for pair in node.attrs["widths"]]
    return (f"np.pad({w.arg(node, 0)}, {w.attr(widths)}, "
            f"constant_values={w.attr(node.attrs['value'])})")


@NUMPY_OPS.register("take_along_axis")
def _take_along_axis(w, node):
    return (f"np.take_along_axis({w.arg(node, 0)}, {w.arg(node, 1)}, "
            f"{w.attr(node.attrs['axis'])})")


@NUMPY_OPS.register("einsum")
def _einsum(w, node):
    return f"np.einsum({node.attrs['subscripts']!r}, {', '.join(w.args(node))})"


@NUMPY_OPS.register("argsort")
def _argsort(w, node):
    x = w.arg(node, 0)
    if node.attrs["descending"]:
        x = f"-np.asarray({x}, dtype=np.int64 if {x}.dtype.kind in 'bu' else {x}.dtype)"
    return f"np.argsort({x}, axis={w.attr(node.attrs['axis'])}, kind='stable')"


@NUMPY_OPS.register("one_hot")
def _one_hot(w, node):
    a = node.attrs
    return (f"{w.helper('_one_hot')}({w.arg(node, 0)}, {int(a['num_classes'])}, "
            f"{w.attr(a['axis'])}, {w.attr(a['dtype'])})")


@NUMPY_OPS.register("mean_square")
def _mean_square(w, node):
    return f"{w.helper('_mean_square')}({w.arg(node, 0)})"


@NUMPY_OPS.register("logsumexp")
def _logsumexp(w, node):
    axis = node.attrs["axis"]
    return (f"{w.helper('_logsumexp')}({w.arg(node, 0)}, axis={w.attr(axis)}, "
            f"keepdims={node.attrs['keepdims']!r})")


@NUMPY_OPS.register("dense", "dense_stacked")
def _dense(w, node):
    args = w.args(node)
    z = f"{args[0]} @ {args[1]}" + (f" + {args[2]}" if len(args) > 2 else "")
    return _activation_call(w, node.attrs["activation"], z, {})


@NUMPY_OPS.register("affine")
def _affine(w, node):
    x, shift, scale = w.args(node)
    return f"({x} + {shift}) * {scale}"


@NUMPY_OPS.register("weighted_sum")
def _weighted_sum(w, node):
    args = w.args(node)
    values = args[0] if len(args) == 1 else f"{args[0]} * {args[1]}"
    return (f"np.asarray(np.add.reduce({values}, axis=None) * {_source(node.attrs['scale'])}, "
            f"dtype={args[0]}.dtype)")


# ------------------------------------------------------ normalization
@NUMPY_OPS.register("rsqrt")
def _rsqrt(w, node):
    return f"np.reciprocal(np.sqrt({w.arg(node, 0)}))"


@NUMPY_OPS.register("stop_gradient", "custom_gradient")  # both forward their first input
def _stop_gradient(w, node):
    return w.arg(node, 0)


@NUMPY_OPS.register("variance_around")
def _variance_around(w, node):
    x, mean = w.args(node)
    axis = node.attrs["axis"]
    return (f"{w.helper('_variance_around')}({x}, {mean}, axis={w.attr(tuple(axis))}, "
            f"keepdims={node.attrs['keepdims']!r})")


@NUMPY_OPS.register("batch_normalization")
def _batch_normalization(w, node):
    args, attrs = w.args(node), node.attrs
    offset = args[3] if attrs["has_offset"] else "None"
    scale = args[-1] if attrs["has_scale"] else "None"
    return (f"{w.helper('_batch_normalization')}({args[0]}, {args[1]}, {args[2]}, {offset}, "
            f"{scale}, {_source(attrs['epsilon'])})")


# ------------------------------------------------------------ lookups
@NUMPY_OPS.register("embedding_lookup")
def _embedding_lookup(w, node):
    return f"{w.helper('_embedding_lookup')}({', '.join(w.args(node))})"


@NUMPY_OPS.register("encode_categorical")
def _encode_categorical(w, node):
    attrs = node.attrs
    weights = f", count_weights={w.arg(node, 1)}" if len(node.inputs) > 1 else ""
    return (f"{w.helper('_encode')}({w.arg(node, 0)}, {attrs['depth']!r}, "
            f"{attrs['output_mode']!r}, {np.dtype(attrs['dtype']).name!r}{weights})")


@NUMPY_OPS.register("bucketize")
def _bucketize(w, node):
    boundaries = w.constant(node, "bin_boundaries", node.attrs["buckets"].boundaries)
    return f"np.searchsorted({boundaries}, {w.arg(node, 0)}, side='right').astype('int32')"


@NUMPY_OPS.register("index_lookup")
def _index_lookup(w, node):
    from numnet.export import lookups
    options, table = lookups.options_of(node), node.attrs["table"]
    keys = w.constant(node, "lookup_keys", table.keys)
    values = w.constant(node, "lookup_values", table.values)
    strings = options["key_kind"] == "string"
    hashed = lookups.hashes_tokens(options)
    if hashed:
        w.helper("_hashing")
    extra = {"invert": options["invert"], "mask_token": options.get("mask_token"),
             "mask_value": options.get("mask_value", 0),
             "num_oov_indices": options.get("num_oov_indices", 1),
             "oov_start": options.get("oov_start", 0), "strings": strings, "hashed": hashed,
             "salt": options.get("salt")}
    if extra["mask_token"] is None:
        del extra["mask_value"]  # (no mask token, no mask index)
    defaults = {"invert": False, "mask_token": None, "mask_value": 0, "num_oov_indices": 1,
                "oov_start": 0, "strings": False, "hashed": False, "salt": None}
    text = "".join(f", {key}={value!r}" for key, value in extra.items()
                   if value != defaults[key])
    return (f"{w.helper('_index_lookup')}({w.arg(node, 0)}, {keys}, {values}, "
            f"{options['default']!r}{text})")


@NUMPY_OPS.register("hash_bins")
def _hash_bins(w, node):
    attrs = node.attrs
    w.helper("_hashing")
    return (f"{w.helper('_hash_bins')}({w.arg(node, 0)}, {attrs['num_bins']!r}, "
            f"salt={attrs['salt']!r}, mask_value={attrs['mask_value']!r})")


# The helpers mirror numnet's kernels (numnet/kernels/activations.py) formula for formula.
_HELPERS = {
    "_sigmoid": '''
def _sigmoid(x):
    return (np.tanh(x * 0.5) + 1) * 0.5
''',
    "_softmax": '''
def _softmax(x, axis=-1):
    e = np.exp(x - np.maximum.reduce(x, axis=axis, keepdims=True))
    return e / np.add.reduce(e, axis=axis, keepdims=True)
''',
    "_log_softmax": '''
def _log_softmax(x, axis=-1):
    shifted = x - np.maximum.reduce(x, axis=axis, keepdims=True)
    return shifted - np.log(np.add.reduce(np.exp(shifted), axis=axis, keepdims=True))
''',
    "_leaky_relu": '''
def _leaky_relu(x, negative_slope=0.2):
    return np.where(x >= 0, x, x * negative_slope)
''',
    "_relu_with_options": '''
def _relu_with_options(x, negative_slope=0.0, max_value=None, threshold=0.0):
    if negative_slope != 0.0 and max_value is None and threshold == 0.0:
        return np.where(x >= 0, x, x * negative_slope)
    y = x * (x > threshold) if threshold != 0.0 else np.maximum(x, 0)
    if max_value is not None:
        y = np.clip(y, 0, max_value)
    if negative_slope != 0.0:
        y = y - negative_slope * np.maximum(threshold - x, 0)
    return y.astype(x.dtype)
''',
    "_elu": '''
def _elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))
''',
    "_selu": '''
def _selu(x):
    alpha, scale = 1.6732632423543772, 1.0507009873554805
    return scale * np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))
''',
    "_softplus": '''
def _softplus(x):
    return np.logaddexp(x, 0).astype(x.dtype)
''',
    "_softsign": '''
def _softsign(x):
    return x / (1 + np.abs(x))
''',
    "_silu": '''
def _silu(x):
    return x * _sigmoid(x)
''',
    "_one_hot": '''
def _one_hot(labels, num_classes, axis, dtype):
    labels = np.asarray(labels).astype(np.intp)
    inside = (labels >= 0) & (labels < num_classes)
    encoded = np.eye(num_classes, dtype=dtype)[np.where(inside, labels, 0)] * inside[..., None]
    return encoded if axis in (-1, encoded.ndim - 1) else np.moveaxis(encoded, -1, axis)
''',
    "_erf": '''
def _erf(x):
    return np.vectorize(math.erf, otypes=[x.dtype])(x)
''',
    "_gelu": '''
def _gelu(x, approximate=False):
    if approximate:
        c = 0.7978845608028654  # sqrt(2 / pi)
        return 0.5 * x * (1 + np.tanh(c * (x + 0.044715 * x ** 3)))
    return (0.5 * x * (1 + _erf(x / 1.4142135623730951))).astype(x.dtype)
''',
    "_mish": '''
def _mish(x):
    return x * np.tanh(np.logaddexp(x, 0)).astype(x.dtype)
''',
    "_hard_sigmoid": '''
def _hard_sigmoid(x):
    return np.clip(x / 6 + 0.5, 0, 1)
''',
    "_heaviside": '''
def _heaviside(x):
    return (x >= 0).astype(x.dtype)
''',
    "_celu": '''
def _celu(x, alpha=1.0):
    return np.maximum(x, 0) + np.expm1(np.minimum(x, 0) / alpha) * alpha
''',
    "_glu": '''
def _glu(x, axis=-1):
    a, b = np.split(x, 2, axis=axis)
    return a * _sigmoid(b)
''',
    "_hard_shrink": '''
def _hard_shrink(x, threshold=0.5):
    return np.multiply(x, np.abs(x) > threshold)
''',
    "_soft_shrink": '''
def _soft_shrink(x, threshold=0.5):
    shrunk = np.where(x > threshold, x - threshold, np.where(x < -threshold, x + threshold, 0))
    return shrunk.astype(x.dtype)
''',
    "_hard_silu": '''
def _hard_silu(x):
    return x * _hard_sigmoid(x)
''',
    "_log_sigmoid": '''
def _log_sigmoid(x):
    return np.negative(np.logaddexp(-x, 0).astype(x.dtype))
''',
    "_sparse_plus": '''
def _sparse_plus(x):
    middle = np.square(x + 1) * 0.25
    return np.where(x <= -1, 0, np.where(x < 1, middle, x)).astype(x.dtype)
''',
    "_sparse_sigmoid": '''
def _sparse_sigmoid(x):
    return np.where(x <= -1, 0, np.where(x >= 1, 1, (x + 1) * 0.5)).astype(x.dtype)
''',
    "_sparsemax": '''
def _sparsemax(x, axis=-1):
    moved = np.moveaxis(x, axis, -1)
    ranked = -np.sort(-moved, axis=-1)
    cumulative = np.cumsum(ranked, axis=-1)
    positions = np.arange(1, moved.shape[-1] + 1, dtype=x.dtype)
    k = np.add.reduce((1 + positions * ranked) > cumulative, axis=-1, keepdims=True)
    tau = (np.take_along_axis(cumulative, k - 1, axis=-1) - 1) / k.astype(x.dtype)
    return np.moveaxis(np.maximum(moved - tau, 0), -1, axis).astype(x.dtype)
''',
    "_squareplus": '''
def _squareplus(x, b=4):
    return (np.sqrt(x * x + x.dtype.type(b)) + x) * 0.5
''',
    "_threshold": '''
def _threshold(x, threshold=0.0, default_value=0.0):
    return np.where(x > threshold, x, default_value).astype(x.dtype)
''',
    "_mean_square": '''
def _mean_square(diff):
    if not diff.ndim:
        return diff * diff
    total = np.add.reduce(diff * diff, axis=-1)
    return total if diff.shape[-1] == 1 else total * (1.0 / diff.shape[-1])
''',
    "_logsumexp": '''
def _logsumexp(x, axis=None, keepdims=False):
    largest = np.max(x, axis=axis, keepdims=True)
    shift = np.where(np.isfinite(largest), largest, 0)
    with np.errstate(divide="ignore"):
        total = np.log(np.sum(np.exp(x - shift), axis=axis, keepdims=True)) + shift
    if not keepdims:
        total = total.reshape(np.sum(x, axis=axis).shape)
    return total.astype(x.dtype)
''',
    "_variance_around": '''
def _variance_around(x, mean, axis, keepdims):
    deviation = x - mean
    return np.mean(deviation * deviation, axis=axis, keepdims=keepdims)
''',
    "_batch_normalization": '''
def _batch_normalization(x, mean, variance, offset, scale, epsilon):
    inv = np.reciprocal(np.sqrt(variance + epsilon))
    if scale is not None:
        inv = inv * scale
    shift = -(mean * inv)
    if offset is not None:
        shift = offset + shift
    return x * inv + shift
''',
    "_embedding_lookup": '''
def _embedding_lookup(table, ids):
    ids = ids if ids.dtype.kind in "iu" else ids.astype(np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= len(table)):
        bad = ids.min() if ids.min() < 0 else ids.max()
        raise ValueError(f"Embedding lookup: index {int(bad)} is out of range for a table of "
                         f"{len(table)} rows (valid ids: 0 to {len(table) - 1}).")
    return np.take(table, ids, axis=0)
''',
    "_encode": '''
def _encode(x, depth, output_mode, dtype, count_weights=None):
    """One-hot, multi-hot or count vectors of the integer codes `x` (as Keras' CategoryEncoding)."""
    x = np.asarray(x)
    x = x if x.dtype == np.int64 else x.astype(np.int64)
    if x.ndim == 0:
        x = x.reshape(1)
    if output_mode == "one_hot":
        if x.ndim > 1 and x.shape[-1] == 1:
            x = x.reshape(x.shape[:-1])
        return (x[..., None] == np.arange(depth)).astype(dtype)
    if x.ndim > 2:  # one-hot, then reduced over axis 1
        one_hot = (x[..., None] == np.arange(depth)).astype(dtype)
        if count_weights is not None:
            one_hot = one_hot * np.asarray(count_weights)[..., None]
        if output_mode == "multi_hot":
            return np.max(one_hot, axis=1)
        return np.sum(one_hot, axis=1).astype(dtype, copy=False)
    rows = x.reshape(1, -1) if x.ndim == 1 else x  # a 1-D input is one row
    if rows.size and rows.min() < 0:
        raise ValueError("Multi-hot and count encodings need non-negative category codes; "
                         f"received {int(rows.min())}.")
    valid = (rows >= 0) & (rows < depth)
    slots = (np.arange(len(rows))[:, None] * depth + rows)[valid]
    weights = None
    if count_weights is not None:
        weights = np.broadcast_to(count_weights, rows.shape)[valid].astype(np.float64)
        dtype = np.asarray(count_weights).dtype
    counts = np.bincount(slots, weights=weights, minlength=len(rows) * depth)
    counts = counts.reshape(len(rows), depth)
    if output_mode == "multi_hot":
        counts = np.minimum(counts, 1)
    counts = counts.astype(dtype, copy=False)
    return counts[0] if x.ndim == 1 else counts
''',
    "_index_lookup": '''
def _index_lookup(x, keys, values, default, invert=False, mask_token=None, mask_value=0,
                  num_oov_indices=1, oov_start=0, strings=False, hashed=False, salt=None):
    """Vocabulary indices of the tokens `x` (the sorted `keys` map to `values`), or, with
    `invert`, the tokens of indices; Keras' IndexLookup."""
    x = np.asarray(x)
    if invert or not strings:
        x = x if x.dtype == np.int64 else x.astype(np.int64)
    elif x.dtype.kind == "S":
        x = np.char.decode(x, "utf-8")
    elif x.dtype.kind != "U":
        x = x.astype(str)
    if len(keys):
        position = np.searchsorted(keys, x)
        position[position == len(keys)] = 0
        result = np.where(keys[position] == x, values[position], default)
    else:
        result = np.full(x.shape, default)
    if invert:
        return result if mask_token is None else np.where(x == 0, mask_token, result)
    if mask_token is not None:
        result = np.where(x == mask_token, mask_value, result)
    if num_oov_indices == 0 and (result == -1).any():
        raise ValueError("When `num_oov_indices=0` all inputs should be in vocabulary, found "
                         f"OOV values {x[result == -1].tolist()[:10]}.")
    if num_oov_indices > 1:
        buckets = hash_buckets(x, num_oov_indices, salt) if hashed else x % num_oov_indices
        result = np.where(result == default, buckets + oov_start, result)
    return result
''',
    "_hash_bins": '''
def _hash_bins(x, num_bins, salt=None, mask_value=None):
    """Keras' Hashing: FarmHash64 (SipHash with a salt) of str(x), modulo `num_bins`."""
    if mask_value is None or num_bins == 1:
        return hash_buckets(x, num_bins, salt)
    return np.where(x == mask_value, 0, hash_buckets(x, num_bins - 1, salt) + 1)
''',
    "_sum_to": '''
def _sum_to(g, shape):
    extra = g.ndim - len(shape)
    if extra > 0:
        g = np.add.reduce(g, axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if stretched:
        g = np.add.reduce(g, axis=stretched, keepdims=True)
    return g.reshape(shape)
''',
}


def _helper_source(name):
    return _hashing_source() if name == "_hashing" else _HELPERS[name]


def _hashing_source():
    """TensorFlow's string hashes (FarmHash64, SipHash-2-4), as numnet's own kernel module
    `numnet.kernels.hashing` writes them in plain Python: its constants and functions,
    without its docstring and imports (`xp`, numnet's array module, is NumPy here)."""
    import ast
    import inspect
    from numnet.kernels import hashing
    source = inspect.getsource(hashing)
    parts = []
    for statement in ast.parse(source).body:
        if isinstance(statement, (ast.Import, ast.ImportFrom)) or (
                isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)):
            continue
        if isinstance(statement, ast.Assign) and any(
                getattr(t, "id", None) == "__all__" for t in statement.targets):
            continue
        parts.append(ast.get_source_segment(source, statement).replace("xp.", "np."))
    return "# TensorFlow's string hashes, from numnet.kernels.hashing\n" + "\n\n\n".join(parts)


# Helpers that call other helpers.
_NEEDS = {"_silu": ("_sigmoid",), "_gelu": ("_erf",), "_glu": ("_sigmoid",),
          "_hard_silu": ("_hard_sigmoid",)}
