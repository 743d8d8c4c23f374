"""Opening an export for inference: `load(path) -> ExportedModel`.

Every format answers the same small interface, which `numnet serve` (or any
program) can call without knowing the format:

```python
exported = numnet.export.load("model.onnx")      # or a NumPy / SavedModel folder
exported.inputs    # (TensorSpec(name, dtype, shape with None for the batch), ...)
exported.outputs
exported.predict({"input_layer": x})   # -> {"output_0": array}
```

- ONNX files run in ONNX Runtime (`pip install numnet[export]`);
- NumPy folders import their `model.py`: that is running the folder's code, so
  load only folders you exported yourself or otherwise trust. Nothing else
  runs: the weights are read from `weights.npz` with `allow_pickle=False`;
- SavedModel folders run in TensorFlow, when it is installed.
"""

import importlib.util
import itertools
import os

import numpy as np

from numnet.export import files
from numnet.export.graph import TensorSpec

_MODULE_IDS = itertools.count()


def detect_format(path):
    """The export format at `path` ("onnx", "numpy", "tf_saved_model"), or None.

    It only looks (a file's suffix, a folder's manifest or `saved_model.pb`),
    never loads, so a server can scan folders with it.
    """
    path = os.fspath(path)
    if os.path.isfile(path):
        return "onnx" if path.lower().endswith(".onnx") else None
    if os.path.isdir(path):
        manifest = files.read_manifest(path)
        if manifest is not None and manifest.get("format") in ("numpy", "tf_saved_model"):
            return manifest["format"]
        if os.path.isfile(os.path.join(path, "saved_model.pb")):
            return "tf_saved_model"
    return None


def _looks_like_onnx(path):
    try:
        import onnx
        model = onnx.load(path, load_external_data=False)
        return bool(model.graph.node) or bool(model.graph.output)
    except Exception:  # noqa: BLE001 - anything that does not parse is not ONNX
        return False


def load(path, threads=None, format=None):
    """Opens the export at `path` (any format `model.export` writes).

    Args:
        path: an `.onnx` file, or a NumPy or SavedModel export folder.
        threads: ONNX Runtime's intra-op thread count (ONNX files only; None
            lets ONNX Runtime choose).
        format: the format, when `detect_format` cannot tell (an ONNX file
            without the `.onnx` suffix).
    """
    path = os.fspath(path)
    format_name = format or detect_format(path)
    if format_name == "onnx":
        return OnnxModel(path, threads)
    if format_name == "numpy":
        return NumpyModel(path)
    if format_name == "tf_saved_model":
        return SavedModelModel(path)
    raise ValueError(f"{path!r} is not a numnet export: expected an .onnx file, or a folder "
                     "written by model.export(format='numpy' or 'tf_saved_model').")


class ExportedModel:
    """An exported model opened for inference (see the module docstring).

    Attributes:
        path, format: where it was loaded from and in which format.
        inputs, outputs: tuples of `TensorSpec` (shape `None` = batch).
    """

    def __init__(self, path, format_name, inputs, outputs):
        self.path = path
        self.format = format_name
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        self.input_names = tuple(s.name for s in self.inputs)
        self.output_names = tuple(s.name for s in self.outputs)

    def predict(self, inputs):
        """`{input name: array (batch, ...)}` -> `{output name: array (batch, ...)}`.

        A model with one input also takes the bare array. Arrays are cast to
        the input dtypes; names and non-batch dimensions are checked.
        """
        return self._run(self._feed(inputs))

    def _feed(self, inputs):
        if not isinstance(inputs, dict):
            if len(self.inputs) != 1:
                raise ValueError(f"This model has {len(self.inputs)} inputs "
                                 f"{list(self.input_names)}: pass a dict of arrays by name.")
            inputs = {self.inputs[0].name: inputs}
        missing = [n for n in self.input_names if n not in inputs]
        extra = sorted(set(inputs) - set(self.input_names))
        if missing or extra:
            raise ValueError(f"Expected inputs {list(self.input_names)}; missing {missing}, "
                             f"unknown {extra}.")
        feed = {}
        for spec in self.inputs:
            array = np.asarray(inputs[spec.name], dtype=spec.dtype)
            if array.ndim != len(spec.shape) or any(
                    d is not None and d != n for d, n in zip(spec.shape, array.shape)):
                raise ValueError(f"Input {spec.name!r} expects shape {spec.shape} (None: any "
                                 f"batch size); received {array.shape}.")
            feed[spec.name] = array
        return feed

    def _run(self, feed):
        raise NotImplementedError

    def __repr__(self):
        return f"<{type(self).__name__} {self.path!r} inputs={list(self.input_names)}>"


