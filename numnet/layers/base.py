"""`Layer`: the unit of state and computation every model is made of.

Lifecycle, as in Keras: `__init__` stores the configuration, `build(input_shape)`
creates the weights once the input shape is known (on the first call), and
`call(inputs)` computes the outputs with differentiable ops. Called on
symbolic `KerasTensor`s, a layer records a graph node instead of computing.
"""

import inspect
import itertools
import sys
import warnings
import weakref

from numnet.backend import xp

from numnet import constraints, initializers, regularizers
from numnet.autodiff.ops.masking import get_keras_mask, masks_of, set_keras_mask
from numnet.autodiff.tensor import StatelessScope, Tensor, Variable
from numnet.backend import floatx, standardize_dtype, to_snake_case, unique_name
from numnet.backend.global_state import ThreadStack
from numnet.backend.name_scope import NAME_SCOPES, current_path, name_scope
from numnet.layers.symbolic import KerasTensor, Node, dummy_value, is_symbolic
from numnet.tree import flatten, map_structure, pack_sequence_as, same_kind
from numnet.layers import auto_config
from numnet.layers.input_spec import assert_input_compatibility
from numnet.serialization import register_builtin, serialize_keras_object

_BASE_KWARGS = {"input_shape", "input_dim", "batch_input_shape", "batch_size", "weights",
                "activity_regularizer", "autocast"}


def name_scope_of(layer):
    """Keras' name scope of `layer` (`numnet.backend.name_scope` opened by the layer):
    variables created inside it (by its `build`, by the builds of the layers it calls the
    first time) get the path `outer/inner/variable`, as in Keras 3
    ("sequential/dense/kernel"). A layer keeps the path it is first entered under (Keras'
    `_parent_path`), and is not entered twice in a row.
    """
    parent = layer.__dict__.get("_parent_path")
    if parent is None:
        parent = layer.__dict__["_parent_path"] = current_path()
    return name_scope(layer.name, caller=layer, override_parent=parent)


def _layer_path(layer, scopes):
    """`layer`'s scope path: under the path it was first entered under, else the innermost
    scope's."""
    parent = layer.__dict__.get("_parent_path")
    if parent is None:
        parent = scopes[-1][1] if scopes else ""
    return f"{parent}/{layer.name}" if parent else layer.name


def scoped_path(layer, name):
    """The path of a variable `name` that `layer` creates now (see `name_scope_of`)."""
    scopes = NAME_SCOPES.items
    if scopes and scopes[-1][0] is layer:
        return f"{scopes[-1][1]}/{name}"
    return f"{_layer_path(layer, scopes)}/{name}"


class StateLock:
    """Whether a built layer refuses new variables in its `call` (see `Layer._tracker`)."""

    __slots__ = ("locked",)

    def __init__(self):
        self.locked = True

    def lock(self, msg=None):
        self.locked = True

    def unlock(self):
        self.locked = False


class _CallContext:
    """What an outermost layer call shares with the layer calls inside it, as Keras'
    `CallContext`: the `training` value in force (set by each call it resolves), and the
    values of the other call-context arguments (see `Layer._register_call_context_args`)."""

    __slots__ = ("training", "values")

    def __init__(self):
        self.training = None
        self.values = {}


_CALL_CONTEXT = ThreadStack()  # this thread's current context (one while a call runs)
_LOSS_HOLDERS = weakref.WeakSet()  # layers holding losses added by a call (see `add_loss`)
_ARGUMENT_DEFAULTS = {}  # (a class's `call`, an argument) -> the argument's default
_METRIC_HOLDERS = weakref.WeakSet()  # layers holding metrics as attributes (`metrics`)

# Attributes that hold the graph around a layer, or numnet's own bookkeeping: never
# sublayers or seed generators (the attribute walk skips them).
_NOT_SUBLAYERS = frozenset((
    "_inbound_nodes", "_output_layers", "_input_layers_cache", "_layers", "_losses",
    "_trainable_variables", "_non_trainable_variables", "_metric_attributes", "_build_shapes",
    "_output_shape", "_argument_masks", "_found_attributes"))
_CONTAINERS = (list, tuple, dict)
_SCALARS = frozenset((type(None), bool, int, float, str))  # never variables or metrics


