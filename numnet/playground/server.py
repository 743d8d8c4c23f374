"""The playground's web server: Starlette routes served by uvicorn.

Routes:

* `GET /` — the page; `GET /static/...` — its script, style sheet and icon
  (everything the page needs is served from the package: it works offline).
* `WS /ws` — one session per connection: the page sends commands (JSON
  objects with a `type`), the server streams `state`, `network`, `frame`
  and `error` messages (see `numnet.playground.sessions`).
* `GET /api/sessions/{id}/model.keras` — the current model as a `.keras` file.
* `GET /api/sessions/{id}/snippet.py` — a Python script that rebuilds and
  trains it with numnet.
* `POST /api/sessions/{id}/data` — upload `x1, x2, label` CSV rows.
* `POST /api/sessions/{id}/model` — import a `.keras` file (safe loader).
* `GET /api/status` — how many sessions are open, and the limits.

Uploads are read with a size limit and kept in memory, except a `.keras`
file, which the loader reads from a private temporary folder that is removed
at shutdown. The server binds to 127.0.0.1 unless told otherwise, and only
answers requests whose Host header names the address it serves.
"""

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import tempfile
import webbrowser
from importlib import resources
from urllib.parse import urlsplit

try:
    import uvicorn
    import wsproto  # noqa: F401  (uvicorn's WebSocket protocol)
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.responses import HTMLResponse, JSONResponse, Response
    from starlette.routing import Mount, Route, WebSocketRoute
    from starlette.staticfiles import StaticFiles
    from starlette.websockets import WebSocketDisconnect
except ImportError as _error:
    raise ImportError(
        f"The numnet playground needs the optional packages Starlette, uvicorn and wsproto "
        f"({_error}). Install them with: pip install \"numnet[playground]\"") from _error

from numnet.playground.sessions import SessionLimitError, SessionManager, decode_message
from numnet.playground.snippet import render as render_snippet
from numnet.playground.state import StateError

logger = logging.getLogger("numnet.playground")

MAX_CSV_BYTES = 256 * 1024
MAX_MODEL_BYTES = 1024 * 1024
MAX_MESSAGE_CHARS = 64 * 1024
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


class UploadTooLarge(ValueError):
    pass


def _static_dir():
    return str(resources.files("numnet.playground") / "static")


async def _read_body(request, limit):
    """The request body, refused past `limit` bytes.

    A body somewhat over the limit is still read (and dropped, up to four
    times the limit) so that the browser receives the refusal instead of a
    connection cut off in the middle of its upload.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > 4 * limit:
        raise UploadTooLarge(f"the upload is larger than the limit of {limit // 1024} KiB")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        elif size > 4 * limit:
            break
    if size > limit:
        raise UploadTooLarge(f"the upload is larger than the limit of {limit // 1024} KiB")
    return b"".join(chunks)


def _refusal(message, status=400):
    return JSONResponse({"error": message}, status_code=status)


def _same_origin(websocket):
    """A browser page may only connect from the playground's own origin."""
    origin = websocket.headers.get("origin")
    if origin is None:  # not a browser
        return True
    return urlsplit(origin).netloc.lower() == websocket.headers.get("host", "").lower()


