"""Regression metrics: MSE, RMSE, MAE, MAPE, MSLE, cosine similarity, log-cosh, R2
(Keras 3 semantics)."""

import warnings

from numnet.backend import xp

from numnet import losses
from numnet.autodiff import ops
from numnet.autodiff.tensor import Tensor
from numnet.backend import epsilon
from numnet.metrics.base import (
    Mean, MeanMetricWrapper, Metric, _array, squeeze_or_expand_tensors,
    squeeze_or_expand_to_same_rank,
)
from numnet.serialization import register_builtin


def _pair(y_true, y_pred):
    y_pred = _array(y_pred)
    if not xp.issubdtype(y_pred.dtype, xp.floating):
        y_pred = y_pred.astype(xp.float32)
    y_true = _array(y_true).astype(y_pred.dtype, copy=False)
    return squeeze_or_expand_to_same_rank(y_true, y_pred)


def _tensor_pair(y_true, y_pred):
    """`_pair` with ops: float `y_pred`, `y_true` of its dtype, ranks matched."""
    y_pred = y_pred if isinstance(y_pred, Tensor) else ops.convert_to_tensor(
        xp.asarray(y_pred), dtype=xp.asarray(y_pred).dtype)
    if y_pred.data.dtype.kind != "f":
        y_pred = ops.cast(y_pred, xp.float32)
    y_true = ops.cast(ops.convert_to_tensor(y_true, dtype=y_pred.data.dtype), y_pred.data.dtype)
    return squeeze_or_expand_tensors(y_true, y_pred)


