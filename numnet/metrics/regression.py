"""Regression metrics: MSE, RMSE, MAE, MAPE (Keras 3 semantics)."""

import numpy as np

from numnet.backend import epsilon
from numnet.metrics.base import Mean, MeanMetricWrapper, _array, squeeze_or_expand_to_same_rank
from numnet.serialization import register_builtin


def _pair(y_true, y_pred):
    y_pred = _array(y_pred)
    if not np.issubdtype(y_pred.dtype, np.floating):
        y_pred = y_pred.astype(np.float32)
    y_true = _array(y_true).astype(y_pred.dtype, copy=False)
    return squeeze_or_expand_to_same_rank(y_true, y_pred)


def mean_squared_error(y_true, y_pred):
    """`mean((y_true - y_pred)**2, axis=-1)` per sample."""
    y_true, y_pred = _pair(y_true, y_pred)
    diff = y_true - y_pred
    return np.mean(np.square(diff, out=diff), axis=-1)


def mean_absolute_error(y_true, y_pred):
    """`mean(|y_true - y_pred|, axis=-1)` per sample."""
    y_true, y_pred = _pair(y_true, y_pred)
    diff = y_true - y_pred
    return np.mean(np.abs(diff, out=diff), axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    """`100 * mean(|(y_true - y_pred) / max(|y_true|, epsilon)|, axis=-1)` per sample."""
    y_true, y_pred = _pair(y_true, y_pred)
    diff = np.abs((y_true - y_pred) / np.maximum(np.abs(y_true), epsilon()))
    return 100.0 * np.mean(diff, axis=-1)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error


@register_builtin("keras.metrics")
class MeanSquaredError(MeanMetricWrapper):
    """The (weighted) mean over samples of `mean((y_true - y_pred)**2, axis=-1)`."""

    _direction = "down"

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(fn=mean_squared_error, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


@register_builtin("keras.metrics")
class MeanAbsoluteError(MeanMetricWrapper):
    """The (weighted) mean over samples of `mean(|y_true - y_pred|, axis=-1)`."""

    _direction = "down"

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(fn=mean_absolute_error, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


@register_builtin("keras.metrics")
class MeanAbsolutePercentageError(MeanMetricWrapper):
    """The (weighted) mean over samples of the absolute percentage error."""

    _direction = "down"

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(fn=mean_absolute_percentage_error, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


@register_builtin("keras.metrics")
class RootMeanSquaredError(Mean):
    """`sqrt` of the (weighted) mean of the squared errors.

    The squared errors of each sample are averaged over its entries first, like
    `keras.metrics.RootMeanSquaredError`.
    """

    _direction = "down"

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = _pair(y_true, y_pred)
        diff = y_pred - y_true
        return super().update_state(np.square(diff, out=diff), sample_weight=sample_weight)

    def result(self):
        return np.sqrt(super().result())
