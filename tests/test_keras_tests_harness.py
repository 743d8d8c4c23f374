"""The Keras-tests harness' exclusion list and failure grouping (tools/keras_tests)."""

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools" / "keras_tests"))

import failures  # noqa: E402
import selection  # noqa: E402


def _reason(test_id):
    for pattern, reason in selection.EXCLUDED:
        if re.search(pattern, test_id, re.IGNORECASE):
            return reason
    return None


@pytest.mark.parametrize("test_id", [
    "layers/core/dense_test.py::DenseTest::test_quantize_int_int8",
    "layers/core/dense_test.py::DenseTest::test_enable_lora",
    "saving/saving_api_test.py::LoadWeightsTests::test_load_weights_keras_bfloat16_float32",
    "losses/losses_test.py::HingeTest::test_dtype_arg",
    "layers/merging/merging_test.py::MergingLayersTest::test_sparse_add",
    "callbacks/swap_ema_weights_test.py::SwapEMAWeightsTest::test_swap_ema_weights_with_tf_distribute",
])
def test_issue_14_exclusions_are_excluded_with_a_reason(test_id):
    assert _reason(test_id)


@pytest.mark.parametrize("test_id", [
    "activations/activations_test.py::ActivationsTest::test_sparse_plus",
    "activations/activations_test.py::ActivationsTest::test_sparsemax",
    "initializers/random_initializers_test.py::RandomInitializersTest::"
    "test_variance_scaling_invalid_distribution",
    "losses/losses_test.py::SparseCategoricalCrossentropyTest::test_all_correct_unweighted",
    "models/functional_test.py::FunctionalTest::test_restored_multi_output_type_tuple",
])
def test_tests_issue_14_asks_for_are_counted(test_id):
    assert _reason(test_id) is None


def test_every_default_module_has_files_and_every_exclusion_a_reason():
    assert set(selection.default_modules()) == set(selection.MODULES)
    assert all(files for files in selection.MODULES.values())
    assert all(reason for _, reason in selection.EXCLUDED)


def test_failures_are_grouped_by_missing_name_or_last_line():
    assert failures.cause("E   keras._shim.NotInNumnet: numnet has no equivalent of "
                          "keras.src.layers.Dot") == "missing: keras.src.layers.Dot"
    assert failures.cause("Traceback\nE   ValueError: bad at 0x7f00aa") == "ValueError: bad at …"
