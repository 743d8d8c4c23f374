"""Ops with effects: writing variables in place, and random draws.

A compiled step replays them at every step in their captured order (an
"effect" node is never dropped or hoisted, a "random" node draws anew from its
generator each time), so layers that update statistics while training
(BatchNormalization) or inject noise (Dropout, GaussianNoise) run compiled.
"""

from functools import partial

from numnet.autodiff.ops.core import Primitive, Tensor, no_gradient, operand, wrap, xp
from numnet.autodiff.tensor import Variable
from numnet.backend import global_generator


def _write(update):
    def compute(target, value):
        update(target, value)
        return target

    def into(out, target, value):
        update(target, value)
        return target
    return compute, into


def _assign(target, value):
    xp.copyto(target, value, casting="unsafe")


def _assign_add(target, value):
    xp.add(target, value, out=target, casting="unsafe")


def _assign_sub(target, value):
    xp.subtract(target, value, out=target, casting="unsafe")


def _effect(name, update, bind=None):
    compute, into = _write(update)
    return Primitive(name, compute, no_gradient, into=into, kind="effect", bind=bind)


ASSIGN = _effect("assign", _assign, lambda out, target, value: partial(
    xp.copyto, target, value, casting="unsafe"))
ASSIGN_ADD = _effect("assign_add", _assign_add, lambda out, target, value: partial(
    xp.add, target, value, out=target, casting="unsafe"))
ASSIGN_SUB = _effect("assign_sub", _assign_sub, lambda out, target, value: partial(
    xp.subtract, target, value, out=target, casting="unsafe"))


def _target(variable, name):
    if not isinstance(variable, Variable):
        raise TypeError(f"ops.{name} writes a Variable; received {type(variable).__name__}.")
    return variable


def assign(variable, value):
    """Writes `value` into `variable` in place (recorded by a capture as an effect)."""
    return ASSIGN(_target(variable, "assign"), operand(value))


def assign_add(variable, value):
    """`variable += value` in place."""
    return ASSIGN_ADD(_target(variable, "assign_add"), operand(value))


def assign_sub(variable, value):
    """`variable -= value` in place."""
    return ASSIGN_SUB(_target(variable, "assign_sub"), operand(value))


# ------------------------------------------------------------------ random
def _draw(method):
    def compute(shape, generator, dtype, **params):
        return getattr(generator or global_generator(), method)(size=shape, **params) \
            .astype(dtype, copy=False)

    def into(out, shape, generator, dtype, **params):
        xp.copyto(out, getattr(generator or global_generator(), method)(size=shape, **params),
                  casting="unsafe")
        return out
    return compute, into


def _random(name, method):
    compute, into = _draw(method)
    return Primitive(name, compute, no_gradient, into=into, kind="random")


RANDOM_UNIFORM = _random("random_uniform", "uniform")
RANDOM_NORMAL = _random("random_normal", "normal")


def random_uniform(shape, minval=0.0, maxval=1.0, generator=None, dtype="float32"):
    """Uniform draws in [minval, maxval), from `generator` (None: the global one at each call)."""
    return RANDOM_UNIFORM(shape=tuple(shape), generator=generator, dtype=xp.dtype(dtype),
                          low=float(minval), high=float(maxval))


def random_normal(shape, mean=0.0, stddev=1.0, generator=None, dtype="float32"):
    """Normal draws with `mean` and `stddev`, from `generator` (None: the global one)."""
    return RANDOM_NORMAL(shape=tuple(shape), generator=generator, dtype=xp.dtype(dtype),
                         loc=float(mean), scale=float(stddev))


__all__ = ["assign", "assign_add", "assign_sub", "random_normal", "random_uniform", "wrap"]


# ------------------------------------------------------------ mean accumulators
def _accumulate_compute(total, count, values, weight, per_sample):
    """Adds a batch to a running mean's float64 `total` and `count`, in place.

    With `weight` (a number): `values` is one batch value, counted `weight` times.
    Without: `values` holds per-sample values (each sample the mean of its
    `per_sample` entries), summed in float32 (float64 values: in float64), as
    Keras sums them, then added to the float64 total. A loss summing the same
    values sums them alike: a compiled step may add the loss's sum instead
    (`add_batch_sum`), with the same bits.
    """
    if weight is not None:
        total[()] = total[()] + float(values) * weight
        count[()] = count[()] + weight
        return total
    flat = values.reshape(-1)
    batch = float(xp.add.reduce(flat, dtype=xp.float64 if flat.dtype == xp.float64 else
                                xp.float32))
    total[()] = total[()] + (batch / per_sample if per_sample != 1 else batch)
    count[()] = count[()] + (len(values) if values.ndim else 1)
    return total


def add_batch_sum(total, count, batch_sum, rows):
    """A replay call adding `rows` per-sample values to a running mean, through `batch_sum`,
    the 0-d array another op of the step left their sum in (see
    `engine.rewrite.share_batch_sums`)."""
    def run():
        total[()] = total[()] + float(batch_sum)
        count[()] = count[()] + rows
    return run


def _accumulate_bind(out, total, count, values, weight, per_sample):
    # One Python call per step instead of four 0-d kernels: scalars are cheaper in Python.
    return partial(_accumulate_compute, total, count, values, weight, per_sample)


ACCUMULATE_MEAN = Primitive(
    "accumulate_mean", _accumulate_compute, no_gradient,
    into=lambda out, *arrays, **attrs: _accumulate_compute(*arrays, **attrs),
    kind="effect", bind=_accumulate_bind)


def accumulate_mean(total, count, values, weight=None):
    """Adds `values` to the running mean held by the variables `total` and `count`.

    See `_accumulate_compute`; a compiled step replays it as one call.
    """
    values = operand(values)
    if not isinstance(values, Tensor):
        values = wrap(xp.asarray(values))
    per_sample = 1
    if weight is None and values.ndim:
        per_sample = values.size // values.shape[0] if values.shape[0] else 1
    return ACCUMULATE_MEAN(_target(total, "accumulate_mean"), _target(count, "accumulate_mean"),
                           values, weight=None if weight is None else float(weight),
                           per_sample=per_sample)
