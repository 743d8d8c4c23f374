"""The playground server's endpoints, on a real uvicorn server on loopback:
every route, bad input of every kind, limits, many sessions, reaping, temp files."""

import base64
import gc
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette", reason="the playground server needs the `playground` extra "
                                        "(the `test` extra has it)")
pytest.importorskip("websockets", reason="the API tests' WebSocket client (`test` extra)")
pytest.importorskip("h5py", reason="the .keras format needs h5py (the `test` extra has it)")

import numnet  # noqa: E402
from numnet.playground import datasets  # noqa: E402
from numnet.playground.engine import grid_points  # noqa: E402
from numnet.playground.server import MAX_CSV_BYTES, MAX_MODEL_BYTES  # noqa: E402
from playground_server import Tab, http, running_server  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def output_of(frame):
    return np.frombuffer(base64.b64decode(frame["output"]), dtype="<f4")


def wait_for(condition, timeout=10):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


# ---------------------------------------------------------------- the page and its files
def test_page_and_every_asset_come_from_the_server(server):
    address, _ = server
    status, headers, body = http(address, "/")
    page = body.decode()
    assert status == 200 and "numnet playground" in page
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    references = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert references and all(ref.startswith("/static/") or ref == "#" for ref in references)
    scripts = {"playground.js"}
    seen = set()
    while scripts:  # follow the ES module imports
        name = scripts.pop()
        seen.add(name)
        status, headers, body = http(address, f"/static/{name}")
        assert status == 200 and "javascript" in headers["Content-Type"]
        scripts |= set(re.findall(r'from "\./([\w.]+)"', body.decode())) - seen
    assert seen == {"playground.js", "draw.js", "network.js"}
    for ref in references:
        assert http(address, ref)[0] == 200
    for name in seen | {"playground.css"}:
        text = http(address, f"/static/{name}")[2].decode()
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text)  # no CDN
    assert http(address, "/static/nothing.js")[0] == 404
    assert http(address, "/static/../server.py")[0] == 404


def test_requests_for_another_host_are_refused(server):
    address, _ = server
    assert http(address, "/", headers={"Host": "evil.example"})[0] == 400
    assert http(address, "/api/status", headers={"Host": "localhost"})[0] == 200


def test_status(server):
    address, _ = server
    status, _, body = http(address, "/api/status")
    assert status == 200 and json.loads(body) == {"sessions": 0, "maxSessions": 4,
                                                  "idleTimeout": 900.0,
                                                  "maxCsvBytes": MAX_CSV_BYTES,
                                                  "maxModelBytes": MAX_MODEL_BYTES}


# ---------------------------------------------------------------- the WebSocket commands
def test_hello_sends_session_state_network_and_frame(server):
    tab = Tab(server[0])
    tab.send(type="hello", state={"dataset": "spiral", "layers": "8,8", "noise": "10"})
    kinds = [message["type"] for message in tab.until("frame")]
    assert kinds == ["session", "state", "network", "frame"]
    tab.send(type="hello", state={"dataset": "xor"})
    messages = {message["type"]: message for message in tab.until("frame")}
    state = messages["state"]["state"]
    assert state["dataset"] == "xor" and state["layers"] == [4, 2]  # a link is a whole state
    assert messages["state"]["query"]["dataset"] == "xor"
    assert messages["network"]["layers"] == [4, 2] and len(messages["network"]["train"]) == 250
    assert len(output_of(messages["frame"])) == 100 * 100
    assert set(messages["session"]["thumbnails"]) == {"circle", "xor", "gauss", "spiral",
                                                      "plane", "multigauss"}
    tab.close()


def test_a_link_with_bad_settings_opens_with_messages(server):
    tab = Tab(server[0])
    messages = tab.hello(layers="9,9", learningRate="-1", colour="blue", noise="20",
                         dataset="csv")
    state = messages["state"]["state"]
    fields = sorted(error["field"] for error in messages["state"]["errors"])
    assert fields == ["colour", "dataset", "layers", "learningRate"]
    assert state["noise"] == 20 and state["layers"] == [4, 2] and state["dataset"] == "circle"
    tab.close()