class _Routes:
    """The request handlers, sharing the session manager and the temporary folder."""

    def __init__(self, manager):
        self.manager = manager
        self.temp_dir = None
        with open(os.path.join(_static_dir(), "index.html"), encoding="utf-8") as file:
            self.page = file.read()

    def temp_path(self, suffix):
        if self.temp_dir is None or not os.path.isdir(self.temp_dir):
            self.temp_dir = tempfile.mkdtemp(prefix="numnet-playground-")
        handle, path = tempfile.mkstemp(suffix=suffix, dir=self.temp_dir)
        os.close(handle)
        return path

    def remove_temp_dir(self):
        if self.temp_dir is not None:
            shutil.rmtree(self.temp_dir, ignore_errors=True)
            self.temp_dir = None

    def session(self, request):
        return self.manager.get(request.path_params["session_id"])

    async def index(self, request):
        return HTMLResponse(self.page, headers={"Content-Security-Policy": _CSP,
                                                "X-Content-Type-Options": "nosniff",
                                                "Cache-Control": "no-store"})

    async def status(self, request):
        return JSONResponse({"sessions": len(self.manager.sessions), **self.manager.limits()})

    async def websocket(self, websocket):
        if not _same_origin(websocket):
            await websocket.close(code=1008)
            return
        await websocket.accept()
        try:
            session = self.manager.open(websocket.send_json, websocket.close)
        except SessionLimitError as error:
            await websocket.send_json({"type": "closed", "message": str(error)})
            await websocket.close(code=1013)
            return
        try:
            while not session.closed:
                received = await websocket.receive()
                if received["type"] == "websocket.disconnect":
                    break
                try:
                    message = decode_message(received.get("text") or "", MAX_MESSAGE_CHARS)
                except StateError as error:
                    await session.send_error(str(error))
                    continue
                await session.handle(message)
        except (WebSocketDisconnect, RuntimeError):  # the tab went away mid-message
            pass
        finally:
            await self.manager.close(session)

    async def export_model(self, request):
        session = self.session(request)
        if session is None or session.playground is None:
            return _refusal("no such session (reload the page)", 404)
        path = self.temp_path(".keras")
        try:
            async with session.lock:
                await session.engine(session.playground.export_model, path)
                name = f"playground-{session.playground.state['dataset']}.keras"
            with open(path, "rb") as file:
                data = file.read()
        finally:
            os.unlink(path)
        return Response(data, media_type="application/octet-stream",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    async def snippet(self, request):
        session = self.session(request)
        if session is None or session.playground is None:
            return _refusal("no such session (reload the page)", 404)
        async with session.lock:
            state = dict(session.playground.state)
            epochs = session.playground.trainer.epoch
        headers = {}
        if request.query_params.get("download"):
            headers["Content-Disposition"] = f'attachment; filename="playground_{state["mode"]}.py"'
        return Response(render_snippet(state, epochs), media_type="text/x-python; charset=utf-8",
                        headers=headers)

    async def upload_data(self, request):
        session = self.session(request)
        if session is None or session.playground is None:
            return _refusal("no such session (reload the page)", 404)
        try:
            text = (await _read_body(request, MAX_CSV_BYTES)).decode("utf-8")
        except UploadTooLarge as error:
            return _refusal(str(error), 413)
        except UnicodeDecodeError:
            return _refusal("the CSV file is not UTF-8 text")
        return await self._apply_upload(session, session.playground.upload_csv, text)

    async def import_model(self, request):
        session = self.session(request)
        if session is None or session.playground is None:
            return _refusal("no such session (reload the page)", 404)
        try:
            data = await _read_body(request, MAX_MODEL_BYTES)
        except UploadTooLarge as error:
            return _refusal(str(error), 413)
        path = self.temp_path(".keras")
        try:
            with open(path, "wb") as file:
                file.write(data)
            return await self._apply_upload(session, session.playground.import_model, path)
        finally:
            os.unlink(path)

    async def _apply_upload(self, session, apply, argument):
        try:
            async with session.lock:
                session.playing = False
                await session.engine(apply, argument)
                await session.send_everything()
        except StateError as error:
            return _refusal(str(error))
        return JSONResponse({"ok": True, "state": session.playground.state})


async def _reap_forever(manager, interval):
    while True:
        await asyncio.sleep(interval)
        try:
            await manager.reap()
        except Exception:  # keep reaping whatever one session did
            logger.exception("playground: reaping idle sessions failed")


def create_app(max_sessions=16, idle_timeout=900.0, update_budget=0.03, reap_interval=30.0,
               allowed_hosts=LOCAL_HOSTS):
    """The playground's Starlette application.

    Args:
        max_sessions: how many tabs may be open at once.
        idle_timeout: seconds without any message from a tab before its
            session is closed.
        update_budget: seconds of training per update while playing, at most.
        reap_interval: seconds between two looks for idle sessions.
        allowed_hosts: the host names requests may address (`["*"]` for any).
    """
    manager = SessionManager(max_sessions, idle_timeout, update_budget)
    manager.upload_limits = {"maxCsvBytes": MAX_CSV_BYTES, "maxModelBytes": MAX_MODEL_BYTES}
    routes = _Routes(manager)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        reaper = asyncio.get_running_loop().create_task(_reap_forever(manager, reap_interval))
        try:
            yield
        finally:
            reaper.cancel()
            await manager.close_all()
            routes.remove_temp_dir()

    app = Starlette(
        routes=[
            Route("/", routes.index),
            Route("/api/status", routes.status),
            Route("/api/sessions/{session_id}/model.keras", routes.export_model),
            Route("/api/sessions/{session_id}/snippet.py", routes.snippet),
            Route("/api/sessions/{session_id}/data", routes.upload_data, methods=["POST"]),
            Route("/api/sessions/{session_id}/model", routes.import_model, methods=["POST"]),
            WebSocketRoute("/ws", routes.websocket),
            Mount("/static", StaticFiles(directory=_static_dir()), name="static"),
        ],
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))],
        lifespan=lifespan)
    app.state.manager = manager
    return app


def listening_socket(host, port):
    """A TCP socket bound to `host:port` (0: a free port) and listening."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    return sock


def serve(host="127.0.0.1", port=8000, open_browser=False, max_sessions=16, idle_timeout=900.0,
          log_level="warning"):
    """Serves the playground at `http://host:port/` until interrupted.

    `port=0` picks a free port. The address is printed once the socket
    listens; `open_browser` then opens it in the default browser.
    """
    sock = listening_socket(host, port)
    name = f"[{host}]" if ":" in host else host
    url = f"http://{name}:{sock.getsockname()[1]}/"
    allowed = ["*"] if host in ("0.0.0.0", "::", "") else list(LOCAL_HOSTS) + [name]
    app = create_app(max_sessions=max_sessions, idle_timeout=idle_timeout, allowed_hosts=allowed)
    print(f"numnet playground: {url}  (Ctrl-C to stop)", flush=True)
    if open_browser:
        webbrowser.open(url)
    try:
        build_server(app, log_level).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn shuts down cleanly, then re-raises Ctrl-C
        pass
    print("numnet playground: stopped", flush=True)
    return 0


def build_server(app, log_level="warning"):
    """The uvicorn server for `app`: WebSockets by wsproto, no compression (the
    frames travel on this machine), bounded message size and connection count."""
    max_sessions = app.state.manager.max_sessions
    config = uvicorn.Config(app, ws="wsproto", ws_max_size=MAX_MESSAGE_CHARS * 4,
                            ws_per_message_deflate=False, lifespan="on", log_level=log_level,
                            access_log=False, timeout_graceful_shutdown=3,
                            limit_concurrency=max_sessions + 32)
    return uvicorn.Server(config)
