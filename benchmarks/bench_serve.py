"""`numnet serve` under load: one-sample `:predict` requests to the textbook classifier.

Starts `numnet serve` in a subprocess on 127.0.0.1 (a free port) serving the
textbook Fashion-MNIST classifier (Flatten -> Dense(300, relu) ->
Dense(100, relu) -> Dense(10, softmax)) and drives it with an async HTTP
client (aiohttp when installed, else httpx), every request one real test
image in TF Serving's row format. Measures:

- latency with 1 client: p50 / p99 / max over `--requests` sequential
  requests (after a warm-up), timed by the client from sending to the end of
  the response body; once with the async client and once with the standard
  library's blocking `http.client` (a cheaper client, so that the client's
  own share of the latency shows);
- throughput (requests per second) with 1, 8 and 64 concurrent clients, each
  sending its next request as soon as the last is answered, for `--seconds`
  per setting, with micro-batching on (`--max-batch-size 64
  --batch-timeout-ms 2`, the defaults) and off (`--max-batch-size 1`): two
  servers, measured alternately in `--rounds` rounds, medians reported, so
  that a change in the machine's load hits both alike;
- where the CPU time of a request goes, in this process without HTTP: the
  model on one row and per row of a 64-row batch, and the app's own work per
  request (JSON to array, batching, the JSON answer, metrics) with a model
  that costs nothing. With the server's measured CPU per request these bound
  what batching can gain (printed last).

Everything runs on loopback, bounded in time (a few seconds per setting) and
in requests. The server and the load generator share this machine's CPUs, as
do any other programs: the script prints how busy the CPUs were with other
work during each setting (from /proc/stat), so numbers taken under load can
be told apart.

    python benchmarks/bench_serve.py [--rounds 3] [--seconds 3] [--requests 3000] [--json out.json]

Needs `pip install "numnet[serve]" aiohttp` (or httpx).
"""

import argparse
import asyncio
import gc
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


# ------------------------------------------------------------------ the model and requests
TEXTBOOK_HIDDEN = (300, 100)


