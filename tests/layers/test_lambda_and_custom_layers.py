"""`Lambda` (building, running, saving as Keras does) and custom layers' saving hooks
(`save_own_variables` / `load_own_variables`, `get_build_config` / `build_from_config`)."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import numnet as keras
from numnet.autodiff.ops.masking import get_keras_mask

L = keras.layers
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
_spec = importlib.util.spec_from_file_location("layer_cases", FIXTURES / "layer_cases.py")
CASES = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(CASES)
X = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")


def test_lambda_runs_with_arguments_mask_and_training():
    seen = {}

    def scaled(x, factor, mask=None, training=None):
        seen.update(mask=mask, training=training)
        return x * factor

    layer = L.Lambda(scaled, arguments={"factor": 3.0}, mask=lambda inputs, mask: None)
    np.testing.assert_allclose(layer(X, training=True).data, X * 3.0, rtol=1e-6)
    assert seen["training"] is True and layer.supports_masking
    masked = L.Lambda(lambda x: x, mask=lambda inputs, mask: keras.ops.greater(inputs[:, 0], 0))
    np.testing.assert_array_equal(get_keras_mask(masked(X)).data, X[:, 0] > 0)
    assert not L.Lambda(lambda x: x).supports_masking


def test_lambda_output_shapes():
    inputs = keras.Input(shape=(3,))
    assert L.Lambda(lambda x: keras.ops.concatenate([x, x], axis=-1))(inputs).shape == \
        (None, 6)
    assert L.Lambda(lambda x: x, output_shape=(3,))(inputs).shape == (None, 3)
    assert L.Lambda(lambda x: x, output_shape=lambda s: (s[0], 7))(inputs).shape == (None, 7)


def test_lambda_in_a_compiled_model():
    model = keras.Sequential([keras.Input(shape=(3,)), L.Lambda(lambda x: keras.ops.square(x)),
                              L.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(X, X[:, :1], epochs=4, verbose=0)  # the step is planned from its third call
    assert model.compiled_reason is None and model.train_function.programs


def test_lambda_with_a_registered_function_loads_in_safe_mode(tmp_path):
    squash = CASES.registered_function(keras)
    model = keras.Sequential([keras.Input(shape=(3,)), L.Lambda(squash), L.Dense(1)])
    config = model.layers[0].get_config()["function"]
    assert config == {"module": "builtins", "class_name": "function",
                      "config": "numnet_tests>squash", "registered_name": "function"}
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))


def test_lambda_with_an_unregistered_function_needs_custom_objects(tmp_path):
    def double(x):
        return x * 2.0
    model = keras.Sequential([keras.Input(shape=(3,)), L.Lambda(double)])
    model.save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match="double"):
        keras.models.load_model(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", custom_objects={"double": double})
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), X * 2.0)


def test_python_lambda_loads_only_with_safe_mode_false(tmp_path):
    model = keras.Sequential([keras.Input(shape=(3,)), L.Lambda(lambda x, k=1.5: x * k + 1.0),
                              L.Dense(2)])
    config = model.layers[0].get_config()["function"]
    assert config["class_name"] == "__lambda__" and config["config"]["defaults"] == (1.5,)
    model.save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match="safe_mode=False"):
        keras.models.load_model(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", safe_mode=False)
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    # the scope ends with the load: the next default load is safe again
    with pytest.raises(ValueError, match="safe_mode=False"):
        keras.models.load_model(tmp_path / "m.keras")


def test_keras_written_python_lambda():
    """Keras' bytecode: refused by default; run with safe_mode=False on the Python that wrote it."""
    data = np.load(FIXTURES / "keras_files" / "lambda_bytecode.npz")
    path = FIXTURES / "keras_files" / "lambda_bytecode.keras"
    with pytest.raises(ValueError, match="safe_mode=False"):
        keras.models.load_model(path)
    if str(data["python"]) == f"{sys.version_info[0]}.{sys.version_info[1]}":
        loaded = keras.models.load_model(path, safe_mode=False)
        np.testing.assert_allclose(loaded.predict(data["x"], verbose=0), data["y_pred"],
                                   rtol=1e-6, atol=1e-7)


def test_custom_layer_hooks_round_trip(tmp_path):
    scale_shift = CASES.custom_layer_class(keras)
    layer = scale_shift(hint="h")
    model = keras.Sequential([keras.Input(shape=(3,)), layer])
    layer.scale.assign(np.array([1.0, 2.0, 3.0], dtype="float32"))
    layer.shift.assign(np.array([0.5, 0.0, -0.5], dtype="float32"))
    store = {}
    layer.save_own_variables(store)
    assert sorted(store) == ["scale", "shift"]
    assert layer.get_build_config() == {"features": 3}
    model.save(tmp_path / "m.keras")
    import h5py
    import zipfile
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        config = archive.read("config.json").decode()
        with h5py.File(__import__("io").BytesIO(archive.read("model.weights.h5"))) as h5:
            assert sorted(h5["layers/scale_shift/vars"].keys()) == ["scale", "shift"]
    assert '"build_config": {"features": 3}' in config
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    assert loaded.layers[0].hint == "h" and loaded.layers[0].built


def test_default_own_variables_hooks():
    dense = L.Dense(2)
    dense(X)
    store = {}
    dense.save_own_variables(store)
    assert sorted(store) == ["0", "1"]
    other = L.Dense(2)
    other(X)
    other.load_own_variables(store)
    np.testing.assert_array_equal(other.kernel.data, dense.kernel.data)
    with pytest.raises(ValueError, match="expected 2 variables, but received 1"):
        other.load_own_variables({"0": store["0"]})


def test_build_from_config_with_several_inputs():
    class Pair(L.Layer):
        def build(self, a_shape, b_shape):
            self.w = self.add_weight(shape=(a_shape[-1], b_shape[-1]), name="w")

        def call(self, a):
            return a

    layer = Pair()
    layer.build_from_config({"shapes_dict": {"a_shape": [None, 2], "b_shape": [None, 4]}})
    assert layer.built and layer.w.shape == (2, 4)
