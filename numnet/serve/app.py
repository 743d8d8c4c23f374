"""The Starlette app: TensorFlow Serving's REST API and the Open Inference Protocol v2.

TensorFlow Serving (paths match case-insensitively, as TF's own regexes do):

    GET  /v1/models/NAME[/versions/V]             model status
    GET  /v1/models/NAME[/versions/V]/metadata    signature of the latest (or V)
    POST /v1/models/NAME[/versions/V]:predict     {"instances": ...} or {"inputs": ...}

Open Inference Protocol v2 (KServe, Triton; case-sensitive):

    GET  /v2    /v2/health/live    /v2/health/ready
    GET  /v2/models/NAME[/versions/V]    /v2/models/NAME[/versions/V]/ready
    POST /v2/models/NAME[/versions/V]/infer

and `GET /metrics` (Prometheus text). Every error is `{"error": "..."}` with
the status code TensorFlow Serving would use: 400 for a bad request, 404 for
an unknown model or version, 413 for a body over the size limit, 501 for
`:classify`/`:regress`, 500 when the model itself fails.
"""

import concurrent.futures
import contextlib
import logging
import re
import time

from numnet.serve import codec
from numnet.serve.batching import MicroBatcher
from numnet.serve.codec import RequestError
from numnet.serve.metrics import CONTENT_TYPE, ServerMetrics
from numnet.serve.repository import ModelNotFoundError

try:
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.responses import Response
    from starlette.routing import Match, Route
except ImportError as error:  # pragma: no cover - exercised by the CLI test without the extra
    raise ImportError(
        "numnet serve needs Starlette and uvicorn: pip install \"numnet[serve]\"") from error

logger = logging.getLogger("numnet.serve")

DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
JSON = "application/json"

_TF_PREDICT = re.compile(
    r"/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/:]+))?"
    r":(?P<verb>classify|regress|predict)", re.IGNORECASE)
_TF_STATUS = re.compile(
    r"/v1/models(?:/(?P<name>[^/:]+))?(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/:]+))?"
    r"(?:/(?P<metadata>metadata))?", re.IGNORECASE)
_V1_PREFIX = re.compile(r"/v1/", re.IGNORECASE)


def json_response(document, status=200):
    """A JSON response from a dict (numpy arrays allowed)."""
    return Response(codec.dumps(document), status_code=status, media_type=JSON)


def error_response(message, status):
    return Response(codec.dumps({"error": message}), status_code=status, media_type=JSON)


