"""Adadelta: per-coordinate step sizes from running averages of gradients and steps."""

from numnet.backend import xp
from numnet.optimizers.base_optimizer import Optimizer
from numnet.serialization import register_builtin


@register_builtin("keras.optimizers")
class Adadelta(Optimizer):
    """Adadelta, as `keras.optimizers.Adadelta`.

    `a_g = rho * a_g + (1 - rho) * g**2`,
    `delta = -sqrt(a_d + epsilon) * g / sqrt(a_g + epsilon)`,
    `a_d = rho * a_d + (1 - rho) * delta**2`, `w += lr * delta`.

    Slots, interleaved per variable: `<path>_accumulated_grad`,
    `<path>_accumulated_delta_var`.

    Args:
        learning_rate: float or schedule, default 0.001 (Keras' default; the
            original paper uses 1.0).
        rho: the decay rate, default 0.95.
        epsilon: default 1e-7.
        **kwargs: the base `Optimizer` arguments (`weight_decay`, `clipnorm`, ...).
    """

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None,
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
        self.rho = rho
        self.epsilon = epsilon

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._accumulated_grads, self._accumulated_delta_vars = self.add_optimizer_variables(
            var_list, ["accumulated_grad", "accumulated_delta_var"])

    def _update_step_all(self, grads, variables, learning_rate):
        rho, eps = float(self.rho), float(self.epsilon)
        c = 1.0 - rho
        index = self._trainable_variables_indices
        for g, var in zip(grads, variables):
            i = index[id(var)]
            w = var.data
            acc_grad = self._accumulated_grads[i].data
            acc_delta = self._accumulated_delta_vars[i].data
            delta, tmp = self._buffer(w), self._buffer(w, 1)
            # a_g = rho * a_g + (1 - rho) * g**2
            xp.multiply(acc_grad, rho, out=acc_grad)
            xp.multiply(g, g, out=tmp)
            xp.multiply(tmp, c, out=tmp)
            xp.add(acc_grad, tmp, out=acc_grad)
            # delta = -(sqrt(a_d + eps) * g) / sqrt(a_g + eps)
            xp.add(acc_delta, eps, out=delta)
            xp.sqrt(delta, out=delta)
            xp.multiply(delta, g, out=delta)
            xp.add(acc_grad, eps, out=tmp)
            xp.sqrt(tmp, out=tmp)
            xp.divide(delta, tmp, out=delta)
            xp.negative(delta, out=delta)
            # a_d = rho * a_d + (1 - rho) * delta**2
            xp.multiply(acc_delta, rho, out=acc_delta)
            xp.multiply(delta, delta, out=tmp)
            xp.multiply(tmp, c, out=tmp)
            xp.add(acc_delta, tmp, out=acc_delta)
            # w += lr * delta
            xp.multiply(delta, learning_rate, out=delta)
            xp.add(w, delta, out=w)

    def get_config(self):
        config = super().get_config()
        config.update({"rho": self.rho, "epsilon": self.epsilon})
        return config
