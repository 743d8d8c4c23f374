"""`Optimizer`: the Keras 3 optimizer contract, updating NumPy variables in place.

What one `apply(grads, trainable_variables)` does, in Keras' order:

1. build the slots on the first call (`build(var_list)`);
2. drop the pairs whose gradient is None (with Keras' warning);
3. divide by `loss_scale_factor` if set;
4. with `gradient_accumulation_steps`, add to the accumulators and only update
   on every n-th call, with the averaged gradients;
5. clip (`clipnorm` per gradient, else `global_clipnorm`, else `clipvalue`);
6. weight decay `w -= w * weight_decay * lr` on the non-excluded variables;
7. the optimizer's own update (`update_step` per variable);
8. the EMA of the weights if `use_ema`;
9. `iterations += 1`.

The learning rate of a step is the value at the current `iterations`, before
the increment. Subclasses implement `update_step(gradient, variable,
learning_rate)` like in Keras; numnet's built-in optimizers override the batched
`_update_step_all(grads, variables, lr)` instead, which works on raw arrays
with `out=` and reuses per-shape scratch buffers.
"""

import re
import warnings
from functools import partial


from numnet.autodiff.parameters import ParameterStore
from numnet.autodiff.primitive import host_call
from numnet.autodiff.tensor import Tensor, Variable
from numnet.backend import floatx, name_scope, to_snake_case, unique_name, xp
from numnet.optimizers import schedules as schedules_module
from numnet.serialization import deserialize_keras_object, serialize_keras_object


def _raw(x):
    """The ndarray behind a Tensor/Variable, or `x` itself."""
    return x.data if isinstance(x, Tensor) else x


def _f32(x):
    """`x` rounded to float32, as a Python float (Keras casts hyperparameters to float32)."""
    return float(xp.float32(x))


def moving_average_into(average, value, rate, scratch):
    """`average += (value - average) * rate`, in place, through `scratch` (which may be
    `value`): the moment updates of Adam and its relatives, in Keras' order of operations."""
    xp.subtract(value, average, out=scratch)
    xp.multiply(scratch, rate, out=scratch)
    xp.add(average, scratch, out=average)


def squares_average_into(average, g, rate, scratch):
    """`average += (g**2 - average) * rate`, in place, through `scratch`."""
    xp.multiply(g, g, out=scratch)
    moving_average_into(average, scratch, rate, scratch)


