"""Metric behaviour from Keras 3.15.1's own metric tests, with Keras' numbers
(tests/fixtures/reference_api.*, made by tests/fixtures/generate_reference_api.py):
sample weights broadcast over the batch, `AUCCurve` / `AUCSummationMethod`, variables and
sub-metrics assigned as attributes, state initialized from an array, and the
`loss="crossentropy"` shortcut of `compile`."""

import json
from pathlib import Path

import numpy as np
import pytest

import numnet as keras
from numnet import metrics
from numnet.metrics.metrics_utils import AUCCurve, AUCSummationMethod

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
with np.load(FIXTURES / "reference_api.npz") as _npz:
    REF = {k: v for k, v in _npz.items() if k.startswith("metric/")}
META = json.loads((FIXTURES / "reference_api.json").read_text())["metrics"]


def _squared(y_true, y_pred):
    return (y_true - y_pred) ** 2


FACTORIES = {
    "accuracy_row_weights": metrics.Accuracy,
    "binary_accuracy_row_weights": metrics.BinaryAccuracy,
    "mean_row_weights": metrics.Mean,
    "mean_column_weights": metrics.Mean,
    "sum_row_weights": metrics.Sum,
    "wrapper_row_weights": lambda: metrics.MeanMetricWrapper(fn=_squared),
    "rmse_rank1_weighted": metrics.RootMeanSquaredError,
    "rmse_rank1": metrics.RootMeanSquaredError,
    "rmse_rank2_weighted": metrics.RootMeanSquaredError,
}


@pytest.mark.parametrize("case", sorted(META["cases"]))
def test_weighted_results_match_keras(case):
    metric = FACTORIES[case]()
    metric.update_state(*[np.asarray(a) for a in META["cases"][case]])
    np.testing.assert_allclose(metric.result(), REF[f"metric/{case}/value"], rtol=1e-6)


def test_auc_keeps_keras_enums_and_plain_strings_in_its_config():
    auc = metrics.AUC(curve="pr", summation_method="Majoring")
    ref = META["auc"]
    assert [type(auc.curve).__name__, auc.curve.value, auc.curve == AUCCurve.PR] == \
        ref["curve"]
    assert [type(auc.summation_method).__name__, auc.summation_method.value] == \
        ref["summation_method"]
    assert auc.summation_method is AUCSummationMethod.MAJORING
    config = {k: v for k, v in auc.get_config().items() if k != "name"}
    assert config == ref["config"]
    assert all(type(v) is not AUCCurve for v in config.values())
    assert metrics.AUC.from_config(auc.get_config()).curve is AUCCurve.PR
    assert metrics.AUC(curve=AUCCurve.ROC).curve is AUCCurve.ROC
    with pytest.raises(ValueError) as info:
        metrics.AUC(curve="xyz")
    assert str(info.value) == ref["bad_curve"][1]


class _Pair(metrics.Metric):
    def __init__(self, name=None):
        super().__init__(name=name)
        self.a = self.add_variable(shape=(), name="a")
        self.b = self.add_variable(shape=(), name="b")

    def update_state(self, *args):
        pass

    def result(self):
        return self.a


def test_variables_and_submetrics_assigned_as_attributes_are_tracked():
    counts = META["tracking"]
    metric = _Pair()
    metric.more = [keras.Variable(0.0), keras.Variable(1.0)]
    assert len(metric.variables) == counts["variables_in_list"]
    metric = _Pair()
    metric.more = {"a": [keras.Variable(0.0), keras.Variable(1.0)]}
    assert len(metric.variables) == counts["variables_nested"]
    metric = _Pair()
    metric.sub = _Pair()
    metric.sub.sub = _Pair()
    assert len(metric.variables) == counts["submetrics_two_deep"]
    metric = _Pair()
    metric.subs = {"1": _Pair(), "2": _Pair()}
    assert len(metric.variables) == counts["submetrics_in_dict"]
    metric.subs["1"].a.assign(3.0)
    metric.reset_state()
    assert float(metric.subs["1"].a.numpy()) == 0.0


def test_state_initialized_from_an_array_as_keras():
    metric = metrics.MeanIoU(num_classes=3)
    metric.total_cm = metric.add_variable(name="total_confusion_matrix", shape=(3, 3),
                                          initializer=REF["metric/iou_initial/start"],
                                          dtype="int")
    metric.update_state(REF["metric/iou_initial/y_true"], REF["metric/iou_initial/y_pred"])
    np.testing.assert_array_equal(metric.total_cm.numpy(), REF["metric/iou_initial/total_cm"])
    np.testing.assert_allclose(metric.result(), REF["metric/iou_initial/value"], rtol=1e-6)


def test_fbeta_refuses_an_undefined_output_dimension():
    with pytest.raises(ValueError) as info:
        metrics.FBetaScore()._build((2, None), (2, None))
    assert str(info.value) == META["fbeta_undefined_dim"][1]


@pytest.mark.parametrize("case", sorted(META["crossentropy"]))
@pytest.mark.parametrize("identifier", ["crossentropy", "CE"])
def test_crossentropy_loss_name_picks_the_loss_from_the_shapes(case, identifier):
    y = REF[f"metric/ce/{case}/y"]
    units = 1 if case == "binary" else 3
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(
        units, activation="sigmoid" if units == 1 else "softmax")])
    model.set_weights([REF[f"metric/ce/{case}/w{i}"]
                       for i in range(META["crossentropy"][case])])
    model.compile(optimizer="sgd", loss=identifier)
    loss = model.evaluate(REF["metric/ce/x"], y, verbose=0)
    np.testing.assert_allclose(loss, REF[f"metric/ce/{case}/{identifier}"], rtol=1e-6)
