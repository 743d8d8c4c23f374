"""Regression metrics, streamed over batches with sample weights, against float64 hand sums."""

import math

import numpy as np
import pytest

from numnet import metrics

RNG = np.random.default_rng(3)
Y_TRUE = RNG.normal(size=(10, 2)).astype(np.float32)
Y_PRED = RNG.normal(size=(10, 2)).astype(np.float32)
WEIGHTS = RNG.random(10).astype(np.float32)


def _per_sample(kind):
    t, p = Y_TRUE.astype(np.float64), Y_PRED.astype(np.float64)
    if kind == "mse":
        return ((t - p) ** 2).mean(axis=1)
    if kind == "mae":
        return np.abs(t - p).mean(axis=1)
    return 100 * (np.abs(t - p) / np.maximum(np.abs(t), 1e-7)).mean(axis=1)


def _stream(metric, weighted):
    for start in range(0, 10, 4):
        sl = slice(start, start + 4)
        metric.update_state(Y_TRUE[sl], Y_PRED[sl],
                            sample_weight=WEIGHTS[sl] if weighted else None)
    return float(metric.result())


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("cls, kind", [
    (metrics.MeanSquaredError, "mse"),
    (metrics.MeanAbsoluteError, "mae"),
    (metrics.MeanAbsolutePercentageError, "mape"),
])
def test_mean_errors(cls, kind, weighted):
    w = WEIGHTS.astype(np.float64) if weighted else np.ones(10)
    expected = np.sum(_per_sample(kind) * w) / np.sum(w)
    assert _stream(cls(), weighted) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("weighted", [False, True])
def test_root_mean_squared_error(weighted):
    w = WEIGHTS.astype(np.float64) if weighted else np.ones(10)
    expected = math.sqrt(np.sum(_per_sample("mse") * w) / np.sum(w))
    assert _stream(metrics.RootMeanSquaredError(), weighted) == pytest.approx(expected,
                                                                             rel=1e-5)


def test_rmse_column_targets_and_reset():
    m = metrics.RootMeanSquaredError()
    m.update_state(np.array([[1.0], [2.0]]), np.array([[2.0], [4.0]]))
    assert float(m.result()) == pytest.approx(math.sqrt(2.5))
    m.update_state(np.array([3.0]), np.array([[3.0]]), sample_weight=[2.0])
    assert float(m.result()) == pytest.approx(math.sqrt(5.0 / 4.0))
    m.reset_state()
    assert float(m.result()) == 0.0


def test_functions():
    np.testing.assert_allclose(metrics.mean_squared_error(Y_TRUE, Y_PRED),
                               _per_sample("mse"), rtol=1e-5)
    np.testing.assert_allclose(metrics.mean_absolute_error(Y_TRUE, Y_PRED),
                               _per_sample("mae"), rtol=1e-5)
    np.testing.assert_allclose(metrics.mean_absolute_percentage_error(Y_TRUE, Y_PRED),
                               _per_sample("mape"), rtol=1e-5)
    # A flat target against a column prediction is expanded, not broadcast to (n, n).
    assert metrics.mean_squared_error(np.array([1.0, 2.0]), np.array([[1.0], [3.0]])).shape \
        == (2,)


def test_names_configs_directions():
    for cls, name in [(metrics.MeanSquaredError, "mean_squared_error"),
                      (metrics.RootMeanSquaredError, "root_mean_squared_error"),
                      (metrics.MeanAbsoluteError, "mean_absolute_error"),
                      (metrics.MeanAbsolutePercentageError,
                       "mean_absolute_percentage_error")]:
        m = cls()
        assert m.name == name and m._direction == "down"
        assert m.get_config() == {"name": name, "dtype": "float32"}
