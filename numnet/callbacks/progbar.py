"""`Progbar`: the Keras-style progress bar, safe in logs and pipes.

On a terminal it redraws one line with carriage returns; when the output is a
file or a pipe it writes whole lines only (no `\\r`, no escape codes), so logs
stay readable.
"""

import math
import sys
import time


def _format_value(value):
    # Per-class results (e.g. R2Score(class_aggregation=None)) show their mean, as in Keras.
    value = float(sum(value) / len(value)) if hasattr(value, "__len__") else float(value)
    return f"{value:.4e}" if abs(value) <= 1e-3 and value != 0 else f"{value:.4f}"


def _format_duration(seconds):
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(seconds)}s"


def _format_step_time(per_step, unit_name):
    if per_step >= 1:
        return f"{per_step:.0f}s/{unit_name}"
    if per_step >= 1e-3:
        return f"{per_step * 1e3:.0f}ms/{unit_name}"
    return f"{per_step * 1e6:.0f}us/{unit_name}"


class Progbar:
    """Displays `current/target ━━━━ ETA - metric: value` lines.

    Args:
        target: the total number of steps (None if unknown).
        width: the bar width in characters.
        verbose: 1 for the live bar, 2 for one line at the end, 0 for silence.
        interval: minimum seconds between redraws.
        stateful_metrics: names of the values shown as given; the others are
            averaged over the steps so far (weighted by the steps each covers),
            as Keras' bar does.
        stateless_metrics: instead, the only names averaged (the others shown
            as given); give one of the two. `fit`'s bar shows every value as
            given (its logs are averages already).
        unit_name: the step unit shown in the timing ("step").
        stream: where to write (stdout by default).
    """

    def __init__(self, target, width=20, verbose=1, interval=0.05, stateful_metrics=None,
                 stateless_metrics=None, unit_name="step", stream=None):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError("Progbar: give `stateful_metrics` (the values shown as given) or "
                             "`stateless_metrics` (the values averaged), not both.")
        self.stateful_metrics = set(stateful_metrics) if stateful_metrics is not None else (
            None if stateless_metrics is not None else set())
        self.stateless_metrics = None if stateless_metrics is None else set(stateless_metrics)
        self._sums = {}  # name -> [weighted sum (or the value shown as given), weight]
        self._seen_so_far = 0
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self.stream = stream or sys.stdout
        isatty = getattr(self.stream, "isatty", None)
        self.dynamic = bool(isatty and isatty())
        self.start = time.perf_counter()
        self._last_update = 0.0
        self._first_step_time = None
        self._values = {}
        self._line_width = 0

    def will_draw(self, current):
        """Whether `update(current, ...)` would draw (so its values are worth computing)."""
        if self.verbose != 1:
            return False
        if self.target is not None and current >= self.target:
            return True
        return self.dynamic and time.perf_counter() - self._last_update >= self.interval

    def update(self, current, values=None, finalize=None):
        """Sets the progress to `current` and records `values` (`(name, value)` pairs or a
        dict): averaged over the steps so far, or shown as given (see the class); at the
        final update every value is shown as given, as Keras does."""
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        if values:
            self._record(values.items() if isinstance(values, dict) else values, current,
                         finalize)
        self._seen_so_far = current
        now = time.perf_counter()
        if current == 1 and self._first_step_time is None:
            self._first_step_time = now - self.start
        if self.verbose == 1:
            if not finalize and (now - self._last_update < self.interval or not self.dynamic):
                return
            self._last_update = now
            line = self._line(current, now, finalize)
            if self.dynamic:
                padding = max(self._line_width - len(line), 0)
                self._line_width = len(line)
                self.stream.write("\r" + line + " " * padding + ("\n" if finalize else ""))
            elif finalize:
                self.stream.write(line + "\n")
            self.stream.flush()
        elif self.verbose == 2 and finalize:
            elapsed = now - self.start
            digits = len(str(self.target)) if self.target else 1
            parts = [f"{current:>{digits}}/{self.target}" if self.target else f"{current}",
                     _format_duration(elapsed) if elapsed >= 1 else f"{elapsed:.0f}s",
                     self._step_time(current, now)]
            parts += [f"{k}: {_format_value(v)}" for k, v in self._values.items()]
            self.stream.write(" - ".join(parts) + "\n")
            self.stream.flush()

    def add(self, n, values=None):
        """`update` to `n` steps further."""
        self.update(self._seen_so_far + n, values)

    def _averaged(self, name):
        if self.stateful_metrics is not None:
            return name not in self.stateful_metrics
        return name in self.stateless_metrics

    def _record(self, pairs, current, finalize):
        for name, value in pairs:
            if self._averaged(name) and not finalize:
                weight = max(current - self._seen_so_far, 1)
                total = self._sums.setdefault(name, [0.0, 0])
                total[0] += float(value) * weight
                total[1] += weight
            else:
                self._sums[name] = [value, 1]
        self._values = {name: value if weight == 1 else value / weight
                        for name, (value, weight) in self._sums.items()}

    def _step_time(self, current, now):
        elapsed = now - self.start
        if current > 1 and self._first_step_time is not None:
            per_step = (elapsed - self._first_step_time) / (current - 1)
        else:
            per_step = elapsed / max(current, 1)
        return _format_step_time(per_step, self.unit_name)

    def _line(self, current, now, finalize):
        elapsed = now - self.start
        if self.target is not None:
            digits = int(math.log10(self.target)) + 1 if self.target > 0 else 1
            done = int(self.width * current / self.target) if self.target else self.width
            bar = "━" * done + "━" * (self.width - done)
            if self.dynamic:
                bar = "\x1b[32m" + "━" * done + "\x1b[0m" + "\x1b[37m" + "━" * (self.width - done) + "\x1b[0m"
            head = f"{current:>{digits}}/{self.target} {bar}"
        else:
            head = f"{current:7d}/Unknown"
        if finalize:
            timing = f"{elapsed:.0f}s"
        else:
            per_step = elapsed / max(current, 1)
            remaining = per_step * (self.target - current) if self.target else 0
            timing = _format_duration(remaining)
        line = f"{head} {timing} {self._step_time(current, now)}"
        for key, value in self._values.items():
            line += f" - {key}: {_format_value(value)}"
        return line
