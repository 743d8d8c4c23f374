"""Learning-rate schedules (`keras.optimizers.schedules`).

A schedule is called with the optimizer's step (`iterations` before the
increment) and returns the learning rate for that step as a NumPy float32
scalar, like Keras' float32 tensors.

Example:

```python
lr = numnet.optimizers.schedules.ExponentialDecay(0.01, decay_steps=20_000, decay_rate=0.1)
optimizer = numnet.optimizers.SGD(learning_rate=lr)
```
"""

import math

from numnet.backend import xp

from numnet.serialization import (
    deserialize_keras_object,
    register_builtin,
    serialize_keras_object,
)


def _result(value):
    return xp.float32(value)


def _check_decay_steps(decay_steps):
    if decay_steps <= 0:
        raise ValueError(f"Argument `decay_steps` must be > 0. Received: decay_steps={decay_steps}")


@register_builtin("keras.optimizers.schedules")
class LearningRateSchedule:
    """Base class: `__call__(step)` returns the learning rate for `step`."""

    def __call__(self, step):
        raise NotImplementedError(
            f"Learning rate schedule '{self.__class__.__name__}' must override "
            "`__call__(self, step)`."
        )

    def get_config(self):
        raise NotImplementedError(
            f"Learning rate schedule '{self.__class__.__name__}' must override "
            "`get_config()` in order to be serializable."
        )

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{self.__class__.__name__} {self.get_config()}>"


def _step(step):
    return float(getattr(step, "data", step))


class _StaircaseDecay(LearningRateSchedule):
    """A decay of `initial_learning_rate` by `decay_rate` every `decay_steps` (floored with
    `staircase=True`): the arguments and config that two of Keras' schedules share."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase, name):
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name
        _check_decay_steps(decay_steps)

    def _progress(self, step):
        """`step / decay_steps`, floored with `staircase=True`."""
        p = _step(step) / self.decay_steps
        return math.floor(p) if self.staircase else p

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


@register_builtin("keras.optimizers.schedules")
class ExponentialDecay(_StaircaseDecay):
    """`initial_learning_rate * decay_rate ** (step / decay_steps)`.

    With `staircase=True` the exponent is floored.
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        return _result(self.initial_learning_rate * self.decay_rate ** self._progress(step))


@register_builtin("keras.optimizers.schedules")
class PiecewiseConstantDecay(LearningRateSchedule):
    """A step function of the step.

    `values[0]` while `step <= boundaries[0]`, `values[i]` while
    `boundaries[i-1] < step <= boundaries[i]`, then `values[-1]`.
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "The length of boundaries should be 1 less than the length of values. "
                f"Received: boundaries={boundaries} of length {len(boundaries)}, and "
                f"values={values} of length {len(values)}."
            )
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step):
        step = _step(step)
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return _result(value)
        return _result(self.values[-1])

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


@register_builtin("keras.optimizers.schedules")
class PolynomialDecay(LearningRateSchedule):
    """`(initial - end) * (1 - step / decay_steps) ** power + end`, step capped at `decay_steps`.

    With `cycle=True`, `decay_steps` is multiplied by `ceil(step / decay_steps)` instead.
    """

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001,
                 power=1.0, cycle=False, name="PolynomialDecay"):
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name
        _check_decay_steps(decay_steps)

    def __call__(self, step):
        step = _step(step)
        decay_steps = float(self.decay_steps)
        if self.cycle:
            multiplier = 1.0 if step == 0 else math.ceil(step / self.decay_steps)
            decay_steps *= multiplier
        else:
            step = min(step, decay_steps)
        p = step / decay_steps
        return _result((self.initial_learning_rate - self.end_learning_rate)
                       * (1.0 - p) ** self.power + self.end_learning_rate)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
            "cycle": self.cycle,
            "name": self.name,
        }


@register_builtin("keras.optimizers.schedules")
class InverseTimeDecay(_StaircaseDecay):
    """`initial_learning_rate / (1 + decay_rate * step / decay_steps)`.

    With `staircase=True` the ratio `step / decay_steps` is floored.
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="InverseTimeDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        return _result(self.initial_learning_rate /
                       (1.0 + self.decay_rate * self._progress(step)))


