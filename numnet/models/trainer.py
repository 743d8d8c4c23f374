"""The training loop: `compile`, `fit`, `evaluate`, `predict` and their one-batch forms.

The loop is plain Python over index batches. Each step is `train_step`: the
forward pass under a `GradientTape`, the gradients of the loss with respect to
the trainable weights, the optimizer's in-place update, the metric updates.
With `jit_compile` (the default) the loop calls it through a
`numnet.engine.CompiledFunction`, which captures the step and replays it as a
flat list of kernels over preallocated buffers. Log keys,
their order and the running-mean semantics follow Keras 3: train metrics are
running means over the epoch, validation metrics are computed at the epoch's
end on the whole validation set.
"""

import contextlib
import functools
import threading
import warnings

import numpy as np

from numnet import losses as losses_module
from numnet import metrics as metrics_module
from numnet import optimizers as optimizers_module
from numnet.autodiff.parameters import ParameterStore
from numnet.autodiff.tape import GradientTape
from numnet.autodiff.tensor import StatelessScope, Tensor
from numnet.backend import thread_scope
from numnet.callbacks.callback_list import CallbackList
from numnet.layers.symbolic import producer
from numnet.tree import flatten, map_structure, pack_sequence_as, same_structure
from numnet.models.packing import pack_x_y_sample_weight, unpack_x_y_sample_weight
from numnet.models import data_adapter
from numnet.models.prefetch import STEP_ASIDE
from numnet.models.compile_utils import CompileLoss, CompileMetrics
from numnet.models.step_code import only_numnet_code
from numnet.engine import Batch, CompiledFunction


def takes_turns(method):
    """Runs the model method `method` holding the model's `turn_lock`; when the outermost
    such call ends, the compiled steps let go of its data (`_let_go_of_data`).

    While the call waits for a batch from a reader's threads it steps aside
    (`prefetch.waiting`): a reader whose batches call this model takes its turn then,
    between two steps, instead of waiting for the call to end (which waits for it).
    """
    @functools.wraps(method)
    def run(self, *args, **kwargs):
        lock = self.turn_lock
        with lock:
            depth = self.__dict__.get("_call_depth", 0)
            self.__dict__["_call_depth"] = depth + 1
            STEP_ASIDE.append(lock)  # one entry per level held (see `prefetch.waiting`)
            try:
                return method(self, *args, **kwargs)
            finally:
                STEP_ASIDE.pop()
                self.__dict__["_call_depth"] = depth
                if depth == 0:
                    self._let_go_of_data()
    return run


def _resolve_verbose(verbose):
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2, True, False):
        raise ValueError(f"`verbose` must be 'auto', 0, 1 or 2; received verbose={verbose!r}.")
    return int(verbose)


def _check_batch_size(batch_size):
    if batch_size is None:
        return 32
    if not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise ValueError(f"`batch_size` must be a positive integer; received batch_size={batch_size!r}.")
    return int(batch_size)


