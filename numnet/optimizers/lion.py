"""Lion: the sign of an interpolated momentum as the step."""

from numnet.backend import xp
from numnet.optimizers.base_optimizer import Optimizer, _f32
from numnet.serialization import register_builtin


@register_builtin("keras.optimizers")
class Lion(Optimizer):
    """Lion, as `keras.optimizers.Lion`.

    `w -= lr * sign(beta_1 * m + (1 - beta_1) * g)`, then
    `m = beta_2 * m + (1 - beta_2) * g`. Every step has the same size per
    coordinate, so Lion wants a learning rate 3-10 times smaller than AdamW's.

    Slots: `<path>_momentum` per variable.

    Args:
        learning_rate: float or schedule, default 0.001.
        beta_1: interpolation factor of the step, in (0, 1], default 0.9.
        beta_2: decay of the momentum, default 0.99.
        **kwargs: the base `Optimizer` arguments (`weight_decay`, `clipnorm`, ...).
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
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
        if beta_1 <= 0 or beta_1 > 1:
            raise ValueError(
                "Argument `beta_1` must be in the [0, 1] range. Otherwise, the optimizer "
                f"degenerates to SignSGD. Received: beta_1={beta_1}."
            )

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums = self.add_optimizer_variables(var_list, "momentum")

    def _update_step_all(self, grads, variables, learning_rate):
        # Keras casts the betas to the variables' dtype before `1 - beta`.
        b1, b2 = _f32(self.beta_1), _f32(self.beta_2)
        c1, c2 = _f32(1.0 - b1), _f32(1.0 - b2)
        index = self._trainable_variables_indices
        for g, var in zip(grads, variables):
            w, m = var.data, self._momentums[index[id(var)]].data
            step, tmp = self._buffer(w), self._buffer(w, 1)
            # w -= lr * sign(m * beta_1 + g * (1 - beta_1))
            xp.multiply(m, b1, out=step)
            xp.multiply(g, c1, out=tmp)
            xp.add(step, tmp, out=step)
            xp.sign(step, out=step)
            xp.multiply(step, learning_rate, out=step)
            xp.subtract(w, step, out=w)
            # m = m * beta_2 + g * (1 - beta_2)
            xp.multiply(m, b2, out=m)
            xp.multiply(g, c2, out=tmp)
            xp.add(m, tmp, out=m)

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2})
        return config
