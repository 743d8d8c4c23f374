"""Thresholded confusion-matrix metrics: `Precision`, `Recall`, `AUC` (Keras 3 semantics).

A prediction counts as positive at threshold `t` when `y_pred > t`; labels are
positive when non-zero. Counts are sample-weighted. For evenly spaced
thresholds (AUC's default) predictions are bucketed once, the way Keras'
optimized path does, instead of being compared with every threshold.
"""

from numnet.backend import xp

from numnet.backend import epsilon
from numnet.metrics.base import Metric, _array, squeeze_or_expand_to_same_rank
from numnet.metrics.metrics_utils import AUCCurve, AUCSummationMethod
from numnet.serialization import register_builtin

NEG_INF = -1e10


def _to_list(x):
    if isinstance(x, (list, tuple)):
        return list(x)
    if isinstance(x, xp.ndarray):
        return x.tolist()
    return [x]


def _parse_init_thresholds(thresholds, default_threshold=0.5):
    if thresholds is not None:
        invalid = [t for t in _to_list(thresholds) if t is None or t < 0 or t > 1]
        if invalid:
            raise ValueError(
                f"Threshold values must be in [0, 1]. Received: {invalid}"
            )
    return [float(t) for t in _to_list(default_threshold if thresholds is None else thresholds)]


def _is_evenly_distributed(thresholds):
    n = len(thresholds)
    if n < 3:
        return False
    even = xp.arange(n, dtype=xp.float32) / (n - 1)
    return bool(xp.allclose(thresholds, even, atol=epsilon()))


def _filter_top_k(x, k):
    """Keeps the `k` largest entries of the last axis; the others become NEG_INF."""
    order = xp.argsort(-x, axis=-1, kind="stable")[..., :k]
    mask = xp.zeros(x.shape, dtype=bool)
    xp.put_along_axis(mask, order, True, axis=-1)
    return xp.where(mask, x, xp.float32(NEG_INF)).astype(x.dtype, copy=False)


def update_confusion_matrix(y_true, y_pred, thresholds, thresholds_distributed_evenly=False,
                            top_k=None, class_id=None, sample_weight=None, multi_label=False,
                            label_weights=None):
    """Returns the weighted `(tp, fp, tn, fn)` counts of one batch, per threshold.

    Each count has shape `(num_thresholds,)`, or `(num_thresholds, num_labels)`
    with `multi_label=True`. Follows Keras' `update_confusion_matrix_variables`.
    """
    y_pred = _array(y_pred).astype(xp.float32, copy=False)
    y_true = _array(y_true)
    y_pred, y_true = squeeze_or_expand_to_same_rank(y_pred, y_true)
    if sample_weight is not None:
        sample_weight = _array(sample_weight).astype(xp.float64, copy=False)[..., None]
        _, sample_weight = squeeze_or_expand_to_same_rank(y_true, sample_weight,
                                                          expand_rank_1=False)
    if top_k is not None:
        y_pred = _filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim == 1:
            raise ValueError(
                "When class_id is provided, y_pred must be a 2D array with shape "
                f"(num_samples, num_classes), found shape: {y_pred.shape}"
            )
        y_true = y_true[..., class_id, None]
        y_pred = y_pred[..., class_id, None]

    labels = y_true.astype(bool, copy=False)
    if labels.shape != y_pred.shape:
        labels = xp.broadcast_to(labels, y_pred.shape)
    weights = None
    if sample_weight is not None:
        weights = xp.broadcast_to(sample_weight, y_pred.shape)
    if label_weights is not None and not multi_label:
        lw = xp.broadcast_to(xp.asarray(label_weights, dtype=xp.float64), y_pred.shape)
        weights = lw if weights is None else weights * lw
    if not multi_label:
        y_pred = y_pred.reshape(-1)
        labels = labels.reshape(-1)
        if weights is not None:
            weights = weights.reshape(-1)
    else:
        if y_pred.ndim != 2:
            raise ValueError(
                f"`y_pred` must have rank 2 when `multi_label=True`. Found rank {y_pred.ndim}."
            )

    true_w = labels.astype(xp.float64)
    if weights is not None:
        true_w *= weights
        false_w = weights - true_w
    else:
        false_w = 1.0 - true_w
    total_true = true_w.sum(axis=0)
    total_false = false_w.sum(axis=0)

    count = _counts_by_bucket if thresholds_distributed_evenly else _counts_by_comparison
    tp, fp = count(y_pred, true_w, false_w, thresholds, multi_label)
    tn = total_false - fp
    fn = total_true - tp
    return tp, fp, tn, fn


