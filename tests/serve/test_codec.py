"""Request parsing and response writing, without a server (numnet.serve.codec)."""

import json

import numpy as np
import pytest

from numnet.serve import FunctionModel, TensorSpec, codec
from numnet.serve.codec import ArrayReader, RequestError


def _model(inputs=(("x", (None, 2)),), outputs=(("output_0", (None, 1)),), dtype="float32"):
    return FunctionModel(lambda feed: feed, "m", 1,
                         [TensorSpec(n, dtype, s) for n, s in inputs],
                         [TensorSpec(n, "float32", s) for n, s in outputs])


ONE = _model()
TWO = _model(inputs=(("a", (None, 2)), ("b", (None,))),
             outputs=(("output_0", (None, 1)), ("output_1", (None, 2))))


def _error(function, *args):
    with pytest.raises(RequestError) as info:
        function(*args)
    return info.value


def _tf(document, model=ONE, body=None):
    body = json.dumps(document).encode() if body is None else body
    reader = ArrayReader(strict=b"true" in body or b"false" in body)
    return codec.parse_tf_predict(codec.loads(body), model, reader)


# ------------------------------------------------------------------ JSON
def test_loads_reads_nan_tokens_and_reports_parse_errors():
    assert np.isnan(codec.loads(b'{"instances": [NaN]}')["instances"][0])
    assert codec.loads(b'[-Infinity]') == [-np.inf]
    assert _error(codec.loads, b"").message == "JSON Parse error: The document is empty"
    message = _error(codec.loads, b'{"instances": [1,').message
    assert message.startswith("JSON Parse error: ") and "line 1" in message
    assert "nested too deeply" in _error(codec.loads, b"[" * 100000).message


def test_loads_without_orjson_matches(monkeypatch):
    body = b'{"instances": [[1.5, 2], [3, 4e-3]], "signature_name": "serving_default"}'
    fast = codec.loads(body)
    monkeypatch.setattr(codec, "orjson", None)
    assert codec.loads(body) == fast


@pytest.mark.parametrize("use_orjson", [True, False])
def test_dumps_numpy_and_non_finite(monkeypatch, use_orjson):
    if not use_orjson:
        monkeypatch.setattr(codec, "orjson", None)
    values = np.array([[0.25, -1.5]], np.float32)
    assert json.loads(codec.dumps({"p": values})) == {"p": [[0.25, -1.5]]}
    text = codec.dumps({"p": np.array([np.nan, np.inf, -np.inf], np.float32)}, finite=False)
    assert text == b'{"p":[NaN,Infinity,-Infinity]}'


# ------------------------------------------------------------------ TF Serving: row format
def test_row_format_one_input():
    feed, rows, kind = _tf({"instances": [[1, 2], [3.5, 4]]})
    assert (rows, kind) == (2, "row")
    assert feed["x"].dtype == np.float32
    np.testing.assert_array_equal(feed["x"], [[1, 2], [3.5, 4]])


def test_row_format_named_inputs_one_object_per_instance():
    feed, rows, _ = _tf({"instances": [{"a": [1, 2], "b": 5}, {"a": [3, 4], "b": 6}]}, TWO)
    assert rows == 2
    np.testing.assert_array_equal(feed["a"], [[1, 2], [3, 4]])
    np.testing.assert_array_equal(feed["b"], [5, 6])
    # A single-input model accepts its named form too.
    feed, _, _ = _tf({"instances": [{"x": [1, 2]}]})
    np.testing.assert_array_equal(feed["x"], [[1, 2]])


def test_columnar_format():
    feed, rows, kind = _tf({"inputs": [[1, 2]]})
    assert (rows, kind) == (1, "columnar")
    feed, rows, _ = _tf({"inputs": {"a": [[1, 2], [3, 4], [5, 6]], "b": [1, 2, 3]}}, TWO)
    assert rows == 3 and feed["a"].shape == (3, 2)


