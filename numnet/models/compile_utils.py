"""What `compile()` turns its arguments into: per-output losses and metrics.

A model has one or more outputs, named (`model.output_names`). `loss`,
`loss_weights` and `metrics` may be given once for all outputs, as a list in
output order, or as a dict keyed by output name; they are resolved here into
one entry per output, and the log keys are named as Keras names them
(`loss`, `output_loss`, `aux_output_RootMeanSquaredError`, ...).
"""

import collections

import numpy as np

from numnet import losses as losses_module
from numnet import metrics as metrics_module
from numnet.autodiff import ops
from numnet.autodiff.ops.masking import apply_mask, get_keras_mask
from numnet.tree import flatten, map_structure, pack_sequence_as, same_structure


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


def _is_crossentropy_alias(identifier):
    return isinstance(identifier, str) and identifier.lower() in ("crossentropy", "ce")


class _CrossentropyByShape(losses_module.Loss):
    """Keras' `loss="crossentropy"` (or `"ce"`): binary, sparse categorical or categorical
    cross-entropy, chosen from the shapes of the targets and predictions it first sees."""

    def resolve(self, y_true, y_pred):
        true_shape, pred_shape = np.shape(y_true), np.shape(y_pred)
        if pred_shape[-1:] == (1,):
            fn = losses_module.binary_crossentropy
        elif len(true_shape) < len(pred_shape) or (true_shape[-1:] == (1,)
                                                   and pred_shape[-1:] != (1,)):
            fn = losses_module.sparse_categorical_crossentropy
        else:
            fn = losses_module.categorical_crossentropy
        loss = losses_module.as_loss_object(fn)
        loss.name = self.name
        return loss

    def __call__(self, y_true, y_pred, sample_weight=None):
        return self.resolve(y_true, y_pred)(y_true, y_pred, sample_weight=sample_weight)


def _as_loss(entry):
    if _is_crossentropy_alias(entry):
        return _CrossentropyByShape(name=entry)
    return losses_module.as_loss_object(entry)


def _loss_object(entry):
    """A `Loss` for one output's entry: a loss, a list of losses, or None."""
    if isinstance(entry, (list, tuple)):
        objects = [_as_loss(e) for e in entry if e is not None]
        if not objects:
            return None
        return objects[0] if len(objects) == 1 else _SummedLosses(objects)
    return None if entry is None else _as_loss(entry)


class CompileLoss:
    """Computes the weighted sum of per-output losses and tracks each of them."""

    def __init__(self, loss, loss_weights=None):
        for leaf in _leaves(loss):
            if not _is_crossentropy_alias(leaf):
                losses_module.get(leaf)  # unknown names fail at compile time, not mid-fit
        self.loss = loss
        self.loss_weights = loss_weights
        self.built = False
        self._checked_shapes = set()

    def build(self, output_names, output_structure=None):
        """Resolves the losses for the outputs named `output_names` (flat, in output order).

        `output_structure`: the model's outputs as returned (tuple, dict, namedtuple or
        nested). Losses given as a structure that is not one entry per output (a loss on
        several outputs, a dict or tuple inside a list, nested outputs) follow it, as in
        Keras (see `_StructuredLosses`).
        """
        self.output_names = list(output_names)
        self.structured = None
        if output_structure is not None and _needs_structure(
                self.loss, self.loss_weights, output_structure):
            self._build_structured(output_structure)
            return
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

    def names_from_losses(self, count):
        """Names for `count` outputs that the model's output names cannot name (a custom
        `compute_loss` splitting one output): the losses' own names, as Keras names them;
        None when the losses are not one per output."""
        if not isinstance(self.loss, (list, tuple)) or len(self.loss) != count or \
                any(_is_container(entry) or entry is None for entry in self.loss):
            return None
        return [entry if isinstance(entry, str) else losses_module.as_loss_object(entry).name
                for entry in self.loss]

    def _build_structured(self, output_structure):
        structured = self.structured = _StructuredLosses(
            self.loss, self.loss_weights, output_structure, self.output_names)
        self.losses = structured.per_output_losses()
        self.weights = [1.0] * len(self.output_names)
        self._tracked = list(range(len(structured.entries))) \
            if len(structured.entries) > 1 else []
        self.trackers = [metrics_module.Mean(name=f"{structured.entries[i].name}_loss")
                         for i in self._tracked]
        self.built = True

    def __call__(self, y_true, y_pred, sample_weight=None):
        """Returns the total loss tensor; `y_true`/`y_pred` are lists in output order."""
        if self.structured is not None:
            total, self._last_values = self.structured(y_true, y_pred, sample_weight)
            return total
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
            if isinstance(loss, _CrossentropyByShape):  # chosen once, from the first shapes
                loss = self.losses[i] = loss.resolve(y_true[i], y_pred[i])
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


