"""`Model`: a layer with a training loop.

`Model(inputs, outputs)` builds a Functional model; subclassing `Model` and
writing `call()` gives a subclassed model; `Sequential` is a `Model` too.
"""

import json
import warnings

import numpy as np

from numnet.autodiff.ops.masking import masks_of, set_keras_mask
from numnet.autodiff.ops.nn import keep_logits, kept_logits
from numnet.autodiff.primitive import IN_STEP, RECORDERS, wrap
from numnet.autodiff.tensor import StatelessScope, Tensor
from numnet.backend import floatx
from numnet.engine import Batch, CompiledFunction, Source
from numnet.layers import auto_config
from numnet.layers.base import Layer, first_call_argument
from numnet.layers.input_layer import InputLayer
from numnet.tree import flatten, map_structure
from numnet.models.trainer import Trainer
from numnet.serialization import register_builtin


@register_builtin("keras")
class Model(Trainer, Layer):
    """A model groups layers and adds training and inference.

    Two ways to make one:

    ```python
    # Functional: call layers on Input tensors, then wrap inputs and outputs.
    inputs = numnet.Input(shape=(8,))
    outputs = numnet.layers.Dense(1)(numnet.layers.Dense(30, activation="relu")(inputs))
    model = numnet.Model(inputs=inputs, outputs=outputs)

    # Subclassing: create layers in __init__, use them in call().
    class MyModel(numnet.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.hidden = numnet.layers.Dense(30, activation="relu")
            self.out = numnet.layers.Dense(1)

        def call(self, inputs, training=None):
            return self.out(self.hidden(inputs))
    ```
    """

    def __new__(cls, *args, **kwargs):
        if cls is Model and (len(args) >= 2 or "inputs" in kwargs or
                             (len(args) == 1 and "outputs" in kwargs)):
            from numnet.models.functional import Functional
            return Functional.__new__(Functional)
        return super().__new__(cls, *args, **kwargs)

    def __init__(self, *args, trainable=True, name=None, dtype=None, **kwargs):
        if args or "inputs" in kwargs or "outputs" in kwargs:
            # A subclass calling `super().__init__(inputs, outputs)` becomes a Functional
            # model with its own methods, as in Keras.
            from numnet.models.functional import Functional
            _make_functional_subclass(type(self))
            Functional.__init__(self, *args, trainable=trainable, name=name, **kwargs)
            return
        Layer.__init__(self, trainable=trainable, name=name, dtype=dtype, **kwargs)
        self._init_trainer()

    # ------------------------------------------------------------ layers
    @property
    def layers(self):
        """The model's layers (direct sublayers, in the order they were added)."""
        return self._sublayers()

    @layers.setter
    def layers(self, value):
        raise AttributeError("`Model.layers` attribute is reserved and should not be used. "
                             "Please use another name.")

    def _flatten_layers(self, include_self=True, recursive=True):
        """The model (with `include_self`) and its layers, nested ones too with `recursive`.

        Keras' traversal, in its order (each layer's sublayers are taken before
        its siblings', last first); each layer once. Code written for Keras uses
        it to collect every layer of a model (`objects_to_skip`, cloning checks).
        """
        found = [self] if include_self else []
        seen = set()
        pending = list(reversed(_tracked_layers(self)))
        while pending:
            layer = pending.pop()
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            found.append(layer)
            if recursive:
                pending.extend(_tracked_layers(layer))
        return found

    def get_layer(self, name=None, index=None):
        """Returns a layer by `name` or by `index` (in `model.layers`)."""
        if index is not None and name is not None:
            raise ValueError("Provide only a layer name or a layer index, not both. "
                             f"Received: index={index}, name={name}.")
        if index is not None:
            if not -len(self.layers) <= index < len(self.layers):
                raise ValueError(
                    f"Was asked to retrieve layer at index {index} but model only has "
                    f"{len(self.layers)} layers."
                )
            return self.layers[index]
        if name is not None:
            for layer in self.layers:
                if layer.name == name:
                    return layer
            raise ValueError(
                f"No such layer: {name}. Existing layers are: {[l.name for l in self.layers]}."
            )
        raise ValueError("Provide either a layer name or layer index at `get_layer`.")

    def _structure_changed(self):
        super()._structure_changed()
        self.__dict__.pop("_call_functions", None)
        self.__dict__.pop("_replayed_buffers", None)

    def _build_for_call(self, shapes, by_name):
        """A subclassed model first called on concrete inputs builds its layers in that call:
        `build`'s extra call on zeros is for building without data (`model.build(shape)`, a
        symbolic call, loading) and for weights given before the model was built."""
        if type(self).build is Model.build and self._initial_weights is None and \
                type(self).call is not Model.call:
            self._build_shapes = shapes  # `built` once the call succeeds (`__call__`)
            return
        super()._build_for_call(shapes, by_name)

    def build(self, input_shape):
        """Builds a subclassed model by calling it once on zeros of `input_shape`."""
        if type(self).call is Model.call or getattr(self, "_building", False):
            self.built = True
            return
        from numnet.layers.base import _shape_to_dummy
        self._building = True
        try:
            with StatelessScope():  # building must not count as a call that updates state
                self(_shape_to_dummy(_shapes(input_shape)), training=False)
        finally:
            self._building = False
        self.built = True

    def call(self, inputs, training=None):
        raise NotImplementedError(
            f"Model '{self.name}' has no `call()` method. Subclass Model and implement "
            "`call(self, inputs, training=None)`, or build a Functional model with "
            "numnet.Model(inputs=..., outputs=...)."
        )

    def __call__(self, *args, **kwargs):
        inputs, args = (args[0], args[1:]) if args else (first_call_argument(self, kwargs), ())
        # Replays share buffers: threads take turns (`turn_lock`, read cheaply once made).
        with self.__dict__.get("_turn_lock") or self.turn_lock:
            array = inputs if type(inputs) is np.ndarray else inputs.data if \
                type(inputs) is Tensor and masks_of(inputs) is None else None
            if array is not None and not args and not IN_STEP.items and self.jit_compile and \
                    not self.run_eagerly and self.built and (not kwargs or (
                        kwargs.keys() == {"training"} and not kwargs["training"])):
                function = self.__dict__.get("_call_functions", _NO_FUNCTIONS).get(False)
                program = None if function is None else function.call_array(array)
                if program is not None:  # one array, as last time: replayed at the least cost
                    return self._replayed_outputs(program)
            if not args and self.built and self.jit_compile and not self.run_eagerly and \
                    not RECORDERS and not IN_STEP and kwargs.keys() <= {"training"} and \
                    _concrete(inputs) and masks_of(inputs) is None:  # masked: the layers' calls
                function = self._call_function(bool(kwargs.get("training")))
                if function is not None:
                    cast = self._casts_float64_inputs()
                    arrays = _array(inputs, cast) if type(inputs) is np.ndarray else \
                        map_structure(lambda t: _array(t, cast), inputs)
                    outputs, logits, masks = function(Batch(Source(arrays), slice(None)))
                    function.end_call()  # keeps no reference to the inputs
                    return _with_masks(_fresh_outputs(outputs, logits), masks)
            outputs = super().__call__(inputs, *args, **kwargs)
            self.built = True
            return outputs

    def _replayed_outputs(self, program):
        """Fresh copies of what `program` (this model's call, just replayed) left in its buffers.

        One output without a mask is copied straight from the buffers the program
        leaves it and its logits in (they are known after the first such call).
        """
        known = self.__dict__.setdefault("_replayed_buffers", {}).get(program)
        if known is not None:
            output = wrap(known[0].copy())
            if known[1] is not None:
                keep_logits(output, wrap(known[1].copy()))
            return output
        outputs, logits, masks = program.result()
        buffers = program.result_buffers
        if type(outputs) is Tensor and masks is None and buffers is not None and \
                buffers[0] is outputs.data and \
                buffers[1] is (None if logits is None else logits.data):
            self._replayed_buffers[program] = (buffers[0], buffers[1])
        outputs = _fresh_outputs(outputs, logits)
        return outputs if masks is None else _with_masks(outputs, masks)

    def _call_function(self, training):
        """`model(x)` outside any tape, compiled per input signature like `predict`.

        None for models whose layers leave per-call state behind (activity
        regularizers and `add_loss` fill `model.losses` on each eager call).
        """
        cache = self.__dict__.setdefault("_call_functions", {})
        if training not in cache:
            stateless = all(getattr(layer, "activity_regularizer", None) is None and
                            not layer._losses for layer in self._loss_sources()[0])
            # Each call brings its whole batch: nothing is worth hoisting out of the step.
            cache[training] = CompiledFunction(
                lambda x: _with_logits(Layer.__call__(self, x, training=training)), "call",
                hoist=False, one_capture=self._runs_only_numnet_code) if stateless else None
        return cache[training]

    def _layer_metrics(self):
        return Layer.metrics.fget(self)

    def _casts_float64_inputs(self):
        # Like Keras' Functional, a model converts its inputs to its Input dtypes.
        input_layer = getattr(self, "input_layer", None)  # a Sequential's
        if isinstance(input_layer, InputLayer):
            return input_layer.dtype == floatx()
        flat_inputs = getattr(self, "_flat_inputs", None)
        if flat_inputs:
            return all(t.dtype == floatx() for t in flat_inputs)
        return self.dtype == floatx()

    # ------------------------------------------------------------ summary
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Prints a Keras-style table of the layers, output shapes and parameter counts."""
        from numnet.models.summary import print_summary
        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn,
                      expand_nested=expand_nested, show_trainable=show_trainable,
                      layer_range=layer_range)

    # --------------------------------------------------------- saving hooks
    def __reduce__(self):
        """Pickles the model as the bytes of its `.keras` file, as Keras 3 does.

        The copy is rebuilt by loading those bytes (architecture, weights, compile
        configuration and optimizer state); no code is pickled.
        """
        return (_model_from_keras_bytes, (_keras_bytes(self),))


    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        """Saves the model to a `.keras` file (architecture, weights, optimizer state)."""
        from numnet.saving import save_model
        return save_model(self, filepath, overwrite=overwrite, zipped=zipped, **kwargs)

    def save_weights(self, filepath, overwrite=True, max_shard_size=None):
        """Saves the weights to a `.weights.h5` file in Keras 3's layout."""
        from numnet.saving import save_weights
        return save_weights(self, filepath, overwrite=overwrite, max_shard_size=max_shard_size)

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        """Loads weights saved by `save_weights` (or from a `.keras` file)."""
        from numnet.saving import load_weights
        return load_weights(self, filepath, skip_mismatch=skip_mismatch, **kwargs)

    def export(self, filepath, format="tf_saved_model", verbose=None, input_signature=None,
               **kwargs):
        """Exports the forward pass for inference: `"tf_saved_model"`, `"onnx"` or `"numpy"`.

        See `numnet.export.export_model` for the formats and arguments.
        """
        from numnet.export import export_model
        export_model(self, filepath, format=format, verbose=verbose,
                     input_signature=input_signature, **kwargs)

    def to_json(self, **kwargs):
        """The model's architecture as a JSON string (no weights)."""
        from numnet.serialization import serialize_keras_object
        return json.dumps(serialize_keras_object(self), **kwargs)

    def get_compile_config(self):
        if not self.compiled:
            return None
        from numnet.serialization import serialize_keras_object
        config = dict(self._compile_config)
        optimizer = self.optimizer
        return {
            "optimizer": serialize_keras_object(optimizer),
            "loss": _serialize_loss(config["loss"]),
            "loss_weights": config["loss_weights"],
            "metrics": _serialize_metrics(config["metrics"]),
            "weighted_metrics": _serialize_metrics(config["weighted_metrics"]),
            "run_eagerly": self.run_eagerly, "steps_per_execution": 1,
            "jit_compile": self.jit_compile,
        }

    def compile_from_config(self, config):
        """Compiles the model from `get_compile_config()`'s output (when a model is loaded).

        A model whose class overrides `compile()` is not compiled (its `compile` may
        take other arguments); Keras warns the same way. Returns whether it compiled.
        """
        from numnet import optimizers
        if type(self).compile is not Trainer.compile:
            warnings.warn(
                "`compile()` was not called as part of model loading because the model's "
                "`compile()` method is custom. All subclassed Models that have `compile()` "
                "overridden should also override `get_compile_config()` and "
                "`compile_from_config(config)`. Alternatively, you can call `compile()` "
                "manually after loading.", stacklevel=2)
            return False
        config = dict(config)
        optimizer = optimizers.deserialize(config["optimizer"]) if isinstance(
            config.get("optimizer"), dict) else config.get("optimizer", "rmsprop")
        self.compile(optimizer=optimizer, loss=_deserialize_loss(config.get("loss")),
                     loss_weights=config.get("loss_weights"),
                     metrics=_deserialize_metrics(config.get("metrics")),
                     weighted_metrics=_deserialize_metrics(config.get("weighted_metrics")),
                     run_eagerly=bool(config.get("run_eagerly", False)),
                     jit_compile=config.get("jit_compile", "auto"))
        return True

    # ------------------------------------------------------------ state tree
    @property
    def metrics_variables(self):
        """The state variables of the model's metrics (loss trackers included)."""
        return [v for metric in self.metrics for v in metric.variables]

    def get_state_tree(self, value_format="backend_tensor"):
        """Every variable's value in nested dicts keyed by the parts of its path, under
        "trainable_variables", "non_trainable_variables", "optimizer_variables" and
        "metrics_variables" (Keras' layout; `value_format="numpy_array"` gives NumPy
        arrays, the default tensors)."""
        optimizer = getattr(self, "optimizer", None)
        return {
            "trainable_variables": _nested_values(self.trainable_variables, value_format),
            "non_trainable_variables": _nested_values(self.non_trainable_variables,
                                                      value_format),
            "optimizer_variables": _nested_values(
                optimizer.variables if optimizer is not None else [], value_format),
            "metrics_variables": _nested_values(self.metrics_variables, value_format),
        }

    def set_state_tree(self, state_tree):
        """Assigns the values of a tree like `get_state_tree()`'s to the variables whose
        paths it names (a part of the tree is enough)."""
        optimizer = getattr(self, "optimizer", None)
        groups = {
            "trainable_variables": lambda: self.trainable_variables,
            "non_trainable_variables": lambda: self.non_trainable_variables,
            "optimizer_variables": lambda: optimizer.variables if optimizer else [],
            "metrics_variables": lambda: self.metrics_variables,
        }
        for key, subtree in state_tree.items():
            if key not in groups:
                raise ValueError(f"Unknown variable name: {key}")
            by_path = {}
            for variable in groups[key]():
                by_path.setdefault(variable.path, []).append(variable)
            for path, value in _flat_paths(subtree).items():
                for variable in by_path.get(path, []):
                    variable.assign(np.asarray(getattr(value, "data", value),
                                               dtype=variable.data.dtype))

    def get_config(self):
        """Subclassed models: the `__init__` arguments (plain values), or override it.

        As in Keras, a subclass that does not override `get_config()` gets the
        arguments it was constructed with.
        """
        config = {"name": self.name, "trainable": self.trainable}
        if auto_config.applies(self, Model):
            return auto_config.merge(self, config)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        if cls is Model or {"layers", "input_layers", "output_layers"} <= set(config):
            from numnet.models.functional import Functional
            return Functional.from_config.__func__(
                Functional if cls is Model else cls, config, custom_objects=custom_objects)
        return revive_with_constructor(cls, config)


