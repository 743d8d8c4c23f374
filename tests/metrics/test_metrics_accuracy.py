"""Accuracy metrics and functions, checked against hand counts."""

import numpy as np
import pytest

from numnet import metrics

PROBS = np.array([[0.1, 0.7, 0.2],
                  [0.5, 0.3, 0.2],
                  [0.2, 0.2, 0.6],
                  [0.3, 0.4, 0.3]], np.float32)
LABELS = np.array([1, 0, 1, 2])          # hits: yes, yes, no, no
HITS = np.array([1.0, 1.0, 0.0, 0.0])


@pytest.mark.parametrize("labels", [
    LABELS, LABELS.reshape(-1, 1), LABELS.astype(np.float32),
    LABELS.astype(np.float32).reshape(-1, 1), LABELS.astype(np.int32),
])
def test_sparse_categorical_accuracy_label_forms(labels):
    out = metrics.sparse_categorical_accuracy(labels, PROBS)
    assert out.shape == (4,) and np.asarray(out).dtype == np.float32
    np.testing.assert_array_equal(out, HITS)


def test_categorical_accuracy():
    onehot = np.eye(3, dtype=np.float32)[LABELS]
    np.testing.assert_array_equal(metrics.categorical_accuracy(onehot, PROBS), HITS)
    m = metrics.CategoricalAccuracy()
    m.update_state(onehot[:2], PROBS[:2])
    m.update_state(onehot[2:], PROBS[2:], sample_weight=[3.0, 1.0])
    assert float(m.result()) == pytest.approx(2.0 / 6.0)


def test_binary_accuracy():
    y_true = np.array([[1.0], [0.0], [1.0], [0.0]], np.float32)
    y_pred = np.array([[0.9], [0.5], [0.4], [0.6]], np.float32)  # >0.5: 1,0,0,1
    np.testing.assert_array_equal(np.ravel(metrics.binary_accuracy(y_true, y_pred)),
                                  [1.0, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(
        np.ravel(metrics.binary_accuracy(y_true, y_pred, threshold=0.35)), [1, 0, 1, 0])
    m = metrics.BinaryAccuracy()
    m.update_state(y_true, y_pred, sample_weight=[1.0, 2.0, 3.0, 4.0])
    assert float(m.result()) == pytest.approx(3.0 / 10.0)
    # Flat labels against (n, 1) predictions.
    m2 = metrics.BinaryAccuracy(threshold=0.35)
    m2.update_state(y_true.ravel(), y_pred)
    assert float(m2.result()) == pytest.approx(0.5)


def test_accuracy_exact_match():
    m = metrics.Accuracy()
    m.update_state([[1], [2], [3], [4]], [[0], [2], [3], [4]])
    assert float(m.result()) == pytest.approx(0.75)
    np.testing.assert_array_equal(metrics.accuracy(np.array([1, 2]), np.array([1, 3])),
                                  [1.0, 0.0])


def test_sparse_categorical_accuracy_streaming_weighted():
    m = metrics.SparseCategoricalAccuracy()
    m.update_state(LABELS[:2], PROBS[:2], sample_weight=[1.0, 0.5])
    m.update_state(LABELS[2:], PROBS[2:], sample_weight=[2.0, 0.5])
    assert float(m.result()) == pytest.approx(1.5 / 4.0)
    m.reset_state()
    m.update_state(LABELS.reshape(-1, 1), PROBS)
    assert float(m.result()) == pytest.approx(0.5)


def test_top_k():
    labels = np.array([2, 1, 0, 2])
    preds = np.array([[0.5, 0.3, 0.2],     # 2 is 3rd -> miss at k=2
                      [0.5, 0.3, 0.2],     # 1 is 2nd -> hit
                      [0.1, 0.5, 0.4],     # 0 is 3rd -> miss
                      [0.4, 0.2, 0.4]],    # 2 ties for 1st -> hit
                     np.float32)
    expected = [0.0, 1.0, 0.0, 1.0]
    np.testing.assert_array_equal(
        metrics.sparse_top_k_categorical_accuracy(labels, preds, k=2), expected)
    onehot = np.eye(3, dtype=np.float32)[labels]
    np.testing.assert_array_equal(metrics.top_k_categorical_accuracy(onehot, preds, k=2),
                                  expected)
    m = metrics.SparseTopKCategoricalAccuracy(k=2)
    m.update_state(labels.reshape(-1, 1), preds, sample_weight=[1.0, 1.0, 1.0, 3.0])
    assert float(m.result()) == pytest.approx(4.0 / 6.0)
    assert metrics.TopKCategoricalAccuracy().k == 5
    sorted_ids = np.argsort(-preds, axis=1, kind="stable")
    np.testing.assert_array_equal(
        metrics.sparse_top_k_categorical_accuracy(labels, sorted_ids, k=2,
                                                  from_sorted_ids=True),
        [0.0, 1.0, 0.0, 1.0])  # row 4's ids are [0, 2, 1]: 2 is in the first two


def test_names_configs_and_directions():
    assert metrics.BinaryAccuracy().get_config() == {
        "name": "binary_accuracy", "dtype": "float32", "threshold": 0.5}
    assert metrics.TopKCategoricalAccuracy(k=3).get_config() == {
        "name": "top_k_categorical_accuracy", "dtype": "float32", "k": 3}
    assert metrics.SparseTopKCategoricalAccuracy().get_config() == {
        "name": "sparse_top_k_categorical_accuracy", "dtype": "float32", "k": 5}
    for cls, name in [(metrics.Accuracy, "accuracy"),
                      (metrics.CategoricalAccuracy, "categorical_accuracy"),
                      (metrics.SparseCategoricalAccuracy, "sparse_categorical_accuracy")]:
        m = cls()
        assert m.name == name and m._direction == "up"
        assert m.get_config() == {"name": name, "dtype": "float32"}
