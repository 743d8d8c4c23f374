"""A fused training step for the commonest model: preprocessing, then Dense layers.

Keras compiles `train_step` into one XLA program; numnet's counterpart for a
`Sequential` chain of `Dense` layers is this hand-fused NumPy step. It computes
what the generic step (forward pass under a `GradientTape`, `tape.gradient`,
`optimizer.apply`) computes, with the same numbers up to float rounding, but:

- activations are stored feature-major, `(units + 1, batch)`, with a last row
  of ones, and each kernel sits directly above its bias in memory (the
  optimizer packs them that way), so `x @ kernel + bias` is one matrix product
  with the `(inputs + 1, units)` block, and so are the kernel and bias
  gradients together;
- every buffer is allocated once per batch size and written with `out=`;
- the loss gradient comes from its closed form (softmax or sigmoid minus the
  target for cross-entropies on logits, as Keras' TensorFlow backend does);
- the gradients are written straight into the optimizer's flat gradient
  buffer, which it updates with one call per operation for all weights;
- stateless preprocessing (`Flatten`, `Normalization`, `Reshape`) runs once per
  epoch over the whole training set when that is small, not once per batch;
- a `Dropout` between two Dense layers draws its mask exactly as the layer
  does (same generator, same order, same layout), so results match too.

`fit` plans it at each call (`FusedDenseStep.plan`) and uses it when the
model qualifies; `compile(jit_compile=False)` or `run_eagerly=True` turns it
off. Sample and class weights are covered: they scale each sample's loss and
gradient, and weighted metrics receive them. Everything else it does not cover
(regularizers, constraints, other layers, losses or activations, a custom
`train_step`) takes the generic step; `model._fused_step_reason` says why.
"""

import numpy as np

from numnet import activations
from numnet import losses as losses_module
from numnet.autodiff.ops.nn import SELU_ALPHA, SELU_SCALE
from numnet.backend import make_generator, xp
from numnet.layers.core import Dense
from numnet.layers.preprocessing import Normalization
from numnet.layers.regularization import Dropout
from numnet.layers.reshaping import Flatten, Reshape
from numnet.metrics import regression as regression_metrics
from numnet.metrics.accuracy import sparse_categorical_accuracy
from numnet.metrics.base import Mean, MeanMetricWrapper

_PREPROCESSING = (Flatten, Normalization, Reshape)
_HIDDEN_ACTIVATIONS = {activations.linear: "linear", activations.relu: "relu",
                       activations.tanh: "tanh", activations.sigmoid: "sigmoid",
                       activations.leaky_relu: "leaky_relu", activations.elu: "elu",
                       activations.selu: "selu"}
_LEAKY_SLOPE = 0.2  # the default negative_slope of activations.leaky_relu, as in Keras
# Above this size the preprocessed training set is not materialized per epoch;
# batches are gathered (and preprocessed) one by one instead.
_EPOCH_GATHER_BYTES = 32 * 2**20


class _Stage:
    """One Dense layer: its `(inputs + bias row, units)` weight and gradient blocks."""

    def __init__(self, layer, activation, weight, gradient, dropout=None):
        self.dropout = dropout  # the Dropout layer after this one (rate > 0), or None
        self.units = layer.units
        self.use_bias = layer.bias is not None
        self.activation = activation
        self.weight_t = weight.T  # (units, inputs [+ 1])
        self.kernel = weight[:layer.kernel.data.shape[0]]  # (inputs, units)
        self.gradient = gradient