def _counts_by_bucket(y_pred, true_w, false_w, thresholds, multi_label):
    """(tp, fp) per threshold for evenly spaced thresholds: one bucket index per prediction,
    weighted bincounts, then cumulative sums from the top bucket down."""
    num_thresholds = len(thresholds)
    with_epsilon = thresholds[0] < 0.0 or thresholds[-1] > 1.0
    # Bucket b holds predictions in (t_b, t_{b+1}]: positive for thresholds 0..b.
    clipped = xp.clip(y_pred, xp.float32(0.0), xp.float32(1.0))
    buckets = xp.ceil(clipped * xp.float32(num_thresholds - 1)) - xp.float32(1.0)
    if with_epsilon:
        xp.maximum(buckets, 0, out=buckets)
    buckets = buckets.astype(xp.int64)
    if multi_label:
        num_labels = y_pred.shape[1]
        buckets = buckets + xp.arange(num_labels) * num_thresholds
        size = num_thresholds * num_labels
    else:
        size = num_thresholds
    keep = buckets >= 0
    if not keep.all():
        buckets, true_w, false_w = buckets[keep], true_w[keep], false_w[keep]
    else:
        buckets, true_w = buckets.reshape(-1), true_w.reshape(-1)
        false_w = xp.broadcast_to(false_w, y_pred.shape).reshape(-1)
    tp_b = xp.bincount(buckets, weights=true_w, minlength=size)
    fp_b = xp.bincount(buckets, weights=false_w, minlength=size)
    if multi_label:
        tp_b = tp_b.reshape(num_labels, num_thresholds).T
        fp_b = fp_b.reshape(num_labels, num_thresholds).T
    return xp.cumsum(tp_b[::-1], axis=0)[::-1], xp.cumsum(fp_b[::-1], axis=0)[::-1]


def _counts_by_comparison(y_pred, true_w, false_w, thresholds, multi_label):
    """(tp, fp) per threshold for any thresholds: every prediction against every one."""
    thr = xp.asarray(thresholds, dtype=xp.float32)
    if multi_label:
        positive = y_pred[None, :, :] > thr[:, None, None]       # (T, n, L)
        return (xp.einsum("tnl,nl->tl", positive, true_w),
                xp.einsum("tnl,nl->tl", positive, xp.broadcast_to(false_w, y_pred.shape)))
    positive = (y_pred[None, :] > thr[:, None]).astype(xp.float64)  # (T, N)
    return positive @ true_w, positive @ xp.broadcast_to(false_w, y_pred.shape)


def _divide_no_nan(a, b):
    a, b = xp.broadcast_arrays(xp.asarray(a, dtype=xp.float64), xp.asarray(b, dtype=xp.float64))
    out = xp.zeros(a.shape, dtype=xp.float64)
    xp.divide(a, b, out=out, where=b != 0)
    return out


def _divide_no_nan_f32(a, b):
    """`a / b` in float32 (0 where `b == 0`), as Keras' float32 state divides."""
    out = xp.zeros(xp.shape(a), dtype=xp.float32)
    xp.divide(a, b, out=out, where=b != 0)
    return out


class _ThresholdedRate(Metric):
    """Shared code of Precision and Recall."""

    _direction = "up"
    _other = None  # "false_positives" or "false_negatives"

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        default = 0.5 if top_k is None else NEG_INF
        if thresholds is None:
            self.thresholds = [default]
        else:
            self.thresholds = _parse_init_thresholds(thresholds)
        self._thresholds_distributed_evenly = _is_evenly_distributed(self.thresholds)
        n = len(self.thresholds)
        self.true_positives = self.add_variable((n,), name="true_positives")
        self.other = self.add_variable((n,), name=self._other)

    def update_state(self, y_true, y_pred, sample_weight=None):
        tp, fp, _, fn = update_confusion_matrix(
            y_true, y_pred, self.thresholds,
            thresholds_distributed_evenly=self._thresholds_distributed_evenly,
            top_k=self.top_k, class_id=self.class_id, sample_weight=sample_weight)
        self.true_positives.data += tp
        self.other.data += fp if self._other == "false_positives" else fn

    def result(self):
        tp = self.true_positives.data
        rate = _divide_no_nan(tp, tp + self.other.data).astype(self.dtype)
        return rate[0] if len(self.thresholds) == 1 else rate

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds,
                "top_k": self.top_k, "class_id": self.class_id}