def test_set_applies_valid_settings_and_refuses_bad_ones(server):
    tab = Tab(server[0])
    tab.hello()
    tab.send(type="set", changes={"dataset": "gauss", "layers": [3]})
    messages = {m["type"]: m for m in tab.until("frame")}
    assert messages["network"]["layers"] == [3] and messages["state"]["state"]["dataset"] == "gauss"
    tab.send(type="set", changes={"learningRate": 0.3})  # live: no new network
    assert tab.receive()["type"] == "state"
    for changes, field in [({"layers": [1, 2, 3, 4, 5, 6, 7]}, "layers"),
                           ({"batchSize": -1}, "batchSize"), ({"learningRate": "fast"},
                                                              "learningRate"),
                           ({"mode": "perceptron", "problem": "regression"}, "mode"),
                           ({"nonsense": 1}, "nonsense"), ("layers=3", None)]:
        tab.send(type="set", changes=changes)
        error, state = tab.receive(), tab.receive()
        assert error["type"] == "error" and error["field"] == field, error
        assert state["type"] == "state" and state["state"]["layers"] == [3]
    tab.close()


def test_malformed_and_unknown_messages_get_an_error_and_the_session_lives_on(server):
    tab = Tab(server[0])
    tab.send(type="play")
    assert "say hello first" in tab.receive()["message"]
    tab.socket.send("this is not JSON")
    assert tab.receive()["message"] == "the message is not JSON"
    tab.socket.send("[1, 2]")
    assert "JSON object" in tab.receive()["message"]
    tab.socket.send("[" * 60000)
    assert tab.receive()["message"] == "the message is not JSON"
    tab.socket.send(json.dumps({"type": "hello", "padding": "x" * 70000}))
    assert "message too long" in tab.receive()["message"]
    tab.socket.send(b"\x00\x01 binary")
    assert tab.receive()["type"] == "error"
    tab.hello()
    tab.send(type="explode")
    assert tab.receive()["message"] == "unknown command 'explode'"
    tab.send(type="step")
    assert tab.until("frame")[-1]["epoch"] == 1
    tab.close()


def test_play_streams_frames_no_faster_than_the_page_draws(server):
    tab = Tab(server[0], ack=False)
    messages = tab.hello()
    tab.send(type="ack", seq=messages["frame"]["seq"])
    tab.send(type="play")
    assert tab.receive()["playing"] is True
    first = tab.receive()
    assert first["type"] == "frame" and first["epoch"] <= 1  # a busy machine may split it
    with pytest.raises(TimeoutError):  # nothing more until the page has drawn it
        tab.receive(timeout=0.5)
    epochs = [first["epoch"]]
    while epochs[-1] < 3 and len(epochs) < 100:
        tab.send(type="ack", seq=first["seq"])
        first = tab.receive()
        epochs.append(first["epoch"])
    assert epochs == sorted(epochs) and epochs[-1] == 3
    assert first["updateMs"] > 0 and first["trainLoss"] > 0
    tab.send(type="pause")
    tab.send(type="ack", seq=first["seq"])
    while True:  # a frame computed before the pause may still arrive
        message = tab.receive()
        if message["type"] == "state":
            assert message["playing"] is False
            break
    tab.close()


def test_step_reset_and_weight_edits(server):
    tab = Tab(server[0])
    tab.hello()
    tab.send(type="step")
    frame, state = tab.until("state")
    assert frame["epoch"] == 1 and state["playing"] is False
    tab.send(type="set_weight", layer=0, source=1, target=2, value=1.5)
    frame = tab.receive()
    assert frame["type"] == "frame" and frame["weights"][0][1][2] == 1.5
    tab.send(type="set_weight", bias=True, layer=2, target=0, value=-2)
    assert tab.receive()["biases"][2][0] == -2
    for bad in [{"layer": 5, "source": 0, "target": 0, "value": 1},
                {"layer": 0, "source": 0, "target": 0, "value": "big"},
                {"layer": 0, "source": 0, "target": 0, "value": 1e9}]:
        tab.send(type="set_weight", **bad)
        error = tab.receive()
        assert error["type"] == "error" and error["field"] == "weight"
        assert tab.receive()["type"] == "state"
    tab.send(type="reset")
    frame = tab.until("frame")[-1]
    assert frame["epoch"] == 0 and frame["weights"][0][1][2] != 1.5
    tab.close()


def test_cross_origin_pages_cannot_connect(server):
    from websockets.exceptions import InvalidStatus
    with pytest.raises(InvalidStatus):
        Tab(server[0], origin="http://evil.example")
    tab = Tab(server[0], origin=f"http://{server[0]}")  # the playground's own page
    tab.hello()
    tab.close()