@register_builtin("keras.layers")
class Layer:
    """Base class of all layers.

    Args:
        trainable: whether the layer's weights are updated by training.
        name: a name unique in the session (class name in snake case plus a
            counter by default: `dense`, `dense_1`, ...).
        dtype: the dtype of the weights and computations (floatx by default).
        input_shape: the shape of one input sample; lets a first layer of a
            `Sequential` model be built at once (as the textbook writes it).
    """

    def __new__(cls, *args, **kwargs):
        # As Keras: the constructor's arguments are the config of a subclass that does not
        # write `get_config()` (see `numnet.layers.auto_config`). numnet's own classes write
        # theirs: only the user's subclasses and the bases themselves (`Layer`, `Model`,
        # `Functional`) need their arguments recorded.
        instance = super().__new__(cls)
        captured = not cls.__module__.startswith("numnet.") or \
            cls.__name__ in ("Layer", "Model", "Functional")
        object.__setattr__(instance, "_auto_config",
                           auto_config.capture(cls, args, kwargs) if captured else None)
        return instance

    def __init__(self, *, trainable=True, name=None, dtype=None, activity_regularizer=None,
                 autocast=True, **kwargs):
        if not isinstance(trainable, (bool, xp.bool_)):
            raise ValueError(f"Expected `trainable` argument to be a boolean, but got: "
                             f"{trainable!r} (in layer {type(self).__name__}).")
        unknown = set(kwargs) - _BASE_KWARGS
        if unknown:
            raise ValueError(
                f"Unrecognized keyword arguments passed to {type(self).__name__}: "
                f"{ {k: kwargs[k] for k in sorted(unknown)} }"
            )
        # Variables set before `super().__init__()` are kept (Keras 3 allows that).
        self._trainable_variables = self.__dict__.get("_trainable_variables", [])
        self._non_trainable_variables = self.__dict__.get("_non_trainable_variables", [])
        self._inbound_nodes = []
        self._losses = []
        self.built = False
        self._trainable = trainable
        if name is not None and (not isinstance(name, str) or "/" in name):
            raise ValueError(
                f"Layer names must be strings without '/'. Received: name={name!r}"
            )
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self.dtype = standardize_dtype(dtype.get("config", {}).get("name")
                                       if isinstance(dtype, dict) else dtype)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self._build_shapes = None
        self._output_shape = None
        input_shape = kwargs.get("input_shape")
        if kwargs.get("input_dim") is not None and input_shape is None:
            input_shape = (kwargs["input_dim"],)
        batch_input_shape = kwargs.get("batch_input_shape")
        if input_shape is not None:
            batch_input_shape = (kwargs.get("batch_size"),) + tuple(input_shape)
        self._batch_input_shape = (None if batch_input_shape is None
                                   else tuple(batch_input_shape))
        self._initial_weights = kwargs.get("weights")
        self._call_has_training = _accepts_training(type(self).call)
        self._call_training_default = _argument_default(type(self).call, "training")
        # Masking, as in Keras: a layer supports it when it says so or computes masks itself.
        self._call_has_mask = _names_argument(type(self).call, "mask")
        self._argument_masks = _argument_masks(type(self).call)
        self._supports_masking = _computes_masks(type(self))

    # ----------------------------------------------------------- tracking
    def __setattr__(self, name, value):
        # Variables and metrics are tracked in any attribute the user's code sets (as Keras
        # does), not in numnet's own private ones (its models' loss trackers, ...).
        self.__dict__.pop("_found_attributes", None)
        if name[:1] == "_" and not (name in self.__dict__.get("_metric_attributes", ()) or
                                    type(value) not in _SCALARS and _users_state(value)):
            object.__setattr__(self, name, value)
            return
        if isinstance(value, Variable):
            trainable = self.__dict__.setdefault("_trainable_variables", [])
            non_trainable = self.__dict__.setdefault("_non_trainable_variables", [])
            if all(value is not v for v in trainable + non_trainable):
                self._check_state_unlocked()
                (trainable if value.trainable else non_trainable).append(value)
        elif isinstance(value, Layer) and value is not self and \
                self.__dict__.get(name) is not value:
            self._check_state_unlocked()  # a sub-layer made in `call`: a new one at every call

        held = _held_metrics(value)
        if held or name in self.__dict__.get("_metric_attributes", ()):
            attributes = self.__dict__.setdefault("_metric_attributes", {})
            if held:
                attributes[name] = held  # the metrics `metrics` lists, tracked as Keras does
                _METRIC_HOLDERS.add(self)
            else:
                del attributes[name]
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        self.__dict__.pop("_found_attributes", None)
        value = self.__dict__.get(name)
        if isinstance(value, Variable):  # as Keras: a deleted variable is no weight any more
            self._untrack_variable(value)
        object.__delattr__(self, name)

    def _untrack_variable(self, variable):
        """Stops counting `variable` among this layer's weights (Keras' method: code written
        against Keras writes `self.w = self._untrack_variable(self.w)`, so it returns None)."""
        for tracked in (self._trainable_variables, self._non_trainable_variables):
            tracked[:] = [v for v in tracked if v is not variable]

    @property
    def _layers(self):
        """The direct sublayers (Keras' internal list, read by code written against it)."""
        return self._sublayers()

    def _sublayers(self):
        """Direct sublayers, in the order they were assigned (also inside lists, tuples and
        dicts, nested to any depth, as Keras tracks them)."""
        return self._attributes_of(Layer)

    def _seed_generators(self):
        """The `SeedGenerator`s in the layer's attributes (found as `_sublayers` are)."""
        return self._attributes_of(_seed_generator_class())

    def _attributes_of(self, kind):
        """The objects of class `kind` in the layer's attributes, in assignment order, also
        inside lists, tuples and dicts nested to any depth (not inside the objects found).

        Kept until an attribute is set or deleted, when no list or dict was walked (one
        could change in place): models ask for their layers' weights many times per `fit`.
        """
        known = self.__dict__.get("_found_attributes")
        if known is not None and kind in known:
            return list(known[kind])
        found, seen, fixed = [], {id(self)}, True
        # Depth first, in assignment order; most attributes are neither of `kind` nor
        # containers, so each is looked at once, without a call per value.
        pending = [value for key, value in reversed(self.__dict__.items())
                   if key not in _NOT_SUBLAYERS]
        while pending:
            value = pending.pop()
            if isinstance(value, kind):
                if id(value) not in seen:
                    seen.add(id(value))
                    found.append(value)
            elif isinstance(value, _CONTAINERS) and id(value) not in seen:
                seen.add(id(value))  # a container holding itself is walked once
                fixed = fixed and isinstance(value, tuple)
                items = value.values() if isinstance(value, dict) else value
                pending.extend(reversed(list(items)))
        if fixed:
            self.__dict__.setdefault("_found_attributes", {})[kind] = found
            return list(found)
        return found

    @property
    def compute_dtype(self):
        """The dtype of the layer's computations (Keras' dtype policy; numnet uses one dtype)."""
        return self.dtype

    @property
    def variable_dtype(self):
        """The dtype of the layer's weights (the same as `compute_dtype` in numnet)."""
        return self.dtype

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        """Freezing a layer freezes its variables and its layers' (each variable's `trainable`
        follows, as in Keras)."""
        self._trainable = bool(value)
        for variable in self._trainable_variables:
            variable.trainable = self._trainable
        for layer in self._sublayers():
            layer.trainable = value

    @property
    def weights(self):
        """All weights: own trainable, own non-trainable, then each sublayer's."""
        return _each_once(self._trainable_variables + self._non_trainable_variables,
                          (layer.weights for layer in self._sublayers()))

    @property
    def variables(self):
        """All of the layer's state, as Keras lists it: `weights`, and after each layer's own
        weights the states of the `SeedGenerator`s it holds."""
        seeds = [g.state for g in self._seed_generators()]
        return _each_once(self._trainable_variables + self._non_trainable_variables + seeds,
                          (layer.variables for layer in self._sublayers()))

    @property
    def trainable_weights(self):
        """Weights an optimizer updates (none if the layer is frozen)."""
        if not self.trainable:
            return []
        return _each_once([v for v in self._trainable_variables if v.trainable],
                          (layer.trainable_weights for layer in self._sublayers()))

    trainable_variables = trainable_weights

    @property
    def non_trainable_weights(self):
        """Weights training leaves alone (all of them if the layer is frozen)."""
        trainable = {id(v) for v in self.trainable_weights}
        return [v for v in self.weights if id(v) not in trainable]

    @property
    def non_trainable_variables(self):
        """`variables` training leaves alone (seed generators' states included)."""
        trainable = {id(v) for v in self.trainable_weights}
        return [v for v in self.variables if id(v) not in trainable]

    @property
    def losses(self):
        """Regularization penalties of this layer and its sublayers, as scalar tensors."""
        penalties = list(self._losses)
        for v in self._trainable_variables + self._non_trainable_variables:
            if v.regularizer is not None:
                penalties.append(v.regularizer(v))
        for layer in self._sublayers():
            penalties.extend(layer.losses)
        return penalties

    @property
    def metrics(self):
        """The metrics this layer and the layers inside it hold in attributes the user's code set
        (Keras tracks them so: a model's `fit` logs and resets them with its compiled metrics)."""
        if not _METRIC_HOLDERS:  # no layer holds one: nothing to walk
            return []
        found = [m for held in self.__dict__.get("_metric_attributes", {}).values() for m in held]
        for layer in self._sublayers():
            # The layer-held metrics only (a nested model's compiled ones stay its own).
            found.extend(Layer.metrics.fget(layer))
        unique = {id(m): m for m in found}
        return list(unique.values())

    @property
    def metrics_variables(self):
        """The variables of `metrics`."""
        return [v for metric in self.metrics for v in metric.variables]

    def add_loss(self, loss):
        """Adds a scalar loss tensor (cleared at every call of the outermost layer)."""
        self._losses.append(loss)
        _LOSS_HOLDERS.add(self)

    def reset_losses(self):
        """Drops the losses that calls added (`add_loss`, activity regularizers) to this
        layer and the layers inside it. A call that no other layer call encloses does this
        first, as in Keras, so `losses` holds those of the latest call."""
        if not _LOSS_HOLDERS:  # no layer holds one: nothing to walk
            return
        if self._losses:
            self._losses = []
            _LOSS_HOLDERS.discard(self)
        for layer in self._sublayers():
            layer.reset_losses()

    # ------------------------------------------------------------ masking
    @property
    def supports_masking(self):
        """Whether the layer passes masks on (through `compute_mask`)."""
        return self._supports_masking

    @supports_masking.setter
    def supports_masking(self, value):
        self._supports_masking = bool(value)

    def compute_mask(self, inputs, previous_mask):
        """The mask of the outputs: by default the inputs' mask, unchanged."""
        return previous_mask

    def _attach_masks(self, inputs, outputs, previous_mask):
        """Attaches `compute_mask`'s result to the outputs that have no mask yet (Keras'
        `_set_mask_metadata`); warns when a mask reaches a layer that drops it."""
        if not self.supports_masking:
            if previous_mask is not None:
                warnings.warn(
                    f"Layer '{self.name}' (of type {type(self).__name__}) was passed an input "
                    "with a mask attached to it. However, this layer does not support masking "
                    "and will therefore destroy the mask information. Downstream layers will "
                    "not see the mask.", stacklevel=3)
            return
        flat_outputs = flatten(outputs)
        if all(get_keras_mask(x) is not None for x in flat_outputs):
            return
        output_masks = self.compute_mask(inputs, previous_mask)
        if output_masks is None:
            return
        for tensor, mask in zip(flat_outputs, flatten(output_masks)):
            if isinstance(tensor, Tensor) and mask is not None and \
                    get_keras_mask(tensor) is None:
                set_keras_mask(tensor, _to_tensor(mask))  # a NumPy mask becomes a tensor

    # ------------------------------------------------------------ weights
    def _positional_weight_args(self, args, shape, initializer, dtype):
        """`add_weight`'s `shape`, `initializer` and `dtype`, with those given by position."""
        if len(args) > 3:
            raise TypeError(f"add_weight() takes at most 3 positional arguments (shape, "
                            f"initializer, dtype) but {len(args)} were given.")
        if args and isinstance(args[0], str):
            raise ValueError(f"Layer '{self.name}': `name` must be passed as a keyword argument. "
                             f"Received: add_weight({args[0]!r}, ...). Use: "
                             f"add_weight(shape=..., name={args[0]!r}).")
        given = {"shape": shape, "initializer": initializer, "dtype": dtype}
        for key, value in zip(("shape", "initializer", "dtype"), args):
            if given[key] is not None:
                raise ValueError(f"Layer '{self.name}': `{key}` was passed both positionally "
                                 "and as a keyword argument to add_weight().")
            given[key] = value
        return given["shape"], given["initializer"], given["dtype"]

    def add_variable(self, shape, initializer, dtype=None, trainable=True, autocast=True,
                     regularizer=None, constraint=None, name=None):
        """Keras' alias of `add_weight()` (shape and initializer first)."""
        return self.add_weight(shape=shape, initializer=initializer, dtype=dtype,
                               trainable=trainable, autocast=autocast, regularizer=regularizer,
                               constraint=constraint, name=name)

    def add_weight(self, *args, shape=None, initializer=None, dtype=None, trainable=True,
                   autocast=True, regularizer=None, constraint=None, aggregation="none",
                   overwrite_with_gradient=False, name=None):
        """Creates a weight of this layer.

        Args:
            shape: the weight's shape (scalar by default).
            initializer: name, object or callable (`"glorot_uniform"` for
                floats, `"zeros"` otherwise, by default).
            dtype: defaults to the layer's dtype.
            trainable: whether optimizers update it.
            regularizer: a penalty added to `layer.losses`.
            name: the weight's name (`kernel`, `bias`, ...), a keyword argument.

        As in Keras 3, `shape`, `initializer` and `dtype` may also come first by
        position; a name given by position (Keras 2's `add_weight("kernel", ...)`)
        is an error that says so.
        """
        shape, initializer, dtype = self._positional_weight_args(args, shape, initializer, dtype)
        self._check_state_unlocked()
        if overwrite_with_gradient:
            raise ValueError(f"Layer '{self.name}': add_weight(overwrite_with_gradient=True) "
                             "(FP8 training) is not supported by numnet.")
        shape = () if shape is None else tuple(int(d) for d in shape)
        if any(d < 0 for d in shape):
            raise ValueError(f"Layer '{self.name}': invalid weight shape {shape} for '{name}'.")
        dtype = standardize_dtype(dtype or self.dtype)
        if initializer is None:
            initializer = "glorot_uniform" if xp.issubdtype(xp.dtype(dtype), xp.floating) else "zeros"
        init = initializers.get(initializer)
        variable = Variable(init, shape=shape, dtype=dtype, trainable=trainable,
                            name=name or "variable")
        variable.path = scoped_path(self, variable.name)
        variable._layer = self
        variable.regularizer = regularizers.get(regularizer)
        variable.constraint = constraints.get(constraint)
        (self._trainable_variables if trainable else self._non_trainable_variables).append(variable)
        return variable

    @property
    def _tracker(self):
        """Keras' state lock of this layer (`layer._tracker.unlock()` lets `call` add
        variables; `lock()` restores the rule): the one piece of Keras' tracker numnet has."""
        lock = self.__dict__.get("_state_lock")
        if lock is None:
            lock = self.__dict__["_state_lock"] = StateLock()
        return lock

    def _check_state_unlocked(self):
        """Keras locks a layer's state once it is built: a variable created in `call` would
        be a new, untrained one at every call. numnet raises Keras' error there too."""
        if not getattr(self, "built", False):  # (a variable set before the base `__init__`)
            return
        lock = self.__dict__.get("_state_lock")
        if lock is not None and not lock.locked:
            return
        code = getattr(type(self).call, "__code__", None)
        frame = sys._getframe(2)
        while frame is not None:
            if frame.f_code is code and frame.f_locals.get("self") is self:
                raise ValueError(
                    f"Layer '{self.name}' ({type(self).__name__}): you cannot add new "
                    "elements of state (variables or sub-layers) to a layer that is already "
                    "built. All state must be created in the `__init__()` method or in the "
                    "`build()` method.")
            frame = frame.f_back

    def get_weights(self):
        """The weights' values as a list of NumPy arrays (copies)."""
        return [xp.array(v.data) for v in self.weights]

    def set_weights(self, weights):
        """Sets the weights from a list of arrays, in `layer.weights` order."""
        params = self.weights
        if len(params) != len(weights):
            raise ValueError(
                f"Layer '{self.name}' expected {len(params)} weight arrays "
                f"({[v.name for v in params]}), but received {len(weights)}."
            )
        for variable, value in zip(params, weights):
            value = xp.asarray(value)
            if value.shape != variable.data.shape:
                raise ValueError(
                    f"Layer '{self.name}' weight '{variable.name}' has shape "
                    f"{variable.data.shape}, but the provided array has shape {value.shape}."
                )
        for variable, value in zip(params, weights):
            variable.data[...] = xp.asarray(value)

    def count_params(self):
        """The number of scalars in all weights."""
        if not self.built and not self.weights:
            raise ValueError(
                f"You tried to call `count_params` on layer '{self.name}', but the layer "
                "isn't built. You can build it manually via: "
                f"`{self.name}.build(batch_input_shape)`."
            )
        return int(sum(v.data.size for v in self.weights))

    # ------------------------------------------------------------- calling
    def build(self, input_shape):
        """Creates the weights for inputs of `input_shape`; the base class has none."""
        self.built = True

    def call(self, inputs, *args, **kwargs):
        """The layer's computation; subclasses override it (as in Keras, the base class has
        none)."""
        raise NotImplementedError(f"Layer {type(self).__name__} does not have a `call` method "
                                  "implemented.")

    def compute_output_shape(self, input_shape):
        """Output shape for `input_shape` (by tracing zeros, unless overridden)."""
        if type(self).call is Layer.call:
            raise NotImplementedError(f"Layer {type(self).__name__} does not have a "
                                      "`compute_output_shape` method implemented.")
        return self._traced_output_shapes(input_shape, (), {})

    def _traced_output_shapes(self, input_shapes, args, kwargs):
        """Output shapes from the call traced on zeros standing for `input_shapes` and for
        the symbolic tensors among `args` and `kwargs` (`call(self, x1, x2)`)."""
        def zeros(value):
            return dummy_value(value) if isinstance(value, KerasTensor) else value
        out = self(_shape_to_dummy(input_shapes), *map_structure(zeros, list(args)),
                   **map_structure(zeros, kwargs))
        batch_known = all(s and s[0] is not None for s in _flatten_shapes(input_shapes))
        return map_structure(  # a known batch size stays (Keras' output shape keeps it)
            lambda t: tuple(xp.shape(t)) if batch_known and xp.ndim(t) else
            (None,) + tuple(xp.shape(t))[1:], out)

    def _build_at_init(self):
        """Marks a stateless layer built at the end of its `__init__`, as Keras does.

        Only when its class keeps the base `build`: a subclass that overrides
        `build` must see it run on the first call.
        """
        if type(self).build is Layer.build:
            self.built = True

    def _build_if_needed(self, shapes, by_name=None):
        """Builds on `shapes` (of the first argument), or with `by_name` (`{"foo_shape": ...}`,
        for a `build(self, foo_shape, bar_shape)`: see `build_shapes_by_name`)."""
        if not self.built:
            self._build_shapes = shapes
            with name_scope_of(self):
                if by_name is None:
                    self.build(shapes)
                else:
                    self._build_shapes_by_name = by_name
                    self.build(**by_name)
            self.built = True
            if self._initial_weights is not None:
                self.set_weights(self._initial_weights)
                self._initial_weights = None

    def _build_for_call(self, shapes, by_name):
        """Builds before a call on concrete inputs (a model may build its layers in the call)."""
        self._build_if_needed(shapes, by_name)

    # An `InputSpec` (or a structure of them) checked before every call, as in Keras.
    input_spec = None

    # Keras' rule: arguments after the first come by position only when they are tensors
    # (a flag or a number by position is a call's mistake, told before it runs).
    _allow_non_tensor_positional_args = False

    def __call__(self, *args, **kwargs):
        if args:
            inputs, args = args[0], args[1:]
            if args and not self._allow_non_tensor_positional_args:
                _check_positional_tensors(args)
        else:  # the first argument of `call` given by name (`layer(x1=a, x2=b)`)
            inputs = first_call_argument(self, kwargs)
        if type(inputs) is not Tensor:
            if is_symbolic(inputs) or any(is_symbolic(a) for a in args):
                return self._symbolic_call(inputs, *args, **kwargs)
            if self.input_spec is not None:
                assert_input_compatibility(self.input_spec, inputs, self.name)
            if _is_nested_scalars(inputs):  # `[["a"], ["b"]]` is one array, not two inputs
                inputs = xp.asarray(inputs)
            inputs = map_structure(
                _to_floatx_tensor if self._casts_float64_inputs() else _to_tensor, inputs)
        elif self.input_spec is not None:
            assert_input_compatibility(self.input_spec, inputs, self.name)
        stack = _CALL_CONTEXT.items
        if stack:
            return self._call_in_context(stack[-1], inputs, args, kwargs)
        stack.append(_CallContext())
        try:
            return self._call_in_context(stack[-1], inputs, args, kwargs, outermost=True)
        finally:
            stack.pop()

    def _call_in_context(self, context, inputs, args, kwargs, outermost=False):
        """`__call__` on concrete inputs, inside the call context `context`."""
        if not self.built:
            shapes = map_structure(lambda t: None if t is None else tuple(t.shape), inputs)
            self._check_input_spec(shapes)
            self._build_for_call(shapes, build_shapes_by_name(self, inputs, args, kwargs))
        if outermost:  # losses from earlier calls (and from building) go
            self.reset_losses()
        # `training`, as Keras resolves it: passed to this call, else the value in force
        # from an enclosing call, else the default of this layer's `call`.
        if "training" in kwargs:
            training = kwargs["training"]
        elif context.training is not None:
            training = context.training
        else:
            training = self._call_training_default
        context.training = training
        if not self._call_has_training:
            kwargs.pop("training", None)
        elif training is not None:
            kwargs["training"] = training
        first_call = "_called" not in self.__dict__
        self.__dict__["_called"] = True
        registered = self.__dict__.get("_context_args")
        if registered:
            self._resolve_context_args(registered, context.values, kwargs)
        previous_mask = kwargs.get("mask")
        if previous_mask is None:
            previous_mask = masks_of(inputs)
            if self._call_has_mask and previous_mask is not None:
                kwargs["mask"] = previous_mask
        if self._argument_masks:
            _pass_argument_masks(self._argument_masks, inputs, args, kwargs)
        if first_call:  # the layers it builds on the way are in its name scope
            with name_scope_of(self):
                outputs = self.call(inputs, *args, **kwargs)
        else:
            outputs = self.call(inputs, *args, **kwargs)
        if previous_mask is not None or (type(self).compute_mask is not Layer.compute_mask
                                         and self.supports_masking):
            self._attach_masks(inputs, outputs, previous_mask)
        if self.activity_regularizer is not None:
            self._losses = [_batch_mean_penalty(self.activity_regularizer, out)
                            for out in flatten(outputs)]
            _LOSS_HOLDERS.add(self)
        return outputs

    def _check_input_spec(self, shapes):
        """Hook for layers that validate input shapes before building."""

    @property
    def _call_context_args(self):
        """The call arguments the calls inside this layer's call inherit (Keras' set)."""
        return {"training", *self.__dict__.get("_context_args", ())}

    def _register_call_context_args(self, *names):
        """Keras 3's call-context arguments: each of `names`, given to this layer's call,
        reaches the calls of the layers inside it that registered it too, without being
        passed on by hand (as `training` does). Only before the layer's first call."""
        if self.__dict__.get("_called"):
            raise RuntimeError("Cannot add call-context args after the layer has been called.")
        self._context_args = tuple(dict.fromkeys(
            self.__dict__.get("_context_args", ()) + tuple(names)))

    def _resolve_context_args(self, names, values, kwargs):
        """Keras' rule for each registered argument: the value given to this call, else the
        one an enclosing call set, else `call`'s default. It is set in `values` for the
        calls inside, and given to `call` if `call` takes it."""
        call = type(self).call
        accepted = _parameters(call)
        for name in names:
            takes = name in accepted
            if name in kwargs:
                value = kwargs[name] if takes else kwargs.pop(name)
            elif values.get(name) is not None:
                value = values[name]
            else:
                value = _argument_default(call, name) if takes else None
            values[name] = value
            if takes and value is not None:
                kwargs[name] = value

    def _casts_float64_inputs(self):
        """Whether float64 NumPy inputs become floatx (Keras casts to the compute dtype)."""
        return self.dtype == floatx()

    def _symbolic_call(self, inputs, *args, **kwargs):
        """Records a graph node: infers output shapes without computing real values."""
        kwargs.pop("training", None)
        self.__dict__["_called"] = True
        for name in self.__dict__.get("_context_args", ()):  # resolved by the real calls
            if name not in _parameters(type(self).call):
                kwargs.pop(name, None)
        if self.input_spec is not None:
            assert_input_compatibility(self.input_spec, inputs, self.name)
        input_shapes = map_structure(lambda t: t.shape if isinstance(t, KerasTensor) else
                                     None if t is None else xp.shape(t), inputs)
        self._check_input_spec(input_shapes)
        if not self.built:
            self._build_if_needed(input_shapes, build_shapes_by_name(self, inputs, args, kwargs))
        node_index = len(self._inbound_nodes)
        # Inferring shapes must not update the layer's state; layers built on the way are
        # in its name scope.
        with StatelessScope(), name_scope_of(self):
            outputs, out_shapes = self._symbolic_outputs(inputs, input_shapes, node_index,
                                                         args, kwargs)
        self._inbound_nodes.append(Node(self, (inputs,) + args, kwargs, outputs))
        self._output_shape = out_shapes
        self.reset_losses()  # a symbolic call adds no loss (inferring shapes may have run it)
        self._attach_symbolic_masks(inputs, outputs, kwargs.get("mask"))
        return outputs

    def _symbolic_outputs(self, inputs, input_shapes, node_index, args, kwargs):
        """The symbolic outputs of a call on `inputs`, and their shapes."""
        if type(self).compute_output_spec is not Layer.compute_output_spec:
            # The layer says what it returns: shapes, dtypes and structure (Keras' rule:
            # `call()` does not run when building a graph).
            spec = self.compute_output_spec(inputs, *args, **kwargs)
            flat_spec = flatten(spec)
            outputs = pack_sequence_as(spec, [
                KerasTensor(t.shape, dtype=t.dtype, name=self.name if len(flat_spec) == 1
                            else f"{self.name}_{i}", keras_history=(self, node_index, i))
                for i, t in enumerate(flat_spec)])
            out_shapes = map_structure(lambda t: t.shape, spec)
        else:
            try:
                # Traced, the call gets its other arguments too (`layer(x, flag=True)`).
                out_shapes = self._traced_output_shapes(input_shapes, args, kwargs) if \
                    type(self).compute_output_shape is Layer.compute_output_shape \
                    else self.compute_output_shape(input_shapes)
            except (ValueError, TypeError, IndexError) as error:
                # A TypeError stays one (Keras' deserialization turns it into its own).
                kind = TypeError if isinstance(error, TypeError) else ValueError
                raise kind(
                    f"Layer '{self.name}' ({type(self).__name__}) cannot be called on inputs "
                    f"of shape {input_shapes}: {error}"
                ) from error
            flat_shapes = _flatten_shapes(out_shapes)
            dtype = self.dtype if xp.issubdtype(xp.dtype(self.dtype), xp.floating) else floatx()
            outputs_flat = [KerasTensor(shape, dtype=dtype, name=self.name if len(flat_shapes) == 1
                                        else f"{self.name}_{i}", keras_history=(self, node_index, i))
                            for i, shape in enumerate(flat_shapes)]
            outputs = outputs_flat[0] if len(outputs_flat) == 1 else outputs_flat
        return outputs, out_shapes

    def _attach_symbolic_masks(self, inputs, outputs, previous_mask):
        """Gives the symbolic outputs the symbolic mask `compute_mask` makes (Keras'
        `backend.get_keras_mask(output)`), so that a model can return a mask.

        A `compute_mask` that cannot run on symbolic tensors (written with NumPy, say)
        leaves the outputs without one: the mask still reaches them when the model runs.
        """
        if previous_mask is None:
            previous_mask = masks_of(inputs)
        if not self.supports_masking or (previous_mask is None and
                                         type(self).compute_mask is Layer.compute_mask):
            return
        try:
            output_masks = self.compute_mask(inputs, previous_mask)
        except (TypeError, ValueError, NotImplementedError):
            return
        if output_masks is None:
            return
        for tensor, mask in zip(flatten(outputs), flatten(output_masks)):
            if isinstance(mask, KerasTensor):
                set_keras_mask(tensor, mask)

    @property
    def input(self):
        """The input of the layer's first call on symbolic tensors (as in Keras)."""
        node = self._first_node("input")
        return node.call_args[0] if node.call_args else node.outputs

    @property
    def output(self):
        """The output of the layer's first call on symbolic tensors (as in Keras)."""
        return self._first_node("output").outputs

    def _first_node(self, what):
        if not self._inbound_nodes:
            raise AttributeError(f"The layer {self.name} has never been called and thus has "
                                 f"no defined {what}.")
        return self._inbound_nodes[0]

    def compute_output_spec(self, inputs, *args, **kwargs):
        """Symbolic outputs for symbolic `inputs` (`KerasTensor`s of the output shapes).

        Subclasses may override it (as in Keras) to say what `call()` returns without
        running it; the default derives it from `compute_output_shape`.
        """
        shapes = map_structure(
            lambda t: t.shape if isinstance(t, KerasTensor) else xp.shape(t), inputs)
        dtype = self.dtype if xp.issubdtype(xp.dtype(self.dtype), xp.floating) else floatx()
        return _specs_for_shapes(self.compute_output_shape(shapes), dtype)

    # ------------------------------------------------------------- config
    def get_config(self):
        """The constructor arguments, as JSON-compatible values.

        A subclass that does not override it gets the arguments it was
        constructed with (plain values only), as in Keras.
        """
        config = self._base_config()
        if auto_config.applies(self, Layer):
            return auto_config.merge(self, config)
        return config

    def _base_config(self):
        config = {"name": self.name, "trainable": self.trainable,
                  "dtype": {"module": "keras", "class_name": "DTypePolicy",
                            "config": {"name": self.dtype}, "registered_name": None}}
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = serialize_keras_object(self.activity_regularizer)
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = list(self._batch_input_shape)
        return config

    @classmethod
    def from_config(cls, config):
        """Creates a layer from `get_config()`'s output."""
        config = dict(config)
        if "batch_shape" in config and cls.__name__ != "InputLayer":
            config["batch_input_shape"] = config.pop("batch_shape")
        try:
            return cls(**config)
        except Exception as error:  # noqa: BLE001 - Keras reports any failure as a TypeError
            raise TypeError(
                f"Error when deserializing class '{cls.__name__}' using config={config}.\n\n"
                f"Exception encountered: {error}"
            ) from error

    def get_build_config(self):
        by_name = self.__dict__.get("_build_shapes_by_name")
        if by_name is not None:  # Keras' form for a `build` of several `<argument>_shape`s
            return {"shapes_dict": {k: _shape_for_config(v) for k, v in by_name.items()}}
        if self._build_shapes is None:
            return None
        return {"input_shape": _shape_for_config(self._build_shapes)}

    def build_from_config(self, config):
        """Creates the weights from `get_build_config()`'s output (when loading a model)."""
        if not config or self.built:
            return
        if config.get("input_shape") is not None:
            self._build_if_needed(_config_to_shape(config["input_shape"]))
        elif config.get("shapes_dict"):
            with name_scope_of(self):
                self.build(**{k: _config_to_shape(v) for k, v in config["shapes_dict"].items()})
            self.built = True

    # ------------------------------------------------------------- saving
    def save_own_variables(self, store):
        """Writes this layer's own variables into `store` as `"0"`, `"1"`, ... (Keras' layout).

        Override it (with `load_own_variables`) to save other state, or
        variables under other names; `.keras` saving calls it for every layer.
        """
        for i, variable in enumerate(self._own_variables()):
            store[f"{i}"] = variable.numpy()

    def load_own_variables(self, store):
        """Restores what `save_own_variables` wrote (checks the count first)."""
        variables = self._own_variables()
        if len(store.keys()) != len(variables):
            raise ValueError(
                f"Layer '{self.name}' expected {len(variables)} variables, but received "
                f"{len(store.keys())} variables during loading. "
                f"Expected: {[v.name for v in variables]}"
            )
        for i, variable in enumerate(variables):
            variable.assign(store[f"{i}"])

    def _own_variables(self):
        """Trainable then non-trainable variables of this layer itself (no sublayers)."""
        result, seen = [], set()
        for v in self._trainable_variables + self._non_trainable_variables:
            if id(v) not in seen:
                seen.add(id(v))
                result.append(v)
        return result

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


