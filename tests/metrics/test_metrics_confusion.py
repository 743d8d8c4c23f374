"""AUC, Precision and Recall against slow per-threshold loops."""

import math

import numpy as np
import pytest

from numnet import metrics

EPS = 1e-7


def slow_counts(y_true, y_pred, thresholds, weights=None):
    """Weighted tp, fp, tn, fn per threshold, one sample at a time."""
    y_true = np.asarray(y_true, np.float64).ravel()
    y_pred = np.asarray(y_pred, np.float64).ravel()
    weights = np.ones_like(y_true) if weights is None else np.asarray(weights, np.float64)
    counts = np.zeros((4, len(thresholds)))
    for j, t in enumerate(thresholds):
        for label, pred, w in zip(y_true, y_pred, weights):
            positive = pred > t
            if label != 0:
                counts[0 if positive else 3, j] += w
            else:
                counts[1 if positive else 2, j] += w
    return counts  # tp, fp, tn, fn


def default_thresholds(n):
    return [0.0 - EPS] + [(i + 1) / (n - 1) for i in range(n - 2)] + [1.0 + EPS]


def riemann(x, y, method):
    total = 0.0
    for i in range(len(x) - 1):
        if method == "interpolation":
            height = (y[i] + y[i + 1]) / 2
        elif method == "minoring":
            height = min(y[i], y[i + 1])
        else:
            height = max(y[i], y[i + 1])
        total += (x[i] - x[i + 1]) * height
    return total


def ratio(a, b):
    return a / b if b != 0 else 0.0


def slow_auc(counts, curve="ROC", method="interpolation"):
    tp, fp, tn, fn = counts
    n = len(tp)
    if curve == "PR" and method == "interpolation":
        # Davis & Goadrich: precision interpolated between consecutive thresholds.
        total = 0.0
        for i in range(n - 1):
            dtp = tp[i] - tp[i + 1]
            p_i, p_next = tp[i] + fp[i], tp[i + 1] + fp[i + 1]
            slope = ratio(dtp, max(p_i - p_next, 0))
            intercept = tp[i + 1] - slope * p_next
            log_ratio = math.log(p_i / p_next) if p_i > 0 and p_next > 0 else 0.0
            total += ratio(slope * (dtp + intercept * log_ratio), max(tp[i + 1] + fn[i + 1], 0))
        return total
    recall = [ratio(tp[i], tp[i] + fn[i]) for i in range(n)]
    if curve == "ROC":
        x = [ratio(fp[i], fp[i] + tn[i]) for i in range(n)]
        y = recall
    else:
        x = recall
        y = [ratio(tp[i], tp[i] + fp[i]) for i in range(n)]
    return riemann(x, y, method)


RNG = np.random.default_rng(7)
Y_TRUE = RNG.integers(0, 2, size=(30, 1)).astype(np.float32)
Y_PRED = np.clip(RNG.random((30, 1)) * 0.7 + 0.3 * Y_TRUE, 0, 1).astype(np.float32)
WEIGHTS = RNG.random(30).astype(np.float32)


def _stream(metric, y_true, y_pred, weights=None, batch=8):
    for start in range(0, len(y_true), batch):
        sl = slice(start, start + batch)
        metric.update_state(y_true[sl], y_pred[sl],
                            sample_weight=None if weights is None else weights[sl])
    return metric.result()


def test_auc_small_known_example():
    m = metrics.AUC()
    value = m(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8], np.float32))
    assert isinstance(value, np.float32)
    assert float(value) == pytest.approx(0.75, abs=1e-6)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("curve, method, num_thresholds", [
    ("ROC", "interpolation", 200),
    ("ROC", "minoring", 200),
    ("ROC", "majoring", 7),
    ("PR", "interpolation", 200),
    ("PR", "minoring", 13),
    ("PR", "majoring", 200),
])
def test_auc_matches_slow_threshold_loop(curve, method, num_thresholds, weighted):
    weights = WEIGHTS if weighted else None
    m = metrics.AUC(num_thresholds=num_thresholds, curve=curve, summation_method=method)
    got = float(_stream(m, Y_TRUE, Y_PRED, weights))
    counts = slow_counts(Y_TRUE, Y_PRED, default_thresholds(num_thresholds), weights)
    np.testing.assert_allclose(m.true_positives.data, counts[0], atol=1e-9)
    np.testing.assert_allclose(m.false_negatives.data, counts[3], atol=1e-9)
    assert got == pytest.approx(slow_auc(counts, curve, method), abs=1e-6)


def test_roc_auc_close_to_rank_auc():
    labels = Y_TRUE.ravel()
    pos, neg = Y_PRED.ravel()[labels == 1], Y_PRED.ravel()[labels == 0]
    rank_auc = np.mean([(p > q) + 0.5 * (p == q) for p in pos for q in neg])
    assert float(metrics.AUC(num_thresholds=1000)(Y_TRUE, Y_PRED)) == \
        pytest.approx(rank_auc, abs=1e-2)


def test_auc_explicit_thresholds_and_config():
    m = metrics.AUC(thresholds=[0.7, 0.2, 0.45])
    assert m.num_thresholds == 5
    assert m.thresholds == [0.0 - EPS, 0.2, 0.45, 0.7, 1.0 + EPS]
    got = float(_stream(m, Y_TRUE, Y_PRED, WEIGHTS))
    counts = slow_counts(Y_TRUE, Y_PRED, m.thresholds, WEIGHTS)
    assert got == pytest.approx(slow_auc(counts), abs=1e-6)
    config = m.get_config()
    assert config["thresholds"] == [0.2, 0.45, 0.7]
    clone = metrics.AUC.from_config(config)
    assert clone.thresholds == m.thresholds


