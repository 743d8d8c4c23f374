"""Ops on symbolic tensors become graph nodes, as Keras 3's operations do.

`x + y`, `x * 2`, `x[:, None]` or `numnet.ops.exp(x)` on `KerasTensor`s record an
`Operation`: a weightless layer that applies the op when the Functional model runs. Each
serializes under the Keras class and module its op has there (`keras.src.ops.numpy.Add`,
`keras.src.ops.nn.Softmax`, ...) with the same split of arguments: tensors are call
arguments of the node, the other parameters (`axis`, `keepdims`, `dtype`, ...) are the
operation's config. So `.keras` files with such models open in Keras and the other way.

Output shapes and dtypes come from running the op on zeros twice, with the unknown
dimensions set to 2 and then 3: a dimension that follows them is unknown in the result.
No layer's `call()` runs: only numnet's own ops do.
"""

import inspect

from numnet.backend import standardize_data_format, xp

from numnet.autodiff import ops as _ops
from numnet.autodiff.ops.composite import check_slice_arguments
from numnet.autodiff.ops.core import checked_axes
from numnet.autodiff.tensor import Tensor
from numnet.layers.base import Layer
from numnet.layers.symbolic import KerasTensor, is_symbolic
from numnet.tree import assert_same_structure, flatten, map_structure, pack_sequence_as
from numnet.serialization import deserialize_keras_object, register_builtin

_NUMPY, _NN, _CORE = "keras.src.ops.numpy", "keras.src.ops.nn", "keras.src.ops.core"
_MATH, _LINALG = "keras.src.ops.math", "keras.src.ops.linalg"
_IMAGE = "keras.src.ops.image"


def _values(*xs):
    return [x.data if isinstance(x, Tensor) else xp.asarray(x) for x in xs]


def _no_gradient(numpy_fn):
    """A binary op without a gradient in Keras either (comparisons, integer division, logic)."""
    def op(x1, x2):
        return Tensor(numpy_fn(*_values(x1, x2)))
    return op


def _logical_not(x):
    return Tensor(xp.logical_not(_values(x)[0]))


def _get_item(x, key):
    if isinstance(key, list):  # a deserialized tuple key
        key = tuple(key)
    return _ops.getitem(x, key)


# Ops numnet's autodiff does not define, in the form an Operation calls them.
_EXTRA_FUNCTIONS = {
    "get_item": _get_item,
    "less": _no_gradient(xp.less),
    "less_equal": _no_gradient(xp.less_equal),
    "greater": _no_gradient(xp.greater),
    "greater_equal": _no_gradient(xp.greater_equal),
    "equal": _no_gradient(xp.equal),
    "not_equal": _no_gradient(xp.not_equal),
    "logical_and": _no_gradient(xp.logical_and),
    "logical_or": _no_gradient(xp.logical_or),
    "logical_not": _logical_not,
}

