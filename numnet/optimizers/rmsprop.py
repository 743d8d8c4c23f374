"""RMSprop (plain or centered, with optional momentum)."""

from numnet.backend import xp
from numnet.optimizers.base_optimizer import Optimizer
from numnet.serialization import register_builtin


@register_builtin("keras.optimizers")
class RMSprop(Optimizer):
    """RMSprop, as `keras.optimizers.RMSprop` (the default optimizer of `compile`).

    `v = rho * v + (1 - rho) * g**2`; centered: `a = rho * a + (1 - rho) * g` and
    `denominator = v - a**2 + epsilon`, else `denominator = v + epsilon`;
    `increment = lr * g / sqrt(denominator)`; with momentum
    `mom = momentum * mom + increment; w -= mom`, else `w -= increment`.

    Slots (not interleaved): all `<path>_velocity`, then all `<path>_momentum`
    (if momentum > 0), then all `<path>_average_gradient` (if centered).
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, weight_decay=None, clipnorm=None, clipvalue=None,
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
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._velocities = self.add_optimizer_variables(var_list, "velocity")
        self._momentums = []
        if self.momentum > 0:
            self._momentums = self.add_optimizer_variables(var_list, "momentum")
        self._average_gradients = []
        if self.centered:
            self._average_gradients = self.add_optimizer_variables(
                var_list, "average_gradient")

    def _update_step_all(self, grads, variables, learning_rate):
        rho, eps = float(self.rho), float(self.epsilon)
        c = 1.0 - rho
        lr = learning_rate
        momentum = float(self.momentum)
        index = self._trainable_variables_indices
        for g, var in zip(grads, variables):
            i = index[id(var)]
            w, v = var.data, self._velocities[i].data
            tmp = self._buffer(w)
            # v = rho * v + (1 - rho) * g**2
            xp.multiply(v, rho, out=v)
            xp.multiply(g, g, out=tmp)
            xp.multiply(tmp, c, out=tmp)
            xp.add(v, tmp, out=v)
            if self.centered:
                a = self._average_gradients[i].data
                xp.multiply(a, rho, out=a)
                xp.multiply(g, c, out=tmp)
                xp.add(a, tmp, out=a)
                xp.multiply(a, a, out=tmp)
                xp.subtract(v, tmp, out=tmp)
                xp.add(tmp, eps, out=tmp)
            else:
                xp.add(v, eps, out=tmp)
            # increment = lr * g / sqrt(denominator)
            xp.sqrt(tmp, out=tmp)
            xp.divide(g, tmp, out=tmp)
            xp.multiply(tmp, lr, out=tmp)
            if momentum > 0:
                mom = self._momentums[i].data
                xp.multiply(mom, momentum, out=mom)
                xp.add(mom, tmp, out=mom)
                xp.subtract(w, mom, out=w)
            else:
                xp.subtract(w, tmp, out=w)

    def get_config(self):
        config = super().get_config()
        config.update({"rho": self.rho, "momentum": self.momentum,
                       "epsilon": self.epsilon, "centered": self.centered})
        return config