@pytest.mark.parametrize("document, fragment", [
    ([1, 2], "must be a JSON object"),
    ({}, "Missing 'inputs' or 'instances' key"),
    ({"instances": [[1, 2]], "inputs": [[1, 2]]}, "only one of 'inputs' or 'instances'"),
    ({"instances": []}, "No values in 'instances' array"),
    ({"instances": {"x": [1, 2]}}, "'instances' to be a list"),
    ({"instances": [[1, 2]], "signature_name": "other"},
     'Serving signature name: "other" not found'),
    ({"instances": [[1, 2]], "signature_name": 3}, "'signature_name' key must be a string"),
    ({"instances": [[1, 2, 3]]}, "Input 'x' (instances) expects shape [-1, 2] (batch dimension "
                                 "first), got [1, 3]"),
    ({"instances": [1, 2]}, "expects shape [-1, 2]"),
    ({"instances": [[1, 2], [3]]}, "is not a rectangular array"),
    ({"instances": [[1, "2"]]}, "expects numbers (DT_FLOAT), got the string '2'"),
    ({"instances": [[1, None]]}, "expects numbers (DT_FLOAT), got null"),
    ({"instances": [[1, True]]}, "got the boolean true/false"),
    ({"instances": [[True, False]]}, "expects numbers (DT_FLOAT), got the boolean true"),
    ({"instances": [[1, {"b64": "AA=="}]]}, "got a JSON object"),
    ({"instances": [[1, 1e300]]}, "the value 1e+300 at index [0, 1] does not fit DT_FLOAT"),
    ({"instances": [[1, 2], {"x": [1, 2]}]}, "use objects for every instance or for none"),
    ({"instances": [{"y": [1, 2]}]}, "keys ['y'] must be equal to the model's inputs ['x']"),
    ({"inputs": {"x": [[1, 2]], "y": [1]}}, "Unknown named input(s) ['y']"),
    ({"inputs": {"z": [[1, 2]]}}, "Unknown named input(s) ['z']"),
    ({"inputs": []}, "expects shape [-1, 2]"),
    ({"inputs": [[1, 2]] * 0 + [[]]}, "expects shape [-1, 2]"),
])
def test_bad_tf_requests(document, fragment):
    assert fragment in _error(_tf, document).message


@pytest.mark.parametrize("document, fragment", [
    ({"instances": [[1, 2]]}, "instances is a plain list, but expecting list of objects as "
                              "multiple input tensors are required: a, b"),
    ({"instances": [{"a": [1, 2]}]}, "keys ['a'] must be equal to the model's inputs ['a', 'b']"),
    ({"instances": [{"a": [1, 2], "b": 1}, [1]]}, "Expecting object but got list at item 1"),
    ({"inputs": [[1, 2]]}, "expecting an object as multiple input tensors are required"),
    ({"inputs": {"a": [[1, 2]]}}, "Missing named input: b in 'inputs' object"),
    ({"inputs": {"a": [[1, 2]], "b": [1, 2]}}, "same number of rows (batch size): 'a' has 1, "
                                               "'b' has 2"),
])
def test_bad_tf_requests_two_inputs(document, fragment):
    assert fragment in _error(_tf, document, TWO).message


def test_nan_is_refused_unless_allowed():
    body = b'{"instances": [[1, NaN]]}'
    message = _error(_tf, None, ONE, body).message
    assert "holds nan at index [0, 1]" in message and "--allow-nan" in message
    assert "holds -inf" in _error(_tf, None, ONE, b'{"instances": [[-Infinity, 1]]}').message
    feed, _, _ = codec.parse_tf_predict(codec.loads(body), ONE, ArrayReader(allow_nan=True))
    assert np.isnan(feed["x"][0, 1])


def test_integer_inputs_refuse_fractions_and_overflow():
    model = _model(dtype="int32")
    feed, _, _ = _tf({"instances": [[1, 2]]}, model)
    assert feed["x"].dtype == np.int32
    assert "expects integers (DT_INT32), got the number 1.5" in \
        _error(_tf, {"instances": [[1, 1.5]]}, model).message
    assert "out of the range of DT_INT32" in _error(_tf, {"instances": [[1, 2**40]]}, model).message
    # orjson reads 2**70 as a float, the standard library as an int too large for NumPy.
    assert "expects integers (DT_INT32), got the number 1" in \
        _error(_tf, {"instances": [[1, 2**70]]}, model).message