# numnet op -> (Keras module, Keras class, call (tensor) parameters in numnet's signature,
#               [(Keras config key, numnet parameter)]).
KERAS_OPS = {
    "add": (_NUMPY, "Add", ("x1", "x2"), []),
    "subtract": (_NUMPY, "Subtract", ("x1", "x2"), []),
    "multiply": (_NUMPY, "Multiply", ("x1", "x2"), []),
    "divide": (_NUMPY, "Divide", ("x1", "x2"), []),
    "true_divide": (_NUMPY, "TrueDivide", ("x1", "x2"), []),
    "matmul": (_NUMPY, "Matmul", ("x1", "x2"), []),
    "power": (_NUMPY, "Power", ("x1", "x2"), []),
    "maximum": (_NUMPY, "Maximum", ("x1", "x2"), []),
    "minimum": (_NUMPY, "Minimum", ("x1", "x2"), []),
    "negative": (_NUMPY, "Negative", ("x",), []),
    "abs": (_NUMPY, "Absolute", ("x",), []),
    "square": (_NUMPY, "Square", ("x",), []),
    "sqrt": (_NUMPY, "Sqrt", ("x",), []),
    "exp": (_NUMPY, "Exp", ("x",), []),
    "log": (_NUMPY, "Log", ("x",), []),
    "log1p": (_NUMPY, "Log1p", ("x",), []),
    "sin": (_NUMPY, "Sin", ("x",), []),
    "cos": (_NUMPY, "Cos", ("x",), []),
    "tanh": (_NUMPY, "Tanh", ("x",), []),
    "sign": (_NUMPY, "Sign", ("x",), []),
    "sum": (_NUMPY, "Sum", ("x",), [("axis", "axis"), ("keepdims", "keepdims")]),
    "mean": (_NUMPY, "Mean", ("x",), [("axis", "axis"), ("keepdims", "keepdims")]),
    "max": (_NUMPY, "Max", ("x",), [("axis", "axis"), ("keepdims", "keepdims"),
                                    ("initial", "initial")]),
    "min": (_NUMPY, "Min", ("x",), [("axis", "axis"), ("keepdims", "keepdims"),
                                    ("initial", "initial")]),
    "argmax": (_NUMPY, "Argmax", ("x",), [("axis", "axis"), ("keepdims", "keepdims")]),
    "argmin": (_NUMPY, "Argmin", ("x",), [("axis", "axis"), ("keepdims", "keepdims")]),
    "reshape": (_NUMPY, "Reshape", ("x",), [("newshape", "newshape")]),
    "transpose": (_NUMPY, "Transpose", ("x",), [("axes", "axes")]),
    "expand_dims": (_NUMPY, "ExpandDims", ("x",), [("axis", "axis")]),
    "squeeze": (_NUMPY, "Squeeze", ("x",), [("axis", "axis")]),
    "concatenate": (_NUMPY, "Concatenate", ("xs",), [("axis", "axis")]),
    "stack": (_NUMPY, "Stack", ("x",), [("axis", "axis")]),
    "take": (_NUMPY, "Take", ("x", "indices"), [("axis", "axis")]),
    "clip": (_NUMPY, "Clip", ("x",), [("x_min", "x_min"), ("x_max", "x_max")]),
    "where": (_NUMPY, "Where", ("condition", "x1", "x2"), []),
    "ones_like": (_NUMPY, "OnesLike", ("x",), [("dtype", "dtype")]),
    "zeros_like": (_NUMPY, "ZerosLike", ("x",), [("dtype", "dtype")]),
    "get_item": (_NUMPY, "GetItem", ("x", "key"), []),
    "floor_divide": (_NUMPY, "FloorDivide", ("x1", "x2"), []),
    "mod": (_NUMPY, "Mod", ("x1", "x2"), []),
    "less": (_NUMPY, "Less", ("x1", "x2"), []),
    "less_equal": (_NUMPY, "LessEqual", ("x1", "x2"), []),
    "greater": (_NUMPY, "Greater", ("x1", "x2"), []),
    "greater_equal": (_NUMPY, "GreaterEqual", ("x1", "x2"), []),
    "equal": (_NUMPY, "Equal", ("x1", "x2"), []),
    "not_equal": (_NUMPY, "NotEqual", ("x1", "x2"), []),
    "logical_and": (_NUMPY, "LogicalAnd", ("x1", "x2"), []),
    "logical_or": (_NUMPY, "LogicalOr", ("x1", "x2"), []),
    "logical_xor": (_NUMPY, "LogicalXor", ("x1", "x2"), []),
    "logical_not": (_NUMPY, "LogicalNot", ("x",), []),
    "round": (_NUMPY, "Round", ("x",), [("decimals", "decimals")]),
    "cast": (_CORE, "Cast", ("x",), [("dtype", "dtype")]),
    "stop_gradient": (_CORE, "StopGradient", ("variable",), []),
    "relu": (_NN, "Relu", ("x",), []),
    "relu6": (_NN, "Relu6", ("x",), []),
    "sigmoid": (_NN, "Sigmoid", ("x",), []),
    "softplus": (_NN, "Softplus", ("x",), []),
    "softsign": (_NN, "Softsign", ("x",), []),
    "silu": (_NN, "Silu", ("x",), []),
    "selu": (_NN, "Selu", ("x",), []),
    "hard_sigmoid": (_NN, "HardSigmoid", ("x",), []),
    "elu": (_NN, "Elu", ("x",), [("alpha", "alpha")]),
    "gelu": (_NN, "Gelu", ("x",), [("approximate", "approximate")]),
    "leaky_relu": (_NN, "LeakyRelu", ("x",), [("negative_slope", "negative_slope")]),
    "softmax": (_NN, "Softmax", ("x",), [("axis", "axis")]),
    "log_softmax": (_NN, "LogSoftmax", ("x",), [("axis", "axis")]),
    "one_hot": (_NN, "OneHot", ("x",), [("num_classes", "num_classes"), ("axis", "axis"),
                                        ("dtype", "dtype"), ("sparse", "sparse")]),
    # Added with the NumPy-style ops (checked against Keras 3.15.1's operations).
    "tan": (_NUMPY, "Tan", ("x",), []),
    "sinh": (_NUMPY, "Sinh", ("x",), []),
    "cosh": (_NUMPY, "Cosh", ("x",), []),
    "arcsin": (_NUMPY, "Arcsin", ("x",), []),
    "arccos": (_NUMPY, "Arccos", ("x",), []),
    "arctan": (_NUMPY, "Arctan", ("x",), []),
    "arcsinh": (_NUMPY, "Arcsinh", ("x",), []),
    "arccosh": (_NUMPY, "Arccosh", ("x",), []),
    "arctanh": (_NUMPY, "Arctanh", ("x",), []),
    "log2": (_NUMPY, "Log2", ("x",), []),
    "log10": (_NUMPY, "Log10", ("x",), []),
    "expm1": (_NUMPY, "Expm1", ("x",), []),
    "exp2": (_NUMPY, "Exp2", ("x",), []),
    "reciprocal": (_NUMPY, "Reciprocal", ("x",), []),
    "cbrt": (_NUMPY, "Cbrt", ("x",), []),
    "fabs": (_NUMPY, "Fabs", ("x",), []),
    "floor": (_NUMPY, "Floor", ("x",), []),
    "ceil": (_NUMPY, "Ceil", ("x",), []),
    "trunc": (_NUMPY, "Trunc", ("x",), []),
    "isnan": (_NUMPY, "Isnan", ("x",), []),
    "isinf": (_NUMPY, "Isinf", ("x",), []),
    "isfinite": (_NUMPY, "Isfinite", ("x",), []),
    "signbit": (_NUMPY, "Signbit", ("x",), []),
    "ravel": (_NUMPY, "Ravel", ("x",), []),
    "copy": (_NUMPY, "Copy", ("x",), []),
    "erf": (_MATH, "Erf", ("x",), []),
    "arctan2": (_NUMPY, "Arctan2", ("x1", "x2"), []),
    "hypot": (_NUMPY, "Hypot", ("x1", "x2"), []),
    "logaddexp": (_NUMPY, "Logaddexp", ("x1", "x2"), []),
    "divide_no_nan": (_NUMPY, "DivideNoNan", ("x1", "x2"), []),
    "outer": (_NUMPY, "Outer", ("x1", "x2"), []),
    "inner": (_NUMPY, "Inner", ("x1", "x2"), []),
    "vdot": (_NUMPY, "Vdot", ("x1", "x2"), []),
    "nan_to_num": (_NUMPY, "NanToNum", ("x",), [("nan", "nan"), ("posinf", "posinf"), ("neginf", "neginf")]),
    "prod": (_NUMPY, "Prod", ("x",), [("axis", "axis"), ("keepdims", "keepdims"), ("dtype", "dtype")]),
    "cumsum": (_NUMPY, "Cumsum", ("x",), [("axis", "axis"), ("dtype", "dtype")]),
    "cumprod": (_NUMPY, "Cumprod", ("x",), [("axis", "axis"), ("dtype", "dtype")]),
    "count_nonzero": (_NUMPY, "CountNonzero", ("x",), [("axis", "axis")]),
    "flip": (_NUMPY, "Flip", ("x",), [("axis", "axis")]),
    "roll": (_NUMPY, "Roll", ("x",), [("shift", "shift"), ("axis", "axis")]),
    "repeat": (_NUMPY, "Repeat", ("x",), [("repeats", "repeats"), ("axis", "axis")]),
    "moveaxis": (_NUMPY, "Moveaxis", ("x",), [("source", "source"), ("destination", "destination")]),
    "tril": (_NUMPY, "Tril", ("x",), [("k", "k")]),
    "triu": (_NUMPY, "Triu", ("x",), [("k", "k")]),
    "split": (_NUMPY, "Split", ("x",), [("indices_or_sections", "indices_or_sections"), ("axis", "axis")]),
    "hstack": (_NUMPY, "Hstack", ("xs",), []),
    "vstack": (_NUMPY, "Vstack", ("xs",), []),
    "unstack": (_CORE, "Unstack", ("x",), [("num", "num"), ("axis", "axis")]),
    # Array creation: the numbers are call arguments, the layout is config (Keras' split).
    "arange": (_NUMPY, "Arange", ("start", "stop", "step"), [("dtype", "dtype")]),
    "full": (_NUMPY, "Full", ("fill_value",), [("shape", "shape"), ("dtype", "dtype")]),
    "linspace": (_NUMPY, "Linspace", ("start", "stop"), [
        ("num", "num"), ("endpoint", "endpoint"), ("retstep", "retstep"), ("dtype", "dtype"),
        ("axis", "axis")]),
    "logspace": (_NUMPY, "Logspace", ("start", "stop"), [
        ("num", "num"), ("endpoint", "endpoint"), ("base", "base"), ("dtype", "dtype"),
        ("axis", "axis")]),
    "geomspace": (_NUMPY, "Geomspace", ("start", "stop"), [
        ("num", "num"), ("endpoint", "endpoint"), ("dtype", "dtype"), ("axis", "axis")]),
    "array": (_NUMPY, "Array", ("x",), [("dtype", "dtype")]),
    "i0": (_NUMPY, "I0", ("x",), []),
    "ndim": (_NUMPY, "Ndim", ("x",), []),
    "size": (_NUMPY, "Size", ("x",), []),
    # Control flow: its functions are call arguments or config, as in Keras' classes.
    "map": (_CORE, "Map", ("f", "xs"), []),
    "scan": (_CORE, "Scan", ("f", "init", "xs"), [("length", "length"), ("reverse", "reverse"),
                                                  ("unroll", "unroll")]),
    "associative_scan": (_CORE, "AssociativeScan", ("f", "elems"), [("reverse", "reverse"),
                                                                    ("axis", "axis")]),
    "vectorized_map": (_CORE, "VectorizedMap", ("elements",), [("function", "function")]),
    "while_loop": (_CORE, "WhileLoop", ("loop_vars",), [
        ("cond", "cond"), ("body", "body"), ("maximum_iterations", "maximum_iterations")]),
    "fori_loop": (_CORE, "ForiLoop", ("init_val",), [("lower", "lower"), ("upper", "upper"),
                                                     ("body_fun", "body_fun")]),
    "switch": (_CORE, "Switch", ("index", "branches", "operands"), []),
    "cond": (_CORE, "Cond", ("pred", "true_fn", "false_fn"), []),
    "pad": (_NUMPY, "Pad", ("x", "constant_values"), [("pad_width", "pad_width"), ("mode", "mode")]),
    "take_along_axis": (_NUMPY, "TakeAlongAxis", ("x", "indices"), [("axis", "axis")]),
    "diagonal": (_NUMPY, "Diagonal", ("x",), [("offset", "offset"), ("axis1", "axis1"), ("axis2", "axis2")]),
    "trace": (_NUMPY, "Trace", ("x",), [("offset", "offset"), ("axis1", "axis1"), ("axis2", "axis2")]),
    "tensordot": (_NUMPY, "Tensordot", ("x1", "x2"), [("axes", "axes")]),
    "einsum": (_NUMPY, "Einsum", ("operands",), [("subscripts", "subscripts")]),
    "norm": (_LINALG, "Norm", ("x",), [("ord", "ord"), ("axis", "axis"), ("keepdims", "keepdims")]),
    "sort": (_NUMPY, "Sort", ("x",), [("axis", "axis")]),
    "argsort": (_NUMPY, "Argsort", ("x",), [("axis", "axis")]),
    "top_k": (_MATH, "TopK", ("x",), [("k", "k"), ("sorted", "sorted")]),
    "full_like": (_NUMPY, "FullLike", ("x", "fill_value"), [("dtype", "dtype")]),
    # Square matrices (numnet.autodiff.ops.matrices).
    "inv": (_LINALG, "Inv", ("x",), []),
    "det": (_LINALG, "Det", ("x",), []),
    "solve": (_LINALG, "Solve", ("a", "b"), []),
    "solve_triangular": (_LINALG, "SolveTriangular", ("a", "b"), [("lower", "lower")]),
    "cholesky": (_LINALG, "Cholesky", ("x",), [("upper", "upper")]),
    "cholesky_inverse": (_LINALG, "CholeskyInverse", ("x",), [("upper", "upper")]),
    "slogdet": (_NUMPY, "Slogdet", ("x",), []),
    "logdet": (_MATH, "Logdet", ("x",), []),
    "eigh": (_LINALG, "Eigh", ("x",), []),
    "qr": (_LINALG, "Qr", ("x",), [("mode", "mode")]),
    "svd": (_LINALG, "SVD", ("x",), [("full_matrices", "full_matrices"), ("compute_uv", "compute_uv")]),
    "lu_factor": (_LINALG, "LuFactor", ("x",), []),
    "matrix_rank": (_LINALG, "MatrixRank", ("x",), [("tol", "tol")]),
    "pinv": (_LINALG, "Pinv", ("x",), [("rcond", "rcond")]),
    "lstsq": (_LINALG, "Lstsq", ("a", "b"), [("rcond", "rcond")]),
    # Integers (numnet.autodiff.ops.integers) and more of NumPy's functions.
    "bitwise_and": (_NUMPY, "BitwiseAnd", ("x", "y"), []),
    "bitwise_or": (_NUMPY, "BitwiseOr", ("x", "y"), []),
    "bitwise_xor": (_NUMPY, "BitwiseXor", ("x", "y"), []),
    "bitwise_not": (_NUMPY, "BitwiseNot", ("x",), []),
    "bitwise_invert": (_NUMPY, "BitwiseInvert", ("x",), []),
    "bitwise_left_shift": (_NUMPY, "BitwiseLeftShift", ("x", "y"), []),
    "bitwise_right_shift": (_NUMPY, "BitwiseRightShift", ("x", "y"), []),
    "left_shift": (_NUMPY, "LeftShift", ("x", "y"), []),
    "right_shift": (_NUMPY, "RightShift", ("x", "y"), []),
    "gcd": (_NUMPY, "Gcd", ("x1", "x2"), []),
    "lcm": (_NUMPY, "Lcm", ("x1", "x2"), []),
    "nextafter": (_NUMPY, "Nextafter", ("x1", "x2"), []),
    "erfinv": (_MATH, "Erfinv", ("x",), []),
    "cross": (_NUMPY, "Cross", ("x1", "x2"), [("axisa", "axisa"), ("axisb", "axisb"), ("axisc", "axisc"), ("axis", "axis")]),
    "cdist": (_MATH, "CDist", ("x", "y"), []),
    "corrcoef": (_NUMPY, "Corrcoef", ("x",), []),
    "unravel_index": (_NUMPY, "UnravelIndex", ("indices",), [("shape", "shape")]),
    "nonzero": (_NUMPY, "Nonzero", ("x",), []),
    "unique": (_NUMPY, "Unique", ("x",), [("sorted", "sorted"), ("return_index", "return_index"), ("return_inverse", "return_inverse"), ("return_counts", "return_counts"), ("axis", "axis"), ("size", "size"), ("fill_value", "fill_value")]),
    "histogram": (_NUMPY, "Histogram", ("x",), [("bins", "bins"), ("range", "range")]),
    "scatter": (_CORE, "Scatter", ("indices", "values"), [("shape", "shape")]),
    "scatter_update": (_CORE, "ScatterUpdate", ("inputs", "indices", "updates"), [("reduction", "reduction")]),
    "segment_min": (_MATH, "SegmentMin", ("data", "segment_ids"), [("num_segments", "num_segments"), ("sorted", "sorted")]),
    "segment_prod": (_MATH, "SegmentProd", ("data", "segment_ids"), [("num_segments", "num_segments"), ("sorted", "sorted")]),
    # Written with the other ops (numnet.autodiff.ops.composite).
    "deg2rad": (_NUMPY, "Deg2rad", ("x",), []),
    "rad2deg": (_NUMPY, "Rad2deg", ("x",), []),
    "sinc": (_NUMPY, "Sinc", ("x",), []),
    "isclose": (_NUMPY, "Isclose", ("x1", "x2", "rtol", "atol"), [("equal_nan", "equal_nan")]),
    "allclose": (_NUMPY, "AllClose", ("x1", "x2"), [("rtol", "rtol"), ("atol", "atol"), ("equal_nan", "equal_nan")]),
    "average": (_NUMPY, "Average", ("x", "weights"), [("axis", "axis")]),
    "diff": (_NUMPY, "Diff", ("a",), [("n", "n"), ("axis", "axis")]),
    "diag": (_NUMPY, "Diag", ("x",), [("k", "k")]),
    "diagflat": (_NUMPY, "Diagflat", ("x",), [("k", "k")]),
    "kron": (_NUMPY, "Kron", ("x1", "x2"), []),
    "meshgrid": (_NUMPY, "Meshgrid", ("x",), [("indexing", "indexing")]),
    "select": (_NUMPY, "Select", ("condlist", "choicelist", "default"), []),
    "slice": (_CORE, "Slice", ("inputs", "start_indices"), [("shape", "shape")]),
    "fmax": (_NUMPY, "Fmax", ("x1", "x2"), []),
    "fmin": (_NUMPY, "Fmin", ("x1", "x2"), []),
    "ptp": (_NUMPY, "Ptp", ("x",), [("axis", "axis"), ("keepdims", "keepdims")]),
    "vander": (_NUMPY, "Vander", ("x",), [("N", "N"), ("increasing", "increasing")]),
    "trapezoid": (_NUMPY, "Trapezoid", ("y",), [("x", "x"), ("dx", "dx"), ("axis", "axis")]),
    "rot90": (_NUMPY, "Rot90", ("array",), [("k", "k"), ("axes", "axes")]),
    "nansum": (_NUMPY, "Nansum", ("x",), [("axis", "axis"), ("keepdims", "keepdims")]),
    "nanmean": (_NUMPY, "Nanmean", ("x",), [("axis", "axis"), ("keepdims", "keepdims")]),
    "nanmax": (_NUMPY, "Nanmax", ("x",), [("axis", "axis"), ("keepdims", "keepdims")]),
    "nanmin": (_NUMPY, "Nanmin", ("x",), [("axis", "axis"), ("keepdims", "keepdims")]),
    "nanprod": (_NUMPY, "Nanprod", ("x",), [("axis", "axis"), ("keepdims", "keepdims")]),
    "nanargmax": (_NUMPY, "Nanargmax", ("x",), [("axis", "axis"), ("keepdims", "keepdims")]),
    "nanargmin": (_NUMPY, "Nanargmin", ("x",), [("axis", "axis"), ("keepdims", "keepdims")]),
    "nancumsum": (_NUMPY, "Nancumsum", ("x",), [("axis", "axis"), ("dtype", "dtype")]),
    "nancumprod": (_NUMPY, "Nancumprod", ("x",), [("axis", "axis"), ("dtype", "dtype")]),
    "median": (_NUMPY, "Median", ("x",), [("axis", "axis"), ("keepdims", "keepdims")]),
    "quantile": (_NUMPY, "Quantile", ("x", "q"), [("axis", "axis"), ("method", "method"), ("keepdims", "keepdims")]),
    "percentile": (_NUMPY, "Percentile", ("x", "q"), [("axis", "axis"), ("method", "method"), ("keepdims", "keepdims")]),
    # Keras' operations of the other ops with tensor inputs (their class, module and config
    # keys read from Keras 3.15.1's sources: `ops.tile` is `keras.src.ops.numpy.Tile`, ...)
    "conv": (_NN, "Conv", ("inputs", "kernel"), [("strides", "strides"), ("padding", "padding"), ("data_format", "data_format"), ("dilation_rate", "dilation_rate")]),
    "depthwise_conv": (_NN, "DepthwiseConv", ("inputs", "kernel"), [("strides", "strides"), ("padding", "padding"), ("data_format", "data_format"), ("dilation_rate", "dilation_rate")]),
    "separable_conv": (_NN, "SeparableConv", ("inputs", "depthwise_kernel", "pointwise_kernel"), [("strides", "strides"), ("padding", "padding"), ("data_format", "data_format"), ("dilation_rate", "dilation_rate")]),
    "max_pool": (_NN, "MaxPool", ("inputs",), [("pool_size", "pool_size"), ("strides", "strides"), ("padding", "padding"), ("data_format", "data_format")]),
    "average_pool": (_NN, "AveragePool", ("inputs",), [("pool_size", "pool_size"), ("strides", "strides"), ("padding", "padding"), ("data_format", "data_format")]),
    "conv_transpose": (_NN, "ConvTranspose", ("inputs", "kernel"), [("strides", "strides"), ("padding", "padding"), ("output_padding", "output_padding"), ("data_format", "data_format"), ("dilation_rate", "dilation_rate")]),
    "adaptive_average_pool": (_NN, "AdaptiveAveragePool", ("inputs",), [("output_size", "output_size"), ("data_format", "data_format")]),
    "adaptive_max_pool": (_NN, "AdaptiveMaxPool", ("inputs",), [("output_size", "output_size"), ("data_format", "data_format")]),
    "unfold": (_NN, "Unfold", ("x",), [("kernel_size", "kernel_size"), ("dilation", "dilation"), ("padding", "padding"), ("stride", "stride")]),
    "fold": (_NN, "Fold", ("x",), [("output_size", "output_size"), ("kernel_size", "kernel_size"), ("dilation", "dilation"), ("padding", "padding"), ("stride", "stride")]),
    "ctc_loss": (_NN, "CTCLoss", ("target", "output", "target_length", "output_length"), [("mask_index", "mask_index")]),
    "resize": (_IMAGE, "Resize", ("images",), [("size", "size"), ("interpolation", "interpolation"), ("antialias", "antialias"), ("crop_to_aspect_ratio", "crop_to_aspect_ratio"), ("pad_to_aspect_ratio", "pad_to_aspect_ratio"), ("fill_mode", "fill_mode"), ("fill_value", "fill_value"), ("data_format", "data_format")]),
    "extract_patches": (_IMAGE, "ExtractPatches", ("images",), [("size", "size"), ("strides", "strides"), ("dilation_rate", "dilation_rate"), ("padding", "padding"), ("data_format", "data_format")]),
    "gaussian_blur": (_IMAGE, "GaussianBlur", ("images",), [("kernel_size", "kernel_size"), ("sigma", "sigma"), ("data_format", "data_format")]),
    "scale_and_translate": (_IMAGE, "ScaleAndTranslate", ("images", "output_shape", "scale", "translation"), [("spatial_dims", "spatial_dims"), ("method", "method"), ("antialias", "antialias")]),
    "sobel_edges": (_IMAGE, "SobelEdges", ("images",), [("data_format", "data_format")]),
    "ssim": (_IMAGE, "SSIM", ("image1", "image2"), [("max_val", "max_val"), ("filter_size", "filter_size"), ("filter_sigma", "filter_sigma"), ("k1", "k1"), ("k2", "k2"), ("data_format", "data_format")]),
    "map_coordinates": (_IMAGE, "MapCoordinates", ("inputs", "coordinates"), [("order", "order"), ("fill_mode", "fill_mode"), ("fill_value", "fill_value")]),
    "affine_transform": (_IMAGE, "AffineTransform", ("images", "transform"), [("interpolation", "interpolation"), ("fill_mode", "fill_mode"), ("fill_value", "fill_value"), ("data_format", "data_format")]),
    "perspective_transform": (_IMAGE, "PerspectiveTransform", ("images", "start_points", "end_points"), [("interpolation", "interpolation"), ("fill_value", "fill_value"), ("data_format", "data_format")]),
    "rgb_to_grayscale": (_IMAGE, "RGBToGrayscale", ("images",), [("data_format", "data_format")]),
    "rgb_to_hsv": (_IMAGE, "RGBToHSV", ("images",), [("data_format", "data_format")]),
    "hsv_to_rgb": (_IMAGE, "HSVToRGB", ("images",), [("data_format", "data_format")]),
    "pad_images": (_IMAGE, "PadImages", ("images",), [("top_padding", "top_padding"), ("left_padding", "left_padding"), ("bottom_padding", "bottom_padding"), ("right_padding", "right_padding"), ("target_height", "target_height"), ("target_width", "target_width"), ("data_format", "data_format")]),
    "crop_images": (_IMAGE, "CropImages", ("images",), [("top_cropping", "top_cropping"), ("left_cropping", "left_cropping"), ("bottom_cropping", "bottom_cropping"), ("right_cropping", "right_cropping"), ("target_height", "target_height"), ("target_width", "target_width"), ("data_format", "data_format")]),
    "ctc_decode": (_NN, "CTCDecode", ("inputs", "sequence_lengths"), [("strategy", "strategy"), ("beam_width", "beam_width"), ("top_paths", "top_paths"), ("merge_repeated", "merge_repeated"), ("mask_index", "mask_index")]),
    "angle": (_NUMPY, "Angle", ("x",), []),
    "fft": (_MATH, "FFT", ("x",), []),
    "fft2": (_MATH, "FFT2", ("x",), []),
    "ifft2": (_MATH, "IFFT2", ("x",), []),
    "rfft": (_MATH, "RFFT", ("x",), [("fft_length", "fft_length")]),
    "irfft": (_MATH, "IRFFT", ("x",), [("fft_length", "fft_length")]),
    "stft": (_MATH, "STFT", ("x",), [("sequence_length", "sequence_length"), ("sequence_stride", "sequence_stride"), ("fft_length", "fft_length"), ("window", "window"), ("center", "center")]),
    "istft": (_MATH, "ISTFT", ("x",), [("sequence_length", "sequence_length"), ("sequence_stride", "sequence_stride"), ("fft_length", "fft_length"), ("length", "length"), ("window", "window"), ("center", "center")]),
    "view": (_NUMPY, "View", ("x",), [("dtype", "dtype")]),
    "rearrange": ("keras.src.ops.einops", "Rearrange", ("tensor", "pattern"), []),
    "amax": (_NUMPY, "Amax", ("x",), [("axis", "axis"), ("keepdims", "keepdims")]),
    "amin": (_NUMPY, "Amin", ("x",), [("axis", "axis"), ("keepdims", "keepdims")]),
    "dot": (_NUMPY, "Dot", ("x1", "x2"), []),
    "all": (_NUMPY, "All", ("x",), [("axis", "axis"), ("keepdims", "keepdims")]),
    "any": (_NUMPY, "Any", ("x",), [("axis", "axis"), ("keepdims", "keepdims")]),
    "std": (_NUMPY, "Std", ("x",), [("axis", "axis"), ("keepdims", "keepdims")]),
    "var": (_NUMPY, "Var", ("x",), [("axis", "axis"), ("keepdims", "keepdims")]),
    "tile": (_NUMPY, "Tile", ("x",), [("repeats", "repeats")]),
    "swapaxes": (_NUMPY, "Swapaxes", ("x",), [("axis1", "axis1"), ("axis2", "axis2")]),
    "broadcast_to": (_NUMPY, "BroadcastTo", ("x",), [("shape", "shape")]),
    "conjugate": (_NUMPY, "Conjugate", ("x",), []),
    "empty_like": (_NUMPY, "EmptyLike", ("x",), [("dtype", "dtype")]),
    "logsumexp": (_MATH, "Logsumexp", ("x",), [("axis", "axis"), ("keepdims", "keepdims")]),
    "rsqrt": (_MATH, "Rsqrt", ("x",), []),
    "celu": (_NN, "Celu", ("x",), [("alpha", "alpha")]),
    "glu": (_NN, "Glu", ("x",), [("axis", "axis")]),
    "hard_shrink": (_NN, "HardShrink", ("x",), [("threshold", "threshold")]),
    "soft_shrink": (_NN, "SoftShrink", ("x",), [("threshold", "threshold")]),
    "hard_silu": (_NN, "HardSilu", ("x",), []),
    "hard_tanh": (_NN, "HardTanh", ("x",), []),
    "log_sigmoid": (_NN, "LogSigmoid", ("x",), []),
    "sparse_plus": (_NN, "SparsePlus", ("x",), []),
    "sparse_sigmoid": (_NN, "SparseSigmoid", ("x",), []),
    "sparsemax": (_NN, "Sparsemax", ("x",), [("axis", "axis")]),
    "squareplus": (_NN, "Squareplus", ("x",), [("b", "b")]),
    "tanh_shrink": (_NN, "TanhShrink", ("x",), []),
    "threshold": (_NN, "Threshold", ("x",), [("threshold", "threshold"), ("default_value", "default_value")]),
    "normalize": (_NN, "Normalize", ("x",), [("axis", "axis"), ("order", "order"), ("epsilon", "epsilon")]),
    "moments": (_NN, "Moments", ("x",), [("axes", "axes"), ("keepdims", "keepdims"), ("synchronized", "synchronized")]),
    "batch_normalization": (_NN, "BatchNorm", ("x", "mean", "variance", "offset", "scale"), [("axis", "axis"), ("epsilon", "epsilon")]),
    "binary_crossentropy": (_NN, "BinaryCrossentropy", ("target", "output"), [("from_logits", "from_logits")]),
    "categorical_crossentropy": (_NN, "CategoricalCrossentropy", ("target", "output"), [("from_logits", "from_logits"), ("axis", "axis")]),
    "sparse_categorical_crossentropy": (_NN, "SparseCategoricalCrossentropy", ("target", "output"), [("from_logits", "from_logits"), ("axis", "axis")]),
    "nanmedian": (_NUMPY, "Nanmedian", ("x",), [("axis", "axis"), ("keepdims", "keepdims")]),
    "nanquantile": (_NUMPY, "Nanquantile", ("x", "q"), [("axis", "axis"), ("method", "method"), ("keepdims", "keepdims")]),
    "nanpercentile": (_NUMPY, "Nanpercentile", ("x", "q"), [("axis", "axis"), ("method", "method"), ("keepdims", "keepdims")]),
    "argpartition": (_NUMPY, "Argpartition", ("x",), [("kth", "kth"), ("axis", "axis")]),
    "correlate": (_NUMPY, "Correlate", ("x1", "x2"), [("mode", "mode")]),
    "saturate_cast": (_CORE, "SaturateCast", ("x",), [("dtype", "dtype")]),
    "psnr": (_NN, "PSNR", ("x1", "x2"), [("max_val", "max_val")]),
    "dot_product_attention": (_NN, "DotProductAttention", ("query", "key", "value", "bias", "mask", "scale"), [("is_causal", "is_causal"), ("flash_attention", "flash_attention"), ("attn_logits_soft_cap", "attn_logits_soft_cap")]),
    "depth_to_space": (_NN, "DepthToSpace", ("x",), [("block_size", "block_size"), ("data_format", "data_format")]),
    "space_to_depth": (_NN, "SpaceToDepth", ("x",), [("block_size", "block_size"), ("data_format", "data_format")]),
    "extract_sequences": (_MATH, "ExtractSequences", ("x",), [("sequence_length", "sequence_length"), ("sequence_stride", "sequence_stride")]),
    "in_top_k": (_MATH, "InTopK", ("targets", "predictions"), [("k", "k")]),
    "multi_hot": (_NN, "MultiHot", ("inputs",), [("num_classes", "num_classes"), ("axis", "axis"), ("dtype", "dtype"), ("sparse", "sparse")]),
    "rms_normalization": (_NN, "RMSNorm", ("x", "scale"), [("axis", "axis"), ("epsilon", "epsilon")]),
    "fliplr": (_NUMPY, "Fliplr", ("x",), []),
    "flipud": (_NUMPY, "Flipud", ("x",), []),
    "erfc": (_MATH, "Erfc", ("x",), []),
    "isposinf": (_NUMPY, "Isposinf", ("x",), []),
    "isneginf": (_NUMPY, "Isneginf", ("x",), []),
    "logaddexp2": (_NUMPY, "Logaddexp2", ("x1", "x2"), []),
    "fmod": (_NUMPY, "Fmod", ("x1", "x2"), []),
    "ldexp": (_NUMPY, "Ldexp", ("x1", "x2"), []),
    "array_split": (_NUMPY, "ArraySplit", ("x",), [("indices_or_sections", "indices_or_sections"), ("axis", "axis")]),
    "hsplit": (_NUMPY, "Hsplit", ("x",), [("indices_or_sections", "indices_or_sections")]),
    "vsplit": (_NUMPY, "Vsplit", ("x",), [("indices_or_sections", "indices_or_sections")]),
    "dsplit": (_NUMPY, "Dsplit", ("x",), [("indices_or_sections", "indices_or_sections")]),
    "dstack": (_NUMPY, "Dstack", ("xs",), []),
    "append": (_NUMPY, "Append", ("x1", "x2"), [("axis", "axis")]),
    "nanvar": (_NUMPY, "Nanvar", ("x",), [("axis", "axis"), ("keepdims", "keepdims")]),
    "nanstd": (_NUMPY, "Nanstd", ("x",), [("axis", "axis"), ("keepdims", "keepdims")]),
    "isin": (_NUMPY, "IsIn", ("x1", "x2"), [("assume_unique", "assume_unique"), ("invert", "invert")]),
    "real": (_NUMPY, "Real", ("x",), []),
    "imag": (_NUMPY, "Imag", ("x",), []),
    "isreal": (_NUMPY, "Isreal", ("x",), []),
    "heaviside": (_NUMPY, "Heaviside", ("x1", "x2"), []),
    "slice_update": (_CORE, "SliceUpdate", ("inputs", "start_indices", "updates"), []),
    "segment_sum": (_MATH, "SegmentSum", ("data", "segment_ids"), [("num_segments", "num_segments"),
                                                                   ("sorted", "sorted")]),
    "segment_max": (_MATH, "SegmentMax", ("data", "segment_ids"), [("num_segments", "num_segments"),
                                                                   ("sorted", "sorted")]),
    "digitize": (_NUMPY, "Digitize", ("x", "bins"), []),
    "searchsorted": (_NUMPY, "SearchSorted", ("sorted_sequence", "values"), [("side", "side")]),
    "bincount": (_NUMPY, "Bincount", ("x",), [("weights", "weights"), ("minlength", "minlength"),
                                              ("sparse", "sparse")]),
    "layer_normalization": (_NN, "LayerNorm", ("x", "gamma", "beta"), [
        ("axis", "axis"), ("epsilon", "epsilon"), ("rms_scaling", "rms_scaling")]),
}
# Ops that run functions of the user's: at run time those must not give symbolic tensors.
_RUNS_FUNCTIONS = {"cond", "switch", "map", "scan", "associative_scan", "vectorized_map",
                   "while_loop", "fori_loop"}