_METRIC_CLASS = []  # numnet.metrics.base.Metric, found at the first attribute set
_SEED_GENERATOR_CLASS = []  # numnet.random.SeedGenerator, found when first needed


def _users_state(value):
    """Whether `value`, assigned to a private attribute, is a variable or metrics set by the
    user's code (not numnet's). Called by `__setattr__` only: the assigning code is the frame
    two above this one."""
    if type(value) in _CONTAINERS:
        if not value:
            return False
    elif not isinstance(value, Variable) and not _held_metrics(value):
        return False  # most values: neither looked into nor traced to their caller
    module = sys._getframe(2).f_globals.get("__name__", "")
    if module == "numnet" or module.startswith("numnet."):
        return False
    return isinstance(value, Variable) or bool(_held_metrics(value))


_ARGUMENT_MASKS = {}  # call -> its `_argument_masks`


def _argument_masks(call):
    """(position, name, mask parameter) for each argument of `call` that has a
    `<argument>_mask` parameter too (Keras hands each tensor argument's mask there)."""
    if call not in _ARGUMENT_MASKS:
        names = _parameters(call)
        _ARGUMENT_MASKS[call] = tuple((i, n, f"{n}_mask") for i, n in enumerate(names)
                                      if f"{n}_mask" in names)
    return _ARGUMENT_MASKS[call]


