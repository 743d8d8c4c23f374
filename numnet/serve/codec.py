"""JSON bodies to named NumPy arrays and back, for TensorFlow Serving REST and OIP v2.

Everything here is plain Python and NumPy (no web framework), so it is
tested on its own. Every problem with a request raises `RequestError` with
the HTTP status to answer and a message that names the input, what was
expected and what came.

JSON is read with orjson when it is installed (a fast path) and with the
standard library otherwise, or when the body holds `NaN`/`Infinity` tokens,
which TensorFlow Serving accepts and orjson does not.
"""

import json
import math

import numpy as np

try:
    import orjson
except ImportError:  # optional: the standard library is slower, not different
    orjson = None

# Open Inference Protocol datatypes and TensorFlow DataType names, by NumPy dtype.
V2_DATATYPES = {
    "BOOL": np.dtype(bool), "UINT8": np.dtype(np.uint8), "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32), "UINT64": np.dtype(np.uint64), "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16), "INT32": np.dtype(np.int32), "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16), "FP32": np.dtype(np.float32), "FP64": np.dtype(np.float64),
}
_V2_NAMES = {dtype: name for name, dtype in V2_DATATYPES.items()}
_TF_NAMES = {
    np.dtype(bool): "DT_BOOL", np.dtype(np.uint8): "DT_UINT8", np.dtype(np.uint16): "DT_UINT16",
    np.dtype(np.uint32): "DT_UINT32", np.dtype(np.uint64): "DT_UINT64",
    np.dtype(np.int8): "DT_INT8", np.dtype(np.int16): "DT_INT16", np.dtype(np.int32): "DT_INT32",
    np.dtype(np.int64): "DT_INT64", np.dtype(np.float16): "DT_HALF",
    np.dtype(np.float32): "DT_FLOAT", np.dtype(np.float64): "DT_DOUBLE",
}
_SIGNATURES = ("", "serving_default", "serve")


class RequestError(Exception):
    """A request the server cannot answer; `status` is the HTTP status code (4xx)."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.message = message
        self.status = status


def v2_datatype(dtype):
    """The Open Inference Protocol name of a NumPy dtype ("FP32", ...)."""
    return _V2_NAMES.get(np.dtype(dtype), "BYTES")


def tf_datatype(dtype):
    """The TensorFlow DataType name of a NumPy dtype ("DT_FLOAT", ...)."""
    return _TF_NAMES.get(np.dtype(dtype), "DT_STRING")


# ------------------------------------------------------------------ JSON
def loads(body):
    """Parses a request body (bytes); raises RequestError 400 with the parser's message."""
    if not body:
        raise RequestError("JSON Parse error: The document is empty")
    if orjson is not None:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass  # NaN/Infinity tokens or a real error: the standard parser tells which
    try:
        return json.loads(body)
    except RecursionError:
        raise RequestError("JSON Parse error: the document is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise RequestError(f"JSON Parse error: {error}") from None


def dumps(document, finite=True):
    """Serializes a response (NumPy arrays allowed) to bytes.

    With `finite=False` (some output holds NaN or infinity) the standard
    library writes them as `NaN`/`Infinity`/`-Infinity`, as TensorFlow
    Serving does; orjson would write `null`.
    """
    if finite and orjson is not None:
        return orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)
    return json.dumps(document, default=_jsonable, separators=(",", ":")).encode()


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def all_finite(arrays):
    """Whether every floating array in `arrays` holds only finite numbers."""
    return all(a.dtype.kind != "f" or bool(np.isfinite(a).all()) for a in arrays)