class ServingApp:
    """The handlers and state behind one app; `create_app` wraps it in Starlette.

    Args: see `create_app`.
    """

    def __init__(self, repository, max_batch_size=64, batch_timeout_ms=2.0,
                 max_body_bytes=DEFAULT_MAX_BODY_BYTES, allow_nan=False):
        if max_body_bytes < 1:
            raise ValueError(f"max_body_bytes must be positive, got {max_body_bytes}.")
        self.repository = repository
        self.max_batch_size = int(max_batch_size)
        self.batch_timeout = float(batch_timeout_ms) / 1000.0
        self.max_body_bytes = int(max_body_bytes)
        self.allow_nan = bool(allow_nan)
        self.metrics = ServerMetrics()
        self.ready = False
        self._executor = None
        self._batchers = {}
        self._routes = []

    # ---------------------------------------------------------------- lifecycle
    @contextlib.asynccontextmanager
    async def lifespan(self, app):
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="numnet-serve-model")
        for model in self.repository:
            batcher = MicroBatcher(model, self._executor, self.max_batch_size,
                                   self.batch_timeout, on_batch=self._record_batch)
            batcher.start()
            self._batchers[(model.name, model.version)] = batcher
        self.ready = True
        try:
            yield
        finally:  # uvicorn gets here after the last in-flight request was answered
            self.ready = False
            for batcher in self._batchers.values():
                await batcher.stop()
            self._executor.shutdown(wait=True)

    def _record_batch(self, model, rows, requests, seconds):
        label = f"{model.name}/{model.version}"
        self.metrics.batch_size.observe(rows, label)
        self.metrics.batch_requests.observe(requests, label)
        self.metrics.inference_latency.observe(seconds, label)

    # ---------------------------------------------------------------- shared steps
    def _model(self, name, version, request_text):
        try:
            return self.repository.get(name, version)
        except ModelNotFoundError as error:
            raise RequestError(f"Servable not found for request: {request_text}. {error}",
                               404) from None

    async def _body(self, request):
        """The request body, refused with 413 as soon as it is known to be over the limit."""
        limit = self.max_body_bytes
        for key, value in request.scope["headers"]:
            if key == b"content-length" and value.isdigit() and int(value) > limit:
                raise RequestError(f"The request body has {int(value)} bytes, over this "
                                   f"server's limit of {limit} bytes (--max-body-bytes).", 413)
        chunks, size = [], 0
        receive = request.receive
        while True:  # read the ASGI messages directly: less per-request work than a stream
            message = await receive()
            if message["type"] == "http.disconnect":
                raise RequestError("The client disconnected before sending the whole body.", 400)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise RequestError(f"The request body is over this server's limit of {limit} "
                                   "bytes (--max-body-bytes).", 413)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _run(self, request, model, parse):
        """Reads, parses (`parse(document, model, reader)`) and runs one prediction request."""
        batcher = self._batchers[(model.name, model.version)]
        with batcher.receiving():
            body = await self._body(request)
            document = codec.loads(body)
            reader = codec.ArrayReader(self.allow_nan, strict=b"true" in body or b"false" in body)
            parsed = parse(document, model, reader)
        try:
            outputs = await batcher.predict(parsed[0], parsed[1])
        except Exception as error:
            logger.exception("model %s version %s failed", model.name, model.version)
            raise RequestError(f"Model '{model.name}' version {model.version} failed on this "
                               f"request: {type(error).__name__}: {error}", 500) from None
        return parsed, outputs

    # ---------------------------------------------------------------- TensorFlow Serving
    async def tf_serving(self, request):
        path, method = request.scope["path"], request.scope["method"]
        try:
            if method == "POST" and (match := _TF_PREDICT.fullmatch(path)):
                request.scope["numnet.endpoint"] = "/v1/models/{name}:predict"
                return await self._tf_predict(request, match)
            request.scope["numnet.endpoint"] = "/v1/models/{name}"
            if method == "GET" and (match := _TF_STATUS.fullmatch(path)):
                if match["metadata"] is not None:
                    request.scope["numnet.endpoint"] = "/v1/models/{name}/metadata"
                return self._tf_status(match)
            raise RequestError(f"Malformed request: {method} {path}")
        except RequestError as error:
            return error_response(error.message, error.status)

    @staticmethod
    def _tf_version(match, name):
        if match["label"] is not None:
            raise RequestError(f"Unrecognized servable version label: {match['label']} (this "
                               f"server defines no labels; ask for /versions/N of '{name}').")
        return None if match["version"] is None else int(match["version"])

    async def _tf_predict(self, request, match):
        name = match["name"]
        version = self._tf_version(match, name)
        if match["verb"].lower() != "predict":
            raise RequestError(f"The {match['verb'].lower()} API is not implemented by numnet "
                               "serve: use :predict with {\"instances\": ...}.", 501)
        model = self._model(name, version, f"Latest({name})" if version is None
                            else f"Specific({name}, {version})")
        (_, _, request_format), outputs = await self._run(request, model,
                                                          codec.parse_tf_predict)
        return Response(codec.tf_predict_response(outputs, model, request_format),
                        media_type=JSON)

    def _tf_status(self, match):
        name = match["name"]
        if name is None:
            raise RequestError("Missing model name in request (models served: "
                               f"{', '.join(self.repository.names())}).")
        version = self._tf_version(match, name)
        if match["metadata"] is not None:
            model = self._model(name, version, f"Latest({name})" if version is None
                                else f"Specific({name}, {version})")
            return json_response(codec.tf_model_metadata(model))
        try:
            versions = self.repository.versions(name)
        except ModelNotFoundError as error:
            raise RequestError(f"Could not find any versions of model {name}. {error}",
                               404) from None
        if version is not None:
            if version not in versions:
                raise RequestError(f"Could not find version {version} of model {name}.", 404)
            versions = [version]
        return json_response(codec.tf_model_status(versions))

    # ---------------------------------------------------------------- Open Inference Protocol
    @staticmethod
    def _v2_version(request):
        text = request.path_params.get("version")
        if text is None:
            return None
        if not (text.isascii() and text.isdigit()):
            raise RequestError(f"Model version must be a non-negative integer, got {text!r}.")
        return int(text)

    def _v2_model(self, request):
        name = request.path_params["name"]
        version = self._v2_version(request)
        try:
            return self.repository.get(name, version)
        except ModelNotFoundError as error:
            raise RequestError(str(error), 404) from None

    async def v2_server_metadata(self, request):
        from numnet import __version__
        return json_response({"name": "numnet", "version": __version__, "extensions": []})

    async def v2_live(self, request):
        return json_response({"live": True})

    async def v2_ready(self, request):
        return json_response({"ready": self.ready}, 200 if self.ready else 400)

    async def v2_model_metadata(self, request):
        try:
            model = self._v2_model(request)
        except RequestError as error:
            return error_response(error.message, error.status)
        return json_response(codec.v2_model_metadata(model, self.repository.versions(model.name)))

    async def v2_model_ready(self, request):
        try:
            model = self._v2_model(request)
        except RequestError as error:
            return error_response(error.message, error.status)
        return json_response({"name": model.name, "ready": self.ready},
                             200 if self.ready else 400)

    async def v2_infer(self, request):
        try:
            model = self._v2_model(request)
            (_, _, names, request_id, _), outputs = await self._run(request, model,
                                                                    codec.parse_v2_infer)
        except RequestError as error:
            return error_response(error.message, error.status)
        return Response(codec.v2_infer_response(outputs, model, names, request_id),
                        media_type=JSON)

    # ---------------------------------------------------------------- the rest
    async def metrics_text(self, request):
        return Response(self.metrics.render(), media_type=CONTENT_TYPE)

    async def fallback(self, request):
        """TF Serving paths in other letter cases; anything else is 404."""
        if _V1_PREFIX.match(request.url.path):
            return await self.tf_serving(request)
        allowed = sorted({method for route in self._routes[:-1]
                          if route.matches(request.scope)[0] is Match.PARTIAL
                          for method in route.methods})
        if allowed:
            return Response(codec.dumps({"error": f"Method Not Allowed: {request.method} "
                                                  f"{request.url.path} (use "
                                                  f"{' or '.join(allowed)})"}),
                            status_code=405, media_type=JSON, headers={"Allow": ", ".join(allowed)})
        return error_response(
            f"Not found: {request.method} {request.url.path}. This server answers "
            "/v1/models/NAME... (TensorFlow Serving REST), /v2/... (Open Inference Protocol) "
            "and /metrics.", 404)

    async def http_error(self, request, error):
        """Starlette's own errors (405 Method Not Allowed, ...) as JSON."""
        return Response(codec.dumps({"error": f"{error.detail}: {request.method} "
                                              f"{request.url.path}"}),
                        status_code=error.status_code, media_type=JSON,
                        headers=getattr(error, "headers", None))

    async def internal_error(self, request, error):
        """Anything unexpected: 500 with the error, and the server carries on."""
        logger.error("%s %s failed", request.method, request.url.path, exc_info=error)
        return error_response(f"Internal error: {type(error).__name__}: {error}", 500)

    def routes(self):
        get, post = ["GET"], ["POST"]
        v2 = "/v2/models/{name}"
        endpoints = [
            ("/v1/{path:path}", self.tf_serving, ["GET", "POST"]),
            (v2 + "/infer", self.v2_infer, post),
            (v2 + "/versions/{version}/infer", self.v2_infer, post),
            (v2, self.v2_model_metadata, get),
            (v2 + "/versions/{version}", self.v2_model_metadata, get),
            (v2 + "/ready", self.v2_model_ready, get),
            (v2 + "/versions/{version}/ready", self.v2_model_ready, get),
            ("/v2", self.v2_server_metadata, get),
            ("/v2/health/live", self.v2_live, get),
            ("/v2/health/ready", self.v2_ready, get),
            ("/metrics", self.metrics_text, get),
        ]
        routes = [Route(path, _labelled(endpoint, path), methods=methods)
                  for path, endpoint, methods in endpoints]
        routes.append(Route("/{path:path}", self.fallback,
                            methods=["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]))
        self._routes = routes
        return routes


def _labelled(endpoint, path):
    """`endpoint`, recording its route template as the metrics label (v1 sets its own)."""
    if path.startswith("/v1/"):
        return endpoint

    async def handler(request):
        request.scope["numnet.endpoint"] = path
        return await endpoint(request)
    handler.__name__ = endpoint.__name__
    return handler


class _MetricsMiddleware:
    """Counts every request by endpoint and status code and times it (pure ASGI, cheap)."""

    def __init__(self, app, metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500

        async def send_and_watch(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        metrics = self.metrics
        metrics.in_flight.value += 1
        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            metrics.in_flight.value -= 1
            endpoint = scope.get("numnet.endpoint", "other")
            metrics.requests.inc(endpoint, str(status))
            metrics.latency.observe(time.perf_counter() - started, endpoint)


def create_app(repository, max_batch_size=64, batch_timeout_ms=2.0,
               max_body_bytes=DEFAULT_MAX_BODY_BYTES, allow_nan=False):
    """The ASGI app serving `repository` (a `ModelRepository`).

    Args:
        repository: the models to serve.
        max_batch_size: the most rows the micro-batcher merges; 1 turns batching off.
        batch_timeout_ms: how long a batch may wait for requests being received.
        max_body_bytes: larger request bodies get 413 (default 16 MiB).
        allow_nan: pass NaN/infinite inputs to the model instead of answering 400.

    Returns:
        A Starlette app; `app.state.serving` is its `ServingApp` (metrics, batchers).
    """
    serving = ServingApp(repository, max_batch_size, batch_timeout_ms, max_body_bytes, allow_nan)
    app = Starlette(routes=serving.routes(), lifespan=serving.lifespan,
                    exception_handlers={HTTPException: serving.http_error,
                                        Exception: serving.internal_error})
    app.state.serving = serving
    app.add_middleware(_MetricsMiddleware, metrics=serving.metrics)
    return app