def save_model(path, hidden=TEXTBOOK_HIDDEN, seed=42):
    """The textbook classifier, briefly trained on real images so outputs are meaningful.

    `hidden` gives the widths of the ReLU layers (the textbook's 300 and 100
    by default; wider ones make a model whose calls cost more).
    """
    import numnet as keras
    keras.utils.set_random_seed(seed)
    images = load_images()
    model = keras.Sequential(
        [keras.layers.Input(shape=[28, 28]), keras.layers.Flatten()]
        + [keras.layers.Dense(width, activation="relu") for width in hidden]
        + [keras.layers.Dense(10, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    model.fit(images[0][:2000], images[1][:2000], epochs=1, verbose=0)
    model.save(path)
    return images


def load_images():
    from numnet.datasets import fashion_mnist
    try:
        (x, y), _ = fashion_mnist.load_data()
    except Exception:  # no full data here: the real sample shipped with numnet
        (x, y), _ = fashion_mnist.load_data(sample=True)
    return (x / np.float32(255.0)).astype(np.float32), y


def request_bodies(images, count=256):
    """`count` one-image `{"instances": [...]}` bodies, pixel values rounded to 4 decimals."""
    return [json.dumps({"instances": [np.round(image, 4).tolist()]}).encode()
            for image in images[:count]]


# ------------------------------------------------------------------ the server
def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`numnet serve` in a subprocess, stopped with SIGTERM."""

    def __init__(self, model_path, max_batch_size, batch_timeout_ms, workers=1):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.predict_url = f"{self.url}/v1/models/fashion:predict"
        command = [sys.executable, "-m", "numnet", "serve", model_path, "--name", "fashion",
                   "--port", str(self.port), "--max-batch-size", str(max_batch_size),
                   "--batch-timeout-ms", str(batch_timeout_ms), "--workers", str(workers),
                   "--log-level", "warning"]
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the server exited with {self.process.returncode}")
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("the server did not start within 60 s")

    def batch_totals(self):
        """(rows, batches, batches run on the event loop) so far, from the server's /metrics."""
        import urllib.request
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=10) as response:
            text = response.read().decode()
        totals = {}
        for line in text.splitlines():
            name = line.split("{", 1)[0]
            if name == "numnet_serve_model_calls_total" and 'where="event_loop"' in line:
                name = "inline"
            if name in ("numnet_serve_batch_size_sum", "numnet_serve_batch_size_count",
                        "inline"):
                totals[name] = totals.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
        return (totals.get("numnet_serve_batch_size_sum", 0.0),
                totals.get("numnet_serve_batch_size_count", 0.0), totals.get("inline", 0.0))

    def cpu_seconds(self):
        with open(f"/proc/{self.process.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def cpu_busy_seconds():
    """CPU seconds all processes on the machine have used (from /proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------ the load generator
class Client:
    """One HTTP client session (aiohttp if installed, else httpx), reused for every request.

    The aiohttp session does no more per request than a load generator needs:
    no cookie jar, no automatic User-Agent/Accept headers, no decompression,
    no per-request timer (each measurement is bounded as a whole instead).
    """

    def __init__(self, connections):
        try:
            import aiohttp
            import yarl
            self.kind = f"aiohttp {aiohttp.__version__}"
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=connections),
                timeout=aiohttp.ClientTimeout(total=None), cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"))
            self._url = yarl.URL
            self._post = self._aiohttp_post
        except ImportError:
            import httpx
            self.kind = f"httpx {httpx.__version__}"
            self._session = httpx.AsyncClient(
                limits=httpx.Limits(max_connections=connections), timeout=30)
            self._url = str
            self._post = self._httpx_post
        self._urls = {}

    async def _aiohttp_post(self, url, body):
        async with self._session.post(url, data=body, headers=_JSON_HEADERS) as response:
            content = await response.read()
            return response.status, content

    async def _httpx_post(self, url, body):
        response = await self._session.post(url, content=body, headers=_JSON_HEADERS)
        return response.status_code, response.content

    async def post(self, url, body):
        parsed = self._urls.get(url)
        if parsed is None:
            parsed = self._urls[url] = self._url(url)
        status, content = await self._post(parsed, body)
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {content[:200]!r}")
        return content

    async def close(self):
        if hasattr(self._session, "aclose"):
            await self._session.aclose()
        else:
            await self._session.close()


_JSON_HEADERS = {"Content-Type": "application/json"}
# Each measurement as a whole must end within this many seconds.
MEASUREMENT_LIMIT = 300


def blocking_latency(url, bodies, requests, warmup):
    """Seconds per sequential request (sorted), one client: the standard library's http.client."""
    import http.client
    import urllib.parse
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port,
                                            timeout=MEASUREMENT_LIMIT)
    times = []
    try:
        for i in range(warmup + requests):
            started = time.perf_counter()
            connection.request("POST", parts.path, bodies[i % len(bodies)], _JSON_HEADERS)
            response = connection.getresponse()
            content = response.read()
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}: {content[:200]!r}")
            if i >= warmup:
                times.append(time.perf_counter() - started)
    finally:
        connection.close()
    return sorted(times)


async def measure_latency(url, bodies, requests, warmup):
    """Seconds per sequential request (sorted), one client."""
    client = Client(1)
    try:
        for i in range(warmup):
            await client.post(url, bodies[i % len(bodies)])
        times = []
        for i in range(requests):
            started = time.perf_counter()
            await client.post(url, bodies[i % len(bodies)])
            times.append(time.perf_counter() - started)
    finally:
        await client.close()
    return sorted(times)


async def measure_throughput(url, bodies, clients, seconds, warmup_seconds, max_requests):
    """(requests per second, requests sent including the warm-up) with `clients` in a loop."""
    session = Client(clients)
    done = total = 0
    counting = False
    stop_at = None

    async def one_client(index):
        nonlocal done, total
        i = index
        while time.perf_counter() < stop_at and done < max_requests:
            await session.post(url, bodies[i % len(bodies)])
            i += clients
            total += 1
            if counting:
                done += 1

    try:
        stop_at = time.perf_counter() + warmup_seconds
        await asyncio.gather(*(one_client(i) for i in range(clients)))
        counting, done = True, 0
        started = time.perf_counter()
        stop_at = started + seconds
        await asyncio.gather(*(one_client(i) for i in range(clients)))
        elapsed = time.perf_counter() - started
    finally:
        await session.close()
    return done / elapsed, total


def run_async(coroutine):
    """Runs `coroutine` (at most MEASUREMENT_LIMIT seconds) on a fresh event loop.

    uvloop's loop when installed: cheaper per request than asyncio's.
    """
    bounded = asyncio.wait_for(coroutine, MEASUREMENT_LIMIT)
    try:
        import uvloop
    except ImportError:
        return asyncio.run(bounded)
    loop = uvloop.new_event_loop()
    try:
        return loop.run_until_complete(bounded)
    finally:
        loop.close()


# ------------------------------------------------------------------ the run
class Meter:
    """CPU used by the server, by this process and by everything else, over one measurement."""

    def __init__(self, server):
        self.server = server
        self.start = (cpu_busy_seconds(), server.cpu_seconds(), time.process_time(),
                      time.perf_counter(), server.batch_totals())

    def read(self, requests):
        busy0, server0, client0, wall0, (rows0, batches0, inline0) = self.start
        wall = time.perf_counter() - wall0
        server = self.server.cpu_seconds() - server0
        client = time.process_time() - client0
        rows, batches, inline = self.server.batch_totals()
        calls = max(batches - batches0, 1)
        return {"server_cpu_us": 1e6 * server / requests, "client_cpu_us": 1e6 * client / requests,
                "other_load": max(0.0, (cpu_busy_seconds() - busy0 - server - client) / wall),
                "rows_per_call": (rows - rows0) / calls, "inline": (inline - inline0) / calls}


def run_rounds(args, servers, bodies):
    """Every (setting, clients) measured once per round, settings interleaved within a round."""
    results = {label: {"latency": [], "blocking": [], **{c: [] for c in args.clients}}
               for label in servers}
    per_round = args.requests // args.rounds
    for round_index in range(args.rounds):
        for label, server in servers.items():
            if label == "batching on" or args.latency_without_batching:
                results[label]["latency"].extend(run_async(measure_latency(
                    server.predict_url, bodies, per_round, args.warmup_requests)))
                results[label]["blocking"].extend(blocking_latency(
                    server.predict_url, bodies, per_round, args.warmup_requests))
        for clients in args.clients:
            for label, server in servers.items():
                meter = Meter(server)
                rps, sent = run_async(measure_throughput(
                    server.predict_url, bodies, clients, args.seconds, args.warmup_seconds,
                    args.max_requests))
                results[label][clients].append({"rps": rps, **meter.read(sent)})
        print(f"round {round_index + 1}/{args.rounds} done, load average "
              f"{os.getloadavg()[0]:.2f}", flush=True)
    return results


def _percentile(sorted_times, q):
    return 1e3 * sorted_times[min(len(sorted_times) - 1, int(q * len(sorted_times)))]


def summarize(results, clients):
    """Medians over rounds, printed as tables; returns them as a dict."""
    summary = {}
    print(f"\n{'setting':14s} {'clients':>7s} {'req/s':>8s} {'rounds (req/s)':>28s} "
          f"{'rows/call':>9s} {'on loop':>7s} {'server us/req':>13s} {'client us/req':>13s} "
          f"{'req/CPU-s':>9s} {'other load':>10s}")
    for label, by_clients in results.items():
        summary[label] = {}
        for key in ("latency", "blocking"):
            times = sorted(by_clients[key])
            if times:
                summary[label][f"{key}_ms"] = {"p50": _percentile(times, 0.50),
                                               "p99": _percentile(times, 0.99),
                                               "max": 1e3 * times[-1], "requests": len(times)}
        for c in clients:
            rounds = by_clients[c]
            median = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
            summary[label][c] = median
            per_round = " ".join(f"{r['rps']:.0f}" for r in rounds)
            # Requests per CPU-second of server and client together: what one busy CPU
            # could serve, the throughput to expect on a machine with nothing else running.
            median["per_cpu_second"] = 1e6 / (median["server_cpu_us"] + median["client_cpu_us"])
            print(f"{label:14s} {c:7d} {median['rps']:8.0f} {per_round:>28s} "
                  f"{median['rows_per_call']:9.1f} {median['inline']:7.0%} "
                  f"{median['server_cpu_us']:13.0f} {median['client_cpu_us']:13.0f} "
                  f"{median['per_cpu_second']:9.0f} {median['other_load']:9.2f}c")
    _print_latencies(summary)
    on, off = summary.get("batching on"), summary.get("batching off")
    if on and off:
        for c in clients:
            per_round = [a["rps"] / b["rps"] for a, b in zip(results["batching on"][c],
                                                            results["batching off"][c])]
            print(f"{c} clients: batching on / off = {on[c]['rps'] / off[c]['rps']:.2f} x "
                  f"(rounds: {', '.join(f'{r:.2f}' for r in per_round)}); per CPU-second "
                  f"{on[c]['per_cpu_second'] / off[c]['per_cpu_second']:.2f} x")
    print("(on loop: share of the model calls run on the event loop; other load: CPUs' worth "
          f"of work from other programs during the measurement, out of {os.cpu_count()}; "
          "us/req: CPU microseconds per request, warm-up included)")
    return summary


def _print_latencies(summary):
    clients = {"latency_ms": _client_kind(), "blocking_ms": "http.client (standard library)"}
    for label, values in summary.items():
        for key, client in clients.items():
            if key in values:
                lat = values[key]
                print(f"{label}: 1 client ({client}), {lat['requests']} sequential requests: "
                      f"p50 {lat['p50']:.3f} ms, p99 {lat['p99']:.3f} ms, max {lat['max']:.3f} ms")


# ------------------------------------------------------------------ where the CPU time goes
def cpu_per_call(function, calls, repeats=7):
    """Median CPU seconds of this thread per call of `function` (`repeats` runs of `calls`)."""
    samples = []
    for _ in range(repeats):
        started = time.thread_time()
        for _ in range(calls):
            function()
        samples.append((time.thread_time() - started) / calls)
    return statistics.median(samples)


def model_costs(model_path, images):
    """CPU microseconds of the served model: one 1-row call, and per row of a 64-row call."""
    from numnet.serve import load_repository
    model = load_repository(model_path, "fashion").get("fashion")
    model.warm_up(64)
    name = model.input_names[0]
    one, batch = {name: images[:1]}, {name: images[:64]}
    return (1e6 * cpu_per_call(lambda: model.predict(one), 2000),
            1e6 * cpu_per_call(lambda: model.predict(batch), 100) / 64)


async def app_cost(model_path, bodies, max_batch_size, requests=3000, clients=64):
    """CPU microseconds per request of the app's own work, without HTTP or model work.

    The served app (`create_app`) is called through ASGI in this process by
    `clients` concurrent callers, as uvicorn would call it, with a model of
    the classifier's shapes that costs nothing: what remains is reading the
    JSON into an array, batching (or not, with `max_batch_size` 1), writing
    the JSON answer and the metrics.
    """
    from numnet.serve import FunctionModel, ModelRepository, create_app, load_repository
    served = load_repository(model_path, "fashion").get("fashion")
    answer = np.full((64,) + served.outputs[0].shape[1:], 0.1, np.float32)

    class FreeModel(FunctionModel):
        compute_bound = True
    model = FreeModel(lambda feed: {"output_0": answer[:len(feed[served.input_names[0]])]},
                      "fashion", 1, served.inputs, served.outputs)
    app = create_app(ModelRepository([model]), max_batch_size=max_batch_size)
    lifespan = asyncio.Queue()
    started = asyncio.get_running_loop().create_future()

    async def lifespan_send(message):
        if not started.done():
            started.set_result(message["type"])
    running = asyncio.ensure_future(app({"type": "lifespan", "asgi": {"version": "3.0"}},
                                        lifespan.get, lifespan_send))
    await lifespan.put({"type": "lifespan.startup"})
    assert await started == "lifespan.startup.complete"
    try:
        async def caller(first):
            for i in range(first, requests, clients):
                await _asgi_post(app, bodies[i % len(bodies)])
        await asyncio.gather(*(caller(i) for i in range(clients)))  # warm-up
        cpu = time.thread_time()
        await asyncio.gather(*(caller(i) for i in range(clients)))
        return 1e6 * (time.thread_time() - cpu) / requests
    finally:
        await lifespan.put({"type": "lifespan.shutdown"})
        await running


async def _asgi_post(app, body):
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "path": "/v1/models/fashion:predict", "query_string": b"",
             "headers": [(b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode())]}
    status = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            status.append(message["status"])
    await app(scope, receive, send)
    if status != [200]:
        raise RuntimeError(f"the app answered {status}")


