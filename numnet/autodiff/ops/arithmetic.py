"""Elementwise binary arithmetic and matmul, each with its backward rule beside it."""

from numnet.autodiff.ops._core import Tensor, operand, operands, record, recording, unbroadcast, xp


def add(a, b):
    """a + b with broadcasting."""
    (a, av), (b, bv) = operands(a, b)
    out = Tensor(av + bv)
    if recording():
        def backward(g, needs):
            return (unbroadcast(g, a.shape) if needs[0] else None,
                    unbroadcast(g, b.shape) if needs[1] else None)
        record(out, (a, b), backward)
    return out


def subtract(a, b):
    """a - b with broadcasting."""
    (a, av), (b, bv) = operands(a, b)
    out = Tensor(av - bv)
    if recording():
        def backward(g, needs):
            return (unbroadcast(g, a.shape) if needs[0] else None,
                    unbroadcast(-g, b.shape) if needs[1] else None)
        record(out, (a, b), backward)
    return out


def multiply(a, b):
    """a * b with broadcasting."""
    (a, av), (b, bv) = operands(a, b)
    out = Tensor(av * bv)
    if recording():
        def backward(g, needs):
            return (unbroadcast(g * bv, a.shape) if needs[0] else None,
                    unbroadcast(g * av, b.shape) if needs[1] else None)
        record(out, (a, b), backward)
    return out


def divide(a, b):
    """a / b with broadcasting."""
    (a, av), (b, bv) = operands(a, b)
    out = Tensor(av / bv)
    if recording():
        def backward(g, needs):
            return (unbroadcast(g / bv, a.shape) if needs[0] else None,
                    unbroadcast(-g * out.data / bv, b.shape) if needs[1] else None)
        record(out, (a, b), backward)
    return out


def negative(a):
    """-a."""
    a, av = operand(a)
    out = Tensor(-av)
    if recording():
        record(out, (a,), lambda g, needs: (-g,))
    return out


def power(a, b):
    """a ** b; the exponent may be a tensor too (then a must be positive)."""
    (a, av), (b, bv) = operands(a, b)
    out = Tensor(av ** bv)
    if recording():
        def backward(g, needs):
            ga = gb = None
            if needs[0]:
                ga = unbroadcast(g * bv * av ** (bv - 1), a.shape)
            if needs[1]:
                gb = unbroadcast(g * out.data * xp.log(av), b.shape)
            return ga, gb
        record(out, (a, b), backward)
    return out


def matmul(a, b):
    """Matrix product a @ b (batched over leading axes, 1-D operands as vectors)."""
    (a, av), (b, bv) = operands(a, b)
    out = Tensor(av @ bv)
    if recording():
        def backward(g, needs):
            ga = gb = None
            a2 = av if av.ndim > 1 else av[None, :]
            b2 = bv if bv.ndim > 1 else bv[:, None]
            g2 = g
            if av.ndim == 1:
                g2 = xp.expand_dims(g2, -2)
            if bv.ndim == 1:
                g2 = xp.expand_dims(g2, -1)
            if needs[0]:
                ga = g2 @ xp.swapaxes(b2, -1, -2)
                ga = unbroadcast(ga, a2.shape).reshape(av.shape)
            if needs[1]:
                gb = xp.swapaxes(a2, -1, -2) @ g2
                gb = unbroadcast(gb, b2.shape).reshape(bv.shape)
            return ga, gb
        record(out, (a, b), backward)
    return out
