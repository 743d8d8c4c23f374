"""Adam (and its AMSGrad variant)."""

import math

from numnet.backend import xp
from numnet.optimizers.base_optimizer import (
    Optimizer, _f32, moving_average_into, squares_average_into,
)
from numnet.serialization import register_builtin


@register_builtin("keras.optimizers")
class Adam(Optimizer):
    """Adam, as `keras.optimizers.Adam`.

    With `t = iterations + 1` and `alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)`:
    `m += (g - m) * (1 - beta_1)`, `v += (g**2 - v) * (1 - beta_2)`,
    (AMSGrad: `v_hat = max(v_hat, v)`, used instead of `v`), then
    `w -= m * alpha / (sqrt(v) + epsilon)` (epsilon is not bias-corrected).

    Slots, interleaved per variable: `<path>_momentum`, `<path>_velocity`; with
    `amsgrad`, then one `<path>_velocity_hat` per variable.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, weight_decay=None, clipnorm=None, clipvalue=None,
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
        self.amsgrad = amsgrad

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"])
        if self.amsgrad:
            self._velocity_hats = self.add_optimizer_variables(var_list, "velocity_hat")

    def _update_step_all(self, grads, variables, learning_rate):
        b1, b2, eps = float(self.beta_1), float(self.beta_2), float(self.epsilon)
        t = int(self.iterations.data) + 1
        # Keras raises the float32-rounded betas to the power t (so does `_flat_update`).
        alpha = learning_rate * math.sqrt(1.0 - _f32(b2) ** t) / (1.0 - _f32(b1) ** t)
        c1, c2 = 1.0 - b1, 1.0 - b2
        if self._stacked_moments(grads, variables, c1, c2, eps, alpha):
            return
        index = self._trainable_variables_indices
        for g, var in zip(grads, variables):
            i = index[id(var)]
            w, m, v = var.data, self._momentums[i].data, self._velocities[i].data
            tmp = self._buffer(w)
            moving_average_into(m, g, c1, tmp)  # m += (g - m) * (1 - beta_1)
            squares_average_into(v, g, c2, tmp)  # v += (g**2 - v) * (1 - beta_2)
            if self.amsgrad:
                v_hat = self._velocity_hats[i].data
                xp.maximum(v_hat, v, out=v_hat)
                v = v_hat
            # w -= m * alpha / (sqrt(v) + epsilon)
            xp.sqrt(v, out=tmp)
            xp.add(tmp, eps, out=tmp)
            xp.divide(m, tmp, out=tmp)
            xp.multiply(tmp, alpha, out=tmp)
            xp.subtract(w, tmp, out=w)

    def _stacked_moments(self, grads, variables, c1, c2, eps, alpha):
        """The packed update with m and v as two rows of one array: 9 calls, not 13."""
        packed = self._packed
        if (packed is None or len(variables) != 1 or variables[0] is not packed["flat_var"]
                or grads[0] is not packed["grad"] or self.amsgrad):
            return False
        arrays = self._stacked_arrays(packed, c1, c2)
        if arrays is None:
            return False
        _stacked_step(arrays, eps, alpha)
        return True

    def _stacked_arrays(self, packed, c1, c2):
        """The arrays of the stacked update (see `_stacked_step`), made once per packing and
        pair of coefficients; None when m and v are not adjacent rows."""
        arrays = self._scratch.get("adam_stacked")
        if arrays is None or arrays.packed is not packed or arrays.coefficients != (c1, c2):
            rows = packed["slot_rows"]
            first = rows.get("_momentums")
            if first is None or rows.get("_velocities") != first + 1:
                return None
            arrays = _StackedArrays(packed, c1, c2)
            self._scratch["adam_stacked"] = arrays
        return arrays

    def _flat_update(self, packed):
        if type(self) is not Adam or self.amsgrad:
            return None  # a subclass may have a rule of its own: it keeps the general method
        b1, b2, eps = float(self.beta_1), float(self.beta_2), float(self.epsilon)
        arrays = self._stacked_arrays(packed, 1.0 - b1, 1.0 - b2)
        if arrays is None:
            return None
        b1_32, b2_32, iterations = _f32(b1), _f32(b2), self._iterations

        def update(learning_rate):
            t = int(iterations.data) + 1
            _stacked_step(arrays, eps,
                          learning_rate * math.sqrt(1.0 - b2_32 ** t) / (1.0 - b1_32 ** t))
        return update

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2,
                       "epsilon": self.epsilon, "amsgrad": self.amsgrad})
        return config


class _StackedArrays:
    """Adam's m and v as two rows of one array `mv`, and the flat gradient `g` above a
    scratch row `g2`, as rows of `s`: one call updates both moments."""

    def __init__(self, packed, c1, c2):
        self.packed, self.coefficients = packed, (c1, c2)
        first = packed["slot_rows"]["_momentums"]
        self.mv = packed["block"][first:first + 2]
        self.m, self.v = self.mv[0], self.mv[1]
        self.s = packed["grad2"]  # row 0 holds g already; row 1 is free
        self.g, self.g2 = self.s[0], self.s[1]
        self.c = xp.asarray([[c1], [c2]], dtype=self.s.dtype)
        self.w = packed["flat_var"].data


def _stacked_step(a, eps, alpha):
    """[m; v] += ([g; g**2] - [m; v]) * [1 - beta_1; 1 - beta_2], then
    w -= m * alpha / (sqrt(v) + epsilon), with g's row as scratch."""
    g = a.g
    xp.multiply(g, g, out=a.g2)
    xp.subtract(a.s, a.mv, out=a.s)
    xp.multiply(a.s, a.c, out=a.s)
    xp.add(a.mv, a.s, out=a.mv)
    xp.sqrt(a.v, out=g)
    xp.add(g, eps, out=g)
    xp.divide(a.m, g, out=g)
    xp.multiply(g, alpha, out=g)
    xp.subtract(a.w, g, out=a.w)
