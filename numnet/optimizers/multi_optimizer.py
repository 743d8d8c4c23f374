"""`MultiOptimizer` and `OptimizerMap` (Keras 3's): a different optimizer for different
variables.

An `OptimizerMap` maps variable paths to optimizers: a key is an exact path or
a regular expression the whole path must match (`"encoder/.*"`), and a path no
key matches gets the default optimizer. `MultiOptimizer` routes each gradient
to the optimizer its variable maps to (the map may also be any callable taking
a variable and returning an optimizer). As in Keras:

- each inner optimizer is built on, and steps, only its own variables, so its
  `iterations` counts only the steps in which it had gradients; the
  `MultiOptimizer`'s own `iterations` counts every `apply`;
- `variables` are the `MultiOptimizer`'s own (`iteration`, `learning_rate`)
  followed by each inner optimizer's, in the order the optimizers were met;
- it has no `learning_rate` of its own (reading or setting it raises): the
  callbacks that change learning rates (`LearningRateScheduler`,
  `ReduceLROnPlateau`) change each inner optimizer's;
- `loss_scale_factor` given to it overrides the inner optimizers' own.
"""

import re
from collections.abc import MutableMapping

from numnet.autodiff.primitive import host_call
from numnet.optimizers.base_optimizer import Optimizer
from numnet.optimizers.loss_scale_optimizer import LossScaleOptimizer
from numnet.serialization import register_builtin, serialize_keras_object


def _deserialize(config, custom_objects):
    from numnet.optimizers import deserialize
    return deserialize(config, custom_objects=custom_objects)


