"""Mean, Sum and MeanMetricWrapper: streaming, weighting, reset, config."""

import numpy as np
import pytest

from numnet import metrics
from numnet.autodiff.tensor import Tensor


def test_mean_streams_over_batches():
    m = metrics.Mean()
    m.update_state([1.0, 2.0, 3.0])
    m.update_state(np.array([4.0]))
    assert float(m.result()) == pytest.approx(2.5)
    assert isinstance(m.result(), np.float32)
    m.update_state(10.0)  # a scalar counts as one sample
    assert float(m.result()) == pytest.approx(4.0)
    m.reset_state()
    assert float(m.result()) == 0.0  # divide_no_nan


def test_mean_weighted():
    m = metrics.Mean()
    m.update_state([1.0, 2.0, 3.0], sample_weight=[1.0, 0.0, 2.0])
    m.update_state([5.0], sample_weight=[0.5])
    expected = (1 * 1 + 3 * 2 + 5 * 0.5) / (1 + 0 + 2 + 0.5)
    assert float(m.result()) == pytest.approx(expected)
    assert float(m.total.data) == pytest.approx(9.5)
    assert float(m.count.data) == pytest.approx(3.5)


def test_mean_of_2d_values_averages_each_sample_first():
    values = np.array([[1.0, 3.0], [5.0, 7.0], [0.0, 0.0]])
    m = metrics.Mean()
    m.update_state(values)
    assert float(m.result()) == pytest.approx(np.mean([2.0, 6.0, 0.0]))
    w = metrics.Mean()
    w.update_state(values, sample_weight=[1.0, 3.0, 0.0])
    assert float(w.result()) == pytest.approx((2.0 + 18.0) / 4.0)
    # (n, 1) values with (n,) weights: the weights are expanded to (n, 1).
    c = metrics.Mean()
    c.update_state(np.array([[2.0], [4.0]]), sample_weight=np.array([3.0, 1.0]))
    assert float(c.result()) == pytest.approx(10.0 / 4.0)
    # Per-entry weights of the same shape (Keras): each row contributes the mean of
    # its weighted entries, and counts the mean of its weights.
    e = metrics.Mean()
    e.update_state(values[:2], sample_weight=np.array([[1.0, 0.0], [1.0, 1.0]]))
    assert float(e.result()) == pytest.approx((0.5 + 6.0) / (0.5 + 1.0))


def test_sum():
    s = metrics.Sum()
    s.update_state([1.0, 2.0])
    s.update_state([[3.0, 4.0]])
    s.update_state([10.0, 20.0], sample_weight=[0.5, 0.0])
    assert float(s.result()) == pytest.approx(15.0)
    s.reset_state()
    assert float(s.result()) == 0.0


def test_mean_metric_wrapper_and_call():
    def abs_diff(y_true, y_pred, scale=1.0):
        return scale * np.abs(y_true - y_pred)

    m = metrics.MeanMetricWrapper(abs_diff, name="abs_diff", scale=2.0)
    value = m(np.array([1.0, 2.0]), np.array([2.0, 2.0]))
    assert float(value) == pytest.approx(1.0)
    m.update_state(np.array([0.0]), np.array([3.0]), sample_weight=[2.0])
    assert float(m.result()) == pytest.approx((2.0 + 0.0 + 12.0) / 4.0)
    assert m.name == "abs_diff"
    assert m._direction is None
    wrapped = metrics.MeanMetricWrapper(metrics.mean_squared_error, name="mse")
    assert wrapped._direction == "down"


def test_tensor_inputs_are_unwrapped():
    m = metrics.MeanSquaredError()
    m.update_state(Tensor(np.array([[1.0], [2.0]], np.float32)),
                   Tensor(np.array([[1.0], [4.0]], np.float32)),
                   sample_weight=Tensor(np.array([1.0, 1.0], np.float32)))
    assert float(m.result()) == pytest.approx(2.0)


def test_variables_config_and_repr():
    m = metrics.Mean(name="loss")
    assert [v.name for v in m.variables] == ["total", "count"]
    assert [v.path for v in m.variables] == ["loss/total", "loss/count"]
    assert all(not v.trainable for v in m.variables)
    assert m.get_config() == {"name": "loss", "dtype": "float32"}
    assert metrics.Mean.from_config(m.get_config()).name == "loss"
    assert repr(m) == "<Mean name=loss>"
    assert metrics.Sum(dtype="float64").result().dtype == np.float64


def test_empty_batch_is_harmless():
    m = metrics.Mean()
    m.update_state(np.zeros((0,)))
    assert float(m.result()) == 0.0
