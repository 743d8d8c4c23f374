"""Weight constraints, as in `keras.constraints`: applied to a weight after each optimizer step."""

from numnet.backend import xp

from numnet.backend import epsilon
from numnet.serialization import (
    deserialize_keras_object, get_by_identifier, register_builtin, serialize_keras_object,
)


def _value(w):
    return xp.asarray(getattr(w, "data", w))


def _norms(w, axis):
    return xp.sqrt(xp.sum(xp.square(w), axis=axis, keepdims=True))


class Constraint:
    """Base class: `constraint(weight)` returns the projected value of the weight."""

    def __call__(self, w):
        return _value(w)

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@register_builtin("keras.constraints")
class MaxNorm(Constraint):
    """Rescales each slice along `axis` (each unit's incoming weights by default) to a norm of at most `max_value`."""

    def __init__(self, max_value=2, axis=0):
        self.max_value = max_value
        self.axis = axis

    def __call__(self, w):
        w = _value(w)
        norms = _norms(w, self.axis)
        desired = xp.clip(norms, 0, self.max_value)
        return (w * (desired / (epsilon() + norms))).astype(w.dtype, copy=False)

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


@register_builtin("keras.constraints")
class MinMaxNorm(Constraint):
    """Moves each slice's norm into `[min_value, max_value]`, by a fraction `rate` per step."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        self.axis = axis

    def __call__(self, w):
        w = _value(w)
        norms = _norms(w, self.axis)
        desired = self.rate * xp.clip(norms, self.min_value, self.max_value) + \
            (1 - self.rate) * norms
        return (w * (desired / (epsilon() + norms))).astype(w.dtype, copy=False)

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


@register_builtin("keras.constraints")
class NonNeg(Constraint):
    """Sets negative weights to zero."""

    def __call__(self, w):
        w = _value(w)
        return w * (w >= 0)


@register_builtin("keras.constraints")
class UnitNorm(Constraint):
    """Scales each slice along `axis` to unit norm."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        w = _value(w)
        return (w / (epsilon() + _norms(w, self.axis))).astype(w.dtype, copy=False)

    def get_config(self):
        return {"axis": self.axis}


max_norm = MaxNorm
min_max_norm = MinMaxNorm
non_neg = NonNeg
unit_norm = UnitNorm
_BY_NAME = {"max_norm": MaxNorm, "min_max_norm": MinMaxNorm, "non_neg": NonNeg,
            "unit_norm": UnitNorm, "MaxNorm": MaxNorm, "MinMaxNorm": MinMaxNorm,
            "NonNeg": NonNeg, "UnitNorm": UnitNorm}


def serialize(constraint):
    return serialize_keras_object(constraint)


def deserialize(config, custom_objects=None):
    return deserialize_keras_object(config, custom_objects=custom_objects,
                                    module_objects=_BY_NAME, printable_module_name="constraint")


def get(identifier):
    """Returns a constraint for a name ("max_norm", "non_neg", ...), config, callable or None."""
    return get_by_identifier(identifier, _BY_NAME, "constraint")
