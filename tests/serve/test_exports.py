"""`numnet serve` on the exports of `model.export`: an `.onnx` file (ONNX Runtime) served
through both protocols, a version folder holding one, and a NumPy export refused."""

import httpx
import numpy as np
import pytest

from numnet.serve import create_app, load_repository

pytest.importorskip("onnxruntime", reason="onnxruntime (numnet[export] / the test extra) is not "
                                          "installed; ONNX exports cannot be served without it")

JSON = "application/json"


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """{"model": the numnet model, "onnx": its .onnx file, "versions": NAME/1/model.onnx,
    "numpy": its NumPy export folder}."""
    import numnet as keras
    keras.utils.set_random_seed(5)
    inputs = keras.layers.Input(shape=[4], name="features")
    normalized = keras.layers.Normalization(mean=[0.5, -1.0, 2.0, 0.0],
                                            variance=[1.0, 4.0, 0.25, 9.0])(inputs)
    hidden = keras.layers.Dense(6, activation="relu")(normalized)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(hidden))
    root = tmp_path_factory.mktemp("serve-exports")
    paths = {"model": model, "onnx": root / "clf.onnx", "versions": root / "ranker",
             "numpy": root / "clf_numpy"}
    model.export(paths["onnx"], format="onnx", verbose=False)
    (paths["versions"] / "1").mkdir(parents=True)
    model.export(paths["versions"] / "1" / "model.onnx", format="onnx", verbose=False)
    model.export(paths["numpy"], format="numpy", verbose=False)
    return paths


def test_an_onnx_file_loads_with_the_exports_signature(exports):
    served = load_repository(exports["onnx"]).get("clf")
    assert served.platform == "onnxruntime_onnx" and served.version == 1
    assert [(s.name, s.dtype, s.shape) for s in served.inputs] == \
        [("features", np.dtype("float32"), (None, 4))]
    assert [s.shape for s in served.outputs] == [(None, 3)]
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    out = served.predict({"features": x})[served.output_names[0]]
    np.testing.assert_allclose(out, exports["model"].predict(x, verbose=0), rtol=0, atol=1e-6)


def test_both_protocols_answer_from_an_onnx_export(exports, serve_app):
    repository = load_repository(exports["onnx"])
    model = exports["model"]
    x = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    expected = model.predict(x, verbose=0)
    with serve_app(create_app(repository)) as url, httpx.Client(base_url=url, timeout=30) as client:
        rest = client.post("/v1/models/clf:predict", json={"instances": x.tolist()})
        assert rest.status_code == 200, rest.text
        np.testing.assert_allclose(rest.json()["predictions"], expected, rtol=0, atol=1e-6)
        body = {"inputs": [{"name": "features", "shape": [3, 4], "datatype": "FP32",
                            "data": x.ravel().tolist()}]}
        v2 = client.post("/v2/models/clf/infer", json=body)
        assert v2.status_code == 200, v2.text
        output = v2.json()["outputs"][0]
        assert output["shape"] == [3, 3] and output["datatype"] == "FP32"
        np.testing.assert_allclose(np.reshape(output["data"], (3, 3)), expected,
                                   rtol=0, atol=1e-6)
        meta = client.get("/v2/models/clf").json()
        assert meta["platform"] == "onnxruntime_onnx"
        bad = client.post("/v1/models/clf:predict", json={"instances": [[1.0, 2.0]]})
        assert bad.status_code == 400 and "features" in bad.json()["error"]


def test_a_version_folder_may_hold_an_onnx_export(exports):
    repository = load_repository(exports["versions"])
    assert repository.names() == ["ranker"] and repository.versions("ranker") == [1]
    assert repository.get("ranker").platform == "onnxruntime_onnx"


def test_a_numpy_export_is_refused_because_it_is_code(exports):
    with pytest.raises(ValueError, match="NumPy export: its model.py is Python code"):
        load_repository(exports["numpy"])
