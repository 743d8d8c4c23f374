"""Responses written in one piece: `numnet.serve.protocol`."""

import asyncio
import json
import socket

import numpy as np
import pytest

from numnet.serve import create_app, load_repository
from numnet.serve.protocol import (
    CoalescingH11Protocol, CoalescingTransport, coalescing_protocol,
)


class FakeTransport:
    """Records writes; closing and aborting are recorded too."""

    def __init__(self):
        self.writes, self.events = [], []
        self.closing = False

    def write(self, data):
        self.writes.append(bytes(data))

    def is_closing(self):
        return self.closing

    def close(self):
        self.events.append("close")
        self.closing = True

    def abort(self):
        self.events.append("abort")
        self.closing = True

    def get_write_buffer_size(self):
        return 0

    def get_extra_info(self, name, default=None):
        return {"peername": ("127.0.0.1", 1)}.get(name, default)


def _on_loop(steps):
    """Runs `steps(wrapper, fake)` on a fresh loop; returns (fake, what steps returned)."""
    async def main():
        fake = FakeTransport()
        wrapper = CoalescingTransport(fake, asyncio.get_running_loop())
        result = await steps(wrapper, fake)
        return fake, result
    return asyncio.run(main())


def test_a_head_and_its_body_go_out_as_one_write():
    async def steps(wrapper, fake):
        wrapper.write(b"HTTP/1.1 200 OK\r\n\r\n")
        assert fake.writes == []  # held back ...
        wrapper.write(b"body")
        return list(fake.writes)  # ... and sent with the next write, at once
    fake, seen = _on_loop(steps)
    assert seen == [b"HTTP/1.1 200 OK\r\n\r\nbody"] == fake.writes


def test_a_lone_write_waits_no_longer_than_the_loop_pass():
    async def steps(wrapper, fake):
        wrapper.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        assert wrapper.get_write_buffer_size() == 25
        held = list(fake.writes)
        await asyncio.sleep(0)
        return held
    fake, held = _on_loop(steps)
    assert held == [] and fake.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]


def test_close_flushes_and_abort_drops():
    async def closing(wrapper, fake):
        wrapper.write(b"bye")
        wrapper.close()
        await asyncio.sleep(0)
    fake, _ = _on_loop(closing)
    assert fake.writes == [b"bye"] and fake.events == ["close"]

    async def aborting(wrapper, fake):
        wrapper.write(b"lost")
        wrapper.abort()
        await asyncio.sleep(0)
    fake, _ = _on_loop(aborting)
    assert fake.writes == [] and fake.events == ["abort"]

    async def closed_by_peer(wrapper, fake):
        wrapper.write(b"late")
        fake.closing = True
        await asyncio.sleep(0)
        return wrapper.get_extra_info("peername")
    fake, peer = _on_loop(closed_by_peer)
    assert fake.writes == [] and peer == ("127.0.0.1", 1)


def test_the_protocol_class_is_the_one_uvicorn_would_pick():
    from uvicorn.protocols.http.h11_impl import H11Protocol
    try:
        import httptools  # noqa: F401
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as expected
    except ImportError:  # uvicorn falls back on h11
        expected = H11Protocol
    assert issubclass(coalescing_protocol(), expected)
    assert issubclass(CoalescingH11Protocol, H11Protocol)


@pytest.mark.parametrize("protocol", ["default", "h11"])
def test_served_responses_arrive_in_one_piece(model_files, serve_app, protocol):
    """Through uvicorn: the first recv after a request holds the whole response."""
    http = CoalescingH11Protocol if protocol == "h11" else None
    body = json.dumps({"instances": [[1.0, 2.0, 3.0, 4.0]]}).encode()
    request = (b"POST /v1/models/mlp:predict HTTP/1.1\r\nHost: x\r\nContent-Type: "
               b"application/json\r\nContent-Length: %d\r\n\r\n" % len(body)) + body
    with serve_app(create_app(load_repository(model_files["mlp"])), http=http) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
            for _ in range(5):  # keep-alive: every response on the connection
                sock.sendall(request)
                data = sock.recv(65536)
                head, _, rest = data.partition(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                assert head.startswith(b"HTTP/1.1 200") and len(rest) == length, data
                assert np.asarray(json.loads(rest)["predictions"]).shape == (1, 3)


@pytest.mark.parametrize("write", ["write", "writelines"])
def test_more_writes_keep_their_order(write):
    async def steps(wrapper, fake):
        for part in (b"a", b"b", b"c", b"d", b"e"):
            getattr(wrapper, write)(part if write == "write" else [part])
        await asyncio.sleep(0)
    fake, _ = _on_loop(steps)
    assert b"".join(fake.writes) == b"abcde" and len(fake.writes) == 3
