"""The Prometheus text format written by numnet.serve.metrics, read back by prometheus_client."""

import pytest

from numnet.serve.metrics import Counter, Histogram, ServerMetrics

parser = pytest.importorskip("prometheus_client.parser",
                             reason="prometheus_client (test extra) reads the text format")


def _families(text):
    return {family.name: family for family in parser.text_string_to_metric_families(text)}


def test_counter_and_histogram_text():
    metrics = ServerMetrics()
    metrics.requests.inc("/v1/models/{name}:predict", "200")
    metrics.requests.inc("/v1/models/{name}:predict", "200")
    metrics.requests.inc('odd "label"\\\n', "404")
    for seconds in (0.0004, 0.0015, 0.0015, 20.0):
        metrics.latency.observe(seconds, "/v2")
    metrics.batch_size.observe(64, "m/1")
    metrics.batch_size.observe(3, "m/1")
    metrics.in_flight.value = 2
    text = metrics.render()
    families = _families(text)
    requests = {tuple(sorted(s.labels.items())): s.value
                for s in families["numnet_serve_requests"].samples}
    assert requests[(("code", "200"), ("endpoint", "/v1/models/{name}:predict"))] == 2
    assert requests[(("code", "404"), ("endpoint", 'odd "label"\\\n'))] == 1  # escaped, read back
    latency = {(s.name, s.labels.get("le")): s.value
               for s in families["numnet_serve_request_duration_seconds"].samples}
    assert latency[("numnet_serve_request_duration_seconds_bucket", "0.0005")] == 1
    assert latency[("numnet_serve_request_duration_seconds_bucket", "0.001")] == 1
    assert latency[("numnet_serve_request_duration_seconds_bucket", "0.002")] == 3
    assert latency[("numnet_serve_request_duration_seconds_bucket", "10.0")] == 3
    assert latency[("numnet_serve_request_duration_seconds_bucket", "+Inf")] == 4
    assert latency[("numnet_serve_request_duration_seconds_count", None)] == 4
    assert latency[("numnet_serve_request_duration_seconds_sum", None)] == pytest.approx(20.0034)
    batches = {s.labels.get("le"): s.value for s in families["numnet_serve_batch_size"].samples
               if s.name.endswith("_bucket")}
    assert (batches["2.0"], batches["4.0"], batches["32.0"], batches["64.0"]) == (0, 1, 1, 2)
    assert families["numnet_serve_requests_in_flight"].samples[0].value == 2
    assert "# TYPE numnet_serve_requests_total counter" in text
    assert "# TYPE numnet_serve_batch_size histogram" in text


def test_value_accessors():
    counter = Counter("c_total", "help", ("a",))
    counter.inc("x", amount=3)
    assert counter.value("x") == 3 and counter.value("y") == 0
    histogram = Histogram("h", "help", ("a",), buckets=(1, 2))
    histogram.observe(1.5, "x")
    assert histogram.count("x") == 1 and histogram.count("y") == 0
