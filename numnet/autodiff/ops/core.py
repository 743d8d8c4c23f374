"""What every op needs: turning inputs into tensors, building primitives, `sum_to`.

The op modules of this package build on these (they are its shared seam, not part of
`numnet.ops`).
"""

from functools import partial


from numnet.autodiff.primitive import Primitive, listening, wrap
from numnet.autodiff.tensor import Tensor
from numnet.backend import floatx, xp
from numnet.backend.promotion import result_type


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """Returns `x` as a `Tensor` (float64 input becomes `floatx()` unless `dtype` says
    otherwise). numnet has no sparse or ragged tensors: `sparse=True` or `ragged=True` is an
    error."""
    if sparse or ragged:
        raise ValueError("convert_to_tensor: numnet has no sparse or ragged tensors.")
    if isinstance(x, Tensor):
        if dtype is not None and x.dtype != xp.dtype(dtype).name:
            return cast(x, dtype)
        return x
    return Tensor(x, dtype=dtype)


def checked_axes(axis, ndim):
    """`axis` (an int or several ints) as a list of axes in `range(ndim)`. An axis outside
    `[-ndim, ndim)` raises, as NumPy's `AxisError` does, where `axis % ndim` would quietly
    pick another axis."""
    axes = [int(a) for a in ((axis,) if isinstance(axis, (int, xp.integer)) else axis)]
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of bounds for array of dimension {ndim}")
    return [a % ndim for a in axes]


def operand(x):
    """An op input as a Tensor, or a Python number kept as is (weakly typed in NumPy)."""
    if isinstance(x, Tensor) or (isinstance(x, (int, float, bool)) and not isinstance(x, xp.generic)):
        return x
    value = xp.asarray(x)
    if value.dtype == xp.float64:
        value = value.astype(floatx())
    return wrap(value)


def as_tensor(x):
    """An op input as a `Tensor` (a Python number too, with `convert_to_tensor`'s types)."""
    x = operand(x)
    return x if isinstance(x, Tensor) else convert_to_tensor(x)


def float_tensor(x):
    """An op input as a float `Tensor`: integers and booleans become `floatx()`, as Keras
    does for functions whose values are not integers."""
    x = as_tensor(x)
    return x if x.data.dtype.kind in "fc" else cast(x, floatx())


def operands(a, b):
    """`operand` for both inputs of a binary op.

    A float array constant takes the dtype of the tensor it meets, so a
    float64 NumPy array does not silently promote a float32 computation (nor
    get rounded in a float64 one).
    """
    a_is, b_is = isinstance(a, Tensor), isinstance(b, Tensor)
    if a_is and not b_is and isinstance(b, xp.ndarray) and b.dtype.kind == "f" \
            and a.data.dtype.kind == "f":
        return a, wrap(b.astype(a.data.dtype, copy=False))
    if b_is and not a_is and isinstance(a, xp.ndarray) and a.dtype.kind == "f" \
            and b.data.dtype.kind == "f":
        return wrap(a.astype(b.data.dtype, copy=False)), b
    return _promoted(operand(a), operand(b))


def _promoted(a, b):
    """`a` and `b` in the dtype Keras' promotion gives them (`numnet.backend.promotion`): two
    tensors of different dtypes both take it (int32 with float32 is float32, where NumPy
    makes float64), and an integer or boolean tensor meeting a Python number of a higher
    kind takes `floatx()`'s precision. Same-dtype inputs pass untouched."""
    a_is, b_is = isinstance(a, Tensor), isinstance(b, Tensor)
    if a_is and b_is:
        if a.data.dtype is b.data.dtype or a.data.dtype == b.data.dtype:
            return a, b
        return tuple(promoted_tensors([a, b]))
    if a_is != b_is:
        tensor, number = (a, b) if a_is else (b, a)
        kind = tensor.data.dtype.kind
        if (kind in "biu" and type(number) is float) or (kind == "b" and type(number) is int):
            tensor = cast(tensor, result_type(tensor.data.dtype, type(number)))
            return (tensor, number) if a_is else (number, tensor)
    return a, b


