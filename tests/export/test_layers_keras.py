"""Every layer of issue 14 exported, and the exports give real Keras' numbers.

The layers and their inputs are those of tests/fixtures/layer_cases.py, and Keras'
outputs (Keras 3.15.1 on TensorFlow, inference mode) are in
tests/fixtures/reference_layers.* (made by tests/fixtures/generate_reference_layers.py).
Each layer is wrapped in a Functional model (an `Input` per input array, with its dtype:
float, int, string; a boolean `Input` for a `mask` call argument), its Keras weights set,
exported to ONNX and NumPy, and run on the reference inputs: the outputs must be Keras'.
Each export is also checked against numnet's own call at other batch sizes. The
SavedModel round trips of the same cases are in test_saved_model.py.
"""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import numnet as keras
from numnet.export import ExportError, export_model, load
from export_helpers import export_and_compare, require_onnx

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
_spec = importlib.util.spec_from_file_location("layer_cases", FIXTURES / "layer_cases.py")
CASES = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(CASES)
with np.load(FIXTURES / "reference_layers.npz") as _npz:
    REF = dict(_npz)
META = json.loads((FIXTURES / "reference_layers.json").read_text())
FORWARD = CASES.forward_cases(keras)
PREPROCESSING = CASES.preprocessing_cases(keras)
# Keras' string hashes (FarmHash, SipHash) have no ONNX form: those exports are refused.
HASHED = ("hashing_ints", "hashing_mask", "hashing_multi_hot", "hashing_one_hot",
          "hashing_salt", "hashing_salt_int", "hashing_strings", "integer_lookup_farmhash",
          "string_lookup_mask", "string_lookup_salt")


def _ref(key):
    if key in META["strings"]:
        return np.array(META["strings"][key])
    return REF[key]


def _listed(prefix):
    keys = sorted((k for k in REF if k.startswith(prefix) and k[len(prefix):].isdigit()),
                  key=lambda k: int(k[len(prefix):]))
    return [REF[k] for k in keys]


def _input(array, name):
    dtype = "string" if array.dtype.kind in "US" else array.dtype.name
    return keras.Input(shape=array.shape[1:], dtype=dtype, name=name)


def forward_model(name):
    """(model around the layer of forward case `name`, its inputs, Keras' output)."""
    factory, _, call_args, _ = FORWARD[name]
    arrays = _listed(f"forward/{name}/x")
    inputs = [_input(x, f"x{i}") for i, x in enumerate(arrays)]
    layer = factory()
    args = inputs if len(inputs) > 1 else inputs[0]
    if "mask" in call_args:
        mask = REF[f"forward/{name}/mask"]
        inputs.append(_input(mask, "mask"))
        arrays.append(mask)
        outputs = layer(args, mask=inputs[-1])
    else:
        outputs = layer(args)
    model = keras.Model(inputs if len(inputs) > 1 else inputs[0], outputs, name=name)
    layer.set_weights(_listed(f"forward/{name}/w"))
    return model, arrays, REF[f"forward/{name}/inference"]


def preprocessing_model(name):
    """(model around the adapted layer of preprocessing case `name`, its input, Keras' output)."""
    factory, adapt_key, input_key = PREPROCESSING[name]
    layer = factory()
    if adapt_key is not None:
        layer.adapt(_ref(f"data/{adapt_key}"))
    x = _ref(f"data/{input_key}")
    inputs = _input(x, "x")
    return keras.Model(inputs, layer(inputs), name=name), [x], _ref(f"prep/{name}/output")


def _feed(exported, arrays):
    return dict(zip(exported.input_names, arrays))


def check_against_keras(exported, arrays, want, tolerance):
    got = exported.predict(_feed(exported, arrays))[exported.output_names[0]]
    assert got.shape == want.shape
    if want.dtype.kind in "OSU":
        np.testing.assert_array_equal(np.asarray(got).astype(str), want.astype(str))
    elif want.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance)
    else:
        np.testing.assert_array_equal(got, want)


