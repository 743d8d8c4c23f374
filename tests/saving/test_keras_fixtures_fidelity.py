"""numnet loads Keras-written `.keras` files that use the fidelity additions: Adamax,
Adadelta, Ftrl, Lion, Lamb, CosineDecayRestarts, every new metric and an
OrthogonalRegularizer (no TensorFlow needed here).

The files come from tests/fixtures/generate_keras_files_fidelity.py, which also checks
the other direction (Keras loads numnet's files) in the reference environment. The
checks are those of test_keras_fixtures.py: predictions, compile config, every
optimizer slot, `evaluate` (every metric's value) and the next training step.
"""

import pytest

import test_keras_fixtures as base  # the checks, imported as a module so pytest runs them once

NAMES = ["metrics_fidelity", "opt_adamax", "opt_adadelta", "opt_ftrl", "opt_lion", "opt_lamb",
         "opt_cosine_restarts"]


@pytest.mark.parametrize("name", NAMES)
def test_fidelity_keras_file_round_trip(name):
    base.test_keras_file_predicts_evaluates_and_continues_training(name)


def test_metric_and_regularizer_classes_are_rebuilt():
    _, config, model = base._fixture("metrics_fidelity")
    written = {m["class_name"] for metrics in config["compile_config"]["metrics"].values()
               for m in metrics}
    assert written == {"F1Score", "FBetaScore", "OneHotIoU", "OneHotMeanIoU",
                       "TopKCategoricalAccuracy", "TruePositives", "FalsePositives",
                       "TrueNegatives", "FalseNegatives", "PrecisionAtRecall",
                       "RecallAtPrecision", "SensitivityAtSpecificity",
                       "SpecificityAtSensitivity", "BinaryIoU", "MeanIoU", "IoU",
                       "SparseTopKCategoricalAccuracy"}
    regularizer = model.get_layer("hidden").kernel_regularizer
    assert type(regularizer).__name__ == "OrthogonalRegularizer"
    assert regularizer.get_config() == {"factor": 0.05000000074505806, "mode": "columns"}
