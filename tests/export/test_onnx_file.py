"""The ONNX file itself: checker, opset and IR version, symbolic batch, names, opset choice."""

import numpy as np
import pytest

import numnet as keras
from export_cases import OP_CASES
from export_helpers import export_and_compare, require_onnx

L = keras.layers


@pytest.fixture(autouse=True)
def _onnx():
    require_onnx()


def _load(path):
    import onnx
    return onnx.load(path)


def test_default_opset_ir_and_checker(tmp_path):
    import onnx
    model = keras.Sequential([L.Input(shape=(2, 3)), L.Flatten(), L.Dense(4, activation="gelu"),
                              L.Dense(2, activation="softmax")])
    model.export(tmp_path / "m.onnx", format="onnx", verbose=False)
    proto = _load(tmp_path / "m.onnx")
    onnx.checker.check_model(proto, full_check=True)
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", 17)]
    assert proto.ir_version == 8 and proto.producer_name == "numnet"
    ops = {node.op_type for node in proto.graph.node}
    assert "Erf" in ops and "Gelu" not in ops  # exact GELU spelled with opset 17's ops


def test_symbolic_batch_and_names(tmp_path):
    a = keras.Input(shape=(3,), name="features")
    model = keras.Model(a, {"y": L.Dense(1, name="head")(a)})
    model.export(tmp_path / "m.onnx", format="onnx", verbose=False)
    graph = _load(tmp_path / "m.onnx").graph

    def dims(value):
        return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]
    assert [(v.name, dims(v)) for v in graph.input] == [("features", ["batch", 3])]
    assert [(v.name, dims(v)) for v in graph.output] == [("y", ["batch", 1])]
    assert sorted(i.name for i in graph.initializer) == ["head/bias", "head/kernel"]
    assert all(i.data_type == 1 for i in graph.initializer)  # float32 weights


def test_flatten_reads_the_batch_size_from_the_input(tmp_path):
    model = keras.Sequential([L.Input(shape=(2, 3)), L.Flatten(), L.Dense(2)])
    model.export(tmp_path / "m.onnx", format="onnx", verbose=False)
    graph = _load(tmp_path / "m.onnx").graph
    assert [n.op_type for n in graph.node][:3] == ["Shape", "Concat", "Reshape"]
    import onnxruntime
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"),
                                           providers=["CPUExecutionProvider"])
    for rows in (1, 4, 1000):
        x = np.random.default_rng(rows).random((rows, 2, 3)).astype("float32")
        np.testing.assert_allclose(session.run(None, {session.get_inputs()[0].name: x})[0],
                                   model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("opset", [18, 21])
@pytest.mark.parametrize("case", ["reductions", "reduce_3d_axes", "slices", "softmax_axis"])
def test_newer_opsets(case, opset, tmp_path):
    model, x = OP_CASES[case]()
    exported = export_and_compare(model, x, tmp_path, formats=("onnx",), opset_version=opset)
    proto = _load(exported["onnx"].path)
    assert proto.opset_import[0].version == opset
