"""Running the app with uvicorn: `numnet serve` and `numnet.serve.serve(...)`.

`workers=1` (the default) serves from this process: one event loop receives,
parses and answers requests, one worker thread runs the model's batches.
`workers=N` starts N such processes (uvicorn's workers) that share the
listening socket; each loads the models and micro-batches its own requests.
On a machine with more cores than the one loop can keep busy, that raises
throughput; each process's `/metrics` then counts only its own requests.

SIGTERM (and Ctrl-C) shut down gracefully: the server stops accepting
connections, answers every request already received (within
`graceful_timeout` seconds), then exits with status 0.
"""

import json
import os
import signal

from numnet.serve.repository import load_repository

_CONFIG_ENV = "NUMNET_SERVE_CONFIG"


def _require_uvicorn():
    try:
        import starlette  # noqa: F401
        import uvicorn
    except ImportError as error:
        raise ImportError("numnet serve needs Starlette and uvicorn, which are not installed: "
                          "pip install \"numnet[serve]\"") from error
    return uvicorn


def limit_blas_threads(threads):
    """Caps the BLAS threads of this process (OpenBLAS, MKL, ...) at `threads`.

    A batch of 64 rows is big enough for OpenBLAS to start a second thread,
    which then competes with the event loop for the CPUs: on a 2-core machine
    that made batched serving slower than unbatched. Returns whether a limit
    could be set (it needs threadpoolctl, part of `numnet[serve]`).
    """
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = str(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return False
    threadpool_limits(limits=threads)
    return True


def _app_options(options):
    return {key: options[key] for key in
            ("max_batch_size", "batch_timeout_ms", "max_body_bytes", "allow_nan")}


def app_from_environment():
    """The app factory each uvicorn worker process calls (`workers > 1`)."""
    from numnet.serve.app import create_app
    options = json.loads(os.environ[_CONFIG_ENV])
    if options["threads"]:
        limit_blas_threads(options["threads"])
    repository = load_repository(options["path"], options["name"])
    return create_app(repository, **_app_options(options))


def describe(repository, host, port):
    """The lines `numnet serve` prints when it starts."""
    lines = []
    for name in repository.names():
        versions = repository.versions(name)
        model = repository.get(name)
        inputs = ", ".join(f"{s.name} {s.describe_shape()} {s.dtype}" for s in model.inputs)
        lines.append(f"model '{name}' version(s) {', '.join(map(str, versions))} "
                     f"(latest {versions[-1]}): inputs {inputs}")
    lines.append(f"TensorFlow Serving REST: POST http://{host}:{port}/v1/models/"
                 f"{repository.names()[0]}:predict")
    lines.append(f"Open Inference Protocol: POST http://{host}:{port}/v2/models/"
                 f"{repository.names()[0]}/infer    metrics: GET /metrics")
    return lines


def serve(path, name=None, host="127.0.0.1", port=8501, max_batch_size=64,
          batch_timeout_ms=2.0, workers=1, max_body_bytes=None, allow_nan=False,
          threads=1, graceful_timeout=30.0, log_level="info", access_log=False, echo=print):
    """Loads the models at `path` and serves them until SIGTERM or Ctrl-C.

    Args:
        path: a `.keras` file, a model folder with version folders `1/`, `2/`, ...,
            or a folder of model folders (see `numnet.serve.repository`).
        name: the model name for a single model (default: the file/folder name).
        host: the address to bind; the default serves this machine only.
        port: the TCP port (TensorFlow Serving's REST port 8501 by default).
        max_batch_size: the most rows per batch; 1 turns micro-batching off.
        batch_timeout_ms: the most a batch waits for requests being received.
        workers: server processes; see the module docstring.
        max_body_bytes: the request body limit (default 16 MiB).
        allow_nan: pass NaN/infinite inputs to the model instead of answering 400.
        threads: BLAS threads for the model in each process (None: leave as they are).
        graceful_timeout: seconds to finish in-flight requests after SIGTERM.
        log_level: uvicorn's log level.
        access_log: log every request (off by default: it costs time per request).
        echo: where the start-up lines go.

    Returns:
        0 after a graceful shutdown.
    """
    uvicorn = _require_uvicorn()
    from numnet.serve.app import DEFAULT_MAX_BODY_BYTES, create_app
    options = {"path": os.path.abspath(os.fspath(path)), "name": name,
               "max_batch_size": int(max_batch_size), "batch_timeout_ms": float(batch_timeout_ms),
               "max_body_bytes": int(max_body_bytes or DEFAULT_MAX_BODY_BYTES),
               "allow_nan": bool(allow_nan), "threads": threads}
    if threads and not limit_blas_threads(threads):
        echo(f"numnet serve: warning: threadpoolctl is not installed, so the BLAS thread count "
             f"stays as it is (set OPENBLAS_NUM_THREADS={threads} before starting)")
    repository = load_repository(options["path"], name)  # fail here, before any worker starts
    for line in describe(repository, host, port):
        echo(line)
    # No proxy-header rewriting: the server answers its clients directly (loopback by default).
    settings = dict(host=host, port=int(port), log_level=log_level, access_log=access_log,
                    timeout_graceful_shutdown=graceful_timeout, lifespan="on",
                    proxy_headers=False)
    # uvicorn re-raises the signal it shut down on; a quiet handler makes that a clean exit.
    previous = signal.signal(signal.SIGTERM, _ignore)
    try:
        if workers > 1:
            os.environ[_CONFIG_ENV] = json.dumps(options)
            uvicorn.run("numnet.serve.server:app_from_environment", factory=True,
                        workers=int(workers), **settings)
        else:
            uvicorn.run(create_app(repository, **_app_options(options)), **settings)
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


def _ignore(signum, frame):
    pass