class Trainer:
    """Mixin holding the training loop; `Model` combines it with `Layer`."""

    def _init_trainer(self):
        self.compiled = False
        # No `optimizer` attribute until `compile` sets one (reading it raises AttributeError,
        # as in Keras); numnet reads it with `getattr(model, "optimizer", None)`.
        self.compiled_loss = None
        self.compiled_metrics = None
        self.loss = None
        self.stop_training = False
        self.history = None
        self._loss_tracker = None
        self._compile_config = None
        self._train_vars = None
        self.jit_compile = True
        self.run_eagerly = False
        self.train_function = None
        self.test_function = None
        self.predict_function = None
        self._parameters_placed = False
        self._largest_kernel = None

    # -------------------------------------------------------------- compile
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Configures the model for training.

        Args:
            optimizer: name or `numnet.optimizers.Optimizer` ("rmsprop" by default).
            loss: a loss (name, function or `Loss`), or one per output as a
                list or a dict keyed by output name.
            loss_weights: scalars weighting each output's loss.
            metrics: metrics to track; for several outputs a list with one
                entry per output or a dict keyed by output name.
            weighted_metrics: metrics that take `sample_weight`/`class_weight` into account.
            run_eagerly: run every step eagerly, op by op (e.g. to debug a custom
                layer or loss).
            jit_compile: "auto" (default) or True: `fit`, `evaluate` and
                `predict` capture their step once per input signature and
                replay it as preallocated kernels (`numnet.engine`); a step
                that cannot be captured runs eagerly, and `compiled_reason`
                says why. False: every step eagerly. Both give the same numbers
                up to float rounding.
            steps_per_execution, auto_scale_loss: accepted for Keras
                compatibility; numnet runs one step at a time.
        """
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = loss
        self.compiled_loss = CompileLoss(loss, loss_weights) if loss is not None else None
        self.compiled_metrics = CompileMetrics(metrics, weighted_metrics, loss)
        self._loss_tracker = metrics_module.Mean(name="loss")
        if jit_compile == "auto":
            jit_compile = not run_eagerly
        if jit_compile and run_eagerly:
            warnings.warn("If `run_eagerly` is True, then `jit_compile` cannot also be True. "
                          "Disabling `jit_compile`.", stacklevel=2)
            jit_compile = False
        self.jit_compile = bool(jit_compile)
        self.run_eagerly = bool(run_eagerly)
        self._compile_config = {
            "optimizer": optimizer, "loss": loss, "loss_weights": loss_weights,
            "metrics": metrics, "weighted_metrics": weighted_metrics,
        }
        self.compiled = True
        self.stop_training = False
        self._train_vars = None
        self._loss_sources_cache = None
        self._single_output_built = False
        self._reset_functions()

    # ------------------------------------------------------ compiled steps
    def __getstate__(self):
        """A copy (pickle, deepcopy) leaves the compiled steps behind: it compiles its own."""
        state = dict(self.__dict__)
        state.update(train_function=None, test_function=None, predict_function=None,
                     _parameters_placed=False)
        for name in ("_call_functions", "_replayed_buffers", "_turn_lock"):
            state.pop(name, None)
        return state

    @property
    def turn_lock(self):
        """The lock that the model's calls, `fit`, `evaluate`, `predict` and their one-batch
        forms hold: from several threads they take turns.

        They must: a compiled step computes in buffers of its own, so two replays
        at once would mix their batches (a race no error would show). It is
        re-entrant, so a callback or a layer may call the model again.
        """
        lock = self.__dict__.get("_turn_lock")
        if lock is None:  # `setdefault` is atomic: two threads get the same lock
            lock = self.__dict__.setdefault("_turn_lock", threading.RLock())
        return lock

    def _let_go_of_data(self):
        """Drops the compiled steps' references to the last call's data (the arrays and what
        was computed once from them), as Keras keeps none after `fit` or `predict`."""
        for function in (self.train_function, self.test_function, self.predict_function):
            if function is not None:
                function.end_call()

    def _reset_functions(self):
        self.train_function = self.test_function = self.predict_function = None
        self._parameters_placed = False
        self._largest_kernel = None

    def _structure_changed(self):
        """Layers were added or removed: compiled steps and cached facts no longer apply."""
        self._reset_functions()

    def _function(self, attribute, step, name, weights=None):
        """The cached step function `attribute`, compiled with `jit_compile` (Keras' make_*).

        A training step is compiled for the trainable weights it was made with
        (`weights`, the model's when not given): it is made again when they
        change (as a recompile does in Keras).
        """
        key = (self.jit_compile, self.run_eagerly)
        if attribute == "train_function":
            key += tuple(id(v) for v in (self.trainable_weights if weights is None else weights))
        function = getattr(self, attribute)
        if function is None or function.key != key:
            function = CompiledFunction(step, name, enabled=self.jit_compile
                                        and not self.run_eagerly,
                                        before_planning=self._ensure_placed,
                                        capture_first=attribute == "train_function",
                                        one_capture=self._runs_only_numnet_code)
            function.key = key
            setattr(self, attribute, function)
        return function

    def _runs_only_numnet_code(self):
        """Whether the steps are numnet's own code only: then one capture plans them
        (see `numnet.models.step_code`)."""
        return only_numnet_code(self, self._loss_sources()[0])

    def _build_and_place(self, x):
        """Builds the model on one sample of the inputs `x` if needed, then places its weights
        (once)."""
        if not self.built:
            self(data_adapter.take(x, slice(0, 1)), training=False)
        if not self._parameters_placed:
            self._place_parameters()

    def _place_parameters(self, weights=None):
        """Puts the trainable weights into one `ParameterStore`, once, before any replay.

        Returns the trainable weights (pass them if you have them: walking the
        layers costs).
        """
        weights = self.trainable_weights if weights is None else weights
        if weights and weights[0].store is None:
            ParameterStore.of(weights)
        self._parameters_placed = self.built
        return weights

    def _build_optimizer(self, weights):
        """Builds the optimizer on the trainable `weights` before the first step, as Keras'
        `fit` does: a step then reads its variables (a loss scale's) from the start."""
        if self.optimizer is not None and not self.optimizer.built:
            self.optimizer.build(weights)

    def _ensure_placed(self):
        """`_place_parameters` unless done since the model last changed (before a plan)."""
        if not self._parameters_placed:
            self._place_parameters()

    def make_train_function(self, force=False, weights=None):
        """The function `fit` calls per batch: `train_step`, compiled (see `compile`)."""
        if force:
            self.train_function = None
        return self._function("train_function", _in_keras_form(self.train_step), "train",
                              weights)

    def make_test_function(self, force=False):
        """The function `evaluate` calls per batch: `test_step`, compiled."""
        if force:
            self.test_function = None
        return self._function("test_function", _in_keras_form(self.test_step), "test")

    def make_predict_function(self, force=False):
        """The function `predict` calls per batch: `predict_step`, compiled."""
        if force:
            self.predict_function = None
        return self._function("predict_function", self.predict_step, "predict")

    @property
    def compiled_reason(self):
        """Why `fit`'s training step runs eagerly (None while it is compiled or not run yet)."""
        function = self.train_function
        return None if function is None else function.reason

    def _assert_compiled(self, what):
        if not self.compiled:
            raise RuntimeError(
                f"You must call `compile()` before using the model for {what}: "
                "e.g. model.compile(optimizer='sgd', loss='mse')."
            )
        if self.compiled_loss is None and type(self).train_step is Trainer.train_step \
                and what == "training":
            raise ValueError(
                "The model was compiled without a `loss`. Pass one, e.g. "
                "model.compile(loss='sparse_categorical_crossentropy')."
            )

    @property
    def metrics(self):
        """The loss tracker(s) and compiled metrics, in Keras' order, then the metrics the
        model's layers hold (as Keras, `fit` logs and resets those too)."""
        result = []
        if self._loss_tracker is not None:
            result.append(self._loss_tracker)
        if self.compiled_loss is not None and self.compiled_loss.built:
            result.extend(self.compiled_loss.trackers)
        if self.compiled_metrics is not None and self.compiled_metrics.built:
            result.extend(self.compiled_metrics.metrics)
        known = {id(m) for m in result}
        return result + [m for m in self._layer_metrics() if id(m) not in known]

    def _layer_metrics(self):
        """The metrics held by the model's layers (`Layer.metrics`)."""
        return []

    @property
    def metrics_names(self):
        return [m.name for m in self.metrics]

    def reset_metrics(self):
        for metric in self.metrics:
            metric.reset_state()

    # ------------------------------------------------------ output plumbing
    def _output_names_for(self, y_pred):
        names = getattr(self, "output_names", None)
        flat = flatten(y_pred)
        if names and len(names) == len(flat):
            return list(names)
        outputs = getattr(self, "outputs", None)  # nested outputs: their layers' names (Keras)
        if isinstance(outputs, list) and len(outputs) == len(flat) and \
                all(producer(t) is not None for t in outputs):
            return [producer(t).name for t in outputs]
        if isinstance(y_pred, dict):
            return sorted(y_pred)
        if names and self.compiled_loss is not None:  # a custom compute_loss split the outputs
            derived = self.compiled_loss.names_from_losses(len(flat))
            if derived is not None:
                return derived
        if len(flat) == 1:
            return [getattr(self, "_single_output_name", None) or "output"]
        return [f"output_{i + 1}" for i in range(len(flat))]

    def _flatten_targets(self, y, y_pred, names):
        """Orders the targets like the outputs; `y` may be one array, a list or a dict."""
        n = len(names)
        if y is None:
            return [None] * n
        if _is_nested_deep(y) and (same_structure(y, y_pred) if y_pred is not None
                                   else len(flatten(y)) == n):
            return flatten(y)  # nested targets mirror nested outputs
        if isinstance(y, dict):
            missing = [name for name in names if name not in y]
            extra = sorted(set(y) - set(names))
            if extra:
                raise ValueError(
                    f"Target dict `y` has keys {extra} that are not output names of the "
                    f"model. Output names: {names}."
                )
            return [y.get(name) for name in names] if len(missing) < n else \
                flatten(y) if len(y) == n else [y.get(name) for name in names]
        if isinstance(y, (list, tuple)):
            if len(y) != n:
                raise ValueError(
                    f"The model has {n} output(s) {names} but `y` has {len(y)} entries."
                )
            return list(y)
        if n != 1:
            raise ValueError(
                f"The model has {n} outputs {names}; pass `y` as a list with one array per "
                "output or a dict keyed by output name."
            )
        return [y]

    def _build_compiled(self, y, y_pred):
        if type(y_pred) is Tensor and type(y) is np.ndarray and \
                getattr(self, "_single_output_built", False):
            return [y], [y_pred]  # the per-step path of single-output models
        names = self._output_names_for(y_pred)
        flat_pred = flatten(y_pred)
        flat_true = self._flatten_targets(y, y_pred, names)
        if self.compiled_loss is not None and not self.compiled_loss.built:
            self.compiled_loss.build(names, output_structure=y_pred)
        if not self.compiled_metrics.built:
            losses = (self.compiled_loss.losses if self.compiled_loss is not None
                      else [None] * len(names))
            self.compiled_metrics.build(names, losses, flat_true,
                                        [getattr(p, "data", p) for p in flat_pred])
        self._compiled_output_names = names
        self._single_output_built = (len(names) == 1 and self.compiled_loss is not None
                                     and self.compiled_loss.built)
        return flat_true, flat_pred

    # ----------------------------------------------------------- the steps
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The total loss: the compiled losses plus the layers' regularization losses."""
        flat_true, flat_pred = self._build_compiled(y, y_pred)
        total = self.compiled_loss(flat_true, flat_pred, sample_weight)
        for penalty in self._current_penalties():
            total = total + penalty
        return total

    def _loss_sources(self):
        """(all layers, regularized variables), cached: walking the layer tree every step costs."""
        cache = getattr(self, "_loss_sources_cache", None)
        if cache is None:
            layers, stack = [], [self]
            while stack:
                layer = stack.pop()
                layers.append(layer)
                stack.extend(layer._sublayers())
            regularized = [v for v in self.weights if v.regularizer is not None]
            cache = (layers, regularized)
            self._loss_sources_cache = cache
        return cache

    def _current_penalties(self):
        layers, regularized = self._loss_sources()
        penalties = [v.regularizer(v) for v in regularized]
        for layer in layers:
            if layer._losses:
                penalties.extend(layer._losses)
        return penalties

    def train_step(self, data):
        """One optimization step on a batch (`x`, `(x, y)` or `(x, y, sample_weight)`, as
        in Keras); returns the logs."""
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        self.reset_losses()  # losses added during a call last one step
        with GradientTape() as tape:
            if self._train_vars is not None:
                tape.watch(self._train_vars)  # cheaper than discovering them op by op
            y_pred = self(x, training=True)
            loss = self.compute_loss(x, y, y_pred, sample_weight)
            # As Keras: the gradients of the scaled loss (the optimizer unscales them).
            scaled = loss if self.optimizer is None else self.optimizer.scale_loss(loss)
        if self._train_vars is None:
            self._train_vars = self.trainable_weights
        if self._train_vars:
            grads = tape.gradient(scaled, self._train_vars)
            self.optimizer.apply(grads, self._train_vars)
        else:
            warnings.warn("The model does not have any trainable weights.", stacklevel=2)
        self._update_metrics(loss, y, y_pred, x, sample_weight)
        return None

    def test_step(self, data):
        """Loss and metrics on a batch (in Keras' form, as `train_step`), without updating
        weights."""
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        self.reset_losses()
        y_pred = self(x, training=False)
        loss = self.compute_loss(x, y, y_pred, sample_weight, training=False)
        self._update_metrics(loss, y, y_pred, x, sample_weight)
        return None

    def predict_step(self, data):
        """The model's outputs on a batch of inputs."""
        x = data[0] if isinstance(data, tuple) and len(data) == 1 else data
        return self(x, training=False)

    def _update_metrics(self, loss, y, y_pred, x, sample_weight):
        """Feeds the loss trackers and metrics (each update a host call: see `host_call`)."""
        batch_size = next(leaf for leaf in flatten(x) if leaf is not None).shape[0]
        self._loss_tracker.update_state(loss, sample_weight=batch_size)
        self.compiled_loss.update_trackers(batch_size)
        if self.compiled_metrics.per_output or self.compiled_metrics.weighted:
            flat_true = self._flatten_targets(y, y_pred, self._compiled_output_names)
            self.compiled_metrics.update_state(flat_true, flatten(y_pred), sample_weight)

    def get_metrics_result(self):
        """Current results of all metrics as `{name: float}`, keys sorted like Keras' logs."""
        return {m.name: _log_value(m.result())
                for m in sorted(self.metrics, key=lambda m: m.name)}

    def _ordered_results(self, logs):
        """Keras' `evaluate` order: loss, per-output losses, then the rest sorted."""
        order = ["loss"]
        if self.compiled_loss is not None and self.compiled_loss.built:
            order += [t.name for t in self.compiled_loss.trackers]
        order += sorted(k for k in logs if k not in order)
        return [logs[k] for k in order if k in logs]

    # --------------------------------------------------------------- fit
    def _threads(self, batch_size):
        """The BLAS thread scope of one call: by the largest product of a step (see
        `numnet.backend.threads`)."""
        if not self._largest_kernel:  # cached: a walk over the layers costs per call
            self._largest_kernel = max(
                (v.data.size for v in self.trainable_weights if v.data.ndim == 2), default=0)
        return thread_scope(2.0 * self._largest_kernel * batch_size)

    @takes_turns
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Trains the model for `epochs` epochs (see Keras' `Model.fit`).

        Returns:
            A `History` whose `history` dict holds each epoch's `loss`,
            metrics and `val_` results.
        """
        with self._threads(_check_batch_size(batch_size)):
            return self._fit(x, y, batch_size, epochs, verbose, callbacks, validation_split,
                             validation_data, shuffle, class_weight, sample_weight,
                             initial_epoch, steps_per_epoch, validation_steps,
                             validation_batch_size, validation_freq)

    def _fit(self, x, y, batch_size, epochs, verbose, callbacks, validation_split,
             validation_data, shuffle, class_weight, sample_weight, initial_epoch,
             steps_per_epoch, validation_steps, validation_batch_size, validation_freq):
        self._assert_compiled("training")
        data_adapter.check_epochs(epochs)
        verbose = _resolve_verbose(verbose)
        batch_size = _check_batch_size(batch_size)
        # A DistributedOptimizer (numnet.distribute) shards the data by rank.
        distribution = getattr(self.optimizer, "distribution", None)
        data = data_adapter.fit_data(
            self, x, y, sample_weight, validation_data=validation_data,
            validation_split=validation_split, class_weight=class_weight,
            batch_size=batch_size, steps_per_epoch=steps_per_epoch, shuffle=shuffle,
            shard=distribution)
        with data:
            self._loss_sources_cache = None  # layers may have changed since the last call
            self._check_data(data.train)
            callback_list = callbacks if isinstance(callbacks, CallbackList) else CallbackList(
                callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                verbose=verbose, epochs=epochs, steps=data.train.steps)
            self.stop_training = False
            weights = self._train_vars = self._place_parameters()
            self._build_optimizer(weights)
            if distribution is not None:  # every rank starts from rank 0's state
                distribution.begin_fit(self, data.train)
            callback_list.on_train_begin()
            # A callback (BackupAndRestore) may resume from a later epoch, as in Keras 3;
            # the request lasts for this fit only.
            initial_epoch = getattr(self, "_initial_epoch", None) or initial_epoch
            self._initial_epoch = None
            epoch_logs = {}
            want_batch_logs = callback_list.needs_train_batch_logs
            begin_hooks = callback_list.batch_callbacks("on_train_batch_begin")
            train_function = self.make_train_function(weights=weights)
            reported = not train_function.enabled  # say once why steps run eagerly
            for epoch in range(initial_epoch, epochs):
                self.reset_metrics()
                train_function.begin_epoch()
                callback_list.on_epoch_begin(epoch)
                with data.train.epoch() as batches:
                    if not (begin_hooks or want_batch_logs):  # no one reads a step's logs
                        batches = train_function.replaying(batches)
                    for step, batch in batches:
                        if begin_hooks:
                            callback_list.on_train_batch_begin(step)
                        logs = train_function(batch)
                        if want_batch_logs:
                            if logs is None and callback_list.train_batch_logs_needed(step):
                                logs = self.get_metrics_result()
                            callback_list.on_train_batch_end(
                                step, None if logs is None else _python_floats(logs))
                        if self.stop_training:
                            break
                if verbose and train_function.reason and not reported:
                    print(f"numnet: {train_function.reason}", flush=True)
                    reported = True
                epoch_logs = self.get_metrics_result()
                if data.validation is not None and _should_eval(epoch, validation_freq):
                    val_data = data.validation_adapter(
                        validation_batch_size or _validation_batch_size(
                            batch_size, callback_list, validation_steps), validation_steps)
                    val_logs = self._run_evaluation(val_data, callback_list)
                    epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
                callback_list.on_epoch_end(epoch, epoch_logs)
                if self.stop_training or data.train.out_of_data(epochs - epoch - 1):
                    break
            callback_list.on_train_end(logs=epoch_logs)
        if epochs > initial_epoch:
            # As Keras: with `use_ema`, the weights become their moving averages.
            self.optimizer.finalize_variable_values(weights)
        return self.history

    def _standardize_model_inputs(self, x):
        """Hook for Functional models to order/check named inputs."""
        return x

    def _check_first_batch(self, x, y, targets):
        """Builds the model and its compiled losses/metrics on one sample, catching errors early.

        The sample is the first of `x` and `y`; sparse labels are checked on
        `targets` (all of them, or None when they are streamed).
        """
        sample_x = data_adapter.take(x, slice(0, 1))
        sample_y = data_adapter.take(y, slice(0, 1))
        # A check, not a step: what the call or the losses write to variables is put back.
        with StatelessScope():
            y_pred = self(sample_x, training=False)
            if self.compiled_loss is not None and type(self).compute_loss is not \
                    Trainer.compute_loss:
                self.compute_loss(sample_x, sample_y, y_pred)  # it decides what meets what
                return
            if self.compiled_loss is not None:
                flat_true, flat_pred = self._build_compiled(sample_y, y_pred)
                self.compiled_loss(flat_true, flat_pred)
        if self.compiled_loss is not None:
            self._check_all_labels(targets, flat_pred)

    def _check_data(self, data):
        """`_check_first_batch` on the first batch of the data adapter `data`."""
        x, y, _ = data.first_batch()
        self._check_first_batch(x, y, data.targets())

    def _check_all_labels(self, y, sample_pred):
        """Sparse labels out of range fail before the first step, not at the batch holding them."""
        if y is None:
            return
        names = self._compiled_output_names
        targets = self._flatten_targets(y, None, names)
        for loss, target, pred in zip(self.compiled_loss.losses, targets, sample_pred):
            if loss is None or target is None or getattr(loss, "fn", None) is not \
                    losses_module.sparse_categorical_crossentropy or \
                    loss._fn_kwargs.get("ignore_class") is not None:
                continue
            labels = np.asarray(target)
            if labels.ndim == 2 and labels.shape[-1] == 1:
                labels = labels[:, 0]
            if labels.ndim == 1:
                shape = (len(labels),) + tuple(np.shape(getattr(pred, "data", pred))[1:])
                losses_module.check_sparse_labels(labels, shape[-1], shape)

    def _run_evaluation(self, data, callback_list):
        """Loss and metrics over the batches of the data adapter `data` (one epoch of it)."""
        self.reset_metrics()
        test_function = self.make_test_function()
        test_function.begin_epoch()
        callback_list.on_test_begin()
        with data.epoch() as batches:
            for step, batch in batches:
                callback_list.on_test_batch_begin(step)
                test_function(batch)
                if callback_list.batch_callbacks("on_test_batch_end"):
                    callback_list.on_test_batch_end(step, self.get_metrics_result())
        logs = self.get_metrics_result()
        callback_list.on_test_end(logs)
        return logs

    # ----------------------------------------------------------- evaluate
    @takes_turns
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False, **kwargs):
        """Returns the loss and metrics on the given data.

        Losses and metrics are means over all samples, so when nothing shows
        or watches the batches (`verbose=0`, no test-batch callbacks, no
        `steps`) the data goes through in chunks of at least 8,192 samples:
        the same numbers up to float rounding, in far fewer steps.

        Returns:
            The loss (a float) if there are no metrics, else a list
            `[loss, ...]` in Keras' order, or a dict with `return_dict=True`.
        """
        unknown = set(kwargs)
        if unknown:
            raise ValueError(f"Invalid keyword arguments for evaluate(): {sorted(unknown)}")
        with self._threads(_check_batch_size(batch_size)):
            return self._evaluate(x, y, batch_size, verbose, sample_weight, steps, callbacks,
                                  return_dict)

    def _evaluate(self, x, y, batch_size, verbose, sample_weight, steps, callbacks,
                  return_dict):
        self._assert_compiled("evaluation")
        verbose = _resolve_verbose(verbose)
        batch_size = _check_batch_size(batch_size)
        data = data_adapter.get_data_adapter(x, y, sample_weight, model=self, call="evaluate",
                                             batch_size=batch_size, steps=steps)
        with contextlib.closing(data):
            self._check_data(data)
            if not self._parameters_placed:
                self._place_parameters()
            callback_list = callbacks if isinstance(callbacks, CallbackList) else CallbackList(
                callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1,
                steps=data.steps)
            if verbose == 0 and isinstance(data, data_adapter.ArrayAdapter):
                # Nothing shows the batches: evaluate in big chunks (same means, fewer steps).
                chunk = _validation_batch_size(batch_size, callback_list, steps)
                if chunk != batch_size:
                    data = data.with_batch_size(chunk)
            logs = self._run_evaluation(data, callback_list)
        if return_dict:
            return logs
        results = self._ordered_results(logs)
        return results[0] if len(results) == 1 else results

    # ------------------------------------------------------------ predict
    @takes_turns
    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Returns the model's outputs as NumPy arrays (a list or dict for several outputs)."""
        with self._threads(_check_batch_size(batch_size)):
            return self._predict(x, batch_size, verbose, steps, callbacks)

    def _predict(self, x, batch_size, verbose, steps, callbacks):
        verbose = _resolve_verbose(verbose)
        batch_size = _check_batch_size(batch_size)
        data = data_adapter.get_data_adapter(x, model=self, call="predict",
                                             batch_size=batch_size, steps=steps)
        with contextlib.closing(data):
            self._build_and_place(None if self.built else data.first_batch())
            predict_function = self.make_predict_function()
            predict_function.begin_epoch()
            if verbose == 0 and not callbacks and data.steps == 1 and \
                    isinstance(data, data_adapter.ArrayAdapter) and not data.streamed:
                return _copies(predict_function(Batch(data.source, slice(None))))
            callback_list = callbacks if isinstance(callbacks, CallbackList) else CallbackList(
                callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1,
                steps=data.steps)
            callback_list.on_predict_begin()
            outputs = []
            batch_out = None
            with data.epoch() as batches:
                for step, batch in batches:
                    callback_list.on_predict_batch_begin(step)
                    batch_out = _copies(predict_function(batch))
                    outputs.append(flatten(batch_out))
                    callback_list.on_predict_batch_end(step, {"outputs": batch_out})
            callback_list.on_predict_end()
        joined = [np.concatenate(parts) for parts in zip(*outputs)]
        return pack_sequence_as(batch_out, joined)

    # -------------------------------------------------------- on_batch forms
    @takes_turns
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One training step on a single batch; returns the batch's loss and metrics."""
        self._assert_compiled("training")
        x, y, sample_weight = data_adapter.prepare(x, y, sample_weight, call="train_on_batch",
                                                   model=self)
        if class_weight is not None:
            sample_weight = data_adapter.class_weights_to_sample_weights(y, class_weight, sample_weight)
        x = self._standardize_model_inputs(x)
        self._check_first_batch(x, y, y)
        self._train_vars = None
        self._loss_sources_cache = None
        self.reset_metrics()
        weights = self._place_parameters()
        self._build_optimizer(weights)
        train_function = self.make_train_function(weights=weights)
        train_function.begin_epoch()
        train_function(Batch((x, y, sample_weight), slice(None)))
        return self._batch_results(return_dict)

    @takes_turns
    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss and metrics on a single batch."""
        self._assert_compiled("evaluation")
        x, y, sample_weight = data_adapter.prepare(x, y, sample_weight, call="test_on_batch",
                                                   model=self)
        x = self._standardize_model_inputs(x)
        self._check_first_batch(x, y, y)
        if not self._parameters_placed:
            self._place_parameters()
        self.reset_metrics()
        test_function = self.make_test_function()
        test_function.begin_epoch()
        test_function(Batch((x, y, sample_weight), slice(None)))
        return self._batch_results(return_dict)

    @takes_turns
    def predict_on_batch(self, x):
        """The model's outputs on a single batch, as NumPy arrays."""
        x, _, _ = data_adapter.prepare(x, None, None, require_y=False, call="predict_on_batch",
                                       model=self)
        x = self._standardize_model_inputs(x)
        self._build_and_place(x)
        predict_function = self.make_predict_function()
        predict_function.begin_epoch()
        return _copies(predict_function(Batch(x, slice(None))))

    def _batch_results(self, return_dict):
        logs = self.get_metrics_result()
        if return_dict:
            return logs
        results = self._ordered_results(logs)
        return results[0] if len(results) == 1 else results


def _in_keras_form(step):
    """`step` handed its batch in Keras' form: the engine's `(x, y, sample_weight)` packed
    as `x`, `(x, y)` or `(x, y, sample_weight)` (see `numnet.models.packing`)."""
    def call(data):
        return step(pack_x_y_sample_weight(*data))
    return call


def _copies(outputs):
    """The step's outputs as NumPy arrays of their own (a replay reuses its buffers)."""
    return map_structure(lambda t: t.data.copy() if isinstance(t, Tensor) else np.array(t),
                         outputs)


def _is_nested_deep(structure):
    """Whether a list/tuple/dict holds another one (targets for nested outputs)."""
    children = structure.values() if isinstance(structure, dict) else \
        structure if isinstance(structure, (list, tuple)) else ()
    return any(isinstance(c, (list, tuple, dict)) for c in children)


def _log_value(value):
    """A metric result as a log entry: a float, or an array for per-class results."""
    value = np.asarray(value)
    return float(value) if value.ndim == 0 else value


def _python_floats(logs):
    return {k: _log_value(v) for k, v in logs.items()}


_VALIDATION_CHUNK = 8192


def _validation_batch_size(batch_size, callback_list, validation_steps):
    """The batch size for validation inside `fit` (and for a silent `evaluate`).

    Keras validates in batches of `batch_size`. Losses and metrics are means
    over samples, so bigger chunks give the same numbers (up to float rounding)
    with far fewer steps; we use them unless something observes the
    individual validation batches (a callback's test-batch hooks, or
    `validation_steps`, which counts batches).
    """
    hooked = callback_list.batch_callbacks
    watchers = [cb for cb in hooked("on_test_batch_begin") + hooked("on_test_batch_end")
                if getattr(cb, "_watches_test_batches_in_fit", True)]
    if validation_steps is not None or watchers:
        return batch_size
    return max(batch_size, _VALIDATION_CHUNK)


def _should_eval(epoch, validation_freq):
    if isinstance(validation_freq, int):
        return (epoch + 1) % validation_freq == 0
    return (epoch + 1) in validation_freq
