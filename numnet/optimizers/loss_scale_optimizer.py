"""`LossScaleOptimizer` (Keras 3's `keras.optimizers.LossScaleOptimizer`): dynamic loss
scaling around another optimizer.

Loss scaling keeps small float16 gradients from underflowing: the training
step multiplies the loss by the scale (`scale_loss`), so every gradient comes
out multiplied by it too, and the optimizer divides them back before stepping.
The scale adapts, as in Keras:

- a step whose gradients hold an inf or a NaN is skipped: the weights, the
  inner optimizer's slots and its `iterations` stay, and the scale is halved;
- after `dynamic_growth_steps` finite steps in a row, the scale is doubled.

numnet computes in float32 or float64, where loss scaling changes nothing but
the rounding; the wrapper exists so that Keras code and files using it (mixed
precision recipes) run and load unchanged, with Keras' numbers.
"""

from numnet.autodiff.primitive import host_call
from numnet.backend import name_scope, xp
from numnet.optimizers.base_optimizer import Optimizer, _raw
from numnet.serialization import register_builtin, serialize_keras_object

# The base optimizer's arguments Keras' configs of this class once carried, with their
# defaults: still accepted at their default values (older files), refused otherwise.
_BASE_DEFAULTS = {
    "weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None,
    "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
    "loss_scale_factor": None, "gradient_accumulation_steps": None,
}


@register_builtin("keras.optimizers")
class LossScaleOptimizer(Optimizer):
    """Wraps `inner_optimizer` with dynamic loss scaling (see the module docstring).

    Args:
        inner_optimizer: the `Optimizer` that takes the steps.
        initial_scale: the first loss scale (high: a scale too high comes down
            far faster than one too low goes up).
        dynamic_growth_steps: finite steps in a row after which the scale doubles.
        name: defaults to "loss_scale_optimizer" (made unique).

    `learning_rate` and `iterations` are the inner optimizer's; `variables`
    are this optimizer's own (`iteration`, `learning_rate`, `step_counter`,
    `dynamic_scale`, as in Keras) followed by the inner optimizer's.
    """

    def __init__(self, inner_optimizer, initial_scale=2.0 ** 15, dynamic_growth_steps=2000,
                 name=None, **kwargs):
        if not kwargs.pop("dynamic", True):
            raise ValueError(
                "LossScaleOptimizer no longer supports `dynamic=False`. Instead, simply set "
                "`loss_scale_factor` directly on the `inner_optimizer`.")
        for arg_name, default in _BASE_DEFAULTS.items():
            if arg_name in kwargs and kwargs.pop(arg_name) != default:
                raise ValueError(
                    f"LossScaleOptimizer does not support `{arg_name}`. Instead, set "
                    f"`{arg_name}` on the `inner_optimizer`.")
        if kwargs:
            raise ValueError(
                f"LossScaleOptimizer does not support arguments: `{'`, `'.join(kwargs)}`.")
        if not isinstance(inner_optimizer, Optimizer):
            raise TypeError("`inner_optimizer` must be a numnet (Keras) Optimizer. Received: "
                            f"inner_optimizer={inner_optimizer!r}")
        super().__init__(learning_rate=0.0, name=name)
        self.inner_optimizer = inner_optimizer
        self.initial_scale = initial_scale
        self.dynamic_growth_steps = dynamic_growth_steps
        # The inner optimizer must not unscale a second time.
        self.inner_optimizer.loss_scale_factor = None

    def build(self, var_list):
        """Creates `step_counter` and `dynamic_scale`, then builds the inner optimizer."""
        self.step_counter = self._make_variable(0, "step_counter", "int64")
        self.dynamic_scale = self._make_variable(self.initial_scale, "dynamic_scale", "float32")
        with name_scope(self.name, caller=self):  # Keras: the slots are "<name>/<inner>/..."
            self.inner_optimizer.build(var_list)
        super().build(var_list)

    @property
    def variables(self):
        return self._variables + self.inner_optimizer.variables

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        self.inner_optimizer.learning_rate = learning_rate

    @property
    def iterations(self):
        return self.inner_optimizer.iterations

    def check_finite(self, grads):
        """Whether every gradient (None aside) is free of infs and NaNs."""
        return all(bool(xp.isfinite(_raw(g)).all()) for g in grads if g is not None)

    @host_call
    def apply(self, grads, trainable_variables=None):
        """Unscales finite gradients and lets the inner optimizer step; skips a step whose
        gradients are not finite. Adjusts the scale either way."""
        if not self.built:
            self.build(trainable_variables)
        counter, scale = self.step_counter.data, self.dynamic_scale.data
        if not self.check_finite(grads):
            counter[()] = 0
            scale[()] = scale * xp.float32(0.5)
            return
        variables = trainable_variables or self._trainable_variables
        unscaled = [g if g is None or getattr(v, "overwrite_with_gradient", False)
                    else _raw(g) / scale for g, v in zip(grads, variables)]
        self.inner_optimizer.apply(unscaled, trainable_variables)
        if int(counter) == self.dynamic_growth_steps - 1:
            counter[()] = 0
            scale[()] = scale * xp.float32(2.0)
        else:
            counter[()] = int(counter) + 1

    def gradient_buffer(self, variables):
        """None: a compiled step hands this optimizer its gradients through `apply`, which
        must see them all before any step is taken."""
        return None

    def scale_loss(self, loss):
        """The loss times the current scale (the initial one before the first build)."""
        return loss * (self.dynamic_scale if self.built else self.initial_scale)

    def finalize_variable_values(self, var_list):
        self.inner_optimizer.finalize_variable_values(var_list)

    def get_config(self):
        """Keras' config: the name, the inner optimizer's envelope and the two settings."""
        return {"name": self.name,
                "inner_optimizer": serialize_keras_object(self.inner_optimizer),
                "initial_scale": self.initial_scale,
                "dynamic_growth_steps": self.dynamic_growth_steps}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from numnet.optimizers import deserialize
        config = dict(config)
        inner = deserialize(config.pop("inner_optimizer"), custom_objects=custom_objects)
        return cls(inner, **config)
