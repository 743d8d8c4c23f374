"""The `server` fixture: a playground server with at most four sessions."""

import pytest


@pytest.fixture
def server():
    pytest.importorskip("starlette", reason="the playground server needs the `playground` "
                                            "extra (the `test` extra has it)")
    pytest.importorskip("websockets", reason="the API tests' WebSocket client (`test` extra)")
    from playground_server import running_server
    with running_server(max_sessions=4) as running:
        yield running