def test_integers_too_large_for_numpy_without_orjson(monkeypatch):
    monkeypatch.setattr(codec, "orjson", None)  # the standard parser keeps 2**70 an int
    assert "got the number 1180591620717411303424 (too large)" in \
        _error(_tf, {"instances": [[1, 2**70]]}).message


def test_tf_responses():
    outputs = {"output_0": np.array([[1.5], [2.5]], np.float32),
               "output_1": np.array([[1, 2], [3, 4]], np.float32)}
    row = json.loads(codec.tf_predict_response({"output_0": outputs["output_0"]}, ONE, "row"))
    assert row == {"predictions": [[1.5], [2.5]]}
    column = json.loads(codec.tf_predict_response({"output_0": outputs["output_0"]}, ONE,
                                                  "columnar"))
    assert column == {"outputs": [[1.5], [2.5]]}
    assert json.loads(codec.tf_predict_response(outputs, TWO, "row")) == {"predictions": [
        {"output_0": [1.5], "output_1": [1, 2]}, {"output_0": [2.5], "output_1": [3, 4]}]}
    assert json.loads(codec.tf_predict_response(outputs, TWO, "columnar")) == {"outputs": {
        "output_0": [[1.5], [2.5]], "output_1": [[1, 2], [3, 4]]}}
    nan = codec.tf_predict_response({"output_0": np.array([[np.nan]], np.float32)}, ONE, "row")
    assert nan == b'{"predictions":[[NaN]]}'