# ------------------------------------------------------------------ arrays
class ArrayReader:
    """Turns parsed JSON values into checked arrays for one model's inputs.

    Args:
        allow_nan: pass NaN and infinities to the model (default: reject them).
        strict: scan the values for JSON booleans, which NumPy would silently
            read as 0/1 among numbers. The caller sets it only when the body
            contains `true` or `false`, so the usual request is not scanned.
    """

    def __init__(self, allow_nan=False, strict=True):
        self.allow_nan = allow_nan
        self.strict = strict

    def read(self, value, spec, what, batch_first=True):
        """Returns `value` as an array of `spec.dtype` and `spec.shape`.

        Args:
            value: nested lists of JSON scalars.
            spec: the input's `TensorSpec`.
            what: how the message names the value, e.g. "Input 'x' (instances)".
            batch_first: whether `value` includes the batch dimension.
        """
        array = self.to_array(value, what)
        shape = array.shape if batch_first else (None,) + array.shape
        if len(shape) != len(spec.shape) or any(
                want is not None and got != want for got, want in zip(shape, spec.shape)):
            raise RequestError(f"{what} expects shape {_shape_text(spec.shape)} (batch "
                               f"dimension first), got {list(array.shape)}.")
        return self.cast(array, spec.dtype, what, value)

    def cast(self, array, target, what, value):
        """`array` as dtype `target`, refusing lossy casts and (unless allowed) NaN/infinity.

        `value` is the JSON the array came from, searched for the culprit to
        name in a message.
        """
        kind = array.dtype.kind
        if target.kind == "b":
            if kind != "b":
                raise RequestError(f"{what} expects booleans ({tf_datatype(target)}), got "
                                   f"{_describe(_first_non_bool(value))}.")
            return array
        if kind not in "iuf" or (target.kind in "iu" and kind == "f"):
            wanted = "integers" if target.kind in "iu" else "numbers"
            raise RequestError(f"{what} expects {wanted} ({tf_datatype(target)}), got "
                               f"{_describe(_first_bad(value, target.kind))}.")
        if self.strict and _first_bool(value) is not None:
            raise RequestError(f"{what} expects numbers ({tf_datatype(target)}), got the "
                               "boolean true/false.")
        if array.dtype == target:
            converted = array
        else:
            with np.errstate(over="ignore", invalid="ignore"):
                converted = array.astype(target)
        if target.kind == "f":
            self._check_finite(array, converted, target, what)
        elif kind in "iu" and not np.array_equal(converted, array):
            raise RequestError(f"{what} holds integers out of the range of "
                               f"{tf_datatype(target)}.")
        return converted

    def to_array(self, value, what):
        """`value` (nested JSON lists) as a NumPy array of whatever dtype NumPy infers."""
        if isinstance(value, dict):
            raise RequestError(f"{what} expects a list of numbers, got a JSON object "
                               f"with keys {sorted(value)[:5]}.")
        try:
            return np.array(value)
        except (ValueError, TypeError, OverflowError) as error:
            raise RequestError(f"{what} is not a rectangular array: {error}") from None

    def _check_finite(self, array, converted, target, what):
        finite = np.isfinite(converted)
        if finite.all():
            return
        bad = tuple(int(i) for i in np.argwhere(~finite)[0])
        original = array[bad] if array.ndim else array
        if math.isfinite(float(original)):
            raise RequestError(f"{what}: the value {float(original)!r} at index {list(bad)} "
                               f"does not fit {tf_datatype(target)}.")
        if not self.allow_nan:
            raise RequestError(f"{what} holds {float(original)!r} at index {list(bad)}; this "
                               "server refuses NaN and infinite inputs (start it with "
                               "--allow-nan to pass them to the model).")


def _shape_text(shape):
    return "[" + ", ".join("-1" if d is None else str(d) for d in shape) + "]"


def _walk(value):
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        else:
            yield item


def _first_bool(value):
    return next((item for item in _walk(value) if isinstance(item, bool)), None)


def _first_non_bool(value):
    return next((item for item in _walk(value) if not isinstance(item, bool)), None)


def _first_bad(value, target_kind):
    for item in _walk(value):
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            return item
        if isinstance(item, int) and abs(item) >= 2 ** 64:
            return item
        if target_kind in "iu" and isinstance(item, float):
            return item
    return None