def _pass_argument_masks(argument_masks, inputs, args, kwargs):
    """Sets `kwargs[<argument>_mask]` to the masks of that argument's tensors, unless given."""
    for position, name, mask_name in argument_masks:
        if kwargs.get(mask_name) is not None:
            continue
        value = inputs if position == 0 else \
            args[position - 1] if position <= len(args) else kwargs.get(name)
        mask = None if value is None else masks_of(value)
        if mask is not None:
            kwargs[mask_name] = mask


def _parameters(function):
    """The names of `function`'s parameters after `self` that may be passed by name."""
    code = getattr(function, "__code__", None)
    return () if code is None else code.co_varnames[1:code.co_argcount + code.co_kwonlyargcount]


def build_shapes_by_name(layer, inputs, args, kwargs):
    """Keras 3's `build(self, foo_shape, bar_shape)`: the shape of each `call` argument named
    by a `<argument>_shape` parameter, as keywords for `build`; None when `build` takes one
    shape (the first argument's, passed as it always was).

    Raises:
        ValueError: a parameter of such a `build` does not end in `_shape`, or names no
            argument of `call` (Keras' messages).
    """
    names = _parameters(type(layer).build)
    if len(names) <= 1:
        return None
    call_names = _parameters(type(layer).call)
    values = dict(zip(call_names, (inputs,) + tuple(args)))
    values.update((k, v) for k, v in kwargs.items() if k in call_names)
    preamble = ("For a `build()` method with more than one argument, all arguments should have "
                "a `_shape` suffix and match an argument from `call()`. E.g. "
                f"`build(self, foo_shape, bar_shape)`  For layer '{type(layer).__name__}', ")
    by_name = {}
    for name in names:
        if not name.endswith("_shape"):
            raise ValueError(f"{preamble}Received `build()` argument `{name}`, which does not "
                             "end in `_shape`.")
        argument = name[:-len("_shape")]
        if argument not in call_names:
            raise ValueError(f"{preamble}received `build()` argument `{name}`, but `call()` "
                             f"does not have argument `{argument}`.")
        if values.get(argument) is not None:
            by_name[name] = map_structure(lambda t: tuple(t.shape), values[argument])
    return by_name


