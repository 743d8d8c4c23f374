"""Elementwise math: exp, log, the trigonometric and hyperbolic functions, rounding,
maximum, minimum, where, clip, comparisons, the binary functions of two tensors, and the
special functions erf, erfinv and i0."""

import math as _math

from numnet.autodiff.ops.core import (
    Primitive, Tensor, as_tensor, cast, elementwise, float_tensor, no_gradient, operand,
    operands, real_operands, shape_of, sum_to, wrap, xp,
)
from numnet.backend import floatx
from numnet.kernels.activations import erf as _erf_kernel


def _unary(name, ufunc, vjp, real=False):
    """The op of one ufunc. A `real` one (its values are not integers: exp, sqrt, ...) takes
    integers and booleans as `floatx()`, as Keras does, where NumPy picks a float by the
    integer's size (float16 for int8, float64 for int32)."""
    prim = elementwise(name, ufunc, vjp)

    def op(x):
        return prim(float_tensor(x) if real else operand(x))
    op.primitive = prim
    op.__name__ = op.__qualname__ = name  # how configs name it (a Lambda of `ops.square`)
    return op


exp = _unary("exp", xp.exp, lambda g, inputs, y, needs: (g * y,), real=True)
log = _unary("log", xp.log, lambda g, inputs, y, needs: (g / inputs[0],), real=True)
log1p = _unary("log1p", xp.log1p,
               lambda g, inputs, y, needs: (g / (inputs[0] + 1),), real=True)
sqrt = _unary("sqrt", xp.sqrt, lambda g, inputs, y, needs: (g * 0.5 / y,), real=True)
square = _unary("square", xp.square, lambda g, inputs, y, needs: (g * 2 * inputs[0],))
abs = _unary("abs", xp.abs, lambda g, inputs, y, needs: (g * sign(inputs[0]),))
sin = _unary("sin", xp.sin, lambda g, inputs, y, needs: (g * cos(inputs[0]),), real=True)
cos = _unary("cos", xp.cos, lambda g, inputs, y, needs: (-(g * sin(inputs[0])),), real=True)
sign = _unary("sign", xp.sign, no_gradient)
exp.__doc__ = "e ** x."
log.__doc__ = "Natural logarithm."
log1p.__doc__ = "log(1 + x), accurate for small x."
sqrt.__doc__ = "Square root."
square.__doc__ = "x ** 2."
abs.__doc__ = "|x| (gradient 0 at 0)."
sin.__doc__ = "Sine."
cos.__doc__ = "Cosine."
sign.__doc__ = "Sign of x (-1, 0, 1); not differentiable."

# Each backward rule below is the derivative written with the ops themselves (so it
# can be differentiated again), beside its forward.
tan = _unary("tan", xp.tan, lambda g, inputs, y, needs: (g * (1 + square(y)),), real=True)
sinh = _unary("sinh", xp.sinh, lambda g, inputs, y, needs: (g * cosh(inputs[0]),), real=True)
cosh = _unary("cosh", xp.cosh, lambda g, inputs, y, needs: (g * sinh(inputs[0]),), real=True)
arcsin = _unary("arcsin", xp.arcsin,
                lambda g, inputs, y, needs: (g / sqrt(1 - square(inputs[0])),), real=True)
arccos = _unary("arccos", xp.arccos,
                lambda g, inputs, y, needs: (-(g / sqrt(1 - square(inputs[0]))),), real=True)
arctan = _unary("arctan", xp.arctan,
                lambda g, inputs, y, needs: (g / (1 + square(inputs[0])),), real=True)
arcsinh = _unary("arcsinh", xp.arcsinh,
                 lambda g, inputs, y, needs: (g / sqrt(square(inputs[0]) + 1),), real=True)
arccosh = _unary("arccosh", xp.arccosh,
                 lambda g, inputs, y, needs: (g / sqrt(square(inputs[0]) - 1),), real=True)
arctanh = _unary("arctanh", xp.arctanh,
                 lambda g, inputs, y, needs: (g / (1 - square(inputs[0])),), real=True)
log2 = _unary("log2", xp.log2,
              lambda g, inputs, y, needs: (g / (inputs[0] * _math.log(2.0)),), real=True)
log10 = _unary("log10", xp.log10,
               lambda g, inputs, y, needs: (g / (inputs[0] * _math.log(10.0)),), real=True)
