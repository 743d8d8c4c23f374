"""Activation layers: `Softmax`, `ReLU`, `LeakyReLU`, `PReLU` and `ELU`, as in `keras.layers`.

Each applies the activation of the same name along the tensor it receives;
they pass masks on. `PReLU` learns its negative slope (`alpha`), one per
input entry unless `shared_axes` shares it.
"""

import warnings

from numnet import activations, constraints, initializers, regularizers
from numnet.autodiff import ops
from numnet.autodiff.ops.normalization import stop_gradient
from numnet.layers.base import Layer
from numnet.serialization import register_builtin, serialize_keras_object


def _non_negative(layer, name, value, allow_none=False):
    """Keras' check: a number >= 0 (or None when `allow_none`)."""
    if value is None and allow_none:
        return value
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) \
            or value < 0:
        raise ValueError(
            f"{name} of a {layer} layer cannot be None or a negative value. "
            f"Received: {name}={value!r}"
        )
    return value


class _Elementwise(Layer):
    """An activation layer: built at creation, shape and mask unchanged."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.built = True

    def compute_output_shape(self, input_shape):
        return input_shape


@register_builtin("keras.layers")
class Softmax(_Elementwise):
    """Softmax along `axis`: `exp(x - max(x)) / sum(exp(x - max(x)))`.

    Args:
        axis: an integer, or a list of integers, the axes the normalization runs over.

    Call arguments:
        inputs: the logits.
        mask: optional, broadcastable to `inputs`, True (or > 0.5) where an
            entry takes part; masked entries get probability 0.
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs, mask=None):
        if mask is not None:
            mask = self._checked_mask(inputs, mask)
            inputs = ops.where(mask, inputs, -1e9 if inputs.dtype != "float16" else -3e4)
        axis = self.axis
        if isinstance(axis, (list, tuple)) and len(axis) > 1:
            outputs = ops.exp(ops.subtract(inputs, _logsumexp(inputs, tuple(axis))))
        else:
            outputs = activations.softmax(inputs, axis=axis[0] if isinstance(
                axis, (list, tuple)) else axis)
        if mask is not None:
            outputs = ops.where(mask, outputs, 0.0)
        return outputs

    def _checked_mask(self, inputs, mask):
        mask = ops.convert_to_tensor(mask)
        if mask.ndim > inputs.ndim or any(
                m != 1 and m != i for m, i in zip(mask.shape[::-1], inputs.shape[::-1])):
            raise ValueError(
                f"Softmax layer '{self.name}': the `mask` must be broadcastable to `inputs` "
                "(each mask dimension 1 or equal to the input's, counted from the last) and "
                f"must not have more dimensions. Received: inputs.shape={tuple(inputs.shape)}, "
                f"mask.shape={tuple(mask.shape)}"
            )
        if mask.dtype != "bool":
            mask = ops.greater(mask, ops.cast(0.5, mask.dtype))
        return mask

    def get_config(self):
        axis = list(self.axis) if isinstance(self.axis, tuple) else self.axis
        return {**super().get_config(), "axis": axis}


def _logsumexp(x, axis):
    """log(sum(exp(x))) over `axis`, kept as length-1 axes, computed without overflow."""
    top = stop_gradient(ops.max(x, axis=axis, keepdims=True))
    total = ops.sum(ops.exp(ops.subtract(x, top)), axis=axis, keepdims=True)
    return ops.add(ops.log(total), top)