def _each_once(own, nested):
    """The variables of `own`, then of each list `nested` yields, each once, in that order."""
    result, seen = [], set()
    for group in itertools.chain((own,), nested):
        for v in group:
            if id(v) not in seen:
                seen.add(id(v))
                result.append(v)
    return result


def first_call_argument(layer, kwargs):
    """Pops from `kwargs` the first argument of `layer.call`, passed by its name (Keras binds
    a layer call to `call`'s signature: `layer(x1=a, x2=b)`, `model(inputs=x)`)."""
    code = getattr(type(layer).call, "__code__", None)
    name = code.co_varnames[1] if code is not None and code.co_argcount > 1 else "inputs"
    if name not in kwargs:
        raise TypeError(f"Layer '{layer.name}' ({type(layer).__name__}) was called without "
                        f"its first argument `{name}`.")
    return kwargs.pop(name)


def _seed_generator_class():
    """`numnet.random.SeedGenerator` (a sibling module: imported when first needed)."""
    if not _SEED_GENERATOR_CLASS:
        from numnet.random import SeedGenerator
        _SEED_GENERATOR_CLASS.append(SeedGenerator)
    return _SEED_GENERATOR_CLASS[0]


def _held_metrics(value):
    """The metrics `value` is or holds (a list, tuple or dict of them), else ()."""
    if not _METRIC_CLASS:
        from numnet.metrics.base import Metric  # a sibling package: imported when first needed
        _METRIC_CLASS.append(Metric)
    metric = _METRIC_CLASS[0]
    if isinstance(value, metric):
        return (value,)
    if isinstance(value, (list, tuple, dict)) and value:
        items = value.values() if isinstance(value, dict) else value
        return tuple(v for v in items if isinstance(v, metric))
    return ()