expm1 = _unary("expm1", xp.expm1, lambda g, inputs, y, needs: (g * (y + 1),), real=True)
exp2 = _unary("exp2", xp.exp2, lambda g, inputs, y, needs: (g * y * _math.log(2.0),), real=True)
reciprocal = _unary("reciprocal", xp.reciprocal, lambda g, inputs, y, needs: (-(g * square(y)),))
cbrt = _unary("cbrt", xp.cbrt, lambda g, inputs, y, needs: (g / (3 * square(y)),), real=True)
_ERF = Primitive("erf", _erf_kernel, lambda g, inputs, y, needs: (
    g * (2 / _math.sqrt(_math.pi)) * exp(-square(inputs[0])),))
floor = _unary("floor", xp.floor, no_gradient, real=True)
ceil = _unary("ceil", xp.ceil, no_gradient, real=True)
trunc = _unary("trunc", xp.trunc, no_gradient)
isnan = _unary("isnan", xp.isnan, no_gradient)
isinf = _unary("isinf", xp.isinf, no_gradient)
isfinite = _unary("isfinite", xp.isfinite, no_gradient)
signbit = _unary("signbit", xp.signbit, no_gradient)
for _op, _doc in ((tan, "Tangent."), (sinh, "Hyperbolic sine."), (cosh, "Hyperbolic cosine."),
                  (arcsin, "Inverse sine."), (arccos, "Inverse cosine."),
                  (arctan, "Inverse tangent."), (arcsinh, "Inverse hyperbolic sine."),
                  (arccosh, "Inverse hyperbolic cosine."),
                  (arctanh, "Inverse hyperbolic tangent."), (log2, "Base-2 logarithm."),
                  (log10, "Base-10 logarithm."), (expm1, "exp(x) - 1, accurate for small x."),
                  (exp2, "2 ** x."), (reciprocal, "1 / x."), (cbrt, "Cube root."),
                  (floor, "Rounds down (not differentiable)."),
                  (ceil, "Rounds up (not differentiable)."),
                  (trunc, "Rounds toward zero (not differentiable)."),
                  (isnan, "Whether each element is NaN (a boolean tensor)."),
                  (isinf, "Whether each element is infinite (a boolean tensor)."),
                  (isfinite, "Whether each element is finite (a boolean tensor)."),
                  (signbit, "Whether each element's sign bit is set (a boolean tensor).")):
    _op.__doc__ = _doc
del _op, _doc


def erf(x):
    """The error function, 2/sqrt(pi) times the integral of exp(-t**2) from 0 to x."""
    return _ERF(float_tensor(x))


def _erfinv_compute(y):
    """The inverse of erf on (-1, 1) (+-inf at +-1, NaN outside), in `y`'s dtype: scipy's
    when it is installed, else Newton's iteration on erf in float64 from Winitzki's
    approximation (four steps reach float64's precision on the float32 range)."""
    try:
        from scipy.special import erfinv as scipy_erfinv
        return scipy_erfinv(y)
    except ImportError:  # pragma: no cover - scipy is a test dependency
        pass
    v = xp.asarray(y, dtype=xp.float64)
    a = 0.147
    with xp.errstate(divide="ignore", invalid="ignore"):  # +-1 and beyond: inf and NaN
        log_term = xp.log1p(-v * v)
        first = 2 / (_math.pi * a) + log_term / 2
        x = xp.sign(v) * xp.sqrt(xp.sqrt(first * first - log_term / a) - first)
        for _ in range(4):
            inside = xp.isfinite(x)
            step = (_erf_kernel(x) - v) / (2 / _math.sqrt(_math.pi) * xp.exp(-x * x))
            x = xp.where(inside, x - xp.where(inside, step, 0.0), x)
    return x.astype(y.dtype)


_ERFINV = Primitive("erfinv", _erfinv_compute, lambda g, inputs, y, needs: (
    g * (_math.sqrt(_math.pi) / 2) * exp(square(y)),))


def erfinv(x):
    """The inverse error function: the `y` with `erf(y) == x`, for x in (-1, 1)."""
    return _ERFINV(float_tensor(x))


def _bessel_i1(x):
    """The modified Bessel function of the first kind of order 1 (the derivative of i0),
    in float64: its power series up to |x| = 30, beyond that its asymptotic expansion
    (15 terms: relative error below 1e-14)."""
    v = xp.abs(xp.asarray(x, dtype=xp.float64))
    near = xp.minimum(v, 30.0) / 2
    term, total, square_half = near.copy(), near.copy(), near * near
    for k in range(1, 100):  # sum over k of (x/2)**(2k+1) / (k! (k+1)!)
        term *= square_half / (k * (k + 1))
        total += term
    far = xp.maximum(v, 30.0)
    coefficient, series = xp.ones_like(far), xp.ones_like(far)
    for k in range(1, 16):  # e**x / sqrt(2 pi x) * sum of (-1)**k a_k / x**k
        coefficient *= (4.0 - (2 * k - 1) ** 2) / (k * 8.0 * far)
        series += (-1) ** k * coefficient
    with xp.errstate(over="ignore"):
        asymptotic = xp.exp(far) / xp.sqrt(2 * _math.pi * far) * series
    return xp.sign(x) * xp.where(v <= 30.0, total, asymptotic)