def test_tf_status_and_metadata_documents():
    assert codec.tf_model_status([1, 3]) == {"model_version_status": [
        {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK",
                                                          "error_message": ""}},
        {"version": "3", "state": "AVAILABLE", "status": {"error_code": "OK",
                                                          "error_message": ""}}]}
    metadata = codec.tf_model_metadata(TWO)
    assert metadata["model_spec"] == {"name": "m", "signature_name": "", "version": "1"}
    signature = metadata["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert signature["method_name"] == "tensorflow/serving/predict"
    assert signature["inputs"]["a"] == {
        "dtype": "DT_FLOAT", "name": "serving_default_a:0",
        "tensor_shape": {"dim": [{"size": "-1", "name": ""}, {"size": "2", "name": ""}],
                         "unknown_rank": False}}
    assert sorted(signature["outputs"]) == ["output_0", "output_1"]


# ------------------------------------------------------------------ Open Inference Protocol v2
def _v2(document, model=ONE):
    body = json.dumps(document).encode()
    reader = ArrayReader(strict=b"true" in body or b"false" in body)
    return codec.parse_v2_infer(codec.loads(body), model, reader)


def _tensor(name="x", shape=(1, 2), datatype="FP32", data=(1, 2), **extra):
    return {"name": name, "shape": list(shape), "datatype": datatype, "data": list(data), **extra}


def test_v2_infer_flat_and_nested_data():
    feed, rows, outputs, request_id, _ = _v2({"id": "r1", "inputs": [_tensor(
        shape=(2, 2), data=[1, 2, 3, 4])]})
    assert (rows, outputs, request_id) == (2, ["output_0"], "r1")
    np.testing.assert_array_equal(feed["x"], [[1, 2], [3, 4]])
    nested, _, _, _, _ = _v2({"inputs": [_tensor(shape=(2, 2), data=[[1, 2], [3, 4]])]})
    np.testing.assert_array_equal(nested["x"], feed["x"])
    assert nested["x"].dtype == np.float32
    # Another numeric datatype is converted to the model's.
    converted, _, _, _, _ = _v2({"inputs": [_tensor(datatype="INT64")]})
    assert converted["x"].dtype == np.float32


def test_v2_output_selection_and_two_inputs():
    document = {"inputs": [_tensor("b", (2,), data=[1, 2]),
                           _tensor("a", (2, 2), data=[1, 2, 3, 4])],
                "outputs": [{"name": "output_1"}]}
    feed, rows, outputs, _, _ = _v2(document, TWO)
    assert rows == 2 and outputs == ["output_1"] and set(feed) == {"a", "b"}


@pytest.mark.parametrize("document, fragment", [
    ([], "must be a JSON object"),
    ({}, "needs a non-empty 'inputs' list"),
    ({"inputs": [_tensor()], "id": 5}, "'id' must be a string"),
    ({"inputs": [_tensor()], "parameters": []}, "'parameters' of the request must be a JSON "
                                                "object"),
    ({"inputs": [_tensor()], "parameters": {"binary_data_output": True}},
     "Parameter 'binary_data_output' of the request asks for an extension"),
    ({"inputs": [[1, 2]]}, "inputs[0] must be a JSON object"),
    ({"inputs": [{"name": "x", "data": [1, 2]}]}, "inputs[0] lacks ['shape', 'datatype']"),
    ({"inputs": [_tensor(name="y")]}, "Unexpected inference input 'y' for model 'm'; its "
                                      "inputs are ['x']"),
    ({"inputs": [_tensor(), _tensor()]}, "Input 'x' appears twice"),
    ({"inputs": [_tensor(shape=(1, -2))]}, "'shape' must be a list of non-negative integers"),
    ({"inputs": [_tensor(datatype="FP8")]}, "datatype 'FP8' is not supported here"),
    ({"inputs": [_tensor(datatype="BYTES")]}, "datatype 'BYTES' is not supported here"),
    ({"inputs": [_tensor(shape=(1, 3))]}, "'data' holds 2 values but shape [1, 3] needs 3"),
    ({"inputs": [_tensor(shape=(2,), data=[1, 2])]}, "expects shape [-1, 2] (batch dimension "
                                                     "first), got [2]"),
    ({"inputs": [_tensor(data=[1, "a"])]}, "got the string 'a'"),
    ({"inputs": [_tensor(datatype="INT32", data=[1, 2.5])]},
     "Input 'x' (INT32) expects integers (DT_INT32), got the number 2.5"),
    ({"inputs": [_tensor(datatype="BOOL", data=[True, False])]},
     "expects numbers (DT_FLOAT), got the boolean true"),
    ({"inputs": [_tensor(datatype="BOOL", data=[1, 0])]}, "expects booleans (DT_BOOL), got the "
                                                          "number 1"),
    ({"inputs": [_tensor(shape=(0, 2), data=[])]}, "hold no rows"),
    ({"inputs": [_tensor()], "outputs": [{"name": "nope"}]},
     "Unexpected inference output 'nope' for model 'm'; its outputs are ['output_0']"),
    ({"inputs": [_tensor()], "outputs": []}, "'outputs' must be a non-empty list"),
    ({"inputs": [_tensor()], "outputs": [{"name": "output_0",
                                          "parameters": {"binary_data": True}}]},
     "Parameter 'binary_data' of output 'output_0'"),
])
def test_bad_v2_requests(document, fragment):
    assert fragment in _error(_v2, document).message


def test_v2_missing_input():
    message = _error(_v2, {"inputs": [_tensor("a", (1, 2))]}, TWO).message
    assert "expects 2 input(s) ['a', 'b']; missing ['b']" in message


def test_v2_response_and_metadata():
    outputs = {"output_0": np.array([[1.5], [2.5]], np.float32),
               "output_1": np.array([[1, 2], [3, 4]], np.float32)}
    document = json.loads(codec.v2_infer_response(outputs, TWO, ["output_1"], "r7"))
    assert document == {"model_name": "m", "model_version": "1", "id": "r7", "outputs": [
        {"name": "output_1", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]}]}
    assert "id" not in json.loads(codec.v2_infer_response(outputs, TWO, ["output_0"], None))
    assert codec.v2_model_metadata(TWO, [1, 2]) == {
        "name": "m", "versions": ["1", "2"], "platform": "numnet_python",
        "inputs": [{"name": "a", "datatype": "FP32", "shape": [-1, 2]},
                   {"name": "b", "datatype": "FP32", "shape": [-1]}],
        "outputs": [{"name": "output_0", "datatype": "FP32", "shape": [-1, 1]},
                    {"name": "output_1", "datatype": "FP32", "shape": [-1, 2]}]}


def test_datatype_names():
    assert codec.v2_datatype(np.float32) == "FP32" and codec.tf_datatype(np.float32) == "DT_FLOAT"
    assert codec.v2_datatype(np.int64) == "INT64" and codec.tf_datatype(np.float64) == "DT_DOUBLE"
    assert codec.v2_datatype(np.bool_) == "BOOL" and codec.tf_datatype(np.float16) == "DT_HALF"
