"""Weight penalties added to the training loss, as in `keras.regularizers`."""

import math
import numbers

from numnet.backend import xp

from numnet.autodiff import ops
from numnet.autodiff.ops.reductions import sum_of_squares
from numnet.backend import to_snake_case
from numnet.serialization import (
    deserialize_keras_object, get_by_identifier, register_builtin, serialize_keras_object,
)


class Regularizer:
    """Base class: `regularizer(weight)` returns a scalar penalty tensor."""

    def __call__(self, x):
        return 0.0

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def validate_float_arg(value, name):
    """`value` as a float when it is a finite non-negative number; a ValueError otherwise.

    The check Keras applies to every penalty factor (`l1`, `l2`, `factor`):
    strings, `None`, lists, NaN, infinities and negative numbers are refused.
    """
    if (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value) and value >= 0):
        return float(value)
    raise ValueError(f"Invalid value for argument {name}: expected a non-negative float. "
                     f"Received: {name}={value!r}")


@register_builtin("keras.regularizers")
class L1L2(Regularizer):
    """`l1 * sum(abs(x)) + l2 * sum(square(x))`."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = validate_float_arg(l1, "l1")
        self.l2 = validate_float_arg(l2, "l2")

    def __call__(self, x):
        penalty = 0.0
        if self.l1:
            penalty = ops.multiply(ops.sum(ops.abs(x)), self.l1)
        if self.l2:
            term = ops.multiply(sum_of_squares(x), self.l2)
            penalty = term if isinstance(penalty, float) else ops.add(penalty, term)
        return penalty

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


@register_builtin("keras.regularizers")
class L1(Regularizer):
    """`l1 * sum(abs(x))`."""

    def __init__(self, l1=0.01):
        # kept as float32, as Keras keeps it (its config then reads 0.009999999776...)
        self.l1 = float(xp.float32(validate_float_arg(0.01 if l1 is None else l1, "l1")))

    def __call__(self, x):
        return ops.multiply(ops.sum(ops.abs(x)), self.l1)

    def get_config(self):
        return {"l1": self.l1}


@register_builtin("keras.regularizers")
class L2(Regularizer):
    """`l2 * sum(square(x))`."""

    def __init__(self, l2=0.01):
        self.l2 = validate_float_arg(0.01 if l2 is None else l2, "l2")

    def __call__(self, x):
        return ops.multiply(sum_of_squares(x), self.l2)

    def get_config(self):
        return {"l2": self.l2}


def _normalize(x, axis):
    """`x * min(1 / ||x||, 1 / epsilon)` along `axis` (Keras' `ops.normalize`), differentiable.

    Written as `x / sqrt(max(||x||**2, epsilon**2))`, the same value, so that a zero
    vector (whose norm is floored) gets a zero gradient rather than `0 * inf`.
    """
    from numnet.backend import epsilon

    squared_norm = ops.sum(ops.square(x), axis=axis, keepdims=True)
    floored = ops.maximum(squared_norm, epsilon() ** 2)
    return ops.divide(x, ops.sqrt(floored))


@register_builtin("keras.regularizers")
class OrthogonalRegularizer(Regularizer):
    """Pushes the rows (or columns) of a rank-2 weight to be orthogonal to each other.

    The penalty is `factor * 0.5 * mean(|cos(v_i, v_j)|)` over all pairs `i < j`
    of rows (`mode="rows"`) or columns (`mode="columns"`); cosines come from
    the L2-normalized vectors.

    Args:
        factor: a non-negative float, default 0.01 (kept as float32, as Keras does).
        mode: "rows" (default) or "columns".
    """

    def __init__(self, factor=0.01, mode="rows"):
        if (isinstance(factor, bool) or not isinstance(factor, (float, int))
                or not xp.isfinite(factor) or factor < 0):
            raise ValueError("Invalid value for argument factor: expected a non-negative "
                             f"float.Received: factor={factor}")
        self.factor = float(xp.float32(factor))
        if mode not in {"rows", "columns"}:
            raise ValueError('Invalid value for argument `mode`. Expected one of '
                             f'{{"rows", "columns"}}. Received: mode={mode}')
        self.mode = mode

    def __call__(self, x):
        shape = tuple(getattr(x, "shape", xp.shape(x)))
        if len(shape) != 2:
            raise ValueError(
                f"Inputs to OrthogonalRegularizer must have rank 2. Received: inputs.shape={shape}"
            )
        if self.mode == "rows":
            unit = _normalize(x, axis=1)
            product = ops.matmul(unit, ops.transpose(unit))
            size = shape[0]
        else:
            unit = _normalize(x, axis=0)
            product = ops.matmul(ops.transpose(unit), unit)
            size = shape[1]
        off_diagonal = ops.multiply(product, 1.0 - xp.eye(size, dtype=unit.dtype))
        num_pairs = size * (size - 1.0) / 2.0
        total = ops.sum(ops.abs(off_diagonal))
        return ops.divide(ops.multiply(total, xp.float32(self.factor) * xp.float32(0.5)),
                          xp.float32(num_pairs))

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


# Keras 3's lower-case names are the classes themselves (`l1_l2()` is `L1L2()`: no penalty).
l1 = L1
l2 = L2
l1_l2 = L1L2
orthogonal_regularizer = OrthogonalRegularizer

# The names `get` accepts, as Keras 3's: each class by its name and its snake-case name.
_BY_NAME = {}
for _cls in (Regularizer, L1, L2, L1L2, OrthogonalRegularizer):
    _BY_NAME[_cls.__name__] = _cls
    _BY_NAME[to_snake_case(_cls.__name__)] = _cls


def serialize(regularizer):
    return serialize_keras_object(regularizer)


def deserialize(config, custom_objects=None):
    return deserialize_keras_object(config, custom_objects=custom_objects,
                                    module_objects=_BY_NAME, printable_module_name="regularizer")


def get(identifier):
    """Returns a regularizer for a name ("l1", "l2", "l1l2", ...), config, callable or None."""
    return get_by_identifier(identifier, _BY_NAME, "regularizer")
