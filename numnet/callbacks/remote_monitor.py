"""`RemoteMonitor`: posts each epoch's logs to an HTTP server."""

import json
import urllib.error
import urllib.parse
import urllib.request
import warnings

import numpy as np

from numnet.callbacks.callback import Callback, is_chief


class RemoteMonitor(Callback):
    """Sends the epoch logs to `root + path` with an HTTP POST at the end of each epoch.

    The payload is `{"epoch": epoch, **logs}` as JSON: the body itself with
    `send_as_json=True` (content type `application/json`), else a form with
    the JSON under `field`. An unreachable server only gives a warning.
    Uses the standard library's HTTP client (Keras uses `requests`; the
    requests sent are the same).

    Args:
        root: the server's root URL, default "http://localhost:9000".
        path: the path under `root`, default "/publish/epoch/end/".
        field: the form field holding the JSON (form posts only), default "data".
        headers: extra HTTP headers (a dict).
        send_as_json: post the JSON as the body instead of a form.
    """

    # A monitor must never hang training: give up on a silent server after this.
    _TIMEOUT_SECONDS = 10

    def __init__(self, root="http://localhost:9000", path="/publish/epoch/end/", field="data",
                 headers=None, send_as_json=False):
        super().__init__()
        self.root = root
        self.path = path
        self.field = field
        self.headers = headers
        self.send_as_json = send_as_json

    def _payload(self, epoch, logs):
        send = {"epoch": epoch}
        for key, value in (logs or {}).items():
            # NumPy scalars and 0-d arrays are not JSON types: send their Python value.
            send[key] = value.item() if isinstance(value, (np.ndarray, np.generic)) else value
        return send

    def on_epoch_end(self, epoch, logs=None):
        if not is_chief():
            return  # rank 0 reports for a distributed job
        send = self._payload(epoch, logs)
        headers = dict(self.headers or {})
        try:
            if self.send_as_json:
                body = json.dumps(send, allow_nan=False).encode("utf-8")
                headers.setdefault("Content-Type", "application/json")
            else:
                body = urllib.parse.urlencode({self.field: json.dumps(send)}).encode("ascii")
                headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
            request = urllib.request.Request(self.root + self.path, data=body,
                                             headers=headers, method="POST")
            with urllib.request.urlopen(request, timeout=self._TIMEOUT_SECONDS) as response:
                response.read()
        except (OSError, ValueError):  # URLError, HTTPError, timeouts; NaN in JSON
            warnings.warn(f"Could not reach RemoteMonitor root server at {self.root}",
                          stacklevel=2)