def _describe(item):
    if item is None:
        return "null"
    if isinstance(item, bool):
        return "the boolean " + ("true" if item else "false")
    if isinstance(item, str):
        text = item if len(item) <= 40 else item[:37] + "..."
        return f"the string {text!r}"
    if isinstance(item, dict):
        return "a JSON object"
    if isinstance(item, float):
        return f"the number {item!r}"
    if isinstance(item, int):
        return f"the number {item} (too large)" if abs(item) >= 2 ** 64 else f"the number {item}"
    return repr(item)


def check_batch(arrays, what="inputs"):
    """The common number of rows of `arrays` ({name: array}); raises RequestError if none."""
    rows = {name: (a.shape[0] if a.ndim else 0) for name, a in arrays.items()}
    counts = set(rows.values())
    if len(counts) != 1:
        detail = ", ".join(f"'{name}' has {n}" for name, n in rows.items())
        raise RequestError(f"All {what} must have the same number of rows (batch size): "
                           f"{detail}.")
    n = counts.pop()
    if n == 0:
        raise RequestError(f"The {what} hold no rows: send at least one.")
    return n


# ------------------------------------------------------------------ TF Serving REST
def parse_tf_predict(document, model, reader):
    """A TF Serving `:predict` body -> ({input name: array}, rows, "row" or "columnar")."""
    if not isinstance(document, dict):
        raise RequestError("The request body must be a JSON object with an 'instances' or an "
                           f"'inputs' key, got {type(document).__name__}.")
    signature = document.get("signature_name", "")
    if not isinstance(signature, str):
        raise RequestError("'signature_name' key must be a string value.")
    if signature not in _SIGNATURES:
        raise RequestError(f'Serving signature name: "{signature}" not found in signature def '
                           "(this server has 'serving_default').")
    has_instances, has_inputs = "instances" in document, "inputs" in document
    if has_instances and has_inputs:
        raise RequestError("Not formatted correctly expecting only one of 'inputs' or "
                           "'instances' keys to exist.")
    if has_instances:
        feed = _tf_rows(document["instances"], model, reader)
        return feed, check_batch(feed), "row"
    if has_inputs:
        feed = _tf_columns(document["inputs"], model, reader)
        return feed, check_batch(feed), "columnar"
    raise RequestError("Missing 'inputs' or 'instances' key.")


def _is_named(value):
    return isinstance(value, dict) and not (len(value) == 1 and "b64" in value)


def _tf_rows(instances, model, reader):
    if not isinstance(instances, list):
        raise RequestError("Expecting 'instances' to be a list/array.")
    if not instances:
        raise RequestError("No values in 'instances' array.")
    specs = model.inputs
    if not _is_named(instances[0]):
        if len(specs) > 1:
            raise RequestError(
                "instances is a plain list, but expecting list of objects as multiple input "
                f"tensors are required: {', '.join(model.input_names)}.")
        if any(_is_named(item) for item in instances):
            raise RequestError("Expecting value/list but got object in 'instances': use "
                               "objects for every instance or for none.")
        spec = specs[0]
        return {spec.name: reader.read(instances, spec, f"Input '{spec.name}' (instances)")}
    names = set(model.input_names)
    for i, item in enumerate(instances):
        if not _is_named(item):
            raise RequestError(f"Expecting object but got list at item {i} of 'instances'.")
        if set(item) != names:
            raise RequestError(
                f"Failed to process element: {i} of 'instances' list: its keys "
                f"{sorted(item)} must be equal to the model's inputs {sorted(names)}.")
    return {spec.name: reader.read([item[spec.name] for item in instances], spec,
                                   f"Input '{spec.name}' (instances)")
            for spec in specs}