class _Buffers:
    """Every array one step writes, for one batch size `m`, and the step's plan over them.

    `forward` and `backward` list, per Dense layer after the first, the
    arrays each matrix product and activation reads and writes, so that the
    step itself is a plain loop over them.
    """

    def __init__(self, stages, m, dtype, x_dim):
        self.m = m
        self.x = xp.ones((m, x_dim + 1), dtype=dtype)  # a batch, row-major, with a ones column
        self.source = None  # the gathered batch before the cast, when the data's dtype differs
        last = len(stages) - 1
        # each layer's output, feature-major, with a ones row below (the last layer: none)
        h = [xp.ones((st.units + (i < last), m), dtype=dtype) for i, st in enumerate(stages)]
        z = [h[i][:st.units] for i, st in enumerate(stages)]
        # after a Dropout: the dropped copy the next layer reads (the activation's
        # derivative still needs the values before dropping)
        dropped = [xp.ones((st.units + 1, m), dtype=dtype) if st.dropout else None
                   for st in stages]
        outputs = [h[i] if dropped[i] is None else dropped[i] for i in range(len(stages))]
        # the loss gradient with respect to each layer's pre-activation
        d = [xp.empty((st.units, m), dtype=dtype) for st in stages]
        self.mask = [xp.empty((st.units, m), dtype=bool) for st in stages]
        self.scratch = [xp.empty((st.units, m), dtype=dtype) for st in stages]
        # per Dropout, on the (batch, units) layout the layer draws: the uniform draw,
        # the kept entries, and the mask (0 or 1 / (1 - rate)) this step applies
        self.dropout = [(xp.empty((m, st.units), dtype="float32"),
                         xp.empty((m, st.units), dtype=bool),
                         xp.empty((m, st.units), dtype=dtype)) if st.dropout else None
                        for st in stages]
        inputs = [None] + [outputs[i - 1] if st.use_bias else outputs[i - 1][:-1]
                           for i, st in enumerate(stages) if i]
        self.out, self.d_out = h[last], d[last]
        self.forward = [(i, st.weight_t, inputs[i], z[i], st.activation, self.scratch[i],
                         st.dropout, None if dropped[i] is None else dropped[i][:-1])
                        for i, st in enumerate(stages)]
        self.backward = [(inputs[i], d[i].T, st.gradient, st.kernel, st.units == 1, d[i],
                          d[i - 1], z[i - 1], stages[i - 1].activation, self.mask[i - 1],
                          self.scratch[i - 1], i - 1 if stages[i - 1].dropout else None)
                         for i, st in reversed(list(enumerate(stages))) if i]
        self.first = (stages[0], z[0], d[0].T)
        self.column = xp.empty(m, dtype=dtype)
        self.column2 = xp.empty(m, dtype=dtype)
        self.flat_index = xp.empty(m, dtype=xp.intp)
        self.rows = xp.arange(m, dtype=xp.intp)


