"""Schedule-Free AdamW: Adam steps on a sequence `z`, kept in the `momentum` slot, while
the weights the model sees are an interpolation between `z` and the running average `x`
of the `z` iterates (Defazio et al., 2024), so no learning-rate schedule is needed."""

from numnet.backend import xp
from numnet.optimizers.base_optimizer import Optimizer, _raw, squares_average_into
from numnet.serialization import register_builtin


@register_builtin("keras.optimizers")
class ScheduleFreeAdamW(Optimizer):
    """Schedule-Free AdamW, as `keras.optimizers.ScheduleFreeAdamW`.

    At step `t` (from 1), with `g` the gradient and `y` the weights:

        v += (g**2 - v) * (1 - beta_2)
        z -= lr * g / (sqrt(v / (1 - beta_2**t)) + epsilon)
        x  = (1 - 1/t) * (y - (1 - beta_1) * z) / beta_1 + (1/t) * z
        y  = (1 - beta_1) * z + beta_1 * x

    `x` is never stored: it is recovered from `y` and `z`. Keras' TensorFlow backend, whose
    numbers numnet gives, uses the `z` just updated there (the paper, and Keras on JAX, the
    step's starting one). With `warmup_steps`, the learning rate grows linearly over that
    many steps.

    Slots: `<path>_momentum` (the `z` sequence, starting at the weights' values) and
    `<path>_velocity` per variable.

    Args:
        learning_rate: float or schedule, default 0.0025.
        beta_1: interpolation between `z` and the average `x`, default 0.9.
        beta_2: decay of the squared-gradient average, default 0.999.
        epsilon: added to the denominator, default 1e-8.
        warmup_steps: steps of linear learning-rate warmup, default 0 (none).
        **kwargs: the base `Optimizer` arguments (`weight_decay`, `clipnorm`, ...).
    """

    def __init__(self, learning_rate=0.0025, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 warmup_steps=0, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(
            learning_rate=learning_rate, name=name, weight_decay=weight_decay,
            clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm,
            use_ema=use_ema, ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps, **kwargs,
        )
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.warmup_steps = warmup_steps

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"])
        for momentum, variable in zip(self._momentums, var_list):
            if momentum is not None:
                momentum.data[...] = _raw(variable)  # `z` starts at the weights

    def _update_step_all(self, grads, variables, learning_rate):
        # Keras computes the scalars in the variables' dtype: float32 arithmetic throughout.
        f32 = xp.float32
        one, step = f32(1.0), f32(int(self.iterations.data) + 1)
        b1, b2, eps = f32(self.beta_1), f32(self.beta_2), f32(self.epsilon)
        lr = f32(learning_rate)
        if self.warmup_steps > 0:
            lr = lr * min(step / f32(self.warmup_steps), one)
        correction = one - b2 ** step
        c1, c2 = one - b1, one - b2
        average_weight = one / step
        index = self._trainable_variables_indices
        for g, var in zip(grads, variables):
            i = index[id(var)]
            w, z, v = var.data, self._momentums[i].data, self._velocities[i].data
            tmp, scaled = self._buffer(w), self._buffer(w, 1)
            squares_average_into(v, g, c2, tmp)  # v += (g**2 - v) * (1 - beta_2)
            # z -= lr * g / (sqrt(v / (1 - beta_2**t)) + epsilon)
            xp.divide(v, correction, out=tmp)
            xp.sqrt(tmp, out=tmp)
            xp.add(tmp, eps, out=tmp)
            xp.multiply(g, lr, out=scaled)
            xp.divide(scaled, tmp, out=scaled)
            xp.subtract(z, scaled, out=z)
            # x = (1 - 1/t) * (y - (1 - beta_1) * z) / beta_1 + (1/t) * z, with the `z` just
            # updated where the paper has the step's starting one: Keras reads it after its
            # update on TensorFlow (`momentum.value` is the variable there), and numnet gives
            # Keras' numbers
            xp.multiply(z, c1, out=tmp)
            xp.subtract(w, tmp, out=tmp)
            xp.divide(tmp, b1, out=tmp)
            xp.multiply(tmp, one - average_weight, out=tmp)
            xp.multiply(z, average_weight, out=scaled)
            xp.add(tmp, scaled, out=tmp)
            # y = (1 - beta_1) * z + beta_1 * x
            xp.multiply(tmp, b1, out=tmp)
            xp.multiply(z, c1, out=w)
            xp.add(w, tmp, out=w)

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2,
                       "epsilon": self.epsilon, "warmup_steps": self.warmup_steps})
        return config
