"""What `compile()` turns its arguments into: per-output losses and metrics.

A model has one or more outputs, named (`model.output_names`). `loss`,
`loss_weights` and `metrics` may be given once for all outputs, as a list in
output order, or as a dict keyed by output name; they are resolved here into
one entry per output, and the log keys are named as Keras names them
(`loss`, `output_loss`, `aux_output_RootMeanSquaredError`, ...).
"""

import numpy as np

from numnet import losses as losses_module
from numnet import metrics as metrics_module
from numnet.autodiff import ops
from numnet.autodiff.ops.masking import apply_mask, get_keras_mask


def _per_output(value, output_names, what, allow_single=True):
    """Resolves `value` (single, list or dict) into a list with one entry per output."""
    n = len(output_names)
    if isinstance(value, dict):
        unknown = set(value) - set(output_names)
        if unknown:
            if what == "loss":
                raise ValueError(f"Expected keys {list(output_names)} in loss dict, but found "
                                 f"loss.keys()={list(value)}")
            raise ValueError(
                f"Invalid `{what}`. `{what}` should contain metrics objects and either be a "
                "dict or a list matching the output names of the functional model "
                f"{list(output_names)}.\nReceived: {what}={value} (unknown keys "
                f"{sorted(unknown)})"
            )
        return [value.get(name) for name in output_names]
    if isinstance(value, (list, tuple)) and n > 1:
        if len(value) != n:
            raise ValueError(
                f"`{what}` must have one entry per output ({n}: {output_names}); "
                f"received {len(value)} entries: {value}."
            )
        return list(value)
    if isinstance(value, (list, tuple)) and n == 1 and what == "loss":
        if len(value) != 1:
            raise ValueError(f"`loss` has {len(value)} entries but the model has one output.")
        return list(value)
    if not allow_single and n > 1:
        raise ValueError(f"`{what}` must match the model's {n} outputs: {output_names}.")
    return [value] * n


def _leaves(structure):
    if structure is None:
        return []
    if isinstance(structure, dict):
        return [x for v in structure.values() for x in _leaves(v)]
    if isinstance(structure, (list, tuple)):
        return [x for v in structure for x in _leaves(v)]
    return [structure]


# The built-in losses that compare `y_true` and `y_pred` element by element: their
# shapes must match (up to a trailing axis of size 1), or the loss would broadcast
# a too-small output against the targets.
_ELEMENTWISE_LOSSES = tuple(getattr(losses_module, name) for name in (
    "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error", "huber", "log_cosh", "binary_crossentropy",
    "binary_focal_crossentropy", "categorical_crossentropy", "categorical_focal_crossentropy",
    "kl_divergence", "poisson", "hinge", "squared_hinge", "categorical_hinge",
    "cosine_similarity") if hasattr(losses_module, name))


def _loss_name(loss):
    fn = getattr(loss, "fn", None)
    return getattr(fn, "__name__", None) or getattr(loss, "name", None) or type(loss).__name__


def check_target_shape(loss, output_name, y_true, y_pred):
    """Raises a ValueError naming the loss, the output and both shapes when they cannot match.

    After Keras' rank alignment (a trailing axis of size 1 dropped from the
    higher-rank side), the targets must equal the output's shape or broadcast
    onto it (`(n, 1)` targets against `(n, 3)` outputs, as Keras allows); an
    output smaller than the targets (`Dense(1)` for `(n, 2)` targets) is an
    error. The batch axis is not compared. Custom and sparse losses are not
    checked here.
    """
    if getattr(loss, "fn", None) not in _ELEMENTWISE_LOSSES:
        return
    true_shape, pred_shape = tuple(np.shape(y_true))[1:], tuple(np.shape(y_pred))[1:]
    if true_shape[-1:] == (1,) and len(true_shape) == len(pred_shape) + 1:
        true_shape = true_shape[:-1]
    elif pred_shape[-1:] == (1,) and len(pred_shape) == len(true_shape) + 1:
        pred_shape = pred_shape[:-1]
    try:
        fits = np.broadcast_shapes(true_shape, pred_shape) == pred_shape
    except ValueError:
        fits = False
    if not fits:
        name = _loss_name(loss)
        raise ValueError(
            f"The loss '{name}' of output '{output_name}' cannot compare the targets with the "
            f"model's output: `y` has shape {(None,) + tuple(np.shape(y_true))[1:]} but the "
            f"output has shape {(None,) + tuple(np.shape(y_pred))[1:]}. The last layer's units "
            "must match the targets' last dimension."
        )


