"""Metrics with Keras 3's names, defaults, semantics and configs.

`get("mse")`, `get("RootMeanSquaredError")`, `get("root_mean_squared_error")`,
`get("AUC")`, `get("categorical_crossentropy")`, `get("bce")` return metric
instances (class names, their snake case and Keras' aliases). `"accuracy"`/`"acc"`
depend on the loss and the shapes, so `compile` should resolve metric identifiers with
`get_metric` (or `get_accuracy_for_loss`), which also names the metric after
the string it was given, like Keras does.
"""

from numnet.backend import to_snake_case
from numnet.metrics.base import Mean, MeanMetricWrapper, Metric, Sum, reduce_to_samplewise_values
from numnet.metrics.accuracy import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from numnet.metrics.confusion import (
    AUC,
    FalseNegatives,
    FalsePositives,
    Precision,
    PrecisionAtRecall,
    Recall,
    RecallAtPrecision,
    SensitivityAtSpecificity,
    SpecificityAtSensitivity,
    TrueNegatives,
    TruePositives,
)
from numnet.metrics.f_score import F1Score, FBetaScore
from numnet.metrics.iou import BinaryIoU, IoU, MeanIoU, OneHotIoU, OneHotMeanIoU
from numnet.metrics.hinge import (
    CategoricalHinge,
    Hinge,
    SquaredHinge,
    categorical_hinge,
    hinge,
    squared_hinge,
)
from numnet.metrics.probabilistic import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    KLDivergence,
    Poisson,
    SparseCategoricalCrossentropy,
    binary_crossentropy,
    categorical_crossentropy,
    kl_divergence,
    poisson,
    sparse_categorical_crossentropy,
)
from numnet.metrics.regression import (
    ConcordanceCorrelation,
    PearsonCorrelation,
    concordance_correlation,
    pearson_correlation,
    CosineSimilarity,
    LogCoshError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    R2Score,
    RootMeanSquaredError,
    cosine_similarity,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
)
from numnet.serialization import deserialize_keras_object, serialize_keras_object

from numnet.losses import (  # noqa: E402  (Keras exports these losses as metrics too)
    binary_focal_crossentropy, categorical_focal_crossentropy, huber,
)

mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error

__all__ = [
    "Metric", "Mean", "Sum", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy",
    "CategoricalAccuracy", "SparseCategoricalAccuracy", "TopKCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy", "MeanSquaredError", "RootMeanSquaredError",
    "MeanAbsoluteError", "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError",
    "CosineSimilarity", "LogCoshError", "R2Score", "PearsonCorrelation",
    "ConcordanceCorrelation", "pearson_correlation", "concordance_correlation", "huber",
    "binary_focal_crossentropy", "categorical_focal_crossentropy", "AUC", "Precision", "Recall",
    "TruePositives", "FalsePositives", "TrueNegatives", "FalseNegatives",
    "PrecisionAtRecall", "RecallAtPrecision", "SensitivityAtSpecificity",
    "SpecificityAtSensitivity", "F1Score", "FBetaScore", "IoU", "BinaryIoU", "MeanIoU",
    "OneHotIoU", "OneHotMeanIoU",
    "Hinge", "SquaredHinge", "CategoricalHinge", "KLDivergence", "Poisson",
    "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
    "accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy",
    "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error", "cosine_similarity", "log_cosh", "hinge",
    "squared_hinge", "categorical_hinge", "kl_divergence", "poisson",
    "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
    "get", "serialize", "deserialize", "get_metric", "get_accuracy_for_loss",
    "get_function", "reduce_to_samplewise_values",
]

_CLASSES = (
    Metric, Mean, Sum, MeanMetricWrapper, MeanSquaredError, RootMeanSquaredError,
    MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError,
    CosineSimilarity, LogCoshError, R2Score, PearsonCorrelation, ConcordanceCorrelation, AUC, Precision, Recall, Hinge, SquaredHinge,
    CategoricalHinge, KLDivergence, Poisson, BinaryCrossentropy, CategoricalCrossentropy,
    SparseCategoricalCrossentropy, Accuracy, BinaryAccuracy, CategoricalAccuracy,
    SparseCategoricalAccuracy, TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy,
    TruePositives, FalsePositives, TrueNegatives, FalseNegatives, PrecisionAtRecall,
    RecallAtPrecision, SensitivityAtSpecificity, SpecificityAtSensitivity, F1Score,
    FBetaScore, IoU, BinaryIoU, MeanIoU, OneHotIoU, OneHotMeanIoU,
)
ALL_OBJECTS_DICT = {cls.__name__: cls for cls in _CLASSES}
ALL_OBJECTS_DICT.update({to_snake_case(cls.__name__): cls for cls in _CLASSES})
ALL_OBJECTS_DICT.update({
    "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError,
    "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy,
})

_FUNCTIONS = {
    fn.__name__: fn for fn in (
        accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
        top_k_categorical_accuracy, sparse_top_k_categorical_accuracy,
        mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
        mean_squared_logarithmic_error, cosine_similarity, log_cosh, pearson_correlation,
        concordance_correlation, hinge, squared_hinge,
        categorical_hinge, kl_divergence, poisson, binary_crossentropy,
        categorical_crossentropy, sparse_categorical_crossentropy,
    )
}
_FUNCTIONS.update({"mse": mean_squared_error, "MSE": mean_squared_error,
                   "mae": mean_absolute_error, "MAE": mean_absolute_error,
                   "mape": mean_absolute_percentage_error,
                   "MAPE": mean_absolute_percentage_error,
                   "msle": mean_squared_logarithmic_error,
                   "MSLE": mean_squared_logarithmic_error})


