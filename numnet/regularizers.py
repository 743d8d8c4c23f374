"""Weight penalties added to the training loss, as in `keras.regularizers`."""

import numpy as np

from numnet.autodiff import ops
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


def _check(name, value):
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"Value for argument `{name}` must be a non-negative float. "
                         f"Received: {name}={value}")
    return value


@register_builtin("keras.regularizers")
class L1L2(Regularizer):
    """`l1 * sum(abs(x)) + l2 * sum(square(x))`."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _check("l1", l1)
        self.l2 = _check("l2", l2)

    def __call__(self, x):
        penalty = 0.0
        if self.l1:
            penalty = ops.multiply(ops.sum(ops.abs(x)), self.l1)
        if self.l2:
            term = ops.multiply(ops.sum(ops.square(x)), self.l2)
            penalty = term if isinstance(penalty, float) else ops.add(penalty, term)
        return penalty

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


@register_builtin("keras.regularizers")
class L1(Regularizer):
    """`l1 * sum(abs(x))`."""

    def __init__(self, l1=0.01):
        self.l1 = _check("l1", l1)

    def __call__(self, x):
        return ops.multiply(ops.sum(ops.abs(x)), self.l1)

    def get_config(self):
        return {"l1": self.l1}


@register_builtin("keras.regularizers")
class L2(Regularizer):
    """`l2 * sum(square(x))`."""

    def __init__(self, l2=0.01):
        self.l2 = _check("l2", l2)

    def __call__(self, x):
        return ops.multiply(ops.sum(ops.square(x)), self.l2)

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
                or not np.isfinite(factor) or factor < 0):
            raise ValueError("Invalid value for argument factor: expected a non-negative "
                             f"float.Received: factor={factor}")
        self.factor = float(np.float32(factor))
        if mode not in {"rows", "columns"}:
            raise ValueError('Invalid value for argument `mode`. Expected one of '
                             f'{{"rows", "columns"}}. Received: mode={mode}')
        self.mode = mode

    def __call__(self, x):
        shape = tuple(getattr(x, "shape", np.shape(x)))
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
        off_diagonal = ops.multiply(product, 1.0 - np.eye(size, dtype=unit.dtype))
        num_pairs = size * (size - 1.0) / 2.0
        total = ops.sum(ops.abs(off_diagonal))
        return ops.divide(ops.multiply(total, np.float32(self.factor) * np.float32(0.5)),
                          np.float32(num_pairs))

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


def l1_l2(l1=0.01, l2=0.01):
    """An `L1L2` regularizer with both penalties (0.01 each by default)."""
    return L1L2(l1=l1, l2=l2)


l1 = L1
l2 = L2
_BY_NAME = {"l1": L1, "l2": L2, "l1_l2": l1_l2, "L1": L1, "L2": L2, "L1L2": L1L2,
            "OrthogonalRegularizer": OrthogonalRegularizer,
            "orthogonal_regularizer": OrthogonalRegularizer}


def serialize(regularizer):
    return serialize_keras_object(regularizer)


def deserialize(config, custom_objects=None):
    return deserialize_keras_object(config, custom_objects=custom_objects,
                                    module_objects=_BY_NAME, printable_module_name="regularizer")


def get(identifier):
    """Returns a regularizer for a name ("l1", "l2", "l1_l2"), config, callable or None."""
    return get_by_identifier(identifier, _BY_NAME, "regularizer")
