"""Adafactor: Adam-like steps from factored second moments (rows and columns, not cells)."""


from numnet.autodiff.tensor import Variable
from numnet.backend import xp
from numnet.optimizers.base_optimizer import Optimizer, _raw
from numnet.serialization import register_builtin


@register_builtin("keras.optimizers")
class Adafactor(Optimizer):
    """Adafactor, as `keras.optimizers.Adafactor` (Shazeer & Stern, 2018).

    For a weight of rank 2 or more it keeps, instead of one second moment per
    entry, the moving means of the squared gradient over the last axis (`r`,
    one per row) and over the second-to-last axis (`c`, one per column), and
    rebuilds the second moment as `r / mean(r) * c`; smaller weights keep a
    full moving mean `v`. With `t = iterations + 1`:

    - `rho = min(lr, 1 / sqrt(t))` (the rate itself is capped the same way
      when `relative_step` and the rate is a constant);
    - `alpha = max(epsilon_2, rms(w)) * rho`, the step relative to the weight's size;
    - `beta_2 = 1 - t ** beta_2_decay`, the moments' decay;
    - `u = g / sqrt(v)`, clipped to `u / max(1, rms(u) / clip_threshold)`;
    - `w -= alpha * u`.

    Slots, per weight in Keras' order: `r` and `c` (named after the weight; two
    unused int32 zeros for a weight of rank < 2), then `<path>_velocity`.

    Args:
        learning_rate: float or schedule, default 0.001.
        beta_2_decay: the exponent of the moments' decay, default -0.8.
        epsilon_1: added to the squared gradients, default 1e-30.
        epsilon_2: the smallest weight scale of a step, default 1e-3.
        clip_threshold: the largest RMS of an update before it is scaled down, default 1.0.
        relative_step: cap a constant learning rate at `1 / sqrt(t)`, default True.
        **kwargs: the base `Optimizer` arguments (`weight_decay`, `clipnorm`, ...).
    """

    def __init__(self, learning_rate=0.001, beta_2_decay=-0.8, epsilon_1=1e-30, epsilon_2=1e-3,
                 clip_threshold=1.0, relative_step=True, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
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
        self.beta_2_decay = beta_2_decay
        self.epsilon_1 = epsilon_1
        self.epsilon_2 = epsilon_2
        self.clip_threshold = clip_threshold
        self.relative_step = relative_step

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._r, self._c, self._v = [], [], []
        for var in var_list:
            shape, dtype = var.data.shape, var.data.dtype.name
            if len(shape) < 2:
                # Unused int32 zeros, listed among the optimizer's variables as in Keras.
                self._r.append(self.add_variable((), dtype="int32", name=var.name))
                self._c.append(self.add_variable((), dtype="int32", name=var.name))
            elif var.overwrite_with_gradient:
                self._r.append(None)
                self._c.append(None)
            else:
                self._r.append(self.add_variable(shape[:-1], dtype=dtype, name=var.name))
                self._c.append(self.add_variable(shape[:-2] + shape[-1:], dtype=dtype,
                                                 name=var.name))
            self._v.append(None if var.overwrite_with_gradient
                           else self.add_variable_from_reference(var, "velocity"))

    def _pack(self, variables, always=False):
        """Never packed: the factored moments are not shaped like the weights."""

    def _update_step_all(self, grads, variables, learning_rate):
        for g, var in zip(grads, variables):
            self.update_step(g, var, learning_rate)

    def update_step(self, gradient, variable, learning_rate):
        w = variable.data
        f = w.dtype.type  # Keras casts everything to the weight's dtype
        g = xp.asarray(_raw(gradient), dtype=w.dtype)
        t = f(int(self.iterations.data) + 1)
        lr = f(float(learning_rate))
        inverse_root_t = f(1) / xp.sqrt(t)
        if isinstance(self._learning_rate, Variable) and self.relative_step:
            lr = min(lr, inverse_root_t)
        rho = min(lr, inverse_root_t)
        alpha = max(f(self.epsilon_2), _rms(w)) * rho
        squared = xp.square(g) + f(self.epsilon_1)
        beta_2 = f(1) - xp.power(t, f(self.beta_2_decay))
        i = self._trainable_variables_indices[id(variable)]
        v = self._v[i].data
        if w.ndim >= 2:
            r, c = self._r[i].data, self._c[i].data
            r[...] = beta_2 * r + (f(1) - beta_2) * xp.mean(squared, axis=-1)
            c[...] = beta_2 * c + (f(1) - beta_2) * xp.mean(squared, axis=-2)
            v[...] = xp.expand_dims(r / xp.mean(r, axis=-1, keepdims=True), -1) * \
                xp.expand_dims(c, -2)
        else:
            v[...] = beta_2 * v + (f(1) - beta_2) * squared
        u = g / xp.sqrt(v)
        u = u / max(f(1), _rms(u) / f(self.clip_threshold))
        xp.subtract(w, alpha * u, out=w)

    def get_config(self):
        config = super().get_config()
        config.update({"beta_2_decay": self.beta_2_decay, "epsilon_1": self.epsilon_1,
                       "epsilon_2": self.epsilon_2, "clip_threshold": self.clip_threshold,
                       "relative_step": self.relative_step})
        return config


def _rms(x):
    """The root mean square of all entries, in `x`'s dtype."""
    return xp.sqrt(xp.mean(xp.square(x)))