# ---------------------------------------------------------------- files in and out
def test_export_keras_predicts_the_frame_and_snippet(server):
    address, _ = server
    tab = Tab(address)
    tab.hello(dataset="spiral", features="x1,x2,sinx1", layers="5,5")
    tab.send(type="step")
    frame = tab.until("frame")[-1]
    status, headers, body = http(address, f"/api/sessions/{tab.session_id}/model.keras")
    assert status == 200 and 'filename="playground-spiral.keras"' in \
        headers["Content-Disposition"]
    assert zipfile.is_zipfile(io.BytesIO(body))
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        with open(path, "wb") as file:
            file.write(body)
        model = numnet.models.load_model(path)
    grid = datasets.feature_matrix(grid_points(datasets.DOMAIN), ["x1", "x2", "sinx1"])
    np.testing.assert_array_equal(model.predict(grid, batch_size=len(grid), verbose=0)[:, 0],
                                  output_of(frame))
    status, headers, body = http(address, f"/api/sessions/{tab.session_id}/snippet.py")
    assert status == 200 and b"EPOCHS = 1" in body and b'"spiral"' in body
    assert "Content-Disposition" not in headers
    _, headers, _ = http(address, f"/api/sessions/{tab.session_id}/snippet.py?download=1")
    assert 'filename="playground_network.py"' in headers["Content-Disposition"]
    for path in ("model.keras", "snippet.py"):
        status, _, body = http(address, f"/api/sessions/no-such-session/{path}")
        assert status == 404 and b"no such session" in body
    tab.close()


