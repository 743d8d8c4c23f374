"""Both protocols end to end, against a uvicorn server on 127.0.0.1 (in a thread)."""

import asyncio
import json
import threading
import time

import httpx
import numpy as np
import pytest

from numnet.serve import FunctionModel, ModelRepository, TensorSpec, create_app, load_repository

JSON = "application/json"


@pytest.fixture(scope="module")
def server(model_files, serve_app):
    """One server for the module: models mlp, multi and clf (versions 1 and 2)."""
    models = []
    for key in ("mlp", "multi", "versions"):
        models.extend(load_repository(model_files[key]))
    app = create_app(ModelRepository(models), max_body_bytes=64 * 1024)
    with serve_app(app) as url:
        with httpx.Client(base_url=url, timeout=30) as client:
            client.app = app
            yield client


def _rows(rng, n, width=4):
    return rng.standard_normal((n, width)).astype(np.float32)


def _error(response, status, fragment):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == JSON
    body = response.json()
    assert list(body) == ["error"], body
    assert fragment in body["error"], body["error"]
    return body["error"]


def _still_up(server):
    assert server.get("/v2/health/live").status_code == 200


# ------------------------------------------------------------------ TensorFlow Serving REST
def test_tf_model_status(server):
    available = {"state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
    response = server.get("/v1/models/mlp")
    assert response.status_code == 200 and response.headers["content-type"] == JSON
    assert response.json() == {"model_version_status": [{"version": "1", **available}]}
    assert server.get("/v1/models/clf").json() == {"model_version_status": [
        {"version": "1", **available}, {"version": "2", **available}]}
    assert server.get("/v1/models/clf/versions/1").json() == {
        "model_version_status": [{"version": "1", **available}]}
    _error(server.get("/v1/models/clf/versions/9"), 404, "Could not find version 9 of model clf")
    _error(server.get("/v1/models/nope"), 404, "Could not find any versions of model nope")
    _error(server.get("/v1/models"), 400, "Missing model name in request")


def test_tf_model_metadata(server):
    document = server.get("/v1/models/clf/metadata").json()
    assert document["model_spec"] == {"name": "clf", "signature_name": "", "version": "2"}
    signature = document["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert signature["inputs"]["features"]["dtype"] == "DT_FLOAT"
    assert signature["inputs"]["features"]["tensor_shape"] == {
        "dim": [{"size": "-1", "name": ""}, {"size": "4", "name": ""}], "unknown_rank": False}
    assert list(signature["outputs"]) == ["output_0"]
    assert server.get("/v1/models/clf/versions/1/metadata").json()["model_spec"]["version"] == "1"
    _error(server.get("/v1/models/clf/versions/5/metadata"), 404,
           "Servable not found for request: Specific(clf, 5)")
    _error(server.get("/v1/models/nope/metadata"), 404, "Servable not found for request: "
                                                        "Latest(nope)")


def test_tf_predict_row_and_columnar(server, reference_models, rng):
    x = _rows(rng, 3)
    expected = reference_models["mlp"].predict(x, verbose=0)
    response = server.post("/v1/models/mlp:predict", json={"instances": x.tolist()})
    assert response.status_code == 200 and response.headers["content-type"] == JSON
    assert list(response.json()) == ["predictions"]
    np.testing.assert_array_equal(np.float32(response.json()["predictions"]), expected)
    named = server.post("/v1/models/mlp:predict",
                        json={"instances": [{"features": row} for row in x.tolist()]})
    np.testing.assert_array_equal(np.float32(named.json()["predictions"]), expected)
    columnar = server.post("/v1/models/mlp:predict",
                           json={"signature_name": "serving_default", "inputs": x.tolist()})
    assert list(columnar.json()) == ["outputs"]
    np.testing.assert_array_equal(np.float32(columnar.json()["outputs"]), expected)


def test_tf_predict_versions(server, reference_models, rng):
    x = _rows(rng, 2)
    for path, key in (("/v1/models/clf:predict", "clf/2"),
                      ("/v1/models/clf/versions/1:predict", "clf/1"),
                      ("/v1/models/clf/versions/2:predict", "clf/2")):
        response = server.post(path, json={"instances": x.tolist()})
        np.testing.assert_array_equal(np.float32(response.json()["predictions"]),
                                      reference_models[key].predict(x, verbose=0))
    _error(server.post("/v1/models/clf/versions/3:predict", json={"instances": x.tolist()}),
           404, "Servable not found for request: Specific(clf, 3). Model 'clf' has no version 3")
    _error(server.post("/v1/models/clf/labels/stable:predict", json={"instances": x.tolist()}),
           400, "Unrecognized servable version label: stable")


def test_tf_predict_several_inputs_and_outputs(server, reference_models, rng):
    wide, deep = _rows(rng, 2, 2), _rows(rng, 2, 3)
    main, aux = reference_models["multi"].predict([wide, deep], verbose=0)
    rows = server.post("/v1/models/multi:predict", json={"instances": [
        {"wide": w, "deep": d} for w, d in zip(wide.tolist(), deep.tolist())]}).json()
    assert [sorted(p) for p in rows["predictions"]] == [["output_0", "output_1"]] * 2
    np.testing.assert_array_equal(np.float32([p["output_0"] for p in rows["predictions"]]), main)
    np.testing.assert_array_equal(np.float32([p["output_1"] for p in rows["predictions"]]), aux)
    columns = server.post("/v1/models/multi:predict", json={"inputs": {
        "wide": wide.tolist(), "deep": deep.tolist()}}).json()
    np.testing.assert_array_equal(np.float32(columns["outputs"]["output_0"]), main)
    np.testing.assert_array_equal(np.float32(columns["outputs"]["output_1"]), aux)


def test_tf_paths_match_case_insensitively_and_other_verbs(server, rng):
    x = _rows(rng, 1).tolist()
    assert server.post("/V1/Models/mlp:Predict", json={"instances": x}).status_code == 200
    assert server.get("/v1/MODELS/mlp/METADATA").status_code == 200
    _error(server.post("/v1/models/mlp:classify", json={"examples": [{}]}), 501,
           "The classify API is not implemented")
    _error(server.post("/v1/models/mlp:regress", json={"examples": [{}]}), 501, "regress")
    _error(server.post("/v1/models/mlp:foo", json={}), 400, "Malformed request: POST "
                                                            "/v1/models/mlp:foo")
    _error(server.get("/v1/models/mlp:predict"), 400, "Malformed request: GET")
    _error(server.post("/v1/models/mlp"), 400, "Malformed request: POST /v1/models/mlp")


# ------------------------------------------------------------------ Open Inference Protocol v2
def test_v2_server_and_health(server):
    from numnet import __version__
    assert server.get("/v2").json() == {"name": "numnet", "version": __version__,
                                        "extensions": []}
    live, ready = server.get("/v2/health/live"), server.get("/v2/health/ready")
    assert (live.status_code, live.json()) == (200, {"live": True})
    assert (ready.status_code, ready.json()) == (200, {"ready": True})


def test_v2_model_metadata_and_ready(server):
    expected = {"name": "clf", "versions": ["1", "2"], "platform": "numnet_keras",
                "inputs": [{"name": "features", "datatype": "FP32", "shape": [-1, 4]}],
                "outputs": [{"name": "output_0", "datatype": "FP32", "shape": [-1, 3]}]}
    assert server.get("/v2/models/clf").json() == expected
    assert server.get("/v2/models/clf/versions/1").json() == expected
    assert server.get("/v2/models/clf/ready").json() == {"name": "clf", "ready": True}
    assert server.get("/v2/models/clf/versions/2/ready").status_code == 200
    _error(server.get("/v2/models/clf/versions/3"), 404, "Model 'clf' has no version 3")
    _error(server.get("/v2/models/clf/versions/3/ready"), 404, "no version 3")
    _error(server.get("/v2/models/nope"), 404, "Model 'nope' is not served here")
    _error(server.get("/v2/models/nope/ready"), 404, "is not served here")
    _error(server.get("/v2/models/clf/versions/x1"), 400, "version must be a non-negative "
                                                          "integer, got 'x1'")


def _v2_input(name, array):
    return {"name": name, "shape": list(array.shape), "datatype": "FP32",
            "data": array.reshape(-1).tolist()}


def test_v2_infer(server, reference_models, rng):
    x = _rows(rng, 3)
    response = server.post("/v2/models/mlp/infer", json={
        "id": "req-1", "inputs": [_v2_input("features", x)]})
    assert response.status_code == 200 and response.headers["content-type"] == JSON
    document = response.json()
    expected = reference_models["mlp"].predict(x, verbose=0)
    assert {k: v for k, v in document.items() if k != "outputs"} == {
        "model_name": "mlp", "model_version": "1", "id": "req-1"}
    [output] = document["outputs"]
    assert (output["name"], output["shape"], output["datatype"]) == ("output_0", [3, 3], "FP32")
    np.testing.assert_array_equal(np.float32(output["data"]).reshape(3, 3), expected)
    # Versions, and nested data.
    for path, key in (("/v2/models/clf/infer", "clf/2"),
                      ("/v2/models/clf/versions/1/infer", "clf/1")):
        nested = {"name": "features", "shape": [3, 4], "datatype": "FP32", "data": x.tolist()}
        out = server.post(path, json={"inputs": [nested]}).json()
        assert out["model_version"] == key[-1]
        np.testing.assert_array_equal(np.float32(out["outputs"][0]["data"]).reshape(3, 3),
                                      reference_models[key].predict(x, verbose=0))


def test_v2_infer_several_inputs_and_selected_outputs(server, reference_models, rng):
    wide, deep = _rows(rng, 2, 2), _rows(rng, 2, 3)
    main, aux = reference_models["multi"].predict([wide, deep], verbose=0)
    document = server.post("/v2/models/multi/infer", json={
        "inputs": [_v2_input("deep", deep), _v2_input("wide", wide)],
        "outputs": [{"name": "output_1"}]}).json()
    [output] = document["outputs"]
    assert output["name"] == "output_1" and output["shape"] == [2, 2]
    np.testing.assert_array_equal(np.float32(output["data"]).reshape(2, 2), aux)
    both = server.post("/v2/models/multi/infer", json={
        "inputs": [_v2_input("deep", deep), _v2_input("wide", wide)]}).json()
    assert [o["name"] for o in both["outputs"]] == ["output_0", "output_1"]
    np.testing.assert_array_equal(np.float32(both["outputs"][0]["data"]).reshape(2, 1), main)


def test_v2_errors(server, rng):
    x = _rows(rng, 1)
    _error(server.post("/v2/models/nope/infer", json={"inputs": [_v2_input("features", x)]}),
           404, "Model 'nope' is not served here")
    _error(server.post("/v2/models/clf/versions/4/infer",
                       json={"inputs": [_v2_input("features", x)]}), 404, "no version 4")
    _error(server.post("/v2/models/mlp/infer", json={"inputs": [_v2_input("x", x)]}), 400,
           "Unexpected inference input 'x'")
    _error(server.post("/v2/models/mlp/infer", json={"inputs": [_v2_input(
        "features", _rows(rng, 1, 5))]}), 400, "expects shape [-1, 4]")
    _error(server.get("/v2/models/mlp/infer"), 405, "Method Not Allowed")
    _error(server.put("/v2/health/live"), 405, "Method Not Allowed: PUT /v2/health/live")
    _error(server.get("/v3/anything"), 404, "Not found: GET /v3/anything")
    _still_up(server)


# ------------------------------------------------------------------ bad input, the size limit
@pytest.mark.parametrize("body, status, fragment", [
    (b"", 400, "JSON Parse error: The document is empty"),
    (b'{"instances": [[1, 2, 3, 4]', 400, "JSON Parse error"),
    (b"\xff\xfe\x00garbage", 400, "JSON Parse error"),
    (b'{"instances": [[1, 2, 3]]}', 400, "expects shape [-1, 4] (batch dimension first), got "
                                         "[1, 3]"),
    (b'{"instances": [{"feature": [1, 2, 3, 4]}]}', 400, "must be equal to the model's inputs"),
    (b'{"inputs": {"x": [[1, 2, 3, 4]]}}', 400, "Unknown named input(s) ['x']"),
    (b'{"instances": [[1, 2, "three", 4]]}', 400, "got the string 'three'"),
    (b'{"instances": [[1, 2, null, 4]]}', 400, "got null"),
    (b'{"instances": [[1, 2, true, 4]]}', 400, "boolean"),
    (b'{"instances": [[1, 2, NaN, 4]]}', 400, "refuses NaN and infinite inputs"),
    (b'{"instances": [[1, 2, Infinity, 4]]}', 400, "refuses NaN"),
    (b'{"instances": []}', 400, "No values in 'instances' array"),
    (b'{"instance": [[1, 2, 3, 4]]}', 400, "Missing 'inputs' or 'instances' key"),
])
def test_bad_input_gets_400_and_the_server_stays_up(server, body, status, fragment):
    for path in ("/v1/models/mlp:predict",):
        _error(server.post(path, content=body), status, fragment)
    _still_up(server)


def test_bodies_over_the_limit_get_413(server, rng):
    big = json.dumps({"instances": _rows(rng, 3000).tolist()}).encode()
    assert len(big) > 64 * 1024
    _error(server.post("/v1/models/mlp:predict", content=big), 413,
           f"The request body has {len(big)} bytes, over this server's limit of 65536 bytes")

    def chunks():  # no Content-Length: the limit applies while reading
        for start in range(0, len(big), 8192):
            yield big[start:start + 8192]
    _error(server.post("/v2/models/mlp/infer", content=chunks()), 413,
           "over this server's limit of 65536 bytes")
    small = {"instances": _rows(rng, 1).tolist()}
    assert server.post("/v1/models/mlp:predict", json=small).status_code == 200


# ------------------------------------------------------------------ metrics
def test_metrics(server, rng):
    before = server.get("/metrics").text
    server.post("/v1/models/mlp:predict", json={"instances": _rows(rng, 2).tolist()})
    server.post("/v1/models/mlp:predict", content=b"{")
    response = server.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    samples = _parse_metrics(response.text)
    old = _parse_metrics(before)
    key_ok = ("numnet_serve_requests_total",
              (("code", "200"), ("endpoint", "/v1/models/{name}:predict")))
    key_bad = ("numnet_serve_requests_total",
               (("code", "400"), ("endpoint", "/v1/models/{name}:predict")))
    assert samples[key_ok] - old.get(key_ok, 0) == 1
    assert samples[key_bad] - old.get(key_bad, 0) == 1
    count = ("numnet_serve_request_duration_seconds_count",
             (("endpoint", "/v1/models/{name}:predict"),))
    assert samples[count] - old.get(count, 0) == 2
    batch_rows = ("numnet_serve_batch_size_count", (("model", "mlp/1"),))
    assert samples[batch_rows] - old.get(batch_rows, 0) == 1
    assert samples[("numnet_serve_batch_size_bucket", (("le", "2.0"), ("model", "mlp/1")))] >= 1


def _parse_metrics(text):
    """{(sample name, sorted labels): value}, read with prometheus_client's own parser."""
    parser = pytest.importorskip("prometheus_client.parser",
                                 reason="prometheus_client (test extra) reads the metrics")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in parser.text_string_to_metric_families(text) for s in family.samples}


# ------------------------------------------------------------------ batching through HTTP
class _SlowModel(FunctionModel):
    """A served model that takes `delay` seconds per batch, so that requests pile up."""

    def __init__(self, inner, delay):
        super().__init__(self._slow, inner.name, inner.version, inner.inputs, inner.outputs)
        self.inner, self.delay, self.batches = inner, delay, []

    def _slow(self, inputs):
        self.batches.append(len(next(iter(inputs.values()))))
        time.sleep(self.delay)
        return self.inner.predict(inputs)


async def _post_all(url, path, bodies):
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        responses = await asyncio.gather(*[client.post(path, json=b) for b in bodies])
    return responses


def test_concurrent_requests_are_batched_and_equal_single_requests(model_files, serve_app,
                                                                   reference_models, rng):
    model = _SlowModel(load_repository(model_files["mlp"]).get("mlp"), delay=0.05)
    app = create_app(ModelRepository([model]), max_batch_size=16, batch_timeout_ms=20)
    x = _rows(rng, 40)
    single = np.concatenate([reference_models["mlp"].predict(x[i:i + 1], verbose=0)
                             for i in range(len(x))])
    with serve_app(app) as url:
        bodies = [{"instances": x[i:i + 1].tolist()} for i in range(len(x))]
        responses = asyncio.run(_post_all(url, "/v1/models/mlp:predict", bodies))
        metrics = httpx.get(f"{url}/metrics").text
    assert [r.status_code for r in responses] == [200] * len(x)
    batched = np.float32([r.json()["predictions"][0] for r in responses])
    # Batched rows differ from single rows only by float rounding (BLAS orders sums by shape).
    np.testing.assert_allclose(batched, single, rtol=1e-6, atol=1e-7)
    assert sum(model.batches) == len(x) and max(model.batches) > 1
    assert max(model.batches) <= 16
    assert len(model.batches) < len(x)
    samples = _parse_metrics(metrics)
    assert samples[("numnet_serve_batch_requests_count", (("model", "mlp/1"),))] == \
        len(model.batches)


def test_the_server_answers_while_the_model_runs(model_files, serve_app, rng):
    inner = load_repository(model_files["mlp"]).get("mlp")
    release, entered = threading.Event(), threading.Event()

    def blocked(inputs):  # the model holds its worker thread until the test lets it go
        entered.set()
        release.wait(timeout=60)
        return inner.predict(inputs)
    model = FunctionModel(blocked, "mlp", 1, inner.inputs, inner.outputs)
    with serve_app(create_app(ModelRepository([model]))) as url:
        result = {}

        def slow_request():
            result["response"] = httpx.post(f"{url}/v1/models/mlp:predict", timeout=60,
                                            json={"instances": _rows(rng, 1).tolist()})
        thread = threading.Thread(target=slow_request)
        thread.start()
        assert entered.wait(timeout=60)
        try:
            live = httpx.get(f"{url}/v2/health/live", timeout=60)
            status = httpx.get(f"{url}/v1/models/mlp", timeout=60)
            assert "response" not in result  # the model is still busy ...
        finally:
            release.set()
        thread.join(timeout=60)
    assert live.status_code == 200 and status.status_code == 200  # ... and the loop answered
    assert result["response"].status_code == 200


def test_a_failing_model_gets_500_and_the_server_stays_up(serve_app, rng):
    spec = [TensorSpec("x", "float32", (None, 2))]

    def broken(inputs):
        if inputs["x"][0, 0] < 0:
            raise ArithmeticError("negative input")
        return {"y": inputs["x"]}
    model = FunctionModel(broken, "b", 1, spec, [TensorSpec("y", "float32", (None, 2))])
    with serve_app(create_app(ModelRepository([model]))) as url:
        bad = httpx.post(f"{url}/v1/models/b:predict", json={"instances": [[-1, 0]]})
        good = httpx.post(f"{url}/v1/models/b:predict", json={"instances": [[1, 0]]})
    _error(bad, 500, "Model 'b' version 1 failed on this request: ArithmeticError: negative "
                     "input")
    assert good.json() == {"predictions": [[1.0, 0.0]]}


def test_allow_nan_passes_nan_through_and_writes_it_back(serve_app):
    spec = [TensorSpec("x", "float32", (None, 2))]
    model = FunctionModel(lambda feed: {"y": feed["x"] * 2}, "n", 1, spec,
                          [TensorSpec("y", "float32", (None, 2))])
    with serve_app(create_app(ModelRepository([model]), allow_nan=True)) as url:
        response = httpx.post(f"{url}/v1/models/n:predict",
                              content=b'{"instances": [[NaN, -Infinity]]}')
    assert response.status_code == 200
    assert response.content == b'{"predictions":[[NaN,-Infinity]]}'


def test_not_ready_before_startup(model_files, serve_app):
    app = create_app(load_repository(model_files["mlp"]))

    async def ask_before_startup():  # httpx's ASGI transport does not run the lifespan
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return [await client.get(path) for path in
                    ("/v2/health/live", "/v2/health/ready", "/v2/models/mlp/ready")]
    live, ready, model_ready = asyncio.run(ask_before_startup())
    assert live.status_code == 200
    assert (ready.status_code, ready.json()) == (400, {"ready": False})
    assert (model_ready.status_code, model_ready.json()) == (400, {"name": "mlp", "ready": False})
    with serve_app(app) as url:
        assert httpx.get(f"{url}/v2/health/ready").json() == {"ready": True}
