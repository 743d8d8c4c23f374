"""`export_model`: what `Model.export` does."""

import os

from numnet.export import files
from numnet.export.errors import ExportError
from numnet.export.tracing import trace

FORMATS = ("tf_saved_model", "onnx", "numpy")
_KERAS_ONLY = ("openvino", "litert", "torch")


def export_model(model, filepath, format="tf_saved_model", verbose=None, input_signature=None,
                 **kwargs):
    """Exports `model`'s forward pass (inference) to `filepath` in `format`.

    Args:
        model: a built numnet model (Sequential, Functional or subclassed).
        filepath: the `.onnx` file, or the folder of a SavedModel or NumPy export.
        format: `"tf_saved_model"` (Keras' default), `"onnx"` or `"numpy"`.
        verbose: print what was saved (None means True, as in Keras).
        input_signature: the inputs' specs (see `numnet.export.signature`);
            by default the model's own inputs.
        **kwargs: `opset_version` for `"onnx"` (17 by default).

    Returns:
        The `InferenceGraph` that was written.
    """
    filepath = os.fspath(filepath)
    writer = _writer(format, kwargs)
    files.check_target(filepath, writer.kind, writer.replaceable, writer.title)
    graph = trace(model, input_signature)
    writer.write(graph, filepath)
    if verbose is None or verbose:
        print(_describe(graph, filepath, writer))
    return graph


def _writer(format, kwargs):
    if format == "onnx":
        from numnet.export.onnx_format import OnnxWriter
        return OnnxWriter(**_options(format, kwargs, ("opset_version",)))
    if format == "tf_saved_model":
        from numnet.export.saved_model import SavedModelWriter
        return SavedModelWriter(**_options(format, kwargs, ()))
    if format == "numpy":
        return NumpyWriter(**_options(format, kwargs, ()))
    if format in _KERAS_ONLY:
        raise ValueError(f"format={format!r} is a Keras format numnet does not write; numnet "
                         f"exports to {', '.join(map(repr, FORMATS))}.")
    raise ValueError(f"Unrecognized format={format!r}. Supported formats are: "
                     f"{', '.join(map(repr, FORMATS))}.")


def _options(format, kwargs, allowed):
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ValueError(f"export(format={format!r}) got unexpected keyword arguments "
                         f"{unknown}; it accepts {list(allowed) or 'none'}.")
    return kwargs


def manifest(graph, format_name, **extra):
    """The `numnet_export.json` of a folder export: format, specs and structures."""
    from numnet import __version__
    return {"format": format_name, "producer": "numnet", "numnet_version": __version__,
            "model": graph.name, "inputs": [s.to_json() for s in graph.inputs],
            "outputs": [s.to_json() for s in graph.outputs],
            "input_structure": graph.input_structure,
            "output_structure": graph.output_structure, **extra}


class NumpyWriter:
    """Writes the "numpy" format (see `numnet.export.numpy_format`)."""

    kind, title = "folder", "NumPy"

    def __init__(self):
        self.replaceable = files.is_export_folder("numpy")
        self.details = ""

    def write(self, graph, filepath):
        from numnet.export import numpy_format

        def fill(folder):
            info = manifest(graph, "numpy")
            numpy_format.write(graph, folder, info)
            files.write_manifest(folder, info)
        files.write_folder(filepath, fill)


def _describe(graph, filepath, writer):
    def lines(specs):
        return "\n".join(f"  {s.name}: {s.dtype.name} {tuple(s.shape)}" for s in specs)
    return (f"Saved artifact at '{filepath}' ({writer.title} export{writer.details}).\n"
            f"Inputs:\n{lines(graph.inputs)}\nOutputs:\n{lines(graph.outputs)}")


__all__ = ["ExportError", "FORMATS", "export_model", "manifest"]
