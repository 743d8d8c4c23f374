"""The ASGI app: TensorFlow Serving's REST API and the Open Inference Protocol v2.

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

The prediction routes (`:predict`, `/infer`: the hot path) are answered by
`ServingASGI` as a plain ASGI callable, without Starlette's request and
response objects, routing or middleware: reading the body, parsing it and
writing the answer is all the per-request work there is. Every other route
(status, metadata, health, metrics, errors for unknown paths and methods) is
a Starlette app behind it.
"""

import asyncio
import concurrent.futures
import contextlib
import logging
import re
import time

from numnet.serve import codec
from numnet.serve.batching import MicroBatcher, ModelRunner
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
DEFAULT_INLINE_MS = 2.0
JSON = "application/json"

_TF_PREDICT = re.compile(
    r"/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/:]+))?"
    r":(?P<verb>classify|regress|predict)", re.IGNORECASE)
_TF_STATUS = re.compile(
    r"/v1/models(?:/(?P<name>[^/:]+))?(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/:]+))?"
    r"(?:/(?P<metadata>metadata))?", re.IGNORECASE)
_V1_PREFIX = re.compile(r"/v1/", re.IGNORECASE)
_V2_INFER = re.compile(r"/v2/models/(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+))?/infer")

TF_PREDICT_ENDPOINT = "/v1/models/{name}:predict"
V2_INFER_ENDPOINT = "/v2/models/{name}/infer"
V2_VERSION_INFER_ENDPOINT = "/v2/models/{name}/versions/{version}/infer"


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
                 max_body_bytes=DEFAULT_MAX_BODY_BYTES, allow_nan=False,
                 inline_ms=DEFAULT_INLINE_MS):
        if max_body_bytes < 1:
            raise ValueError(f"max_body_bytes must be positive, got {max_body_bytes}.")
        if inline_ms < 0:
            raise ValueError(f"inline_ms must be >= 0, got {inline_ms}.")
        self.repository = repository
        self.max_batch_size = int(max_batch_size)
        self.batch_timeout = float(batch_timeout_ms) / 1000.0
        self.max_body_bytes = int(max_body_bytes)
        self.allow_nan = bool(allow_nan)
        self.inline_seconds = float(inline_ms) / 1000.0
        self.metrics = ServerMetrics()
        self.ready = False
        self.runner = None
        self._executor = None
        self._batchers = {}
        self._routes = []

    # ---------------------------------------------------------------- lifecycle
    @contextlib.asynccontextmanager
    async def lifespan(self, app):
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="numnet-serve-model")
        self.runner = ModelRunner(self._executor, self.inline_seconds)
        loop = asyncio.get_running_loop()
        for model in self.repository:
            try:
                await loop.run_in_executor(self._executor, model.warm_up, self.max_batch_size)
            except Exception:  # only a head start: the model may still answer real requests
                logger.warning("warming up model %s version %s failed", model.name,
                               model.version, exc_info=True)
            batcher = MicroBatcher(model, self.runner, self.max_batch_size,
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

    def _record_batch(self, model, rows, requests, seconds, inline):
        label = f"{model.name}/{model.version}"
        self.metrics.model_calls.inc(label, "event_loop" if inline else "worker_thread")
        self.metrics.batch_size.observe(rows, label)
        self.metrics.batch_requests.observe(requests, label)
        self.metrics.inference_latency.observe(seconds, label)

    # ---------------------------------------------------------------- shared steps
    def _model(self, name, version):
        """Model `name` at `version` (None: the latest); unknown ones are TF Serving's 404."""
        try:
            return self.repository.get(name, version)
        except ModelNotFoundError as error:
            request = f"Latest({name})" if version is None else f"Specific({name}, {version})"
            raise RequestError(f"Servable not found for request: {request}. {error}",
                               404) from None

    async def _body(self, scope, receive):
        """The request body, refused with 413 as soon as it is known to be over the limit."""
        limit = self.max_body_bytes
        for key, value in scope["headers"]:
            if key == b"content-length" and value.isdigit() and int(value) > limit:
                raise RequestError(f"The request body has {int(value)} bytes, over this "
                                   f"server's limit of {limit} bytes (--max-body-bytes).", 413)
        chunks, size = [], 0
        while True:
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

    async def _run(self, scope, receive, model, parse):
        """Reads, parses (`parse(document, model, reader)`) and runs one prediction request."""
        batcher = self._batchers[(model.name, model.version)]
        with batcher.receiving():
            body = await self._body(scope, receive)
            document = codec.loads(body)
            reader = codec.ArrayReader(self.allow_nan, strict=codec.may_hold_booleans(body))
            parsed = parse(document, model, reader)
        try:
            outputs = await batcher.predict(parsed[0], parsed[1])
        except Exception as error:
            logger.exception("model %s version %s failed", model.name, model.version)
            raise RequestError(f"Model '{model.name}' version {model.version} failed on this "
                               f"request: {type(error).__name__}: {error}", 500) from None
        return parsed, outputs

    # ---------------------------------------------------------------- the prediction routes
    async def tf_predict(self, scope, receive, match):
        """A `:predict` (or `:classify`/`:regress`) request -> the response body (bytes)."""
        name = match["name"]
        version = self._tf_version(match, name)
        if match["verb"].lower() != "predict":
            raise RequestError(f"The {match['verb'].lower()} API is not implemented by numnet "
                               "serve: use :predict with {\"instances\": ...}.", 501)
        model = self._model(name, version)
        (_, _, request_format), outputs = await self._run(scope, receive, model,
                                                          codec.parse_tf_predict)
        return codec.tf_predict_response(outputs, model, request_format)

    async def v2_infer(self, scope, receive, match):
        """An OIP v2 `/infer` request -> the response body (bytes)."""
        model = self._v2_model(match["name"], match["version"])
        (_, _, names, request_id, _), outputs = await self._run(scope, receive, model,
                                                                codec.parse_v2_infer)
        return codec.v2_infer_response(outputs, model, names, request_id)

    # ---------------------------------------------------------------- TensorFlow Serving
    async def tf_serving(self, request):
        """Model status and metadata (`:predict` is the hot path's); anything else is 400."""
        path, method = request.scope["path"], request.scope["method"]
        try:
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

    def _tf_status(self, match):
        name = match["name"]
        if name is None:
            raise RequestError("Missing model name in request (models served: "
                               f"{', '.join(self.repository.names())}).")
        version = self._tf_version(match, name)
        if match["metadata"] is not None:
            model = self._model(name, version)
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
    def _v2_model(self, name, version_text):
        version = None
        if version_text is not None:
            if not (version_text.isascii() and version_text.isdigit()):
                raise RequestError("Model version must be a non-negative integer, got "
                                   f"{version_text!r}.")
            version = int(version_text)
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
            model = self._v2_model(request.path_params["name"],
                                   request.path_params.get("version"))
        except RequestError as error:
            return error_response(error.message, error.status)
        return json_response(codec.v2_model_metadata(model, self.repository.versions(model.name)))

    async def v2_model_ready(self, request):
        try:
            model = self._v2_model(request.path_params["name"],
                                   request.path_params.get("version"))
        except RequestError as error:
            return error_response(error.message, error.status)
        return json_response({"name": model.name, "ready": self.ready},
                             200 if self.ready else 400)

    # ---------------------------------------------------------------- the rest
    async def prediction(self, request):
        """`/infer` reached through Starlette: answered as `ServingASGI` answers it first."""
        route = prediction_route(request.scope)
        status, body = await self.answer(route, request.scope, request.receive)
        return Response(body, status_code=status, media_type=JSON)

    async def answer(self, route, scope, receive):
        """(status, body bytes) for a prediction request; `route` from `prediction_route`."""
        handler, _, match = route
        try:
            return 200, await handler(self, scope, receive, match)
        except RequestError as error:
            return error.status, codec.dumps({"error": error.message})
        except Exception as error:
            logger.error("%s %s failed", scope["method"], scope["path"], exc_info=error)
            return 500, codec.dumps({"error": f"Internal error: {type(error).__name__}: "
                                              f"{error}"})

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
            (v2 + "/infer", self.prediction, post),
            (v2 + "/versions/{version}/infer", self.prediction, post),
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


def prediction_route(scope):
    """(handler, metrics label, match) when `scope` is a prediction request, else None."""
    if scope["method"] != "POST":
        return None
    path = scope["path"]
    match = _TF_PREDICT.fullmatch(path)
    if match is not None:
        return ServingApp.tf_predict, TF_PREDICT_ENDPOINT, match
    match = _V2_INFER.fullmatch(path)
    if match is not None:
        label = V2_INFER_ENDPOINT if match["version"] is None else V2_VERSION_INFER_ENDPOINT
        return ServingApp.v2_infer, label, match
    return None


_JSON_TYPE = (b"content-type", JSON.encode())


class ServingASGI:
    """The app: prediction requests answered directly, everything else by Starlette.

    A prediction request costs the work of reading, parsing and answering it
    and no more: no Request/Response objects, no routing table, no
    middleware. It is still counted and timed in the metrics, like every
    request the Starlette part answers (through `_MetricsMiddleware`).

    Attributes:
        serving: the `ServingApp` (metrics, batchers, model runner).
        state: the Starlette app's state (`state.serving` is `serving`).
    """

    def __init__(self, serving, starlette):
        self.serving = serving
        self.starlette = starlette
        self.state = starlette.state
        self._others = _MetricsMiddleware(starlette, serving.metrics)

    async def __call__(self, scope, receive, send):
        route = prediction_route(scope) if scope["type"] == "http" else None
        if route is None:
            return await self._others(scope, receive, send)
        metrics = self.serving.metrics
        started = time.perf_counter()
        status = 500  # what the metrics count if sending fails or the task is cancelled
        metrics.in_flight.value += 1
        try:
            code, body = await self.serving.answer(route, scope, receive)
            await send({"type": "http.response.start", "status": code,
                        "headers": [_JSON_TYPE, (b"content-length", b"%d" % len(body))]})
            status = code
            await send({"type": "http.response.body", "body": body})
        finally:
            metrics.in_flight.value -= 1
            metrics.requests.inc(route[1], str(status))
            metrics.latency.observe(time.perf_counter() - started, route[1])


def create_app(repository, max_batch_size=64, batch_timeout_ms=2.0,
               max_body_bytes=DEFAULT_MAX_BODY_BYTES, allow_nan=False,
               inline_ms=DEFAULT_INLINE_MS):
    """The ASGI app serving `repository` (a `ModelRepository`).

    Args:
        repository: the models to serve.
        max_batch_size: the most rows the micro-batcher merges; 1 turns batching off.
        batch_timeout_ms: how long a batch may wait for requests being received.
        max_body_bytes: larger request bodies get 413 (default 16 MiB).
        allow_nan: pass NaN/infinite inputs to the model instead of answering 400.
        inline_ms: calls of a compute-bound model whose recent calls of the same
            size took less CPU time than this run on the event loop instead of the
            worker thread (see `numnet.serve.batching.ModelRunner`); 0 always uses
            the thread.

    Returns:
        A `ServingASGI`; `app.serving` (also `app.state.serving`) is its
        `ServingApp` (metrics, batchers).
    """
    serving = ServingApp(repository, max_batch_size, batch_timeout_ms, max_body_bytes, allow_nan,
                         inline_ms)
    starlette = Starlette(routes=serving.routes(), lifespan=serving.lifespan,
                          exception_handlers={HTTPException: serving.http_error,
                                              Exception: serving.internal_error})
    starlette.state.serving = serving
    return ServingASGI(serving, starlette)