class Optimizer:
    """Base class of numnet's optimizers (Keras 3 `keras.optimizers.Optimizer`).

    Args:
        learning_rate: a float, a `LearningRateSchedule`, or a callable taking
            no arguments and returning the rate.
        weight_decay: if set, `w -= w * weight_decay * lr` before each update.
        clipnorm: clip each gradient so its L2 norm is at most this.
        clipvalue: clip each gradient element to `[-clipvalue, clipvalue]`.
        global_clipnorm: clip all gradients so their global norm is at most this.
        use_ema: keep an exponential moving average of the weights.
        ema_momentum: the EMA momentum.
        ema_overwrite_frequency: every this many steps, overwrite the weights
            with their average (None: only at `finalize_variable_values`).
        loss_scale_factor: gradients are divided by it (see `scale_loss`).
        gradient_accumulation_steps: update every n steps with the mean gradient.
        name: defaults to the snake-case class name, made unique (`"adam"`,
            `"adam_1"`, ...).
    """

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        if kwargs.pop("decay", None) is not None:
            warnings.warn("Argument `decay` is no longer supported and will be ignored.")
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")
        if name is None:
            name = unique_name(to_snake_case(self.__class__.__name__))
        self.name = name
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.global_clipnorm = global_clipnorm
        self.clipvalue = clipvalue
        self.use_ema = use_ema
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        if gradient_accumulation_steps:
            if not gradient_accumulation_steps >= 2:
                raise ValueError(
                    "`gradient_accumulation_steps` must be an integer >= 2. "
                    f"Received: gradient_accumulation_steps={gradient_accumulation_steps}"
                )
        if use_ema:
            if ema_momentum > 1 or ema_momentum < 0:
                raise ValueError(
                    "`ema_momentum` must be in the range [0, 1]. "
                    f"Received: ema_momentum={ema_momentum}"
                )
            if ema_overwrite_frequency and (
                not isinstance(ema_overwrite_frequency, int) or ema_overwrite_frequency < 1
            ):
                raise ValueError(
                    "`ema_overwrite_frequency` must be an integer >= 1 or None. "
                    f"Received: ema_overwrite_frequency={ema_overwrite_frequency}"
                )
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                f"Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                f"global_clipnorm={global_clipnorm}"
            )
        self.built = False
        self._variables = []
        self._trainable_variables = []
        self._trainable_variables_indices = {}
        self._scratch = {}
        self._exclude_ids = set()
        self._exclude_pattern = None
        self._decay_cache = {}

        self._iterations = self._make_variable(0, "iteration", "int64")
        if isinstance(learning_rate, schedules_module.LearningRateSchedule) or (
            callable(learning_rate) and not isinstance(learning_rate, Tensor)
        ):
            self._learning_rate = learning_rate
        else:
            self._learning_rate = self._make_variable(
                self._check_learning_rate(learning_rate), "learning_rate", floatx()
            )

    # -- copying ----------------------------------------------------------
    def __getstate__(self):
        """A copy (pickle, deepcopy) drops the packing; it repacks on its first step."""
        state = dict(self.__dict__)
        packed = state.pop("_packed", None)
        if packed is not None:
            for attr in packed["slot_lists"]:  # drop the flat pseudo-slot appended at packing
                state[attr] = list(state[attr])[:len(packed["variables"])]
        state.update(_pack_tried=False, _scratch={}, _decay_cache={})
        state.pop("_trainable_variables_indices", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._trainable_variables_indices = {
            id(v): i for i, v in enumerate(self._trainable_variables)}

    # -- variables --------------------------------------------------------
    @staticmethod
    def _check_learning_rate(learning_rate):
        if isinstance(learning_rate, (bool, xp.bool_)) or not isinstance(
            learning_rate, (float, int, xp.floating, xp.integer, Tensor, xp.ndarray)
        ):
            raise ValueError(
                "Argument `learning_rate` should be float, or an instance of "
                "LearningRateSchedule, or a callable (that takes in the current "
                "iteration value and returns the corresponding learning rate value). "
                f"Received instead: learning_rate={learning_rate!r}"
            )
        return float(_raw(learning_rate))

    def _make_variable(self, value, name, dtype):
        # Keras' path: `<open name scopes>/<optimizer name>/<name>` (a wrapper building its
        # inner optimizer opens its own scope first: "loss_scale_optimizer/adam/...").
        with name_scope(self.name, caller=self):
            variable = Variable(xp.asarray(value, dtype=dtype), dtype=dtype,
                                trainable=False, name=name)
        self._variables.append(variable)
        return variable

    def add_variable(self, shape, initializer="zeros", dtype=None, aggregation="none",
                     name=None):
        """Creates and tracks an optimizer variable (zeros unless `initializer` says)."""
        from numnet import initializers

        init = initializers.get(initializer)
        dtype = dtype or floatx()
        value = init(tuple(shape), dtype=dtype)
        return self._make_variable(value, name or "variable", dtype)

    def add_variable_from_reference(self, reference_variable, name=None, initializer="zeros"):
        """A slot shaped like `reference_variable`, named `<its path with _>_<name>`."""
        name = name or "var"
        ref_path = getattr(reference_variable, "path", None) or str(reference_variable.name)
        full_name = ref_path.replace("/", "_").replace(":", "_") + "_" + name
        data = _raw(reference_variable)
        return self.add_variable(data.shape, initializer=initializer,
                                 dtype=data.dtype.name, name=full_name)

    def add_optimizer_variables(self, trainable_variables, name, initializer="zeros"):
        """One slot per variable for each name in `name`, interleaved per variable (None for
        a variable with `overwrite_with_gradient`, as in Keras).

        Returns a list for a single name, a tuple of lists for a list of names.
        """
        names = [name] if isinstance(name, str) else list(name)
        inits = (initializer if isinstance(initializer, (list, tuple))
                 else [initializer] * len(names))
        if len(inits) != len(names):
            raise ValueError(
                "The number of provided names must match the number of provided "
                f"initializers. Received name='{name}', initializer='{initializer}'"
            )
        slots = tuple([] for _ in names)
        for variable in trainable_variables:
            for i, (slot_name, init) in enumerate(zip(names, inits)):
                # A variable overwritten by its gradient takes no step: no slot (None).
                slots[i].append(None if getattr(variable, "overwrite_with_gradient", False)
                                else self.add_variable_from_reference(variable, slot_name, init))
        return slots[0] if isinstance(name, str) else slots

    def build(self, variables):
        """Creates the slots for `variables` (the base creates EMA averages and accumulators)."""
        variables = list(variables)
        if self.use_ema:
            self._model_variables_moving_average = self.add_optimizer_variables(
                variables, "average")
        if self.gradient_accumulation_steps:
            self._accumulated_gradients = []
        for i, variable in enumerate(variables):
            self._trainable_variables_indices[id(variable)] = i
            if self.gradient_accumulation_steps:
                self._accumulated_gradients.append(
                    self.add_variable_from_reference(variable, "gradient_accumulator"))
        self._trainable_variables = variables[:]
        self.built = True

    def _get_variable_index(self, variable):
        return self._trainable_variables_indices[id(variable)]

    def _var_key(self, variable):
        """The key a variable is known by in the optimizer's tables (Keras' name)."""
        return id(variable)

    @property
    def variables(self):
        """The optimizer's variables: iteration, learning_rate (if not scheduled), slots."""
        return self._variables[:]

    @property
    def iterations(self):
        """The step counter (a Variable; `int(opt.iterations)` gives its value)."""
        if self.gradient_accumulation_steps:
            return Variable(self._iterations.data // self.gradient_accumulation_steps,
                            trainable=False, name="iteration")
        return self._iterations

    @property
    def learning_rate(self):
        """The current learning rate.

        A float32 scalar Variable (`float(...)`, `.numpy()`, `.assign(...)` all
        work, as in Keras), or the scheduled value at the current step.
        """
        lr = self._learning_rate
        if isinstance(lr, Variable):
            return lr
        return Tensor(xp.asarray(self._current_learning_rate(), dtype=floatx()))

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        previous = self._learning_rate if isinstance(self._learning_rate, Variable) else None
        if isinstance(learning_rate, schedules_module.LearningRateSchedule) or (
            callable(learning_rate) and not isinstance(learning_rate, Tensor)
        ):
            self._learning_rate = learning_rate
        else:
            if isinstance(self._learning_rate, schedules_module.LearningRateSchedule):
                raise TypeError(
                    "This optimizer was created with a `LearningRateSchedule` object "
                    "as its `learning_rate` constructor argument, hence its learning "
                    "rate is not settable. If you need the learning rate to be "
                    "settable, you should instantiate the optimizer with a float "
                    "`learning_rate` argument."
                )
            value = self._check_learning_rate(learning_rate)
            if previous is None:
                self._learning_rate = self._make_variable(value, "learning_rate", floatx())
            else:
                previous.data[...] = value
        if previous is not None and not isinstance(self._learning_rate, Variable):
            self._variables = [v for v in self._variables if v is not previous]

    def _current_learning_rate(self):
        """The learning rate for the coming step, as a Python float."""
        lr = self._learning_rate
        if isinstance(lr, Variable):
            return float(lr.data)
        if isinstance(lr, schedules_module.LearningRateSchedule):
            return float(lr(int(self._iterations.data)))
        return float(_raw(lr()))

    # -- applying gradients -----------------------------------------------
    def apply_gradients(self, grads_and_vars):
        """Applies `[(grad, variable), ...]`; returns the `iterations` Variable."""
        grads_and_vars = list(grads_and_vars)
        if grads_and_vars:
            grads, variables = zip(*grads_and_vars)
            self.apply(grads, variables)
        return self._iterations

    @host_call
    def apply(self, grads, trainable_variables=None):
        """Updates the variables in place from their gradients (see the module docstring)."""
        packed = self._packed
        if packed is not None and trainable_variables is packed["last_list"] and \
                self._plain_step():
            # The training loop passes the same variable list every step: after one
            # full check, only the gradients need looking at.
            raw = [g.data if isinstance(g, Tensor) else g for g in grads]
            if all(g is not None for g in raw):
                lr = self._current_learning_rate()
                self._prepare_step()
                if self._packed_update(raw, trainable_variables, lr):
                    self._step_done()
                    return
        grads = list(grads)
        if len(grads) == 0:
            return
        variables = self._variables_for(grads, trainable_variables)
        pairs_g, pairs_v, missing = [], [], []
        for g, v in zip(grads, variables):
            if g is None:
                missing.append(getattr(v, "path", getattr(v, "name", "?")))
            elif getattr(v, "trainable", True):
                pairs_g.append(_raw(g))
                pairs_v.append(v)
        if missing:
            if not pairs_g:
                raise ValueError("No gradients provided for any variable.")
            warnings.warn(
                f"Gradients do not exist for variables {missing} when minimizing the "
                "loss. If using `model.compile()`, did you forget to provide a `loss` "
                "argument?"
            )
        if any(getattr(v, "overwrite_with_gradient", False) for v in pairs_v):
            pairs_g, pairs_v = self._overwrite_with_gradients(pairs_g, pairs_v)
        if pairs_g:
            if self.loss_scale_factor is not None:
                scale = float(self.loss_scale_factor)
                pairs_g = [g / scale for g in pairs_g]
            self._apply_update(pairs_g, pairs_v)
            if packed is not None and not missing and not packed["constrained"] and \
                    trainable_variables is not None and len(pairs_v) == len(packed["variables"]) \
                    and all(a is b for a, b in zip(pairs_v, packed["variables"])):
                packed["last_list"] = trainable_variables
            for v in pairs_v:
                constraint = getattr(v, "constraint", None)
                if constraint is not None:
                    v.assign(constraint(v))
        self._step_done()

    def _variables_for(self, grads, trainable_variables):
        """The variables `apply` updates: those given (building the optimizer on its first
        call), else the ones it was built on, one per gradient."""
        if trainable_variables is None:
            if not self.built:
                raise ValueError(
                    "When passing `grads` without `variables`, the optimizer must "
                    "already be built on a list of variables. Call "
                    "`optimizer.build(trainable_variables)` first."
                )
            if len(grads) != len(self._trainable_variables_indices):
                raise ValueError(
                    "When passing `grads` as a list of gradient tensors, the gradients "
                    "must match `optimizer.variables` one-to-one. Received a list of "
                    f"{len(grads)} gradients, but the optimizer is tracking "
                    f"{len(self._trainable_variables)} trainable variables."
                )
            return self._trainable_variables
        variables = list(trainable_variables)
        if not self.built:
            self.build(variables)
            self.built = True
        if not self._pack_tried:  # also after a load that built the optimizer
            self._pack_tried = True
            self._pack(variables)
        indices = self._trainable_variables_indices
        for v in variables:
            if id(v) not in indices:
                raise ValueError(
                    f"Unknown variable: {v!r}. This optimizer can only be called "
                    "for the variables it was originally built with. When working "
                    "with a new set of variables, you should recreate a new "
                    "optimizer instance."
                )
        return variables

    def _overwrite_with_gradients(self, grads, variables):
        """Writes each gradient into its variable when the variable asks for it (Keras'
        `overwrite_with_gradient`); returns the other pairs, which take a normal step.

        With gradient accumulation the largest gradient seen since the last update
        is written on the update step (Keras' rule for these variables).
        """
        kept_g, kept_v = [], []
        steps = self.gradient_accumulation_steps
        for g, v in zip(grads, variables):
            if not getattr(v, "overwrite_with_gradient", False):
                kept_g.append(g)
                kept_v.append(v)
            elif steps:
                accumulator = self._accumulated_gradients[self._get_variable_index(v)].data
                if (int(self._iterations.data) + 1) % steps == 0:
                    v.assign(xp.maximum(g, accumulator))
                    accumulator[...] = 0
                else:
                    xp.maximum(g, accumulator, out=accumulator)
            else:
                v.assign(g)
        return kept_g, kept_v

    def _apply_update(self, grads, variables):
        if self.gradient_accumulation_steps:
            steps = self.gradient_accumulation_steps
            accumulators = [self._accumulated_gradients[self._get_variable_index(v)].data
                            for v in variables]
            if (int(self._iterations.data) + 1) % steps == 0:
                grads = [(g + acc) / steps for g, acc in zip(grads, accumulators)]
                self._clip_weight_decay_update(grads, variables)
                for acc in self._accumulated_gradients:
                    acc.data[...] = 0
            else:
                for g, acc in zip(grads, accumulators):
                    xp.add(acc, g, out=acc)
        else:
            self._clip_weight_decay_update(grads, variables)
        if self.use_ema:
            self._update_model_variables_moving_average(self._trainable_variables)
            if self.ema_overwrite_frequency:
                if (int(_raw(self.iterations)) + 1) % self.ema_overwrite_frequency == 0:
                    self._overwrite_model_variables_with_average_value(
                        self._trainable_variables)

    def _clip_weight_decay_update(self, grads, variables):
        grads = self._clip_gradients(grads)
        lr = self._current_learning_rate()
        self._apply_weight_decay(variables, lr)
        self._prepare_step()
        if self._packed_update(grads, variables, lr):
            return
        self._update_step_all(grads, variables, lr)

    # -- packing ------------------------------------------------------------
    # A step costs a handful of NumPy calls per variable (13 for Adam); with
    # many small variables that Python overhead dominates. So the optimizer
    # keeps the variables in a `ParameterStore` (one flat buffer; the model
    # usually made it already, at the start of `fit`) and its slots as rows of
    # one array of the same layout, and updates everything with one call per
    # operation. Layers keep their Variables; only where the numbers live changes,
    # once, before the first step.
    _packed = None
    _pack_tried = False

    def _pack(self, variables, always=False):
        variables = list(variables)
        if len(variables) < 2 or self.use_ema or self.gradient_accumulation_steps or any(
                getattr(v, "overwrite_with_gradient", False) for v in variables):
            return
        # The slots are packed in build order: only pack the exact built list.
        if [id(v) for v in variables] != [id(v) for v in self._trainable_variables]:
            return
        existing = variables[0].store
        if existing is None and not always and not self._worth_packing(
                len(variables), sum(v.data.size for v in variables)):
            return
        store = ParameterStore.of(variables)
        if store is None:
            return
        slot_lists = {}
        known = {id(v) for v in self._variables}
        for attr, value in vars(self).items():
            if (isinstance(value, list) and len(value) == len(variables) and attr != "_variables"
                    and all(isinstance(s, Variable) and id(s) in known and
                            s.data.shape == v.data.shape for s, v in zip(value, variables))):
                slot_lists[attr] = value
        # One row per slot list: slots updated by the same formula (Adam's m and v)
        # are adjacent rows, so one call can update both.
        block = store.new_rows(len(slot_lists))
        for slots, row in zip(slot_lists.values(), block):
            for slot, view in zip(slots, store.views(row)):
                slot.place(view)
        flat_var = Variable(xp.zeros(0, dtype=store.dtype), trainable=True, name="packed")
        flat_var.data = store.flat
        index = self._trainable_variables_indices
        index[id(flat_var)] = len(variables)
        grad2 = store.new_rows(2)
        for (attr, slots), flat in zip(slot_lists.items(), block):
            pseudo = Variable(xp.zeros(0, dtype=store.dtype), trainable=False, name=f"packed_{attr}")
            pseudo.data = flat
            slots.append(pseudo)  # reached only through index[id(flat_var)]
        self._packed = {
            "last_list": None,
            "constrained": any(getattr(v, "constraint", None) is not None for v in variables),
            "variables": tuple(variables), "store": store,
            "slot_lists": slot_lists, "flat_var": flat_var, "block": block,
            "slot_rows": {attr: row for row, attr in enumerate(slot_lists)},
            # Row 0 is the flat gradient; row 1 is scratch for updates that want
            # [g, g**2] side by side.
            "grad2": grad2, "grad": grad2[0],
            "grad_views": store.views(grad2[0]),
            "dtype": store.dtype, "total": store.size,
        }

    def _step_done(self):
        # Item assignment: ten times cheaper than `+= 1` on a 0-d array.
        self._iterations.data[()] = int(self._iterations.data) + 1

    # -- the flat-gradient seam (used by compiled training steps) -------------
    def prepare(self, variables):
        """Builds the optimizer for `variables` and packs them, before any step.

        A compiled step then writes its gradients straight into
        `gradient_buffer(variables)` and calls the callable `gradient_buffer_update`
        gave it when planned (`apply_gradient_buffer`, or a faster form of it).
        """
        variables = list(variables)
        if not self.built:
            self.build(variables)
        if not self._pack_tried:
            self._pack_tried = True
            self._pack(variables, always=True)

    def gradient_buffer(self, variables):
        """`(flat gradient, one view per variable)` when `variables` are packed, else None."""
        packed = self._packed
        if packed is None or len(variables) != len(packed["variables"]) or any(
                a is not b for a, b in zip(variables, packed["variables"])):
            return None
        return packed["grad"], packed["grad_views"]

    def plain_learning_rate(self, variables):
        """The coming step's learning rate when the step on `variables` is exactly
        `w -= lr * g`, else None.

        Exactly: no momentum or other slot, no clipping, weight decay, loss
        scaling, EMA, accumulation or constraint (plain SGD, see
        `SGD.plain_learning_rate`). A compiled step may then subtract `lr * g`
        from the weights inside the very products that make `g` (see
        `numnet.engine.sgd_fusion`) and report it with
        `apply_gradient_buffer(variables, applied=True)`.
        """
        return None

    def gradient_buffer_update(self, variables, applied=False):
        """The callable a compiled step calls once per step, after writing its gradients
        into `gradient_buffer(variables)`: `apply_gradient_buffer(variables, applied)`.

        An optimizer whose step is its plain update rule may offer a faster form
        (`_flat_update`, the rule with this moment's settings bound once): it
        serves while no public setting changes (the learning rate aside, which is
        read at every step) and the packing stays; after a change, the general
        method serves.
        """
        general = partial(self.apply_gradient_buffer, variables, applied)
        packed = self._packed
        if applied or packed is None or "apply_gradient_buffer" in vars(self) or \
                packed["constrained"] or not self._plain_step() or \
                self.gradient_buffer(variables) is None:
            return general
        update = self._flat_update(packed)
        if update is None:
            return general
        version = self._settings_version

        def step():
            if self._settings_version != version or self._packed is not packed:
                return general()
            update(self._current_learning_rate())
            self._step_done()
        return step

    def _flat_update(self, packed):
        """`update(learning_rate)`: the update rule on the packed flat buffers, with the
        current settings bound (everything `_prepare_step` and `_update_step_all` do for a
        plain step); None when the optimizer has no such form."""
        return None

    _settings_version = 0  # counts changes of public settings (see `__setattr__`)

    def __setattr__(self, name, value):
        if name[0] != "_" and name != "learning_rate":
            object.__setattr__(self, "_settings_version", self._settings_version + 1)
        object.__setattr__(self, name, value)

    def apply_gradient_buffer(self, variables, applied=False):
        """Applies the gradients written into `gradient_buffer(variables)` (one step).

        `applied=True`: the step already subtracted the learning rate (from
        `plain_learning_rate`) times its gradients from the weights; only the
        step's count remains.
        """
        packed = self._packed
        if applied:
            self._prepare_step()
            self._step_done()
            return
        if self._plain_step() and not packed["constrained"]:
            lr = self._current_learning_rate()
            self._prepare_step()
            self._update_step_all([packed["grad"]], [packed["flat_var"]], lr)
            self._step_done()
        else:
            self.apply(packed["grad_views"], variables)

    def _plain_step(self):
        """True when a step is just the update rule (no clipping, decay, scaling, EMA...)."""
        return not (self.clipnorm or self.clipvalue or self.global_clipnorm or self.weight_decay
                    or self.loss_scale_factor is not None or self.gradient_accumulation_steps
                    or self.use_ema)

    def _worth_packing(self, n_variables, n_params):
        """Packing costs one gradient copy per step; it pays when calls dominate."""
        return n_params <= 50_000 * n_variables

    def _still_packed(self, variables):
        """Whether `variables` are the packed ones (placed arrays never move)."""
        packed = self._packed
        return packed is not None and len(variables) == len(packed["variables"]) and all(
            a is b for a, b in zip(variables, packed["variables"]))

    def _packed_update(self, grads, variables, lr):
        if not self._still_packed(variables):
            return False
        packed = self._packed
        flat_grad = packed["grad"]
        # (gradients that are views of `flat_grad` itself copy onto themselves: NumPy
        # handles the overlap)
        xp.concatenate([_raw(g).reshape(-1) for g in grads], out=flat_grad)
        self._update_step_all([flat_grad], [packed["flat_var"]], lr)
        return True

    def _prepare_step(self):
        """Per-step state updates that precede the variable updates (Nadam's product)."""

    def _update_step_all(self, grads, variables, learning_rate):
        """Updates every variable; the default calls `update_step` one by one."""
        for g, v in zip(grads, variables):
            self.update_step(g, v, learning_rate)

    def update_step(self, gradient, variable, learning_rate):
        """One variable's update: implement this in a custom optimizer (Keras' contract).

        numnet's own optimizers write `_update_step_all` instead (every variable in one
        call, or the packed one); this runs it on the one variable.
        """
        if type(self)._update_step_all is Optimizer._update_step_all:
            raise NotImplementedError(
                f"{self.__class__.__name__} must implement `update_step(gradient, variable, "
                "learning_rate)`."
            )
        self._update_step_all([_raw(gradient)], [variable], float(learning_rate))

    def _buffer(self, like, index=0):
        """A scratch array shaped like `like` (reused across steps and variables)."""
        key = (like.shape, like.dtype.str, index)
        buf = self._scratch.get(key)
        if buf is None:
            buf = self._scratch[key] = xp.empty(like.shape, dtype=like.dtype)
        return buf

    # Keras' helpers for custom update_step implementations.
    def assign(self, variable, value):
        variable.assign(_raw(value))

    def assign_add(self, variable, value):
        variable.assign_add(_raw(value))

    def assign_sub(self, variable, value):
        variable.assign_sub(_raw(value))

    # -- clipping, weight decay, EMA --------------------------------------
    def _clip_gradients(self, grads):
        if self.clipnorm and self.clipnorm > 0:
            clip = float(self.clipnorm)
            clipped = []
            for g in grads:
                norm = float(xp.sqrt(xp.vdot(g, g)))
                clipped.append(g * (clip / norm) if norm > clip else g)
            return clipped
        if self.global_clipnorm and self.global_clipnorm > 0:
            return clip_by_global_norm(grads, self.global_clipnorm)
        if self.clipvalue and self.clipvalue > 0:
            value = float(self.clipvalue)
            return [xp.clip(g, -value, value) for g in grads]
        return grads

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Excludes variables (by object, or by a substring of their name) from weight decay.

        Must be called before the optimizer is built.
        """
        if self.built:
            raise ValueError(
                "`exclude_from_weight_decay()` can only be configured before the "
                "optimizer is built."
            )
        self._exclude_ids = {id(v) for v in var_list} if var_list else set()
        self._exclude_pattern = (re.compile("|".join(set(var_names)))
                                 if var_names else None)
        self._decay_cache = {}

    def _use_weight_decay(self, variable):
        key = id(variable)
        cached = self._decay_cache.get(key)
        if cached is None:
            cached = key not in self._exclude_ids and not (
                self._exclude_pattern is not None
                and self._exclude_pattern.search(variable.name) is not None
            )
            self._decay_cache[key] = cached
        return cached

    def _apply_weight_decay(self, variables, learning_rate):
        if self.weight_decay is None:
            return
        factor = 1.0 - float(self.weight_decay) * learning_rate
        for v in variables:
            if self._use_weight_decay(v):
                xp.multiply(v.data, factor, out=v.data)

    def _update_model_variables_moving_average(self, trainable_variables):
        momentum = self.ema_momentum if int(_raw(self.iterations)) != 0 else 0.0
        for var, average in zip(trainable_variables, self._model_variables_moving_average):
            if average is None:  # a variable overwritten by its gradient has no average
                continue
            avg = average.data
            xp.multiply(avg, momentum, out=avg)
            avg += (1.0 - momentum) * var.data

    def _overwrite_model_variables_with_average_value(self, trainable_variables):
        averages = self._model_variables_moving_average
        if len(trainable_variables) != len(averages):
            raise ValueError(
                f"The length of model variables ({len(trainable_variables)}) to "
                "override does not match the length of model variables stored in the "
                f"optimizer ({len(averages)}). Please check if the optimizer was called "
                "on your model."
            )
        for var, average in zip(trainable_variables, averages):
            if average is not None:
                var.data[...] = average.data

    def finalize_variable_values(self, var_list):
        """With `use_ema`, overwrites the variables with their moving averages."""
        if self.use_ema:
            self._overwrite_model_variables_with_average_value(var_list)

    def scale_loss(self, loss):
        """Multiplies the loss by `loss_scale_factor` (if set)."""
        if self.loss_scale_factor is not None:
            return loss * self.loss_scale_factor
        return loss

    # -- state ------------------------------------------------------------
    def get_weights(self):
        """Copies of the variables' values, in `variables` order."""
        return [v.data.copy() for v in self.variables]

    def set_weights(self, weights):
        """Sets the variables' values (the optimizer must be built)."""
        if not self.built:
            raise ValueError(
                "You are calling `set_weights()` on an optimizer that has not yet been "
                "built. Please call `optimizer.build(trainable_variables)` to create the "
                "optimizer weights before calling `set_weights()`."
            )
        for variable, weight in zip(self.variables, weights):
            weight = xp.asarray(_raw(weight))
            if variable.data.shape != weight.shape:
                raise ValueError(
                    f"Optimizer variable {variable.path} has shape {variable.data.shape} "
                    f"not compatible with provided weight shape {weight.shape}."
                )
            variable.data[...] = weight

    def save_own_variables(self, store):
        """Writes the variables into `store` as `{"0": array, "1": array, ...}`."""
        for i, variable in enumerate(self.variables):
            store[str(i)] = variable.data.copy()

    def load_own_variables(self, store):
        """Reads the variables back (skipped with a warning if the counts differ)."""
        variables = self.variables
        if len(store.keys()) != len(variables):
            msg = (
                f"Skipping variable loading for optimizer '{self.name}', because it "
                f"has {len(variables)} variables whereas the saved optimizer has "
                f"{len(store.keys())} variables. "
            )
            if len(variables) == 0 or not self.built:
                msg += "This is likely because the optimizer has not been called/built yet."
            warnings.warn(msg, stacklevel=2)
            return
        for i, variable in enumerate(variables):
            variable.data[...] = xp.asarray(store[str(i)])

    # -- config -----------------------------------------------------------
    def get_config(self):
        """The constructor arguments, with Keras' keys and order."""
        lr = self._learning_rate
        if isinstance(lr, schedules_module.LearningRateSchedule):
            learning_rate = schedules_module.serialize(lr)
        elif isinstance(lr, Variable):
            learning_rate = float(lr.data)
        else:
            learning_rate = serialize_keras_object(lr)
        return {
            "name": self.name,
            "learning_rate": learning_rate,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Creates an optimizer (without its state) from `get_config()` output."""
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = deserialize_keras_object(
                config["learning_rate"], custom_objects=custom_objects,
                printable_module_name="learning rate schedule",
            )
        return cls(**config)

    def __repr__(self):
        return f"<{self.__class__.__name__} name={self.name}>"


def global_norm(arrays):
    """The L2 norm of all arrays together (None entries ignored)."""
    total = 0.0
    for a in arrays:
        if a is not None:
            total += float(xp.vdot(a, a))
    return float(xp.sqrt(total))


def clip_by_global_norm(arrays, clip_norm):
    """Scales all arrays by `clip_norm / max(global_norm, clip_norm)`.

    The scale is NaN if the global norm is not finite, as in Keras.
    """
    norm = global_norm(arrays)
    if not xp.isfinite(norm):
        scale = float("nan")
    elif norm > clip_norm:
        scale = clip_norm / norm
    else:
        return list(arrays)
    return [a * scale if a is not None else None for a in arrays]