class FusedDenseStep:
    """Runs `fit`'s training steps for a Sequential stack of Dense layers.

    Build it with `FusedDenseStep.plan(model, x, y, sample_weight)`, which
    returns `(step, None)` or `(None, reason)`; then call `begin_epoch(order)`
    at each epoch's start and `train_batch(start, stop)` for each batch.
    """

    @classmethod
    def plan(cls, model, x, y, sample_weight):
        reason = _unsupported(model, x, y, sample_weight)
        if reason is not None:
            return None, reason
        try:
            return cls(model, x, y, sample_weight), None
        except _NotFused as why:
            return None, str(why)

    def __init__(self, model, x, y, sample_weight=None):
        layers = model.layers
        n_prefix = next(i for i, layer in enumerate(layers) if isinstance(layer, Dense))
        self.prefix = layers[:n_prefix]
        dense, dropouts = [], []
        for layer in layers[n_prefix:]:
            if isinstance(layer, Dense):
                dense.append(layer)
                dropouts.append(None)
            elif layer.rate > 0:  # a Dropout (checked by _unsupported); rate 0 draws nothing
                dropouts[-1] = layer
        self.n = len(x)
        self._check_prefix(x, dense[0])
        self.loss_kind, last_activation = self._loss_kind(model, dense[-1])

        acts = []
        for layer in dense[:-1]:
            act = _HIDDEN_ACTIVATIONS.get(layer.activation)
            if act is None:
                raise _NotFused(f"layer '{layer.name}' has an activation the fused step lacks")
            acts.append(act)
        acts.append(last_activation)

        variables = []
        for layer in dense:
            variables += [layer.kernel] + ([layer.bias] if layer.bias is not None else [])
        trainable = model.trainable_weights
        if len(trainable) != len(variables) or any(a is not b for a, b in zip(trainable, variables)):
            raise _NotFused("the trainable weights are not exactly the Dense kernels and biases")
        self.variables = trainable
        dtypes = {v.data.dtype for v in variables}
        if len(dtypes) != 1 or next(iter(dtypes)).kind != "f":
            raise _NotFused("the weights do not share one float dtype")
        self.dtype = next(iter(dtypes))
        self.classes = dense[-1].units
        self.targets = self._convert_targets(y)
        self.x = x
        metrics = model.compiled_metrics
        self.weights = self._convert_weights(sample_weight)
        # (metric, shortcut or None, whether it takes the sample weights)
        self.metrics = [(metric, None if self.weights is not None else self._shortcut(metric),
                         weighted)
                        for weighted, groups in ((False, metrics.per_output),
                                                 (True, metrics.weighted))
                        for group in groups for metric in group]
        self.loss_tracker = model._loss_tracker
        if type(self.loss_tracker).update_state is not Mean.update_state:
            raise _NotFused("a custom loss tracker")
        self._sums = [0.0] * (len(self.metrics) + 1)
        self._count = 0
        self.loss_weight = float(model.compiled_loss.weights[0])

        # Every check passed: from here on the plan changes where the weights live.
        optimizer = self.optimizer = model.optimizer
        optimizer._prepare_variables(variables)
        buffers = optimizer._packed_buffers(variables)
        self.stages = []
        if buffers is not None and self._adjacent(dense, buffers[0]):
            flat_w, flat_g = buffers
            self.packed = True
            for layer, act, drop in zip(dense, acts, dropouts):
                start = _offset(layer.kernel.data, flat_w)
                rows = layer.kernel.data.shape[0] + (layer.bias is not None)
                stop = start + rows * layer.units
                self.stages.append(_Stage(layer, act, flat_w[start:stop].reshape(rows, -1),
                                          flat_g[start:stop].reshape(rows, -1), drop))
        else:
            # The optimizer keeps per-variable arrays: give each kernel and bias a
            # shared block of our own and pass the gradient blocks' parts to `apply`.
            self.packed = False
            self.gradients = []
            for layer, act, drop in zip(dense, acts, dropouts):
                inputs = layer.kernel.data.shape[0]
                weight = xp.empty((inputs + (layer.bias is not None), layer.units),
                                  dtype=self.dtype)
                gradient = xp.empty_like(weight)
                weight[:inputs] = layer.kernel.data
                layer.kernel.data = weight[:inputs]
                self.gradients.append(gradient[:inputs])
                if layer.bias is not None:
                    weight[-1] = layer.bias.data
                    layer.bias.data = weight[-1]
                    self.gradients.append(gradient[-1])
                self.stages.append(_Stage(layer, act, weight, gradient, drop))
        self.views = [(v, v.data) for v in variables]
        self._buffers = {}
        self._last_buffers = None
        self._epoch_x = self._epoch_y = self._epoch_w = None
        self._order = None

    # ------------------------------------------------------------- planning
    def _check_prefix(self, x, first):
        sample = x[:1]
        for layer in self.prefix:
            sample = layer(sample, training=True)
        sample = getattr(sample, "data", sample)
        if sample.ndim != 2 or sample.shape[1] != first.kernel.data.shape[0]:
            raise _NotFused(f"the input of '{first.name}' is not a matrix of its input size")
        self.x_dim = sample.shape[1]
        self.reshape_only = all(isinstance(layer, (Flatten, Reshape)) for layer in self.prefix)

    @staticmethod
    def _loss_kind(model, last):
        """What the loss is, and the last layer's activation as the step applies it."""
        loss = model.compiled_loss.losses[0]
        act = last.activation
        if type(loss).call is not losses_module.LossFunctionWrapper.call or \
                type(loss).__call__ is not losses_module.Loss.__call__:
            raise _NotFused(f"loss '{loss.name}' has its own call")
        if loss.reduction != "sum_over_batch_size":
            raise _NotFused(f"loss reduction {loss.reduction!r}")
        kwargs = getattr(loss, "_fn_kwargs", {})
        fn = getattr(loss, "fn", None)
        if fn is losses_module.mean_squared_error and type(loss) in (
                losses_module.MeanSquaredError, losses_module.LossFunctionWrapper):
            if act in _HIDDEN_ACTIVATIONS:
                return "mse", _HIDDEN_ACTIVATIONS[act]
            raise _NotFused("mean squared error after this activation")
        if fn in (losses_module.sparse_categorical_crossentropy,
                  losses_module.categorical_crossentropy, losses_module.binary_crossentropy):
            if kwargs.get("label_smoothing") or kwargs.get("ignore_class") is not None or \
                    kwargs.get("axis", -1) != -1:
                raise _NotFused("cross-entropy options the fused step lacks")
            binary = fn is losses_module.binary_crossentropy
            squash = activations.sigmoid if binary else activations.softmax
            from_logits = kwargs.get("from_logits", False)
            if from_logits and act is activations.linear:
                logits_output = True
            elif not from_logits and act is squash:
                logits_output = False
            else:
                raise _NotFused("cross-entropy without logits to work from")
            kind = {losses_module.sparse_categorical_crossentropy: "sparse",
                    losses_module.categorical_crossentropy: "categorical",
                    losses_module.binary_crossentropy: "binary"}[fn]
            return kind, "linear" if logits_output else "squash"
        raise _NotFused(f"loss '{loss.name}'")

    def _shortcut(self, metric):
        """How a metric can be fed from what the loss computes, if it can.

        "squared_error": the mean squared error per sample, summed (MSE and
        RMSE metrics after an MSE loss); "sparse_accuracy": argmax matches.
        """
        wrapped = (type(metric).update_state is MeanMetricWrapper.update_state
                   and not metric._fn_kwargs)
        if self.loss_kind == "mse" and (
                type(metric) is regression_metrics.RootMeanSquaredError or
                (wrapped and metric._fn is regression_metrics.mean_squared_error)):
            return "squared_error"
        if self.loss_kind == "sparse" and wrapped and metric._fn is sparse_categorical_accuracy:
            return "sparse_accuracy"
        return None

    @staticmethod
    def _adjacent(dense, flat):
        """Whether each kernel lies in `flat` directly above its bias."""
        for layer in dense:
            kernel = layer.kernel.data
            if not kernel.flags.c_contiguous or _offset(kernel, flat) is None:
                return False
            if layer.bias is not None and \
                    _offset(layer.bias.data, flat) != _offset(kernel, flat) + kernel.size:
                return False
        return True

    def _convert_weights(self, sample_weight):
        if sample_weight is None:
            return None
        w = np.asarray(sample_weight)
        if w.shape not in ((self.n,), (self.n, 1)) or w.dtype.kind not in "biuf":
            raise _NotFused("sample weights not shaped (samples,)")
        return xp.ascontiguousarray(w.reshape(self.n), dtype=self.dtype)

    def _convert_targets(self, y):
        n, k = self.n, self.classes
        if self.loss_kind == "sparse":
            if not (y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1)):
                raise _NotFused("sparse labels of an unexpected shape")
            # `fit` has checked every label against the classes (`_check_all_labels`).
            return y.reshape(n).astype(xp.intp)
        if y.ndim == 1 and k == 1:
            y = y.reshape(n, 1)
        if y.shape != (n, k):
            raise _NotFused("targets not shaped like the outputs")
        return xp.ascontiguousarray(y, dtype=self.dtype)

    # ---------------------------------------------------------------- data
    def _preprocess(self, x):
        if not self.prefix:
            return x
        out = x
        for layer in self.prefix:
            out = layer(out, training=True)
        return getattr(out, "data", out)

    def begin_epoch(self, order):
        """Fixes this epoch's sample order (None: as given); small data is gathered now."""
        self._order = order
        n, width = self.n, self.x_dim + 1
        if n * width * self.dtype.itemsize <= _EPOCH_GATHER_BYTES:
            full = xp.ones((n, width), dtype=self.dtype)
            full[:, :-1] = self._preprocess(self.x)
            if order is not None:
                full = full.take(order, axis=0)
            self._epoch_x = full
            self._epoch_y = self.targets if order is None else self.targets.take(order, axis=0)
            self._epoch_w = (self.weights if order is None or self.weights is None
                             else self.weights.take(order))
        else:
            self._epoch_x = self._epoch_w = None
            if self.reshape_only:
                self._flat_x = self.x.reshape(n, -1)

    def _buffers_for(self, m):
        bufs = self._buffers.get(m)
        if bufs is None:
            bufs = self._buffers[m] = _Buffers(self.stages, m, self.dtype, self.x_dim)
        return bufs

    def flush(self):
        """Adds the steps' pending loss and metric sums to the trackers' state.

        Adding to a metric's state costs a few microseconds, a sizeable part of
        a small model's step, so the sums wait in Python floats until someone
        reads the metrics (`fit` flushes before each read).
        """
        if self._count:
            self.loss_tracker._add_sum(self._sums[0], self._count)
            for (metric, shortcut, _), total in zip(self.metrics, self._sums[1:]):
                if shortcut is not None:
                    metric._add_sum(total, self._count)
            self._sums = [0.0] * len(self._sums)
            self._count = 0

    def weights_moved(self):
        """Whether a weight array was replaced (e.g. by `set_weights` with new arrays)."""
        for v, view in self.views:
            if v.data is not view:
                return True
        return False

    def train_batch(self, start, stop):
        """One training step on the epoch's samples `start:stop`."""
        m = min(stop, self.n) - start
        bufs = self._last_buffers
        if bufs is None or bufs.m != m:
            bufs = self._last_buffers = self._buffers_for(m)
        wb = None
        if self._epoch_x is not None:
            xb = self._epoch_x[start:start + m]
            yb = self._epoch_y[start:start + m]
            if self._epoch_w is not None:
                wb = self._epoch_w[start:start + m]
        else:
            index = (self._order[start:start + m] if self._order is not None
                     else xp.arange(start, start + m))
            xb = bufs.x
            if not self.reshape_only:
                xb[:, :-1] = self._preprocess(self.x[index])
            elif self._flat_x.dtype == self.dtype:
                xp.take(self._flat_x, index, axis=0, out=xb[:, :-1], mode="clip")
            else:  # e.g. float64 images: gather, then cast as the layers' input autocast does
                if bufs.source is None:
                    bufs.source = xp.empty((m, self.x_dim), dtype=self._flat_x.dtype)
                xp.take(self._flat_x, index, axis=0, out=bufs.source, mode="clip")
                xb[:, :-1] = bufs.source
            yb = self.targets.take(index, axis=0)
            if self.weights is not None:
                wb = self.weights.take(index)

        # forward, feature-major: each layer's input has a row of ones for the bias
        first, z0, d0_t = bufs.first
        x_t = xb.T if first.use_bias else xb[:, :-1].T
        for i, weight_t, a, z, act, scratch, dropout, dropped in bufs.forward:
            _dense_forward(weight_t, x_t if i == 0 else a, z, act, scratch)
            if dropout is not None:
                # Dropout's own draw, on the (batch, units) layout it sees, in layer order
                generator = dropout._generator or make_generator()
                draw, kept, keep = bufs.dropout[i]
                generator.random(dtype="float32", out=draw)
                xp.greater_equal(draw, dropout.rate, out=kept)
                xp.multiply(kept, z.dtype.type(1.0 / (1.0 - dropout.rate)), out=keep)
                xp.multiply(z, keep.T, out=dropped)

        out = bufs.out
        loss_sum = self._loss(bufs, out, yb, wb, m)
        # Running sums, added to the trackers' state by `flush()`; as in Keras the
        # loss tracker sees the batch's mean loss weighted by the batch size.
        sums = self._sums
        if self.loss_weight != 1.0:
            bufs.d_out *= self.loss_weight
            sums[0] += loss_sum * self.loss_weight
        else:
            sums[0] += loss_sum
        self._count += m
        for j, (metric, shortcut, weighted) in enumerate(self.metrics, start=1):
            if shortcut == "squared_error":
                sums[j] += loss_sum
            elif shortcut == "sparse_accuracy":
                xp.argmax(out, axis=0, out=bufs.flat_index)
                sums[j] += int(xp.count_nonzero(bufs.flat_index == yb))
            elif weighted:
                metric.update_state(yb, out.T, sample_weight=wb)
            else:
                metric.update_state(yb, out.T)

        # backward: the kernel-and-bias gradient of each layer in one product
        for (a, g_t, gradient, kernel, single, g, below, y, act, mask,
             scratch, dropped_at) in bufs.backward:
            xp.matmul(a, g_t, out=gradient)
            if single:
                xp.multiply(kernel, g, out=below)
            else:
                xp.matmul(kernel, g, out=below)
            if dropped_at is not None:
                below *= bufs.dropout[dropped_at][2].T
            _times_derivative(below, y, act, mask, scratch)
        xp.matmul(x_t, d0_t, out=first.gradient)

        if self.packed:
            self.optimizer._apply_packed_gradient(self.variables)
        else:
            self.optimizer.apply(self.gradients, self.variables)

    # --------------------------------------------------------------- losses
    def _loss(self, bufs, out, yb, wb, m):
        """Writes dLoss/d(last pre-activation) into `bufs.d_out`; returns the summed loss.

        `wb` holds the batch's sample weights (None: all ones); as in Keras the
        loss is `sum(w * per_sample_loss) / m`. On return `out` holds the
        model's output (probabilities after a softmax/sigmoid last layer),
        which the metrics see.
        """
        d, scratch = bufs.d_out, bufs.scratch[-1]
        kind = self.loss_kind
        k = self.classes
        if kind == "mse":
            xp.subtract(out, yb.T, out=d)
            if wb is None:
                total = float(xp.vdot(d, d)) / k
                d *= 2.0 / (m * k)
            else:
                xp.multiply(d, wb, out=scratch)
                total = float(xp.vdot(d, scratch)) / k
                xp.multiply(scratch, 2.0 / (m * k), out=d)
            _times_derivative(d, out, self.stages[-1].activation, bufs.mask[-1],
                              bufs.scratch[-1])
            return total
        if kind == "binary":
            # logits z: loss = max(z, 0) - z * y + log1p(exp(-|z|)); gradient sigmoid(z) - y
            t, y_t = scratch, yb.T
            xp.abs(out, out=t)
            xp.negative(t, out=t)
            xp.exp(t, out=t)
            xp.log1p(t, out=t)
            xp.maximum(out, 0, out=d)
            t += d
            xp.multiply(out, y_t, out=d)
            t -= d
            if wb is None:
                total = float(xp.add.reduce(t, axis=None)) / k
            else:
                total = float(xp.dot(xp.add.reduce(t, axis=0), wb)) / k
            _sigmoid_(out, d)
            if self.stages[-1].activation == "squash":
                xp.copyto(out, d)
            xp.subtract(d, y_t, out=d)
            if wb is not None:
                d *= wb
            d *= 1.0 / (m * k)
            return total
        # softmax cross-entropies, from the logits in `out` (classes x batch)
        column = bufs.column
        xp.maximum.reduce(out, axis=0, out=column)
        xp.subtract(out, column, out=d)  # shifted logits
        if kind == "sparse":
            index = bufs.flat_index
            xp.multiply(yb, m, out=index)
            index += bufs.rows
            picked = xp.take(d.reshape(-1), index, out=bufs.column2, mode="clip")
        else:
            y_t = yb.T
            label_sums = xp.add.reduce(y_t, axis=0)
            xp.multiply(y_t, d, out=scratch)
            picked = xp.add.reduce(scratch, axis=0, out=bufs.column2)
        xp.exp(d, out=d)
        xp.add.reduce(d, axis=0, out=column)
        xp.divide(d, column, out=d)  # probabilities
        xp.log(column, out=column)  # log-sum-exp of the shifted logits
        if kind != "sparse":
            column *= label_sums
        column -= picked  # per-sample losses
        total = float(xp.add.reduce(column) if wb is None else xp.dot(column, wb))
        if self.stages[-1].activation == "squash":
            xp.copyto(out, d)
        if kind == "sparse":
            flat = d.reshape(-1)
            flat[index] -= 1
        else:
            d *= label_sums
            d -= y_t
        if wb is not None:
            d *= wb
        d *= 1.0 / m
        return total


