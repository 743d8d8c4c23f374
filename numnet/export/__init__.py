"""Exporting a model for inference without numnet: ONNX, TensorFlow SavedModel, plain NumPy.

`model.export(filepath, format=...)` (Keras 3's method) traces the model's
forward pass with numnet's engine into an `InferenceGraph`
(`numnet.export.tracing`) and writes it in one of three formats:

- `"onnx"`: one `.onnx` file (opset 17, dynamic batch dimension), for ONNX
  Runtime and every other ONNX runtime; needs `pip install numnet[export]`;
- `"tf_saved_model"` (Keras' default): a SavedModel folder with a `serve`
  endpoint, for TensorFlow, TF Serving and Keras' `TFSMLayer`; needs TensorFlow;
- `"numpy"`: a folder with `model.py` (the forward pass as plain NumPy, one line
  per op) and `weights.npz`; needs only NumPy.

`load(path)` opens any of them as an `ExportedModel` with input and output
specs and `predict({name: array}) -> {name: array}` (what `numnet serve` uses).
"""

from numnet.export.errors import ExportError
from numnet.export.exporting import FORMATS, export_model
from numnet.export.graph import InferenceGraph, TensorSpec
from numnet.export.loading import ExportedModel, detect_format, load
from numnet.export.tracing import trace

__all__ = ["ExportError", "ExportedModel", "FORMATS", "InferenceGraph", "TensorSpec",
           "detect_format", "export_model", "load", "trace"]
