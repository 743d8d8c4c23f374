"""Adagrad."""

from numnet import initializers
from numnet.backend import xp
from numnet.optimizers.base_optimizer import Optimizer
from numnet.serialization import register_builtin


@register_builtin("keras.optimizers")
class Adagrad(Optimizer):
    """Adagrad, as `keras.optimizers.Adagrad`.

    `acc += g**2; w -= lr * g / sqrt(acc + epsilon)`, with the accumulators
    (slots `<path>_accumulator`) starting at `initial_accumulator_value`.
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
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
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._accumulators = self.add_optimizer_variables(
            var_list, "accumulator",
            initializer=initializers.Constant(self.initial_accumulator_value))

    def _update_step_all(self, grads, variables, learning_rate):
        eps, lr = float(self.epsilon), learning_rate
        index = self._trainable_variables_indices
        for g, var in zip(grads, variables):
            w, acc = var.data, self._accumulators[index[id(var)]].data
            tmp = self._buffer(w)
            xp.multiply(g, g, out=tmp)
            xp.add(acc, tmp, out=acc)
            xp.add(acc, eps, out=tmp)
            xp.sqrt(tmp, out=tmp)
            xp.divide(g, tmp, out=tmp)
            xp.multiply(tmp, lr, out=tmp)
            xp.subtract(w, tmp, out=w)

    def get_config(self):
        config = super().get_config()
        config.update({"initial_accumulator_value": self.initial_accumulator_value,
                       "epsilon": self.epsilon})
        return config