def _tracked_layers(layer):
    """A layer's sublayers as Keras tracks them: a model's layers, then the layers it holds
    in attributes outside its graph (a decoder kept on a Functional subclass)."""
    children = layer.layers if isinstance(layer, Model) else layer._sublayers()
    if isinstance(layer, Model):
        known = {id(child) for child in children}
        for key, value in vars(layer).items():
            if isinstance(value, Layer) and value is not layer and id(value) not in known \
                    and not key.startswith("_"):
                known.add(id(value))
                children.append(value)
    return children


def revive_with_constructor(cls, config):
    """`cls(**config)`, with Keras' message when the config does not fit the constructor."""
    try:
        return cls(**config)
    except TypeError as error:
        raise TypeError(
            f"Unable to revive model from config. When overriding the `get_config()` "
            f"method, make sure that the returned config contains all items used as "
            f"arguments in the constructor to {cls}, which is the default behavior. "
            f"You can override this default behavior by defining a `from_config(cls, "
            f"config)` class method to specify how to create an instance of "
            f"{cls.__name__} from its config.\n\nReceived config={config}\n\n"
            f"Error encountered during deserialization: {error}"
        ) from error


def _nested_values(variables, value_format):
    """`{part: {part: value}}` from the variables' paths (`dense/kernel`), as Keras nests them."""
    if value_format not in ("backend_tensor", "numpy_array"):
        raise ValueError("Invalid `value_format` argument. Expected one of {'numpy_array', "
                         f"'backend_tensor'}}. Received: value_format={value_format}")
    tree, seen = {}, set()
    for variable in variables:
        if variable.path in seen:
            raise ValueError(
                f"The following variable path is found twice in the model: '{variable.path}'. "
                "`get_state_tree()` can only be called when all variable paths are unique. "
                "Make sure to give unique names to your layers (and other objects).")
        seen.add(variable.path)
        *parents, leaf = variable.path.split("/")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = variable.numpy() if value_format == "numpy_array" else \
            Tensor(variable.numpy())
    return tree