def _is_container(value):
    return isinstance(value, (list, tuple, dict))


def _children(value):
    return list(value.values()) if isinstance(value, dict) else \
        list(value) if isinstance(value, (list, tuple)) else []


def _needs_structure(loss, loss_weights, outputs):
    """Whether `loss` must follow the outputs' structure (Keras' rules) rather than give one
    entry per output: nested outputs, a dict (or a nested sequence) inside the losses or
    the weights, or a sequence of losses holding sequences whose type differs from the
    outputs' (Keras then applies each entry to all the outputs)."""
    if any(_is_container(child) for child in _children(outputs)):
        return True
    if isinstance(loss, dict) and isinstance(outputs, dict) and set(loss) - set(outputs):
        return True  # Keras' KeyError for a key the outputs lack
    for spec in (loss, loss_weights):
        for child in _children(spec):
            if isinstance(child, dict) or any(_is_container(c) for c in _children(child)):
                return True
    if isinstance(loss, (list, tuple)) and any(_is_container(c) for c in loss):
        if not isinstance(outputs, type(loss)) or len(loss) != len(flatten(outputs)):
            return True
    return _is_container(loss_weights) and any(_is_container(c) for c in _children(loss_weights))


_LossEntry = collections.namedtuple("_LossEntry", ["path", "loss", "weight", "name"])


class _Weighted:
    """A loss of the user's structure with its weight (None: no loss there)."""

    def __new__(cls, loss, weight):
        return None if loss is None else super().__new__(cls)

    def __init__(self, loss, weight):
        self.loss, self.weight = loss, weight


