"""The numnet playground: watch a numnet network learn, live in the browser.

`numnet playground` (or `numnet.playground.serve()`) starts a local web
server with one page in the manner of TensorFlow Playground, driven by the
real numnet engine: the network on the page is a numnet `Sequential` model
trained by `Model.fit` (or a `TLU` trained by Rosenblatt's rule), it exports
to a `.keras` file and a Python snippet, and `.keras` files import back.

The server needs the optional extra: `pip install "numnet[playground]"`
(Starlette, uvicorn and wsproto). The data sets
(`numnet.playground.datasets`) and the training core
(`numnet.playground.engine`) need only numnet.
"""

__all__ = ["create_app", "serve"]


def create_app(**options):
    """The playground's ASGI application (see `numnet.playground.server.create_app`)."""
    from numnet.playground.server import create_app as create
    return create(**options)


def serve(host="127.0.0.1", port=8000, open_browser=False, **options):
    """Runs the playground server until interrupted (see `numnet.playground.server.serve`)."""
    from numnet.playground.server import serve as run
    return run(host=host, port=port, open_browser=open_browser, **options)