def _flat_paths(tree, prefix=""):
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flat_paths(value, f"{prefix}{key}/"))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


_NO_FUNCTIONS = {}


def _with_masks(outputs, masks):
    """Re-attaches the masks a compiled `model(x)` computed to its copied outputs."""
    if masks is None:
        return outputs
    pairs = [(outputs, masks)] if isinstance(outputs, Tensor) else \
        zip(flatten(outputs), flatten(masks))
    for tensor, mask in pairs:
        if isinstance(tensor, Tensor) and mask is not None:
            set_keras_mask(tensor, wrap(mask.data.copy()))
    return outputs


def _keras_bytes(model):
    import os
    import tempfile
    from numnet.saving import save_model
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        save_model(model, path)
        with open(path, "rb") as f:
            return f.read()


def _model_from_keras_bytes(data):
    """Rebuilds a pickled model from its `.keras` bytes."""
    import os
    import tempfile
    from numnet.saving import load_model
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        with open(path, "wb") as f:
            f.write(data)
        return load_model(path)


def _make_functional_subclass(cls):
    """Rebases a direct `Model` subclass onto `Functional` (Keras' `inject_functional_model_class`)."""
    from numnet.models.functional import Functional
    if issubclass(cls, Functional):
        return
    if Model in cls.__bases__:
        cls.__bases__ = tuple(Functional if base is Model else base for base in cls.__bases__)
        return
    for base in cls.__bases__:
        if issubclass(base, Model) and base is not Model:
            _make_functional_subclass(base)