@register_builtin("keras.optimizers.schedules")
class CosineDecay(LearningRateSchedule):
    """Cosine decay from `initial_learning_rate` (or `warmup_target`) to `alpha` times it.

    `lr = base * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps)) + alpha)` with
    `s = min(step, decay_steps)`. With `warmup_target`, the rate first rises
    linearly from `initial_learning_rate` to `warmup_target` over `warmup_steps`,
    then decays from `warmup_target`.
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_steps = warmup_steps
        self.warmup_target = warmup_target
        _check_decay_steps(decay_steps)

    def _decay(self, step, base):
        fraction = step / self.decay_steps
        cosine = 0.5 * (1.0 + math.cos(math.pi * fraction))
        return base * ((1.0 - self.alpha) * cosine + self.alpha)

    def __call__(self, step):
        step = _step(step)
        if self.warmup_target is None:
            return _result(self._decay(min(step, self.decay_steps), self.initial_learning_rate))
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            delta = self.warmup_target - self.initial_learning_rate
            return _result(delta * step / self.warmup_steps + self.initial_learning_rate)
        return _result(self._decay(step - self.warmup_steps, self.warmup_target))

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


@register_builtin("keras.optimizers.schedules")
class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR, Loshchilov & Hutter 2017).

    The first period lasts `first_decay_steps` steps, each following one is
    `t_mul` times longer and starts from `m_mul` times the previous initial
    rate. Within a period at fraction `f` of its length, after `i` restarts:
    `lr = initial_learning_rate * ((1 - alpha) * 0.5 * m_mul**i * (1 + cos(pi * f)) + alpha)`.

    Args:
        initial_learning_rate: the rate at step 0.
        first_decay_steps: the length of the first period, > 0.
        t_mul: how much longer each period is than the previous one, default 2.0.
        m_mul: how much lower each period starts than the previous one, default 1.0.
        alpha: the floor, as a fraction of `initial_learning_rate`, default 0.0.
        name: default "SGDRDecay".
    """

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0,
                 alpha=0.0, name="SGDRDecay"):
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self._t_mul = t_mul
        self._m_mul = m_mul
        self.alpha = alpha
        self.name = name
        if first_decay_steps <= 0:
            raise ValueError(
                "Argument `first_decay_steps` must be > 0. "
                f"Received: first_decay_steps={first_decay_steps}"
            )

    def _restart_and_fraction(self, fraction):
        """(restarts so far, fraction of the current period) for `fraction` of the first one."""
        t_mul = xp.float32(self._t_mul)
        if t_mul == 1.0:
            restarts = xp.floor(fraction)
            return restarts, fraction - restarts
        # Periods 1, t, t**2, ... end at (1 - t**(i+1)) / (1 - t) first-period lengths.
        restarts = xp.floor(xp.log(xp.float32(1.0) - fraction * (xp.float32(1.0) - t_mul))
                            / xp.log(t_mul))
        elapsed = (xp.float32(1.0) - t_mul ** restarts) / (xp.float32(1.0) - t_mul)
        return restarts, (fraction - elapsed) / t_mul ** restarts

    def __call__(self, step):
        # Keras computes in the initial rate's dtype (float32).
        fraction = xp.float32(_step(step)) / xp.float32(self.first_decay_steps)
        restarts, fraction = self._restart_and_fraction(fraction)
        alpha = xp.float32(self.alpha)
        cosine = (xp.float32(0.5) * xp.float32(self._m_mul) ** restarts
                  * (xp.float32(1.0) + xp.cos(xp.float32(math.pi) * fraction)))
        decayed = (xp.float32(1.0) - alpha) * cosine + alpha
        return _result(xp.float32(self.initial_learning_rate) * decayed)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "first_decay_steps": self.first_decay_steps,
            "t_mul": self._t_mul,
            "m_mul": self._m_mul,
            "alpha": self.alpha,
            "name": self.name,
        }


_SCHEDULES = (LearningRateSchedule, ExponentialDecay, PiecewiseConstantDecay,
              PolynomialDecay, InverseTimeDecay, CosineDecay, CosineDecayRestarts)
ALL_OBJECTS_DICT = {cls.__name__: cls for cls in _SCHEDULES}


def serialize(learning_rate_schedule):
    """Returns the Keras config envelope of a schedule."""
    return serialize_keras_object(learning_rate_schedule)


def deserialize(config, custom_objects=None):
    """Rebuilds a schedule from its config envelope."""
    return deserialize_keras_object(
        config, custom_objects=custom_objects, module_objects=ALL_OBJECTS_DICT,
        printable_module_name="decay",
    )
