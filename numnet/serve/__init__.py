"""`numnet serve`: a prediction server speaking TensorFlow Serving's REST API and OIP v2.

```bash
pip install "numnet[serve]"
numnet serve runs/fashion/model.keras --name fashion     # http://127.0.0.1:8501
curl -d '{"instances": [[[0.0, ...], ...]]}' localhost:8501/v1/models/fashion:predict
```

Parts, from the bottom up (only `app` and `server` need Starlette/uvicorn):

- `model`: `LoadedModel`, the interface the server needs of a model (name,
  version, input/output specs, `predict(dict) -> dict`); `KerasModel` for
  `.keras` files.
- `repository`: finds models and versions on disk (TensorFlow Serving's
  `NAME/1/`, `NAME/2/` layout); `register_format` plugs in other formats.
- `codec`: request JSON to checked arrays and arrays to response JSON.
- `batching`: `MicroBatcher`, which merges concurrent requests into batches.
- `metrics`: Prometheus text format.
- `app`: the Starlette app (`create_app`); `server`: `serve()` with uvicorn.
"""

from numnet.serve.model import FunctionModel, KerasModel, LoadedModel, TensorSpec
from numnet.serve.repository import (
    ModelNotFoundError, ModelRepository, load_repository, register_format,
)


def create_app(repository, **kwargs):
    """The ASGI app serving `repository`; see `numnet.serve.app.create_app`."""
    from numnet.serve.app import create_app as create
    return create(repository, **kwargs)


def serve(path, **kwargs):
    """Serves the models at `path` until SIGTERM; see `numnet.serve.server.serve`."""
    from numnet.serve.server import serve as run
    return run(path, **kwargs)


__all__ = [
    "FunctionModel", "KerasModel", "LoadedModel", "ModelNotFoundError", "ModelRepository",
    "TensorSpec", "create_app", "load_repository", "register_format", "serve",
]