def _export_and_check(build, name, format_name, tmp_path):
    if format_name == "onnx":
        require_onnx()
    model, arrays, want = build(name)
    x = arrays if len(arrays) > 1 else arrays[0]
    # numnet's own outputs (several batch sizes: the batch dimension stays dynamic) ...
    exported = export_and_compare(model, x, tmp_path, formats=(format_name,),
                                  reference="call", extra_batches=(1, 5))[format_name]
    # ... are Keras' (Keras' TensorFlow kernels against numnet's formulas: float32 rounding)
    check_against_keras(exported, arrays, want, 2e-5 if format_name == "onnx" else 1e-5)


@pytest.mark.parametrize("format_name", ["onnx", "numpy"])
@pytest.mark.parametrize("name", sorted(FORWARD))
def test_layer_exports_give_keras_outputs(name, format_name, tmp_path):
    _export_and_check(forward_model, name, format_name, tmp_path)


@pytest.mark.parametrize("format_name", ["onnx", "numpy"])
@pytest.mark.parametrize("name", sorted(n for n in PREPROCESSING if n not in HASHED))
def test_preprocessing_exports_give_keras_outputs(name, format_name, tmp_path):
    _export_and_check(preprocessing_model, name, format_name, tmp_path)


@pytest.mark.parametrize("name", HASHED)
def test_hashing_layers_export_to_numpy_with_keras_hashes(name, tmp_path):
    """The NumPy module carries TensorFlow's FarmHash64 and SipHash, written in Python."""
    _export_and_check(preprocessing_model, name, "numpy", tmp_path)
    source = (tmp_path / "model-numpy" / "model.py").read_text()
    assert "def fingerprint64(" in source and "import struct" in source
    assert "numnet" not in source.split('"""', 2)[2].replace("numnet.kernels.hashing", "")


@pytest.mark.parametrize("name", HASHED)
def test_hashing_layers_are_refused_by_onnx_with_the_layer_and_the_reason(name, tmp_path):
    require_onnx()
    model, _, _ = preprocessing_model(name)
    layer = model.layers[-1]
    with pytest.raises(ExportError) as caught:
        export_model(model, tmp_path / "m.onnx", format="onnx", verbose=False)
    message = str(caught.value)
    assert f"layer '{layer.name}' ({type(layer).__name__})" in message
    assert "ONNX has no operator that hashes strings" in message
    assert ("'hash_bins'" if name.startswith("hashing") else "'index_lookup'") in message
    assert not (tmp_path / "m.onnx").exists()


def test_the_keras_reference_covers_every_new_layer_class():
    """Each layer class of issue 14 is exported above (or in the mask tests)."""
    seen = {type(forward_model(n)[0].layers[-1]).__name__ for n in FORWARD}
    seen |= {type(preprocessing_model(n)[0].layers[-1]).__name__ for n in PREPROCESSING}
    assert {"ActivityRegularization", "AlphaDropout", "BatchNormalization", "CategoryEncoding",
            "Discretization", "Dot", "ELU", "Embedding", "GaussianDropout", "GaussianNoise",
            "Hashing", "Identity", "IntegerLookup", "LayerNormalization", "LeakyReLU",
            "Masking", "PReLU", "Permute", "ReLU", "RepeatVector", "Rescaling", "Softmax",
            "StringLookup", "UnitNormalization"} <= seen


def test_string_outputs_of_an_inverted_lookup(tmp_path):
    require_onnx()
    model, arrays, want = preprocessing_model("string_lookup_invert")
    for format_name, path in (("onnx", tmp_path / "m.onnx"), ("numpy", tmp_path / "m")):
        export_model(model, path, format=format_name, verbose=False)
        exported = load(path)
        assert exported.outputs[0].dtype == np.dtype(str)
        check_against_keras(exported, arrays, want, 0)
        got = exported.predict(arrays[0])[exported.output_names[0]]
        assert got.dtype.kind == "U"  # str, whatever the runtime returns