def mean_squared_error(y_true, y_pred):
    """`mean((y_true - y_pred)**2, axis=-1)` per sample."""
    y_true, y_pred = _tensor_pair(y_true, y_pred)
    # The loss' own op on `y_pred - y_true`: compiled next to an MSE loss, it is computed once.
    return ops.mean_squared_error(y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    """`mean(|y_true - y_pred|, axis=-1)` per sample."""
    y_true, y_pred = _tensor_pair(y_true, y_pred)
    return ops.mean(ops.abs(y_true - y_pred), axis=-1)


mean_squared_error.uses_ops = mean_absolute_error.uses_ops = True


def mean_absolute_percentage_error(y_true, y_pred):
    """`100 * mean(|(y_true - y_pred) / max(|y_true|, epsilon)|, axis=-1)` per sample."""
    y_true, y_pred = _pair(y_true, y_pred)
    diff = xp.abs((y_true - y_pred) / xp.maximum(xp.abs(y_true), epsilon()))
    return 100.0 * xp.mean(diff, axis=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    """`mean(square(log(y_true + 1) - log(y_pred + 1)), axis=-1)` per sample.

    Both are floored at `epsilon` before the log (`numnet.losses`' function).
    """
    return _array(losses.mean_squared_logarithmic_error(*_pair(y_true, y_pred)))


def cosine_similarity(y_true, y_pred, axis=-1):
    """`sum(l2_normalize(y_true) * l2_normalize(y_pred), axis=axis)` per sample.

    Unlike Keras' `cosine_similarity` loss this is not negated: 1 means the
    same direction. An all-zero vector has similarity 0 with anything.
    """
    y_true, y_pred = _pair(y_true, y_pred)
    return xp.sum(_l2_normalize(y_true, axis) * _l2_normalize(y_pred, axis), axis=axis)


def _l2_normalize(x, axis):
    """`x / sqrt(sum(x**2))` along `axis`, the inverse norm capped at `1 / epsilon`."""
    square_sum = xp.sum(xp.square(x), axis=axis, keepdims=True)
    with xp.errstate(divide="ignore"):
        inverse_norm = 1.0 / xp.sqrt(square_sum)
    return x * xp.minimum(inverse_norm, 1.0 / epsilon()).astype(x.dtype, copy=False)


def log_cosh(y_true, y_pred):
    """`mean(log(cosh(y_pred - y_true)), axis=-1)` per sample."""
    return _array(losses.log_cosh(*_pair(y_true, y_pred)))


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error


@register_builtin("keras.metrics")
class MeanSquaredError(MeanMetricWrapper):
    """The (weighted) mean over samples of `mean((y_true - y_pred)**2, axis=-1)`."""

    _direction = "down"

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(fn=mean_squared_error, name=name, dtype=dtype)


@register_builtin("keras.metrics")
class MeanAbsoluteError(MeanMetricWrapper):
    """The (weighted) mean over samples of `mean(|y_true - y_pred|, axis=-1)`."""

    _direction = "down"

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(fn=mean_absolute_error, name=name, dtype=dtype)


@register_builtin("keras.metrics")
class MeanAbsolutePercentageError(MeanMetricWrapper):
    """The (weighted) mean over samples of the absolute percentage error."""

    _direction = "down"

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(fn=mean_absolute_percentage_error, name=name, dtype=dtype)


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
        y_true, y_pred = _tensor_pair(y_true, y_pred)
        if y_pred.ndim <= 1:  # each entry is a sample (Keras squares them elementwise)
            return super().update_state(ops.square(ops.subtract(y_pred, y_true)),
                                        sample_weight=sample_weight)
        # Keras' Mean averages each sample's squared errors first: the loss' op does that.
        return super().update_state(ops.mean_squared_error(y_true, y_pred),
                                    sample_weight=sample_weight)

    def result(self):
        return xp.sqrt(super().result())


@register_builtin("keras.metrics")
class MeanSquaredLogarithmicError(MeanMetricWrapper):
    """The (weighted) mean over samples of the mean squared logarithmic error.

    Formula:

    ```python
    metric = mean(square(log(y_true + 1) - log(y_pred + 1)), axis=-1)
    ```

    Args:
        name: (Optional) string name of the metric instance.
        dtype: (Optional) data type of the metric result.

    Example:

    >>> m = keras.metrics.MeanSquaredLogarithmicError()
    >>> m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
    >>> m.result()
    0.12011322
    """

    _direction = "down"

    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(fn=mean_squared_logarithmic_error, name=name, dtype=dtype)


@register_builtin("keras.metrics")
class CosineSimilarity(MeanMetricWrapper):
    """The mean cosine similarity between labels and predictions.

    Formula:

    ```python
    metric = sum(l2_norm(y_true) * l2_norm(y_pred), axis=axis)
    ```

    Args:
        name: (Optional) string name of the metric instance.
        dtype: (Optional) data type of the metric result.
        axis: (Optional) the axis along which the similarity is computed,
            default `-1`.

    Keras' `get_config()` leaves `axis` out; numnet's matches it for the
    default axis and adds `"axis"` only when it is not `-1`, so that the
    config rebuilds the same metric.

    Example:

    >>> m = keras.metrics.CosineSimilarity(axis=1)
    >>> m.update_state([[0., 1.], [1., 1.]], [[1., 0.], [1., 1.]])
    >>> m.result()
    0.5
    """

    _direction = "up"

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(fn=cosine_similarity, name=name, dtype=dtype, axis=axis)
        self.axis = axis

    def get_config(self):
        config = {"name": self.name, "dtype": self.dtype}
        if self.axis != -1:
            config["axis"] = self.axis
        return config


@register_builtin("keras.metrics")
class LogCoshError(MeanMetricWrapper):
    """The mean logarithm of the hyperbolic cosine of the prediction error.

    Formula:

    ```python
    error = y_pred - y_true
    metric = mean(log((exp(error) + exp(-error)) / 2), axis=-1)
    ```

    Args:
        name: (Optional) string name of the metric instance (Keras' default
            is `"logcosh"`).
        dtype: (Optional) data type of the metric result.

    Example:

    >>> m = keras.metrics.LogCoshError()
    >>> m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
    >>> m.result()
    0.1084452
    """

    _direction = "down"

    def __init__(self, name="logcosh", dtype=None):
        super().__init__(fn=log_cosh, name=name, dtype=dtype)


_CLASS_AGGREGATIONS = (None, "uniform_average", "variance_weighted_average")


@register_builtin("keras.metrics")
class R2Score(Metric):
    """The coefficient of determination (R2), optionally adjusted.

    Formula:

    ```python
    sum_squares_residuals = sum((y_true - y_pred) ** 2)
    sum_squares = sum((y_true - mean(y_true)) ** 2)
    R2 = 1 - sum_squares_residuals / sum_squares
    ```

    per output column, from (weighted) sums streamed over batches. A column
    whose targets do not vary scores 0.

    Args:
        class_aggregation: how to combine the columns' scores (the last axis):
            `None` (one score per column), `"uniform_average"` (default) or
            `"variance_weighted_average"`, like scikit-learn's `multioutput`.
        num_regressors: the number of independent regressors, for the
            "adjusted R2" score; 0 (default) gives the plain R2 score.
        name: (Optional) string name of the metric instance.
        dtype: (Optional) data type of the metric result.

    Inputs have shape `(batch_size, output_dim)`; the state is built on the
    first `update_state`. As in Keras, the adjustment counts every entry of
    `y_true` as a sample.

    Example:

    >>> y_true = xp.array([[1], [4], [3]], dtype=xp.float32)
    >>> y_pred = xp.array([[2], [4], [4]], dtype=xp.float32)
    >>> metric = keras.metrics.R2Score()
    >>> metric.update_state(y_true, y_pred)
    >>> metric.result()
    0.5714286
    """

    _direction = "up"

    def __init__(self, class_aggregation="uniform_average", num_regressors=0,
                 name="r2_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        if class_aggregation not in _CLASS_AGGREGATIONS:
            raise ValueError(
                "Invalid value for argument `class_aggregation`. Expected one of "
                f"{_CLASS_AGGREGATIONS}. Received: class_aggregation={class_aggregation}"
            )
        if num_regressors < 0:
            raise ValueError(
                "Invalid value for argument `num_regressors`. Expected a value >= 0. "
                f"Received: num_regressors={num_regressors}"
            )
        self.class_aggregation = class_aggregation
        self.num_regressors = num_regressors
        self.num_samples = self.add_variable(name="num_samples")
        self._built = False

    def _build(self, y_true_shape, y_pred_shape):
        if len(y_pred_shape) != 2 or len(y_true_shape) != 2:
            raise ValueError(
                "R2Score expects 2D inputs with shape (batch_size, output_dim). Received "
                f"input shapes: y_pred.shape={y_pred_shape} and y_true.shape={y_true_shape}."
            )
        columns = (y_pred_shape[-1],)
        # Keras' order and names: num_samples, squared_sum, sum, residual, count.
        self.squared_sum = self.add_variable(shape=columns, name="squared_sum")
        self.sum = self.add_variable(shape=columns, name="sum")
        self.total_mse = self.add_variable(shape=columns, name="residual")
        self.count = self.add_variable(shape=columns, name="count")
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Adds a batch of `(batch_size, output_dim)` targets and predictions.

        `sample_weight` may be a scalar, one weight per sample, or an array
        broadcastable to `y_true`'s shape.
        """
        y_pred = _array(y_pred).astype(self.dtype, copy=False)
        y_true = _array(y_true).astype(self.dtype, copy=False)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        if not self._built:
            self._build(y_true.shape, y_pred.shape)
        if sample_weight is None:
            weight = xp.ones((1, 1))
        else:
            weight = _array(sample_weight).astype(xp.float64, copy=False)
            if weight.ndim == 1:
                weight = weight[:, None]
        weight = xp.broadcast_to(weight, y_true.shape)
        y_true = y_true.astype(xp.float64)
        weighted_true = y_true * weight
        self.sum.data += weighted_true.sum(axis=0)
        self.squared_sum.data += (y_true * weighted_true).sum(axis=0)
        residual = y_true - y_pred
        self.total_mse.data += (xp.square(residual) * weight).sum(axis=0)
        self.count.data += weight.sum(axis=0)
        self.num_samples.data += y_true.size

    def result(self):
        if not self._built:
            return xp.dtype(self.dtype).type(xp.nan)
        with xp.errstate(divide="ignore", invalid="ignore"):
            mean = self.sum.data / self.count.data
            total = self.squared_sum.data - self.sum.data * mean
            raw_scores = 1.0 - self.total_mse.data / total
        raw_scores = xp.where(xp.isinf(raw_scores), 0.0, raw_scores)
        if self.class_aggregation == "uniform_average":
            score = xp.mean(raw_scores)
        elif self.class_aggregation == "variance_weighted_average":
            with xp.errstate(divide="ignore", invalid="ignore"):
                score = xp.sum(total * raw_scores) / xp.sum(total)
        else:
            score = raw_scores
        if self.num_regressors != 0:
            n = float(self.num_samples.data)
            p = float(self.num_regressors)
            if p > n - 1:
                warnings.warn("More independent predictors than datapoints in adjusted R2 "
                              "score. Falling back to standard R2 score.", stacklevel=2)
            elif p == n - 1:
                warnings.warn("Division by zero in Adjusted R2 score. Falling back to "
                              "standard R2 score.", stacklevel=2)
            else:
                score = 1.0 - (1.0 - score) * (n - 1.0) / (n - p - 1.0)
        if xp.ndim(score):
            return xp.asarray(score, dtype=self.dtype)
        return xp.dtype(self.dtype).type(score)

    def load_own_variables(self, store):
        if not self._built and len(store) > 1:
            columns = xp.asarray(store["1"]).shape
            self._build((None, columns[0]), (None, columns[0]))
        super().load_own_variables(store)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype,
                "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}


# ------------------------------------------------------------- correlations
def pearson_correlation(y_true, y_pred, axis=-1):
    """Pearson's correlation of `y_true` and `y_pred` along `axis`, per sample: the mean
    product of the two, each centred and scaled by its standard deviation."""
    y_true, y_pred = _tensor_pair(y_true, y_pred)
    true_centred = y_true - ops.mean(y_true, axis=axis, keepdims=True)
    pred_centred = y_pred - ops.mean(y_pred, axis=axis, keepdims=True)
    true_scaled = true_centred / ops.std(true_centred, axis=axis, keepdims=True)
    pred_scaled = pred_centred / ops.std(pred_centred, axis=axis, keepdims=True)
    return ops.mean(true_scaled * pred_scaled, axis=axis)


def concordance_correlation(y_true, y_pred, axis=-1):
    """Lin's concordance correlation along `axis`, per sample, computed as Keras 3.15 does:
    `mean(2 * (y_true - mean(y_pred)) * (y_pred - mean(y_pred)) / (var(y_true) +
    var(y_pred) + (mean(y_true) - mean(y_pred))**2 + epsilon))` (Keras centres `y_true` on
    the predictions' mean, where the textbook formula uses its own)."""
    y_true, y_pred = _tensor_pair(y_true, y_pred)
    true_mean = ops.mean(y_true, axis=axis, keepdims=True)
    pred_mean = ops.mean(y_pred, axis=axis, keepdims=True)
    spread = ops.var(y_true - true_mean, axis=axis, keepdims=True) + \
        ops.var(y_pred - pred_mean, axis=axis, keepdims=True) + ops.square(true_mean - pred_mean)
    covariance = (y_true - pred_mean) * (y_pred - pred_mean)
    return ops.mean(2.0 * covariance / (spread + epsilon()), axis=axis)


pearson_correlation.uses_ops = concordance_correlation.uses_ops = True


class _Correlation(MeanMetricWrapper):
    """The mean over samples of a correlation along `axis` (higher is better)."""

    _direction = "up"

    def __init__(self, fn, name, dtype, axis):
        super().__init__(fn=fn, name=name, dtype=dtype, axis=axis)
        self.axis = axis

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "axis": self.axis}


@register_builtin("keras.metrics")
class PearsonCorrelation(_Correlation):
    """The (weighted) mean over samples of `pearson_correlation` along `axis`.

    Example:

    >>> m = keras.metrics.PearsonCorrelation()
    >>> m.update_state([[0, 1, 0.5], [1, 1, 0.2]], [[0.1, 0.9, 0.5], [1, 0.9, 0.2]])
    """

    def __init__(self, name="pearson_correlation", dtype=None, axis=-1):
        super().__init__(pearson_correlation, name, dtype, axis)


@register_builtin("keras.metrics")
class ConcordanceCorrelation(_Correlation):
    """The (weighted) mean over samples of `concordance_correlation` along `axis`."""

    def __init__(self, name="concordance_correlation", dtype=None, axis=-1):
        super().__init__(concordance_correlation, name, dtype, axis)