def test_csv_upload(server):
    address, _ = server
    tab = Tab(address)
    tab.hello()
    url = f"/api/sessions/{tab.session_id}/data"
    rows = "x1,x2,label\n" + "".join(f"{x:.2f},{x / 2:.2f},{int(x > 0)}\n"
                                      for x in np.linspace(-5, 5, 30))
    status, _, body = http(address, url, rows.encode())
    assert status == 200 and json.loads(body)["state"]["dataset"] == "csv"
    messages = {m["type"]: m for m in tab.until("frame")}
    assert len(messages["network"]["train"]) + len(messages["network"]["test"]) == 30
    for data, code, message in [
            (b"1,2,1\n1,2\n3,4,0\n5,6,1\n", 400, b"line 2"),
            (b"1,2,7\n3,4,0\n5,6,1\n7,8,0\n", 400, b"labels must be 0/1"),
            (b"\xff\xfe\x00", 400, b"not UTF-8"),
            (b"1,2,1\n" * (MAX_CSV_BYTES // 6 + 10), 413, b"larger than the limit")]:
        status, _, body = http(address, url, data)
        assert status == code and message in body, body
    assert http(address, "/api/sessions/nobody/data", b"1,2,1\n")[0] == 404
    assert http(address, url)[0] == 405  # uploads are POSTed
    tab.close()


def test_keras_import(server):
    address, _ = server
    tab = Tab(address)
    tab.hello()
    url = f"/api/sessions/{tab.session_id}/model"
    data = (FIXTURES / "keras_multigauss_all_features.keras").read_bytes()
    status, _, body = http(address, url, data)
    assert status == 200, body
    messages = {m["type"]: m for m in tab.until("frame")}
    assert messages["network"]["imported"] and messages["network"]["problem"] == "regression"
    expected = np.load(FIXTURES / "keras_multigauss_all_features.npz")["predictions"][:, 0]
    np.testing.assert_allclose(output_of(messages["frame"]), expected, rtol=1e-5, atol=1e-6)
    for data, code, message in [(b"PK\x03\x04 broken zip", 400, b"not a model file"),
                                (b"hello", 400, b"not a model file"),
                                (b"0" * (MAX_MODEL_BYTES + 1), 413, b"larger than the limit")]:
        status, _, body = http(address, url, data)
        assert status == code and message in body, body
    status, _, body = http(address, url, b"1" * 10, headers={"Content-Length": "99999999"})
    assert status == 413 and b"larger than the limit" in body  # refused before reading
    tab.close()


def test_files_are_written_only_in_a_temporary_folder(monkeypatch, tmp_path):
    temp = tmp_path / "temp"
    work = tmp_path / "work"
    temp.mkdir()
    work.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.chdir(work)
    with running_server() as (address, _):
        tab = Tab(address)
        tab.hello()
        body = http(address, f"/api/sessions/{tab.session_id}/model.keras")[2]
        assert http(address, f"/api/sessions/{tab.session_id}/model", body)[0] == 200
        tab.until("frame")
        inside = [p for p in temp.rglob("*")]
        assert len(inside) == 1 and inside[0].name.startswith("numnet-playground-")
        tab.close()
    assert list(temp.iterdir()) == [] and list(work.iterdir()) == []


# ---------------------------------------------------------------- sessions
def test_many_sessions_are_independent_and_bounded(server):
    address, app = server
    datasets_ = ["circle", "xor", "gauss", "spiral"]
    tabs = [Tab(address) for _ in datasets_]
    for tab, name in zip(tabs, datasets_):
        tab.hello(dataset=name, seed="3")
        tab.send(type="play")
    epochs = {}
    deadline = time.monotonic() + 30
    while min(epochs.get(i, 0) for i in range(4)) < 3 and time.monotonic() < deadline:
        for i, tab in enumerate(tabs):  # every tab is served while all four play
            message = tab.receive()
            if message["type"] == "frame":
                epochs[i] = message["epoch"]
    assert min(epochs.values()) >= 3
    extra = Tab(address)
    refusal = extra.receive()
    assert refusal["type"] == "closed" and "already runs 4 sessions" in refusal["message"]
    assert json.loads(http(address, "/api/status")[2])["sessions"] == 4
    sessions = list(app.state.manager.sessions.values())
    assert len({session.playground.state["dataset"] for session in sessions}) == 4
    tabs[0].close()
    assert wait_for(lambda: len(app.state.manager.sessions) == 3)
    replacement = Tab(address)
    assert replacement.hello()["state"]["state"]["dataset"] == "circle"
    for tab in tabs[1:] + [replacement]:
        tab.close()
    assert wait_for(lambda: not app.state.manager.sessions)
    assert all(session.closed and not session.playing for session in sessions)


def test_a_closed_tab_stops_its_training(server):
    address, app = server
    tab = Tab(address)
    tab.hello(layers="8,8,8,8,8,8")
    tab.send(type="play")
    tab.until("frame")
    session = next(iter(app.state.manager.sessions.values()))
    tab.close()
    assert wait_for(lambda: session.closed and not app.state.manager.sessions)
    trainer = session.playground.trainer

    def settled():
        # The update running in the worker when the tab closed may still end its epoch;
        # after it, no epoch follows (a loop that kept training would never settle).
        epoch = trainer.epoch
        time.sleep(0.3)
        return trainer.epoch == epoch
    assert wait_for(settled, timeout=5)
    epoch = trainer.epoch
    time.sleep(0.3)
    assert trainer.epoch == epoch


def test_memory_stays_bounded_over_many_sessions(server):
    address, app = server

    def one_session():
        tab = Tab(address)
        tab.hello(dataset="spiral", layers="8,8,8,8,8,8", points="1000")
        tab.close()
        assert wait_for(lambda: not app.state.manager.sessions)

    for _ in range(2):  # warm up caches and name counters
        one_session()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(8):
            one_session()
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    print(f"memory kept after 8 closed sessions: {grown} bytes")
    assert grown < 512 * 1024, f"{grown} bytes kept after 8 closed sessions"  # one: ~200 KB


def test_idle_sessions_are_reaped():
    with running_server(idle_timeout=0.3, reap_interval=0.1) as (address, app):
        tab = Tab(address)
        tab.hello()
        message = tab.until("closed", timeout=10)[-1]
        assert "without activity" in message["message"]
        assert wait_for(lambda: not app.state.manager.sessions)


def test_session_manager_refuses_bad_limits():
    from numnet.playground.sessions import SessionManager
    for options in ({"max_sessions": 0}, {"idle_timeout": 0}, {"update_budget": -1}):
        with pytest.raises(ValueError):
            SessionManager(**options)


# ---------------------------------------------------------------- the command line
def _numnet(*args, **options):
    return subprocess.run([sys.executable, "-m", "numnet", *args], capture_output=True,
                          text=True, timeout=60, **options)


def test_cli_refuses_bad_ports_and_addresses():
    result = _numnet("playground", "--port", "70000")
    assert result.returncode == 2 and "0 to 65535" in result.stderr
    result = _numnet("playground", "--port", "-1")
    assert result.returncode == 2
    result = _numnet("playground", "--host", "203.0.113.7", "--port", "0")
    assert result.returncode == 1 and "cannot serve on 203.0.113.7" in result.stderr


def test_cli_names_the_extra_when_the_web_stack_is_missing():
    code = ("import sys; sys.modules['starlette'] = None; from numnet.cli import main; "
            "sys.exit(main(['playground', '--port', '0']))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1 and 'pip install "numnet[playground]"' in result.stderr


def test_cli_serves_until_interrupted():
    process = subprocess.Popen([sys.executable, "-m", "numnet", "playground", "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        address = re.search(r"http://(127\.0\.0\.1:\d+)/", line).group(1)
        assert http(address, "/")[0] == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
        assert "stopped" in process.stdout.read() and "Traceback" not in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()
