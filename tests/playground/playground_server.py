"""Test helpers: a real playground server (uvicorn in a thread, on a free loopback
port) and a scripted tab that speaks its WebSocket protocol."""

import contextlib
import json
import threading
import time
import urllib.error
import urllib.request


@contextlib.contextmanager
def running_server(**options):
    """Serves `create_app(**options)` on 127.0.0.1; yields `(address, app)`."""
    from numnet.playground.server import build_server, create_app, listening_socket
    app = create_app(**options)
    sock = listening_socket("127.0.0.1", 0)
    server = build_server(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the playground server did not start")
        time.sleep(0.02)
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}", app
    finally:
        server.should_exit = True
        thread.join(20)
        sock.close()


def http(address, path, data=None, headers=None, method=None):
    """`(status, headers, body bytes)` of one request; errors are answers too."""
    request = urllib.request.Request(f"http://{address}{path}", data=data,
                                     headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


class Tab:
    """A scripted page: sends commands and acknowledges every frame, as the real page does."""

    def __init__(self, address, ack=True, **connect_options):
        from websockets.sync.client import connect
        self._connection = connect(f"ws://{address}/ws", open_timeout=20, **connect_options)
        self.socket = self._connection.__enter__()
        self.ack = ack
        self.session_id = None

    def send(self, **message):
        self.socket.send(json.dumps(message))

    def receive(self, timeout=20):
        message = json.loads(self.socket.recv(timeout=timeout))
        if message["type"] == "frame" and self.ack:
            self.send(type="ack", seq=message["seq"])
        if message["type"] == "session":
            self.session_id = message["id"]
        return message

    def until(self, kind, timeout=20):
        """Messages received up to and including the next one of type `kind`."""
        received = []
        deadline = time.monotonic() + timeout
        while not received or received[-1]["type"] != kind:
            received.append(self.receive(timeout=max(deadline - time.monotonic(), 0.01)))
        return received

    def hello(self, **state):
        self.send(type="hello", state=state)
        return {message["type"]: message for message in self.until("frame")}

    def close(self):
        self._connection.__exit__(None, None, None)
