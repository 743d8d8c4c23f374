"""Fixtures for the server tests: small saved models and servers on 127.0.0.1.

Servers run either in a thread of the test process (uvicorn.Server, for the
protocol tests: fast, and the app's state can be inspected) or as a real
`python -m numnet serve` subprocess (for the CLI, workers and SIGTERM).
"""

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

for _module in ("starlette", "uvicorn", "httpx"):
    pytest.importorskip(_module, reason=f"{_module} (numnet[serve] / the test extra) is not "
                                        "installed; the server cannot be tested without it")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _mlp(seed, hidden=8):
    import numnet as keras
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.layers.Input(shape=[4], name="features"),
        keras.layers.Dense(hidden, activation="relu"),
        keras.layers.Dense(3, activation="softmax"),
    ])


def _two_in_two_out(seed):
    import numnet as keras
    keras.utils.set_random_seed(seed)
    wide = keras.layers.Input(shape=[2], name="wide")
    deep = keras.layers.Input(shape=[3], name="deep")
    hidden = keras.layers.Dense(5, activation="relu")(deep)
    joined = keras.layers.Concatenate()([wide, hidden])
    main = keras.layers.Dense(1, name="main")(joined)
    aux = keras.layers.Dense(2, name="aux")(hidden)
    return keras.Model(inputs=[wide, deep], outputs=[main, aux])


@pytest.fixture(scope="session")
def model_files(tmp_path_factory):
    """Saved models: {"mlp": file, "versions": NAME/1,2 folder, "multi": two-in/two-out file}."""
    root = tmp_path_factory.mktemp("serve-models")
    paths = {"mlp": root / "mlp.keras", "multi": root / "multi.keras",
             "versions": root / "clf"}
    _mlp(1).save(paths["mlp"])
    _two_in_two_out(3).save(paths["multi"])
    for version, seed in ((1, 11), (2, 22)):
        folder = paths["versions"] / str(version)
        folder.mkdir(parents=True)
        _mlp(seed).save(folder / "model.keras")
    (paths["versions"] / "notes").mkdir()  # not a version: ignored, as TF Serving does
    return paths


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def thread_server(app):
    """Serves `app` with uvicorn in a thread on 127.0.0.1; yields the base URL."""
    import uvicorn
    config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning",
                            lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        assert not thread.is_alive(), "the test server did not stop"


@pytest.fixture(scope="session")
def serve_app():
    """`serve_app(app)`: a context manager serving an app in a thread, yielding its URL."""
    return thread_server


class ServerProcess:
    """`python -m numnet serve ARGS` on a free port of 127.0.0.1."""

    def __init__(self, *args, port=None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
                   OPENBLAS_NUM_THREADS="1")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "numnet", "serve", *map(str, args), "--port", str(self.port),
             "--log-level", "info"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def wait_ready(self, timeout=60):
        import httpx
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n"
                                   f"{self.process.stdout.read()}")
            try:
                if httpx.get(f"{self.url}/v2/health/ready", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError("the server did not become ready in time")

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=20)
        self.process.stdout.close()


@pytest.fixture
def server_process():
    """`server_process(*args)` starts `numnet serve`; every one started is killed at the end."""
    started = []

    def start(*args, **kwargs):
        server = ServerProcess(*args, **kwargs)
        started.append(server)
        return server
    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def reference_models(model_files):
    """The saved models loaded in-process, for reference predictions."""
    from numnet.saving import load_model
    return {key: load_model(path) for key, path in model_files.items() if key != "versions"} | {
        f"clf/{v}": load_model(model_files["versions"] / str(v) / "model.keras") for v in (1, 2)}


@pytest.fixture
def rng():
    return np.random.default_rng(0)
