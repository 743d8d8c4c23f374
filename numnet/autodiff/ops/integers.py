"""Functions of integers: the bitwise operations and shifts, `gcd` and `lcm` (Keras'
`keras.ops` names, NumPy's semantics). None is differentiable.

Each is one ufunc, so a compiled step replays it in place like any other elementwise op.
"""

import functools

from numnet.autodiff.ops.core import elementwise, no_gradient, operand, operands, xp


def _integer_binary(name, ufunc, doc):
    prim = elementwise(name, ufunc, no_gradient)

    def op(x, y):
        return prim(*operands(x, y))
    return _named(op, name, doc, prim)


def _integer_unary(name, ufunc, doc):
    prim = elementwise(name, ufunc, no_gradient)

    def op(x):
        return prim(operand(x))
    return _named(op, name, doc, prim)


def _named(op, name, doc, prim):
    """`op` as the function `name` of `numnet.ops`, computing with `prim`."""
    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    op.primitive = prim
    return op


bitwise_and = _integer_binary("bitwise_and", xp.bitwise_and,
                              "The bits set in both `x` and `y` (integers or booleans).")
bitwise_or = _integer_binary("bitwise_or", xp.bitwise_or,
                             "The bits set in `x` or `y` (integers or booleans).")
bitwise_xor = _integer_binary("bitwise_xor", xp.bitwise_xor,
                              "The bits set in exactly one of `x` and `y`.")
bitwise_left_shift = _integer_binary("bitwise_left_shift", xp.left_shift,
                                     "`x` shifted left by `y` bits (`x * 2**y`).")
bitwise_right_shift = _integer_binary("bitwise_right_shift", xp.right_shift,
                                      "`x` shifted right by `y` bits (rounding down).")
bitwise_not = _integer_unary("bitwise_not", xp.invert,
                             "Every bit of `x` flipped (`-x - 1` for signed integers).")
_GCD = elementwise("gcd", xp.gcd, no_gradient)
_LCM = elementwise("lcm", xp.lcm, no_gradient)


def gcd(x1, x2):
    """The greatest common divisor of `x1` and `x2` (non-negative; gcd(0, 0) is 0)."""
    return _GCD(*operands(x1, x2))


def lcm(x1, x2):
    """The least common multiple of `x1` and `x2` (non-negative; 0 when either is 0)."""
    return _LCM(*operands(x1, x2))


def _other_name(op, name):
    """`op` under another of Keras' names (Keras records each name as its own operation)."""
    @functools.wraps(op)  # (its signature is `op`'s: `inspect` follows `__wrapped__`)
    def renamed(*args, **kwargs):
        return op(*args, **kwargs)
    renamed.__name__ = renamed.__qualname__ = name
    return renamed


bitwise_invert = _other_name(bitwise_not, "bitwise_invert")
left_shift = _other_name(bitwise_left_shift, "left_shift")
right_shift = _other_name(bitwise_right_shift, "right_shift")
