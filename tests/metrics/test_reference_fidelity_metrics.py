"""Confusion counts, at-sensitivity metrics, F-scores, the IoU family and top-k accuracy
compared with Keras 3 numbers.

The reference values live in tests/fixtures/reference_fidelity.npz/.json, made by
tests/fixtures/generate_reference_fidelity.py with real Keras (TensorFlow backend).
"""

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from numnet import metrics

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
with np.load(FIXTURES / "reference_fidelity.npz") as _npz:
    REF = dict(_npz)
META = json.loads((FIXTURES / "reference_fidelity.json").read_text())
CASES = META["metrics"]
BATCHES = [slice(start, stop) for start, stop in META["batches"]]

NEW_CLASSES = {
    "TruePositives", "FalsePositives", "TrueNegatives", "FalseNegatives",
    "PrecisionAtRecall", "RecallAtPrecision", "SensitivityAtSpecificity",
    "SpecificityAtSensitivity", "F1Score", "FBetaScore", "IoU", "BinaryIoU", "MeanIoU",
    "OneHotIoU", "OneHotMeanIoU", "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy",
}


def _base_name(name):
    """A default metric name without the per-session `_N` suffix (`io_u_3` -> `io_u`)."""
    return re.sub(r"_\d+$", "", name)


def _unsuffixed(config):
    return {**config, "name": _base_name(config["name"])}


def _make(case):
    spec = CASES[case]
    return getattr(metrics, spec["class"])(**spec["kwargs"])


def _stream(metric, case, weighted):
    spec = CASES[case]
    y_true, y_pred = REF[f"data/{spec['y_true']}"], REF[f"data/{spec['y_pred']}"]
    weights = REF[f"data/{spec['sample_weight']}"]
    results = []
    for batch in BATCHES:
        kwargs = {"sample_weight": weights[batch]} if weighted else {}
        with warnings.catch_warnings():
            # int-dtype IoU with float weights warns (as Keras does): checked below.
            warnings.filterwarnings("ignore", "You are passing weight as `float`")
            metric.update_state(y_true[batch], y_pred[batch], **kwargs)
        results.append(np.asarray(metric.result()))
    return results


def test_fixture_covers_every_new_metric_class():
    assert {spec["class"] for spec in CASES.values()} == NEW_CLASSES


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_streamed_results_match_keras(case, weighted):
    results = _stream(_make(case), case, weighted)
    for result in results:
        assert result.dtype == np.float32
    expected = REF[f"metric/{case}/{'weighted' if weighted else 'unweighted'}"]
    np.testing.assert_allclose(np.stack(results), expected, rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("case", sorted(CASES))
def test_config_serialization_variables_and_direction_match_keras(case):
    spec = CASES[case]
    metric = _make(case)
    config = metric.get_config()
    assert _unsuffixed(config) == _unsuffixed(spec["config"])
    assert list(config) == list(spec["config"])  # same key order
    envelope = metrics.serialize(metric)
    assert {**envelope, "config": _unsuffixed(envelope["config"])} == \
        {**spec["serialized"], "config": _unsuffixed(spec["serialized"]["config"])}
    assert metric._direction == spec["direction"]
    if spec["class"] not in ("F1Score", "FBetaScore"):  # these build their state lazily
        assert [v.name for v in metric.variables] == spec["variables"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_config_round_trip_gives_the_same_numbers(case):
    rebuilt = metrics.deserialize(metrics.serialize(_make(case)))
    assert type(rebuilt).__name__ == CASES[case]["class"]
    expected = REF[f"metric/{case}/weighted"]
    np.testing.assert_allclose(np.stack(_stream(rebuilt, case, True)), expected,
                               rtol=2e-6, atol=1e-6)


def test_reset_state_starts_over():
    for case in ("tp_list", "p_at_r", "f1_none", "iou", "onehot_mean_iou"):
        metric = _make(case)
        _stream(metric, case, True)
        metric.reset_state()
        np.testing.assert_allclose(np.stack(_stream(metric, case, True)),
                                   REF[f"metric/{case}/weighted"], rtol=2e-6, atol=1e-6)


def test_string_identifiers_resolve_as_in_keras():
    for identifier, expected in META["metric_strings"].items():
        metric = metrics.get(identifier)
        assert type(metric).__name__ == expected["class"], identifier
        assert _base_name(metric.name) == _base_name(expected["name"]), identifier
    for identifier, error in META["metric_strings_rejected"].items():
        with pytest.raises({"ValueError": ValueError, "TypeError": TypeError}[error]):
            metrics.get(identifier)


def test_int_iou_truncates_float_weights_with_keras_warning():
    metric = metrics.IoU(num_classes=2, target_class_ids=[0, 1])
    with pytest.warns(UserWarning, match="You are passing weight as `float`"):
        metric.update_state([0, 1, 1], [0, 1, 0], sample_weight=[0.9, 1.5, 2.0])
    np.testing.assert_array_equal(metric.total_cm.numpy(), [[0, 0], [2, 1]])


def test_argument_errors_name_the_argument():
    with pytest.raises(ValueError, match="`recall` must be in the range"):
        metrics.PrecisionAtRecall(recall=1.5)
    with pytest.raises(ValueError, match="num_thresholds"):
        metrics.SensitivityAtSpecificity(0.5, num_thresholds=0)
    with pytest.raises(ValueError, match="Threshold values must be in"):
        metrics.TruePositives(thresholds=[0.5, 1.2])
    with pytest.raises(ValueError, match="`beta` argument"):
        metrics.FBetaScore(beta=2)
    with pytest.raises(ValueError, match="`average` argument"):
        metrics.F1Score(average="samples")
    with pytest.raises(ValueError, match="2D inputs"):
        metrics.F1Score()(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="Target class id 3 is out of range"):
        metrics.IoU(num_classes=3, target_class_ids=[0, 3])
