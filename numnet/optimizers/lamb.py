"""LAMB: Adam steps rescaled per variable by a trust ratio (layer-wise adaptation)."""


from numnet.backend import xp
from numnet.optimizers.base_optimizer import (
    Optimizer, _f32, moving_average_into, squares_average_into,
)
from numnet.serialization import register_builtin


@register_builtin("keras.optimizers")
class Lamb(Optimizer):
    """LAMB, as `keras.optimizers.Lamb` (You et al., 2019).

    With `t = iterations + 1`: `m += (g - m) * (1 - beta_1)`,
    `v += (g**2 - v) * (1 - beta_2)`,
    `r = (m / (1 - beta_1**t)) / (sqrt(v / (1 - beta_2**t)) + epsilon)`, and per
    variable the trust ratio `q = ||w|| / ||r||` (1 if either norm is 0):
    `w -= q * lr * r`.

    Slots, interleaved per variable: `<path>_momentum`, `<path>_velocity`.

    Args:
        learning_rate: float or schedule, default 0.001.
        beta_1: default 0.9.
        beta_2: default 0.999.
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
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"])

    def _segment_starts(self, variable):
        """Where each model variable starts inside `variable`'s flat array.

        `[0]` for an ordinary variable; for the flat variable of the packed
        update (the optimizer's variables laid end to end), one start per
        model variable, since the trust ratio is per model variable.
        """
        packed = self._packed
        if packed is None or variable is not packed["flat_var"]:
            return [0]
        sizes = [v.data.size for v in packed["variables"]]
        return xp.cumsum([0] + sizes[:-1]).tolist()

    def _update_step_all(self, grads, variables, learning_rate):
        t = int(self.iterations.data) + 1
        c1, c2, eps = 1.0 - float(self.beta_1), 1.0 - float(self.beta_2), float(self.epsilon)
        m_correction = 1.0 - _f32(self.beta_1) ** t
        v_correction = 1.0 - _f32(self.beta_2) ** t
        index = self._trainable_variables_indices
        for g, var in zip(grads, variables):
            i = index[id(var)]
            w, m, v = var.data, self._momentums[i].data, self._velocities[i].data
            update, tmp = self._buffer(w), self._buffer(w, 1)
            moving_average_into(m, g, c1, tmp)
            squares_average_into(v, g, c2, tmp)
            # r = (m / (1 - beta_1**t)) / (sqrt(v / (1 - beta_2**t)) + epsilon)
            xp.divide(v, v_correction, out=tmp)
            xp.sqrt(tmp, out=tmp)
            xp.add(tmp, eps, out=tmp)
            xp.divide(m, m_correction, out=update)
            xp.divide(update, tmp, out=update)
            self._apply_trust_ratio(w, update, tmp, self._segment_starts(var), learning_rate)

    @staticmethod
    def _apply_trust_ratio(w, update, scratch, starts, learning_rate):
        """`w -= q * lr * r` with `q = ||w|| / ||r||` per segment (1 if a norm is 0)."""
        flat_w, flat_update = w.reshape(-1), update.reshape(-1)
        xp.multiply(flat_w, flat_w, out=scratch.reshape(-1))
        w_norms = xp.sqrt(xp.add.reduceat(scratch.reshape(-1), starts))
        xp.multiply(flat_update, flat_update, out=scratch.reshape(-1))
        r_norms = xp.sqrt(xp.add.reduceat(scratch.reshape(-1), starts))
        ratios = xp.ones_like(w_norms)
        usable = (w_norms > 0) & (r_norms > 0)
        ratios[usable] = w_norms[usable] / r_norms[usable]
        steps = (ratios * w.dtype.type(learning_rate)).astype(w.dtype, copy=False)
        if len(starts) == 1:
            xp.multiply(flat_update, steps[0], out=flat_update)
        else:
            sizes = xp.diff(starts + [flat_w.size])
            xp.multiply(flat_update, xp.repeat(steps, sizes), out=flat_update)
        xp.subtract(flat_w, flat_update, out=flat_w)

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config