# Ops whose `**kwargs` Keras' operation takes when called, not in its config.
_CALL_KEYWORDS = {"rearrange"}
_ALIASES = {"absolute": "abs", "pow": "power",
            "swish": "silu", "getitem": "get_item", "hard_swish": "hard_silu",
            "conj": "conjugate"}


def op_function(op_name):
    """The function an operation applies: numnet's op, or one of the few defined here."""
    if op_name in _EXTRA_FUNCTIONS:
        return _EXTRA_FUNCTIONS[op_name]
    return getattr(_ops, op_name)


class Operation(Layer):
    """A numnet op recorded in a Functional graph (Keras' `Operation`): no weights.

    Subclasses, one per op, carry `op_name` (the numnet op), the Keras parameters that
    form the config, and the numnet parameters they map to. A parameter of numnet's op
    that Keras' op lacks is kept under its numnet name (Keras cannot read it back).
    """

    op_name = None
    # An op takes numbers by position (`ops.add(x, 1.0)`); Keras' ops are not layers at all.
    _allow_non_tensor_positional_args = True
    config_params = ()  # (Keras config key, numnet parameter) pairs
    call_params = ()  # the op's tensor parameters, in numnet's signature

    def __init__(self, *args, name=None, **params):
        """Keras' operations take their parameters by position too, in the order of their
        config (`Cast("float16")`, `Slice(shape)`)."""
        keys = [key for key, _ in self.config_params]
        if len(args) > len(keys):
            raise TypeError(f"{type(self).__name__}() takes at most {len(keys)} positional "
                            f"parameter(s) {keys}; received {len(args)}.")
        for key, value in zip(keys, args):
            if key in params:
                raise TypeError(f"{type(self).__name__}() got {key!r} by position and by name.")
            params[key] = value
        super().__init__(name=name)
        self._params = params
        self.built = True

    def __call__(self, *args, **kwargs):
        kwargs.pop("training", None)
        if is_symbolic(args) or is_symbolic(list(kwargs.values())):
            return super().__call__(*args, **kwargs)
        return self.call(*args, **kwargs)

    def call(self, *args, **kwargs):
        renamed = dict(self.config_params)
        numnet_kwargs = {renamed.get(key, key): value for key, value in self._params.items()}
        function = op_function(self.op_name)
        # Parameters before a `*operands` (einsum's `subscripts`) can only go by position.
        leading = [numnet_kwargs.pop(name) for name in _before_varargs(function)
                   if name in numnet_kwargs]
        if not leading and self.call_params and len(args) <= len(self.call_params) and \
                not _has_varargs(function):
            # By name: a tensor parameter need not come first (pad's `constant_values`).
            kwargs = {**dict(zip(self.call_params, args)), **kwargs}
            args = ()
        result = function(*leading, *args, **numnet_kwargs, **kwargs)
        if self.op_name in _RUNS_FUNCTIONS and is_symbolic(result):
            raise ValueError(
                f"`{self.op_name}` in a Functional model: a function it runs returned symbolic "
                "tensors (a KerasTensor it closes over, such as the model's inputs). At run "
                "time those have no values: compute from the function's own arguments "
                "(`switch(index, branches, *operands)` hands the operands to the branch), or "
                "write the control flow in a layer's `call()`.")
        return result

    def compute_output_spec(self, *args, **kwargs):
        special = _OUTPUT_SPECS.get(self.op_name)
        if special is not None:
            return special(self._params, *args, **kwargs)
        try:
            first, second = _trace(self, args, kwargs, 2), _trace(self, args, kwargs, 3)
        except ValueError as error:
            # Unknown dimensions that meet known ones when broadcast (`(None, 3) + (2, None)`)
            # take those in both traces, as Keras' shape inference gives them.
            known = _broadcast_known(args, kwargs) if "broadcast" in str(error) else None
            if not known:
                raise
            first = _trace(self, args, kwargs, 2, known)
            second = _trace(self, args, kwargs, 3, known)

        def spec(a, b):
            shape = tuple(da if da == db else None for da, db in zip(a.shape, b.shape))
            return KerasTensor(shape, dtype=a.dtype)
        return pack_sequence_as(first, [spec(a, b) for a, b in zip(flatten(first), flatten(second))])

    def compute_output_shape(self, *args, **kwargs):
        raise NotImplementedError(
            f"Operation '{self.name}' infers its output with compute_output_spec().")

    def symbolic_call(self, *args, **kwargs):
        """The output spec (`KerasTensor`s) of the op on these arguments, as Keras' does: a
        graph node when an argument is symbolic, else only the spec."""
        if is_symbolic(args) or is_symbolic(list(kwargs.values())):
            return self(*args, **kwargs)
        return self.compute_output_spec(*args, **kwargs)

    def get_config(self):
        return {"name": self.name, **self._params}

    @classmethod
    def from_config(cls, config):
        # A function in the config (`VectorizedMap`'s) comes back through the registry.
        return cls(**{key: deserialize_keras_object(value) if isinstance(value, dict) and
                      value.get("class_name") == "function" else value
                      for key, value in config.items()})