class _StructuredLosses:
    """Losses given as a structure over a model's (possibly nested) outputs, as Keras 3
    resolves them: each loss applies to the part of the outputs (and targets) at its path.

    A loss applies to the whole part it meets (a function then receives the tuple or dict
    of tensors); a sequence of losses as long as that part's leaves gives one loss per
    leaf; a sequence of another type than the part applies each of its losses to the
    whole part. Each loss is named by its path (output names stand for positions), and
    the model logs each one's value as `<name>_loss` when there are several.
    """

    def __init__(self, loss, loss_weights, outputs, flat_names):
        self.outputs = outputs
        names = pack_sequence_as(outputs, list(flat_names)) if len(flat_names) == len(
            flatten(outputs)) else pack_sequence_as(outputs, [None] * len(flatten(outputs)))
        weighted = self._weighted(loss, loss_weights)
        if not _is_container(weighted) and weighted is not None:
            weighted = map_structure(lambda _: weighted, outputs)
        self.entries = []
        self._add(outputs, weighted, names, ())

    @staticmethod
    def _weighted(loss, loss_weights):
        if loss_weights is None:
            return map_structure(lambda entry: _Weighted(entry, None), loss)
        flat_weights = flatten(loss_weights)
        if not same_structure(loss, loss_weights):
            if len(flatten(loss)) != len(flat_weights):
                raise ValueError(
                    f"`loss_weights` must match the number of losses, got "
                    f"{len(flatten(loss))} losses and {len(flat_weights)} weights.")
        iterator = iter(flat_weights)
        return map_structure(lambda entry: _Weighted(entry, next(iterator)), loss)

    def _add(self, outputs, loss, names, path):
        """Keras' walk of the loss structure against the outputs' (see the class doc)."""
        if loss is None:
            return
        if isinstance(loss, _Weighted):
            self.entries.append(_LossEntry(path, _as_loss(loss.loss), loss.weight,
                                           _structured_loss_name(path, names, loss.loss)))
            return
        if isinstance(loss, (list, tuple)) and not any(_is_container(c) for c in loss) and \
                len(loss) == len(flatten(outputs)):
            loss = pack_sequence_as(outputs, list(loss))
        elif isinstance(loss, (list, tuple)) and not isinstance(outputs, type(loss)):
            for item in loss:
                self._add(outputs, item, names, path)
            return
        if not _is_container(loss):
            return self._add(outputs, loss, names, path)
        if not isinstance(loss, type(outputs)):
            raise KeyError(f"The path: {path} in the `loss` argument, can't be found in the "
                           "model's output (`y_pred`).")
        items = loss.items() if isinstance(loss, dict) else enumerate(loss)
        for key, item in items:
            if item is None:
                continue
            found = key in outputs if isinstance(outputs, dict) else \
                isinstance(outputs, (list, tuple)) and key < len(outputs)
            if not found:
                raise KeyError(f"The path: {path + (key,)} in the `loss` argument, can't be "
                               "found in either the model's output (`y_pred`) or in the "
                               "labels (`y_true`).")
            self._add(outputs[key], item, names[key], path + (key,))

    def per_output_losses(self):
        """For each flat output, the loss applying to it alone (None if none does)."""
        positions = pack_sequence_as(self.outputs, list(range(len(flatten(self.outputs)))))
        losses = [None] * len(flatten(self.outputs))
        for entry in self.entries:
            reached = flatten(_at(positions, entry.path))
            if len(reached) == 1:
                i = reached[0]
                losses[i] = entry.loss if losses[i] is None else \
                    _SummedLosses([losses[i], entry.loss])
        return losses

    def __call__(self, flat_true, flat_pred, sample_weight=None):
        """`(total loss, each entry's value)` for targets and outputs in output order."""
        y_true, y_pred = pack_sequence_as(self.outputs, flat_true), pack_sequence_as(self.outputs, flat_pred)
        total, values = None, []
        for entry in self.entries:
            target = _at(y_true, entry.path)
            if any(leaf is None for leaf in flatten(target)):
                raise ValueError(f"No target was given for the outputs at path {entry.path} "
                                 f"of the `loss` argument ('{entry.name}').")
            value = entry.loss(target, _at(y_pred, entry.path), sample_weight=sample_weight)
            values.append(value)
            term = value if entry.weight is None else ops.multiply(value, float(entry.weight))
            total = term if total is None else ops.add(total, term)
        if total is None:
            raise ValueError("The model was compiled without any loss for its outputs.")
        return total, values


def _at(structure, path):
    for key in path:
        structure = structure[key]
    return structure


def _structured_loss_name(path, names, loss):
    """Keras' name of a loss at `path`: the path, an output's name standing for a final
    position; the joined output names of a loss on several outputs."""
    if not _is_container(names):
        output_name = names if names is not None else losses_module.as_loss_object(loss).name \
            if not _is_crossentropy_alias(loss) else loss
        if not path:
            path = (output_name,)
        elif isinstance(path[-1], int):
            path = path[:-1] + (output_name,)
    name = "/".join(str(part) for part in path)
    if name == "":
        name = "_".join(str(n) for n in (names if isinstance(names, dict) else flatten(names)))
    return name


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
            if not group:
                continue
            masked = _mask_weights(y_pred[i], None, group)
            for metric in group:
                if masked is not None and isinstance(metric, metrics_module.MeanMetricWrapper):
                    metric.update_state(y_true[i], y_pred[i], sample_weight=masked)
                else:
                    metric.update_state(y_true[i], y_pred[i])
        for i, group in enumerate(self.weighted):
            if not group:
                continue
            masked = _mask_weights(y_pred[i], sample_weight, group)
            for metric in group:
                weights = sample_weight
                if masked is not None and isinstance(metric, metrics_module.MeanMetricWrapper):
                    weights = masked
                metric.update_state(y_true[i], y_pred[i], sample_weight=weights)

    def reset_state(self):
        for metric in self.metrics:
            metric.reset_state()