@register_builtin("keras.layers")
class ReLU(_Elementwise):
    """Rectified linear unit: `max_value` above `max_value`, `x` above `threshold`,
    `negative_slope * (x - threshold)` below it.

    Args:
        max_value: float >= 0, the cap (None: no cap).
        negative_slope: float >= 0, the slope below the threshold.
        threshold: float >= 0; only `x > threshold` passes unchanged.
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        if max_value is not None and max_value < 0.0:
            raise ValueError("max_value of a ReLU layer cannot be a negative value. "
                             f"Received: max_value={max_value}")
        self.max_value = _non_negative("ReLU", "max_value", max_value, allow_none=True)
        self.negative_slope = _non_negative("ReLU", "negative_slope", negative_slope)
        self.threshold = _non_negative("ReLU", "threshold", threshold)

    def call(self, inputs):
        return activations.relu(inputs, negative_slope=self.negative_slope,
                                max_value=self.max_value, threshold=self.threshold)

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}


@register_builtin("keras.layers")
class LeakyReLU(_Elementwise):
    """`x` for `x >= 0`, `negative_slope * x` otherwise.

    Args:
        negative_slope: float >= 0, 0.3 by default (the `alpha` of older
            versions is accepted with a deprecation warning).
    """

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn("Argument `alpha` is deprecated. Use `negative_slope` instead.",
                          stacklevel=2)
        super().__init__(**kwargs)
        if negative_slope is None or isinstance(negative_slope, bool) or \
                not isinstance(negative_slope, (int, float)) or negative_slope < 0:
            raise ValueError(
                "The negative_slope value of a Leaky ReLU layer cannot be None or negative "
                f"value. Expected a float. Received: negative_slope={negative_slope!r}"
            )
        self.negative_slope = negative_slope

    def call(self, inputs):
        return activations.leaky_relu(inputs, negative_slope=self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


@register_builtin("keras.layers")
class ELU(_Elementwise):
    """Exponential linear unit: `x` for `x >= 0`, `alpha * (exp(x) - 1)` otherwise.

    Args:
        alpha: the scale of the negative part (1.0 by default).
    """

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = alpha

    def call(self, inputs):
        return activations.elu(inputs, alpha=self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


@register_builtin("keras.layers")
class PReLU(Layer):
    """Parametric ReLU: `x` for `x >= 0`, `alpha * x` otherwise, with a learned `alpha`.

    `alpha` has the shape of one input sample, with length 1 along the axes
    in `shared_axes` (e.g. `shared_axes=[1]` for one slope per feature of a
    sequence).

    Args:
        alpha_initializer: "zeros" by default (PReLU starts as a ReLU).
        alpha_regularizer, alpha_constraint: optional, for `alpha`.
        shared_axes: an axis or list of axes (1 = the first after the batch)
            along which `alpha` is shared.
    """

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None, alpha_constraint=None,
                 shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints.get(alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        elif not isinstance(shared_axes, (list, tuple)):
            self.shared_axes = [shared_axes]
        else:
            self.shared_axes = list(shared_axes)

    def build(self, input_shape):
        param_shape = list(input_shape[1:])
        for axis in self.shared_axes or ():
            if not 1 <= axis < len(input_shape):
                raise ValueError(
                    f"PReLU layer '{self.name}': shared axis {axis} is out of range for "
                    f"inputs of shape {tuple(input_shape)} (axes 1 to {len(input_shape) - 1})."
                )
            param_shape[axis - 1] = 1
        if any(d is None for d in param_shape):
            raise ValueError(
                f"PReLU layer '{self.name}' needs every non-shared input axis to be known; "
                f"received input_shape={tuple(input_shape)}. Share the unknown axes with "
                "`shared_axes`."
            )
        self.alpha = self.add_weight(shape=param_shape, name="alpha",
                                     initializer=self.alpha_initializer,
                                     regularizer=self.alpha_regularizer,
                                     constraint=self.alpha_constraint)
        self.built = True

    def _check_input_spec(self, shapes):
        if not self.built or not isinstance(shapes, tuple):
            return
        expected = (None,) + tuple(self.alpha.shape)
        if len(shapes) != len(expected) or any(
                e != 1 and d is not None and d != e for d, e in zip(shapes[1:], expected[1:])):
            raise ValueError(
                f"Input of layer '{self.name}' (PReLU) is incompatible with the layer: "
                f"expected shape {expected} (1 = shared axis), received {tuple(shapes)}."
            )

    def call(self, inputs):
        positive = activations.relu(inputs)
        negative = ops.multiply(self.alpha, activations.relu(ops.negative(inputs)))
        return ops.subtract(positive, negative)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(),
                "alpha_initializer": serialize_keras_object(self.alpha_initializer),
                "alpha_regularizer": serialize_keras_object(self.alpha_regularizer),
                "alpha_constraint": serialize_keras_object(self.alpha_constraint),
                "shared_axes": self.shared_axes}