def _unstack_spec(params, x):
    """Keras' `Unstack` spec: `num` outputs, from the argument or the axis' known length."""
    num, shape = params.get("num"), tuple(x.shape)
    axis = checked_axes(params.get("axis", 0), len(shape))[0]
    num = shape[axis] if num is None else num
    if num is None:
        raise ValueError(f"Cannot infer argument `num` from shape {shape}. Either provide a "
                         "tensor with a concrete shape in the `axis` dimension or explicitly "
                         "pass the `num` argument.")
    return [KerasTensor(shape[:axis] + shape[axis + 1:], dtype=x.dtype) for _ in range(num)]


def _slice_spec(params, inputs, start_indices):
    """Keras' `Slice` spec: a size of -1 runs to the end of its axis (unknown when the
    start is symbolic or the axis' length unknown)."""
    shape, dims = tuple(params["shape"]), tuple(inputs.shape)
    symbolic_start = isinstance(start_indices, KerasTensor)
    check_slice_arguments(dims, None if symbolic_start else list(start_indices), shape)
    final = [size if size != -1 else None if symbolic_start or dim is None else
             dim - int(start_indices[i]) for i, (dim, size) in enumerate(zip(dims, shape))]
    return KerasTensor(tuple(final), dtype=inputs.dtype)