def _i1_vjp(g, inputs, y, needs):
    x = inputs[0]  # i1'(x) = i0(x) - i1(x) / x, and 1/2 at 0
    safe = where(equal(x, 0), 1.0, x)
    return (g * where(equal(x, 0), 0.5, _I0(x) - y / safe),)


_I1 = Primitive("i1", lambda x: _bessel_i1(x).astype(x.dtype), _i1_vjp)
_I0 = Primitive("i0", lambda x: xp.i0(x.astype(xp.float64)).astype(x.dtype),
                lambda g, inputs, y, needs: (g * _I1(inputs[0]),))


def i0(x):
    """The modified Bessel function of the first kind of order 0 (floats; integers become
    float32, 64-bit ones float64, as Keras'); its derivative is i1."""
    x = as_tensor(x)
    if x.data.dtype.kind not in "fc":
        x = cast(x, "float64" if x.data.dtype.itemsize == 8 else floatx())
    return _I0(x)


def fabs(x):
    """|x| as floats (integers become `floatx()`)."""
    return abs(float_tensor(x))


def round(x, decimals=0):
    """Rounds half to even, to `decimals` places (not differentiable)."""
    return _ROUND(operand(x), decimals=int(decimals))


_ROUND = Primitive("round", lambda x, decimals: xp.round(x, decimals), no_gradient)


# The identity, recorded: a tape sends nothing back through it, and a compiled step
# replays it (a tensor made outside the ops would be a constant to a capture).
STOP_GRADIENT = Primitive("stop_gradient", lambda x: x, no_gradient, kind="view")


def stop_gradient(variable):
    """The value of `variable` (any tensor), through which no gradient flows."""
    return STOP_GRADIENT(operand(variable))


# ------------------------------------------------------------ comparisons
def _comparison(name, ufunc):
    prim = elementwise(name, ufunc, no_gradient)

    def op(x1, x2):
        return prim(*operands(x1, x2))
    op.__name__ = name
    op.__doc__ = f"Elementwise `{name}` (a boolean tensor; not differentiable)."
    op.primitive = prim
    return op


equal = _comparison("equal", xp.equal)
not_equal = _comparison("not_equal", xp.not_equal)
less = _comparison("less", xp.less)
less_equal = _comparison("less_equal", xp.less_equal)
greater = _comparison("greater", xp.greater)
greater_equal = _comparison("greater_equal", xp.greater_equal)
logical_and = _comparison("logical_and", xp.logical_and)
logical_or = _comparison("logical_or", xp.logical_or)
logical_xor = _comparison("logical_xor", xp.logical_xor)
LOGICAL_NOT = elementwise("logical_not", xp.logical_not, no_gradient)


def logical_not(x):
    """Elementwise not (a boolean tensor)."""
    return LOGICAL_NOT(operand(x))


# ------------------------------------------------------ selecting values
def _where_compute(condition, a, b):
    return xp.where(condition, a, b)


def _where_into(out, condition, a, b):
    xp.copyto(out, b, casting="unsafe")
    xp.copyto(out, a, where=condition, casting="unsafe")
    return out


def _where_vjp(g, inputs, output, needs):
    condition, a, b = inputs
    zero = xp.zeros((), dtype=g.data.dtype)
    return (None,
            sum_to(where(condition, g, zero), shape_of(a)) if needs[1] else None,
            sum_to(where(condition, zero, g), shape_of(b)) if needs[2] else None)


WHERE = Primitive("where", _where_compute, _where_vjp, into=_where_into)


def where(condition, x1=None, x2=None):
    """Picks `x1` where `condition` holds, else `x2`; the condition gets no gradient.

    With neither `x1` nor `x2`: the indices where `condition` holds, one index
    tensor per axis (not differentiable).
    """
    if x1 is None and x2 is None:
        return tuple(wrap(i) for i in xp.nonzero(xp.asarray(condition)))
    if x1 is None or x2 is None:
        raise ValueError("where: `x1` and `x2` either both should be `None` (for the indices "
                         "where `condition` holds) or both should have values. Received: "
                         f"x1={'None' if x1 is None else 'a value'}, "
                         f"x2={'None' if x2 is None else 'a value'}")
    condition = operand(condition)
    if isinstance(condition, Tensor) and condition.data.dtype != bool:
        condition = cast(condition, bool)
    a, b = operands(x1, x2)
    return WHERE(condition, a, b)


