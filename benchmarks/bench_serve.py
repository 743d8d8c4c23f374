"""`numnet serve` under load: one-sample `:predict` requests to the textbook classifier.

Starts `numnet serve` in a subprocess on 127.0.0.1 (a free port) serving the
textbook Fashion-MNIST classifier (Flatten -> Dense(300, relu) ->
Dense(100, relu) -> Dense(10, softmax)) and drives it with an async HTTP
client (aiohttp when installed, else httpx), every request one real test
image in TF Serving's row format. Measures:

- latency with 1 client: p50 / p99 / max over `--requests` sequential
  requests (after a warm-up), timed by the client from sending to the end of
  the response body;
- throughput (requests per second) with 1, 8 and 64 concurrent clients, each
  sending its next request as soon as the last is answered, for `--seconds`
  per setting, with micro-batching on (`--max-batch-size 64
  --batch-timeout-ms 2`, the defaults) and off (`--max-batch-size 1`): two
  servers, measured alternately in `--rounds` rounds, medians reported, so
  that a change in the machine's load hits both alike.

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
def save_model(path, seed=42):
    """The textbook classifier, briefly trained on real images so outputs are meaningful."""
    import numnet as keras
    keras.utils.set_random_seed(seed)
    images = load_images()
    model = keras.Sequential([
        keras.layers.Input(shape=[28, 28]), keras.layers.Flatten(),
        keras.layers.Dense(300, activation="relu"), keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
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
        """(rows, batches) the model has run so far, from the server's /metrics."""
        import urllib.request
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=10) as response:
            text = response.read().decode()
        totals = {}
        for line in text.splitlines():
            name = line.split("{", 1)[0]
            if name in ("numnet_serve_batch_size_sum", "numnet_serve_batch_size_count"):
                totals[name] = totals.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
        return (totals.get("numnet_serve_batch_size_sum", 0.0),
                totals.get("numnet_serve_batch_size_count", 0.0))

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
    """One HTTP client session (aiohttp if installed, else httpx), reused for every request."""

    def __init__(self, connections):
        try:
            import aiohttp
            self.kind = f"aiohttp {aiohttp.__version__}"
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=connections),
                timeout=aiohttp.ClientTimeout(total=30))
            self._post = self._aiohttp_post
        except ImportError:
            import httpx
            self.kind = f"httpx {httpx.__version__}"
            self._session = httpx.AsyncClient(
                limits=httpx.Limits(max_connections=connections), timeout=30)
            self._post = self._httpx_post

    async def _aiohttp_post(self, url, body):
        async with self._session.post(url, data=body, headers={
                "Content-Type": "application/json"}) as response:
            content = await response.read()
            return response.status, content

    async def _httpx_post(self, url, body):
        response = await self._session.post(url, content=body, headers={
            "Content-Type": "application/json"})
        return response.status_code, response.content

    async def post(self, url, body):
        status, content = await self._post(url, body)
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {content[:200]!r}")
        return content

    async def close(self):
        if hasattr(self._session, "aclose"):
            await self._session.aclose()
        else:
            await self._session.close()


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
    """Runs `coroutine` on a fresh event loop: uvloop's when installed (cheaper per request)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    loop = uvloop.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
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
        busy0, server0, client0, wall0, (rows0, batches0) = self.start
        wall = time.perf_counter() - wall0
        server = self.server.cpu_seconds() - server0
        client = time.process_time() - client0
        rows, batches = self.server.batch_totals()
        return {"server_cpu_us": 1e6 * server / requests, "client_cpu_us": 1e6 * client / requests,
                "other_load": max(0.0, (cpu_busy_seconds() - busy0 - server - client) / wall),
                "rows_per_call": (rows - rows0) / max(batches - batches0, 1)}


def run_rounds(args, servers, bodies):
    """Every (setting, clients) measured once per round, settings interleaved within a round."""
    results = {label: {"latency": [], **{c: [] for c in args.clients}} for label in servers}
    for round_index in range(args.rounds):
        for label, server in servers.items():
            if label == "batching on" or args.latency_without_batching:
                times = run_async(measure_latency(server.predict_url, bodies,
                                                    args.requests // args.rounds,
                                                    args.warmup_requests))
                results[label]["latency"].extend(times)
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
          f"{'rows/call':>9s} {'server us/req':>13s} {'client us/req':>13s} "
          f"{'req/CPU-s':>9s} {'other load':>10s}")
    for label, by_clients in results.items():
        summary[label] = {}
        times = by_clients["latency"]
        if times:
            summary[label]["latency_ms"] = {"p50": _percentile(times, 0.50),
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
                  f"{median['rows_per_call']:9.1f} {median['server_cpu_us']:13.0f} "
                  f"{median['client_cpu_us']:13.0f} {median['per_cpu_second']:9.0f} "
                  f"{median['other_load']:9.2f}c")
    for label, values in summary.items():
        if "latency_ms" in values:
            lat = values["latency_ms"]
            print(f"{label}: 1 client, {lat['requests']} sequential requests: p50 "
                  f"{lat['p50']:.3f} ms, p99 {lat['p99']:.3f} ms, max {lat['max']:.3f} ms")
    on, off = summary.get("batching on"), summary.get("batching off")
    if on and off:
        for c in clients:
            per_round = [a["rps"] / b["rps"] for a, b in zip(results["batching on"][c],
                                                            results["batching off"][c])]
            print(f"{c} clients: batching on / off = {on[c]['rps'] / off[c]['rps']:.2f} x "
                  f"(rounds: {', '.join(f'{r:.2f}' for r in per_round)}); per CPU-second "
                  f"{on[c]['per_cpu_second'] / off[c]['per_cpu_second']:.2f} x")
    print("(other load: CPUs' worth of work from other programs during the measurement, out "
          f"of {os.cpu_count()}; us/req: CPU microseconds per request, warm-up included)")
    return summary


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
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()

    print(f"== numnet serve: one-sample :predict, textbook classifier ==\n"
          f"date {time.strftime('%Y-%m-%d %H:%M %Z')}, {os.cpu_count()} CPUs, python "
          f"{sys.version.split()[0]}, numpy {np.__version__}, load average at start "
          f"{os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as folder:
        model_path = os.path.join(folder, "fashion.keras")
        images = save_model(model_path)
        bodies = request_bodies(images[0])
        print(f"client: {_client_kind()}; request body {statistics.mean(map(len, bodies)):.0f} "
              "bytes on average")
        servers = {}
        try:
            servers["batching on"] = Server(model_path, 64, args.batch_timeout_ms)
            servers["batching off"] = Server(model_path, 1, args.batch_timeout_ms)
            results = run_rounds(args, servers, bodies)
        finally:
            for server in servers.values():
                server.stop()
    summary = summarize(results, args.clients)
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