def _spec_of(value):
    """A new `KerasTensor` of the shape and dtype of a tensor, array or KerasTensor (None
    stays None)."""
    if value is None:
        return None
    if not isinstance(value, KerasTensor):
        value = value.data if isinstance(value, Tensor) else xp.asarray(value)
    return KerasTensor(tuple(value.shape), dtype=str(value.dtype))


def _loop_vars_spec(params, loop_vars):
    """Keras' `WhileLoop` / `ForiLoop` spec: the loop variables keep their shapes."""
    return map_structure(_spec_of, loop_vars)


def _cond_spec(params, pred, true_fn, false_fn):
    """Keras' `Cond` spec: both branches run (on the symbolic tensors they close over) and
    must give outputs of the same structure, shapes and dtypes."""
    true_spec = map_structure(_spec_of, true_fn())
    false_spec = map_structure(_spec_of, false_fn())
    leaves = list(zip(flatten(true_spec), flatten(false_spec)))
    same = _same_structure(true_spec, false_spec) and all(
        (a is None and b is None) or (a is not None and b is not None and
                                      a.shape == b.shape and a.dtype == b.dtype)
        for a, b in leaves)
    if not same:
        raise ValueError("`true_fn` and `false_fn` should return outputs of the same kind "
                         f"(struct, dtype and shape). Got {true_spec} and {false_spec} instead.")
    if all(leaf is None for leaf in flatten(true_spec)):
        raise ValueError("`cond` on a symbolic predicate: its branches return no tensors, and "
                         "a graph node needs outputs. Call `cond` with a Python boolean, or "
                         "inside a layer's `call()`.")
    return true_spec