def maximum(x1, x2):
    """Elementwise maximum (ties send the gradient to `x1`)."""
    a, b = operands(x1, x2)
    return where(greater_equal(a, b), a, b)


def minimum(x1, x2):
    """Elementwise minimum (ties send the gradient to `x1`)."""
    a, b = operands(x1, x2)
    return where(less_equal(a, b), a, b)


def _clip_vjp(g, inputs, output, needs, min_value, max_value):
    x = inputs[0]
    return (g * cast(logical_and(greater_equal(x, min_value), less_equal(x, max_value)),
                     g.data.dtype),)


CLIP = Primitive("clip", lambda x, min_value, max_value: xp.clip(x, min_value, max_value),
                 _clip_vjp,
                 into=lambda out, x, min_value, max_value: xp.clip(x, min_value, max_value,
                                                                   out=out))


def clip(x, x_min, x_max):
    """Clips to [x_min, x_max]; the gradient is zero outside the range."""
    return CLIP(operand(x), min_value=x_min, max_value=x_max)


# ------------------------------------------------- functions of two tensors
def _binary(name, ufunc, vjp, doc, real=False):
    prim = elementwise(name, ufunc, vjp)

    def op(x1, x2):
        return prim(*(real_operands(x1, x2) if real else operands(x1, x2)))
    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    op.primitive = prim
    return op


def _arctan2_vjp(g, inputs, output, needs):
    y, x = inputs
    scale = g / (square(x) + square(y))
    return (sum_to(scale * x, shape_of(y)) if needs[0] else None,
            sum_to(-(scale * y), shape_of(x)) if needs[1] else None)


def _hypot_vjp(g, inputs, output, needs):
    a, b = inputs
    scale = g / output
    return (sum_to(scale * a, shape_of(a)) if needs[0] else None,
            sum_to(scale * b, shape_of(b)) if needs[1] else None)


def _logaddexp_vjp(g, inputs, output, needs):
    a, b = inputs
    return (sum_to(g * exp(a - output), shape_of(a)) if needs[0] else None,
            sum_to(g * exp(b - output), shape_of(b)) if needs[1] else None)


def _mod_vjp(g, inputs, output, needs):
    a, b = inputs
    return (sum_to(g, shape_of(a)) if needs[0] else None,
            sum_to(-(g * floor_divide(a, b)), shape_of(b)) if needs[1] else None)


arctan2 = _binary("arctan2", xp.arctan2, _arctan2_vjp,
                  "The angle of the point (x2, x1) from the x axis, in (-pi, pi].", real=True)
hypot = _binary("hypot", xp.hypot, _hypot_vjp, "sqrt(x1 ** 2 + x2 ** 2), without overflow.",
                real=True)
logaddexp = _binary("logaddexp", xp.logaddexp, _logaddexp_vjp,
                    "log(exp(x1) + exp(x2)), without overflow.", real=True)
mod = _binary("mod", xp.mod, _mod_vjp,
              "The remainder of floor division, with the sign of x2 (as Python's %).")
floor_divide = _binary("floor_divide", xp.floor_divide, no_gradient,
                       "x1 // x2: the quotient rounded down (not differentiable).")
_NEXTAFTER = elementwise("nextafter", xp.nextafter, no_gradient)


def nextafter(x1, x2):
    """The next representable float after `x1` towards `x2` (not differentiable; integers
    become `floatx()`)."""
    x1, x2 = operands(x1, x2)
    x1, x2 = float_tensor(x1), float_tensor(x2)
    return _NEXTAFTER(*operands(x1, cast(x2, x1.data.dtype)))


def divide_no_nan(x1, x2):
    """x1 / x2, and 0 where x2 is 0 (the gradient is 0 there too)."""
    x1, x2 = operands(x1, x2)
    zero = equal(x2, 0)
    return where(zero, 0.0, x1 / where(zero, 1.0, x2))


def _nan_to_num_compute(x, nan, posinf, neginf):
    return xp.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)


def _nan_to_num_vjp(g, inputs, output, needs, nan, posinf, neginf):
    return (where(isfinite(inputs[0]), g, 0.0),)


_NAN_TO_NUM = Primitive("nan_to_num", _nan_to_num_compute, _nan_to_num_vjp)


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """NaN replaced by `nan`, infinities by `posinf` / `neginf` (default: the dtype's largest
    and smallest finite values); replaced elements pass no gradient."""
    return _NAN_TO_NUM(operand(x), nan=nan, posinf=posinf, neginf=neginf)
