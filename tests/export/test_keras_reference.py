"""Models real Keras wrote and ran (tests/fixtures/keras_files): exported, they give Keras' numbers.

The `.keras` files and Keras' predictions on them come from
tests/fixtures/generate_keras_files.py (Keras 3.15.1); numnet loads each file,
exports it, and ONNX Runtime / the NumPy module must reproduce the predictions
Keras computed.
"""

import os

import numpy as np
import pytest

from numnet.export import load
from numnet.saving import load_model
from export_helpers import require_onnx

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "keras_files")
CASES = {
    # file: (input arrays in the npz, Keras' predictions in the npz)
    "func_layers": (["x0", "x1"], ["y_pred0"]),
    "seq_rmsprop_norm": (["x"], ["y_pred"]),
    "losses_dict": (["x0"], [f"y_pred{i}" for i in range(10)]),
}


@pytest.mark.parametrize("format_name", ["onnx", "numpy"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_exports_reproduce_keras_predictions(name, format_name, tmp_path):
    if format_name == "onnx":
        require_onnx()
    data = np.load(os.path.join(FIXTURES, f"{name}.npz"))
    inputs, predictions = CASES[name]
    model = load_model(os.path.join(FIXTURES, f"{name}.keras"))
    path = tmp_path / ("m.onnx" if format_name == "onnx" else "m")
    model.export(path, format=format_name, verbose=False)
    exported = load(path)
    got = exported.predict(dict(zip(exported.input_names, (data[k] for k in inputs))))
    assert len(got) == len(predictions)
    for output, key in zip(exported.output_names, predictions):
        # Keras (TensorFlow kernels) against numnet's formulas: float32 rounding apart.
        np.testing.assert_allclose(got[output], data[key], rtol=2e-6, atol=2e-6)