def _same_structure(a, b):
    try:
        assert_same_structure(a, b)
    except (TypeError, ValueError):
        return False
    return True


# Ops whose output spec is Keras' rule rather than a trace on zeros: their output's
# shape depends on values (a number of outputs, a size of -1 from a symbolic start), or
# tracing would run a loop on zeros.
_OUTPUT_SPECS = {"unstack": _unstack_spec, "slice": _slice_spec, "while_loop": _loop_vars_spec,
                 "fori_loop": _loop_vars_spec, "cond": _cond_spec}


def _has_varargs(function):
    return any(p.kind is inspect.Parameter.VAR_POSITIONAL
               for p in inspect.signature(function).parameters.values())


def _before_varargs(function):
    """The names of `function`'s parameters that come before its `*args` (none without)."""
    names = []
    for param in inspect.signature(function).parameters.values():
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            return names
        names.append(param.name)
    return []


def _trace(op, args, kwargs, size, known=None):
    """Runs the op on zeros standing for the symbolic inputs (unknown dimensions = size, or
    the length `known` gives for the `(input, axis)`); an op that refuses zeros (an inverse,
    a Cholesky factor) is run on identity matrices."""
    known = known or {}

    def concrete(x, fill):
        if isinstance(x, KerasTensor):
            return Tensor(fill(tuple(known.get((id(x), i), size) if d is None else d
                                     for i, d in enumerate(x.shape)), x.dtype))
        return x

    def run(fill):
        with xp.errstate(all="ignore"):
            return op.call(*map_structure(lambda x: concrete(x, fill), list(args)),
                           **map_structure(lambda x: concrete(x, fill), kwargs))
    try:
        return run(xp.zeros)
    except ValueError:  # NumPy's LinAlgError is one
        return run(_identities)


