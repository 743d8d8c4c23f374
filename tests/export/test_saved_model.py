"""The "tf_saved_model" format: a real SavedModel that TensorFlow and Keras' TFSMLayer run.

These tests need TensorFlow; without it they are skipped with the reason
(TensorFlow is a large optional download, see tests/export/README in the
report and `.ci/run`). Run them with TensorFlow installed, e.g.
`PYTHONPATH=. /path/to/venv-with-tensorflow/bin/python -m pytest tests/export/test_saved_model.py`.
"""

import os

import numpy as np
import pytest

import numnet as keras
from numnet.activations import ALL_ACTIVATIONS
from numnet.export import ExportError, load
from export_cases import OP_CASES, activation_for
from export_helpers import export_and_compare

try:
    import tensorflow as tf
except ImportError as error:
    pytest.skip(f"TensorFlow is not installed here ({error}); the SavedModel tests need it "
                "(pip install tensorflow)", allow_module_level=True)

L = keras.layers


def _dense_activation(name):
    # exp(exp(x)) would overflow float32: exponential runs once, in the Activation layer.
    return None if name == "exponential" else activation_for(name)


def _textbook(rng):
    model = keras.Sequential([L.Input(shape=[28, 28]), L.Flatten(),
                              L.Dense(300, activation="relu"), L.Dense(100, activation="relu"),
                              L.Dense(10, activation="softmax")])
    x = rng.random((32, 28, 28)).astype("float32")
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    model.fit(x, rng.integers(0, 10, 32), epochs=1, verbose=0)
    return model, x


def test_the_textbook_cells(rng, tmp_path, capsys):
    model, x_new = _textbook(rng)
    path = str(tmp_path / "my_keras_model")
    model.export(path)  # Keras' default format: a SavedModel
    assert "Saved artifact at" in capsys.readouterr().out
    assert sorted(os.listdir(path)) == ["assets", "fingerprint.pb", "numnet_export.json",
                                        "saved_model.pb", "variables"]
    assert sorted(os.listdir(os.path.join(path, "variables"))) == [
        "variables.data-00000-of-00001", "variables.index"]
    expected = model.predict(x_new, verbose=0)
    reloaded = tf.saved_model.load(path)
    np.testing.assert_allclose(reloaded.serve(x_new).numpy(), expected, rtol=1e-5, atol=1e-5)
    tfsm_layer = L.TFSMLayer(path, call_endpoint="serve")
    np.testing.assert_allclose(tfsm_layer(x_new).numpy(), expected, rtol=1e-5, atol=1e-5)
    signature = reloaded.signatures["serving_default"]
    name = model.inputs[0].name
    assert list(signature.structured_outputs) == ["output_0"]
    np.testing.assert_allclose(signature(**{name: tf.constant(x_new)})["output_0"].numpy(),
                               expected, rtol=1e-5, atol=1e-5)


def test_keras_tfsm_layer_loads_it(rng, tmp_path):
    keras_module = pytest.importorskip("keras", reason="Keras is not installed with TensorFlow")
    model, x = _textbook(rng)
    model.export(tmp_path / "sm", verbose=False)
    layer = keras_module.layers.TFSMLayer(str(tmp_path / "sm"), call_endpoint="serve")
    np.testing.assert_allclose(np.asarray(layer(x)), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-5)


def test_several_inputs_and_outputs(rng, tmp_path):
    a, b = keras.Input(shape=(3,), name="wide"), keras.Input(shape=(4,), name="deep")
    h = L.Dense(5, activation="relu")(b)
    model = keras.Model([a, b], [L.Dense(1)(L.concatenate([a, h])), L.Dense(2)(h)])
    x = [rng.random((6, 3)).astype("float32"), rng.random((6, 4)).astype("float32")]
    exported = export_and_compare(model, x, tmp_path, formats=("tf_saved_model",))
    assert exported["tf_saved_model"].input_names == ("wide", "deep")
    reloaded = tf.saved_model.load(str(tmp_path / "model-tf_saved_model"))
    outputs = reloaded.serve(x)  # the model's own structure: a list in, a list out
    for got, expected in zip(outputs, model.predict(x, verbose=0)):
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_dict_inputs_and_outputs(rng, tmp_path):
    a, b = keras.Input(shape=(3,), name="a"), keras.Input(shape=(2,), name="b")
    model = keras.Model({"a": a, "b": b}, {"y": L.Dense(1)(L.concatenate([a, b]))})
    x = {"a": rng.random((4, 3)).astype("float32"), "b": rng.random((4, 2)).astype("float32")}
    export_and_compare(model, x, tmp_path, formats=("tf_saved_model",))
    layer = L.TFSMLayer(tmp_path / "model-tf_saved_model", call_endpoint="serving_default")
    np.testing.assert_allclose(layer(x)["y"].numpy(), model.predict(x, verbose=0)["y"],
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", sorted(OP_CASES))
def test_every_op(case, tmp_path):
    model, x = OP_CASES[case]()
    export_and_compare(model, x, tmp_path, formats=("tf_saved_model",), extra_batches=(5,),
                       reference="call" if case.startswith("take") else "predict")


def test_every_activation(rng, tmp_path):
    for name in sorted(ALL_ACTIVATIONS):
        model = keras.Sequential([L.Input(shape=(4,)),
                                  L.Dense(8, activation=_dense_activation(name)),
                                  L.Activation(activation_for(name))])
        x = (rng.standard_normal((6, 4)) * 2).astype("float32")
        export_and_compare(model, x, tmp_path, formats=("tf_saved_model",), name=name,
                           extra_batches=())


def test_tfsm_layer_inside_a_numnet_model_predicts_each_batch(rng, tmp_path):
    model, _ = _textbook(rng)
    model.export(tmp_path / "sm", verbose=False)
    wrapper = keras.Sequential([L.Input(shape=(28, 28)), L.TFSMLayer(tmp_path / "sm")])
    for seed in (1, 2, 3):  # same shapes each time: a compiled predict must not replay stale values
        x = np.random.default_rng(seed).random((8, 28, 28)).astype("float32")
        np.testing.assert_allclose(wrapper.predict(x, verbose=0), model.predict(x, verbose=0),
                                   rtol=1e-5, atol=1e-5)
    assert wrapper.output_shape == (None, 10)


def test_tfsm_layer_errors(rng, tmp_path):
    model, _ = _textbook(rng)
    model.export(tmp_path / "sm", verbose=False)
    with pytest.raises(ValueError, match="The endpoint 'predict' is neither an attribute"):
        L.TFSMLayer(tmp_path / "sm", call_endpoint="predict")


def test_folders_that_are_not_savedmodels_are_left_alone(tmp_path):
    model = keras.Sequential([L.Input(shape=(3,)), L.Dense(2)])
    model.export(tmp_path / "numpy_export", format="numpy", verbose=False)
    with pytest.raises(ExportError, match="is not a previous TensorFlow SavedModel export"):
        model.export(tmp_path / "numpy_export", verbose=False)
    assert load(tmp_path / "numpy_export").format == "numpy"
    model.export(tmp_path / "sm", verbose=False)
    model.export(tmp_path / "sm", verbose=False)  # a previous SavedModel is replaced
    assert sorted(os.listdir(tmp_path)) == ["numpy_export", "sm"]


def test_input_names_tensorflow_cannot_take(tmp_path):
    model = keras.Sequential([L.Input(shape=(3,)), L.Dense(2)])
    with pytest.raises(ExportError, match="'my input!' is not a valid TensorFlow tensor name"):
        model.export(tmp_path / "sm", verbose=False,
                     input_signature=[keras.Input(shape=(3,), name="my input!")])