def _argument_default(call, name):
    """The default of the argument `name` of a layer class's `call` (None without)."""
    if (call, name) not in _ARGUMENT_DEFAULTS:
        try:
            parameter = inspect.signature(call).parameters.get(name)
        except (TypeError, ValueError):
            parameter = None
        _ARGUMENT_DEFAULTS[call, name] = None if parameter is None or \
            parameter.default is inspect.Parameter.empty else parameter.default
    return _ARGUMENT_DEFAULTS[call, name]


def _names_argument(function, name):
    """Whether `call` has an argument called `name` (read from its code object)."""
    code = getattr(function, "__code__", None)
    if code is None:
        return False
    return name in code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]


def _computes_masks(cls):
    """Keras' default for `supports_masking`: the class overrides `compute_mask`."""
    return cls.compute_mask is not Layer.compute_mask


def _accepts_training(function):
    """Whether `call` takes a `training` argument (or **kwargs), read from its code object."""
    code = getattr(function, "__code__", None)
    if code is None:
        return True
    names = code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]
    return "training" in names or bool(code.co_flags & 0x08)  # CO_VARKEYWORDS


def _is_nested_scalars(value):
    """Whether `value` is a non-empty (nested) list or tuple of plain numbers and strings."""
    if not isinstance(value, (list, tuple)) or not value:
        return False
    return all(_is_nested_scalars(item) if isinstance(item, (list, tuple)) else
               isinstance(item, (int, float, str, bytes, xp.generic)) for item in value)


