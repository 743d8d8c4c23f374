"""Fixtures for the dataset tests: isolation, real data, a local HTTP server.

Every test runs with its own empty cache (`NUMNET_HOME`), no `NUMNET_DATA`,
`NUMNET_OFFLINE=1`, and a guard that fails any connection to a host other
than 127.0.0.1. Tests that need the network use the `http_server` fixture.
"""

import http.server
import os
import pathlib
import socket
import threading

import pytest

from numnet.datasets import _download
from numnet.datasets import _shipped

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
_ENV_VARS = (
    "NUMNET_DATA",
    "NUMNET_DATASETS_URL",
    "NUMNET_ALLOW_SAMPLE",
    "NUMNET_OFFLINE",
)


def _shared_datasets_dir():
    """The real data: `$NUMNET_TEST_DATA`, `$NUMNET_DATA` or `../shared/...`.

    `NUMNET_DATA` counts only when it holds both dataset folders; it is read
    here, before the tests hide it.
    """
    env = os.environ.get("NUMNET_TEST_DATA")
    if env:
        return pathlib.Path(env)
    for entry in os.environ.get("NUMNET_DATA", "").split(os.pathsep):
        folder = pathlib.Path(entry.strip())
        if entry.strip() and all(
            (folder / sub).is_dir()
            for sub in ("fashion-mnist", "california-housing")
        ):
            return folder
    return REPO_ROOT.parent / "shared" / "datasets"


SHARED = _shared_datasets_dir()


@pytest.fixture(scope="session")
def shared_datasets():
    """Folder holding `fashion-mnist/` and `california-housing/`."""
    if not SHARED.is_dir():
        pytest.skip(
            f"real datasets folder {SHARED} does not exist (set "
            "NUMNET_TEST_DATA to point elsewhere)"
        )
    return SHARED


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Private cache, offline by default, no sockets beyond 127.0.0.1."""
    for name in _ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NUMNET_HOME", str(tmp_path / "numnet_home"))
    monkeypatch.setenv("NUMNET_OFFLINE", "1")
    monkeypatch.setattr(
        _download, "_fallback_cache_dir", lambda: str(tmp_path / "tmp_cache")
    )
    monkeypatch.setattr(_download, "RETRY_DELAY", 0.0)

    real_create_connection = socket.create_connection

    def guarded(address, *args, **kwargs):
        if address[0] not in ("127.0.0.1", "localhost"):
            raise RuntimeError(f"test tried to connect to {address!r}")
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)
    yield
    _shipped._verified.clear()


class _State:
    def __init__(self):
        self.files = {}  # URL path -> bytes
        self.cuts = {}  # URL path -> list of byte counts (None: no cut)
        self.honor_range = True
        self.requests = []  # (path, Range header or None, status)


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        state = self.server.state
        data = state.files.get(self.path)
        range_header = self.headers.get("Range")
        if data is None:
            state.requests.append((self.path, range_header, 404))
            self.send_error(404)
            return
        start = 0
        status = 200
        if range_header and state.honor_range:
            start = int(range_header.split("=")[1].split("-")[0])
            if start >= len(data):
                state.requests.append((self.path, range_header, 416))
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        body = data[start:]
        state.requests.append((self.path, range_header, status))
        self.send_response(status)
        if status == 206:
            self.send_header(
                "Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}"
            )
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cuts = state.cuts.get(self.path)
        cut = cuts.pop(0) if cuts else None
        if cut is None:
            self.wfile.write(body)
        else:
            # Promise the whole body, send part of it, hang up.
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)


@pytest.fixture(scope="session")
def _server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    server.base_url = f"http://{host}:{port}"
    server.url = lambda name: f"{server.base_url}/{name}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def http_server(_server, monkeypatch):
    """A local file server on 127.0.0.1, fresh state; network allowed.

    `server.state.files["/name"] = bytes` publishes a file, `server.url(name)`
    gives its URL, `server.state.cuts["/name"] = [n, ...]` makes successive
    responses stop after n bytes, `server.state.honor_range = False` makes
    it ignore `Range`, and `server.state.requests` records what was asked.
    """
    monkeypatch.delenv("NUMNET_OFFLINE", raising=False)
    _server.state = _State()
    return _server
