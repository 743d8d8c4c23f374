"""Reshaping layers: `Flatten` and `Reshape`."""

from numnet.backend import xp

from numnet.autodiff import ops
from numnet.backend import standardize_data_format
from numnet.layers.base import Layer
from numnet.serialization import register_builtin


@register_builtin("keras.layers")
class Flatten(Layer):
    """Flattens each sample to one axis: `(batch, d1, d2, ...)` -> `(batch, d1*d2*...)`.

    A rank-1 input `(batch,)` becomes `(batch, 1)`. With `data_format="channels_first"`
    the input `(batch, channels, d1, ...)` is read as `(batch, d1, ..., channels)`, so the
    order of the flattened entries is the same as for a channels-last input.

    Args:
        data_format: "channels_last" or "channels_first"; default
            `numnet.config.image_data_format()` ("channels_last" unless set).
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)

    def call(self, inputs):
        if self.data_format == "channels_first" and inputs.ndim > 2:
            inputs = ops.transpose(inputs, (0, *range(2, inputs.ndim), 1))
        return ops.reshape(inputs, (inputs.shape[0], -1))

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        size = None if any(d is None for d in rest) else int(xp.prod(rest)) if rest else 1
        return (input_shape[0], size)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


@register_builtin("keras.layers")
class Reshape(Layer):
    """Reshapes each sample to `target_shape` (one entry may be -1)."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(target_shape)
        if any(isinstance(d, (int, xp.integer)) and d < -1 for d in self.target_shape):
            raise ValueError("Each dimension in `target_shape` must be a non-negative "
                             "integer, or `-1` for a single unknown dimension. Received: "
                             f"target_shape={self.target_shape}.")
        if sum(1 for d in self.target_shape if d == -1) > 1:
            raise ValueError("There must be at most one unknown dimension (-1) in "
                             f"`target_shape`. Received: target_shape={self.target_shape}.")

    def call(self, inputs):
        return ops.reshape(inputs, (inputs.shape[0],) + self.target_shape)

    def compute_output_shape(self, input_shape):
        target = list(self.target_shape)
        if -1 in target:
            known = int(xp.prod([d for d in target if d != -1]))
            total = None if any(d is None for d in input_shape[1:]) else int(xp.prod(input_shape[1:]))
            if total is not None and total % known:
                raise ValueError(f"Reshape '{self.name}': cannot reshape {input_shape} to {self.target_shape}.")
            target[target.index(-1)] = None if total is None else total // known
        elif None not in input_shape[1:] and int(xp.prod(input_shape[1:])) != int(xp.prod(target)):
            raise ValueError(
                f"Reshape '{self.name}': total size of the new shape {self.target_shape} "
                f"must equal the input's {tuple(input_shape[1:])}."
            )
        return (input_shape[0],) + tuple(target)

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}