def _to_tensor(value):
    if isinstance(value, Tensor):
        return value
    if value is None:
        return None
    return Tensor(value)


def _to_floatx_tensor(value):
    """`_to_tensor`, with float64 arrays cast to floatx as Keras' input autocast does."""
    if isinstance(value, xp.ndarray) and value.dtype == xp.float64:
        value = value.astype(floatx())
    return _to_tensor(value)


def _specs_for_shapes(shapes, dtype):
    if _is_shape(shapes):
        return KerasTensor(shapes, dtype=dtype)
    if isinstance(shapes, dict):
        return {k: _specs_for_shapes(v, dtype) for k, v in shapes.items()}
    return same_kind(shapes, [_specs_for_shapes(s, dtype) for s in shapes])


def _check_positional_tensors(args):
    for arg in flatten(list(args)):
        if arg is not None and not isinstance(arg, (Tensor, KerasTensor, xp.ndarray)):
            raise ValueError(
                "Only input tensors may be passed as positional arguments. The following "
                f"argument value should be passed as a keyword argument: {arg!r} "
                f"(of type {type(arg)})")


def _is_shape(shapes):
    return isinstance(shapes, tuple) and all(d is None or isinstance(d, (int, xp.integer))
                                             for d in shapes)


def _flatten_shapes(shapes):
    if shapes is None:  # an input given as None (`layer({"x1": x, "x2": None})`)
        return []
    if _is_shape(shapes):
        return [shapes]
    if isinstance(shapes, dict):
        return [s for k in sorted(shapes) for s in _flatten_shapes(shapes[k])]
    return [s for item in shapes for s in _flatten_shapes(item)]


def _shape_to_dummy(shapes):
    if shapes is None:
        return None
    if _is_shape(shapes):
        return dummy_value(KerasTensor(shapes))
    if isinstance(shapes, dict):
        return {k: _shape_to_dummy(v) for k, v in shapes.items()}
    return [_shape_to_dummy(s) for s in shapes]


def _shape_for_config(shapes):
    if shapes is None:
        return None
    if _is_shape(shapes):
        return [None] + [int(d) for d in shapes[1:]] if shapes else []
    if isinstance(shapes, dict):
        return {k: _shape_for_config(v) for k, v in shapes.items()}
    return [_shape_for_config(s) for s in shapes]


def _config_to_shape(shape):
    if isinstance(shape, dict):
        return {k: _config_to_shape(v) for k, v in shape.items()}
    if isinstance(shape, list) and shape and isinstance(shape[0], (list, dict)):
        return [_config_to_shape(s) for s in shape]
    return tuple(shape)


def _batch_mean_penalty(regularizer, output):
    from numnet.autodiff import ops
    batch = output.shape[0] if output.ndim else 1
    return ops.multiply(regularizer(output), 1.0 / max(batch, 1))
