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
    "losses/losses_test.py::CTCTest::test_correctness",
    "models/sequential_test.py::SequentialTest::test_basic_flow_with_functional_model_as_first_layer",
    "layers/normalization/batch_normalization_test.py::BatchNormalizationTest::"
    "test_large_value_within_autocast_scope",
    "models/cloning_test.py::CloneModelTest::test_input_tensors_cnn_sequential_noinputlayer",
    "saving/saving_lib_test.py::SavingBattleTest::test_bidirectional_lstm_saving",
    "legacy/saving/legacy_h5_format_test.py::LegacyH5WholeModelTest::"
    "test_compiled_model_with_various_layers",
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
    "models/functional_test.py::FunctionalTest::test_basic_flow_multi_input",
    "layers/core/masking_test.py::MaskingTest::test_masking_basics",
    "models/cloning_test.py::CloneModelTest::test_cloning_correctness_mlp_functional",
    "saving/saving_lib_test.py::SavingTest::test_load_weights_only_with_keras_file",
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


def test_tensorflow_stand_in_reads_event_files_with_the_tensorboard_package(tmp_path):
    """Keras' TensorBoard tests read event files through TensorFlow; the harness' stand-in
    serves those parts from the `tensorboard` package, so they read numnet's files."""
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    import tf_stand_in  # (not plugin.py: importing it installs the stand-in)
    event_pb2 = tf_stand_in.tensorboard_part("tensorflow.core.util.event_pb2")
    from tensorboard.summary.writer.event_file_writer import EventFileWriter
    writer = EventFileWriter(str(tmp_path))
    writer.add_event(event_pb2.Event(step=7, wall_time=1.0))
    writer.close()
    [name] = [n for n in tmp_path.iterdir() if n.name.startswith("events.out.")]
    tf_record = tf_stand_in.tensorboard_part("tensorflow.python.lib.io.tf_record")
    steps = [event_pb2.Event.FromString(r).step for r in tf_record.tf_record_iterator(str(name))]
    assert steps == [0, 7]  # the file-version event, then ours
    assert tf_stand_in.tensorboard_part("tensorflow.summary") is None
