"""Helpers of the export tests: export a model, run the export, compare with `predict`."""

import numpy as np
import pytest

from numnet.export import export_model, load

# The bounds: ONNX Runtime within 1e-5 of numnet's predict, the NumPy module within 1e-6
# (relative to the output's size for large outputs such as exp's).
TOLERANCES = {"onnx": 1e-5, "numpy": 1e-6, "tf_saved_model": 1e-5}
SUFFIX = {"onnx": ".onnx", "numpy": "", "tf_saved_model": ""}


def onnx_available():
    try:
        import onnx
        import onnxruntime
    except ImportError as error:
        return str(error)
    return None if onnx and onnxruntime else "onnx or onnxruntime is missing"


def require_onnx():
    missing = onnx_available()
    if missing:
        pytest.skip(f"onnx/onnxruntime cannot be imported here ({missing}); "
                    "pip install numnet[export]")


def as_feed(exported, x):
    """The dict an `ExportedModel` takes, from what `model.predict` takes."""
    if isinstance(x, dict):
        return x
    if isinstance(x, (list, tuple)):
        return dict(zip(exported.input_names, x))
    return {exported.input_names[0]: x}


def outputs_by_name(exported, prediction):
    """`predict`'s result as {output name: array}, named as exports name outputs."""
    if isinstance(prediction, dict):
        return prediction
    if isinstance(prediction, (list, tuple)):
        return dict(zip(exported.output_names, prediction))
    return {exported.output_names[0]: prediction}


def export_and_compare(model, x, tmp_path, formats=("onnx", "numpy"), name="model",
                       extra_batches=(1, 7), reference="predict", **kwargs):
    """Exports `model` in each format and checks the outputs against `model.predict`.

    Also runs batch sizes the trace never saw (the batch dimension is dynamic).
    `reference="call"` compares with `model(x, training=False)` instead (for
    integer inputs, which `predict` converts to floats). Returns
    {format: ExportedModel}.
    """
    exported = {}
    for format_name in formats:
        if format_name == "onnx":
            require_onnx()
        path = tmp_path / f"{name}-{format_name}{SUFFIX[format_name]}"
        export_model(model, path, format=format_name, verbose=False, **kwargs)
        loaded = load(path)
        for batch in (None,) + tuple(extra_batches):
            rows = x if batch is None else _rows(x, batch)
            expected = outputs_by_name(loaded, _reference(model, rows, reference))
            got = loaded.predict(as_feed(loaded, rows))
            assert sorted(got) == sorted(expected)
            tolerance = TOLERANCES[format_name]
            for key, value in expected.items():
                assert got[key].shape == np.shape(value), (format_name, key)
                np.testing.assert_allclose(got[key], value, rtol=tolerance, atol=tolerance,
                                           err_msg=f"{format_name} output {key}")
        exported[format_name] = loaded
    return exported


def _reference(model, x, how):
    if how == "predict":
        return model.predict(x, verbose=0)
    outputs = model(x, training=False)
    if isinstance(outputs, dict):
        return {k: v.numpy() for k, v in outputs.items()}
    if isinstance(outputs, (list, tuple)):
        return [v.numpy() for v in outputs]
    return outputs.numpy()


def _rows(x, n):
    """`n` rows of the inputs (repeated when there are fewer)."""
    if isinstance(x, dict):
        return {k: _rows(v, n) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_rows(v, n) for v in x]
    return np.resize(x, (n,) + x.shape[1:]).astype(x.dtype)
