"""uvicorn's HTTP protocol, with each response's head and body sent in one TCP segment.

uvicorn writes a response's status line and headers as soon as the app sends
`http.response.start`, and the body with the next message: two writes, so
two TCP segments. On loopback each segment wakes the client, which parses
the head and goes back to sleep until the body comes; on a busy machine the
server is often preempted between the two (the woken client runs first),
and the body then waits for the server's next turn on a CPU. Measured on the
2-core project machine under load, this doubled the context switches per
request.

`coalescing_protocol()` is uvicorn's own protocol class (httptools' or h11's,
whichever uvicorn would use) whose transport holds back one write until the
next write or the end of the event loop's current pass, whichever comes
first: a head followed by its body goes out as one write, and nothing waits
longer than the pass that wrote it. Everything else is uvicorn's, unchanged;
`uvicorn.run(app, http=coalescing_protocol())` is its documented way to
choose the protocol class.
"""

import asyncio

from uvicorn.protocols.http.h11_impl import H11Protocol

try:
    import httptools  # noqa: F401  (uvicorn's httptools protocol needs it)
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # uvicorn then serves HTTP with h11
    HttpToolsProtocol = None


class CoalescingTransport(asyncio.Transport):
    """Wraps a transport: a write is held until the next write or the end of the loop pass.

    Args:
        transport: the connection's real transport.
        loop: the event loop the transport belongs to.
    """

    def __init__(self, transport, loop):
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._held = None

    def write(self, data):
        held = self._held
        if held is None:
            self._held = bytes(data)
            self._loop.call_soon(self.flush)
        else:
            self._held = None
            self._transport.write(held + data)

    def flush(self):
        """Writes what is held back, if anything (the transport is still open)."""
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def writelines(self, list_of_data):
        self.write(b"".join(list_of_data))

    def write_eof(self):
        self.flush()
        self._transport.write_eof()

    def can_write_eof(self):
        return self._transport.can_write_eof()

    def close(self):
        self.flush()
        self._transport.close()

    def abort(self):
        self._held = None
        self._transport.abort()

    def is_closing(self):
        return self._transport.is_closing()

    def get_write_buffer_size(self):
        return self._transport.get_write_buffer_size() + len(self._held or b"")

    def get_write_buffer_limits(self):
        return self._transport.get_write_buffer_limits()

    def set_write_buffer_limits(self, high=None, low=None):
        self._transport.set_write_buffer_limits(high, low)

    def pause_reading(self):
        self._transport.pause_reading()

    def resume_reading(self):
        self._transport.resume_reading()

    def is_reading(self):
        return self._transport.is_reading()

    def set_protocol(self, protocol):
        self._transport.set_protocol(protocol)

    def get_protocol(self):
        return self._transport.get_protocol()

    def get_extra_info(self, name, default=None):
        return self._transport.get_extra_info(name, default)


class _Coalescing:
    """Mixed in before uvicorn's protocol class: hands it a `CoalescingTransport`."""

    def connection_made(self, transport):
        super().connection_made(CoalescingTransport(transport, asyncio.get_running_loop()))


class CoalescingH11Protocol(_Coalescing, H11Protocol):
    """uvicorn's h11 protocol with coalesced writes."""


if HttpToolsProtocol is not None:
    class CoalescingHttpToolsProtocol(_Coalescing, HttpToolsProtocol):
        """uvicorn's httptools protocol with coalesced writes."""


def coalescing_protocol():
    """The protocol class uvicorn's `http="auto"` would pick (httptools', else h11's), coalescing."""
    return CoalescingH11Protocol if HttpToolsProtocol is None else CoalescingHttpToolsProtocol
