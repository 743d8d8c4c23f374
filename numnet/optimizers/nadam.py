"""Nadam: Adam with Nesterov momentum (Keras' momentum-cache schedule)."""

from numnet.backend import xp
from numnet.optimizers.base_optimizer import (
    Optimizer, _f32, moving_average_into, squares_average_into,
)
from numnet.serialization import register_builtin


@register_builtin("keras.optimizers")
class Nadam(Optimizer):
    """Nadam, as `keras.optimizers.Nadam`.

    With `t = iterations + 1`, `u_t = beta_1 * (1 - 0.5 * 0.96**t)`,
    `u_{t+1} = beta_1 * (1 - 0.5 * 0.96**(t+1))` and the running product
    `P_t = u_1 * ... * u_t` (a float32 scalar variable, updated first):
    `m += (g - m) * (1 - beta_1)`, `v += (g**2 - v) * (1 - beta_2)`,
    `m_hat = u_{t+1} * m / (1 - P_t * u_{t+1}) + (1 - u_t) * g / (1 - P_t)`,
    `v_hat = v / (1 - beta_2**t)`, `w -= lr * m_hat / (sqrt(v_hat) + epsilon)`.

    Variables: interleaved `<path>_momentum`, `<path>_velocity`, then the
    product `P` (named `variable`, as in Keras).
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
        dtype = var_list[0].data.dtype.name if var_list else "float32"
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"])
        self._u_product = self.add_variable((), initializer="ones", dtype=dtype,
                                            name="variable")

    def _prepare_step(self):
        # P_t = P_{t-1} * u_t, once per step, stored in the variable's dtype.
        t = int(self.iterations.data) + 1
        product = self._u_product.data
        product[...] = float(product) * _f32(self.beta_1) * (1.0 - 0.5 * 0.96 ** t)

    def _update_step_all(self, grads, variables, learning_rate):
        b1, b2, eps = float(self.beta_1), float(self.beta_2), float(self.epsilon)
        t = int(self.iterations.data) + 1
        # Keras computes these in the variables' dtype (float32-rounded constants).
        decay = _f32(0.96)
        u_t = _f32(b1) * (1.0 - 0.5 * decay ** t)
        u_next = _f32(b1) * (1.0 - 0.5 * decay ** (t + 1))
        p_t = float(self._u_product.data)
        p_next = p_t * u_next
        coef_m = u_next / (1.0 - p_next)
        coef_g = (1.0 - u_t) / (1.0 - p_t)
        v_scale = 1.0 / (1.0 - _f32(b2) ** t)
        # Keras' Nadam uses the float32 betas here (Adam uses the Python floats).
        c1, c2 = 1.0 - _f32(b1), 1.0 - _f32(b2)
        lr = learning_rate
        index = self._trainable_variables_indices
        for g, var in zip(grads, variables):
            i = index[id(var)]
            w, m, v = var.data, self._momentums[i].data, self._velocities[i].data
            tmp = self._buffer(w)
            tmp2 = self._buffer(w, 1)
            moving_average_into(m, g, c1, tmp)
            squares_average_into(v, g, c2, tmp)
            # m_hat into tmp
            xp.multiply(m, coef_m, out=tmp)
            xp.multiply(g, coef_g, out=tmp2)
            xp.add(tmp, tmp2, out=tmp)
            # sqrt(v_hat) + epsilon into tmp2
            xp.multiply(v, v_scale, out=tmp2)
            xp.sqrt(tmp2, out=tmp2)
            xp.add(tmp2, eps, out=tmp2)
            xp.divide(tmp, tmp2, out=tmp)
            xp.multiply(tmp, lr, out=tmp)
            xp.subtract(w, tmp, out=w)

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2,
                       "epsilon": self.epsilon})
        return config
