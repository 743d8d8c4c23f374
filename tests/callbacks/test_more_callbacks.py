"""TerminateOnNaN(raise_error=...), RemoteMonitor (against a loopback server) and
SwapEMAWeights, with Keras 3.15's behaviour."""

import json
import threading
import urllib.parse
import warnings
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest

import numnet as keras


def _regression(seed=0, n=32):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype("float32")
    return x, (x @ np.array([[1.0], [-2.0], [0.5]], dtype="float32"))


def _model(optimizer):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=optimizer, loss="mse")
    return model


# ------------------------------------------------------------------- TerminateOnNaN
class _Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.train_ended = False

    def on_train_end(self, logs=None):
        self.train_ended = True


def _diverging_fit(callback, recorder):
    x, y = _regression()
    model = _model(keras.optimizers.SGD(learning_rate=1e6))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(x * 1e6, y, epochs=5, batch_size=4, verbose=0,
                         callbacks=[callback, recorder])


def test_terminate_on_nan_stops_gracefully_by_default(capsys):
    recorder = _Recorder()
    history = _diverging_fit(keras.callbacks.TerminateOnNaN(), recorder)
    assert len(history.epoch) < 5
    assert recorder.train_ended  # the other callbacks' cleanup ran
    assert "Invalid loss, terminating training" in capsys.readouterr().out


def test_terminate_on_nan_raise_error_skips_cleanup():
    recorder = _Recorder()
    callback = keras.callbacks.TerminateOnNaN(raise_error=True)
    assert callback.raise_error is True
    with pytest.raises(RuntimeError, match=r"NaN or Inf loss encountered at batch \d+"):
        _diverging_fit(callback, recorder)
    assert not recorder.train_ended


def test_terminate_on_nan_ignores_finite_losses():
    x, y = _regression()
    model = _model("sgd")
    history = model.fit(x, y, epochs=2, verbose=0,
                        callbacks=[keras.callbacks.TerminateOnNaN(raise_error=True)])
    assert history.epoch == [0, 1]


# -------------------------------------------------------------------- RemoteMonitor
class _Collector(BaseHTTPRequestHandler):
    received = []

    def do_POST(self):  # noqa: N802 (the http.server API)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append({"path": self.path, "body": body,
                                    "type": self.headers["Content-Type"],
                                    "token": self.headers.get("X-Token")})
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Collector.received = []
    httpd = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", _Collector.received
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_remote_monitor_posts_each_epoch_as_a_form(server):
    root, received = server
    x, y = _regression()
    model = _model("sgd")
    history = model.fit(x, y, epochs=2, verbose=0, validation_split=0.25,
                        callbacks=[keras.callbacks.RemoteMonitor(root=root,
                                                                 headers={"X-Token": "t"})])
    assert [r["path"] for r in received] == ["/publish/epoch/end/"] * 2
    assert received[0]["type"] == "application/x-www-form-urlencoded"
    assert received[0]["token"] == "t"
    for epoch, request in enumerate(received):
        form = urllib.parse.parse_qs(request["body"].decode())
        payload = json.loads(form["data"][0])
        assert payload["epoch"] == epoch
        assert set(payload) == {"epoch", "loss", "val_loss"}
        assert payload["loss"] == pytest.approx(history.history["loss"][epoch], rel=1e-6)


def test_remote_monitor_sends_json_with_numpy_values(server):
    root, received = server
    monitor = keras.callbacks.RemoteMonitor(root=root, path="/p", field="ignored",
                                            send_as_json=True)
    monitor.on_epoch_end(3, {"loss": np.float32(0.5), "acc": np.array(0.25), "n": 7})
    assert received[0]["type"] == "application/json"
    assert json.loads(received[0]["body"]) == {"epoch": 3, "loss": 0.5, "acc": 0.25, "n": 7}


def test_remote_monitor_warns_when_the_server_is_unreachable(server):
    root, _ = server
    dead = keras.callbacks.RemoteMonitor(root="http://127.0.0.1:9")  # discard port: closed
    with pytest.warns(UserWarning, match="Could not reach RemoteMonitor root server"):
        dead.on_epoch_end(0, {"loss": 1.0})


# ------------------------------------------------------------------- SwapEMAWeights
def _ema_model():
    keras.utils.set_random_seed(1)
    return _model(keras.optimizers.SGD(learning_rate=0.05, use_ema=True, ema_momentum=0.9))


def _averages(model):
    by_name = {v.name: v.numpy().copy() for v in model.optimizer.variables}
    return [by_name[w.path.replace("/", "_") + "_average"] for w in model.trainable_variables]


def test_swap_ema_weights_evaluates_with_the_averages_and_trains_on():
    x, y = _regression()
    model = _ema_model()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    trained = [w.numpy().copy() for w in model.trainable_variables]
    averages = _averages(model)
    swap = keras.callbacks.SwapEMAWeights()
    with_swap = model.evaluate(x, y, verbose=0, callbacks=[swap])
    for w, t in zip(model.trainable_variables, trained):
        np.testing.assert_array_equal(w.numpy(), t)  # swapped back afterwards
    for w, a in zip(model.trainable_variables, averages):
        w.assign(a)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(with_swap, rel=1e-6)
    for w, t in zip(model.trainable_variables, trained):
        w.assign(t)
    predicted = model.predict(x, verbose=0, callbacks=[swap])
    np.testing.assert_allclose(predicted, x @ averages[0] + averages[1], rtol=1e-5, atol=1e-6)
    for w, t in zip(model.trainable_variables, trained):
        np.testing.assert_array_equal(w.numpy(), t)


def test_swap_ema_weights_on_epoch_leaves_the_averages_in_the_model():
    x, y = _regression()
    model = _ema_model()
    seen = []
    probe = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append(model.trainable_variables[0].numpy().copy()))
    model.fit(x, y, epochs=2, batch_size=8, verbose=0,
              callbacks=[keras.callbacks.SwapEMAWeights(swap_on_epoch=True), probe])
    final_averages = _averages(model)
    np.testing.assert_array_equal(seen[-1], final_averages[0])
    np.testing.assert_array_equal(model.trainable_variables[0].numpy(), final_averages[0])


def test_swap_ema_weights_needs_use_ema():
    x, y = _regression()
    model = _model("sgd")
    with pytest.raises(ValueError, match="use_ema=True"):
        model.evaluate(x, y, verbose=0, callbacks=[keras.callbacks.SwapEMAWeights()])