def promoted_tensors(tensors):
    """`tensors` of several dtypes, each cast to the dtype Keras' promotion gives them all (the
    inputs of an op joining them: concatenate, stack, einsum); a list."""
    dtypes = {t.data.dtype for t in tensors}
    if len(dtypes) < 2:
        return list(tensors)
    target = xp.dtype(result_type(*dtypes))
    return [t if t.data.dtype == target else cast(t, target) for t in tensors]


def real_operands(x1, x2):
    """`operands`, then integers and booleans as floats (`result_type(dtype, float)`): the
    inputs of a function of two tensors whose values are not integers (`divide`, `arctan2`,
    ...), as Keras casts them; two Python numbers become `floatx()` tensors."""
    a, b = operands(x1, x2)
    tensor = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else None
    if tensor is None or tensor.data.dtype.kind not in "fc":
        dtype = result_type(floatx() if tensor is None else tensor.data.dtype, float)
        a, b = cast(as_tensor(a), dtype), cast(as_tensor(b), dtype)
    return a, b


def shape_of(x):
    """The shape of an op input (a Python number is a scalar)."""
    return x.data.shape if isinstance(x, Tensor) else ()


def ufunc_into(ufunc):
    """The replay form of a primitive that is one ufunc call: write into `out`."""
    def into(out, *arrays, **attrs):
        return ufunc(*arrays, out=out, **attrs)
    return into


def elementwise(name, ufunc, vjp):
    """A primitive that is a single NumPy ufunc (so its replay writes with `out=`)."""
    return Primitive(name, ufunc, vjp, into=ufunc_into(ufunc), ufunc=ufunc)


def no_gradient(g, inputs, output, needs, **attrs):
    """The backward rule of comparisons, casts to integers and other piecewise constants."""
    return (None,) * len(inputs)


# ----------------------------------------------------------------- sum_to
def unbroadcast(grad, shape):
    """Sums `grad` over the axes that broadcasting added or stretched, back to `shape`."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = xp.add.reduce(grad, axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = xp.add.reduce(grad, axis=stretched, keepdims=True)
    return grad.reshape(shape)


def _sum_to_vjp(g, inputs, output, needs, shape):
    return (broadcast_to(g, inputs[0].shape),)


SUM_TO = Primitive("sum_to", unbroadcast, _sum_to_vjp)


def sum_to(grad, shape):
    """`grad` summed back to `shape` (the backward rule of broadcasting)."""
    shape = tuple(shape)
    if tuple(grad.shape) == shape:
        return grad
    return SUM_TO(grad, shape=shape)


def _broadcast_to_vjp(g, inputs, output, needs, shape):
    return (sum_to(g, inputs[0].shape),)


BROADCAST_TO = Primitive("broadcast_to", lambda x, shape: xp.broadcast_to(x, shape),
                         _broadcast_to_vjp, kind="view")


def broadcast_to(x, shape):
    """`x` repeated along new or length-1 axes to `shape` (a read-only view)."""
    x = operand(x)
    shape = tuple(shape)
    if shape_of(x) == shape:
        return x
    return BROADCAST_TO(x, shape=shape)


def _cast_vjp(g, inputs, output, needs, dtype):
    source = inputs[0].data.dtype
    if source.kind != "f" or output.data.dtype.kind != "f":
        return (None,)
    return (cast(g, source),)


CAST = Primitive("cast", lambda x, dtype: x.astype(dtype),
                 _cast_vjp, into=lambda out, x, dtype: xp.copyto(out, x, casting="unsafe"),
                 bind=lambda out, x, dtype: partial(xp.copyto, out, x, casting="unsafe"))


def cast(x, dtype):
    """Casts to `dtype`; gradients flow back only between float dtypes."""
    x = operand(x)
    if not isinstance(x, Tensor):
        x = wrap(xp.asarray(x))
    dtype = xp.dtype(dtype)
    if x.data.dtype == dtype:
        return x
    return CAST(x, dtype=dtype)


__all__ = ["Primitive", "Tensor", "as_tensor", "broadcast_to", "cast", "checked_axes",
           "convert_to_tensor", "elementwise", "float_tensor",
           "listening", "no_gradient", "operand", "operands", "promoted_tensors", "real_operands",
           "shape_of", "sum_to",
           "unbroadcast", "ufunc_into", "wrap", "xp"]
