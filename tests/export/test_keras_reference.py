"""Models real Keras wrote and ran (tests/fixtures/keras_files): exported, they give Keras' numbers.

The `.keras` files and Keras' predictions on them come from
tests/fixtures/generate_keras_files.py and, for the `layers_*` files (the layers of
issue 14: normalization, embeddings, masks, noise, preprocessing),
tests/fixtures/generate_keras_layer_files.py (Keras 3.15.1); numnet loads each file,
exports it, and ONNX Runtime / the NumPy module must reproduce the predictions Keras
computed. `layers_preprocessing` holds a salted Hashing layer, which ONNX cannot express:
its ONNX export is refused, naming the layer.
"""

import importlib.util
import os
import re

import numpy as np
import pytest

import numnet as keras
from numnet.export import ExportError, load
from numnet.saving import load_model
from export_helpers import require_onnx

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")
FILES = os.path.join(FIXTURES, "keras_files")
_spec = importlib.util.spec_from_file_location("layer_cases",
                                               os.path.join(FIXTURES, "layer_cases.py"))
_LAYER_CASES = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_LAYER_CASES)
_LAYER_CASES.custom_layer_class(keras)  # layers_mlp's custom layer, layers_graph's function
_LAYER_CASES.registered_function(keras)

CASES = {
    # file: (input arrays in the npz, Keras' predictions in the npz)
    "func_layers": (["x0", "x1"], ["y_pred0"]),
    "seq_rmsprop_norm": (["x"], ["y_pred"]),
    "losses_dict": (["x0"], [f"y_pred{i}" for i in range(10)]),
    "layers_mlp": (["x0"], ["y_pred0"]),
    "layers_graph": (["x0", "x1"], ["y_pred0"]),
    "layers_noise": (["x0"], ["y_pred0"]),
    "layers_masked": (["x0", "x1"], ["y_pred0", "y_pred1"]),
    "layers_preprocessing": (["x0", "x1", "x2"], ["y_pred0"]),
}
ONNX_REFUSED = {"layers_preprocessing": "layer 'city_hash' (Hashing) uses the op 'hash_bins'"}


def _array(data, key):
    array = data[key]
    return np.char.decode(array, "utf-8") if array.dtype.kind == "S" else array


@pytest.mark.parametrize("format_name", ["onnx", "numpy"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_exports_reproduce_keras_predictions(name, format_name, tmp_path):
    if format_name == "onnx":
        require_onnx()
    data = np.load(os.path.join(FILES, f"{name}.npz"))
    inputs, predictions = CASES[name]
    model = load_model(os.path.join(FILES, f"{name}.keras"))
    path = tmp_path / ("m.onnx" if format_name == "onnx" else "m")
    if format_name == "onnx" and name in ONNX_REFUSED:
        with pytest.raises(ExportError, match=re.escape(ONNX_REFUSED[name])):
            model.export(path, format=format_name, verbose=False)
        return
    model.export(path, format=format_name, verbose=False)
    exported = load(path)
    got = exported.predict(dict(zip(exported.input_names, (_array(data, k) for k in inputs))))
    assert len(got) == len(predictions)  # the outputs only: masks are not exported
    for output, key in zip(exported.output_names, predictions):
        # Keras (TensorFlow kernels) against numnet's formulas: float32 rounding apart.
        np.testing.assert_allclose(got[output], data[key], rtol=2e-6, atol=2e-6)
