"""Layer behaviour Keras 3's own layer tests check, stated here for numnet."""

import json
from pathlib import Path

import numpy as np
import pytest

import numnet as keras
from numnet import layers

STATELESS = [
    lambda: layers.Activation("relu"),
    lambda: layers.Dropout(0.5),
    lambda: layers.ELU(),
    lambda: layers.ReLU(),
    lambda: layers.Softmax(),
    lambda: layers.LeakyReLU(),
    lambda: layers.Identity(),
    lambda: layers.Masking(),
    lambda: layers.UnitNormalization(),
    lambda: layers.GaussianNoise(0.1),
    lambda: layers.GaussianDropout(0.1),
    lambda: layers.AlphaDropout(0.1),
    lambda: layers.ActivityRegularization(l1=0.1),
]


@pytest.mark.parametrize("make", STATELESS)
def test_stateless_layers_are_built_after_init(make):
    """Keras marks a layer that keeps the base `build` as built in its `__init__`."""
    assert make().built


@pytest.mark.parametrize("make", STATELESS)
def test_overriding_build_leaves_the_layer_unbuilt_until_called(make):
    """A subclass that overrides `build` is not built until its first call (Keras' rule)."""
    cls = type(make())
    calls = []

    class OwnBuild(cls):
        def build(self, input_shape):
            calls.append(input_shape)

    config = make().get_config()
    config.pop("name")
    rebuilt = OwnBuild.from_config(config)
    assert not rebuilt.built
    rebuilt(np.ones((2, 3), dtype="float32"))
    assert rebuilt.built and calls == [(2, 3)]



# ----------------------------------------------------------- against Keras' answers
# tests/fixtures/reference_api.* (`layers`), made by tests/fixtures/generate_reference_api.py
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
with np.load(FIXTURES / "reference_api.npz") as _npz:
    REF = {k: v for k, v in _npz.items() if k.startswith("layer/")}
META = json.loads((FIXTURES / "reference_api.json").read_text())["layers"]


def _message(fn):
    try:
        fn()
    except Exception as error:  # noqa: BLE001 - the test compares whatever is raised
        return [type(error).__name__, str(error)]
    return None


def test_flatten_channels_first_reads_channels_last_first():
    y = layers.Flatten(data_format="channels_first")(REF["layer/flatten_cf/x"])
    np.testing.assert_array_equal(y.numpy(), REF["layer/flatten_cf/y"])
    assert layers.Flatten().get_config()["data_format"] == META["flatten_default_format"]


def test_image_data_format_sets_defaults_and_per_channel_rescaling():
    keras.config.set_image_data_format("channels_first")
    try:
        rescaled = layers.Rescaling(scale=[1.0 / 255, 1.5 / 255, 2.0 / 255], offset=0.5)(
            REF["layer/rescaling_cf/x"])
        assert layers.Flatten().get_config()["data_format"] == \
            META["flatten_default_format_cf"]
    finally:
        keras.config.set_image_data_format("channels_last")
    np.testing.assert_allclose(rescaled.numpy(), REF["layer/rescaling_cf/y"], rtol=1e-6)
    with pytest.raises(ValueError, match="data_format"):
        keras.config.set_image_data_format("channels_middle")


@pytest.mark.parametrize("case", sorted(META["hashing"]))
def test_hashing_nested_lists_of_strings(case):
    spec = META["hashing"][case]
    y = layers.Hashing(**spec["kwargs"])(META["hashing_inputs"])
    assert y.dtype == spec["dtype"]
    np.testing.assert_array_equal(y.numpy(), REF[f"layer/hashing/{case}"])


def test_hashing_symbolic_outputs_have_the_layer_dtype():
    for dtype, expected in META["hashing_symbolic_dtypes"].items():
        out = layers.Hashing(num_bins=3, dtype=dtype)(
            keras.Input(batch_size=16, shape=(4,), dtype="string"))
        assert out.dtype == expected


@pytest.mark.parametrize("mode", ["one_hot", "multi_hot", "count"])
def test_category_encoding_encode(mode):
    y = layers.CategoryEncoding(num_tokens=4, output_mode=mode)._encode(
        REF[f"layer/encode/{mode}/x"])
    np.testing.assert_array_equal(np.asarray(y.numpy()), REF[f"layer/encode/{mode}/y"])


def test_bad_arguments_raise_keras_errors():
    shapes = {"'Invalid'": "Invalid", "(20, 1.5, 10)": (20, 1.5, 10),
              "(20, -1, 10)": (20, -1, 10), "(20, 0, 10)": (20, 0, 10), "5": 5}
    for key, shape in shapes.items():
        assert _message(lambda: layers.Dropout(0.5, noise_shape=shape)) == \
            META["dropout_errors"][key]
    assert list(layers.Dropout(0.5, noise_shape=[20, 1, 10]).noise_shape) == \
        META["dropout_noise_shape_list"]
    assert isinstance(layers.Dropout(0.5, noise_shape=[20, 1, 10]).noise_shape, tuple)
    for key, target in {"(-2, 5)": (-2, 5), "(-1, -1, 5)": (-1, -1, 5)}.items():
        assert _message(lambda: layers.Reshape(target_shape=target)) == \
            META["reshape_errors"][key]
    values = {"3.7": 3.7, "4.0": 4.0, "'3'": "3", "None": None, "True": True, "-1": -1, "0": 0}
    for key, value in values.items():
        assert _message(lambda: layers.Embedding(input_dim=value, output_dim=8)) == \
            META["embedding_errors"][key]
    kind, message = _message(
        lambda: layers.Embedding.from_config({"input_dim": 3.7, "output_dim": 8}))
    expected_kind, expected = META["embedding_from_config"]
    assert kind == expected_kind
    assert message.split("Exception encountered: ")[1] == \
        expected.split("Exception encountered: ")[1]


def test_a_lambda_of_an_op_saves_the_op_name_and_keeps_a_known_batch():
    assert layers.Lambda(keras.ops.square).get_config()["function"] == \
        META["lambda_square_function"]
    shapes = META["symbolic_shapes"]
    assert list(layers.Lambda(keras.ops.square)(keras.layers.KerasTensor((2, 3))).shape) == \
        shapes["lambda"]
    assert list(layers.Lambda(keras.ops.square)(keras.Input((3,))).shape) == \
        shapes["lambda_unknown_batch"]
    config = layers.Lambda(lambda x: x ** 2).get_config()
    with pytest.raises(ValueError, match="Lambda"):
        layers.Lambda.from_config(config)
    rebuilt = layers.Lambda.from_config(config, safe_mode=False)
    np.testing.assert_array_equal(rebuilt(np.full((2, 3), 2.0, "float32")).numpy(),
                                  np.full((2, 3), 4.0, "float32"))


def test_dropout_rescales_kept_entries():
    """Keras' rule: kept entries are divided by `1 - rate`; the mean is kept on average."""
    outputs = layers.Dropout(0.5, seed=1337)(np.ones((200, 500), "float32"), training=True)
    values = outputs.numpy()
    assert set(np.unique(values)) == {0.0, 2.0}
    assert abs(values.mean() - 1.0) < 0.02