class _NotFused(Exception):
    """Why a model takes the generic training step."""


def _unsupported(model, x, y, sample_weight):
    """The reason `model` cannot use the fused step, or None."""
    from numnet.models.sequential import Sequential
    from numnet.models.trainer import Trainer

    if not model.jit_compile or model.run_eagerly:
        return "turned off by compile(jit_compile=False / run_eagerly=True)"
    cls = type(model)
    for name in ("train_step", "compute_loss", "_update_metrics"):
        if getattr(cls, name) is not getattr(Trainer, name):
            return f"the model overrides {name}"
    if not isinstance(model, Sequential) or cls.call is not Sequential.call:
        return "not a plain Sequential model"
    if type(x) is not np.ndarray or type(y) is not np.ndarray or len(x) == 0:
        return "inputs and targets are not single arrays"
    if model.compiled_loss is None or not model.compiled_loss.built or \
            len(model.compiled_loss.losses) != 1 or \
            model.compiled_loss.trackers:
        return "not a single-output, single-loss model"
    if model.optimizer is None:
        return "no optimizer"
    layers = model.layers
    dense_seen = False
    for i, layer in enumerate(layers):
        if isinstance(layer, Dense) and type(layer) is Dense:
            dense_seen = True
            if (layer.kernel_regularizer or layer.bias_regularizer or
                    layer.activity_regularizer or layer.kernel_constraint or
                    layer.bias_constraint or not layer.trainable or not layer.built):
                return f"layer '{layer.name}' has a regularizer, constraint or is frozen"
        elif dense_seen and type(layer) is Dropout and layer.noise_shape is None and \
                type(layers[i - 1]) is Dense and i + 1 < len(layers):
            continue  # between two Dense layers
        elif dense_seen:
            return f"layer '{layer.name}' follows a Dense layer"
        elif type(layer) not in _PREPROCESSING or layer.trainable_weights or \
                layer.activity_regularizer or (isinstance(layer, Normalization) and layer.invert):
            return f"layer '{layer.name}' ({type(layer).__name__}) is not plain preprocessing"
    if not dense_seen:
        return "no Dense layer"
    return None