@register_builtin("keras.optimizers")
class OptimizerMap(MutableMapping):
    """Variable paths (exact, or regular expressions matching a whole path) to optimizers.

    Args:
        default_optimizer: the optimizer of every path no key matches.
        optimizer_map: an initial dict of keys to optimizers.
    """

    def __init__(self, default_optimizer, optimizer_map=None):
        if not isinstance(default_optimizer, Optimizer):
            raise TypeError("default_optimizer must be a Keras Optimizer instance. "
                            f"Received: {default_optimizer}")
        if optimizer_map is not None and not isinstance(optimizer_map, dict):
            raise TypeError(f"optimizer_map must be a dictionary. Received: {optimizer_map}")
        self._default_optimizer = default_optimizer
        self._optimizer_map = dict(optimizer_map or {})

    @property
    def default_optimizer(self):
        return self._default_optimizer

    def __getitem__(self, key):
        """The optimizer of path `key`: an exact key first, else the one key whose pattern
        matches the whole path (more than one is an error), else the default."""
        if key in self._optimizer_map:
            return self._optimizer_map[key]
        matching = [pattern for pattern in self._optimizer_map if re.fullmatch(pattern, key)]
        if len(matching) > 1:
            raise ValueError(f"Multiple optimizers assigned to variable {key}.")
        if matching:
            return self._optimizer_map[matching[0]]
        return self._default_optimizer

    def __setitem__(self, key, optimizer):
        if key in self._optimizer_map:
            raise ValueError(
                f"'{key}' already exists in the OptimizerMap with value "
                f"{self._optimizer_map[key]}. Please make sure to not use duplicated keys.")
        if not isinstance(key, str):
            raise ValueError(f"key must be a string. Received: {key}")
        if not isinstance(optimizer, Optimizer):
            raise ValueError(f"optimizer must be a Keras Optimizer instance. Received: {optimizer}")
        _check_not_wrapper(optimizer, "optimizer cannot be {}.")
        self._optimizer_map[key] = optimizer

    def __delitem__(self, key):
        del self._optimizer_map[key]

    def __len__(self):
        return len(self._optimizer_map)

    def __iter__(self):
        return iter(self._optimizer_map)

    def __call__(self, variable):
        return self[variable.path]

    def get_config(self):
        return {"default_optimizer": serialize_keras_object(self._default_optimizer),
                "optimizer_map": serialize_keras_object(self._optimizer_map)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        default = _deserialize(config["default_optimizer"], custom_objects)
        mapping = {key: _deserialize(value, custom_objects)
                   for key, value in (config.get("optimizer_map") or {}).items()}
        return cls(default, mapping)


def _check_not_wrapper(optimizer, message):
    """Keras' rule: no loss-scale or multi optimizer inside a `MultiOptimizer`."""
    for cls in (LossScaleOptimizer, MultiOptimizer):
        if isinstance(optimizer, cls):
            raise ValueError(message.format(cls.__name__))


@register_builtin("keras.optimizers")
class MultiOptimizer(Optimizer):
    """Applies each gradient with the optimizer its variable maps to (see the module
    docstring).

    Args:
        optimizer_map: an `OptimizerMap`, or a callable returning the optimizer of a
            variable.
        loss_scale_factor: overrides the inner optimizers' `loss_scale_factor`.
        name: defaults to "multi_optimizer" (made unique).
    """

    def __init__(self, optimizer_map, loss_scale_factor=None, name=None):
        super().__init__(learning_rate=0.0, loss_scale_factor=loss_scale_factor, name=name)
        self._optimizer_map = optimizer_map
        self._inner_optimizers = []
        known = list(optimizer_map.values()) if hasattr(optimizer_map, "values") else []
        default = getattr(optimizer_map, "default_optimizer", None)
        for optimizer in known + ([default] if default is not None else []):
            self._adopt(optimizer)

    def _adopt(self, optimizer):
        """Adds `optimizer` to the inner ones (once), with this optimizer's loss scale."""
        if all(optimizer is not known for known in self._inner_optimizers):
            optimizer.loss_scale_factor = self.loss_scale_factor
            self._inner_optimizers.append(optimizer)
        return next(i for i, known in enumerate(self._inner_optimizers) if known is optimizer)

    def build(self, var_list):
        """Assigns each variable its optimizer and builds each on its own variables."""
        if self.built:
            return
        var_list = list(var_list)
        self._var_to_optimizer_idx = {}
        owned = {}
        for variable in var_list:
            optimizer = self._optimizer_map(variable)
            if not isinstance(optimizer, Optimizer):
                raise ValueError(f"Optimizer for variable {variable} is not an Optimizer "
                                 "instance.")
            _check_not_wrapper(optimizer, "{} cannot be used inside an MultiOptimizer.")
            index = self._adopt(optimizer)
            self._var_to_optimizer_idx[self._var_key(variable)] = index
            owned.setdefault(index, []).append(variable)
        for index, optimizer in enumerate(self._inner_optimizers):
            if index in owned:
                optimizer.build(owned[index])
        super().build(var_list)

    @property
    def optimizers(self):
        """The inner optimizers, in the order they were met."""
        return self._inner_optimizers

    @property
    def variables(self):
        variables = self._variables[:]
        for optimizer in self._inner_optimizers:
            variables.extend(optimizer.variables)
        return variables

    @property
    def learning_rate(self):
        raise AttributeError(
            "Learning rate cannot be accessed on a MultiOptimizer. Access the learning rate "
            "on the individual sub-optimizers instead.")

    @learning_rate.setter
    def learning_rate(self, value):
        raise AttributeError(
            "Learning rate cannot be set on a MultiOptimizer. Set the learning rate on the "
            "individual sub-optimizers instead.")

    @property
    def loss_scale_factor(self):
        return self.__dict__.get("_loss_scale_factor")

    @loss_scale_factor.setter
    def loss_scale_factor(self, value):
        self._loss_scale_factor = value
        for optimizer in self.__dict__.get("_inner_optimizers", ()):
            optimizer.loss_scale_factor = value

    def _groups(self, variables):
        """The positions of `variables` per inner optimizer, in the optimizers' order."""
        groups = [[] for _ in self._inner_optimizers]
        for i, variable in enumerate(variables):
            groups[self._var_to_optimizer_idx[self._var_key(variable)]].append(i)
        return groups

    @host_call
    def apply(self, grads, trainable_variables=None):
        """Hands each inner optimizer the gradients of its own variables (one `apply` each),
        then counts the step."""
        grads = list(grads)
        if not grads:
            return
        if trainable_variables is None:
            if not self.built:
                raise ValueError(
                    "When passing `grads` without `variables`, the optimizer must already be "
                    "built on a list of variables. Call `optimizer.build(trainable_variables)` "
                    "first.")
            trainable_variables = self._trainable_variables
        variables = list(trainable_variables)
        if not self.built:
            self.build(variables)
        if len(grads) != len(self._trainable_variables_indices):
            raise ValueError(
                "Gradients must match trainable variables one-to-one. Received "
                f"{len(grads)} gradients and {len(self._trainable_variables_indices)} variables.")
        for optimizer, positions in zip(self._inner_optimizers, self._groups(variables)):
            if positions:
                optimizer.apply([grads[i] for i in positions], [variables[i] for i in positions])
        self._step_done()

    def gradient_buffer(self, variables):
        """None: a compiled step hands this optimizer its gradients through `apply`."""
        return None

    def finalize_variable_values(self, var_list):
        """Each inner optimizer finalizes its own variables (its EMA, if it keeps one)."""
        if not self.built:
            return
        var_list = list(var_list)
        for optimizer, positions in zip(self._inner_optimizers, self._groups(var_list)):
            if positions:
                optimizer.finalize_variable_values([var_list[i] for i in positions])

    def get_config(self):
        return {"optimizer_map": serialize_keras_object(self._optimizer_map),
                "loss_scale_factor": self.loss_scale_factor, "name": self.name}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["optimizer_map"] = _deserialize(config["optimizer_map"], custom_objects)
        return cls(**config)