def serialize(metric):
    """Returns the Keras config envelope of a metric (or a function's name)."""
    return serialize_keras_object(metric)


def deserialize(config, custom_objects=None):
    """Rebuilds a metric from its config envelope or name."""
    if isinstance(config, str) and config in _FUNCTIONS and not (
            custom_objects and config in custom_objects):
        return _FUNCTIONS[config]
    return deserialize_keras_object(
        config, custom_objects=custom_objects, module_objects=ALL_OBJECTS_DICT,
        printable_module_name="metric",
    )


def get_function(name):
    """The per-sample metric function called `name` (e.g. "sparse_categorical_accuracy")."""
    try:
        return _FUNCTIONS[name]
    except KeyError:
        raise ValueError(
            f"Unknown metric function: {name!r}. Valid names are: "
            f"{', '.join(sorted(_FUNCTIONS))}."
        ) from None


def get(identifier):
    """Resolves a metric identifier like `keras.metrics.get`.

    Accepts a `Metric` (returned as is), a class or snake-case name
    ("RootMeanSquaredError", "root_mean_squared_error", "mse", "AUC", ...; a
    new instance with default arguments), a config dict, a `Metric` class, or
    a function (returned as is). `None` returns None.
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = ALL_OBJECTS_DICT.get(identifier)
        if obj is None or obj in (Metric, MeanMetricWrapper):
            valid = sorted(k for k, v in ALL_OBJECTS_DICT.items()
                           if v not in (Metric, MeanMetricWrapper))
            raise ValueError(
                f"Could not interpret metric identifier: {identifier!r}. Valid names "
                f"are: {', '.join(valid)} (and \"accuracy\"/\"acc\", resolved from the "
                "loss at compile time)."
            )
    else:
        obj = identifier
    if isinstance(obj, type):
        return obj()
    if callable(obj):
        return obj
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}")


def _loss_name(loss):
    if loss is None:
        return ""
    if isinstance(loss, str):
        return to_snake_case(loss) if any(c.isupper() for c in loss) else loss
    name = getattr(loss, "__name__", None)
    if name is None:
        fn = getattr(loss, "fn", None)
        name = getattr(fn, "__name__", None) or to_snake_case(type(loss).__name__)
    return name


def get_accuracy_for_loss(loss, y_true_shape=None, y_pred_shape=None, name="accuracy"):
    """The accuracy metric `"accuracy"`/`"acc"` stands for, named `name`.

    With the target and prediction shapes, this is Keras 3's rule
    (`compile_utils.get_metric`): a last prediction dimension of 1 means
    `BinaryAccuracy`; targets of lower rank, or a last target dimension of 1
    with more than one predicted class, mean `SparseCategoricalAccuracy`;
    otherwise `CategoricalAccuracy`. Without shapes, the loss decides
    (binary/sparse categorical/categorical crossentropy, hinge losses are
    binary); an unknown loss gives `CategoricalAccuracy`.
    """
    if y_true_shape is not None and y_pred_shape is not None:
        y_true_shape, y_pred_shape = tuple(y_true_shape), tuple(y_pred_shape)
        t_rank, p_rank = len(y_true_shape), len(y_pred_shape)
        t_last = y_true_shape[-1] if t_rank else None
        p_last = y_pred_shape[-1] if p_rank else None
        if p_last == 1:
            return BinaryAccuracy(name=name)
        if t_rank < p_rank or (t_last == 1 and p_last is not None and p_last > 1):
            return SparseCategoricalAccuracy(name=name)
        return CategoricalAccuracy(name=name)
    loss_name = _loss_name(loss)
    if "sparse_categorical" in loss_name:
        return SparseCategoricalAccuracy(name=name)
    if "binary" in loss_name or loss_name in ("hinge", "squared_hinge", "bce"):
        return BinaryAccuracy(name=name)
    return CategoricalAccuracy(name=name)


def get_metric(identifier, loss=None, y_true_shape=None, y_pred_shape=None):
    """Resolves one entry of `compile(metrics=[...])` the way Keras 3 does.

    `"accuracy"`/`"acc"` go through `get_accuracy_for_loss`; other strings
    through `get`; a string identifier becomes the metric's name verbatim
    (`"mse"` logs as `mse`, `"RootMeanSquaredError"` as `RootMeanSquaredError`);
    plain functions are wrapped in a `MeanMetricWrapper` named after them.
    """
    if identifier is None:
        raise ValueError("Expected metric, received `None`")
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        return get_accuracy_for_loss(loss, y_true_shape, y_pred_shape, name=identifier)
    metric = get(identifier)
    if isinstance(identifier, str):
        name = identifier
    else:
        name = getattr(metric, "name", None) or getattr(metric, "__name__", None) \
            or to_snake_case(type(metric).__name__)
    if not isinstance(metric, Metric):
        metric = MeanMetricWrapper(metric, name=name)
    metric.name = name
    return metric
