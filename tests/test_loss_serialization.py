"""Loss objects serialize as Keras 3.15 does and check shapes as its cross-entropies do.

Keras' facts used here (checked with Keras 3.15.1): a loss serializes with
`module="keras.losses"` and a metric of the same class name with `"keras.metrics"`;
`Huber.get_config()` holds only `name` and `reduction`; the cross-entropies refuse
`y_true` / `y_pred` of different shapes ("must have the same shape") where the other
losses broadcast.
"""

import numpy as np
import pytest

import numnet as keras
from numnet.saving import deserialize_keras_object, serialize_keras_object

LOSS_CLASSES = [
    "MeanSquaredError", "MeanAbsoluteError", "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError", "Huber", "BinaryCrossentropy", "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy", "KLDivergence", "Poisson", "Hinge", "SquaredHinge",
    "CategoricalHinge", "LogCosh",
]


@pytest.mark.parametrize("name", LOSS_CLASSES)
def test_a_serialized_loss_comes_back_as_the_loss(name):
    loss = getattr(keras.losses, name)(name="my_loss", reduction="sum")
    config = serialize_keras_object(loss)
    assert config["module"] == "keras.losses"
    revived = deserialize_keras_object(config)
    assert type(revived) is type(loss)
    assert revived.get_config() == loss.get_config()


@pytest.mark.parametrize("name", ["MeanSquaredError", "BinaryCrossentropy", "KLDivergence"])
def test_a_metric_of_the_same_name_stays_a_metric(name):
    metric = getattr(keras.metrics, name)()
    revived = deserialize_keras_object(serialize_keras_object(metric))
    assert type(revived) is type(metric)


def test_huber_config_has_keras_keys():
    assert keras.losses.Huber(delta=0.5).get_config() == {
        "name": "huber_loss", "reduction": "sum_over_batch_size"}


@pytest.mark.parametrize("loss", [keras.losses.BinaryCrossentropy(),
                                  keras.losses.CategoricalCrossentropy()])
def test_cross_entropies_refuse_different_shapes(loss):
    y_true = np.array([[0], [1], [0]])
    y_pred = np.full((3, 3), 0.3)
    message = (r"must have the same shape\. Received: target\.shape=\(3, 1\), "
               r"output\.shape=\(3, 3\)")
    with pytest.raises(ValueError, match=message):
        loss(y_true, y_pred)


def test_sparse_cross_entropy_refuses_mismatched_leading_axes():
    with pytest.raises(ValueError, match="must have the same shape up until the last dimension"):
        keras.losses.SparseCategoricalCrossentropy()(np.array([[0], [1], [0]]),
                                                     np.full((3, 2, 3), 0.3))


def test_regression_losses_broadcast_as_in_keras():
    # Keras: MeanSquaredError()(zeros((3, 1)), ones((3, 3))) == 1.0 (broadcast, no error).
    value = keras.losses.MeanSquaredError()(np.zeros((3, 1)), np.ones((3, 3)))
    assert float(value) == 1.0


@pytest.mark.parametrize("shapes, expected", [
    (((3,), (3, 1)), ((3, 1), (3, 1))),  # a rank-1 partner gains the axis
    (((3, 1), (3,)), ((3, 1), (3, 1))),
    (((3, 2), (3, 2, 1)), ((3, 2), (3, 2))),  # otherwise the trailing 1 goes
    (((3, 2, 1), (3, 2)), ((3, 2), (3, 2))),
    (((3, 4), (3, 4)), ((3, 4), (3, 4))),
])
def test_squeeze_or_expand_to_same_rank_as_keras(shapes, expected):
    a, b = keras.losses.squeeze_or_expand_to_same_rank(np.ones(shapes[0]), np.ones(shapes[1]))
    assert (tuple(np.shape(a)), tuple(np.shape(b))) == expected