class NumpyModel(ExportedModel):
    """A NumPy export folder: its `model.py` imported (trusted code) and its weights."""

    def __init__(self, path):
        manifest = files.read_manifest(path)
        module_path = os.path.join(path, manifest.get("module", "model.py"))
        spec = importlib.util.spec_from_file_location(
            f"numnet_exported_model_{next(_MODULE_IDS)}", module_path)
        self.module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(self.module)
        with np.load(os.path.join(path, manifest.get("weights", "weights.npz")),
                     allow_pickle=False) as data:
            self.weights = {name: data[name] for name in data.files}
        super().__init__(path, "numpy", _specs(manifest["inputs"]),
                         _specs(manifest["outputs"]))

    def _run(self, feed):
        return self.module.forward(feed, self.weights)


class OnnxModel(ExportedModel):
    """An `.onnx` file run by ONNX Runtime (CPU)."""

    def __init__(self, path, threads=None):
        try:
            import onnxruntime
        except ImportError:
            raise ImportError("Running an ONNX export needs ONNX Runtime: "
                              "pip install numnet[export]") from None
        options = onnxruntime.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(path, options,
                                                    providers=["CPUExecutionProvider"])
        super().__init__(path, "onnx", [_ort_spec(x) for x in self.session.get_inputs()],
                         [_ort_spec(x) for x in self.session.get_outputs()])

    def _run(self, feed):
        results = self.session.run(list(self.output_names), feed)
        return dict(zip(self.output_names, results))


class SavedModelModel(ExportedModel):
    """A SavedModel folder run by TensorFlow through its `serving_default` signature."""

    def __init__(self, path):
        from numnet.export.saved_model import import_tensorflow
        tf = import_tensorflow("Loading a SavedModel")
        self.loaded = tf.saved_model.load(path)
        self.signature = self.loaded.signatures["serving_default"]
        _, inputs = self.signature.structured_input_signature
        manifest = files.read_manifest(path) or {}
        if "inputs" in manifest:
            input_specs = _specs(manifest["inputs"])
            output_specs = _specs(manifest["outputs"])
        else:
            input_specs = [_tf_spec(k, v) for k, v in sorted(inputs.items())]
            output_specs = [_tf_spec(k, v) for k, v in
                            sorted(self.signature.structured_outputs.items())]
        self._tf = tf
        super().__init__(path, "tf_saved_model", input_specs, output_specs)

    def _run(self, feed):
        results = self.signature(**{k: self._tf.constant(v) for k, v in feed.items()})
        return {name: results[name].numpy() for name in self.output_names}


def _specs(items):
    return [TensorSpec.from_json(item) for item in items]


_ORT_TYPES = {"tensor(float)": "float32", "tensor(double)": "float64",
              "tensor(int64)": "int64", "tensor(int32)": "int32", "tensor(bool)": "bool",
              "tensor(float16)": "float16", "tensor(int8)": "int8", "tensor(uint8)": "uint8",
              "tensor(int16)": "int16"}


def _ort_spec(node):
    shape = [d if isinstance(d, int) else None for d in node.shape]
    return TensorSpec(node.name, _ORT_TYPES.get(node.type, "float32"), shape)


def _tf_spec(name, spec):
    return TensorSpec(name, spec.dtype.as_numpy_dtype, spec.shape.as_list())
