"""Layers that rearrange axes: `RepeatVector` and `Permute`."""

from numnet.autodiff import ops
from numnet.layers.base import Layer
from numnet.serialization import register_builtin


def check_ndim(layer, shapes, ndim):
    """Keras' InputSpec check of the rank, with its message."""
    if isinstance(shapes, tuple) and len(shapes) != ndim:
        raise ValueError(
            f'Input 0 of layer "{layer.name}" is incompatible with the layer: expected '
            f"ndim={ndim}, found ndim={len(shapes)}. Full shape received: {tuple(shapes)}")


@register_builtin("keras.layers")
class RepeatVector(Layer):
    """Repeats each sample `n` times: `(batch, features)` -> `(batch, n, features)`.

    Args:
        n: a positive integer, the number of repetitions.
    """

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(n, int) or isinstance(n, bool):
            raise TypeError(f"Expected an integer value for `n`, got {type(n)}.")
        if n <= 0:
            raise ValueError(f"Argument `n` should be a positive integer. Received: n={n}")
        self.n = n

    def _check_input_spec(self, shapes):
        check_ndim(self, shapes, 2)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def call(self, inputs):
        batch, features = inputs.shape
        column = ops.reshape(inputs, (batch, 1, features))
        return ops.broadcast_to(column, (batch, self.n, features))

    def get_config(self):
        return {**super().get_config(), "n": self.n}


@register_builtin("keras.layers")
class Permute(Layer):
    """Permutes the non-batch axes: `Permute((2, 1))` swaps the two axes of each sample.

    Args:
        dims: a permutation of `1, ..., rank - 1` (the batch axis 0 stays first).
    """

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        self.dims = tuple(dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(
                "Invalid permutation argument `dims` for Permute Layer. The set of indices in "
                f"`dims` must be consecutive and start from 1. Received dims={dims}")

    def _check_input_spec(self, shapes):
        check_ndim(self, shapes, len(self.dims) + 1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def call(self, inputs):
        return ops.transpose(inputs, (0,) + self.dims)

    def get_config(self):
        return {**super().get_config(), "dims": list(self.dims)}