def _single_output_loss(loss, output_names):
    """A one-output model's loss given as `[loss]` or `{name: loss}`, unwrapped (as Keras)."""
    if len(output_names) != 1:
        return loss
    if isinstance(loss, (list, tuple)) and len(loss) == 1:
        return loss[0]
    if isinstance(loss, dict):
        if set(loss) != set(output_names):
            raise ValueError(f"Expected keys {list(output_names)} in loss dict, but found "
                             f"loss.keys()={list(loss)}")
        return loss[output_names[0]]
    return loss


class _SummedLosses(losses_module.Loss):
    """Several losses on one output: their sum (each reduced as it would be alone)."""

    def __init__(self, losses):
        super().__init__(name="_".join(loss.name for loss in losses))
        self.losses = losses

    def __call__(self, y_true, y_pred, sample_weight=None):
        total = None
        for loss in self.losses:
            value = loss(y_true, y_pred, sample_weight=sample_weight)
            total = value if total is None else ops.add(total, value)
        return total


def _loss_object(entry):
    """A `Loss` for one output's entry: a loss, a list of losses, or None."""
    if isinstance(entry, (list, tuple)):
        objects = [losses_module.as_loss_object(e) for e in entry if e is not None]
        if not objects:
            return None
        return objects[0] if len(objects) == 1 else _SummedLosses(objects)
    return None if entry is None else losses_module.as_loss_object(entry)


class CompileLoss:
    """Computes the weighted sum of per-output losses and tracks each of them."""

    def __init__(self, loss, loss_weights=None):
        for leaf in _leaves(loss):
            losses_module.get(leaf)  # unknown names fail at compile time, not mid-fit
        self.loss = loss
        self.loss_weights = loss_weights
        self.built = False
        self._checked_shapes = set()

    def build(self, output_names):
        self.output_names = list(output_names)
        n = len(self.output_names)
        entries = _per_output(_single_output_loss(self.loss, self.output_names),
                              self.output_names, "loss")
        # An output's entry may be a list of losses (summed, as Keras does with
        # `loss=["mse", ["bce"]]`).
        self.losses = [_loss_object(e) for e in entries]
        if self.loss_weights is None:
            self.weights = [1.0] * n
        else:
            single_loss = not isinstance(self.loss, (list, tuple, dict))
            if isinstance(self.loss_weights, (list, tuple)) and (
                    len(self.loss_weights) != n or (single_loss and n > 1)):
                n_losses = 1 if not isinstance(self.loss, (list, tuple, dict)) else len(self.loss)
                raise ValueError(
                    f"`loss_weights` must match the number of losses, got {n_losses} losses "
                    f"and {len(self.loss_weights)} weights."
                )
            weights = _per_output(self.loss_weights, self.output_names, "loss_weights")
            self.weights = [1.0 if w is None else float(w) for w in weights]
        # Keras tracks each loss separately only when there are several of them.
        self._tracked = [i for i, loss in enumerate(self.losses) if loss is not None]
        if len(self._tracked) < 2:
            self._tracked = []
        self.trackers = [metrics_module.Mean(name=f"{self.output_names[i]}_loss")
                         for i in self._tracked]
        self.built = True

    def __call__(self, y_true, y_pred, sample_weight=None):
        """Returns the total loss tensor; `y_true`/`y_pred` are lists in output order."""
        total = None
        values = []
        for i, (loss, weight) in enumerate(zip(self.losses, self.weights)):
            if loss is None:
                values.append(None)
                continue
            if y_true[i] is None:
                raise ValueError(
                    f"No target was given for output '{self.output_names[i]}', which has a loss."
                )
            shapes = (i, np.shape(y_true[i]), np.shape(y_pred[i]))
            if shapes not in self._checked_shapes:
                check_target_shape(loss, self.output_names[i], y_true[i], y_pred[i])
                self._checked_shapes.add(shapes)
            value = loss(y_true[i], y_pred[i], sample_weight=sample_weight)
            values.append(value)
            term = value if weight == 1.0 else ops.multiply(value, weight)
            total = term if total is None else ops.add(total, term)
        if total is None:
            raise ValueError("The model was compiled without any loss for its outputs.")
        self._last_values = values
        return total

    def update_trackers(self, batch_size):
        for tracker, i in zip(self.trackers, self._tracked):
            tracker.update_state(self._last_values[i], sample_weight=batch_size)

    def get_config(self):
        return {"loss": self.loss, "loss_weights": self.loss_weights}


def _mask_weights(y_pred, sample_weight, metrics):
    """The sample weights a mask on `y_pred` makes for `MeanMetricWrapper` metrics (as Keras
    applies it), computed with ops so that a compiled step replays it; None without a mask."""
    mask = get_keras_mask(y_pred)
    if mask is None or not any(isinstance(m, metrics_module.MeanMetricWrapper)
                               for m in metrics):
        return None
    return apply_mask(sample_weight, mask, "float32", reduction="sum")


