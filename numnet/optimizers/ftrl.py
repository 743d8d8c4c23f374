"""FTRL-Proximal ("Follow The Regularized Leader"), with L1/L2 and shrinkage."""

from numnet import initializers
from numnet.backend import xp
from numnet.optimizers.base_optimizer import Optimizer
from numnet.serialization import register_builtin


def _check_sign(name, value, negative=False):
    if (value > 0.0) if negative else (value < 0.0):
        wanted = "negative or zero" if negative else "positive or zero"
        raise ValueError(f"`{name}` needs to be {wanted}. Received: {name}={value}.")


@register_builtin("keras.optimizers")
class Ftrl(Optimizer):
    """FTRL-Proximal, as `keras.optimizers.Ftrl` (McMahan et al., 2013).

    With `p = -learning_rate_power`, `l2 = l2_regularization_strength + beta / (2 * lr)`
    and `g' = g + 2 * l2_shrinkage_regularization_strength * w`:
    `n' = n + g**2`, `z += g' - (n'**p - n**p) / lr * w`,
    `w = (clip(z, -l1, l1) - z) / (n'**p / lr + 2 * l2)`, `n = n'`.

    Slots, interleaved per variable: `<path>_accumulator` (n, starting at
    `initial_accumulator_value`) and `<path>_linear` (z).

    Args:
        learning_rate: float or schedule, default 0.001.
        learning_rate_power: <= 0, default -0.5.
        initial_accumulator_value: >= 0, default 0.1.
        l1_regularization_strength: >= 0, default 0.0.
        l2_regularization_strength: >= 0, default 0.0 (a stabilizing penalty).
        l2_shrinkage_regularization_strength: >= 0, default 0.0 (a magnitude penalty).
        beta: default 0.0 (the beta of the paper's per-coordinate rates).
        **kwargs: the base `Optimizer` arguments (`weight_decay`, `clipnorm`, ...).
    """

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5,
                 initial_accumulator_value=0.1, l1_regularization_strength=0.0,
                 l2_regularization_strength=0.0, l2_shrinkage_regularization_strength=0.0,
                 beta=0.0, weight_decay=None, clipnorm=None, clipvalue=None,
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
        _check_sign("initial_accumulator_value", initial_accumulator_value)
        _check_sign("learning_rate_power", learning_rate_power, negative=True)
        _check_sign("l1_regularization_strength", l1_regularization_strength)
        _check_sign("l2_regularization_strength", l2_regularization_strength)
        _check_sign("l2_shrinkage_regularization_strength",
                    l2_shrinkage_regularization_strength)
        self.learning_rate_power = learning_rate_power
        self.initial_accumulator_value = initial_accumulator_value
        self.l1_regularization_strength = l1_regularization_strength
        self.l2_regularization_strength = l2_regularization_strength
        self.l2_shrinkage_regularization_strength = l2_shrinkage_regularization_strength
        self.beta = beta

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._accumulators, self._linears = self.add_optimizer_variables(
            var_list, ["accumulator", "linear"],
            initializer=[initializers.Constant(self.initial_accumulator_value), "zeros"])

    def _update_step_all(self, grads, variables, learning_rate):
        power = -float(self.learning_rate_power)
        l1 = float(self.l1_regularization_strength)
        shrinkage = 2.0 * float(self.l2_shrinkage_regularization_strength)
        index = self._trainable_variables_indices
        for g, var in zip(grads, variables):
            i = index[id(var)]
            w = var.data
            accum, linear = self._accumulators[i].data, self._linears[i].data
            dtype = w.dtype.type
            lr = dtype(learning_rate)
            l2 = dtype(self.l2_regularization_strength) + dtype(self.beta) / (dtype(2.0) * lr)
            new_accum, tmp = self._buffer(w), self._buffer(w, 1)
            xp.multiply(g, g, out=new_accum)
            xp.add(accum, new_accum, out=new_accum)
            # z += g + shrinkage * w - (n'**p - n**p) / lr * w
            xp.power(accum, power, out=accum)  # n is replaced by n' below
            xp.power(new_accum, power, out=tmp)
            xp.subtract(tmp, accum, out=tmp)
            xp.divide(tmp, lr, out=tmp)
            xp.multiply(tmp, w, out=tmp)
            if shrinkage:
                xp.multiply(w, shrinkage, out=accum)
                xp.add(accum, g, out=accum)
                xp.subtract(accum, tmp, out=tmp)
            else:
                xp.subtract(g, tmp, out=tmp)
            xp.add(linear, tmp, out=linear)
            # w = (clip(z, -l1, l1) - z) / (n'**p / lr + 2 * l2)
            xp.power(new_accum, power, out=tmp)
            xp.divide(tmp, lr, out=tmp)
            xp.add(tmp, dtype(2.0) * l2, out=tmp)
            xp.clip(linear, -l1, l1, out=w)
            xp.subtract(w, linear, out=w)
            xp.divide(w, tmp, out=w)
            accum[...] = new_accum

    def get_config(self):
        config = super().get_config()
        config.update({
            "learning_rate_power": self.learning_rate_power,
            "initial_accumulator_value": self.initial_accumulator_value,
            "l1_regularization_strength": self.l1_regularization_strength,
            "l2_regularization_strength": self.l2_regularization_strength,
            "l2_shrinkage_regularization_strength": self.l2_shrinkage_regularization_strength,
            "beta": self.beta,
        })
        return config
