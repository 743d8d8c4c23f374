"""metrics.get / serialize / deserialize / get_metric / get_accuracy_for_loss."""

import numpy as np
import pytest

from numnet import metrics
from numnet.backend import clear_session

CLASSES = [
    "Mean", "Sum", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
    "SparseCategoricalAccuracy", "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy",
    "MeanSquaredError", "RootMeanSquaredError", "MeanAbsoluteError",
    "MeanAbsolutePercentageError", "AUC", "Precision", "Recall",
]
SNAKE = {
    "AUC": "auc", "MeanSquaredError": "mean_squared_error",
    "RootMeanSquaredError": "root_mean_squared_error",
    "MeanAbsoluteError": "mean_absolute_error",
    "MeanAbsolutePercentageError": "mean_absolute_percentage_error",
    "SparseCategoricalAccuracy": "sparse_categorical_accuracy",
    "CategoricalAccuracy": "categorical_accuracy", "BinaryAccuracy": "binary_accuracy",
    "TopKCategoricalAccuracy": "top_k_categorical_accuracy",
    "SparseTopKCategoricalAccuracy": "sparse_top_k_categorical_accuracy",
    "Precision": "precision", "Recall": "recall", "Mean": "mean", "Sum": "sum",
    "Accuracy": "accuracy",
}
DIRECTIONS = {
    "Accuracy": "up", "BinaryAccuracy": "up", "CategoricalAccuracy": "up",
    "SparseCategoricalAccuracy": "up", "TopKCategoricalAccuracy": "up",
    "SparseTopKCategoricalAccuracy": "up", "AUC": "up", "Precision": "up", "Recall": "up",
    "MeanSquaredError": "down", "RootMeanSquaredError": "down",
    "MeanAbsoluteError": "down", "MeanAbsolutePercentageError": "down",
    "Mean": None, "Sum": None,
}


@pytest.mark.parametrize("name", CLASSES)
def test_get_serialize_deserialize_round_trip(name):
    cls = getattr(metrics, name)
    assert type(metrics.get(name)) is cls
    assert type(metrics.get(SNAKE[name])) is cls
    metric = cls(name="my_metric")
    envelope = metrics.serialize(metric)
    assert envelope == {"module": "keras.metrics", "class_name": name,
                        "config": metric.get_config(), "registered_name": None}
    clone = metrics.deserialize(envelope)
    assert type(clone) is cls
    assert clone.get_config() == metric.get_config()
    assert clone.name == "my_metric"
    assert type(metrics.get(envelope)) is cls
    assert metrics.get(metric) is metric
    assert cls()._direction == DIRECTIONS[name]


def test_aliases_functions_and_errors():
    assert type(metrics.get("mse")) is metrics.MeanSquaredError
    assert type(metrics.get("MAE")) is metrics.MeanAbsoluteError
    assert type(metrics.get("mape")) is metrics.MeanAbsolutePercentageError
    assert metrics.get(None) is None
    assert metrics.get(metrics.sparse_categorical_accuracy) is \
        metrics.sparse_categorical_accuracy
    assert metrics.deserialize("sparse_categorical_accuracy") is \
        metrics.sparse_categorical_accuracy
    assert metrics.mse is metrics.mean_squared_error
    with pytest.raises(ValueError, match="root_mean_squared_error"):
        metrics.get("root_mean_squared")


def test_mean_metric_wrapper_config_round_trip():
    m = metrics.MeanMetricWrapper(metrics.binary_accuracy, name="ba", threshold=0.3)
    config = m.get_config()
    # Keras 3.15's config (functions are envelopes, `registered_name` "function").
    assert config == {"name": "ba", "dtype": "float32", "threshold": 0.3, "fn": {
        "module": "builtins", "class_name": "function", "config": "binary_accuracy",
        "registered_name": "function"}}
    clone = metrics.MeanMetricWrapper.from_config(config)
    y_true, y_pred = np.array([[1.0], [0.0]]), np.array([[0.4], [0.2]], np.float32)
    assert float(clone(y_true, y_pred)) == float(m(y_true, y_pred)) == 1.0


def test_default_names_are_made_unique_for_unnamed_metrics():
    clear_session()
    assert metrics.AUC().name == "auc"
    assert metrics.AUC().name == "auc_1"
    assert metrics.Precision().name == "precision"
    assert metrics.MeanSquaredError().name == "mean_squared_error"
    assert metrics.MeanSquaredError().name == "mean_squared_error"  # explicit default


@pytest.mark.parametrize("loss, cls", [
    ("sparse_categorical_crossentropy", metrics.SparseCategoricalAccuracy),
    ("SparseCategoricalCrossentropy", metrics.SparseCategoricalAccuracy),
    ("categorical_crossentropy", metrics.CategoricalAccuracy),
    ("binary_crossentropy", metrics.BinaryAccuracy),
    ("BinaryCrossentropy", metrics.BinaryAccuracy),
    ("mse", metrics.CategoricalAccuracy),
    (None, metrics.CategoricalAccuracy),
])
def test_accuracy_for_loss(loss, cls):
    metric = metrics.get_accuracy_for_loss(loss)
    assert type(metric) is cls and metric.name == "accuracy"
    assert metrics.get_accuracy_for_loss(loss, name="acc").name == "acc"


def test_accuracy_for_loss_objects():
    def sparse_categorical_crossentropy(y_true, y_pred):
        return y_pred

    class BinaryCrossentropy:
        pass

    assert type(metrics.get_accuracy_for_loss(sparse_categorical_crossentropy)) is \
        metrics.SparseCategoricalAccuracy
    assert type(metrics.get_accuracy_for_loss(BinaryCrossentropy())) is \
        metrics.BinaryAccuracy


@pytest.mark.parametrize("y_true_shape, y_pred_shape, cls", [
    ((32,), (32, 10), metrics.SparseCategoricalAccuracy),
    ((32, 1), (32, 10), metrics.SparseCategoricalAccuracy),
    ((32, 10), (32, 10), metrics.CategoricalAccuracy),
    ((32, 1), (32, 1), metrics.BinaryAccuracy),
    ((32,), (32, 1), metrics.BinaryAccuracy),
])
def test_accuracy_from_shapes_like_keras(y_true_shape, y_pred_shape, cls):
    # Shapes win over the loss, as in Keras 3's compile_utils.
    metric = metrics.get_accuracy_for_loss("mse", y_true_shape, y_pred_shape)
    assert type(metric) is cls


def test_get_metric_names_like_compile():
    m = metrics.get_metric("accuracy", loss="sparse_categorical_crossentropy")
    assert type(m) is metrics.SparseCategoricalAccuracy and m.name == "accuracy"
    m = metrics.get_metric("acc", y_true_shape=(8, 1), y_pred_shape=(8, 1))
    assert type(m) is metrics.BinaryAccuracy and m.name == "acc"
    m = metrics.get_metric("RootMeanSquaredError")
    assert type(m) is metrics.RootMeanSquaredError and m.name == "RootMeanSquaredError"
    m = metrics.get_metric("mse")
    assert type(m) is metrics.MeanSquaredError and m.name == "mse"

    def my_error(y_true, y_pred):
        return np.abs(y_true - y_pred)

    m = metrics.get_metric(my_error)
    assert isinstance(m, metrics.MeanMetricWrapper) and m.name == "my_error"
    auc = metrics.AUC(name="roc")
    assert metrics.get_metric(auc) is auc and auc.name == "roc"
    with pytest.raises(ValueError):
        metrics.get_metric(None)
