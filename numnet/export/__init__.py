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

Every layer numnet has exports to the three formats, preprocessing included
(Normalization, Discretization, CategoryEncoding, StringLookup and
IntegerLookup, whose vocabularies become hash tables: ONNX's `LabelEncoder`
of the ai.onnx.ml domain, TensorFlow's `StaticHashTable`), with one
exception: ONNX has no string hash, so a `Hashing` layer, or a lookup that
hashes its out-of-vocabulary tokens (several OOV indices on strings, or
`oov_method="farmhash"`), is refused by the ONNX exporter with an error naming
the layer (`registry.NOT_EXPORTED_TO`); the SavedModel uses TensorFlow's own
hashes, the NumPy module carries them in Python. Training-only behaviour is
left out, as inference runs it: noise layers and Dropout pass their inputs
through, BatchNormalization uses its moving statistics.

Masks, as in Keras' own export: what a layer computes from a mask (a Softmax or
a Lambda given one, a masked Embedding's padding) is part of the forward pass,
hence of the export; the masks themselves are not outputs, and losses and
metrics, which read them, are not exported.
"""

from numnet.export.errors import ExportError
from numnet.export.exporting import FORMATS, export_model
from numnet.export.graph import InferenceGraph, TensorSpec
from numnet.export.loading import ExportedModel, detect_format, load
from numnet.export.tracing import trace

__all__ = ["ExportError", "ExportedModel", "FORMATS", "InferenceGraph", "TensorSpec",
           "detect_format", "export_model", "load", "trace"]
