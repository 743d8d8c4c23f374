"""Hinge metrics: Hinge, SquaredHinge, CategoricalHinge (Keras 3 semantics).

Each metric is the (sample-weighted) mean over samples of the loss function of
the same name in `numnet.losses`; the functions here return those per-sample
values as NumPy arrays.
"""

from numnet import losses
from numnet.metrics.base import MeanMetricWrapper, _array
from numnet.serialization import register_builtin


def hinge(y_true, y_pred):
    """`mean(maximum(1 - y_true * y_pred, 0), axis=-1)`; 0/1 labels become -1/1."""
    return _array(losses.hinge(y_true, y_pred))


def squared_hinge(y_true, y_pred):
    """`mean(square(maximum(1 - y_true * y_pred, 0)), axis=-1)`; 0/1 labels become -1/1."""
    return _array(losses.squared_hinge(y_true, y_pred))


def categorical_hinge(y_true, y_pred):
    """`maximum(neg - pos + 1, 0)` for one-hot `y_true` (see `numnet.losses`)."""
    return _array(losses.categorical_hinge(y_true, y_pred))


@register_builtin("keras.metrics")
class Hinge(MeanMetricWrapper):
    """The hinge metric between `y_true` and `y_pred`.

    `y_true` values are expected to be -1 or 1; if every value is 0 or 1 they
    are converted to -1 or 1.

    Args:
        name: (Optional) string name of the metric instance.
        dtype: (Optional) data type of the metric result.

    Example:

    >>> m = keras.metrics.Hinge()
    >>> m.update_state([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]])
    >>> m.result()
    1.3
    """

    _direction = "down"

    def __init__(self, name="hinge", dtype=None):
        super().__init__(fn=hinge, name=name, dtype=dtype)


@register_builtin("keras.metrics")
class SquaredHinge(MeanMetricWrapper):
    """The squared hinge metric between `y_true` and `y_pred`.

    `y_true` values are expected to be -1 or 1; if every value is 0 or 1 they
    are converted to -1 or 1.

    Args:
        name: (Optional) string name of the metric instance.
        dtype: (Optional) data type of the metric result.

    Example:

    >>> m = keras.metrics.SquaredHinge()
    >>> m.update_state([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]])
    >>> m.result()
    1.86
    """

    _direction = "down"

    def __init__(self, name="squared_hinge", dtype=None):
        super().__init__(fn=squared_hinge, name=name, dtype=dtype)


@register_builtin("keras.metrics")
class CategoricalHinge(MeanMetricWrapper):
    """The categorical hinge metric between one-hot `y_true` and `y_pred`.

    Args:
        name: (Optional) string name of the metric instance.
        dtype: (Optional) data type of the metric result.

    Example:

    >>> m = keras.metrics.CategoricalHinge()
    >>> m.update_state([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]])
    >>> m.result()
    1.4000001
    """

    _direction = "down"

    def __init__(self, name="categorical_hinge", dtype=None):
        super().__init__(fn=categorical_hinge, name=name, dtype=dtype)
