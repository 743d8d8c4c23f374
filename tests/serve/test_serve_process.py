"""`numnet serve` as a real process: graceful SIGTERM, --workers, the command line."""

import json
import signal
import socket
import sys
import threading
import time

import httpx
import numpy as np
import pytest

from numnet import cli


@pytest.fixture(scope="module")
def heavy_model(tmp_path_factory):
    """A model slow enough (a few hundred ms per 2,000 rows) to be caught mid-batch."""
    import numnet as keras
    keras.utils.set_random_seed(5)
    model = keras.Sequential([
        keras.layers.Input(shape=[4], name="features"),
        keras.layers.Dense(1024, activation="relu"), keras.layers.Dense(1024, activation="relu"),
        keras.layers.Dense(3, activation="softmax")])
    path = tmp_path_factory.mktemp("heavy") / "heavy.keras"
    model.save(path)
    return path, model


def _raw_request(port, path, body):
    """An HTTP/1.1 request over a raw socket: (socket, the part of the body not yet sent)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    half = len(body) // 2
    sock.sendall(head + body[:half])
    return sock, body[half:]


def _read_response(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, rest = data.split(b"\r\n\r\n", 1)
    status = int(head.split()[1])
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length"))
    while len(rest) < length:
        rest += sock.recv(65536)
    return status, json.loads(rest)


def _in_flight(url):
    text = httpx.get(f"{url}/metrics", timeout=10).text
    line = next(line for line in text.splitlines()
                if line.startswith("numnet_serve_requests_in_flight "))
    return float(line.split()[1]) - 1  # not counting this /metrics request


def _refuses_connections(port, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        except OSError:
            return True
        time.sleep(0.02)
    return False


def test_sigterm_finishes_in_flight_requests(heavy_model, server_process, rng):
    path, model = heavy_model
    server = server_process(path, "--name", "heavy").wait_ready()
    small = rng.standard_normal((3, 4)).astype(np.float32)
    big = rng.standard_normal((2000, 4)).astype(np.float32)
    # Request A is half sent when SIGTERM arrives; request B is in the model.
    sock, rest = _raw_request(server.port, "/v1/models/heavy:predict",
                              json.dumps({"instances": small.tolist()}).encode())
    results = {}

    def send_big():
        results["big"] = httpx.post(f"{server.url}/v2/models/heavy/infer", timeout=60, json={
            "inputs": [{"name": "features", "shape": [2000, 4], "datatype": "FP32",
                        "data": big.reshape(-1).tolist()}]})
    deadline = time.monotonic() + 60
    for _attempt in range(5):  # B may finish before a poll sees it in flight: send it again
        thread = threading.Thread(target=send_big)
        thread.start()
        while _in_flight(server.url) < 2 and thread.is_alive():
            assert time.monotonic() < deadline, "the two requests never reached the app"
            time.sleep(0.005)
        if thread.is_alive():
            break
        thread.join()
    else:
        raise AssertionError("request B never was in flight beside request A")
    server.process.send_signal(signal.SIGTERM)

    assert _refuses_connections(server.port), "new connections were still accepted"
    sock.sendall(rest)
    status, document = _read_response(sock)
    sock.close()
    thread.join(timeout=60)
    assert status == 200
    from threadpoolctl import threadpool_limits
    with threadpool_limits(1):  # the server's BLAS threads: large products round by thread
        expected_small, expected_big = model.predict(small, verbose=0), model.predict_on_batch(big)
    np.testing.assert_array_equal(np.float32(document["predictions"]), expected_small)
    assert results["big"].status_code == 200
    output = results["big"].json()["outputs"][0]
    np.testing.assert_array_equal(np.float32(output["data"]).reshape(2000, 3), expected_big)
    assert server.process.wait(timeout=30) == 0
    log = server.process.stdout.read()
    assert "Shutting down" in log and "Finished server process" in log


def test_workers(heavy_model, model_files, server_process, reference_models, rng):
    server = server_process(model_files["mlp"], "--workers", "2").wait_ready()
    x = rng.standard_normal((2, 4)).astype(np.float32)
    expected = reference_models["mlp"].predict(x, verbose=0)
    for _ in range(6):
        response = httpx.post(f"{server.url}/v1/models/mlp:predict", timeout=30,
                              json={"instances": x.tolist()})
        np.testing.assert_array_equal(np.float32(response.json()["predictions"]), expected)
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=30) == 0
    log = server.process.stdout.read()
    assert log.count("Started server process") == 2, log


def test_a_busy_port_is_a_clear_error(model_files, server_process):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = server_process(model_files["mlp"], port=taken.getsockname()[1])
        assert server.process.wait(timeout=60) == 1
        log = server.process.stdout.read()
    assert "address already in use" in log
    assert "numnet serve: error: the server could not start on 127.0.0.1:" in log


# ------------------------------------------------------------------ the command line
def test_help(capsys):
    assert cli.main(["serve", "--help"]) == 0
    text = capsys.readouterr().out
    for option in ("--name", "--port", "--host", "--max-batch-size", "--batch-timeout-ms",
                   "--workers", "--max-body-bytes", "--allow-nan", "--graceful-timeout"):
        assert option in text
    assert "TensorFlow Serving" in text and "127.0.0.1" in text
    defaults = cli.build_parser().parse_args(["serve", "m.keras"])
    assert (defaults.host, defaults.port, defaults.max_batch_size, defaults.batch_timeout_ms,
            defaults.workers) == ("127.0.0.1", 8501, 64, 2.0, 1)


def test_bad_arguments(tmp_path, capsys):
    assert cli.main(["serve", str(tmp_path / "missing.keras")]) == 2
    assert "No such model file or folder" in capsys.readouterr().err
    assert cli.main(["serve", str(tmp_path)]) == 1
    assert "cannot serve" in capsys.readouterr().err
    assert cli.main(["serve", str(tmp_path), "--max-batch-size", "0"]) == 2
    assert "expected a positive integer for --max-batch-size" in capsys.readouterr().err
    assert cli.main(["serve", str(tmp_path), "--batch-timeout-ms", "-1"]) == 2
    assert "expected a non-negative number for --batch-timeout-ms" in capsys.readouterr().err


def test_without_the_serve_extra(model_files, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if it were not installed
    assert cli.main(["serve", str(model_files["mlp"])]) == 1
    assert 'pip install "numnet[serve]"' in capsys.readouterr().err


def test_the_server_process_pins_blas_threads_and_freezes_start_up_objects():
    """What `serve` does to its process before serving, checked in a fresh interpreter."""
    import subprocess
    code = ("import gc, json, threadpoolctl\n"
            "from numnet.backend import get_num_threads\n"
            "from numnet.serve.server import limit_blas_threads, settle_memory\n"
            "before = [get_num_threads(), gc.get_freeze_count()]\n"
            "limited = limit_blas_threads(1)\n"
            "settle_memory()\n"
            "blas = [i['num_threads'] for i in threadpoolctl.threadpool_info()\n"
            "        if i['user_api'] == 'blas']\n"
            "print(json.dumps([before, limited, get_num_threads(), blas, gc.get_freeze_count()]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    before, limited, threads, blas, frozen = json.loads(done.stdout)
    assert before == [None, 0]
    assert limited and threads == 1 and blas and set(blas) == {1}
    assert frozen > 1000  # numnet's and numpy's objects, out of the collector's way