def _tf_columns(inputs, model, reader):
    specs = model.inputs
    if not _is_named(inputs):
        if len(specs) > 1:
            raise RequestError(
                "inputs is a plain value/list, but expecting an object as multiple input "
                f"tensors are required: {', '.join(model.input_names)}.")
        spec = specs[0]
        return {spec.name: reader.read(inputs, spec, f"Input '{spec.name}' (inputs)")}
    unknown = sorted(set(inputs) - set(model.input_names))
    if unknown:
        raise RequestError(f"Unknown named input(s) {unknown} in 'inputs' object; the model's "
                           f"inputs are {list(model.input_names)}.")
    for spec in specs:
        if spec.name not in inputs:
            raise RequestError(f"Missing named input: {spec.name} in 'inputs' object.")
    return {spec.name: reader.read(inputs[spec.name], spec, f"Input '{spec.name}' (inputs)")
            for spec in specs}


def tf_predict_response(outputs, model, request_format):
    """The `{"predictions": ...}` or `{"outputs": ...}` body (bytes) for one request."""
    names = model.output_names
    arrays = [np.ascontiguousarray(outputs[name]) for name in names]
    if request_format == "row":
        if len(names) == 1:
            document = {"predictions": arrays[0]}
        else:
            document = {"predictions": [{name: a[i] for name, a in zip(names, arrays)}
                                        for i in range(len(arrays[0]))]}
    else:
        document = {"outputs": arrays[0] if len(names) == 1 else dict(zip(names, arrays))}
    return dumps(document, finite=all_finite(arrays))


def tf_model_status(versions):
    """GetModelStatusResponse as TensorFlow Serving writes it (versions as strings)."""
    return {"model_version_status": [
        {"version": str(v), "state": "AVAILABLE",
         "status": {"error_code": "OK", "error_message": ""}} for v in versions]}


def tf_model_metadata(model):
    """GetModelMetadataResponse as TensorFlow Serving writes it for a Keras export."""
    def tensor_info(spec, tensor_name):
        return {"dtype": tf_datatype(spec.dtype),
                "tensor_shape": {"dim": [{"size": str(-1 if d is None else d), "name": ""}
                                         for d in spec.shape], "unknown_rank": False},
                "name": tensor_name}

    signature = {
        "inputs": {spec.name: tensor_info(spec, f"serving_default_{spec.name}:0")
                   for spec in model.inputs},
        "outputs": {spec.name: tensor_info(spec, f"StatefulPartitionedCall:{i}")
                    for i, spec in enumerate(model.outputs)},
        "method_name": "tensorflow/serving/predict",
    }
    return {"model_spec": {"name": model.name, "signature_name": "",
                           "version": str(model.version)},
            "metadata": {"signature_def": {"signature_def": {"serving_default": signature}}}}


# ------------------------------------------------------------------ Open Inference Protocol v2
def parse_v2_infer(document, model, reader):
    """An OIP v2 `/infer` body -> ({input name: array}, rows, output names, id, parameters)."""
    if not isinstance(document, dict):
        raise RequestError("The inference request must be a JSON object with an 'inputs' list.")
    request_id = document.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise RequestError("'id' must be a string.")
    parameters = _v2_parameters(document.get("parameters"), "the request")
    tensors = document.get("inputs")
    if not isinstance(tensors, list) or not tensors:
        raise RequestError("The inference request needs a non-empty 'inputs' list of tensors "
                           "{'name', 'shape', 'datatype', 'data'}.")
    feed = {}
    for i, tensor in enumerate(tensors):
        name, array = _v2_tensor(tensor, i, model, reader)
        if name in feed:
            raise RequestError(f"Input '{name}' appears twice in 'inputs'.")
        feed[name] = array
    missing = [name for name in model.input_names if name not in feed]
    if missing:
        raise RequestError(f"Model '{model.name}' expects {len(model.inputs)} input(s) "
                           f"{list(model.input_names)}; missing {missing}.")
    rows = check_batch(feed)
    return feed, rows, _v2_outputs(document.get("outputs"), model), request_id, parameters


def _v2_parameters(parameters, where):
    if parameters is None:
        return None
    if not isinstance(parameters, dict):
        raise RequestError(f"'parameters' of {where} must be a JSON object.")
    for key in ("binary_data_output", "binary_data", "binary_data_size", "classification"):
        if parameters.get(key):
            raise RequestError(f"Parameter '{key}' of {where} asks for an extension this server "
                               "does not implement; send and receive tensors as JSON data.")
    return parameters