def _broadcast_known(args, kwargs):
    """`{(id(input), axis): length}` for the unknown dimensions of the symbolic inputs that
    line up (from the right, as broadcasting aligns them) with a known length above 1 of
    another input."""
    tensors = [x for x in flatten((list(args), kwargs)) if isinstance(x, KerasTensor)]
    known = {}
    for tensor in tensors:
        for axis, dim in enumerate(tensor.shape):
            if dim is not None:
                continue
            offset = len(tensor.shape) - axis
            lengths = {other.shape[len(other.shape) - offset] for other in tensors
                       if other is not tensor and len(other.shape) >= offset}
            lengths = {d for d in lengths if d is not None and d > 1}
            if len(lengths) == 1:
                known[(id(tensor), axis)] = lengths.pop()
    return known


def _identities(shape, dtype):
    """Identity matrices in the last two axes of `shape` (ones when they are not square)."""
    if len(shape) < 2 or shape[-1] != shape[-2]:
        return xp.ones(shape, dtype=dtype)
    return xp.broadcast_to(xp.eye(shape[-1], dtype=dtype), shape).copy()


def _class_for(op_name):
    """The Operation subclass of a numnet op (made once, registered under Keras' name)."""
    op_name = _ALIASES.get(op_name, op_name)
    if op_name in _CLASSES:
        return _CLASSES[op_name]
    # An op Keras does not have keeps its positional arguments as call arguments and its
    # keyword arguments as config.
    module, class_name, call_params, config_params = KERAS_OPS.get(
        op_name, ("numnet.ops", _camel(op_name), None, ()))
    cls = type(class_name, (Operation,), {
        "op_name": op_name, "call_params": call_params, "config_params": tuple(config_params),
        "__doc__": f"The `{op_name}` op as a graph node (Keras' `{module}.{class_name}`).",
        "__module__": __name__,
    })
    register_builtin(module)(cls)
    _CLASSES[op_name] = cls
    return cls


