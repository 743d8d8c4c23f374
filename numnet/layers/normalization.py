"""Normalization layers: `BatchNormalization`, `LayerNormalization`, `UnitNormalization`.

`BatchNormalization` normalizes each feature with the batch's statistics
while training and with moving averages of them at inference. The moving
averages are updated in `call` with `Variable.assign`, so a compiled training
step replays the update at every step (an effect of the captured program).
"""

import warnings

from numnet import constraints, initializers, regularizers
from numnet.autodiff import ops
from numnet.autodiff.ops.normalization import (
    batch_normalization, layer_normalization, moments, normalize, scaled_by_variance,
    stop_gradient,
)
from numnet.backend import epsilon as fuzz
from numnet.layers.axes import check_ndim
from numnet.layers.base import Layer
from numnet.serialization import register_builtin, serialize_keras_object


def _check_axes_in_range(axes, shape, shown):
    for axis in axes:
        if axis >= len(shape) or axis < -len(shape):
            raise ValueError(f"Axis {axis} is out of bounds for input shape {tuple(shape)}. "
                             f"Received: axis={shown}")


@register_builtin("keras.layers")
class BatchNormalization(Layer):
    """Normalizes each feature (along `axis`) to mean 0 and variance 1, then scales and shifts.

    Training (`training=True`, as in `fit`): the batch's mean and variance are
    used, and the moving averages updated:
    `moving = moving * momentum + batch_statistic * (1 - momentum)`.
    Inference: the moving averages are used. A frozen layer
    (`trainable=False`) always runs in inference mode, as in Keras.

    Args:
        axis: the feature axis (-1 by default).
        momentum: of the moving averages (0.99).
        epsilon: added to the variance (1e-3).
        center, scale: whether to learn the offset `beta` / the scale `gamma`.
        beta_initializer, gamma_initializer, moving_mean_initializer,
        moving_variance_initializer: the initializers of the four weights.
        beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint.
        synchronized: accepted (one device: no effect).
        renorm, renorm_clipping, renorm_momentum: batch renormalization
            (Ioffe 2017), as in Keras.

    Call arguments:
        mask: optional, the inputs' shape without the feature axis; masked
            entries take no part in the batch statistics.
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, renorm=False, renorm_clipping=None,
                 renorm_momentum=0.99, synchronized=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)
        self.synchronized = synchronized
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = center
        self.scale = scale
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.supports_masking = True
        self.renorm = renorm
        if renorm:
            renorm_clipping = _checked_clipping(renorm_clipping)
        self.renorm_clipping = renorm_clipping
        self.renorm_momentum = renorm_momentum
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None
        self._reduction_axes = None

    def build(self, input_shape):
        _check_axes_in_range([self.axis], input_shape, self.axis)
        size = input_shape[self.axis]
        if size is None:
            raise ValueError(f"BatchNormalization layer '{self.name}': the size of axis "
                             f"{self.axis} must be known; received input_shape={input_shape}.")
        shape = (size,)
        if self.scale:
            self.gamma = self.add_weight(shape=shape, name="gamma",
                                         initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer,
                                         constraint=self.gamma_constraint)
        if self.center:
            self.beta = self.add_weight(shape=shape, name="beta",
                                        initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer,
                                        constraint=self.beta_constraint)
        self.moving_mean = self.add_weight(shape=shape, name="moving_mean",
                                           initializer=self.moving_mean_initializer,
                                           trainable=False)
        self.moving_variance = self.add_weight(shape=shape, name="moving_variance",
                                               initializer=self.moving_variance_initializer,
                                               trainable=False)
        if self.renorm:
            self._build_renorm(shape)
        self._input_spec = (len(input_shape), size)
        axes = list(range(len(input_shape)))
        del axes[self.axis]
        self._reduction_axes = axes
        self.built = True

    def _build_renorm(self, shape):
        def stddev_initializer(shape, dtype=None):
            return initializers.get(serialize_keras_object(self.moving_variance_initializer))(
                shape, dtype=dtype) ** 0.5
        self.moving_stddev = self.add_weight(shape=shape, name="moving_stddev",
                                             initializer=stddev_initializer, trainable=False)
        self.renorm_mean = self.add_weight(
            shape=shape, name="renorm_mean", trainable=False,
            initializer=initializers.get(serialize_keras_object(self.moving_mean_initializer)))
        self.renorm_stddev = self.add_weight(shape=shape, name="renorm_stddev",
                                             initializer=stddev_initializer, trainable=False)

    def _check_input_spec(self, shapes):
        spec = getattr(self, "_input_spec", None)
        if spec is None or not isinstance(shapes, tuple):
            return
        check_ndim(self, shapes, spec[0])
        if shapes[self.axis] is not None and shapes[self.axis] != spec[1]:
            raise ValueError(
                f'Input 0 of layer "{self.name}" is incompatible with the layer: expected axis '
                f"{self.axis} of input shape to have value {spec[1]}, but received input with "
                f"shape {tuple(shapes)}")

    def compute_output_shape(self, input_shape):
        _check_axes_in_range([self.axis], input_shape, self.axis)
        return input_shape

    def call(self, inputs, training=None, mask=None):
        if mask is not None and mask.ndim != inputs.ndim - 1:
            raise ValueError("The mask provided should be one dimension less than the inputs. "
                             f"Received: mask.shape={tuple(mask.shape)}, "
                             f"inputs.shape={tuple(inputs.shape)}")
        if inputs.dtype != "float32" and inputs.dtype != "float64":
            inputs = ops.cast(inputs, "float32")
        gamma, beta = self.gamma, self.beta
        if training and self.trainable:
            mean, variance = self._moments(inputs, mask)
            if self.renorm:
                r, d = self._renorm_correction(mean, variance)
                gamma, beta = _compose(r, d, gamma, beta)
                self._update_renorm_statistics(mean, variance)
            else:
                self.moving_mean.assign(_average(self.moving_mean, mean, self.momentum))
                self.moving_variance.assign(
                    _average(self.moving_variance, variance, self.momentum))
        else:
            mean, variance = self.moving_mean, self.moving_variance
        outputs = batch_normalization(inputs, mean, variance, self.axis, offset=beta,
                                      scale=gamma, epsilon=self.epsilon)
        return ops.cast(outputs, self.dtype)

    def _moments(self, inputs, mask):
        if mask is None:
            return moments(inputs, self._reduction_axes, synchronized=self.synchronized)
        spread = ops.cast(ops.broadcast_to(ops.expand_dims(mask, -1), tuple(inputs.shape)),
                          bool)
        weights = ops.sum(ops.cast(spread, inputs.dtype), self._reduction_axes, keepdims=True)
        weights = ops.add(weights, fuzz())
        total = ops.sum(ops.where(spread, inputs, 0), self._reduction_axes, keepdims=True)
        mean = ops.divide(total, weights)
        deviation = ops.where(spread, ops.subtract(inputs, mean), 0)
        variance = ops.divide(
            ops.sum(ops.square(deviation), self._reduction_axes, keepdims=True), weights)
        return ops.squeeze(mean), ops.squeeze(variance)

    def _renorm_correction(self, mean, variance):
        stddev = ops.sqrt(ops.add(variance, self.epsilon))
        renorm_stddev = ops.maximum(self.renorm_stddev, float(self.epsilon) ** 0.5)
        r = ops.divide(stddev, renorm_stddev)
        d = ops.divide(ops.subtract(mean, self.renorm_mean), renorm_stddev)
        clipping = self.renorm_clipping
        if clipping.get("rmin") is not None:
            r = ops.maximum(r, clipping["rmin"])
        if clipping.get("rmax") is not None:
            r = ops.minimum(r, clipping["rmax"])
        if clipping.get("dmax") is not None:
            d = ops.clip(d, -clipping["dmax"], clipping["dmax"])
        return r, d

    def _update_renorm_statistics(self, mean, variance):
        stddev = ops.sqrt(ops.add(variance, self.epsilon))
        self.renorm_mean.assign(_average(self.renorm_mean, mean, self.renorm_momentum))
        self.renorm_stddev.assign(_average(self.renorm_stddev, stddev, self.renorm_momentum))
        self.moving_mean.assign(_average(self.moving_mean, mean, self.momentum))
        moving_stddev = _average(self.moving_stddev, stddev, self.momentum)
        self.moving_stddev.assign(moving_stddev)
        self.moving_variance.assign(
            ops.relu(ops.subtract(ops.multiply(moving_stddev, moving_stddev), self.epsilon)))

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": serialize_keras_object(self.beta_initializer),
                "gamma_initializer": serialize_keras_object(self.gamma_initializer),
                "moving_mean_initializer": serialize_keras_object(self.moving_mean_initializer),
                "moving_variance_initializer": serialize_keras_object(
                    self.moving_variance_initializer),
                "beta_regularizer": serialize_keras_object(self.beta_regularizer),
                "gamma_regularizer": serialize_keras_object(self.gamma_regularizer),
                "beta_constraint": serialize_keras_object(self.beta_constraint),
                "gamma_constraint": serialize_keras_object(self.gamma_constraint),
                "synchronized": self.synchronized, "renorm": self.renorm,
                "renorm_clipping": self.renorm_clipping,
                "renorm_momentum": self.renorm_momentum}


def _average(moving, value, momentum):
    """`moving * momentum + value * (1 - momentum)` (Keras' moving-average update)."""
    return ops.add(ops.multiply(moving, momentum), ops.multiply(value, 1.0 - momentum))


def _compose(r, d, gamma, beta):
    """The renormalization's effective scale and offset (its corrections get no gradient)."""
    r, d = stop_gradient(r), stop_gradient(d)
    if gamma is not None:
        scale, offset = ops.multiply(r, gamma), ops.multiply(d, gamma)
    else:
        scale, offset = r, d
    if beta is not None:
        offset = ops.add(offset, beta)
    return scale, offset


def _checked_clipping(clipping):
    clipping = dict(clipping or {})
    keys = ["rmax", "rmin", "dmax"]
    if set(clipping) - set(keys):
        raise ValueError(f"Received invalid keys for `renorm_clipping` argument: {clipping}. "
                         f"Supported values: {keys}.")
    rmax, rmin, dmax = clipping.get("rmax"), clipping.get("rmin"), clipping.get("dmax")
    if rmax is not None and rmin is not None and rmax < rmin:
        raise ValueError("rmax should be greater than rmin in the `renorm_clipping` argument. "
                         f"Received: rmax={rmax}, rmin={rmin}.")
    if dmax is not None and dmax < 0:
        raise ValueError("dmax should be non-negative in the `renorm_clipping` argument. "
                         f"Received: dmax={dmax}.")
    return clipping


@register_builtin("keras.layers")
class LayerNormalization(Layer):
    """Normalizes each sample over `axis` to mean 0 and variance 1, then scales and shifts.

    Unlike BatchNormalization it uses each sample's own statistics, in
    training and inference alike.

    Args:
        axis: an integer or a list of integers, the axes to normalize over (-1).
        epsilon: added to the variance (1e-3).
        center, scale: whether to learn the offset `beta` / the scale `gamma`.
        beta_initializer, gamma_initializer, beta_regularizer,
        gamma_regularizer, beta_constraint, gamma_constraint.
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, **kwargs):
        rms_scaling = kwargs.pop("rms_scaling", False)
        if rms_scaling:
            warnings.warn(
                "You passed `rms_scaling=True`, which is deprecated. This argument incorrectly "
                "scales the input by the variance, not the root mean square. To correctly use "
                "RMS Normalization, please use `keras.layers.RMSNormalization` instead.",
                stacklevel=2)
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            self.axis = list(axis)
        elif isinstance(axis, int) and not isinstance(axis, bool):
            self.axis = axis
        else:
            raise TypeError("Expected an int or a list/tuple of ints for the argument 'axis', "
                            f"but received: {axis!r}")
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
        self.rms_scaling = rms_scaling
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.supports_masking = True

    def build(self, input_shape):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        _check_axes_in_range(axes, input_shape, self.axis)
        self.axis = sorted(axes)
        shape = tuple(input_shape[a] for a in self.axis)
        self.gamma = self.beta = None
        if self.scale or self.rms_scaling:
            self.gamma = self.add_weight(name="gamma", shape=shape,
                                         initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer,
                                         constraint=self.gamma_constraint)
        if self.center and not self.rms_scaling:
            self.beta = self.add_weight(name="beta", shape=shape,
                                        initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer,
                                        constraint=self.beta_constraint)
        self.built = True

    def call(self, inputs):
        if inputs.dtype != "float32" and inputs.dtype != "float64":
            inputs = ops.cast(inputs, "float32")
        if self.rms_scaling:
            outputs = scaled_by_variance(inputs, self.gamma, self.axis, self.epsilon)
        else:
            outputs = layer_normalization(inputs, self.gamma, self.beta, self.axis,
                                          self.epsilon)
        return ops.cast(outputs, self.dtype)

    def compute_output_shape(self, input_shape):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        _check_axes_in_range(axes, input_shape, self.axis)
        return input_shape

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale, "rms_scaling": self.rms_scaling,
                "beta_initializer": serialize_keras_object(self.beta_initializer),
                "gamma_initializer": serialize_keras_object(self.gamma_initializer),
                "beta_regularizer": serialize_keras_object(self.beta_regularizer),
                "gamma_regularizer": serialize_keras_object(self.gamma_regularizer),
                "beta_constraint": serialize_keras_object(self.beta_constraint),
                "gamma_constraint": serialize_keras_object(self.gamma_constraint)}


@register_builtin("keras.layers")
class UnitNormalization(Layer):
    """Scales each sample to unit L2 norm along `axis`: `x / max(||x||, 1e-6)`.

    Args:
        axis: an integer or a list of integers (-1 by default).
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            self.axis = list(axis)
        elif isinstance(axis, int) and not isinstance(axis, bool):
            self.axis = axis
        else:
            raise TypeError("Invalid value for `axis` argument: expected an int or a "
                            f"list/tuple of ints. Received: axis={axis!r}")
        self.supports_masking = True
        self._build_at_init()

    def call(self, inputs):
        return normalize(inputs, axis=self.axis, order=2, epsilon=1e-12)

    def compute_output_shape(self, input_shape):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        for axis in axes:
            if axis >= len(input_shape) or axis < -len(input_shape):
                raise ValueError(f"Axis {self.axis} is out of bounds for input shape "
                                 f"{tuple(input_shape)}.")
        return input_shape

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
