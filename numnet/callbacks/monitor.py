"""`MonitorCallback`: the shared "is this metric better than before?" logic."""

import warnings

from numnet import ops
from numnet.callbacks.callback import Callback

_MAXIMIZE_HINTS = ("acc", "auc", "precision", "recall", "r2_score", "f1")
_MINIMIZE_HINTS = ("loss", "error", "mae", "mse", "crossentropy", "hinge", "divergence")


class MonitorCallback(Callback):
    """Base class of callbacks that watch one entry of `logs` (Keras' `MonitorCallback`).

    Args:
        monitor: the `logs` key to watch (`"val_loss"` by default).
        mode: `"min"`, `"max"` or `"auto"` (infer from the metric's name and
            direction; `loss` is minimized, accuracy-like metrics maximized).
        baseline: a value the monitored quantity must beat.
        min_delta: the smallest change that counts as an improvement.
    """

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{type(self).__name__} mode '{mode}' is unknown, fallback to auto "
                          "mode.", stacklevel=2)
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.baseline = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op = None

    def _set_monitor_op(self):
        # `monitor_op` is `numnet.ops.less` or `numnet.ops.greater`, as Keras sets its ops.
        if self.mode == "min":
            self.monitor_op = ops.less
        elif self.mode == "max":
            self.monitor_op = ops.greater
        else:
            name = self.monitor[4:] if self.monitor.startswith("val_") else self.monitor
            direction = None
            if name == "loss" or name.endswith("_loss"):
                direction = "down"
            for metric in getattr(self.model, "metrics", None) or []:
                if metric.name == name and getattr(metric, "_direction", None):
                    direction = metric._direction
            if direction is None:
                lowered = name.lower()
                if any(h in lowered for h in _MAXIMIZE_HINTS):
                    direction = "up"
                elif any(h in lowered for h in _MINIMIZE_HINTS):
                    direction = "down"
            if direction is None:
                raise ValueError(
                    f"{type(self).__name__} callback received monitor={self.monitor}, but "
                    "isn't able to automatically determine whether that metric should be "
                    "maximized or minimized. Pass `mode='max'` in order to monitor based on "
                    "the highest metric value, or pass `mode='min'` in order to use the "
                    "lowest value."
                )
            self.monitor_op = ops.greater if direction == "up" else ops.less
        if self.monitor_op is ops.less:
            self.min_delta *= -1

    def _is_improvement(self, monitor_value, reference_value):
        if reference_value is None:
            return True
        return bool(self.monitor_op(monitor_value - self.min_delta, reference_value))
