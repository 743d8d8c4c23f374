"""Adamax: Adam with the infinity norm."""

from numnet.backend import xp
from numnet.optimizers.base_optimizer import Optimizer, _f32, moving_average_into
from numnet.serialization import register_builtin


@register_builtin("keras.optimizers")
class Adamax(Optimizer):
    """Adamax, as `keras.optimizers.Adamax`.

    With `t = iterations + 1`: `m += (g - m) * (1 - beta_1)`,
    `u = max(beta_2 * u, |g|)`, `w -= lr * m / ((1 - beta_1**t) * (u + epsilon))`.

    Slots, interleaved per variable: `<path>_momentum`, `<path>_norm`.

    Args:
        learning_rate: float or schedule, default 0.001.
        beta_1: decay of the first moment, default 0.9.
        beta_2: decay of the infinity norm, default 0.999.
        epsilon: default 1e-7.
        **kwargs: the base `Optimizer` arguments (`weight_decay`, `clipnorm`, ...).
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 **kwargs):
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

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._m, self._u = self.add_optimizer_variables(var_list, ["momentum", "norm"])

    def _update_step_all(self, grads, variables, learning_rate):
        t = int(self.iterations.data) + 1
        c1, b2, eps = 1.0 - float(self.beta_1), float(self.beta_2), float(self.epsilon)
        bias_correction = 1.0 - _f32(self.beta_1) ** t
        index = self._trainable_variables_indices
        for g, var in zip(grads, variables):
            i = index[id(var)]
            w, m, u = var.data, self._m[i].data, self._u[i].data
            tmp = self._buffer(w)
            moving_average_into(m, g, c1, tmp)  # m += (g - m) * (1 - beta_1)
            # u = max(beta_2 * u, |g|)
            xp.multiply(u, b2, out=u)
            xp.abs(g, out=tmp)
            xp.maximum(u, tmp, out=u)
            # w -= lr * m / ((1 - beta_1**t) * (u + epsilon))
            denominator = self._buffer(w, 1)
            xp.add(u, eps, out=denominator)
            xp.multiply(denominator, bias_correction, out=denominator)
            xp.multiply(m, learning_rate, out=tmp)
            xp.divide(tmp, denominator, out=tmp)
            xp.subtract(w, tmp, out=w)

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config
