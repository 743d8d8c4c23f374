"""Elementwise math: exp, log, sqrt, abs, square, maximum, minimum, where, clip, comparisons."""

from numnet.autodiff.ops._core import (
    Primitive, Tensor, cast, elementwise, no_gradient, operand, operands, shape_of, sum_to, wrap,
    xp,
)


def _unary(name, ufunc, vjp):
    prim = elementwise(name, ufunc, vjp)

    def op(x):
        return prim(operand(x))
    op.primitive = prim
    op.__name__ = op.__qualname__ = name  # how configs name it (a Lambda of `ops.square`)
    return op


exp = _unary("exp", xp.exp, lambda g, inputs, y, needs: (g * y,))
log = _unary("log", xp.log, lambda g, inputs, y, needs: (g / inputs[0],))
log1p = _unary("log1p", xp.log1p, lambda g, inputs, y, needs: (g / (inputs[0] + 1),))
sqrt = _unary("sqrt", xp.sqrt, lambda g, inputs, y, needs: (g * 0.5 / y,))
square = _unary("square", xp.square, lambda g, inputs, y, needs: (g * 2 * inputs[0],))
abs = _unary("abs", xp.abs, lambda g, inputs, y, needs: (g * sign(inputs[0]),))
sin = _unary("sin", xp.sin, lambda g, inputs, y, needs: (g * cos(inputs[0]),))
cos = _unary("cos", xp.cos, lambda g, inputs, y, needs: (-(g * sin(inputs[0])),))
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


def stop_gradient(x):
    """Returns the value of `x` with no gradient flowing back (a constant to every tape)."""
    x = operand(x)
    return wrap(x.data) if isinstance(x, Tensor) else x


# ------------------------------------------------------------ comparisons
def _comparison(name, ufunc):
    prim = elementwise(name, ufunc, no_gradient)

    def op(a, b):
        return prim(*operands(a, b))
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


def where(condition, a, b):
    """Picks `a` where `condition` holds, else `b`; the condition gets no gradient."""
    condition = operand(condition)
    if isinstance(condition, Tensor) and condition.data.dtype != bool:
        condition = cast(condition, bool)
    a, b = operands(a, b)
    return WHERE(condition, a, b)


def maximum(a, b):
    """Elementwise maximum (ties send the gradient to `a`)."""
    a, b = operands(a, b)
    return where(greater_equal(a, b), a, b)


def minimum(a, b):
    """Elementwise minimum (ties send the gradient to `a`)."""
    a, b = operands(a, b)
    return where(less_equal(a, b), a, b)


def _clip_vjp(g, inputs, output, needs, min_value, max_value):
    x = inputs[0]
    return (g * cast(logical_and(greater_equal(x, min_value), less_equal(x, max_value)),
                     g.data.dtype),)


CLIP = Primitive("clip", lambda x, min_value, max_value: xp.clip(x, min_value, max_value),
                 _clip_vjp,
                 into=lambda out, x, min_value, max_value: xp.clip(x, min_value, max_value,
                                                                   out=out))


def clip(x, min_value, max_value):
    """Clips to [min_value, max_value]; the gradient is zero outside the range."""
    return CLIP(operand(x), min_value=min_value, max_value=max_value)