def print_breakdown(summary, model_path, images, bodies):
    """Where a request's CPU time goes with batching on and off, and what that bounds."""
    from numnet.serve.server import limit_blas_threads
    limit_blas_threads(1)  # as the server runs the model
    one_row, per_row = model_costs(model_path, images)
    app_on = run_async(app_cost(model_path, bodies, 64))
    app_off = run_async(app_cost(model_path, bodies, 1))
    on, off = summary["batching on"][64]["server_cpu_us"], summary["batching off"][64]["server_cpu_us"]
    http = on - app_on - per_row  # what the server spends beyond the app and the model
    rows = [("HTTP: uvicorn, httptools, sockets (the rest)", http, http),
            ("the app: JSON to array, batching, JSON answer, metrics", app_on, app_off),
            ("the model (per row of a 64-row call / a 1-row call)", per_row, one_row),
            ("sum", http + app_on + per_row, http + app_off + one_row),
            ("measured: the server's CPU per request at 64 clients", on, off)]
    print(f"\n{'where the CPU time of a request goes (us; app and model: medians in this process)':84s}"
          f"\n{'':58s} {'batching on':>11s} {'batching off':>14s}")
    for label, with_batching, without in rows:
        print(f"  {label:56s} {with_batching:11.0f} {without:14.0f}")
    shared = http + app_on  # per request whether or not requests are batched
    print(f"batching can save only the per-call part ({app_off - app_on + one_row:.0f} us of "
          f"{http + app_off + one_row:.0f}): at most "
          f"{(http + app_off + one_row) / (shared + per_row):.2f} x in server CPU (measured "
          f"{off / on:.2f} x). A 5 x gain would need the per-request part under "
          f"{(app_off - app_on + one_row - 5 * per_row) / 4:.0f} us (it is {shared:.0f}); "
          f"the model alone gains {one_row / per_row:.1f} x.")
    summary["breakdown_us"] = {"model_one_row": one_row, "model_per_row_of_64": per_row,
                               "app_batching_on": app_on, "app_batching_off": app_off,
                               "http": http}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="timed seconds per throughput measurement (default 3)")
    parser.add_argument("--warmup-seconds", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds; batching on and off alternate within each (default 3)")
    parser.add_argument("--requests", type=int, default=3000,
                        help="sequential requests for the latency percentiles, split over the "
                             "rounds (default 3000)")
    parser.add_argument("--warmup-requests", type=int, default=100)
    parser.add_argument("--max-requests", type=int, default=200_000,
                        help="cap on requests per throughput measurement")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--batch-timeout-ms", type=float, default=2.0)
    parser.add_argument("--latency-without-batching", action="store_true",
                        help="also measure 1-client latency with batching off")
    parser.add_argument("--hidden", type=int, nargs="+", default=list(TEXTBOOK_HIDDEN),
                        help="widths of the hidden layers (default: the textbook's 300 100)")
    parser.add_argument("--no-breakdown", action="store_true",
                        help="skip the in-process measurement of where the CPU time goes")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()

    kind = "textbook classifier" if tuple(args.hidden) == TEXTBOOK_HIDDEN else \
        f"classifier with hidden layers {' '.join(map(str, args.hidden))}"
    print(f"== numnet serve: one-sample :predict, {kind} ==\n"
          f"date {time.strftime('%Y-%m-%d %H:%M %Z')}, {os.cpu_count()} CPUs, python "
          f"{sys.version.split()[0]}, numpy {np.__version__}, load average at start "
          f"{os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as folder:
        model_path = os.path.join(folder, "fashion.keras")
        images = save_model(model_path, tuple(args.hidden))
        bodies = request_bodies(images[0])
        print(f"client: {_client_kind()}; request body {statistics.mean(map(len, bodies)):.0f} "
              "bytes on average")
        # The load generator's own pauses must not count as the server's latency: move the
        # objects made so far (data, numnet, the clients' modules) out of the collector's way.
        gc.collect()
        gc.freeze()
        servers = {}
        try:
            servers["batching on"] = Server(model_path, 64, args.batch_timeout_ms)
            servers["batching off"] = Server(model_path, 1, args.batch_timeout_ms)
            results = run_rounds(args, servers, bodies)
        finally:
            for server in servers.values():
                server.stop()
        summary = summarize(results, args.clients)
        if 64 in args.clients and not args.no_breakdown:
            print_breakdown(summary, model_path, images[0], bodies)
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)


def _client_kind():
    try:
        import aiohttp
        kind = f"aiohttp {aiohttp.__version__}"
    except ImportError:
        import httpx
        kind = f"httpx {httpx.__version__}"
    try:
        import uvloop
        return f"{kind} on uvloop {uvloop.__version__}"
    except ImportError:
        return f"{kind} on asyncio"


if __name__ == "__main__":
    main()
