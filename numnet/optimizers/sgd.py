"""Stochastic gradient descent, with optional (Nesterov) momentum."""

from numnet.backend import xp
from numnet.optimizers.base_optimizer import Optimizer
from numnet.serialization import register_builtin


@register_builtin("keras.optimizers")
class SGD(Optimizer):
    """Gradient descent (with momentum), as `keras.optimizers.SGD`.

    Without momentum: `w -= lr * g`. With momentum:
    `m = momentum * m - lr * g; w += m`, or with `nesterov=True`
    `w += momentum * m - lr * g` (using the new `m`).

    Args:
        learning_rate: float or schedule, default 0.01.
        momentum: float in [0, 1], default 0.0.
        nesterov: whether to use Nesterov momentum, default False.
        **kwargs: the base `Optimizer` arguments (`weight_decay`, `clipnorm`, ...).
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
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
        if isinstance(momentum, int) and not isinstance(momentum, bool):
            momentum = float(momentum)
        if not isinstance(momentum, float) or momentum < 0 or momentum > 1:
            raise ValueError("`momentum` must be a float between [0, 1].")
        self.momentum = momentum
        self.nesterov = nesterov

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.momentums = []
        if self.momentum != 0:
            self.momentums = self.add_optimizer_variables(variables, "momentum")

    def _worth_packing(self, n_variables, n_params):
        # Plain SGD is two calls per variable: packing pays only for small ones.
        limit = 50_000 if self.momentum else 5_000
        return n_params <= limit * n_variables

    _plain_list = None  # the list a compiled step asks about, once found to be the packed one

    def plain_learning_rate(self, variables):
        if self.momentum or not self._plain_step():
            return None
        if variables is not self._plain_list:
            if not self._still_packed(variables) or self._packed["constrained"]:
                return None
            self._plain_list = variables
        return self._current_learning_rate()

    def _update_step_all(self, grads, variables, learning_rate):
        lr = learning_rate
        packed = self._packed
        if self.momentum == 0:
            for g, v in zip(grads, variables):
                w = v.data
                # The packed gradient is our own scratch: scale it in place, one
                # buffer less to stream through the cache.
                _descent_step(g, w, lr, g if packed is not None and g is packed["grad"]
                              else self._buffer(w))
            return
        index = self._trainable_variables_indices
        for g, v in zip(grads, variables):
            w = v.data
            _momentum_step(g, self.momentums[index[id(v)]].data, w, lr, self.momentum,
                           self._buffer(w), self._buffer(w, 1) if self.nesterov else None)

    def _flat_update(self, packed):
        if type(self) is not SGD:
            return None  # a subclass may have a rule of its own: it keeps the general method
        g, flat = packed["grad"], packed["flat_var"]
        w, momentum, nesterov = flat.data, self.momentum, self.nesterov
        if momentum == 0:  # the packed gradient is scratch: it takes the step in place
            return lambda learning_rate: _descent_step(g, w, learning_rate, g)
        m = self.momentums[self._trainable_variables_indices[id(flat)]].data
        step, look = self._buffer(w), self._buffer(w, 1) if nesterov else None
        return lambda learning_rate: _momentum_step(g, m, w, learning_rate, momentum, step, look)

    def get_config(self):
        config = super().get_config()
        config.update({"momentum": self.momentum, "nesterov": self.nesterov})
        return config


def _descent_step(g, w, lr, step):
    """`w -= lr * g`, with `step` (which may be `g` itself) as scratch."""
    xp.multiply(g, lr, out=step)
    xp.subtract(w, step, out=w)


def _momentum_step(g, m, w, lr, momentum, step, look=None):
    """`m = momentum * m - lr * g`, then `w += m`, or with Nesterov (a `look` buffer given)
    `w += momentum * m - lr * g`; `step` is scratch."""
    xp.multiply(g, lr, out=step)
    xp.multiply(m, momentum, out=m)
    xp.subtract(m, step, out=m)
    if look is not None:
        xp.multiply(m, momentum, out=look)
        xp.subtract(look, step, out=look)
        xp.add(w, look, out=w)
    else:
        xp.add(w, m, out=w)
