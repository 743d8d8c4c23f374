"""Elementwise binary arithmetic and matmul, each with its backward rule beside it."""

from numnet.autodiff.ops.core import (
    Tensor, elementwise, operand, operands, real_operands, shape_of, sum_to, xp,
)


def _add_vjp(g, inputs, output, needs):
    a, b = inputs
    return (sum_to(g, shape_of(a)) if needs[0] else None,
            sum_to(g, shape_of(b)) if needs[1] else None)


def _subtract_vjp(g, inputs, output, needs):
    a, b = inputs
    return (sum_to(g, shape_of(a)) if needs[0] else None,
            sum_to(negative(g), shape_of(b)) if needs[1] else None)


def _multiply_vjp(g, inputs, output, needs):
    a, b = inputs
    return (sum_to(g * b, shape_of(a)) if needs[0] else None,
            sum_to(g * a, shape_of(b)) if needs[1] else None)


def _divide_vjp(g, inputs, output, needs):
    a, b = inputs
    return (sum_to(g / b, shape_of(a)) if needs[0] else None,
            sum_to(negative(g) * output / b, shape_of(b)) if needs[1] else None)


def _power_vjp(g, inputs, output, needs):
    a, b = inputs
    from numnet.autodiff.ops.math import log
    return (sum_to(g * b * a ** (b - 1), shape_of(a)) if needs[0] else None,
            sum_to(g * output * log(a), shape_of(b)) if needs[1] else None)


ADD = elementwise("add", xp.add, _add_vjp)
SUBTRACT = elementwise("subtract", xp.subtract, _subtract_vjp)
MULTIPLY = elementwise("multiply", xp.multiply, _multiply_vjp)
DIVIDE = elementwise("divide", xp.true_divide, _divide_vjp)
POWER = elementwise("power", xp.power, _power_vjp)
NEGATIVE = elementwise("negative", xp.negative, lambda g, inputs, output, needs: (negative(g),))


def add(x1, x2):
    """x1 + x2 with broadcasting."""
    return ADD(*operands(x1, x2))


def subtract(x1, x2):
    """x1 - x2 with broadcasting."""
    return SUBTRACT(*operands(x1, x2))


def multiply(x1, x2):
    """x1 * x2 with broadcasting."""
    return MULTIPLY(*operands(x1, x2))


def divide(x1, x2):
    """x1 / x2 with broadcasting; integers and booleans divide into `floatx()` (Keras' rule,
    where NumPy makes float64)."""
    return DIVIDE(*real_operands(x1, x2))


def power(x1, x2):
    """x1 ** x2; the exponent may be a tensor too (then x1 must be positive)."""
    return POWER(*operands(x1, x2))


def negative(x):
    """-x."""
    return NEGATIVE(operand(x))


def _matmul_vjp(g, inputs, output, needs):
    from numnet.autodiff.ops.shape import expand_dims, reshape, swapaxes
    a, b = inputs
    a2 = a if a.ndim > 1 else expand_dims(a, 0)
    b2 = b if b.ndim > 1 else expand_dims(b, -1)
    g2 = g
    if a.ndim == 1:
        g2 = expand_dims(g2, -2)
    if b.ndim == 1:
        g2 = expand_dims(g2, -1)
    ga = gb = None
    if needs[0]:
        ga = reshape(sum_to(matmul(g2, swapaxes(b2, -1, -2)), a2.shape), a.shape)
    if needs[1]:
        gb = reshape(sum_to(matmul(swapaxes(a2, -1, -2), g2), b2.shape), b.shape)
    return ga, gb


MATMUL = elementwise("matmul", xp.matmul, _matmul_vjp)


def matmul(x1, x2):
    """Matrix product x1 @ x2 (batched over leading axes, 1-D operands as vectors)."""
    a, b = operands(x1, x2)
    if not isinstance(a, Tensor):
        a = operand(xp.asarray(a))
    if not isinstance(b, Tensor):
        b = operand(xp.asarray(b))
    return MATMUL(a, b)