def _offset(array, flat):
    """`array`'s start as an index into `flat`, or None if it does not lie inside it."""
    start = array.__array_interface__["data"][0] - flat.__array_interface__["data"][0]
    if array.dtype != flat.dtype or start < 0 or start % flat.itemsize or \
            start // flat.itemsize + array.size > flat.size:
        return None
    return start // flat.itemsize


def _dense_forward(weight_t, a, z, activation, scratch):
    """`z = activation(weight_t @ a)`, in place (`scratch` is shaped like `z`)."""
    xp.matmul(weight_t, a, out=z)
    if activation == "relu":
        xp.maximum(z, 0, out=z)
    elif activation == "tanh":
        xp.tanh(z, out=z)
    elif activation == "sigmoid":
        _sigmoid_(z, z)
    elif activation == "leaky_relu":
        xp.multiply(z, _LEAKY_SLOPE, out=scratch)
        xp.maximum(z, scratch, out=z)
    elif activation in ("elu", "selu"):
        # max(z, 0) + alpha * expm1(min(z, 0)), times the scale for SELU
        xp.minimum(z, 0, out=scratch)
        xp.expm1(scratch, out=scratch)
        if activation == "selu":
            scratch *= SELU_ALPHA
        xp.maximum(z, 0, out=z)
        z += scratch
        if activation == "selu":
            z *= SELU_SCALE