class CompileMetrics:
    """Holds the compiled metrics of every output and updates them per batch."""

    def __init__(self, metrics, weighted_metrics, loss):
        for leaf in _leaves(metrics) + _leaves(weighted_metrics):
            if not (isinstance(leaf, str) and leaf in ("accuracy", "acc")):
                metrics_module.get(leaf)
        self.metrics_arg = metrics
        self.weighted_metrics_arg = weighted_metrics
        self.loss = loss
        self.built = False

    def _resolve(self, identifier, loss, y_true, y_pred):
        if isinstance(identifier, str) and identifier in ("accuracy", "acc"):
            return metrics_module.get_accuracy_for_loss(
                loss, y_true_shape=np.shape(y_true), y_pred_shape=np.shape(y_pred),
                name=identifier)
        metric = metrics_module.get(identifier)
        if isinstance(identifier, str):
            if not isinstance(metric, metrics_module.Metric):
                metric = metrics_module.MeanMetricWrapper(metric, name=identifier)
            else:
                metric.name = identifier
        elif not isinstance(metric, metrics_module.Metric) and callable(metric):
            metric = metrics_module.MeanMetricWrapper(metric, name=getattr(metric, "__name__", "metric"))
        return metric

    def build(self, output_names, losses, y_true, y_pred):
        self.output_names = list(output_names)
        n = len(self.output_names)
        self.per_output = [[] for _ in range(n)]
        self.weighted = [[] for _ in range(n)]
        for arg, target, what in ((self.metrics_arg, self.per_output, "metrics"),
                                  (self.weighted_metrics_arg, self.weighted, "weighted_metrics")):
            if not arg:
                continue
            if n == 1:
                entries = [arg if isinstance(arg, (list, tuple)) else [arg]]
                if isinstance(arg, (list, tuple)) and len(arg) == 1 and \
                        isinstance(arg[0], (list, tuple)):
                    entries = [arg[0]]  # one list per output, as Keras 2 saved them
                if isinstance(arg, dict):
                    entries = [arg.get(self.output_names[0], [])]
            elif isinstance(arg, dict):
                entries = _per_output(arg, self.output_names, what)
            elif isinstance(arg, (list, tuple)) and len(arg) == n:
                entries = list(arg)
            else:
                raise ValueError(
                    "For a model with several outputs, `metrics` should contain metrics that "
                    f"match the output structure of the model: a list with one entry per "
                    f"output ({self.output_names}) or a dict keyed by output name. "
                    f"Received: metrics={arg}"
                )
            for i, entry in enumerate(entries):
                if entry is None:
                    continue
                entry = entry if isinstance(entry, (list, tuple)) else [entry]
                for identifier in entry:
                    target[i].append(
                        self._resolve(identifier, losses[i], y_true[i], y_pred[i]))
        self._name_metrics(n)
        self.built = True

    def _name_metrics(self, n):
        """Log names as Keras 3.15 gives them: `output_metric` for several outputs; a
        repeated name gets `_1`, `_2`, ... except that a weighted metric first tries
        `weighted_<name>`."""
        used = {}
        for weighted, groups in ((False, self.per_output), (True, self.weighted)):
            for i, group in enumerate(groups):
                prefix = f"{self.output_names[i]}_" if n > 1 else ""
                for metric in group:
                    base = metric.name
                    name = prefix + base
                    if name in used and weighted:
                        name = f"{prefix}weighted_{base}"
                    if name in used:
                        index = used[name]
                        used[name] += 1
                        name = f"{name}_{index}"
                    else:
                        used[name] = 1
                    if name != base:
                        # Keras keeps the user's name in the compile config; remember it.
                        metric.__dict__.setdefault("_compile_config_name", base)
                        metric.name = name

    @property
    def metrics(self):
        return [m for group in self.per_output + self.weighted for m in group]

    def update_state(self, y_true, y_pred, sample_weight=None):
        for i, group in enumerate(self.per_output):
            masked = _mask_weights(y_pred[i], None, group)
            for metric in group:
                if masked is not None and isinstance(metric, metrics_module.MeanMetricWrapper):
                    metric.update_state(y_true[i], y_pred[i], sample_weight=masked)
                else:
                    metric.update_state(y_true[i], y_pred[i])
        for i, group in enumerate(self.weighted):
            masked = _mask_weights(y_pred[i], sample_weight, group)
            for metric in group:
                weights = sample_weight
                if masked is not None and isinstance(metric, metrics_module.MeanMetricWrapper):
                    weights = masked
                metric.update_state(y_true[i], y_pred[i], sample_weight=weights)

    def reset_state(self):
        for metric in self.metrics:
            metric.reset_state()