def _shapes(input_shape):
    if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(input_shape[0], (list, tuple)):
        return [tuple(s) for s in input_shape]
    if isinstance(input_shape, dict):
        return {k: tuple(v) for k, v in input_shape.items()}
    return tuple(input_shape)


def _registered_function(obj):
    """Whether `obj` is a user function registered with `register_keras_serializable`."""
    from numnet.serialization import GLOBAL_CUSTOM_NAMES
    return callable(obj) and not isinstance(obj, type) and not hasattr(obj, "get_config") \
        and obj in GLOBAL_CUSTOM_NAMES


def _serialize_loss(loss):
    from numnet import losses
    from numnet.serialization import serialize_keras_object
    if loss is None:
        return None
    if isinstance(loss, dict):
        return {k: _serialize_loss(v) for k, v in loss.items()}
    if isinstance(loss, (list, tuple)):
        return [_serialize_loss(v) for v in loss]
    if _registered_function(loss):  # Keras' function envelope, under its registered name
        return serialize_keras_object(loss)
    return losses.serialize(loss)


def _deserialize_loss(config):
    from numnet import losses
    from numnet.serialization import deserialize_keras_object, get_registered_object
    if config is None:
        return None
    if isinstance(config, dict) and "class_name" not in config:
        return {k: _deserialize_loss(v) for k, v in config.items()}
    if isinstance(config, list):
        return [_deserialize_loss(v) for v in config]
    if isinstance(config, str):
        registered = get_registered_object(config)
        if registered is not None and not isinstance(registered, type):
            return registered
        losses.get(config)  # validates the name; kept as given, like Keras ("mse" stays "mse")
        return config
    if config.get("class_name") == "function":
        return deserialize_keras_object(config, printable_module_name="loss")
    return losses.deserialize(config)