def _sigmoid_(z, out):
    """`out = sigmoid(z)` as 0.5 * (1 + tanh(z / 2)), which never overflows."""
    xp.multiply(z, 0.5, out=out)
    xp.tanh(out, out=out)
    out += 1
    out *= 0.5


def _times_derivative(g, y, activation, mask, scratch):
    """`g *= activation'(.)`, written in terms of the activation's output `y`."""
    if activation == "relu":
        xp.greater(y, 0, out=mask)
        xp.multiply(g, mask, out=g)
    elif activation == "tanh":
        xp.multiply(y, y, out=scratch)
        xp.subtract(1, scratch, out=scratch)
        g *= scratch
    elif activation == "sigmoid":
        xp.subtract(1, y, out=scratch)
        scratch *= y
        g *= scratch
    elif activation == "leaky_relu":
        xp.less_equal(y, 0, out=mask)
        xp.multiply(g, _LEAKY_SLOPE, out=g, where=mask)
    elif activation == "elu":
        xp.less_equal(y, 0, out=mask)
        xp.add(y, 1.0, out=scratch)
        xp.multiply(g, scratch, out=g, where=mask)
    elif activation == "selu":
        xp.greater_equal(y, 0, out=mask)
        xp.add(y, SELU_SCALE * SELU_ALPHA, out=scratch)
        xp.copyto(scratch, SELU_SCALE, where=mask)
        g *= scratch
