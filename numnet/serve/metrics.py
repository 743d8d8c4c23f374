"""Counters and histograms written in Prometheus' text exposition format (version 0.0.4).

Written here rather than taken from `prometheus_client` because the format
is a few lines of text, the server needs just counters and histograms, and
its own registry per app keeps several servers in one process (the tests)
apart without a global registry. Every update happens on the event loop's
thread, so no lock is needed.
"""

import bisect

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                   5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


def _escape(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names, values, extra=None):
    pairs = [f'{n}="{_escape(v)}"' for n, v in zip(names, values)]
    if extra:
        pairs.append(extra)
    return "{" + ",".join(pairs) + "}" if pairs else ""


def _number(value):
    if value == float("inf"):
        return "+Inf"
    return repr(float(value)) if isinstance(value, float) else str(value)


class Counter:
    """A monotonically increasing count per label combination."""

    kind = "counter"

    def __init__(self, name, documentation, labelnames=()):
        self.name, self.documentation, self.labelnames = name, documentation, tuple(labelnames)
        self._values = {}

    def inc(self, *labelvalues, amount=1):
        self._values[labelvalues] = self._values.get(labelvalues, 0) + amount

    def value(self, *labelvalues):
        return self._values.get(labelvalues, 0)

    def samples(self):
        for labelvalues, value in sorted(self._values.items()):
            yield f"{self.name}{_labels(self.labelnames, labelvalues)} {_number(value)}"


class Histogram:
    """Observations counted into cumulative `le` buckets, with their sum and count."""

    kind = "histogram"

    def __init__(self, name, documentation, labelnames=(), buckets=LATENCY_BUCKETS):
        self.name, self.documentation, self.labelnames = name, documentation, tuple(labelnames)
        self.buckets = tuple(sorted(buckets))
        self._series = {}  # labelvalues -> [per-bucket counts (last is +Inf), sum]

    def observe(self, value, *labelvalues):
        series = self._series.get(labelvalues)
        if series is None:
            series = self._series[labelvalues] = [[0] * (len(self.buckets) + 1), 0.0]
        series[0][bisect.bisect_left(self.buckets, value)] += 1
        series[1] += value

    def count(self, *labelvalues):
        series = self._series.get(labelvalues)
        return sum(series[0]) if series else 0

    def samples(self):
        for labelvalues, (counts, total) in sorted(self._series.items()):
            cumulative = 0
            for bound, count in zip(self.buckets + (float("inf"),), counts):
                cumulative += count
                le = f'le="{_number(float(bound))}"'
                yield (f"{self.name}_bucket{_labels(self.labelnames, labelvalues, le)} "
                       f"{cumulative}")
            labels = _labels(self.labelnames, labelvalues)
            yield f"{self.name}_sum{labels} {_number(float(total))}"
            yield f"{self.name}_count{labels} {cumulative}"


class Gauge:
    """A value that goes up and down (no labels)."""

    kind = "gauge"

    def __init__(self, name, documentation):
        self.name, self.documentation = name, documentation
        self.value = 0

    def samples(self):
        yield f"{self.name} {_number(self.value)}"


class ServerMetrics:
    """The serving metrics of one app."""

    def __init__(self):
        self.requests = Counter(
            "numnet_serve_requests_total",
            "HTTP requests answered, by endpoint (route template) and status code.",
            ("endpoint", "code"))
        self.latency = Histogram(
            "numnet_serve_request_duration_seconds",
            "Time from the request's arrival in the app to the end of its response.",
            ("endpoint",))
        self.batch_size = Histogram(
            "numnet_serve_batch_size", "Rows in each batch the model ran.", ("model",),
            buckets=BATCH_BUCKETS)
        self.batch_requests = Histogram(
            "numnet_serve_batch_requests", "Requests merged into each batch the model ran.",
            ("model",), buckets=BATCH_BUCKETS)
        self.inference_latency = Histogram(
            "numnet_serve_inference_duration_seconds", "Time the model took for each batch.",
            ("model",))
        self.in_flight = Gauge("numnet_serve_requests_in_flight",
                               "Requests being answered right now.")
        self._families = (self.requests, self.latency, self.in_flight, self.batch_size,
                          self.batch_requests, self.inference_latency)

    def render(self):
        """The exposition text of every metric."""
        lines = []
        for family in self._families:
            lines.append(f"# HELP {family.name} {family.documentation}")
            lines.append(f"# TYPE {family.name} {family.kind}")
            lines.extend(family.samples())
        return "\n".join(lines) + "\n"