@register_builtin("keras.metrics")
class Precision(_ThresholdedRate):
    """`tp / (tp + fp)`, with predictions positive above `thresholds` (default 0.5).

    Args:
        thresholds: a float or list of floats in [0, 1]; the result is a scalar
            for one threshold, else one value per threshold.
        top_k: only the `k` largest predictions of each sample may be positive.
        class_id: only this class (last-axis index) is considered.
        name: default "precision" (made unique).
        dtype: result dtype.
    """

    _other = "false_positives"

    @property
    def false_positives(self):
        return self.other


@register_builtin("keras.metrics")
class Recall(_ThresholdedRate):
    """`tp / (tp + fn)`, with predictions positive above `thresholds` (default 0.5).

    Same arguments as `Precision`; default name "recall".
    """

    _other = "false_negatives"

    @property
    def false_negatives(self):
        return self.other


@register_builtin("keras.metrics")
class AUC(Metric):
    """Area under the ROC or PR curve, from confusion counts at fixed thresholds.

    The thresholds are `num_thresholds` evenly spaced points of [0, 1] (the
    ends moved out by epsilon), or `[-eps] + sorted(thresholds) + [1 + eps]`.
    The area is a Riemann sum over consecutive thresholds: the trapezoid rule
    (`summation_method="interpolation"`; for PR, Davis & Goadrich's
    interpolation), or the min/max of the two heights ("minoring"/"majoring").

    Args:
        num_thresholds: default 200.
        curve: "ROC" (default), "PR" or "PRGAIN".
        summation_method: "interpolation" (default), "minoring" or "majoring".
        name: default "auc" (made unique).
        dtype: result dtype.
        thresholds: explicit thresholds in [0, 1] (overrides num_thresholds).
        multi_label: one curve per label (last axis), averaged (weighted by
            `label_weights` if given); else all labels are pooled.
        num_labels: the number of labels, to create the state before the first update.
        label_weights: per-label weights.
        from_logits: apply a sigmoid to the predictions first.
    """

    _direction = "up"

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation",
                 name=None, dtype=None, thresholds=None, multi_label=False, num_labels=None,
                 label_weights=None, from_logits=False):
        self.curve = AUCCurve.from_str(getattr(curve, "value", curve))
        self.summation_method = AUCSummationMethod.from_str(
            getattr(summation_method, "value", summation_method))
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            self.num_thresholds = len(thresholds) + 2
            thresholds = sorted(float(t) for t in thresholds)
            self._thresholds_distributed_evenly = _is_evenly_distributed(
                xp.array([0.0] + thresholds + [1.0]))
        else:
            if num_thresholds <= 1:
                raise ValueError(
                    "Argument `num_thresholds` must be an integer > 1. "
                    f"Received: num_thresholds={num_thresholds}"
                )
            self.num_thresholds = num_thresholds
            thresholds = [(i + 1) * 1.0 / (num_thresholds - 1)
                          for i in range(num_thresholds - 2)]
            self._thresholds_distributed_evenly = True
        self._thresholds = xp.array([0.0 - epsilon()] + thresholds + [1.0 + epsilon()])
        super().__init__(name=name, dtype=dtype)
        self.multi_label = multi_label
        self.num_labels = num_labels
        self.label_weights = (None if label_weights is None
                              else xp.asarray(label_weights, dtype=xp.float64))
        self._from_logits = from_logits
        self._built = False
        if multi_label:
            if num_labels:
                self._build([None, num_labels])
        else:
            if num_labels:
                raise ValueError("`num_labels` is needed only when `multi_label` is True.")
            self._build(None)

    @property
    def thresholds(self):
        """The thresholds, including the two epsilon-moved ends."""
        return list(self._thresholds)

    def _build(self, shape):
        if self.multi_label:
            if len(shape) != 2:
                raise ValueError(
                    "`y_pred` must have rank 2 when `multi_label=True`. Found rank "
                    f"{len(shape)}. Full shape received for `y_pred`: {shape}"
                )
            self._num_labels = shape[1]
            variable_shape = (self.num_thresholds, self._num_labels)
        else:
            variable_shape = (self.num_thresholds,)
        self.true_positives = self.add_variable(variable_shape, name="true_positives")
        self.false_positives = self.add_variable(variable_shape, name="false_positives")
        self.true_negatives = self.add_variable(variable_shape, name="true_negatives")
        self.false_negatives = self.add_variable(variable_shape, name="false_negatives")
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = _array(y_pred)
        if not self._built:
            self._build(y_pred.shape)
        if self._from_logits:
            y_pred = 1.0 / (1.0 + xp.exp(-y_pred.astype(xp.float32)))
        tp, fp, tn, fn = update_confusion_matrix(
            y_true, y_pred, self._thresholds,
            thresholds_distributed_evenly=self._thresholds_distributed_evenly,
            sample_weight=sample_weight, multi_label=self.multi_label,
            label_weights=None if self.multi_label else self.label_weights)
        self.true_positives.data += tp
        self.false_positives.data += fp
        self.true_negatives.data += tn
        self.false_negatives.data += fn

    def _average_over_labels(self, by_label):
        if self.label_weights is None:
            return float(xp.mean(by_label))
        return float(_divide_no_nan(xp.sum(by_label * self.label_weights),
                                    xp.sum(self.label_weights)))

    def interpolate_pr_auc(self):
        """Davis & Goadrich's interpolated PR-AUC, as Keras computes it."""
        n = self.num_thresholds
        tp = self.true_positives.data
        fn = self.false_negatives.data
        p = tp + self.false_positives.data
        dtp = tp[: n - 1] - tp[1:]
        dp = p[: n - 1] - p[1:]
        prec_slope = _divide_no_nan(dtp, xp.maximum(dp, 0))
        intercept = tp[1:] - prec_slope * p[1:]
        both_positive = (p[: n - 1] > 0) & (p[1:] > 0)
        safe_p_ratio = xp.where(both_positive,
                                _divide_no_nan(p[: n - 1], xp.maximum(p[1:], 0)), 1.0)
        increments = _divide_no_nan(prec_slope * (dtp + intercept * xp.log(safe_p_ratio)),
                                    xp.maximum(tp[1:] + fn[1:], 0))
        if self.multi_label:
            return self._average_over_labels(xp.sum(increments, axis=0))
        return float(xp.sum(increments))

    def result(self):
        if not self._built:
            return xp.dtype(self.dtype).type(0.0)
        if self.curve == "PR" and self.summation_method == "interpolation":
            return xp.dtype(self.dtype).type(self.interpolate_pr_auc())
        tp = self.true_positives.data
        fp = self.false_positives.data
        tn = self.true_negatives.data
        fn = self.false_negatives.data
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, _divide_no_nan(tp, tp + fp)
        else:  # PRGAIN
            scaling = _divide_no_nan(tp + fn, tn + fp)
            recall_gain = 1.0 - scaling * _divide_no_nan(fn, tp)
            precision_gain = 1.0 - scaling * _divide_no_nan(fp, tp)
            recall_gain = xp.maximum(xp.where(tp == 0, 0.0, recall_gain), 0.0)
            precision_gain = xp.where(tp == 0, 1.0, precision_gain)
            x, y = recall_gain, precision_gain
        n = self.num_thresholds
        if self.summation_method == "interpolation":
            heights = (y[: n - 1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = xp.minimum(y[: n - 1], y[1:])
        else:
            heights = xp.maximum(y[: n - 1], y[1:])
        terms = (x[: n - 1] - x[1:]) * heights
        if self.multi_label:
            value = self._average_over_labels(xp.sum(terms, axis=0))
        else:
            value = float(xp.sum(terms))
        return xp.dtype(self.dtype).type(value)

    def reset_state(self):
        if self._built:
            super().reset_state()

    def get_config(self):
        label_weights = self.label_weights
        config = {
            **super().get_config(),
            "num_thresholds": self.num_thresholds,
            "curve": self.curve.value,
            "summation_method": self.summation_method.value,
            "multi_label": self.multi_label,
            "num_labels": self.num_labels,
            "label_weights": None if label_weights is None else label_weights.tolist(),
            "from_logits": self._from_logits,
        }
        if self._init_from_thresholds:
            config["thresholds"] = [float(t) for t in self._thresholds[1:-1]]
        return config


class _ConfusionMatrixConditionCount(Metric):
    """The weighted count of one confusion-matrix cell at each threshold.

    Shared code of `TruePositives`, `FalsePositives`, `TrueNegatives` and
    `FalseNegatives`: one state variable, `accumulator`, of one count per
    threshold; the result is a scalar for one threshold, else one value each.
    """

    _cell = None  # index into (tp, fp, tn, fn)

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.thresholds = _parse_init_thresholds(thresholds)
        self._thresholds_distributed_evenly = _is_evenly_distributed(self.thresholds)
        self.accumulator = self.add_variable((len(self.thresholds),), name="accumulator")

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Adds the batch's weighted count (`sample_weight` defaults to 1 per entry)."""
        counts = update_confusion_matrix(
            y_true, y_pred, self.thresholds,
            thresholds_distributed_evenly=self._thresholds_distributed_evenly,
            sample_weight=sample_weight)
        self.accumulator.data += counts[self._cell]

    def result(self):
        counts = self.accumulator.data.astype(self.dtype)
        return counts[0] if len(self.thresholds) == 1 else counts

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds}


@register_builtin("keras.metrics")
class TruePositives(_ConfusionMatrixConditionCount):
    """The (weighted) number of positive labels predicted above the threshold(s).

    Args:
        thresholds: a float or list of floats in [0, 1] (default 0.5); a
            prediction counts as positive when it is above the threshold.
        name: default "true_positives" (made unique).
        dtype: result dtype.
    """

    _cell = 0


@register_builtin("keras.metrics")
class FalsePositives(_ConfusionMatrixConditionCount):
    """The (weighted) number of negative labels predicted above the threshold(s).

    Same arguments as `TruePositives`.
    """

    _cell = 1


@register_builtin("keras.metrics")
class TrueNegatives(_ConfusionMatrixConditionCount):
    """The (weighted) number of negative labels predicted at or below the threshold(s).

    Same arguments as `TruePositives`.
    """

    _cell = 2


@register_builtin("keras.metrics")
class FalseNegatives(_ConfusionMatrixConditionCount):
    """The (weighted) number of positive labels predicted at or below the threshold(s).

    Same arguments as `TruePositives`.
    """

    _cell = 3


class SensitivitySpecificityBase(Metric):
    """Confusion counts at `num_thresholds` evenly spaced thresholds in [0, 1].

    The base of the "best X where Y >= value" metrics. With `num_thresholds=1`
    the single threshold is 0.5; otherwise the thresholds are `0, 1/(n-1), ...,
    1` (a prediction is positive when strictly above a threshold).

    Args:
        value: the constraint the subclass' result must satisfy.
        num_thresholds: default 200.
        class_id: only this class (last-axis index) is considered.
        name: the metric's name.
        dtype: result dtype.
    """

    _direction = "up"

    def __init__(self, value, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if num_thresholds <= 0:
            raise ValueError(
                "Argument `num_thresholds` must be an integer > 0. "
                f"Received: num_thresholds={num_thresholds}"
            )
        self.value = value
        self.class_id = class_id
        if num_thresholds == 1:
            self.thresholds = [0.5]
            self._thresholds_distributed_evenly = False
        else:
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self.thresholds = [0.0] + inner + [1.0]
            self._thresholds_distributed_evenly = True
        n = len(self.thresholds)
        self.true_positives = self.add_variable((n,), name="true_positives")
        self.false_positives = self.add_variable((n,), name="false_positives")
        self.true_negatives = self.add_variable((n,), name="true_negatives")
        self.false_negatives = self.add_variable((n,), name="false_negatives")

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Adds the batch's weighted confusion counts at every threshold."""
        tp, fp, tn, fn = update_confusion_matrix(
            y_true, y_pred, self.thresholds,
            thresholds_distributed_evenly=self._thresholds_distributed_evenly,
            class_id=self.class_id, sample_weight=sample_weight)
        self.true_positives.data += tp
        self.false_positives.data += fp
        self.true_negatives.data += tn
        self.false_negatives.data += fn

    def _rates(self):
        """(sensitivity = recall, specificity, precision) per threshold, in float32."""
        tp, fp, tn, fn = (v.data.astype(xp.float32) for v in (
            self.true_positives, self.false_positives, self.true_negatives,
            self.false_negatives))
        return (_divide_no_nan_f32(tp, tp + fn), _divide_no_nan_f32(tn, tn + fp),
                _divide_no_nan_f32(tp, tp + fp))

    def _find_max_under_constraint(self, constrained, dependent):
        """The largest `dependent` value whose `constrained` value is >= `self.value` (else 0)."""
        feasible = constrained >= xp.float32(self.value)
        best = xp.max(xp.where(feasible, dependent, 0.0), initial=0.0)
        return xp.dtype(self.dtype).type(best)

    def get_config(self):
        return {**super().get_config(), "class_id": self.class_id}


def _check_unit_interval(name, value):
    if value < 0 or value > 1:
        raise ValueError(
            f"Argument `{name}` must be in the range [0, 1]. Received: {name}={value}"
        )


@register_builtin("keras.metrics")
class SensitivityAtSpecificity(SensitivitySpecificityBase):
    """The best sensitivity (recall) among the thresholds whose specificity is >= `specificity`.

    Args:
        specificity: a value in [0, 1].
        num_thresholds: default 200.
        class_id: only this class (last-axis index) is considered.
        name: default "sensitivity_at_specificity" (made unique).
        dtype: result dtype.
    """

    def __init__(self, specificity, num_thresholds=200, class_id=None, name=None, dtype=None):
        _check_unit_interval("specificity", specificity)
        self.specificity = specificity
        self.num_thresholds = num_thresholds
        super().__init__(specificity, num_thresholds=num_thresholds, class_id=class_id,
                         name=name, dtype=dtype)

    def result(self):
        sensitivity, specificity, _ = self._rates()
        return self._find_max_under_constraint(specificity, sensitivity)

    def get_config(self):
        return {**super().get_config(), "num_thresholds": self.num_thresholds,
                "specificity": self.specificity}


@register_builtin("keras.metrics")
class SpecificityAtSensitivity(SensitivitySpecificityBase):
    """The best specificity among the thresholds whose sensitivity is >= `sensitivity`.

    Args:
        sensitivity: a value in [0, 1].
        num_thresholds: default 200.
        class_id: only this class (last-axis index) is considered.
        name: default "specificity_at_sensitivity" (made unique).
        dtype: result dtype.
    """

    def __init__(self, sensitivity, num_thresholds=200, class_id=None, name=None, dtype=None):
        _check_unit_interval("sensitivity", sensitivity)
        self.sensitivity = sensitivity
        self.num_thresholds = num_thresholds
        super().__init__(sensitivity, num_thresholds=num_thresholds, class_id=class_id,
                         name=name, dtype=dtype)

    def result(self):
        sensitivity, specificity, _ = self._rates()
        return self._find_max_under_constraint(sensitivity, specificity)

    def get_config(self):
        return {**super().get_config(), "num_thresholds": self.num_thresholds,
                "sensitivity": self.sensitivity}


@register_builtin("keras.metrics")
class PrecisionAtRecall(SensitivitySpecificityBase):
    """The best precision among the thresholds whose recall is >= `recall`.

    Args:
        recall: a value in [0, 1].
        num_thresholds: default 200.
        class_id: only this class (last-axis index) is considered.
        name: default "precision_at_recall" (made unique).
        dtype: result dtype.
    """

    def __init__(self, recall, num_thresholds=200, class_id=None, name=None, dtype=None):
        _check_unit_interval("recall", recall)
        self.recall = recall
        self.num_thresholds = num_thresholds
        super().__init__(recall, num_thresholds=num_thresholds, class_id=class_id,
                         name=name, dtype=dtype)

    def result(self):
        recall, _, precision = self._rates()
        return self._find_max_under_constraint(recall, precision)

    def get_config(self):
        return {**super().get_config(), "num_thresholds": self.num_thresholds,
                "recall": self.recall}


@register_builtin("keras.metrics")
class RecallAtPrecision(SensitivitySpecificityBase):
    """The best recall among the thresholds whose precision is >= `precision` (0 if none).

    Args:
        precision: a value in [0, 1].
        num_thresholds: default 200.
        class_id: only this class (last-axis index) is considered.
        name: default "recall_at_precision" (made unique).
        dtype: result dtype.
    """

    def __init__(self, precision, num_thresholds=200, class_id=None, name=None, dtype=None):
        _check_unit_interval("precision", precision)
        self.precision = precision
        self.num_thresholds = num_thresholds
        super().__init__(precision, num_thresholds=num_thresholds, class_id=class_id,
                         name=name, dtype=dtype)

    def result(self):
        recall, _, precision = self._rates()
        return self._find_max_under_constraint(precision, recall)

    def get_config(self):
        return {**super().get_config(), "num_thresholds": self.num_thresholds,
                "precision": self.precision}
