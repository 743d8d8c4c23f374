"""Models that cannot be exported, and bad arguments: clear errors naming the layer and op."""

import sys

import numpy as np
import pytest

import numnet as keras
from numnet import ops
from numnet.autodiff.primitive import Primitive
from numnet.export import ExportError, export_model

L = keras.layers
X = np.random.default_rng(0).standard_normal((4, 3)).astype("float32")

# A primitive no exporter knows (as a helper's new op would be before it gets rules).
TRIPLE = Primitive("triple_for_test", lambda x: x * 3, None)


class Tripler(L.Layer):
    def call(self, inputs):
        return TRIPLE(ops.convert_to_tensor(inputs))


class ReadsValues(L.Layer):
    def call(self, inputs):
        if float(ops.sum(inputs)) > 0:  # Python control flow on a value: not a graph
            return inputs * 2
        return inputs


class NumpyInside(L.Layer):
    def call(self, inputs):
        return ops.convert_to_tensor(np.tanh(np.asarray(inputs)))


class BatchShapedConstant(L.Layer):
    def call(self, inputs):
        return inputs + np.ones(tuple(inputs.shape), dtype="float32")


class NoisyAtInference(L.Layer):
    def call(self, inputs, training=None):
        return inputs + ops.random_normal(tuple(inputs.shape), stddev=0.1)


class CountsCalls(L.Layer):
    def build(self, input_shape):
        self.calls = self.add_weight(shape=(), initializer="zeros", trainable=False, name="calls")

    def call(self, inputs):
        self.calls.assign_add(1.0)
        return inputs


class PerRow(L.Layer):
    def call(self, inputs):
        total = inputs[0:1]
        for i in range(1, inputs.shape[0]):  # as many ops as rows
            total = total + inputs[i:i + 1]
        return ops.broadcast_to(total, tuple(inputs.shape))


def _model(layer):
    return keras.Sequential([L.Input(shape=(3,)), L.Dense(3, name="before"), layer])


@pytest.mark.parametrize("format_name", ["onnx", "numpy"])
def test_an_op_without_a_rule_is_named_with_its_layer(format_name, tmp_path):
    pytest.importorskip("onnx", reason="ONNX export needs onnx: pip install numnet[export]")
    model = _model(Tripler(name="tripler"))
    with pytest.raises(ExportError) as error:
        export_model(model, tmp_path / "m", format=format_name, verbose=False)
    message = str(error.value)
    assert "layer 'tripler' (Tripler)" in message and "'triple_for_test'" in message
    assert "Ops this format supports" in message
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("layer, words", [
    (ReadsValues(name="reads"), ["cannot be traced", "layer 'reads' (ReadsValues)", "float()"]),
    (NumpyInside(name="numpy_inside"), ["cannot be traced", "NumPy array",
                                        "layer 'numpy_inside' (NumpyInside)"]),
    (BatchShapedConstant(name="ones"), ["layer 'ones' (BatchShapedConstant)",
                                        "shape follows the batch size"]),
    (NoisyAtInference(name="noisy"), ["layer 'noisy' (NoisyAtInference)",
                                      "draws random numbers"]),
    (CountsCalls(name="counter"), ["layer 'counter' (CountsCalls)", "writes a variable"]),
    (PerRow(name="per_row"), ["different ops on batches of 2 and 3 rows"]),
])
def test_models_that_cannot_be_traced(layer, words, tmp_path):
    with pytest.raises(ExportError) as error:
        export_model(_model(layer), tmp_path / "m", format="numpy", verbose=False)
    for word in words:
        assert word in str(error.value)
    assert not (tmp_path / "m").exists()


def test_a_subclassed_model_never_called(tmp_path):
    class Never(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = L.Dense(2)

        def call(self, inputs):
            return self.dense(inputs)

    with pytest.raises(ExportError, match="never been called"):
        export_model(Never(), tmp_path / "m", format="numpy", verbose=False)


def test_input_signature_errors(tmp_path):
    model = _model(L.Activation("relu"))
    with pytest.raises(ExportError, match="dimension 2 of input 'x'.*only the batch"):
        export_model(model, tmp_path / "m", format="numpy", verbose=False,
                     input_signature=[keras.Input(shape=(3, None), name="x")])
    with pytest.raises(ExportError, match="entries must be numnet.Input"):
        export_model(model, tmp_path / "m", format="numpy", verbose=False,
                     input_signature=["not a spec"])


def test_duplicate_input_names(tmp_path):
    class Pair(keras.Model):
        def call(self, inputs):
            return inputs[0] + inputs[1]

    model = Pair()
    model([X, X])
    with pytest.raises(ExportError, match="several inputs are named"):
        export_model(model, tmp_path / "m", format="numpy", verbose=False,
                     input_signature=[[keras.Input(shape=(3,), name="x"),
                                       keras.Input(shape=(3,), name="x")]])


def test_outputs_must_be_computed_tensors(tmp_path):
    class ReturnsWeight(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = L.Dense(2)

        def call(self, inputs):
            self.dense(inputs)
            return self.dense.kernel * 1.0

    class ReturnsNumber(keras.Model):
        def call(self, inputs):
            return 3.0

    model = ReturnsWeight()
    model(X)
    with pytest.raises(ExportError, match="does not depend on its inputs"):
        export_model(model, tmp_path / "m", format="numpy", verbose=False)
    model = ReturnsNumber()
    with pytest.raises(ExportError, match="not a tensor"):
        export_model(model, tmp_path / "m", format="numpy", verbose=False,
                     input_signature=[keras.Input(shape=(3,))])


def test_formats_and_options(tmp_path):
    model = _model(L.Activation("relu"))
    with pytest.raises(ValueError, match="Unrecognized format='keras'"):
        model.export(tmp_path / "m", format="keras")
    with pytest.raises(ValueError, match="Keras format numnet does not write"):
        model.export(tmp_path / "m", format="openvino")
    with pytest.raises(ValueError, match=r"unexpected keyword arguments \['opset'\]"):
        model.export(tmp_path / "m.onnx", format="onnx", opset=17)
    with pytest.raises(ValueError, match="unexpected keyword arguments"):
        model.export(tmp_path / "m", format="numpy", opset_version=17)
    pytest.importorskip("onnx", reason="ONNX export needs onnx: pip install numnet[export]")
    for bad in (16, 10_000, "17", True):
        with pytest.raises(ValueError, match="opset_version must be an integer from 17"):
            model.export(tmp_path / "m.onnx", format="onnx", opset_version=bad)
    assert not any(tmp_path.iterdir())


def test_tf_saved_model_without_tensorflow_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # import tensorflow now fails
    model = _model(L.Activation("relu"))
    with pytest.raises(ImportError) as error:
        model.export(tmp_path / "saved")  # Keras' default format
    message = str(error.value)
    assert "pip install tensorflow" in message and "format='onnx'" in message
    assert "numnet[export]" in message and "format='numpy'" in message
    with pytest.raises(ImportError, match="TFSMLayer needs TensorFlow"):
        L.TFSMLayer(tmp_path / "saved")
    assert not (tmp_path / "saved").exists()


def test_onnx_without_the_onnx_package_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"pip install numnet\[export\]"):
        _model(L.Activation("relu")).export(tmp_path / "m.onnx", format="onnx")