def _v2_tensor(tensor, index, model, reader):
    if not isinstance(tensor, dict):
        raise RequestError(f"inputs[{index}] must be a JSON object with 'name', 'shape', "
                           "'datatype' and 'data'.")
    absent = [key for key in ("name", "shape", "datatype", "data") if key not in tensor]
    if absent:
        raise RequestError(f"inputs[{index}] lacks {absent}: each input tensor needs 'name', "
                           "'shape', 'datatype' and 'data'.")
    name, shape, datatype = tensor["name"], tensor["shape"], tensor["datatype"]
    if not isinstance(name, str) or name not in model.input_names:
        raise RequestError(f"Unexpected inference input {name!r} for model '{model.name}'; its "
                           f"inputs are {list(model.input_names)}.")
    spec = model.inputs[model.input_names.index(name)]
    what = f"Input '{name}'"
    if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise RequestError(f"{what}: 'shape' must be a list of non-negative integers, "
                           f"got {shape!r}.")
    declared = V2_DATATYPES.get(datatype)
    if declared is None:
        raise RequestError(f"{what}: datatype {datatype!r} is not supported here; use one of "
                           f"{', '.join(V2_DATATYPES)} (the model expects "
                           f"{v2_datatype(spec.dtype)}).")
    _v2_parameters(tensor.get("parameters"), f"input '{name}'")
    values = reader.to_array(tensor["data"], what)
    if values.size != math.prod(shape):
        raise RequestError(f"{what}: 'data' holds {values.size} values but shape {shape} needs "
                           f"{math.prod(shape)}.")
    values = values.reshape(shape)
    if len(shape) != len(spec.shape) or any(
            want is not None and got != want for got, want in zip(shape, spec.shape)):
        raise RequestError(f"{what} expects shape {_shape_text(spec.shape)} (batch dimension "
                           f"first), got {shape}.")
    data = tensor["data"]
    # The data must fit the declared datatype, then the model's dtype.
    values = reader.cast(values, declared, f"{what} ({datatype})", data)
    return name, reader.cast(values, spec.dtype, what, data)


def _v2_outputs(requested, model):
    if requested is None:
        return list(model.output_names)
    if not isinstance(requested, list) or not requested:
        raise RequestError("'outputs' must be a non-empty list of {'name': ...} objects.")
    names = []
    for i, item in enumerate(requested):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise RequestError(f"outputs[{i}] must be a JSON object with a 'name' string.")
        if item["name"] not in model.output_names:
            raise RequestError(f"Unexpected inference output {item['name']!r} for model "
                               f"'{model.name}'; its outputs are {list(model.output_names)}.")
        _v2_parameters(item.get("parameters"), f"output '{item['name']}'")
        names.append(item["name"])
    return names


def v2_infer_response(outputs, model, names, request_id, parameters=None):
    """The OIP v2 inference response body (bytes): flat row-major `data` per output."""
    arrays = [np.ascontiguousarray(outputs[name]) for name in names]
    document = {"model_name": model.name, "model_version": str(model.version)}
    if request_id is not None:
        document["id"] = request_id
    document["outputs"] = [{"name": name, "shape": list(a.shape),
                            "datatype": v2_datatype(a.dtype), "data": a.reshape(-1)}
                           for name, a in zip(names, arrays)]
    return dumps(document, finite=all_finite(arrays))


def v2_model_metadata(model, versions):
    """OIP v2 model metadata."""
    def tensors(specs):
        return [{"name": s.name, "datatype": v2_datatype(s.dtype), "shape": s.describe_shape()}
                for s in specs]
    return {"name": model.name, "versions": [str(v) for v in versions],
            "platform": model.platform, "inputs": tensors(model.inputs),
            "outputs": tensors(model.outputs)}