def _serialize_metrics(metrics):
    from numnet.serialization import serialize_keras_object
    if metrics is None:
        return None
    if isinstance(metrics, dict):
        return {k: _serialize_metrics(v) for k, v in metrics.items()}
    if isinstance(metrics, (list, tuple)):
        return [_serialize_metrics(v) for v in metrics]
    if isinstance(metrics, str):
        return metrics
    if _registered_function(metrics):
        return serialize_keras_object(metrics)
    if callable(metrics) and not hasattr(metrics, "get_config"):
        return metrics.__name__
    config = serialize_keras_object(metrics)
    user_name = getattr(metrics, "_compile_config_name", None)
    if user_name is not None and isinstance(config, dict) and "name" in config.get("config", {}):
        config["config"] = {**config["config"], "name": user_name}  # as given, like Keras
    return config


def _deserialize_metrics(config):
    from numnet import metrics
    if config is None:
        return None
    if isinstance(config, dict) and "class_name" not in config:
        return {k: _deserialize_metrics(v) for k, v in config.items()}
    if isinstance(config, list):
        return [_deserialize_metrics(v) for v in config]
    if isinstance(config, str):
        return config
    if config.get("class_name") == "function":
        from numnet.serialization import deserialize_keras_object
        return deserialize_keras_object(config, printable_module_name="metric")
    return metrics.deserialize(config)