def _is_default(value, default):
    plain = (int, float, str, bool, type(None))
    return value is default or (isinstance(value, plain) and isinstance(default, plain)
                                and value == default)


def _camel(name):
    return "".join(part.capitalize() for part in name.split("_"))


_CLASSES = {}
for _name in KERAS_OPS:
    _class_for(_name)


def symbolic_op(op_name, *args, **kwargs):
    """Records `op_name(*args, **kwargs)` on symbolic inputs; returns its KerasTensor(s)."""
    op_name = _ALIASES.get(op_name, op_name)
    if op_name == "extract_patches_3d":  # Keras records it as ExtractPatches of a 3-D size
        bound = inspect.signature(_ops.extract_patches_3d).bind(*args, **kwargs)
        size = bound.arguments["size"]
        bound.arguments["size"] = (size,) * 3 if isinstance(size, int) else tuple(size)
        op_name, args, kwargs = "extract_patches", bound.args, bound.kwargs
    cls = _class_for(op_name)
    if cls.call_params is None:
        return cls(**kwargs)(*args)
    function = op_function(op_name)
    try:
        bound = inspect.signature(function).bind(*args, **kwargs)
    except TypeError as error:
        raise TypeError(f"numnet.ops.{op_name}: {error}") from None
    bound.apply_defaults()
    call_args = []
    for param in cls.call_params:
        if param in bound.arguments:
            value = bound.arguments.pop(param)
            is_varargs = inspect.signature(function).parameters[param].kind is \
                inspect.Parameter.VAR_POSITIONAL
            call_args.extend(value) if is_varargs else call_args.append(value)
    keys = {param: key for key, param in cls.config_params}
    defaults = {name: p.default for name, p in inspect.signature(function).parameters.items()}
    params = {}
    signature = inspect.signature(function).parameters
    call_kwargs = {}
    for param, value in list(bound.arguments.items()):
        if signature[param].kind is inspect.Parameter.VAR_KEYWORD:  # **kwargs: each one
            bound.arguments.pop(param)
            # Keras' op takes them at the call (a node's kwargs), or as its config
            (call_kwargs if op_name in _CALL_KEYWORDS else bound.arguments).update(value)
    for param, value in bound.arguments.items():
        if param in keys:
            # Keras' nn ops record the data format they resolved (`None` is channels
            # last); its image ops record what they were given
            params[keys[param]] = "channels_last" if param == "data_format" and \
                value is None and KERAS_OPS.get(op_name, ("",))[0] != _IMAGE else value
        elif not _is_default(value, defaults.get(param)):
            params[param] = value  # numnet-only parameter, set by the caller
    if op_name == "extract_patches":  # Keras' ExtractPatches records them resolved
        size = params["size"]
        size = (size, size) if isinstance(size, int) else tuple(size)
        params.update(size=size, strides=size if params["strides"] is None else
                      params["strides"], data_format=standardize_data_format(
                          params["data_format"]))
    return cls(**params)(*call_args, **call_kwargs)


def operation_classes(keras_module):
    """`{class name: Operation subclass}` of the ops Keras defines in `keras_module`
    (`"keras.src.ops.core"`, ...), under Keras' class names."""
    return {cls.__name__: cls for op_name, cls in _CLASSES.items()
            if KERAS_OPS.get(op_name, ("numnet.ops",))[0] == keras_module}


__all__ = ["KERAS_OPS", "Operation", "op_function", "operation_classes", "symbolic_op"]