def test_auc_default_config_matches_keras():
    m = metrics.AUC(name="auc")
    assert m.get_config() == {
        "name": "auc", "dtype": "float32", "num_thresholds": 200, "curve": "ROC",
        "summation_method": "interpolation", "multi_label": False, "num_labels": None,
        "label_weights": None, "from_logits": False,
    }
    assert [v.name for v in m.variables] == ["true_positives", "false_positives",
                                            "true_negatives", "false_negatives"]
    assert m.variables[0].data.shape == (200,)
    assert m._direction == "up"


def test_auc_multi_label_and_label_weights():
    rng = np.random.default_rng(11)
    y_true = rng.integers(0, 2, size=(25, 3)).astype(np.float32)
    y_pred = rng.random((25, 3)).astype(np.float32)
    per_label = [slow_auc(slow_counts(y_true[:, j], y_pred[:, j], default_thresholds(200)))
                 for j in range(3)]
    multi = metrics.AUC(multi_label=True)
    assert float(_stream(multi, y_true, y_pred)) == pytest.approx(np.mean(per_label),
                                                                  abs=1e-6)
    assert multi.true_positives.data.shape == (200, 3)
    lw = np.array([1.0, 2.0, 0.5])
    weighted = metrics.AUC(multi_label=True, num_labels=3, label_weights=lw)
    assert float(_stream(weighted, y_true, y_pred)) == pytest.approx(
        np.sum(np.array(per_label) * lw) / lw.sum(), abs=1e-6)
    pooled = metrics.AUC()  # not multi-label: all entries pooled into one curve
    expected = slow_auc(slow_counts(y_true, y_pred, default_thresholds(200)))
    assert float(_stream(pooled, y_true, y_pred)) == pytest.approx(expected, abs=1e-6)


def test_auc_from_logits_and_reset():
    logits = np.log(Y_PRED / (1 - Y_PRED + 1e-7) + 1e-7).astype(np.float32)
    a = metrics.AUC(from_logits=True)
    b = metrics.AUC()
    assert float(_stream(a, Y_TRUE, logits)) == pytest.approx(
        float(_stream(b, Y_TRUE, Y_PRED)), abs=1e-3)
    a.reset_state()
    assert not a.true_positives.data.any()
    assert float(a.result()) == 0.0


def test_auc_argument_errors():
    with pytest.raises(ValueError, match="curve"):
        metrics.AUC(curve="XYZ")
    with pytest.raises(ValueError, match="summation"):
        metrics.AUC(summation_method="avg")
    with pytest.raises(ValueError, match="num_thresholds"):
        metrics.AUC(num_thresholds=1)
    with pytest.raises(ValueError, match="num_labels"):
        metrics.AUC(num_labels=3)


@pytest.mark.parametrize("weighted", [False, True])
def test_precision_recall_default_threshold(weighted):
    weights = WEIGHTS if weighted else None
    tp, fp, _, fn = slow_counts(Y_TRUE, Y_PRED, [0.5], weights)[:, 0]
    p = _stream(metrics.Precision(), Y_TRUE, Y_PRED, weights)
    r = _stream(metrics.Recall(), Y_TRUE, Y_PRED, weights)
    assert isinstance(p, np.float32) and isinstance(r, np.float32)
    assert float(p) == pytest.approx(tp / (tp + fp), rel=1e-6)
    assert float(r) == pytest.approx(tp / (tp + fn), rel=1e-6)


def test_precision_recall_several_thresholds():
    thresholds = [0.2, 0.5, 0.9]
    tp, fp, _, fn = slow_counts(Y_TRUE, Y_PRED, thresholds)
    p = _stream(metrics.Precision(thresholds=thresholds), Y_TRUE, Y_PRED)
    r = _stream(metrics.Recall(thresholds=thresholds), Y_TRUE, Y_PRED)
    assert p.shape == (3,) and r.shape == (3,)
    np.testing.assert_allclose(p, [ratio(a, a + b) for a, b in zip(tp, fp)], rtol=1e-6)
    np.testing.assert_allclose(r, [ratio(a, a + b) for a, b in zip(tp, fn)], rtol=1e-6)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        metrics.Precision(thresholds=[1.5])


def test_precision_top_k_and_recall_class_id():
    y_true = np.array([[0, 0, 1, 1], [0, 1, 0, 0]], np.float32)
    y_pred = np.array([[0.1, 0.4, 0.35, 0.8], [0.6, 0.2, 0.9, 0.3]], np.float32)
    # top_k=2: row 1 keeps classes 1 and 3 (tp 1, fp 1); row 2 keeps 0 and 2 (fp 2).
    p = metrics.Precision(top_k=2)
    assert float(p(y_true, y_pred)) == pytest.approx(1 / 4)
    # class_id=2: labels [1, 0], predictions [0.35, 0.9] > 0.5 -> [no, yes].
    r = metrics.Recall(class_id=2)
    assert float(r(y_true, y_pred)) == 0.0
    p2 = metrics.Precision(class_id=2)
    assert float(p2(y_true, y_pred)) == 0.0
    r3 = metrics.Recall(class_id=3)
    assert float(r3(y_true, y_pred)) == pytest.approx(1.0)


def test_precision_recall_configs():
    p = metrics.Precision(name="precision")
    assert p.get_config() == {"name": "precision", "dtype": "float32", "thresholds": None,
                              "top_k": None, "class_id": None}
    assert [v.name for v in p.variables] == ["true_positives", "false_positives"]
    r = metrics.Recall(thresholds=[0.3, 0.6], name="recall")
    assert [v.name for v in r.variables] == ["true_positives", "false_negatives"]
    clone = metrics.Recall.from_config(r.get_config())
    assert clone.thresholds == [0.3, 0.6]
    assert p._direction == "up" and r._direction == "up"