def _concrete(inputs):
    """Whether `inputs` is a batch array or tensor, or a list, tuple or dict of them."""
    def batch(v):
        return isinstance(v, (np.ndarray, Tensor)) and v.ndim > 0
    if isinstance(inputs, dict):
        return bool(inputs) and all(batch(v) for v in inputs.values())
    if isinstance(inputs, (list, tuple)):
        return bool(inputs) and all(batch(v) for v in inputs)
    return batch(inputs)


def _array(x, cast_float64):
    """The array behind an input, float64 cast to floatx as a layer call would."""
    array = x.data if isinstance(x, Tensor) else x
    if cast_float64 and array.dtype == np.float64:
        array = array.astype(floatx())
    return array


def _with_logits(outputs):
    """The outputs, the logits a softmax or sigmoid output kept (see `ops.softmax`) and the
    outputs' Keras masks (see `_with_masks`). One output gives a flat triple (its logits
    or None), which a replay rebuilds in one call."""
    if type(outputs) is Tensor:
        return outputs, kept_logits(outputs), masks_of(outputs)
    return outputs, [kept_logits(t) for t in flatten(outputs)], masks_of(outputs)


def _fresh_outputs(outputs, logits):
    """Copies of a replayed call's outputs (their buffers are reused), logits kept."""
    if type(outputs) is Tensor:  # one output: the common case, kept cheap
        copy = wrap(outputs.data.copy())
        if logits is not None:
            keep_logits(copy, wrap(logits.data.copy()))
        return copy
    copies = map_structure(lambda t: wrap(t.data.copy()), outputs)
    for copy, logit in zip(flatten(copies), logits):
        if logit is not None:
            keep_logits(copy, wrap(logit.data.copy()))
    return copies
