"""F-scores: `FBetaScore` and `F1Score` (Keras 3 semantics).

Predictions become 0/1 decisions (above `threshold`, or the row's maximum when
`threshold` is None); weighted true positives, false positives, false
negatives and label counts are accumulated per class (or in total for
`average="micro"`), and the score is computed from them at `result()`.
"""

from numnet.backend import xp

from numnet.backend import epsilon
from numnet.metrics.base import Metric, _array
from numnet.serialization import register_builtin

_AVERAGES = (None, "micro", "macro", "weighted")


def _check_arguments(average, beta, threshold):
    if average not in _AVERAGES:
        raise ValueError(
            "Invalid `average` argument value. Expected one of: "
            f"{{None, 'micro', 'macro', 'weighted'}}. Received: average={average}"
        )
    if not isinstance(beta, float):
        raise ValueError(
            "Invalid `beta` argument value. It should be a Python float. "
            f"Received: beta={beta} of type '{type(beta)}'"
        )
    if beta <= 0.0:
        raise ValueError(f"Invalid `beta` argument value. It should be > 0. Received: beta={beta}")
    if threshold is not None:
        if not isinstance(threshold, float):
            raise ValueError(
                "Invalid `threshold` argument value. It should be a Python float. "
                f"Received: threshold={threshold} of type '{type(threshold)}'"
            )
        if threshold > 1.0 or threshold <= 0.0:
            raise ValueError(
                "Invalid `threshold` argument value. It should verify 0 < threshold <= 1. "
                f"Received: threshold={threshold}"
            )


@register_builtin("keras.metrics")
class FBetaScore(Metric):
    """The F-beta score, `(1 + b2) * precision * recall / (b2 * precision + recall)`, b2 = beta**2.

    Works for multi-class (one-hot) and multi-label targets of shape
    `(batch, classes)`.

    Args:
        average: None (one score per class, the default), "micro" (from the
            counts pooled over classes), "macro" (the mean of the class
            scores) or "weighted" (their mean weighted by each class' number
            of true labels).
        beta: a positive Python float, default 1.0 (recall weighs beta times
            as much as precision).
        threshold: predictions above it count as 1. None: each row's largest
            prediction (and its ties) counts as 1, unless it is 0.
        name: default "fbeta_score".
        dtype: result dtype.
    """

    _direction = "up"

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        _check_arguments(average, beta, threshold)
        self.average = average
        self.beta = beta
        self.threshold = threshold
        self.axis = None if average == "micro" else 0
        self._built = False

    def _build(self, y_true_shape, y_pred_shape):
        if len(y_pred_shape) != 2 or len(y_true_shape) != 2:
            raise ValueError(
                f"{type(self).__name__} expects 2D inputs with shape (batch_size, "
                f"output_dim). Received input shapes: y_pred.shape={y_pred_shape} and "
                f"y_true.shape={y_true_shape}."
            )
        if y_pred_shape[-1] is None or y_true_shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__} expects 2D inputs with shape (batch_size, "
                "output_dim), with output_dim fully defined (not None). Received input "
                f"shapes: y_pred.shape={y_pred_shape} and y_true.shape={y_true_shape}."
            )
        shape = () if self.average == "micro" else (y_pred_shape[-1],)
        self.true_positives = self.add_variable(shape, name="true_positives")
        self.false_positives = self.add_variable(shape, name="false_positives")
        self.false_negatives = self.add_variable(shape, name="false_negatives")
        self.intermediate_weights = self.add_variable(shape, name="intermediate_weights")
        self._built = True

    def _decisions(self, y_pred):
        if self.threshold is None:
            row_max = xp.max(y_pred, axis=-1, keepdims=True)
            return (y_pred >= row_max) & (xp.abs(y_pred) > 1e-9)
        return y_pred > xp.float32(self.threshold)

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Adds the batch's weighted counts (`sample_weight`: one weight per row)."""
        y_true = _array(y_true).astype(xp.float32, copy=False)
        y_pred = _array(y_pred).astype(xp.float32, copy=False)
        if not self._built:
            self._build(y_true.shape, y_pred.shape)
        predicted = self._decisions(y_pred).astype(xp.float64)
        y_true = y_true.astype(xp.float64)
        if sample_weight is not None:
            weights = _array(sample_weight).astype(xp.float64)[:, None]
        else:
            weights = None

        def weighted_sum(values):
            if weights is not None:
                values = values * weights
            return xp.sum(values, axis=self.axis)

        self.true_positives.data += weighted_sum(predicted * y_true)
        self.false_positives.data += weighted_sum(predicted * (1.0 - y_true))
        self.false_negatives.data += weighted_sum((1.0 - predicted) * y_true)
        self.intermediate_weights.data += weighted_sum(y_true)

    def result(self):
        if not self._built:
            return xp.dtype(self.dtype).type(0.0)
        eps = xp.float32(epsilon())
        tp = self.true_positives.data.astype(xp.float32)
        fp = self.false_positives.data.astype(xp.float32)
        fn = self.false_negatives.data.astype(xp.float32)
        precision = tp / (tp + fp + eps)
        recall = tp / (tp + fn + eps)
        b2 = xp.float32(self.beta ** 2)
        score = precision * recall / (b2 * precision + recall + eps) * (xp.float32(1.0) + b2)
        if self.average == "weighted":
            support = self.intermediate_weights.data.astype(xp.float32)
            score = xp.sum(score * (support / (xp.sum(support) + eps)))
        elif self.average is not None:
            score = xp.mean(score)
        return xp.asarray(score, dtype=self.dtype)[()]

    def reset_state(self):
        if self._built:
            super().reset_state()

    def get_config(self):
        return {**super().get_config(), "average": self.average, "beta": self.beta,
                "threshold": self.threshold}


@register_builtin("keras.metrics")
class F1Score(FBetaScore):
    """The F1 score, `2 * precision * recall / (precision + recall)`: `FBetaScore` with beta=1.

    Args:
        average: None, "micro", "macro" or "weighted" (see `FBetaScore`).
        threshold: see `FBetaScore`.
        name: default "f1_score".
        dtype: result dtype.
    """

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config
